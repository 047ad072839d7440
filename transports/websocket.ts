/**
 * WebSocket transport: `ws://HOST:PORT/PATH`. The client is the standard `WebSocket` API, so a
 * browser peer works too; the server is `Deno.serve` with `Deno.upgradeWebSocket`. In Node (no
 * `Deno`) the server is node:http with the npm package `ws`, which is also the client where there
 * is no global `WebSocket` (Node 20; docs/package.md). Frames
 * (`docs/transports.md`) travel in binary WebSocket messages; a text message breaks the protocol.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseWsAddress } from "@polycrypt/polycrypt/transports";
 * assert.equal(parseWsAddress("ws://127.0.0.1:8080/chat").port, 8080);
 * ```
 *
 * @module
 */
import { Connection } from "./connection.ts";
import type { ByteDuplex } from "./connection.ts";
import { type FrameBudget, FrameError, type FrameReaderOptions } from "./frame.ts";
import type { TcpListenOptions } from "./tcp.ts";
import { checkMaxConnections, ConnectionPool } from "./_listener.ts";
import { type Holder, ledgerOf, nextSequence } from "./_budget.ts";
import { hasDenoSockets, recordBind } from "./_node_net.ts";
import { listenNodeWebSocket, openWebSocket } from "./_node_ws.ts";

/** `WebSocket.CONNECTING` and `OPEN` (the same numbers in every implementation; Node 20 has no global). */
const CONNECTING = 0;
const OPEN = 1;

/** A parsed `ws://` address. */
export interface WsAddress {
  /** The whole URL, normalised. */
  readonly url: string;
  /** The host name or IP address (IPv6 without brackets). */
  readonly hostname: string;
  /** The port (always given in the address). */
  readonly port: number;
  /** The path the listener serves, `/` when none is given. */
  readonly path: string;
}

/**
 * Parses `ws://HOST:PORT[/PATH]` (the port is required; `wss://` is not offered yet).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseWsAddress } from "@polycrypt/polycrypt/transports";
 * assert.equal(parseWsAddress("ws://[::1]:9000").path, "/");
 * assert.throws(() => parseWsAddress("ws://[::1]/"), RangeError); // the port is required
 * assert.throws(() => parseWsAddress("wss://[::1]:9000/"), RangeError);
 * ```
 */
export function parseWsAddress(address: string): WsAddress {
  if (typeof address !== "string") throw new TypeError("address must be a string");
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new RangeError("address must look like ws://HOST:PORT[/PATH]");
  }
  // URL drops a default port (80 for ws:), so an explicit ":80" is read from the text.
  const port = url.port ? Number(url.port) : /^ws:\/\/[^/]*:80(\/|$)/i.test(address) ? 80 : NaN;
  if (url.protocol !== "ws:" || Number.isNaN(port) || url.search || url.hash || url.username) {
    throw new RangeError("address must look like ws://HOST:PORT[/PATH]");
  }
  return {
    url: url.href,
    hostname: url.hostname.replace(/^\[|\]$/g, ""),
    port,
    path: url.pathname,
  };
}

/** Bytes a sender may queue in a socket before it waits (back-pressure). */
const HIGH_WATER = 4 * 1024 * 1024;

/**
 * Default bytes of received WebSocket messages one connection may hold before they are read:
 * 32 MiB, two maximal frames (docs/transports.md section 5).
 */
export const DEFAULT_WS_MAX_QUEUED_BYTES = 32 * 1024 * 1024;

/** Options of the WebSocket transport, besides the frame reader's. */
export interface WebSocketOptions {
  /**
   * Bytes of received messages one connection may hold before the application reads them
   * (default {@linkcode DEFAULT_WS_MAX_QUEUED_BYTES}). A WebSocket cannot stop its peer from
   * sending, so a peer that sends more than this ahead of the reader is closed (code 1008). The
   * same bytes also count against the connection's {@linkcode FrameReaderOptions.frameBudget}.
   */
  maxQueuedBytes?: number;
}

