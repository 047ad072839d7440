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
 * user may free the memory at once (by detaching the buffer) instead of leaving it to the
 * collector: V8 collects array buffers only now and then, and garbage batches of 1 MiB piled up to
 * 150 MiB over a 1 GiB file. Two kinds, each freed by one kind of user only:
 *
 * - `"batch"`: STREAM's output batches (cascade/stream.ts), freed by the CLI's writers once
 *   written. A library caller may keep one (`decrypt` can return one): nothing else frees them.
 * - `"piece"`: the pieces the CLI reads a file in (cli/_io.ts), freed by STREAM once it has sealed
 *   or opened them. Only the CLI makes them, and it hands each one to one stream and keeps none.
 */
const HANDED_OFF = { batch: new WeakSet<Uint8Array>(), piece: new WeakSet<Uint8Array>() };

/** Which user may free a handed-off array: see {@linkcode HANDED_OFF}. */
export type HandOff = keyof typeof HANDED_OFF;

/** Marks `bytes` as handed off, to be freed by users of `kind`; returns it. */
export function handOff(bytes: Uint8Array, kind: HandOff): Uint8Array {
  HANDED_OFF[kind].add(bytes);
  return bytes;
}

/**
 * Frees the buffer of `bytes` now when it was handed off as `kind`: called by its last user, once
 * done with it. Any other array is left alone, as are buffers on a platform without
 * `ArrayBuffer.prototype.transfer`.
 */
export function freeHandedOff(bytes: Uint8Array, kind: HandOff): void {
  if (!HANDED_OFF[kind].delete(bytes)) return;
  const buffer = bytes.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  buffer.transfer?.(0);
}
