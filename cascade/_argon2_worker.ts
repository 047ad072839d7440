/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// Worker: runs Argon2id off the caller's event loop (cascade/argon2.ts).
import { hashWasmArgon2id } from "./_argon2_wasm.ts";

interface Job {
  password: Uint8Array;
  salt: Uint8Array;
  memoryKiB: number;
  passes: number;
  parallelism: number;
}

self.onmessage = async (event: MessageEvent<Job>) => {
  const job = event.data;
  try {
    const key = await hashWasmArgon2id(job.password, job.salt, job);
    self.postMessage({ key });
  } catch {
    self.postMessage({ error: "argon2id failed" });
  }
};
