/**
 * DHKEM (RFC 9180 section 4.1) over any Diffie-Hellman group: the building
 * block of `x25519` and `x448`, and of plugins such as DHKEM(P-256)
 * (`examples/plugin_p256.ts`).
 *
 * @example
 * ```ts
 * import { createDhKem } from "./dhkem.ts";
 * import { x25519 } from "@noble/curves/ed25519.js";
 * const kem = createDhKem({
 *   id: "x25519-noble", kemId: 0x0020, hash: "SHA-256", sharedSecretSize: 32, securityBits: 128,
 *   group: {
 *     publicKeySize: 32, secretKeySize: 32,
 *     generate: () => { const secretKey = crypto.getRandomValues(new Uint8Array(32)); return Promise.resolve({ secretKey, publicKey: x25519.getPublicKey(secretKey) }); },
 *     publicKey: (sk) => Promise.resolve(x25519.getPublicKey(sk)),
 *     dh: (sk, pk) => Promise.resolve(x25519.getSharedSecret(sk, pk)),
 *   },
 * });
 * const { publicKey, secretKey } = await kem.generateKeyPair();
 * const { encapsulation, sharedSecret } = await kem.encapsulate(publicKey);
 * console.log((await kem.decapsulate(encapsulation, secretKey)).toHex() === sharedSecret.toHex()); // true
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
 * import { createDhKem } from "./dhkem.ts";
 * console.log(typeof createDhKem); // "function"
 * ```
 */
export function createDhKem(params: DhKemParams): KemEngine {
  return buildDhKem(params).engine;
}
