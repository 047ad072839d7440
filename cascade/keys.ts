/**
 * Recipient and identity strings (`docs/format.md` section 8): text that
 * names its engine, carries a 4-byte checksum, and is safe on a command line.
 *
 * ```
 * polycrypt1:x25519+ml-kem-768:<base64url(publicKey || check)>
 * POLYCRYPT-SECRET-KEY-1:x25519+ml-kem-768:<base64url(secretKey || check)>
 * ```
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity, recipientFromIdentity } from "@polycrypt/polycrypt";
 * const { identity, recipient } = await generateIdentity("x25519");
 * assert.ok(recipient.startsWith("polycrypt1:x25519:"));
 * assert.equal(await recipientFromIdentity(identity), recipient);
 * ```
 *
 * @module
 */
import { FormatError } from "../errors.ts";
import { equalBytes } from "../engines/_bytes.ts";
import { LruCache } from "../engines/_cache.ts";
import { sha256 } from "../engines/_hash.ts";
import { registry as defaultRegistry } from "../engines/mod.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import type { KemEngine } from "../engines/types.ts";
import { KemIdentity, KemRecipient } from "./stanza.ts";

/** Prefix of every recipient string. */
export const RECIPIENT_PREFIX = "polycrypt1:";
/** Prefix of every identity string. */
export const IDENTITY_PREFIX = "POLYCRYPT-SECRET-KEY-1:";
/** The engine of new identities: X25519 and ML-KEM-768 combined. */
export const DEFAULT_IDENTITY_ENGINE = "x25519+ml-kem-768";

const encoder = new TextEncoder();
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Options of the functions that look engine ids up. */
export interface KeyOptions {
  /** Where engine ids are looked up; default the global `registry`. */
  registry?: EngineRegistry;
}

function check(prefix: string, id: string, key: Uint8Array): Uint8Array {
  return sha256(encoder.encode(`${prefix}${id}:`), key).slice(0, 4);
}

function encode(prefix: string, id: string, key: Uint8Array): string {
  const body = new Uint8Array(key.length + 4);
  body.set(key);
  body.set(check(prefix, id, key), key.length);
  return `${prefix}${id}:${body.toBase64({ alphabet: "base64url", omitPadding: true })}`;
}

// `what` names the kind of string in errors; the string itself is never echoed
// (an identity is a secret).
function decode(
  prefix: string,
  what: string,
  text: string,
  registry: EngineRegistry,
): { engine: KemEngine; key: Uint8Array } {
  if (typeof text !== "string") throw new TypeError(`${what} must be a string`);
  const value = text.trim();
  if (!value.startsWith(prefix)) throw new FormatError(`${what} must start with "${prefix}"`);
  const rest = value.slice(prefix.length);
  const colon = rest.lastIndexOf(":");
  if (colon <= 0) throw new FormatError(`${what} has no engine id`);
  const id = rest.slice(0, colon);
  const b64 = rest.slice(colon + 1);
  if (!BASE64URL.test(b64)) throw new FormatError(`${what} is not valid base64url`);
  let body: Uint8Array;
  try {
    body = Uint8Array.fromBase64(b64, { alphabet: "base64url" });
  } catch {
    throw new FormatError(`${what} is not valid base64url`);
  }
  // Only the canonical encoding (unpadded, zero trailing bits) is accepted.
  if (body.toBase64({ alphabet: "base64url", omitPadding: true }) !== b64) {
    throw new FormatError(`${what} is not valid base64url`);
  }
  if (body.length < 5) throw new FormatError(`${what} is too short`);
  const key = body.subarray(0, body.length - 4);
  if (!equalBytes(body.subarray(body.length - 4), check(prefix, id, key))) {
    throw new FormatError(`${what} has a bad checksum (mistyped or truncated?)`);
  }
  if (!registry.has(id)) {
    throw new FormatError(`${what} names an unknown engine ${JSON.stringify(id)}`);
  }
  const engine = registry.get(id);
  if (engine.kind !== "kem") throw new FormatError(`${what} names ${id}, which is not a KEM`);
  return { engine, key: key.slice() };
}

/**
 * Encodes a public key as a recipient string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRecipient } from "@polycrypt/polycrypt";
 * assert.ok(encodeRecipient("x25519", new Uint8Array(32)).startsWith("polycrypt1:x25519:"));
 * ```
 */
export function encodeRecipient(engineId: string, publicKey: Uint8Array): string {
  return encode(RECIPIENT_PREFIX, engineId, publicKey);
}

/**
 * Encodes a secret key as an identity string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeIdentity } from "@polycrypt/polycrypt";
 * assert.ok(encodeIdentity("x25519", new Uint8Array(32)).startsWith("POLYCRYPT-SECRET-KEY-1:"));
 * ```
 */
export function encodeIdentity(engineId: string, secretKey: Uint8Array): string {
  return encode(IDENTITY_PREFIX, engineId, secretKey);
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
    const { engine, key } = decode(RECIPIENT_PREFIX, "recipient", recipient, registry);
    engine.checkPublicKey?.(key); // InvalidKeyError for a key the engine will not encrypt to
    return Object.freeze({ engine, publicKey: key });
  });
  // A copy, so a caller changing the bytes cannot change the cached recipient.
  return new KemRecipient(parsed.engine, parsed.publicKey.slice());
}

type ParsedRecipient = { readonly engine: KemEngine; readonly publicKey: Uint8Array };
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
  const { engine, key } = decode(IDENTITY_PREFIX, "identity", identity, registry);
  return new KemIdentity(engine, key);
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
  const { engine, secretKey } = parseIdentity(identity, options);
  if (!engine.publicKeyFromSecretKey) {
    throw new TypeError(`engine ${engine.id} cannot derive a public key from a secret key`);
  }
  return encodeRecipient(engine.id, await engine.publicKeyFromSecretKey(secretKey));
}

/**
 * Makes a new identity on this device and its recipient string.
 *
 * @param engineId any registered KEM or hybrid id; default {@linkcode DEFAULT_IDENTITY_ENGINE}
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity } from "@polycrypt/polycrypt";
 * const { identity, recipient } = await generateIdentity();
 * assert.ok(recipient.startsWith("polycrypt1:x25519+ml-kem-768:"));
 * assert.ok(identity.startsWith("POLYCRYPT-SECRET-KEY-1:"));
 * ```
 */
export async function generateIdentity(
  engineId: string = DEFAULT_IDENTITY_ENGINE,
  options: KeyOptions = {},
): Promise<{ identity: string; recipient: string }> {
  const engine = (options.registry ?? defaultRegistry).kem(engineId);
  const { publicKey, secretKey } = await engine.generateKeyPair();
  return {
    identity: encodeIdentity(engine.id, secretKey),
    recipient: encodeRecipient(engine.id, publicKey),
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
