/**
 * TCP through a SOCKS5 proxy (RFC 1928), with username/password authentication (RFC 1929), for
 * Tor and other proxies. Names are always resolved by the proxy (`socks5h://`), so no DNS query
 * leaves this machine and `.onion` addresses work. The SOCKS handshake is the well-kept `socks`
 * npm package; the connection it yields carries polycrypt frames like any TCP socket.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseProxyUrl } from "@polycrypt/polycrypt/transports";
 * assert.deepEqual(parseProxyUrl("socks5h://127.0.0.1:9050"), { hostname: "127.0.0.1", port: 9050 });
 * ```
 *
 * @module
 */
import { PolycryptError } from "../errors.ts";
import { Connection } from "./connection.ts";
import type { FrameReaderOptions } from "./frame.ts";
import { parseTcpAddress } from "./tcp.ts";

/** A SOCKS5 proxy. Credentials, when present, are sent with RFC 1929. */
export interface Socks5Proxy {
  /** The proxy's host name or IP address (IPv6 without brackets). */
  readonly hostname: string;
  /** The proxy's port. */
  readonly port: number;
  /** The user name for RFC 1929 authentication, if the proxy asks for one. */
  readonly username?: string;
  /** The password that goes with `username`. */
  readonly password?: string;
}

/**
 * The proxy could not be reached, refused us, or could not reach the destination. The message
 * says which step failed, never the credentials.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PolycryptError, ProxyError } from "@polycrypt/polycrypt/transports";
 * const e = new ProxyError("the proxy refused the credentials");
 * assert.equal(e.name, "ProxyError");
 * assert.ok(e instanceof PolycryptError);
 * ```
 */
export class ProxyError extends PolycryptError {}

/**
 * Parses `socks5h://[USER:PASSWORD@]HOST:PORT`. Plain `socks5://` (local name resolution, a DNS
 * leak) is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseProxyUrl } from "@polycrypt/polycrypt/transports";
 * const proxy = parseProxyUrl("socks5h://alice:s3cret@[::1]:1080");
 * assert.deepEqual(proxy, { hostname: "::1", port: 1080, username: "alice", password: "s3cret" });
 * // socks5:// would resolve names here and leak them to the local DNS.
 * assert.throws(() => parseProxyUrl("socks5://127.0.0.1:9050"), RangeError);
 * ```
 */
export function parseProxyUrl(url: string): Socks5Proxy {
  if (typeof url !== "string") throw new TypeError("proxy must be a string");
  if (/^socks5:\/\//i.test(url)) {
    throw new RangeError("use socks5h:// (the proxy resolves names; socks5:// would leak DNS)");
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError("proxy must look like socks5h://[USER:PASSWORD@]HOST:PORT");
  }
  const port = Number(parsed.port);
  if (parsed.protocol !== "socks5h:" || !parsed.hostname || !port || parsed.pathname.length > 0) {
    throw new RangeError("proxy must look like socks5h://[USER:PASSWORD@]HOST:PORT");
  }
  const hostname = parsed.hostname.replace(/^\[|\]$/g, "");
  const proxy: Socks5Proxy = parsed.username
    ? {
      hostname,
      port,
      username: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
    }
    : { hostname, port };
  return proxy;
}

/** Options of {@linkcode connectTcpViaSocks5}. */
export interface Socks5ConnectOptions extends FrameReaderOptions {
  /** Longest wait for the proxy handshake and the remote connection (default 30 s). */
  connectTimeoutMs?: number;
}

/**
 * Connects to `tcp://HOST:PORT` through the proxy; HOST is sent to the proxy as a name.
 *
 * @example
 * ```ts ignore
 * // Needs a SOCKS5 proxy such as Tor on 127.0.0.1:9050, and a peer behind that onion address.
 * import { connectTcpViaSocks5, parseProxyUrl } from "@polycrypt/polycrypt/transports";
 * const tor = parseProxyUrl("socks5h://127.0.0.1:9050");
 * const peer = await connectTcpViaSocks5("tcp://exampleonionaddress.onion:7000", tor);
 * ```
 */
export async function connectTcpViaSocks5(
  address: string,
  proxy: Socks5Proxy,
  options: Socks5ConnectOptions = {},
): Promise<Connection> {
  const { hostname, port } = parseTcpAddress(address);
  // Loaded on first use: a process that never uses a proxy does not carry the library (about
  // 25 MiB of resident memory with node:stream).
  const [{ SocksClient }, { Duplex }] = await Promise.all([import("socks"), import("node:stream")]);
  let socket;
  try {
    ({ socket } = await SocksClient.createConnection({
      proxy: {
        host: proxy.hostname,
        port: proxy.port,
        type: 5,
        userId: proxy.username,
        password: proxy.password,
      },
      command: "connect",
      destination: { host: hostname, port },
      timeout: options.connectTimeoutMs ?? 30_000,
    }));
  } catch {
    // The library's message can echo the proxy's reply; ours names only the step.
    throw new ProxyError("could not connect through the SOCKS5 proxy");
  }
  socket.setNoDelay(true);
  const { readable, writable } = Duplex.toWeb(socket) as unknown as {
    readable: ReadableStream<Uint8Array>;
    writable: WritableStream<Uint8Array>;
  };
  return new Connection({ readable, writable }, options);
}
