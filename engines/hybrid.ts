/**
 * Hybrid KEMs: several KEMs combined into one, secure while any one of them
 * is. The combiner is the "KitchenSink" combiner of draft-irtf-cfrg-hybrid-kems
 * (every shared secret, encapsulation and public key goes through HKDF),
 * generalised to n components; `docs/format.md` section 3 has the byte layout
 * and the reasoning.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registry } from "@polycrypt/polycrypt";
 * const kem = registry.kem("x25519+ml-kem-768");
 * const { publicKey, secretKey } = await kem.generateKeyPair();
 * const { encapsulation, sharedSecret } = await kem.encapsulate(publicKey);
 * assert.equal(sharedSecret.length, 32);
 * assert.deepEqual(await kem.decapsulate(encapsulation, secretKey), sharedSecret);
 * ```
 *
 * @module
 */
import { DecryptionError } from "../errors.ts";
import { checkBytes, concatBytes, i2osp } from "./_bytes.ts";
import { hkdf } from "./hkdf.ts";
import type { BuiltinFactory, EngineFactory, EngineRegistry } from "./registry.ts";
import type { Encapsulation, KemEngine, KemKeyPair } from "./types.ts";

/** Fewest components of a hybrid. */
export const HYBRID_MIN_COMPONENTS = 2;
/** Most components of a hybrid. */
export const HYBRID_MAX_COMPONENTS = 4;

const encoder = new TextEncoder();

