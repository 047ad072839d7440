/**
 * Modular arithmetic for ElGamal over the RFC 7919 groups: the one piece of
 * arithmetic polycrypt owns, on native BigInt.
 *
 * **Not constant time.** BigInt operations take time that depends on their
 * values, and the sliding window below branches on exponent bits. An attacker
 * who can time many decapsulations with the same secret key precisely (same
 * machine, shared caches) may learn about the exponent. Prefer ML-KEM or
 * X25519 (or a hybrid) where that matters; ElGamal is here for comparison and
 * for users who want a finite-field component in a hybrid.
 *
 * @example
 * ```ts ignore
 * // Internal helper, not exported from an entry point: tests/engines/elgamal_test.ts runs this.
 * import assert from "node:assert/strict";
 * import { modPow } from "./modexp.ts";
 * assert.equal(modPow(4n, 13n, 497n), 445n);
 * ```
 *
 * @module
 */

const WINDOW = 5;

// Montgomery reduction (HAC Algorithm 14.32) in 1024-bit digits replaces BigInt `%` for odd moduli
// wider than 2048 bits. V8 divides a 6144-bit product by a 3072-bit modulus in about 9 us, 2.5x a
// 3072-bit multiplication; two rounds of "low digit times n', times the modulus, shift" cost less.
// Measured per modPow with a 275..400-bit exponent (one run, docs/engines/elgamal.md): 3072 bits
// 4.17 -> 3.18 ms, 4096 7.18 -> 6.37 ms, 6144 16.5 -> 15.0 ms, 8192 unchanged at 26-27 ms; at 2048
// bits V8's division is cheap and Montgomery is 1.4x slower, so the division path stays there.
// Digits of 512, 768 and 1536 bits were measured too and were no faster than 1024. Setting up
// n' and R mod m costs about 30 us a call (1% at 3072 bits), so nothing is cached per modulus.
const MONTGOMERY_MIN_BITS = 2049;
const MONTGOMERY_DIGIT_BITS = 1024;

interface Reduction {
  /** x in the representation `mul` works on. */
  enter(x: bigint): bigint;
  /** The representation of 1. */
  readonly one: bigint;
  /** a * b, both and the result in the representation. */
  mul(a: bigint, b: bigint): bigint;
  /** The plain value of a representation, in [0, modulus). */
  leave(x: bigint): bigint;
}

function divisionReduction(modulus: bigint): Reduction {
  return {
    enter: (x) => x,
    one: 1n,
    mul: (a, b) => a * b % modulus,
    leave: (x) => x % modulus,
  };
}

/** Montgomery form x * R mod m with R = 2^(1024 k) >= m, for odd m. */
function montgomeryReduction(modulus: bigint, bitLength: number): Reduction {
  const digits = Math.ceil(bitLength / MONTGOMERY_DIGIT_BITS);
  const digitBits = BigInt(MONTGOMERY_DIGIT_BITS);
  // n' = -m^-1 mod 2^1024 by Newton's iteration: each step doubles the correct low bits (1 -> 1024).
  let inverse = 1n;
  for (let bits = 1; bits < MONTGOMERY_DIGIT_BITS; bits *= 2) {
    inverse = BigInt.asUintN(MONTGOMERY_DIGIT_BITS, inverse * (2n - modulus * inverse));
  }
  const nPrime = BigInt.asUintN(MONTGOMERY_DIGIT_BITS, -inverse);
  const r = (1n << BigInt(digits * MONTGOMERY_DIGIT_BITS)) % modulus;
  // REDC one digit at a time: t + u * m is divisible by 2^1024, and t < m * R keeps the result < 2m.
  const redc = (t: bigint): bigint => {
    for (let i = 0; i < digits; i++) {
      const u = BigInt.asUintN(
        MONTGOMERY_DIGIT_BITS,
        BigInt.asUintN(MONTGOMERY_DIGIT_BITS, t) * nPrime,
      );
      t = (t + u * modulus) >> digitBits;
    }
    return t >= modulus ? t - modulus : t;
  };
  return {
    enter: (x) => x * r % modulus,
    one: r,
    mul: (a, b) => redc(a * b),
    leave: redc,
  };
}

