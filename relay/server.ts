/**
 * The relay server (`docs/relay.md`): listens on any stream transport URL (`tcp://`, `tls://`,
 * `ws://`), greets each connection with a fresh nonce, checks each command's signature, sequence
 * number, rate and limits, and runs it against a {@linkcode RelayStore}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RelayServer, SqliteStore } from "@polycrypt/polycrypt/relay";
 * const server = new RelayServer({ store: new SqliteStore(":memory:") });
 * const address = await server.listen("ws://127.0.0.1:0");
 * assert.match(address, /^ws:\/\/127\.0\.0\.1:\d+$/);
 * await server.close();
 * ```
 *
 * @module
 */
import { Connection } from "../transports/connection.ts";
import type { FrameBudget } from "../transports/frame.ts";
import { listen, type Listener } from "../transports/dial.ts";
import { registry } from "../engines/mod.ts";
import type { SignatureEngine } from "../engines/types.ts";
import { concatBytes, toHex as hex } from "../engines/_bytes.ts";
import {
  type AuthKey,
  COMMAND,
  type Command,
  commandMessage,
  encodeGroupMessages,
  encodeHello,
  encodeResponse,
  isRelayEnvelope,
  NONCE_SIZE,
  parseAuthKey,
  parseBundles,
  parseCommand,
  parseGroupMessageHeader,
  PUBLISH_LAST_RESORT,
  PUBLISH_REPLACE,
  QUEUE_ID_SIZE,
  RELAY_ERROR,
  RELAY_MESSAGE_ID_SIZE,
  RelayError,
  RESPONSE,
} from "./protocol.ts";
import type { AnnouncedMessage, QueueRecord, RelayStore } from "./store.ts";

/** Default largest envelope: 1 MiB (`docs/relay.md` section 5). */
export const DEFAULT_MAX_ENVELOPE_BYTES = 1024 * 1024;
/** Default largest group handshake message: under the clients' 16 MiB frame limit. */
export const DEFAULT_MAX_GROUP_HANDSHAKE_BYTES = 15 * 1024 * 1024;
/** Default queues created or subscribed on one connection. */
export const DEFAULT_MAX_QUEUES_PER_CONNECTION = 1000;
/** Default commands per second on one connection (and burst). */
export const DEFAULT_COMMANDS_PER_SECOND = 1000;
/** Largest prekey bundle. */
export const MAX_BUNDLE_BYTES = 16 * 1024;
/** Room for a command's header and signature on top of the envelope. */
const COMMAND_OVERHEAD = 16 * 1024;
/** Messages a subscription pushes before their ACKs (`docs/relay.md` section 3.1, SUB). */
export const DELIVERY_WINDOW = 32;
/** Answers one connection may have waiting for their commit before its next command is read. */
const MAX_PENDING_ANSWERS = 256;

