/**
 * XMPP: polycrypt's frames between two Jabber accounts, through their servers, as OTR rides on any
 * IM network (docs/transports.md section 11). One {@linkcode XmppAccount} is one logged-in XMPP
 * session (resource `polycrypt`, TLS required, **no presence sent** unless asked); `dial(peer)` gives
 * a {@linkcode Connection} to another account and `listen(serve)` serves the connections other
 * accounts open to this one, so `send`, `listen` and `chat` (sessions, receipts, files) run over it
 * unchanged. An envelope travels as its armored text in `<body>` (an ordinary client shows the
 * armor, never garbage) with a `<pc xmlns="urn:polycrypt:xmpp:1"/>` element; bigger frames are cut
 * into base64 chunks that fit the server's stanza limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseXmppAddress } from "@polycrypt/polycrypt/transports";
 * assert.deepEqual(parseXmppAddress("xmpp:bob@example.org"), {
 *   jid: "bob@example.org",
 *   resource: "polycrypt",
 * });
 * assert.throws(() => parseXmppAddress("xmpp:example.org"), RangeError);
 * ```
 *
 * @module
 */
import tls from "node:tls";
import { type ByteDuplex, Connection } from "./connection.ts";
import {
  encodeFrame,
  FRAME,
  FRAME_HEADER_SIZE,
  FrameError,
  type FrameReaderOptions,
} from "./frame.ts";
import { ConnectionPool } from "./_listener.ts";
import type { TcpListenOptions } from "./tcp.ts";
import { armor, dearmor } from "../cascade/armor.ts";
import { isSealedEnvelope } from "../cascade/format.ts";
import { PolycryptError } from "../errors.ts";
import { fromBase64, toBase64 } from "../engines/_bytes.ts";

/** The namespace of polycrypt's payload element (docs/transports.md section 11). */
export const XMPP_NS = "urn:polycrypt:xmpp:1";

/** The resource polycrypt binds, and sends to, unless told otherwise. */
export const XMPP_RESOURCE = "polycrypt";

/**
 * Largest stanza polycrypt sends by default: 256 KiB, Prosody's default `c2s_stanza_size_limit`
 * (ejabberd's default `max_stanza_size` is 256 KiB on c2s too). Frames whose stanza would be
 * bigger are cut into chunks.
 */
export const DEFAULT_XMPP_MAX_STANZA_BYTES = 256 * 1024;

/** Default unread bytes one XMPP connection may hold before it is closed: 32 MiB (as WebSocket). */
export const DEFAULT_XMPP_MAX_QUEUED_BYTES = 32 * 1024 * 1024;

/**
 * Default unread bytes all the connections of one account may hold together: 256 MiB (the
 * process's default frame budget); over it, the connection holding the most is closed.
 */
export const DEFAULT_XMPP_MAX_UNREAD_BYTES = 256 * 1024 * 1024;

/** Room left in a stanza for the element names, attributes, JIDs and hints around the payload. */
const STANZA_OVERHEAD = 2048;

/** A failure of the XMPP account (connection, TLS, login); never carries the password. */
export class XmppError extends PolycryptError {}

/** An `xmpp:` address: the bare JID and the resource messages go to. */
export interface XmppAddress {
  /** `local@domain`, lowercased domain. */
  jid: string;
  /** The resource (default {@linkcode XMPP_RESOURCE}). */
  resource: string;
}

