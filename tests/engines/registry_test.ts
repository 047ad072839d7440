// The registry contract: ids, get, unknown ids, duplicates, malformed engines, factories.
import assert from "node:assert/strict";
import {
  DuplicateEngineError,
  EngineRegistry,
  ENGINES,
  registry,
  UnknownEngineError,
} from "../../mod.ts";

// The built-in ids, as the families list them; tests/core/builtins_test.ts pins that list id by id.
const BUILT_IN = ENGINES.map((engine) => engine.id);

Deno.test("the default registry holds every built-in id", () => {
  assert.deepEqual([...registry.ids()].sort(), [...BUILT_IN].sort());
  for (const id of BUILT_IN) assert.equal(registry.get(id).id, id);
});

Deno.test("an unknown id throws UnknownEngineError listing the valid ids", () => {
  try {
    registry.get("rsa-1024");
    assert.fail("no error");
  } catch (e) {
    assert.ok(e instanceof UnknownEngineError);
    assert.deepEqual([...e.validIds].sort(), [...BUILT_IN].sort());
    for (const id of BUILT_IN) assert.ok(e.message.includes(id));
    assert.match(e.message, /rsa-N/);
  }
});

Deno.test("typed lookups", () => {
  assert.equal(registry.kem("ml-kem-768").kind, "kem");
  assert.equal(registry.aead("aes-256-gcm").kind, "aead");
  assert.throws(() => registry.kem("aes-256-gcm"), TypeError);
  assert.throws(() => registry.aead("x25519"), TypeError);
  assert.throws(() => registry.get(42 as never), TypeError);
});

Deno.test("RSA sizes resolve through the factory but are not listed", () => {
  assert.equal(registry.kem("rsa-6144").publicKeySize, 768);
  assert.ok(!registry.ids().includes("rsa-6144"));
});

Deno.test("duplicates and malformed engines are rejected", () => {
  const mine = new EngineRegistry();
  const x = registry.get("x25519");
  mine.register(x);
  assert.throws(() => mine.register(x), DuplicateEngineError);
  assert.throws(() => registry.register(registry.get("rsa-2048")), DuplicateEngineError);
  // A factory-resolved id is taken too.
  assert.throws(() => registry.register({ ...registry.kem("rsa-6144") }), DuplicateEngineError);
  const broken = [
    null,
    {},
    { ...x, id: "Upper" },
    { ...x, kind: "cipher" },
    { ...x, id: "y", publicKeySize: -1 },
    { ...x, id: "y", encapsulate: undefined },
    { ...x, id: "y", family: "" },
    { ...registry.get("aes-256-gcm"), id: "z", open: 1 },
    { ...x, id: "y", checkPublicKey: true },
    { ...x, id: "y", legacyEncapsulationSize: [256] },
    { ...x, id: "y", legacyEncapsulationSize: 32 }, // its own size
    { ...x, id: "y", legacyEncapsulationSize: 0 },
  ];
  for (const b of broken) {
    assert.throws(() => mine.register(b as never), TypeError);
  }
});
