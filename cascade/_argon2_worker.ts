/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// Worker: runs Argon2id off the caller's event loop (cascade/argon2.ts). The same module serves as
// a Web Worker (Deno, browsers) and as a node:worker_threads worker (Node, which has no global
// Worker): it answers on `self` where there is one, else on worker_threads' parentPort.
import { hashWasmArgon2id } from "./_argon2_wasm.ts";
import { nodeBuiltin } from "../engines/_node.ts";

interface Job {
  password: Uint8Array;
  salt: Uint8Array;
  memoryKiB: number;
  passes: number;
  parallelism: number;
}

type Post = (reply: { started: true } | { key: Uint8Array } | { error: string }) => void;

async function run(job: Job, post: Post): Promise<void> {
  try {
    post({ started: true });
    const key = await hashWasmArgon2id(job.password, job.salt, job);
    post({ key });
  } catch {
    post({ error: "argon2id failed" });
  }
}

const web = typeof self !== "undefined" && typeof self.postMessage === "function";
if (web) {
  self.onmessage = (event: MessageEvent<Job>) =>
    run(event.data, (reply) => self.postMessage(reply));
} else {
  const port = nodeBuiltin("node:worker_threads")?.parentPort;
  if (!port) throw new Error("the Argon2id worker has neither self nor parentPort");
  port.on("message", (job: Job) => run(job, (reply) => port.postMessage(reply)));
}
