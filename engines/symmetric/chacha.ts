/**
 * ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03), each on
 * node:crypto (default) or @noble/ciphers. XChaCha20's 192-bit nonce is safe to pick at random
 * for any number of messages.
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
import { chacha20poly1305, hchacha, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import type { AeadEngine } from "../types.ts";
import { type AeadPrimitive, defineAead, nodeAeadPrimitive } from "./_aead.ts";

/** Where the ChaCha20-Poly1305 arithmetic runs. */
export type ChaChaBackend = "node" | "noble";

// node:crypto against noble, measured in one run (Deno 2.9.6): 64 KiB in 101-104 us against
// 539-570 us, a 32-byte file key in 9-11 us against 12-23 us.
const nodeChaCha20Poly1305 = nodeAeadPrimitive("chacha20-poly1305");

/**
 * Makes a `chacha20-poly1305` engine (96-bit nonce, RFC 8439 section 2.8) on the chosen backend
 * (default `"node"`, the faster; `"noble"` is pure JavaScript).
 *
 * @example
 * ```ts
 * import { createChaCha20Poly1305 } from "./chacha.ts";
 * const noble = createChaCha20Poly1305({ backend: "noble" });
 * console.log(noble.id, noble.backend); // chacha20-poly1305 noble
 * ```
 */
export function createChaCha20Poly1305(
  options: { backend?: ChaChaBackend } = {},
): AeadEngine & { readonly backend: ChaChaBackend } {
  const backend = options.backend ?? "node";
  if (backend === "node") {
    return defineAead("chacha20-poly1305", 12, backend, nodeChaCha20Poly1305);
  }
  if (backend !== "noble") throw new TypeError(`backend must be "node" or "noble"`);
  return defineAead("chacha20-poly1305", 12, backend, {
    seal: (key, nonce, pt, aad) => chacha20poly1305(key, nonce, aad).encrypt(pt),
    open: (key, nonce, ct, aad) => chacha20poly1305(key, nonce, aad).decrypt(ct),
  });
}

/**
 * The registry's `chacha20-poly1305`, on node:crypto.
 *
 * @example
 * ```ts
 * import { chacha20Poly1305 } from "./chacha.ts";
 * console.log(chacha20Poly1305.nonceSize, chacha20Poly1305.backend); // 12 node
 * ```
 */
export const chacha20Poly1305: AeadEngine & { readonly backend: ChaChaBackend } =
  createChaCha20Poly1305();

// HChaCha20's inputs as noble's `hchacha` takes them: 32-bit words in the bytes' own order (a
// view over the bytes), so the same code is right on little- and big-endian hosts.
const SIGMA = new Uint32Array(new TextEncoder().encode("expand 32-byte k").buffer);
const words = (bytes: Uint8Array) => new Uint32Array(bytes.slice().buffer);

/**
 * XChaCha20-Poly1305 as draft-irtf-cfrg-xchacha-03 section 2.3 builds it: the subkey
 * HChaCha20(key, nonce[0..16]) and the nonce `0x00000000 || nonce[16..24]` for RFC 8439's
 * ChaCha20-Poly1305, here node:crypto's. Only HChaCha20 (one ChaCha block) runs in JavaScript.
 */
function nodeXChaCha20Poly1305(): AeadPrimitive {
  const subkeyAndNonce = (key: Uint8Array, nonce: Uint8Array): [Uint8Array, Uint8Array] => {
    const out = new Uint32Array(8);
    hchacha(SIGMA, words(key), words(nonce.subarray(0, 16)), out);
    const inner = new Uint8Array(12);
    inner.set(nonce.subarray(16, 24), 4);
    return [new Uint8Array(out.buffer), inner];
  };
  const run = <T>(
    key: Uint8Array,
    nonce: Uint8Array,
    op: (subkey: Uint8Array, inner: Uint8Array) => T,
  ): T => {
    const [subkey, inner] = subkeyAndNonce(key, nonce);
    try {
      return op(subkey, inner);
    } finally {
      subkey.fill(0);
    }
  };
  return {
    seal: (key, nonce, pt, aad) =>
      run(key, nonce, (k, n) => nodeChaCha20Poly1305.seal(k, n, pt, aad)),
    open: (key, nonce, ct, aad) =>
      run(key, nonce, (k, n) => nodeChaCha20Poly1305.open(k, n, ct, aad)),
  };
}

/**
 * Makes an `xchacha20-poly1305` engine (192-bit nonce) on the chosen backend (default
 * `"node"`: HChaCha20 from @noble/ciphers, then node:crypto's ChaCha20-Poly1305; `"noble"` is
 * pure JavaScript). Both give the same bytes.
 *
 * @example
 * ```ts
 * import { createXChaCha20Poly1305 } from "./chacha.ts";
 * const noble = createXChaCha20Poly1305({ backend: "noble" });
 * console.log(noble.id, noble.nonceSize, noble.backend); // xchacha20-poly1305 24 noble
 * ```
 */
export function createXChaCha20Poly1305(
  options: { backend?: ChaChaBackend } = {},
): AeadEngine & { readonly backend: ChaChaBackend } {
  const backend = options.backend ?? "node";
  if (backend === "node") {
    return defineAead("xchacha20-poly1305", 24, backend, nodeXChaCha20Poly1305());
  }
  if (backend !== "noble") throw new TypeError(`backend must be "node" or "noble"`);
  return defineAead("xchacha20-poly1305", 24, backend, {
    seal: (key, nonce, pt, aad) => xchacha20poly1305(key, nonce, aad).encrypt(pt),
    open: (key, nonce, ct, aad) => xchacha20poly1305(key, nonce, aad).decrypt(ct),
  });
}

/**
 * The registry's `xchacha20-poly1305` (192-bit nonce), on node:crypto.
 *
 * @example
 * ```ts
 * import { xchacha20Poly1305 } from "./chacha.ts";
 * console.log(xchacha20Poly1305.nonceSize, xchacha20Poly1305.backend); // 24 node
 * ```
 */
export const xchacha20Poly1305: AeadEngine & { readonly backend: ChaChaBackend } =
  createXChaCha20Poly1305();
