// Internal: X25519 and X448 (RFC 7748) as DHKEM groups, on node:crypto, WebCrypto or
// @noble/curves, and the RFC 9180 DHKEM over each (the `x25519` and `x448` engines).
import type { KeyObject } from "node:crypto";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { x448 as nobleX448 } from "@noble/curves/ed448.js";
import { concatBytes } from "../_bytes.ts";
import { LruCache, settle } from "../_cache.ts";
import { type NodeCrypto, nodeCrypto } from "../_node.ts";
import type { HkdfHash } from "../hkdf.ts";
import type { KemKeyPair } from "../types.ts";
import { buildDhKem, type BuiltDhKem, type DhGroup } from "./_dhkem.ts";

/** Where the curve arithmetic runs. */
export type MontgomeryBackend = "node" | "webcrypto" | "noble";

type Curve = "X25519" | "X448";

const SIZES: Record<Curve, number> = { X25519: 32, X448: 56 };
// RFC 8410 PKCS#8 PrivateKeyInfo prefixes: SEQUENCE { version 0, AlgorithmIdentifier { OID
// 1.3.101.110 (X25519) / 1.3.101.111 (X448) }, OCTET STRING { OCTET STRING key } }.
const PKCS8_PREFIX: Record<Curve, Uint8Array> = {
  X25519: Uint8Array.fromHex("302e020100300506032b656e04220420"),
  X448: Uint8Array.fromHex("3046020100300506032b656f043a0438"),
};
const NOBLE = { X25519: nobleX25519, X448: nobleX448 };

/** What sets one curve's DHKEM apart (RFC 9180 section 7.1, Table 2). */
interface MontgomeryKem {
  /** RFC 9180 `kem_id`. */
  readonly kemId: number;
  /** The HKDF hash of the KEM's key schedule. */
  readonly hash: HkdfHash;
  /** Estimated classical security in bits. */
  readonly securityBits: number;
}

const DHKEM: Record<Curve, MontgomeryKem> = Object.freeze({
  X25519: Object.freeze({ kemId: 0x0020, hash: "SHA-256", securityBits: 128 }),
  X448: Object.freeze({ kemId: 0x0021, hash: "SHA-512", securityBits: 224 }),
});
// Both DHKEMs' `Nsecret` is their hash's output size `Nh` (RFC 9180 Table 2).
const HASH_SIZE: Record<HkdfHash, number> = { "SHA-256": 32, "SHA-512": 64 };

/**
 * DHKEM(curve, HKDF-hash) on the requested backend, with its registry id (`"x25519"`, `"x448"`);
 * keys and encapsulations are the curve's size, the shared secret the hash's.
 */
export function buildMontgomeryKem(curve: Curve, backend: MontgomeryBackend): BuiltDhKem {
  const { kemId, hash, securityBits } = DHKEM[curve];
  return buildDhKem({
    id: curve.toLowerCase(),
    kemId,
    hash,
    sharedSecretSize: HASH_SIZE[hash],
    securityBits,
    group: montgomeryGroup(curve, backend),
    extra: { backend },
  });
}

const support = new Map<Curve, Promise<boolean>>();

/** Whether this platform's WebCrypto has the curve (checked once, lazily). */
export function webCryptoHas(curve: Curve): Promise<boolean> {
  let p = support.get(curve);
  if (!p) {
    p = crypto.subtle.generateKey({ name: curve }, false, ["deriveBits"]).then(
      () => true,
      () => false,
    );
    support.set(curve, p);
  }
  return p;
}

