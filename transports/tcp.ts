/**
 * TCP transport: `tcp://HOST:PORT` (`docs/transports.md` section 3). Needs `--allow-net`.
 *
 * @example
 * ```ts ignore
 * import { connectTcp, listenTcp } from "./tcp.ts";
 * const listener = listenTcp("tcp://127.0.0.1:0", async (connection) => {
 *   for await (const message of connection.messages()) console.log(message.kind);
 * });
 * const peer = await connectTcp(`tcp://127.0.0.1:${listener.port}`);
 * await peer.close();
 * await listener.close();
 * ```
 *
 * @module
 */
import { Connection } from "./connection.ts";
import type { FrameReaderOptions } from "./frame.ts";

/** A parsed `tcp://HOST:PORT` address. */
export interface TcpAddress {
  readonly hostname: string;
  readonly port: number;
}

/**
 * Parses `tcp://HOST:PORT` (IPv6 hosts in brackets).
 *
 * @example
 * ```ts
 * import { parseTcpAddress } from "./tcp.ts";
 * console.log(parseTcpAddress("tcp://[::1]:7000")); // { hostname: "::1", port: 7000 }
 * ```
 */
export function parseTcpAddress(address: string): TcpAddress {
  if (typeof address !== "string") throw new TypeError("address must be a string");
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new RangeError(`address must look like tcp://HOST:PORT (got ${JSON.stringify(address)})`);
  }
  return { hostname: m[1].replace(/^\[|\]$/g, ""), port };
}

/** Options of {@linkcode listenTcp}. */
export interface TcpListenOptions extends FrameReaderOptions {
  /** Connections served at once; more are closed on accept (default 1024). */
  maxConnections?: number;
}

/** A running TCP listener. */
export interface TcpListener {
  /** The port it listens on (useful with port 0). */
  readonly port: number;
  /** How many connections it is serving now. */
  readonly active: number;
  /** Stops accepting, closes every open connection and waits for the handlers. */
  close(): Promise<void>;
}

/**
 * Connects to a peer.
 *
 * @example
 * ```ts ignore
 * import { connectTcp } from "./tcp.ts";
 * const peer = await connectTcp("tcp://127.0.0.1:7000");
 * ```
 */
export async function connectTcp(
  address: string,
  options: FrameReaderOptions = {},
): Promise<Connection> {
  const { hostname, port } = parseTcpAddress(address);
  const conn = await Deno.connect({ hostname, port, transport: "tcp" });
  conn.setNoDelay(true);
  return new Connection(conn, options);
}

/**
 * Listens on `address` and runs `handler` for each connection. A handler that throws (a peer that
 * broke the protocol, say) closes that connection only; the listener keeps serving the others.
 *
 * @example
 * ```ts ignore
 * import { listenTcp } from "./tcp.ts";
 * const listener = listenTcp("tcp://127.0.0.1:7000", async (connection) => {
 *   for await (const message of connection.messages()) if (message.kind === "envelope") await connection.acknowledge(message.id);
 * });
 * ```
 */
export function listenTcp(
  address: string,
  handler: (connection: Connection) => Promise<void> | void,
  options: TcpListenOptions = {},
): TcpListener {
  const { hostname, port } = parseTcpAddress(address);
  const max = options.maxConnections ?? 1024;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError("maxConnections must be a positive integer");
  }
  const listener = Deno.listen({ hostname, port, transport: "tcp" });
  const open = new Set<Connection>();
  const running = new Set<Promise<void>>();
  let closing = false;

  const serve = async (conn: Deno.TcpConn) => {
    const connection = new Connection(conn, options);
    open.add(connection);
    try {
      await handler(connection);
    } catch {
      // One peer's failure is that peer's: nothing from it is printed or rethrown here.
    } finally {
      open.delete(connection);
      await connection.close();
    }
  };

  const accepting = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept() as Deno.TcpConn;
      } catch {
        if (closing) return;
        continue;
      }
      if (open.size >= max) {
        conn.close();
        continue;
      }
      conn.setNoDelay(true);
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
