/**
 * Signature engines: `ed25519` (RFC 8032, strict verification), `ml-dsa-44`, `ml-dsa-65`,
 * `ml-dsa-87` (FIPS 204 pure ML-DSA, seed keys) and the hybrid `ed25519+ml-dsa-65` (Composite
 * ML-DSA construction). Each is a {@linkcode SignatureEngine}; the registry returns them through
 * `registry.signature(id)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registry } from "@polycrypt/polycrypt";
 * for (const id of ["ed25519", "ml-dsa-44", "ml-dsa-65", "ml-dsa-87", "ed25519+ml-dsa-65"]) {
 *   const engine = registry.signature(id);
 *   const { publicKey, secretKey } = await engine.generateKeyPair();
 *   const message = new TextEncoder().encode(`signed with ${id}`);
 *   const signature = await engine.sign(secretKey, message);
 *   assert.equal(signature.length, engine.signatureSize);
 *   assert.equal(await engine.verify(publicKey, message, signature), true);
 * }
 * ```
 *
 * @module
 */
import type { SignatureEngine } from "../types.ts";
import { ed25519 } from "./ed25519.ts";
import { mlDsa44, mlDsa65, mlDsa87 } from "./mldsa.ts";
import { ed25519MlDsa65 } from "./composite.ts";

export {
  createEd25519Engine,
  ed25519,
  ED25519_PARAMETERS,
  type Ed25519Backend,
} from "./ed25519.ts";
export {
  createMlDsaEngine,
  ML_DSA_PARAMETERS,
  ML_DSA_SEED_SIZE,
  mlDsa44,
  mlDsa65,
  mlDsa87,
  type MlDsaBackend,
  type MlDsaParameters,
} from "./mldsa.ts";
export {
  COMPOSITE_SIGNATURE_PREFIX,
  compositeMessageRepresentative,
  ED25519_ML_DSA_65_PARAMETERS,
  ed25519MlDsa65,
} from "./composite.ts";

/** The family's built-in engines, as the default registry registers them. */
export const ENGINES: readonly SignatureEngine[] = Object.freeze([
  ed25519,
  mlDsa44,
  mlDsa65,
  mlDsa87,
  ed25519MlDsa65,
]);
