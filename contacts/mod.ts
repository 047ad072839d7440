/**
 * Short names for keys: fingerprints to read aloud or type, and safety numbers that two people
 * compare to know that each holds the other's real key (docs/contacts.md); or, comparing
 * nothing, a check that both typed the same secret, bound to both keys (`startSecretCheck`,
 * CPace; docs/sessions.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fingerprint, generateIdentity, safetyNumber } from "@polycrypt/polycrypt";
 * const alice = await generateIdentity();
 * const bob = await generateIdentity();
 * assert.match(fingerprint(bob.recipient), /^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
 * // Alice and Bob each compute it from their own key and the other's: the same 60 digits.
 * assert.equal(
 *   safetyNumber(alice.recipient, bob.recipient),
 *   safetyNumber(bob.recipient, alice.recipient),
 * );
 * ```
 *
 * @module
 */
export {
  fingerprint,
  FINGERPRINT_BYTES,
  formatSafetyNumber,
  SAFETY_NUMBER_ITERATIONS,
  safetyNumber,
} from "./fingerprint.ts";
export {
  SECRET_CHECK_CONFIRMATION_BYTES,
  SECRET_CHECK_MAX_BINDING_BYTES,
  SECRET_CHECK_MAX_SECRET_BYTES,
  SECRET_CHECK_SHARE_BYTES,
  type SecretCheck,
  type SecretCheckOptions,
  startSecretCheck,
} from "./secret_verify.ts";
