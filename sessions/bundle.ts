/**
 * Prekey bundles (docs/sessions.md section 2): what Bob publishes so that Alice can start a
 * session while he is offline. {@linkcode encodeBundle} signs one, {@linkcode parseBundle}
 * checks one (every structural and key check before any signature work), {@linkcode trimBundle}
 * keeps one one-time key of each kind for a relay to hand out.
 *
 * ```
 * bundle    = "PCBUNDLE" || u8 0x01 || signed || lp(sig) || u16 n || attached{n}
 * signed    = sp(recipient) || IK_pub (32) || lp(ik_cert) || u64 created || sp(kem_id)
 *           || u32 spk_id || SPK_pub (32) || u32 pqspk_id || lp(PQSPK_pub)
 *           || u16 m || (u32 id || SHA-256(OPK_pub)){m} || u16 q || (u32 id || SHA-256(PQOPK_pub)){q}
 * sig       = Sign(signing key, "polycrypt/session/1 bundle" || "PCBUNDLE" || u8 0x01 || signed)
 * attached  = u8 kind || u32 id || lp(pub)            ; kind 0x01: OPK, 0x02: PQOPK
 * ```
 *
 * @module
 */
import { InvalidKeyError } from "../errors.ts";
import { concatBytes, equalBytes, readU32be } from "../engines/_bytes.ts";
import { sha256 } from "../engines/_hash.ts";
import { registry as defaultRegistry } from "../engines/mod.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import type { KemEngine } from "../engines/types.ts";
import { fingerprintOfCanonical } from "../contacts/fingerprint.ts";
import {
  checkX25519PublicKey,
  identitySessionKeys,
  lp,
  sessionLabel,
  sp,
  verifyCached,
  verifyIkCert,
  verifyingKeyOf,
  X25519_SIZE,
  x25519KeyPair,
} from "./_identity.ts";

export { sessionKeys } from "./_identity.ts";

const encoder = new TextEncoder();
const ascii = new TextDecoder("ascii", { fatal: true });

/** `"PCBUNDLE"`: the first bytes of every bundle. */
export const BUNDLE_MAGIC: Uint8Array = encoder.encode("PCBUNDLE");
/** The bundle format version after the magic. */
export const BUNDLE_VERSION = 0x01;
/** Limits checked before any signature work (docs/sessions.md section 2). */
export const BUNDLE_LIMITS: Readonly<{ oneTimeKeys: number; bytes: number }> = Object.freeze({
  /** One-time prekeys of each kind (`m`, `q`). */
  oneTimeKeys: 1000,
  /** Bytes of a whole bundle. */
  bytes: 16 * 1024 * 1024,
});
const ATTACHED_OPK = 0x01;
const ATTACHED_PQOPK = 0x02;
const SIG_LABEL = sessionLabel("bundle");
const HEAD = concatBytes(BUNDLE_MAGIC, new Uint8Array([BUNDLE_VERSION]));

/** A prekey with its id, as Bob keeps it. */
export interface PrekeyPair {
  /** The prekey's id (u32), unique among Bob's prekeys of its kind. */
  id: number;
  /** The public key (X25519: 32 bytes; KEM: the engine's encoding). */
  publicKey: Uint8Array;
  /** The secret key. */
  secretKey: Uint8Array;
}

/** A public prekey and its id, as a bundle carries it. */
export interface PublicPrekey {
  /** The prekey's id (u32). */
  readonly id: number;
  /** The public key. */
  readonly publicKey: Uint8Array;
}

/** A bundle whose signatures and keys were checked, by {@linkcode parseBundle}. */
export interface VerifiedBundle {
  /** Bob's canonical version-2 recipient string. */
  readonly recipient: string;
  /** Its fingerprint (docs/contacts.md section 1). */
  readonly fingerprint: string;
  /** Bob's X25519 identity key `IK_B`, certified by `ik_cert`. */
  readonly ik: Uint8Array;
  /** The bundle's KEM (`kem_id`), from the caller's registry. */
  readonly kem: KemEngine;
  /** The signed X25519 prekey. */
  readonly spk: PublicPrekey;
  /** The signed last-resort KEM prekey. */
  readonly pqspk: PublicPrekey;
  /** The attached one-time X25519 prekeys (each matched against a signed digest). */
  readonly opks: readonly PublicPrekey[];
  /** The attached one-time KEM prekeys (each matched against a signed digest). */
  readonly pqopks: readonly PublicPrekey[];
  /** When Bob made the bundle: milliseconds since 1970, Bob's clock. */
  readonly created: number;
}

