/**
 * RSA-OAEP as a KEM (RFC 8017 section 7.1): the encapsulation is
 * RSAES-OAEP(SHA-256, MGF1-SHA-256, empty label) of a fresh 32-byte secret,
 * which is the shared secret. Public keys are DER SubjectPublicKeyInfo,
 * secret keys DER PKCS#8 PrivateKeyInfo, exactly as OpenSSL writes them.
 *
 * Backends: `"auto"` (the default: native keygen and public operation through
 * `node:crypto`; the private operation off the event loop in the system's
 * OpenSSL 3 when the FFI permission is granted, else in WebCrypto),
 * `"openssl"` (the same, but refusing to fall back), `"node"` (`node:crypto`
 * only), `"webcrypto"` (WebCrypto only) and `"forge"` (node-forge, pure
 * JavaScript; 30-70x slower, kept for comparison).
 * There is no PKCS#1 v1.5 decryption anywhere, and every OAEP failure gives
 * the same {@linkcode DecryptionError}.
 *
 * Public keys are checked before any arithmetic (NIST SP 800-56B section 6.4.2.2, SP 800-89
 * section 5.3.3: odd modulus of exactly the engine's size with no prime factor below 752, odd
 * exponent with 2^16 < e < 2^256), else `InvalidKeyError`. Encapsulations are
 * key-private: the OAEP ciphertext c is sent as c + t*n, uniform over a range 16 bytes longer
 * than the modulus, so it does not tell which key it is for; decapsulation also reads the plain
 * c of format 1.0 (docs/engines/rsa.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rsa2048 } from "@polycrypt/polycrypt";
 * const { publicKey, secretKey } = await rsa2048.generateKeyPair();
 * const { encapsulation, sharedSecret } = await rsa2048.encapsulate(publicKey);
 * assert.equal(encapsulation.length, 256 + 16); // key-private: c + t*n, 16 bytes longer
 * assert.deepEqual(await rsa2048.decapsulate(encapsulation, secretKey), sharedSecret);
 * ```
 *
 * @module
 */
import forge from "node-forge";
import type { KeyObject } from "node:crypto";
import { DecryptionError } from "../../errors.ts";
import { bigintToBytes, bytesToBigint, checkBytes } from "../_bytes.ts";
import { hkdf } from "../hkdf.ts";
import { type NodeCrypto, nodeCrypto } from "../_node.ts";
import type { EngineFactory } from "../registry.ts";
import type { Encapsulation, KemEngine, KemKeyPair } from "../types.ts";
import {
  binaryString,
  type CheckedPublicKey,
  checkedPublicKey,
  forgePrivateKey,
  fromBinaryString,
  modulusBits,
  type PrivateKeyHandle,
  privateKeyObject,
  privateModulus,
  toPkcs8Der,
  toSpkiDer,
} from "./_keys.ts";
import { type OpensslKey, opensslRsa } from "./_openssl.ts";

/** Where the RSA arithmetic runs. */
export type RsaBackend = "auto" | "openssl" | "node" | "webcrypto" | "forge";

/** Smallest and largest modulus the factory makes. */
export const RSA_MIN_BITS = 2048;
/** Largest modulus the factory makes. */
export const RSA_MAX_BITS = 16384;
const SECRET_SIZE = 32;
const EMPTY = new Uint8Array(0);
const OAEP = { name: "RSA-OAEP", hash: "SHA-256" } as const;

/**
 * Estimated security strength of an RSA modulus: NIST SP 800-57 Part 1 Table 2
 * where it lists the size, else the GNFS estimate of NIST SP 800-56B Rev. 2
 * Appendix D, rounded to the nearest multiple of 8.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rsaSecurityBits } from "@polycrypt/polycrypt";
 * assert.equal(rsaSecurityBits(3072), 128);
 * assert.equal(rsaSecurityBits(4096), 152);
 * assert.equal(rsaSecurityBits(8192), 200);
 * ```
 */
