// What tests/core/portable_test.ts computes on both sides, with node built-ins (the test process)
// and without them (a child that deleted `process`, as a browser lacks it). It takes the core
// module as an argument and imports nothing itself, so the child can load it after the deletion.
import type * as Core from "../../mod.ts";

/** Fixed inputs, as hex. */
export const KEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const NONCE12 = "a0a1a2a3a4a5a6a7a8a9aaab";
const NONCE24 = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7";

const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

/** Outputs of every node:crypto path that has a fallback, as hex (or text). */
export async function sameBytes(core: typeof Core): Promise<Record<string, string>> {
  const hex = (b: Uint8Array) => b.toHex();
  const key = Uint8Array.fromHex(KEY);
  const n12 = Uint8Array.fromHex(NONCE12);
  const n24 = Uint8Array.fromHex(NONCE24);
  const text = new TextEncoder().encode("the same bytes on every platform");
  const aad = new TextEncoder().encode("aad");
  const x25519Pair = await core.registry.kem("x25519").deriveKeyPair!(key);
  // X448's DeriveKeyPair takes at least 56 bytes of input keying material.
  const x448Pair = await core.registry.kem("x448").deriveKeyPair!(concat(key, key));
  return {
    gcmAuto: hex(await core.registry.aead("aes-256-gcm").seal(key, n12, text, aad)),
    gcmNode: hex(await core.createAes256Gcm({ backend: "node" }).seal(key, n12, text, aad)),
    chacha: hex(await core.registry.aead("chacha20-poly1305").seal(key, n12, text, aad)),
    xchacha: hex(await core.registry.aead("xchacha20-poly1305").seal(key, n24, text, aad)),
    hmac: hex(core.hmac("SHA-512", key, text, aad)),
    hkdf: hex(core.hkdfSync("SHA-256", key, n12, aad, 80)),
    // Past node's one-call HKDF limit (1024 bytes of info).
    hkdfLongInfo: hex(core.hkdfSync("SHA-512", key, n12, new Uint8Array(1500), 100)),
    x25519: hex(x25519Pair.publicKey),
    x448: hex(x448Pair.publicKey),
    recipient: core.encodeRecipient("x25519", x25519Pair.publicKey),
    // Ed25519 signing is deterministic: node:crypto, WebCrypto and noble give the same bytes.
    ed25519Public: hex(await core.ed25519.publicKeyFromSecretKey!(key)),
    ed25519Signature: hex(await core.ed25519.sign(key, text)),
    // The hybrid's Ed25519 half covers its SHA-512 pre-hash (node:crypto or noble).
    hybridPublic: hex(await core.ed25519MlDsa65.publicKeyFromSecretKey!(concat(key, key))),
    hybridEd25519Half: hex(
      (await core.ed25519MlDsa65.sign(concat(key, key), text)).subarray(core.mlDsa65.signatureSize),
    ),
  };
}
