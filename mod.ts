/**
 * polycrypt: a crypto engine for secure instant messaging.
 *
 * One KEM interface over RSA-OAEP, hashed ElGamal (RFC 7919 groups), ML-KEM
 * (FIPS 203) and DHKEM(X25519/X448) (RFC 9180), AEAD engines, and a registry
 * that third parties can extend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registry } from "@polycrypt/polycrypt";
 * const aead = registry.aead("aes-256-gcm");
 * const key = crypto.getRandomValues(new Uint8Array(aead.keySize));
 * const nonce = crypto.getRandomValues(new Uint8Array(aead.nonceSize));
 * const sealed = await aead.seal(key, nonce, new TextEncoder().encode("hi Bob"));
 * assert.equal(sealed.length, "hi Bob".length + aead.tagSize);
 * assert.equal(new TextDecoder().decode(await aead.open(key, nonce, sealed)), "hi Bob");
 * ```
 *
 * @module
 */
export * from "./engines/mod.ts";
export * from "./errors.ts";
export * from "./cascade/mod.ts";
export * from "./contacts/mod.ts";
export * from "./sessions/mod.ts";
