/**
 * TCP transport: `tcp://HOST:PORT` (`docs/transports.md` section 3). Needs `--allow-net`. Deno's
 * sockets in Deno, node:net in Node (docs/package.md, "Transports in Node").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { connectTcp, listenTcp } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const kinds: string[] = [];
 * const listener = listenTcp("tcp://127.0.0.1:0", async (connection) => {
 *   for await (const message of connection.messages()) {
 *     kinds.push(message.kind);
 *     if (message.kind === "envelope") await connection.acknowledge(message.id);
 *   }
 * });
 * const peer = await connectTcp(`tcp://127.0.0.1:${listener.port}`);
 * const id = await peer.send(await encrypt(new Uint8Array(3), { recipients: [bob.recipient] }));
 * const ack = (await peer.messages().next()).value;
 * assert.equal(ack?.kind === "ack" && ack.id.toHex(), id.toHex());
 * assert.deepEqual(kinds, ["envelope"]);
 * await peer.close();
 * await listener.close();
 * ```
 *
 * @module
 */
import { Connection } from "./connection.ts";
import type { FrameReaderOptions } from "./frame.ts";
import { checkMaxConnections, serveConnections } from "./_listener.ts";
import { openTcp, parseHostPort } from "./_address.ts";
import { dialNode, hasDenoSockets, listenNode } from "./_node_net.ts";

/** A parsed `tcp://HOST:PORT` address. */
export interface TcpAddress {
  /** The host name or IP address (IPv6 without brackets). */
  readonly hostname: string;
  /** The port, 0 to 65535. */
  readonly port: number;
}

/**
 * Parses `tcp://HOST:PORT` (IPv6 hosts in brackets).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTcpAddress } from "@polycrypt/polycrypt/transports";
 * assert.deepEqual(parseTcpAddress("tcp://[::1]:7000"), { hostname: "::1", port: 7000 });
 * assert.throws(() => parseTcpAddress("tcp://[::1]"), RangeError);
 * ```
 */
export function parseTcpAddress(address: string): TcpAddress {
  return parseHostPort(address, "tcp");
}

/** Options of {@linkcode listenTcp}. */
export interface TcpListenOptions extends FrameReaderOptions {
  /**
   * Connections served at once (default 1024). At the cap, a new connection closes the one that
   * received nothing for the longest time rather than being refused, so idle sockets cannot lock
   * senders out. A listener's connections also default
   * {@linkcode FrameReaderOptions.betweenFramesTimeoutMs} to 60 s.
   */
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
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectTcp, listenTcp } from "@polycrypt/polycrypt/transports";
 * const listener = listenTcp("tcp://127.0.0.1:0", () => {});
 * const peer = await connectTcp(`tcp://127.0.0.1:${listener.port}`);
 * await peer.close();
 * await listener.close();
 * // Nobody listens there any more.
 * await assert.rejects(connectTcp(`tcp://127.0.0.1:${listener.port}`));
 * ```
 */
export async function connectTcp(
  address: string,
  options: FrameReaderOptions = {},
): Promise<Connection> {
  const to = parseTcpAddress(address);
  // Deno's sockets in Deno; node:net elsewhere (Node: docs/package.md).
  return new Connection(hasDenoSockets() ? await openTcp(to) : await dialNode(to), options);
}

/**
 * Listens on `address` and runs `handler` for each connection. A handler that throws (a peer that
 * broke the protocol, say) closes that connection only; the listener keeps serving the others.
 * In Node (node:net) the socket is bound a moment after this returns, and a bind error (the port
 * in use) is reported by `listen("tcp://...")` from the dial module, which waits for the bind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectTcp, listenTcp } from "@polycrypt/polycrypt/transports";
 * const listener = listenTcp("tcp://127.0.0.1:0", async (connection) => {
 *   for await (const m of connection.messages()) {
 *     if (m.kind === "envelope") await connection.acknowledge(m.id);
 *   }
 * }, { maxConnections: 8 });
 * const peer = await connectTcp(`tcp://127.0.0.1:${listener.port}`);
 * while (listener.active === 0) await new Promise((r) => setTimeout(r, 5));
 * assert.equal(listener.active, 1);
 * await peer.close();
 * await listener.close();
 * ```
 */
export function listenTcp(
  address: string,
  handler: (connection: Connection) => Promise<void> | void,
  options: TcpListenOptions = {},
): TcpListener {
  const { hostname, port } = parseTcpAddress(address);
  checkMaxConnections(options);
  if (!hasDenoSockets()) return listenNode({ hostname, port }, handler, options);
  const listener = Deno.listen({ hostname, port, transport: "tcp" });
  return serveConnections(listener, handler, options, (conn) => conn.setNoDelay(true));
}
