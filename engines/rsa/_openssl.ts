// Internal: RSA-OAEP-SHA-256 decryption in the system's OpenSSL 3 libcrypto, through Deno's FFI.
//
// Why: Deno's own RSA (the Rust `rsa` crate behind both WebCrypto and node:crypto) runs the
// private operation at 0.36-0.40x OpenSSL's speed here, and it is the operation a messenger waits
// for on every message. OpenSSL is the platform's reference implementation (and the benchmark's
// ceiling); we only call its EVP API: parse the PKCS#8 key, set OAEP with SHA-256 and MGF1-SHA-256
// (RFC 8017 section 7.1.2), decrypt. The decryption itself runs on Deno's blocking thread pool
// (a `nonblocking` symbol), so the event loop stays free and calls in flight use every core.
//
// Loaded only when FFI permission is already granted (a query never prompts; dlopen would) and a
// libcrypto of major version 3 opens. Everything else falls back to WebCrypto in rsa.ts.

import { LIBCRYPTO_BASE, openLibcrypto } from "../_ffi.ts";

const SYMBOLS = {
  ...LIBCRYPTO_BASE,
  d2i_AutoPrivateKey: { parameters: ["pointer", "buffer", "i64"], result: "pointer" },
  EVP_PKEY_get_base_id: { parameters: ["pointer"], result: "i32" },
  EVP_PKEY_get_bits: { parameters: ["pointer"], result: "i32" },
  EVP_PKEY_free: { parameters: ["pointer"], result: "void" },
  EVP_PKEY_CTX_new: { parameters: ["pointer", "pointer"], result: "pointer" },
  EVP_PKEY_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_PKEY_decrypt_init: { parameters: ["pointer"], result: "i32" },
  EVP_PKEY_CTX_set_rsa_padding: { parameters: ["pointer", "i32"], result: "i32" },
  EVP_PKEY_CTX_set_rsa_oaep_md: { parameters: ["pointer", "pointer"], result: "i32" },
  EVP_PKEY_CTX_set_rsa_mgf1_md: { parameters: ["pointer", "pointer"], result: "i32" },
  EVP_PKEY_CTX_set0_rsa_oaep_label: { parameters: ["pointer", "pointer", "i32"], result: "i32" },
  CRYPTO_memdup: { parameters: ["buffer", "usize", "buffer", "i32"], result: "pointer" },
  CRYPTO_free: { parameters: ["pointer", "buffer", "i32"], result: "void" },
  EVP_sha256: { parameters: [], result: "pointer" },
  EVP_PKEY_decrypt: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  ERR_clear_error: { parameters: [], result: "void" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

// include/openssl/rsa.h and include/openssl/obj_mac.h (OpenSSL 3.0).
const RSA_PKCS1_OAEP_PADDING = 4;
const EVP_PKEY_RSA = 6;
const FILE = new TextEncoder().encode("polycrypt\0");

/** A parsed private key in libcrypto, freed when its owner is garbage collected. */
export interface OpensslRsa {
  /** Parses a PKCS#8 DER RSA key of `bits`; throws if libcrypto refuses it. */
  parse(pkcs8: Uint8Array, bits: number): OpensslKey;
  /** OAEP-SHA-256 decryption off the event loop; rejects on any failure. */
  decrypt(key: OpensslKey, ciphertext: Uint8Array, label: Uint8Array): Promise<Uint8Array>;
}

/** Opaque handle to an EVP_PKEY. */
export interface OpensslKey {
  readonly bits: number;
}

interface KeyHandle extends OpensslKey {
  readonly pointer: Deno.PointerObject;
}

let loaded: OpensslRsa | Error | undefined;

/** libcrypto's RSA, or why it is unavailable. Tried once per process. */
export function opensslRsa(): OpensslRsa | Error {
  loaded ??= load();
  return loaded;
}

function load(): OpensslRsa | Error {
  const lib = openLibcrypto(SYMBOLS, "OpenSSL's RSA");
  if (lib instanceof Error) return lib;
  return backend(lib);
}

function backend(lib: Lib): OpensslRsa {
  const sha256 = lib.EVP_sha256();
  // Every EVP_PKEY we hand out is freed once its handle is unreachable. A decryption in flight
  // needs no handle: EVP_PKEY_CTX_new takes a reference of its own, dropped by EVP_PKEY_CTX_free.
  const finalizer = new FinalizationRegistry<Deno.PointerObject>((p) => lib.EVP_PKEY_free(p));

  const parse = (pkcs8: Uint8Array, bits: number): OpensslKey => {
    const der = pkcs8.slice();
    // d2i reads through `const unsigned char **pp`: a cell holding the address of the bytes.
    const cell = new BigUint64Array([
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(der))),
    ]);
    const pointer = lib.d2i_AutoPrivateKey(null, cell, BigInt(der.length));
    der.fill(0);
    if (pointer === null) {
      lib.ERR_clear_error();
      throw new Error("libcrypto refused the key");
    }
    if (
      lib.EVP_PKEY_get_base_id(pointer) !== EVP_PKEY_RSA || lib.EVP_PKEY_get_bits(pointer) !== bits
    ) {
      lib.EVP_PKEY_free(pointer);
      throw new Error("not an RSA key of the expected size");
    }
    const handle: KeyHandle = { bits, pointer };
    finalizer.register(handle, pointer);
    return handle;
  };

  const decrypt = async (
    key: OpensslKey,
    ciphertext: Uint8Array,
    label: Uint8Array,
  ): Promise<Uint8Array> => {
    const handle = key as KeyHandle;
    const ctx = lib.EVP_PKEY_CTX_new(handle.pointer, null);
    if (ctx === null) throw new Error("EVP_PKEY_CTX_new failed");
    try {
      let ok = lib.EVP_PKEY_decrypt_init(ctx) === 1 &&
        lib.EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) === 1 &&
        lib.EVP_PKEY_CTX_set_rsa_oaep_md(ctx, sha256) === 1 &&
        lib.EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, sha256) === 1;
      if (ok && label.length > 0) {
        // set0 takes ownership of the label, so it must come from OpenSSL's allocator.
        const copy = lib.CRYPTO_memdup(label.slice(), BigInt(label.length), FILE, 0);
        ok = copy !== null && lib.EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, label.length) === 1;
        if (!ok && copy !== null) lib.CRYPTO_free(copy, FILE, 0);
      }
      if (!ok) throw new Error("OAEP setup failed");
      // A pool thread reads and writes these three buffers while this function waits: each is used
      // again after the await, so none can be garbage collected while the call runs.
      const input = ciphertext.slice();
      const out = new Uint8Array(Math.ceil(handle.bits / 8));
      const outLength = new BigUint64Array([BigInt(out.length)]);
      const status = await lib.EVP_PKEY_decrypt(ctx, out, outLength, input, BigInt(input.length));
      input.fill(0);
      if (status !== 1) {
        out.fill(0);
        throw new Error("decryption failed");
      }
      const plaintext = out.slice(0, Number(outLength[0]));
      out.fill(0);
      return plaintext;
    } finally {
      lib.EVP_PKEY_CTX_free(ctx);
      // The error queue of this thread (setup failures); a failed decryption's entry sits in a
      // pool thread's queue, which OpenSSL bounds (ERR_NUM_ERRORS).
      lib.ERR_clear_error();
    }
  };

  return { parse, decrypt };
}
