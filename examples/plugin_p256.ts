/**
 * A third-party engine, written as an outside project would: DHKEM(P-256,
 * HKDF-SHA256) (RFC 9180 section 4.1, kem_id 0x0010) built from polycrypt's
 * public `createDhKem` and WebCrypto ECDH. Register it and it works
 * everywhere a built-in does, hybrids and envelopes included:
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, generateIdentity, registry } from "@polycrypt/polycrypt";
 * import { p256 } from "./plugin_p256.ts";
 * if (!registry.has("p256")) registry.register(p256);
 * const kem = registry.kem("p256+ml-kem-768");
 * assert.equal(kem.postQuantum, true);
 * const { identity, recipient } = await generateIdentity("p256+ml-kem-768");
 * const sealed = await encrypt(new TextEncoder().encode("hi"), { recipients: [recipient] });
 * assert.equal(new TextDecoder().decode(await decrypt(sealed, { identities: [identity] })), "hi");
 * ```
 *
 * @module
 */
import { createDhKem } from "@polycrypt/polycrypt";
import type { DhGroup, KemEngine, KemKeyPair } from "@polycrypt/polycrypt";

const ECDH = { name: "ECDH", namedCurve: "P-256" } as const;
// The group order n of P-256 (SEC 2 section 2.4.2 / FIPS 186-5 D.1.2.3).
const ORDER = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

function b64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

async function privateKey(sk: Uint8Array, pk: Uint8Array): Promise<CryptoKey> {
  // WebCrypto imports a raw P-256 scalar only as JWK, which also needs the public point.
  const jwk = {
    kty: "EC",
    crv: "P-256",
    d: b64url(sk),
    x: b64url(pk.subarray(1, 33)),
    y: b64url(pk.subarray(33)),
  };
  return await crypto.subtle.importKey("jwk", jwk, ECDH, false, ["deriveBits"]);
}

async function publicFromSecret(sk: Uint8Array): Promise<Uint8Array> {
  // WebCrypto has no "d*G"; a PKCS#8 ECPrivateKey without its optional public key (RFC 5915)
  // imports, and its JWK export carries the computed point.
  const pkcs8 = new Uint8Array([
    ...Uint8Array.fromHex("3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420"),
    ...sk,
  ]);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8, ECDH, true, ["deriveBits"]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  return new Uint8Array([
    0x04,
    ...Uint8Array.fromBase64(jwk.x!, { alphabet: "base64url" }),
    ...Uint8Array.fromBase64(jwk.y!, { alphabet: "base64url" }),
  ]);
}

const group: DhGroup = {
  publicKeySize: 65,
  secretKeySize: 32,
  async generate(): Promise<KemKeyPair> {
    const pair = await crypto.subtle.generateKey(ECDH, true, ["deriveBits"]) as CryptoKeyPair;
    const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
    const secretKey = Uint8Array.fromBase64(jwk.d!, { alphabet: "base64url" });
    const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return { publicKey, secretKey };
  },
  publicKey: publicFromSecret,
  async dh(sk: Uint8Array, pk: Uint8Array): Promise<Uint8Array> {
    const peer = await crypto.subtle.importKey("raw", new Uint8Array(pk), ECDH, false, []);
    const mine = await privateKey(sk, await publicFromSecret(sk));
    return new Uint8Array(
      await crypto.subtle.deriveBits({ name: "ECDH", public: peer }, mine, 256),
    );
  },
  // RFC 9180 section 7.1.3: rejection sampling with a counter and the bitmask 0xff.
  async deriveSecretKey(expand) {
    for (let counter = 0; counter < 256; counter++) {
      const bytes = await expand("candidate", new Uint8Array([counter]), 32);
      const value = BigInt("0x" + bytes.toHex());
      if (value !== 0n && value < ORDER) return bytes;
    }
    throw new Error("DeriveKeyPairError");
  },
};

/**
 * `p256`: DHKEM(P-256, HKDF-SHA256). Public keys and encapsulations are
 * uncompressed points (65 bytes), secret keys 32-byte scalars.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { p256 } from "./plugin_p256.ts";
 * // RFC 9180 Appendix A.3.1: DeriveKeyPair and Decap of DHKEM(P-256, HKDF-SHA256).
 * const ikmR = Uint8Array.fromHex("668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550");
 * const bob = await p256.deriveKeyPair!(ikmR);
 * assert.equal(bob.secretKey.toHex(), "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2");
 * const enc = Uint8Array.fromHex(
 *   "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac98536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4",
 * );
 * assert.equal(
 *   (await p256.decapsulate(enc, bob.secretKey)).toHex(),
 *   "c0d26aeab536609a572b07695d933b589dcf363ff9d93c93adea537aeabb8cb8",
 * );
 * ```
 */
export const p256: KemEngine = createDhKem({
  id: "p256",
  kemId: 0x0010,
  hash: "SHA-256",
  sharedSecretSize: 32,
  securityBits: 128,
  group,
});
