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
