/**
 * Transport frames, version 1 (`docs/transports.md`): `version || type || u32 length || payload`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FRAME, FrameReader } from "@polycrypt/polycrypt/transports";
 * const bytes = encodeFrame(FRAME.ack, new Uint8Array(16));
 * const reader = new FrameReader(ReadableStream.from([bytes]));
 * const frame = await reader.next();
 * assert.equal(frame?.type, FRAME.ack);
 * assert.equal(frame?.payload.length, 16);
 * assert.equal(await reader.next(), undefined);
 * ```
 *
 * @module
 */
import { PolycryptError } from "../errors.ts";
import { ByteQueue } from "../cascade/_reader.ts";
import { checkReceipt, RECEIPT_SIZE } from "./message.ts";
import {
  DEFAULT_BUDGET_BYTES,
  type Holder,
  Ledger,
  ledgerOf,
  ledgers,
  nextSequence,
  ON_BYTES,
  unwatch,
  type Waiter,
  watch,
} from "./_budget.ts";

/** The most one read from a byte stream asks for. */
const READ_BYTES = 64 * 1024;

/** Frees the memory of `chunk`, a buffer no one else holds (its views become empty). */
function release(chunk: Uint8Array): void {
  (chunk.buffer as ArrayBuffer).transfer(0);
}

/** Frame format version. */
export const FRAME_VERSION = 0x01;

/** Frame types. */
export const FRAME: Readonly<{ envelope: 0x01; part: 0x02; end: 0x03; ack: 0x04 }> = Object
  .freeze({ envelope: 0x01, part: 0x02, end: 0x03, ack: 0x04 });

const TYPES: ReadonlySet<number> = new Set(Object.values(FRAME));

/**
 * The RELAY frame type (`docs/relay.md` section 2): a relay command or response, accepted only by
 * readers opened with {@linkcode FrameReaderOptions.relayFrames}; any other reader refuses it as an
 * unknown frame type, as before it existed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FrameError, FrameReader, RELAY_FRAME } from "@polycrypt/polycrypt/transports";
 * const bytes = encodeFrame(RELAY_FRAME, new Uint8Array([1, 2]));
 * const relay = new FrameReader(ReadableStream.from([bytes]), { relayFrames: true });
 * assert.equal((await relay.next())?.type, RELAY_FRAME);
 * await assert.rejects(new FrameReader(ReadableStream.from([bytes])).next(), FrameError);
 * ```
 */
export const RELAY_FRAME = 0x05;

/** Header bytes before each payload. */
export const FRAME_HEADER_SIZE = 6;

/** Default largest payload a receiver accepts: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Default time a receiver waits for the rest of an incomplete frame or stream. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/**
 * Default longest time one frame may take from its first byte to its last: 120 s. The sender cuts
 * streams into 1 MiB frames, which need only 8.7 KiB/s to arrive in time (below the minimum rate).
 */
export const DEFAULT_FRAME_TIMEOUT_MS = 120_000;

/**
 * Default minimum average rate of a frame or stream once its grace period is over: 16 KiB/s. A
 * legitimate sender on the slowest links polycrypt aims at (Tor, a poor mobile link) goes faster;
 * an attacker must spend this much bandwidth on every connection it holds open (16 MiB/s to hold
 * the 1,024 connections of a listener), instead of one byte now and then.
 */
export const DEFAULT_MIN_BYTES_PER_SECOND = 16 * 1024;

/**
 * Default grace period before {@linkcode DEFAULT_MIN_BYTES_PER_SECOND} applies: 10 s, time for a
 * slow link's first round trips (TLS, Tor circuits). A frame header (6 bytes) and any message of
 * up to 160 KiB sent at the minimum rate arrive within it.
 */
export const DEFAULT_RATE_GRACE_MS = 10_000;

/** Message ids (ACK payloads) are this long. */
export const MESSAGE_ID_SIZE = 16;

/**
 * Throws RangeError unless `id` is a {@linkcode MESSAGE_ID_SIZE}-byte message id and `receipt` is
 * absent or a receipt: what every `acknowledge` checks before it answers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkAck, RECEIPT_SIZE } from "@polycrypt/polycrypt/transports";
 * checkAck(new Uint8Array(16), new Uint8Array(RECEIPT_SIZE));
 * assert.throws(() => checkAck(new Uint8Array(15)), RangeError);
 * assert.throws(() => checkAck(new Uint8Array(16), new Uint8Array(3)), RangeError);
 * ```
 */
