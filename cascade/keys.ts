/**
 * Recipient and identity strings (`docs/format.md` section 8): text that
 * names its engines, carries a 4-byte checksum, and is safe on a command line.
 * Version 2 (the default) carries an encryption key and a signing key; version 1 (encryption
 * only) still loads and can be upgraded with {@linkcode upgradeIdentity}.
 *
 * ```
 * polycrypt2:x25519+ml-kem-768:ed25519+ml-dsa-65:<base64url(u16 n || signKey || kemKey || check)>
 * POLYCRYPT-SECRET-KEY-2:x25519+ml-kem-768:ed25519+ml-dsa-65:<base64url(...)>
 * polycrypt1:x25519+ml-kem-768:<base64url(publicKey || check)>
 * POLYCRYPT-SECRET-KEY-1:x25519+ml-kem-768:<base64url(secretKey || check)>
 * ```
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity, parseRecipient, recipientFromIdentity } from "@polycrypt/polycrypt";
 * const { identity, recipient } = await generateIdentity("x25519");
 * assert.ok(recipient.startsWith("polycrypt2:x25519:ed25519+ml-dsa-65:"));
 * assert.equal(await recipientFromIdentity(identity), recipient);
 * assert.equal(parseRecipient(recipient).verifyingKey?.engine.id, "ed25519+ml-dsa-65");
 * ```
 *
 * @module
 */
import { FormatError } from "../errors.ts";
import { equalBytes, fromBase64, toBase64 } from "../engines/_bytes.ts";
import { LruCache } from "../engines/_cache.ts";
import { sha256 } from "../engines/_hash.ts";
import { registry as defaultRegistry } from "../engines/mod.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import type { KemEngine, SignatureEngine } from "../engines/types.ts";
import { KemIdentity, KemRecipient, type SigningKey, type VerifyingKey } from "./stanza.ts";

/** Prefix of recipient strings of version 1 (an encryption key only). */
export const RECIPIENT_PREFIX = "polycrypt1:";
/** Prefix of identity strings of version 1 (an encryption key only). */
export const IDENTITY_PREFIX = "POLYCRYPT-SECRET-KEY-1:";
/** Prefix of recipient strings of version 2 (an encryption key and a signing key). */
export const RECIPIENT_PREFIX_V2 = "polycrypt2:";
/** Prefix of identity strings of version 2 (an encryption key and a signing key). */
export const IDENTITY_PREFIX_V2 = "POLYCRYPT-SECRET-KEY-2:";
/** The engine of new identities: X25519 and ML-KEM-768 combined. */
export const DEFAULT_IDENTITY_ENGINE = "x25519+ml-kem-768";
/** The signature engine of new identities: Ed25519 and ML-DSA-65 combined. */
export const DEFAULT_SIGNATURE_ENGINE = "ed25519+ml-dsa-65";

const encoder = new TextEncoder();
const BASE64URL = /^[A-Za-z0-9_-]+$/;
// A signing key is at most this long in a version-2 string (u16 length; ML-DSA-87's public key,
// the largest built-in, is 2,592 bytes).
const MAX_SIGNING_KEY = 0xffff;

/** Options of the functions that look engine ids up. */
export interface KeyOptions {
  /** Where engine ids are looked up; default the global `registry`. */
  registry?: EngineRegistry;
}

/** A signing key for a version-2 string: the engine id and the key bytes. */
export interface SigningPart {
  /** The signature engine id, e.g. `"ed25519+ml-dsa-65"`. */
  readonly id: string;
  /** The public key (recipient) or secret key (identity), in the engine's encoding. */
  readonly key: Uint8Array;
}

function check(prefix: string, ids: string, payload: Uint8Array): Uint8Array {
  return sha256(encoder.encode(`${prefix}${ids}:`), payload).slice(0, 4);
}

function encode(prefix: string, ids: string, payload: Uint8Array): string {
  const body = new Uint8Array(payload.length + 4);
  body.set(payload);
  body.set(check(prefix, ids, payload), payload.length);
  return `${prefix}${ids}:${toBase64(body, { alphabet: "base64url", omitPadding: true })}`;
}

function checkId(id: string, what: string): void {
  if (typeof id !== "string" || id === "" || id.includes(":")) {
    throw new TypeError(`${what} must be a non-empty engine id without ':'`);
  }
}

// Version 2's payload: u16 len(signKey) || signKey || kemKey.
function payloadV2(kemKey: Uint8Array, signing: SigningPart): Uint8Array {
  checkId(signing.id, "signing.id");
  if (!(signing.key instanceof Uint8Array) || signing.key.length > MAX_SIGNING_KEY) {
    throw new RangeError(`signing.key must be a Uint8Array of at most ${MAX_SIGNING_KEY} bytes`);
  }
  const out = new Uint8Array(2 + signing.key.length + kemKey.length);
  new DataView(out.buffer).setUint16(0, signing.key.length);
  out.set(signing.key, 2);
  out.set(kemKey, 2 + signing.key.length);
  return out;
}

