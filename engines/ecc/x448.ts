/**
 * `x448`: DHKEM(X448, HKDF-SHA512), RFC 9180 section 4.1, kem_id 0x0021.
 * Keys and encapsulations are 56 bytes, shared secrets 64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { x448 } from "@polycrypt/polycrypt";
 * // RFC 9180 Appendix A.7.1: DeriveKeyPair of DHKEM(X448, HKDF-SHA512).
 * const ikmR = Uint8Array.fromHex(
 *   "d45d1652df74920abf94a2883c83050f502ff512ffb56f07b6d833ec8dda74b6a1c1cc4d42a22641c0963d3c21ed8261f344dc9e0501a81c",
 * );
 * const bob = await x448.deriveKeyPair!(ikmR);
 * assert.equal(
 *   bob.publicKey.toHex(),
 *   "145d083ea7a6379dbb32dcbd8aff4c206ea5d069b75e96c6dd2a3e38f441471ac97adca641fdad66685a96f32b7c3e064635fab3cc89234e",
 * );
 * const { encapsulation, sharedSecret } = await x448.encapsulate(bob.publicKey);
 * assert.deepEqual(await x448.decapsulate(encapsulation, bob.secretKey), sharedSecret);
 * ```
 *
 * @module
 */
import type { KemEngine } from "../types.ts";
import type { BuiltDhKem } from "./_dhkem.ts";
import { buildMontgomeryKem, type MontgomeryBackend } from "./_montgomery.ts";

/** Internal (tests): the engine and its deterministic encapsulation. */
export function _buildX448(backend: MontgomeryBackend = "node"): BuiltDhKem {
  return buildMontgomeryKem("X448", backend);
}

/**
 * Makes an X448 DHKEM on the chosen backend: `"node"` (default: node:crypto's synchronous
 * key objects, the fastest in `deno task bench:kem`), `"webcrypto"` (falling back to noble
 * where WebCrypto lacks X448) or `"noble"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createX448Engine, x448 } from "@polycrypt/polycrypt";
 * const noble = createX448Engine({ backend: "noble" });
 * assert.equal(noble.id, "x448");
 * // Backends differ only in speed: the bytes interoperate.
 * const bob = await x448.generateKeyPair();
 * const { encapsulation, sharedSecret } = await noble.encapsulate(bob.publicKey);
 * assert.deepEqual(await x448.decapsulate(encapsulation, bob.secretKey), sharedSecret);
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
 * import assert from "node:assert/strict";
 * import { registry, x448 } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("x448"), x448);
 * assert.equal(x448.publicKeySize, 56);
 * assert.equal(x448.sharedSecretSize, 64);
 * assert.equal(x448.securityBits, 224);
 * ```
 */
export const x448: KemEngine = createX448Engine();
