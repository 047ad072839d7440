// Run-time plugins: a DHKEM(P-256) engine from a separate module (examples/plugin_p256.ts),
// registered at run time and used through the registry like a built-in.
import assert from "node:assert/strict";
import {
  decrypt,
  DuplicateEngineError,
  encrypt,
  EngineRegistry,
  generateIdentity,
  hybridFactory,
  registry,
} from "../../mod.ts";
import { p256 } from "../../examples/plugin_p256.ts";
import { kemConformance } from "../../testing/mod.ts";
import { hex } from "./_wycheproof.ts";
import { loadHpkeVectors, plainEncapModes } from "./_hpke.ts";

if (!registry.has("p256")) registry.register(p256);

Deno.test("a plugin registered in the default registry passes the conformance suite", (t) =>
  kemConformance(t, registry.kem("p256"), { tamper: "reject-or-different" }));

Deno.test("a plugin in a fresh registry, duplicates and malformed engines", () => {
  const mine = new EngineRegistry();
  mine.register(p256);
  assert.deepEqual(mine.ids(), ["p256"]);
  assert.throws(() => mine.register(p256), DuplicateEngineError);
  assert.throws(() => registry.register(p256), DuplicateEngineError);
  assert.throws(
    () => mine.register({ ...p256, id: "p256-broken", decapsulate: "no" } as never),
    TypeError,
  );
  mine.registerFactory(hybridFactory(mine));
  assert.equal(mine.has("p256+x25519"), false, "only what this registry holds");
});

Deno.test("a plugin works in hybrids and envelopes", async () => {
  const bob = await generateIdentity("p256+ml-kem-768");
  assert.ok(bob.recipient.startsWith("polycrypt2:p256+ml-kem-768:ed25519+ml-dsa-65:"));
  const sealed = await encrypt(new TextEncoder().encode("hi"), { recipients: [bob.recipient] });
  assert.equal(
    new TextDecoder().decode(await decrypt(sealed, { identities: [bob.identity] })),
    "hi",
  );
});

Deno.test("the plugin matches the RFC 9180 DHKEM(P-256, HKDF-SHA256) vectors", async () => {
  const suites = (await loadHpkeVectors()).filter((s) => s.kem_id === 0x10 && plainEncapModes(s));
  const engine = registry.kem("p256");
  let checked = 0;
  for (const s of suites) {
    const recipient = await engine.deriveKeyPair!(hex(s.ikmR));
    assert.deepEqual(recipient.secretKey, hex(s.skRm));
    assert.deepEqual(recipient.publicKey, hex(s.pkRm));
    const ephemeral = await engine.deriveKeyPair!(hex(s.ikmE));
    assert.deepEqual(ephemeral.publicKey, hex(s.pkEm));
    assert.deepEqual(await engine.decapsulate(hex(s.enc), hex(s.skRm)), hex(s.shared_secret));
    checked++;
  }
  assert.equal(checked, 16);
});
