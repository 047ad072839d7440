/**
 * The relay client (`docs/relay.md`): {@linkcode RelayClient} speaks the protocol over one
 * connection (`tcp://`, `tls://`, `ws://`, `tcp://` through a SOCKS5 proxy), and
 * {@linkcode openInbox} creates a queue with a fresh authorization key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { openInbox, RelayClient, RelayServer, SqliteStore } from "@polycrypt/polycrypt/relay";
 * const server = new RelayServer({ store: new SqliteStore(":memory:") });
 * const url = await server.listen("tcp://127.0.0.1:0");
 *
 * const bobRelay = await RelayClient.connect(url);
 * const inbox = await openInbox(bobRelay); // Bob gives inbox.sendingId (and his keys) to Alice
 * const bob = await generateIdentity("x25519");
 *
 * const aliceRelay = await RelayClient.connect(url);
 * await aliceRelay.send(inbox.sendingId, await encrypt(new TextEncoder().encode("hi"), { recipients: [bob.recipient] }));
 *
 * const message = await bobRelay.fetch(inbox.receivingId, inbox.key);
 * assert.ok(message);
 * await bobRelay.ack(inbox.receivingId, inbox.key, message.id);
 * assert.equal(await bobRelay.fetch(inbox.receivingId, inbox.key), undefined);
 * await aliceRelay.close();
 * await bobRelay.close();
 * await server.close();
 * ```
 *
 * @module
 */
import { Connection } from "../transports/connection.ts";
import { dial, type DialOptions } from "../transports/dial.ts";
import { registry } from "../engines/mod.ts";
import { concatBytes, toHex } from "../engines/_bytes.ts";
import type { SealedEnvelope } from "../cascade/envelope.ts";
import {
  type AuthKey,
  COMMAND,
  commandMessage,
  encodeAuthKey,
  encodeBundles,
  encodeCommand,
  encodeGroupGet,
  type GroupQueueMessage,
  type Hello,
  isRelayEnvelope,
  parseGroupMessages,
  parseHello,
  parseResponse,
  PUBLISH_LAST_RESORT,
  PUBLISH_REPLACE,
  QUEUE_ID_SIZE,
  RELAY_ERROR,
  RELAY_MESSAGE_ID_SIZE,
  RelayError,
  RelayStaleEpochError,
  RESPONSE,
  type Response,
  signedPart,
} from "./protocol.ts";

/** A queue authorization key pair (fresh per queue and side; never an identity key). */
export interface QueueKey extends AuthKey {
  /** The secret key (a 32-byte seed for the built-in engines). Keep it secret. */
  readonly secretKey: Uint8Array;
}

/**
 * A fresh queue key of a signature engine (default `ed25519`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateQueueKey } from "@polycrypt/polycrypt/relay";
 * const key = await generateQueueKey();
 * assert.equal(key.algorithm, "ed25519");
 * assert.equal(key.publicKey.length, 32);
 * ```
 */
export async function generateQueueKey(algorithm = "ed25519"): Promise<QueueKey> {
  const pair = await registry.signature(algorithm).generateKeyPair();
  return { algorithm, publicKey: pair.publicKey, secretKey: pair.secretKey };
}

/** A message the relay delivered. */
export interface RelayMessage {
  /** The id the sender chose: acknowledge with it, and drop a second delivery of it. */
  readonly id: Uint8Array;
  /** The sealed envelope. */
  readonly envelope: Uint8Array;
}

/** A queue as its recipient keeps it. */
export interface Inbox {
  /** The receiving id (keep it to yourself). */
  readonly receivingId: Uint8Array;
  /** The sending id (give it to the sender, with the relay URL and your public keys). */
  readonly sendingId: Uint8Array;
  /** The recipient's authorization key. */
  readonly key: QueueKey;
}

/** Options of {@linkcode RelayClient.connect}. */
export interface RelayClientOptions extends DialOptions {
  /** Longest wait for any answer (default 30 s); then the command fails. */
  timeoutMs?: number;
  /** Interval of PINGs while subscribed (default 25 s, under the relay's 60 s idle limit). */
  pingIntervalMs?: number;
}

/** Options of {@linkcode RelayClient.send}. */
export interface SendOptions {
  /** The sender's key, once the recipient secured the queue with it. */
  key?: QueueKey;
  /** The message id; give the same one to retry a SEND that got no answer. Default: random. */
  messageId?: Uint8Array;
}

