// Internal: what a session needs from a polycrypt identity (docs/sessions.md section 1): the
// X25519 identity key IK derived from the identity string, its certificate ik_cert signed by the
// identity's signing key, the storage key; raw X25519 on engines/ecc/_montgomery.ts; the cache of
// verified signatures.
import { InvalidKeyError } from "../errors.ts";
import { concatBytes, equalBytes, fromHex, toHex } from "../engines/_bytes.ts";
import { LruCache, secretTag } from "../engines/_cache.ts";
import { sha256 } from "../engines/_hash.ts";
import { hkdfSync } from "../engines/hkdf.ts";
import { registry as defaultRegistry } from "../engines/mod.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import type { KemKeyPair, SignatureEngine } from "../engines/types.ts";
import { montgomeryGroup } from "../engines/ecc/_montgomery.ts";
import { parseIdentity, parseRecipient, recipientFromIdentity } from "../cascade/keys.ts";
import type { SigningKey, VerifyingKey } from "../cascade/stanza.ts";
import { fingerprintOfCanonical } from "../contacts/fingerprint.ts";

const encoder = new TextEncoder();

/** Every label of docs/sessions.md begins with this. */
const SESSION_LABEL_PREFIX = "polycrypt/session/1 ";
/** `"polycrypt/session/1 " || s` as bytes. */
export function sessionLabel(s: string): Uint8Array {
  return encoder.encode(SESSION_LABEL_PREFIX + s);
}

const IK_INFO = sessionLabel("identity dh key");
const STORAGE_INFO = sessionLabel("storage key");
const IK_CERT_LABEL = sessionLabel("identity key");
const EMPTY = new Uint8Array(0);

/** Bytes of an X25519 key or DH output. */
export const X25519_SIZE = 32;

// ------------------------------------------------------------------------------------ X25519

const group = montgomeryGroup("X25519", "node");

// @internal The randomness of fresh X25519 keys (EK and generated prekeys). Tests and the vector
// script set a deterministic source with `_setRandomSource`; everything else uses the CSPRNG.
let randomSource: ((length: number) => Uint8Array) | undefined;

/**
 * @internal For committed vectors only: makes every fresh X25519 secret key come from `source`
 * (or, with `undefined`, from the CSPRNG again). KEM key generation and encapsulation are not
 * affected (a `KemEngine` takes no randomness).
 */
export function _setRandomSource(source: ((length: number) => Uint8Array) | undefined): void {
  randomSource = source;
}

/** A fresh X25519 key pair (from the CSPRNG, or the test source). */
export async function x25519KeyPair(): Promise<KemKeyPair> {
  if (randomSource) {
    const secretKey = randomSource(X25519_SIZE).slice();
    return { publicKey: await group.publicKey(secretKey), secretKey };
  }
  return await group.generate();
}

/** The public key of an X25519 secret key. */
export async function x25519PublicKey(secretKey: Uint8Array): Promise<Uint8Array> {
  return await group.publicKey(secretKey);
}

/**
 * `DH(sk, pk)` of RFC 7748; `InvalidKeyError` when the point is invalid or the output is all zeros
 * (a low-order point). `tag` (a `secretTag`) lets the node backend keep the parsed key of a
 * long-lived secret (IK, SPK); ephemeral secrets go without.
 */
export async function x25519(
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  tag?: string,
): Promise<Uint8Array> {
  let out: Uint8Array | undefined;
  try {
    const sync = tag === undefined ? undefined : group.sync;
    out = sync ? sync.dh(secretKey, publicKey, tag!) : await group.dh(secretKey, publicKey);
  } catch {
    out = undefined;
  }
  if (!out || out.length !== X25519_SIZE || out.every((b) => b === 0)) {
    throw new InvalidKeyError("X25519 public key is invalid or of low order");
  }
  return out;
}

// The points of small order (RFC 7748 section 7; the list libsodium's crypto_scalarmult refuses
// too): u = 0, u = 1, the two points of order 8, and u = p - 1. Non-canonical encodings
// (u >= p, or the top bit set) are refused separately, which covers p and p + 1.
const LOW_ORDER = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
].map((hex) => fromHex(hex));