export function rsaSecurityBits(bits: number): number {
  const table: Record<number, number> = { 2048: 112, 3072: 128, 7680: 192, 15360: 256 };
  if (table[bits]) return table[bits];
  const nLn2 = bits * Math.LN2;
  const e = (1.923 * Math.cbrt(nLn2) * Math.cbrt(Math.log(nLn2) ** 2) - 4.69) / Math.LN2;
  return Math.round(e / 8) * 8;
}

/**
 * Re-encodes a generated key pair the way OpenSSL writes it (`openssl pkcs8 -nocrypt`,
 * `openssl pkey -pubin`): Deno's native encoder differs in small ways (e.g. the
 * AlgorithmIdentifier parameters), and a key file should not depend on which backend made it.
 */
function canonical(spki: Uint8Array, pkcs8: Uint8Array): KemKeyPair {
  return { publicKey: toSpkiDer(spki), secretKey: toPkcs8Der(pkcs8) };
}

interface Backend {
  generate(bits: number): Promise<KemKeyPair>;
  /** OAEP-SHA-256 encryption to a key `checkedPublicKey` passed; the plain RSA ciphertext. */
  encrypt(
    spki: Uint8Array,
    key: CheckedPublicKey,
    bits: number,
    secret: Uint8Array,
  ): Promise<Uint8Array>;
  /** OAEP-SHA-256 decryption with `label`; may throw anything on failure. */
  decrypt(
    pkcs8: Uint8Array,
    bits: number,
    ciphertext: Uint8Array,
    label: Uint8Array,
  ): Promise<Uint8Array>;
}

/** node:crypto, which the "node" backend needs (engines/_node.ts). */
function node(): NodeCrypto {
  const found = nodeCrypto();
  if (!found) throw new Error("the node backend needs node:crypto, which this platform lacks");
  return found;
}

const nodeBackend: Backend = {
  generate: (bits) =>
    new Promise((resolve, reject) =>
      // Runs on libuv's thread pool: the event loop stays free during long keygens.
      node().generateKeyPair(
        "rsa",
        {
          modulusLength: bits,
          publicExponent: 65537,
          publicKeyEncoding: { type: "spki", format: "der" },
          privateKeyEncoding: { type: "pkcs8", format: "der" },
        },
        (err, publicKey, privateKey) =>
          err
            ? reject(err)
            : resolve(canonical(new Uint8Array(publicKey), new Uint8Array(privateKey))),
      )
    ),
  encrypt(spki, checked, bits, secret) {
    if (!nativePublic(checked, bits)) return forgeBackend.encrypt(spki, checked, bits, secret);
    const { constants, createPublicKey, publicEncrypt } = node();
    const key = createPublicKey({ key: spki as unknown as Buffer, format: "der", type: "spki" });
    const options = { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" };
    return Promise.resolve(new Uint8Array(publicEncrypt(options, secret)));
  },
  decrypt: (pkcs8, bits, ciphertext, label) =>
    Promise.resolve(
      new Uint8Array(
        node().privateDecrypt(
          {
            key: privateKeyObject(pkcs8, bits) as KeyObject,
            padding: node().constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: "sha256",
            oaepLabel: label,
          },
          ciphertext,
        ),
      ),
    ),
};

const webCryptoBackend: Backend = {
  async generate(bits) {
    const pair = await crypto.subtle.generateKey(
      { ...OAEP, modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) },
      true,
      ["encrypt", "decrypt"],
    );
    const [spki, pkcs8] = await Promise.all([
      crypto.subtle.exportKey("spki", pair.publicKey),
      crypto.subtle.exportKey("pkcs8", pair.privateKey),
    ]);
    return canonical(new Uint8Array(spki), new Uint8Array(pkcs8));
  },
  async encrypt(spki, checked, bits, secret) {
    if (!nativePublic(checked, bits)) {
      return await forgeBackend.encrypt(spki, checked, bits, secret);
    }
    const key = await crypto.subtle.importKey(
      "spki",
      spki as Uint8Array<ArrayBuffer>,
      OAEP,
      false,
      ["encrypt"],
    );
    return new Uint8Array(
      await crypto.subtle.encrypt(OAEP, key, secret as Uint8Array<ArrayBuffer>),
    );
  },
  async decrypt(pkcs8, bits, ciphertext, label) {
    const params = { name: "RSA-OAEP", label: label as Uint8Array<ArrayBuffer> };
    return new Uint8Array(
      await crypto.subtle.decrypt(
        params,
        await webCryptoPrivateKey(pkcs8, bits),
        ciphertext as Uint8Array<ArrayBuffer>,
      ),
    );
  },
};

