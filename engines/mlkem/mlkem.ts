/**
 * ML-KEM (FIPS 203) at the three parameter sets, on the platform's WebCrypto
 * (`encapsulateBits`/`decapsulateBits`, Deno 2.9+) with @noble/post-quantum as
 * the fallback and the deterministic path the vectors use. Byte formats are
 * FIPS 203's: `publicKey` = ek, `encapsulation` = c, shared secrets are 32
 * bytes. `secretKey` is the 64-byte seed `d || z` (FIPS 203 section 3.3 allows
 * storing the seed in place of dk); the expanded dk of earlier keys is still
 * accepted. Decapsulation of a tampered c returns an unrelated secret
 * (implicit rejection, FIPS 203 section 6.3), never an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlKem768 } from "@polycrypt/polycrypt";
 * const { publicKey, secretKey } = await mlKem768.generateKeyPair();
 * const { encapsulation, sharedSecret } = await mlKem768.encapsulate(publicKey);
 * assert.deepEqual(await mlKem768.decapsulate(encapsulation, secretKey), sharedSecret);
 * // Implicit rejection: a changed encapsulation yields an unrelated secret, not an error.
 * encapsulation[0] ^= 1;
 * assert.notDeepEqual(await mlKem768.decapsulate(encapsulation, secretKey), sharedSecret);
 * ```
 *
 * @module
 */
