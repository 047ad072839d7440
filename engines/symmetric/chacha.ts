/**
 * ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305
 * (draft-irtf-cfrg-xchacha) from @noble/ciphers. XChaCha20's 192-bit nonce
 * is safe to pick at random for any number of messages.
 *
 * @example
 * ```ts
 * import { xchacha20Poly1305 } from "./chacha.ts";
 * const nonce = crypto.getRandomValues(new Uint8Array(24));
 * const sealed = await xchacha20Poly1305.seal(new Uint8Array(32), nonce, new Uint8Array(5));
 * console.log(sealed.length); // 21
 * ```
 *
 * @module
 */
import { chacha20poly1305, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import type { AeadEngine } from "../types.ts";
import { defineAead } from "./_aead.ts";

/**
 * `chacha20-poly1305`: 96-bit nonce (RFC 8439 section 2.8).
 *
 * @example
 * ```ts
 * import { chacha20Poly1305 } from "./chacha.ts";
 * console.log(chacha20Poly1305.nonceSize); // 12
 * ```
 */
export const chacha20Poly1305: AeadEngine & { readonly backend: string } = defineAead(
  "chacha20-poly1305",
  12,
  "noble",
  {
    seal: (key, nonce, pt, aad) => chacha20poly1305(key, nonce, aad).encrypt(pt),
    open: (key, nonce, ct, aad) => chacha20poly1305(key, nonce, aad).decrypt(ct),
  },
);

/**
 * `xchacha20-poly1305`: 192-bit nonce.
 *
 * @example
 * ```ts
 * import { xchacha20Poly1305 } from "./chacha.ts";
 * console.log(xchacha20Poly1305.nonceSize); // 24
 * ```
 */
export const xchacha20Poly1305: AeadEngine & { readonly backend: string } = defineAead(
  "xchacha20-poly1305",
  24,
  "noble",
  {
    seal: (key, nonce, pt, aad) => xchacha20poly1305(key, nonce, aad).encrypt(pt),
    open: (key, nonce, ct, aad) => xchacha20poly1305(key, nonce, aad).decrypt(ct),
  },
);
