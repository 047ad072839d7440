/**
 * The AND-cascade: multi-layer envelopes (AEAD stack inside recipient stanzas
 * inside an optional password layer), their streaming form, padding, armor,
 * and recipient/identity strings and objects. Byte format: `docs/format.md`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARGON2_FLOOR, decrypt, encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * const bob = await generateIdentity();
 * const sealed = await encrypt(new TextEncoder().encode("see you at 7"), {
 *   recipients: [bob.recipient],
 *   passphrase: "our shared phrase",
 *   argon2: ARGON2_FLOOR,
 *   aead: ["aes-256-gcm", "xchacha20-poly1305"],
 * });
 * const opened = await decrypt(sealed, {
 *   identities: [bob.identity],
 *   passphrase: "our shared phrase",
 * });
 * assert.equal(new TextDecoder().decode(opened), "see you at 7");
 * ```
 *
 * @module
 */
export * from "./envelope.ts";
export * from "./keys.ts";
export * from "./detached.ts";
export {
  type Identity,
  KemIdentity,
  KemRecipient,
  type Recipient,
  type SigningKey,
  type Stanza,
  STANZA_ATTEMPTS,
  type StanzaAttempts,
  type VerifyingKey,
} from "./stanza.ts";
export * from "./inspect.ts";
export { type EnvelopeSniff, LIMITS, MAGIC, sniffEnvelope } from "./format.ts";
export { armor, ARMOR_BEGIN, ARMOR_END, dearmor, isArmored } from "./armor.ts";
export * from "./argon2.ts";
export * from "./padding.ts";
export { CHUNK_SIZE } from "./stream.ts";
