/**
 * STREAM chunking (Hoang, Reyhanitabar, Rogaway, Vizár, CRYPTO 2015) over a
 * stack of AEADs, with the padding of `docs/format.md` sections 4 and 5.
 *
 * Constant memory for any size: one chunk in flight, padding zeros counted
 * rather than buffered. A chunk's plaintext is released only after every layer
 * of it authenticates.
 *
 * @example
 * ```ts
 * // Internal module: not exported from the package, so the example imports the file.
 * import assert from "node:assert/strict";
 * import { aes256Gcm } from "@polycrypt/polycrypt";
 * import { deriveStreamKeys, openStream, sealStream } from "./stream.ts";
 * import { collect, once } from "./_reader.ts";
 * const keys = await deriveStreamKeys(new Uint8Array(32), new Uint8Array(16), [aes256Gcm]);
 * const sealed = await collect(sealStream(once(new Uint8Array([1, 2, 3])), keys, true));
 * assert.deepEqual(await collect(openStream(once(sealed), keys, true)), new Uint8Array([1, 2, 3]));
 * ```
 *
 * @module
 */
import { DecryptionError } from "../errors.ts";
import { hkdf } from "../engines/hkdf.ts";
import type { AeadEngine, KeyedAead } from "../engines/types.ts";
import { type AeadInto, aeadInto } from "../engines/symmetric/_aead.ts";
import { ByteReader } from "./_reader.ts";
import { freeHandedOff, handOff, pooledBytes, prepend, steady } from "./_splice.ts";
import { padmeLength } from "./padding.ts";

/**
 * Reads `source` until more than `n` bytes have come or it ended, and gives the whole input back.
 * Bytes that came in several pieces are copied as they come (at most `n` of them): a producer may
 * reuse a piece once the next one is asked for. A first piece of more than `n` bytes is not.
 */
async function lookAhead(
  source: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ more: boolean; whole: AsyncGenerator<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const rest = { [Symbol.asyncIterator]: () => iterator };
  let held: Uint8Array | undefined;
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return { more: false, whole: once(held?.subarray(0, size)) };
    const piece = next.value;
    if (size + piece.length > n) {
      const whole = prepend(piece, rest);
      return { more: true, whole: size === 0 ? whole : prepend(held!.subarray(0, size), whole) };
    }
    held ??= new Uint8Array(n);
    held.set(piece, size);
    size += piece.length;
  }
}

/** `bytes`, unless undefined or empty, as a stream. */
async function* once(bytes: Uint8Array | undefined): AsyncGenerator<Uint8Array> {
  if (bytes && bytes.length > 0) yield bytes;
}

/** Plaintext bytes per chunk. */
export const CHUNK_SIZE = 65536;
/** The padding marker that ends the data (ISO/IEC 7816-4 style). */
const MARKER = 0x80;
const encoder = new TextEncoder();

/** The AEAD stack of a STREAM, innermost first, with one key per layer. */
export interface StreamKeys {
  readonly aeads: readonly AeadEngine[];
  readonly keys: readonly Uint8Array[];
}

/**
 * Derives one key per AEAD layer: `HKDF(ikm, salt, "polycrypt/1 payload " || u8 j || id)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256Gcm, xchacha20Poly1305 } from "@polycrypt/polycrypt";
 * import { deriveStreamKeys } from "./stream.ts";
 * const aeads = [aes256Gcm, xchacha20Poly1305];
 * const k = await deriveStreamKeys(new Uint8Array(32), new Uint8Array(16), aeads);
 * assert.equal(k.keys.length, 2);
 * assert.notDeepEqual(k.keys[0], k.keys[1]);
 * ```
 */