function encodeKeys(
  prefix: string,
  prefixV2: string,
  engineId: string,
  key: Uint8Array,
  signing: SigningPart | undefined,
): string {
  checkId(engineId, "engineId");
  if (!(key instanceof Uint8Array)) throw new TypeError("key must be a Uint8Array");
  return signing === undefined
    ? encode(prefix, engineId, key)
    : encode(prefixV2, `${engineId}:${signing.id}`, payloadV2(key, signing));
}

type Decoded = {
  engine: KemEngine;
  key: Uint8Array;
  signing?: { engine: SignatureEngine; key: Uint8Array };
};

function lookUp(registry: EngineRegistry, id: string, what: string): KemEngine | SignatureEngine {
  if (!registry.has(id)) {
    throw new FormatError(`${what} names an unknown engine ${JSON.stringify(id)}`);
  }
  const engine = registry.get(id);
  if (engine.kind === "aead") throw new FormatError(`${what} names ${id}, an AEAD`);
  return engine;
}

// `what` names the kind of string in errors; the string itself is never echoed
// (an identity is a secret).
function decode(
  prefixes: readonly [string, string],
  what: string,
  text: string,
  registry: EngineRegistry,
): Decoded {
  if (typeof text !== "string") throw new TypeError(`${what} must be a string`);
  const value = text.trim();
  const version = value.startsWith(prefixes[1]) ? 2 : value.startsWith(prefixes[0]) ? 1 : 0;
  if (version === 0) {
    throw new FormatError(`${what} must start with "${prefixes[1]}" or "${prefixes[0]}"`);
  }
  const prefix = prefixes[version - 1];
  const rest = value.slice(prefix.length);
  const colon = rest.lastIndexOf(":");
  if (colon <= 0) throw new FormatError(`${what} has no engine id`);
  const ids = rest.slice(0, colon);
  const parts = ids.split(":");
  if (parts.length !== version || parts.some((p) => p === "")) {
    throw new FormatError(
      version === 2
        ? `${what} must name an encryption and a signature engine`
        : `${what} has no engine id`,
    );
  }
  const b64 = rest.slice(colon + 1);
  if (!BASE64URL.test(b64)) throw new FormatError(`${what} is not valid base64url`);
  let body: Uint8Array;
  try {
    body = fromBase64(b64, { alphabet: "base64url" });
  } catch {
    throw new FormatError(`${what} is not valid base64url`);
  }
  // Only the canonical encoding (unpadded, zero trailing bits) is accepted.
  if (toBase64(body, { alphabet: "base64url", omitPadding: true }) !== b64) {
    throw new FormatError(`${what} is not valid base64url`);
  }
  if (body.length < 5) throw new FormatError(`${what} is too short`);
  const payload = body.subarray(0, body.length - 4);
  if (!equalBytes(body.subarray(body.length - 4), check(prefix, ids, payload))) {
    throw new FormatError(`${what} has a bad checksum (mistyped or truncated?)`);
  }
  const engine = lookUp(registry, parts[0], what);
  if (engine.kind !== "kem") throw new FormatError(`${what} names ${parts[0]}, which is not a KEM`);
  if (version === 1) return { engine, key: payload.slice() };
  const n = payload.length >= 2 ? (payload[0] << 8) | payload[1] : -1;
  if (n < 1 || payload.length < 2 + n + 1) throw new FormatError(`${what} is too short`);
  const signer = lookUp(registry, parts[1], what);
  if (signer.kind !== "signature") {
    throw new FormatError(`${what} names ${parts[1]}, which is not a signature engine`);
  }
  return {
    engine,
    key: payload.slice(2 + n),
    signing: { engine: signer, key: payload.slice(2, 2 + n) },
  };
}

const RECIPIENT_PREFIXES = [RECIPIENT_PREFIX, RECIPIENT_PREFIX_V2] as const;
const IDENTITY_PREFIXES = [IDENTITY_PREFIX, IDENTITY_PREFIX_V2] as const;

/**
 * Encodes a public key as a recipient string: version 2 with a public signing key, else
 * version 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRecipient } from "@polycrypt/polycrypt";
 * assert.ok(encodeRecipient("x25519", new Uint8Array(32)).startsWith("polycrypt1:x25519:"));
 * const signing = { id: "ed25519", key: new Uint8Array(32).fill(1) };
 * assert.ok(encodeRecipient("x25519", new Uint8Array(32), signing).startsWith(
 *   "polycrypt2:x25519:ed25519:",
 * ));
 * ```
 */