/** Options of a {@linkcode RelayServer}. */
export interface RelayServerOptions {
  /** Where queues and messages live. The server closes it in {@linkcode RelayServer.close}. */
  store: RelayStore;
  /** Largest envelope accepted (default 1 MiB). */
  maxEnvelopeBytes?: number;
  /**
   * Largest group handshake message (a commit or proposal, `GPOST` kind 0x02) accepted (default
   * 15 MiB, at least `maxEnvelopeBytes`): an MLS commit adding or updating a large group does
   * not fit 1 MiB and cannot be split (docs/relay.md section 5).
   */
  maxGroupHandshakeBytes?: number;
  /** Queues created or subscribed on one connection (default 1,000). */
  maxQueuesPerConnection?: number;
  /** Commands per second on one connection, also the burst (default 1,000). */
  commandsPerSecond?: number;
  /** Connections at once per listener (default 1,024; at the cap the idlest is closed). */
  maxConnections?: number;
  /** Longest silence on a connection (default 60 s; clients ping every 25 s). */
  idleTimeoutMs?: number;
  /** Memory for frames in flight (default: the transports' process-wide 256 MiB). */
  frameBudget?: FrameBudget;
  /** How often expired messages are deleted (default 1 hour; 0: never, tests sweep by hand). */
  sweepIntervalMs?: number;
  /**
   * Told of store failures (answered `INTERNAL`). Only the error: never a queue id, key, message
   * id or address.
   */
  onError?: (error: unknown) => void;
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer`);
  }
  return value;
}

/** A dummy key, so an unknown queue costs a verification like a known one. */
let dummy: Promise<{ engine: SignatureEngine; publicKey: Uint8Array }> | undefined;
function dummyKey() {
  return dummy ??= (async () => {
    const engine = registry.signature("ed25519");
    const { publicKey } = await engine.generateKeyPair();
    return { engine, publicKey };
  })();
}

/** The engine for `key`, or undefined if none is registered or the key has the wrong size. */
function engineFor(key: AuthKey): SignatureEngine | undefined {
  try {
    const engine = registry.signature(key.algorithm);
    return key.publicKey.length === engine.publicKeySize ? engine : undefined;
  } catch {
    return undefined;
  }
}

/** One subscription: the queue, the messages in flight, and whether a delivery is running. */
interface Subscription {
  readonly rid: Uint8Array;
  readonly peer: Peer;
  /** Pushed and not yet acknowledged (message ids in hex). */
  readonly inFlight: Set<string>;
  /** The store position of the last message pushed. */
  lastSeq: number;
  /**
   * Whether the store may hold messages after `lastSeq` that were not pushed (at the start, and
   * after a message that arrived when the window was full): the next refill reads them.
   */
  behind: boolean;
  busy: boolean;
  again: boolean;
  ended: boolean;
}

/** One connection's state. */
interface Peer {
  readonly connection: Connection;
  readonly nonce: Uint8Array;
  lastSeq: number;
  tokens: number;
  refilled: number;
  readonly queues: Set<string>;
  readonly subscriptions: Map<string, Subscription>;
  closed: boolean;
}

/**
 * A relay: listens on URLs and serves the relay protocol from one store. One process may run
 * several listeners (`ws://` and `tcp://`, say) over the same store and subscriptions.
 */
export class RelayServer {
  readonly #store: RelayStore;
  readonly #maxEnvelope: number;
  readonly #maxHandshake: number;
  readonly #maxQueues: number;
  readonly #rate: number;
  readonly #options: RelayServerOptions;
  readonly #listeners: Listener[] = [];
  /** Each queue's subscription in this process. */
  readonly #subscribers = new Map<string, Subscription>();
  /** Group queue watchers (GSUB) in this process: GID hex -> connection -> the epoch watched. */
  readonly #groupWatchers = new Map<string, Map<Peer, bigint>>();
  readonly #unwatch: () => void;
  readonly #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /**
   * A relay over `options.store`. RangeError for limits out of range.
   *
   * @param options the store and limits
   */
  constructor(options: RelayServerOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#maxEnvelope = positive(
      "maxEnvelopeBytes",
      options.maxEnvelopeBytes ?? DEFAULT_MAX_ENVELOPE_BYTES,
    );
    if (this.#maxEnvelope > 64 * 1024 * 1024) {
      throw new RangeError("maxEnvelopeBytes must be at most 64 MiB");
    }
    this.#maxHandshake = Math.max(
      this.#maxEnvelope,
      positive(
        "maxGroupHandshakeBytes",
        options.maxGroupHandshakeBytes ?? DEFAULT_MAX_GROUP_HANDSHAKE_BYTES,
      ),
    );
    if (this.#maxHandshake > 64 * 1024 * 1024) {
      throw new RangeError("maxGroupHandshakeBytes must be at most 64 MiB");
    }
    this.#maxQueues = positive(
      "maxQueuesPerConnection",
      options.maxQueuesPerConnection ?? DEFAULT_MAX_QUEUES_PER_CONNECTION,
    );
    this.#rate = positive(
      "commandsPerSecond",
      options.commandsPerSecond ?? DEFAULT_COMMANDS_PER_SECOND,
    );
    this.#unwatch = this.#store.watch((rid, message) => {
      const sub = this.#subscribers.get(hex(rid));
      if (sub) this.#announced(sub, message);
    });
    const every = options.sweepIntervalMs ?? 3600_000;
    if (every > 0) {
      this.#sweep();
      const sweeper = setInterval(() => this.#sweep(), every);
      Deno.unrefTimer(sweeper);
      this.#sweeper = sweeper;
    }
  }

  #sweep(): void {
    this.#store.sweep().catch((e) => this.#options.onError?.(e));
  }

  /**
   * Listens on `url` (`tcp://`, `tls://` with `tls`, `ws://`; port 0 picks a free port) and
   * resolves with the address it got. On a `ws://` URL, `options.onHttpRequest` answers the plain
   * HTTP requests of the same port (the web page of `polycrypt relay --web`).
   */
  async listen(
    url: string,
    tls?: { cert: string; key: string },
    options: { onHttpRequest?: (request: Request) => Response | Promise<Response> } = {},
  ): Promise<string> {
    if (this.#closed) throw new Error("the relay is closed");
    if (url.startsWith("udp://")) throw new RangeError("the relay needs a stream transport");
    const listener = await listen(url, (peer) => {
      if (!(peer instanceof Connection)) throw new TypeError("not a connection");
      return this.#serve(peer);
    }, {
      relayFrames: true,
      maxFrameBytes: this.#maxHandshake + COMMAND_OVERHEAD,
      maxConnections: this.#options.maxConnections,
      betweenFramesTimeoutMs: this.#options.idleTimeoutMs,
      frameBudget: this.#options.frameBudget,
      tls,
      ...(options.onHttpRequest ? { onHttpRequest: options.onHttpRequest } : {}),
    });
    this.#listeners.push(listener);
    return listener.address;
  }

  /** Stops listening, ends every connection, and closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#unwatch();
    await Promise.all(this.#listeners.map((l) => l.close()));
    await this.#store.close();
  }

  async #serve(connection: Connection): Promise<void> {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
    const peer: Peer = {
      connection,
      nonce,
      lastSeq: 0,
      tokens: this.#rate,
      refilled: Date.now(),
      queues: new Set(),
      subscriptions: new Map(),
      closed: false,
    };
    const pending = new Set<Promise<void>>();
    try {
      await connection.sendRelayFrame(encodeHello(nonce, this.#maxEnvelope));
      for await (const payload of connection.relayFrames()) {
        const { answer } = await this.#handle(peer, payload);
        const sent = answer.then((bytes) => connection.sendRelayFrame(bytes)).catch(() => {});
        pending.add(sent);
        sent.finally(() => pending.delete(sent));
        // Back-pressure: a connection does not get ahead of its commits without bound.
        while (pending.size >= MAX_PENDING_ANSWERS) await Promise.race(pending);
      }
      await Promise.all(pending);
    } finally {
      peer.closed = true;
      for (const sub of peer.subscriptions.values()) this.#unsubscribe(sub);
    }
  }

  /** Sends GNOTE(seq) to the connections watching `gid` at `epoch` (dropping closed ones). */
  #notifyGroup(gid: Uint8Array, epoch: bigint, seq: number): void {
    const key = hex(gid);
    const watchers = this.#groupWatchers.get(key);
    if (!watchers) return;
    for (const [peer, watched] of watchers) {
      if (peer.closed) watchers.delete(peer);
      else if (watched === epoch) {
        peer.connection.sendRelayFrame(encodeResponse(0, RESPONSE.GNOTE, gid, u64(BigInt(seq))))
          .catch(() => {});
      }
    }
    if (watchers.size === 0) this.#groupWatchers.delete(key);
  }

  /** A token from the connection's bucket, or false. */
  #take(peer: Peer): boolean {
    const now = Date.now();
    peer.tokens = Math.min(this.#rate, peer.tokens + (now - peer.refilled) * this.#rate / 1000);
    peer.refilled = now;
    if (peer.tokens < 1) return false;
    peer.tokens -= 1;
    return true;
  }

  /**
   * Checks and runs one command up to the point where its store operation is queued (so commands
   * on a connection run in order), and returns the promise of its answer.
   */
  async #handle(peer: Peer, payload: Uint8Array): Promise<Answer> {
    let seq = 0;
    const fail = (code: number) => answer(error(seq, code));
    if (payload.length >= 4) seq = new DataView(payload.buffer, payload.byteOffset).getUint32(0);
    if (!this.#take(peer)) return fail(RELAY_ERROR.RATE);
    let command: Command;
    try {
      command = parseCommand(payload);
    } catch {
      return fail(RELAY_ERROR.SYNTAX);
    }
    if (command.seq <= peer.lastSeq) return fail(RELAY_ERROR.REPLAY);
    peer.lastSeq = command.seq;
    try {
      const { answer: answered } = await this.#run(peer, command);
      // A store failure after the command was queued is answered too (INTERNAL), not dropped.
      return answer(answered.catch((e) => {
        this.#options.onError?.(e);
        return error(command.seq, RELAY_ERROR.INTERNAL);
      }));
    } catch (e) {
      if (e instanceof RelayError) return fail(e.code);
      this.#options.onError?.(e);
      return fail(RELAY_ERROR.INTERNAL);
    }
  }

  /** Whether `auth` is a valid signature of `command` on this connection by `key`. */
  async #verify(peer: Peer, key: AuthKey | undefined, command: Command): Promise<boolean> {
    let engine = key ? engineFor(key) : undefined;
    let publicKey = key?.publicKey;
    if (!engine || !publicKey) ({ engine, publicKey } = await dummyKey());
    const message = commandMessage(peer.nonce, command.seq, command.signed);
    let valid = false;
    try {
      valid = command.auth.length === engine.signatureSize &&
        await engine.verify(publicKey, message, command.auth);
    } catch {
      valid = false;
    }
    return valid && key !== undefined;
  }

  /** The queue of `command.id` (a RID) if the command is signed by its recipient key. */
  async #recipientQueue(peer: Peer, command: Command): Promise<QueueRecord> {
    const queue = command.id.length === QUEUE_ID_SIZE
      ? await this.#store.queue(command.id, "recipient")
      : undefined;
    if (!(await this.#verify(peer, queue?.recipientKey, command)) || !queue) {
      throw new RelayError(RELAY_ERROR.AUTH);
    }
    return queue;
  }

  #countQueue(peer: Peer, rid: Uint8Array): void {
    const key = hex(rid);
    if (peer.queues.has(key)) return;
    if (peer.queues.size >= this.#maxQueues) throw new RelayError(RELAY_ERROR.QUEUES);
    peer.queues.add(key);
  }

  async #run(peer: Peer, command: Command): Promise<Answer> {
    const { seq } = command;
    const ok = () => encodeResponse(seq, RESPONSE.OK);
    switch (command.tag) {
      case COMMAND.PING:
        return answer(encodeResponse(seq, RESPONSE.PONG));
      case COMMAND.NEW: {
        const key = parseAuthKey(command.body);
        if (!engineFor(key)) throw new RelayError(RELAY_ERROR.SYNTAX, "unknown key");
        if (command.id.length !== 0 || !(await this.#verify(peer, key, command))) {
          throw new RelayError(RELAY_ERROR.AUTH);
        }
        if (peer.queues.size >= this.#maxQueues) throw new RelayError(RELAY_ERROR.QUEUES);
        const rid = crypto.getRandomValues(new Uint8Array(QUEUE_ID_SIZE));
        const sid = crypto.getRandomValues(new Uint8Array(QUEUE_ID_SIZE));
        this.#countQueue(peer, rid);
        return answer(
          this.#store.createQueue(rid, sid, key).then(() =>
            encodeResponse(seq, RESPONSE.IDS, undefined, concatBytes(rid, sid))
          ),
        );
      }
      case COMMAND.KEY: {
        const queue = await this.#recipientQueue(peer, command);
        const key = parseAuthKey(command.body);
        if (!engineFor(key)) throw new RelayError(RELAY_ERROR.SYNTAX, "unknown key");
        return answer(
          this.#store.secure(queue.rid, key).then((done) =>
            done ? ok() : error(seq, RELAY_ERROR.AUTH)
          ),
        );
      }
      case COMMAND.SEND: {
        if (command.body.length < RELAY_MESSAGE_ID_SIZE) throw new RelayError(RELAY_ERROR.SYNTAX);
        const msgId = command.body.slice(0, RELAY_MESSAGE_ID_SIZE);
        const envelope = command.body.subarray(RELAY_MESSAGE_ID_SIZE);
        if (envelope.length > this.#maxEnvelope) throw new RelayError(RELAY_ERROR.LARGE);
        if (!isRelayEnvelope(envelope)) throw new RelayError(RELAY_ERROR.NOT_ENVELOPE);
        let queue = command.id.length === QUEUE_ID_SIZE
          ? await this.#store.queue(command.id, "sender")
          : undefined;
        const signed = command.auth.length > 0;
        // An unsecured queue takes only unsigned SENDs, a secured one only SENDs signed by SK.
        let authorized = queue?.senderKey
          ? signed && await this.#verify(peer, queue.senderKey, command)
          : !signed && queue !== undefined;
        if (!authorized && signed && queue && !queue.senderKey) {
          // A cached record may predate a KEY made through another relay process: read again.
          queue = await this.#store.queue(command.id, "sender", true);
          authorized = queue?.senderKey !== undefined &&
            await this.#verify(peer, queue.senderKey, command);
        }
        if (!queue || !authorized) {
          if (!queue && signed) await this.#verify(peer, undefined, command);
          throw new RelayError(RELAY_ERROR.AUTH);
        }
        return answer(
          this.#store.append(queue.rid, msgId, envelope.slice(), queue.senderKey?.publicKey)
            .then((result) =>
              result === "stored" || result === "duplicate"
                ? ok()
                : error(seq, result === "quota" ? RELAY_ERROR.QUOTA : RELAY_ERROR.AUTH)
            ),
        );
      }
      case COMMAND.SUB: {
        const queue = await this.#recipientQueue(peer, command);
        this.#countQueue(peer, queue.rid);
        const sub = this.#subscribe(peer, queue.rid);
        // Answer OK, then push what is waiting.
        const answered = answer(ok());
        answered.answer.then(() => this.#deliver(sub));
        return answered;
      }
      case COMMAND.GET: {
        const queue = await this.#recipientQueue(peer, command);
        return answer(
          this.#store.oldest(queue.rid).then((m) =>
            m
              ? encodeResponse(seq, RESPONSE.MSG, queue.rid, concatBytes(m.msgId, m.envelope))
              : encodeResponse(seq, RESPONSE.EMPTY, queue.rid)
          ),
        );
      }
      case COMMAND.ACK: {
        if (command.body.length !== RELAY_MESSAGE_ID_SIZE) {
          throw new RelayError(RELAY_ERROR.SYNTAX);
        }
        const queue = await this.#recipientQueue(peer, command);
        const msgId = command.body.slice();
        return answer(
          this.#store.ack(queue.rid, msgId).then((done) => {
            const sub = peer.subscriptions.get(hex(queue.rid));
            // Refill once half the window is acknowledged, when messages wait: one read brings 16
            // or more, instead of one read per ACK. (New messages are pushed as the store
            // announces them, without a read, while the window has room.)
            if (
              sub?.inFlight.delete(hex(msgId)) && sub.behind &&
              sub.inFlight.size <= DELIVERY_WINDOW / 2
            ) {
              this.#deliver(sub);
            }
            return done ? ok() : error(seq, RELAY_ERROR.NO_MSG);
          }),
        );
      }
      case COMMAND.DEL: {
        const queue = await this.#recipientQueue(peer, command);
        const sub = this.#subscribers.get(hex(queue.rid));
        if (sub) this.#unsubscribe(sub);
        return answer(this.#store.deleteQueue(queue.rid).then(ok));
      }
      case COMMAND.PUBLISH: {
        const queue = await this.#recipientQueue(peer, command);
        const { flags, bundles } = parseBundles(command.body);
        if ((flags & ~(PUBLISH_REPLACE | PUBLISH_LAST_RESORT)) !== 0) {
          throw new RelayError(RELAY_ERROR.SYNTAX);
        }
        const lastResort = (flags & PUBLISH_LAST_RESORT) !== 0;
        if (lastResort && bundles.length !== 1) throw new RelayError(RELAY_ERROR.SYNTAX);
        if (bundles.some((b) => b.length > MAX_BUNDLE_BYTES || b.length === 0)) {
          throw new RelayError(RELAY_ERROR.LARGE);
        }
        return answer(
          this.#store.publish(queue.rid, bundles, {
            replace: (flags & PUBLISH_REPLACE) !== 0,
            lastResort,
          }).then((held) => {
            if (held === "quota") return error(seq, RELAY_ERROR.QUOTA);
            if (held === "gone") return error(seq, RELAY_ERROR.AUTH);
            const count = new Uint8Array(4);
            new DataView(count.buffer).setUint32(0, held);
            return encodeResponse(seq, RESPONSE.COUNT, queue.rid, count);
          }),
        );
      }
      case COMMAND.FETCH: {
        const queue = command.id.length === QUEUE_ID_SIZE && command.auth.length === 0
          ? await this.#store.queue(command.id, "sender")
          : undefined;
        if (!queue) throw new RelayError(RELAY_ERROR.AUTH);
        return answer(
          this.#store.fetchBundle(queue.rid).then((bundle) =>
            bundle
              ? encodeResponse(seq, RESPONSE.BUNDLE, queue.sid, bundle)
              : error(seq, RELAY_ERROR.NO_BUNDLE)
          ),
        );
      }
      case COMMAND.GNEW: {
        if (command.id.length !== QUEUE_ID_SIZE || command.body.length < 12) {
          throw new RelayError(RELAY_ERROR.SYNTAX);
        }
        const epoch = readEpoch(command.body, 0);
        const key = parseAuthKey(command.body.subarray(8));
        if (!engineFor(key)) throw new RelayError(RELAY_ERROR.SYNTAX, "unknown key");
        if (!(await this.#verify(peer, key, command))) throw new RelayError(RELAY_ERROR.AUTH);
        const gid = command.id.slice();
        this.#countQueue(peer, gid);
        return answer(
          this.#store.createGroupQueue(gid, epoch, key).then((done) =>
            done ? ok() : error(seq, RELAY_ERROR.AUTH)
          ),
        );
      }
      case COMMAND.GPOST: {
        const body = command.body;
        if (command.id.length !== QUEUE_ID_SIZE || body.length < RELAY_MESSAGE_ID_SIZE + 2) {
          throw new RelayError(RELAY_ERROR.SYNTAX);
        }
        const msgId = body.slice(0, RELAY_MESSAGE_ID_SIZE);
        const keyLength = new DataView(body.buffer, body.byteOffset).getUint16(
          RELAY_MESSAGE_ID_SIZE,
        );
        const at = RELAY_MESSAGE_ID_SIZE + 2 + keyLength;
        if (at > body.length) throw new RelayError(RELAY_ERROR.SYNTAX);
        const envelope = body.subarray(at);
        if (envelope.length > this.#maxHandshake) throw new RelayError(RELAY_ERROR.LARGE);
        const header = parseGroupMessageHeader(envelope);
        if (!header) throw new RelayError(RELAY_ERROR.NOT_ENVELOPE);
        // Application messages keep the envelope limit; commits and proposals have their own.
        if (header.type === "application" && envelope.length > this.#maxEnvelope) {
          throw new RelayError(RELAY_ERROR.LARGE);
        }
        if (header.epoch >= MAX_EPOCH) throw new RelayError(RELAY_ERROR.SYNTAX);
        // A commit names the next epoch's authorization key; nothing else does.
        let nextKey: AuthKey | undefined;
        if (keyLength > 0) {
          nextKey = parseAuthKey(body.subarray(RELAY_MESSAGE_ID_SIZE + 2, at));
          if (!engineFor(nextKey)) throw new RelayError(RELAY_ERROR.SYNTAX, "unknown key");
        }
        if ((header.type === "commit") !== (nextKey !== undefined)) {
          throw new RelayError(RELAY_ERROR.SYNTAX);
        }
        const gid = command.id.slice();
        const known = await this.#store.groupKey(gid, header.epoch);
        if (!(await this.#verify(peer, known?.key, command))) {
          throw new RelayError(RELAY_ERROR.AUTH);
        }
        return answer(
          this.#store.groupPost(gid, msgId, header.epoch, envelope.slice(), nextKey).then((r) => {
            switch (r.result) {
              case "stored":
                this.#notifyGroup(gid, header.epoch, r.seq);
                return encodeResponse(seq, RESPONSE.SEQ, gid, u64(BigInt(r.seq)));
              case "duplicate":
                return encodeResponse(seq, RESPONSE.SEQ, gid, u64(BigInt(r.seq)));
              case "stale":
                return encodeResponse(
                  seq,
                  RESPONSE.ERR,
                  undefined,
                  concatBytes(new Uint8Array([RELAY_ERROR.STALE_EPOCH]), u64(r.current)),
                );
              case "quota":
                return error(seq, RELAY_ERROR.QUOTA);
              default:
                return error(seq, RELAY_ERROR.AUTH);
            }
          }),
        );
      }
      case COMMAND.GSUB: {
        // docs/relay.md section 10: notify this connection of each message of epoch E stored
        // from now on (GNOTE with its sequence number), until it watches another epoch.
        if (command.id.length !== QUEUE_ID_SIZE || command.body.length !== 8) {
          throw new RelayError(RELAY_ERROR.SYNTAX);
        }
        const epoch = readEpoch(command.body, 0);
        const gid = command.id.slice();
        const known = await this.#store.groupKey(gid, epoch);
        if (!(await this.#verify(peer, known?.key, command))) {
          throw new RelayError(RELAY_ERROR.AUTH);
        }
        this.#countQueue(peer, gid);
        const key = hex(gid);
        let watchers = this.#groupWatchers.get(key);
        if (!watchers) this.#groupWatchers.set(key, watchers = new Map());
        watchers.set(peer, epoch);
        return answer(ok());
      }
      case COMMAND.GGET: {
        if (command.id.length !== QUEUE_ID_SIZE || command.body.length !== 18) {
          throw new RelayError(RELAY_ERROR.SYNTAX);
        }
        const view = new DataView(command.body.buffer, command.body.byteOffset);
        const epoch = readEpoch(command.body, 0);
        const after = view.getBigUint64(8);
        const limit = view.getUint16(16);
        if (after >= MAX_EPOCH || limit === 0) throw new RelayError(RELAY_ERROR.SYNTAX);
        const gid = command.id.slice();
        const known = await this.#store.groupKey(gid, epoch);
        if (!(await this.#verify(peer, known?.key, command))) {
          throw new RelayError(RELAY_ERROR.AUTH);
        }
        return answer(
          this.#store.groupFetch(
            gid,
            epoch,
            Number(after),
            Math.min(limit, GROUP_FETCH_LIMIT),
            this.#maxEnvelope,
          ).then((found) =>
            found
              ? encodeResponse(
                seq,
                RESPONSE.GMSGS,
                gid,
                encodeGroupMessages(found.current, found.messages),
              )
              : error(seq, RELAY_ERROR.AUTH)
          ),
        );
      }
      default:
        throw new RelayError(RELAY_ERROR.UNKNOWN);
    }
  }

  /** Makes `peer` the queue's subscriber in this process; the previous one gets END. */
  #subscribe(peer: Peer, rid: Uint8Array): Subscription {
    const key = hex(rid);
    const existing = peer.subscriptions.get(key);
    if (existing) return existing;
    const previous = this.#subscribers.get(key);
    if (previous) {
      this.#unsubscribe(previous);
      if (!previous.peer.closed) {
        previous.peer.connection.sendRelayFrame(encodeResponse(0, RESPONSE.END, rid)).catch(
          () => {},
        );
      }
    }
    const sub: Subscription = {
      rid,
      peer,
      inFlight: new Set(),
      lastSeq: 0,
      behind: true,
      busy: false,
      again: false,
      ended: false,
    };
    peer.subscriptions.set(key, sub);
    this.#subscribers.set(key, sub);
    return sub;
  }

  #unsubscribe(sub: Subscription): void {
    sub.ended = true;
    const key = hex(sub.rid);
    sub.peer.subscriptions.delete(key);
    if (this.#subscribers.get(key) === sub) this.#subscribers.delete(key);
  }

  /**
   * The store committed a message to the subscribed queue. When the store gave it, the
   * subscription has pushed everything up to the message's `previous` and is not reading, it is
   * pushed as it is (no read); when the window is full it waits for the ACKs' refill; otherwise
   * (a message stored by another process, or one that may have others before it) the queue is
   * read after the last message pushed.
   */
  #announced(sub: Subscription, message: AnnouncedMessage | undefined): void {
    if (sub.ended || sub.peer.closed) return;
    if (message && message.seq <= sub.lastSeq) return; // a read already pushed it
    if (message && !sub.busy && !sub.behind && message.previous <= sub.lastSeq) {
      if (sub.inFlight.size >= DELIVERY_WINDOW) {
        sub.behind = true;
        return;
      }
      sub.lastSeq = message.seq;
      sub.inFlight.add(hex(message.msgId));
      sub.peer.connection.sendRelayFrame(pushFrame(sub.rid, message)).catch(() => {});
      return;
    }
    sub.behind = true;
    this.#deliver(sub);
  }

  /**
   * Pushes the queue's next messages, oldest first, up to {@linkcode DELIVERY_WINDOW} unacknowledged
   * ones. Messages of one queue are stored in increasing `seq` (SQLite has one writer; PostgreSQL
   * takes the queue's row lock before it draws the `seq`), so reading after the last one pushed
   * misses none.
   */
  async #deliver(sub: Subscription): Promise<void> {
    if (sub.busy) {
      sub.again = true;
      return;
    }
    if (sub.ended || sub.peer.closed) return;
    const room = DELIVERY_WINDOW - sub.inFlight.size;
    if (room <= 0) {
      sub.behind = true;
      return;
    }
    sub.busy = true;
    sub.again = false;
    try {
      const messages = await this.#store.next(sub.rid, sub.lastSeq, room);
      // Fewer than asked for: nothing else was waiting when the store read the queue; what
      // arrived since is announced (and, while this runs, read again: `again`).
      if (messages.length < room) sub.behind = false;
      for (const message of messages) {
        if (sub.ended || sub.peer.closed) break;
        sub.lastSeq = message.seq;
        sub.inFlight.add(hex(message.msgId));
        await sub.peer.connection.sendRelayFrame(pushFrame(sub.rid, message));
      }
    } catch (e) {
      if (!sub.peer.closed) this.#options.onError?.(e);
    } finally {
      sub.busy = false;
    }
    if (sub.again) {
      sub.again = false;
      await this.#deliver(sub);
    }
  }
}

