// Internal: Argon2id on hash-wasm, the one call behind both places it runs (the worker,
// cascade/_argon2_worker.ts, and the calling thread where no worker can start, cascade/argon2.ts).
import { argon2id } from "hash-wasm";

/** The cost parameters, as cascade/argon2.ts's Argon2Params. */
export interface WasmArgon2Params {
  readonly memoryKiB: number;
  readonly passes: number;
  readonly parallelism: number;
}

/** A 32-byte Argon2id key; `password` is wiped once hash-wasm is done with it, even on failure. */
export async function hashWasmArgon2id(
  password: Uint8Array,
  salt: Uint8Array,
  params: WasmArgon2Params,
): Promise<Uint8Array> {
  try {
    return await argon2id({
      password,
      salt,
      memorySize: params.memoryKiB,
      iterations: params.passes,
      parallelism: params.parallelism,
      hashLength: 32,
      outputType: "binary",
    });
  } finally {
    password.fill(0);
  }
}