/** Whether `u` (little-endian, 32 bytes) is a canonical field element: top bit clear, u < p. */
function canonicalU(u: Uint8Array): boolean {
  if (u[31] & 0x80) return false;
  if (u[31] !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (u[i] !== 0xff) return true;
  return u[0] < 0xed; // p = 2^255 - 19: the low byte of p is 0xed
}

/**
 * Throws `InvalidKeyError` unless `publicKey` is a 32-byte canonical X25519 public key that is not
 * of small order (docs/sessions.md section 2). No curve arithmetic.
 */
export function checkX25519PublicKey(publicKey: Uint8Array, what = "X25519 public key"): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== X25519_SIZE) {
    throw new InvalidKeyError(`${what} must be ${X25519_SIZE} bytes`);
  }
  if (!canonicalU(publicKey)) throw new InvalidKeyError(`${what} is not canonical`);
  let low = false;
  for (const point of LOW_ORDER) low = equalBytes(point, publicKey) || low;
  if (low) throw new InvalidKeyError(`${what} is a point of small order`);
}

// ---------------------------------------------------------------------------- identity keys

/** What a version-2 identity brings to sessions (docs/sessions.md section 1). */
export interface SessionKeys {
  /** The X25519 identity key `IK`, derived from the identity string. */
  readonly ik: KemKeyPair;
  /** `ik_cert`: the identity's signature over its recipient and `IK_pub`. */
  readonly ikCert: Uint8Array;
  /** The AES-256-GCM key of the account's state at rest. */
  readonly storageKey: Uint8Array;
  /** The identity's canonical version-2 recipient string. */
  readonly recipient: string;
  /** The recipient's fingerprint (docs/contacts.md section 1). */
  readonly fingerprint: string;
  /** The identity's signing key. */
  readonly signing: SigningKey;
  /** `secretTag` of `IK`'s secret, for the X25519 backend's key cache. */
  readonly ikTag: string;
}

/** Options of the functions that parse identities and recipients. */
export interface RegistryOptions {
  /** Where engine ids are looked up; default the global `registry`. */
  registry?: EngineRegistry;
}

const keyCache = new WeakMap<EngineRegistry, LruCache<string, Promise<SessionKeys>>>();

/** `"polycrypt/session/1 identity key" || sp(recipient) || IK_pub`: what `ik_cert` signs. */
export function ikCertMessage(recipient: string, ik: Uint8Array): Uint8Array {
  return concatBytes(IK_CERT_LABEL, sp(encoder.encode(recipient)), ik);
}

/** `u16 len(x) || x`. */
export function sp(x: Uint8Array): Uint8Array {
  if (x.length > 0xffff) throw new RangeError("a short-prefixed field holds at most 65535 bytes");
  const out = new Uint8Array(2 + x.length);
  out[0] = x.length >>> 8;
  out[1] = x.length & 0xff;
  out.set(x, 2);
  return out;
}

/** `u32 len(x) || x`. */
export function lp(x: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + x.length);
  new DataView(out.buffer).setUint32(0, x.length);
  out.set(x, 4);
  return out;
}

/**
 * The session keys of a version-2 identity: `IK` (derived), `ik_cert`, the storage key and the
 * recipient. Kept per identity (by a hash of it), so `ik_cert` is signed once per process.
 * A version-1 identity (no signing key) is refused with a `TypeError` that says how to upgrade it.
 */
export async function identitySessionKeys(
  identity: string,
  options: RegistryOptions = {},
): Promise<SessionKeys> {
  if (typeof identity !== "string") throw new TypeError("identity must be a string");
  const registry = options.registry ?? defaultRegistry;
  const text = identity.trim();
  let cache = keyCache.get(registry);
  if (!cache) keyCache.set(registry, cache = new LruCache(16));
  const tag = secretTag(encoder.encode(text));
  let pending = cache.get(tag);
  if (!pending) {
    pending = cache.set(tag, deriveSessionKeys(text, registry));
    pending.catch(() => cache.delete(tag));
  }
  const keys = await pending;
  return {
    ...keys,
    ik: { publicKey: keys.ik.publicKey.slice(), secretKey: keys.ik.secretKey.slice() },
    ikCert: keys.ikCert.slice(),
    storageKey: keys.storageKey.slice(),
  };
}

