/**
 * ML-KEM (FIPS 203) at the three parameter sets, from @noble/post-quantum.
 * Byte formats are FIPS 203's: `publicKey` = ek, `secretKey` = the expanded
 * dk, `encapsulation` = c; shared secrets are 32 bytes. Decapsulation of a
 * tampered c returns an unrelated secret (implicit rejection, FIPS 203
 * section 6.3), never an error.
 *
 * @example
 * ```ts
 * import { mlKem768 } from "./mlkem.ts";
 * const { publicKey, secretKey } = await mlKem768.generateKeyPair();
 * const { encapsulation, sharedSecret } = await mlKem768.encapsulate(publicKey);
 * console.log((await mlKem768.decapsulate(encapsulation, secretKey)).toHex() === sharedSecret.toHex()); // true
 * ```
 *
 * @module
 */
import { type KEMPrepared, ml_kem1024, ml_kem512, ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { sha3_256 } from "@noble/hashes/sha3.js";
import { InvalidKeyError } from "../../errors.ts";
import { checkBytes, equalBytes } from "../_bytes.ts";
import { LruCache } from "../_cache.ts";
import type { Encapsulation, KemEngine, KemKeyPair } from "../types.ts";

type Noble = typeof ml_kem768;

/**
 * How many prepared public keys each parameter set keeps. noble's `prepare` expands the matrix
 * A-hat from rho once (FIPS 203 Algorithm 14 step 4-8, the k^2 SampleNTT calls): a repeat
 * recipient then encapsulates in 56% of the time and a repeat identity decapsulates in 70%.
 * Only public data is cached.
 */
const PREPARED_CACHE_SIZE = 64;

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

/** Internal (tests, ACVP): a parameter set's engine plus deterministic entry points. */
export interface BuiltMlKem {
  engine: KemEngine;
  /** ML-KEM.Encaps_internal with explicit randomness m (FIPS 203 Algorithm 17). */
  encapsulateWith(publicKey: Uint8Array, m: Uint8Array): Encapsulation;
}

function build(id: string, k: number, securityBits: number, noble: Noble): BuiltMlKem {
  const ekSize = 384 * k + 32;
  const dkSize = 768 * k + 96;
  const ctSize = noble.lengths.cipherText!;
  // Keyed by the encapsulation key's base64.
  const preparedKeys = new LruCache<string, KEMPrepared>(PREPARED_CACHE_SIZE);

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

  function decapsulateChecked(encapsulation: Uint8Array, secretKey: Uint8Array): Uint8Array {
    const ek = secretKey.subarray(384 * k, 768 * k + 32);
    const tag = ek.toBase64();
    const cached = preparedKeys.get(tag);
    if (!cached) {
      checkDecapsulationKey(secretKey, k);
      return preparedKeys.set(tag, noble.prepare(ek))
        .decapsulate(encapsulation.slice(), secretKey.slice());
    }
    try {
      // The prepared key checks dk's stored H(ek) against H(ek) computed at preparation, which
      // is the FIPS 203 section 7.3 hash check.
      return cached.decapsulate(encapsulation.slice(), secretKey.slice());
    } catch {
      throw new InvalidKeyError("secretKey fails the ML-KEM hash check (FIPS 203 section 7.3)");
    }
  }

  const engine: KemEngine & { backend: string } = {
    kind: "kem",
    id,
    family: "ml-kem",
    postQuantum: true,
    securityBits,
    publicKeySize: ekSize,
    encapsulationSize: ctSize,
    sharedSecretSize: 32,
    backend: "noble",
    generateKeyPair(): Promise<KemKeyPair> {
      const { publicKey, secretKey } = noble.keygen();
      return Promise.resolve({ publicKey, secretKey });
    },
    encapsulate(publicKey: Uint8Array): Promise<Encapsulation> {
      try {
        return Promise.resolve(
          encapsulateWith(publicKey, crypto.getRandomValues(new Uint8Array(32))),
        );
      } catch (e) {
        return Promise.reject(e);
      }
    },
    decapsulate(encapsulation: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
      try {
        checkBytes("encapsulation", encapsulation, ctSize);
        checkBytes("secretKey", secretKey, dkSize);
        return Promise.resolve(decapsulateChecked(encapsulation, secretKey));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    publicKeyFromSecretKey(secretKey: Uint8Array): Promise<Uint8Array> {
      try {
        checkBytes("secretKey", secretKey, dkSize);
        checkDecapsulationKey(secretKey, k);
        return Promise.resolve(secretKey.slice(384 * k, 768 * k + 32));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    deriveKeyPair(seed: Uint8Array): Promise<KemKeyPair> {
      try {
        // FIPS 203 ML-KEM.KeyGen_internal(d, z): seed = d || z.
        checkBytes("seed", seed, 64);
        const { publicKey, secretKey } = noble.keygen(seed.slice());
        return Promise.resolve({ publicKey, secretKey });
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
  return { engine: Object.freeze(engine), encapsulateWith };
}

/** Internal: the built parameter sets, for the ACVP tests. */
export const _mlKem = {
  512: build("ml-kem-512", 2, 128, ml_kem512),
  768: build("ml-kem-768", 3, 192, ml_kem768),
  1024: build("ml-kem-1024", 4, 256, ml_kem1024),
};

/**
 * `ml-kem-512`: NIST security category 1 (counted as 128 bits).
 *
 * @example
 * ```ts
 * import { mlKem512 } from "./mlkem.ts";
 * console.log(mlKem512.publicKeySize, mlKem512.encapsulationSize); // 800 768
 * ```
 */
export const mlKem512: KemEngine = _mlKem[512].engine;

/**
 * `ml-kem-768`: NIST security category 3 (192 bits).
 *
 * @example
 * ```ts
 * import { mlKem768 } from "./mlkem.ts";
 * console.log(mlKem768.publicKeySize, mlKem768.encapsulationSize); // 1184 1088
 * ```
 */
export const mlKem768: KemEngine = _mlKem[768].engine;

/**
 * `ml-kem-1024`: NIST security category 5 (256 bits).
 *
 * @example
 * ```ts
 * import { mlKem1024 } from "./mlkem.ts";
 * console.log(mlKem1024.publicKeySize, mlKem1024.encapsulationSize); // 1568 1568
 * ```
 */
export const mlKem1024: KemEngine = _mlKem[1024].engine;
