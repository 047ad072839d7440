/**
 * The relay's default store: one SQLite file through Deno's built-in `node:sqlite`, WAL mode,
 * `synchronous=FULL`, `secure_delete=ON` (`docs/relay.md` section 7.1). Every operation runs in
 * order in one queue; the operations waiting while a commit runs go into the next transaction
 * together (group commit), and each promise resolves only after its transaction committed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SqliteStore } from "@polycrypt/polycrypt/relay";
 * const store = new SqliteStore(":memory:");
 * const rid = new Uint8Array(24).fill(1), sid = new Uint8Array(24).fill(2);
 * await store.createQueue(rid, sid, { algorithm: "ed25519", publicKey: new Uint8Array(32) });
 * assert.equal(await store.append(rid, new Uint8Array(16), new Uint8Array([9]), undefined), "stored");
 * assert.equal(await store.append(rid, new Uint8Array(16), new Uint8Array([9]), undefined), "duplicate");
 * assert.deepEqual((await store.oldest(rid))?.envelope, new Uint8Array([9]));
 * await store.close();
 * ```
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { AuthKey } from "./protocol.ts";
import { equalBytes } from "../engines/_bytes.ts";
import { groupMessagesWithin, queueRecordOf, type Row } from "./_rows.ts";
import {
  type AnnouncedMessage,
  type AppendResult,
  expiryAt,
  type GroupPostResult,
  type PublishResult,
  type QueueRecord,
  type RelayStore,
  type StoredGroupMessage,
  type StoredMessage,
  type StoreLimits,
  storeLimits,
  type StoreOptions,
  Watchers,
  type WatchListener,
} from "./store.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queues (
  rid BLOB PRIMARY KEY, sid BLOB UNIQUE NOT NULL, rk_alg TEXT NOT NULL, rk BLOB NOT NULL,
  sk_alg TEXT, sk BLOB, msgs INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY, rid BLOB NOT NULL, msg_id BLOB NOT NULL, envelope BLOB,
  expires INTEGER NOT NULL, UNIQUE (rid, msg_id)
);
CREATE INDEX IF NOT EXISTS messages_live ON messages (rid, seq) WHERE envelope IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_expires ON messages (expires);
CREATE TABLE IF NOT EXISTS bundles (
  seq INTEGER PRIMARY KEY, rid BLOB NOT NULL, last_resort INTEGER NOT NULL, bundle BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS bundles_queue ON bundles (rid, last_resort, seq);
CREATE TABLE IF NOT EXISTS group_queues (
  gid BLOB PRIMARY KEY, epoch INTEGER NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0,
  msgs INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_keys (
  gid BLOB NOT NULL, epoch INTEGER NOT NULL, alg TEXT NOT NULL, key BLOB NOT NULL,
  PRIMARY KEY (gid, epoch)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_messages (
  gid BLOB NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL, msg_id BLOB NOT NULL,
  envelope BLOB NOT NULL, expires INTEGER NOT NULL, PRIMARY KEY (gid, seq), UNIQUE (gid, msg_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_messages_epoch ON group_messages (gid, epoch, seq);
CREATE INDEX IF NOT EXISTS group_messages_expires ON group_messages (expires);
`;

interface Job {
  /** The queue it writes (RID in hex), if any. */
  key?: string;
  run(): unknown;
  resolve(value: unknown): void;
  reject(e: unknown): void;
  /** A message to announce to watchers once committed. */
  announce?: { rid: Uint8Array; message: AnnouncedMessage };
}

/**
 * A queue's counters within one transaction: read once (for quotas), changed in memory by each
 * SEND and ACK, and written back once before the commit.
 */
interface Tally {
  /** The queue row's sender key and counters, read on first need (null: no such queue). */
  row?: { sk: Uint8Array | undefined; msgs: number; bytes: number } | null;
  msgs: number;
  bytes: number;
  /** The newest unacknowledged message's seq after this transaction's SENDs, once known. */
  last?: number;
}

/** Queue records and last sequence numbers kept in memory, at most this many each. */
const CACHE_ENTRIES = 50_000;

