/**
 * Hashed ElGamal (DHIES-style KEM) over the RFC 7919 ffdhe groups.
 *
 * - `publicKey` y = g^x mod p, big-endian, left-padded to the byte length of p
 * - `encapsulation` c = g^k mod p, same encoding
 * - `sharedSecret` = HKDF-SHA-256(ikm = y^k, salt = "polycrypt/1 elgamal <id>", info = c || y, 32)
 * - `secretKey` x, big-endian in ceil(expBits / 8) bytes, 2 <= x < 2^expBits
 *
 * Exponents are short, as RFC 7919 section 5.2 and Appendix A allow: 225,
 * 275, 325, 375 and 400 bits for the 2048 ... 8192-bit groups (twice the
 * group's estimated strength, which defeats Pollard's lambda / van Oorschot
 * and Wiener). Every public value and encapsulation must lie in [2, p - 2]
 * and in the prime-order-q subgroup, else {@linkcode InvalidKeyError}. For a
 * safe prime p = 2q + 1 that subgroup is exactly the quadratic residues, so
 * x^q = 1 (mod p) is decided by the Legendre symbol (x/p) = 1, about 100x
 * cheaper than the exponentiation (tests check both agree).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elgamal2048, InvalidKeyError } from "@polycrypt/polycrypt";
 * const { publicKey, secretKey } = await elgamal2048.generateKeyPair();
 * assert.equal(secretKey.length, Math.ceil(225 / 8)); // a short exponent
 * const { encapsulation, sharedSecret } = await elgamal2048.encapsulate(publicKey);
 * assert.deepEqual(await elgamal2048.decapsulate(encapsulation, secretKey), sharedSecret);
 * // p - 1 is not in the prime-order subgroup.
 * const pMinus1 = publicKey.slice().fill(0xff);
 * pMinus1[pMinus1.length - 1] = 0xfe;
 * await assert.rejects(elgamal2048.encapsulate(pMinus1), InvalidKeyError);
 * ```
 *
 * @module
 */
import forge from "node-forge";
import { InvalidKeyError } from "../../errors.ts";
import { checkBytes, concatBytes } from "../_bytes.ts";
import { LruCache, secretTag, settle } from "../_cache.ts";
import { hkdf } from "../hkdf.ts";
import type { Encapsulation, KemEngine, KemKeyPair } from "../types.ts";
import { FFDHE_PRIMES_HEX } from "./_primes.ts";
import { runInWorker, type WorkerJob } from "./_modexp_pool.ts";
import { bigintToBytes, bytesToBigint } from "../_bytes.ts";
import { fixedBasePow, jacobi, modPow } from "./modexp.ts";

/** Group sizes polycrypt offers. */
export type FfdheBits = 2048 | 3072 | 4096 | 6144 | 8192;

/** One RFC 7919 group and the parameters polycrypt uses with it. */
export interface FfdheGroup {
  /** RFC 7919 name, e.g. `"ffdhe2048"`. */
  readonly name: string;
  /** Size of `p` in bits. */
  readonly bits: FfdheBits;
  /** The safe prime modulus. */
  readonly p: bigint;
  /** `(p - 1) / 2`, the prime order of the subgroup `g` generates. */
  readonly q: bigint;
  /** The generator, 2. */
  readonly g: bigint;
  /** Secret exponent size, RFC 7919 Appendix A. */
  readonly exponentBits: number;
  /** RFC 7919 Appendix A's estimated strength. */
  readonly securityBits: number;
}

const PARAMS: Record<FfdheBits, [number, number]> = {
  2048: [225, 103],
  3072: [275, 125],
  4096: [325, 150],
  6144: [375, 175],
  8192: [400, 192],
};

/**
 * The five RFC 7919 groups.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FFDHE_GROUPS } from "@polycrypt/polycrypt";
 * const { name, p, q, g, exponentBits } = FFDHE_GROUPS[2048];
 * assert.equal(name, "ffdhe2048");
 * assert.equal(exponentBits, 225);
 * assert.equal(p.toString(16).length * 4, 2048);
 * assert.equal(q, (p - 1n) / 2n);
 * assert.equal(g, 2n);
 * ```
 */
