/**
 * Hashed ElGamal KEMs over the RFC 7919 groups: `elgamal-2048` ...
 * `elgamal-8192`, with polycrypt's own BigInt modular exponentiation
 * (documented as not constant-time in `modexp.ts`).
 *
 * @example
 * ```ts
 * import { elgamal3072 } from "./mod.ts";
 * const { publicKey, secretKey } = await elgamal3072.generateKeyPair();
 * const { encapsulation, sharedSecret } = await elgamal3072.encapsulate(publicKey);
 * console.log((await elgamal3072.decapsulate(encapsulation, secretKey)).toHex() === sharedSecret.toHex()); // true
 * ```
 *
 * @module
 */
export * from "./elgamal.ts";
export { bigintToBytes, bytesToBigint, fixedBasePow, jacobi, modPow } from "./modexp.ts";
