// `chat @NAME` (docs/cli.md, "Direct connections"). The cases that open data channels run in a
// `deno test` process of their own (_direct_cases.ts; node-datachannel serves one isolate per
// process, docs/transports.md section 12); here: the options refused before anything starts,
// and a relay-only chat (--no-direct on one side, a SOCKS5 proxy on the other) with no data
// channel at all.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runDeno } from "../_process.ts";
import { runCli, spawnCli, withTempDir } from "./_cli.ts";
import { freePort, startRelay } from "./_relay_process.ts";
import { startProxy } from "../transports/_socks.ts";
import type { CommandResult } from "../_process.ts";

const ALL = ["--allow-all"];

Deno.test("chat @NAME --direct: data channels between chat processes (_direct_cases.ts)", async () => {
  const path = new URL("./_direct_cases.ts", import.meta.url).pathname;
  const r = await runDeno(["test", "--allow-all", path], {
    env: { NO_COLOR: "1" },
    deadlineMs: 1_500_000,
  });
  console.log(r.stdout.split("\n").filter((l) => /ms|MiB|bytes|passed/.test(l)).join("\n"));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /ok \| 5 passed \| 0 failed/);
});

interface User {
  key: string;
  invitation: string;
  env: Record<string, string>;
  run(args: string[]): Promise<CommandResult>;
  ok(args: string[]): Promise<CommandResult>;
}

async function user(dir: string, name: string, relay: string): Promise<User> {
  const config = join(dir, name);
  await Deno.mkdir(config);
  const env = { XDG_CONFIG_HOME: config };
  const key = join(dir, `${name}.key`);
  const run = (args: string[]) => runCli(args, ALL, { env, deadlineMs: 240_000 });
  const ok = async (args: string[]) => {
    const r = await run(args);
    assert.equal(r.code, 0, `${args.slice(0, 2).join(" ")}: ${r.stderr}`);
    return r;
  };
  await ok(["keygen", "-o", key]);
  const invitation = (await ok(["inbox", "new", "--relay", relay, "-i", key, "--one-time", "3"]))
    .stdout.trim();
  return { key, invitation, env, run, ok };
}

Deno.test("chat @NAME: options refused before anything starts", async () => {
  await withTempDir("polycrypt-direct-usage-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const alice = await user(dir, "alice", relay.url);
      const bob = await user(dir, "bob", relay.url);
      await alice.ok(["contact", "-i", alice.key, "add", "bob", bob.invitation]);
      const refused = async (args: string[], message: RegExp) => {
        const r = await alice.run(["chat", ...args]);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message);
      };
      const proxy = ["--proxy", "socks5h://127.0.0.1:9"];
      await refused(["@bob", "-i", alice.key, "--direct", ...proxy], /--direct with --proxy/);
      await refused(["@bob", "-i", alice.key, "--direct", "--no-direct"], /exclude each other/);
      await refused(["@bob", "-i", alice.key, "--ice-server", "turn:x@h:1"], /stun:HOST:PORT/);
      await refused(
        ["@bob", "-i", alice.key, "--no-direct", "--ice-server", "stun:h:3478"],
        /direct connections only/,
      );
      await refused(["@bob", "-i", alice.key, "--peer", "tcp://127.0.0.1:1"], /drop --peer/);
      await refused(
        ["--listen", "tcp://127.0.0.1:0", "--peer", "tcp://127.0.0.1:1", "--direct"],
        /--direct goes with chat @NAME/,
      );
      await refused(["@carol", "-i", alice.key], /carol/);
      await refused(["@bob", "-i", alice.key, "--history"], /--history does not apply/);
      await refused(["@bob", "-i", alice.key, "--no-session"], /--no-session does not apply/);
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("chat @NAME: relay only (--no-direct; a proxy) both ways, nothing direct", async () => {
  await withTempDir("polycrypt-direct-relay-", async (dir) => {
    // A tcp:// relay: what a SOCKS5 proxy reaches (docs/relay.md section 2).
    const relay = await startRelay(dir, `tcp://127.0.0.1:${freePort()}`);
    const socks = await startProxy();
    try {
      const alice = await user(dir, "alice", relay.url);
      const bob = await user(dir, "bob", relay.url);
      await alice.ok(["contact", "-i", alice.key, "add", "bob", bob.invitation]);
      await bob.ok(["contact", "-i", bob.key, "add", "alice", alice.invitation]);
      const start = (u: User, peer: string, extra: string[]) => {
        const child = spawnCli(
          ["chat", `@${peer}`, "-i", u.key, ...extra],
          ALL,
          { env: u.env },
          true,
        );
        const writer = child.stdin.getWriter();
        let out = "";
        let err = "";
        const td = new TextDecoder();
        const pumping = Promise.all([
          (async () => {
            for await (const c of child.stdout) out += td.decode(c);
          })(),
          (async () => {
            for await (const c of child.stderr) err += td.decode(c);
          })(),
        ]);
        const wait = async (where: () => string, p: RegExp) => {
          const deadline = Date.now() + 120_000;
          while (!p.test(where())) {
            if (Date.now() > deadline) throw new Error(`timed out: ${p}\n${out}\n${err}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        };
        return {
          type: (l: string) => writer.write(new TextEncoder().encode(l + "\n")),
          waitOut: (p: RegExp) => wait(() => out, p),
          waitErr: (p: RegExp) => wait(() => err, p),
          err: () => err,
          async end() {
            await writer.close();
            const { code } = await child.status;
            await pumping;
            return code;
          },
        };
      };
      const a = start(alice, "bob", ["--proxy", `socks5h://127.0.0.1:${socks.port}`]);
      const b = start(bob, "alice", ["--no-direct"]);
      await a.waitErr(
        /path to bob: relay \S+ \(--proxy: relay only, your IP addresses stay hidden\)/,
      );
      await b.waitErr(/path to alice: relay \S+ \(--no-direct: your IP addresses stay hidden/);
      await a.waitErr(/chatting with bob/);
      await b.waitErr(/chatting with alice/);
      await a.type("through the relay");
      await a.waitErr(/\(#1 queued on tcp:\S+ for bob\)/);
      await b.waitOut(/^alice: through the relay$/m);
      await b.type("//and back, /slash kept");
      await b.waitErr(/\(#1 queued on tcp:\S+ for alice\)/);
      await a.waitOut(/^bob: \/and back, \/slash kept$/m);
      assert.equal(await a.end(), 0);
      assert.equal(await b.end(), 0);
      assert.doesNotMatch(a.err() + b.err(), /direct \(|trying a direct/);
    } finally {
      await socks.stop();
      await relay.stop();
    }
  });
});
