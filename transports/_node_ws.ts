// Internal: the WebSocket transport where the platform has no WebSocket server (Node), and no
// WebSocket client either (Node 20): the npm package `ws` (pinned in deno.json, a dependency of
// the npm package), loaded with node:module's require on first use, so that Deno and browsers
// never load it (Deno keeps Deno.serve with Deno.upgradeWebSocket and its own WebSocket; a
// browser or Node 22+ has a WebSocket client). docs/package.md, "Transports in Node".
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { nodeModule } from "./_node_net.ts";

/** The part of `ws`'s API used here (declared: its types are not a dependency). */
interface WsModule {
  WebSocket: new (url: string, options: { maxPayload: number }) => WebSocket;
  WebSocketServer: new (options: { noServer: true; maxPayload: number }) => {
    handleUpgrade(
      request: IncomingMessage,
      socket: Duplex,
      head: Uint8Array,
      done: (client: WebSocket & { terminate(): void }) => void,
    ): void;
    close(): void;
  };
}

/**
 * The npm package's name; written in a variable on purpose, so that no bundler (esbuild for the
 * web page) and no Deno graph follows it: only a Node process that needs it loads it.
 */
const WS_PACKAGE = "ws";

let ws: WsModule | undefined;

/** `ws`, required from next to this module (dist/ in the npm package); TypeError when missing. */
function wsModule(): WsModule {
  if (ws) return ws;
  try {
    ws = nodeModule("node:module").createRequire(import.meta.url)(WS_PACKAGE) as WsModule;
  } catch (e) {
    if (e instanceof TypeError && /not available here/.test(e.message)) throw e;
    throw new TypeError(
      "the ws:// transport needs the npm package `ws` here (a dependency of polycrypt's npm " +
        "package): install it",
    );
  }
  return ws;
}

/**
 * A WebSocket client to `url`: the platform's where it has one (Deno, browsers, Node 22+), else
 * `ws`'s, which has the same events, `binaryType`, `bufferedAmount` and `readyState` numbers.
 * `maxPayload` bounds one received message (`ws` only; the platform's clients have their own).
 */
export function openWebSocket(url: string, maxPayload: number): WebSocket {
  if (typeof globalThis.WebSocket === "function") return new WebSocket(url);
  return new (wsModule().WebSocket)(url, { maxPayload });
}

/** A request as `onHttpRequest` takes it: the web `Request` made from Node's. */
function webRequest(request: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const method = request.method ?? "GET";
  const body = method === "GET" || method === "HEAD"
    ? undefined
    : nodeModule("node:stream").Readable.toWeb(request) as unknown as ReadableStream<Uint8Array>;
  return new Request(`http://${headers.get("host") ?? "localhost"}${request.url ?? "/"}`, {
    method,
    headers,
    body,
    // @ts-ignore: `duplex` is required by Node's fetch for a streamed body, not in Deno's types
    duplex: "half",
  });
}

/** Writes a web `Response` to Node's response. */
async function writeResponse(response: Response, out: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    const before = headers[name];
    headers[name] = before === undefined
      ? value
      : Array.isArray(before)
      ? [...before, value]
      : [before, value];
  }
  out.writeHead(response.status, headers);
  if (response.body) {
    for await (const chunk of response.body) {
      if (!out.write(chunk)) await new Promise((resolve) => out.once("drain", resolve));
    }
  }
  out.end();
}

/** What {@linkcode listenNodeWebSocket} returns. */
export interface NodeWebSocketServer {
  /** The port it listens on, once bound (the one asked for until then). */
  readonly port: number;
  /** Resolves once it listens, rejects with why it cannot. */
  readonly ready: Promise<void>;
  /** Stops listening and ends every socket still open (after the pool closed its own). */
  close(): Promise<void>;
}

/**
 * A WebSocket listener on node:http and `ws`: upgrades on `path` go to `onSocket` (open already);
 * anything else gets `http` if given, else 404 (another path) or 426 (plain HTTP on the path),
 * as the Deno listener answers.
 */
export function listenNodeWebSocket(
  at: { hostname: string; port: number },
  path: string,
  maxPayload: number,
  http: ((request: Request) => Response | Promise<Response>) | undefined,
  onSocket: (socket: WebSocket) => void,
): NodeWebSocketServer {
  const { WebSocketServer } = wsModule();
  const wss = new WebSocketServer({ noServer: true, maxPayload });
  const clients = new Set<WebSocket & { terminate(): void }>();
  const pathOf = (request: IncomingMessage) =>
    new URL(request.url ?? "/", "http://localhost").pathname;
  const server = nodeModule("node:http").createServer((request, response) => {
    const answered = http
      ? Promise.resolve(http(webRequest(request))).then((r) => writeResponse(r, response))
      : Promise.resolve().then(() => {
        if (pathOf(request) !== path) response.writeHead(404).end();
        else response.writeHead(426, { upgrade: "websocket" }).end();
      });
    answered.catch(() => response.destroy());
  });
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Uint8Array) => {
    socket.on("error", () => {});
    if (pathOf(request) !== path) {
      socket.end("HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(request, socket, head, (client) => {
      clients.add(client);
      client.addEventListener("close", () => clients.delete(client));
      onSocket(client);
    });
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  const ready = new Promise<void>((resolve, reject) => {
    server.once("listening", () => resolve());
    server.once("error", reject);
  });
  ready.then(() => server.on("error", () => {}), () => {});
  server.listen({ host: at.hostname, port: at.port });
  return {
    get port() {
      const address = server.address();
      return typeof address === "object" && address ? address.port : at.port;
    },
    ready,
    async close() {
      const listening = await ready.then(() => true, () => false);
      const closed = listening
        ? new Promise<void>((resolve) => server.close(() => resolve()))
        : Promise.resolve();
      server.closeAllConnections();
      for (const client of clients) client.terminate();
      wss.close();
      await closed;
    },
  };
}