export const FFDHE_GROUPS: Readonly<Record<FfdheBits, FfdheGroup>> = Object.freeze(
  Object.fromEntries(
    (Object.keys(PARAMS).map(Number) as FfdheBits[]).map((bits) => {
      const p = BigInt("0x" + FFDHE_PRIMES_HEX[bits]);
      const [exponentBits, securityBits] = PARAMS[bits];
      return [
        bits,
        Object.freeze({
          name: `ffdhe${bits}`,
          bits,
          p,
          q: (p - 1n) / 2n,
          g: 2n,
          exponentBits,
          securityBits,
        }),
      ];
    }),
  ) as Record<FfdheBits, FfdheGroup>,
);

/** Where the modular exponentiation runs. */
export type ElGamalBackend = "bigint" | "forge";

type ModPow = (base: bigint, exponent: bigint, modulus: bigint) => bigint;

const forgeModPow: ModPow = (base, exponent, modulus) => {
  const big = (v: bigint) => new forge.jsbn.BigInteger(v.toString(16), 16);
  return BigInt("0x" + big(base).modPow(big(exponent), big(modulus)).toString(16));
};

const MOD_POW: Record<ElGamalBackend, ModPow> = { bigint: modPow, forge: forgeModPow };

// One fixed-base table per group, shared by every BigInt engine over it and built on first use.
const GENERATOR_POW = new Map<FfdheBits, (exponent: bigint) => bigint>();
function generatorPow(group: FfdheGroup): (exponent: bigint) => bigint {
  let pow = GENERATOR_POW.get(group.bits);
  if (!pow) {
    pow = fixedBasePow(group.g, group.p, group.exponentBits);
    GENERATOR_POW.set(group.bits, pow);
  }
  return pow;
}

/**
 * Whether `value` is a valid public value of the group: in [2, p - 2] and in
 * the order-q subgroup (a quadratic residue mod the safe prime p).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FFDHE_GROUPS, isGroupElement } from "@polycrypt/polycrypt";
 * const group = FFDHE_GROUPS[2048];
 * assert.equal(isGroupElement(group, 4n), true); // 2^2, a quadratic residue
 * assert.equal(isGroupElement(group, group.p - 1n), false); // order 2
 * assert.equal(isGroupElement(group, 1n), false); // outside [2, p - 2]
 * ```
 */
export function isGroupElement(group: FfdheGroup, value: bigint): boolean {
  return value >= 2n && value <= group.p - 2n && jacobi(value, group.p) === 1;
}

/**
 * Where an engine's exponentiations and subgroup tests run: `"worker"` in a small pool of workers
 * (one per core, at most 4), which leaves the caller's event loop free, runs an encapsulation's
 * two exponentiations at once and the subgroup test beside the exponentiation; `"inline"` on the
 * calling thread; `"auto"` (default) in the workers for groups of 3072 bits and more, inline for
 * ffdhe2048. Measured here (docs/engines/elgamal.md, "Threads"): one at a time, the workers
 * decapsulate at 0.95-1.01x the inline rate at 3072 bits and 1.07-1.18x at 6144 and 8192, and
 * encapsulate at 1.07-1.36x; at 2048 bits a worker's round trip costs 12-30% of a decapsulation,
 * which inline blocks the event loop for only 1.5 ms (4.3 ms at 3072, 31 ms at 8192).
 */
export type ElGamalThread = "auto" | "worker" | "inline";

/** `"auto"` puts groups of at least this many bits in the workers. */
const WORKER_MIN_BITS = 3072;

/**
 * Makes an ElGamal KEM over the RFC 7919 group of `bits`.
 *
 * @param options.backend `"bigint"` (ours, default: 8-10x faster) or `"forge"` (node-forge jsbn)
 * @param options.thread where the `"bigint"` exponentiations run, see {@linkcode ElGamalThread};
 *   `"forge"` runs inline. The workers need read access to this module's folder; without it,
 *   `"auto"` runs inline and `"worker"` fails with the permission error.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createElGamalEngine, elgamal3072 } from "@polycrypt/polycrypt";
 * const forge = createElGamalEngine(3072, { backend: "forge" });
 * assert.equal(forge.id, "elgamal-3072");
 * assert.equal(forge.publicKeySize, 384);
 * assert.equal(forge.securityBits, 125);
 * assert.equal(forge.thread, "inline");
 * assert.equal(createElGamalEngine(3072).thread, "worker");
 * assert.equal(createElGamalEngine(2048).thread, "inline");
 * // Backends differ only in speed: the bytes interoperate.
 * const bob = await elgamal3072.generateKeyPair();
 * const { encapsulation, sharedSecret } = await forge.encapsulate(bob.publicKey);
 * assert.deepEqual(await elgamal3072.decapsulate(encapsulation, bob.secretKey), sharedSecret);
 * ```
 */
