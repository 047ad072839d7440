/**
 * Dial and listen by URL: `tcp://`, `tls://`, `udp://`, `ws://` and `xmpp:`, all from one scheme table
 * (`docs/transports.md` section 8). A new transport is one entry in that table: how to check its
 * URL, how to dial it, how to listen on it, and which options it takes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { Connection, dial, listen } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const heard: string[] = [];
 * const listener = await listen("tcp://127.0.0.1:0", async (peer) => {
 *   for await (const m of peer.messages()) {
 *     if (m.kind !== "envelope") continue;
 *     heard.push(new TextDecoder().decode(await decrypt(m.envelope, { identities: [bob.identity] })));
 *     await peer.acknowledge(m.id);
 *   }
 * });
 * assert.match(listener.address, /^tcp:\/\/127\.0\.0\.1:\d+$/);
 * const alice = await dial(listener.address);
 * assert.ok(alice instanceof Connection);
 * const id = await alice.send(await encrypt(new TextEncoder().encode("hi"), { recipients: [bob.recipient] }));
 * const ack = (await alice.messages().next()).value;
 * assert.ok(ack?.kind === "ack" && ack.id.toHex() === id.toHex());
 * assert.deepEqual(heard, ["hi"]);
 * await alice.close();
 * await listener.close();
 * ```
 *
 * @module
 */
import type { Connection, Incoming } from "./connection.ts";
import { checkAck } from "./frame.ts";
import { equalBytes } from "../engines/_bytes.ts";
import { connectTcp, listenTcp, parseTcpAddress, type TcpListenOptions } from "./tcp.ts";
import { connectTls, listenTls, parseTlsAddress } from "./tls.ts";
import {
  connectWebSocket,
  listenWebSocket,
  parseWsAddress,
  type WebSocketListenOptions,
  type WebSocketOptions,
} from "./websocket.ts";
import { listenUdp, parseUdpAddress, type UdpListenOptions, type UdpSendOptions } from "./udp.ts";
import { udpTransport } from "./transport.ts";
import { whenListening } from "./_node_net.ts";
import type { Transport } from "./transport.ts";
import { connectTcpViaSocks5, parseProxyUrl, type Socks5Proxy } from "./socks5.ts";
import type { FrameReaderOptions } from "./frame.ts";
import { parseXmppAddress, type XmppAccount } from "./xmpp.ts";

/** What a URL scheme offers, as {@linkcode SCHEMES} lists it. */
export interface Scheme {
  /** The scheme without `://`, e.g. `"tcp"`. */
  readonly name: string;
  /**
   * Frames over one connection: {@linkcode dial} resolves with a {@linkcode Connection} (which
   * streams big envelopes and reports ACKs on `messages()`). Otherwise datagrams: `send` resolves
   * once the peer acknowledged, and envelopes travel whole.
   */
  readonly stream: boolean;
  /** {@linkcode DialOptions.proxy} (SOCKS5) applies. */
  readonly proxy: boolean;
  /** TLS: {@linkcode DialOptions.caCerts} applies, and {@linkcode ListenOptions.tls} is required. */
  readonly tls: boolean;
}

/** Options of {@linkcode dial}; each applies only to the schemes that say so. */
export interface DialOptions extends FrameReaderOptions, UdpSendOptions, WebSocketOptions {
  /** A SOCKS5 proxy (`socks5h://[USER:PASSWORD@]HOST:PORT`, or parsed) for `tcp://` URLs. */
  proxy?: string | Socks5Proxy;
  /** PEM certificates a `tls://` peer is checked against instead of the built-in web roots. */
  caCerts?: string[];
  /**
   * With {@linkcode DialOptions.proxy} only: the longest wait for the SOCKS5 handshake and the
   * connection through it (default 30 s). A direct dial waits as long as the system's connect.
   */
  connectTimeoutMs?: number;
  /** The logged-in account (`connectXmpp`) an `xmpp:` URL is dialed from: required for them. */
  xmpp?: XmppAccount;
}

