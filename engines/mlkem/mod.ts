/**
 * ML-KEM (FIPS 203): `ml-kem-512`, `ml-kem-768`, `ml-kem-1024`, the
 * post-quantum lattice KEMs, on WebCrypto's native ML-KEM where the platform
 * has it and @noble/post-quantum elsewhere (`createMlKemEngine`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ML_KEM_SEED_SIZE, mlKem1024 } from "@polycrypt/polycrypt";
 * const seed = crypto.getRandomValues(new Uint8Array(ML_KEM_SEED_SIZE)); // d || z
 * const { publicKey, secretKey } = await mlKem1024.deriveKeyPair!(seed);
 * assert.equal(publicKey.length, 1568);
 * assert.deepEqual(secretKey, seed); // the secret key is the 64-byte seed
 * assert.deepEqual((await mlKem1024.deriveKeyPair!(seed)).publicKey, publicKey);
 * ```
 *
 * @module
 */
import type { KemEngine } from "../types.ts";
import { mlKem1024, mlKem512, mlKem768 } from "./mlkem.ts";

export {
  createMlKemEngine,
  ML_KEM_SEED_SIZE,
  mlKem1024,
  mlKem512,
  mlKem768,
  type MlKemBackend,
} from "./mlkem.ts";

/** The family's built-in engines, as the default registry registers them. */
export const ENGINES: readonly KemEngine[] = Object.freeze([mlKem512, mlKem768, mlKem1024]);