// WebCrypto's key for each node:crypto KeyObject that _keys.ts keeps (its last 16 secret keys,
// indexed by SHA-256 of the PKCS#8): a repeat decapsulation neither hashes nor imports its key
// again (an import costs about 45 us at 3072 bits here), and an entry goes when _keys.ts drops
// its KeyObject. The keys are not extractable.
const webCryptoKeys = new WeakMap<PrivateKeyHandle, CryptoKey>();

async function webCryptoPrivateKey(pkcs8: Uint8Array, bits: number): Promise<CryptoKey> {
  // Refuses a bad key with InvalidKeyError before WebCrypto sees it.
  const keyObject = privateKeyObject(pkcs8, bits);
  let key = webCryptoKeys.get(keyObject);
  if (!key) {
    key = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8 as Uint8Array<ArrayBuffer>,
      OAEP,
      false,
      ["decrypt"],
    );
    webCryptoKeys.set(keyObject, key);
  }
  return key;
}

// libcrypto's parsed key for each KeyObject _keys.ts keeps, as for WebCrypto above.
const opensslKeys = new WeakMap<PrivateKeyHandle, OpensslKey>();

/** The system's OpenSSL 3 for the private operation (engines/rsa/_openssl.ts). */
const opensslBackend: Backend = {
  generate: nodeBackend.generate,
  encrypt: nodeBackend.encrypt,
  decrypt(pkcs8, bits, ciphertext, label) {
    const openssl = opensslRsa();
    if (openssl instanceof Error) return Promise.reject(openssl);
    const keyObject = privateKeyObject(pkcs8, bits);
    let key = opensslKeys.get(keyObject);
    if (!key) {
      key = openssl.parse(pkcs8, bits);
      opensslKeys.set(keyObject, key);
    }
    return openssl.decrypt(key, ciphertext, label);
  },
};

/**
 * The default: node:crypto's keygen (in the thread pool) and public operation (synchronous, and
 * cheap with e = 65537), and the private operation off the event loop: in OpenSSL 3 when this
 * process may use FFI (2.2-2.6x Deno's own RSA from 2048 to 4096 bits here), else in WebCrypto.
 * node:crypto's `privateDecrypt` runs the same Rust crate as WebCrypto but synchronously: it would
 * hold the event loop for the whole private operation (about 12 ms at 3072 bits here, 150 ms at
 * 8192). Both OpenSSL's and WebCrypto's run in Deno's blocking thread pool, so several in flight
 * (a backlog of messages) use every core (docs/engines/rsa.md).
 */
const autoBackend: Backend = {
  // Where the platform has no node:crypto (a browser), WebCrypto generates and encrypts.
  generate: (bits) => (nodeCrypto() ? nodeBackend : webCryptoBackend).generate(bits),
  encrypt: (spki, checked, bits, secret) =>
    (nodeCrypto() ? nodeBackend : webCryptoBackend).encrypt(spki, checked, bits, secret),
  decrypt: (pkcs8, bits, ciphertext, label) =>
    (opensslRsa() instanceof Error ? webCryptoBackend : opensslBackend)
      .decrypt(pkcs8, bits, ciphertext, label),
};

/**
 * Deno's native RSA (the Rust `rsa` crate behind node:crypto and WebCrypto) refuses public
 * keys over 4096 bits; above that the public operation (e = 65537, cheap) runs on forge while
 * keygen and the private operation stay native.
 */
