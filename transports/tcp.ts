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
import { checkMaxConnections, serveConnections } from "./_listener.ts";
import { parseHostPort } from "./_address.ts";

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
  return parseHostPort(address, "tcp");
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
  checkMaxConnections(options);
  const listener = Deno.listen({ hostname, port, transport: "tcp" });
  return serveConnections(listener, handler, options, (conn) => conn.setNoDelay(true));
}
