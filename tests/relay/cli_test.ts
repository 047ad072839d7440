// `polycrypt relay` on the command line: usage errors (exit 2), what cannot be opened (exit 3),
// the default store in the user's data directory, and a clean stop on SIGTERM.
import assert from "node:assert/strict";
import { runCli, spawnCli, withTempDir } from "../cli/_cli.ts";
import { RelayClient } from "../../relay/mod.ts";

const ALL = ["--allow-all"];

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("relay: usage errors exit 2 and name the problem", async () => {
  const cases: [string[], RegExp][] = [
    [[], /--on/],
    [["--on", "udp://127.0.0.1:7000"], /stream address/],
    [["--on", "http://127.0.0.1:7000"], /url must start with/],
    [["--on", "ws://127.0.0.1:0", "--store", "mysql://x"], /--store must be/],
    [["--on", "ws://127.0.0.1:0", "--store", "sqlite:"], /needs a path/],
    [
      ["--on", "ws://127.0.0.1:0", "--store", "postgres://relay:secret@127.0.0.1:1/db"],
      /PGPASSWORD/,
    ],
    [["--on", "tcp://127.0.0.1:0", "--tls-cert", "x.pem"], /tls:\/\//],
    [["--on", "tls://127.0.0.1:0"], /--tls-cert/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(["relay", ...args], ALL);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /secret/);
  }
});

Deno.test("relay: a database or address that cannot be opened exits 3", async () => {
  const pg = await runCli([
    "relay",
    "--on",
    "ws://127.0.0.1:0",
    "--store",
    `postgres://relay@127.0.0.1:${freePort()}/relay`,
  ], ALL);
  assert.equal(pg.code, 3, pg.stderr);
  assert.match(pg.stderr, /cannot open the relay database postgres:\/\/relay@127\.0\.0\.1/);
  await withTempDir("polycrypt-relay-cli-", async (dir) => {
    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (busy.addr as Deno.NetAddr).port;
    try {
      const r = await runCli(
        ["relay", "--on", `tcp://127.0.0.1:${port}`, "--store", `sqlite:${dir}/r.db`],
        ALL,
      );
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /cannot listen/);
    } finally {
      busy.close();
    }
  });
});

Deno.test("relay: the default store is relay.db in $XDG_DATA_HOME/polycrypt (0700); SIGTERM stops it", async () => {
  await withTempDir("polycrypt-relay-cli-", async (dir) => {
    const url = `ws://127.0.0.1:${freePort()}`;
    const child = spawnCli(["relay", "--on", url], ALL, { env: { XDG_DATA_HOME: dir } });
    const output = child.output();
    let client: RelayClient | undefined;
    for (let i = 0; i < 600 && !client; i++) {
      client = await RelayClient.connect(url).catch(() => undefined);
      if (!client) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(client, "the relay did not start");
    await client.ping();
    await client.close();
    const folder = await Deno.stat(`${dir}/polycrypt`);
    assert.equal(folder.mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${dir}/polycrypt/relay.db`)).mode! & 0o077, 0);
    child.kill("SIGTERM");
    const { code, stderr } = await output;
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 0, text);
    assert.deepEqual(text.trim().split("\n"), [
      `relay: listening on ${url}`,
      `relay: store sqlite:${dir}/polycrypt/relay.db`,
      "relay: stopped",
    ]);
  });
});
