/**
 * AES-256-GCM-SIV (RFC 8452) from @noble/ciphers: nonce-misuse resistant (a
 * repeated nonce reveals only whether two messages were equal).
 *
 * @example
 * ```ts
 * import { aes256GcmSiv } from "./aes_gcm_siv.ts";
 * const sealed = await aes256GcmSiv.seal(new Uint8Array(32), new Uint8Array(12), new Uint8Array(0));
 * console.log(sealed.length); // 16
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
 * import { aes256GcmSiv } from "./aes_gcm_siv.ts";
 * console.log(aes256GcmSiv.id); // aes-256-gcm-siv
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
