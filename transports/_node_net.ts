// Internal: the TCP and TLS transports in Node (docs/package.md, "Transports in Node"). Deno keeps
// its own APIs (Deno.connect, Deno.listen, Deno.startTls, Deno.listenTls); where there is no
// Deno, the same sockets and listeners come from node:net and node:tls, looked up at run time with
// `process.getBuiltinModule` (Node 20.16+), so nothing here is loaded or touched in Deno or in a
// browser. The frames, limits and connection pool are the shared ones: only the socket differs.
import type * as NodeNet from "node:net";
import type * as NodeTls from "node:tls";
import type * as NodeStream from "node:stream";
import type * as NodeHttp from "node:http";
import type * as NodeModule from "node:module";
import type { ByteDuplex, Connection } from "./connection.ts";
import { ConnectionPool } from "./_listener.ts";
import type { TcpListener, TcpListenOptions } from "./tcp.ts";

interface Builtins {
  "node:net": typeof NodeNet;
  "node:tls": typeof NodeTls;
  "node:stream": typeof NodeStream;
  "node:http": typeof NodeHttp;
  "node:module": typeof NodeModule;
}

/**
 * Whether this process has Deno's socket APIs (Deno itself). Elsewhere the transports use Node's
 * modules. Read when a transport is used, never when the module loads.
 */
export function hasDenoSockets(): boolean {
  const deno = (globalThis as { Deno?: { listen?: unknown } }).Deno;
  return typeof deno?.listen === "function";
}

/** A Node built-in module, or a TypeError that names what the transport needs. */
export function nodeModule<K extends keyof Builtins>(id: K): Builtins[K] {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
    .process;
  const found = process?.getBuiltinModule?.(id) as Builtins[K] | undefined;
  if (!found) {
    throw new TypeError(
      `${id} is not available here: the tcp://, tls://, udp:// and ws:// transports need Deno or ` +
        "Node 20.16 or later",
    );
  }
  return found;
}

/** A connected socket as the byte duplex a Connection frames (node:stream's web adapter). */
function socketDuplex(socket: NodeNet.Socket): ByteDuplex {
  // A reset peer ends this connection only (the streams below report it); never the process.
  socket.on("error", () => {});
  const { readable, writable } = nodeModule("node:stream").Duplex.toWeb(socket) as unknown as {
    readable: ReadableStream<Uint8Array>;
    writable: WritableStream<Uint8Array>;
  };
  return { readable, writable };
}

/** TLS options of {@linkcode dialNode}: the CA certificates that replace the built-in roots. */
export interface NodeTlsDial {
  readonly caCerts?: string[];
}

/**
 * A TCP connection (Nagle off), or with `tls` a TLS one whose handshake is complete, so a
 * certificate the client does not trust fails here. Rejects with the socket's error.
 */
export async function dialNode(
  to: { hostname: string; port: number },
  tls?: NodeTlsDial,
): Promise<ByteDuplex> {
  const socket: NodeNet.Socket = tls
    ? nodeModule("node:tls").connect({
      host: to.hostname,
      port: to.port,
      // A name is checked against the certificate and sent as SNI; an IP address only checked.
      servername: nodeModule("node:net").isIP(to.hostname) ? undefined : to.hostname,
      ca: tls.caCerts,
    })
    : nodeModule("node:net").connect({ host: to.hostname, port: to.port });
  await new Promise<void>((resolve, reject) => {
    socket.once(tls ? "secureConnect" : "connect", () => resolve());
    socket.once("error", (e) => {
      socket.destroy();
      reject(e);
    });
  });
  socket.setNoDelay(true);
  return socketDuplex(socket);
}

/** A listener's bind: resolves once it listens, rejects with why it cannot (Node only). */
const bound = new WeakMap<object, Promise<void>>();

/**
 * Resolves once `listener` listens, or rejects with the reason it cannot (the port is in use, the
 * host does not resolve). Deno's listeners bind before they are returned; Node's a moment later,
 * which the `port` a Node listener reports waits for too.
 */
export function whenListening<L extends object>(listener: L): Promise<L> {
  return (bound.get(listener) ?? Promise.resolve()).then(() => listener);
}

/** Records `listener`'s bind (a promise that never rejects unhandled: the caller may not ask). */
export function recordBind(listener: object, ready: Promise<void>): void {
  ready.catch(() => {});
  bound.set(listener, ready);
}

/**
 * A TCP listener (or with `tls` a TLS one) in Node, serving each connection through the shared
 * pool exactly as Deno's listeners do. It returns at once; {@linkcode whenListening} tells when
 * it is bound (its `port` is the one asked for until then).
 */
export function listenNode(
  at: { hostname: string; port: number },
  handler: (connection: Connection) => Promise<void> | void,
  options: TcpListenOptions,
  tls?: { cert: string; key: string },
): TcpListener {
  const pool = new ConnectionPool(options);
  const sockets = new Set<NodeNet.Socket>();
  const server: NodeNet.Server = tls
    ? nodeModule("node:tls").createServer({ cert: tls.cert, key: tls.key })
    : nodeModule("node:net").createServer();
  // Every accepted socket, TLS handshakes still under way included: close() ends them all.
  server.on("connection", (socket: NodeNet.Socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
  });
  // A peer that fails the TLS handshake ends its own socket only.
  server.on("tlsClientError", () => {});
  server.on(tls ? "secureConnection" : "connection", (socket: NodeNet.Socket) => {
    socket.setNoDelay(true);
    pool.serve(socketDuplex(socket), handler);
  });
  const ready = new Promise<void>((resolve, reject) => {
    server.once("listening", () => resolve());
    server.once("error", reject);
  });
  // After the bind, a server error (accept failing for lack of descriptors) drops that peer only.
  ready.then(() => server.on("error", () => {}), () => {});
  server.listen({ host: at.hostname, port: at.port });
  let closing: Promise<void> | undefined;
  const listener: TcpListener = {
    get port() {
      const address = server.address();
      return typeof address === "object" && address ? address.port : at.port;
    },
    get active() {
      return pool.size;
    },
    close() {
      return closing ??= (async () => {
        const stopped = await ready.then(() => true, () => false);
        const closed = stopped
          ? new Promise<void>((resolve) => server.close(() => resolve()))
          : Promise.resolve();
        await pool.close();
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
    },
  };
  recordBind(listener, ready);
  return listener;
}