/** A listener's TLS certificate chain and key, PEM. */
export interface TlsCredentials {
  /** The certificate chain, PEM. */
  cert: string;
  /** The certificate's private key, PEM. */
  key: string;
}

/** Options of {@linkcode listen}; each applies only to the schemes that say so. */
export interface ListenOptions
  extends TcpListenOptions, UdpListenOptions, WebSocketOptions, WebSocketListenOptions {
  /** Certificate and key: required for `tls://` URLs, refused for the others. */
  tls?: TlsCredentials;
  /** The logged-in account (`connectXmpp`) an `xmpp:` URL names: required for them. */
  xmpp?: XmppAccount;
}

/** A running listener of any scheme. */
export interface Listener {
  /** The URL it listens on, with the port it got when the URL asked for port 0. */
  readonly address: string;
  /** The port it listens on. */
  readonly port: number;
  /** Stops accepting, ends open connections, waits for running handlers and frees the port. */
  close(): Promise<void>;
}

/**
 * One peer as a listener's `serve` sees it: its messages in order, and how to acknowledge them.
 * For the stream schemes it is the {@linkcode Connection} itself; for `udp://` it carries one
 * message, and the ACK datagram (with the receipt given, if any) goes out when `serve` returns, if
 * `serve` acknowledged it.
 */
export interface Inbound {
  /** The peer's envelopes (and, on a connection, acknowledgements), in order. */
  messages(): AsyncIterable<Incoming>;
  /**
   * Tells the peer the message with this id arrived in full; a `receipt` (docs/transports.md
   * section 10) travels with it, on a connection and in UDP's ACK datagram alike.
   */
  acknowledge(id: Uint8Array, receipt?: Uint8Array): Promise<void>;
}

/** What `listen` runs for each peer. */
export type Serve = (peer: Inbound) => Promise<void> | void;

/** A scheme's entry in the table: what it offers and how it dials and listens. */
interface SchemeEntry extends Scheme {
  /** Throws RangeError/TypeError if `url` is not a valid URL of this scheme. */
  check(url: string): void;
  dial(url: string, options: DialOptions, proxy: Socks5Proxy | undefined): Promise<Transport>;
  listen(
    url: string,
    serve: Serve,
    options: ListenOptions,
  ): Promise<{ port: number; close(): Promise<void> }> | { port: number; close(): Promise<void> };
}

/** The scheme table. A new transport is one more entry here. */
const TABLE: readonly SchemeEntry[] = [
  {
    name: "tcp",
    stream: true,
    proxy: true,
    tls: false,
    check: parseTcpAddress,
    dial: (url, options, proxy) =>
      proxy ? connectTcpViaSocks5(url, proxy, options) : connectTcp(url, options),
    // In Node a listener binds a moment after it is returned: wait for it (and its errors).
    listen: (url, serve, options) => whenListening(listenTcp(url, serve, options)),
  },
  {
    name: "tls",
    stream: true,
    proxy: false,
    tls: true,
    check: parseTlsAddress,
    dial: (url, options) => connectTls(url, options),
    listen: (url, serve, options) =>
      whenListening(listenTls(url, serve, { ...options, ...options.tls! })),
  },
  {
    name: "udp",
    stream: false,
    proxy: false,
    tls: false,
    check: parseUdpAddress,
    dial: (url, options) => Promise.resolve(udpTransport(url, options)),
    listen: (url, serve, options) => listenUdp(url, (m) => serveDatagram(m, serve), options),
  },
  {
    name: "ws",
    stream: true,
    proxy: false,
    tls: false,
    check: parseWsAddress,
    dial: (url, options) => connectWebSocket(url, options),
    listen: (url, serve, options) => whenListening(listenWebSocket(url, serve, options)),
  },
  {
    // docs/transports.md section 11: `xmpp:NAME@DOMAIN` (or `xmpp://`), through an XmppAccount.
    name: "xmpp",
    stream: true,
    proxy: false,
    tls: false,
    check: parseXmppAddress,
    dial: (url, options) => Promise.resolve(xmppAccount(url, options).dial(url, options)),
    listen: (url, serve, options) => {
      const account = xmppAccount(url, options);
      if (parseXmppAddress(url).jid !== account.bare) {
        throw new RangeError(`${url} is not the account ${account.bare} (options.xmpp)`);
      }
      return account.listen(serve, options);
    },
  },
];

