/**
 * `x25519`: DHKEM(X25519, HKDF-SHA256), RFC 9180 section 4.1, kem_id 0x0020.
 * Keys, encapsulations and shared secrets are 32 bytes.
 *
 * @example
 * ```ts
 * import { x25519 } from "./x25519.ts";
 * const { publicKey, secretKey } = await x25519.generateKeyPair();
 * const { encapsulation, sharedSecret } = await x25519.encapsulate(publicKey);
 * console.log((await x25519.decapsulate(encapsulation, secretKey)).toHex() === sharedSecret.toHex()); // true
 * ```
 *
 * @module
 */
import type { KemEngine } from "../types.ts";
import { buildDhKem, type BuiltDhKem } from "./_dhkem.ts";
import { type MontgomeryBackend, montgomeryGroup } from "./_montgomery.ts";

export type { MontgomeryBackend };

/** Internal (tests): the engine and its deterministic encapsulation. */
export function _buildX25519(backend: MontgomeryBackend = "node"): BuiltDhKem {
  return buildDhKem({
    id: "x25519",
    kemId: 0x0020,
    hash: "SHA-256",
    sharedSecretSize: 32,
    securityBits: 128,
    group: montgomeryGroup("X25519", backend),
    extra: { backend },
  });
}

/**
 * Makes an X25519 DHKEM on the chosen backend: `"node"` (default: node:crypto's synchronous
 * key objects, the fastest in `deno task bench:kem`), `"webcrypto"` (falling back to noble
 * where WebCrypto lacks X25519) or `"noble"`.
 *
 * @example
 * ```ts
 * import { createX25519Engine } from "./x25519.ts";
 * console.log(createX25519Engine({ backend: "noble" }).id); // x25519
 * ```
 */
export function createX25519Engine(options: { backend?: MontgomeryBackend } = {}): KemEngine {
  return _buildX25519(options.backend ?? "node").engine;
}

/**
 * The registry's `x25519` (node:crypto backend).
 *
 * @example
 * ```ts
 * import { x25519 } from "./x25519.ts";
 * console.log(x25519.publicKeySize, x25519.securityBits); // 32 128
 * ```
 */
export const x25519: KemEngine = createX25519Engine();
