/**
 * TCP with TLS: `tls://HOST:PORT` (`docs/transports.md` section 3). The frames are those of plain
 * TCP; TLS adds a second, independent layer that hides frame sizes and message ids from the
 * network and authenticates the listener's certificate. polycrypt's security never depends on it:
 * envelopes are end-to-end encrypted before they reach any transport. Needs `--allow-net` (and
 * `--allow-read` to load certificate files).
 *
 * @example
 * ```ts ignore
 * // Needs a certificate and key in PEM files (docs/transports.md section 3 shows how to make them).
 * import { connectTls, listenTls } from "@polycrypt/polycrypt/transports";
 * const cert = await Deno.readTextFile("cert.pem");
 * const listener = listenTls("tls://127.0.0.1:7443", () => {}, {
 *   cert,
 *   key: await Deno.readTextFile("key.pem"),
 * });
 * const peer = await connectTls("tls://localhost:7443", { caCerts: [cert] });
 * await peer.close();
 * await listener.close();
 * ```
 *
 * @module
 */
import { Connection } from "./connection.ts";
import type { FrameReaderOptions } from "./frame.ts";
import type { TcpAddress, TcpListener, TcpListenOptions } from "./tcp.ts";
import { checkMaxConnections, serveConnections } from "./_listener.ts";
import { openTcp, parseHostPort } from "./_address.ts";
import { dialNode, hasDenoSockets, listenNode } from "./_node_net.ts";

/** Options of {@linkcode listenTls}. */
export interface TlsListenOptions extends TcpListenOptions {
  /** The listener's certificate chain, PEM. */
  cert: string;
  /** The certificate's private key, PEM. */
  key: string;
}

/** Options of {@linkcode connectTls}. */
export interface TlsConnectOptions extends FrameReaderOptions {
  /**
   * PEM certificates to trust instead of the built-in web roots: a peer's self-signed
   * certificate, or the CA that issued it.
   */
  caCerts?: string[];
}

/**
 * Parses `tls://HOST:PORT` (IPv6 hosts in brackets).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTlsAddress } from "@polycrypt/polycrypt/transports";
 * assert.deepEqual(parseTlsAddress("tls://chat.example:7443"), { hostname: "chat.example", port: 7443 });
 * assert.throws(() => parseTlsAddress("tcp://chat.example:7443"), RangeError);
 * ```
 */
export function parseTlsAddress(address: string): TcpAddress {
  return parseHostPort(address, "tls");
}

/**
 * Connects to a TLS listener and completes the handshake, so a certificate the client does not
 * trust fails here, before anything is sent.
 *
 * @example
 * ```ts ignore
 * // Needs a TLS peer at that address and its certificate in a PEM file.
 * import { connectTls } from "@polycrypt/polycrypt/transports";
 * const peer = await connectTls("tls://localhost:7443", {
 *   caCerts: [await Deno.readTextFile("peer-cert.pem")],
 * });
 * ```
 */
export async function connectTls(
  address: string,
  options: TlsConnectOptions = {},
): Promise<Connection> {
  const { hostname, port } = parseTlsAddress(address);
  if (!hasDenoSockets()) {
    // Node: node:tls, the handshake complete before this resolves, as below.
    return new Connection(
      await dialNode({ hostname, port }, { caCerts: options.caCerts }),
      options,
    );
  }
  // Plain connect first so Nagle can be turned off (TlsConn has no setNoDelay), then TLS on top.
  const tcp = await openTcp({ hostname, port });
  let conn: Deno.TlsConn;
  try {
    conn = await Deno.startTls(tcp, { hostname, caCerts: options.caCerts });
    await conn.handshake();
  } catch (e) {
    try {
      tcp.close();
    } catch { /* already closed by the failed handshake */ }
    throw e;
  }
  return new Connection(conn, options);
}

/**
 * Listens on `address` with TLS and runs `handler` for each connection, like
 * `listenTcp`. A peer that fails the handshake or sends garbage closes its own
 * connection only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenTls } from "@polycrypt/polycrypt/transports";
 * // Certificate and key are checked at once: without them there is no TLS listener.
 * // @ts-expect-error: cert and key are required
 * assert.throws(() => listenTls("tls://127.0.0.1:0", () => {}, {}), TypeError);
 * ```
 */
export function listenTls(
  address: string,
  handler: (connection: Connection) => Promise<void> | void,
  options: TlsListenOptions,
): TcpListener {
  const { hostname, port } = parseTlsAddress(address);
  checkMaxConnections(options);
  if (typeof options?.cert !== "string" || typeof options.key !== "string") {
    throw new TypeError("options.cert and options.key must be PEM strings");
  }
  if (!hasDenoSockets()) {
    return listenNode({ hostname, port }, handler, options, options);
  }
  const listener = Deno.listenTls({ hostname, port, cert: options.cert, key: options.key });
  return serveConnections(listener, handler, options);
}