/** What {@linkcode encodeBundle} signs and attaches. */
export interface BundleParts {
  /** The KEM of `pqspk` and `pqopks`. */
  kem: KemEngine;
  /** The signed X25519 prekey. */
  spk: PrekeyPair | PublicPrekey;
  /** The signed last-resort KEM prekey. */
  pqspk: PrekeyPair | PublicPrekey;
  /** One-time X25519 prekeys: signed by digest and attached. */
  opks: readonly (PrekeyPair | PublicPrekey)[];
  /** One-time KEM prekeys: signed by digest and attached. */
  pqopks: readonly (PrekeyPair | PublicPrekey)[];
  /** Milliseconds since 1970. */
  created: number;
}

function checkId(name: string, id: number): void {
  if (!Number.isSafeInteger(id) || id < 0 || id > 0xffffffff) {
    throw new RangeError(`${name} must be a u32`);
  }
}

function u16(n: number): Uint8Array {
  return new Uint8Array([n >>> 8, n & 0xff]);
}

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/**
 * Fresh prekeys for a bundle: one signed X25519 prekey, one signed last-resort KEM prekey and
 * `counts.oneTime` one-time prekeys of each kind. Ids count up from `firstId` in that order
 * (the account keeps track of the ids it hands out).
 */
export async function generatePrekeys(
  kem: KemEngine,
  counts: { oneTime: number },
  firstId: number,
): Promise<{ spk: PrekeyPair; pqspk: PrekeyPair; opks: PrekeyPair[]; pqopks: PrekeyPair[] }> {
  const n = counts.oneTime;
  if (!Number.isSafeInteger(n) || n < 0 || n > BUNDLE_LIMITS.oneTimeKeys) {
    throw new RangeError(
      `counts.oneTime must be an integer from 0 to ${BUNDLE_LIMITS.oneTimeKeys}`,
    );
  }
  checkId("firstId", firstId);
  checkId("the last id", firstId + 2 + 2 * n - 1);
  let next = firstId;
  const pair = async (make: Promise<{ publicKey: Uint8Array; secretKey: Uint8Array }>) => {
    const id = next++;
    return { id, ...(await make) };
  };
  const spk = await pair(x25519KeyPair());
  const pqspk = await pair(kem.generateKeyPair());
  const opks: PrekeyPair[] = [];
  for (let i = 0; i < n; i++) opks.push(await pair(x25519KeyPair()));
  const pqopks: PrekeyPair[] = [];
  for (let i = 0; i < n; i++) pqopks.push(await pair(kem.generateKeyPair()));
  return { spk, pqspk, opks, pqopks };
}

/**
 * Signs a bundle of `identity`'s prekeys (docs/sessions.md section 2): every one-time prekey is
 * signed by its digest and attached. The identity must be version 2.
 */
