// Hybrid KEMs: conformance, the combiner recomputed independently, and the factory's rules.
import assert from "node:assert/strict";
import { constants, createPublicKey, hkdfSync, publicEncrypt } from "node:crypto";
import {
  createHybridKem,
  EngineRegistry,
  hybridFactory,
  KemIdentity,
  KemRecipient,
  registry,
  UnknownEngineError,
} from "../../mod.ts";
import type { KemEngine } from "../../mod.ts";
import { i2osp } from "../../engines/_bytes.ts";
import { kemConformance } from "../../testing/mod.ts";

Deno.test("x25519+ml-kem-768 conformance", (t) =>
  kemConformance(t, registry.kem("x25519+ml-kem-768"), { tamper: "reject-or-different" }));

Deno.test("x448+ml-kem-1024 conformance", (t) =>
  kemConformance(t, registry.kem("x448+ml-kem-1024"), { tamper: "reject-or-different" }));

Deno.test("rsa-2048+elgamal-2048+ml-kem-1024 conformance", (t) => {
  const kem = registry.kem("rsa-2048+elgamal-2048+ml-kem-1024");
  return kemConformance(t, kem, {
    tamper: "reject-or-different",
    // The RSA component's public key is an SPKI, longer than its modulus.
    checkPublicKey: (pk) => assert.ok(pk.length > kem.publicKeySize),
    // Both sides of each component boundary (rsa-2048: 272 bytes, elgamal-2048: 512).
    tamperPositions: [0, 271, 272, 783, 784, kem.encapsulationSize - 1],
  });
});

Deno.test("the combined secret is HKDF over every secret, encapsulation and public key", async () => {
  // Capture each component's secret by wrapping the engines.
  const seen: Uint8Array[][] = [[], []];
  const spy = (kem: KemEngine, slot: number): KemEngine => ({
    ...kem,
    async encapsulate(pk: Uint8Array) {
      const r = await kem.encapsulate(pk);
      seen[slot] = [r.sharedSecret, r.encapsulation, pk];
      return r;
    },
  });
  const a = spy(registry.kem("x25519"), 0);
  const b = spy(registry.kem("ml-kem-512"), 1);
  const hybrid = createHybridKem([a, b]);
  const { publicKey, secretKey } = await hybrid.generateKeyPair();
  const { encapsulation, sharedSecret } = await hybrid.encapsulate(publicKey);
  const [[ss1, ct1, pk1], [ss2, ct2, pk2]] = seen;
  assert.deepEqual(encapsulation, new Uint8Array([...ct1, ...ct2]));
  const ikm = [ss1, ss2, ct1, ct2, pk1, pk2].flatMap((x) => [...i2osp(x.length, 4), ...x]);
  const expected = new Uint8Array(
    hkdfSync(
      "sha256",
      new Uint8Array(ikm),
      new TextEncoder().encode("polycrypt/1 hybrid x25519+ml-kem-512"),
      new Uint8Array(0),
      32,
    ),
  );
  assert.deepEqual(sharedSecret, expected);
  assert.deepEqual(await hybrid.decapsulate(encapsulation, secretKey), expected);
});

Deno.test("a hybrid is post-quantum if any part is, as strong as its strongest part", () => {
  const kem = registry.kem("x25519+ml-kem-768");
  assert.equal(kem.family, "hybrid");
  assert.equal(kem.postQuantum, true);
  assert.equal(kem.securityBits, 192);
  assert.equal(kem.encapsulationSize, 32 + 1088);
  assert.equal(registry.kem("x25519+x448").postQuantum, false);
});

Deno.test("the hybrid factory's rules", () => {
  for (
    const bad of [
      "x25519+x25519",
      "x25519+",
      "+x25519",
      "x25519+nope",
      "x25519+aes-256-gcm",
      "a+b+c+d+e",
    ]
  ) {
    assert.throws(() => registry.get(bad), UnknownEngineError, bad);
  }
  assert.throws(
    () => registry.get("x25519+ml-kem-512+ml-kem-768+x448+elgamal-2048"),
    UnknownEngineError,
  );
  assert.ok(registry.has("x25519+ml-kem-512+ml-kem-768+x448"));
  assert.throws(() => createHybridKem([registry.kem("x25519")]), RangeError);
  assert.throws(
    () => createHybridKem([registry.kem("x25519+ml-kem-768"), registry.kem("x448")]),
    TypeError,
  );
  // A fresh registry only knows what it was given.
  const mine = new EngineRegistry();
  mine.register(registry.kem("x25519"));
  mine.registerFactory(hybridFactory(mine));
  assert.throws(() => mine.get("x25519+ml-kem-768"), UnknownEngineError);
});

