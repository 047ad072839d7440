/**
 * WebRTC signalling through the relay (`docs/relay.md` section 14): the SDP offer and answer and
 * the ICE candidates travel as envelopes sealed to the peer and signed by the sender, deposited in
 * the peer's relay queue. The relay sees sealed envelopes on random queue ids, as for any message;
 * only the peer can read the addresses they hold. A message that is not from the expected peer
 * (unsigned, signed by someone else, not decryptable), stale, or seen before is ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity } from "@polycrypt/polycrypt";
 * import { openInbox, RelayClient, RelayServer, relaySignal, SignalReplayCache, SqliteStore } from "@polycrypt/polycrypt/relay";
 * const server = new RelayServer({ store: new SqliteStore(":memory:") });
 * const relay = await RelayClient.connect(await server.listen("ws://127.0.0.1:0"));
 * const [alice, bob] = [await generateIdentity(), await generateIdentity()];
 * const [aliceInbox, bobInbox] = [await openInbox(relay), await openInbox(relay)];
 * const toBob = relaySignal({ relay, identity: alice.identity, peer: bob.recipient, to: bobInbox.sendingId, inbox: aliceInbox, seen: new SignalReplayCache() });
 * const fromAlice = relaySignal({ relay, identity: bob.identity, peer: alice.recipient, to: aliceInbox.sendingId, inbox: bobInbox, seen: new SignalReplayCache() });
 * await toBob.send({ type: "offer", sdp: "v=0" });
 * const first = await fromAlice.messages()[Symbol.asyncIterator]().next();
 * assert.deepEqual(first.value, { type: "offer", sdp: "v=0" });
 * await relay.close();
 * await server.close();
 * ```
 *
 * @module
 */
import { decrypt, encrypt } from "../cascade/envelope.ts";
import { checkSignalMessage, type Signal, type SignalMessage } from "../transports/webrtc.ts";
import type { QueueKey, RelayClient } from "./client.ts";

/** The first byte of a signalling payload (docs/relay.md section 14). */
const KIND = 0x53; // "S"
const VERSION = 0x01;
const SESSION_BYTES = 16;
const HEADER_BYTES = 2 + SESSION_BYTES + 8 + 4;
/** Messages an answering side holds at most while it reads its queue to its end. */
const MAX_EARLY = 256;
/** How often an empty queue is asked again while a connection is being set up. */
const POLL_MS = 50;

/**
 * Remembers the signalling messages already accepted (session id and sequence number) for twice
 * their freshness window, so a replayed one is refused; one per process is enough.
 */
export class SignalReplayCache {
  readonly #seen = new Map<string, number>();
  /**
   * Records `key`; false when it was seen within `keepMs`.
   *
   * @param key the session id (hex) and sequence number
   * @param keepMs how long to remember it
   */
  add(key: string, keepMs: number): boolean {
    const now = Date.now();
    for (const [k, until] of this.#seen) if (until < now) this.#seen.delete(k);
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, now + keepMs);
    return true;
  }
}

/** Options of {@linkcode relaySignal}. */
export interface RelaySignalOptions {
  /** A connected relay client: the peer's queue `to` is on it (and `inbox`, unless `inboxRelay`). */
  relay: RelayClient;
  /** The relay client of `inbox`, when this user's queue is on another relay than the peer's. */
  inboxRelay?: RelayClient;
  /** This user's identity: decrypts what the peer sends, signs what is sent (version 2). */
  identity: string;
  /** The peer's recipient string (version 2): messages are sealed to it, and must be signed by it. */
  peer: string;
  /** The sending id of the peer's queue. */
  to: Uint8Array;
  /**
   * This user's queue, where the peer's messages arrive: a queue for signalling only, since every
   * message read there is acknowledged (deleted), whatever it is.
   */
  inbox: { receivingId: Uint8Array; key: QueueKey };
  /** Accepted messages; share one cache between signals so a replay to a new one is refused. */
  seen: SignalReplayCache;
  /**
   * The session id (16 bytes): the offering side picks it (default random); the answering side
   * leaves it out and adopts the session of the newest valid offer in its queue (read to its end:
   * an offer of an attempt the peer gave up does not hide the current one).
   */
  session?: Uint8Array;
  /** How old (or how far ahead of this clock) a message may be, default 120 s. */
  maxAgeMs?: number;
  /** Told about each message ignored, with the reason (for tests and diagnostics). */
  onIgnored?: (
    reason: "not-from-peer" | "stale" | "replayed" | "malformed" | "other-session",
  ) => void;
}

/**
 * A {@linkcode Signal} through the relay: `send` seals and signs each message to the peer and
 * deposits it in the peer's queue; `messages()` reads this user's queue (GET every 50 ms while
 * it is empty) and yields the peer's valid messages, acknowledging (deleting) every message it
 * reads; `close()` stops it.
 *
 * Payload (sealed, signed): `0x53 || 0x01 || session[16] || u64 sentAtMs || u32 seq || JSON`.
 */
