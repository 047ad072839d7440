/**
 * What a relay stores, behind one interface with two implementations (`docs/relay.md` section 7):
 * {@linkcode SqliteStore} (`node:sqlite`, the default) and `PostgresStore` (many relay processes).
 * Every mutation is committed durably before its promise resolves.
 *
 * @module
 */
import type { AuthKey } from "./protocol.ts";

/** One queue's record. */
export interface QueueRecord {
  /** The receiving id. */
  readonly rid: Uint8Array;
  /** The sending id. */
  readonly sid: Uint8Array;
  /** The recipient's authorization key. */
  readonly recipientKey: AuthKey;
  /** The sender's, once the queue is secured. */
  readonly senderKey?: AuthKey;
}

/** A stored message as the recipient gets it. */
export interface StoredMessage {
  /** Its position in the store: increasing in the order messages were stored in a queue. */
  readonly seq: number;
  /** The id the sender chose. */
  readonly msgId: Uint8Array;
  /** The sealed envelope. */
  readonly envelope: Uint8Array;
}

/**
 * A message a store announces to its watchers as it commits it, so that a subscription can push it
 * without reading it back: `previous` is the `seq` of the newest unacknowledged message the queue
 * held before this one (0 when none), so a subscription that has pushed everything up to
 * `previous` knows this message is the next one.
 */
export interface AnnouncedMessage extends StoredMessage {
  /** The `seq` of the queue's newest unacknowledged message stored before this one, or 0. */
  readonly previous: number;
}

/** What a store's watchers are told: a queue received a message (given when stored here). */
export type WatchListener = (rid: Uint8Array, message?: AnnouncedMessage) => void;

/** The quotas and times a store enforces. */
export interface StoreLimits {
  /** Messages one queue holds at most (default 10,000). */
  maxQueueMessages: number;
  /** Envelope bytes one queue holds at most (default 64 MiB). */
  maxQueueBytes: number;
  /** One-time bundles one queue holds at most (default 200). */
  maxBundles: number;
  /** How long a message is kept unacknowledged (default 21 days). */
  retentionMs: number;
  /** How long an acknowledged message's id is remembered for deduplication (default 24 h). */
  dedupMs: number;
}

/** The defaults of {@linkcode StoreLimits} (`docs/relay.md` section 5). */
export const DEFAULT_STORE_LIMITS: Readonly<StoreLimits> = Object.freeze({
  maxQueueMessages: 10_000,
  maxQueueBytes: 64 * 1024 * 1024,
  maxBundles: 200,
  retentionMs: 21 * 24 * 3600 * 1000,
  dedupMs: 24 * 3600 * 1000,
});

/** Options every store takes. */
export interface StoreOptions {
  /** Quotas and times (defaults {@linkcode DEFAULT_STORE_LIMITS}). */
  limits?: Partial<StoreLimits>;
  /** The clock, in ms since the epoch (tests move it). Default `Date.now`. */
  now?: () => number;
}

