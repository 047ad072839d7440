// Internal: the accept loop shared by the TCP and TLS listeners (and per-connection serving, shared
// with WebSocket).
import { Connection } from "./connection.ts";
import type { TcpListener, TcpListenOptions } from "./tcp.ts";

/** RangeError unless `maxConnections` is absent or a positive integer. */
export function checkMaxConnections(options: TcpListenOptions): void {
  const max = options.maxConnections ?? 1024;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError("maxConnections must be a positive integer");
  }
}

/**
 * Runs `handler` for one connection while it is in `open`, then closes it. A handler that throws
 * (a peer that broke the protocol, say) ends this connection only: nothing from it is printed or
 * rethrown.
 */
export async function serveOne(
  connection: Connection,
  handler: (connection: Connection) => Promise<void> | void,
  open: Set<Connection>,
): Promise<void> {
  open.add(connection);
  try {
    await handler(connection);
  } catch {
    // One peer's failure is that peer's alone.
  } finally {
    open.delete(connection);
    await connection.close();
  }
}

/**
 * Accepts connections from `listener` and runs `handler` for each, at most
 * `options.maxConnections` at once (more are closed on accept). A handler that throws closes its
 * own connection only.
 */
export function serveConnections<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  handler: (connection: Connection) => Promise<void> | void,
  options: TcpListenOptions,
  prepare: (conn: C) => void = () => {},
): TcpListener {
  const max = options.maxConnections ?? 1024;
  const open = new Set<Connection>();
  const running = new Set<Promise<void>>();
  let closing = false;

  const serve = (conn: C) => serveOne(new Connection(conn, options), handler, open);

  const accepting = (async () => {
    for (;;) {
      let conn: C;
      try {
        conn = await listener.accept();
      } catch {
        if (closing) return;
        continue;
      }
      if (open.size >= max) {
        conn.close();
        continue;
      }
      prepare(conn);
      const task = serve(conn);
      running.add(task);
      task.finally(() => running.delete(task));
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    get active() {
      return open.size;
    },
    async close() {
      if (closing) return;
      closing = true;
      listener.close();
      await accepting;
      await Promise.all([...open].map((c) => c.close()));
      await Promise.all(running);
    },
  };
}
