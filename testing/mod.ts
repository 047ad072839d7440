/**
 * The conformance kit: the checks every polycrypt engine passes, built-in or third-party. A plugin
 * author runs them from `Deno.test` against their own engine before registering it.
 *
 * @example
 * ```ts
 * import { aes256Gcm } from "@polycrypt/polycrypt";
 * import { aeadConformance } from "@polycrypt/polycrypt/testing";
 * Deno.test("my AEAD is conformant", (t) => aeadConformance(t, aes256Gcm));
 * ```
 *
 * @module
 */
export * from "./conformance.ts";
export * from "./assert.ts";
