// Each engine family lists its built-ins (ENGINES, FACTORIES) in its own mod.ts; engines/mod.ts
// only joins the lists into the default registry. The root export is the portable core only.
import assert from "node:assert/strict";
import * as core from "../../mod.ts";
import { EngineRegistry, ENGINES, FACTORIES, registry } from "../../mod.ts";
import * as ecc from "../../engines/ecc/mod.ts";
import * as elgamal from "../../engines/elgamal/mod.ts";
import * as hybrid from "../../engines/hybrid.ts";
import * as mlkem from "../../engines/mlkem/mod.ts";
import * as rsa from "../../engines/rsa/mod.ts";
import * as symmetric from "../../engines/symmetric/mod.ts";
import * as sig from "../../engines/sig/mod.ts";

const families = { rsa, elgamal, mlkem, ecc, hybrid, symmetric, sig };

Deno.test("the default registry holds exactly the families' ENGINES, in order", () => {
  const joined = Object.values(families).flatMap((family) => [...family.ENGINES]);
  assert.deepEqual(ENGINES.map((e) => e.id), joined.map((e) => e.id));
  assert.deepEqual([...registry.ids()].sort(), ENGINES.map((e) => e.id).sort());
  for (const engine of ENGINES) assert.equal(registry.get(engine.id), engine);
  assert.deepEqual(
    ENGINES.map((e) => e.id),
    [
      "rsa-2048",
      "rsa-3072",
      "rsa-4096",
      "rsa-8192",
      "elgamal-2048",
      "elgamal-3072",
      "elgamal-4096",
      "elgamal-6144",
      "elgamal-8192",
      "ml-kem-512",
      "ml-kem-768",
      "ml-kem-1024",
      "x25519",
      "x448",
      "aes-256-gcm",
      "chacha20-poly1305",
      "xchacha20-poly1305",
      "aes-256-gcm-siv",
      "ed25519",
      "ml-dsa-44",
      "ml-dsa-65",
      "ml-dsa-87",
      "ed25519+ml-dsa-65",
    ],
  );
  const kind = (e: unknown) =>
    symmetric.ENGINES.includes(e as never)
      ? "aead"
      : sig.ENGINES.includes(e as never)
      ? "signature"
      : "kem";
  assert.ok(ENGINES.every((e) => e.kind === kind(e)));
});

Deno.test("ENGINES and FACTORIES are frozen", () => {
  for (const list of [ENGINES, FACTORIES, ...Object.values(families).map((f) => f.ENGINES)]) {
    assert.ok(Object.isFrozen(list));
  }
  assert.ok(Object.isFrozen(rsa.FACTORIES) && Object.isFrozen(hybrid.FACTORIES));
});

Deno.test("a registry built from ENGINES and FACTORIES resolves RSA sizes and hybrids", () => {
  const mine = new EngineRegistry();
  for (const engine of ENGINES) mine.register(engine);
  for (const factory of FACTORIES) {
    mine.registerFactory(typeof factory === "function" ? factory(mine) : factory);
  }
  assert.equal(mine.kem("rsa-5120").publicKeySize, 640);
  assert.equal(mine.kem("x25519+ml-kem-768").family, "hybrid");
  // The hybrid factory resolves components in the registry it was made for, not the default one.
  const bare = new EngineRegistry();
  for (const factory of FACTORIES) {
    bare.registerFactory(typeof factory === "function" ? factory(bare) : factory);
  }
  assert.equal(bare.has("x25519+ml-kem-768"), false);
  assert.equal(bare.has("rsa-5120"), true);
});

Deno.test("the root export is the portable core: no transports, no modexp internals", () => {
  for (
    const name of [
      "connectTcp",
      "listenTcp",
      "memoryPair",
      "FrameReader",
      "textMessage",
      "modPow",
      "jacobi",
      "fixedBasePow",
      "bigintToBytes",
      "bytesToBigint",
    ]
  ) {
    assert.equal(name in core, false, `${name} is exported from mod.ts`);
  }
  for (
    const name of ["registry", "encrypt", "decrypt", "encryptStream", "inspect", "DecryptionError"]
  ) {
    assert.equal(name in core, true, `${name} is missing from mod.ts`);
  }
});