export async function deriveStreamKeys(
  ikm: Uint8Array,
  salt: Uint8Array,
  aeads: readonly AeadEngine[],
  label = "polycrypt/1 payload ",
): Promise<StreamKeys> {
  const keys = await Promise.all(aeads.map((aead, j) => {
    const info = new Uint8Array([...encoder.encode(label), j, ...encoder.encode(aead.id)]);
    return hkdf("SHA-256", ikm, salt, info, aead.keySize);
  }));
  return { aeads, keys };
}

/** Plaintext bytes STREAM seals for `dataLength` data bytes: the data, the marker, the padding. */
function paddedLength(dataLength: number, pad: boolean): number {
  return pad ? padmeLength(dataLength + 1) : dataLength + 1;
}

/** Ciphertext bytes a full chunk grows by. */
export function chunkOverhead(keys: StreamKeys): number {
  return keys.aeads.reduce((sum, a) => sum + a.tagSize, 0);
}

function nonceFor(aead: AeadEngine, counter: number, last: boolean): Uint8Array {
  // 0x00{n-12} || u88 counter || flag (docs/format.md section 5).
  const nonce = new Uint8Array(aead.nonceSize);
  let c = counter;
  for (let i = nonce.length - 2; c > 0; i--) {
    nonce[i] = c % 256;
    c = Math.floor(c / 256);
  }
  nonce[nonce.length - 1] = last ? 1 : 0;
  return nonce;
}

interface Layer {
  readonly aead: AeadEngine;
  readonly keyed: KeyedAead;
}

/**
 * Binds each layer's key once per stream (`withKey`, e.g. one WebCrypto key
 * import) instead of once per chunk; engines without `withKey` (third-party
 * plugins) are called with the key every time.
 */
function prepare(keys: StreamKeys): Promise<Layer[]> {
  return Promise.all(keys.aeads.map(async (aead, j) => {
    const key = keys.keys[j];
    // async: a plugin that throws instead of rejecting fails its chunk like any other failure.
    const keyed: KeyedAead = aead.withKey ? await aead.withKey(key) : {
      seal: async (nonce, plaintext, aad) => await aead.seal(key, nonce, plaintext, aad),
      open: async (nonce, ciphertext, aad) => await aead.open(key, nonce, ciphertext, aad),
    };
    return { aead, keyed };
  }));
}

/**
 * Seals (innermost layer first) or opens (outermost first) one chunk through every layer. The
 * first layer is called now, before any await: an engine that reads its input during the call
 * (KeyedAead.readsInputOnCall) is done with `chunk` when this returns. The later layers are
 * chained on its promise, so a one-layer stack costs no extra promise.
 */
function throughLayers(
  op: "seal" | "open",
  layers: readonly Layer[],
  counter: number,
  last: boolean,
  chunk: Uint8Array,
): Promise<Uint8Array> {
  const n = layers.length;
  const layer = (i: number) => layers[op === "seal" ? i : n - 1 - i];
  const first = layer(0);
  let result = first.keyed[op](nonceFor(first.aead, counter, last), chunk);
  for (let i = 1; i < n; i++) {
    const { aead, keyed } = layer(i);
    result = result.then((data) => keyed[op](nonceFor(aead, counter, last), data));
  }
  return result;
}

const sealChunk = (layers: readonly Layer[], counter: number, last: boolean, chunk: Uint8Array) =>
  throughLayers("seal", layers, counter, last, chunk);
const openChunk = (layers: readonly Layer[], counter: number, last: boolean, chunk: Uint8Array) =>
  throughLayers("open", layers, counter, last, chunk);

/**
 * How many chunks may be in the AEADs at once. WebCrypto runs each call off the JS thread, so
 * chunks in flight keep both cores busy. Raw WebCrypto AES-256-GCM over 64 KiB chunks here:
 * 412 MB/s one at a time, 635 with 2, 718 with 4, 807 with 8 in flight; `encryptStream` over
 * 128 MiB: 496-599 MB/s with 3, 655-670 with 8, 627-679 with 12. Sixteen measured no faster
 * over 1 GiB (1.74-1.81 s against 1.70-1.77 s) and raised that stream's peak RSS from 116 to
 * 161-165 MiB (WebCrypto's outputs wait for the collector). Eight chunks are 512 KiB of buffers.
 * Results are still released strictly in order, each only after it authenticated.
 */