export function encodeRecipient(
  engineId: string,
  publicKey: Uint8Array,
  signing?: SigningPart,
): string {
  return encodeKeys(RECIPIENT_PREFIX, RECIPIENT_PREFIX_V2, engineId, publicKey, signing);
}

/**
 * Encodes a secret key as an identity string: version 2 with a secret signing key, else
 * version 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeIdentity } from "@polycrypt/polycrypt";
 * assert.ok(encodeIdentity("x25519", new Uint8Array(32)).startsWith("POLYCRYPT-SECRET-KEY-1:"));
 * ```
 */
export function encodeIdentity(
  engineId: string,
  secretKey: Uint8Array,
  signing?: SigningPart,
): string {
  return encodeKeys(IDENTITY_PREFIX, IDENTITY_PREFIX_V2, engineId, secretKey, signing);
}

/**
 * Parses a recipient string into the built-in {@linkcode KemRecipient}; throws
 * {@linkcode FormatError} when it is malformed, fails its checksum or names an unknown engine,
 * and `InvalidKeyError` when its engine refuses the key (e.g. an RSA key that fails the
 * checks of `docs/engines/rsa.md`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRecipient, parseRecipient } from "@polycrypt/polycrypt";
 * const r = parseRecipient(encodeRecipient("x25519", new Uint8Array(32).fill(9)));
 * assert.equal(r.engine.id, "x25519");
 * assert.equal(r.publicKey.length, 32);
 * ```
 */
export function parseRecipient(recipient: string, options: KeyOptions = {}): KemRecipient {
  // Recipients are public and a messenger sends to the same contacts all day, so parsed ones
  // are kept (the engine's own caches then see the same key bytes), one cache per registry.
  if (typeof recipient !== "string") throw new TypeError("recipient must be a string");
  const registry = options.registry ?? defaultRegistry;
  let cache = parsedRecipients.get(registry);
  if (!cache) parsedRecipients.set(registry, cache = new LruCache<string, ParsedRecipient>(256));
  const parsed = cache.getOrCreate(recipient, () => {
    const { engine, key, signing } = decode(RECIPIENT_PREFIXES, "recipient", recipient, registry);
    engine.checkPublicKey?.(key); // InvalidKeyError for a key the engine will not encrypt to
    if (signing && signing.key.length !== signing.engine.publicKeySize) {
      throw new FormatError(
        `recipient's ${signing.engine.id} key must be ${signing.engine.publicKeySize} bytes`,
      );
    }
    return Object.freeze({
      engine,
      publicKey: key,
      verifying: signing && Object.freeze({ engine: signing.engine, publicKey: signing.key }),
    });
  });
  // Copies, so a caller changing the bytes cannot change the cached recipient.
  const { verifying } = parsed;
  return new KemRecipient(
    parsed.engine,
    parsed.publicKey.slice(),
    verifying && { engine: verifying.engine, publicKey: verifying.publicKey.slice() },
  );
}

type ParsedRecipient = {
  readonly engine: KemEngine;
  readonly publicKey: Uint8Array;
  readonly verifying?: VerifyingKey;
};
const parsedRecipients = new WeakMap<EngineRegistry, LruCache<string, ParsedRecipient>>();

/**
 * Parses an identity string into the built-in {@linkcode KemIdentity}. Errors never contain the
 * identity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity, parseIdentity } from "@polycrypt/polycrypt";
 * const { identity } = await generateIdentity("x25519");
 * assert.equal(parseIdentity(identity).engine.id, "x25519");
 * ```
 */
export function parseIdentity(identity: string, options: KeyOptions = {}): KemIdentity {
  const registry = options.registry ?? defaultRegistry;
  const { engine, key, signing } = decode(IDENTITY_PREFIXES, "identity", identity, registry);
  const size = signing?.engine.secretKeySize;
  if (signing && size !== undefined && signing.key.length !== size) {
    throw new FormatError(`identity's ${signing.engine.id} key must be ${size} bytes`);
  }
  const signingKey: SigningKey | undefined = signing &&
    { engine: signing.engine, secretKey: signing.key };
  return new KemIdentity(engine, key, signingKey);
}

/**
 * The recipient string that belongs to an identity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity, recipientFromIdentity } from "@polycrypt/polycrypt";
 * const { identity, recipient } = await generateIdentity("ml-kem-768");
 * assert.equal(await recipientFromIdentity(identity), recipient);
 * ```
 */
