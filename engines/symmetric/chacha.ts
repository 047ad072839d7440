/**
 * ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03), each on
 * node:crypto (default) or @noble/ciphers. XChaCha20's 192-bit nonce is safe to pick at random
 * for any number of messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { xchacha20Poly1305 } from "@polycrypt/polycrypt";
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const nonce = crypto.getRandomValues(new Uint8Array(24)); // random nonces are fine here
 * const sealed = await xchacha20Poly1305.seal(key, nonce, new Uint8Array(5));
 * assert.equal(sealed.length, 5 + 16);
 * assert.deepEqual(await xchacha20Poly1305.open(key, nonce, sealed), new Uint8Array(5));
 * ```
 *
 * @module
 */
import { chacha20poly1305, hchacha, xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import type { AeadEngine } from "../types.ts";
import {
  type AeadInto,
  type AeadPrimitive,
  defineAead,
  nodeAeadPrimitive,
  opensslInto,
  opensslPrimitive,
} from "./_aead.ts";
import { opensslAead } from "./_openssl.ts";

/**
 * Where the ChaCha20-Poly1305 arithmetic runs. `"node"` also runs STREAM's chunks on the
 * system's libcrypto when the process has `--allow-ffi`; `"openssl"` runs every call there and
 * refuses to fall back.
 */
export type ChaChaBackend = "node" | "noble" | "openssl";

/** A ChaCha20-Poly1305 or XChaCha20-Poly1305 engine, with the backend it runs on. */
export type ChaChaEngine = AeadEngine & { readonly backend: ChaChaBackend };

// node:crypto against noble, measured in one run (Deno 2.9.6): 64 KiB in 101-104 us against
// 539-570 us, a 32-byte file key in 9-11 us against 12-23 us.
// With --allow-ffi, STREAM's chunks run on libcrypto instead (engines/symmetric/_openssl.ts).
const CHACHA = "chacha20-poly1305";
const EMPTY = new Uint8Array(0);
const nodeChaCha20Poly1305: AeadPrimitive = {
  ...nodeAeadPrimitive(CHACHA),
  into: (key) => opensslInto(CHACHA, key),
};

// HChaCha20's inputs as noble's `hchacha` takes them: 32-bit words in the bytes' own order (a
// view over the bytes), so the same code is right on little- and big-endian hosts.
const SIGMA = new Uint32Array(new TextEncoder().encode("expand 32-byte k").buffer);
const words = (bytes: Uint8Array) => new Uint32Array(bytes.slice().buffer);

/**
 * Runs `op` under XChaCha20-Poly1305's inner key and nonce (draft-irtf-cfrg-xchacha-03 section
 * 2.3): the subkey HChaCha20(key, nonce[0..16]) and the nonce `0x00000000 || nonce[16..24]`;
 * the subkey is zeroed afterwards. Only HChaCha20 (one ChaCha block) runs in JavaScript.
 */
function withXChaChaSubkey<T>(
  key: Uint8Array,
  nonce: Uint8Array,
  op: (subkey: Uint8Array, innerNonce: Uint8Array) => T,
): T {
  const out = new Uint32Array(8);
  hchacha(SIGMA, words(key), words(nonce.subarray(0, 16)), out);
  const subkey = new Uint8Array(out.buffer);
  const innerNonce = new Uint8Array(12);
  innerNonce.set(nonce.subarray(16, 24), 4);
  try {
    return op(subkey, innerNonce);
  } finally {
    subkey.fill(0);
  }
}

/** XChaCha20-Poly1305 over a ChaCha20-Poly1305 primitive (node:crypto's or libcrypto's). */
function xchachaOver(inner: AeadPrimitive): AeadPrimitive {
  return {
    // STREAM's chunks on libcrypto when it can be had, each under its own subkey.
    into: (key): AeadInto | undefined => {
      const lib = opensslAead();
      if (lib instanceof Error) return undefined;
      return {
        sealInto: (nonce, pt, out) =>
          withXChaChaSubkey(key, nonce, (k, n) => lib.sealInto(CHACHA, k, n, pt, EMPTY, out)),
        openInto: (nonce, ct, out) =>
          withXChaChaSubkey(key, nonce, (k, n) => lib.openInto(CHACHA, k, n, ct, EMPTY, out)),
      };
    },
    seal: (key, nonce, pt, aad) =>
      withXChaChaSubkey(key, nonce, (k, n) => inner.seal(k, n, pt, aad)),
    open: (key, nonce, ct, aad) =>
      withXChaChaSubkey(key, nonce, (k, n) => inner.open(k, n, ct, aad)),
  };
}

const nodeXChaCha20Poly1305 = xchachaOver(nodeChaCha20Poly1305);

/** noble's cipher constructors, as both ChaCha variants share them. */
type NobleCipher = (key: Uint8Array, nonce: Uint8Array, aad?: Uint8Array) => {
  encrypt(plaintext: Uint8Array): Uint8Array;
  decrypt(ciphertext: Uint8Array): Uint8Array;
};

/** What sets one ChaCha variant apart: its nonce size, and the node and noble code that run it. */
interface ChaChaVariant {
  readonly nonceSize: number;
  readonly node: AeadPrimitive;
  readonly noble: NobleCipher;
  /** libcrypto's, made on request only: it throws when libcrypto cannot be had. */
  readonly openssl: () => AeadPrimitive;
}

type ChaChaId = "chacha20-poly1305" | "xchacha20-poly1305";

/** The variants by id: a 96-bit nonce (RFC 8439 section 2.8) or 192 (draft-irtf-cfrg-xchacha-03). */
const VARIANTS: Readonly<Record<ChaChaId, ChaChaVariant>> = Object.freeze({
  "chacha20-poly1305": Object.freeze({
    nonceSize: 12,
    node: nodeChaCha20Poly1305,
    noble: chacha20poly1305,
    openssl: () => opensslPrimitive(CHACHA),
  }),
  "xchacha20-poly1305": Object.freeze({
    nonceSize: 24,
    node: nodeXChaCha20Poly1305,
    noble: xchacha20poly1305,
    openssl: () => xchachaOver(opensslPrimitive(CHACHA)),
  }),
});

/** The backend switch both ChaCha variants share: the node primitive, or noble's cipher. */
function chachaEngine(
  id: ChaChaId,
  backend: ChaChaBackend = "node",
): ChaChaEngine {
  const { nonceSize, node, noble, openssl } = VARIANTS[id];
  if (backend === "node") return defineAead(id, nonceSize, backend, node);
  if (backend === "openssl") return defineAead(id, nonceSize, backend, openssl());
  if (backend !== "noble") throw new TypeError(`backend must be "node", "noble" or "openssl"`);
  return defineAead(id, nonceSize, backend, {
    seal: (key, nonce, pt, aad) => noble(key, nonce, aad).encrypt(pt),
    open: (key, nonce, ct, aad) => noble(key, nonce, aad).decrypt(ct),
  });
}

/**
 * Makes a `chacha20-poly1305` engine (96-bit nonce, RFC 8439 section 2.8) on the chosen backend
 * (default `"node"`, the faster; `"noble"` is pure JavaScript).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createChaCha20Poly1305 } from "@polycrypt/polycrypt";
 * const noble = createChaCha20Poly1305({ backend: "noble" });
 * assert.equal(noble.id, "chacha20-poly1305");
 * assert.equal(noble.backend, "noble");
 * // RFC 8439 section 2.8.2.
 * const plaintext = new TextEncoder().encode(
 *   "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
 * );
 * const aad = Uint8Array.fromHex("50515253c0c1c2c3c4c5c6c7");
 * const key = Uint8Array.fromHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
 * const nonce = Uint8Array.fromHex("070000004041424344454647");
 * const sealed = await noble.seal(key, nonce, plaintext, aad);
 * assert.equal(sealed.subarray(-16).toHex(), "1ae10b594f09e26a7e902ecbd0600691"); // the tag
 * ```
 */
export function createChaCha20Poly1305(
  options: { backend?: ChaChaBackend } = {},
): ChaChaEngine {
  return chachaEngine("chacha20-poly1305", options.backend);
}

/**
 * The registry's `chacha20-poly1305`, on node:crypto.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chacha20Poly1305, createChaCha20Poly1305 } from "@polycrypt/polycrypt";
 * assert.equal(chacha20Poly1305.nonceSize, 12);
 * assert.equal(chacha20Poly1305.backend, "node");
 * // Backends differ only in speed: the bytes interoperate.
 * const key = crypto.getRandomValues(new Uint8Array(32)), nonce = new Uint8Array(12);
 * const sealed = await chacha20Poly1305.seal(key, nonce, new Uint8Array([1, 2, 3]));
 * const noble = createChaCha20Poly1305({ backend: "noble" });
 * assert.deepEqual(await noble.open(key, nonce, sealed), new Uint8Array([1, 2, 3]));
 * ```
 */
export const chacha20Poly1305: ChaChaEngine = createChaCha20Poly1305();

/**
 * Makes an `xchacha20-poly1305` engine (192-bit nonce) on the chosen backend (default
 * `"node"`: HChaCha20 from @noble/ciphers, then node:crypto's ChaCha20-Poly1305; `"noble"` is
 * pure JavaScript). Both give the same bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createXChaCha20Poly1305 } from "@polycrypt/polycrypt";
 * const noble = createXChaCha20Poly1305({ backend: "noble" });
 * assert.equal(noble.id, "xchacha20-poly1305");
 * assert.equal(noble.nonceSize, 24);
 * assert.equal(noble.backend, "noble");
 * // draft-irtf-cfrg-xchacha-03 Appendix A.3.1.
 * const plaintext = new TextEncoder().encode(
 *   "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
 * );
 * const aad = Uint8Array.fromHex("50515253c0c1c2c3c4c5c6c7");
 * const key = Uint8Array.fromHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
 * const nonce = Uint8Array.fromHex("404142434445464748494a4b4c4d4e4f5051525354555657");
 * const sealed = await noble.seal(key, nonce, plaintext, aad);
 * assert.equal(sealed.subarray(-16).toHex(), "c0875924c1c7987947deafd8780acf49"); // the tag
 * ```
 */
export function createXChaCha20Poly1305(
  options: { backend?: ChaChaBackend } = {},
): ChaChaEngine {
  return chachaEngine("xchacha20-poly1305", options.backend);
}

/**
 * The registry's `xchacha20-poly1305` (192-bit nonce), on node:crypto.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createXChaCha20Poly1305, xchacha20Poly1305 } from "@polycrypt/polycrypt";
 * assert.equal(xchacha20Poly1305.nonceSize, 24);
 * assert.equal(xchacha20Poly1305.backend, "node");
 * // Backends differ only in speed: the bytes interoperate.
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const nonce = crypto.getRandomValues(new Uint8Array(24));
 * const sealed = await xchacha20Poly1305.seal(key, nonce, new Uint8Array([1, 2, 3]));
 * const noble = createXChaCha20Poly1305({ backend: "noble" });
 * assert.deepEqual(await noble.open(key, nonce, sealed), new Uint8Array([1, 2, 3]));
 * ```
 */
export const xchacha20Poly1305: ChaChaEngine = createXChaCha20Poly1305();
