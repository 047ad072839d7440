import assert from "node:assert/strict";
import { DecryptionError, hkdfSync, InvalidKeyError, registry } from "../../mod.ts";
import { dh, generateDh, headerNonce, kdfCk, kdfRkHe, messageKeys } from "../../sessions/_kdf.ts";
import { initAlice } from "../../sessions/ratchet.ts";
import { buildRawX25519 } from "../../engines/ecc/_montgomery.ts";

const vectors = new URL("../vectors/polycrypt/sessions/", import.meta.url);
const enc = new TextEncoder();

Deno.test("KDF_CK: libsignal's test_chain_key_derivation known answer", async () => {
  const kat = JSON.parse(await Deno.readTextFile(new URL("libsignal_chain_key.json", vectors)));
  const seed = Uint8Array.fromHex(kat.seed);
  const { mk, ck } = kdfCk(seed);
  assert.equal(ck.toHex(), kat.next_chain_key);
  // libsignal's MessageKeys::derive_keys over MK (salt None = 32 zero bytes, RFC 5869).
  const okm = hkdfSync("SHA-256", mk, new Uint8Array(0), enc.encode("WhisperMessageKeys"), 80);
  assert.equal(okm.subarray(0, 32).toHex(), kat.message_key);
  assert.equal(okm.subarray(32, 64).toHex(), kat.mac_key);
  // The seed is not modified and the next step derives from CK'.
  assert.equal(seed.toHex(), kat.seed);
  assert.notDeepEqual(kdfCk(ck).mk, mk);
});

Deno.test("KDF_RK_HE is one HKDF over DH_out || KEM_SS named by the KEM", () => {
  const rk = crypto.getRandomValues(new Uint8Array(32));
  const dhOut = crypto.getRandomValues(new Uint8Array(32));
  const ss = crypto.getRandomValues(new Uint8Array(32));
  const out = kdfRkHe(rk, dhOut, ss, "ml-kem-768");
  const expected = hkdfSync(
    "SHA-256",
    Uint8Array.from([...dhOut, ...ss]),
    rk,
    enc.encode("polycrypt/session/1 root ml-kem-768"),
    96,
  );
  assert.deepEqual([...out.rk, ...out.ck, ...out.nhk], [...expected]);
  // The KEM's id and its secret both change every output.
  assert.notDeepEqual(kdfRkHe(rk, dhOut, ss, "ml-kem-512").rk, out.rk);
  assert.notDeepEqual(kdfRkHe(rk, dhOut, new Uint8Array(0), "ml-kem-768").rk, out.rk);
});

Deno.test("message keys and header nonces follow docs/sessions.md section 4", () => {
  const mk = crypto.getRandomValues(new Uint8Array(32));
  const { key, nonce } = messageKeys(mk, "aes-256-gcm", 32, 12);
  const okm = hkdfSync(
    "SHA-256",
    mk,
    new Uint8Array(32),
    enc.encode("polycrypt/session/1 message key aes-256-gcm"),
    44,
  );
  assert.deepEqual(key, okm.subarray(0, 32));
  assert.deepEqual(nonce, okm.subarray(32));
  const nonceH = crypto.getRandomValues(new Uint8Array(12));
  assert.equal(headerNonce(nonceH, 12), nonceH);
  assert.deepEqual(
    headerNonce(nonceH, 24),
    hkdfSync(
      "SHA-256",
      nonceH,
      new Uint8Array(0),
      enc.encode("polycrypt/session/1 header nonce"),
      24,
    ),
  );
});

Deno.test("raw X25519: RFC 7748 section 6.1, all-zero outputs refused", async () => {
  const a = generateDh(() =>
    Uint8Array.fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
  );
  assert.equal(
    a.publicKey.toHex(),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
  const bobPublic = Uint8Array.fromHex(
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  );
  assert.equal(
    dh(a.secretKey, bobPublic).toHex(),
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
  );
  // A small-order point gives zeros (or an error from the backend): both are refused.
  const lowOrder = new Uint8Array(32);
  assert.throws(() => dh(a.secretKey, lowOrder), DecryptionError);
  const order8 = Uint8Array.fromHex(
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  );
  assert.throws(() => dh(a.secretKey, order8), DecryptionError);
  // A bundle's signed prekey that is such a point is refused when the session starts.
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  await assert.rejects(
    initAlice({ kem: registry.kem("ml-kem-768"), aead: registry.aead("aes-256-gcm") }, {
      rootKey: random(32),
      headerKey: random(32),
      nextHeaderKey: random(32),
      peerDh: order8,
      ad: random(32),
    }),
    InvalidKeyError,
  );
});

Deno.test("raw X25519: the node:crypto and noble backends give the same bytes", () => {
  const node = buildRawX25519("node"), noble = buildRawX25519("noble");
  for (let i = 0; i < 20; i++) {
    const a = node.generate(), b = noble.generate();
    assert.deepEqual(noble.generate(a.secretKey).publicKey, a.publicKey);
    assert.deepEqual(node.generate(b.secretKey).publicKey, b.publicKey);
    assert.deepEqual(node.dh(a.secretKey, b.publicKey), noble.dh(b.secretKey, a.publicKey));
  }
  const order8 = Uint8Array.fromHex(
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  );
  // Each backend either throws or returns zeros for a small-order point; `dh` refuses both.
  for (const backend of [node, noble]) {
    let out: Uint8Array | undefined;
    try {
      out = backend.dh(backend.generate().secretKey, order8);
    } catch {
      out = undefined;
    }
    assert.ok(out === undefined || out.every((x) => x === 0));
  }
});