const IN_FLIGHT = 8;

/** An in-order queue of chunk operations already started. */
class Pipeline {
  #queue: { result: Promise<Uint8Array>; settled: boolean }[] = [];

  get length(): number {
    return this.#queue.length;
  }

  /** Whether the oldest operation has finished (so taking it does not wait). */
  get headSettled(): boolean {
    return this.#queue.length > 0 && this.#queue[0].settled;
  }

  push(result: Promise<Uint8Array>): void {
    const entry = { result, settled: false };
    // Marks the promise handled: a later chunk failing while an earlier one is taken must not
    // become an unhandled rejection; the failure surfaces when its turn comes.
    result.then(() => entry.settled = true, () => entry.settled = true);
    this.#queue.push(entry);
  }

  shift(): Promise<Uint8Array> {
    return this.#queue.shift()!.result;
  }
}

/**
 * Seals `source` as STREAM chunks: `data || 0x80 || zeros`, the zeros up to
 * the PADME size class when `pad` is set.
 *
 * A whole chunk that lies inside one piece of `source` is handed to the
 * innermost AEAD without a copy when that AEAD reads its input during the call
 * ({@linkcode KeyedAead.readsInputOnCall}, every built-in); the producer may
 * reuse a piece once the next one is asked for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256Gcm } from "@polycrypt/polycrypt";
 * import { deriveStreamKeys, sealStream } from "./stream.ts";
 * import { collect, once } from "./_reader.ts";
 * const keys = await deriveStreamKeys(new Uint8Array(32), new Uint8Array(16), [aes256Gcm]);
 * // 100 bytes and the marker pad to 104 (PADME), plus a 16-byte tag.
 * assert.equal((await collect(sealStream(once(new Uint8Array(100)), keys, true))).length, 120);
 * ```
 */
