/**
 * AES-256-GCM-SIV (RFC 8452) from @noble/ciphers: nonce-misuse resistant (a
 * repeated nonce reveals only whether two messages were equal).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256GcmSiv } from "@polycrypt/polycrypt";
 * // RFC 8452 Appendix C.2, first AES-256-GCM-SIV vector: empty plaintext and AAD.
 * const key = Uint8Array.fromHex("01".padEnd(64, "0"));
 * const nonce = Uint8Array.fromHex("03".padEnd(24, "0"));
 * const sealed = await aes256GcmSiv.seal(key, nonce, new Uint8Array(0));
 * assert.equal(sealed.toHex(), "07f5f4169bbf55a8400cd47ea6fd400f");
 * ```
 *
 * @module
 */
import { gcmsiv } from "@noble/ciphers/aes.js";
import type { AeadEngine } from "../types.ts";
import { defineAead } from "./_aead.ts";

/**
 * `aes-256-gcm-siv`: 96-bit nonce, 128-bit tag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256GcmSiv, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.aead("aes-256-gcm-siv"), aes256GcmSiv);
 * assert.equal(aes256GcmSiv.nonceSize, 12);
 * assert.equal(aes256GcmSiv.tagSize, 16);
 * // A repeated nonce reveals only that two messages are equal.
 * const key = crypto.getRandomValues(new Uint8Array(32)), nonce = new Uint8Array(12);
 * const [a, b] = ["same", "same"].map((s) => new TextEncoder().encode(s));
 * assert.deepEqual(await aes256GcmSiv.seal(key, nonce, a), await aes256GcmSiv.seal(key, nonce, b));
 * ```
 */
export const aes256GcmSiv: AeadEngine & { readonly backend: string } = defineAead(
  "aes-256-gcm-siv",
  12,
  "noble",
  {
    seal: (key, nonce, pt, aad) => gcmsiv(key, nonce, aad).encrypt(pt),
    open: (key, nonce, ct, aad) => gcmsiv(key, nonce, aad).decrypt(ct),
  },
);
