/**
 * The handshake of a session (docs/sessions.md section 3): PQXDH with X25519 and one
 * encapsulation of a registry KEM, and the sender seal that hides the initiator from the network.
 *
 * ```
 * DH1 = DH(IK_A, SPK_B)  DH2 = DH(EK_A, IK_B)  DH3 = DH(EK_A, SPK_B)  DH4 = DH(EK_A, OPK_B)
 * KM  = 0xFF{32} || DH1 || DH2 || DH3 [|| DH4] || SS
 * RK0 || HKA || NHKB || SID = HKDF(KM, 0x00{32}, "polycrypt/session/1 PQXDH CURVE25519 SHA-256 " || kem_id, 128)
 * AD  = SHA-256("polycrypt/session/1 ad" || sp(recipient_A) || IK_A_pub || sp(recipient_B) || IK_B_pub)
 * SEAL_K = HKDF(DH3 [|| DH4] || SS, 0x00{32}, "polycrypt/session/1 sender seal " || kem_id, AEAD.keySize)
 * sealed_from = AEAD.seal(SEAL_K, 0x00{Nn}, sp(recipient_A) || IK_A_pub || lp(ik_cert_A), aad = prekey_head)
 * ```
 *
 * @module
 */
import { DecryptionError } from "../errors.ts";
import { concatBytes, readU32be } from "../engines/_bytes.ts";
import { sha256 } from "../engines/_hash.ts";
import { hkdfSync } from "../engines/hkdf.ts";
import { registry as defaultRegistry } from "../engines/mod.ts";
import { EngineRegistry } from "../engines/registry.ts";
import type { AeadEngine, KemEngine, KemKeyPair } from "../engines/types.ts";
import { fingerprintOfCanonical } from "../contacts/fingerprint.ts";
import {
  checkX25519PublicKey,
  identitySessionKeys,
  lp,
  sessionLabel,
  sp,
  verifyIkCert,
  verifyingKeyOf,
  x25519,
  X25519_SIZE,
  x25519KeyPair,
} from "./_identity.ts";
import type { PrekeyPair, VerifiedBundle } from "./bundle.ts";
import {
  encodePrekeyHead,
  type ParsedPrekeyMessage,
  parsePrekeyFrame,
  type PrekeyHead,
} from "./message.ts";

export { sessionKeys } from "./_identity.ts";
export type { ParsedPrekeyMessage, PrekeyHead } from "./message.ts";

const encoder = new TextEncoder();
/** The default KEM of the post-quantum slot. */
export const DEFAULT_SESSION_KEM = "ml-kem-768";
/** The default AEAD of sessions. */
export const DEFAULT_SESSION_AEAD = "aes-256-gcm";

const F = new Uint8Array(32).fill(0xff);
const ZERO_SALT = new Uint8Array(32);
const AD_LABEL = sessionLabel("ad");

/** What both ends of a handshake derive (docs/sessions.md section 3). */
export interface HandshakeResult {
  /** `RK0`: the Double Ratchet's first root key (`SK`). */
  rootKey: Uint8Array;
  /** `HKA`: [DR] section 4's `shared_hka`. */
  headerKey: Uint8Array;
  /** `NHKB`: [DR] section 4's `shared_nhkb`. */
  nextHeaderKey: Uint8Array;
  /** `SID`: the session id, secret to everyone but the two ends. */
  sessionId: Uint8Array;
  /** `AD`: the associated data every ratchet message binds. */
  ad: Uint8Array;
  /** The peer's canonical version-2 recipient string. */
  peerRecipient: string;
  /** The peer's fingerprint. */
  peerFingerprint: string;
  /** The session's KEM. */
  kem: KemEngine;
}

/** Options of {@linkcode initiate} and {@linkcode respond}. */
export interface HandshakeOptions {
  /** Where engine ids are looked up; default the global `registry`. */
  registry?: EngineRegistry;
  /** The session AEAD (engine or id) of the sender seal; default `aes-256-gcm`. Both ends must agree. */
  aead?: AeadEngine | string;
  /**
   * {@linkcode respond} only: Bob's KEM (engine or id) when the KEM prekey found by the lookup
   * does not name one; default `ml-kem-768`.
   */
  kem?: KemEngine | string;
}

function aeadOf(options: HandshakeOptions, registry: EngineRegistry): AeadEngine {
  const aead = options.aead ?? DEFAULT_SESSION_AEAD;
  return typeof aead === "string" ? registry.aead(aead) : aead;
}

function derive(
  kem: KemEngine,
  dh: Uint8Array[],
  ss: Uint8Array,
): {
  rootKey: Uint8Array;
  headerKey: Uint8Array;
  nextHeaderKey: Uint8Array;
  sessionId: Uint8Array;
} {
  const km = concatBytes(F, ...dh, ss);
  const okm = hkdfSync(
    "SHA-256",
    km,
    ZERO_SALT,
    sessionLabel(`PQXDH CURVE25519 SHA-256 ${kem.id}`),
    128,
  );
  km.fill(0);
  const out = {
    rootKey: okm.slice(0, 32),
    headerKey: okm.slice(32, 64),
    nextHeaderKey: okm.slice(64, 96),
    sessionId: okm.slice(96, 128),
  };
  okm.fill(0);
  return out;
}

