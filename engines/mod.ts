/**
 * polycrypt's engines and the default registry that holds them.
 *
 * Every key-encapsulation engine is a {@linkcode KemEngine}, every symmetric one an
 * {@linkcode AeadEngine}, every signature engine a {@linkcode SignatureEngine}.
 * `registry` knows all built-ins, resolves any RSA
 * size from 2048 to 16384 bits (`"rsa-5120"`), and accepts plugins.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registry } from "@polycrypt/polycrypt";
 * const kem = registry.kem("ml-kem-768");
 * const { publicKey, secretKey } = await kem.generateKeyPair();
 * const { encapsulation, sharedSecret } = await kem.encapsulate(publicKey);
 * assert.equal(encapsulation.length, kem.encapsulationSize);
 * assert.deepEqual(await kem.decapsulate(encapsulation, secretKey), sharedSecret);
 * assert.equal(registry.kem("rsa-5120").publicKeySize, 640); // any RSA size, by factory
 * ```
 *
 * @module
 */
import type { Engine } from "./types.ts";
import { type BuiltinFactory, EngineRegistry } from "./registry.ts";
import * as hybrid from "./hybrid.ts";
import * as rsa from "./rsa/mod.ts";
import * as elgamal from "./elgamal/mod.ts";
import * as mlkem from "./mlkem/mod.ts";
import * as ecc from "./ecc/mod.ts";
import * as symmetric from "./symmetric/mod.ts";
import * as sig from "./sig/mod.ts";

export * from "./types.ts";
export * from "./registry.ts";
export * from "./hkdf.ts";
export * from "./hybrid.ts";
export * from "./rsa/mod.ts";
export * from "./elgamal/mod.ts";
export * from "./mlkem/mod.ts";
export * from "./ecc/mod.ts";
export * from "./symmetric/mod.ts";
export * from "./sig/mod.ts";

// Every family's folder lists its own built-ins (ENGINES, FACTORIES); this module only joins the
// lists, so a new built-in family touches its own folder and one line in each list below. These
// two exports also settle the families' same-named ones, which `export *` would leave ambiguous.

/** Every built-in engine, family by family, in the order the default registry registers them. */
export const ENGINES: readonly Engine[] = Object.freeze([
  ...rsa.ENGINES,
  ...elgamal.ENGINES,
  ...mlkem.ENGINES,
  ...ecc.ENGINES,
  ...hybrid.ENGINES,
  ...symmetric.ENGINES,
  ...sig.ENGINES,
]);

/** Every built-in factory ({@linkcode BuiltinFactory}): RSA sizes, then hybrids. */
export const FACTORIES: readonly BuiltinFactory[] = Object.freeze([
  ...rsa.FACTORIES,
  ...hybrid.FACTORIES,
]);

/**
 * The default registry with every built-in engine. Plugins add theirs with
 * `registry.register(engine)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registry } from "@polycrypt/polycrypt";
 * assert.ok(registry.ids().includes("x25519"));
 * assert.equal(registry.kem("x25519+ml-kem-768").family, "hybrid");
 * ```
 */
export const registry: EngineRegistry = new EngineRegistry();
for (const engine of ENGINES) registry.register(engine);
for (const factory of FACTORIES) {
  registry.registerFactory(typeof factory === "function" ? factory(registry) : factory);
}
