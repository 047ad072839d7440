// Internal: a small pool of workers (node:worker_threads) that run ElGamal's BigInt
// exponentiations and subgroup tests, so that a messenger's event loop stays free while a
// 3072..8192-bit decapsulation takes 4..31 ms (docs/engines/elgamal.md, "Threads").
// node:worker_threads rather than a web Worker because an idle worker can be unref'd: the pool
// never keeps a process alive by itself.
import type { Worker } from "node:worker_threads";
import { workerModuleReadable } from "../_ffi.ts";
import { nodeBuiltin } from "../_node.ts";

/**
 * One job: `base^exponent mod modulus` (for a fixed base, with the name of its table in the
 * worker and the widest exponent the table covers), or the Jacobi symbol (value/modulus) as -1n,
 * 0n or 1n.
 */
export type WorkerJob = {
  readonly op: "pow";
  readonly base: bigint;
  readonly exponent: bigint;
  readonly modulus: bigint;
  readonly fixedBase?: { readonly name: string; readonly maxExponentBits: number };
} | {
  readonly op: "jacobi";
  readonly value: bigint;
  readonly modulus: bigint;
};

/** A worker's answer to the job of the same id. */
export type WorkerReply = { id: number; value: bigint; error?: undefined } | {
  id: number;
  value?: undefined;
  error: string;
};

interface Slot {
  readonly worker: Worker;
  job?: Queued;
}

interface Queued {
  readonly id: number;
  readonly job: WorkerJob;
  resolve(value: bigint): void;
  reject(error: Error): void;
}

// One worker per core, at most 4: an encapsulation runs its two exponentiations at once, and
// several operations in flight use every core. Read on first use (no top-level `navigator`).
let size: number | undefined;
const poolSize = () =>
  size ??= Math.max(1, Math.min(4, globalThis.navigator?.hardwareConcurrency || 1));
const WORKER_URL = new URL("./_modexp_worker.ts", import.meta.url);

const slots: Slot[] = [];
const queue: Queued[] = [];
let nextId = 0;

function startWorker(): Slot {
  // node:worker_threads, looked up on first use (engines/_node.ts). Without it (a browser) this
  // throws, and the engine's "auto" thread computes inline.
  const threads = nodeBuiltin("node:worker_threads");
  if (!threads) throw new Error("ElGamal's workers need node:worker_threads");
  // Without read permission for the worker's module, starting it would prompt (or fail).
  if (!workerModuleReadable(WORKER_URL)) throw new Error("ElGamal's workers need read permission");
  const slot: Slot = { worker: new threads.Worker(WORKER_URL) };
  const retire = (message: string) => {
    const index = slots.indexOf(slot);
    if (index < 0) return;
    slots.splice(index, 1);
    slot.job?.reject(new Error(message));
    slot.job = undefined;
    void slot.worker.terminate();
    dispatch();
  };
  slot.worker.on("message", (reply: WorkerReply) => {
    const queued = slot.job;
    if (!queued || reply.id !== queued.id) return;
    slot.job = undefined;
    if (reply.error === undefined) queued.resolve(reply.value);
    else queued.reject(new RangeError(reply.error));
    dispatch();
    if (!slot.job) slot.worker.unref();
  });
  slot.worker.on("error", () => retire("the ElGamal worker failed"));
  slot.worker.on("exit", () => retire("the ElGamal worker stopped"));
  slots.push(slot);
  return slot;
}

// Another worker when all are busy, up to poolSize(). If one cannot start now, the running ones do the
// work.
function spareWorker(): Slot | undefined {
  if (slots.length >= poolSize()) return undefined;
  try {
    return startWorker();
  } catch {
    return undefined;
  }
}

function dispatch(): void {
  while (queue.length > 0) {
    const slot = slots.find((s) => !s.job) ?? spareWorker();
    if (!slot) {
      // No worker left and none can start: nothing would ever run the queue.
      if (slots.length === 0) {
        for (const queued of queue.splice(0)) {
          queued.reject(new Error("no ElGamal worker could be started"));
        }
      }
      return;
    }
    const queued = queue.shift()!;
    slot.job = queued;
    // A busy worker keeps the process alive until its answer arrives; an idle one does not.
    slot.worker.ref();
    slot.worker.postMessage({ id: queued.id, ...queued.job });
  }
}

/**
 * `job` in the next free worker. Throws (synchronously) when no worker can be started, e.g.
 * without read permission for the worker's module; rejects if the worker dies during the job.
 */
export function runInWorker(job: WorkerJob): Promise<bigint> {
  if (slots.length === 0) startWorker();
  return new Promise((resolve, reject) => {
    queue.push({ id: ++nextId, job, resolve, reject });
    dispatch();
  });
}

/** Tests: stops every worker, rejecting the jobs they run; the next job starts new ones. */
export function _stopWorkers(): Promise<void> {
  const stopping = slots.map((slot) => slot.worker.terminate());
  return Promise.all(stopping).then(() => {});
}
