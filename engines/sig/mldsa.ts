/**
 * ML-DSA (FIPS 204, pure ML-DSA): `ml-dsa-44`, `ml-dsa-65`, `ml-dsa-87`, on the platform's
 * WebCrypto where it has ML-DSA (Deno 2.9+) and @noble/post-quantum elsewhere. The secret key is
 * the 32-byte seed xi of FIPS 204 Algorithm 6 (ML-DSA.KeyGen_internal), from which both backends
 * derive the same key pair; public keys and signatures are FIPS 204's encodings.
 *
 * Every signature is made and checked with the empty context string: Deno's WebCrypto refuses a
 * non-empty FIPS 204 context, so a protocol that needs domain separation puts it into the signed
 * message. Signing is hedged (FIPS 204's default randomized variant).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlDsa65 } from "@polycrypt/polycrypt";
 * const { publicKey, secretKey } = await mlDsa65.generateKeyPair();
 * assert.equal(secretKey.length, 32); // the FIPS 204 seed
 * const message = new TextEncoder().encode("hi Bob, this is Alice");
 * const signature = await mlDsa65.sign(secretKey, message);
 * assert.equal(signature.length, 3309);
 * assert.equal(await mlDsa65.verify(publicKey, message, signature), true);
 * signature[0] ^= 1;
 * assert.equal(await mlDsa65.verify(publicKey, message, signature), false);
 * ```
 *
 * @module
 */