const NATIVE_PUBLIC_MAX_BITS = 4096;
/**
 * The same crate refuses exponents above 2^33 - 1 with a plain Error; SP 800-56B allows up to
 * 2^256, so such keys also go to forge (at most 256 squarings: about 20 ms at 2048 bits).
 */
const NATIVE_PUBLIC_MAX_E = (1n << 33n) - 1n;

/** Whether Deno's native public operation takes this (checked) key. */
function nativePublic(key: CheckedPublicKey, bits: number): boolean {
  return bits <= NATIVE_PUBLIC_MAX_BITS && key.e <= NATIVE_PUBLIC_MAX_E;
}

const forgeOaep = (label: Uint8Array = new Uint8Array(0)) => ({
  md: forge.md.sha256.create(),
  mgf1: { md: forge.md.sha256.create() },
  label: binaryString(label),
});

const forgeBackend: Backend = {
  generate: (bits) =>
    new Promise((resolve, reject) =>
      // forge's callback form works in slices (setTimeout), so other tasks still run.
      forge.pki.rsa.generateKeyPair(
        { bits, e: 0x10001, workers: -1 },
        (err: Error | null, pair: forge.pki.rsa.KeyPair) => {
          if (err) return reject(err);
          const spki = forge.asn1.toDer(forge.pki.publicKeyToAsn1(pair.publicKey)).getBytes();
          const pkcs8 = forge.asn1.toDer(
            forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(pair.privateKey)),
          )
            .getBytes();
          resolve({ publicKey: fromBinaryString(spki), secretKey: fromBinaryString(pkcs8) });
        },
      )
    ),
  encrypt(_spki, checked, _bits, secret) {
    const ct = checked.forge.encrypt(binaryString(secret), "RSA-OAEP", forgeOaep());
    return Promise.resolve(fromBinaryString(ct));
  },
  decrypt(pkcs8, bits, ciphertext, label) {
    privateKeyObject(pkcs8, bits);
    const pt = forgePrivateKey(pkcs8).decrypt(
      binaryString(ciphertext),
      "RSA-OAEP",
      forgeOaep(label),
    );
    return Promise.resolve(fromBinaryString(pt));
  },
};

const BACKENDS: Record<RsaBackend, Backend> = {
  auto: autoBackend,
  openssl: opensslBackend,
  node: nodeBackend,
  webcrypto: webCryptoBackend,
  forge: forgeBackend,
};

/** Parses a PKCS#8 key of any size, unchecked (for _oaepDecrypt's vectors). */
function forgeOrNodeKey(pkcs8: Uint8Array): PrivateKeyHandle {
  const found = nodeCrypto();
  return found
    ? found.createPrivateKey({ key: pkcs8 as unknown as Buffer, format: "der", type: "pkcs8" })
    : forgePrivateKey(pkcs8);
}

/** Internal (tests): OAEP-SHA-256 decryption with a label, as the Wycheproof vectors need. */
export async function _oaepDecrypt(
  backend: RsaBackend,
  pkcs8: Uint8Array,
  ciphertext: Uint8Array,
  label: Uint8Array,
): Promise<Uint8Array> {
  const bits = modulusBits(forgeOrNodeKey(pkcs8));
  try {
    return await BACKENDS[backend].decrypt(pkcs8, bits, ciphertext, label);
  } catch {
    throw new DecryptionError();
  }
}

