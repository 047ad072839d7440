/**
 * WebSocket transport: `ws://HOST:PORT/PATH`. The client is the standard `WebSocket` API, so a
 * browser peer works too; the server is `Deno.serve` with `Deno.upgradeWebSocket`. Frames
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
import type { FrameReaderOptions } from "./frame.ts";
import type { TcpListenOptions } from "./tcp.ts";
import { checkMaxConnections, ConnectionPool } from "./_listener.ts";

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

/** Turns an open WebSocket into a byte duplex: binary messages in, binary messages out. */
function socketDuplex(socket: WebSocket): ByteDuplex {
  socket.binaryType = "arraybuffer";
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      socket.addEventListener("message", (event) => {
        if (!(event.data instanceof ArrayBuffer)) {
          // Text is not part of the protocol: end this connection.
          controller.error(new TypeError("text message"));
          socket.close(1003, "binary frames only");
          return;
        }
        controller.enqueue(new Uint8Array(event.data));
      });
      socket.addEventListener("close", () => {
        try {
          controller.close();
        } catch { /* already errored or closed */ }
      });
      socket.addEventListener("error", () => {
        try {
          controller.error(new TypeError("websocket error"));
        } catch { /* already closed */ }
      });
    },
    cancel() {
      socket.close();
    },
  });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (socket.readyState !== WebSocket.OPEN) throw new TypeError("websocket is closed");
      while (socket.bufferedAmount > HIGH_WATER && socket.readyState === WebSocket.OPEN) {
        await new Promise((r) => setTimeout(r, 5));
      }
      socket.send(chunk);
    },
    close() {
      if (socket.readyState === WebSocket.OPEN) socket.close(1000);
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
  options: FrameReaderOptions = {},
): Promise<Connection> {
  const { url } = parseWsAddress(address);
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener(
      "error",
      () => reject(new TypeError(`could not connect to ${address}`)),
      { once: true },
    );
  });
  return new Connection(socketDuplex(socket), options);
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
  options: TcpListenOptions = {},
): WebSocketListener {
  const { hostname, port, path } = parseWsAddress(address);
  checkMaxConnections(options);
  const pool = new ConnectionPool(options);
  const server = Deno.serve({ hostname, port, onListen: () => {} }, (request) => {
    if (new URL(request.url).pathname !== path) return new Response(null, { status: 404 });
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response(null, { status: 426, headers: { upgrade: "websocket" } });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.addEventListener("open", () => pool.serve(socketDuplex(socket), handler), {
      once: true,
    });
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