async function deriveSessionKeys(text: string, registry: EngineRegistry): Promise<SessionKeys> {
  const parsed = parseIdentity(text, { registry });
  const signing = parsed.signingKey;
  if (!signing) {
    throw new TypeError(
      "the identity has no signing key (a version-1 identity), so it cannot take part in " +
        "sessions: upgrade it (upgradeIdentity; on the command line, polycrypt keygen --upgrade)",
    );
  }
  const ikm = encoder.encode(text);
  const secretKey = hkdfSync("SHA-256", ikm, EMPTY, IK_INFO, X25519_SIZE);
  const storageKey = hkdfSync("SHA-256", ikm, EMPTY, STORAGE_INFO, 32);
  const [publicKey, recipient] = await Promise.all([
    x25519PublicKey(secretKey),
    recipientFromIdentity(text, { registry }),
  ]);
  const ikCert = await signing.engine.sign(signing.secretKey, ikCertMessage(recipient, publicKey));
  return {
    ik: { publicKey, secretKey },
    ikCert,
    storageKey,
    recipient,
    fingerprint: fingerprintOfCanonical(recipient),
    signing,
    ikTag: secretTag(secretKey),
  };
}

// ------------------------------------------------------------------------- verified signatures

// Signatures that verified, by engine: SHA-256 of the public key, the message and the signature.
// The same bytes under the same engine always verify alike, so a bundle fetched again, or a
// contact's ik_cert in every prekey message, is checked once.
const verified = new WeakMap<SignatureEngine, LruCache<string, true>>();

/** `engine.verify`, remembering successes (see above). */
export async function verifyCached(
  key: VerifyingKey,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const { engine, publicKey } = key;
  if (signature.length !== engine.signatureSize || publicKey.length !== engine.publicKeySize) {
    return false;
  }
  let cache = verified.get(engine);
  if (!cache) verified.set(engine, cache = new LruCache(512));
  const frame = (b: Uint8Array) =>
    new Uint8Array([b.length >>> 24, b.length >>> 16, b.length >>> 8, b.length]);
  const id = toHex(sha256(frame(publicKey), publicKey, frame(message), message, signature));
  if (cache.get(id)) return true;
  const ok = await engine.verify(publicKey, message, signature);
  if (ok) cache.set(id, true);
  return ok;
}

/**
 * The verifying key of a version-2 recipient string, which must be canonical (no surrounding
 * blanks): `InvalidKeyError` otherwise.
 */
export function verifyingKeyOf(recipient: string, registry: EngineRegistry): VerifyingKey {
  if (recipient.trim() !== recipient) throw new InvalidKeyError("the recipient is not canonical");
  let key: VerifyingKey | undefined;
  try {
    key = parseRecipient(recipient, { registry }).verifyingKey;
  } catch (e) {
    throw new InvalidKeyError("the recipient does not parse", { cause: e });
  }
  if (!key) {
    throw new InvalidKeyError(
      "the recipient has no signing key (a version-1 recipient; its owner can upgrade with " +
        "polycrypt keygen --upgrade)",
    );
  }
  return key;
}

/** Whether `ikCert` is the recipient's certificate for `ik` (cached). */
export function verifyIkCert(
  key: VerifyingKey,
  recipient: string,
  ik: Uint8Array,
  ikCert: Uint8Array,
): Promise<boolean> {
  return verifyCached(key, ikCertMessage(recipient, ik), ikCert);
}

/**
 * What a version-2 identity brings to sessions (docs/sessions.md section 1): the X25519 identity
 * key `IK` derived from the identity string, its certificate `ik_cert`, the storage key of the
 * account's state, the canonical recipient string and its fingerprint. A version-1 identity is a
 * `TypeError` that says how to upgrade it.
 */
export async function sessionKeys(
  identity: string,
  options: { registry?: EngineRegistry } = {},
): Promise<
  {
    ik: KemKeyPair;
    ikCert: Uint8Array;
    storageKey: Uint8Array;
    recipient: string;
    fingerprint: string;
  }
> {
  const { ik, ikCert, storageKey, recipient, fingerprint } = await identitySessionKeys(
    identity,
    options,
  );
  return { ik, ikCert, storageKey, recipient, fingerprint };
}
