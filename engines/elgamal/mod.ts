/**
 * Hashed ElGamal KEMs over the RFC 7919 groups: `elgamal-2048` ...
 * `elgamal-8192`, with polycrypt's own BigInt modular exponentiation
 * (documented as not constant-time in `modexp.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elgamal3072 } from "@polycrypt/polycrypt";
 * const { publicKey, secretKey } = await elgamal3072.generateKeyPair();
 * const { encapsulation, sharedSecret } = await elgamal3072.encapsulate(publicKey);
 * assert.equal(encapsulation.length, 384);
 * assert.deepEqual(await elgamal3072.decapsulate(encapsulation, secretKey), sharedSecret);
 * ```
 *
 * @module
 */
import type { KemEngine } from "../types.ts";
import { elgamal2048, elgamal3072, elgamal4096, elgamal6144, elgamal8192 } from "./elgamal.ts";

export * from "./elgamal.ts";

/** The family's built-in engines, as the default registry registers them. */
export const ENGINES: readonly KemEngine[] = Object.freeze([
  elgamal2048,
  elgamal3072,
  elgamal4096,
  elgamal6144,
  elgamal8192,
]);
