/**
 * `ed25519`: Ed25519 signatures (RFC 8032 section 5.1, pure EdDSA), with strict verification.
 * Public keys are 32 bytes, signatures 64, secret keys the 32-byte RFC 8032 seed.
 *
 * Verification is RFC 8032's with these checks first, on every backend: the public key must be a
 * canonical encoding (y < p; the sign bit unset when x = 0) of a point that is not of small order,
 * and S must be below the group order L. Non-canonical R, S >= L and the rest of the Wycheproof
 * `ed25519_test.json` cases are rejected by each backend too (tests/engines/sig_test.ts checks
 * all three); the public-key checks are polycrypt's, because node:crypto and WebCrypto accept a
 * small-order key, with which one signature verifies for every message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ed25519 } from "@polycrypt/polycrypt";
 * // RFC 8032 section 7.1, TEST 1: the empty message.
 * const seed = Uint8Array.fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
 * const publicKey = await ed25519.publicKeyFromSecretKey!(seed);
 * assert.equal(publicKey.toHex(), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
 * const signature = await ed25519.sign(seed, new Uint8Array(0));
 * assert.equal(
 *   signature.toHex(),
 *   "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
 * );
 * assert.equal(await ed25519.verify(publicKey, new Uint8Array(0), signature), true);
 * assert.equal(await ed25519.verify(publicKey, new Uint8Array([0]), signature), false);
 * ```
 *
 * @module
 */
import type { KeyObject } from "node:crypto";
import { ed25519 as nobleEd25519 } from "@noble/curves/ed25519.js";
import { concatBytes, fromBase64, fromHex, toBase64, toBuffer, toHex } from "../_bytes.ts";
import { LruCache, secretTag, settle } from "../_cache.ts";
import { type NodeCrypto, nodeCrypto } from "../_node.ts";
import type { SignatureEngine, SignatureKeyPair } from "../types.ts";
import { checkSignArguments, checkVerifyArguments } from "./_checks.ts";

/**
 * Where Ed25519 runs: `"node"` (default: node:crypto's synchronous key objects, the fastest here,
 * falling back to WebCrypto, then noble, where the platform has no node:crypto), `"webcrypto"`
 * (falling back to noble where WebCrypto lacks Ed25519) or `"noble"` (@noble/curves, strict
 * RFC 8032 mode).
 */
export type Ed25519Backend = "node" | "webcrypto" | "noble";

/** The fixed parameters of `ed25519` (RFC 8032 section 5.1). */
export const ED25519_PARAMETERS: Readonly<{
  id: "ed25519";
  publicKeySize: 32;
  secretKeySize: 32;
  signatureSize: 64;
  securityBits: 128;
}> = Object.freeze({
  id: "ed25519",
  publicKeySize: 32,
  secretKeySize: 32,
  signatureSize: 64,
  securityBits: 128,
});

// RFC 8410 PKCS#8 PrivateKeyInfo for Ed25519 (OID 1.3.101.112): prefix || 32-byte seed.
const PKCS8_PREFIX = fromHex("302e020100300506032b657004220420");
// Parsed keys kept per process. A relay verifies the queue keys of every active subscriber and a
// client signs with one key per queue: 64 thrashed with 100 queues (a key parsed again for every
// signature, +20 µs to verify and +40 µs to sign); a KeyObject is a few hundred bytes.
const KEY_CACHE_SIZE = 1024;

/**
 * The encodings of the 8 points of small order (the 8-torsion subgroup, RFC 8032 section 5.1.3
 * decoding), plus the two encodings of x = 0 points with the sign bit set, which RFC 8032 decoding
 * refuses. tests/engines/sig_test.ts checks the list with @noble/curves.
 */
const SMALL_ORDER = [
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  "0100000000000000000000000000000000000000000000000000000000000080",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];
const SMALL_ORDER_SET = new Set(SMALL_ORDER);
/** Internal (tests): the refused small-order encodings, in hex. */
export const _SMALL_ORDER_ENCODINGS: readonly string[] = Object.freeze([...SMALL_ORDER]);

// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L = fromHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");

/** Whether the little-endian 32-byte `a` (masked to 255 bits when `mask`) is below `b`. */
function below(a: Uint8Array, offset: number, b: Uint8Array, mask: boolean): boolean {
  for (let i = 31; i >= 0; i--) {
    const x = i === 31 && mask ? a[offset + i] & 0x7f : a[offset + i];
    if (x !== b[i]) return x < b[i];
  }
  return false;
}

// p = 2^255 - 19, little-endian.
const P = fromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");