/** The account an `xmpp:` URL needs; TypeError without one. */
function xmppAccount(url: string, options: { xmpp?: XmppAccount }): XmppAccount {
  if (options.xmpp === undefined) {
    throw new TypeError(`${url} needs options.xmpp, an account from connectXmpp()`);
  }
  return options.xmpp;
}

/**
 * The schemes {@linkcode dial} and {@linkcode listen} accept, and what each offers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCHEMES } from "@polycrypt/polycrypt/transports";
 * assert.deepEqual(SCHEMES.map((s) => s.name), ["tcp", "tls", "udp", "ws", "xmpp"]);
 * assert.deepEqual(SCHEMES.filter((s) => s.proxy).map((s) => s.name), ["tcp"]);
 * ```
 */
export const SCHEMES: readonly Scheme[] = Object.freeze(
  TABLE.map(({ name, stream, proxy, tls }) => Object.freeze({ name, stream, proxy, tls })),
);

/**
 * A URL whose scheme no transport handles. The message lists the schemes that are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schemeOf, UnsupportedSchemeError } from "@polycrypt/polycrypt/transports";
 * assert.throws(() => schemeOf("http://127.0.0.1:80"), UnsupportedSchemeError);
 * assert.throws(() => schemeOf("http://127.0.0.1:80"), RangeError);
 * ```
 */
export class UnsupportedSchemeError extends RangeError {
  /**
   * Names the schemes that are handled.
   *
   * @param url the URL that was given
   */
  constructor(url: string) {
    super(`url must start with ${describeSchemes(SCHEMES)} (got ${JSON.stringify(url)})`);
    this.name = "UnsupportedSchemeError";
  }
}

/**
 * The schemes as a reader-friendly list: `"tcp://, tls:// or ws://"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeSchemes, SCHEMES } from "@polycrypt/polycrypt/transports";
 * assert.equal(describeSchemes(SCHEMES.filter((s) => s.tls)), "tls://");
 * ```
 */
export function describeSchemes(schemes: readonly Scheme[]): string {
  const names = schemes.map((s) => s.name === "xmpp" ? "xmpp:" : `${s.name}://`);
  return names.length < 2 ? names.join("") : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
}

function entryOf(url: string): SchemeEntry {
  if (typeof url !== "string") throw new TypeError("url must be a string");
  const entry = TABLE.find((s) =>
    url.startsWith(`${s.name}://`) || (s.name === "xmpp" && url.startsWith("xmpp:"))
  );
  if (!entry) throw new UnsupportedSchemeError(url);
  entry.check(url);
  return entry;
}

/**
 * Checks `url` whole (scheme, host, port, path) without connecting, and returns what its scheme
 * offers. Throws {@linkcode UnsupportedSchemeError} for an unknown scheme, and the scheme's own
 * RangeError for a malformed address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { schemeOf } from "@polycrypt/polycrypt/transports";
 * assert.equal(schemeOf("udp://127.0.0.1:7000").stream, false);
 * assert.equal(schemeOf("tls://chat.example:7443").tls, true);
 * assert.throws(() => schemeOf("tcp://no-port"), RangeError);
 * ```
 */
export function schemeOf(url: string): Scheme {
  const entry = entryOf(url);
  return SCHEMES[TABLE.indexOf(entry)];
}

