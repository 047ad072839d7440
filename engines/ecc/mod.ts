/**
 * Elliptic-curve KEMs: `x25519` = DHKEM(X25519, HKDF-SHA256) and `x448` =
 * DHKEM(X448, HKDF-SHA512), exactly as RFC 9180 section 4.1, on node:crypto
 * (default), WebCrypto or @noble/curves; and `createDhKem` for other groups.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { x448 } from "@polycrypt/polycrypt";
 * const bob = await x448.deriveKeyPair!(crypto.getRandomValues(new Uint8Array(56)));
 * const { encapsulation, sharedSecret } = await x448.encapsulate(bob.publicKey);
 * assert.equal(encapsulation.length, 56);
 * assert.equal(sharedSecret.length, 64);
 * assert.deepEqual(await x448.decapsulate(encapsulation, bob.secretKey), sharedSecret);
 * ```
 *
 * @module
 */
import type { KemEngine } from "../types.ts";
import { x25519 } from "./x25519.ts";
import { x448 } from "./x448.ts";

export * from "./dhkem.ts";
export type { MontgomeryBackend } from "./_montgomery.ts";
export { createX25519Engine, x25519 } from "./x25519.ts";
export { createX448Engine, x448 } from "./x448.ts";

/** The family's built-in engines, as the default registry registers them. */
export const ENGINES: readonly KemEngine[] = Object.freeze([x25519, x448]);