function message(row: Row): StoredMessage {
  return { seq: Number(row.seq), msgId: bytes(row.msg_id), envelope: bytes(row.envelope) };
}

function bytes(value: unknown): Uint8Array {
  return value instanceof Uint8Array ? value : new Uint8Array(value as ArrayBuffer);
}

/** A {@linkcode RelayStore} in one SQLite file (or `":memory:"`). */
export class SqliteStore implements RelayStore {
  readonly #db: DatabaseSync;
  readonly #limits: StoreLimits;
  readonly #now: () => number;
  readonly #watchers = new Watchers();
  #jobs: Job[] = [];
  /** Queued operations per queue (RID in hex): a read of that queue waits for them. */
  readonly #pending = new Map<string, number>();
  #scheduled = false;
  #closed = false;
  readonly #st: Record<string, ReturnType<DatabaseSync["prepare"]>>;
  readonly #wake = new MessageChannel();
  /**
   * Queue records by "r" or "s" and the id in hex. Exact: one process owns the file, and KEY and
   * DEL drop the entries of their queue inside their transaction.
   */
  readonly #records = new Map<string, QueueRecord>();
  /** Each queue's newest message seq stored by this process (RID in hex), for `previous`. */
  readonly #last = new Map<string, number>();
  /** The counters of the transaction running, by RID in hex. */
  #tallies = new Map<string, Tally>();
  /** The WAL file this store fsyncs after each commit (none in memory). */
  readonly #walPath: string | undefined;
  #wal: { file: Deno.FsFile; ino: number | null } | undefined;
  /** Whether an fsync of the WAL is running (the next transaction waits for it). */
  #syncing = false;