Deno.test("malformed hybrid keys are RangeErrors naming the argument", async () => {
  const kem = registry.kem("x25519+ml-kem-768");
  const { publicKey, secretKey } = await kem.generateKeyPair();
  await assert.rejects(kem.encapsulate(publicKey.subarray(0, 10)), /publicKey/);
  await assert.rejects(
    kem.encapsulate(new Uint8Array([...publicKey, 0])),
    /publicKey has trailing bytes/,
  );
  const { encapsulation } = await kem.encapsulate(publicKey);
  await assert.rejects(kem.decapsulate(encapsulation, secretKey.subarray(0, 40)), /secretKey/);
});

/**
 * rsa-2048 as format 1.0 made it: the encapsulation is the plain OAEP ciphertext (modulus size)
 * and the shared secret is the OAEP plaintext. Stanzas and hybrids made with it are what older
 * versions wrote.
 */
function formatOneRsa2048(): KemEngine {
  const kem = registry.kem("rsa-2048");
  return {
    ...kem,
    encapsulationSize: 256,
    encapsulate(publicKey: Uint8Array) {
      const key = createPublicKey({ key: publicKey as never, format: "der", type: "spki" });
      const sharedSecret = crypto.getRandomValues(new Uint8Array(32));
      const encapsulation = new Uint8Array(
        publicEncrypt(
          { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
          sharedSecret,
        ),
      );
      return Promise.resolve({ encapsulation, sharedSecret });
    },
  };
}

Deno.test("format 1.0 RSA stanzas and hybrid encapsulations still open", async () => {
  const old = formatOneRsa2048();
  const rsa = registry.kem("rsa-2048");
  const fileKey = crypto.getRandomValues(new Uint8Array(32));

  // A plain rsa-2048 stanza: 256 + 48 bytes, read by today's identity.
  const bob = await rsa.generateKeyPair();
  const [stanza] = await new KemRecipient(old, bob.publicKey).wrapFileKey(fileKey);
  assert.equal(stanza.type, "rsa-2048");
  assert.equal(stanza.body.length, 256 + 48);
  assert.deepEqual(await new KemIdentity(rsa, bob.secretKey).unwrapFileKey([stanza]), fileKey);
  const [fresh] = await new KemRecipient(rsa, bob.publicKey).wrapFileKey(fileKey);
  assert.equal(fresh.body.length, 272 + 48);
  assert.deepEqual(await new KemIdentity(rsa, bob.secretKey).unwrapFileKey([fresh]), fileKey);

  // A hybrid with an RSA component: the old layout (256 + 32) decapsulates to the old secret.
  const hybrid = registry.kem("rsa-2048+x25519");
  assert.equal(hybrid.encapsulationSize, 272 + 32);
  assert.equal(hybrid.legacyEncapsulationSize, 256 + 32);
  const oldHybrid = createHybridKem([old, registry.kem("x25519")]);
  const pair = await hybrid.generateKeyPair();
  const { encapsulation, sharedSecret } = await oldHybrid.encapsulate(pair.publicKey);
  assert.equal(encapsulation.length, 256 + 32);
  assert.deepEqual(await hybrid.decapsulate(encapsulation, pair.secretKey), sharedSecret);
  const [hybridStanza] = await new KemRecipient(oldHybrid, pair.publicKey).wrapFileKey(fileKey);
  assert.deepEqual(
    await new KemIdentity(hybrid, pair.secretKey).unwrapFileKey([hybridStanza]),
    fileKey,
  );
  // Other lengths are refused before any RSA work.
  for (const length of [256 + 31, 256 + 33, 272 + 31]) {
    await assert.rejects(hybrid.decapsulate(new Uint8Array(length), pair.secretKey), RangeError);
  }
  // A hybrid without an RSA component has no earlier form.
  assert.equal(registry.kem("x25519+ml-kem-768").legacyEncapsulationSize, undefined);
});