/**
 * Where the `"auto"` backend runs the private operation in this process:
 * `"openssl"` when the FFI permission is granted and an OpenSSL 3 libcrypto
 * loads, else `"webcrypto"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRsaEngine, rsaAutoPrivateBackend } from "@polycrypt/polycrypt";
 * const backend = rsaAutoPrivateBackend(); // "webcrypto" without --allow-ffi
 * const ffi = await Deno.permissions.query({ name: "ffi" });
 * if (ffi.state !== "granted") assert.equal(backend, "webcrypto");
 * // "openssl" exactly when the OpenSSL backend can be had: asking for it then succeeds.
 * const opensslLoads = (() => {
 *   try {
 *     return createRsaEngine(2048, { backend: "openssl" }).backend === "openssl";
 *   } catch {
 *     return false;
 *   }
 * })();
 * assert.equal(backend, opensslLoads ? "openssl" : "webcrypto");
 * ```
 */
export function rsaAutoPrivateBackend(): "openssl" | "webcrypto" {
  return opensslRsa() instanceof Error ? "webcrypto" : "openssl";
}

/**
 * The default backend: the private operation off the event loop on the fastest engine this
 * process may use (OpenSSL with FFI permission, else WebCrypto), every core for several in flight
 * (docs/engines/rsa.md).
 */
export const RSA_DEFAULT_BACKEND: RsaBackend = "auto";

/**
 * Bytes a key-private encapsulation adds to the modulus size (docs/engines/rsa.md, "Key
 * privacy"): the OAEP ciphertext c < n is sent as v = c + t*n, uniform over [0, 256^(k+16)) for a
 * k-byte modulus, within statistical distance 2^-128 whatever n is. A plain c < n told a
 * listener which candidate keys it could not be for (any c >= n' rules out n').
 */
export const RSA_KEY_PRIVACY_BYTES = 16;
const T_BITS = BigInt(RSA_KEY_PRIVACY_BYTES * 8 + 1);

/** A uniform bigint in [0, 2^bits). */
function randomBits(bits: bigint): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(Number(bits) / 8)));
  return bytesToBigint(bytes) & ((1n << bits) - 1n);
}

/**
 * v = c + t*n for t uniform among those with v < R = 256^(k+16), by rejection: t is drawn from
 * [0, 2^129), and 2^129 * n >= R because n >= 2^(8k-1), so every admissible t can be drawn; each
 * draw is kept with probability above 1/2. Every v in [0, R) is a possible value for every key.
 */
function expand(c: Uint8Array, n: bigint, size: number): Uint8Array {
  const bound = 1n << BigInt(8 * (size + RSA_KEY_PRIVACY_BYTES));
  const cValue = bytesToBigint(c);
  for (;;) {
    const v = cValue + randomBits(T_BITS) * n;
    if (v < bound) return bigintToBytes(v, size + RSA_KEY_PRIVACY_BYTES);
  }
}

const encoder = new TextEncoder();

/**
 * The key-private form's shared secret: HKDF-SHA-256 of the OAEP plaintext with the sent value as
 * salt. v and v + n reduce to the same c, so without this a changed encapsulation could give the
 * same secret (a KEM must not allow that under chosen-ciphertext attack); with it, every
 * encapsulation has its own secret.
 */
async function bindSecret(id: string, secret: Uint8Array, v: Uint8Array): Promise<Uint8Array> {
  return await hkdf("SHA-256", secret, v, encoder.encode(`polycrypt rsa-kp ${id}`), SECRET_SIZE);
}

/**
 * Makes an RSA-OAEP KEM for a modulus of `bits` (2048 to 16384, a multiple of 8).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRsaEngine } from "@polycrypt/polycrypt";
 * const kem = createRsaEngine(5120, { backend: "webcrypto" });
 * assert.equal(kem.id, "rsa-5120");
 * assert.equal(kem.publicKeySize, 640);
 * assert.equal(kem.securityBits, 168); // NIST SP 800-56B GNFS estimate
 * assert.throws(() => createRsaEngine(1024), RangeError);
 * ```
 */
