// The page build's `transports/dial.ts` (scripts/build.ts swaps it in for the web bundle): a page
// can open only WebSockets, so `dial` knows ws:// (through the standard WebSocket API) and nothing
// else, and pulls in none of the TCP, TLS, UDP or SOCKS5 code, which needs Deno.
import type { Connection } from "../transports/connection.ts";
import { connectWebSocket, type WebSocketOptions } from "../transports/websocket.ts";
import type { FrameReaderOptions } from "../transports/frame.ts";

/** The options a page's dial takes. */
export type DialOptions = FrameReaderOptions & WebSocketOptions & { relayFrames?: boolean };

/** Connects to a `ws://` URL; any other scheme is a RangeError in a page. */
export function dial(url: string, options: DialOptions = {}): Promise<Connection> {
  if (typeof url !== "string" || !/^ws:\/\//i.test(url)) {
    return Promise.reject(new RangeError(`a page can only reach ws:// relays, not ${url}`));
  }
  return connectWebSocket(url, options);
}
