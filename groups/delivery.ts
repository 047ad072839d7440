/**
 * The delivery service of a group (docs/groups.md section 6): one queue per group that orders
 * every message, gives each a sequence number, and accepts a message only for the queue's current
 * epoch, so that of two commits made for the same epoch the first one wins and the other is
 * refused with a {@linkcode StaleEpochError} (its author processes the winner and tries again).
 * Application messages are uploaded once and downloaded by every member.
 *
 * {@linkcode MemoryGroupDelivery} keeps the queues in memory (tests, one process).
 *
 * @module
 */
import { PolycryptError } from "../errors.ts";

/** What a message is to the delivery service: a commit moves the queue to the next epoch. */
export type DeliveryKind = "commit" | "proposal" | "application" | "welcome";

/** One stored message of a group queue. */
export interface DeliveredMessage {
  /** Its sequence number in the queue, 1 upwards, without gaps. */
  readonly seq: number;
  /** The envelope as uploaded. */
  readonly envelope: Uint8Array;
}

/** A group queue's delivery service (in memory, or a relay). */
export interface GroupDelivery {
  /**
   * Appends `envelope` to the queue `queue` if `epoch` is the queue's current epoch (a queue
   * starts at the epoch it is created with); a `"commit"` then moves the queue to `epoch + 1`.
   * Resolves to the message's sequence number; rejects with {@linkcode StaleEpochError} when
   * `epoch` is not the current one (nothing is stored).
   */
  post(queue: string, kind: DeliveryKind, epoch: bigint, envelope: Uint8Array): Promise<number>;
  /** The messages after sequence number `after`, in order (at most `limit`, default all). */
  fetch(queue: string, after: number, limit?: number): Promise<DeliveredMessage[]>;
  /** Creates the queue at `epoch` (idempotent for the same epoch). */
  create(queue: string, epoch: bigint): Promise<void>;
  /** The queue's current epoch. */
  epoch(queue: string): Promise<bigint>;
}

/**
 * A message for an epoch that is not the queue's current one: another member's commit came first.
 * Fetch and process the queue, then make the commit (or message) again.
 */
export class StaleEpochError extends PolycryptError {
  /** The queue's current epoch. */
  readonly currentEpoch: bigint;
  /** Makes the error for a message of `epoch` on a queue at `currentEpoch`. */
  constructor(epoch: bigint, currentEpoch: bigint) {
    super(
      `the group queue is at epoch ${currentEpoch}, not ${epoch}: another commit came first; ` +
        "fetch and process the group's messages, then try again",
    );
    this.currentEpoch = currentEpoch;
  }
}

interface Queue {
  epoch: bigint;
  messages: DeliveredMessage[];
}

/**
 * A {@linkcode GroupDelivery} in memory: the ordering rules of docs/groups.md section 6 for tests
 * and for members in one process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryGroupDelivery, StaleEpochError } from "@polycrypt/polycrypt/groups";
 * const ds = new MemoryGroupDelivery();
 * await ds.create("q", 1n);
 * assert.equal(await ds.post("q", "commit", 1n, new Uint8Array([1])), 1);
 * await assert.rejects(ds.post("q", "commit", 1n, new Uint8Array([2])), StaleEpochError);
 * assert.equal(await ds.epoch("q"), 2n);
 * assert.deepEqual((await ds.fetch("q", 0)).map((m) => m.seq), [1]);
 * ```
 */
export class MemoryGroupDelivery implements GroupDelivery {
  #queues = new Map<string, Queue>();

  #queue(queue: string): Queue {
    const q = this.#queues.get(queue);
    if (!q) throw new TypeError("no such group queue");
    return q;
  }

  /** See {@linkcode GroupDelivery.create}. */
  create(queue: string, epoch: bigint): Promise<void> {
    const q = this.#queues.get(queue);
    if (q && q.epoch !== epoch) return Promise.reject(new StaleEpochError(epoch, q.epoch));
    if (!q) this.#queues.set(queue, { epoch, messages: [] });
    return Promise.resolve();
  }

  /** See {@linkcode GroupDelivery.post}. */
  post(queue: string, kind: DeliveryKind, epoch: bigint, envelope: Uint8Array): Promise<number> {
    try {
      const q = this.#queue(queue);
      if (epoch !== q.epoch) throw new StaleEpochError(epoch, q.epoch);
      const seq = q.messages.length + 1;
      q.messages.push({ seq, envelope: envelope.slice() });
      if (kind === "commit") q.epoch++;
      return Promise.resolve(seq);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** See {@linkcode GroupDelivery.fetch}. */
  fetch(queue: string, after: number, limit = Infinity): Promise<DeliveredMessage[]> {
    try {
      const q = this.#queue(queue);
      return Promise.resolve(q.messages.slice(after, after + Math.min(limit, q.messages.length)));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** See {@linkcode GroupDelivery.epoch}. */
  epoch(queue: string): Promise<bigint> {
    try {
      return Promise.resolve(this.#queue(queue).epoch);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