export async function* sealStream(
  source: AsyncIterable<Uint8Array>,
  keys: StreamKeys,
  pad: boolean,
): AsyncGenerator<Uint8Array> {
  const layers = await prepare(keys);
  // A stream of one chunk (a chat message, a small file) goes through the promises: binding
  // libcrypto for the synchronous batches costs more than such a stream takes.
  const ahead = await lookAhead(source, CHUNK_SIZE);
  source = ahead.whole;
  const sync = ahead.more ? syncLayers(layers) : undefined;
  if (sync) return yield* sealBatches(source, layers, sync, pad);
  // Only an innermost layer that has read its input when the call returns may be given the
  // source's own bytes: the producer may reuse a piece once the next one is asked for.
  const inPlace = layers[0].keyed.readsInputOnCall === true;
  const pipeline = new Pipeline();
  // Each chunk in flight has its own buffer (the AEADs may still be reading it while the next
  // fills); a buffer is reused once its chunk's result is out, which keeps the garbage (and the
  // peak memory of a 1 GiB stream) down.
  const spare: Uint8Array[] = [];
  const inFlight: (Uint8Array | undefined)[] = [];
  let buffer: Uint8Array = new Uint8Array(CHUNK_SIZE);
  let filled = 0;
  let counter = 0;
  let dataLength = 0;
  const dispatch = (last: boolean) => {
    pipeline.push(sealChunk(layers, counter++, last, buffer.subarray(0, filled)));
    inFlight.push(buffer);
    buffer = spare.pop() ?? new Uint8Array(CHUNK_SIZE);
    filled = 0;
  };
  const release = async () => {
    const sealed = await pipeline.shift();
    const done = inFlight.shift();
    if (done) spare.push(done);
    return sealed;
  };
  for await (const piece of source) {
    let offset = 0;
    dataLength += piece.length;
    while (offset < piece.length) {
      if (filled === CHUNK_SIZE) {
        // More bytes follow, so this full chunk is not the last one.
        dispatch(false);
        while (pipeline.length >= IN_FLIGHT || pipeline.headSettled) yield await release();
      }
      if (inPlace && filled === 0 && piece.length - offset >= CHUNK_SIZE) {
        // A whole chunk inside the piece is sealed in place, without a copy. It is not the last
        // chunk: the marker always follows.
        const chunk = piece.subarray(offset, offset + CHUNK_SIZE);
        pipeline.push(sealChunk(layers, counter++, false, chunk));
        inFlight.push(undefined);
        offset += CHUNK_SIZE;
        while (pipeline.length >= IN_FLIGHT || pipeline.headSettled) yield await release();
        continue;
      }
      const take = Math.min(CHUNK_SIZE - filled, piece.length - offset);
      buffer.set(piece.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
    }
    // Every AEAD call has read its input by now (or was given a copy): a file piece of the CLI's
    // goes back to its pool (_splice.ts).
    freeHandedOff(piece, "piece");
  }
  // The tail: marker and zeros, possibly over several chunks.
  let remaining = paddedLength(dataLength, pad) - dataLength;
  let marker = true;
  while (remaining > 0) {
    if (filled === CHUNK_SIZE) {
      dispatch(false);
      while (pipeline.length >= IN_FLIGHT || pipeline.headSettled) yield await release();
    }
    const take = Math.min(CHUNK_SIZE - filled, remaining);
    buffer.fill(0, filled, filled + take);
    if (marker) {
      buffer[filled] = MARKER;
      marker = false;
    }
    filled += take;
    remaining -= take;
  }
  dispatch(true);
  while (pipeline.length > 0) yield await release();
}

/**
 * `sealStream` for a message whose padded form fits one chunk, without the generator and the
 * 64 KiB chunk buffer: the same bytes (one last chunk, counter 0), for chat-sized messages.
 * Returns `undefined` when the message needs more than one chunk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256Gcm } from "@polycrypt/polycrypt";
 * import { deriveStreamKeys, openStream, sealSingleChunk } from "./stream.ts";
 * import { collect, once } from "./_reader.ts";
 * const keys = await deriveStreamKeys(new Uint8Array(32), new Uint8Array(16), [aes256Gcm]);
 * const sealed = await sealSingleChunk(new Uint8Array([1, 2, 3]), keys, true);
 * assert.deepEqual(await collect(openStream(once(sealed!), keys, true)), new Uint8Array([1, 2, 3]));
 * assert.equal(await sealSingleChunk(new Uint8Array(70000), keys, true), undefined);
 * ```
 */
export async function sealSingleChunk(
  data: Uint8Array | readonly Uint8Array[],
  keys: StreamKeys,
  pad: boolean,
): Promise<Uint8Array | undefined> {
  // The data may come in pieces (a signed payload's), written straight into the chunk.
  const parts = data instanceof Uint8Array ? [data] : data;
  let length = 0;
  for (const part of parts) length += part.length;
  const total = paddedLength(length, pad);
  if (total > CHUNK_SIZE) return undefined;
  const chunk = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    chunk.set(part, offset);
    offset += part.length;
  }
  chunk[length] = MARKER;
  return await sealChunk(await prepare(keys), 0, true, chunk);
}

/**
 * `openStream` for a sealed payload of at most one chunk, with the same checks (every layer
 * authenticates, the canonical tail); returns `undefined` when `sealed` is longer than one
 * chunk, so the caller falls back to `openStream`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256Gcm } from "@polycrypt/polycrypt";
 * import { deriveStreamKeys, openSingleChunk, sealStream } from "./stream.ts";
 * import { collect, once } from "./_reader.ts";
 * const keys = await deriveStreamKeys(new Uint8Array(32), new Uint8Array(16), [aes256Gcm]);
 * const sealed = await collect(sealStream(once(new Uint8Array([4, 5])), keys, false));
 * assert.deepEqual(await openSingleChunk(sealed, keys, false), new Uint8Array([4, 5]));
 * ```
 */