/**
 * The checks polycrypt runs before any backend: a canonical public key (y < p) that is not of
 * small order, and S < L.
 */
function strictlyAcceptable(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (!below(publicKey, 0, P, true)) return false;
  if (SMALL_ORDER_SET.has(toHex(publicKey))) return false;
  return below(signature, 32, L, false);
}

/** What one backend does; the engine around it checks the arguments. */
interface Ed25519Ops {
  generate(): Promise<SignatureKeyPair>;
  publicKey(seed: Uint8Array): Promise<Uint8Array>;
  sign(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

function nobleOps(): Ed25519Ops {
  return {
    generate() {
      const secretKey = crypto.getRandomValues(new Uint8Array(32));
      return Promise.resolve({ publicKey: nobleEd25519.getPublicKey(secretKey), secretKey });
    },
    publicKey: (seed) => settle(() => nobleEd25519.getPublicKey(seed)),
    sign: (seed, message) => settle(() => nobleEd25519.sign(message, seed)),
    verify: (publicKey, message, signature) =>
      settle(() => {
        try {
          return nobleEd25519.verify(signature, message, publicKey, { zip215: false });
        } catch {
          return false;
        }
      }),
  };
}

/** DER bytes as the Buffer node:crypto's types ask for (it takes any Uint8Array; no copy). */
const asBuffer = (bytes: Uint8Array): Buffer => bytes as unknown as Buffer;
const view = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

/** node:crypto (OpenSSL): parsed keys are cached, by the seed's tag and the public key. */
function nodeOps(node: NodeCrypto): Ed25519Ops {
  const { createPrivateKey, createPublicKey, generateKeyPairSync } = node;
  const secretKeys = new LruCache<string, KeyObject>(KEY_CACHE_SIZE);
  const publicKeys = new LruCache<string, KeyObject>(KEY_CACHE_SIZE);
  const privateKey = (seed: Uint8Array) =>
    secretKeys.getOrCreate(secretTag(seed), () =>
      createPrivateKey({
        key: asBuffer(concatBytes(PKCS8_PREFIX, seed)),
        format: "der",
        type: "pkcs8",
      }));
  const rawPublic = (key: KeyObject) => {
    const spki = key.export({ format: "der", type: "spki" });
    return new Uint8Array(spki.subarray(spki.length - 32));
  };
  return {
    generate: () =>
      settle(() => {
        const pair = generateKeyPairSync("ed25519");
        const pkcs8 = pair.privateKey.export({ format: "der", type: "pkcs8" });
        return {
          publicKey: rawPublic(pair.publicKey),
          secretKey: new Uint8Array(pkcs8.subarray(pkcs8.length - 32)),
        };
      }),
    publicKey: (seed) => settle(() => rawPublic(createPublicKey(privateKey(seed)))),
    sign: (seed, message) =>
      settle(() => new Uint8Array(view(node.sign(null, message, privateKey(seed))))),
    verify: (publicKey, message, signature) =>
      settle(() => {
        let key: KeyObject;
        try {
          key = publicKeys.getOrCreate(toBase64(publicKey), () =>
            createPublicKey({
              key: {
                kty: "OKP",
                crv: "Ed25519",
                x: toBase64(publicKey, { alphabet: "base64url", omitPadding: true }),
              },
              format: "jwk",
            }));
        } catch {
          return false; // not a point
        }
        return node.verify(null, message, key, signature);
      }),
  };
}

let webSupport: Promise<boolean> | undefined;
/** Whether this platform's WebCrypto has Ed25519 (probed once). */
function webCryptoHasEd25519(): Promise<boolean> {
  return webSupport ??= crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign"]).then(
    () => true,
    () => false,
  );
}

function webCryptoOps(): Ed25519Ops {
  const algorithm = { name: "Ed25519" };
  const secretKeys = new LruCache<string, CryptoKey>(KEY_CACHE_SIZE);
  const publicKeys = new LruCache<string, CryptoKey>(KEY_CACHE_SIZE);
  const importSeed = async (seed: Uint8Array): Promise<CryptoKey> => {
    const tag = secretTag(seed);
    return secretKeys.get(tag) ?? secretKeys.set(
      tag,
      await crypto.subtle.importKey(
        "pkcs8",
        concatBytes(PKCS8_PREFIX, seed) as Uint8Array<ArrayBuffer>,
        algorithm,
        true,
        ["sign"],
      ),
    );
  };
  return {
    async generate() {
      const pair = await crypto.subtle.generateKey(algorithm, true, [
        "sign",
        "verify",
      ]) as CryptoKeyPair;
      const [pk, pkcs8] = await Promise.all([
        crypto.subtle.exportKey("raw", pair.publicKey),
        crypto.subtle.exportKey("pkcs8", pair.privateKey),
      ]);
      return { publicKey: new Uint8Array(pk), secretKey: new Uint8Array(pkcs8).slice(-32) };
    },
    async publicKey(seed) {
      // WebCrypto has no "public from private"; the JWK export of a private key carries x.
      const jwk = await crypto.subtle.exportKey("jwk", await importSeed(seed));
      return fromBase64(jwk.x!, { alphabet: "base64url" });
    },
    async sign(seed, message) {
      const key = await importSeed(seed);
      return new Uint8Array(await crypto.subtle.sign(algorithm, key, toBuffer(message)));
    },
    async verify(publicKey, message, signature) {
      const tag = toBase64(publicKey);
      try {
        const key = publicKeys.get(tag) ?? publicKeys.set(
          tag,
          await crypto.subtle.importKey("raw", toBuffer(publicKey), algorithm, false, ["verify"]),
        );
        return await crypto.subtle.verify(algorithm, key, toBuffer(signature), toBuffer(message));
      } catch {
        return false;
      }
    },
  };
}

/** The backend's operations, chosen on first use (node:crypto and WebCrypto are probed then). */
function lazyOps(backend: Ed25519Backend): () => Promise<Ed25519Ops> {
  let ops: Promise<Ed25519Ops> | undefined;
  const webOrNoble = async () => (await webCryptoHasEd25519()) ? webCryptoOps() : nobleOps();
  return () =>
    ops ??= backend === "noble"
      ? Promise.resolve(nobleOps())
      : backend === "webcrypto"
      ? webOrNoble()
      : (() => {
        const node = nodeCrypto();
        return node ? Promise.resolve(nodeOps(node)) : webOrNoble();
      })();
}

/**
 * Makes an Ed25519 engine on the chosen backend (see {@linkcode Ed25519Backend}); the registry's
 * `ed25519` uses `"node"`. Backends differ only in speed: keys and signatures are the same bytes
 * (Ed25519 signing is deterministic).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createEd25519Engine, ed25519 } from "@polycrypt/polycrypt";
 * const noble = createEd25519Engine({ backend: "noble" });
 * const { publicKey, secretKey } = await ed25519.generateKeyPair();
 * const message = new TextEncoder().encode("hi");
 * assert.deepEqual(await noble.sign(secretKey, message), await ed25519.sign(secretKey, message));
 * assert.equal(await noble.verify(publicKey, message, await ed25519.sign(secretKey, message)), true);
 * ```
 */
export function createEd25519Engine(
  options: { backend?: Ed25519Backend } = {},
): SignatureEngine {
  const backend = options.backend ?? "node";
  if (backend !== "node" && backend !== "webcrypto" && backend !== "noble") {
    throw new TypeError(`backend must be "node", "webcrypto" or "noble"`);
  }
  const ops = lazyOps(backend);
  const sizes = ED25519_PARAMETERS;
  const engine = {
    kind: "signature",
    id: sizes.id,
    family: "eddsa",
    postQuantum: false,
    securityBits: sizes.securityBits,
    publicKeySize: sizes.publicKeySize,
    secretKeySize: sizes.secretKeySize,
    signatureSize: sizes.signatureSize,
    backend,
    async generateKeyPair(): Promise<SignatureKeyPair> {
      return await (await ops()).generate();
    },
    async sign(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
      checkSignArguments(sizes, secretKey, message);
      return await (await ops()).sign(secretKey, message);
    },
    async verify(
      publicKey: Uint8Array,
      message: Uint8Array,
      signature: Uint8Array,
    ): Promise<boolean> {
      checkVerifyArguments(sizes, publicKey, message, signature);
      if (!strictlyAcceptable(publicKey, signature)) return false;
      return await (await ops()).verify(publicKey, message, signature);
    },
    async publicKeyFromSecretKey(secretKey: Uint8Array): Promise<Uint8Array> {
      checkSignArguments(sizes, secretKey, new Uint8Array(0));
      return await (await ops()).publicKey(secretKey);
    },
  } as const;
  return Object.freeze(engine);
}

/**
 * The registry's `ed25519` (node:crypto backend, WebCrypto or noble where it is missing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ed25519, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.signature("ed25519"), ed25519);
 * assert.equal(ed25519.publicKeySize, 32);
 * assert.equal(ed25519.signatureSize, 64);
 * assert.equal(ed25519.postQuantum, false);
 * ```
 */
export const ed25519: SignatureEngine = createEd25519Engine();
