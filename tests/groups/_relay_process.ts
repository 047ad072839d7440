// A `polycrypt relay` process with a SQLite store, for the group tests through a real relay.
import { RelayClient } from "../../relay/mod.ts";
import { spawnCommand } from "../_process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const td = new TextDecoder();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `polycrypt relay --store FILE` as a child process. */
export async function startRelay(
  store: string,
): Promise<{ url: string; stop: () => Promise<string> }> {
  const url = `tcp://127.0.0.1:${freePort()}`;
  const child = spawnCommand("deno", [
    "run",
    "--allow-all",
    `${ROOT}cli/main.ts`,
    "relay",
    "--on",
    url,
    "--store",
    `sqlite:${store}`,
  ]);
  let exited = false;
  const output = child.output().then((o) => {
    exited = true;
    return td.decode(o.stdout) + td.decode(o.stderr);
  });
  const stop = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    return output;
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const client = await RelayClient.connect(url, { timeoutMs: 5000 });
      await client.close();
      return { url, stop };
    } catch {
      if (exited || Date.now() > deadline) {
        throw new Error(`the relay did not start: ${await stop()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