/** `u16 len || bytes` for each part. */
function lengthPrefixed16(parts: Uint8Array[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (const part of parts) {
    if (part.length > 0xffff) throw new RangeError("hybrid component key is over 65535 bytes");
    out.push(new Uint8Array([part.length >> 8, part.length & 0xff]), part);
  }
  return concatBytes(...out);
}

/** Splits `u16 len || bytes` parts; exactly `count` of them and nothing left over. */
function splitPrefixed16(name: string, bytes: Uint8Array, count: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let offset = 0;
  while (parts.length < count) {
    if (offset + 2 > bytes.length) throw new RangeError(`${name} is truncated`);
    const length = (bytes[offset] << 8) | bytes[offset + 1];
    offset += 2;
    if (offset + length > bytes.length) throw new RangeError(`${name} is truncated`);
    parts.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== bytes.length) throw new RangeError(`${name} has trailing bytes`);
  return parts;
}

/** `u32 len || bytes` for each part: the combiner's unambiguous KDF input. */
function lengthPrefixed32(parts: Uint8Array[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (const part of parts) {
    out.push(i2osp(part.length, 4), part);
  }
  return concatBytes(...out);
}

/**
 * Combines several KEMs into one KEM whose id joins theirs with `+`.
 *
 * @param components 2 to 4 distinct, non-hybrid KEM engines, in order
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createHybridKem, mlKem768, x25519 } from "@polycrypt/polycrypt";
 * const kem = createHybridKem([x25519, mlKem768]);
 * assert.equal(kem.id, "x25519+ml-kem-768");
 * assert.equal(kem.postQuantum, true);
 * assert.equal(kem.encapsulationSize, 32 + 1088);
 * assert.throws(() => createHybridKem([x25519]), RangeError);
 * assert.throws(() => createHybridKem([x25519, x25519]), TypeError);
 * ```
 */
export function createHybridKem(components: readonly KemEngine[]): KemEngine {
  if (!Array.isArray(components)) throw new TypeError("components must be an array of KEMs");
  const parts = [...components];
  if (parts.length < HYBRID_MIN_COMPONENTS || parts.length > HYBRID_MAX_COMPONENTS) {
    throw new RangeError(
      `components must hold ${HYBRID_MIN_COMPONENTS} to ${HYBRID_MAX_COMPONENTS} KEMs`,
    );
  }
  for (const c of parts) {
    if (c?.kind !== "kem") throw new TypeError("components must all be KEM engines");
    if (c.id.includes("+")) throw new TypeError(`component ${c.id} is itself a hybrid`);
  }
  const ids = parts.map((c) => c.id);
  if (new Set(ids).size !== ids.length) throw new TypeError("components must be distinct");
  const id = ids.join("+");
  const salt = encoder.encode(`polycrypt/1 hybrid ${id}`);
  const encSizes = parts.map((c) => c.encapsulationSize);
  const encapsulationSize = encSizes.reduce((a, b) => a + b, 0);
  // A hybrid of a component with an earlier encapsulation form (RSA's format 1.0) was made with
  // every component in its earlier form: that layout stays readable.
  const legacySizes = parts.map((c) => c.legacyEncapsulationSize ?? c.encapsulationSize);
  const legacySize = legacySizes.reduce((a, b) => a + b, 0);
  const hasLegacy = legacySize !== encapsulationSize;

  async function combine(
    secrets: Uint8Array[],
    encapsulations: Uint8Array[],
    publicKeys: Uint8Array[],
  ): Promise<Uint8Array> {
    const ikm = lengthPrefixed32([...secrets, ...encapsulations, ...publicKeys]);
    return await hkdf("SHA-256", ikm, salt, new Uint8Array(0), 32);
  }

  /**
   * Starts every component's operation, last component first. Ids put the post-quantum
   * component last, and it is the one whose engine hands its work to another thread
   * (WebCrypto ML-KEM); started first, it runs while the others compute on this one.
   */
  function startAll<T>(start: (c: KemEngine, i: number) => Promise<T>): Promise<T>[] {
    const pending = new Array<Promise<T>>(parts.length);
    for (let i = parts.length - 1; i >= 0; i--) pending[i] = start(parts[i], i);
    return pending;
  }

  function splitEncapsulation(encapsulation: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let offset = 0;
    const sizes = encapsulation.length === encapsulationSize ? encSizes : legacySizes;
    for (const size of sizes) {
      out.push(encapsulation.subarray(offset, offset + size));
      offset += size;
    }
    return out;
  }

  function parseSecretKey(secretKey: Uint8Array): { sks: Uint8Array[]; pks: Uint8Array[] } {
    const fields = splitPrefixed16("secretKey", secretKey, parts.length * 2);
    return {
      sks: fields.filter((_, i) => i % 2 === 0),
      pks: fields.filter((_, i) => i % 2 === 1),
    };
  }

  const engine: KemEngine = {
    kind: "kem",
    id,
    family: "hybrid",
    postQuantum: parts.some((c) => c.postQuantum),
    // The combination is as strong as its strongest component.
    securityBits: Math.max(...parts.map((c) => c.securityBits)),
    publicKeySize: parts.reduce((sum, c) => sum + 2 + c.publicKeySize, 0),
    encapsulationSize,
    ...(hasLegacy ? { legacyEncapsulationSize: legacySize } : {}),
    sharedSecretSize: 32,

    checkPublicKey(publicKey: Uint8Array): void {
      checkBytes("publicKey", publicKey);
      const pks = splitPrefixed16("publicKey", publicKey, parts.length);
      parts.forEach((c, i) => c.checkPublicKey?.(pks[i]));
    },

    async generateKeyPair(): Promise<KemKeyPair> {
      const pairs = await Promise.all(parts.map((c) => c.generateKeyPair()));
      return {
        publicKey: lengthPrefixed16(pairs.map((p) => p.publicKey)),
        secretKey: lengthPrefixed16(pairs.flatMap((p) => [p.secretKey, p.publicKey])),
      };
    },

    async encapsulate(publicKey: Uint8Array): Promise<Encapsulation> {
      checkBytes("publicKey", publicKey);
      const pks = splitPrefixed16("publicKey", publicKey, parts.length);
      const results = await Promise.all(startAll((c, i) => c.encapsulate(pks[i])));
      const encapsulations = results.map((r) => r.encapsulation);
      return {
        encapsulation: concatBytes(...encapsulations),
        sharedSecret: await combine(results.map((r) => r.sharedSecret), encapsulations, pks),
      };
    },

    async decapsulate(encapsulation: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
      checkBytes("encapsulation", encapsulation);
      if (!hasLegacy || encapsulation.length !== legacySize) {
        checkBytes("encapsulation", encapsulation, encapsulationSize);
      }
      checkBytes("secretKey", secretKey);
      const { sks, pks } = parseSecretKey(secretKey);
      const encapsulations = splitEncapsulation(encapsulation);
      let secrets: Uint8Array[];
      try {
        secrets = await Promise.all(startAll((c, i) => c.decapsulate(encapsulations[i], sks[i])));
      } catch (e) {
        // A malformed stored key is the caller's problem; anything else about the
        // encapsulation is one opaque failure, whichever component noticed it.
        if (e instanceof RangeError || e instanceof TypeError) throw e;
        throw new DecryptionError();
      }
      return await combine(secrets, encapsulations, pks);
    },

    publicKeyFromSecretKey(secretKey: Uint8Array): Promise<Uint8Array> {
      checkBytes("secretKey", secretKey);
      return Promise.resolve(lengthPrefixed16(parseSecretKey(secretKey).pks));
    },
  };
  return Object.freeze(engine);
}

/**
 * A registry factory that resolves `a+b[+c[+d]]` ids from the KEMs already in
 * `registry`, so `registry.get("x25519+ml-kem-768")` returns a hybrid KEM.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EngineRegistry, hybridFactory, mlKem768, x25519 } from "@polycrypt/polycrypt";
 * const r = new EngineRegistry();
 * r.register(x25519);
 * r.register(mlKem768);
 * r.registerFactory(hybridFactory(r));
 * assert.equal(r.kem("x25519+ml-kem-768").family, "hybrid");
 * assert.equal(r.has("x25519+x448"), false); // x448 is not in this registry
 * ```
 */
export function hybridFactory(registry: EngineRegistry): EngineFactory {
  return Object.freeze({
    description: "hybrids: 2 to 4 distinct KEM ids joined with '+', e.g. x25519+ml-kem-768",
    resolve(id: string): KemEngine | undefined {
      const ids = id.split("+");
      if (ids.length < HYBRID_MIN_COMPONENTS || ids.length > HYBRID_MAX_COMPONENTS) {
        return undefined;
      }
      if (new Set(ids).size !== ids.length || !ids.every((i) => registry.has(i))) return undefined;
      const components = ids.map((i) => registry.get(i));
      if (!components.every((c): c is KemEngine => c.kind === "kem")) return undefined;
      return createHybridKem(components);
    },
  });
}

/** Hybrids have no engine of their own: every one is resolved from its components' ids. */
export const ENGINES: readonly KemEngine[] = Object.freeze([]);

/**
 * The family's factory, as a function of the registry it joins ({@linkcode BuiltinFactory}): a
 * hybrid's components are looked up in that registry, so the factory is made for it.
 */
export const FACTORIES: readonly BuiltinFactory[] = Object.freeze([hybridFactory]);
