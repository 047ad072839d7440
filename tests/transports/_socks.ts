// A real SOCKS5 server for tests: microsocks, installed (apt-get) and started by
// scripts/socks5_server.sh.
import { spawnCommand } from "../_process.ts";

const SCRIPT = new URL("../../scripts/socks5_server.sh", import.meta.url).pathname;

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Starts microsocks on a free port (extra: e.g. -u USER -P PASSWORD) and waits until it accepts. */
export async function startProxy(
  extra: string[] = [],
): Promise<{ port: number; stop(): Promise<void> }> {
  const port = freePort();
  const child = spawnCommand("bash", [SCRIPT, "-i", "127.0.0.1", "-p", String(port), ...extra], {
    stdout: "null",
    stderr: "null",
  });
  const deadline = Date.now() + 120_000; // the first run may install the package
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      const exited = await Promise.race([child.status, new Promise((r) => setTimeout(r, 100))]);
      if (exited || Date.now() > deadline) throw new Error("microsocks did not start");
    }
  }
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}
