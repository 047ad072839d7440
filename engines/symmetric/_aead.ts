// Internal: the boundary every AEAD engine shares (argument checks, copies, one opaque error).
import { gcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { DecryptionError } from "../../errors.ts";
import { checkBytes } from "../_bytes.ts";
import { type NodeCrypto, nodeCrypto } from "../_node.ts";
import type { AeadEngine, KeyedAead } from "../types.ts";
import { opensslAead, type OpensslAeadId } from "./_openssl.ts";

const EMPTY = new Uint8Array(0);

/**
 * The raw cipher an engine wraps: inputs are already checked. Primitives must not write into
 * their inputs (WebCrypto copies them; noble's encrypt/decrypt allocate their output), and must
 * have read them by the time a call returns (synchronous, or WebCrypto's copy on call): the
 * keyed objects of `withKey` promise that to STREAM (`KeyedAead.readsInputOnCall`).
 */
export interface AeadPrimitive {
  /** Optional one-time key setup (e.g. a WebCrypto import) returning keyed operations. */
  prepare?(key: Uint8Array): Promise<{
    seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
    open(nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  }>;
  /**
   * Optional synchronous operations under one key that write into the caller's buffers, for
   * STREAM's batches (see {@linkcode aeadInto}); `undefined` when unavailable in this process.
   */
  into?(key: Uint8Array): AeadInto | undefined;
  seal(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array> | Uint8Array;
  /** May throw anything on failure; the engine turns it into DecryptionError. */
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array> | Uint8Array;
}

/**
 * An AEAD under a bound key, synchronous, without associated data, writing into the caller's
 * buffers: what STREAM (cascade/stream.ts) runs a batch of chunks through in one turn of the event
 * loop, with no promise, thread hop or output allocation per chunk. The same bytes as the
 * engine's `seal` and `open` with an empty AAD.
 */
export interface AeadInto {
  /** Seals `plaintext` into `out`, which is exactly `plaintext.length + 16` bytes. */
  sealInto(nonce: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  /**
   * Opens `ciphertext || tag` into `out` (exactly `ciphertext.length - 16` bytes); false, with
   * `out` zeroed, when the tag does not verify.
   */
  openInto(nonce: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean;
}

/**
 * The synchronous operations of the keyed AEADs that may have them (set by `withKey`), looked up
 * on first use: binding libcrypto costs about 6 ms per process, which a one-chunk message should
 * not pay.
 */
const INTO = new WeakMap<KeyedAead, () => AeadInto | undefined>();

/**
 * The synchronous operations behind a keyed AEAD of a built-in engine when this process has them
 * (libcrypto through FFI, engines/symmetric/_openssl.ts), else `undefined`: callers then use the
 * keyed object's promises.
 */
export function aeadInto(keyed: KeyedAead): AeadInto | undefined {
  return INTO.get(keyed)?.();
}

const EMPTY_AAD = new Uint8Array(0);

/**
 * {@linkcode AeadPrimitive.into} on libcrypto for `id` under `key`: `undefined` when libcrypto
 * cannot be had (no FFI permission, no OpenSSL 3), checked when a key is bound.
 */
export function opensslInto(id: OpensslAeadId, key: Uint8Array): AeadInto | undefined {
  const lib = opensslAead();
  if (lib instanceof Error) return undefined;
  return {
    sealInto: (nonce, plaintext, out) => lib.sealInto(id, key, nonce, plaintext, EMPTY_AAD, out),
    openInto: (nonce, ciphertext, out) => lib.openInto(id, key, nonce, ciphertext, EMPTY_AAD, out),
  };
}

/**
 * An AEAD primitive that runs every call on libcrypto (the `"openssl"` backends), refusing to
 * fall back: throws at once, saying why, when libcrypto cannot be had.
 */
export function opensslPrimitive(id: OpensslAeadId): SyncAeadPrimitive {
  const lib = opensslAead();
  if (lib instanceof Error) throw lib;
  return {
    into: (key) => opensslInto(id, key),
    seal(key, nonce, plaintext, aad) {
      const out = new Uint8Array(plaintext.length + 16);
      lib.sealInto(id, key, nonce, plaintext, aad, out);
      return out;
    },
    open(key, nonce, ciphertext, aad) {
      if (ciphertext.length < 16) throw new RangeError("ciphertext is shorter than the tag");
      const out = new Uint8Array(ciphertext.length - 16);
      if (!lib.openInto(id, key, nonce, ciphertext, aad, out)) throw new Error("wrong tag");
      return out;
    },
  };
}

/** The synchronous operations of a node:crypto AEAD (16-byte tag). */
export interface SyncAeadPrimitive extends AeadPrimitive {
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array;
}

/**
 * A node:crypto AEAD with a 16-byte tag appended to the ciphertext, as RFC 5116 lays it out:
 * `"aes-256-gcm"` or `"chacha20-poly1305"`. `open` throws on a wrong tag and returns nothing
 * decrypted before the tag has passed.
 */
export function nodeAeadPrimitive(
  cipherName: "aes-256-gcm" | "chacha20-poly1305",
): SyncAeadPrimitive {
  // node:crypto is looked up on the first call (engines/_node.ts), then kept: no await, ever.
  // Where the platform has none, noble's cipher of the same name computes the same bytes.
  let impl: SyncAeadPrimitive | undefined;
  const resolve = () => {
    const node = nodeCrypto();
    impl = node ? nodeCipher(node, cipherName) : nobleCipher(cipherName);
    return impl;
  };
  return {
    seal: (key, nonce, plaintext, aad) => (impl ?? resolve()).seal(key, nonce, plaintext, aad),
    open: (key, nonce, ciphertext, aad) => (impl ?? resolve()).open(key, nonce, ciphertext, aad),
  };
}

function nobleCipher(cipherName: "aes-256-gcm" | "chacha20-poly1305"): SyncAeadPrimitive {
  const cipher = cipherName === "aes-256-gcm" ? gcm : chacha20poly1305;
  return {
    seal: (key, nonce, plaintext, aad) => cipher(key, nonce, aad).encrypt(plaintext),
    open: (key, nonce, ciphertext, aad) => {
      if (ciphertext.length < 16) throw new RangeError("ciphertext is shorter than the tag");
      return cipher(key, nonce, aad).decrypt(ciphertext);
    },
  };
}

function nodeCipher(
  node: NodeCrypto,
  cipherName: "aes-256-gcm" | "chacha20-poly1305",
): SyncAeadPrimitive {
  const { createCipheriv, createDecipheriv } = node;
  // Two calls because node's typings overload per cipher family (CipherGCM, CipherChaCha20Poly1305).
  const tag = { authTagLength: 16 } as const;
  const encryptor = (key: Uint8Array, nonce: Uint8Array) =>
    cipherName === "aes-256-gcm"
      ? createCipheriv(cipherName, key, nonce, tag)
      : createCipheriv(cipherName, key, nonce, tag);
  const decryptor = (key: Uint8Array, nonce: Uint8Array) =>
    cipherName === "aes-256-gcm"
      ? createDecipheriv(cipherName, key, nonce, tag)
      : createDecipheriv(cipherName, key, nonce, tag);
  return {
    seal(key, nonce, plaintext, aad) {
      const cipher = encryptor(key, nonce);
      cipher.setAAD(aad);
      const head = cipher.update(plaintext);
      const tail = cipher.final();
      const out = new Uint8Array(head.length + tail.length + 16);
      out.set(head);
      out.set(tail, head.length);
      out.set(cipher.getAuthTag(), head.length + tail.length);
      return out;
    },
    open(key, nonce, ciphertext, aad) {
      const split = ciphertext.length - 16;
      if (split < 0) throw new RangeError("ciphertext is shorter than the tag");
      const decipher = decryptor(key, nonce);
      decipher.setAAD(aad);
      decipher.setAuthTag(ciphertext.subarray(split));
      const head = decipher.update(ciphertext.subarray(0, split));
      // final() throws on a wrong tag; nothing decrypted is returned before it has passed.
      const tail = decipher.final();
      const out = new Uint8Array(head.length + tail.length);
      out.set(head);
      out.set(tail, head.length);
      return out;
    },
  };
}

/** Builds a frozen AEAD engine (32-byte key, 16-byte tag) around a primitive. */
export function defineAead<Backend extends string>(
  id: string,
  nonceSize: number,
  backend: Backend,
  primitive: AeadPrimitive,
): AeadEngine & { readonly backend: Backend } {
  const checkArgs = (nonce: Uint8Array, data: Uint8Array, dataName: string, aad?: Uint8Array) => {
    checkBytes("nonce", nonce, nonceSize);
    checkBytes(dataName, data);
    if (aad !== undefined) checkBytes("aad", aad);
  };
  const openOrFail = async (
    run: () => Promise<Uint8Array> | Uint8Array,
    ciphertext: Uint8Array,
  ) => {
    if (ciphertext.length < 16) throw new DecryptionError();
    try {
      return await run();
    } catch {
      throw new DecryptionError();
    }
  };
  return Object.freeze({
    kind: "aead" as const,
    id,
    keySize: 32,
    nonceSize,
    tagSize: 16,
    backend,
    async seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array) {
      checkBytes("key", key, 32);
      checkArgs(nonce, plaintext, "plaintext", aad);
      return await primitive.seal(key.slice(), nonce.slice(), plaintext, aad ?? EMPTY);
    },
    async open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array) {
      checkBytes("key", key, 32);
      checkArgs(nonce, ciphertext, "ciphertext", aad);
      const k = key.slice();
      const n = nonce.slice();
      return await openOrFail(() => primitive.open(k, n, ciphertext, aad ?? EMPTY), ciphertext);
    },
    async withKey(key: Uint8Array): Promise<KeyedAead> {
      checkBytes("key", key, 32);
      const k = key.slice();
      const keyed = primitive.prepare ? await primitive.prepare(k) : {
        seal: async (n: Uint8Array, p: Uint8Array, a: Uint8Array) =>
          await primitive.seal(k, n, p, a),
        open: async (n: Uint8Array, c: Uint8Array, a: Uint8Array) =>
          await primitive.open(k, n, c, a),
      };
      const bound: KeyedAead = Object.freeze({
        // AeadPrimitive's contract: every primitive has read its input when the call returns.
        readsInputOnCall: true,
        // Not an async function: one promise per call instead of a chain of them, which is
        // measurable over the 64 KiB chunks of a stream (cascade/stream.ts). A bad argument still
        // becomes a rejection, as from the async `seal` above.
        seal(nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array) {
          try {
            checkArgs(nonce, plaintext, "plaintext", aad);
            return keyed.seal(nonce.slice(), plaintext, aad ?? EMPTY);
          } catch (e) {
            return Promise.reject(e);
          }
        },
        async open(nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array) {
          checkArgs(nonce, ciphertext, "ciphertext", aad);
          const n = nonce.slice();
          return await openOrFail(() => keyed.open(n, ciphertext, aad ?? EMPTY), ciphertext);
        },
      });
      const into = primitive.into;
      if (into) {
        let found: { ops: AeadInto | undefined } | undefined;
        INTO.set(bound, () => (found ??= { ops: into(k) }).ops);
      }
      return bound;
    },
  });
}
