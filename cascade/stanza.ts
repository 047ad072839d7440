/**
 * Recipients and identities as behaviour, in the manner of typage (age in TypeScript): a
 * {@linkcode Recipient} wraps the file key into header stanzas, an {@linkcode Identity} finds the
 * file key in them. `encrypt` and `decrypt` take such objects besides recipient and identity
 * strings, so new kinds of recipient live in their own module. The built-in kind is the KEM
 * stanza of `docs/format.md` section 3 ({@linkcode KemRecipient}, {@linkcode KemIdentity}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   aes256Gcm,
 *   decrypt,
 *   DecryptionError,
 *   encrypt,
 *   type Identity,
 *   type Recipient,
 *   type Stanza,
 * } from "@polycrypt/polycrypt";
 *
 * // A pair that wraps the file key under a key both sides already hold.
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const recipient: Recipient = {
 *   async wrapFileKey(fileKey) {
 *     const nonce = crypto.getRandomValues(new Uint8Array(12));
 *     const wrapped = await aes256Gcm.seal(key, nonce, fileKey);
 *     return [{ type: "example-psk", body: new Uint8Array([...nonce, ...wrapped]) }];
 *   },
 * };
 * const identity: Identity = {
 *   async unwrapFileKey(stanzas: readonly Stanza[]) {
 *     for (const { type, body } of stanzas) {
 *       if (type !== "example-psk") continue;
 *       try {
 *         return await aes256Gcm.open(key, body.subarray(0, 12), body.subarray(12));
 *       } catch {
 *         // not ours: try the next stanza
 *       }
 *     }
 *     return null;
 *   },
 * };
 * const sealed = await encrypt(new TextEncoder().encode("hi"), { recipients: [recipient] });
 * assert.equal(new TextDecoder().decode(await decrypt(sealed, { identities: [identity] })), "hi");
 * const nobody: Identity = { unwrapFileKey: () => Promise.resolve(null) };
 * await assert.rejects(decrypt(sealed, { identities: [nobody] }), DecryptionError);
 * ```
 *
 * @module
 */
import { concatBytes } from "../engines/_bytes.ts";
import { hkdf } from "../engines/hkdf.ts";
import { nodeAeadPrimitive } from "../engines/symmetric/_aead.ts";
import type { KemEngine } from "../engines/types.ts";
import { FILE_KEY_SIZE, label, type Stanza } from "./format.ts";

export type { Stanza } from "./format.ts";

/**
 * Something a message can be encrypted to: it wraps the 32-byte file key into one or more
 * stanzas of the header. Stanzas should not reveal whom they are for.
 */
export interface Recipient {
  /** Wraps `fileKey` (32 random bytes, the same for every recipient of the message). */
  wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]>;
}

/**
 * Something that can open messages: it recovers the file key from the header's stanzas, or
 * returns `null` when none is for it. A wrong key it returns fails the header MAC, so the
 * envelope is not opened with it. Stanzas that are not its own (or do not open) call for `null`,
 * not an error: an error thrown ends the decryption with that error.
 */
export interface Identity {
  /** Looks through every stanza of the header; `null` when none is for this identity. */
  unwrapFileKey(stanzas: readonly Stanza[]): Promise<Uint8Array | null>;
}

const EMPTY = new Uint8Array(0);
const ZERO_NONCE = new Uint8Array(12);
// The stanza key wrap, synchronous on node:crypto (9-11 us for a file key; noble took 12-23 us).
const stanzaWrap = nodeAeadPrimitive("chacha20-poly1305");

async function wrapKeyFor(
  type: string,
  sharedSecret: Uint8Array,
  encapsulation: Uint8Array,
): Promise<Uint8Array> {
  return await hkdf("SHA-256", sharedSecret, encapsulation, label(`stanza ${type}`), 32);
}

/**
 * The built-in recipient: a KEM public key. Its stanza has the engine id as type and
 * `encapsulation || ChaCha20-Poly1305(wrapKey, 0, fileKey)` as body. `parseRecipient` makes one
 * from a recipient string.
 */
