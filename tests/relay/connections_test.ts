// 1,000 concurrent connections and 300 idle ones against a `polycrypt relay` process with its REAL
// defaults (docs/relay.md section 2: 1,024 connections per listener, the idlest closed at the cap;
// 60 s of silence): every active client's commands are answered, the idle sockets are the ones
// closed, and a legitimate client still gets through. Both processes run under `ulimit -n 8192`
// (a shell wrapper): the client side holds 1,300 sockets, the relay 1,024, over the common
// default soft limit of 1,024.
import assert from "node:assert/strict";
import { RelayClient } from "../../relay/mod.ts";
import { runCommand, spawnCommand } from "../_process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FD_LIMIT = 8192;
const IDLE = 300;
const ACTIVE = 1000;
/** The listener's default cap (transports/_listener.ts DEFAULT_MAX_CONNECTIONS). */
const DEFAULT_CAP = 1024;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `bash -c 'ulimit -n N; exec "$@"'`: the command with a raised open-file limit. */
function raised(command: string[]): [string, string[]] {
  return ["bash", [
    "-c",
    `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`,
    "bash",
    ...command,
  ]];
}

Deno.test({
  name:
    "1,000 concurrent connections and 300 idle ones against the default cap: a client gets through",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "polycrypt-relay-conn-" });
    const url = `tcp://127.0.0.1:${freePort()}`;
    // No limit flags: the relay's own defaults.
    const [bash, args] = raised([
      "deno",
      "run",
      "--allow-all",
      `${ROOT}cli/main.ts`,
      "relay",
      "--on",
      url,
      "--store",
      `sqlite:${dir}/relay.db`,
    ]);
    const relay = spawnCommand(bash, args);
    const output = relay.output();
    try {
      let up = false;
      for (let i = 0; i < 1200 && !up; i++) {
        const client = await RelayClient.connect(url).catch(() => undefined);
        if (client) {
          await client.close();
          up = true;
        } else await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(up, "the relay did not start");
      const limit = await runCommand(...raised(["bash", "-c", "ulimit -n"]));
      const [b, a] = raised([
        "deno",
        "run",
        "--allow-all",
        `${ROOT}tests/relay/_load_connections.ts`,
        url,
        String(IDLE),
        String(ACTIVE),
      ]);
      const started = Date.now();
      const load = await runCommand(b, a, { deadlineMs: 600_000 });
      assert.equal(load.code, 0, load.stderr);
      const r = JSON.parse(load.stdout.trim().split("\n").at(-1)!);
      console.log(
        `open-file limit ${limit.stdout.trim()}; ${JSON.stringify(r)}; ${
          Date.now() - started
        } ms ` +
          `with the client process's start-up`,
      );
      assert.deepEqual(r.errors, []);
      assert.equal(r.connected, ACTIVE);
      assert.equal(r.sent, ACTIVE);
      assert.equal(r.fetched, ACTIVE);
      // Under the cap, idle sockets stay (the 60 s silence limit is far away)...
      assert.equal(r.idleClosedBefore, 0);
      // ...and over it, the idlest go: at least the excess, all of them idle ones.
      assert.ok(
        r.idleClosedDuring >= IDLE + ACTIVE - DEFAULT_CAP,
        `only ${r.idleClosedDuring} idle sockets were closed`,
      );
      assert.equal(r.legitimate, true);
      // The relay lives on.
      const after = await RelayClient.connect(url);
      await after.ping();
      await after.close();
    } finally {
      try {
        relay.kill("SIGTERM");
      } catch { /* gone */ }
      const { stderr } = await output;
      await Deno.remove(dir, { recursive: true });
      assert.doesNotMatch(new TextDecoder().decode(stderr), /Too many open files|EMFILE/);
    }
  },
});
