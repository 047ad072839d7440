// Worker for _modexp_pool.ts: runs modexp.ts's exponentiations and Jacobi symbols off the caller's
// event loop. One job at a time; fixed-base tables are built here on first use of their name.
import { parentPort } from "node:worker_threads";
import { fixedBasePow, jacobi, modPow } from "./modexp.ts";
import type { WorkerJob, WorkerReply } from "./_modexp_pool.ts";

const port = parentPort!;
const tables = new Map<string, (exponent: bigint) => bigint>();

function run(job: WorkerJob): bigint {
  if (job.op === "jacobi") return BigInt(jacobi(job.value, job.modulus));
  if (!job.fixedBase) return modPow(job.base, job.exponent, job.modulus);
  const { name, maxExponentBits } = job.fixedBase;
  let pow = tables.get(name);
  if (!pow) {
    pow = fixedBasePow(job.base, job.modulus, maxExponentBits);
    tables.set(name, pow);
  }
  return pow(job.exponent);
}

port.on("message", (job: WorkerJob & { id: number }) => {
  let reply: WorkerReply;
  try {
    reply = { id: job.id, value: run(job) };
  } catch (e) {
    reply = { id: job.id, error: e instanceof RangeError ? e.message : "the job failed" };
  }
  port.postMessage(reply);
});