/** Epochs and sequence numbers stay below 2^53 (exact in a double and in SQLite's INTEGER). */
const MAX_EPOCH = 2n ** 53n;

/** Most messages one GGET returns. */
export const GROUP_FETCH_LIMIT = 256;

function readEpoch(bytes: Uint8Array, at: number): bigint {
  const epoch = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(at);
  if (epoch >= MAX_EPOCH) throw new RelayError(RELAY_ERROR.SYNTAX);
  return epoch;
}

function u64(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
}

/**
 * A MSG push of a stored message: `seq = 0 || MSG || idLen || rid || msgId || envelope` (what
 * `encodeResponse` makes), written into one buffer rather than through three concatenations.
 */
function pushFrame(
  rid: Uint8Array,
  message: { msgId: Uint8Array; envelope: Uint8Array },
): Uint8Array {
  const { msgId, envelope } = message;
  const out = new Uint8Array(6 + rid.length + msgId.length + envelope.length);
  out[4] = RESPONSE.MSG;
  out[5] = rid.length;
  out.set(rid, 6);
  out.set(msgId, 6 + rid.length);
  out.set(envelope, 6 + rid.length + msgId.length);
  return out;
}

/** An answer, wrapped so that awaiting the step that queued it does not wait for the commit. */
interface Answer {
  readonly answer: Promise<Uint8Array>;
}

function answer(value: Uint8Array | Promise<Uint8Array>): Answer {
  return { answer: Promise.resolve(value) };
}

function error(seq: number, code: number): Uint8Array {
  return encodeResponse(seq, RESPONSE.ERR, undefined, new Uint8Array([code]));
}