/** Options of a WebSocket listener only. */
export interface WebSocketListenOptions {
  /**
   * Answers plain HTTP requests (anything but a WebSocket upgrade on the listener's path) on the
   * same port, e.g. a web page that then connects back with a WebSocket (`polycrypt relay --web`).
   * Default: 404 on another path, 426 on the listener's path.
   */
  onHttpRequest?: (request: Request) => Response | Promise<Response>;
}

/** RangeError unless `maxQueuedBytes` is absent or a positive integer. */
function checkMaxQueued(options: WebSocketOptions): number {
  const max = options.maxQueuedBytes ?? DEFAULT_WS_MAX_QUEUED_BYTES;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError("maxQueuedBytes must be a positive integer");
  }
  return max;
}

/**
 * Turns an open WebSocket into a byte duplex: binary messages in, binary messages out. Received
 * messages wait in a queue until the reader asks for them; the bytes queued count against the
 * frame budget (evictable, like an incomplete frame) and may not pass `maxQueued`: a WebSocket
 * reads on whether or not anyone asks, so without this a peer could pile up memory unread.
 */
function socketDuplex(
  socket: WebSocket,
  maxQueued: number,
  budget: FrameBudget | undefined,
): ByteDuplex {
  socket.binaryType = "arraybuffer";
  const ledger = ledgerOf(budget);
  let chunks: Uint8Array[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const fail = (error: Error, code: number, reason: string) => {
    if (failure) return;
    failure = error;
    chunks = [];
    queued = 0;
    ledger.set(holder, 0);
    if (socket.readyState === OPEN || socket.readyState === CONNECTING) {
      socket.close(code, reason);
    }
    notify();
  };
  const holder: Holder = {
    bytes: 0,
    since: 0,
    evictable: () => queued > 0 && !failure,
    evict: () =>
      fail(
        new FrameError("the memory for frames in flight is exhausted"),
        1008,
        "memory exhausted",
      ),
  };
  socket.addEventListener("message", (event) => {
    if (failure || ended) return;
    if (!(event.data instanceof ArrayBuffer)) {
      // Text is not part of the protocol: end this connection.
      fail(new TypeError("text message"), 1003, "binary frames only");
      return;
    }
    const chunk = new Uint8Array(event.data);
    if (chunk.length === 0) return;
    if (queued + chunk.length > maxQueued) {
      fail(new FrameError("the peer sent more than is read"), 1008, "too much unread data");
      return;
    }
    if (queued === 0) holder.since = nextSequence();
    chunks.push(chunk);
    queued += chunk.length;
    ledger.set(holder, queued);
    ledger.relieve();
    notify();
  });
  socket.addEventListener("close", () => {
    ended = true;
    notify();
  });
  socket.addEventListener("error", () => {
    if (!ended) fail(new TypeError("websocket error"), 1011, "error");
  });
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (chunks.length === 0 && !failure && !ended) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (failure) {
        controller.error(failure);
      } else if (chunks.length > 0) {
        const chunk = chunks.shift()!;
        queued -= chunk.length;
        ledger.set(holder, queued);
        controller.enqueue(chunk);
      } else {
        controller.close();
      }
    },
    cancel() {
      chunks = [];
      queued = 0;
      ledger.set(holder, 0);
      ended = true;
      notify();
      socket.close();
    },
  }, { highWaterMark: 0 });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (socket.readyState !== OPEN) throw new TypeError("websocket is closed");
      while (socket.bufferedAmount > HIGH_WATER && socket.readyState === OPEN) {
        await new Promise((r) => setTimeout(r, 5));
      }
      socket.send(chunk as Uint8Array<ArrayBuffer>);
    },
    close() {
      if (socket.readyState === OPEN) socket.close(1000);
    },
    abort() {
      socket.close();
    },
  });
  return { readable, writable };
}

