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
