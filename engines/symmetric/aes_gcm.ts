/**
 * AES-256-GCM (NIST SP 800-38D) with 96-bit nonces and 128-bit tags.
 *
 * Backends: WebCrypto (native and run off the main thread, so chunks in
 * flight use both cores; about 12x noble's speed on 64 KiB chunks), node:crypto
 * (native and synchronous: 2.5x WebCrypto's speed on a 1 KiB message, whose
 * cost is mostly WebCrypto's key import and async hop) and @noble/ciphers. The
 * default, `"auto"`, sends inputs under {@linkcode AES_GCM_SMALL_INPUT} bytes to
 * node:crypto and the rest to WebCrypto (docs/engines/symmetric.md). A random 96-bit
 * nonce must not be used for more than 2^32 messages under one key
 * (SP 800-38D section 8.3); polycrypt's STREAM uses counter nonces under
 * per-message keys instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256Gcm } from "@polycrypt/polycrypt";
 * // McGrew-Viega GCM test case 14: zero key, zero nonce, one zero block.
 * const key = new Uint8Array(32), nonce = new Uint8Array(12);
 * const sealed = await aes256Gcm.seal(key, nonce, new Uint8Array(16));
 * assert.equal(
 *   sealed.toHex(),
 *   "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919", // ciphertext, tag
 * );
 * assert.deepEqual(await aes256Gcm.open(key, nonce, sealed), new Uint8Array(16));
 * ```
 *
 * @module
 */
import { gcm } from "@noble/ciphers/aes.js";
import type { AeadEngine } from "../types.ts";
import { nodeCrypto } from "../_node.ts";
import { defineAead, nodeAeadPrimitive, opensslInto, opensslPrimitive } from "./_aead.ts";

/**
 * Where the AES-GCM arithmetic runs; `"auto"` picks node or WebCrypto by input size (and, with
 * `--allow-ffi`, runs STREAM's chunks on the system's libcrypto); `"openssl"` runs every call on
 * libcrypto through FFI and refuses to fall back.
 */
export type AesGcmBackend = "auto" | "webcrypto" | "node" | "noble" | "openssl";

/**
 * Inputs shorter than this go to node:crypto under the `"auto"` backend, the rest to WebCrypto
 * (the crossover measured by `deno task bench:throughput`: node:crypto's per-byte cost is
 * higher, WebCrypto's per-call cost is). Where there is no node:crypto (a browser), WebCrypto
 * takes every size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AES_GCM_SMALL_INPUT, aes256Gcm } from "@polycrypt/polycrypt";
 * assert.equal(AES_GCM_SMALL_INPUT, 4096);
 * // Either side of the crossover, the bytes are the same AES-GCM.
 * const key = new Uint8Array(32).fill(1), nonce = new Uint8Array(12);
 * const big = new Uint8Array(AES_GCM_SMALL_INPUT + 1);
 * const sealed = await aes256Gcm.seal(key, nonce, big);
 * assert.deepEqual(
 *   sealed.subarray(0, 100),
 *   (await aes256Gcm.seal(key, nonce, big.subarray(0, 100))).subarray(0, 100),
 * );
 * ```
 */
export const AES_GCM_SMALL_INPUT = 4096;

const nodePrimitive = nodeAeadPrimitive("aes-256-gcm");
const bytes = (buffer: ArrayBuffer) => new Uint8Array(buffer);

/**
 * Makes an AES-256-GCM engine on the chosen backend (default `"auto"`: node:crypto below
 * {@linkcode AES_GCM_SMALL_INPUT} bytes, WebCrypto from there).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256Gcm, createAes256Gcm } from "@polycrypt/polycrypt";
 * const noble = createAes256Gcm({ backend: "noble" });
 * assert.equal(noble.id, "aes-256-gcm");
 * assert.equal(noble.backend, "noble");
 * // Backends differ only in speed: the bytes interoperate.
 * const key = crypto.getRandomValues(new Uint8Array(32)), nonce = new Uint8Array(12);
 * const sealed = await noble.seal(key, nonce, new TextEncoder().encode("hi"));
 * assert.equal(new TextDecoder().decode(await aes256Gcm.open(key, nonce, sealed)), "hi");
 * ```
 */