export function checkAck(id: unknown, receipt?: unknown): void {
  if (!(id instanceof Uint8Array) || id.length !== MESSAGE_ID_SIZE) {
    throw new RangeError(`id must be ${MESSAGE_ID_SIZE} bytes`);
  }
  checkReceipt(receipt);
}

/**
 * A peer broke the frame protocol: the connection is closed. The message names the rule, never
 * any received bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameError, PolycryptError } from "@polycrypt/polycrypt/transports";
 * const e = new FrameError("unknown frame type");
 * assert.equal(e.message, "unknown frame type");
 * assert.ok(e instanceof PolycryptError);
 * ```
 */
export class FrameError extends PolycryptError {}

/** One received frame. */
export interface Frame {
  /** One of the {@linkcode FRAME} values. */
  readonly type: number;
  /** The payload: an envelope, a piece of one, or a message id. */
  readonly payload: Uint8Array;
}

/**
 * Encodes one frame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FRAME } from "@polycrypt/polycrypt/transports";
 * assert.deepEqual(encodeFrame(FRAME.end, new Uint8Array(0)), new Uint8Array([1, 3, 0, 0, 0, 0]));
 * assert.throws(() => encodeFrame(0x7f, new Uint8Array(0)), RangeError);
 * ```
 */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  if (!TYPES.has(type) && type !== RELAY_FRAME) {
    throw new RangeError("type must be a FRAME value");
  }
  if (!(payload instanceof Uint8Array)) throw new TypeError("payload must be a Uint8Array");
  if (payload.length > 0x7fffffff) throw new RangeError("payload is longer than 2^31 - 1 bytes");
  const out = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  out[0] = FRAME_VERSION;
  out[1] = type;
  new DataView(out.buffer).setUint32(2, payload.length);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

/** Default memory for frames in flight, all connections together: 256 MiB. */
export const DEFAULT_FRAME_BUDGET_BYTES: number = DEFAULT_BUDGET_BYTES;

/**
 * Memory shared by frame readers for the frames they hold: the bytes of each incomplete frame as
 * they arrive, and each complete frame until its reader is asked for the next one. When a
 * received chunk takes the total over the capacity, incomplete frames are evicted, the oldest
 * first (the one whose first byte arrived earliest, whichever connection brought the chunk): each
 * evicted reader fails with {@linkcode FrameError} and its connection closes. A peer that holds
 * memory with a frame it never finishes is the first to go; a frame that is moving completes.
 * Complete frames are never evicted (the application holds them). Every reader without a
 * `frameBudget` of its own shares one process-wide budget of
 * {@linkcode DEFAULT_FRAME_BUDGET_BYTES}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FRAME, FrameBudget, FrameReader } from "@polycrypt/polycrypt/transports";
 * const budget = new FrameBudget(1024);
 * const reader = new FrameReader(ReadableStream.from([encodeFrame(FRAME.envelope, new Uint8Array(100))]), {
 *   frameBudget: budget,
 * });
 * await reader.next();
 * assert.equal(budget.held, 100); // the frame, until the next one is asked for
 * assert.equal(await reader.next(), undefined);
 * assert.equal(budget.held, 0);
 * ```
 */
export class FrameBudget {
  /** Bytes the frames may hold together. */
  readonly capacity: number;

  /**
   * A budget of `capacity` bytes. RangeError unless it is a positive integer.
   *
   * @param capacity the bytes frames may hold together (default 256 MiB)
   */
  constructor(capacity: number = DEFAULT_FRAME_BUDGET_BYTES) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError("the frame budget must be a positive integer");
    }
    this.capacity = capacity;
    ledgers.set(this, new Ledger(capacity));
  }

  /** Bytes held now. */
  get held(): number {
    return ledgers.get(this)!.held;
  }

  /**
   * The most ever held at once. It may pass the capacity by the chunk just received (64 KiB
   * from a socket) for as long as the eviction takes, which is no time at all.
   */
  get peak(): number {
    return ledgers.get(this)!.peak;
  }
}