interface Waiting {
  resolve(response: Response): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

/** A subscription's messages, waiting to be read. */
class Mailbox {
  readonly items: RelayMessage[] = [];
  ended = false;
  error: unknown;
  #wake: (() => void) | undefined;
  push(m: RelayMessage): void {
    this.items.push(m);
    this.#notify();
  }
  end(error?: unknown): void {
    this.ended = true;
    this.error ??= error;
    this.#notify();
  }
  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
  wait(): Promise<void> {
    return new Promise((resolve) => this.#wake = resolve);
  }
}

/**
 * One connection to a relay. Commands may run concurrently; each resolves with its own answer.
 * Errors the relay answers are {@linkcode RelayError}s with their code.
 */
export class RelayClient {
  /** The relay's URL. */
  readonly url: string;
  readonly #connection: Connection;
  readonly #hello: Hello;
  readonly #frames: AsyncGenerator<Uint8Array>;
  readonly #timeout: number;
  readonly #pingEvery: number;
  #seq = 0;
  readonly #waiting = new Map<number, Waiting>();
  readonly #mailboxes = new Map<string, Mailbox>();
  /** Group queues watched (GSUB): GID hex -> what to call with the sequence number of a post. */
  readonly #groupWatches = new Map<string, (seq: number) => void>();
  #pinger: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #reading: Promise<void>;

  private constructor(
    url: string,
    connection: Connection,
    hello: Hello,
    frames: AsyncGenerator<Uint8Array>,
    options: RelayClientOptions,
  ) {
    this.url = url;
    this.#connection = connection;
    this.#hello = hello;
    this.#frames = frames;
    this.#timeout = options.timeoutMs ?? 30_000;
    this.#pingEvery = options.pingIntervalMs ?? 25_000;
    this.#reading = this.#read();
  }