export function relaySignal(
  options: RelaySignalOptions,
): Signal & { readonly session?: Uint8Array } {
  const maxAge = options.maxAgeMs ?? 120_000;
  let session = options.session?.slice();
  if (session !== undefined && session.length !== SESSION_BYTES) {
    throw new RangeError(`session must be ${SESSION_BYTES} bytes`);
  }
  let seq = 0;
  let closed = false;
  let sending: Promise<void> = Promise.resolve();
  const deposit = async (message: SignalMessage): Promise<void> => {
    checkSignalMessage(message);
    if (session === undefined) {
      if (message.type !== "offer") throw new TypeError("no session yet: nothing to answer");
      session = crypto.getRandomValues(new Uint8Array(SESSION_BYTES));
    }
    const json = new TextEncoder().encode(JSON.stringify(message));
    const payload = new Uint8Array(HEADER_BYTES + json.length);
    const view = new DataView(payload.buffer);
    payload[0] = KIND;
    payload[1] = VERSION;
    payload.set(session, 2);
    view.setBigUint64(2 + SESSION_BYTES, BigInt(Date.now()));
    view.setUint32(2 + SESSION_BYTES + 8, seq++);
    payload.set(json, HEADER_BYTES);
    const envelope = await encrypt(payload, {
      recipients: [options.peer],
      sender: options.identity,
    });
    await options.relay.send(options.to, envelope);
  };
  const signal = {
    get session() {
      return session;
    },
    send(message: SignalMessage): Promise<void> {
      // One at a time, in the order given: the offer is deposited before its candidates, so the
      // answering side has adopted the session when they arrive.
      const run = sending.then(() => deposit(message));
      sending = run.catch(() => {});
      return run;
    },
    close() {
      closed = true;
    },
    async *messages(): AsyncGenerator<SignalMessage> {
      // GET in a loop rather than SUB: nothing stays subscribed once the channel is open (or the
      // attempt given up), and a later attempt reads the queue afresh.
      const mine = options.inboxRelay ?? options.relay;
      /**
       * Answering, before a session is adopted: the valid messages read so far. The session of the
       * newest offer among them is adopted once the queue is empty, so an offer left from an
       * attempt the peer gave up does not hide the one it is making now.
       */
      const early: { id: string; number: number; message: SignalMessage }[] = [];
      const accept = (id: string, number: number) => {
        if (options.seen.add(`${id}:${number}`, 2 * maxAge)) return true;
        options.onIgnored?.("replayed");
        return false;
      };
      while (!closed) {
        const item = await mine.fetch(options.inbox.receivingId, options.inbox.key);
        if (item === undefined) {
          const newest = early.findLastIndex((e) => e.message.type === "offer");
          if (newest >= 0) {
            const chosen = early[newest].id;
            session = Uint8Array.fromHex(chosen);
            for (const [i, e] of early.splice(0).entries()) {
              if (e.id !== chosen || i < newest) options.onIgnored?.("other-session");
              else if (i === newest || accept(e.id, e.number)) yield e.message;
            }
            continue;
          }
          for (const _ of early.splice(0)) options.onIgnored?.("other-session");
          await new Promise((r) => setTimeout(r, POLL_MS));
          continue;
        }
        // Closed meanwhile: leave the message for the next reader (a later attempt).
        if (closed) return;
        await mine.ack(options.inbox.receivingId, options.inbox.key, item.id)
          .catch(() => {});
        let payload: Uint8Array;
        try {
          payload = await decrypt(item.envelope, {
            identities: [options.identity],
            verify: [options.peer],
          });
        } catch {
          options.onIgnored?.("not-from-peer");
          continue;
        }
        if (payload.length < HEADER_BYTES || payload[0] !== KIND || payload[1] !== VERSION) {
          options.onIgnored?.("malformed");
          continue;
        }
        const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
        const id = payload.slice(2, 2 + SESSION_BYTES).toHex();
        const sentAt = Number(view.getBigUint64(2 + SESSION_BYTES));
        const number = view.getUint32(2 + SESSION_BYTES + 8);
        if (Math.abs(Date.now() - sentAt) > maxAge) {
          options.onIgnored?.("stale");
          continue;
        }
        let message: SignalMessage;
        try {
          message = checkSignalMessage(
            JSON.parse(
              new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(HEADER_BYTES)),
            ),
          );
        } catch {
          options.onIgnored?.("malformed");
          continue;
        }
        if (session === undefined) {
          // Answering: an offer seen before is refused at once; the rest waits for the queue to
          // be read to its end (above).
          if (message.type !== "offer" || accept(id, number)) early.push({ id, number, message });
          if (early.length > MAX_EARLY) early.shift();
          continue;
        }
        if (id !== session.toHex()) {
          options.onIgnored?.("other-session");
          continue;
        }
        if (accept(id, number)) yield message;
      }
    },
  };
  return signal;
}