export async function openSingleChunk(
  sealed: Uint8Array,
  keys: StreamKeys,
  pad: boolean,
): Promise<Uint8Array | undefined> {
  if (sealed.length > CHUNK_SIZE + chunkOverhead(keys)) return undefined;
  let plain: Uint8Array;
  try {
    plain = await openChunk(await prepare(keys), 0, true, sealed);
  } catch {
    throw new DecryptionError();
  }
  // The data ends at the last non-zero byte, which must be the marker, followed by exactly the
  // zeros sealStream writes (as openStream checks at its end).
  let j = plain.length - 1;
  while (j >= 0 && plain[j] === 0) j--;
  if (j < 0 || plain[j] !== MARKER) throw new DecryptionError();
  if (plain.length !== paddedLength(j, pad)) throw new DecryptionError();
  return plain.subarray(0, j);
}

const ZEROS = new Uint8Array(CHUNK_SIZE);

function* zeros(count: number): Generator<Uint8Array> {
  for (; count > 0; count -= CHUNK_SIZE) yield ZEROS.subarray(0, Math.min(count, CHUNK_SIZE));
}

/**
 * Opens STREAM chunks from `source` and yields the data without its padding.
 * Throws {@linkcode DecryptionError} on any forged, reordered, truncated or
 * extended chunk, or on padding that `sealStream` would not have written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256Gcm, DecryptionError } from "@polycrypt/polycrypt";
 * import { deriveStreamKeys, openStream, sealStream } from "./stream.ts";
 * import { collect, once } from "./_reader.ts";
 * const keys = await deriveStreamKeys(new Uint8Array(32), new Uint8Array(16), [aes256Gcm]);
 * const sealed = await collect(sealStream(once(new Uint8Array(70000)), keys, false));
 * assert.equal((await collect(openStream(once(sealed), keys, false))).length, 70000);
 * // Cut after the first chunk, the stream is truncated.
 * await assert.rejects(collect(openStream(once(sealed.subarray(0, 65552)), keys, false)), DecryptionError);
 * ```
 */
export async function* openStream(
  source: AsyncIterable<Uint8Array> | ByteReader,
  keys: StreamKeys,
  pad: boolean,
): AsyncGenerator<Uint8Array> {
  let reader = source instanceof ByteReader ? source : new ByteReader(source);
  const layers = await prepare(keys);
  const sealedChunk = CHUNK_SIZE + chunkOverhead(keys);
  // As in sealStream: a stream of one chunk goes through the promises.
  const first = await reader.read(sealedChunk);
  const sync = (await reader.atEnd()) ? undefined : syncLayers(layers);
  reader = new ByteReader(prepend(first, reader.rest()));
  if (sync) return yield* openBatches(reader, layers, sync, pad);
  // The last non-zero byte seen (a candidate marker) and the zeros after it
  // are held back until later data shows they were data, not padding.
  let heldByte = -1;
  let heldZeros = 0;
  let dataLength = 0;
  const pipeline = new Pipeline();
  let counter = 0;
  let ended = false;
  for (;;) {
    // Start opening the chunks that follow while earlier ones finish; never more than
    // IN_FLIGHT, and never waiting for input when a finished chunk can be released first.
    while (!ended && pipeline.length < IN_FLIGHT && !pipeline.headSettled) {
      const sealed = await reader.read(sealedChunk);
      const last = await reader.atEnd();
      if (sealed.length === 0 || (sealed.length < sealedChunk && !last)) {
        throw new DecryptionError();
      }
      pipeline.push(openChunk(layers, counter, last, sealed));
      counter++;
      ended = last;
    }
    if (pipeline.length === 0) break;
    const first = counter - pipeline.length === 0;
    let plain: Uint8Array;
    try {
      plain = await pipeline.shift();
    } catch {
      throw new DecryptionError();
    }
    // Only an empty plaintext may be the (only) chunk of an empty stream.
    if (plain.length === 0 && !first) throw new DecryptionError();
    let j = plain.length - 1;
    while (j >= 0 && plain[j] === 0) j--;
    if (j < 0) {
      heldZeros += plain.length;
    } else {
      if (heldByte >= 0) {
        yield new Uint8Array([heldByte]);
        dataLength++;
      }
      yield* zeros(heldZeros);
      dataLength += heldZeros;
      if (j > 0) yield plain.subarray(0, j);
      dataLength += j;
      heldByte = plain[j];
      heldZeros = plain.length - j - 1;
    }
  }
  // Only the exact tail sealStream writes is accepted: one marker, then the
  // canonical number of zeros.
  const expectedZeros = paddedLength(dataLength, pad) - dataLength - 1;
  if (heldByte !== MARKER || heldZeros !== expectedZeros) throw new DecryptionError();
}

