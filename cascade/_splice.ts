// Internal: reading the first bytes of a stream without losing them, and putting bytes back in
// front of one. The one helper behind the CLI's format sniffing, its file-message header and the
// cascade's armor detection.
import { concatBytes } from "../engines/_bytes.ts";

/**
 * Yields `head`, then every chunk of `rest`. Stopping early (a consumer's `return`, a stream's
 * `cancel`) is passed on to `rest`.
 */
export async function* prepend(
  head: Uint8Array,
  rest: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  if (head.length > 0) yield head;
  yield* rest;
}

/**
 * Reads chunks off `source` until at least `n` bytes have arrived (fewer only if it ends first).
 * Returns those bytes, and the whole input again, the bytes read included, as one async iterable.
 */
export async function peek(
  source: AsyncIterable<Uint8Array>,
  n: number,
): Promise<[head: Uint8Array, whole: AsyncGenerator<Uint8Array>]> {
  const iterator = source[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let size = 0;
  let ended = false;
  while (size < n) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    parts.push(next.value);
    size += next.value.length;
  }
  const head = parts.length === 1 ? parts[0] : concatBytes(...parts);
  const rest: AsyncIterable<Uint8Array> = ended
    ? (async function* () {})()
    : { [Symbol.asyncIterator]: () => iterator };
  return [head, prepend(head, rest)];
}
