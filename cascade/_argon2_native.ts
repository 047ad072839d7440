// The native Argon2id backend: node-argon2's prebuilt addon, which is the RFC 9106 reference
// implementation (phc-winner-argon2, the code the Debian `argon2` CLI is built from) with one
// thread per lane. Loading a Node-API addon needs Deno's FFI permission, so it is only tried when
// that permission is already granted: querying never prompts, importing would.
import { ffiGranted } from "../engines/_ffi.ts";
import { nodeBuiltin } from "../engines/_node.ts";

// The addon's specifier is held in a variable, not written in the import() call, on purpose: Deno
// (and `deno info`, `deno publish`, bundlers) follow a dynamic import whose specifier is a string
// literal, which would put npm:argon2 and its native build into the graph of every importer of the
// portable core (mod.ts). This way it is resolved, and downloaded, only here, at run time, where
// FFI is granted. `deno publish` warns (unanalyzable-dynamic-import); that is expected. Keep the
// version equal to deno.json's "argon2" import.
const ARGON2_SPECIFIER = "npm:argon2@0.45.1";

/** The part of node-argon2's API used here (declared, so not even its types enter the graph). */
interface Argon2Module {
  default: {
    readonly argon2id: number;
    hash(
      password: Uint8Array,
      options: {
        type: number;
        version: number;
        raw: true;
        salt: Uint8Array;
        memoryCost: number;
        timeCost: number;
        parallelism: number;
        hashLength: number;
      },
    ): Promise<Uint8Array>;
  };
}

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
  const buffer = nodeBuiltin("node:buffer");
  if (!buffer) {
    return Promise.resolve(new Error("the native Argon2id backend needs node:buffer"));
  }
  const { Buffer } = buffer;
  loading ??= (import(ARGON2_SPECIFIER) as Promise<Argon2Module>).then(
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
