// The committed ratchet bodies (tests/vectors/polycrypt/sessions/ratchet.json, made once by
// generate_ratchet.ts) checked both ways: every committed body decrypts to its data on the
// receiving side, and replaying the same conversation with the same randomness makes exactly the
// committed bytes (and the same final states).
import assert from "node:assert/strict";
import { DecryptionError } from "../../mod.ts";
import { sha256 } from "../../engines/_hash.ts";
import { disableOpensslAeadForTesting, opensslAead } from "../../engines/symmetric/_openssl.ts";
import { type CaseInput, replay, STEPS } from "./_ratchet_vectors.ts";
import { PREFIX } from "./_ratchet.ts";

const file = new URL("../vectors/polycrypt/sessions/ratchet.json", import.meta.url);
const doc = JSON.parse(await Deno.readTextFile(file));
const hex = (s: string) => Uint8Array.fromHex(s);

for (const c of doc.cases) {
  const input: CaseInput = {
    aead: c.aead,
    aliceSeed: hex(c.aliceSeed),
    bobSeed: hex(c.bobSeed),
    rootKey: hex(c.rootKey),
    headerKey: hex(c.headerKey),
    nextHeaderKey: hex(c.nextHeaderKey),
    ad: hex(c.ad),
    spkSecret: hex(c.spkSecret),
  };
  const bodies = c.messages.map((m: { body: string }) => hex(m.body));

  Deno.test(`ratchet vectors (${c.kem}, ${c.aead}): committed bodies decrypt`, async () => {
    assert.equal(c.prefix, PREFIX.toHex());
    assert.equal(c.messages.length, STEPS.length);
    const { received } = await replay(input, (i) => bodies[i]);
    for (const [i, m] of c.messages.entries()) assert.equal(received[i].toHex(), m.data, `${i}`);
  });

  Deno.test(`ratchet vectors (${c.kem}, ${c.aead}): the same randomness re-derives them`, async () => {
    const { bodies: made, states } = await replay(input);
    for (const [i, m] of c.messages.entries()) {
      assert.equal(made[i].toHex(), m.body, `message ${i}`);
    }
    assert.equal(sha256(states[0]).toHex(), c.finalStateSha256.alice);
    assert.equal(sha256(states[1]).toHex(), c.finalStateSha256.bob);
  });

  Deno.test(`ratchet vectors (${c.kem}, ${c.aead}): the same bytes with and without libcrypto`, async () => {
    // With --allow-ffi the built-in AES-GCM and ChaCha20-Poly1305 run on libcrypto; without it, on
    // the engine (node:crypto): both must give the committed bytes.
    const ffi = !(opensslAead() instanceof Error);
    disableOpensslAeadForTesting(true);
    try {
      const { bodies: made } = await replay(input);
      for (const [i, m] of c.messages.entries()) {
        assert.equal(made[i].toHex(), m.body, `message ${i}`);
      }
      const { received } = await replay(input, (i) => bodies[i]);
      for (const [i, m] of c.messages.entries()) assert.equal(received[i].toHex(), m.data);
    } finally {
      disableOpensslAeadForTesting(false);
    }
    assert.equal(!(opensslAead() instanceof Error), ffi);
  });

  Deno.test(`ratchet vectors (${c.kem}, ${c.aead}): a changed body is refused`, async () => {
    const changed = bodies.map((b: Uint8Array) => b.slice());
    changed[3][changed[3].length - 1] ^= 1;
    await assert.rejects(replay(input, (i) => changed[i]), DecryptionError);
  });
}

Deno.test("ratchet vectors: the header carries what section 5 says, message by message", () => {
  const c = doc.cases[0];
  // enc_header = header + 16; header = 41 [+ 4 + 1184 KEM_pub] [+ 4 + 1088 KEM_ct].
  const extra = c.messages.map((m: { body: string }) => {
    const b = hex(m.body);
    return new DataView(b.buffer).getUint32(12) - 16 - 41;
  });
  const pub = 4 + 1184, ct = 4 + 1088;
  assert.deepEqual(extra, [pub, pub, pub + ct, 0, 0, pub + ct, pub + ct, pub + ct]);
});
