// Shared fixtures for the cascade tests.
import assert from "node:assert/strict";
import { ARGON2_FLOOR, generateIdentity } from "../../mod.ts";
import { concatBytes } from "../../engines/_bytes.ts";

/** The cheapest Argon2id the format accepts: keeps password tests fast. */
export const FAST_ARGON2 = ARGON2_FLOOR;

const identities = new Map<string, Promise<{ identity: string; recipient: string }>>();

/** One identity per engine id, made once per test process. */
export function identityFor(id: string): Promise<{ identity: string; recipient: string }> {
  let p = identities.get(id);
  if (!p) {
    p = generateIdentity(id);
    identities.set(id, p);
  }
  return p;
}

/** Deterministic pseudo-random bytes (fast, for large test inputs). */
export function patternBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Splits bytes into pieces of the given sizes (cycled), as a ReadableStream. */
export function streamOf(
  bytes: Uint8Array,
  pieceSizes: number[] = [65536],
): ReadableStream<Uint8Array> {
  const pieces: Uint8Array[] = [];
  for (let offset = 0, i = 0; offset < bytes.length; i++) {
    const size = Math.max(1, pieceSizes[i % pieceSizes.length]);
    pieces.push(bytes.slice(offset, offset + size));
    offset += size;
  }
  return ReadableStream.from(pieces);
}

/** Reads a stream to one array. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return concatBytes(...await Array.fromAsync(stream));
}

export { assertRejects } from "../../testing/assert.ts";

/** Byte equality without printing megabytes on failure. */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what = "bytes"): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: differ at byte ${i}`);
  }
}
