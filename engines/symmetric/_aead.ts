// Internal: the boundary every AEAD engine shares (argument checks, copies, one opaque error).
import { DecryptionError } from "../../errors.ts";
import { checkBytes } from "../_bytes.ts";
import type { AeadEngine, KeyedAead } from "../types.ts";

const EMPTY = new Uint8Array(0);

/**
 * The raw cipher an engine wraps: inputs are already checked. Primitives must not write into
 * their inputs (WebCrypto copies them; noble's encrypt/decrypt allocate their output).
 */
export interface AeadPrimitive {
  /** Optional one-time key setup (e.g. a WebCrypto import) returning keyed operations. */
  prepare?(key: Uint8Array): Promise<{
    seal(nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
    open(nonce: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  }>;
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

/** Builds a frozen AEAD engine (32-byte key, 16-byte tag) around a primitive. */
export function defineAead(
  id: string,
  nonceSize: number,
  backend: string,
  primitive: AeadPrimitive,
): AeadEngine & { readonly backend: string } {
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
      return Object.freeze({
        async seal(nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array) {
          checkArgs(nonce, plaintext, "plaintext", aad);
          return await keyed.seal(nonce.slice(), plaintext, aad ?? EMPTY);
        },
        async open(nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array) {
          checkArgs(nonce, ciphertext, "ciphertext", aad);
          const n = nonce.slice();
          return await openOrFail(() => keyed.open(n, ciphertext, aad ?? EMPTY), ciphertext);
        },
      });
    },
  });
}
