/**
 * Symmetric AEAD engines: `aes-256-gcm` (WebCrypto, or noble), `chacha20-poly1305`,
 * `xchacha20-poly1305` and `aes-256-gcm-siv` (@noble/ciphers). All take
 * 32-byte keys, return `ciphertext || 16-byte tag`, and throw
 * `DecryptionError` on any failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chacha20Poly1305, DecryptionError } from "@polycrypt/polycrypt";
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const nonce = crypto.getRandomValues(new Uint8Array(12));
 * const aad = new TextEncoder().encode("header");
 * const sealed = await chacha20Poly1305.seal(key, nonce, new TextEncoder().encode("hi"), aad);
 * assert.equal(new TextDecoder().decode(await chacha20Poly1305.open(key, nonce, sealed, aad)), "hi");
 * await assert.rejects(chacha20Poly1305.open(key, nonce, sealed), DecryptionError); // AAD missing
 * ```
 *
 * @module
 */
import type { AeadEngine } from "../types.ts";
import { aes256Gcm } from "./aes_gcm.ts";
import { chacha20Poly1305, xchacha20Poly1305 } from "./chacha.ts";
import { aes256GcmSiv } from "./aes_gcm_siv.ts";

export * from "./aes_gcm.ts";
export * from "./chacha.ts";
export * from "./aes_gcm_siv.ts";

/** The family's built-in engines, as the default registry registers them. */
export const ENGINES: readonly AeadEngine[] = Object.freeze([
  aes256Gcm,
  chacha20Poly1305,
  xchacha20Poly1305,
  aes256GcmSiv,
]);
