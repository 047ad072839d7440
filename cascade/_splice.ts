// Internal: reading the first bytes of a stream without losing them, and putting bytes back in
// front of one. The one helper behind the CLI's format sniffing, its file-message header and the
// cascade's armor detection.
import { concatBytes } from "../engines/_bytes.ts";

/**
 * Yields `head` (unless empty), then every chunk of `rest`. Stopping early (a consumer's
 * `return`, a `ReadableStream.from` stream's `cancel`) is passed on to `rest`, also while `head`
 * is out.
 */
export async function* prepend(
  head: Uint8Array,
  rest: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const iterator = rest[Symbol.asyncIterator]();
  let delegated = false;
  try {
    if (head.length > 0) yield head;
    delegated = true;
    yield* { [Symbol.asyncIterator]: () => iterator };
  } finally {
    // Stopped at `head`: `yield*` never reached `rest`, so the stop is passed on here.
    if (!delegated) await iterator.return?.();
  }
}

/**
 * Reads chunks off `source` until at least `n` bytes have arrived (fewer only if it ends first).
 * Returns those bytes, and the whole input again, the bytes read included, as one async iterable
 * (see {@linkcode prepend}).
 */
export async function peek(
  source: AsyncIterable<Uint8Array>,
  n: number,
): Promise<[head: Uint8Array, whole: AsyncGenerator<Uint8Array>]> {
  const iterator = source[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size < n) {
    const next = await iterator.next();
    if (next.done) break;
    if (!(next.value instanceof Uint8Array)) {
      throw new TypeError("stream chunks must be Uint8Array");
    }
    parts.push(next.value);
    size += next.value.length;
  }
  const head = parts.length === 1 ? parts[0] : concatBytes(...parts);
  return [head, prepend(head, { [Symbol.asyncIterator]: () => iterator })];
}

/**
 * Byte arrays whose buffer nothing but the one holding the array references, so that their last
 * user may hand the memory back at once instead of leaving it to the collector: V8 collects array
 * buffers only now and then (garbage batches of 1 MiB piled up to 150 MiB over a 1 GiB file), and
 * a fresh buffer costs a page fault per 4 KiB on first touch (a third of the CPU time of the CLI's
 * file path, profiled). Two kinds, each given back by one kind of user only:
 *
 * - `"batch"`: STREAM's output batches (cascade/stream.ts), given back by the CLI's writers once
 *   written. A library caller may keep one (`decrypt` can return one): nothing else gives them
 *   back.
 * - `"piece"`: the pieces the CLI reads a file in (cli/_io.ts), given back by STREAM once it has
 *   sealed or opened them. Only the CLI makes them, and it hands each one to one stream and keeps
 *   none.
 *
 * A buffer given back is moved (`ArrayBuffer.prototype.transfer`, no copy) into a small pool that
 * {@linkcode pooledBytes} draws from: every view of the old buffer is detached, so a user that
 * broke the rule would see empty arrays, never another batch's bytes.
 */
const HANDED_OFF = { batch: new WeakSet<Uint8Array>(), piece: new WeakSet<Uint8Array>() };

/** Which user may give a handed-off array back: see {@linkcode HANDED_OFF}. */
export type HandOff = keyof typeof HANDED_OFF;

/** Buffers given back, by kind and size; at most POOL_BYTES of each kind. */
const POOLS = { batch: new Map<number, ArrayBuffer[]>(), piece: new Map<number, ArrayBuffer[]>() };
const pooled = { batch: 0, piece: 0 };
const POOL_BYTES = 4 * 1024 * 1024;

type Transferable = ArrayBuffer & { transfer?: (length?: number) => ArrayBuffer };

/**
 * Views of a `"batch"` buffer besides its handed-off one (STREAM yields a batch's last chunk as a
 * piece of its own): their bytes stay as they are until the handed-off view is given back.
 */
const STEADY = new WeakSet<Uint8Array>();

/** Marks `bytes` as a view of a batch that its producer leaves alone until the batch is given back. */
export function steady(bytes: Uint8Array): Uint8Array {
  STEADY.add(bytes);
  return bytes;
}

/**
 * Whether nothing writes to `bytes` before its last user gives it back: a handed-off `"batch"`, or
 * a {@linkcode steady} view of one. A consumer may then go on reading the stream while it still
 * uses these bytes (the CLI's writer), as long as it gives the batch back only after every view.
 */
export function isSteady(bytes: Uint8Array): boolean {
  return HANDED_OFF.batch.has(bytes) || STEADY.has(bytes);
}

/** Whether `bytes` is handed off as `kind` and not given back yet. */
export function isHandedOff(bytes: Uint8Array, kind: HandOff): boolean {
  return HANDED_OFF[kind].has(bytes);
}

/** Marks `bytes` as handed off, to be given back by users of `kind`; returns it. */
export function handOff(bytes: Uint8Array, kind: HandOff): Uint8Array {
  HANDED_OFF[kind].add(bytes);
  return bytes;
}

/**
 * `size` bytes for a producer of `kind`: a buffer given back earlier when one of that size is
 * pooled (holding old bytes: the producer overwrites what it hands on), else a new one.
 */
export function pooledBytes(kind: HandOff, size: number): Uint8Array {
  const buffer = POOLS[kind].get(size)?.pop();
  if (buffer === undefined) return new Uint8Array(size);
  pooled[kind] -= size;
  return new Uint8Array(buffer);
}

/**
 * Gives the buffer of `bytes` back when it was handed off as `kind`: called by its last user,
 * once done with it. Any other array is left alone, as are buffers on a platform without
 * `ArrayBuffer.prototype.transfer`.
 */
export function freeHandedOff(bytes: Uint8Array, kind: HandOff): void {
  if (!HANDED_OFF[kind].delete(bytes)) return;
  const buffer = bytes.buffer as Transferable;
  if (typeof buffer.transfer !== "function") return;
  const size = buffer.byteLength;
  if (pooled[kind] + size > POOL_BYTES) {
    buffer.transfer(0); // freed now
    return;
  }
  const list = POOLS[kind].get(size) ?? [];
  list.push(buffer.transfer());
  POOLS[kind].set(size, list);
  pooled[kind] += size;
}
