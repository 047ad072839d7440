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
import { RECEIPT_SIZE } from "./message.ts";

/** Frame format version. */
export const FRAME_VERSION = 0x01;

/** Frame types. */
export const FRAME: Readonly<{ envelope: 0x01; part: 0x02; end: 0x03; ack: 0x04 }> = Object
  .freeze({ envelope: 0x01, part: 0x02, end: 0x03, ack: 0x04 });

const TYPES: ReadonlySet<number> = new Set(Object.values(FRAME));

/** Header bytes before each payload. */
export const FRAME_HEADER_SIZE = 6;

/** Default largest payload a receiver accepts: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Default time a receiver waits for the rest of an incomplete frame or stream. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** Message ids (ACK payloads) are this long. */
export const MESSAGE_ID_SIZE = 16;

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
  if (!TYPES.has(type)) throw new RangeError("type must be a FRAME value");
  if (!(payload instanceof Uint8Array)) throw new TypeError("payload must be a Uint8Array");
  if (payload.length > 0x7fffffff) throw new RangeError("payload is longer than 2^31 - 1 bytes");
  const out = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  out[0] = FRAME_VERSION;
  out[1] = type;
  new DataView(out.buffer).setUint32(2, payload.length);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

/** Options of a {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Largest payload accepted (default {@linkcode DEFAULT_MAX_FRAME_BYTES}). */
  maxFrameBytes?: number;
  /** Longest wait for the rest of an incomplete frame (default 30 s; 0 disables). */
  idleTimeoutMs?: number;
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
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #queue = new ByteQueue();
  #done = false;
  readonly #max: number;
  readonly #timeout: number;

  /**
   * Reads from `source`, which it locks. RangeError for limits out of range.
   *
   * @param source the peer's bytes
   * @param options the size and time limits
   */
  constructor(source: ReadableStream<Uint8Array>, options: FrameReaderOptions = {}) {
    this.#reader = source.getReader();
    this.#max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.#timeout = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (!Number.isSafeInteger(this.#max) || this.#max < 1 || this.#max > 0x7fffffff) {
      throw new RangeError("maxFrameBytes must be an integer from 1 to 2^31 - 1");
    }
    if (!Number.isSafeInteger(this.#timeout) || this.#timeout < 0) {
      throw new RangeError("idleTimeoutMs must be a non-negative integer");
    }
  }

  /** Pulls one chunk; with `timed`, fails when none arrives within the idle timeout. */
  async #pull(timed: boolean): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = this.#reader.read();
    const result = timed && this.#timeout > 0
      ? await Promise.race([
        read,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new FrameError("the peer stalled inside a frame")),
            this.#timeout,
          );
        }),
      ]).finally(() => clearTimeout(timer))
      : await read;
    if (result.done) {
      this.#done = true;
    } else if (result.value.length > 0) {
      if (!(result.value instanceof Uint8Array)) throw new TypeError("chunks must be Uint8Array");
      this.#queue.push(result.value);
    }
  }

  /** Reads exactly n bytes; `undefined` if the stream ended cleanly before the first byte. */
  async #read(n: number, atBoundary: boolean, timed: boolean): Promise<Uint8Array | undefined> {
    const queue = this.#queue;
    while (queue.length < n && !this.#done) await this.#pull(timed || queue.length > 0);
    if (queue.length < n) {
      if (atBoundary && queue.length === 0) return undefined;
      throw new FrameError("the connection ended inside a frame");
    }
    // A copy: a frame never shares memory with the chunk it arrived in.
    return queue.take(n, true);
  }

  /**
   * The next frame, or `undefined` when the peer closed between frames. `inside` tells the
   * reader that a stream is incomplete, so waiting for its next frame is timed too.
   */
  async next(inside = false): Promise<Frame | undefined> {
    const header = await this.#read(FRAME_HEADER_SIZE, true, inside);
    if (!header) return undefined;
    if (header[0] !== FRAME_VERSION) throw new FrameError("unsupported frame version");
    const type = header[1];
    if (!TYPES.has(type)) throw new FrameError("unknown frame type");
    const length = new DataView(header.buffer).getUint32(2);
    if (length > this.#max) throw new FrameError("frame longer than the limit");
    // An ACK is a message id (version 1) or a message id and a receipt (docs/transports.md 9).
    if (
      type === FRAME.ack && length !== MESSAGE_ID_SIZE && length !== MESSAGE_ID_SIZE + RECEIPT_SIZE
    ) {
      throw new FrameError("bad ACK length");
    }
    const payload = length === 0 ? new Uint8Array(0) : (await this.#read(length, false, true))!;
    return { type, payload };
  }

  /** Stops reading and releases the stream. */
  async cancel(): Promise<void> {
    this.#done = true;
    await this.#reader.cancel().catch(() => {});
  }
}
