/**
 * A framed connection that carries only sealed envelopes (`docs/transports.md`), over any
 * duplex byte stream: a TCP socket, a WebSocket adapter, or the in-memory pair used in tests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { memoryPair } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const [alice, bobEnd] = memoryPair();
 * await alice.send(await encrypt(new TextEncoder().encode("hi"), { recipients: [bob.recipient] }));
 * const first = (await bobEnd.messages().next()).value;
 * assert.ok(first?.kind === "envelope");
 * const plain = await decrypt(first.envelope, { identities: [bob.identity] });
 * assert.equal(new TextDecoder().decode(plain), "hi");
 * await alice.close();
 * await bobEnd.close();
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Transport } from "./transport.ts";
import { isSealedEnvelope, type SealedChunk, type SealedEnvelope } from "../cascade/envelope.ts";
import {
  checkAck,
  encodeFrame,
  FRAME,
  FrameError,
  FrameReader,
  type FrameReaderOptions,
  MESSAGE_ID_SIZE,
  RELAY_FRAME,
} from "./frame.ts";
import { concatBytes } from "../engines/_bytes.ts";

/** A duplex byte stream, as `Deno.Conn` and `WebSocketStream` connections provide. */
export interface ByteDuplex {
  /** The bytes the peer sends. */
  readonly readable: ReadableStream<Uint8Array>;
  /** The bytes sent to the peer. */
  readonly writable: WritableStream<Uint8Array>;
}

/** What {@linkcode Connection.messages} yields. */
export type Incoming =
  /** A whole envelope, and its message id (to acknowledge it). */
  | { readonly kind: "envelope"; readonly envelope: Uint8Array; readonly id: Uint8Array }
  /**
   * A streamed envelope: its pieces as they arrive, then its id. Read `pieces` to the end before
   * asking for the next message (otherwise the rest is skipped).
   */
  | {
    readonly kind: "stream";
    readonly pieces: AsyncIterable<Uint8Array>;
    readonly id: Promise<Uint8Array>;
  }
  /**
   * The peer received a message of ours in full; with `receipt` when it answered with one
   * (docs/transports.md section 10).
   */
  | { readonly kind: "ack"; readonly id: Uint8Array; readonly receipt?: Uint8Array };

/** An ACK frame's payload as the application sees it: the id, and the receipt if any. */
function ackOf(payload: Uint8Array): Incoming {
  return payload.length === MESSAGE_ID_SIZE ? { kind: "ack", id: payload } : {
    kind: "ack",
    id: payload.subarray(0, MESSAGE_ID_SIZE),
    receipt: payload.subarray(MESSAGE_ID_SIZE),
  };
}

/** Bytes per PART frame when sending a stream. */
const PIECE_SIZE = 1024 * 1024;

function messageId(bytes: Uint8Array): Promise<Uint8Array> {
  // node:crypto at once: WebCrypto's digest goes through another thread and back for each
  // message (about a tenth of a message's time on the XMPP transport, docs/performance.md).
  const digest = createHash("sha256").update(bytes).digest();
  return Promise.resolve(
    new Uint8Array(digest.buffer, digest.byteOffset, MESSAGE_ID_SIZE).slice(),
  );
}

/** The message id of a streamed envelope, hashed piece by piece (WebCrypto has no streaming). */
function streamHasher(): { update(piece: Uint8Array): void; id(): Uint8Array } {
  const hash = createHash("sha256");
  return {
    update: (piece) => void hash.update(piece),
    id: () => new Uint8Array(hash.digest()).slice(0, MESSAGE_ID_SIZE),
  };
}

/** Whether bytes begin like an envelope: magic and mode, or the armor line. */
function startsLikeEnvelope(bytes: Uint8Array): boolean {
  return isSealedEnvelope(bytes);
}