export function createElGamalEngine(
  bits: FfdheBits,
  options: { backend?: ElGamalBackend; thread?: ElGamalThread } = {},
): KemEngine & {
  readonly backend: ElGamalBackend;
  readonly thread: "worker" | "inline";
  readonly group: FfdheGroup;
} {
  const group = FFDHE_GROUPS[bits];
  if (!group) throw new RangeError("bits must be 2048, 3072, 4096, 6144 or 8192");
  const backend = options.backend ?? "bigint";
  const pow = MOD_POW[backend];
  if (!pow) throw new TypeError(`backend must be "bigint" or "forge"`);
  const requested = options.thread ?? "auto";
  if (!["auto", "worker", "inline"].includes(requested)) {
    throw new TypeError(`thread must be "auto", "worker" or "inline"`);
  }
  if (requested === "worker" && backend !== "bigint") {
    throw new TypeError(`thread "worker" needs backend "bigint"`);
  }
  const thread = backend === "bigint" &&
      (requested === "worker" || (requested === "auto" && bits >= WORKER_MIN_BITS))
    ? "worker"
    : "inline";
  const id = `elgamal-${bits}`;
  const size = bits / 8;
  const skSize = Math.ceil(group.exponentBits / 8);
  const salt = new TextEncoder().encode(`polycrypt/1 elgamal ${id}`);
  const topMask = (1 << (group.exponentBits % 8 || 8)) - 1;
  const inlinePowG: (exponent: bigint) => bigint = backend === "bigint"
    ? generatorPow(group)
    : (exponent) => pow(group.g, exponent, group.p);
  const generatorTable = { name: group.name, maxExponentBits: group.exponentBits };

  // g^e, base^e mod p and the subgroup test, in the workers or inline. In "auto", a pool that
  // cannot start (no read permission) means inline from then on.
  let useWorker = thread === "worker";
  const inWorkerOr = (job: WorkerJob, inline: () => bigint): Promise<bigint> => {
    if (useWorker) {
      try {
        return runInWorker(job);
      } catch (e) {
        if (requested === "worker") return Promise.reject(e);
        useWorker = false;
      }
    }
    return settle(inline);
  };
  const powG = (exponent: bigint) =>
    inWorkerOr(
      { op: "pow", base: group.g, exponent, modulus: group.p, fixedBase: generatorTable },
      () => inlinePowG(exponent),
    );
  const powP = (base: bigint, exponent: bigint) =>
    inWorkerOr({ op: "pow", base, exponent, modulus: group.p }, () => pow(base, exponent, group.p));

  // Decapsulation hashes the public key y = g^x. A messenger decapsulates under the same few
  // identities all day, so y is kept for the last 32 secret keys, by their secretTag.
  const publicKeys = new LruCache<string, Uint8Array>(32);

  function randomExponent(): bigint {
    // Uniform in [2, 2^exponentBits): mask the top byte, resample the tiny rest.
    for (;;) {
      const bytes = crypto.getRandomValues(new Uint8Array(skSize));
      bytes[0] &= topMask;
      const x = bytesToBigint(bytes);
      if (x >= 2n) return x;
    }
  }

  function parseSecret(secretKey: Uint8Array): bigint {
    checkBytes("secretKey", secretKey, skSize);
    const x = bytesToBigint(secretKey);
    if (x < 2n || x >> BigInt(group.exponentBits) !== 0n) {
      throw new InvalidKeyError(`secretKey is outside [2, 2^${group.exponentBits})`);
    }
    return x;
  }

  const notAnElement = (name: string) =>
    new InvalidKeyError(`${name} is not an element of the ${group.name} subgroup`);

  // An element's bytes, checked to lie in [2, p - 2], and its subgroup test (the Legendre symbol)
  // as a promise. Inline the test runs here; in the workers it runs beside the exponentiation of
  // the same value, whose result is dropped if the test fails (the test is 0.5-1.3 ms of a
  // 2048..4096-bit decapsulation, which covers the worker's round trip).
  function parseElement(name: string, bytes: Uint8Array): [bigint, Promise<void>] {
    checkBytes(name, bytes, size);
    const v = bytesToBigint(bytes);
    if (!useWorker) {
      if (!isGroupElement(group, v)) throw notAnElement(name);
      return [v, Promise.resolve()];
    }
    // isGroupElement's range check here, its Legendre symbol in a worker.
    if (v < 2n || v > group.p - 2n) throw notAnElement(name);
    const tested = inWorkerOr(
      { op: "jacobi", value: v, modulus: group.p },
      () => BigInt(jacobi(v, group.p)),
    ).then((symbol) => {
      if (symbol !== 1n) throw notAnElement(name);
    });
    return [v, tested];
  }

  const encode = (v: bigint) => bigintToBytes(v, size);

  async function derive(shared: bigint, c: Uint8Array, y: Uint8Array): Promise<Uint8Array> {
    return await hkdf("SHA-256", encode(shared), salt, concatBytes(c, y), 32);
  }

  // Inputs are parsed and copied before the first await, so a caller changing them afterwards
  // changes nothing.
  return Object.freeze({
    kind: "kem" as const,
    id,
    family: "elgamal",
    postQuantum: false,
    securityBits: group.securityBits,
    publicKeySize: size,
    encapsulationSize: size,
    sharedSecretSize: 32,
    backend,
    thread,
    group,
    async generateKeyPair(): Promise<KemKeyPair> {
      const x = randomExponent();
      return { publicKey: encode(await powG(x)), secretKey: bigintToBytes(x, skSize) };
    },
    async encapsulate(publicKey: Uint8Array): Promise<Encapsulation> {
      const [y, subgroupTested] = parseElement("publicKey", publicKey);
      const yBytes = publicKey.slice();
      const k = randomExponent();
      const [shared, c] = await Promise.all([
        powP(y, k),
        powG(k),
        subgroupTested,
      ]);
      const encapsulation = encode(c);
      return { encapsulation, sharedSecret: await derive(shared, encapsulation, yBytes) };
    },
    async decapsulate(encapsulation: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
      checkBytes("encapsulation", encapsulation, size);
      const x = parseSecret(secretKey);
      const [c, subgroupTested] = parseElement("encapsulation", encapsulation);
      const cBytes = encapsulation.slice();
      const tag = secretTag(secretKey);
      const cached = publicKeys.get(tag);
      const [shared, y] = await Promise.all([
        powP(c, x),
        cached ?? powG(x).then((v) => publicKeys.set(tag, encode(v))),
        subgroupTested,
      ]);
      return await derive(shared, cBytes, y.slice());
    },
    async publicKeyFromSecretKey(secretKey: Uint8Array): Promise<Uint8Array> {
      return encode(await powG(parseSecret(secretKey)));
    },
  });
}

