// Internal: exact-length reads over an async stream of byte chunks, with a
// byte budget so that a hostile input cannot make a reader buffer without bound.
import { concatBytes } from "../engines/_bytes.ts";

/**
 * Received chunks waiting to be read, taken off the front in any sizes. The one queue behind
 * {@linkcode ByteReader} and the transports' frame reader.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #length = 0;

  /** Bytes queued. */
  get length(): number {
    return this.#length;
  }

  /** Queues a chunk (empty ones are skipped). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /**
   * Takes the first `min(n, length)` bytes. Unless `copy` is set, bytes that lie in one queued
   * chunk come back as a view of it rather than a copy.
   */
  take(n: number, copy = false): Uint8Array {
    n = Math.min(n, this.#length);
    const first = this.#chunks[0];
    if (!copy && first && first.length >= n) {
      // Fast path: one queued chunk holds it all.
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#length -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const head = this.#chunks[0];
      const take = Math.min(head.length, n - offset);
      out.set(head.subarray(0, take), offset);
      offset += take;
      if (take === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(take);
    }
    this.#length -= n;
    return out;
  }

  /** Takes the first queued chunk whole, or `undefined` when the queue is empty. */
  shift(): Uint8Array | undefined {
    const head = this.#chunks.shift();
    if (head) this.#length -= head.length;
    return head;
  }
}

/** Pulls bytes from an async iterable in the sizes the parser asks for. */
export class ByteReader {
  #source: AsyncIterator<Uint8Array>;
  #queue = new ByteQueue();
  #done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** Buffers until `n` bytes are queued or the source ends. */
  async #fill(n: number): Promise<void> {
    while (this.#queue.length < n && !this.#done) {
      const next = await this.#source.next();
      if (next.done) {
        this.#done = true;
      } else if (next.value.length > 0) {
        if (!(next.value instanceof Uint8Array)) {
          throw new TypeError("stream chunks must be Uint8Array");
        }
        this.#queue.push(next.value);
      }
    }
  }

  /** Reads up to `n` bytes; fewer only at the end of the source. */
  async read(n: number): Promise<Uint8Array> {
    await this.#fill(n);
    return this.#queue.take(n);
  }

  /** Reads exactly `n` bytes or returns `undefined` if the source ends first. */
  async readExact(n: number): Promise<Uint8Array | undefined> {
    const bytes = await this.read(n);
    return bytes.length === n ? bytes : undefined;
  }

  /** Whether the source has no more bytes. */
  async atEnd(): Promise<boolean> {
    await this.#fill(1);
    return this.#queue.length === 0;
  }

  /** Gives back the unread bytes as an async iterable (the reader must not be used after). */
  async *rest(): AsyncGenerator<Uint8Array> {
    for (let head = this.#queue.shift(); head; head = this.#queue.shift()) yield head;
    while (true) {
      const next = await this.#source.next();
      if (next.done) return;
      yield next.value;
    }
  }
}

/** An async iterable over one byte array. */
export async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/** Collects an async iterable of byte chunks into one array. */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of source) parts.push(part);
  return parts.length === 1 ? parts[0] : concatBytes(...parts);
}