export function createRsaEngine(
  bits: number,
  options: { backend?: RsaBackend } = {},
): KemEngine & { readonly backend: RsaBackend } {
  if (!Number.isSafeInteger(bits) || bits < RSA_MIN_BITS || bits > RSA_MAX_BITS || bits % 8 !== 0) {
    throw new RangeError(`bits must be a multiple of 8 from ${RSA_MIN_BITS} to ${RSA_MAX_BITS}`);
  }
  const backendName = options.backend ?? RSA_DEFAULT_BACKEND;
  const backend = BACKENDS[backendName];
  if (!backend) {
    throw new TypeError(`backend must be "auto", "openssl", "node", "webcrypto" or "forge"`);
  }
  if (backendName === "openssl") {
    const openssl = opensslRsa();
    if (openssl instanceof Error) throw openssl;
  }
  if (backendName === "node") node(); // refuses now, where the platform has no node:crypto
  const size = bits / 8;
  const id = `rsa-${bits}`;
  return Object.freeze({
    kind: "kem" as const,
    id,
    family: "rsa",
    postQuantum: false,
    securityBits: rsaSecurityBits(bits),
    publicKeySize: size,
    encapsulationSize: size + RSA_KEY_PRIVACY_BYTES,
    // The plain OAEP ciphertext of format 1.0 stanzas: still read, never written.
    legacyEncapsulationSize: size,
    sharedSecretSize: SECRET_SIZE,
    backend: backendName,
    generateKeyPair: () => backend.generate(bits),
    checkPublicKey(publicKey: Uint8Array): void {
      checkBytes("publicKey", publicKey);
      checkedPublicKey(publicKey, bits);
    },
    async encapsulate(publicKey: Uint8Array): Promise<Encapsulation> {
      checkBytes("publicKey", publicKey);
      const spki = publicKey.slice();
      // Every check, before any arithmetic on the key (engines/rsa/_keys.ts).
      const checked = checkedPublicKey(spki, bits);
      const secret = crypto.getRandomValues(new Uint8Array(SECRET_SIZE));
      const c = await backend.encrypt(spki, checked, bits, secret);
      const encapsulation = expand(c, checked.n, size);
      return { encapsulation, sharedSecret: await bindSecret(id, secret, encapsulation) };
    },
    async decapsulate(encapsulation: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
      checkBytes("encapsulation", encapsulation);
      const keyPrivate = encapsulation.length === size + RSA_KEY_PRIVACY_BYTES;
      if (!keyPrivate && encapsulation.length !== size) {
        throw new RangeError(
          `encapsulation must be ${size + RSA_KEY_PRIVACY_BYTES} bytes (or ${size}, the ` +
            `format 1.0 form), got ${encapsulation.length}`,
        );
      }
      checkBytes("secretKey", secretKey);
      const sk = secretKey.slice();
      // A bad key is the caller's error, not a decryption failure.
      const key = privateKeyObject(sk, bits);
      const v = encapsulation.slice();
      const c = keyPrivate ? bigintToBytes(bytesToBigint(v) % privateModulus(key), size) : v;
      let secret: Uint8Array;
      try {
        secret = await backend.decrypt(sk, bits, c, EMPTY);
      } catch {
        throw new DecryptionError();
      }
      if (secret.length !== SECRET_SIZE) throw new DecryptionError();
      return keyPrivate ? await bindSecret(id, secret, v) : secret;
    },
    publicKeyFromSecretKey(secretKey: Uint8Array): Promise<Uint8Array> {
      checkBytes("secretKey", secretKey);
      const key = privateKeyObject(secretKey.slice(), bits);
      if ("n" in key) {
        // forge's key, where the platform has no node:crypto.
        const publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
        return Promise.resolve(
          fromBinaryString(forge.asn1.toDer(forge.pki.publicKeyToAsn1(publicKey)).getBytes()),
        );
      }
      const spki = node().createPublicKey(key).export({ type: "spki", format: "der" });
      return Promise.resolve(new Uint8Array(spki));
    },
  });
}