/**
 * `elgamal-2048` over ffdhe2048.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elgamal2048, FFDHE_GROUPS, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("elgamal-2048"), elgamal2048);
 * assert.equal(elgamal2048.publicKeySize, 256);
 * assert.equal(elgamal2048.securityBits, FFDHE_GROUPS[2048].securityBits);
 * ```
 */
export const elgamal2048: KemEngine = createElGamalEngine(2048);
/**
 * `elgamal-3072` over ffdhe3072.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elgamal3072, FFDHE_GROUPS, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("elgamal-3072"), elgamal3072);
 * assert.equal(elgamal3072.publicKeySize, 384);
 * assert.equal(elgamal3072.securityBits, FFDHE_GROUPS[3072].securityBits);
 * ```
 */
export const elgamal3072: KemEngine = createElGamalEngine(3072);
/**
 * `elgamal-4096` over ffdhe4096.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elgamal4096, FFDHE_GROUPS, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("elgamal-4096"), elgamal4096);
 * assert.equal(elgamal4096.publicKeySize, 512);
 * assert.equal(elgamal4096.securityBits, FFDHE_GROUPS[4096].securityBits);
 * ```
 */
export const elgamal4096: KemEngine = createElGamalEngine(4096);
/**
 * `elgamal-6144` over ffdhe6144.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elgamal6144, FFDHE_GROUPS, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("elgamal-6144"), elgamal6144);
 * assert.equal(elgamal6144.publicKeySize, 768);
 * assert.equal(elgamal6144.securityBits, FFDHE_GROUPS[6144].securityBits);
 * ```
 */
export const elgamal6144: KemEngine = createElGamalEngine(6144);
/**
 * `elgamal-8192` over ffdhe8192.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { elgamal8192, FFDHE_GROUPS, registry } from "@polycrypt/polycrypt";
 * assert.equal(registry.kem("elgamal-8192"), elgamal8192);
 * assert.equal(elgamal8192.publicKeySize, 1024);
 * assert.equal(elgamal8192.securityBits, FFDHE_GROUPS[8192].securityBits);
 * ```
 */
export const elgamal8192: KemEngine = createElGamalEngine(8192);