/** Options of a {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Largest payload accepted (default {@linkcode DEFAULT_MAX_FRAME_BYTES}). */
  maxFrameBytes?: number;
  /** Longest wait for the rest of an incomplete frame (default 30 s; 0 disables). */
  idleTimeoutMs?: number;
  /**
   * Longest time one frame may take from its first byte to its last (default
   * {@linkcode DEFAULT_FRAME_TIMEOUT_MS}; 0 disables).
   */
  frameTimeoutMs?: number;
  /**
   * Minimum average rate, in bytes per second, of a frame or a whole stream (PART frames to END)
   * once {@linkcode FrameReaderOptions.rateGraceMs} is over (default
   * {@linkcode DEFAULT_MIN_BYTES_PER_SECOND}; 0 disables).
   */
  minBytesPerSecond?: number;
  /** Grace period before the minimum rate applies (default {@linkcode DEFAULT_RATE_GRACE_MS}). */
  rateGraceMs?: number;
  /**
   * Longest silence between messages, outside any frame or stream (default 0: none for a dialed
   * connection; listeners default to 60 s). Then the connection ends with a `FrameError`.
   */
  betweenFramesTimeoutMs?: number;
  /**
   * The memory this reader's frames count against (default: one {@linkcode FrameBudget} of 256
   * MiB for the whole process). Give a listener one to share among its connections.
   */
  frameBudget?: FrameBudget;
  /**
   * A relay connection (`docs/relay.md` section 2): {@linkcode RELAY_FRAME} frames are accepted,
   * and {@linkcode Connection.relayFrames} reads them (default false: type 0x05 is unknown).
   */
  relayFrames?: boolean;
}

/**
 * Reads frames from a byte stream with bounded memory: the header is checked before the payload
 * is read or allocated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FRAME, FrameError, FrameReader } from "@polycrypt/polycrypt/transports";
 * // A header announcing 2 GiB is refused before any of it is read or allocated.
 * const huge = new Uint8Array([1, FRAME.envelope, 0x7f, 0xff, 0xff, 0xff]);
 * const reader = new FrameReader(ReadableStream.from([huge]));
 * await assert.rejects(reader.next(), FrameError);
 * ```
 */
export class FrameReader {
  #reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  /** The source is a byte stream (a socket): reads go into buffers this reader sizes and owns. */
  readonly #byob: boolean;
  #queue = new ByteQueue();
  #done = false;
  readonly #max: number;
  readonly #timeout: number;
  readonly #frameTimeout: number;
  readonly #minRate: number;
  readonly #grace: number;
  readonly #between: number;
  readonly #relay: boolean;
  /**
   * Time spent waiting for the peer since the first byte of the frame being read, if one is. Only
   * waits count: while the application does not ask for more (back-pressure), the clocks stop.
   */
  #frameWaited: number | undefined;
  /** The same for the frame or stream being read (an exchange), and the bytes received in it. */
  #exchangeWaited: number | undefined;
  #exchangeBytes = 0;
  /** A stream (PART frames) is open: the exchange lasts until its END. */
  #inStream = false;
  readonly #ledger: Ledger;
  readonly #holder: Holder;
  /** The length of the frame last returned, counted until the next is asked for. */
  #delivered = 0;
  /** The header of the frame whose payload is being read (its bytes count until it is whole). */
  #header = 0;
  #failure: FrameError | undefined;
  /** Told when bytes arrive (the pool's activity clock), if given. */
  readonly #onBytes: (() => void) | undefined;
  /** The read in progress as the shared watchdog sees it, and the error its deadline raises. */
  readonly #waiter: Waiter;
  #dueError = "";

