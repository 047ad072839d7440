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
 * import { generateIdentity, recipientFromIdentity } from "./keys.ts";
 * const { identity, recipient } = await generateIdentity("x25519");
 * console.log(recipient.startsWith("polycrypt1:x25519:")); // true
 * console.log((await recipientFromIdentity(identity)) === recipient); // true
 * ```
 *
 * @module
 */
import { FormatError } from "../errors.ts";
import { equalBytes } from "../engines/_bytes.ts";
import { LruCache } from "../engines/_cache.ts";
import { sha256 } from "../engines/_hash.ts";
import { registry } from "../engines/mod.ts";
import type { KemEngine } from "../engines/types.ts";

/** Prefix of every recipient string. */
export const RECIPIENT_PREFIX = "polycrypt1:";
/** Prefix of every identity string. */
export const IDENTITY_PREFIX = "POLYCRYPT-SECRET-KEY-1:";
/** The engine of new identities: X25519 and ML-KEM-768 combined. */
export const DEFAULT_IDENTITY_ENGINE = "x25519+ml-kem-768";

const encoder = new TextEncoder();
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A parsed recipient: the engine and its public key. */
export interface Recipient {
  readonly engine: KemEngine;
  readonly publicKey: Uint8Array;
}

/** A parsed identity: the engine and its secret key. */
export interface Identity {
  readonly engine: KemEngine;
  readonly secretKey: Uint8Array;
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
 * import { encodeRecipient } from "./keys.ts";
 * console.log(encodeRecipient("x25519", new Uint8Array(32)).startsWith("polycrypt1:x25519:")); // true
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
 * import { encodeIdentity } from "./keys.ts";
 * console.log(encodeIdentity("x25519", new Uint8Array(32)).startsWith("POLYCRYPT-SECRET-KEY-1:")); // true
 * ```
 */
export function encodeIdentity(engineId: string, secretKey: Uint8Array): string {
  return encode(IDENTITY_PREFIX, engineId, secretKey);
}

/**
 * Parses a recipient string; throws {@linkcode FormatError} when it is
 * malformed, fails its checksum or names an unknown engine.
 *
 * @example
 * ```ts
 * import { encodeRecipient, parseRecipient } from "./keys.ts";
 * const r = parseRecipient(encodeRecipient("x25519", new Uint8Array(32).fill(9)));
 * console.log(r.engine.id, r.publicKey.length); // x25519 32
 * ```
 */
export function parseRecipient(recipient: string): Recipient {
  // Recipients are public and a messenger sends to the same contacts all day, so parsed ones
  // are kept (the engine's own caches then see the same key bytes).
  if (typeof recipient !== "string") throw new TypeError("recipient must be a string");
  const parsed = parsedRecipients.getOrCreate(recipient, () => {
    const { engine, key } = decode(RECIPIENT_PREFIX, "recipient", recipient);
    return Object.freeze({ engine, publicKey: key });
  });
  // A copy, so a caller changing the bytes cannot change the cached recipient.
  return { engine: parsed.engine, publicKey: parsed.publicKey.slice() };
}

const parsedRecipients = new LruCache<string, Recipient>(256);

/**
 * Parses an identity string. Errors never contain the identity.
 *
 * @example
 * ```ts
 * import { generateIdentity, parseIdentity } from "./keys.ts";
 * const { identity } = await generateIdentity("x25519");
 * console.log(parseIdentity(identity).engine.id); // x25519
 * ```
 */
export function parseIdentity(identity: string): Identity {
  const { engine, key } = decode(IDENTITY_PREFIX, "identity", identity);
  return { engine, secretKey: key };
}

/**
 * The recipient string that belongs to an identity.
 *
 * @example
 * ```ts
 * import { generateIdentity, recipientFromIdentity } from "./keys.ts";
 * const { identity, recipient } = await generateIdentity("ml-kem-768");
 * console.log((await recipientFromIdentity(identity)) === recipient); // true
 * ```
 */
export async function recipientFromIdentity(identity: string): Promise<string> {
  const { engine, secretKey } = parseIdentity(identity);
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
 * import { generateIdentity } from "./keys.ts";
 * const { identity, recipient } = await generateIdentity();
 * console.log(recipient.startsWith("polycrypt1:x25519+ml-kem-768:")); // true
 * console.log(identity.startsWith("POLYCRYPT-SECRET-KEY-1:")); // true
 * ```
 */
export async function generateIdentity(
  engineId: string = DEFAULT_IDENTITY_ENGINE,
): Promise<{ identity: string; recipient: string }> {
  const engine = registry.kem(engineId);
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
 * import { identitiesFromText } from "./keys.ts";
 * console.log(identitiesFromText("# me\nPOLYCRYPT-SECRET-KEY-1:x25519:AAAA\n").length); // 1
 * ```
 */
export function identitiesFromText(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}
