// Internal: AES-256-GCM and ChaCha20-Poly1305 in the system's OpenSSL 3 libcrypto, through Deno's
// FFI, synchronous and writing into the caller's buffer.
//
// Why: a file through the CLI is 16,384 STREAM chunks per GiB. WebCrypto hands each 64 KiB call to
// Deno's blocking thread pool and returns a fresh buffer through a promise; node:crypto's
// ChaCha20-Poly1305 does about 650 MB/s. libcrypto's EVP does 3.8-4.3 GB/s here (`openssl speed
// -evp`), and a synchronous call that writes into a batch buffer costs no promise, no thread hop
// and no copy, so STREAM seals a whole batch of chunks per turn of the event loop
// (cascade/stream.ts). We only call EVP's documented AEAD sequence (EVP_EncryptInit_ex(3): init,
// AAD update, update, final, GET_TAG; decryption sets the tag and checks it in final).
//
// Loaded only when FFI permission is already granted (a query never prompts; dlopen would) and a
// libcrypto of major version 3 opens, on first use: nothing here runs at import time, so mod.ts
// stays portable. Everything else falls back to the engines' WebCrypto, node:crypto or noble
// backends, which give the same bytes.

import { LIBCRYPTO_BASE, openLibcrypto } from "../_ffi.ts";

