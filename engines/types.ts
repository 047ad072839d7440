/**
 * The three engine interfaces of polycrypt: {@linkcode KemEngine} for key
 * encapsulation (RSA-OAEP, hashed ElGamal, ML-KEM, DHKEM(X25519), ...),
 * {@linkcode AeadEngine} for authenticated encryption and
 * {@linkcode SignatureEngine} for signatures (Ed25519, ML-DSA, a hybrid).
 *
 * They are deliberately tiny (compare hpke-js `Kem`/`Aead`): byte arrays in,
 * byte arrays out, every size declared up front, so that engines compose and
 * third parties can register their own.
 *
 * @module
 */

/** A key pair as raw bytes in the engine's documented encoding. */
export interface KemKeyPair {
  /** The public (encapsulation) key. */
  publicKey: Uint8Array;
  /** The secret (decapsulation) key. Keep it on the user's device. */
  secretKey: Uint8Array;
}

/** The result of {@linkcode KemEngine.encapsulate}. */
export interface Encapsulation {
  /** Bytes sent to the key holder. */
  encapsulation: Uint8Array;
  /** The secret both sides now share. */
  sharedSecret: Uint8Array;
}

/**
 * A key encapsulation mechanism.
 *
 * Sizes are in bytes. `publicKeySize` of RSA is the modulus size (its DER
 * SubjectPublicKeyInfo is a little longer); every other built-in's public key
 * is exactly `publicKeySize` bytes.
 */
export interface KemEngine {
  /** Always `"kem"`: tells a KEM from an {@linkcode AeadEngine}. */
  readonly kind: "kem";
  /** Registry id, e.g. `"ml-kem-768"`. */
  readonly id: string;
  /** Algorithm family, e.g. `"rsa"`, `"elgamal"`, `"ml-kem"`, `"ecc"`. */
  readonly family: string;
  /** Whether the engine resists a quantum adversary. */
  readonly postQuantum: boolean;
  /** Estimated classical security in bits. */
  readonly securityBits: number;
  /** Public key size in bytes (RSA: the modulus size). */
  readonly publicKeySize: number;
  /** Encapsulation size in bytes: what `encapsulate` makes. */
  readonly encapsulationSize: number;
  /**
   * Optional: the encapsulation size of an earlier form of the engine that `decapsulate` still
   * accepts but no longer makes (RSA's format 1.0 stanzas; `docs/format.md`). Readers of stanzas
   * accept this length too.
   */
  readonly legacyEncapsulationSize?: number;
  /** Shared secret size in bytes. */
  readonly sharedSecretSize: number;
  /**
   * Optional: throws {@linkcode InvalidKeyError} when `publicKey` is not a key this engine should
   * encrypt to, without any expensive arithmetic. `parseRecipient` calls it, and `encapsulate`
   * checks as much itself.
   */
  checkPublicKey?(publicKey: Uint8Array): void;
  /** Makes a fresh key pair from the platform's CSPRNG. */
  generateKeyPair(): Promise<KemKeyPair>;
  /** Makes a fresh shared secret and its encapsulation to `publicKey`. */
  encapsulate(publicKey: Uint8Array): Promise<Encapsulation>;
  /**
   * Recovers the shared secret. Throws {@linkcode DecryptionError} when the
   * encapsulation is rejected (ML-KEM instead returns an unrelated secret, as
   * FIPS 203 implicit rejection requires).
   */
  decapsulate(encapsulation: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array>;
  /** Optional: the public key that belongs to `secretKey`. All built-ins have it. */
  publicKeyFromSecretKey?(secretKey: Uint8Array): Promise<Uint8Array>;
  /** Optional: a deterministic key pair from input keying material. */
  deriveKeyPair?(ikm: Uint8Array): Promise<KemKeyPair>;
}

/** Authenticated encryption with associated data. */
export interface AeadEngine {
  /** Always `"aead"`: tells an AEAD from a {@linkcode KemEngine}. */
  readonly kind: "aead";
  /** Registry id, e.g. `"aes-256-gcm"`. */
  readonly id: string;
  /** Key size in bytes. */
  readonly keySize: number;
  /** Nonce size in bytes. */
  readonly nonceSize: number;
  /** Tag size in bytes: a sealed message is this much longer than its plaintext. */
  readonly tagSize: number;
  /** Returns `ciphertext || tag`. */
  seal(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad?: Uint8Array,
  ): Promise<Uint8Array>;
  /** Returns the plaintext, or throws {@linkcode DecryptionError}. */
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    aad?: Uint8Array,
  ): Promise<Uint8Array>;
  /**
   * Optional: the same operations with the key set up once (e.g. one WebCrypto
   * key import), for callers that seal many chunks under one key (STREAM).
   */
  withKey?(key: Uint8Array): Promise<KeyedAead>;
}

