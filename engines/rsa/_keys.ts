// Internal: RSA key encodings. node-forge parses and re-encodes PEM/DER (PKCS#1, PKCS#8, SPKI);
// node:crypto validates what the engines use.
import forge from "node-forge";
import type { KeyObject } from "node:crypto";
import { InvalidKeyError } from "../../errors.ts";
import { checkBytes } from "../_bytes.ts";
import { LruCache, secretTag } from "../_cache.ts";
import { nodeCrypto } from "../_node.ts";

function binaryString(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

function fromBinaryString(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function asn1(input: Uint8Array | string, name: string): forge.asn1.Asn1 {
  try {
    if (typeof input === "string") {
      const pem = forge.pem.decode(input)[0];
      if (!pem) throw new Error("no PEM block");
      return forge.asn1.fromDer(pem.body, { strict: true });
    }
    return forge.asn1.fromDer(binaryString(input), { strict: true });
  } catch {
    throw new InvalidKeyError(`${name} is not a DER or PEM encoded RSA key`);
  }
}

/**
 * `read(input)` for a caller's key: `input` must be bytes or text, and any failure to read it
 * (its encoding or the key) is an InvalidKeyError with `message`.
 */
function readKey<K>(
  input: Uint8Array | string,
  name: string,
  read: (input: Uint8Array | string) => K,
  message: string,
): K {
  if (typeof input !== "string") checkBytes(name, input);
  try {
    return read(input);
  } catch {
    throw new InvalidKeyError(message);
  }
}

/**
 * Converts an RSA private key (PKCS#8 or PKCS#1, DER bytes or PEM text) to PKCS#8 DER.
 * forge's `privateKeyFromAsn1` accepts both PrivateKeyInfo and RSAPrivateKey.
 */
export function toPkcs8Der(input: Uint8Array | string): Uint8Array {
  const key = readKey(input, "secretKey", forgePrivateKey, "secretKey is not an RSA private key");
  const info = forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key));
  return fromBinaryString(forge.asn1.toDer(info).getBytes());
}

/**
 * Converts an RSA public key (SPKI or PKCS#1, DER bytes or PEM text) to SPKI DER.
 * forge's `publicKeyFromAsn1` accepts both SubjectPublicKeyInfo and RSAPublicKey.
 */
export function toSpkiDer(input: Uint8Array | string): Uint8Array {
  const key = readKey(input, "publicKey", forgePublicKey, "publicKey is not an RSA public key");
  return fromBinaryString(forge.asn1.toDer(forge.pki.publicKeyToAsn1(key)).getBytes());
}

/** forge's view of an RSA public key (SPKI or PKCS#1), for the pure-JS backend and toSpkiDer. */
export function forgePublicKey(key: Uint8Array | string): forge.pki.rsa.PublicKey {
  return forge.pki.publicKeyFromAsn1(asn1(key, "publicKey")) as forge.pki.rsa.PublicKey;
}

/** forge's view of an RSA private key (PKCS#8 or PKCS#1), for the pure-JS backend and toPkcs8Der. */
export function forgePrivateKey(key: Uint8Array | string): forge.pki.rsa.PrivateKey {
  return forge.pki.privateKeyFromAsn1(asn1(key, "secretKey")) as forge.pki.rsa.PrivateKey;
}

/** Bytes from forge's binary strings and back. */
export { binaryString, fromBinaryString };

/**
 * Parses and checks an SPKI public key with forge: an RSA key with exactly `bits` of modulus
 * and an odd exponent >= 3 (RFC 8017 section 3.1). forge, not node:crypto, because Deno's
 * native RSA refuses public keys over 4096 bits.
 */