/** Checks and completes the limits. */
export function storeLimits(given: Partial<StoreLimits> = {}): StoreLimits {
  const limits = { ...DEFAULT_STORE_LIMITS, ...given };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a positive integer`);
    }
  }
  return limits;
}

/** Expiry times are rounded up to the hour, so the database does not keep exact arrival times. */
export function expiryAt(now: number, after: number): number {
  const hour = 3600_000;
  return Math.ceil((now + after) / hour) * hour;
}

/** What SEND's store step answers. */
export type AppendResult = "stored" | "duplicate" | "quota" | "gone";

/** What PUBLISH's store step answers: the one-time bundles held, or over the quota. */
export type PublishResult = number | "quota" | "gone";

/** A stored message of a group queue. */
export interface StoredGroupMessage {
  /** Its sequence number in the group queue: 1 upwards, without gaps. */
  readonly seq: number;
  /** The envelope as posted. */
  readonly envelope: Uint8Array;
}

/** What GPOST's store step answers (`docs/relay.md` section 10). */
export type GroupPostResult =
  /** Stored now, or already stored with this message id (a retry): its sequence number. */
  | { readonly result: "stored" | "duplicate"; readonly seq: number }
  /** The message's epoch is not the queue's current one (another commit came first). */
  | { readonly result: "stale"; readonly current: bigint }
  /** The queue holds its maximum of messages or bytes. */
  | { readonly result: "quota" }
  /** No such group queue. */
  | { readonly result: "gone" };

/** A relay's storage. */
export interface RelayStore {
  /**
   * Creates the group queue `gid` at `epoch` with that epoch's authorization key. True when
   * created now or already there with the same epoch and key (a retry); false otherwise.
   */
  createGroupQueue(gid: Uint8Array, epoch: bigint, key: AuthKey): Promise<boolean>;
  /**
   * The authorization key of the group queue's `epoch` (set at creation or by the commit that
   * ended the epoch before), with the queue's current epoch; undefined when there is none.
   */
  groupKey(gid: Uint8Array, epoch: bigint): Promise<{ key: AuthKey; current: bigint } | undefined>;
  /**
   * Appends a message made in `epoch` to the group queue, giving it the next sequence number:
   * `"duplicate"` (with the stored one's number) when the queue holds this `msgId`; `"stale"` when
   * `epoch` is not the current epoch; else stored. A commit (`nextKey` given) moves the queue to
   * `epoch + 1`, whose authorization key is `nextKey`. One transaction: of two commits for one
   * epoch, exactly one is stored.
   */
  groupPost(
    gid: Uint8Array,
    msgId: Uint8Array,
    epoch: bigint,
    envelope: Uint8Array,
    nextKey: AuthKey | undefined,
  ): Promise<GroupPostResult>;
  /**
   * Up to `limit` unexpired messages of the group queue made in `epoch` with a sequence number
   * above `after`, in order, and at most `maxBytes` of envelopes (but at least one message), with
   * the queue's current epoch; undefined when there is no such queue.
   */
  groupFetch(
    gid: Uint8Array,
    epoch: bigint,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<{ current: bigint; messages: StoredGroupMessage[] } | undefined>;
  /** Creates a queue. Ids are unique (a collision of 24 random bytes does not happen). */
  createQueue(rid: Uint8Array, sid: Uint8Array, recipientKey: AuthKey): Promise<void>;
  /**
   * The queue with this receiving id (`side` "recipient") or sending id ("sender"). A store may
   * answer from a cache that a change made through another process has not reached yet (every
   * operation checks again what it depends on); `fresh` asks it to read the database.
   */
  queue(
    id: Uint8Array,
    side: "recipient" | "sender",
    fresh?: boolean,
  ): Promise<QueueRecord | undefined>;
  /**
   * Secures the queue to `senderKey`: true when set now or already the same key, false when the
   * queue is gone or secured to another key.
   */
  secure(rid: Uint8Array, senderKey: AuthKey): Promise<boolean>;
  /** Deletes a queue with its messages and bundles; false when there was none. */
  deleteQueue(rid: Uint8Array): Promise<boolean>;
  /**
   * Appends a message unless the queue already holds (or held within the dedup window) this
   * `msgId` ("duplicate"), is full ("quota"), is gone, or its sender key is no longer
   * `expectedSenderKey` (the state the signature was checked against: "gone").
   */
  append(
    rid: Uint8Array,
    msgId: Uint8Array,
    envelope: Uint8Array,
    expectedSenderKey: Uint8Array | undefined,
  ): Promise<AppendResult>;
  /** The oldest unacknowledged, unexpired message. */
  oldest(rid: Uint8Array): Promise<StoredMessage | undefined>;
  /**
   * Up to `limit` unacknowledged, unexpired messages stored after the one at `afterSeq` (0: from
   * the oldest), oldest first: what a subscription pushes next.
   */
  next(rid: Uint8Array, afterSeq: number, limit: number): Promise<StoredMessage[]>;
  /** Deletes the message's bytes (its id stays for the dedup window); false if not held. */
  ack(rid: Uint8Array, msgId: Uint8Array): Promise<boolean>;
  /** Stores bundles (`docs/relay.md` section 4). */
  publish(
    rid: Uint8Array,
    bundles: readonly Uint8Array[],
    options: { replace: boolean; lastResort: boolean },
  ): Promise<PublishResult>;
  /** Pops one one-time bundle atomically, else the last-resort bundle, else undefined. */
  fetchBundle(rid: Uint8Array): Promise<Uint8Array | undefined>;
  /** Deletes expired messages and tombstones; returns how many rows went. */
  sweep(): Promise<number>;
  /**
   * Calls `listener` with the RID of each queue that received a message, from this process or
   * (PostgreSQL) any other sharing the database, once it is committed; with the message itself
   * when it was stored through this store (not for other processes'). Returns the function that
   * stops it.
   */
  watch(listener: WatchListener): () => void;
  /** Closes the database. */
  close(): Promise<void>;
}

/** Runs every registered listener; one that throws does not stop the others. */
export class Watchers {
  readonly #listeners = new Set<WatchListener>();
  /** Adds a listener; returns the function that removes it. */
  add(listener: WatchListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  /** Tells every listener that the queue `rid` received a message (`message`, when known). */
  emit(rid: Uint8Array, message?: AnnouncedMessage): void {
    for (const listener of this.#listeners) {
      try {
        listener(rid, message);
      } catch { /* one watcher's failure is its own */ }
    }
  }
}