import { type KEMPrepared, ml_kem1024, ml_kem512, ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { sha3_256 } from "@noble/hashes/sha3.js";
import { InvalidKeyError } from "../../errors.ts";
import { checkBytes, equalBytes, toBuffer } from "../_bytes.ts";
import { LruCache, secretTag } from "../_cache.ts";
import type { Encapsulation, KemEngine, KemKeyPair } from "../types.ts";

type Noble = typeof ml_kem768;

/**
 * Where the lattice arithmetic runs: `"webcrypto"` (default: the platform's native ML-KEM,
 * 4x noble's prepared keys in `deno task bench:kem`, falling back to noble where WebCrypto
 * lacks ML-KEM) or `"noble"` (@noble/post-quantum, pure TypeScript).
 */
export type MlKemBackend = "webcrypto" | "noble";

/** Bytes of the seed `d || z` of FIPS 203 Algorithm 16, the secret key format. */
export const ML_KEM_SEED_SIZE = 64;

/**
 * How many keys each cache of a parameter set keeps. noble's `prepare` expands the matrix
 * A-hat from rho once (FIPS 203 Algorithm 14 step 4-8, the k^2 SampleNTT calls): a repeat
 * recipient then encapsulates in 56% of the time and a repeat identity decapsulates in 70%.
 * WebCrypto keys are imported once per recipient (public) and identity (seed, held as a
 * non-extractable CryptoKey and indexed by `secretTag`).
 */
const KEY_CACHE_SIZE = 64;

const Q = 3329;

/** FIPS 203 section 7.2 modulus check: every 12-bit coefficient of ek's t-hat is below q. */
function checkEncapsulationKey(ek: Uint8Array, k: number): void {
  for (let i = 0; i < 384 * k; i += 3) {
    const a = ek[i] | ((ek[i + 1] & 0x0f) << 8);
    const b = (ek[i + 1] >> 4) | (ek[i + 2] << 4);
    if (a >= Q || b >= Q) {
      throw new InvalidKeyError("publicKey fails the ML-KEM modulus check (FIPS 203 section 7.2)");
    }
  }
}

/** FIPS 203 section 7.3 hash check: dk holds H(ek) next to ek. */
function checkDecapsulationKey(dk: Uint8Array, k: number): void {
  const ek = dk.subarray(384 * k, 768 * k + 32);
  const h = dk.subarray(768 * k + 32, 768 * k + 64);
  if (!equalBytes(sha3_256(ek), h)) {
    throw new InvalidKeyError("secretKey fails the ML-KEM hash check (FIPS 203 section 7.3)");
  }
}

// WebCrypto's ML-KEM ("Modern Algorithms in the Web Cryptography API", WICG draft): the
// methods are newer than the TypeScript DOM types, hence this narrow view of SubtleCrypto.
interface KemSubtle {
  importKey(
    format: "raw-public" | "raw-seed",
    data: BufferSource,
    algorithm: { name: string },
    extractable: false,
    usages: ("encapsulateBits" | "decapsulateBits")[],
  ): Promise<CryptoKey>;
  encapsulateBits(
    algorithm: { name: string },
    key: CryptoKey,
  ): Promise<{ ciphertext: ArrayBuffer; sharedKey: ArrayBuffer }>;
  decapsulateBits(
    algorithm: { name: string },
    key: CryptoKey,
    ciphertext: BufferSource,
  ): Promise<ArrayBuffer>;
  getPublicKey(key: CryptoKey, usages: "encapsulateBits"[]): Promise<CryptoKey>;
  exportKey(format: "raw-public", key: CryptoKey): Promise<ArrayBuffer>;
}
const kemSubtle = crypto.subtle as unknown as KemSubtle;

const webCryptoSupport = new Map<string, Promise<boolean>>();

/** Whether WebCrypto here implements `name` (probed once, by importing an all-zero seed). */
function webCryptoHas(name: string): Promise<boolean> {
  let probe = webCryptoSupport.get(name);
  if (!probe) {
    const seed = new Uint8Array(ML_KEM_SEED_SIZE);
    probe = typeof kemSubtle.encapsulateBits !== "function"
      ? Promise.resolve(false)
      : kemSubtle.importKey("raw-seed", seed, { name }, false, ["decapsulateBits"])
        .then(() => true, () => false);
    webCryptoSupport.set(name, probe);
  }
  return probe;
}

/** Internal (tests, ACVP): a parameter set's engine plus deterministic entry points. */
export interface BuiltMlKem {
  engine: KemEngine & { readonly backend: MlKemBackend };
  /** ML-KEM.Encaps_internal with explicit randomness m (FIPS 203 Algorithm 17), on noble. */
  encapsulateWith(publicKey: Uint8Array, m: Uint8Array): Encapsulation;
  /** The expanded dk of a 64-byte seed (FIPS 203 Algorithm 16). */
  expandSecretKey(seed: Uint8Array): Uint8Array;
  /** Whether this engine runs on WebCrypto here (false once it fell back to noble). */
  usesWebCrypto(): Promise<boolean>;
}

interface ParameterSet {
  id: string;
  name: string;
  k: number;
  securityBits: number;
  noble: Noble;
}

const SETS = {
  512: { id: "ml-kem-512", name: "ML-KEM-512", k: 2, securityBits: 128, noble: ml_kem512 },
  768: { id: "ml-kem-768", name: "ML-KEM-768", k: 3, securityBits: 192, noble: ml_kem768 },
  1024: { id: "ml-kem-1024", name: "ML-KEM-1024", k: 4, securityBits: 256, noble: ml_kem1024 },
} as const satisfies Record<number, ParameterSet>;

/** Internal (tests): builds a parameter set on `backend`. */
export function _buildMlKem(size: 512 | 768 | 1024, backend: MlKemBackend): BuiltMlKem {
  if (backend !== "webcrypto" && backend !== "noble") {
    throw new TypeError(`backend must be "webcrypto" or "noble"`);
  }
  const { id, name, k, securityBits, noble } = SETS[size];
  const algorithm = { name };
  const ekSize = 384 * k + 32;
  const dkSize = 768 * k + 96;
  const ctSize = noble.lengths.cipherText!;
  // noble: prepared public keys by ek's base64, expanded dk by the seed's tag.
  const preparedKeys = new LruCache<string, KEMPrepared>(KEY_CACHE_SIZE);
  const expandedKeys = new LruCache<string, Uint8Array>(KEY_CACHE_SIZE);
  // WebCrypto: imported keys, by ek's base64 and by the seed's tag.
  const webPublicKeys = new LruCache<string, CryptoKey>(KEY_CACHE_SIZE);
  const webSecretKeys = new LruCache<string, CryptoKey>(KEY_CACHE_SIZE);
  // Settled by the first call: whether WebCrypto serves this engine.
  let web: boolean | undefined = backend === "noble" ? false : undefined;

  function usesWebCrypto(): Promise<boolean> {
    if (web !== undefined) return Promise.resolve(web);
    return webCryptoHas(name).then((has) => web = has);
  }

  function encapsulateWith(publicKey: Uint8Array, m: Uint8Array): Encapsulation {
    checkBytes("publicKey", publicKey, ekSize);
    checkBytes("m", m, 32);
    // The modulus check runs when a key is first seen; noble copies the key it prepares.
    const prepared = preparedKeys.getOrCreate(publicKey.toBase64(), () => {
      checkEncapsulationKey(publicKey, k);
      return noble.prepare(publicKey);
    });
    const { cipherText, sharedSecret } = prepared.encapsulate(m.slice());
    return { encapsulation: cipherText, sharedSecret: sharedSecret.slice() };
  }

  function expandSecretKey(seed: Uint8Array): Uint8Array {
    checkBytes("seed", seed, ML_KEM_SEED_SIZE);
    return noble.keygen(seed.slice()).secretKey;
  }

  function checkSecretKey(secretKey: Uint8Array): void {
    checkBytes("secretKey", secretKey);
    if (secretKey.length !== ML_KEM_SEED_SIZE && secretKey.length !== dkSize) {
      throw new RangeError(
        `secretKey must be ${ML_KEM_SEED_SIZE} bytes (seed d || z) or ${dkSize} bytes ` +
          `(expanded dk), got ${secretKey.length}`,
      );
    }
  }

  function decapsulateNoble(encapsulation: Uint8Array, secretKey: Uint8Array): Uint8Array {
    const dk = secretKey.length === ML_KEM_SEED_SIZE
      ? expandedKeys.getOrCreate(secretTag(secretKey), () => expandSecretKey(secretKey))
      : secretKey;
    const ek = dk.subarray(384 * k, 768 * k + 32);
    const tag = ek.toBase64();
    const cached = preparedKeys.get(tag);
    if (!cached) {
      checkDecapsulationKey(dk, k);
      return preparedKeys.set(tag, noble.prepare(ek)).decapsulate(
        encapsulation.slice(),
        dk.slice(),
      );
    }
    try {
      // The prepared key checks dk's stored H(ek) against H(ek) computed at preparation, which
      // is the FIPS 203 section 7.3 hash check.
      return cached.decapsulate(encapsulation.slice(), dk.slice());
    } catch {
      throw new InvalidKeyError("secretKey fails the ML-KEM hash check (FIPS 203 section 7.3)");
    }
  }

  async function importPublic(publicKey: Uint8Array, tag: string): Promise<CryptoKey> {
    checkEncapsulationKey(publicKey, k);
    const key = await kemSubtle.importKey(
      "raw-public",
      toBuffer(publicKey),
      algorithm,
      false,
      ["encapsulateBits"],
    );
    return webPublicKeys.set(tag, key);
  }

  async function importSeed(seed: Uint8Array, tag: string): Promise<CryptoKey> {
    const key = await kemSubtle.importKey("raw-seed", toBuffer(seed), algorithm, false, [
      "decapsulateBits",
    ]);
    return webSecretKeys.set(tag, key);
  }

  // A repeat recipient reaches `encapsulateBits` synchronously, so the native work starts
  // before the caller's next statement (a hybrid's other component then runs alongside it).
  async function encapsulateWeb(publicKey: Uint8Array): Promise<Encapsulation> {
    const tag = publicKey.toBase64();
    const key = webPublicKeys.get(tag) ?? await importPublic(publicKey, tag);
    const { ciphertext, sharedKey } = await kemSubtle.encapsulateBits(algorithm, key);
    return { encapsulation: new Uint8Array(ciphertext), sharedSecret: new Uint8Array(sharedKey) };
  }

  async function decapsulateWeb(encapsulation: Uint8Array, seed: Uint8Array): Promise<Uint8Array> {
    const tag = secretTag(seed);
    const key = webSecretKeys.get(tag) ?? await importSeed(seed, tag);
    return new Uint8Array(await kemSubtle.decapsulateBits(algorithm, key, toBuffer(encapsulation)));
  }

  /** ek of FIPS 203 ML-KEM.KeyGen_internal(d, z), for a seed `d || z`. */
  async function publicKeyOf(seed: Uint8Array): Promise<Uint8Array> {
    if (!(web ?? await usesWebCrypto())) return noble.keygen(seed.slice()).publicKey;
    // Importing the seed is the key generation; the imported key also serves decapsulation.
    const tag = secretTag(seed);
    const secret = webSecretKeys.get(tag) ?? await importSeed(seed, tag);
    const publicKey = await kemSubtle.getPublicKey(secret, ["encapsulateBits"]);
    return new Uint8Array(await kemSubtle.exportKey("raw-public", publicKey));
  }

  async function keyPairFromSeed(seed: Uint8Array): Promise<KemKeyPair> {
    // The seed itself is the stored secret key.
    return { publicKey: await publicKeyOf(seed), secretKey: seed.slice() };
  }

  const engine = {
    kind: "kem",
    id,
    family: "ml-kem",
    postQuantum: true,
    securityBits,
    publicKeySize: ekSize,
    encapsulationSize: ctSize,
    sharedSecretSize: 32,
    backend,
    /** FIPS 203 section 7.2: the size, and every coefficient of ek below q (InvalidKeyError). */
    checkPublicKey(publicKey: Uint8Array): void {
      checkBytes("publicKey", publicKey);
      if (publicKey.length !== ekSize) {
        throw new InvalidKeyError(`publicKey must be ${ekSize} bytes`);
      }
      checkEncapsulationKey(publicKey, k);
    },
    generateKeyPair(): Promise<KemKeyPair> {
      return keyPairFromSeed(crypto.getRandomValues(new Uint8Array(ML_KEM_SEED_SIZE)));
    },
    async encapsulate(publicKey: Uint8Array): Promise<Encapsulation> {
      checkBytes("publicKey", publicKey, ekSize);
      if (web ?? await usesWebCrypto()) return await encapsulateWeb(publicKey);
      return encapsulateWith(publicKey, crypto.getRandomValues(new Uint8Array(32)));
    },
    async decapsulate(encapsulation: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
      checkBytes("encapsulation", encapsulation, ctSize);
      checkSecretKey(secretKey);
      // WebCrypto imports ML-KEM private keys from the seed only.
      if (secretKey.length === ML_KEM_SEED_SIZE && (web ?? await usesWebCrypto())) {
        return await decapsulateWeb(encapsulation, secretKey);
      }
      return decapsulateNoble(encapsulation, secretKey);
    },
    async publicKeyFromSecretKey(secretKey: Uint8Array): Promise<Uint8Array> {
      checkSecretKey(secretKey);
      if (secretKey.length === ML_KEM_SEED_SIZE) return await publicKeyOf(secretKey);
      checkDecapsulationKey(secretKey, k);
      return secretKey.slice(384 * k, 768 * k + 32);
    },
    async deriveKeyPair(seed: Uint8Array): Promise<KemKeyPair> {
      checkBytes("seed", seed, ML_KEM_SEED_SIZE);
      return await keyPairFromSeed(seed);
    },
  } as const;
  return { engine: Object.freeze(engine), encapsulateWith, expandSecretKey, usesWebCrypto };
}

/**
 * Makes an ML-KEM engine for one parameter set on the chosen backend (see {@linkcode
 * MlKemBackend}); the registry's `ml-kem-*` engines use `"webcrypto"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createMlKemEngine, mlKem768 } from "@polycrypt/polycrypt";
 * const noble = createMlKemEngine(768, { backend: "noble" });
 * assert.equal(noble.id, "ml-kem-768");
 * // Backends differ only in speed: the bytes interoperate.
 * const { publicKey, secretKey } = await mlKem768.generateKeyPair();
 * assert.equal(secretKey.length, 64);
 * const { encapsulation, sharedSecret } = await noble.encapsulate(publicKey);
 * assert.deepEqual(await mlKem768.decapsulate(encapsulation, secretKey), sharedSecret);
 * assert.throws(() => createMlKemEngine(256 as 512), RangeError);
 * ```
 */
export function createMlKemEngine(
  size: 512 | 768 | 1024,
  options: { backend?: MlKemBackend } = {},
): KemEngine {
  if (!(size in SETS)) throw new RangeError("size must be 512, 768 or 1024");
  return _buildMlKem(size, options.backend ?? "webcrypto").engine;
}

/** Internal: the built parameter sets, for the ACVP tests. */
export const _mlKem = {
  512: _buildMlKem(512, "webcrypto"),
  768: _buildMlKem(768, "webcrypto"),
  1024: _buildMlKem(1024, "webcrypto"),
};

/**
 * `ml-kem-512`: NIST security category 1 (counted as 128 bits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlKem512, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("ml-kem-512"), mlKem512);
 * assert.equal(mlKem512.publicKeySize, 800);
 * assert.equal(mlKem512.encapsulationSize, 768);
 * assert.equal(mlKem512.postQuantum, true);
 * ```
 */
export const mlKem512: KemEngine = _mlKem[512].engine;

/**
 * `ml-kem-768`: NIST security category 3 (192 bits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlKem768, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("ml-kem-768"), mlKem768);
 * assert.equal(mlKem768.publicKeySize, 1184);
 * assert.equal(mlKem768.encapsulationSize, 1088);
 * assert.equal(mlKem768.postQuantum, true);
 * ```
 */
export const mlKem768: KemEngine = _mlKem[768].engine;

/**
 * `ml-kem-1024`: NIST security category 5 (256 bits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mlKem1024, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("ml-kem-1024"), mlKem1024);
 * assert.equal(mlKem1024.publicKeySize, 1568);
 * assert.equal(mlKem1024.encapsulationSize, 1568);
 * assert.equal(mlKem1024.postQuantum, true);
 * ```
 */
export const mlKem1024: KemEngine = _mlKem[1024].engine;