/**
 * Connects to a WebSocket peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectWebSocket, listenWebSocket } from "@polycrypt/polycrypt/transports";
 * const server = listenWebSocket("ws://127.0.0.1:0/", () => {});
 * const peer = await connectWebSocket(`ws://127.0.0.1:${server.port}/`);
 * await peer.close();
 * await server.close();
 * await assert.rejects(connectWebSocket(`ws://127.0.0.1:${server.port}/`), TypeError);
 * ```
 */
export async function connectWebSocket(
  address: string,
  options: FrameReaderOptions & WebSocketOptions = {},
): Promise<Connection> {
  const { url } = parseWsAddress(address);
  const maxQueued = checkMaxQueued(options);
  const socket = openWebSocket(url, maxQueued);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener(
      "error",
      () => reject(new TypeError(`could not connect to ${address}`)),
      { once: true },
    );
  });
  return new Connection(socketDuplex(socket, maxQueued, options.frameBudget), options);
}

/** A running WebSocket listener. */
export interface WebSocketListener {
  /** The port it listens on (useful with port 0). */
  readonly port: number;
  /** How many connections it is serving now. */
  readonly active: number;
  /** Closes every open connection, waits for the handlers and frees the port. */
  close(): Promise<void>;
}

/**
 * Serves WebSocket peers on `address` (its path only; anything else gets 404, plain HTTP 426).
 * A handler that throws closes its own connection only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { connectWebSocket, listenWebSocket } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const server = listenWebSocket("ws://127.0.0.1:0/polycrypt", async (connection) => {
 *   for await (const m of connection.messages()) {
 *     if (m.kind === "envelope") await connection.acknowledge(m.id);
 *   }
 * });
 * // Any other path gets 404, a plain HTTP request 426.
 * assert.equal((await fetch(`http://127.0.0.1:${server.port}/other`)).status, 404);
 * assert.equal((await fetch(`http://127.0.0.1:${server.port}/polycrypt`)).status, 426);
 * const peer = await connectWebSocket(`ws://127.0.0.1:${server.port}/polycrypt`);
 * const id = await peer.send(await encrypt(new Uint8Array(3), { recipients: [bob.recipient] }));
 * const ack = (await peer.messages().next()).value;
 * assert.equal(ack?.kind === "ack" && ack.id.toHex(), id.toHex());
 * await peer.close();
 * await server.close();
 * ```
 */
export function listenWebSocket(
  address: string,
  handler: (connection: Connection) => Promise<void> | void,
  options: TcpListenOptions & WebSocketOptions & WebSocketListenOptions = {},
): WebSocketListener {
  const { hostname, port, path } = parseWsAddress(address);
  checkMaxConnections(options);
  const maxQueued = checkMaxQueued(options);
  const pool = new ConnectionPool(options);
  const http = options.onHttpRequest;
  if (!hasDenoSockets()) {
    // Node: node:http and the npm package `ws` (transports/_node_ws.ts), the same answers.
    const node = listenNodeWebSocket(
      { hostname, port },
      path,
      maxQueued,
      http,
      (socket) => pool.serve(socketDuplex(socket, maxQueued, options.frameBudget), handler),
    );
    const listener: WebSocketListener = {
      get port() {
        return node.port;
      },
      get active() {
        return pool.size;
      },
      async close() {
        await pool.close();
        await node.close();
      },
    };
    recordBind(listener, node.ready);
    return listener;
  }
  const server = Deno.serve({ hostname, port, onListen: () => {} }, (request) => {
    const upgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
    const onPath = new URL(request.url).pathname === path;
    if (http && !(upgrade && onPath)) return http(request);
    if (!onPath) return new Response(null, { status: 404 });
    if (!upgrade) return new Response(null, { status: 426, headers: { upgrade: "websocket" } });
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.addEventListener(
      "open",
      () => pool.serve(socketDuplex(socket, maxQueued, options.frameBudget), handler),
      {
        once: true,
      },
    );
    return response;
  });
  return {
    port: server.addr.port,
    get active() {
      return pool.size;
    },
    async close() {
      await pool.close();
      await server.shutdown();
    },
  };
}
