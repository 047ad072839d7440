// Internal: RSA key encodings. node-forge parses and re-encodes PEM/DER (PKCS#1, PKCS#8, SPKI);
// node:crypto validates what the engines use.
import forge from "node-forge";
import type { KeyObject } from "node:crypto";
import { InvalidKeyError } from "../../errors.ts";
import { bytesToBigint, checkBytes, fromBase64 } from "../_bytes.ts";
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

// Public-key validation (NIST SP 800-56B Rev. 2 section 6.4.2.2 and SP 800-89 section 5.3.3,
// the partial public-key validation that needs no secret and no primality test): the modulus is
// odd, has exactly the engine's size and no prime factor below SMALL_PRIME_BOUND; the exponent is
// odd with 2^16 < e < 2^256. The bounds on e make the public operation cheap whatever the key
// says (a hostile 8,191-bit e held an rsa-8192 sender's event loop for 5 s) and imply e < n.
// 752 is SP 800-89's figure ("n has no factors smaller than 752"), the one OpenSSL's
// `RSA_check_key` for SP 800-56B keys uses too: the 132 odd primes below it take about 25 us to
// try on a 2048-bit modulus, and a modulus with such a factor (3 | n was accepted before) is
// either a mistake or a key whose owner's messages anyone can read. What this cannot see (n prime
// or a prime power, p and q too close) needs the factors or a Miller-Rabin run; a recipient who
// publishes such a key only weakens messages to itself.

/** Primes below this bound must not divide a modulus (SP 800-89 section 5.3.3). */
const SMALL_PRIME_BOUND = 752;
const SMALL_PRIMES: readonly bigint[] = (() => {
  const out: bigint[] = [];
  for (let p = 3; p < SMALL_PRIME_BOUND; p += 2) {
    let prime = true;
    for (let d = 3; d * d <= p; d += 2) if (p % d === 0) prime = false;
    if (prime) out.push(BigInt(p));
  }
  return out;
})();
const E_MIN = 1n << 16n; // exclusive
const E_MAX = 1n << 256n; // exclusive

/** A forge BigInteger (or base64url JWK field) as a bigint. */
function toBigInt(value: forge.jsbn.BigInteger | string): bigint {
  if (typeof value === "string") {
    return bytesToBigint(fromBase64(value, { alphabet: "base64url" }));
  }
  return BigInt(`0x${value.toString(16)}`);
}

/**
 * The modulus and exponent checks shared by public and private keys (see above); throws
 * InvalidKeyError naming `name`.
 */
function checkRsaNumbers(n: bigint, e: bigint, bits: number, name: string): void {
  const length = n.toString(2).length;
  if (n <= 0n || length !== bits) {
    throw new InvalidKeyError(`${name} has a ${length}-bit modulus; this engine takes ${bits}`);
  }
  if ((n & 1n) === 0n) throw new InvalidKeyError(`${name} has an even modulus`);
  if ((e & 1n) === 0n || e <= E_MIN || e >= E_MAX) {
    throw new InvalidKeyError(`${name} has an invalid public exponent (odd, 2^16 < e < 2^256)`);
  }
  for (const p of SMALL_PRIMES) {
    if (n % p === 0n) {
      throw new InvalidKeyError(
        `${name} has a modulus with a factor below ${SMALL_PRIME_BOUND}`,
      );
    }
  }
}

/** A checked public key: forge's view for the pure-JS backend, and its modulus. */
export interface CheckedPublicKey {
  /** forge's key. */
  readonly forge: forge.pki.rsa.PublicKey;
  /** The modulus. */
  readonly n: bigint;
  /** The public exponent. */
  readonly e: bigint;
}

/** forge's parse of an RSA key (one with n and e); InvalidKeyError(message) when it fails. */
function forgeRsaKey<K extends { n: unknown; e: unknown }>(parse: () => K, message: string): K {
  try {
    const key = parse();
    if (!key.n || !key.e) throw new Error("not RSA");
    return key;
  } catch {
    throw new InvalidKeyError(message);
  }
}

/**
 * Parses and checks an SPKI public key with forge before anything uses it (above). forge, not
 * node:crypto, because Deno's native RSA refuses public keys over 4096 bits and throws a plain
 * Error on keys it does not like; forge only parses, and the checks come before any arithmetic.
 */
export function checkedPublicKey(spki: Uint8Array, bits: number): CheckedPublicKey {
  // A messenger encapsulates to the same few contacts all day: parse and check each key once
  // (the forge parse, bigint conversion and 132 trial divisions cost about 0.1-0.4 ms).
  const tag = `${bits}:${secretTag(spki)}`;
  const cached = checkedPublicKeys.get(tag);
  if (cached) return cached;
  const key = forgeRsaKey(
    () => forgePublicKey(spki),
    "publicKey is not a DER SubjectPublicKeyInfo of an RSA key",
  );
  const n = toBigInt(key.n);
  const e = toBigInt(key.e);
  checkRsaNumbers(n, e, bits, "publicKey");
  return checkedPublicKeys.set(tag, Object.freeze({ forge: key, n, e }));
}

const checkedPublicKeys = new LruCache<string, CheckedPublicKey>(64);

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
  let jwk: { n?: string; e?: string; p?: string; q?: string };
  try {
    jwk = key.export({ format: "jwk" }) as typeof jwk;
  } catch {
    throw new InvalidKeyError("secretKey is not an RSA key");
  }
  if (!jwk.n || !jwk.e) throw new InvalidKeyError("secretKey is not an RSA key");
  const n = toBigInt(jwk.n);
  checkPrivateNumbers(n, toBigInt(jwk.e), jwk.p && toBigInt(jwk.p), jwk.q && toBigInt(jwk.q), bits);
  moduli.set(key, n);
  return key;
}

/**
 * The public checks on a private key's (n, e), and n = p * q when the key has its factors (one
 * multiplication: a key whose CRT parameters disagree with n would decrypt wrongly, or leak).
 */
function checkPrivateNumbers(
  n: bigint,
  e: bigint,
  p: bigint | "" | undefined,
  q: bigint | "" | undefined,
  bits: number,
): void {
  checkRsaNumbers(n, e, bits, "secretKey");
  if (p && q && p * q !== n) throw new InvalidKeyError("secretKey's factors do not match n");
}

// The modulus of each checked private key (for the key-private encoding, engines/rsa/rsa.ts).
const moduli = new WeakMap<PrivateKeyHandle, bigint>();

/** The modulus of a key `privateKeyObject` returned. */
export function privateModulus(key: PrivateKeyHandle): bigint {
  const n = moduli.get(key);
  if (n !== undefined) return n;
  // Only a key that did not come from privateKeyObject lands here.
  return "n" in key ? toBigInt(key.n) : toBigInt(
    (key.export({ format: "jwk" }) as { n: string }).n,
  );
}

/** The same checks in forge, for platforms without node:crypto. */
function parseForgePrivateKey(pkcs8: Uint8Array, bits: number): forge.pki.rsa.PrivateKey {
  const key = forgeRsaKey(
    () => forgePrivateKey(pkcs8),
    "secretKey is not a DER PKCS#8 PrivateKeyInfo",
  );
  const modulusLength = key.n.bitLength();
  if (modulusLength !== bits) {
    throw new InvalidKeyError(
      `secretKey has a ${modulusLength}-bit modulus; this engine takes ${bits}`,
    );
  }
  const n = toBigInt(key.n);
  checkPrivateNumbers(n, toBigInt(key.e), key.p && toBigInt(key.p), key.q && toBigInt(key.q), bits);
  moduli.set(key, n);
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
