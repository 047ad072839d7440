/**
 * Typed errors shared by every polycrypt module.
 *
 * Every decryption or decapsulation failure, whatever its cause, surfaces as a
 * {@linkcode DecryptionError} with one fixed message, so that callers (and
 * attackers) cannot tell which check failed. Usage mistakes surface as
 * `TypeError`/`RangeError` naming the argument.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256Gcm, DecryptionError, PolycryptError } from "@polycrypt/polycrypt";
 * const key = new Uint8Array(32), nonce = new Uint8Array(12);
 * const sealed = await aes256Gcm.seal(key, nonce, new TextEncoder().encode("hi"));
 * sealed[0] ^= 1; // a forged ciphertext
 * await assert.rejects(aes256Gcm.open(key, nonce, sealed), (e) => {
 *   assert.ok(e instanceof DecryptionError && e instanceof PolycryptError);
 *   assert.equal(e.message, "decryption failed");
 *   return true;
 * });
 * ```
 *
 * @module
 */

/**
 * Base class of every error polycrypt throws on purpose.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PolycryptError, registry, UnknownEngineError } from "@polycrypt/polycrypt";
 * assert.throws(() => registry.get("nope"), UnknownEngineError);
 * assert.throws(() => registry.get("nope"), PolycryptError);
 * assert.equal(new UnknownEngineError("nope", ["x25519"]).name, "UnknownEngineError");
 * ```
 */
export class PolycryptError extends Error {
  /**
   * Makes an error named after its class (`new.target.name`).
   *
   * @param message what went wrong; never contains secret material
   * @param options `cause`, for errors that wrap another one
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The one message of every {@linkcode DecryptionError}. */
export const DECRYPTION_FAILED = "decryption failed";

/**
 * Opening or decapsulating failed: wrong key, corrupted or forged input.
 *
 * The message is always {@linkcode DECRYPTION_FAILED} and the error never
 * carries the underlying library error as `cause`, so no internal detail
 * (padding check, tag check, ...) leaks to the caller.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DecryptionError, DECRYPTION_FAILED } from "@polycrypt/polycrypt";
 * const e = new DecryptionError();
 * assert.equal(e.message, DECRYPTION_FAILED);
 * assert.equal(e.name, "DecryptionError");
 * assert.equal(e.cause, undefined);
 * ```
 */
export class DecryptionError extends PolycryptError {
  /** Makes the error; its message is always {@linkcode DECRYPTION_FAILED}. */
  constructor() {
    super(DECRYPTION_FAILED);
  }
}

/**
 * A signature did not verify, or was made by someone other than the signers expected. Like
 * {@linkcode DecryptionError} it has one message, whatever the cause.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SignatureError } from "@polycrypt/polycrypt";
 * assert.equal(new SignatureError().message, "signature verification failed");
 * ```
 */
export class SignatureError extends PolycryptError {
  /** Makes the error; its message is always "signature verification failed". */
  constructor() {
    super("signature verification failed");
  }
}

/**
 * A key or public value is malformed or outside the group it must belong to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidKeyError, x25519 } from "@polycrypt/polycrypt";
 * // The all-zero X25519 point has small order: encapsulating to it is refused.
 * await assert.rejects(x25519.encapsulate(new Uint8Array(32)), InvalidKeyError);
 * assert.equal(new InvalidKeyError("bad key").name, "InvalidKeyError");
 * ```
 */
export class InvalidKeyError extends PolycryptError {}

/**
 * No engine is registered under the requested id. The message lists the valid ids.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnknownEngineError } from "@polycrypt/polycrypt";
 * const e = new UnknownEngineError("rsa-1024", ["rsa-2048", "x25519"]);
 * assert.equal(e.message, 'unknown engine "rsa-1024"; valid ids: rsa-2048, x25519');
 * assert.equal(e.id, "rsa-1024");
 * assert.deepEqual(e.validIds, ["rsa-2048", "x25519"]);
 * ```
 */
export class UnknownEngineError extends PolycryptError {
  /** The id that was asked for. */
  readonly id: string;
  /** The ids that are registered. */
  readonly validIds: readonly string[];

  /**
   * Makes the error; the message names `id` and lists `validIds`.
   *
   * @param id the id that was asked for
   * @param validIds the ids that exist
   * @param hint extra text appended to the message (e.g. a factory's range)
   */
  constructor(id: string, validIds: readonly string[], hint = "") {
    super(`unknown engine ${JSON.stringify(id)}; valid ids: ${validIds.join(", ")}${hint}`);
    this.id = id;
    this.validIds = Object.freeze([...validIds]);
  }
}

/**
 * An engine with the same id is already registered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DuplicateEngineError, registry, x25519 } from "@polycrypt/polycrypt";
 * assert.throws(() => registry.register(x25519), DuplicateEngineError);
 * assert.equal(
 *   new DuplicateEngineError("x25519").message,
 *   'an engine with id "x25519" is already registered',
 * );
 * ```
 */
export class DuplicateEngineError extends PolycryptError {
  /**
   * Makes the error; the message names the taken id.
   *
   * @param id the id that is taken
   */
  constructor(id: string) {
    super(`an engine with id ${JSON.stringify(id)} is already registered`);
  }
}

/**
 * Bytes that are not a well-formed polycrypt envelope, key string or frame,
 * or that exceed a documented limit. Raised before any expensive work.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, FormatError, generateIdentity } from "@polycrypt/polycrypt";
 * const { identity } = await generateIdentity("x25519");
 * const notAnEnvelope = new TextEncoder().encode("not a polycrypt envelope");
 * await assert.rejects(decrypt(notAnEnvelope, { identities: [identity] }), FormatError);
 * ```
 */
export class FormatError extends PolycryptError {}
