/**
 * DHKEM (RFC 9180 section 4.1) over any Diffie-Hellman group: the building
 * block of `x25519` and `x448`, and of plugins such as DHKEM(P-256)
 * (`examples/plugin_p256.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createDhKem, x25519 } from "@polycrypt/polycrypt";
 * import { x25519 as curve } from "@noble/curves/ed25519.js";
 * const kem = createDhKem({
 *   id: "x25519-noble", kemId: 0x0020, hash: "SHA-256", sharedSecretSize: 32, securityBits: 128,
 *   group: {
 *     publicKeySize: 32, secretKeySize: 32,
 *     generate: () => Promise.resolve(curve.keygen()),
 *     publicKey: (sk) => Promise.resolve(curve.getPublicKey(sk)),
 *     dh: (sk, pk) => Promise.resolve(curve.getSharedSecret(sk, pk)),
 *   },
 * });
 * // Same group, hash and kem_id as the built-in x25519: the two interoperate.
 * const bob = await x25519.generateKeyPair();
 * const { encapsulation, sharedSecret } = await kem.encapsulate(bob.publicKey);
 * assert.deepEqual(await x25519.decapsulate(encapsulation, bob.secretKey), sharedSecret);
 * ```
 *
 * @module
 */
import type { KemEngine } from "../types.ts";
import { buildDhKem, type DhGroup, type DhKemParams } from "./_dhkem.ts";

export type { DhGroup, DhKemParams };

/**
 * Builds a frozen RFC 9180 DHKEM engine from a Diffie-Hellman group.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createDhKem, x25519 } from "@polycrypt/polycrypt";
 * import { x25519 as curve } from "@noble/curves/ed25519.js";
 * const kem = createDhKem({
 *   id: "my-x25519", kemId: 0x0020, hash: "SHA-256", sharedSecretSize: 32, securityBits: 128,
 *   group: {
 *     publicKeySize: 32, secretKeySize: 32,
 *     generate: () => Promise.resolve(curve.keygen()),
 *     publicKey: (sk) => Promise.resolve(curve.getPublicKey(sk)),
 *     dh: (sk, pk) => Promise.resolve(curve.getSharedSecret(sk, pk)),
 *   },
 * });
 * assert.equal(kem.kind, "kem");
 * assert.equal(kem.family, "ecc");
 * assert.equal(kem.encapsulationSize, 32);
 * assert.ok(Object.isFrozen(kem));
 * // DeriveKeyPair (RFC 9180 section 7.1.3) comes with it, and agrees with the built-in.
 * const ikm = new Uint8Array(32).fill(1);
 * assert.deepEqual(await kem.deriveKeyPair!(ikm), await x25519.deriveKeyPair!(ikm));
 * ```
 */
export function createDhKem(params: DhKemParams): KemEngine {
  return buildDhKem(params).engine;
}
