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
 * import assert from "node:assert/strict";
 * import { hkdf } from "@polycrypt/polycrypt";
 * // RFC 5869 Appendix A.1 (test case 1).
 * const ikm = new Uint8Array(22).fill(0x0b);
 * const salt = Uint8Array.fromHex("000102030405060708090a0b0c");
 * const info = Uint8Array.fromHex("f0f1f2f3f4f5f6f7f8f9");
 * const okm = await hkdf("SHA-256", ikm, salt, info, 42);
 * assert.equal(
 *   okm.toHex(),
 *   "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
 * );
 * ```
 *
 * @module
 */
import { checkBytes } from "./_bytes.ts";
import { hmacSync, webHkdf } from "./_hash.ts";
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
 * import assert from "node:assert/strict";
 * import { hmac } from "@polycrypt/polycrypt";
 * // RFC 4231 test case 2; the data may come in pieces.
 * const key = new TextEncoder().encode("Jefe");
 * const [a, b] = ["what do ya want ", "for nothing?"].map((s) => new TextEncoder().encode(s));
 * assert.equal(
 *   hmac("SHA-256", key, a, b).toHex(),
 *   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
 * );
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
 * import assert from "node:assert/strict";
 * import { hkdfExtractSync } from "@polycrypt/polycrypt";
 * // RFC 5869 Appendix A.3: an empty salt.
 * const prk = hkdfExtractSync("SHA-256", new Uint8Array(0), new Uint8Array(22).fill(0x0b));
 * assert.equal(prk.toHex(), "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
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
 * import assert from "node:assert/strict";
 * import { hkdfExpandSync } from "@polycrypt/polycrypt";
 * // RFC 5869 Appendix A.3: PRK from an empty salt, empty info.
 * const prk = Uint8Array.fromHex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
 * assert.equal(
 *   hkdfExpandSync("SHA-256", prk, new Uint8Array(0), 42).toHex(),
 *   "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
 * );
 * assert.throws(() => hkdfExpandSync("SHA-256", prk, new Uint8Array(0), 255 * 32 + 1), RangeError);
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
 * import assert from "node:assert/strict";
 * import { hkdfExpandSync, hkdfExtractSync, hkdfSync } from "@polycrypt/polycrypt";
 * const ikm = new Uint8Array(32).fill(7), salt = new Uint8Array(16), info = new Uint8Array([1]);
 * const okm = hkdfSync("SHA-512", ikm, salt, info, 80);
 * assert.deepEqual(okm, hkdfExpandSync("SHA-512", hkdfExtractSync("SHA-512", salt, ikm), info, 80));
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
 * import assert from "node:assert/strict";
 * import { hkdfExtract } from "@polycrypt/polycrypt";
 * // RFC 5869 Appendix A.3.
 * const prk = await hkdfExtract("SHA-256", new Uint8Array(0), new Uint8Array(22).fill(0x0b));
 * assert.equal(prk.toHex(), "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
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
 * import assert from "node:assert/strict";
 * import { hkdfExpand, hkdfExpandSync } from "@polycrypt/polycrypt";
 * const prk = new Uint8Array(64).fill(1);
 * const okm = await hkdfExpand("SHA-512", prk, new Uint8Array(0), 100);
 * assert.deepEqual(okm, hkdfExpandSync("SHA-512", prk, new Uint8Array(0), 100));
 * await assert.rejects(hkdfExpand("SHA-512", new Uint8Array(16), new Uint8Array(0), 32), RangeError);
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
 * {@linkcode hkdfSync} as a promise. Where the platform has no node:crypto (a browser), it is
 * WebCrypto's HKDF, the same bytes in about half the time of the synchronous fallback (Chromium
 * 156: 9-10 us against 16-21 us for a 32-byte key).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hkdf, hkdfSync } from "@polycrypt/polycrypt";
 * const ikm = crypto.getRandomValues(new Uint8Array(32)), none = new Uint8Array(0);
 * const key = await hkdf("SHA-256", ikm, none, none, 32);
 * assert.deepEqual(key, hkdfSync("SHA-256", ikm, none, none, 32));
 * assert.notDeepEqual(key, await hkdf("SHA-256", ikm, none, new Uint8Array([1]), 32));
 * ```
 */
export function hkdf(
  hash: HkdfHash,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  if (nodeCrypto() !== undefined || typeof globalThis.crypto?.subtle?.deriveBits !== "function") {
    return settle(() => hkdfSync(hash, ikm, salt, info, length));
  }
  try {
    const size = checkHash(hash);
    checkBytes("ikm", ikm);
    checkBytes("salt", salt);
    checkBytes("info", info);
    checkLength(length, size);
  } catch (e) {
    return Promise.reject(e);
  }
  // WebCrypto refuses an empty HKDF key; the synchronous code takes that rare case.
  if (length === 0 || ikm.length === 0) {
    return settle(() => hkdfSync(hash, ikm, salt, info, length));
  }
  return webHkdf(hash, ikm, salt, info, length);
}