const SYMBOLS = {
  ...LIBCRYPTO_BASE,
  EVP_CIPHER_fetch: { parameters: ["pointer", "buffer", "pointer"], result: "pointer" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_reset: { parameters: ["pointer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  EVP_EncryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_EncryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_EncryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_DecryptInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  EVP_DecryptUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_DecryptFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  ERR_clear_error: { parameters: [], result: "void" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The ciphers this backend runs, by polycrypt id. */
export type OpensslAeadId = "aes-256-gcm" | "chacha20-poly1305";

// include/openssl/evp.h: the AEAD controls (EVP_CTRL_AEAD_GET_TAG, EVP_CTRL_AEAD_SET_TAG).
const EVP_CTRL_AEAD_GET_TAG = 0x10;
const EVP_CTRL_AEAD_SET_TAG = 0x11;
const TAG = 16;
/** EVP's lengths are C ints: one call takes at most this many bytes (STREAM's are 64 KiB). */
const MAX_CALL = 0x7fffffff;

/**
 * One-shot AEAD calls on libcrypto, with a 32-byte key, a 12-byte nonce and a 16-byte tag. Both
 * read their inputs during the call and return nothing asynchronously.
 */
export interface OpensslAead {
  /** Seals `plaintext` into `out` (exactly `plaintext.length + 16` bytes: ciphertext, tag). */
  sealInto(
    id: OpensslAeadId,
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
    out: Uint8Array,
  ): void;
  /**
   * Opens `ciphertext || tag` into `out` (exactly `ciphertext.length - 16` bytes). Returns false,
   * with `out` zeroed, when the tag does not verify.
   */
  openInto(
    id: OpensslAeadId,
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array,
    out: Uint8Array,
  ): boolean;
}

let loaded: OpensslAead | Error | undefined;
/** Set by tests (and nothing else) to take the fallback path in a process that has FFI. */
let disabled = false;

/** libcrypto's AEADs, or why they are unavailable. Tried once per process. */
export function opensslAead(): OpensslAead | Error {
  if (disabled) return new Error("OpenSSL's AEADs are disabled in this process");
  loaded ??= load();
  return loaded;
}

/**
 * Tests only: `true` makes {@linkcode opensslAead} report libcrypto unavailable, as without
 * `--allow-ffi`, so the fallback is exercised in the same process; `false` restores it.
 */
export function disableOpensslAeadForTesting(off: boolean): void {
  disabled = off;
}

function load(): OpensslAead | Error {
  const lib = openLibcrypto(SYMBOLS, "OpenSSL's AEADs");
  if (lib instanceof Error) return lib;
  // Fetched once: a legacy EVP_aes_256_gcm() would be fetched again on every init.
  const fetch = (name: string) =>
    lib.EVP_CIPHER_fetch(null, new TextEncoder().encode(`${name}\0`), null);
  const ciphers = {
    "aes-256-gcm": fetch("AES-256-GCM"),
    "chacha20-poly1305": fetch("ChaCha20-Poly1305"),
  };
  if (ciphers["aes-256-gcm"] === null || ciphers["chacha20-poly1305"] === null) {
    lib.ERR_clear_error();
    return new Error("libcrypto has no AES-256-GCM or ChaCha20-Poly1305");
  }
  // One context for the process: JavaScript calls it from one thread, one call at a time (every
  // call is synchronous), and each call resets it, which also wipes the key from it.
  const ctx = lib.EVP_CIPHER_CTX_new();
  if (ctx === null) return new Error("EVP_CIPHER_CTX_new failed");
  return backend(lib, ctx, ciphers);
}

function backend(
  lib: Lib,
  ctx: Deno.PointerObject,
  ciphers: Record<OpensslAeadId, Deno.PointerObject | null>,
): OpensslAead {
  const outLength = new Int32Array(1);
  const check = (key: Uint8Array, nonce: Uint8Array, data: number) => {
    if (key.length !== 32 || nonce.length !== 12) throw new RangeError("bad key or nonce size");
    if (data > MAX_CALL) throw new RangeError("input too large for one libcrypto call");
  };
  const done = () => {
    lib.EVP_CIPHER_CTX_reset(ctx);
    lib.ERR_clear_error();
  };

  const sealInto: OpensslAead["sealInto"] = (id, key, nonce, plaintext, aad, out) => {
    check(key, nonce, Math.max(plaintext.length, aad.length));
    const n = plaintext.length;
    if (out.length !== n + TAG) throw new RangeError("out must be plaintext.length + 16 bytes");
    try {
      let ok = lib.EVP_EncryptInit_ex(ctx, ciphers[id], null, key, nonce) === 1;
      if (ok && aad.length > 0) {
        ok = lib.EVP_EncryptUpdate(ctx, null, outLength, aad, aad.length) === 1;
      }
      if (ok && n > 0) {
        ok = lib.EVP_EncryptUpdate(ctx, out, outLength, plaintext, n) === 1 &&
          outLength[0] === n;
      }
      // Stream ciphers (GCM's CTR, ChaCha20) have written everything by now: final adds nothing.
      ok = ok && lib.EVP_EncryptFinal_ex(ctx, out.subarray(n), outLength) === 1 &&
        outLength[0] === 0 &&
        lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG, out.subarray(n)) === 1;
      if (!ok) {
        out.fill(0);
        throw new Error("libcrypto failed to seal");
      }
    } finally {
      done();
    }
  };

  const openInto: OpensslAead["openInto"] = (id, key, nonce, ciphertext, aad, out) => {
    const n = ciphertext.length - TAG;
    if (n < 0) return false;
    check(key, nonce, Math.max(n, aad.length));
    if (out.length !== n) throw new RangeError("out must be ciphertext.length - 16 bytes");
    let ok = false;
    try {
      ok = lib.EVP_DecryptInit_ex(ctx, ciphers[id], null, key, nonce) === 1;
      if (ok && aad.length > 0) {
        ok = lib.EVP_DecryptUpdate(ctx, null, outLength, aad, aad.length) === 1;
      }
      if (ok && n > 0) {
        ok = lib.EVP_DecryptUpdate(ctx, out, outLength, ciphertext.subarray(0, n), n) === 1 &&
          outLength[0] === n;
      }
      // SET_TAG copies the tag; final compares it (in constant time) and fails on a mismatch.
      ok = ok &&
        lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG, ciphertext.subarray(n)) === 1 &&
        lib.EVP_DecryptFinal_ex(ctx, out.subarray(n), outLength) === 1 && outLength[0] === 0;
    } finally {
      done();
      // Nothing decrypted leaves a call whose tag failed.
      if (!ok) out.fill(0);
    }
    return ok;
  };

  return { sealInto, openInto };
}
