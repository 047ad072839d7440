// The native Argon2id backend: node-argon2's prebuilt addon, which is the RFC 9106 reference
// implementation (phc-winner-argon2, the code the Debian `argon2` CLI is built from) with one
// thread per lane. Loading a Node-API addon needs Deno's FFI permission, so it is only tried when
// that permission is already granted: querying never prompts, importing would.
import { Buffer } from "node:buffer";
import { ffiGranted } from "../engines/_ffi.ts";

/** What cascade/argon2.ts needs from node-argon2. */
export interface NativeArgon2 {
  hash(
    password: Uint8Array,
    salt: Uint8Array,
    m: number,
    t: number,
    p: number,
  ): Promise<Uint8Array>;
}

let loading: Promise<NativeArgon2 | Error> | undefined;

/**
 * The native backend, or the reason it is unavailable (no FFI permission, no prebuilt binary for
 * this platform). Loaded once per process.
 */
export function loadNativeArgon2(): Promise<NativeArgon2 | Error> {
  if (!ffiGranted()) {
    return Promise.resolve(
      new Error("the native Argon2id backend needs FFI permission (deno run --allow-ffi)"),
    );
  }
  loading ??= import("argon2").then(
    ({ default: argon2 }): NativeArgon2 => ({
      async hash(password, salt, m, t, p) {
        // node-argon2 takes Buffers; these views share our bytes, so nothing extra needs wiping
        // except the copy the addon makes and frees itself.
        const raw = await argon2.hash(
          Buffer.from(password.buffer, password.byteOffset, password.byteLength),
          {
            type: argon2.argon2id,
            version: 0x13,
            raw: true,
            salt: Buffer.from(salt.buffer, salt.byteOffset, salt.byteLength),
            memoryCost: m,
            timeCost: t,
            parallelism: p,
            hashLength: 32,
          },
        );
        const key = new Uint8Array(raw);
        raw.fill(0);
        return key;
      },
    }),
    (e) => new Error(`the native Argon2id backend did not load: ${(e as Error).message}`),
  );
  return loading;
}