/**
 * One peer-to-peer connection. `send` takes only a `SealedEnvelope` (what `encrypt` returns) and
 * checks the envelope magic again at run time, so cleartext cannot be sent by mistake.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryPair } from "@polycrypt/polycrypt/transports";
 * const [a] = memoryPair();
 * // @ts-expect-error: plain bytes are not a SealedEnvelope
 * await assert.rejects(a.send(new TextEncoder().encode("cleartext")), TypeError);
 * await a.close();
 * ```
 */
export class Connection implements Transport {
  readonly #reader: FrameReader;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #sending: Promise<void> = Promise.resolve();
  #closed = false;

  /**
   * Frames over `duplex`, whose streams it locks.
   *
   * @param duplex the byte stream to the peer (a socket, a WebSocket adapter...)
   * @param options the receiving limits
   */
  constructor(duplex: ByteDuplex, options: FrameReaderOptions = {}) {
    this.#reader = new FrameReader(duplex.readable, options);
    this.#writer = duplex.writable.getWriter();
  }

  /** Writes frames one message at a time: concurrent sends never interleave their frames. */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#sending.then(work);
    this.#sending = run.then(() => {}, () => {});
    return run;
  }

  /**
   * Sends one envelope in one frame (or as a stream of frames when it is bigger than 1 MiB).
   *
   * @returns its message id, which the peer's ACK will carry
   */
  send(envelope: SealedEnvelope): Promise<Uint8Array> {
    if (!isSealedEnvelope(envelope)) {
      return Promise.reject(new TypeError("envelope must be a sealed polycrypt envelope"));
    }
    if (envelope.length > PIECE_SIZE) {
      const pieces = [];
      for (let i = 0; i < envelope.length; i += PIECE_SIZE) {
        pieces.push(envelope.subarray(i, i + PIECE_SIZE) as SealedChunk);
      }
      return this.sendStream(pieces);
    }
    return this.#exclusive(async () => {
      await this.#writer.write(encodeFrame(FRAME.envelope, envelope));
      return await messageId(envelope);
    });
  }

  /**
   * Streams an envelope as it is produced (`encryptStream`'s output): memory stays at one piece
   * whatever the size.
   *
   * @returns its message id
   */
  sendStream(source: AsyncIterable<SealedChunk> | Iterable<SealedChunk>): Promise<Uint8Array> {
    return this.#exclusive(async () => {
      const hasher = streamHasher();
      let first = true;
      let pending: Uint8Array | undefined;
      for await (const chunk of source) {
        if (!(chunk instanceof Uint8Array)) throw new TypeError("stream chunks must be Uint8Array");
        if (first && chunk.length > 0) {
          if (!startsLikeEnvelope(chunk)) {
            throw new TypeError("the stream must be a sealed polycrypt envelope");
          }
          first = false;
        }
        for (let i = 0; i < chunk.length; i += PIECE_SIZE) {
          // Hold one piece back so the last one can go out as END.
          if (pending) await this.#writer.write(encodeFrame(FRAME.part, pending));
          pending = chunk.slice(i, i + PIECE_SIZE);
          hasher.update(pending);
        }
      }
      if (first) throw new TypeError("the stream must be a sealed polycrypt envelope");
      await this.#writer.write(encodeFrame(FRAME.end, pending ?? new Uint8Array(0)));
      return hasher.id();
    });
  }

  /**
   * Tells the peer a message arrived in full; with a `receipt` (`sealReceipt`, docs/transports.md
   * section 10), the ACK carries it after the id.
   */
  acknowledge(id: Uint8Array, receipt?: Uint8Array): Promise<void> {
    try {
      checkAck(id, receipt);
    } catch (e) {
      return Promise.reject(e);
    }
    const payload = receipt === undefined ? id : concatBytes(id, receipt);
    return this.#exclusive(() => this.#writer.write(encodeFrame(FRAME.ack, payload)));
  }

  /**
   * The peer's messages and acknowledgements, in order. Ends when the peer closes between
   * messages; throws {@linkcode FrameError} (and closes) when it breaks the protocol.
   */
  async *messages(): AsyncGenerator<Incoming> {
    try {
      for (;;) {
        const frame = await this.#reader.next();
        if (!frame) return;
        if (frame.type === RELAY_FRAME) throw new FrameError("unexpected relay frame");
        if (frame.type === FRAME.ack) {
          yield ackOf(frame.payload);
        } else if (frame.type === FRAME.envelope) {
          if (!startsLikeEnvelope(frame.payload)) throw new FrameError("not an envelope");
          yield { kind: "envelope", envelope: frame.payload, id: await messageId(frame.payload) };
        } else if (frame.type === FRAME.part || frame.type === FRAME.end) {
          if (!startsLikeEnvelope(frame.payload) && frame.payload.length > 0) {
            throw new FrameError("not an envelope");
          }
          if (frame.type === FRAME.end && frame.payload.length === 0) {
            throw new FrameError("empty stream");
          }
          yield* this.#stream(frame);
        }
      }
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  async *#stream(first: { type: number; payload: Uint8Array }): AsyncGenerator<Incoming> {
    const hasher = streamHasher();
    hasher.update(first.payload);
    const acks: Uint8Array[] = [];
    let resolveId!: (id: Uint8Array) => void;
    let rejectId!: (e: unknown) => void;
    const id = new Promise<Uint8Array>((res, rej) => [resolveId, rejectId] = [res, rej]);
    id.catch(() => {});
    let ended = first.type === FRAME.end;
    const reader = this.#reader;
    async function* pieces(): AsyncGenerator<Uint8Array> {
      try {
        yield first.payload;
        while (!ended) {
          const frame = await reader.next(true);
          if (!frame) throw new FrameError("the connection ended inside a stream");
          if (frame.type === FRAME.ack) {
            acks.push(frame.payload);
            continue;
          }
          if (frame.type !== FRAME.part && frame.type !== FRAME.end) {
            throw new FrameError("a stream was interrupted");
          }
          ended = frame.type === FRAME.end;
          hasher.update(frame.payload);
          if (frame.payload.length > 0) yield frame.payload;
        }
        resolveId(hasher.id());
      } catch (e) {
        rejectId(e);
        throw e;
      }
    }
    const iterator = pieces();
    let drained = false;
    // No return(): an application that stops reading early leaves the rest to be skipped below,
    // so the frames of this stream never get mistaken for the next message.
    const wrapped: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          const result = await iterator.next();
          if (result.done) drained = true;
          return result;
        },
      }),
    };
    yield { kind: "stream", pieces: wrapped, id };
    if (!drained) { while (!(await iterator.next()).done); }
    for (const ack of acks) yield ackOf(ack);
  }

  /**
   * Sends one RELAY frame (`docs/relay.md`): a relay command or response. Only on a connection
   * opened with `relayFrames: true` at both ends; the payload is the relay protocol's business.
   */
  sendRelayFrame(payload: Uint8Array): Promise<void> {
    if (!(payload instanceof Uint8Array)) {
      return Promise.reject(new TypeError("payload must be a Uint8Array"));
    }
    return this.#exclusive(() => this.#writer.write(encodeFrame(RELAY_FRAME, payload)));
  }

  /**
   * The peer's RELAY frame payloads, in order, on a relay connection (opened with
   * `relayFrames: true`), used instead of {@linkcode Connection.messages}. Ends when the peer
   * closes between frames; any other frame type is a {@linkcode FrameError} (and closes).
   */
  async *relayFrames(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const frame = await this.#reader.next();
        if (!frame) return;
        if (frame.type !== RELAY_FRAME) throw new FrameError("not a relay frame");
        yield frame.payload;
      }
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** Closes both directions. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sending;
    await this.#writer.close().catch(() => {});
    await this.#reader.cancel();
  }
}