// ---------------------------------------------------------------- synchronous batches

/**
 * Chunks per output buffer on the synchronous path: 16 chunks, 1 MiB of plaintext. Each buffer is
 * yielded once full or once the source piece that filled it is used up, whichever comes first, so
 * output never waits for more input.
 */
const BATCH = 16;

/** Every layer's synchronous operations, or `undefined` when one layer has none. */
function syncLayers(layers: readonly Layer[]): AeadInto[] | undefined {
  const ops = layers.map((layer) => aeadInto(layer.keyed));
  return ops.every((op) => op !== undefined) ? ops as AeadInto[] : undefined;
}

/**
 * Buffers between the layers of a stack: `buffers[i]` holds what layer `i` of a full chunk turns
 * into when sealing (what layer `i + 1` turns into when opening), for the layers that do not
 * write into the batch buffer.
 */
function layerBuffers(layers: readonly Layer[]): Uint8Array[] {
  const buffers: Uint8Array[] = [];
  let size = CHUNK_SIZE;
  for (let i = 0; i < layers.length - 1; i++) {
    size += layers[i].aead.tagSize;
    buffers.push(new Uint8Array(size));
  }
  return buffers;
}

/**
 * {@linkcode sealStream} when every layer seals synchronously into a given buffer (libcrypto
 * through FFI): the same bytes, each chunk sealed straight into a batch buffer (no promise or
 * allocation per chunk), whole chunks inside a source piece sealed in place without a copy.
 */
