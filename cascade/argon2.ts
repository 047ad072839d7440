/**
 * Argon2id (RFC 9106) for the password layer, run in a worker so that a
 * messenger's event loop stays responsive during the 64 MiB, three-pass
 * default. The backend is hash-wasm (WebAssembly, measured near native speed;
 * @noble/hashes was 3.4x slower here).
 *
 * @example
 * ```ts
 * import { argon2id, ARGON2_FLOOR } from "./argon2.ts";
 * const key = await argon2id("correct horse", new Uint8Array(16), ARGON2_FLOOR);
 * console.log(key.length); // 32
 * ```
 *
 * @module
 */
import { FormatError } from "../errors.ts";
import { checkBytes } from "../engines/_bytes.ts";

/** Argon2id cost parameters. */
export interface Argon2Params {
  /** Memory in KiB (RFC 9106 `m`). */
  readonly memoryKiB: number;
  /** Passes over memory (`t`). */
  readonly passes: number;
  /** Lanes (`p`). */
  readonly parallelism: number;
}

/**
 * RFC 9106 section 4, second recommended option: 64 MiB, t = 3, p = 4.
 *
 * @example
 * ```ts
 * import { ARGON2_DEFAULT } from "./argon2.ts";
 * console.log(ARGON2_DEFAULT.memoryKiB); // 65536
 * ```
 */
export const ARGON2_DEFAULT: Argon2Params = Object.freeze({
  memoryKiB: 65536,
  passes: 3,
  parallelism: 4,
});

/**
 * The weakest parameters a reader accepts: OWASP's minimum for Argon2id (19 MiB, t = 2, p = 1).
 *
 * @example
 * ```ts
 * import { ARGON2_FLOOR } from "./argon2.ts";
 * console.log(ARGON2_FLOOR.memoryKiB); // 19456
 * ```
 */
export const ARGON2_FLOOR: Argon2Params = Object.freeze({
  memoryKiB: 19456,
  passes: 2,
  parallelism: 1,
});

/**
 * The most a reader will spend: 1 GiB, 16 passes, 16 lanes. A hostile file
 * cannot make us allocate more.
 *
 * @example
 * ```ts
 * import { ARGON2_CAP } from "./argon2.ts";
 * console.log(ARGON2_CAP.memoryKiB); // 1048576
 * ```
 */
export const ARGON2_CAP: Argon2Params = Object.freeze({
  memoryKiB: 1048576,
  passes: 16,
  parallelism: 16,
});

/**
 * Throws {@linkcode FormatError} unless `params` lie within
 * [{@linkcode ARGON2_FLOOR}, {@linkcode ARGON2_CAP}] and `m >= 8p` (RFC 9106 section 3.1).
 * The floor on passes is 1 when memory is at least 64 MiB, else 2.
 *
 * @example
 * ```ts
 * import { checkArgon2Params } from "./argon2.ts";
 * checkArgon2Params({ memoryKiB: 65536, passes: 3, parallelism: 4 }); // ok
 * ```
 */
export function checkArgon2Params(params: Argon2Params): void {
  const { memoryKiB: m, passes: t, parallelism: p } = params ?? {};
  const ok = (v: unknown, lo: number, hi: number) =>
    Number.isSafeInteger(v) && (v as number) >= lo && (v as number) <= hi;
  const minPasses = m >= 65536 ? 1 : ARGON2_FLOOR.passes;
  if (
    !ok(m, ARGON2_FLOOR.memoryKiB, ARGON2_CAP.memoryKiB) ||
    !ok(t, minPasses, ARGON2_CAP.passes) ||
    !ok(p, ARGON2_FLOOR.parallelism, ARGON2_CAP.parallelism) || m < 8 * p
  ) {
    throw new FormatError(
      `Argon2id parameters m=${m} KiB, t=${t}, p=${p} are outside the accepted bounds ` +
        `(m ${ARGON2_FLOOR.memoryKiB}..${ARGON2_CAP.memoryKiB}, t ${minPasses}..${ARGON2_CAP.passes}, ` +
        `p ${ARGON2_FLOOR.parallelism}..${ARGON2_CAP.parallelism})`,
    );
  }
}

/**
 * Derives a 32-byte key from a passphrase (UTF-8, Unicode NFC) in a worker.
 *
 * @param passphrase the user's passphrase; must not be empty
 * @param salt 16 random bytes
 * @param params cost parameters, checked with {@linkcode checkArgon2Params}
 * @example
 * ```ts
 * import { argon2id, ARGON2_FLOOR } from "./argon2.ts";
 * const a = await argon2id("pw", new Uint8Array(16), ARGON2_FLOOR);
 * const b = await argon2id("pw", new Uint8Array(16), ARGON2_FLOOR);
 * console.log(a.toHex() === b.toHex()); // true
 * ```
 */
export async function argon2id(
  passphrase: string,
  salt: Uint8Array,
  params: Argon2Params,
): Promise<Uint8Array> {
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new TypeError("passphrase must be a non-empty string");
  }
  checkBytes("salt", salt, 16);
  checkArgon2Params(params);
  const job = {
    password: new TextEncoder().encode(passphrase.normalize("NFC")),
    salt: salt.slice(),
    memoryKiB: params.memoryKiB,
    passes: params.passes,
    parallelism: params.parallelism,
  };
  const worker = new Worker(new URL("./_argon2_worker.ts", import.meta.url), { type: "module" });
  try {
    const reply = await new Promise<{ key?: Uint8Array; error?: string }>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error("the Argon2id worker failed"));
      };
      worker.postMessage(job, [job.password.buffer]);
    });
    if (!reply.key) throw new Error(reply.error ?? "argon2id failed");
    return reply.key;
  } finally {
    worker.terminate();
  }
}
