// A `polycrypt relay` process for the CLI tests that go through a relay (relay_flow_test.ts,
// group_cli_test.ts).
import assert from "node:assert/strict";
import { RelayClient } from "../../relay/mod.ts";
import { spawnCli } from "./_cli.ts";

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A `polycrypt relay` process on a free port, SQLite in `dir`; stopped by the returned function. */
export async function startRelay(
  dir: string,
  url = `ws://127.0.0.1:${freePort()}`,
): Promise<{ url: string; stop(signal?: Deno.Signal): Promise<void> }> {
  const child = spawnCli(
    ["relay", "--on", url, "--store", `sqlite:${dir}/relay.db`],
    ["--allow-all"],
    { stdout: "null", stderr: "null" },
  );
  let up = false;
  for (let i = 0; i < 1200 && !up; i++) {
    const client = await RelayClient.connect(url).catch(() => undefined);
    if (client) {
      await client.close();
      up = true;
    } else await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(up, "the relay did not start");
  return {
    url,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* gone already */ }
      await child.status;
    },
  };
}