/** RangeError unless each option given applies to the scheme. */
function checkApplies(
  entry: SchemeEntry,
  given: Record<string, unknown>,
  key: "proxy" | "tls",
): void {
  for (const [option, value] of Object.entries(given)) {
    if (value !== undefined && !entry[key]) {
      const schemes = describeSchemes(SCHEMES.filter((s) => s[key]));
      throw new RangeError(`options.${option} works with ${schemes} URLs only`);
    }
  }
}

/**
 * Connects to `url`. Stream schemes (`tcp://`, `tls://`, `ws://`) resolve with a
 * {@linkcode Connection}; `udp://` with a {@linkcode Transport} whose `send` resolves once the
 * peer acknowledged. `options.proxy` applies to `tcp://` (names resolved by the proxy),
 * `options.caCerts` to `tls://`; an option given for another scheme is a RangeError, as is an
 * unknown scheme ({@linkcode UnsupportedSchemeError}) or a malformed address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dial, UnsupportedSchemeError } from "@polycrypt/polycrypt/transports";
 * await assert.rejects(dial("gopher://127.0.0.1:70"), UnsupportedSchemeError);
 * await assert.rejects(dial("ws://127.0.0.1:80/", { proxy: "socks5h://127.0.0.1:9050" }), RangeError);
 * ```
 */
export async function dial(
  url: string,
  options: DialOptions = {},
): Promise<Connection | Transport> {
  const entry = entryOf(url);
  checkApplies(entry, { proxy: options.proxy }, "proxy");
  checkApplies(entry, { caCerts: options.caCerts }, "tls");
  const proxy = typeof options.proxy === "string" ? parseProxyUrl(options.proxy) : options.proxy;
  return await entry.dial(url, options, proxy);
}

/**
 * Listens on `url` and runs `serve` for each peer: for each connection on the stream schemes (the
 * {@linkcode Connection} is the `peer`), for each message on `udp://`. A `serve` that throws ends
 * that peer only. `tls://` needs `options.tls`; the port 0 picks a free port, which
 * {@linkcode Listener.address} reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listen } from "@polycrypt/polycrypt/transports";
 * const listener = await listen("ws://127.0.0.1:0/chat", () => {});
 * assert.match(listener.address, /^ws:\/\/127\.0\.0\.1:\d+\/chat$/);
 * await listener.close();
 * await assert.rejects(listen("tls://127.0.0.1:0", () => {}), TypeError);
 * ```
 */
export async function listen(
  url: string,
  serve: Serve,
  options: ListenOptions = {},
): Promise<Listener> {
  const entry = entryOf(url);
  if (typeof serve !== "function") throw new TypeError("serve must be a function");
  checkApplies(entry, { tls: options.tls }, "tls");
  if (entry.tls && (typeof options.tls?.cert !== "string" || typeof options.tls.key !== "string")) {
    throw new TypeError(`a ${entry.name}:// URL needs options.tls with PEM cert and key`);
  }
  const running = await entry.listen(url, serve, options);
  return {
    address: url.replace(/:0(?=\/|$)/, `:${running.port}`),
    port: running.port,
    close: () => running.close(),
  };
}

/** `serve` refused a datagram message (did not acknowledge it): no ACK goes back. */
class NotAcknowledged extends Error {}

/**
 * Runs `serve` for one UDP message; throws (so no ACK is sent) unless it acknowledged, else
 * returns the receipt it gave, if any, for the ACK datagram.
 */
async function serveDatagram(
  message: { envelope: Uint8Array; id: Uint8Array },
  serve: Serve,
): Promise<Uint8Array | undefined> {
  let acknowledged = false;
  let given: Uint8Array | undefined;
  await serve({
    async *messages() {
      yield { kind: "envelope", envelope: message.envelope, id: message.id };
    },
    acknowledge(id, receipt) {
      try {
        checkAck(id, receipt);
      } catch (e) {
        return Promise.reject(e);
      }
      if (equalBytes(id, message.id)) {
        acknowledged = true;
        given = receipt?.slice();
      }
      return Promise.resolve();
    },
  });
  if (!acknowledged) throw new NotAcknowledged();
  return given;
}