export async function recipientFromIdentity(
  identity: string,
  options: KeyOptions = {},
): Promise<string> {
  const { engine, secretKey, signingKey } = parseIdentity(identity, options);
  const derive = (e: KemEngine | SignatureEngine) => {
    if (!e.publicKeyFromSecretKey) {
      throw new TypeError(`engine ${e.id} cannot derive a public key from a secret key`);
    }
    return e.publicKeyFromSecretKey.bind(e);
  };
  const publicKey = await derive(engine)(secretKey);
  const signing = signingKey && {
    id: signingKey.engine.id,
    key: await derive(signingKey.engine)(signingKey.secretKey),
  };
  return encodeRecipient(engine.id, publicKey, signing);
}

/** Options of {@linkcode generateIdentity} and {@linkcode upgradeIdentity}. */
export interface GenerateOptions extends KeyOptions {
  /**
   * The signature engine of the identity's signing key, default
   * {@linkcode DEFAULT_SIGNATURE_ENGINE}; `null` makes a version-1 identity without one
   * (it can decrypt, but not sign).
   */
  signatureEngine?: string | null;
}

async function signingPair(id: string, registry: EngineRegistry) {
  const engine = registry.signature(id);
  const { publicKey, secretKey } = await engine.generateKeyPair();
  return { public: { id: engine.id, key: publicKey }, secret: { id: engine.id, key: secretKey } };
}

/**
 * Gives a version-1 identity (encryption only) a signing key, keeping its encryption key: the
 * new identity opens everything the old one did, and its recipient string is version 2.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity, parseIdentity, upgradeIdentity } from "@polycrypt/polycrypt";
 * const old = await generateIdentity("x25519", { signatureEngine: null });
 * assert.ok(old.identity.startsWith("POLYCRYPT-SECRET-KEY-1:"));
 * const upgraded = await upgradeIdentity(old.identity);
 * assert.ok(upgraded.recipient.startsWith("polycrypt2:x25519:ed25519+ml-dsa-65:"));
 * assert.deepEqual(
 *   parseIdentity(upgraded.identity).secretKey,
 *   parseIdentity(old.identity).secretKey,
 * );
 * ```
 */
export async function upgradeIdentity(
  identity: string,
  options: GenerateOptions = {},
): Promise<{ identity: string; recipient: string }> {
  const registry = options.registry ?? defaultRegistry;
  const parsed = parseIdentity(identity, { registry });
  if (parsed.signingKey) throw new TypeError("identity already has a signing key");
  const pair = await signingPair(options.signatureEngine ?? DEFAULT_SIGNATURE_ENGINE, registry);
  const upgraded = encodeIdentity(parsed.engine.id, parsed.secretKey, pair.secret);
  return { identity: upgraded, recipient: await recipientFromIdentity(upgraded, { registry }) };
}

/**
 * Makes a new identity on this device and its recipient string: an encryption key and, unless
 * `signatureEngine` is `null`, a signing key (version 2).
 *
 * @param engineId any registered KEM or hybrid id; default {@linkcode DEFAULT_IDENTITY_ENGINE}
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity } from "@polycrypt/polycrypt";
 * const { identity, recipient } = await generateIdentity();
 * assert.ok(recipient.startsWith("polycrypt2:x25519+ml-kem-768:ed25519+ml-dsa-65:"));
 * assert.ok(identity.startsWith("POLYCRYPT-SECRET-KEY-2:"));
 * const plain = await generateIdentity("ml-kem-768", { signatureEngine: "ed25519" });
 * assert.ok(plain.recipient.startsWith("polycrypt2:ml-kem-768:ed25519:"));
 * ```
 */
export async function generateIdentity(
  engineId: string = DEFAULT_IDENTITY_ENGINE,
  options: GenerateOptions = {},
): Promise<{ identity: string; recipient: string }> {
  const registry = options.registry ?? defaultRegistry;
  const engine = registry.kem(engineId);
  const signatureId = options.signatureEngine === undefined
    ? DEFAULT_SIGNATURE_ENGINE
    : options.signatureEngine;
  // Look the signature engine up before the (possibly slow, RSA) key generation.
  if (signatureId !== null) registry.signature(signatureId);
  const [{ publicKey, secretKey }, signing] = await Promise.all([
    engine.generateKeyPair(),
    signatureId === null ? undefined : signingPair(signatureId, registry),
  ]);
  return {
    identity: encodeIdentity(engine.id, secretKey, signing?.secret),
    recipient: encodeRecipient(engine.id, publicKey, signing?.public),
  };
}

/**
 * Extracts the identity strings from an identity file: one per line, `#`
 * comments and blank lines ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { identitiesFromText } from "@polycrypt/polycrypt";
 * assert.deepEqual(identitiesFromText("# me\nPOLYCRYPT-SECRET-KEY-1:x25519:AAAA\n"), [
 *   "POLYCRYPT-SECRET-KEY-1:x25519:AAAA",
 * ]);
 * ```
 */
export function identitiesFromText(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}