export async function encodeBundle(
  identity: string,
  parts: BundleParts & { registry?: EngineRegistry },
): Promise<Uint8Array> {
  const { kem, spk, pqspk, opks, pqopks, created } = parts;
  if (!Number.isSafeInteger(created) || created < 0) {
    throw new RangeError("created must be a non-negative integer (milliseconds)");
  }
  for (const list of [opks, pqopks]) {
    if (list.length > BUNDLE_LIMITS.oneTimeKeys) {
      throw new RangeError(`a bundle holds at most ${BUNDLE_LIMITS.oneTimeKeys} one-time keys`);
    }
    const ids = new Set(list.map((k) => k.id));
    if (ids.size !== list.length) throw new RangeError("one-time prekey ids must be distinct");
  }
  for (
    const [name, key] of [
      ["spk", spk],
      ["pqspk", pqspk],
      ...opks.map((k) => ["opk", k] as const),
      ...pqopks.map((k) => ["pqopk", k] as const),
    ] as const
  ) {
    checkId(`${name}.id`, key.id);
  }
  if (spk.publicKey.length !== X25519_SIZE) throw new RangeError("spk must be an X25519 key");
  if (opks.some((k) => k.publicKey.length !== X25519_SIZE)) {
    throw new RangeError("every opk must be an X25519 key");
  }
  const keys = await identitySessionKeys(identity, { registry: parts.registry });
  const recipient = encoder.encode(keys.recipient);
  const entries = (list: readonly PublicPrekey[]) =>
    concatBytes(u16(list.length), ...list.flatMap((k) => [u32(k.id), sha256(k.publicKey)]));
  const signed = concatBytes(
    sp(recipient),
    keys.ik.publicKey,
    lp(keys.ikCert),
    u64(created),
    sp(encoder.encode(kem.id)),
    u32(spk.id),
    spk.publicKey,
    u32(pqspk.id),
    lp(pqspk.publicKey),
    entries(opks),
    entries(pqopks),
  );
  const sig = await keys.signing.engine.sign(
    keys.signing.secretKey,
    concatBytes(SIG_LABEL, HEAD, signed),
  );
  const attached = [
    ...opks.map((k) => concatBytes(new Uint8Array([ATTACHED_OPK]), u32(k.id), lp(k.publicKey))),
    ...pqopks.map((k) => concatBytes(new Uint8Array([ATTACHED_PQOPK]), u32(k.id), lp(k.publicKey))),
  ];
  const out = concatBytes(HEAD, signed, lp(sig), u16(attached.length), ...attached);
  if (out.length > BUNDLE_LIMITS.bytes) throw new RangeError("the bundle exceeds 16 MiB");
  return out;
}

// ------------------------------------------------------------------------------------ parse

/** The fields of a bundle, read without any cryptography (views of the input). */
interface RawBundle {
  recipient: string;
  ik: Uint8Array;
  ikCert: Uint8Array;
  created: number;
  kemId: string;
  spk: PublicPrekey;
  pqspk: PublicPrekey;
  opkDigests: Map<number, Uint8Array>;
  pqopkDigests: Map<number, Uint8Array>;
  /** `signed`'s bytes. */
  signed: Uint8Array;
  sig: Uint8Array;
  /** Everything up to and including `lp(sig)`. */
  beforeAttached: Uint8Array;
  attached: { kind: number; id: number; publicKey: Uint8Array; bytes: Uint8Array }[];
}

function refuse(reason: string): never {
  throw new InvalidKeyError(`bundle refused: ${reason}`);
}

