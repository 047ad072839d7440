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
import type { KemEngine, SignatureEngine } from "../engines/types.ts";
import { FILE_KEY_SIZE, label, LIMITS, type Stanza } from "./format.ts";

export type { Stanza } from "./format.ts";

/** A public signing key and its engine: what a recipient string of version 2 adds. */
export interface VerifyingKey {
  /** The signature engine. */
  readonly engine: SignatureEngine;
  /** The public key, in the engine's encoding. */
  readonly publicKey: Uint8Array;
}

/** A secret signing key and its engine: what an identity string of version 2 adds. */
export interface SigningKey {
  /** The signature engine. */
  readonly engine: SignatureEngine;
  /** The secret key (a seed where the engine allows), in the engine's encoding. */
  readonly secretKey: Uint8Array;
}

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
   * @param verifyingKey the owner's public signing key (recipient strings of version 2)
   */
  constructor(
    readonly engine: KemEngine,
    readonly publicKey: Uint8Array,
    readonly verifyingKey?: VerifyingKey,
  ) {}

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
   * @param signingKey the owner's secret signing key (identity strings of version 2)
   */
  constructor(
    readonly engine: KemEngine,
    readonly secretKey: Uint8Array,
    readonly signingKey?: SigningKey,
  ) {}

  /** The file key of the first stanza of this engine's type that unwraps, else `null`. */
  async unwrapFileKey(stanzas: readonly Stanza[]): Promise<Uint8Array | null> {
    const { engine, secretKey } = this;
    // The engine's encapsulation size, or an earlier one it still reads (RSA's format 1.0).
    const sizes = [engine.encapsulationSize, engine.legacyEncapsulationSize];
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

/**
 * How many stanzas one KEM identity may try in one envelope (`docs/format.md` section 6).
 * Stanzas carry no key ids, so without a cap a hostile header of 2,048 stanzas of an identity's
 * type costs it 2,048 decapsulations: 10.7 s for rsa-4096 (28 s without `--allow-ffi`). An
 * identity that reaches its cap stops looking; when no identity found the key the decryption
 * fails with the one {@linkcode DecryptionError}, as for any other miss. Identities that are not
 * a {@linkcode KemIdentity} are not counted: their cost is their own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   decrypt,
 *   DecryptionError,
 *   encrypt,
 *   generateIdentity,
 *   STANZA_ATTEMPTS,
 * } from "@polycrypt/polycrypt";
 * assert.deepEqual(STANZA_ATTEMPTS, { slow: 16, fast: 256, wrongKeys: 4 });
 * // A header with 20 stanzas of Bob's type, his own last: past the default cap of 16...
 * const bob = await generateIdentity("elgamal-2048");
 * const others = await Promise.all(
 *   Array.from({ length: 19 }, async () => (await generateIdentity("elgamal-2048")).recipient),
 * );
 * const sealed = await encrypt(new Uint8Array([1]), { recipients: [...others, bob.recipient] });
 * await assert.rejects(decrypt(sealed, { identities: [bob.identity] }), DecryptionError);
 * // ...unless the reader raises it.
 * const opened = await decrypt(sealed, {
 *   identities: [bob.identity],
 *   maxStanzaAttempts: { slow: 20 },
 * });
 * assert.deepEqual(opened, new Uint8Array([1]));
 * ```
 */
export interface StanzaAttempts {
  /**
   * Identities with an RSA or ElGamal component, and KEMs polycrypt does not know: at most 16
   * by default. Measured here per attempt on a random stanza (OpenSSL through FFI / Deno's
   * WebCrypto): rsa-2048 0.8 / 2.4 ms, rsa-4096 6.3 / 15 ms, rsa-8192 40 / 64 ms, elgamal-4096
   * 8-10 ms; so 16 attempts cost at most about 0.25 s up to 4096 bits and 1 s at 8192 (more for
   * the rarer larger keys, whose decapsulation grows with the cube of the size).
   */
  readonly slow: number;
  /**
   * Identities whose every component is X25519, X448 or ML-KEM: at most 256 by default. An
   * attempt costs 0.25-0.4 ms (ML-KEM), 0.3-0.5 ms (x25519+ml-kem-768), 0.3-0.7 ms (X25519),
   * 1.3 ms (X448), so 256 cost at most about 0.33 s, and a group message to 256 such recipients
   * still opens.
   */
  readonly fast: number;
  /**
   * Stanzas that unwrap to a file key failing the header MAC, in all, for every identity
   * together: at most 4 by default. Only a sender makes such stanzas (anyone else's change to
   * the header fails the MAC under every key), and each costs an HMAC over the whole header, up
   * to 4 MiB: 2.6 ms here, which would otherwise be paid on each of the 256 attempts of a fast
   * identity. A well-formed envelope gives each identity one key, and that key verifies.
   */
  readonly wrongKeys: number;
}

/**
 * The default caps of {@linkcode StanzaAttempts}: 16 stanzas for slow KEMs, 256 for fast ones,
 * and 4 keys that fail the header MAC.
 * The `maxStanzaAttempts` option of `decrypt` and `decryptStream` raises or lowers either.
 */
export const STANZA_ATTEMPTS: StanzaAttempts = Object.freeze({ slow: 16, fast: 256, wrongKeys: 4 });

// The built-in KEMs whose decapsulation is fast (measured above); anything else counts as slow.
const FAST_KEMS = /^(x25519|x448|ml-kem-(512|768|1024))$/;

/** The caller's caps over the defaults, each checked to be an integer from 1 to 2048. */
export function stanzaAttempts(given: Partial<StanzaAttempts> | undefined): StanzaAttempts {
  if (given === undefined) return STANZA_ATTEMPTS;
  if (typeof given !== "object" || given === null) {
    throw new TypeError("maxStanzaAttempts must be an object such as { slow: 64 }");
  }
  const caps = { ...STANZA_ATTEMPTS, ...given };
  for (const key of ["slow", "fast", "wrongKeys"] as const) {
    const cap = caps[key];
    if (!Number.isSafeInteger(cap) || cap < 1 || cap > LIMITS.stanzas) {
      throw new RangeError(
        `maxStanzaAttempts.${key} must be an integer from 1 to ${LIMITS.stanzas}`,
      );
    }
  }
  return caps;
}

/** The cap of a KEM identity: a hybrid counts as its most expensive component. */
function attemptCap(engine: KemEngine, caps: StanzaAttempts): number {
  return engine.id.split("+").every((id) => FAST_KEMS.test(id)) ? caps.fast : caps.slow;
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
 * became objects. It is offered at most `caps` stanzas of its type ({@linkcode StanzaAttempts}):
 * past that it gives up, and the envelope fails like any other for which no identity has the key.
 * After `caps.wrongKeys` keys that failed the MAC, whoever found them, every identity gives up.
 * Another identity is offered the whole list (its stanzas may belong together); if the key it
 * finds fails, it is offered each stanza alone, as a reader tries its identities on every stanza
 * (`docs/format.md` section 3). Whatever an identity returns that is not a 32-byte Uint8Array
 * counts as a miss, so a custom identity cannot make a decryption fail differently.
 */
export async function findFileKey(
  identities: readonly Identity[],
  stanzas: readonly Stanza[],
  verify: (fileKey: Uint8Array) => Promise<boolean>,
  caps: StanzaAttempts = STANZA_ATTEMPTS,
): Promise<Uint8Array | undefined> {
  let wrongKeys = 0;
  const exhausted = () => wrongKeys >= caps.wrongKeys;
  const check = async (value: unknown) => {
    const candidate = asFileKey(value);
    if (!candidate) return undefined;
    if (await verify(candidate)) return candidate;
    wrongKeys++;
    return undefined;
  };
  const tryEach = async (identity: Identity, candidates: readonly Stanza[]) => {
    for (const stanza of candidates) {
      if (exhausted()) return undefined;
      const fileKey = await check(await identity.unwrapFileKey([stanza]));
      if (fileKey) return fileKey;
    }
    return undefined;
  };
  for (const identity of identities) {
    if (exhausted()) return undefined;
    if (identity instanceof KemIdentity) {
      // Only stanzas of its type cost it anything; the first `cap` of them are all it tries.
      const { engine } = identity;
      const ours = stanzas.filter((s) => s.type === engine.id);
      const fileKey = await tryEach(identity, ours.slice(0, attemptCap(engine, caps)));
      if (fileKey) return fileKey;
      continue;
    }
    const value = await identity.unwrapFileKey(stanzas);
    if (!asFileKey(value)) continue;
    const fileKey = await check(value);
    if (fileKey) return fileKey;
    if (stanzas.length > 1) {
      const other = await tryEach(identity, stanzas);
      if (other) return other;
    }
  }
  return undefined;
}
