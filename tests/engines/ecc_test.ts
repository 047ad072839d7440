// X25519 / X448 DHKEM: conformance on every backend, Wycheproof x25519 against each backend's raw
// DH, and the RFC 9180 vectors for kem_id 0x0020 and 0x0021.
import assert from "node:assert/strict";
import {
  createX25519Engine,
  createX448Engine,
  DecryptionError,
  InvalidKeyError,
} from "../../mod.ts";
import { montgomeryGroup } from "../../engines/ecc/_montgomery.ts";
import { _buildX25519 } from "../../engines/ecc/x25519.ts";
import { _buildX448 } from "../../engines/ecc/x448.ts";
import { kemConformance } from "../../testing/mod.ts";
import { hex, loadWycheproof } from "./_wycheproof.ts";
import { loadHpkeVectors, plainEncapModes } from "./_hpke.ts";

const BACKENDS = ["node", "webcrypto", "noble"] as const;

for (const backend of BACKENDS) {
  Deno.test(`x25519 (${backend}) conformance`, (t) =>
    kemConformance(t, createX25519Engine({ backend }), { tamper: "reject-or-different" }));
  Deno.test(`x448 (${backend}) conformance`, (t) =>
    kemConformance(t, createX448Engine({ backend }), { tamper: "reject-or-different" }));
}

Deno.test("Wycheproof x25519_test.json against each backend's DH", async () => {
  const { cases, numberOfTests } = await loadWycheproof("x25519_test.json");
  assert.equal(numberOfTests, 518);
  for (const backend of BACKENDS) {
    const group = montgomeryGroup("X25519", backend);
    const counts = { valid: 0, acceptableAccepted: 0, zeroSharedRejected: 0 };
    for (const { test } of cases) {
      const [pub, priv, shared] = [test.public, test.private, test.shared].map(hex);
      if (test.flags.includes("ZeroSharedSecret")) {
        // Acceptable to RFC 7748, refused by us (RFC 9180 section 7.1.4): a low-order point
        // gives an all-zero secret, which the KEM rejects whether or not the backend throws.
        const { encapsulateWithEphemeral } = _buildX25519(backend);
        await assert.rejects(
          encapsulateWithEphemeral(pub, { secretKey: priv, publicKey: new Uint8Array(32) }),
          InvalidKeyError,
          `tc ${test.tcId}`,
        );
        counts.zeroSharedRejected++;
        continue;
      }
      // Valid, and acceptable twist / non-canonical public keys: RFC 7748 section 5 says to accept
      // them (mask the top bit, reduce mod p), so they must give the expected shared secret.
      assert.deepEqual(await group.dh(priv, pub), shared, `tc ${test.tcId} (${test.result})`);
      if (test.result === "valid") counts.valid++;
      else counts.acceptableAccepted++;
    }
    assert.deepEqual(
      counts,
      { valid: 264, acceptableAccepted: 223, zeroSharedRejected: 31 },
      backend,
    );
  }
});

Deno.test("RFC 9180 DHKEM(X25519) and DHKEM(X448) vectors", async () => {
  const suites = (await loadHpkeVectors()).filter(plainEncapModes);
  for (const [kemId, build, count] of [[0x20, _buildX25519, 16], [0x21, _buildX448, 16]] as const) {
    for (const backend of BACKENDS) {
      const { engine, encapsulateWithEphemeral } = build(backend);
      let checked = 0;
      for (const s of suites.filter((s) => s.kem_id === kemId)) {
        const recipient = await engine.deriveKeyPair!(hex(s.ikmR));
        assert.deepEqual(recipient.secretKey, hex(s.skRm));
        assert.deepEqual(recipient.publicKey, hex(s.pkRm));
        const ephemeral = await engine.deriveKeyPair!(hex(s.ikmE));
        assert.deepEqual(ephemeral.publicKey, hex(s.pkEm));
        const { encapsulation, sharedSecret } = await encapsulateWithEphemeral(
          recipient.publicKey,
          ephemeral,
        );
        assert.deepEqual(encapsulation, hex(s.enc));
        assert.deepEqual(sharedSecret, hex(s.shared_secret));
        assert.deepEqual(await engine.decapsulate(hex(s.enc), hex(s.skRm)), hex(s.shared_secret));
        checked++;
      }
      assert.equal(checked, count, `kem ${kemId} ${backend}`);
    }
  }
});

Deno.test("an encapsulation that is a low-order point is refused", async () => {
  for (const backend of BACKENDS) {
    const engine = createX25519Engine({ backend });
    const { secretKey } = await engine.generateKeyPair();
    // u = 0 and u = 1 are low-order points of Curve25519 (RFC 7748 section 6.1 check).
    for (const u of [0, 1]) {
      const enc = new Uint8Array(32);
      enc[0] = u;
      await assert.rejects(engine.decapsulate(enc, secretKey), DecryptionError);
      await assert.rejects(engine.encapsulate(enc), InvalidKeyError);
    }
  }
});