/** Reads the bundle's structure; `InvalidKeyError` for anything malformed or over a limit. */
function splitBundle(bytes: Uint8Array): RawBundle {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("bundle must be a Uint8Array");
  if (bytes.length > BUNDLE_LIMITS.bytes) refuse("it exceeds 16 MiB");
  if (
    bytes.length < HEAD.length || !equalBytes(bytes.subarray(0, BUNDLE_MAGIC.length), BUNDLE_MAGIC)
  ) {
    refuse("not a prekey bundle");
  }
  if (bytes[BUNDLE_MAGIC.length] !== BUNDLE_VERSION) refuse("unsupported bundle version");
  let at = HEAD.length;
  const take = (n: number): Uint8Array => {
    if (bytes.length - at < n) refuse("a length runs past the end");
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  const takeU16 = () => {
    const b = take(2);
    return (b[0] << 8) | b[1];
  };
  const takeU32 = () => readU32be(take(4), 0);
  const takeSp = () => take(takeU16());
  const takeLp = () => take(takeU32());
  const text = (b: Uint8Array, what: string) => {
    try {
      return ascii.decode(b);
    } catch {
      return refuse(`${what} is not ASCII`);
    }
  };

  const recipientBytes = takeSp();
  if (recipientBytes.some((b) => b > 0x7e || b < 0x21)) refuse("the recipient is not printable");
  const recipient = text(recipientBytes, "the recipient");
  const ik = take(X25519_SIZE);
  const ikCert = takeLp();
  const createdBig = new DataView(take(8).slice().buffer).getBigUint64(0);
  if (createdBig > BigInt(Number.MAX_SAFE_INTEGER)) refuse("the creation time is out of range");
  const kemBytes = takeSp();
  if (kemBytes.some((b) => b > 0x7e || b < 0x21)) refuse("the KEM id is not printable");
  const kemId = text(kemBytes, "the KEM id");
  const spk = { id: takeU32(), publicKey: take(X25519_SIZE) };
  const pqspk = { id: takeU32(), publicKey: takeLp() };
  const digests = (what: string) => {
    const count = takeU16();
    if (count > BUNDLE_LIMITS.oneTimeKeys) refuse(`more than 1000 one-time ${what}`);
    const map = new Map<number, Uint8Array>();
    for (let i = 0; i < count; i++) {
      const id = takeU32();
      if (map.has(id)) refuse(`a one-time ${what} id appears twice`);
      map.set(id, take(32));
    }
    return map;
  };
  const opkDigests = digests("X25519 prekey");
  const pqopkDigests = digests("KEM prekey");
  const signed = bytes.subarray(HEAD.length, at);
  const sig = takeLp();
  const beforeAttached = bytes.subarray(0, at);
  const n = takeU16();
  if (n > opkDigests.size + pqopkDigests.size) refuse("more attached keys than signed digests");
  const attached: RawBundle["attached"] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const start = at;
    const kind = take(1)[0];
    const id = takeU32();
    const publicKey = takeLp();
    if (kind !== ATTACHED_OPK && kind !== ATTACHED_PQOPK) refuse("an attached key of unknown kind");
    const key = `${kind}:${id}`;
    if (seen.has(key)) refuse("an attached key appears twice");
    seen.add(key);
    attached.push({ kind, id, publicKey, bytes: bytes.subarray(start, at) });
  }
  if (at !== bytes.length) refuse("trailing bytes");
  return {
    recipient,
    ik,
    ikCert,
    created: Number(createdBig),
    kemId,
    spk,
    pqspk,
    opkDigests,
    pqopkDigests,
    signed,
    sig,
    beforeAttached,
    attached,
  };
}

/** Options of {@linkcode parseBundle}. */
export interface ParseBundleOptions {
  /** Where `kem_id` and the recipient's engines are looked up; default the global `registry`. */
  registry?: EngineRegistry;
  /**
   * The contact the caller expects the bundle from: a recipient string or a fingerprint (blanks
   * and case ignored). Any other bundle is refused.
   */
  expect?: string;
}

const normalizeFingerprint = (f: string) => f.replace(/\s+/g, "").toUpperCase();

/**
 * A KEM public key may exceed `publicKeySize` by this much (RSA's DER), as in a ratchet header
 * (docs/sessions.md section 5); anything longer is refused before the engine's own check, which
 * may cost time in proportion to the length (RSA parses DER and converts the modulus).
 */
const KEM_PUB_SLACK = 4096;

/** The KEM key check of docs/sessions.md section 2: `checkPublicKey`, else the declared size. */
function checkKemKey(kem: KemEngine, publicKey: Uint8Array, what: string): void {
  if (publicKey.length > kem.publicKeySize + KEM_PUB_SLACK) refuse(`${what} is too long`);
  if (kem.checkPublicKey) {
    try {
      kem.checkPublicKey(publicKey);
    } catch (e) {
      throw new InvalidKeyError(`bundle refused: ${what} fails its engine's check`, { cause: e });
    }
  } else if (publicKey.length !== kem.publicKeySize) {
    refuse(`${what} has the wrong size`);
  }
}

function checkX25519(publicKey: Uint8Array, what: string): void {
  try {
    checkX25519PublicKey(publicKey, what);
  } catch (e) {
    throw new InvalidKeyError(`bundle refused: ${(e as Error).message}`);
  }
}

/**
 * Checks a bundle and returns its keys (docs/sessions.md section 2). Every structural rule, the
 * recipient, `expect`, `kem_id` and every public key are checked before the two signatures
 * (`ik_cert` and `sig`) are verified; any failure is an `InvalidKeyError` and nothing is kept.
 * Verified signatures are remembered, so a bundle seen again costs no signature work.
 */
