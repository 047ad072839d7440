/**
 * The one `assertRejects` that polycrypt's tests and the conformance kit use: it checks the error's
 * class, not its message, because every decryption failure shares one message on purpose.
 *
 * @module
 */
import assert from "node:assert/strict";

/** A constructor of an `Error` subclass, for {@linkcode assertRejects}. */
export type ErrorClass = new (...args: never[]) => Error;

/**
 * Asserts that `promise` rejects with an instance of one of `kinds` and returns the error.
 *
 * @param promise The operation expected to fail.
 * @param kinds The acceptable error classes.
 * @param message A label for the assertion message.
 * @returns The rejection reason.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { assertRejects } from "@polycrypt/polycrypt/testing";
 * const error = await assertRejects(Promise.reject(new RangeError("no")), [RangeError]);
 * assert.equal(error.message, "no");
 * await assert.rejects(assertRejects(Promise.resolve(1), [RangeError]));
 * ```
 */
export async function assertRejects(
  promise: Promise<unknown>,
  kinds: ErrorClass[],
  message = "",
): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    assert.ok(
      kinds.some((k) => e instanceof k),
      `${message}: got ${(e as Error)?.name}: ${(e as Error)?.message}`,
    );
    return e as Error;
  }
  assert.fail(`${message}: did not reject`);
}
