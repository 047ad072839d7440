/**
 * HKDF (RFC 5869) over SHA-256 and SHA-512, backed by WebCrypto.
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
import { checkBytes, toBuffer } from "./_bytes.ts";

/** Hash functions HKDF is offered with. */
export type HkdfHash = "SHA-256" | "SHA-512";

const HASH_SIZE: Record<HkdfHash, number> = { "SHA-256": 32, "SHA-512": 64 };

function checkHash(hash: HkdfHash): number {
  const size = HASH_SIZE[hash];
  if (size === undefined) throw new TypeError(`hash must be "SHA-256" or "SHA-512"`);
  return size;
}

/**
 * HKDF-Extract (RFC 5869 section 2.2): `PRK = HMAC-Hash(salt, IKM)`.
 * An empty salt means HashLen zero bytes, as the RFC says.
 *
 * @example
 * ```ts
 * import { hkdfExtract } from "./hkdf.ts";
 * const prk = await hkdfExtract("SHA-256", new Uint8Array(0), new Uint8Array(22).fill(0x0b));
 * console.log(prk.length); // 32
 * ```
 */
export async function hkdfExtract(
  hash: HkdfHash,
  salt: Uint8Array,
  ikm: Uint8Array,
): Promise<Uint8Array> {
  const size = checkHash(hash);
  checkBytes("salt", salt);
  checkBytes("ikm", ikm);
  const key = await crypto.subtle.importKey(
    "raw",
    salt.length === 0 ? new Uint8Array(size) : toBuffer(salt),
    { name: "HMAC", hash },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, toBuffer(ikm)));
}

/**
 * HKDF-Expand (RFC 5869 section 2.3). `length` is at most 255 * HashLen.
 *
 * @example
 * ```ts
 * import { hkdfExpand } from "./hkdf.ts";
 * const okm = await hkdfExpand("SHA-512", new Uint8Array(64), new Uint8Array(0), 100);
 * console.log(okm.length); // 100
 * ```
 */
export async function hkdfExpand(
  hash: HkdfHash,
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const size = checkHash(hash);
  checkBytes("prk", prk);
  checkBytes("info", info);
  checkLength(length, size);
  if (prk.length < size) throw new RangeError(`prk must be at least ${size} bytes`);
  const key = await crypto.subtle.importKey("raw", toBuffer(prk), { name: "HMAC", hash }, false, [
    "sign",
  ]);
  const out = new Uint8Array(length);
  let block = new Uint8Array(0);
  for (let i = 1, offset = 0; offset < length; i++) {
    const input = new Uint8Array(block.length + info.length + 1);
    input.set(block);
    input.set(info, block.length);
    input[input.length - 1] = i;
    block = new Uint8Array(await crypto.subtle.sign("HMAC", key, input));
    out.set(block.subarray(0, Math.min(size, length - offset)), offset);
    offset += size;
  }
  return out;
}

/**
 * Full HKDF: extract then expand, in one WebCrypto `deriveBits` call.
 *
 * @example
 * ```ts
 * import { hkdf } from "./hkdf.ts";
 * const key = await hkdf("SHA-256", crypto.getRandomValues(new Uint8Array(32)), new Uint8Array(0), new Uint8Array(0), 32);
 * console.log(key.length); // 32
 * ```
 */
export async function hkdf(
  hash: HkdfHash,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const size = checkHash(hash);
  checkBytes("ikm", ikm);
  checkBytes("salt", salt);
  checkBytes("info", info);
  checkLength(length, size);
  if (length === 0) return new Uint8Array(0);
  const key = await crypto.subtle.importKey("raw", toBuffer(ikm), "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash, salt: toBuffer(salt), info: toBuffer(info) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

function checkLength(length: number, hashSize: number): void {
  if (!Number.isSafeInteger(length) || length < 0 || length > 255 * hashSize) {
    throw new RangeError(`length must be an integer from 0 to ${255 * hashSize}`);
  }
}
