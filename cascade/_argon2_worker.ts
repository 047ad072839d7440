/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// Worker: runs Argon2id off the caller's event loop (cascade/argon2.ts).
import { argon2id } from "hash-wasm";

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
    const key = await argon2id({
      password: job.password,
      salt: job.salt,
      memorySize: job.memoryKiB,
      iterations: job.passes,
      parallelism: job.parallelism,
      hashLength: 32,
      outputType: "binary",
    });
    job.password.fill(0);
    self.postMessage({ key });
  } catch {
    self.postMessage({ error: "argon2id failed" });
  }
};