async function* sealBatches(
  source: AsyncIterable<Uint8Array>,
  layers: readonly Layer[],
  ops: readonly AeadInto[],
  pad: boolean,
): AsyncGenerator<Uint8Array> {
  const n = layers.length;
  const overhead = layers.reduce((sum, layer) => sum + layer.aead.tagSize, 0);
  const between = layerBuffers(layers);
  const staging = new Uint8Array(CHUNK_SIZE);
  let filled = 0;
  let counter = 0;
  let dataLength = 0;
  let out: Uint8Array | undefined;
  let used = 0;
  /** Makes room for one more sealed chunk; `chunksAhead` sizes a new buffer. */
  const room = (chunksAhead: number) => {
    out ??= pooledBytes(
      "batch",
      Math.min(BATCH, Math.max(1, Math.ceil(chunksAhead))) * (CHUNK_SIZE + overhead),
    );
    return out.length - used >= CHUNK_SIZE + overhead;
  };
  const take = () => {
    // Nothing here holds the batch once it is out: its last user may free it (_splice.ts).
    const batch = handOff(out!.subarray(0, used), "batch");
    out = undefined;
    used = 0;
    return batch;
  };
  const seal = (chunk: Uint8Array, last: boolean) => {
    let input = chunk;
    for (let i = 0; i < n; i++) {
      const size = input.length + layers[i].aead.tagSize;
      const into = i === n - 1 ? out!.subarray(used, used + size) : between[i].subarray(0, size);
      ops[i].sealInto(nonceFor(layers[i].aead, counter, last), input, into);
      input = into;
    }
    used += input.length;
    counter++;
  };
  for await (const piece of source) {
    dataLength += piece.length;
    let offset = 0;
    while (offset < piece.length) {
      // Room is made only for a chunk this step seals: a batch full before the piece's last bytes
      // go to the staging buffer waits for the end of the piece, to go out split (below).
      const ahead = Math.floor((filled + piece.length - offset) / CHUNK_SIZE);
      if (ahead > 0 && !room(ahead)) {
        yield take();
        room(ahead);
      }
      // Every data chunk is followed by at least the marker, so none of them is the last.
      if (filled === 0 && piece.length - offset >= CHUNK_SIZE) {
        seal(piece.subarray(offset, offset + CHUNK_SIZE), false);
        offset += CHUNK_SIZE;
        continue;
      }
      const count = Math.min(CHUNK_SIZE - filled, piece.length - offset);
      staging.set(piece.subarray(offset, offset + count), filled);
      filled += count;
      offset += count;
      if (filled === CHUNK_SIZE) {
        seal(staging, false);
        filled = 0;
      }
    }
    // Done with the piece: a file piece of the CLI's is freed now (_splice.ts).
    freeHandedOff(piece, "piece");
    if (used > 0) {
      // The batch's last chunk goes out as a piece of its own, as when every chunk did: a
      // consumer that holds back its latest piece (a transport, to send it as the END frame)
      // holds back one chunk while the source waits, not a batch. Only the last view is handed
      // off, so the buffer is given back after both are written.
      const split = used - (CHUNK_SIZE + overhead);
      const batch = out!.subarray(0, used);
      out = undefined;
      used = 0;
      if (split > 0) yield steady(batch.subarray(0, split));
      yield handOff(batch.subarray(Math.max(0, split)), "batch");
    }
  }
  // The tail: marker and zeros, possibly over several chunks, the last one flagged.
  let remaining = paddedLength(dataLength, pad) - dataLength;
  let marker = true;
  for (;;) {
    const count = Math.min(CHUNK_SIZE - filled, remaining);
    staging.fill(0, filled, filled + count);
    if (marker) {
      staging[filled] = MARKER;
      marker = false;
    }
    filled += count;
    remaining -= count;
    const ahead = Math.ceil(remaining / CHUNK_SIZE) + 1;
    if (!room(ahead)) {
      yield take();
      room(ahead);
    }
    if (remaining === 0) break;
    seal(staging, false);
    filled = 0;
  }
  seal(staging.subarray(0, filled), true);
  yield take();
}

/**
 * {@linkcode openStream} when every layer opens synchronously into a given buffer: the same
 * checks and output, the chunks of a batch opened straight into one buffer (whole chunks inside a
 * source piece without a copy), each batch released once every chunk in it authenticated.
 */
