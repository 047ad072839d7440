// Internal: whether this process may load native code (Deno's FFI permission). The optional native
// backends (RSA in OpenSSL, Argon2id in node-argon2's addon) ask this first: a query never
// prompts, while dlopen or importing an addon without the permission would.

/**
 * True when the FFI permission is already granted, without prompting. False off Deno (a browser,
 * Node): the native backends are Deno's FFI.
 */
export function ffiGranted(): boolean {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  return deno?.permissions?.querySync?.({ name: "ffi" }).state === "granted";
}
