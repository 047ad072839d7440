/**
 * The engine registry: one place that maps ids such as `"ml-kem-768"` to
 * engines, checks what plugins register, and resolves parameterised ids
 * (`"rsa-5120"`) through factories.
 *
 * @module
 */
import { DuplicateEngineError, UnknownEngineError } from "../errors.ts";
import type { AeadEngine, Engine, KemEngine, SignatureEngine } from "./types.ts";

/**
 * Resolves ids that are not registered one by one, e.g. every RSA size.
 * Returns `undefined` when the id is not its own.
 */
export interface EngineFactory {
  /** One line for error messages, e.g. `"rsa-N for N from 2048 to 16384"`. */
  readonly description: string;
  /** The engine for `id`, or `undefined` when `id` is not one of this factory's. */
  resolve(id: string): Engine | undefined;
}

/**
 * A built-in family's factory as its `FACTORIES` lists it: the factory itself, or a function that
 * makes it for the registry it joins. Hybrid KEMs need that form: their factory resolves its
 * components (`x25519`, `ml-kem-768`) in the same registry, which does not exist when the family's
 * module loads.
 */
export type BuiltinFactory = EngineFactory | ((registry: EngineRegistry) => EngineFactory);

const ID_PATTERN = /^[a-z0-9][a-z0-9.\-_]*(\+[a-z0-9][a-z0-9.\-_]*)*$/;
const KEM_SIZES = ["publicKeySize", "encapsulationSize", "sharedSecretSize", "securityBits"];
const KEM_METHODS = ["generateKeyPair", "encapsulate", "decapsulate"];
const AEAD_SIZES = ["keySize", "nonceSize", "tagSize"];
const AEAD_METHODS = ["seal", "open"];
const SIGNATURE_SIZES = ["publicKeySize", "signatureSize", "securityBits"];
const SIGNATURE_METHODS = ["generateKeyPair", "sign", "verify"];

/**
 * A set of engines addressed by id. polycrypt's default instance is
 * `registry` in `engines/mod.ts`; make your own for isolation in tests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256Gcm, EngineRegistry, UnknownEngineError } from "@polycrypt/polycrypt";
 * const mine = new EngineRegistry();
 * mine.register(aes256Gcm);
 * assert.deepEqual(mine.ids(), ["aes-256-gcm"]);
 * assert.equal(mine.aead("aes-256-gcm"), aes256Gcm);
 * assert.throws(() => mine.get("x25519"), UnknownEngineError);
 * ```
 */
export class EngineRegistry {
  #engines = new Map<string, Engine>();
  #factories: EngineFactory[] = [];
  #resolved = new Map<string, Engine>();

  /**
   * Adds an engine. Throws {@linkcode DuplicateEngineError} when the id is
   * taken and `TypeError` when the object does not satisfy the interface.
   */
  register(engine: Engine): void {
    checkEngine(engine);
    if (this.#engines.has(engine.id) || this.#resolve(engine.id) !== undefined) {
      throw new DuplicateEngineError(engine.id);
    }
    this.#engines.set(engine.id, engine);
  }

  /** Adds a factory for parameterised ids. Registered engines win over factories. */
  registerFactory(factory: EngineFactory): void {
    if (typeof factory?.resolve !== "function" || typeof factory.description !== "string") {
      throw new TypeError("factory must have a description string and a resolve function");
    }
    this.#factories.push(factory);
  }

