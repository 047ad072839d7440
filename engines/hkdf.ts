/**
 * HKDF (RFC 5869) over SHA-256 and SHA-512, on node:crypto's HMAC.
 *
 * Every message derives half a dozen short keys (DHKEM, hybrid combiner, stanza wrap key, header
 * MAC key, payload keys), so the per-call cost matters more than throughput: node:crypto's
 * synchronous HMAC costs 9-16 us per short HKDF where WebCrypto's asynchronous HMAC or HKDF
 * costs 30-50 us (bench/kem_report.ts, `deno task bench:kem`). The `*Sync` forms are for callers
 * that are synchronous anyway; the async forms return the same bytes.
 *
 * @example
 * ```ts
 * import { hkdf } from "./hkdf.ts";
 * const okm = await hkdf("SHA-256", new Uint8Array(32), new Uint8Array(0), new TextEncoder().encode("info"), 42);
 * console.log(okm.length); // 42
 * ```
 *
 * @module
 */
import { checkBytes } from "./_bytes.ts";
import { hmacSync } from "./_hash.ts";
import { nodeCrypto } from "./_node.ts";
import { settle } from "./_cache.ts";

/** Hash functions HKDF is offered with. */
export type HkdfHash = "SHA-256" | "SHA-512";

const HASH_SIZE: Record<HkdfHash, number> = { "SHA-256": 32, "SHA-512": 64 };
const NODE_NAME: Record<HkdfHash, string> = { "SHA-256": "sha256", "SHA-512": "sha512" };

function checkHash(hash: HkdfHash): number {
  const size = Object.hasOwn(HASH_SIZE, hash) ? HASH_SIZE[hash] : undefined;
  if (size === undefined) throw new TypeError(`hash must be "SHA-256" or "SHA-512"`);
  return size;
}

function checkLength(length: number, hashSize: number): void {
  if (!Number.isSafeInteger(length) || length < 0 || length > 255 * hashSize) {
    throw new RangeError(`length must be an integer from 0 to ${255 * hashSize}`);
  }
}

/**
 * HMAC (RFC 2104) of the concatenated `data`, synchronously on node:crypto.
 *
 * @example
 * ```ts
 * import { hmac } from "./hkdf.ts";
 * console.log(hmac("SHA-256", new Uint8Array(32), new Uint8Array([1, 2])).length); // 32
 * ```
 */
export function hmac(hash: HkdfHash, key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  checkHash(hash);
  return hmacSync(hash, key, data);
}

/**
 * HKDF-Extract (RFC 5869 section 2.2): `PRK = HMAC-Hash(salt, IKM)`.
 * An empty salt means HashLen zero bytes, as the RFC says.
 *
 * @example
 * ```ts
 * import { hkdfExtractSync } from "./hkdf.ts";
 * console.log(hkdfExtractSync("SHA-256", new Uint8Array(0), new Uint8Array(22)).length); // 32
 * ```
 */
export function hkdfExtractSync(hash: HkdfHash, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  const size = checkHash(hash);
  checkBytes("salt", salt);
  checkBytes("ikm", ikm);
  return hmac(hash, salt.length === 0 ? new Uint8Array(size) : salt, ikm);
}

/**
 * HKDF-Expand (RFC 5869 section 2.3). `length` is at most 255 * HashLen; `prk` at least HashLen.
 *
 * @example
 * ```ts
 * import { hkdfExpandSync } from "./hkdf.ts";
 * console.log(hkdfExpandSync("SHA-512", new Uint8Array(64), new Uint8Array(0), 100).length); // 100
 * ```
 */
export function hkdfExpandSync(
  hash: HkdfHash,
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const size = checkHash(hash);
  checkBytes("prk", prk);
  checkBytes("info", info);
  checkLength(length, size);
  if (prk.length < size) throw new RangeError(`prk must be at least ${size} bytes`);
  const out = new Uint8Array(length);
  // T(i) = HMAC(PRK, T(i-1) || info || i), T(0) empty.
  let block: Uint8Array = new Uint8Array(0);
  for (let i = 1, offset = 0; offset < length; i++, offset += size) {
    block = hmac(hash, prk, block, info, new Uint8Array([i]));
    out.set(block.subarray(0, Math.min(size, length - offset)), offset);
  }
  return out;
}

/**
 * Full HKDF: extract then expand.
 *
 * @example
 * ```ts
 * import { hkdfSync } from "./hkdf.ts";
 * console.log(hkdfSync("SHA-256", new Uint8Array(32), new Uint8Array(0), new Uint8Array(0), 32).length); // 32
 * ```
 */
export function hkdfSync(
  hash: HkdfHash,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const size = checkHash(hash);
  checkBytes("ikm", ikm);
  checkBytes("salt", salt);
  checkBytes("info", info);
  checkLength(length, size);
  if (length === 0) return new Uint8Array(0);
  // node's one-call HKDF (8-9 us for a short key) takes at most 1024 bytes of info.
  const node = nodeCrypto();
  if (node && info.length <= 1024) {
    return new Uint8Array(node.hkdfSync(NODE_NAME[hash], ikm, salt, info, length));
  }
  return hkdfExpandSync(hash, hkdfExtractSync(hash, salt, ikm), info, length);
}

/**
 * {@linkcode hkdfExtractSync} as a promise.
 *
 * @example
 * ```ts
 * import { hkdfExtract } from "./hkdf.ts";
 * const prk = await hkdfExtract("SHA-256", new Uint8Array(0), new Uint8Array(22).fill(0x0b));
 * console.log(prk.length); // 32
 * ```
 */
export function hkdfExtract(
  hash: HkdfHash,
  salt: Uint8Array,
  ikm: Uint8Array,
): Promise<Uint8Array> {
  return settle(() => hkdfExtractSync(hash, salt, ikm));
}

/**
 * {@linkcode hkdfExpandSync} as a promise.
 *
 * @example
 * ```ts
 * import { hkdfExpand } from "./hkdf.ts";
 * const okm = await hkdfExpand("SHA-512", new Uint8Array(64), new Uint8Array(0), 100);
 * console.log(okm.length); // 100
 * ```
 */
export function hkdfExpand(
  hash: HkdfHash,
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  return settle(() => hkdfExpandSync(hash, prk, info, length));
}

/**
 * {@linkcode hkdfSync} as a promise.
 *
 * @example
 * ```ts
 * import { hkdf } from "./hkdf.ts";
 * const key = await hkdf("SHA-256", crypto.getRandomValues(new Uint8Array(32)), new Uint8Array(0), new Uint8Array(0), 32);
 * console.log(key.length); // 32
 * ```
 */
export function hkdf(
  hash: HkdfHash,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  return settle(() => hkdfSync(hash, ikm, salt, info, length));
}