export function createAes256Gcm(
  options: { backend?: AesGcmBackend } = {},
): AeadEngine & { readonly backend: AesGcmBackend } {
  const backend = options.backend ?? "auto";
  if (backend === "noble") {
    return defineAead("aes-256-gcm", 12, backend, {
      seal: (key, nonce, pt, aad) => gcm(key, nonce, aad).encrypt(pt),
      open: (key, nonce, ct, aad) => gcm(key, nonce, aad).decrypt(ct),
    });
  }
  if (backend === "node") {
    return defineAead("aes-256-gcm", 12, backend, nodePrimitive);
  }
  if (backend === "openssl") {
    return defineAead("aes-256-gcm", 12, backend, opensslPrimitive("aes-256-gcm"));
  }
  if (backend !== "webcrypto" && backend !== "auto") {
    throw new TypeError(`backend must be "auto", "webcrypto", "node", "noble" or "openssl"`);
  }
  const params = (iv: Uint8Array, aad: Uint8Array) => ({
    name: "AES-GCM",
    iv: iv as Uint8Array<ArrayBuffer>,
    additionalData: aad as Uint8Array<ArrayBuffer>,
    tagLength: 128,
  });
  const prepare = async (key: Uint8Array) => {
    const k = await crypto.subtle.importKey(
      "raw",
      key as Uint8Array<ArrayBuffer>,
      "AES-GCM",
      false,
      [
        "encrypt",
        "decrypt",
      ],
    );
    // WebCrypto copies its inputs when called (WebCrypto section 14.3.1 step 3), so the caller's
    // buffers are free again as soon as these return.
    return {
      seal: (nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array) =>
        crypto.subtle.encrypt(params(nonce, aad), k, pt as Uint8Array<ArrayBuffer>).then(bytes),
      open: (nonce: Uint8Array, ct: Uint8Array, aad: Uint8Array) =>
        crypto.subtle.decrypt(params(nonce, aad), k, ct as Uint8Array<ArrayBuffer>).then(bytes),
    };
  };
  if (backend === "webcrypto") {
    return defineAead("aes-256-gcm", 12, backend, {
      prepare,
      seal: async (key, nonce, pt, aad) => await (await prepare(key)).seal(nonce, pt, aad),
      open: async (key, nonce, ct, aad) => await (await prepare(key)).open(nonce, ct, aad),
    });
  }
  // Small inputs go to node:crypto's synchronous cipher where the platform has one (Deno, Node,
  // Bun). Without it (a browser) WebCrypto serves every size: its 1 KiB seal took 13-16 us in
  // Chromium 156, the synchronous @noble fallback 60-150 us.
  const small = (data: Uint8Array) =>
    data.length < AES_GCM_SMALL_INPUT && nodeCrypto() !== undefined;
  // The WebCrypto key is imported on the first large input only; once it is, large inputs go
  // straight to WebCrypto (no await in between, so the input is copied during the call).
  const prepareAuto = (key: Uint8Array) => {
    let importing: ReturnType<typeof prepare> | undefined;
    let web: Awaited<ReturnType<typeof prepare>> | undefined;
    const importWeb = () =>
      importing ??= prepare(key).then((keyed) => {
        web = keyed;
        return keyed;
      });
    const slowSeal = async (nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array) => {
      if (small(pt)) return nodePrimitive.seal(key, nonce, pt, aad);
      // The first large input waits for the import: keep a copy, the caller may reuse pt.
      const copy = pt.slice();
      return (await importWeb()).seal(nonce, copy, aad);
    };
    const slowOpen = async (nonce: Uint8Array, ct: Uint8Array, aad: Uint8Array) => {
      if (small(ct)) return nodePrimitive.open(key, nonce, ct, aad);
      const copy = ct.slice();
      return (await importWeb()).open(nonce, copy, aad);
    };
    return {
      seal: (nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array) =>
        web && !small(pt) ? web.seal(nonce, pt, aad) : slowSeal(nonce, pt, aad),
      open: (nonce: Uint8Array, ct: Uint8Array, aad: Uint8Array) =>
        web && !small(ct) ? web.open(nonce, ct, aad) : slowOpen(nonce, ct, aad),
    };
  };
  return defineAead("aes-256-gcm", 12, backend, {
    prepare: (key: Uint8Array) => Promise.resolve(prepareAuto(key)),
    // STREAM's chunks, when libcrypto can be had: synchronous, into the caller's buffers.
    into: (key: Uint8Array) => opensslInto("aes-256-gcm", key),
    seal: (key, nonce, pt, aad) => prepareAuto(key).seal(nonce, pt, aad),
    open: (key, nonce, ct, aad) => prepareAuto(key).open(nonce, ct, aad),
  });
}

/**
 * The registry's `aes-256-gcm`: the `"auto"` backend (node:crypto for small inputs, WebCrypto
 * for the rest), the fastest correct choice at every size measured.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { aes256Gcm, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.aead("aes-256-gcm"), aes256Gcm);
 * assert.equal(aes256Gcm.nonceSize, 12);
 * assert.equal(aes256Gcm.backend, "auto");
 * ```
 */
export const aes256Gcm: AeadEngine & { readonly backend: AesGcmBackend } = createAes256Gcm();