function sealKey(kem: KemEngine, aead: AeadEngine, dh34: Uint8Array[], ss: Uint8Array): Uint8Array {
  const ikm = concatBytes(...dh34, ss);
  const key = hkdfSync(
    "SHA-256",
    ikm,
    ZERO_SALT,
    sessionLabel(`sender seal ${kem.id}`),
    aead.keySize,
  );
  ikm.fill(0);
  return key;
}

/** `AD` of docs/sessions.md section 3. */
export function associatedData(
  recipientA: string,
  ikA: Uint8Array,
  recipientB: string,
  ikB: Uint8Array,
): Uint8Array {
  return sha256(
    AD_LABEL,
    sp(encoder.encode(recipientA)),
    ikA,
    sp(encoder.encode(recipientB)),
    ikB,
  );
}

const wipe = (...arrays: (Uint8Array | undefined)[]) => arrays.forEach((a) => a?.fill(0));

/** What {@linkcode initiate} returns besides the keys. */
export interface Initiation extends HandshakeResult {
  /** `prekey_head || lp(sealed_from)`: the first bytes of every prekey message of the session. */
  prefix: Uint8Array;
  /** `SPK_B`'s public key: the ratchet's first `DHr`. */
  peerDh: Uint8Array;
  /** The decoded head (which of Bob's prekeys were used). */
  head: PrekeyHead;
}

/**
 * Alice's side: starts a session with the owner of a verified bundle. Uses the first attached
 * one-time X25519 prekey if any, and the first attached one-time KEM prekey if any, else the
 * signed last-resort KEM prekey. `identity` must be version 2.
 */
export async function initiate(
  identity: string,
  bundle: VerifiedBundle,
  options: HandshakeOptions = {},
): Promise<Initiation> {
  const registry = options.registry ?? defaultRegistry;
  const aead = aeadOf(options, registry);
  const own = await identitySessionKeys(identity, { registry });
  const { kem } = bundle;
  const opk = bundle.opks[0];
  const pq = bundle.pqopks[0] ?? bundle.pqspk;
  const pqKind = bundle.pqopks[0] ? "pqopk" : "pqspk";
  const ek: KemKeyPair = await x25519KeyPair();
  let dh: Uint8Array[] = [];
  let ss: Uint8Array | undefined;
  let sealK: Uint8Array | undefined;
  try {
    const encapsulation = await kem.encapsulate(pq.publicKey);
    ss = encapsulation.sharedSecret;
    dh = [
      await x25519(own.ik.secretKey, bundle.spk.publicKey, own.ikTag),
      await x25519(ek.secretKey, bundle.ik),
      await x25519(ek.secretKey, bundle.spk.publicKey),
      ...(opk ? [await x25519(ek.secretKey, opk.publicKey)] : []),
    ];
    const head: PrekeyHead = {
      spkId: bundle.spk.id,
      pqKind,
      pqId: pq.id,
      ...(opk ? { opkId: opk.id } : {}),
      ek: ek.publicKey,
      ct: encapsulation.encapsulation,
    };
    const headBytes = encodePrekeyHead(head);
    sealK = sealKey(kem, aead, dh.slice(2), ss);
    const sealedFrom = await aead.seal(
      sealK,
      new Uint8Array(aead.nonceSize),
      concatBytes(sp(encoder.encode(own.recipient)), own.ik.publicKey, lp(own.ikCert)),
      headBytes,
    );
    return {
      ...derive(kem, dh, ss),
      ad: associatedData(own.recipient, own.ik.publicKey, bundle.recipient, bundle.ik),
      peerRecipient: bundle.recipient,
      peerFingerprint: bundle.fingerprint,
      kem,
      prefix: concatBytes(headBytes, lp(sealedFrom)),
      peerDh: bundle.spk.publicKey.slice(),
      head,
    };
  } finally {
    wipe(ek.secretKey, ss, sealK, own.ik.secretKey, ...dh);
  }
}

/**
 * Splits a prekey message (docs/sessions.md section 4) into its head, its sender seal and its
 * ratchet body, without any cryptography: `FormatError` when it is not a well-formed one.
 */
export function parsePrekeyMessage(message: Uint8Array): ParsedPrekeyMessage {
  return parsePrekeyFrame(message);
}

/** A prekey Bob kept, possibly naming its KEM (an engine id). */
export type StoredPrekey = PrekeyPair & { kem?: string };

/** How {@linkcode respond} finds Bob's prekeys by id (`undefined`: no such prekey, or used). */
export interface PrekeyLookup {
  /** A signed X25519 prekey (current, or kept after rotation). */
  spk(id: number): Promise<PrekeyPair | undefined>;
  /** A signed last-resort KEM prekey. */
  pqspk(id: number): Promise<StoredPrekey | undefined>;
  /** A one-time KEM prekey not used yet. */
  pqopk(id: number): Promise<StoredPrekey | undefined>;
  /** A one-time X25519 prekey not used yet. */
  opk(id: number): Promise<PrekeyPair | undefined>;
}

