/**
 * Argon2id (RFC 9106) for the password layer, off the caller's event loop so
 * that a messenger stays responsive during the 64 MiB, three-pass default.
 * One exception: where a Web Worker cannot start without a permission prompt
 * (no `Worker`, or no read permission for the worker's module), the
 * WebAssembly backend runs on the calling thread and holds its event loop for
 * the whole derivation (up to {@linkcode ARGON2_CAP} for a hostile envelope);
 * grant `--allow-read` (or FFI, for the addon) to keep it off.
 *
 * Two backends compute the same function:
 * - `"native"`: node-argon2's prebuilt addon, the RFC 9106 reference code with
 *   one thread per lane (like the `argon2` CLI). It needs Deno's FFI
 *   permission (`--allow-ffi`) and a prebuilt binary for the platform.
 * - `"wasm"`: hash-wasm (WebAssembly) in a Web Worker; its lanes run one after
 *   another, so it takes about p times as long as the native backend on p
 *   free cores. @noble/hashes was 3.4x slower than hash-wasm here.
 *
 * `"auto"` (the default) uses the native backend when the FFI permission is
 * already granted and the addon loads, else the WebAssembly one. It never
 * prompts for a permission.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARGON2_FLOOR, argon2id } from "@polycrypt/polycrypt";
 * const salt = new TextEncoder().encode("saltsaltsaltsalt");
 * const key = await argon2id("correct horse", salt, ARGON2_FLOOR);
 * // Debian's argon2 CLI (the RFC 9106 reference code):
 * // echo -n "correct horse" | argon2 saltsaltsaltsalt -id -k 19456 -t 2 -p 1 -l 32 -r
 * assert.equal(key.toHex(), "01dc1e04bc1c7e59cd5f61d55bc8b532dbbb7ebae7e0a8bb87fad8486b94ec8b");
 * ```
 *
 * @module
 */
import { FormatError } from "../errors.ts";
import { checkBytes } from "../engines/_bytes.ts";
import { workerModuleReadable } from "../engines/_ffi.ts";
import { nodeBuiltin } from "../engines/_node.ts";
import { loadNativeArgon2 } from "./_argon2_native.ts";

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
 * import assert from "node:assert/strict";
 * import { ARGON2_DEFAULT } from "@polycrypt/polycrypt";
 * assert.deepEqual(ARGON2_DEFAULT, { memoryKiB: 65536, passes: 3, parallelism: 4 });
 * assert.ok(Object.isFrozen(ARGON2_DEFAULT));
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
 * import assert from "node:assert/strict";
 * import { ARGON2_FLOOR } from "@polycrypt/polycrypt";
 * assert.deepEqual(ARGON2_FLOOR, { memoryKiB: 19456, passes: 2, parallelism: 1 });
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
 * import assert from "node:assert/strict";
 * import { ARGON2_CAP } from "@polycrypt/polycrypt";
 * assert.deepEqual(ARGON2_CAP, { memoryKiB: 1048576, passes: 16, parallelism: 16 });
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
 * import assert from "node:assert/strict";
 * import { checkArgon2Params, FormatError } from "@polycrypt/polycrypt";
 * checkArgon2Params({ memoryKiB: 65536, passes: 1, parallelism: 4 }); // t = 1 is enough at 64 MiB
 * assert.throws(() => checkArgon2Params({ memoryKiB: 32768, passes: 1, parallelism: 4 }), FormatError);
 * assert.throws(() => checkArgon2Params({ memoryKiB: 2097152, passes: 3, parallelism: 4 }), FormatError);
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

/** Where Argon2id runs: see the module documentation. */
export type Argon2Backend = "auto" | "native" | "wasm";

/** Options of {@linkcode argon2id}. */
export interface Argon2Options {
  /** `"auto"` (default), `"native"` (rejects when it is unavailable) or `"wasm"`. */
  readonly backend?: Argon2Backend;
  /**
   * Called with 0 when the derivation starts computing (in its worker, once the worker is up)
   * and with 1 when the key is ready, so that a user interface can show "deriving the key" for
   * the one to three seconds it takes. Both backends compute the passes in one call (the
   * reference C code, or one WebAssembly call), so there is no finer step to report.
   */
  readonly onProgress?: (fraction: number) => void;
}

/**
 * The backend `"auto"` uses in this process: `"native"` when the FFI
 * permission is granted and node-argon2's addon loads, else `"wasm"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARGON2_FLOOR, argon2Backend, argon2id } from "@polycrypt/polycrypt";
 * const backend = await argon2Backend();
 * const ffi = (await Deno.permissions.query({ name: "ffi" })).state === "granted";
 * if (!ffi) assert.equal(backend, "wasm"); // never a prompt, never the addon without --allow-ffi
 * // "native" exactly when the addon can be had: asking for it then succeeds.
 * const nativeLoads = await argon2id("pw", new Uint8Array(16), ARGON2_FLOOR, { backend: "native" })
 *   .then(() => true, () => false);
 * assert.equal(backend, nativeLoads ? "native" : "wasm");
 * ```
 */
export async function argon2Backend(): Promise<"native" | "wasm"> {
  return (await loadNativeArgon2()) instanceof Error ? "wasm" : "native";
}