export function checkedPublicKey(spki: Uint8Array, bits: number): forge.pki.rsa.PublicKey {
  let key: forge.pki.rsa.PublicKey;
  try {
    key = forgePublicKey(spki);
  } catch {
    throw new InvalidKeyError("publicKey is not a DER SubjectPublicKeyInfo of an RSA key");
  }
  if (key.n.bitLength() !== bits) {
    throw new InvalidKeyError(
      `publicKey has a ${key.n.bitLength()}-bit modulus; this engine takes ${bits}`,
    );
  }
  if (
    key.e.compareTo(forge.jsbn.BigInteger.ONE.add(forge.jsbn.BigInteger.ONE)) <= 0 ||
    !key.e.testBit(0)
  ) {
    throw new InvalidKeyError("publicKey has an invalid public exponent");
  }
  return key;
}

/**
 * A checked private key: node:crypto's KeyObject, or forge's key where the platform has no
 * node:crypto (engines/_node.ts). Also the identity the backends' per-key caches hang on.
 */
export type PrivateKeyHandle = KeyObject | forge.pki.rsa.PrivateKey;

// Parsed private keys of recent identities, by size and secretTag: parsing a PKCS#8 RSA key
// costs about 270 us here, 3% of an RSA-3072 decryption, and decapsulation needs it twice.
const privateKeyObjects = new LruCache<string, PrivateKeyHandle>(16);

/** A PKCS#8 private key checked for the engine's size (node:crypto's view where it exists). */
export function privateKeyObject(pkcs8: Uint8Array, bits: number): PrivateKeyHandle {
  const tag = `${bits}:${secretTag(pkcs8)}`;
  return privateKeyObjects.getOrCreate(tag, () => parsePrivateKey(pkcs8, bits));
}

function parsePrivateKey(pkcs8: Uint8Array, bits: number): PrivateKeyHandle {
  const node = nodeCrypto();
  if (!node) return parseForgePrivateKey(pkcs8, bits);
  let key: KeyObject;
  try {
    key = node.createPrivateKey({ key: pkcs8 as unknown as Buffer, format: "der", type: "pkcs8" });
  } catch {
    throw new InvalidKeyError("secretKey is not a DER PKCS#8 PrivateKeyInfo");
  }
  checkDetails(key, bits, "secretKey");
  return key;
}

/** The same checks in forge, for platforms without node:crypto. */
function parseForgePrivateKey(pkcs8: Uint8Array, bits: number): forge.pki.rsa.PrivateKey {
  let key: forge.pki.rsa.PrivateKey;
  try {
    key = forgePrivateKey(pkcs8);
    if (!key.n || !key.e) throw new Error("not RSA");
  } catch {
    throw new InvalidKeyError("secretKey is not a DER PKCS#8 PrivateKeyInfo");
  }
  const modulusLength = key.n.bitLength();
  if (modulusLength !== bits) {
    throw new InvalidKeyError(
      `secretKey has a ${modulusLength}-bit modulus; this engine takes ${bits}`,
    );
  }
  if (key.e.compareTo(new forge.jsbn.BigInteger("3", 10)) < 0 || !key.e.testBit(0)) {
    throw new InvalidKeyError("secretKey has an invalid public exponent");
  }
  return key;
}

/** The modulus size of a checked key. */
export function modulusBits(key: PrivateKeyHandle): number {
  return "asymmetricKeyDetails" in key
    ? key.asymmetricKeyDetails?.modulusLength ?? 0
    : key.n.bitLength();
}

function checkDetails(key: KeyObject, bits: number, name: string): void {
  // (node:crypto reads private keys of any size; only its public-key parser stops at 4096 bits.)
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType !== "rsa" || !details) {
    throw new InvalidKeyError(`${name} is not an RSA key`);
  }
  if (details.modulusLength !== bits) {
    throw new InvalidKeyError(
      `${name} has a ${details.modulusLength}-bit modulus; this engine takes ${bits}`,
    );
  }
  // RFC 8017 section 3.1: e is an odd integer, 3 <= e <= n - 1.
  const e = details.publicExponent ?? 0n;
  if (e < 3n || e % 2n === 0n) throw new InvalidKeyError(`${name} has an invalid public exponent`);
}