const JID_PART = /^[^\s@/"&'<>:]+$/;

/**
 * Reads `xmpp:local@domain[/resource]` (RFC 5122's form; `xmpp://local@domain` too). A JID without
 * a local part, with blanks or characters JIDs forbid, or a query (`?message`) is a RangeError.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseXmppAddress } from "@polycrypt/polycrypt/transports";
 * assert.equal(parseXmppAddress("xmpp://alice@Example.org/phone").resource, "phone");
 * assert.equal(parseXmppAddress("xmpp://alice@Example.org/phone").jid, "alice@example.org");
 * ```
 */
export function parseXmppAddress(url: string): XmppAddress {
  if (typeof url !== "string") throw new TypeError("url must be a string");
  const rest = url.startsWith("xmpp://")
    ? url.slice(7)
    : url.startsWith("xmpp:")
    ? url.slice(5)
    : undefined;
  if (rest === undefined) throw new RangeError(`an XMPP address starts with xmpp: (got ${url})`);
  return parseJid(rest, `an XMPP address is xmpp:NAME@DOMAIN (got ${JSON.stringify(url)})`);
}

/** `local@domain[/resource]` as an address; RangeError with `message` when malformed. */
export function parseJid(
  text: string,
  message = `not a JID: ${JSON.stringify(text)}`,
): XmppAddress {
  const slash = text.indexOf("/");
  const bare = slash < 0 ? text : text.slice(0, slash);
  const resource = slash < 0 ? XMPP_RESOURCE : text.slice(slash + 1);
  const at = bare.indexOf("@");
  // Local parts compare without case (RFC 7622's UsernameCaseMapped): servers lowercase them.
  const local = bare.slice(0, at).toLowerCase();
  const domain = bare.slice(at + 1).toLowerCase();
  if (
    at < 1 || !JID_PART.test(local) || !/^[a-z0-9.-]+$/.test(domain) || domain.startsWith(".") ||
    resource.length === 0 || resource.length > 1023 || /[\s?#]/.test(resource) ||
    local.length > 1023
  ) {
    throw new RangeError(message);
  }
  return { jid: `${local}@${domain}`, resource };
}

/** Options of {@linkcode connectXmpp}. */
export interface XmppAccountOptions extends TcpListenOptions {
  /** The account: `alice@example.org` (the resource is {@linkcode XmppAccountOptions.resource}). */
  jid: string;
  /** Its password. Never logged, never in an error message. */
  password: string;
  /**
   * The server, `HOST:PORT` (STARTTLS) or `xmpps://HOST:PORT` (direct TLS). Default: the JID's
   * domain, found through DNS SRV records as RFC 6120 says.
   */
  server?: string;
  /**
   * For tests on loopback only: no TLS required, and the server's certificate not checked. A
   * server that is not a loopback address is then a RangeError.
   */
  insecure?: boolean;
  /** PEM certificates the server is checked against (STARTTLS) instead of the system's roots. */
  caCerts?: string[];
  /**
   * Send an initial presence after login (default false). The server then delivers the messages it
   * stored while this account was offline (XEP-0160), and tells the account's roster contacts it is
   * online. Without it, nobody learns that this account is online but its own server.
   */
  presence?: boolean;
  /** The resource to bind (default {@linkcode XMPP_RESOURCE}). */
  resource?: string;
  /** Largest stanza sent (default {@linkcode DEFAULT_XMPP_MAX_STANZA_BYTES}); also accepted. */
  maxStanzaBytes?: number;
  /** Unread bytes one connection may hold (default {@linkcode DEFAULT_XMPP_MAX_QUEUED_BYTES}). */
  maxQueuedBytes?: number;
  /**
   * Unread bytes all connections of the account may hold together (default
   * {@linkcode DEFAULT_XMPP_MAX_UNREAD_BYTES}); over it, the one holding the most is closed.
   */
  maxUnreadBytes?: number;
  /** How long the login may take (default 30 s). */
  connectTimeoutMs?: number;
  /**
   * Log in again when the connection to the server drops (default true), after 0.5 s, then
   * doubling up to {@linkcode XmppAccountOptions.maxReconnectDelayMs}; the account's connections
   * stay open meanwhile and what they send waits (docs/transports.md section 11, "Reconnection").
   * A refused login ends the account.
   */
  reconnect?: boolean;
  /** The longest wait between two attempts to log in again (default 30 s). */
  maxReconnectDelayMs?: number;
  /**
   * Told when the connection to the server drops (`false`, with the reason) and when it is back
   * (`true`): for a user interface's "reconnecting" note.
   */
  onConnectionChange?: (online: boolean, reason?: string) => void;
}

/** `@xmpp/client`, loaded by the first {@linkcode connectXmpp} (not when this module is). */
let xmppLib: typeof import("@xmpp/client") | undefined;

/** `@xmpp/client`'s `xml`; an account exists only once `connectXmpp` has loaded the library. */
function xml(...args: Parameters<typeof import("@xmpp/client").xml>) {
  return xmppLib!.xml(...args);
}

/** Whether `host` names the loopback interface. */
function isLoopback(host: string): boolean {
  return host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "[::1]" ||
    host === "::1";
}

/** Extra TLS options for the sockets of accounts with `caCerts` or `insecure` (see patchTls). */
const tlsExtras = new WeakMap<object, tls.ConnectionOptions>();
/** The same for direct TLS (`xmpps://`), by `HOST:PORT`, while a login is under way. */
const directTlsExtras = new Map<string, tls.ConnectionOptions>();
let tlsPatched = false;

/**
 * `@xmpp/client`'s STARTTLS upgrade calls `tls.connect({ socket, host })`, and its direct TLS
 * `tls.connect({ port, host })`, with no way to pass a CA: wrap `tls.connect` once so that the
 * sockets of accounts that asked for it get their `ca` (or, with `insecure` on loopback, no
 * certificate check), and direct TLS the JID's domain as server name (SNI and the certificate
 * check, RFC 7590). Other callers are untouched.
 */
function patchTls(): void {
  if (tlsPatched) return;
  tlsPatched = true;
  const original = tls.connect;
  // deno-lint-ignore no-explicit-any
  (tls as any).connect = function (...args: any[]) {
    const first = args[0];
    if (first && typeof first === "object" && first.socket && tlsExtras.has(first.socket)) {
      args[0] = { ...first, ...tlsExtras.get(first.socket) };
    } else if (first && typeof first === "object" && !first.socket) {
      const extras = directTlsExtras.get(`${first.host}:${first.port}`);
      if (extras) args[0] = { ...first, ...extras };
    }
    // deno-lint-ignore no-explicit-any
    return (original as any).apply(this, args);
  };
}

/** What the TLS connections of an account need besides the defaults (see patchTls). */
function tlsOptionsOf(options: XmppAccountOptions): tls.ConnectionOptions {
  return options.insecure === true
    ? { rejectUnauthorized: false }
    : options.caCerts?.length
    ? { ca: options.caCerts }
    : {};
}

/** One direction pair between this account and a peer: a virtual connection. */
interface Channel {
  readonly peer: string;
  readonly to: string;
  readonly id: string;
  /** "i": this side dialed it; "r": the peer did. */
  readonly role: "i" | "r";
  push(bytes: Uint8Array): void;
  fail(error: Error): void;
  /** Bytes received and not yet read by the application. */
  unread(): number;
  /** The `s` the next stanza should carry. */
  nextIn: number;
  /** Bytes still to come of the frame being received (0: between frames). */
  remaining: number;
  /** The stanza ids received lately (a stanza sent again after a reconnection is dropped). */
  seen: Set<string>;
}

/** A stanza on its way: not yet written, or written and not yet confirmed by the server. */
interface Outgoing {
  // deno-lint-ignore no-explicit-any
  stanza: any;
  /** Its size, roughly (the payload's characters). */
  size: number;
  written: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Stanza ids remembered per connection to drop repeats: more than are ever unconfirmed. */
const SEEN_IDS = 4096;

/** Bytes of stanzas queued before a sender waits for them to be written (or the reconnection). */
const OUTBOX_BYTES = 4 * 1024 * 1024;

/** Written stanzas the server is asked to confirm (an XEP-0199 ping) after this many, at once. */
const CONFIRM_EVERY = 512;

/** ... or after this long without more writes, in milliseconds. */
const CONFIRM_AFTER_MS = 250;

/** SASL failures (RFC 6120 section 6.5) after which logging in again is pointless. */
const REFUSALS = new Set([
  "not-authorized",
  "account-disabled",
  "credentials-expired",
  "encryption-required",
  "invalid-mechanism",
]);

/** A ping the server does not answer within this many milliseconds means the connection is dead. */
const PING_TIMEOUT_MS = 30_000;

/** What every stanza of polycrypt carries besides its payload (docs/transports.md section 11). */
function hints() {
  return [
    xml("private", { xmlns: "urn:xmpp:carbons:2" }),
    xml("no-copy", { xmlns: "urn:xmpp:hints" }),
    xml("no-permanent-store", { xmlns: "urn:xmpp:hints" }),
  ];
}

const HINT =
  "[polycrypt] An end-to-end encrypted message arrives in parts; open it with polycrypt.";

/**
 * A logged-in XMPP account (docs/transports.md section 11). Make one with
 * {@linkcode connectXmpp}; `dial` and `listen` share it.
 */
export class XmppAccount {
  // deno-lint-ignore no-explicit-any
  readonly #xmpp: any;
  readonly #options: XmppAccountOptions;
  /** The full JID bound. */
  readonly jid: string;
  /**
   * Resolves when the connection to the server ends, by {@linkcode XmppAccount.close} or because
   * it dropped; the account's connections have ended then.
   */
  readonly ended: Promise<void>;
  readonly #channels = new Map<string, Channel>();
  #pool: ConnectionPool | undefined;
  #serve: ((connection: Connection) => Promise<void> | void) | undefined;
  /** Set by close(): no new connection or frame. */
  #closing = false;
  /** Set once close() has written what was queued: nothing more goes out. */
  #closed = false;
  readonly #maxStanza: number;
  #announced = false;
  /** Stanzas not yet written, in order. */
  #outbox: Outgoing[] = [];
  #outboxBytes = 0;
  /** Stanzas written since the server last confirmed it had them all, in order. */
  #unconfirmed: Outgoing[] = [];
  #writing = false;
  #online = true;
  /** Bumped at every drop: a confirmation asked on an earlier connection confirms nothing. */
  #generation = 0;
  #confirmTimer: ReturnType<typeof setTimeout> | undefined;
  /** The ping waiting for its answer. */
  #ping:
    | { id: string; count: number; generation: number; timer: ReturnType<typeof setTimeout> }
    | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #reconnecting = false;
  /** Stanza ids: a random prefix of this account object, then a counter. */
  readonly #idPrefix = toBase64(crypto.getRandomValues(new Uint8Array(6))).replace(/[+/]/g, "_");
  #idCounter = 0;
  #ended!: () => void;
  #conflict = false;
  /** Set when the account ended without close() (a refused login, a conflict). */
  #gone = false;

  /**
   * Wraps a logged-in `@xmpp/client` entity; applications call {@linkcode connectXmpp} instead,
   * which makes the entity with polycrypt's rules (TLS, no presence) and then this.
   *
   * @param xmpp the `@xmpp/client` entity, online
   * @param jid the full JID it bound
   * @param options the options it was made with (limits, presence)
   */
  // deno-lint-ignore no-explicit-any
  constructor(xmpp: any, jid: string, options: XmppAccountOptions) {
    this.#xmpp = xmpp;
    this.jid = jid;
    // The password stays with the library's login only, not with the limits passed around.
    this.#options = { ...options, password: "" };
    this.#maxStanza = options.maxStanzaBytes ?? DEFAULT_XMPP_MAX_STANZA_BYTES;
    this.ended = new Promise<void>((resolve) => this.#ended = resolve);
    // The server connection dropped: log in again (docs/transports.md section 11,
    // "Reconnection"), or, without reconnection, end every connection of the account.
    xmpp.on("disconnect", () => this.#dropped());
    // Another client logged in with this resource (another polycrypt of the same account): the
    // server closed this stream for it. Logging in again would close that one in turn.
    // deno-lint-ignore no-explicit-any
    xmpp.on("error", (e: any) => {
      if (e?.condition === "conflict") this.#conflict = true;
    });
    // deno-lint-ignore no-explicit-any
    xmpp.on("stanza", (stanza: any) => {
      try {
        this.#receive(stanza);
      } catch { /* a malformed stanza is dropped */ }
    });
  }

  /** The bare JID of this account. */
  get bare(): string {
    return this.jid.split("/")[0];
  }

  /**
   * A connection to `peer` (`xmpp:bob@example.org`, or a bare JID): frames to it travel as
   * message stanzas to its resource, the peer's answers come back on it.
   */
  dial(peer: string, options: FrameReaderOptions = {}): Connection {
    if (this.#closing) throw new XmppError("the XMPP account is closed");
    if (this.#gone) throw new XmppError("the XMPP account's server connection ended");
    const address = peer.startsWith("xmpp:") ? parseXmppAddress(peer) : parseJid(peer);
    const id = toBase64(crypto.getRandomValues(new Uint8Array(9))).replace(/[+/]/g, "_");
    return new Connection(
      this.#open(address.jid, `${address.jid}/${address.resource}`, id, "i"),
      options,
    );
  }

  /**
   * Serves the connections other accounts open to this one, each with `serve` (at most
   * `maxConnections`, the one idle the longest closed at the cap, as a TCP listener). One listener
   * per account.
   */
  listen(
    serve: (connection: Connection) => Promise<void> | void,
    options: TcpListenOptions = {},
  ): { port: number; close(): Promise<void> } {
    if (this.#closing) throw new XmppError("the XMPP account is closed");
    if (this.#gone) throw new XmppError("the XMPP account's server connection ended");
    if (this.#serve) throw new XmppError("this XMPP account is already listening");
    this.#serve = serve;
    const pool = this.#pool = new ConnectionPool({ ...this.#options, ...options });
    // Asked-for presence goes out once something listens, so the messages the server kept
    // (XEP-0160) find the listener.
    if (this.#options.presence && !this.#announced) {
      this.#announced = true;
      this.#send(xml("presence")).catch(() => {});
    }
    return {
      port: 0,
      close: async () => {
        this.#serve = undefined;
        this.#pool = undefined;
        await pool.close();
      },
    };
  }

  /** Over the account's unread bound, closes the connections holding the most until it fits. */
  #boundUnread(): void {
    const max = this.#options.maxUnreadBytes ?? DEFAULT_XMPP_MAX_UNREAD_BYTES;
    let total = 0;
    for (const channel of this.#channels.values()) total += channel.unread();
    while (total > max) {
      let biggest: Channel | undefined;
      for (const channel of this.#channels.values()) {
        if (!biggest || channel.unread() > biggest.unread()) biggest = channel;
      }
      if (!biggest) return;
      total -= biggest.unread();
      biggest.fail(new FrameError("the memory for unread XMPP messages is exhausted"));
    }
  }

  /** A virtual byte stream to `to` (docs/transports.md section 11: frames to stanzas). */
  #open(peer: string, to: string, id: string, role: "i" | "r"): ByteDuplex {
    const key = `${peer} ${role} ${id}`;
    const highWaterMark = this.#options.maxQueuedBytes ?? DEFAULT_XMPP_MAX_QUEUED_BYTES;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let outSeq = 0;
    let inStream = false;
    const channels = this.#channels;
    const readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => void (controller = c),
        cancel: () => void channels.delete(key),
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
    const channel: Channel = {
      peer,
      to,
      id,
      role,
      nextIn: 0,
      remaining: 0,
      seen: new Set(),
      push: (bytes) => {
        controller.enqueue(bytes);
        if ((controller.desiredSize ?? 0) < 0) {
          channel.fail(new FrameError("the peer sent more than the unread limit of a connection"));
        }
        this.#boundUnread();
      },
      unread: () => Math.max(0, highWaterMark - (controller.desiredSize ?? highWaterMark)),
      fail(error) {
        channels.delete(key);
        try {
          controller.error(error);
        } catch { /* already closed */ }
      },
    };
    channels.set(key, channel);
    const writable = new WritableStream<Uint8Array>({
      write: async (frame) => {
        if (this.#closing) throw new XmppError("the XMPP account is closed");
        if (this.#gone) throw new XmppError("the XMPP account's server connection ended");
        const stanzas = this.#stanzasOf(frame, inStream);
        const type = frame[1];
        if (type === FRAME.part) inStream = true;
        else if (type === FRAME.end || type === FRAME.envelope) inStream = false;
        let last: Outgoing | undefined;
        for (const payload of stanzas) {
          const message = xml(
            "message",
            { to, type: "chat", id: this.#idPrefix + (this.#idCounter++).toString(36) },
            ...payload.body === undefined ? [] : [xml("body", {}, payload.body)],
            xml(
              "pc",
              {
                xmlns: XMPP_NS,
                c: id,
                r: role,
                s: String(outSeq++),
                t: payload.t,
                ...payload.first ? { f: "1" } : {},
              },
              payload.text ?? "",
            ),
            ...payload.t === "e"
              ? [
                xml("encryption", {
                  xmlns: "urn:xmpp:eme:0",
                  namespace: XMPP_NS,
                  name: "polycrypt",
                }),
              ]
              : [],
            ...hints(),
          );
          last = this.#queue(message, (payload.body?.length ?? 0) + (payload.text?.length ?? 0));
        }
        // Stanzas go out in order behind this one; the sender waits only when much is queued
        // (a slow or dropped server connection), so that stanzas sent together share writes.
        if (last && this.#outboxBytes > OUTBOX_BYTES) await last.written;
      },
      close: () => void channels.delete(key),
      abort: () => void channels.delete(key),
    });
    return { readable, writable };
  }

  /** Queues a stanza; the ones queued together are written together, in order. */
  // deno-lint-ignore no-explicit-any
  #send(message: any): Promise<void> {
    return this.#queue(message, 0).written;
  }

  // deno-lint-ignore no-explicit-any
  #queue(stanza: any, size: number): Outgoing {
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const written = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    written.catch(() => {});
    const item = { stanza, size, written, resolve, reject };
    this.#outbox.push(item);
    this.#outboxBytes += size;
    this.#pump();
    return item;
  }

  /**
   * Writes the queued stanzas while the server connection is up, as many at once as are queued
   * (one write, one TLS record for a burst). A write that fails leaves them queued for the next
   * connection.
   */
  async #pump(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#online && !this.#closed && this.#outbox.length > 0) {
        let bytes = 0;
        let count = 0;
        while (count < this.#outbox.length && (count === 0 || bytes < 512 * 1024)) {
          bytes += this.#outbox[count++].size + 512;
        }
        const batch = this.#outbox.slice(0, count);
        const generation = this.#generation;
        try {
          await this.#xmpp.sendMany(batch.map((o) => o.stanza));
        } catch {
          // The connection dropped under the write: the batch stays first in the queue.
          if (generation === this.#generation && !this.#closed) {
            this.#xmpp.disconnect?.().catch(() => {});
          }
          break;
        }
        if (generation !== this.#generation) break;
        this.#outbox.splice(0, count);
        for (const o of batch) {
          this.#outboxBytes -= o.size;
          // Kept until the server confirms it: a drop before that sends it again.
          this.#unconfirmed.push(o);
          o.resolve();
        }
        this.#askConfirmation(false);
      }
    } finally {
      this.#writing = false;
    }
  }

  /**
   * Asks the server to confirm it has every stanza written so far: an XEP-0199 ping to the
   * account's own server, answered once the stanzas before it (same stream, in order) were
   * handled. Soon after the writes stop, or at once when many are unconfirmed.
   */
  #askConfirmation(now: boolean): void {
    if (this.#ping || this.#closed || !this.#online || this.#unconfirmed.length === 0) return;
    if (!now && this.#unconfirmed.length < CONFIRM_EVERY) {
      clearTimeout(this.#confirmTimer);
      this.#confirmTimer = setTimeout(() => this.#askConfirmation(true), CONFIRM_AFTER_MS);
      return;
    }
    clearTimeout(this.#confirmTimer);
    this.#confirmTimer = undefined;
    const id = `${this.#idPrefix}p${(this.#idCounter++).toString(36)}`;
    const generation = this.#generation;
    const timer = setTimeout(() => {
      // No answer: the connection is dead without having said so. Drop it; the reconnection
      // sends what was not confirmed again.
      if (this.#ping?.id === id) this.#ping = undefined;
      if (generation === this.#generation && !this.#closed) {
        this.#xmpp.disconnect?.().catch(() => {});
      }
    }, PING_TIMEOUT_MS);
    this.#ping = { id, count: this.#unconfirmed.length, generation, timer };
    const domain = this.bare.split("@")[1];
    this.#xmpp.send(
      xml("iq", { type: "get", to: domain, id }, xml("ping", { xmlns: "urn:xmpp:ping" })),
    )
      .catch(() => {});
  }

  /** The server answered the ping `id`: what was written before it is confirmed. */
  #confirmed(id: string): void {
    const ping = this.#ping;
    if (!ping || ping.id !== id) return;
    clearTimeout(ping.timer);
    this.#ping = undefined;
    if (ping.generation !== this.#generation) return;
    this.#unconfirmed.splice(0, ping.count);
    this.#askConfirmation(false);
  }

  /** The server connection dropped. */
  #dropped(): void {
    if (this.#closed || !this.#online) return;
    this.#online = false;
    this.#generation++;
    if (this.#ping) clearTimeout(this.#ping.timer);
    this.#ping = undefined;
    clearTimeout(this.#confirmTimer);
    // What the server may not have received goes first when the connection is back; the peer
    // drops what it got twice (stanza ids).
    this.#outbox.unshift(...this.#unconfirmed);
    this.#unconfirmed = [];
    if (this.#conflict) {
      this.#end(new FrameError("another client logged in to this account with the same resource"));
      return;
    }
    if (this.#options.reconnect === false) {
      this.#end(new FrameError("the XMPP server connection ended"));
      return;
    }
    this.#options.onConnectionChange?.(false, "the connection to the XMPP server dropped");
    this.#scheduleReconnect(500);
  }

  /** Ends the account: its connections fail with `error`, `ended` resolves. */
  #end(error: Error): void {
    this.#gone = true;
    for (const channel of [...this.#channels.values()]) channel.fail(error);
    for (const o of this.#outbox.splice(0)) o.reject(error);
    this.#outboxBytes = 0;
    this.#ended();
  }

  #scheduleReconnect(delay: number): void {
    if (this.#closed || this.#reconnecting) return;
    clearTimeout(this.#reconnectTimer);
    // A little jitter, so that many clients of a restarted server do not all come back at once.
    const wait = Math.round(delay * (0.8 + 0.4 * Math.random()));
    this.#reconnectTimer = setTimeout(() => this.#reconnect(delay), wait);
  }

  /** One attempt to log in again; the next, later, if it fails. */
  async #reconnect(delay: number): Promise<void> {
    if (this.#closed) return;
    this.#reconnecting = true;
    const xmpp = this.#xmpp;
    let refused = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    /** Ends the wait for "online" (and removes its listeners), whatever happened. */
    let settle: ((error?: Error) => void) | undefined;
    try {
      const { service, domain, lang } = xmpp.options;
      const direct = typeof service === "string" && service.startsWith("xmpps://")
        ? service.slice(8)
        : undefined;
      if (direct !== undefined) {
        directTlsExtras.set(direct, { ...tlsOptionsOf(this.#options), servername: domain });
      }
      try {
        const online = new Promise<void>((resolve, reject) => {
          const done = (error?: Error) => {
            xmpp.removeListener("online", up);
            xmpp.streamManagement?.removeListener?.("resumed", up);
            xmpp.removeListener("error", failed);
            clearTimeout(timer);
            if (error) reject(error);
            else resolve();
          };
          settle = done;
          const up = () => done();
          // A refused login (SASL) arrives as an error event; the stream then just waits.
          const failed = (e: Error & { condition?: string }) => {
            if (REFUSALS.has(e?.condition ?? "")) done(e);
          };
          xmpp.on("online", up);
          xmpp.streamManagement?.on?.("resumed", up);
          xmpp.on("error", failed);
          timer = setTimeout(
            () => done(new XmppError("no answer")),
            this.#options.connectTimeoutMs ?? 30_000,
          );
        });
        online.catch(() => {});
        await xmpp.connect(service);
        await xmpp.open({ domain, lang });
        await online;
      } finally {
        if (direct !== undefined) directTlsExtras.delete(direct);
      }
      if (!xmpp.isSecure() && this.#options.insecure !== true) {
        throw new XmppError("the XMPP server offered no TLS");
      }
    } catch (e) {
      refused = REFUSALS.has((e as { condition?: string })?.condition ?? "") ||
        e instanceof XmppError && /TLS/.test(e.message);
    } finally {
      settle?.(new XmppError("the attempt ended"));
      clearTimeout(timer);
      this.#reconnecting = false;
    }
    if (this.#closed) return;
    if (xmpp.status !== "online") {
      if (refused) {
        await xmpp.stop().catch(() => {});
        this.#end(new FrameError("the XMPP server refused to log in again"));
        return;
      }
      // Tear the half-made connection down (its own "disconnect" is ignored meanwhile).
      this.#reconnecting = true;
      await xmpp.disconnect().catch(() => {});
      this.#reconnecting = false;
      const max = this.#options.maxReconnectDelayMs ?? 30_000;
      this.#scheduleReconnect(Math.min(delay * 2, max));
      return;
    }
    this.#online = true;
    // Asked-for presence again: the new session is a new one for the server, which then
    // delivers what it kept meanwhile (XEP-0160).
    if (this.#announced) this.#send(xml("presence")).catch(() => {});
    this.#options.onConnectionChange?.(true);
    this.#pump();
  }

  /** The stanza payloads that carry one frame (docs/transports.md section 11). */
  #stanzasOf(
    frame: Uint8Array,
    inStream: boolean,
  ): { t: "e" | "d" | "a"; body?: string; text?: string; first?: boolean }[] {
    const room = this.#maxStanza - STANZA_OVERHEAD;
    const length = frame.length >= FRAME_HEADER_SIZE
      ? new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(2)
      : -1;
    const whole = length === frame.length - FRAME_HEADER_SIZE;
    if (whole && frame[1] === FRAME.ack) {
      return [{ t: "a", text: toBase64(frame.subarray(FRAME_HEADER_SIZE)) }];
    }
    if (whole && frame[1] === FRAME.envelope && Math.ceil(length / 48) * 65 + 80 <= room) {
      return [{ t: "e", body: armor(frame.subarray(FRAME_HEADER_SIZE)) }];
    }
    // Chunks of the raw frame bytes, base64 (4 characters per 3 bytes) within the stanza limit.
    const chunk = Math.max(3, Math.floor(room / 4) * 3);
    const out: { t: "d"; body?: string; text: string; first: boolean }[] = [];
    for (let i = 0; i < frame.length; i += chunk) {
      out.push({ t: "d", text: toBase64(frame.subarray(i, i + chunk)), first: i === 0 });
    }
    // The first stanza of a message tells an ordinary client what the parts are.
    if (!inStream && out.length > 0) out[0].body = HINT;
    return out;
  }

  // deno-lint-ignore no-explicit-any
  #receive(stanza: any): void {
    if (stanza.is("iq")) {
      const type = stanza.attrs.type;
      if ((type === "result" || type === "error") && typeof stanza.attrs.id === "string") {
        this.#confirmed(stanza.attrs.id);
      }
      return;
    }
    if (!stanza.is("message") || stanza.attrs.type === "error") return;
    const pc = stanza.getChild("pc", XMPP_NS);
    if (!pc) return;
    const from = String(stanza.attrs.from ?? "");
    const peer = from.split("/")[0].toLowerCase();
    const { c: id, r: role, s, t } = pc.attrs;
    if (typeof id !== "string" || !/^[A-Za-z0-9_=-]{1,64}$/.test(id) || !peer.includes("@")) return;
    if (role !== "i" && role !== "r") return;
    const seq = Number(s);
    if (!Number.isSafeInteger(seq) || seq < 0) return;
    // A stanza that starts a frame: a whole envelope or ACK, or the first chunk of a frame.
    const starts = t === "e" || t === "a" || (t === "d" && pc.attrs.f === "1");
    // The peer's "i" is our "r" (it dialed, we serve) and the reverse.
    const ours = role === "i" ? "r" : "i";
    let channel = this.#channels.get(`${peer} ${ours} ${id}`);
    if (!channel) {
      // A connection opens here only at a frame's start, and only while listening.
      if (ours !== "r" || !starts || !this.#pool || !this.#serve) return;
      const duplex = this.#open(peer, from, id, "r");
      channel = this.#channels.get(`${peer} r ${id}`)!;
      channel.nextIn = seq;
      this.#pool.serve(duplex, this.#serve);
    }
    // A stanza sent again after a reconnection (the sender could not know it had arrived).
    const stanzaId = stanza.attrs.id;
    if (typeof stanzaId === "string" && stanzaId.length <= 64) {
      if (channel.seen.has(stanzaId)) return;
      channel.seen.add(stanzaId);
      if (channel.seen.size > SEEN_IDS) {
        channel.seen.delete(channel.seen.values().next().value!);
      }
    }
    // Stanzas of one connection come in order (XMPP keeps it between two accounts); the sender's
    // numbering restarts when its process does (offline delivery), which is accepted only
    // between frames: a gap inside a frame ends the connection.
    if (seq !== channel.nextIn && !(starts && channel.remaining === 0)) {
      channel.fail(new FrameError("a stanza of the connection was lost or repeated"));
      return;
    }
    if (starts !== (channel.remaining === 0)) {
      channel.fail(new FrameError("a frame was interrupted"));
      return;
    }
    channel.nextIn = seq + 1;
    // Sizes are checked before anything is decoded.
    const text: string = pc.getText();
    const body: string | undefined = stanza.getChildText("body") ?? undefined;
    if (text.length > this.#maxStanza || (body?.length ?? 0) > this.#maxStanza) {
      channel.fail(new FrameError("a stanza is larger than the limit"));
      return;
    }
    try {
      if (t === "e") {
        const envelope = dearmor(body ?? "");
        if (!isSealedEnvelope(envelope)) throw new FrameError("not an envelope");
        channel.push(encodeFrame(FRAME.envelope, envelope));
      } else if (t === "a") {
        channel.push(encodeFrame(FRAME.ack, fromBase64(text)));
      } else if (t === "d") {
        const bytes = fromBase64(text);
        if (starts) {
          if (bytes.length < FRAME_HEADER_SIZE) throw new FrameError("a chunk without its header");
          const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
            .getUint32(2);
          channel.remaining = FRAME_HEADER_SIZE + length;
        }
        if (bytes.length === 0 || bytes.length > channel.remaining) {
          throw new FrameError("a chunk does not fit its frame");
        }
        channel.remaining -= bytes.length;
        channel.push(bytes);
      } else {
        throw new FrameError("an unknown stanza kind");
      }
    } catch (e) {
      channel.fail(e instanceof FrameError ? e : new FrameError("a malformed stanza"));
    }
  }

  /** Logs out and closes every connection of this account. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const channel of [...this.#channels.values()]) {
      channel.fail(new FrameError("the XMPP account was closed"));
    }
    await this.#pool?.close();
    // What is queued goes out if the server connection is up (a last message of a command).
    const pending = this.#outbox.at(-1)?.written;
    if (pending && this.#online) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([pending, new Promise((r) => timer = setTimeout(r, 10_000))]);
      clearTimeout(timer);
    }
    this.#closed = true;
    clearTimeout(this.#confirmTimer);
    clearTimeout(this.#reconnectTimer);
    if (this.#ping) clearTimeout(this.#ping.timer);
    this.#ping = undefined;
    for (const o of this.#outbox.splice(0)) o.reject(new XmppError("the XMPP account was closed"));
    await this.#xmpp.stop().catch(() => {});
    this.#ended();
  }
}

/**
 * Logs in to an XMPP account (docs/transports.md section 11): TLS required (STARTTLS, or direct
 * TLS with `xmpps://`) unless `insecure` on loopback; the password goes only to a TLS-protected
 * server (or the loopback one of a test); the resource is `polycrypt`; nothing is sent after login
 * (no roster request, no client version; presence only with `presence`, once `listen` is called). Rejects with
 * {@linkcode XmppError} when the server cannot be reached, offers no TLS, or refuses the login.
 */
export async function connectXmpp(options: XmppAccountOptions): Promise<XmppAccount> {
  const { jid } = parseJid(options.jid, `the XMPP account must be NAME@DOMAIN`);
  if (typeof options.password !== "string" || options.password.length === 0) {
    throw new TypeError("the XMPP password is empty");
  }
  const [username, domain] = jid.split("@");
  let service: string | undefined;
  let host = domain;
  if (options.server !== undefined) {
    const m = /^(xmpps:\/\/)?(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(options.server);
    if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) {
      throw new RangeError(`the XMPP server must be HOST:PORT or xmpps://HOST:PORT`);
    }
    host = m[2];
    service = `${m[1] ? "xmpps" : "xmpp"}://${m[2]}:${m[3]}`;
  }
  const insecure = options.insecure === true;
  if (insecure && !isLoopback(host)) {
    throw new RangeError("insecure XMPP (no TLS check) is allowed only with a loopback server");
  }
  patchTls();
  xmppLib ??= await import("@xmpp/client");
  const { client } = xmppLib;
  const resource = options.resource ?? XMPP_RESOURCE;
  const xmpp = client({
    service,
    domain,
    resource,
    // The password is handed over only on a TLS-protected stream (or insecure, on loopback).
    credentials: async (
      authenticate: (c: unknown, m: string) => Promise<void>,
      mechanisms: string[],
      _fast: unknown,
      // deno-lint-ignore no-explicit-any
      entity: any,
    ) => {
      if (!entity.isSecure() && !insecure) {
        throw new XmppError(`the XMPP server ${host} offered no TLS: refusing to log in`);
      }
      const mechanism = mechanisms.find((m) => m.startsWith("SCRAM-")) ??
        mechanisms.find((m) => m === "PLAIN");
      if (!mechanism) throw new XmppError("the XMPP server offers no usable login mechanism");
      await authenticate({ username, password: options.password }, mechanism);
    },
  });
  xmpp.reconnect?.stop?.();
  let failure: Error | undefined;
  // deno-lint-ignore no-explicit-any
  xmpp.on("error", (e: any) => failure ??= e);
  const extras = tlsOptionsOf(options);
  xmpp.on("connect", () => {
    if (xmpp.socket?.socket) tlsExtras.set(xmpp.socket.socket, extras);
    if (xmpp.socket) tlsExtras.set(xmpp.socket, extras);
  });
  const direct = service?.startsWith("xmpps://") ? service.slice(8) : undefined;
  if (direct !== undefined) directTlsExtras.set(direct, { ...extras, servername: domain });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      xmpp.start(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new XmppError(`no answer from the XMPP server of ${domain}`)),
          options.connectTimeoutMs ?? 30_000,
        );
      }),
    ]);
  } catch (e) {
    await xmpp.stop().catch(() => {});
    if (e instanceof XmppError) throw e;
    const why = (e as Error)?.message ?? String(e);
    if ((e as { condition?: string })?.condition === "not-authorized") {
      throw new XmppError(`the XMPP server refused the login of ${jid} (wrong password?)`);
    }
    if (/certificate|self.signed|UNKNOWN_ISSUER|SELF_SIGNED/i.test(why)) {
      throw new XmppError(
        `the XMPP server of ${domain} presented a certificate that is not trusted`,
      );
    }
    throw new XmppError(`could not log in to ${jid}: ${why}`);
  } finally {
    clearTimeout(timer);
    if (direct !== undefined) directTlsExtras.delete(direct);
  }
  if (!xmpp.isSecure() && !insecure) {
    await xmpp.stop().catch(() => {});
    throw new XmppError(`the XMPP server ${host} offered no TLS`);
  }
  void failure;
  return new XmppAccount(xmpp, String(xmpp.jid), options);
}
