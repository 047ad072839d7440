/**
 * Length hiding with PADME (Nikitin, Barman, Lueks, Underwood, Hubaux, Ford:
 * "Reducing Metadata Leakage from Encrypted Files and Communication with
 * PURBs", PETS 2019, section 4).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { padmeLength } from "@polycrypt/polycrypt";
 * assert.equal(padmeLength(1000), 1024);
 * ```
 *
 * @module
 */

/**
 * The PADME size class of a length `L`: `L` rounded up so that only its top
 * `floor(log2 floor(log2 L)) + 1` bits may be non-zero. Overhead at most ~12%,
 * leaking O(log log L) bits.
 *
 * @param length a non-negative safe integer
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { padmeLength } from "@polycrypt/polycrypt";
 * assert.deepEqual([padmeLength(9), padmeLength(65537), padmeLength(2 ** 30 + 1)], [
 *   10,
 *   67584,
 *   1107296256,
 * ]);
 * assert.throws(() => padmeLength(-1), RangeError);
 * ```
 */
export function padmeLength(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError("length must be a non-negative safe integer");
  }
  if (length < 2) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const mask = 2 ** (e - s);
  return Math.ceil(length / mask) * mask;
}