  /**
   * Connects to the relay at `url` and waits for its greeting.
   *
   * @param url `tcp://`, `tls://` or `ws://`
   * @param options dial options (`proxy`, `caCerts`...) and the answer timeout
   */
  static async connect(url: string, options: RelayClientOptions = {}): Promise<RelayClient> {
    const connection = await dial(url, { ...options, relayFrames: true });
    if (!(connection instanceof Connection)) {
      throw new RangeError("the relay needs a stream transport (tcp://, tls:// or ws://)");
    }
    const frames = connection.relayFrames();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const first = await Promise.race([
        frames.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("the relay did not greet")),
            options.timeoutMs ?? 30_000,
          );
        }),
      ]);
      if (first.done) throw new Error("the relay closed the connection");
      return new RelayClient(url, connection, parseHello(first.value), frames, options);
    } catch (e) {
      await connection.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The largest envelope this relay accepts. */
  get maxEnvelope(): number {
    return this.#hello.maxEnvelope;
  }

  async #read(): Promise<void> {
    let failure: unknown = new Error("the relay connection closed");
    try {
      for await (const payload of this.#frames) {
        const response = parseResponse(payload);
        if (response.seq === 0) {
          this.#push(response);
          continue;
        }
        const waiting = this.#waiting.get(response.seq);
        if (!waiting) continue;
        this.#waiting.delete(response.seq);
        clearTimeout(waiting.timer);
        waiting.resolve(response);
      }
    } catch (e) {
      failure = e;
    } finally {
      this.#closed = true;
      clearInterval(this.#pinger);
      for (const waiting of this.#waiting.values()) {
        clearTimeout(waiting.timer);
        waiting.reject(failure);
      }
      this.#waiting.clear();
      for (const mailbox of this.#mailboxes.values()) mailbox.end(failure);
      this.#mailboxes.clear();
    }
  }

  #push(response: Response): void {
    if (response.tag === RESPONSE.GNOTE && response.body.length === 8) {
      const seq = Number(
        new DataView(response.body.buffer, response.body.byteOffset).getBigUint64(0),
      );
      this.#groupWatches.get(toHex(response.id))?.(seq);
      return;
    }
    const mailbox = this.#mailboxes.get(toHex(response.id));
    if (!mailbox) return;
    if (response.tag === RESPONSE.MSG && response.body.length >= RELAY_MESSAGE_ID_SIZE) {
      mailbox.push({
        id: response.body.slice(0, RELAY_MESSAGE_ID_SIZE),
        envelope: response.body.slice(RELAY_MESSAGE_ID_SIZE),
      });
    } else if (response.tag === RESPONSE.END) {
      this.#mailboxes.delete(toHex(response.id));
      mailbox.end();
    }
  }

  /** Sends one command (signed with `key` if given) and resolves with its answer. */
  async #command(
    tag: number,
    id: Uint8Array,
    body: Uint8Array,
    key: QueueKey | undefined,
  ): Promise<Response> {
    if (this.#closed) throw new Error("the relay connection is closed");
    const seq = ++this.#seq;
    let auth: Uint8Array = new Uint8Array(0);
    if (key) {
      const message = commandMessage(this.#hello.nonce, seq, signedPart(tag, id, body));
      auth = await registry.signature(key.algorithm).sign(key.secretKey, message);
    }
    const response = new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(seq);
        reject(new Error("the relay did not answer in time"));
      }, this.#timeout);
      this.#waiting.set(seq, { resolve, reject, timer });
    });
    try {
      await this.#connection.sendRelayFrame(encodeCommand({ seq, auth, tag, id, body }));
    } catch (e) {
      const waiting = this.#waiting.get(seq);
      if (waiting) {
        clearTimeout(waiting.timer);
        this.#waiting.delete(seq);
      }
      throw e;
    }
    const answer = await response;
    if (answer.tag === RESPONSE.ERR) {
      if (answer.body[0] === RELAY_ERROR.STALE_EPOCH && answer.body.length === 9) {
        throw new RelayStaleEpochError(
          new DataView(answer.body.buffer, answer.body.byteOffset).getBigUint64(1),
        );
      }
      throw new RelayError(answer.body[0] ?? RELAY_ERROR.SYNTAX);
    }
    return answer;
  }

  /**
   * Creates a queue authorized by `key`; resolves with its receiving and sending ids. See also
   * {@linkcode openInbox}.
   */
  async create(key: QueueKey): Promise<{ receivingId: Uint8Array; sendingId: Uint8Array }> {
    const answer = await this.#command(COMMAND.NEW, new Uint8Array(0), encodeAuthKey(key), key);
    if (answer.tag !== RESPONSE.IDS || answer.body.length !== 2 * QUEUE_ID_SIZE) {
      throw new RelayError(RELAY_ERROR.SYNTAX, "unexpected answer to NEW");
    }
    return {
      receivingId: answer.body.slice(0, QUEUE_ID_SIZE),
      sendingId: answer.body.slice(QUEUE_ID_SIZE),
    };
  }

  /** Secures a queue: from now on only SENDs signed by `senderKey` are accepted. */
  async secure(receivingId: Uint8Array, key: QueueKey, senderKey: AuthKey): Promise<void> {
    await this.#command(COMMAND.KEY, receivingId, encodeAuthKey(senderKey), key);
  }

  /**
   * Deposits a sealed envelope in the queue with this sending id; resolves with the message id
   * once the relay stored it durably. Unsigned until the queue is secured, then signed with
   * `options.key`. A SEND that got no answer (the connection or the relay failed) is retried with
   * the same `options.messageId`: the relay stores it once.
   */
  async send(
    sendingId: Uint8Array,
    envelope: SealedEnvelope | Uint8Array,
    options: SendOptions = {},
  ): Promise<Uint8Array> {
    if (!(envelope instanceof Uint8Array) || !isRelayEnvelope(envelope)) {
      throw new TypeError("envelope must be a binary sealed polycrypt envelope");
    }
    const id = options.messageId ?? crypto.getRandomValues(new Uint8Array(RELAY_MESSAGE_ID_SIZE));
    if (id.length !== RELAY_MESSAGE_ID_SIZE) {
      throw new RangeError(`messageId must be ${RELAY_MESSAGE_ID_SIZE} bytes`);
    }
    await this.#command(COMMAND.SEND, sendingId, concatBytes(id, envelope), options.key);
    return id;
  }

  /** The queue's oldest message (GET), or undefined when it is empty. It stays until acked. */
  async fetch(receivingId: Uint8Array, key: QueueKey): Promise<RelayMessage | undefined> {
    const answer = await this.#command(COMMAND.GET, receivingId, new Uint8Array(0), key);
    if (answer.tag === RESPONSE.EMPTY) return undefined;
    return {
      id: answer.body.slice(0, RELAY_MESSAGE_ID_SIZE),
      envelope: answer.body.slice(RELAY_MESSAGE_ID_SIZE),
    };
  }

  /**
   * Deletes a delivered message. Resolves true when it was deleted now, false when the queue no
   * longer held it (a retried ACK).
   */
  async ack(receivingId: Uint8Array, key: QueueKey, id: Uint8Array): Promise<boolean> {
    try {
      await this.#command(COMMAND.ACK, receivingId, id, key);
      return true;
    } catch (e) {
      if (e instanceof RelayError && e.code === RELAY_ERROR.NO_MSG) return false;
      throw e;
    }
  }

  /**
   * Subscribes to a queue: its messages as they arrive, one at a time (the next comes after the
   * {@linkcode RelayClient.ack} of this one). Ends when another connection subscribes to the
   * queue, or throws when this connection fails.
   */
  async subscribe(receivingId: Uint8Array, key: QueueKey): Promise<AsyncIterable<RelayMessage>> {
    const name = toHex(receivingId);
    const mailbox = this.#mailboxes.get(name) ?? new Mailbox();
    this.#mailboxes.set(name, mailbox);
    try {
      await this.#command(COMMAND.SUB, receivingId, new Uint8Array(0), key);
    } catch (e) {
      this.#mailboxes.delete(name);
      throw e;
    }
    if (!this.#pinger) {
      this.#pinger = setInterval(() => {
        this.ping().catch(() => {});
      }, this.#pingEvery);
      // Deno only: the pinger does not keep a process alive (a page has no such notion).
      (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(
        this.#pinger as unknown as number,
      );
    }
    return {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const next = mailbox.items.shift();
          if (next) {
            yield next;
            continue;
          }
          if (mailbox.ended) {
            if (mailbox.error) throw mailbox.error;
            return;
          }
          await mailbox.wait();
        }
      },
    };
  }

  /** Deletes the queue with its messages and bundles. */
  async del(receivingId: Uint8Array, key: QueueKey): Promise<void> {
    await this.#command(COMMAND.DEL, receivingId, new Uint8Array(0), key);
    const mailbox = this.#mailboxes.get(toHex(receivingId));
    this.#mailboxes.delete(toHex(receivingId));
    mailbox?.end();
  }

  /**
   * Publishes prekey bundles (opaque bytes): one-time ones, each popped by one fetch, or with
   * `lastResort` the one bundle returned when none is left. Resolves with the one-time bundles held.
   */
  async publish(
    receivingId: Uint8Array,
    key: QueueKey,
    bundles: readonly Uint8Array[],
    options: { replace?: boolean; lastResort?: boolean } = {},
  ): Promise<number> {
    const flags = (options.replace ? PUBLISH_REPLACE : 0) |
      (options.lastResort ? PUBLISH_LAST_RESORT : 0);
    const answer = await this.#command(
      COMMAND.PUBLISH,
      receivingId,
      encodeBundles(bundles, flags),
      key,
    );
    return new DataView(answer.body.buffer, answer.body.byteOffset).getUint32(0);
  }

  /** Takes one bundle of the queue with this sending id, or undefined when none is published. */
  async fetchBundle(sendingId: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      const answer = await this.#command(COMMAND.FETCH, sendingId, new Uint8Array(0), undefined);
      return answer.body.slice();
    } catch (e) {
      if (e instanceof RelayError && e.code === RELAY_ERROR.NO_BUNDLE) return undefined;
      throw e;
    }
  }

  /**
   * Creates the group queue `groupId` (24 bytes, chosen by the group: `docs/relay.md` section
   * 10) at `epoch`, authorized by that epoch's key. Creating it again with the same epoch and key
   * is a success (a retry); otherwise `AUTH`.
   */
  async createGroupQueue(groupId: Uint8Array, key: QueueKey, epoch: bigint): Promise<void> {
    const e = new Uint8Array(8);
    new DataView(e.buffer).setBigUint64(0, epoch);
    await this.#command(COMMAND.GNEW, groupId, concatBytes(e, encodeAuthKey(key)), key);
  }

  /**
   * Posts a mode-0x03 group message (an MLS application, proposal or commit `PrivateMessage`)
   * to a group queue, signed by the key of the epoch it was made in; a commit gives the next
   * epoch's key (`nextKey`). Resolves with its sequence number. Rejects with
   * {@linkcode RelayStaleEpochError} when the queue is at another epoch (another commit came
   * first). A post that got no answer is retried with the same `messageId`: the relay answers
   * the sequence number it stored it at.
   */
  async groupPost(
    groupId: Uint8Array,
    key: QueueKey,
    envelope: Uint8Array,
    options: { nextKey?: AuthKey; messageId?: Uint8Array } = {},
  ): Promise<number> {
    const id = options.messageId ?? crypto.getRandomValues(new Uint8Array(RELAY_MESSAGE_ID_SIZE));
    if (id.length !== RELAY_MESSAGE_ID_SIZE) {
      throw new RangeError(`messageId must be ${RELAY_MESSAGE_ID_SIZE} bytes`);
    }
    const next = options.nextKey ? encodeAuthKey(options.nextKey) : new Uint8Array(0);
    const length = new Uint8Array(2);
    new DataView(length.buffer).setUint16(0, next.length);
    const answer = await this.#command(
      COMMAND.GPOST,
      groupId,
      concatBytes(id, length, next, envelope),
      key,
    );
    if (answer.tag !== RESPONSE.SEQ || answer.body.length !== 8) {
      throw new RelayError(RELAY_ERROR.SYNTAX, "unexpected answer to GPOST");
    }
    return Number(new DataView(answer.body.buffer, answer.body.byteOffset).getBigUint64(0));
  }

  /**
   * The group queue's messages made in `epoch` with a sequence number above `after` (at most
   * `limit`, and what fits in one frame), signed by that epoch's key, with the queue's current
   * epoch.
   */
  async groupFetch(
    groupId: Uint8Array,
    key: QueueKey,
    epoch: bigint,
    after: number,
    limit = 256,
  ): Promise<{ current: bigint; messages: GroupQueueMessage[] }> {
    const answer = await this.#command(
      COMMAND.GGET,
      groupId,
      encodeGroupGet(epoch, after, limit),
      key,
    );
    if (answer.tag !== RESPONSE.GMSGS) {
      throw new RelayError(RELAY_ERROR.SYNTAX, "unexpected answer to GGET");
    }
    return parseGroupMessages(answer.body);
  }

  /**
   * Watches a group queue (GSUB, docs/relay.md section 10): `onPost` is called with the sequence
   * number of each message of `epoch` the relay process stores from now on, until this connection
   * watches the queue at another epoch (call again after processing the epoch's commit) or
   * closes. Signed by that epoch's key. A relay with several processes notifies only of the
   * posts made to the process this connection reaches: keep polling, less often.
   */
  async groupWatch(
    groupId: Uint8Array,
    key: QueueKey,
    epoch: bigint,
    onPost: (seq: number) => void,
  ): Promise<void> {
    const body = new Uint8Array(8);
    new DataView(body.buffer).setBigUint64(0, epoch);
    this.#groupWatches.set(toHex(groupId), onPost);
    await this.#command(COMMAND.GSUB, groupId, body, key);
  }

  /** A round trip to the relay. */
  async ping(): Promise<void> {
    await this.#command(COMMAND.PING, new Uint8Array(0), new Uint8Array(0), undefined);
  }

  /** Closes the connection; pending commands fail and subscriptions end. */
  async close(): Promise<void> {
    clearInterval(this.#pinger);
    await this.#connection.close();
    await this.#reading;
  }
}

/**
 * Creates a queue on the relay with a fresh authorization key (default `ed25519`): the recipient's
 * side of an inbox. Keep the result secret except `sendingId`, which goes to the sender.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openInbox, RelayClient, RelayServer, SqliteStore } from "@polycrypt/polycrypt/relay";
 * const server = new RelayServer({ store: new SqliteStore(":memory:") });
 * const relay = await RelayClient.connect(await server.listen("ws://127.0.0.1:0"));
 * const inbox = await openInbox(relay);
 * assert.equal(inbox.receivingId.length, 24);
 * assert.notDeepEqual(inbox.receivingId, inbox.sendingId);
 * await relay.close();
 * await server.close();
 * ```
 */
export async function openInbox(
  client: RelayClient,
  options: { algorithm?: string } = {},
): Promise<Inbox> {
  const key = await generateQueueKey(options.algorithm);
  const ids = await client.create(key);
  return { ...ids, key };
}
