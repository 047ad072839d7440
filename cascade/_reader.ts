// Internal: exact-length reads over an async stream of byte chunks, with a
// byte budget so that a hostile input cannot make a reader buffer without bound.

/** Pulls bytes from an async iterable in the sizes the parser asks for. */
export class ByteReader {
  #source: AsyncIterator<Uint8Array>;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  /** Buffers until `n` bytes are queued or the source ends; returns what is queued (<= n). */
  async #fill(n: number): Promise<void> {
    while (this.#queued < n && !this.#done) {
      const next = await this.#source.next();
      if (next.done) {
        this.#done = true;
      } else if (next.value.length > 0) {
        if (!(next.value instanceof Uint8Array)) {
          throw new TypeError("stream chunks must be Uint8Array");
        }
        this.#queue.push(next.value);
        this.#queued += next.value.length;
      }
    }
  }

  #take(n: number): Uint8Array {
    n = Math.min(n, this.#queued);
    const first = this.#queue[0];
    if (first && first.length >= n) {
      // Fast path: one queued chunk holds it all.
      const out = first.subarray(0, n);
      if (first.length === n) this.#queue.shift();
      else this.#queue[0] = first.subarray(n);
      this.#queued -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const head = this.#queue[0];
      const take = Math.min(head.length, n - offset);
      out.set(head.subarray(0, take), offset);
      offset += take;
      if (take === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(take);
    }
    this.#queued -= n;
    return out;
  }

  /** Reads up to `n` bytes; fewer only at the end of the source. */
  async read(n: number): Promise<Uint8Array> {
    await this.#fill(n);
    return this.#take(n);
  }

  /** Reads exactly `n` bytes or returns `undefined` if the source ends first. */
  async readExact(n: number): Promise<Uint8Array | undefined> {
    const bytes = await this.read(n);
    return bytes.length === n ? bytes : undefined;
  }

  /** Whether the source has no more bytes. */
  async atEnd(): Promise<boolean> {
    await this.#fill(1);
    return this.#queued === 0;
  }

  /** Gives back the unread bytes as an async iterable (the reader must not be used after). */
  async *rest(): AsyncGenerator<Uint8Array> {
    while (this.#queue.length) {
      const head = this.#queue.shift()!;
      this.#queued -= head.length;
      yield head;
    }
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
  let total = 0;
  for await (const part of source) {
    parts.push(part);
    total += part.length;
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
