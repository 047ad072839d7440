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
 * import { DecryptionError } from "./errors.ts";
 * const e = new DecryptionError();
 * console.log(e.message); // "decryption failed"
 * ```
 *
 * @module
 */

/**
 * Base class of every error polycrypt throws on purpose.
 *
 * @example
 * ```ts
 * import { PolycryptError, UnknownEngineError } from "./errors.ts";
 * console.log(new UnknownEngineError("nope", ["x25519"]) instanceof PolycryptError); // true
 * ```
 */
export class PolycryptError extends Error {
  /** @param message what went wrong; never contains secret material */
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
 * import { DecryptionError, DECRYPTION_FAILED } from "./errors.ts";
 * console.log(new DecryptionError().message === DECRYPTION_FAILED); // true
 * ```
 */
export class DecryptionError extends PolycryptError {
  constructor() {
    super(DECRYPTION_FAILED);
  }
}

/**
 * A key or public value is malformed or outside the group it must belong to.
 *
 * @example
 * ```ts
 * import { InvalidKeyError } from "./errors.ts";
 * const e = new InvalidKeyError("publicKey is not in the prime-order subgroup");
 * console.log(e.name); // "InvalidKeyError"
 * ```
 */
export class InvalidKeyError extends PolycryptError {}

/**
 * No engine is registered under the requested id. The message lists the valid ids.
 *
 * @example
 * ```ts
 * import { UnknownEngineError } from "./errors.ts";
 * const e = new UnknownEngineError("rsa-1024", ["rsa-2048", "x25519"]);
 * console.log(e.message); // unknown engine "rsa-1024"; valid ids: rsa-2048, x25519
 * ```
 */
export class UnknownEngineError extends PolycryptError {
  /** The id that was asked for. */
  readonly id: string;
  /** The ids that are registered. */
  readonly validIds: readonly string[];

  /**
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
 * import { DuplicateEngineError } from "./errors.ts";
 * console.log(new DuplicateEngineError("x25519").message);
 * ```
 */
export class DuplicateEngineError extends PolycryptError {
  /** @param id the id that is taken */
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
 * import { FormatError } from "./errors.ts";
 * console.log(new FormatError("not a polycrypt envelope").name); // "FormatError"
 * ```
 */
export class FormatError extends PolycryptError {}