/**
 * Converts an RSA private key (PKCS#8 or PKCS#1; DER bytes or PEM text) to the
 * engines' PKCS#8 DER. OpenSSL 3.0's `genpkey -outform DER` writes PKCS#1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importRsaSecretKey, rsa2048 } from "@polycrypt/polycrypt";
 * const { secretKey } = await rsa2048.generateKeyPair(); // PKCS#8 DER
 * const pem = `-----BEGIN PRIVATE KEY-----\n${secretKey.toBase64()}\n-----END PRIVATE KEY-----\n`;
 * assert.deepEqual(importRsaSecretKey(pem), secretKey);
 * assert.deepEqual(importRsaSecretKey(secretKey), secretKey);
 * ```
 */
export function importRsaSecretKey(input: Uint8Array | string): Uint8Array {
  return toPkcs8Der(input);
}

/**
 * Converts an RSA public key (SPKI or PKCS#1; DER bytes or PEM text) to SPKI DER.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importRsaPublicKey, rsa2048 } from "@polycrypt/polycrypt";
 * const { publicKey } = await rsa2048.generateKeyPair(); // SPKI DER
 * const pem = `-----BEGIN PUBLIC KEY-----\n${publicKey.toBase64()}\n-----END PUBLIC KEY-----\n`;
 * assert.deepEqual(importRsaPublicKey(pem), publicKey);
 * assert.deepEqual(importRsaPublicKey(publicKey), publicKey);
 * ```
 */
export function importRsaPublicKey(input: Uint8Array | string): Uint8Array {
  return toSpkiDer(input);
}

/**
 * Resolves `rsa-N` ids for any N from 2048 to 16384 that is a multiple of 8.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rsaFactory } from "@polycrypt/polycrypt";
 * assert.equal(rsaFactory.resolve("rsa-6144")?.id, "rsa-6144");
 * assert.equal(rsaFactory.resolve("rsa-1024"), undefined); // too small
 * assert.equal(rsaFactory.resolve("rsa-2049"), undefined); // not a multiple of 8
 * assert.equal(rsaFactory.resolve("x25519"), undefined); // not its id
 * ```
 */
export const rsaFactory: EngineFactory = Object.freeze({
  description: `rsa-N for N from ${RSA_MIN_BITS} to ${RSA_MAX_BITS}, a multiple of 8`,
  resolve(id: string) {
    const m = /^rsa-([1-9][0-9]{3,4})$/.exec(id);
    if (!m) return undefined;
    const bits = Number(m[1]);
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS || bits % 8 !== 0) return undefined;
    return createRsaEngine(bits);
  },
});

/**
 * `rsa-2048` (112-bit security).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registry, rsa2048, rsaSecurityBits } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("rsa-2048"), rsa2048);
 * assert.equal(rsa2048.encapsulationSize, 256 + 16);
 * assert.equal(rsa2048.legacyEncapsulationSize, 256); // format 1.0, still read
 * assert.equal(rsa2048.securityBits, rsaSecurityBits(2048));
 * ```
 */
export const rsa2048: KemEngine = createRsaEngine(2048);
/**
 * `rsa-3072` (128-bit security).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registry, rsa3072, rsaSecurityBits } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("rsa-3072"), rsa3072);
 * assert.equal(rsa3072.encapsulationSize, 384 + 16);
 * assert.equal(rsa3072.securityBits, rsaSecurityBits(3072));
 * ```
 */
export const rsa3072: KemEngine = createRsaEngine(3072);
/**
 * `rsa-4096`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registry, rsa4096, rsaSecurityBits } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("rsa-4096"), rsa4096);
 * assert.equal(rsa4096.encapsulationSize, 512 + 16);
 * assert.equal(rsa4096.securityBits, rsaSecurityBits(4096));
 * ```
 */
export const rsa4096: KemEngine = createRsaEngine(4096);
/**
 * `rsa-8192`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registry, rsa8192, rsaSecurityBits } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("rsa-8192"), rsa8192);
 * assert.equal(rsa8192.encapsulationSize, 1024 + 16);
 * assert.equal(rsa8192.securityBits, rsaSecurityBits(8192));
 * ```
 */
export const rsa8192: KemEngine = createRsaEngine(8192);
