// Internal: whether this process may load native code (Deno's FFI permission) or start a worker
// from a file (read permission). The optional backends (RSA in OpenSSL, Argon2id in node-argon2's
// addon or a worker, ElGamal's worker pool) ask this first: a query never prompts, while dlopen,
// importing an addon or starting a worker without the permission would.

/**
 * True when the FFI permission is already granted, without prompting. False off Deno (a browser,
 * Node): the native backends are Deno's FFI.
 */
export function ffiGranted(): boolean {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  return deno?.permissions?.querySync?.({ name: "ffi" }).state === "granted";
}

/**
 * True when a worker can load the module at `url` without a permission prompt: in Deno, a worker
 * from a file needs read permission for it (a query never prompts; starting the worker would, or
 * fail under --no-prompt). Off Deno, or for a module that is not a file, there is nothing to ask.
 */
export function workerModuleReadable(url: URL): boolean {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (!deno?.permissions?.querySync || url.protocol !== "file:") return true;
  return deno.permissions.querySync({ name: "read", path: url }).state === "granted";
}

/**
 * The file names an OpenSSL 3 libcrypto goes by on Linux, macOS and Windows, in the order the
 * native backends (engines/rsa/_openssl.ts, engines/symmetric/_openssl.ts) try them.
 */
export const LIBCRYPTO_NAMES: readonly string[] = Object.freeze([
  "libcrypto.so.3",
  "libcrypto.3.dylib",
  "libcrypto-3-x64.dll",
]);

/** include/openssl/crypto.h: no cleanup handler at exit. */
const OPENSSL_INIT_NO_ATEXIT = 0x00080000n;

/**
 * The two calls every libcrypto backend makes first, the version and initialisation: a backend's
 * symbol table spreads these in.
 */
export const LIBCRYPTO_BASE = {
  OpenSSL_version_num: { parameters: [], result: "u64" },
  OPENSSL_init_crypto: { parameters: ["u64", "pointer"], result: "i32" },
} as const;

/**
 * Opens the system's OpenSSL 3 libcrypto with `symbols` (which must include
 * `OpenSSL_version_num` and `OPENSSL_init_crypto`), or says why not: no FFI permission (`what`
 * names the backend in that message), no library under {@linkcode LIBCRYPTO_NAMES}, not
 * OpenSSL 3, or initialisation failed. Initialised with NO_ATEXIT: by default libcrypto frees its
 * global state from an atexit handler while Deno's blocking-pool threads that ran a call may still
 * be tearing down their OpenSSL thread state, and a test run once ended in "double free or
 * corruption" at exit; OPENSSL_init_crypto(3) offers NO_ATEXIT for libraries that cannot order
 * their shutdown, and the OS reclaims the memory.
 */
export function openLibcrypto<S extends Deno.ForeignLibraryInterface & typeof LIBCRYPTO_BASE>(
  symbols: S,
  what: string,
): Deno.DynamicLibrary<S>["symbols"] | Error {
  if (!ffiGranted()) return new Error(`${what} needs FFI permission (deno run --allow-ffi)`);
  const reasons: string[] = [];
  for (const name of LIBCRYPTO_NAMES) {
    let lib: Deno.DynamicLibrary<S>["symbols"];
    try {
      lib = Deno.dlopen(name, symbols).symbols;
    } catch (e) {
      reasons.push(`${name}: ${(e as Error).message}`);
      continue;
    }
    // 0xMNN00PP0L: major version in the top nibble.
    const base = lib as unknown as Deno.DynamicLibrary<typeof LIBCRYPTO_BASE>["symbols"];
    if (base.OpenSSL_version_num() >> 28n !== 3n) return new Error("libcrypto is not OpenSSL 3");
    if (base.OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, null) !== 1) {
      return new Error("OPENSSL_init_crypto failed");
    }
    return lib;
  }
  return new Error(`no OpenSSL 3 libcrypto found (${reasons.join("; ")})`);
}
