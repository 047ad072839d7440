/**
 * Elliptic-curve KEMs: `x25519` = DHKEM(X25519, HKDF-SHA256) and `x448` =
 * DHKEM(X448, HKDF-SHA512), exactly as RFC 9180 section 4.1, on WebCrypto
 * (default) or @noble/curves; and `createDhKem` for other groups.
 *
 * @example
 * ```ts
 * import { x448 } from "./mod.ts";
 * const bob = await x448.deriveKeyPair!(new Uint8Array(56));
 * const { encapsulation, sharedSecret } = await x448.encapsulate(bob.publicKey);
 * console.log((await x448.decapsulate(encapsulation, bob.secretKey)).length, sharedSecret.length); // 64 64
 * ```
 *
 * @module
 */
import type { KemEngine } from "../types.ts";
import { x25519 } from "./x25519.ts";
import { x448 } from "./x448.ts";

export * from "./dhkem.ts";
export { createX25519Engine, type MontgomeryBackend, x25519 } from "./x25519.ts";
export { createX448Engine, x448 } from "./x448.ts";

/** The family's built-in engines, as the default registry registers them. */
export const ENGINES: readonly KemEngine[] = Object.freeze([x25519, x448]);
