/**
 * RSA-OAEP KEMs: `rsa-2048`, `rsa-3072`, `rsa-4096`, `rsa-8192`, and any size
 * from 2048 to 16384 bits through `createRsaEngine` / `rsaFactory`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRsaEngine, DecryptionError } from "@polycrypt/polycrypt";
 * const kem = createRsaEngine(2048, { backend: "webcrypto" });
 * const { publicKey, secretKey } = await kem.generateKeyPair();
 * const { encapsulation, sharedSecret } = await kem.encapsulate(publicKey);
 * assert.deepEqual(await kem.decapsulate(encapsulation, secretKey), sharedSecret);
 * encapsulation[10] ^= 1;
 * await assert.rejects(kem.decapsulate(encapsulation, secretKey), DecryptionError);
 * ```
 *
 * @module
 */
import type { KemEngine } from "../types.ts";
import type { EngineFactory } from "../registry.ts";
import { rsa2048, rsa3072, rsa4096, rsa8192, rsaFactory } from "./rsa.ts";

export {
  createRsaEngine,
  importRsaPublicKey,
  importRsaSecretKey,
  rsa2048,
  rsa3072,
  rsa4096,
  rsa8192,
  RSA_DEFAULT_BACKEND,
  RSA_MAX_BITS,
  RSA_MIN_BITS,
  rsaAutoPrivateBackend,
  type RsaBackend,
  rsaFactory,
  rsaSecurityBits,
} from "./rsa.ts";

/** The family's built-in engines, as the default registry registers them. */
export const ENGINES: readonly KemEngine[] = Object.freeze([rsa2048, rsa3072, rsa4096, rsa8192]);

/** The family's factory: every `rsa-N` from {@linkcode RSA_MIN_BITS} to {@linkcode RSA_MAX_BITS}. */
export const FACTORIES: readonly EngineFactory[] = Object.freeze([rsaFactory]);