/**
 * `base^exponent mod modulus` by left-to-right sliding-window exponentiation
 * (HAC Algorithm 14.85, window 5): about n squarings and n/6 multiplications
 * for an n-bit exponent, against n/2 for square-and-multiply. Odd moduli wider
 * than 2048 bits (every RFC 7919 group but ffdhe2048) multiply in Montgomery
 * form; the others reduce with BigInt `%`.
 *
 * @param base any BigInt (reduced first)
 * @param exponent >= 0
 * @param modulus > 1
 * @example
 * ```ts ignore
 * // Internal helper, not exported from an entry point: tests/engines/elgamal_test.ts runs this.
 * import assert from "node:assert/strict";
 * import { modPow } from "./modexp.ts";
 * assert.equal(modPow(2n, 10n, 1000n), 24n);
 * assert.throws(() => modPow(2n, -1n, 7n), RangeError);
 * ```
 */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (modulus <= 1n) throw new RangeError("modulus must be greater than 1");
  if (exponent < 0n) throw new RangeError("exponent must be non-negative");
  let b = base % modulus;
  if (b < 0n) b += modulus;
  if (exponent === 0n) return 1n;
  const bitLength = modulus.toString(16).length * 4;
  const { enter, one, mul, leave } = bitLength >= MONTGOMERY_MIN_BITS && (modulus & 1n) === 1n
    ? montgomeryReduction(modulus, bitLength)
    : divisionReduction(modulus);
  // Odd powers b^1, b^3, ..., b^(2^WINDOW - 1).
  const first = enter(b);
  const b2 = mul(first, first);
  const odd: bigint[] = [first];
  for (let i = 1; i < 1 << (WINDOW - 1); i++) odd.push(mul(odd[i - 1], b2));
  const bits = exponent.toString(2);
  let result = one;
  let i = 0;
  while (i < bits.length) {
    if (bits[i] === "0") {
      result = mul(result, result);
      i++;
      continue;
    }
    // The longest window of at most WINDOW bits starting here that ends in a 1.
    let j = Math.min(i + WINDOW, bits.length);
    while (bits[j - 1] === "0") j--;
    const value = parseInt(bits.slice(i, j), 2);
    for (let k = i; k < j; k++) result = mul(result, result);
    result = mul(result, odd[(value - 1) >> 1]);
    i = j;
  }
  return leave(result);
}

/**
 * `base^exponent mod modulus` for one fixed base, by the fixed-base windowing
 * method (HAC Algorithm 14.109 with h = 16): a table of `base^(d * 16^i)` for
 * every hex digit d and position i is built once (16 multiplications per
 * position), after which each power costs one multiplication per non-zero hex
 * digit of the exponent and no squarings: 4-5x fewer operations than
 * {@linkcode modPow} for the generator g = 2 of a group. Exponents wider than
 * `maxExponentBits` fall back to {@linkcode modPow}.
 *
 * @param base the fixed base
 * @param modulus > 1
 * @param maxExponentBits widest exponent the table covers
 * @example
 * ```ts ignore
 * // Internal helper, not exported from an entry point: tests/engines/elgamal_test.ts runs this.
 * import assert from "node:assert/strict";
 * import { fixedBasePow, modPow } from "./modexp.ts";
 * const pow2 = fixedBasePow(2n, 1000003n, 64);
 * assert.equal(pow2(20n), 48573n);
 * assert.equal(pow2(20n), modPow(2n, 20n, 1000003n));
 * ```
 */
export function fixedBasePow(
  base: bigint,
  modulus: bigint,
  maxExponentBits: number,
): (exponent: bigint) => bigint {
  if (modulus <= 1n) throw new RangeError("modulus must be greater than 1");
  const digits = Math.ceil(maxExponentBits / 4);
  // table[i][d] = base^(d * 16^i) mod modulus, built on first use.
  let table: bigint[][] | undefined;
  const build = (): bigint[][] => {
    const rows: bigint[][] = [];
    let g = ((base % modulus) + modulus) % modulus;
    for (let i = 0; i < digits; i++) {
      const row = [1n, g];
      for (let d = 2; d < 16; d++) row.push(row[d - 1] * g % modulus);
      rows.push(row);
      g = row[15] * g % modulus;
    }
    return rows;
  };
  return (exponent: bigint): bigint => {
    if (exponent < 0n) throw new RangeError("exponent must be non-negative");
    const hex = exponent.toString(16);
    if (hex.length > digits) return modPow(base, exponent, modulus);
    table ??= build();
    let result = 1n;
    for (let i = 0; i < hex.length; i++) {
      const d = parseInt(hex[hex.length - 1 - i], 16);
      if (d !== 0) result = result * table[i][d] % modulus;
    }
    return result % modulus;
  };
}

/**
 * The Jacobi symbol (a/n) for odd n > 0 (Cohen, "A Course in Computational
 * Algebraic Number Theory", Algorithm 1.4.10). For a prime n it is the
 * Legendre symbol: 1 for quadratic residues, -1 for non-residues, 0 for
 * multiples of n.
 *
 * @example
 * ```ts ignore
 * // Internal helper, not exported from an entry point: tests/engines/elgamal_test.ts runs this.
 * import assert from "node:assert/strict";
 * import { jacobi } from "./modexp.ts";
 * assert.equal(jacobi(2n, 7n), 1);
 * assert.equal(jacobi(3n, 7n), -1);
 * assert.equal(jacobi(14n, 7n), 0);
 * ```
 */
export function jacobi(a: bigint, n: bigint): -1 | 0 | 1 {
  if (n <= 0n || n % 2n === 0n) throw new RangeError("n must be odd and positive");
  a %= n;
  if (a < 0n) a += n;
  let t: -1 | 1 = 1;
  while (a !== 0n) {
    // Strip every factor of two in one shift (a & -a is the lowest set bit): a BigInt op per
    // run of zeros instead of one per bit, 3.5-4.5x faster on 2048..8192-bit values.
    const lowest = a & -a;
    if (lowest !== 1n) {
      const twos = lowest.toString(2).length - 1;
      a >>= BigInt(twos);
      const r = n & 7n;
      if ((twos & 1) === 1 && (r === 3n || r === 5n)) t = t === 1 ? -1 : 1;
    }
    [a, n] = [n, a];
    if ((a & 3n) === 3n && (n & 3n) === 3n) t = t === 1 ? -1 : 1;
    a %= n;
  }
  return n === 1n ? t : 0;
}