/** An AEAD bound to one key: see {@linkcode AeadEngine.withKey}. */
export interface KeyedAead {
  /**
   * Optional: `true` when `seal` and `open` have read their whole input by the time they return
   * their promise, as a synchronous cipher or WebCrypto (which copies on call) do. STREAM then
   * seals whole chunks in place in the caller's buffer instead of copying them first; without
   * it, a lazy engine still sees the bytes it was given. Every built-in engine sets it.
   */
  readonly readsInputOnCall?: boolean;
  /** {@linkcode AeadEngine.seal} under the bound key: returns `ciphertext || tag`. */
  seal(nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
  /** {@linkcode AeadEngine.open} under the bound key: the plaintext, or {@linkcode DecryptionError}. */
  open(nonce: Uint8Array, ciphertext: Uint8Array, aad?: Uint8Array): Promise<Uint8Array>;
}

/** A signature key pair as raw bytes in the engine's documented encoding. */
export interface SignatureKeyPair {
  /** The public (verification) key. */
  publicKey: Uint8Array;
  /** The secret (signing) key; a 32-byte seed for every built-in. Keep it on the user's device. */
  secretKey: Uint8Array;
}

/**
 * A digital signature scheme. Sizes are in bytes and exact: every public key is
 * `publicKeySize` bytes and every signature `signatureSize` bytes.
 *
 * `sign` signs exactly the given message (for ML-DSA: with an empty FIPS 204 context), so a
 * protocol puts its domain separation into the message itself. `verify` answers `false` for any
 * signature that does not verify, including malformed ones of the right size; wrong sizes and
 * types are caller errors (`RangeError`, `TypeError`).
 */
export interface SignatureEngine {
  /** Always `"signature"`: tells a signature engine from a KEM or an AEAD. */
  readonly kind: "signature";
  /** Registry id, e.g. `"ed25519"`, `"ml-dsa-65"`, `"ed25519+ml-dsa-65"`. */
  readonly id: string;
  /** Algorithm family, e.g. `"eddsa"`, `"ml-dsa"`, `"hybrid"`. */
  readonly family: string;
  /** Whether the engine resists a quantum adversary. */
  readonly postQuantum: boolean;
  /** Estimated classical security in bits. */
  readonly securityBits: number;
  /** Public key size in bytes. */
  readonly publicKeySize: number;
  /**
   * Optional: the secret key's size in bytes (a seed for the built-ins), which identity strings
   * are checked against when they are parsed.
   */
  readonly secretKeySize?: number;
  /** Signature size in bytes. */
  readonly signatureSize: number;
  /** Makes a fresh key pair from the platform's CSPRNG. */
  generateKeyPair(): Promise<SignatureKeyPair>;
  /** Signs `message` with `secretKey`; returns a `signatureSize`-byte signature. */
  sign(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** Whether `signature` is a valid signature of `message` under `publicKey`. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  /** Optional: the public key that belongs to `secretKey`. All built-ins have it. */
  publicKeyFromSecretKey?(secretKey: Uint8Array): Promise<Uint8Array>;
}

/** Anything the registry holds. */
export type Engine = KemEngine | AeadEngine | SignatureEngine;
