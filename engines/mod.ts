/**
 * polycrypt's engines and the default registry that holds them.
 *
 * Every asymmetric engine is a {@linkcode KemEngine}; every symmetric one an
 * {@linkcode AeadEngine}. `registry` knows all built-ins, resolves any RSA
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
import { EngineRegistry } from "./registry.ts";
import { hybridFactory } from "./hybrid.ts";
import { rsa2048, rsa3072, rsa4096, rsa8192, rsaFactory } from "./rsa/mod.ts";
import { elgamal2048, elgamal3072, elgamal4096, elgamal6144, elgamal8192 } from "./elgamal/mod.ts";
import { mlKem1024, mlKem512, mlKem768 } from "./mlkem/mod.ts";
import { x25519, x448 } from "./ecc/mod.ts";
import { aes256Gcm, aes256GcmSiv, chacha20Poly1305, xchacha20Poly1305 } from "./symmetric/mod.ts";

export * from "./types.ts";
export * from "./registry.ts";
export * from "./hkdf.ts";
export * from "./hybrid.ts";
export * from "./rsa/mod.ts";
export * from "./elgamal/mod.ts";
export * from "./mlkem/mod.ts";
export * from "./ecc/mod.ts";
export * from "./symmetric/mod.ts";

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
for (
  const engine of [
    rsa2048,
    rsa3072,
    rsa4096,
    rsa8192,
    elgamal2048,
    elgamal3072,
    elgamal4096,
    elgamal6144,
    elgamal8192,
    mlKem512,
    mlKem768,
    mlKem1024,
    x25519,
    x448,
    aes256Gcm,
    chacha20Poly1305,
    xchacha20Poly1305,
    aes256GcmSiv,
  ]
) registry.register(engine);
registry.registerFactory(rsaFactory);
registry.registerFactory(hybridFactory(registry));