async function* openBatches(
  reader: ByteReader,
  layers: readonly Layer[],
  ops: readonly AeadInto[],
  pad: boolean,
): AsyncGenerator<Uint8Array> {
  const n = layers.length;
  const overhead = layers.reduce((sum, layer) => sum + layer.aead.tagSize, 0);
  const sealedChunk = CHUNK_SIZE + overhead;
  const between = layerBuffers(layers);
  // A sealed chunk split over two source pieces, or one that ends a piece (it is the last chunk
  // only if no piece follows), waits here.
  const staging = new Uint8Array(sealedChunk);
  let staged = 0;
  let counter = 0;
  // As in openStream: the last non-zero byte seen and the zeros after it are held back until later
  // data shows they were data, not padding.
  let heldByte = -1;
  let heldZeros = 0;
  let dataLength = 0;
  // A batch buffer keeps one byte in front of its plaintext, for a held byte to go out with it.
  let out: Uint8Array | undefined;
  let used = 0;
  const room = (chunksAhead: number) => {
    out ??= pooledBytes(
      "batch",
      1 + Math.min(BATCH, Math.max(1, Math.ceil(chunksAhead))) * CHUNK_SIZE,
    );
    return out.length - 1 - used >= CHUNK_SIZE;
  };
  const open = (sealed: Uint8Array, last: boolean) => {
    // Only an empty plaintext may be the (only) chunk of an empty stream.
    if (sealed.length < overhead || (sealed.length === overhead && counter > 0)) {
      throw new DecryptionError();
    }
    let input = sealed;
    for (let i = n - 1; i >= 0; i--) {
      const size = input.length - layers[i].aead.tagSize;
      const into = i === 0
        ? out!.subarray(1 + used, 1 + used + size)
        : between[i - 1].subarray(0, size);
      if (!ops[i].openInto(nonceFor(layers[i].aead, counter, last), input, into)) {
        throw new DecryptionError();
      }
      input = into;
    }
    used += input.length;
    counter++;
  };
  /** Releases the batch's plaintext, holding back its last non-zero byte and the zeros after. */
  function* release(): Generator<Uint8Array> {
    if (out === undefined) return;
    const batch = out;
    const plain = batch.subarray(1, 1 + used);
    out = undefined;
    used = 0;
    let j = plain.length - 1;
    while (j >= 0 && plain[j] === 0) j--;
    if (j < 0) {
      // All zeros (padding, or zeros in the data): counted, and the buffer serves the next batch.
      heldZeros += plain.length;
      out = batch;
      return;
    }
    // The state moves on before anything is yielded: the batch's last user may free it then.
    const before = heldByte;
    const zerosBefore = heldZeros;
    dataLength += (before >= 0 ? 1 : 0) + zerosBefore + j;
    heldByte = plain[j];
    heldZeros = plain.length - j - 1;
    if (before >= 0 && zerosBefore === 0) {
      // The held byte goes out in the slot in front of the plaintext: one piece, not two.
      batch[0] = before;
      yield handOff(batch.subarray(0, 1 + j), "batch");
    } else {
      if (before >= 0) yield new Uint8Array([before]);
      yield* zeros(zerosBefore);
      if (j > 0) yield handOff(plain.subarray(0, j), "batch");
    }
  }
  for await (const piece of reader.rest()) {
    if (piece.length === 0) continue;
    let offset = 0;
    if (staged > 0) {
      // More bytes follow the staged chunk now, so if it is whole it is not the last one.
      if (staged < sealedChunk) {
        offset = Math.min(sealedChunk - staged, piece.length);
        staging.set(piece.subarray(0, offset), staged);
        staged += offset;
      }
      if (staged === sealedChunk && offset < piece.length) {
        if (!room(1 + (piece.length - offset) / sealedChunk)) yield* release();
        room(1 + (piece.length - offset) / sealedChunk);
        open(staging, false);
        staged = 0;
      }
    }
    while (piece.length - offset > sealedChunk) {
      if (!room((piece.length - offset) / sealedChunk)) {
        yield* release();
        room((piece.length - offset) / sealedChunk);
      }
      open(piece.subarray(offset, offset + sealedChunk), false);
      offset += sealedChunk;
    }
    if (offset < piece.length) {
      staging.set(piece.subarray(offset), 0);
      staged = piece.length - offset;
    }
    freeHandedOff(piece, "piece");
    yield* release();
  }
  // Whatever is staged is the last chunk; nothing at all is a truncated stream.
  if (staged === 0) throw new DecryptionError();
  room(1);
  open(staging.subarray(0, staged), true);
  yield* release();
  // Only the exact tail sealStream writes is accepted: one marker, then the canonical zeros.
  const expectedZeros = paddedLength(dataLength, pad) - dataLength - 1;
  if (heldByte !== MARKER || heldZeros !== expectedZeros) throw new DecryptionError();
}