  /**
   * Reads from `source`, which it locks. RangeError for limits out of range.
   *
   * @param source the peer's bytes
   * @param options the size and time limits
   */
  constructor(source: ReadableStream<Uint8Array>, options: FrameReaderOptions = {}) {
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      byob = source.getReader({ mode: "byob" });
    } catch { /* not a byte stream: chunks come as the source cuts them */ }
    this.#byob = byob !== undefined;
    this.#reader = byob ?? source.getReader();
    this.#max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#timeout = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (!Number.isSafeInteger(this.#max) || this.#max < 1 || this.#max > 0x7fffffff) {
      throw new RangeError("maxFrameBytes must be an integer from 1 to 2^31 - 1");
    }
    this.#frameTimeout = options.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS;
    this.#minRate = options.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
    this.#grace = options.rateGraceMs ?? DEFAULT_RATE_GRACE_MS;
    this.#between = options.betweenFramesTimeoutMs ?? 0;
    this.#relay = options.relayFrames === true;
    const times = {
      idleTimeoutMs: this.#timeout,
      frameTimeoutMs: this.#frameTimeout,
      minBytesPerSecond: this.#minRate,
      rateGraceMs: this.#grace,
      betweenFramesTimeoutMs: this.#between,
    };
    for (const [name, value] of Object.entries(times)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`${name} must be a non-negative integer`);
      }
    }
    const budget = options.frameBudget;
    if (budget !== undefined && !(budget instanceof FrameBudget)) {
      throw new TypeError("frameBudget must be a FrameBudget");
    }
    this.#ledger = ledgerOf(budget);
    this.#holder = {
      bytes: 0,
      since: 0,
      evictable: () => this.#queue.length + this.#header > 0 && !this.#failure,
      evict: () => this.#evict(),
    };
    this.#onBytes = (options as { [ON_BYTES]?: () => void })[ON_BYTES];
    this.#waiter = { dueAt: Infinity, expire: () => this.#expire() };
  }

  /** The read in progress missed its deadline: it fails, and the peer's bytes are let go. */
  #expire(): void {
    this.#failure ??= new FrameError(this.#dueError);
    this.#done = true;
    this.#queue = new ByteQueue();
    this.#header = 0;
    this.#ledger.set(this.#holder, this.#delivered);
    // Wakes the read in progress.
    this.#reader.cancel().catch(() => {});
  }

  /** Counts what this reader holds, and relieves the budget if that took it over. */
  #account(): void {
    this.#ledger.set(this.#holder, this.#queue.length + this.#header + this.#delivered);
    this.#ledger.relieve();
    if (this.#failure) throw this.#failure;
  }

  #evict(): void {
    unwatch(this.#waiter);
    this.#failure = new FrameError("the memory for frames in flight is exhausted");
    this.#queue = new ByteQueue();
    this.#delivered = 0;
    this.#header = 0;
    this.#done = true;
    this.#ledger.set(this.#holder, 0);
    // Wakes a read in progress, and lets the peer's bytes go.
    this.#reader.cancel().catch(() => {});
  }

  /**
   * How long the next read may wait, and in `#dueError` the error it raises then: the earliest
   * of the idle timeout of a timed read, the frame's own deadline, the exchange's minimum rate and
   * the silence allowed between messages (Infinity when none applies). Allocates nothing: it runs
   * for every read.
   */
  #deadline(timed: boolean): number {
    let due = Infinity;
    if (timed && this.#timeout > 0) {
      due = this.#timeout;
      this.#dueError = "the peer stalled inside a frame";
    }
    if (this.#frameWaited !== undefined && this.#frameTimeout > 0) {
      const left = this.#frameTimeout - this.#frameWaited;
      if (left < due) {
        due = left;
        this.#dueError = "the peer took too long to send a frame";
      }
    }
    if (this.#exchangeWaited !== undefined && this.#minRate > 0) {
      // Bytes received must keep up with the rate once the grace period is over: the next ones
      // are due when those already received stop covering the time waited.
      const left = this.#grace + this.#exchangeBytes * 1000 / this.#minRate - this.#exchangeWaited;
      if (left < due) {
        due = left;
        this.#dueError = "the peer sent too slowly";
      }
    }
    if (this.#exchangeWaited === undefined && this.#queue.length === 0 && this.#between > 0) {
      if (this.#between < due) {
        due = this.#between;
        this.#dueError = "the connection was idle too long";
      }
    }
    return due;
  }

  /** A frame begins (its first byte is here or arrives now): its clocks start. */
  #begin(): void {
    this.#frameWaited ??= 0;
    if (this.#exchangeWaited === undefined) {
      this.#exchangeWaited = 0;
      this.#exchangeBytes = this.#queue.length;
    }
  }

  /**
   * Pulls one chunk; fails when none arrives before the earliest deadline that applies (with
   * `timed`, the idle timeout too).
   */
  async #pull(timed: boolean, wanted: number): Promise<void> {
    const due = this.#deadline(timed);
    if (due <= 0) throw new FrameError(this.#dueError);
    const started = Date.now();
    // From a byte stream, never more than the frame needs (a chunk never spans two frames, and
    // a connection waiting for a header holds 6 bytes, not a 64 KiB buffer), at most 64 KiB.
    const read = this.#byob
      ? (this.#reader as ReadableStreamBYOBReader).read(
        new Uint8Array(Math.min(wanted, READ_BYTES)),
      )
      : (this.#reader as ReadableStreamDefaultReader<Uint8Array>).read();
    let result: ReadableStreamReadResult<Uint8Array> | { done: true; value?: Uint8Array };
    // The shared watchdog fails the read (and cancels it) if the deadline passes first.
    this.#waiter.dueAt = started + due;
    watch(this.#waiter);
    try {
      result = await read;
    } finally {
      unwatch(this.#waiter);
      const waited = Date.now() - started;
      if (this.#frameWaited !== undefined) this.#frameWaited += waited;
      if (this.#exchangeWaited !== undefined) this.#exchangeWaited += waited;
    }
    if (this.#failure) throw this.#failure;
    if (result.done) {
      this.#done = true;
    } else if (result.value.length > 0) {
      let chunk = result.value;
      if (!(chunk instanceof Uint8Array)) throw new TypeError("chunks must be Uint8Array");
      this.#onBytes?.();
      this.#begin();
      this.#exchangeBytes += chunk.length;
      // A socket read lands in a 64 KiB buffer however few bytes came: a peer sending a byte at
      // a time would pin 64 KiB per byte. Mostly empty buffers are copied out, so the memory
      // held is the bytes counted (within a quarter).
      if (chunk.buffer.byteLength - chunk.length > chunk.length / 4) {
        const read = chunk;
        chunk = chunk.slice();
        // This reader's own read buffer: freed now rather than at the next garbage collection.
        if (this.#byob) release(read);
      }
      if (this.#queue.length === 0) this.#holder.since = nextSequence();
      this.#queue.push(chunk);
      this.#account();
    }
  }

  /** Reads exactly n bytes; `undefined` if the stream ended cleanly before the first byte. */
  async #read(n: number, atBoundary: boolean, timed: boolean): Promise<Uint8Array | undefined> {
    if (this.#failure) throw this.#failure;
    while (this.#queue.length < n && !this.#done) {
      await this.#pull(timed || this.#queue.length > 0, n - this.#queue.length);
    }
    const queue = this.#queue;
    if (queue.length < n) {
      if (atBoundary && queue.length === 0) return undefined;
      throw new FrameError("the connection ended inside a frame");
    }
    if (!this.#byob) {
      // A copy: a frame never shares memory with the chunk it arrived in.
      return queue.take(n, true);
    }
    // From a byte stream, the queue holds exactly these n bytes, in buffers of this reader's
    // own: one that is exactly the frame is the frame; several are copied into one and freed at
    // once, so a received stream does not leave its size in garbage behind it.
    const first = queue.shift()!;
    if (first.length === n && first.byteOffset === 0 && first.buffer.byteLength === n) {
      return first;
    }
    const out = new Uint8Array(n);
    let offset = 0;
    for (let chunk: Uint8Array | undefined = first; chunk; chunk = queue.shift()) {
      out.set(chunk, offset);
      offset += chunk.length;
      release(chunk);
    }
    return out;
  }

  /**
   * The next frame, or `undefined` when the peer closed between frames. `inside` tells the
   * reader that a stream is incomplete, so waiting for its next frame is timed too.
   */
  async next(inside = false): Promise<Frame | undefined> {
    if (this.#queue.length > 0) this.#begin();
    const frame = await this.#frame(inside);
    this.#frameWaited = undefined;
    if (frame?.type === FRAME.part) this.#inStream = true;
    if (frame?.type === FRAME.end) this.#inStream = false;
    if (!this.#inStream) this.#exchangeWaited = undefined;
    return frame;
  }

  async #frame(inside: boolean): Promise<Frame | undefined> {
    // The caller is done with the frame it was given last.
    this.#delivered = 0;
    this.#account();
    const header = await this.#read(FRAME_HEADER_SIZE, true, inside);
    if (!header) return undefined;
    if (header[0] !== FRAME_VERSION) throw new FrameError("unsupported frame version");
    const type = header[1];
    if (!TYPES.has(type) && !(this.#relay && type === RELAY_FRAME)) {
      throw new FrameError("unknown frame type");
    }
    const length = new DataView(header.buffer).getUint32(2);
    if (length > this.#max) throw new FrameError("frame longer than the limit");
    // An ACK is a message id (version 1) or a message id and a receipt (docs/transports.md 9).
    if (
      type === FRAME.ack && length !== MESSAGE_ID_SIZE && length !== MESSAGE_ID_SIZE + RECEIPT_SIZE
    ) {
      throw new FrameError("bad ACK length");
    }
    this.#header = FRAME_HEADER_SIZE;
    const payload = length === 0 ? new Uint8Array(0) : (await this.#read(length, false, true))!;
    this.#header = 0;
    this.#delivered = payload.length;
    // The bytes still queued (if any) belong to the next frame, which begins now.
    this.#holder.since = nextSequence();
    this.#account();
    return { type, payload };
  }

  /** Stops reading and releases the stream. */
  async cancel(): Promise<void> {
    unwatch(this.#waiter);
    this.#done = true;
    this.#queue = new ByteQueue();
    this.#delivered = 0;
    this.#header = 0;
    this.#ledger.set(this.#holder, 0);
    await this.#reader.cancel().catch(() => {});
  }
}