export async function parseBundle(
  bytes: Uint8Array,
  options: ParseBundleOptions = {},
): Promise<VerifiedBundle> {
  const registry = options.registry ?? defaultRegistry;
  const raw = splitBundle(bytes);
  const verifying = verifyingKeyOf(raw.recipient, registry);
  const fingerprint = fingerprintOfCanonical(raw.recipient);
  if (options.expect !== undefined) {
    if (typeof options.expect !== "string") throw new TypeError("expect must be a string");
    const expect = options.expect.trim();
    const match = /^polycrypt\d:/.test(expect)
      ? expect === raw.recipient
      : normalizeFingerprint(expect) === normalizeFingerprint(fingerprint);
    if (!match) refuse("it is not from the expected contact");
  }
  if (!registry.has(raw.kemId) || registry.get(raw.kemId).kind !== "kem") {
    refuse(`unknown KEM ${JSON.stringify(raw.kemId)}`);
  }
  const kem = registry.kem(raw.kemId);
  checkX25519(raw.ik, "IK");
  checkX25519(raw.spk.publicKey, "SPK");
  checkKemKey(kem, raw.pqspk.publicKey, "PQSPK");
  const opks: PublicPrekey[] = [];
  const pqopks: PublicPrekey[] = [];
  for (const a of raw.attached) {
    const opk = a.kind === ATTACHED_OPK;
    const digest = (opk ? raw.opkDigests : raw.pqopkDigests).get(a.id);
    if (!digest || !equalBytes(digest, sha256(a.publicKey))) {
      refuse("an attached key has no matching signed digest");
    }
    if (opk) checkX25519(a.publicKey, "an OPK");
    else checkKemKey(kem, a.publicKey, "a PQOPK");
    (opk ? opks : pqopks).push({ id: a.id, publicKey: a.publicKey.slice() });
  }
  // Signature work, last.
  const [certOk, sigOk] = await Promise.all([
    verifyIkCert(verifying, raw.recipient, raw.ik, raw.ikCert),
    verifyCached(verifying, concatBytes(SIG_LABEL, HEAD, raw.signed), raw.sig),
  ]);
  if (!certOk) refuse("ik_cert does not verify");
  if (!sigOk) refuse("the signature does not verify");
  return {
    recipient: raw.recipient,
    fingerprint,
    ik: raw.ik.slice(),
    kem,
    spk: { id: raw.spk.id, publicKey: raw.spk.publicKey.slice() },
    pqspk: { id: raw.pqspk.id, publicKey: raw.pqspk.publicKey.slice() },
    opks,
    pqopks,
    created: raw.created,
  };
}

/**
 * The same bundle with only the named one-time keys attached (none of a kind left out): what a
 * relay hands to one initiator. The signature stays valid (it covers digests, not the attached
 * keys). `InvalidKeyError` for a malformed bundle, `RangeError` when a named key is not attached.
 */
export function trimBundle(bytes: Uint8Array, keep: { opk?: number; pqopk?: number }): Uint8Array {
  const raw = splitBundle(bytes);
  const kept: Uint8Array[] = [];
  for (
    const [kind, id, name] of [[ATTACHED_OPK, keep.opk, "opk"], [
      ATTACHED_PQOPK,
      keep.pqopk,
      "pqopk",
    ]] as const
  ) {
    if (id === undefined) continue;
    const found = raw.attached.find((a) => a.kind === kind && a.id === id);
    if (!found) throw new RangeError(`keep.${name}: no attached key has id ${id}`);
    kept.push(found.bytes);
  }
  return concatBytes(raw.beforeAttached, u16(kept.length), ...kept);
}

/** The ids of the one-time keys attached to a bundle (no signature work; for relays). */
export function attachedPrekeyIds(bytes: Uint8Array): { opks: number[]; pqopks: number[] } {
  const raw = splitBundle(bytes);
  return {
    opks: raw.attached.filter((a) => a.kind === ATTACHED_OPK).map((a) => a.id),
    pqopks: raw.attached.filter((a) => a.kind === ATTACHED_PQOPK).map((a) => a.id),
  };
}
