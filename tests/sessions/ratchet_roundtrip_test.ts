import assert from "node:assert/strict";
import { DecryptionError } from "../../mod.ts";
import { newSession, suiteOf, text } from "./_ratchet.ts";

Deno.test("ratchet: alternating round trips with ml-kem-768", async () => {
  const { alice, bob } = await newSession(suiteOf());
  for (let i = 0; i < 6; i++) {
    const a = await alice.send(text(`a${i}`));
    assert.deepEqual(await bob.receive(a), text(`a${i}`));
    const b = await bob.send(text(`b${i}`));
    assert.deepEqual(await alice.receive(b), text(`b${i}`));
  }
  const dup = await alice.send(text("x"));
  await bob.receive(dup);
  await assert.rejects(bob.receive(dup), DecryptionError);
});