  /** The ids registered one by one, sorted (factory-made ids are not listed). */
  ids(): string[] {
    return [...this.#engines.keys()].sort(compareIds);
  }

  /** Whether `get(id)` would succeed. */
  has(id: string): boolean {
    return this.#engines.has(id) || this.#resolve(id) !== undefined;
  }

  /**
   * The engine with this id. Throws {@linkcode UnknownEngineError}, listing
   * the valid ids, when there is none.
   */
  get(id: string): Engine {
    if (typeof id !== "string") throw new TypeError("id must be a string");
    const engine = this.#engines.get(id) ?? this.#resolve(id);
    if (engine === undefined) {
      const hint = this.#factories.map((f) => f.description);
      throw new UnknownEngineError(id, this.ids(), hint.length ? `; also ${hint.join("; ")}` : "");
    }
    return engine;
  }

  /** Like {@linkcode get}, but the engine must be a KEM. */
  kem(id: string): KemEngine {
    const engine = this.get(id);
    if (engine.kind !== "kem") throw new TypeError(`engine ${JSON.stringify(id)} is not a KEM`);
    return engine;
  }

  /** Like {@linkcode get}, but the engine must be an AEAD. */
  aead(id: string): AeadEngine {
    const engine = this.get(id);
    if (engine.kind !== "aead") throw new TypeError(`engine ${JSON.stringify(id)} is not an AEAD`);
    return engine;
  }

  /**
   * Like {@linkcode get}, but the engine must be a signature engine.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { registry } from "@polycrypt/polycrypt";
   * const ed = registry.signature("ed25519");
   * const { publicKey, secretKey } = await ed.generateKeyPair();
   * const message = new TextEncoder().encode("hi Bob, this is Alice");
   * const signature = await ed.sign(secretKey, message);
   * assert.equal(signature.length, ed.signatureSize);
   * assert.equal(await ed.verify(publicKey, message, signature), true);
   * assert.throws(() => registry.signature("x25519"), TypeError);
   * ```
   */
  signature(id: string): SignatureEngine {
    const engine = this.get(id);
    if (engine.kind !== "signature") {
      throw new TypeError(`engine ${JSON.stringify(id)} is not a signature engine`);
    }
    return engine;
  }

  #resolve(id: string): Engine | undefined {
    const cached = this.#resolved.get(id);
    if (cached) return cached;
    for (const factory of this.#factories) {
      const engine = factory.resolve(id);
      if (engine !== undefined) {
        checkEngine(engine);
        this.#resolved.set(id, engine);
        return engine;
      }
    }
    return undefined;
  }
}

// Sorts "rsa-2048" before "rsa-16384": numeric runs compare as numbers.
function compareIds(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

function checkEngine(engine: unknown): asserts engine is Engine {
  if (typeof engine !== "object" || engine === null) {
    throw new TypeError("engine must be an object");
  }
  const e = engine as Record<string, unknown>;
  if (typeof e.id !== "string" || !ID_PATTERN.test(e.id)) {
    throw new TypeError(
      `engine.id must be lower-case letters, digits, ".", "-" or "_" (got ${String(e.id)})`,
    );
  }
  const [sizes, methods] = e.kind === "kem"
    ? [KEM_SIZES, KEM_METHODS]
    : e.kind === "aead"
    ? [AEAD_SIZES, AEAD_METHODS]
    : e.kind === "signature"
    ? [SIGNATURE_SIZES, SIGNATURE_METHODS]
    : [undefined, undefined];
  if (!sizes || !methods) {
    throw new TypeError(`engine ${e.id}: kind must be "kem", "aead" or "signature"`);
  }
  for (const field of sizes) {
    const v = e[field];
    if (!Number.isSafeInteger(v) || (v as number) < 0) {
      throw new TypeError(`engine ${e.id}: ${field} must be a non-negative integer`);
    }
  }
  for (const method of methods) {
    if (typeof e[method] !== "function") {
      throw new TypeError(`engine ${e.id}: ${method} must be a function`);
    }
  }
  for (const optional of ["withKey", "deriveKeyPair", "publicKeyFromSecretKey", "checkPublicKey"]) {
    if (e[optional] !== undefined && typeof e[optional] !== "function") {
      throw new TypeError(`engine ${e.id}: ${optional}, when present, must be a function`);
    }
  }
  if (e.kind === "kem" || e.kind === "signature") {
    if (typeof e.family !== "string" || e.family === "") {
      throw new TypeError(`engine ${e.id}: family must be a non-empty string`);
    }
    if (typeof e.postQuantum !== "boolean") {
      throw new TypeError(`engine ${e.id}: postQuantum must be a boolean`);
    }
    const legacy = e.legacyEncapsulationSize;
    if (
      legacy !== undefined &&
      !(Number.isSafeInteger(legacy) && (legacy as number) > 0 && legacy !== e.encapsulationSize)
    ) {
      throw new TypeError(
        `engine ${e.id}: legacyEncapsulationSize, when present, must be a positive integer ` +
          "other than encapsulationSize",
      );
    }
  }
}