export class KemRecipient implements Recipient {
  /**
   * A recipient for `publicKey` under `engine`.
   *
   * @param engine the KEM
   * @param publicKey the public key, in the engine's encoding
   */
  constructor(readonly engine: KemEngine, readonly publicKey: Uint8Array) {}

  /** One stanza: a fresh encapsulation and the file key wrapped under the key it gives. */
  async wrapFileKey(fileKey: Uint8Array): Promise<Stanza[]> {
    const { engine } = this;
    const { encapsulation, sharedSecret } = await engine.encapsulate(this.publicKey);
    const wrapKey = await wrapKeyFor(engine.id, sharedSecret, encapsulation);
    const wrapped = stanzaWrap.seal(wrapKey, ZERO_NONCE, fileKey, EMPTY);
    return [{ type: engine.id, body: concatBytes(encapsulation, wrapped) }];
  }
}

/** The built-in identity: a KEM secret key. `parseIdentity` makes one from an identity string. */
export class KemIdentity implements Identity {
  /**
   * An identity for `secretKey` under `engine`.
   *
   * @param engine the KEM
   * @param secretKey the secret key, in the engine's encoding
   */
  constructor(readonly engine: KemEngine, readonly secretKey: Uint8Array) {}

  /** The file key of the first stanza of this engine's type that unwraps, else `null`. */
  async unwrapFileKey(stanzas: readonly Stanza[]): Promise<Uint8Array | null> {
    const { engine, secretKey } = this;
    // The engine's encapsulation size, or an earlier one it still reads (RSA's format 1.0).
    const sizes = [engine.encapsulationSize, ...(engine.legacyEncapsulationSizes ?? [])];
    for (const stanza of stanzas) {
      const encSize = stanza.body.length - FILE_KEY_SIZE - 16;
      if (stanza.type !== engine.id || !sizes.includes(encSize)) continue;
      const encapsulation = stanza.body.subarray(0, encSize);
      try {
        const sharedSecret = await engine.decapsulate(encapsulation, secretKey);
        const wrapKey = await wrapKeyFor(engine.id, sharedSecret, encapsulation);
        return stanzaWrap.open(wrapKey, ZERO_NONCE, stanza.body.subarray(encSize), EMPTY);
      } catch {
        // Not for this identity (or forged): try the next stanza.
      }
    }
    return null;
  }
}

/** A 32-byte file key, or `undefined` for anything else an identity returned (a miss). */
function asFileKey(value: unknown): Uint8Array | undefined {
  return value instanceof Uint8Array && value.length === FILE_KEY_SIZE ? value : undefined;
}

/**
 * The file key the first of `identities` that can finds in the stanzas, checked by `verify` (the
 * header MAC). Not exported from the package.
 *
 * A built-in {@linkcode KemIdentity} is offered each stanza alone, once: a stanza that unwraps to
 * a key failing the MAC (a sender who knows our public key can make one) does not hide a later
 * one, and a hostile header costs at most one decapsulation per stanza, as before recipients
 * became objects. Another identity is offered the whole list (its stanzas may belong together);
 * if the key it finds fails, it is offered each stanza alone, as a reader tries its identities on
 * every stanza (`docs/format.md` section 3). Whatever an identity returns that is not a 32-byte
 * Uint8Array counts as a miss, so a custom identity cannot make a decryption fail differently.
 */
export async function findFileKey(
  identities: readonly Identity[],
  stanzas: readonly Stanza[],
  verify: (fileKey: Uint8Array) => Promise<boolean>,
): Promise<Uint8Array | undefined> {
  const tryEach = async (identity: Identity) => {
    for (const stanza of stanzas) {
      const candidate = asFileKey(await identity.unwrapFileKey([stanza]));
      if (candidate && await verify(candidate)) return candidate;
    }
    return undefined;
  };
  for (const identity of identities) {
    if (identity instanceof KemIdentity) {
      const fileKey = await tryEach(identity);
      if (fileKey) return fileKey;
      continue;
    }
    const fileKey = asFileKey(await identity.unwrapFileKey(stanzas));
    if (!fileKey) continue;
    if (await verify(fileKey)) return fileKey;
    if (stanzas.length > 1) {
      const other = await tryEach(identity);
      if (other) return other;
    }
  }
  return undefined;
}
