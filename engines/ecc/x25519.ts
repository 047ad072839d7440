/**
 * `x25519`: DHKEM(X25519, HKDF-SHA256), RFC 9180 section 4.1, kem_id 0x0020.
 * Keys, encapsulations and shared secrets are 32 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { x25519 } from "@polycrypt/polycrypt";
 * // RFC 9180 Appendix A.1.1: DeriveKeyPair and Decap of DHKEM(X25519, HKDF-SHA256).
 * const ikmR = Uint8Array.fromHex("6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037");
 * const bob = await x25519.deriveKeyPair!(ikmR);
 * assert.equal(bob.publicKey.toHex(), "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d");
 * const enc = Uint8Array.fromHex("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431");
 * assert.equal(
 *   (await x25519.decapsulate(enc, bob.secretKey)).toHex(),
 *   "fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc",
 * );
 * ```
 *
 * @module
 */
import type { KemEngine } from "../types.ts";
import type { BuiltDhKem } from "./_dhkem.ts";
import { buildMontgomeryKem, type MontgomeryBackend } from "./_montgomery.ts";

/** Internal (tests): the engine and its deterministic encapsulation. */
export function _buildX25519(backend: MontgomeryBackend = "node"): BuiltDhKem {
  return buildMontgomeryKem("X25519", backend);
}

/**
 * Makes an X25519 DHKEM on the chosen backend: `"node"` (default: node:crypto's synchronous
 * key objects, the fastest in `deno task bench:kem`), `"webcrypto"` (falling back to noble
 * where WebCrypto lacks X25519) or `"noble"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createX25519Engine, x25519 } from "@polycrypt/polycrypt";
 * const noble = createX25519Engine({ backend: "noble" });
 * assert.equal(noble.id, "x25519");
 * // Backends differ only in speed: the bytes interoperate.
 * const bob = await x25519.generateKeyPair();
 * const { encapsulation, sharedSecret } = await noble.encapsulate(bob.publicKey);
 * assert.deepEqual(await x25519.decapsulate(encapsulation, bob.secretKey), sharedSecret);
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
 * import assert from "node:assert/strict";
 * import { registry, x25519 } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("x25519"), x25519);
 * assert.equal(x25519.publicKeySize, 32);
 * assert.equal(x25519.securityBits, 128);
 * assert.equal(x25519.postQuantum, false);
 * ```
 */
export const x25519: KemEngine = createX25519Engine();