  /**
   * Opens (and creates) the database at `path`.
   *
   * @param path a file path, or `":memory:"`
   * @param options limits and clock
   */
  constructor(path: string, options: StoreOptions = {}) {
    this.#limits = storeLimits(options.limits);
    this.#now = options.now ?? Date.now;
    this.#db = new DatabaseSync(path);
    // Its port keeps the process alive until close(), like an open database connection.
    this.#wake.port1.onmessage = () => this.#flush();
    this.#db.exec("PRAGMA journal_mode = WAL");
    const inMemory = path === ":memory:" || path === "" ||
      String((this.#db.prepare("PRAGMA journal_mode").get() as Row).journal_mode) !== "wal";
    this.#walPath = inMemory ? undefined : `${path}-wal`;
    // On a file, the commit writes the WAL and this store fsyncs it before it answers (section
    // 7.1 of docs/relay.md): what synchronous=FULL does, without blocking the event loop.
    this.#db.exec(`PRAGMA synchronous = ${inMemory ? "FULL" : "NORMAL"}`);
    this.#db.exec("PRAGMA secure_delete = ON");
    this.#db.exec("PRAGMA busy_timeout = 5000");
    // A checkpoint blocks the event loop (two fsyncs and the copy); every 10,000 pages (about 40
    // MiB of WAL) rather than SQLite's 1,000, it costs a third as much per message.
    this.#db.exec("PRAGMA wal_autocheckpoint = 10000");
    this.#db.exec(SCHEMA);
    const p = (sql: string) => this.#db.prepare(sql);
    this.#st = {
      insertQueue: p("INSERT INTO queues (rid, sid, rk_alg, rk) VALUES (?, ?, ?, ?)"),
      byRid: p("SELECT * FROM queues WHERE rid = ?"),
      bySid: p("SELECT * FROM queues WHERE sid = ?"),
      secure: p("UPDATE queues SET sk_alg = ?, sk = ? WHERE rid = ? AND sk IS NULL"),
      deleteQueue: p("DELETE FROM queues WHERE rid = ?"),
      deleteMessages: p("DELETE FROM messages WHERE rid = ?"),
      deleteBundles: p("DELETE FROM bundles WHERE rid = ?"),
      hasMsg: p("SELECT 1 FROM messages WHERE rid = ? AND msg_id = ?"),
      insertMsg: p(
        "INSERT OR IGNORE INTO messages (rid, msg_id, envelope, expires) VALUES (?, ?, ?, ?)",
      ),
      newest: p(
        "SELECT max(seq) AS seq FROM messages WHERE rid = ? AND envelope IS NOT NULL",
      ),
      count: p("UPDATE queues SET msgs = msgs + ?, bytes = bytes + ? WHERE rid = ?"),
      oldest: p(
        "SELECT seq, msg_id, envelope FROM messages WHERE rid = ? AND envelope IS NOT NULL AND expires > ? ORDER BY seq LIMIT 1",
      ),
      next: p(
        "SELECT seq, msg_id, envelope FROM messages WHERE rid = ? AND envelope IS NOT NULL AND seq > ? AND expires > ? ORDER BY seq LIMIT ?",
      ),
      ack: p(
        "UPDATE messages SET envelope = NULL, expires = ? WHERE rid = ? AND msg_id = ? AND envelope IS NOT NULL",
      ),
      liveLength: p(
        "SELECT length(envelope) AS n FROM messages WHERE rid = ? AND msg_id = ? AND envelope IS NOT NULL",
      ),
      dropOneTime: p("DELETE FROM bundles WHERE rid = ? AND last_resort = 0"),
      dropLastResort: p("DELETE FROM bundles WHERE rid = ? AND last_resort = 1"),
      insertBundle: p("INSERT INTO bundles (rid, last_resort, bundle) VALUES (?, ?, ?)"),
      countBundles: p("SELECT count(*) AS n FROM bundles WHERE rid = ? AND last_resort = 0"),
      popBundle: p(
        "DELETE FROM bundles WHERE seq = (SELECT seq FROM bundles WHERE rid = ? AND last_resort = 0 ORDER BY seq LIMIT 1) RETURNING bundle",
      ),
      lastResort: p("SELECT bundle FROM bundles WHERE rid = ? AND last_resort = 1 LIMIT 1"),
      expiredCounts: p(
        "SELECT rid, count(*) AS n, sum(length(envelope)) AS b FROM messages WHERE expires <= ? AND envelope IS NOT NULL GROUP BY rid",
      ),
      sweep: p("DELETE FROM messages WHERE expires <= ?"),
      groupQueue: p("SELECT epoch, last_seq, msgs, bytes FROM group_queues WHERE gid = ?"),
      insertGroupQueue: p("INSERT INTO group_queues (gid, epoch) VALUES (?, ?)"),
      groupKey: p("SELECT alg, key FROM group_keys WHERE gid = ? AND epoch = ?"),
      insertGroupKey: p("INSERT INTO group_keys (gid, epoch, alg, key) VALUES (?, ?, ?, ?)"),
      groupDuplicate: p("SELECT seq FROM group_messages WHERE gid = ? AND msg_id = ?"),
      insertGroupMsg: p(
        "INSERT INTO group_messages (gid, seq, epoch, msg_id, envelope, expires) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      updateGroupQueue: p(
        "UPDATE group_queues SET epoch = ?, last_seq = ?, msgs = msgs + 1, bytes = bytes + ? WHERE gid = ?",
      ),
      groupFetch: p(
        "SELECT seq, envelope FROM group_messages WHERE gid = ? AND epoch = ? AND seq > ? AND expires > ? ORDER BY seq LIMIT ?",
      ),
      groupExpiredCounts: p(
        "SELECT gid, count(*) AS n, sum(length(envelope)) AS b FROM group_messages WHERE expires <= ? GROUP BY gid",
      ),
      groupCount: p("UPDATE group_queues SET msgs = msgs - ?, bytes = bytes - ? WHERE gid = ?"),
      groupSweep: p("DELETE FROM group_messages WHERE expires <= ?"),
    };
  }

  /**
   * Runs `run` in order with every other operation, in the next group-committed transaction.
   * `run` gets its job, on which it may leave a message to announce once committed.
   */
  #enqueue<T>(run: (job: Job) => T, rid?: Uint8Array): Promise<T> {
    if (this.#closed) return Promise.reject(new Error("the relay store is closed"));
    const key = rid?.toHex();
    if (key) this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        key,
        run: () => {
          job.announce = undefined;
          return run(job);
        },
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      this.#jobs.push(job);
      if (!this.#scheduled) {
        this.#scheduled = true;
        // A message to ourselves, not a microtask: the network callbacks that arrived during the
        // last commit run first, so their operations join this transaction. (Deno's setImmediate
        // and setTimeout(0) waited 5-20 ms under load, and halved the throughput.)
        this.#wake.port2.postMessage(0);
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    // While the last commit is being made durable, the operations that arrive wait for it and
    // then go together into the next transaction.
    if (this.#syncing) return;
    const jobs = this.#jobs;
    this.#jobs = [];
    if (jobs.length === 0) return;
    if (this.#closed) {
      this.#settle(
        jobs.map((job) => ({ job, ok: false, value: new Error("the relay store is closed") })),
      );
      return;
    }
    let results = this.#transaction(jobs);
    if (!results) {
      // A job failed (not an expected outcome: those are results): run each alone, so that one
      // failure fails only its own operation.
      results = jobs.map((job) =>
        this.#transaction([job])?.[0] ?? { job, ok: false, value: new Error("store failure") }
      );
    }
    if (!this.#walPath) {
      this.#settle(results);
      return;
    }
    this.#syncing = true;
    this.#syncWal().then(
      () => this.#settle(results!),
      (e) => {
        // Committed but not known to be durable: answered as a failure (a client retries with
        // the same message id, which is stored once).
        this.#settle(results!.map((r) => ({ job: r.job, ok: false, value: e })));
      },
    ).finally(() => {
      this.#syncing = false;
      if (this.#jobs.length > 0) this.#flush();
    });
  }

  /**
   * fsyncs the WAL file (fdatasync, on a thread of Deno's pool: the event loop goes on), so that
   * every transaction committed so far is durable. The WAL file stays the same while the
   * database is open; it is opened again if its inode changed.
   */
  async #syncWal(): Promise<void> {
    const ino = Deno.statSync(this.#walPath!).ino;
    if (!this.#wal || this.#wal.ino !== ino) {
      this.#wal?.file.close();
      const file = await Deno.open(this.#walPath!, { read: true });
      this.#wal = { file, ino: (await file.stat()).ino };
    }
    await this.#wal.file.syncData();
  }

  /** Runs `jobs` in one transaction; undefined (rolled back) if any throws or the commit fails. */
  #transaction(jobs: Job[]): { job: Job; ok: boolean; value: unknown }[] | undefined {
    const results: { job: Job; ok: boolean; value: unknown }[] = [];
    this.#tallies = new Map();
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const job of jobs) results.push({ job, ok: true, value: job.run() });
      this.#writeTallies();
      this.#db.exec("COMMIT");
      for (const [key, tally] of this.#tallies) {
        if (tally.last !== undefined) this.#remember(this.#last, key, tally.last);
      }
      this.#tallies = new Map();
      return results;
    } catch (e) {
      this.#tallies = new Map();
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* no transaction left */ }
      if (jobs.length === 1) return [{ job: jobs[0], ok: false, value: e }];
      return undefined;
    }
  }

  #settle(results: { job: Job; ok: boolean; value: unknown }[]): void {
    for (const { job, ok, value } of results) {
      if (job.key) {
        const n = this.#pending.get(job.key)! - 1;
        if (n > 0) this.#pending.set(job.key, n);
        else this.#pending.delete(job.key);
      }
      if (ok) {
        job.resolve(value);
        if (job.announce) this.#watchers.emit(job.announce.rid, job.announce.message);
      } else job.reject(value);
    }
  }

  createQueue(rid: Uint8Array, sid: Uint8Array, recipientKey: AuthKey): Promise<void> {
    return this.#enqueue(() => {
      this.#st.insertQueue.run(rid, sid, recipientKey.algorithm, recipientKey.publicKey);
    });
  }

  queue(id: Uint8Array, side: "recipient" | "sender"): Promise<QueueRecord | undefined> {
    // Read now, without waiting for the operations queued: they are checked again when they run
    // (append compares the sender key, secure and ack look the queue up again), so a lookup that
    // misses a pending KEY or DEL changes nothing that is stored.
    if (this.#closed) return Promise.reject(new Error("the relay store is closed"));
    const key = (side === "recipient" ? "r" : "s") + id.toHex();
    const cached = this.#records.get(key);
    if (cached) return Promise.resolve(cached);
    const st = side === "recipient" ? this.#st.byRid : this.#st.bySid;
    const record = queueRecordOf(st.get(id) as Row, bytes);
    if (record) this.#remember(this.#records, key, record);
    return Promise.resolve(record);
  }

  /** Sets a cache entry, emptying the cache when it is full (entries are read again). */
  #remember<V>(cache: Map<string, V>, key: string, value: V): void {
    if (cache.size >= CACHE_ENTRIES && !cache.has(key)) cache.clear();
    cache.set(key, value);
  }

  /** Forgets the cached record of the queue of `row` (in a KEY or DEL). */
  #forget(row: Row): void {
    this.#records.delete("r" + bytes(row.rid).toHex());
    this.#records.delete("s" + bytes(row.sid).toHex());
  }

  /** The transaction's counters of the queue `rid` (hex `key`). */
  #tally(key: string): Tally {
    let tally = this.#tallies.get(key);
    if (!tally) this.#tallies.set(key, tally = { msgs: 0, bytes: 0 });
    return tally;
  }

  /** Writes the transaction's counters back to the queue rows. */
  #writeTallies(): void {
    for (const [key, tally] of this.#tallies) {
      if (tally.msgs !== 0 || tally.bytes !== 0) {
        this.#st.count.run(tally.msgs, tally.bytes, Uint8Array.fromHex(key));
        if (tally.row) {
          tally.row.msgs += tally.msgs;
          tally.row.bytes += tally.bytes;
        }
        tally.msgs = tally.bytes = 0;
      }
    }
  }

  secure(rid: Uint8Array, senderKey: AuthKey): Promise<boolean> {
    return this.#enqueue(() => {
      const row = this.#st.byRid.get(rid) as Row | undefined;
      if (!row) return false;
      this.#forget(row);
      const tally = this.#tallies.get(rid.toHex());
      if (tally) tally.row = undefined; // its sender key changes: read the row again
      if (row.sk != null) {
        return String(row.sk_alg) === senderKey.algorithm &&
          equalBytes(bytes(row.sk), senderKey.publicKey);
      }
      this.#st.secure.run(senderKey.algorithm, senderKey.publicKey, rid);
      return true;
    }, rid);
  }

  deleteQueue(rid: Uint8Array): Promise<boolean> {
    return this.#enqueue(() => {
      const row = this.#st.byRid.get(rid) as Row | undefined;
      if (row) this.#forget(row);
      this.#tallies.delete(rid.toHex());
      this.#last.delete(rid.toHex());
      this.#st.deleteMessages.run(rid);
      this.#st.deleteBundles.run(rid);
      return Number(this.#st.deleteQueue.run(rid).changes) > 0;
    }, rid);
  }

  append(
    rid: Uint8Array,
    msgId: Uint8Array,
    envelope: Uint8Array,
    expectedSenderKey: Uint8Array | undefined,
  ): Promise<AppendResult> {
    return this.#enqueue((job): AppendResult => {
      const key = rid.toHex();
      const tally = this.#tally(key);
      if (tally.row === undefined) {
        const row = this.#st.byRid.get(rid) as Row | undefined;
        tally.row = row
          ? {
            sk: row.sk == null ? undefined : bytes(row.sk),
            msgs: Number(row.msgs),
            bytes: Number(row.bytes),
          }
          : null;
      }
      const row = tally.row;
      if (!row) return "gone";
      const sk = row.sk;
      if ((sk === undefined) !== (expectedSenderKey === undefined)) return "gone";
      if (sk && !equalBytes(sk, expectedSenderKey!)) return "gone";
      if (
        row.msgs + tally.msgs + 1 > this.#limits.maxQueueMessages ||
        row.bytes + tally.bytes + envelope.length > this.#limits.maxQueueBytes
      ) return this.#st.hasMsg.get(rid, msgId) ? "duplicate" : "quota";
      const previous = tally.last ?? this.#last.get(key) ??
        Number((this.#st.newest.get(rid) as Row).seq ?? 0);
      // The unique key (rid, msg_id) ignores a message id the queue holds or held (a retry).
      const inserted = this.#st.insertMsg.run(
        rid,
        msgId,
        envelope,
        expiryAt(this.#now(), this.#limits.retentionMs),
      );
      if (Number(inserted.changes) === 0) return "duplicate";
      tally.msgs += 1;
      tally.bytes += envelope.length;
      const seq = Number(inserted.lastInsertRowid);
      // (A previous seq at or above this one only makes the subscription read the queue.)
      tally.last = seq;
      job.announce = { rid, message: { seq, previous: Math.min(previous, seq), msgId, envelope } };
      return "stored";
    }, rid);
  }

  oldest(rid: Uint8Array): Promise<StoredMessage | undefined> {
    return this.#read(rid, () => {
      const row = this.#st.oldest.get(rid, this.#now()) as Row | undefined;
      return row ? message(row) : undefined;
    });
  }

  next(rid: Uint8Array, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    return this.#read(rid, () => {
      const rows = this.#st.next.all(rid, afterSeq, this.#now(), limit) as Row[];
      return rows.map(message);
    });
  }

  /** Reads now, unless an operation on this queue waits: then after it, in order. */
  #read<T>(rid: Uint8Array, read: () => T): Promise<T> {
    if (!this.#pending.has(rid.toHex()) && !this.#closed) return Promise.resolve(read());
    return this.#enqueue(read, rid);
  }

  ack(rid: Uint8Array, msgId: Uint8Array): Promise<boolean> {
    return this.#enqueue(() => {
      const live = this.#st.liveLength.get(rid, msgId) as Row | undefined;
      if (!live) return false;
      this.#st.ack.run(expiryAt(this.#now(), this.#limits.dedupMs), rid, msgId);
      const tally = this.#tally(rid.toHex());
      tally.msgs -= 1;
      tally.bytes -= Number(live.n);
      return true;
    }, rid);
  }

  publish(
    rid: Uint8Array,
    bundles: readonly Uint8Array[],
    options: { replace: boolean; lastResort: boolean },
  ): Promise<PublishResult> {
    return this.#enqueue((): PublishResult => {
      if (!this.#st.byRid.get(rid)) return "gone";
      if (options.lastResort) {
        this.#st.dropLastResort.run(rid);
        for (const b of bundles) this.#st.insertBundle.run(rid, 1, b);
      } else {
        if (options.replace) this.#st.dropOneTime.run(rid);
        const held = Number((this.#st.countBundles.get(rid) as Row).n);
        if (held + bundles.length > this.#limits.maxBundles) return "quota";
        for (const b of bundles) this.#st.insertBundle.run(rid, 0, b);
      }
      return Number((this.#st.countBundles.get(rid) as Row).n);
    }, rid);
  }

  fetchBundle(rid: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#enqueue(() => {
      const popped = this.#st.popBundle.get(rid) as Row | undefined;
      if (popped) return bytes(popped.bundle);
      const last = this.#st.lastResort.get(rid) as Row | undefined;
      return last ? bytes(last.bundle) : undefined;
    }, rid);
  }

  sweep(): Promise<number> {
    return this.#enqueue(() => {
      // The counters change below: write this transaction's first, and read them again after.
      this.#writeTallies();
      for (const tally of this.#tallies.values()) tally.row = undefined;
      const now = this.#now();
      for (const row of this.#st.expiredCounts.all(now) as Row[]) {
        this.#st.count.run(-Number(row.n), -Number(row.b ?? 0), bytes(row.rid));
      }
      for (const row of this.#st.groupExpiredCounts.all(now) as Row[]) {
        this.#st.groupCount.run(Number(row.n), Number(row.b ?? 0), bytes(row.gid));
      }
      return Number(this.#st.sweep.run(now).changes) +
        Number(this.#st.groupSweep.run(now).changes);
    });
  }

  createGroupQueue(gid: Uint8Array, epoch: bigint, key: AuthKey): Promise<boolean> {
    return this.#enqueue(() => {
      const row = this.#st.groupQueue.get(gid) as Row | undefined;
      if (row) {
        const k = this.#st.groupKey.get(gid, epoch) as Row | undefined;
        return BigInt(row.epoch as number) === epoch && Number(row.last_seq) === 0 &&
          k !== undefined && String(k.alg) === key.algorithm &&
          equalBytes(bytes(k.key), key.publicKey);
      }
      this.#st.insertGroupQueue.run(gid, epoch);
      this.#st.insertGroupKey.run(gid, epoch, key.algorithm, key.publicKey);
      return true;
    }, gid);
  }

  groupKey(gid: Uint8Array, epoch: bigint): Promise<{ key: AuthKey; current: bigint } | undefined> {
    // The key of an epoch never changes once set, so a read now is never wrong; only whether the
    // queue moved on may be newer by the time a post runs, and groupPost checks that again.
    return this.#read(gid, () => {
      const row = this.#st.groupQueue.get(gid) as Row | undefined;
      const k = row && this.#st.groupKey.get(gid, epoch) as Row | undefined;
      if (!row || !k) return undefined;
      return {
        key: { algorithm: String(k.alg), publicKey: bytes(k.key) },
        current: BigInt(row.epoch as number),
      };
    });
  }

  groupPost(
    gid: Uint8Array,
    msgId: Uint8Array,
    epoch: bigint,
    envelope: Uint8Array,
    nextKey: AuthKey | undefined,
  ): Promise<GroupPostResult> {
    return this.#enqueue((): GroupPostResult => {
      const row = this.#st.groupQueue.get(gid) as Row | undefined;
      if (!row) return { result: "gone" };
      const dup = this.#st.groupDuplicate.get(gid, msgId) as Row | undefined;
      if (dup) return { result: "duplicate", seq: Number(dup.seq) };
      const current = BigInt(row.epoch as number);
      if (epoch !== current) return { result: "stale", current };
      if (
        Number(row.msgs) + 1 > this.#limits.maxQueueMessages ||
        Number(row.bytes) + envelope.length > this.#limits.maxQueueBytes
      ) return { result: "quota" };
      const seq = Number(row.last_seq) + 1;
      const expires = expiryAt(this.#now(), this.#limits.retentionMs);
      this.#st.insertGroupMsg.run(gid, seq, epoch, msgId, envelope, expires);
      if (nextKey) {
        this.#st.insertGroupKey.run(gid, epoch + 1n, nextKey.algorithm, nextKey.publicKey);
      }
      this.#st.updateGroupQueue.run(nextKey ? epoch + 1n : epoch, seq, envelope.length, gid);
      return { result: "stored", seq };
    }, gid);
  }

  groupFetch(
    gid: Uint8Array,
    epoch: bigint,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<{ current: bigint; messages: StoredGroupMessage[] } | undefined> {
    return this.#read(gid, () => {
      const row = this.#st.groupQueue.get(gid) as Row | undefined;
      if (!row) return undefined;
      const rows = this.#st.groupFetch.all(gid, epoch, after, this.#now(), limit) as Row[];
      return {
        current: BigInt(row.epoch as number),
        messages: groupMessagesWithin(rows, maxBytes, bytes),
      };
    });
  }

  watch(listener: WatchListener): () => void {
    return this.#watchers.add(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Let the operations already asked for finish.
    while (this.#jobs.length > 0 || this.#scheduled || this.#syncing) {
      await new Promise((r) => setTimeout(r, 1));
    }
    this.#closed = true;
    this.#wake.port1.close();
    this.#wake.port2.close();
    this.#wal?.file.close();
    this.#db.close();
  }
}