/**
 * Derives a 32-byte key from a passphrase (UTF-8, Unicode NFC), off the
 * caller's event loop. Both backends give the same key.
 *
 * @param passphrase the user's passphrase; must not be empty
 * @param salt 16 random bytes
 * @param params cost parameters, checked with {@linkcode checkArgon2Params}
 * @param options.backend `"auto"` (default), `"native"` (rejects when it is
 *   unavailable) or `"wasm"`
 * @param options.onProgress called with 0 when the work starts, 1 when it is done
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARGON2_FLOOR, argon2id } from "@polycrypt/polycrypt";
 * const salt = new Uint8Array(16);
 * const a = await argon2id("pw", salt, ARGON2_FLOOR);
 * const b = await argon2id("pw", salt, ARGON2_FLOOR, { backend: "wasm" });
 * assert.deepEqual(a, b); // both backends derive the same key
 * const progress: number[] = [];
 * await argon2id("pw", salt, ARGON2_FLOOR, { onProgress: (f) => progress.push(f) });
 * assert.deepEqual(progress, [0, 1]);
 * await assert.rejects(argon2id("", salt, ARGON2_FLOOR), TypeError);
 * ```
 */
export async function argon2id(
  passphrase: string,
  salt: Uint8Array,
  params: Argon2Params,
  options: Argon2Options = {},
): Promise<Uint8Array> {
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new TypeError("passphrase must be a non-empty string");
  }
  checkBytes("salt", salt, 16);
  checkArgon2Params(params);
  const backend = options?.backend ?? "auto";
  if (backend !== "auto" && backend !== "native" && backend !== "wasm") {
    throw new TypeError(`backend must be "auto", "native" or "wasm", not ${String(backend)}`);
  }
  const onProgress = options?.onProgress;
  if (onProgress !== undefined && typeof onProgress !== "function") {
    throw new TypeError("onProgress must be a function");
  }
  const password = new TextEncoder().encode(passphrase.normalize("NFC"));
  if (backend !== "wasm") {
    const native = await loadNativeArgon2();
    if (!(native instanceof Error)) {
      try {
        onProgress?.(0);
        const key = await native.hash(
          password,
          salt.slice(),
          params.memoryKiB,
          params.passes,
          params.parallelism,
        );
        onProgress?.(1);
        return key;
      } finally {
        password.fill(0);
      }
    }
    if (backend === "native") {
      password.fill(0);
      throw native;
    }
  }
  const kind = workerKind();
  const key = kind
    ? await inWorker(kind, password, salt.slice(), params, onProgress)
    : await inline(password, salt.slice(), params, onProgress);
  onProgress?.(1);
  return key;
}

const WORKER_URL = new URL("./_argon2_worker.ts", import.meta.url);

/**
 * Which worker can start here without a permission prompt: a Web Worker (Deno, browsers), a
 * node:worker_threads worker (Node, which has no global `Worker`), or none.
 */
function workerKind(): "web" | "node" | undefined {
  if (!workerModuleReadable(WORKER_URL)) return undefined;
  if (typeof Worker === "function") return "web";
  if (nodeBuiltin("node:worker_threads")) return "node";
  return undefined;
}

/**
 * hash-wasm on this thread, where no worker can start (no read permission, no Worker): the same
 * bytes, but the caller's event loop waits. Imported on first use only.
 */
async function inline(
  password: Uint8Array,
  salt: Uint8Array,
  params: Argon2Params,
  onProgress: ((fraction: number) => void) | undefined,
): Promise<Uint8Array> {
  const { hashWasmArgon2id } = await import("./_argon2_wasm.ts");
  onProgress?.(0);
  return await hashWasmArgon2id(password, salt, params);
}

/** What the worker posts: that it started hashing, then the key or why not. */
type WorkerReply = { started: true; key?: undefined; error?: undefined } | {
  started?: undefined;
  key?: Uint8Array;
  error?: string;
};

/**
 * hash-wasm in a worker of its own (a Web Worker, or node:worker_threads in Node); `password` is
 * transferred (the worker wipes it).
 */
async function inWorker(
  kind: "web" | "node",
  password: Uint8Array<ArrayBuffer>,
  salt: Uint8Array,
  params: Argon2Params,
  onProgress: ((fraction: number) => void) | undefined,
): Promise<Uint8Array> {
  const job = {
    password,
    salt,
    memoryKiB: params.memoryKiB,
    passes: params.passes,
    parallelism: params.parallelism,
  };
  let stop: () => unknown = () => {};
  try {
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      const receive = (data: WorkerReply) => {
        if (data.started) onProgress?.(0);
        else resolve(data);
      };
      const fail = () => reject(new Error("the Argon2id worker failed"));
      if (kind === "web") {
        const worker = new Worker(WORKER_URL, { type: "module" });
        stop = () => worker.terminate();
        worker.onmessage = (e) => receive(e.data);
        worker.onerror = (e) => {
          e.preventDefault();
          fail();
        };
        worker.postMessage(job, [job.password.buffer]);
      } else {
        const worker = new (nodeBuiltin("node:worker_threads")!.Worker)(WORKER_URL);
        stop = () => worker.terminate();
        worker.on("message", receive);
        worker.on("error", fail);
        worker.on("exit", fail);
        worker.postMessage(job, [job.password.buffer]);
      }
    });
    if (!reply.key) throw new Error(reply.error ?? "argon2id failed");
    return reply.key;
  } finally {
    stop();
  }
}
