// Key fingerprints and safety numbers (docs/contacts.md sections 1 and 2).
import { parseRecipient } from "../cascade/keys.ts";
import { sha256 } from "../engines/_hash.ts";
import { nodeCrypto } from "../engines/_node.ts";
import { sha512 as nobleSha512 } from "@noble/hashes/sha2.js";

const encoder = new TextEncoder();

/** The domain-separation label hashed before the recipient string (docs/contacts.md §1). */
const FINGERPRINT_LABEL = "polycrypt-fingerprint-v1:";
/** Bytes of SHA-256 kept in a fingerprint: 160 bits, 32 base32 characters. */
export const FINGERPRINT_BYTES = 20;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 without padding; `bytes.length * 8` must be a multiple of 5. */
function base32(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(buffer >> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

/** A recipient string checked by `parseRecipient` and trimmed: the bytes both sides hash. */
function canonical(recipient: string): string {
  if (typeof recipient !== "string") throw new TypeError("recipient must be a string");
  parseRecipient(recipient); // FormatError / InvalidKeyError for anything that is not a key
  return recipient.trim();
}

/**
 * The fingerprint of a recipient (a public key): the first 20 bytes (160 bits) of
 * `SHA-256("polycrypt-fingerprint-v1:" || recipient)` in RFC 4648 base32, eight groups of four
 * characters separated by spaces (docs/contacts.md section 1). It covers the whole recipient
 * string (its version, engine id and every public key it carries), is short enough to read
 * aloud, and finding another key with the same fingerprint takes about 2^160 hashes.
 *
 * Throws `FormatError` when `recipient` is not a valid recipient string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRecipient, fingerprint } from "@polycrypt/polycrypt";
 * const bob = encodeRecipient("x25519", new Uint8Array(32).fill(9));
 * assert.equal(fingerprint(bob), "7VOF ZIPY IHHK 7ESF OLJX LU2C UDEY YZK7");
 * assert.equal(fingerprint(` ${bob}\n`), fingerprint(bob)); // surrounding blanks do not count
 * ```
 */
export function fingerprint(recipient: string): string {
  return fingerprintOfCanonical(canonical(recipient));
}

/**
 * Internal: {@linkcode fingerprint} of a recipient string the caller just encoded (so canonical
 * and valid): no parse, and nothing added to the recipient cache (cascade/signed.ts names every
 * sender this way).
 */
export function fingerprintOfCanonical(recipient: string): string {
  const digest = sha256(encoder.encode(FINGERPRINT_LABEL), encoder.encode(recipient));
  return base32(digest.subarray(0, FINGERPRINT_BYTES)).match(/.{4}/g)!.join(" ");
}

/** SHA-512 iterations per side of a safety number, as Signal's (docs/contacts.md §2). */
export const SAFETY_NUMBER_ITERATIONS = 5200;
/** The stable identifier hashed into each side of a safety number (docs/contacts.md §2). */
const SAFETY_NUMBER_ID = "polycrypt-safety-number-v1";

/**
 * One side of a numeric fingerprint, Signal's construction: `hash = SHA-512(0x0000 || key || id
 * || key)`, then `iterations - 1` times `hash = SHA-512(hash || key)`; the first 30 bytes as six
 * 5-byte big-endian numbers, each mod 100000, in 5 digits. Internal, exported for the tests
 * (Signal's vector).
 */
export function numericSide(key: Uint8Array, stableId: Uint8Array, iterations: number): string {
  if (!Number.isSafeInteger(iterations) || iterations < 2) {
    throw new RangeError("iterations must be an integer of at least 2");
  }
  const node = nodeCrypto();
  const hash = (...parts: Uint8Array[]): Uint8Array => {
    if (node) {
      const h = node.createHash("sha512");
      for (const p of parts) h.update(p);
      return new Uint8Array(h.digest());
    }
    const h = nobleSha512.create();
    for (const p of parts) h.update(p);
    return h.digest();
  };
  let digest = hash(new Uint8Array(2), key, stableId, key);
  for (let i = 1; i < iterations; i++) digest = hash(digest, key);
  let out = "";
  for (let offset = 0; offset < 30; offset += 5) {
    let x = 0n;
    for (const b of digest.subarray(offset, offset + 5)) x = (x << 8n) | BigInt(b);
    out += String(x % 100000n).padStart(5, "0");
  }
  return out;
}

/**
 * The safety number of two parties: 60 digits that both compute alike from their two recipient
 * strings, to compare in person or on a call, in the style of Signal's safety numbers (docs/
 * contacts.md section 2). Each side is 30 digits from 5,200 iterations of SHA-512 over that
 * party's recipient string; the two halves are sorted, so the order of the arguments does not
 * matter. Use {@linkcode formatSafetyNumber} to show it in groups.
 *
 * Throws `FormatError` when either argument is not a valid recipient string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRecipient, safetyNumber } from "@polycrypt/polycrypt";
 * const alice = encodeRecipient("x25519", new Uint8Array(32).fill(9));
 * const bob = encodeRecipient("x25519", new Uint8Array(32).fill(7));
 * const number = safetyNumber(alice, bob);
 * assert.match(number, /^\d{60}$/);
 * assert.equal(safetyNumber(bob, alice), number); // the same on both sides
 * ```
 */
export function safetyNumber(mine: string, theirs: string): string {
  const id = encoder.encode(SAFETY_NUMBER_ID);
  const [a, b] = [mine, theirs].map((r) =>
    numericSide(encoder.encode(canonical(r)), id, SAFETY_NUMBER_ITERATIONS)
  );
  return a < b ? a + b : b + a;
}

/**
 * A safety number in twelve groups of five digits, three lines of four, as Signal shows it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSafetyNumber } from "@polycrypt/polycrypt";
 * assert.equal(
 *   formatSafetyNumber("0".repeat(30) + "1".repeat(30)),
 *   "00000 00000 00000 00000\n00000 00000 11111 11111\n11111 11111 11111 11111",
 * );
 * ```
 */
export function formatSafetyNumber(digits: string): string {
  if (!/^\d{60}$/.test(digits)) throw new RangeError("a safety number has 60 digits");
  const groups = digits.match(/\d{5}/g)!;
  return [0, 4, 8].map((i) => groups.slice(i, i + 4).join(" ")).join("\n");
}
