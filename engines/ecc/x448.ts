/**
 * `x448`: DHKEM(X448, HKDF-SHA512), RFC 9180 section 4.1, kem_id 0x0021.
 * Keys and encapsulations are 56 bytes, shared secrets 64.
 *
 * @example
 * ```ts
 * import { x448 } from "./x448.ts";
 * const { publicKey, secretKey } = await x448.generateKeyPair();
 * const { encapsulation, sharedSecret } = await x448.encapsulate(publicKey);
 * console.log((await x448.decapsulate(encapsulation, secretKey)).toHex() === sharedSecret.toHex()); // true
 * ```
 *
 * @module
 */
import type { KemEngine } from "../types.ts";
import { buildDhKem, type BuiltDhKem } from "./_dhkem.ts";
import { type MontgomeryBackend, montgomeryGroup } from "./_montgomery.ts";

export type { MontgomeryBackend };

/** Internal (tests): the engine and its deterministic encapsulation. */
export function _buildX448(backend: MontgomeryBackend = "node"): BuiltDhKem {
  return buildDhKem({
    id: "x448",
    kemId: 0x0021,
    hash: "SHA-512",
    sharedSecretSize: 64,
    securityBits: 224,
    group: montgomeryGroup("X448", backend),
    extra: { backend },
  });
}

/**
 * Makes an X448 DHKEM on the chosen backend: `"node"` (default: node:crypto's synchronous
 * key objects, the fastest in `deno task bench:kem`), `"webcrypto"` (falling back to noble
 * where WebCrypto lacks X448) or `"noble"`.
 *
 * @example
 * ```ts
 * import { createX448Engine } from "./x448.ts";
 * console.log(createX448Engine({ backend: "noble" }).id); // x448
 * ```
 */
export function createX448Engine(options: { backend?: MontgomeryBackend } = {}): KemEngine {
  return _buildX448(options.backend ?? "node").engine;
}

/**
 * The registry's `x448` (node:crypto backend).
 *
 * @example
 * ```ts
 * import { x448 } from "./x448.ts";
 * console.log(x448.publicKeySize, x448.securityBits); // 56 224
 * ```
 */
export const x448: KemEngine = createX448Engine();
