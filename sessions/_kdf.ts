// Internal: the Double Ratchet's key derivations (docs/sessions.md sections 4 and 5) and its raw
// X25519. Everything here is synchronous: node:crypto's HMAC, HKDF and X25519 where the platform
// has them (engines/_hash.ts, engines/hkdf.ts, engines/ecc/_montgomery.ts), @noble/* elsewhere.
import { DecryptionError } from "../errors.ts";
import { rawX25519 } from "../engines/ecc/_montgomery.ts";
import { hmacSync } from "../engines/_hash.ts";
import { hkdfSync } from "../engines/hkdf.ts";
import type { KemKeyPair } from "../engines/types.ts";

const encoder = new TextEncoder();
const MESSAGE_KEY_SEED = new Uint8Array([0x01]);
const CHAIN_KEY_SEED = new Uint8Array([0x02]);
const ZERO_SALT = new Uint8Array(32);
const EMPTY = new Uint8Array(0);

/** Bytes of every root, chain, message and header key. */
export const KEY_SIZE = 32;

/**
 * KDF_CK as libsignal computes it (`ChainKey::calculate_base_material`): the message key
 * `MK = HMAC(CK, 0x01)` and the next chain key `CK' = HMAC(CK, 0x02)`.
 */
export function kdfCk(ck: Uint8Array): { mk: Uint8Array; ck: Uint8Array } {
  return {
    mk: hmacSync("SHA-256", ck, [MESSAGE_KEY_SEED]),
    ck: hmacSync("SHA-256", ck, [CHAIN_KEY_SEED]),
  };
}

const rootInfo = new Map<string, Uint8Array>();

/**
 * KDF_RK_HE: `RK' || CK || NHK = HKDF(DH_out || KEM_SS, salt = RK,
 * info = "polycrypt/session/1 root " || kem_id, 96)`; `kemSs` is empty without a KEM step.
 */
export function kdfRkHe(
  rk: Uint8Array,
  dhOut: Uint8Array,
  kemSs: Uint8Array,
  kemId: string,
): { rk: Uint8Array; ck: Uint8Array; nhk: Uint8Array } {
  let info = rootInfo.get(kemId);
  if (!info) {
    info = encoder.encode("polycrypt/session/1 root " + kemId);
    rootInfo.set(kemId, info);
  }
  const ikm = new Uint8Array(dhOut.length + kemSs.length);
  ikm.set(dhOut);
  ikm.set(kemSs, dhOut.length);
  const okm = hkdfSync("SHA-256", ikm, rk, info, 3 * KEY_SIZE);
  ikm.fill(0);
  return {
    rk: okm.subarray(0, KEY_SIZE),
    ck: okm.subarray(KEY_SIZE, 2 * KEY_SIZE),
    nhk: okm.subarray(2 * KEY_SIZE),
  };
}

const messageInfo = new Map<string, Uint8Array>();

/**
 * The message AEAD's key and nonce from `MK`: `HKDF(MK, salt = 0x00{32},
 * info = "polycrypt/session/1 message key " || aead_id, keySize + nonceSize)`.
 */
export function messageKeys(
  mk: Uint8Array,
  aeadId: string,
  keySize: number,
  nonceSize: number,
): { key: Uint8Array; nonce: Uint8Array } {
  let info = messageInfo.get(aeadId);
  if (!info) {
    info = encoder.encode("polycrypt/session/1 message key " + aeadId);
    messageInfo.set(aeadId, info);
  }
  const okm = hkdfSync("SHA-256", mk, ZERO_SALT, info, keySize + nonceSize);
  return { key: okm.subarray(0, keySize), nonce: okm.subarray(keySize) };
}

const HEADER_NONCE_INFO = encoder.encode("polycrypt/session/1 header nonce");

/** The header AEAD's nonce: `nonce_h` itself for a 12-byte nonce, else HKDF of it. */
export function headerNonce(nonceH: Uint8Array, nonceSize: number): Uint8Array {
  if (nonceSize === nonceH.length) return nonceH;
  return hkdfSync("SHA-256", nonceH, EMPTY, HEADER_NONCE_INFO, nonceSize);
}

/** A fresh X25519 key pair; from `random(32)` when the test hook gives one. */
export function generateDh(random?: (length: number) => Uint8Array): KemKeyPair {
  return rawX25519().generate(random?.(32));
}

/**
 * `DH(sk, pk)` (RFC 7748 X25519); an invalid point or an all-zero output (a small-order point)
 * is a {@linkcode DecryptionError}: the peer's key came in a message.
 */
export function dh(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  let out: Uint8Array;
  try {
    out = rawX25519().dh(secretKey, publicKey);
  } catch {
    throw new DecryptionError();
  }
  let any = 0;
  for (let i = 0; i < out.length; i++) any |= out[i];
  if (out.length !== 32 || any === 0) throw new DecryptionError();
  return out;
}