function webCryptoGroup(curve: Curve): DhGroup {
  const size = SIZES[curve];
  const importSecret = (sk: Uint8Array) =>
    crypto.subtle.importKey(
      "pkcs8",
      concatBytes(PKCS8_PREFIX[curve], sk) as Uint8Array<ArrayBuffer>,
      { name: curve },
      true,
      [
        "deriveBits",
      ],
    );
  return {
    publicKeySize: size,
    secretKeySize: size,
    async generate(): Promise<KemKeyPair> {
      const pair = await crypto.subtle.generateKey({ name: curve }, true, [
        "deriveBits",
      ]) as CryptoKeyPair;
      const [pk, pkcs8] = await Promise.all([
        crypto.subtle.exportKey("raw", pair.publicKey),
        crypto.subtle.exportKey("pkcs8", pair.privateKey),
      ]);
      return { publicKey: new Uint8Array(pk), secretKey: new Uint8Array(pkcs8).slice(-size) };
    },
    async publicKey(secretKey: Uint8Array): Promise<Uint8Array> {
      // WebCrypto has no "public from private"; the JWK export of a private key carries x.
      const jwk = await crypto.subtle.exportKey("jwk", await importSecret(secretKey));
      return Uint8Array.fromBase64(jwk.x!, { alphabet: "base64url" });
    },
    async dh(secretKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array> {
      const [sk, pk] = await Promise.all([
        importSecret(secretKey),
        crypto.subtle.importKey(
          "raw",
          publicKey as Uint8Array<ArrayBuffer>,
          { name: curve },
          true,
          [],
        ),
      ]);
      return new Uint8Array(
        await crypto.subtle.deriveBits({ name: curve, public: pk }, sk, size * 8),
      );
    },
  };
}

/** DER bytes as the Buffer node:crypto's types ask for (it takes any Uint8Array; no copy). */
const der = (prefix: Uint8Array, key: Uint8Array): Buffer =>
  concatBytes(prefix, key) as unknown as Buffer;

/**
 * node:crypto's synchronous key objects: one X25519 DH in 130-150 us and a key pair in 45 us,
 * against 170-250 us for WebCrypto's asynchronous import + deriveBits (`deno task bench:kem`).
 */
/** node:crypto's raw key conversions for one curve, shared by the DHKEM group and rawX25519. */
function nodeKeys(node: NodeCrypto, curve: Curve) {
  const { createPrivateKey, createPublicKey, diffieHellman } = node;
  const size = SIZES[curve];
  return {
    // DER exports end with the raw key (RFC 8410); JWK export of a private key costs 10x more.
    rawPublic: (key: KeyObject) => {
      const spki = key.export({ format: "der", type: "spki" });
      return new Uint8Array(spki.subarray(spki.length - size));
    },
    rawSecret: (key: KeyObject) => {
      const pkcs8 = key.export({ format: "der", type: "pkcs8" });
      return new Uint8Array(pkcs8.subarray(pkcs8.length - size));
    },
    secretKeyObject: (sk: Uint8Array): KeyObject =>
      createPrivateKey({ key: der(PKCS8_PREFIX[curve], sk), format: "der", type: "pkcs8" }),
    // An RFC 8037 JWK parses in about half the time of the same key as SPKI DER here (4 vs 8 us).
    publicKeyObject: (pk: Uint8Array): KeyObject =>
      createPublicKey({
        key: {
          kty: "OKP",
          crv: curve,
          x: pk.toBase64({ alphabet: "base64url", omitPadding: true }),
        },
        format: "jwk",
      }),
    derive: (privateKey: KeyObject, publicKey: KeyObject) => {
      const out = diffieHellman({ privateKey, publicKey });
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
  };
}

function nodeGroup(node: NodeCrypto, curve: Curve): DhGroup {
  const { createPublicKey, generateKeyPairSync } = node;
  const size = SIZES[curve];
  const type = curve === "X25519" ? "x25519" : "x448";
  const { rawPublic, rawSecret, secretKeyObject, publicKeyObject, derive } = nodeKeys(node, curve);
  // Parsed secret keys of recent identities, by the caller's secret tag (see DhGroup.sync.dh).
  const secretObjects = new LruCache<string, KeyObject>(32);
  const sync = {
    publicKey: (secretKey: Uint8Array) => rawPublic(createPublicKey(secretKeyObject(secretKey))),
    dh: (secretKey: Uint8Array, publicKey: Uint8Array, tag: string) =>
      derive(
        secretObjects.getOrCreate(tag, () => secretKeyObject(secretKey)),
        publicKeyObject(publicKey),
      ),
    ephemeralDh: (publicKey: Uint8Array) => {
      const pair = generateKeyPairSync(type as "x25519");
      return {
        ephemeralPublicKey: rawPublic(pair.publicKey),
        dh: derive(pair.privateKey, publicKeyObject(publicKey)),
      };
    },
  };
  return {
    publicKeySize: size,
    secretKeySize: size,
    generate: () =>
      settle(() => {
        const pair = generateKeyPairSync(type as "x25519");
        return { publicKey: rawPublic(pair.publicKey), secretKey: rawSecret(pair.privateKey) };
      }),
    publicKey: (secretKey) => settle(() => sync.publicKey(secretKey)),
    dh: (secretKey, publicKey) =>
      settle(() => derive(secretKeyObject(secretKey), publicKeyObject(publicKey))),
    sync,
  };
}

function nobleGroup(curve: Curve): DhGroup {
  const size = SIZES[curve];
  const impl = NOBLE[curve];
  return {
    publicKeySize: size,
    secretKeySize: size,
    generate(): Promise<KemKeyPair> {
      const secretKey = crypto.getRandomValues(new Uint8Array(size));
      return Promise.resolve({ publicKey: impl.getPublicKey(secretKey), secretKey });
    },
    publicKey: (secretKey) => Promise.resolve(impl.getPublicKey(secretKey)),
    dh: (secretKey, publicKey) => Promise.resolve(impl.getSharedSecret(secretKey, publicKey)),
  };
}

/**
 * The curve on the requested backend. WebCrypto falls back to noble, per
 * call, on platforms whose WebCrypto lacks the curve.
 */
export function montgomeryGroup(curve: Curve, backend: MontgomeryBackend): DhGroup {
  if (backend === "noble") return nobleGroup(curve);
  if (backend === "node") {
    // node:crypto is looked up on first use (engines/_node.ts); where the platform has none, the
    // WebCrypto-or-noble group below does the work.
    return lazyGroup(curve, () => {
      const node = nodeCrypto();
      return node ? nodeGroup(node, curve) : webCryptoOrNoble(curve);
    });
  }
  if (backend !== "webcrypto") {
    throw new TypeError(`backend must be "node", "webcrypto" or "noble"`);
  }
  return webCryptoOrNoble(curve);
}

/** The group `make` returns, made on first use; `sync` is read through, so DHKEM sees it. */
function lazyGroup(curve: Curve, make: () => DhGroup): DhGroup {
  let group: DhGroup | undefined;
  const get = () => group ??= make();
  return {
    publicKeySize: SIZES[curve],
    secretKeySize: SIZES[curve],
    get sync() {
      return get().sync;
    },
    generate: () => get().generate(),
    publicKey: (secretKey) => get().publicKey(secretKey),
    dh: (secretKey, publicKey) => get().dh(secretKey, publicKey),
  };
}

function webCryptoOrNoble(curve: Curve): DhGroup {
  const web = webCryptoGroup(curve);
  const noble = nobleGroup(curve);
  const pick = async () => (await webCryptoHas(curve)) ? web : noble;
  return {
    publicKeySize: web.publicKeySize,
    secretKeySize: web.secretKeySize,
    generate: async () => (await pick()).generate(),
    publicKey: async (sk) => (await pick()).publicKey(sk),
    dh: async (sk, pk) => (await pick()).dh(sk, pk),
  };
}

/** Raw X25519 (RFC 7748), synchronous: what the Double Ratchet's DH steps need (sessions/). */
export interface RawX25519 {
  /** A fresh key pair; from `secretKey` (32 random bytes) when given. */
  generate(secretKey?: Uint8Array): KemKeyPair;
  /** The raw DH output; throws on an invalid point (all-zero output is the caller's check). */
  dh(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array;
}

let raw: RawX25519 | undefined;

/**
 * Raw X25519 on node:crypto's key objects where the platform has them, else @noble/curves (the
 * same bytes). A key pair made by `generate` keeps its parsed secret key object, by the identity
 * of its `secretKey` array (a WeakMap), so the one or two DHs a ratchet key pair takes later do
 * not parse it again.
 */
export function rawX25519(): RawX25519 {
  return raw ??= buildRawX25519(nodeCrypto() ? "node" : "noble");
}

/** Internal (tests): raw X25519 on a given backend; "node" needs node:crypto. */
export function buildRawX25519(backend: "node" | "noble"): RawX25519 {
  const node = backend === "node" ? nodeCrypto() : undefined;
  if (!node) {
    if (backend === "node") throw new Error("node:crypto is not available");
    return {
      generate(secretKey = crypto.getRandomValues(new Uint8Array(32))) {
        return { publicKey: nobleX25519.getPublicKey(secretKey), secretKey: secretKey.slice() };
      },
      dh: (secretKey, publicKey) => nobleX25519.getSharedSecret(secretKey, publicKey),
    };
  }
  const { rawPublic, rawSecret, secretKeyObject, publicKeyObject, derive } = nodeKeys(
    node,
    "X25519",
  );
  const objects = new WeakMap<Uint8Array, KeyObject>();
  return {
    generate(secretKey?: Uint8Array) {
      let privateKey: KeyObject, publicKey: KeyObject;
      if (secretKey) {
        privateKey = secretKeyObject(secretKey);
        publicKey = node.createPublicKey(privateKey);
      } else {
        ({ privateKey, publicKey } = node.generateKeyPairSync("x25519"));
      }
      const pair = { publicKey: rawPublic(publicKey), secretKey: rawSecret(privateKey) };
      objects.set(pair.secretKey, privateKey);
      return pair;
    },
    dh(secretKey, publicKey) {
      let privateKey = objects.get(secretKey);
      if (!privateKey) objects.set(secretKey, privateKey = secretKeyObject(secretKey));
      return derive(privateKey, publicKeyObject(publicKey));
    },
  };
}