/** What {@linkcode respond} returns besides the keys. */
export interface Response extends HandshakeResult {
  /** Which of Bob's prekeys the message used: the caller deletes the one-time ones. */
  used: { spk: number; pq: { kind: "pqspk" | "pqopk"; id: number }; opk?: number };
  /** The `SPK` pair: the ratchet's first `DHs` on Bob's side. */
  ownDh: KemKeyPair;
  /** `SHA-256(EK_A_pub)`: what Bob keeps per `SPK` to refuse a replayed prekey message. */
  ekDigest: Uint8Array;
}

/**
 * Bob's side: checks a parsed prekey message and derives the same keys as Alice. Anything wrong
 * with the message (an unknown prekey id, a bad KEM ciphertext, a sender seal that does not open,
 * a certificate that does not verify, a version-1 sender) is one opaque `DecryptionError`.
 * The lookup's own errors (a failing store) pass through. Nothing is deleted: the caller deletes
 * the one-time prekeys in `used` when it commits the new session.
 *
 * The fourth argument is a registry (the contract of docs/sessions.md) or {@linkcode HandshakeOptions}.
 */
export async function respond(
  identity: string,
  parsed: ParsedPrekeyMessage,
  lookup: PrekeyLookup,
  registryOrOptions?: EngineRegistry | HandshakeOptions,
): Promise<Response> {
  const options: HandshakeOptions = registryOrOptions instanceof EngineRegistry
    ? { registry: registryOrOptions }
    : registryOrOptions ?? {};
  const registry = options.registry ?? defaultRegistry;
  const aead = aeadOf(options, registry);
  const own = await identitySessionKeys(identity, { registry });
  const { head } = parsed;
  const [spk, pq, opk] = await Promise.all([
    lookup.spk(head.spkId),
    head.pqKind === "pqopk" ? lookup.pqopk(head.pqId) : lookup.pqspk(head.pqId),
    head.opkId === undefined ? undefined : lookup.opk(head.opkId),
  ]);
  let dh: Uint8Array[] = [];
  let ss: Uint8Array | undefined;
  let sealK: Uint8Array | undefined;
  let inner: Uint8Array | undefined;
  try {
    if (!spk || !pq || (head.opkId !== undefined && !opk)) throw new DecryptionError();
    const kemChoice = pq.kem ?? options.kem ?? DEFAULT_SESSION_KEM;
    const kem = typeof kemChoice === "string" ? registry.kem(kemChoice) : kemChoice;
    checkX25519PublicKey(head.ek);
    const dh3 = await x25519(spk.secretKey, head.ek);
    const dh4 = opk ? await x25519(opk.secretKey, head.ek) : undefined;
    ss = await kem.decapsulate(parsed.head.ct, pq.secretKey);
    const dh34 = dh4 ? [dh3, dh4] : [dh3];
    dh = dh34;
    sealK = sealKey(kem, aead, dh34, ss);
    inner = await aead.open(
      sealK,
      new Uint8Array(aead.nonceSize),
      parsed.sealedFrom,
      parsed.headBytes,
    );
    // sp(recipient_A) || IK_A_pub || lp(ik_cert_A), exactly.
    if (inner.length < 2) throw new DecryptionError();
    const rLength = (inner[0] << 8) | inner[1];
    const certAt = 2 + rLength + X25519_SIZE;
    if (inner.length < certAt + 4) throw new DecryptionError();
    const certLength = readU32be(inner, certAt);
    if (inner.length !== certAt + 4 + certLength) throw new DecryptionError();
    const recipientA = new TextDecoder("ascii", { fatal: true }).decode(
      inner.subarray(2, 2 + rLength),
    );
    const ikA = inner.slice(2 + rLength, certAt);
    const certA = inner.subarray(certAt + 4);
    checkX25519PublicKey(ikA);
    const verifying = verifyingKeyOf(recipientA, registry);
    if (!await verifyIkCert(verifying, recipientA, ikA, certA)) throw new DecryptionError();
    const dh1 = await x25519(spk.secretKey, ikA);
    const dh2 = await x25519(own.ik.secretKey, head.ek, own.ikTag);
    dh = [dh1, dh2, ...dh34];
    return {
      ...derive(kem, dh, ss),
      ad: associatedData(recipientA, ikA, own.recipient, own.ik.publicKey),
      peerRecipient: recipientA,
      peerFingerprint: fingerprintOfCanonical(recipientA),
      kem,
      used: {
        spk: spk.id,
        pq: { kind: head.pqKind, id: pq.id },
        ...(opk ? { opk: opk.id } : {}),
      },
      ownDh: { publicKey: spk.publicKey.slice(), secretKey: spk.secretKey.slice() },
      ekDigest: sha256(head.ek),
    };
  } catch {
    throw new DecryptionError();
  } finally {
    wipe(ss, sealK, inner, own.ik.secretKey, ...dh);
  }
}