import { ml_dsa44, ml_dsa65, ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { toBase64, toBuffer } from "../_bytes.ts";
import { LruCache, secretTag } from "../_cache.ts";
import type { SignatureEngine, SignatureKeyPair } from "../types.ts";
import { checkSignArguments, checkVerifyArguments } from "./_checks.ts";

/**
 * Where the lattice arithmetic runs: `"webcrypto"` (default: the platform's native ML-DSA,
 * falling back to noble where WebCrypto lacks it) or `"noble"` (@noble/post-quantum).
 */
export type MlDsaBackend = "webcrypto" | "noble";

/** Bytes of the seed xi of FIPS 204 Algorithm 6, the secret key format. */
export const ML_DSA_SEED_SIZE = 32;

/** One ML-DSA parameter set's fixed parameters (FIPS 204 Table 1 and 2). */
export interface MlDsaParameters {
  /** Registry id. */
  readonly id: string;
  /** The FIPS 204 / WebCrypto name, e.g. `"ML-DSA-65"`. */
  readonly name: string;
  /** Public key size in bytes. */
  readonly publicKeySize: number;
  /** Signature size in bytes. */
  readonly signatureSize: number;
  /** Secret key (seed) size in bytes. */
  readonly secretKeySize: number;
  /** NIST security category counted in bits (2: 128, 3: 192, 5: 256). */
  readonly securityBits: number;
}

/** The three parameter sets, frozen. */
export const ML_DSA_PARAMETERS: Readonly<Record<44 | 65 | 87, MlDsaParameters>> = Object.freeze({
  44: Object.freeze({
    id: "ml-dsa-44",
    name: "ML-DSA-44",
    publicKeySize: 1312,
    signatureSize: 2420,
    secretKeySize: ML_DSA_SEED_SIZE,
    securityBits: 128,
  }),
  65: Object.freeze({
    id: "ml-dsa-65",
    name: "ML-DSA-65",
    publicKeySize: 1952,
    signatureSize: 3309,
    secretKeySize: ML_DSA_SEED_SIZE,
    securityBits: 192,
  }),
  87: Object.freeze({
    id: "ml-dsa-87",
    name: "ML-DSA-87",
    publicKeySize: 2592,
    signatureSize: 4627,
    secretKeySize: ML_DSA_SEED_SIZE,
    securityBits: 256,
  }),
});

const NOBLE = { 44: ml_dsa44, 65: ml_dsa65, 87: ml_dsa87 };
const KEY_CACHE_SIZE = 64;

// WebCrypto's ML-DSA ("Modern Algorithms in the Web Cryptography API", WICG draft): the formats
// and getPublicKey are newer than the TypeScript DOM types, hence this narrow view (the benchmark
// report uses it too).
export interface DsaSubtle {
  importKey(
    format: "raw-public" | "raw-seed",
    data: BufferSource,
    algorithm: { name: string },
    extractable: boolean,
    usages: ("sign" | "verify")[],
  ): Promise<CryptoKey>;
  getPublicKey(key: CryptoKey, usages: "verify"[]): Promise<CryptoKey>;
  exportKey(format: "raw-public", key: CryptoKey): Promise<ArrayBuffer>;
  sign(algorithm: { name: string }, key: CryptoKey, data: BufferSource): Promise<ArrayBuffer>;
  verify(
    algorithm: { name: string },
    key: CryptoKey,
    signature: BufferSource,
    data: BufferSource,
  ): Promise<boolean>;
}
const dsaSubtle = crypto.subtle as unknown as DsaSubtle;

/**
 * `bytes` as WebCrypto's BufferSource without a copy where it is over an ArrayBuffer: WebCrypto
 * copies its inputs when called (WebCrypto section 14.3), so the caller's buffer is free again
 * when the call returns. Views of a SharedArrayBuffer are copied.
 */
const input = (bytes: Uint8Array): Uint8Array<ArrayBuffer> =>
  bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : toBuffer(bytes);

const webSupport = new Map<string, Promise<boolean>>();
/** Whether WebCrypto here implements `name` (probed once, by importing an all-zero seed). */
function webCryptoHas(name: string): Promise<boolean> {
  let probe = webSupport.get(name);
  if (!probe) {
    probe = typeof dsaSubtle.getPublicKey !== "function"
      ? Promise.resolve(false)
      : dsaSubtle.importKey("raw-seed", new Uint8Array(32), { name }, false, ["sign"])
        .then(() => true, () => false);
    webSupport.set(name, probe);
  }
  return probe;
}

/** Internal (tests): a parameter set's engine and whether it runs on WebCrypto here. */
export interface BuiltMlDsa {
  engine: SignatureEngine & { readonly backend: MlDsaBackend };
  /** Whether this engine runs on WebCrypto here (false once it fell back to noble). */
  usesWebCrypto(): Promise<boolean>;
  /** FIPS 204 sk (expanded) of a seed, on noble. */
  expandSecretKey(seed: Uint8Array): Uint8Array;
}

/** Internal (tests): builds a parameter set on `backend`. */
export function _buildMlDsa(size: 44 | 65 | 87, backend: MlDsaBackend): BuiltMlDsa {
  if (backend !== "webcrypto" && backend !== "noble") {
    throw new TypeError(`backend must be "webcrypto" or "noble"`);
  }
  const params = ML_DSA_PARAMETERS[size];
  const noble = NOBLE[size];
  const algorithm = { name: params.name };
  // noble: expanded secret keys by the seed's tag. WebCrypto: imported keys.
  const expanded = new LruCache<string, { publicKey: Uint8Array; secretKey: Uint8Array }>(
    KEY_CACHE_SIZE,
  );
  const webSecret = new LruCache<string, CryptoKey>(KEY_CACHE_SIZE);
  const webPublic = new LruCache<string, CryptoKey>(KEY_CACHE_SIZE);
  let web: boolean | undefined = backend === "noble" ? false : undefined;

  function usesWebCrypto(): Promise<boolean> {
    if (web !== undefined) return Promise.resolve(web);
    return webCryptoHas(params.name).then((has) => web = has);
  }

  const nobleKeys = (seed: Uint8Array) =>
    expanded.getOrCreate(secretTag(seed), () => noble.keygen(seed.slice()));

  async function importSeed(seed: Uint8Array): Promise<CryptoKey> {
    const tag = secretTag(seed);
    return webSecret.get(tag) ??
      webSecret.set(
        tag,
        await dsaSubtle.importKey("raw-seed", toBuffer(seed), algorithm, false, ["sign"]),
      );
  }

  async function publicKeyOf(seed: Uint8Array): Promise<Uint8Array> {
    if (!(web ?? await usesWebCrypto())) return nobleKeys(seed).publicKey.slice();
    const publicKey = await dsaSubtle.getPublicKey(await importSeed(seed), ["verify"]);
    return new Uint8Array(await dsaSubtle.exportKey("raw-public", publicKey));
  }

  async function verifyWeb(
    publicKey: Uint8Array,
    message: Uint8Array,
    signature: Uint8Array,
  ): Promise<boolean> {
    const tag = toBase64(publicKey);
    try {
      const key = webPublic.get(tag) ??
        webPublic.set(
          tag,
          await dsaSubtle.importKey("raw-public", toBuffer(publicKey), algorithm, false, [
            "verify",
          ]),
        );
      return await dsaSubtle.verify(algorithm, key, input(signature), input(message));
    } catch {
      return false;
    }
  }

  function verifyNoble(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) {
    try {
      return noble.verify(signature, message, publicKey);
    } catch {
      return false;
    }
  }

  const engine = {
    kind: "signature",
    id: params.id,
    family: "ml-dsa",
    postQuantum: true,
    securityBits: params.securityBits,
    publicKeySize: params.publicKeySize,
    secretKeySize: params.secretKeySize,
    signatureSize: params.signatureSize,
    backend,
    async generateKeyPair(): Promise<SignatureKeyPair> {
      const seed = crypto.getRandomValues(new Uint8Array(ML_DSA_SEED_SIZE));
      return { publicKey: await publicKeyOf(seed), secretKey: seed };
    },
    async sign(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
      checkSignArguments(params, secretKey, message);
      if (web ?? await usesWebCrypto()) {
        const key = await importSeed(secretKey);
        return new Uint8Array(await dsaSubtle.sign(algorithm, key, input(message)));
      }
      return noble.sign(message.slice(), nobleKeys(secretKey).secretKey);
    },
    async verify(
      publicKey: Uint8Array,
      message: Uint8Array,
      signature: Uint8Array,
    ): Promise<boolean> {
      checkVerifyArguments(params, publicKey, message, signature);
      if (web ?? await usesWebCrypto()) return await verifyWeb(publicKey, message, signature);
      return verifyNoble(publicKey, message, signature);
    },
    async publicKeyFromSecretKey(secretKey: Uint8Array): Promise<Uint8Array> {
      checkSignArguments(params, secretKey, new Uint8Array(0));
      return await publicKeyOf(secretKey);
    },
  } as const;
  return {
    engine: Object.freeze(engine),
    usesWebCrypto,
    expandSecretKey: (seed) => noble.keygen(seed.slice()).secretKey,
  };
}

/**
 * Makes an ML-DSA engine for one parameter set on the chosen backend (see {@linkcode
 * MlDsaBackend}); the registry's `ml-dsa-*` engines use `"webcrypto"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMlDsaEngine, mlDsa44 } from "@polycrypt/polycrypt";
 * const noble = createMlDsaEngine(44, { backend: "noble" });
 * assert.equal(noble.id, "ml-dsa-44");
 * // Backends differ only in speed: the same seed gives the same key, signatures verify across.
 * const { publicKey, secretKey } = await mlDsa44.generateKeyPair();
 * assert.deepEqual(await noble.publicKeyFromSecretKey!(secretKey), publicKey);
 * const message = new TextEncoder().encode("hi");
 * assert.equal(await mlDsa44.verify(publicKey, message, await noble.sign(secretKey, message)), true);
 * assert.throws(() => createMlDsaEngine(66 as 65), RangeError);
 * ```
 */
export function createMlDsaEngine(
  size: 44 | 65 | 87,
  options: { backend?: MlDsaBackend } = {},
): SignatureEngine {
  if (!(size in ML_DSA_PARAMETERS)) throw new RangeError("size must be 44, 65 or 87");
  return _buildMlDsa(size, options.backend ?? "webcrypto").engine;
}

/** Internal: the built parameter sets, for the tests. */
export const _mlDsa = {
  44: _buildMlDsa(44, "webcrypto"),
  65: _buildMlDsa(65, "webcrypto"),
  87: _buildMlDsa(87, "webcrypto"),
};

/**
 * `ml-dsa-44`: NIST security category 2 (counted as 128 bits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlDsa44, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.signature("ml-dsa-44"), mlDsa44);
 * assert.equal(mlDsa44.publicKeySize, 1312);
 * assert.equal(mlDsa44.signatureSize, 2420);
 * ```
 */
export const mlDsa44: SignatureEngine = _mlDsa[44].engine;

/**
 * `ml-dsa-65`: NIST security category 3 (192 bits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlDsa65, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.signature("ml-dsa-65"), mlDsa65);
 * assert.equal(mlDsa65.publicKeySize, 1952);
 * assert.equal(mlDsa65.signatureSize, 3309);
 * ```
 */
export const mlDsa65: SignatureEngine = _mlDsa[65].engine;

/**
 * `ml-dsa-87`: NIST security category 5 (256 bits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlDsa87, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.signature("ml-dsa-87"), mlDsa87);
 * assert.equal(mlDsa87.publicKeySize, 2592);
 * assert.equal(mlDsa87.signatureSize, 4627);
 * ```
 */
export const mlDsa87: SignatureEngine = _mlDsa[87].engine;
