/**
 * The relay's PostgreSQL store (`docs/relay.md` section 7.2), for several relay processes sharing
 * one database: each operation is one committed transaction (a PL/pgSQL function, one round trip),
 * operations on one queue run in order within a process, and every stored message is announced
 * with `pg_notify('polycrypt_relay', RID in hex)`, which every process `LISTEN`s to, so a message
 * sent through relay A reaches a recipient subscribed on relay B at once.
 *
 * @module
 */
import postgres from "postgres";
import type { AuthKey } from "./protocol.ts";
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
import { equalBytes } from "../engines/_bytes.ts";
import { groupMessagesWithin, queueRecordOf } from "./_rows.ts";

/** The NOTIFY channel. */
const CHANNEL = "polycrypt_relay";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS relay_queues (
  rid bytea PRIMARY KEY, sid bytea UNIQUE NOT NULL, rk_alg text NOT NULL, rk bytea NOT NULL,
  sk_alg text, sk bytea, msgs integer NOT NULL DEFAULT 0, bytes bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS relay_messages (
  seq bigserial PRIMARY KEY, rid bytea NOT NULL, msg_id bytea NOT NULL, envelope bytea,
  expires bigint NOT NULL, UNIQUE (rid, msg_id)
);
CREATE INDEX IF NOT EXISTS relay_messages_live ON relay_messages (rid, seq) WHERE envelope IS NOT NULL;
CREATE INDEX IF NOT EXISTS relay_messages_expires ON relay_messages (expires);
CREATE TABLE IF NOT EXISTS relay_bundles (
  seq bigserial PRIMARY KEY, rid bytea NOT NULL, last_resort boolean NOT NULL, bundle bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS relay_bundles_queue ON relay_bundles (rid, last_resort, seq);

CREATE OR REPLACE FUNCTION relay_append(p_rid bytea, p_msg bytea, p_env bytea, p_expires bigint,
  p_sk bytea, p_max_msgs integer, p_max_bytes bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE q record;
BEGIN
  SELECT sk, msgs, bytes INTO q FROM relay_queues WHERE rid = p_rid FOR UPDATE;
  IF NOT FOUND OR q.sk IS DISTINCT FROM p_sk THEN RETURN 'gone'; END IF;
  PERFORM 1 FROM relay_messages WHERE rid = p_rid AND msg_id = p_msg;
  IF FOUND THEN RETURN 'duplicate'; END IF;
  IF q.msgs + 1 > p_max_msgs OR q.bytes + length(p_env) > p_max_bytes THEN RETURN 'quota'; END IF;
  INSERT INTO relay_messages (rid, msg_id, envelope, expires) VALUES (p_rid, p_msg, p_env, p_expires);
  UPDATE relay_queues SET msgs = msgs + 1, bytes = bytes + length(p_env) WHERE rid = p_rid;
  PERFORM pg_notify('${CHANNEL}', encode(p_rid, 'hex'));
  RETURN 'stored';
END $$;

CREATE OR REPLACE FUNCTION relay_ack(p_rid bytea, p_msg bytea, p_expires bigint)
  RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
  PERFORM 1 FROM relay_queues WHERE rid = p_rid FOR UPDATE;
  SELECT length(envelope) INTO n FROM relay_messages
    WHERE rid = p_rid AND msg_id = p_msg AND envelope IS NOT NULL;
  IF n IS NULL THEN RETURN false; END IF;
  UPDATE relay_messages SET envelope = NULL, expires = p_expires
    WHERE rid = p_rid AND msg_id = p_msg;
  UPDATE relay_queues SET msgs = msgs - 1, bytes = bytes - n WHERE rid = p_rid;
  RETURN true;
END $$;

-- SEND and ACK, many at once (docs/relay.md section 7.2): one transaction, one round trip. p_ops
-- holds each operation as  kind:u8 ('a' SEND, 'k' ACK) || rid[24] || msg[16] || skLen:u8 || sk
-- || envLen:u32 || env;  one row comes back per operation, in order: SEND 'stored' (with the new
-- seq, and the seq of the queue's newest unacknowledged message before it), 'duplicate', 'quota'
-- or 'gone'; ACK 'acked' or 'none'. The queue rows are locked first, in order of rid, so that two
-- processes' batches never wait for each other in a cycle. The queues that got a message are
-- announced with one NOTIFY per 150: p_origin || ':' || rid hex, comma-separated.
CREATE OR REPLACE FUNCTION relay_batch(p_ops bytea, p_origin text, p_expires bigint,
  p_ack_expires bigint, p_max_msgs integer, p_max_bytes bigint)
  RETURNS TABLE (result text, seq bigint, previous bigint) LANGUAGE plpgsql AS $$
DECLARE
  n integer := length(p_ops); pos integer := 0; kind integer; v_rid bytea; v_msg bytea;
  v_sk bytea; sk_len integer; env_len integer; v_env bytea; q record; v_seq bigint;
  v_prev bigint; v_len integer; rids bytea[] := '{}'; told text[] := '{}'; i integer;
BEGIN
  WHILE pos < n LOOP
    rids := rids || substring(p_ops FROM pos + 2 FOR 24);
    sk_len := get_byte(p_ops, pos + 41);
    env_len := (get_byte(p_ops, pos + 42 + sk_len) << 24) | (get_byte(p_ops, pos + 43 + sk_len) << 16)
      | (get_byte(p_ops, pos + 44 + sk_len) << 8) | get_byte(p_ops, pos + 45 + sk_len);
    pos := pos + 46 + sk_len + env_len;
  END LOOP;
  PERFORM 1 FROM relay_queues WHERE rid = ANY (rids) ORDER BY rid FOR UPDATE;
  pos := 0;
  WHILE pos < n LOOP
    kind := get_byte(p_ops, pos);
    v_rid := substring(p_ops FROM pos + 2 FOR 24);
    v_msg := substring(p_ops FROM pos + 26 FOR 16);
    sk_len := get_byte(p_ops, pos + 41);
    v_sk := CASE WHEN sk_len = 0 THEN NULL ELSE substring(p_ops FROM pos + 43 FOR sk_len) END;
    env_len := (get_byte(p_ops, pos + 42 + sk_len) << 24) | (get_byte(p_ops, pos + 43 + sk_len) << 16)
      | (get_byte(p_ops, pos + 44 + sk_len) << 8) | get_byte(p_ops, pos + 45 + sk_len);
    v_env := substring(p_ops FROM pos + 47 + sk_len FOR env_len);
    pos := pos + 46 + sk_len + env_len;
    seq := NULL; previous := NULL;
    IF kind = 97 THEN -- 'a': SEND
      SELECT sk, msgs, bytes INTO q FROM relay_queues WHERE rid = v_rid;
      IF NOT FOUND OR q.sk IS DISTINCT FROM v_sk THEN result := 'gone';
      ELSIF EXISTS (SELECT 1 FROM relay_messages m WHERE m.rid = v_rid AND m.msg_id = v_msg) THEN
        result := 'duplicate';
      ELSIF q.msgs + 1 > p_max_msgs OR q.bytes + env_len > p_max_bytes THEN result := 'quota';
      ELSE
        SELECT max(m.seq) INTO v_prev FROM relay_messages m
          WHERE m.rid = v_rid AND m.envelope IS NOT NULL;
        INSERT INTO relay_messages (rid, msg_id, envelope, expires)
          VALUES (v_rid, v_msg, v_env, p_expires) RETURNING relay_messages.seq INTO v_seq;
        UPDATE relay_queues SET msgs = msgs + 1, bytes = bytes + env_len WHERE rid = v_rid;
        result := 'stored'; seq := v_seq; previous := coalesce(v_prev, 0);
        told := told || encode(v_rid, 'hex');
      END IF;
    ELSE -- 'k': ACK
      SELECT length(m.envelope) INTO v_len FROM relay_messages m
        WHERE m.rid = v_rid AND m.msg_id = v_msg AND m.envelope IS NOT NULL;
      IF v_len IS NULL THEN result := 'none';
      ELSE
        UPDATE relay_messages SET envelope = NULL, expires = p_ack_expires
          WHERE rid = v_rid AND msg_id = v_msg;
        UPDATE relay_queues SET msgs = msgs - 1, bytes = bytes - v_len WHERE rid = v_rid;
        result := 'acked';
      END IF;
    END IF;
    RETURN NEXT;
  END LOOP;
  SELECT array_agg(DISTINCT t) INTO told FROM unnest(told) t;
  i := 1;
  WHILE i <= coalesce(array_length(told, 1), 0) LOOP
    PERFORM pg_notify('${CHANNEL}', p_origin || ':' || array_to_string(told[i:i + 149], ','));
    i := i + 150;
  END LOOP;
END $$;

CREATE TABLE IF NOT EXISTS relay_group_queues (
  gid bytea PRIMARY KEY, epoch bigint NOT NULL, last_seq bigint NOT NULL DEFAULT 0,
  msgs integer NOT NULL DEFAULT 0, bytes bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS relay_group_keys (
  gid bytea NOT NULL, epoch bigint NOT NULL, alg text NOT NULL, key bytea NOT NULL,
  PRIMARY KEY (gid, epoch)
);
CREATE TABLE IF NOT EXISTS relay_group_messages (
  gid bytea NOT NULL, seq bigint NOT NULL, epoch bigint NOT NULL, msg_id bytea NOT NULL,
  envelope bytea NOT NULL, expires bigint NOT NULL, PRIMARY KEY (gid, seq), UNIQUE (gid, msg_id)
);
CREATE INDEX IF NOT EXISTS relay_group_messages_epoch ON relay_group_messages (gid, epoch, seq);
CREATE INDEX IF NOT EXISTS relay_group_messages_expires ON relay_group_messages (expires);

-- GPOST: the queue's row is locked first, so of two commits for one epoch, from any processes,
-- exactly one is stored, and sequence numbers follow commit order without gaps.
CREATE OR REPLACE FUNCTION relay_group_post(p_gid bytea, p_msg bytea, p_epoch bigint, p_env bytea,
  p_expires bigint, p_next_alg text, p_next_key bytea, p_max_msgs integer, p_max_bytes bigint)
  RETURNS text LANGUAGE plpgsql AS $$
DECLARE q record; d bigint;
BEGIN
  SELECT epoch, last_seq, msgs, bytes INTO q FROM relay_group_queues WHERE gid = p_gid FOR UPDATE;
  IF NOT FOUND THEN RETURN 'gone'; END IF;
  SELECT seq INTO d FROM relay_group_messages WHERE gid = p_gid AND msg_id = p_msg;
  IF FOUND THEN RETURN 'duplicate ' || d; END IF;
  IF q.epoch <> p_epoch THEN RETURN 'stale ' || q.epoch; END IF;
  IF q.msgs + 1 > p_max_msgs OR q.bytes + length(p_env) > p_max_bytes THEN RETURN 'quota'; END IF;
  INSERT INTO relay_group_messages (gid, seq, epoch, msg_id, envelope, expires)
    VALUES (p_gid, q.last_seq + 1, p_epoch, p_msg, p_env, p_expires);
  IF p_next_key IS NOT NULL THEN
    INSERT INTO relay_group_keys (gid, epoch, alg, key) VALUES (p_gid, p_epoch + 1, p_next_alg, p_next_key);
  END IF;
  UPDATE relay_group_queues SET epoch = CASE WHEN p_next_key IS NULL THEN p_epoch ELSE p_epoch + 1 END,
    last_seq = q.last_seq + 1, msgs = msgs + 1, bytes = bytes + length(p_env) WHERE gid = p_gid;
  RETURN 'stored ' || (q.last_seq + 1);
END $$;

CREATE OR REPLACE FUNCTION relay_sweep(p_now bigint) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer; m integer;
BEGIN
  -- The queue rows it changes first, in order of rid, as relay_batch locks them.
  PERFORM 1 FROM relay_queues WHERE rid IN (SELECT rid FROM relay_messages
    WHERE expires <= p_now AND envelope IS NOT NULL) ORDER BY rid FOR UPDATE;
  UPDATE relay_group_queues q SET msgs = q.msgs - e.n, bytes = q.bytes - e.b
    FROM (SELECT gid, count(*) AS n, coalesce(sum(length(envelope)), 0) AS b
          FROM relay_group_messages WHERE expires <= p_now GROUP BY gid) e
    WHERE q.gid = e.gid;
  DELETE FROM relay_group_messages WHERE expires <= p_now;
  GET DIAGNOSTICS m = ROW_COUNT;
  UPDATE relay_queues q SET msgs = q.msgs - e.n, bytes = q.bytes - e.b
    FROM (SELECT rid, count(*) AS n, coalesce(sum(length(envelope)), 0) AS b FROM relay_messages
          WHERE expires <= p_now AND envelope IS NOT NULL GROUP BY rid) e
    WHERE q.rid = e.rid;
  DELETE FROM relay_messages WHERE expires <= p_now;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n + m;
END $$;
`;

/** Options of a {@linkcode PostgresStore}. */
export interface PostgresStoreOptions extends StoreOptions {
  /** Connections in the pool (default 20). */
  maxConnections?: number;
}

type Sql = ReturnType<typeof postgres>;

/** A SEND or an ACK waiting for the next batch (`relay_batch`). */
interface BatchOp {
  kind: "send" | "ack";
  rid: Uint8Array;
  msgId: Uint8Array;
  envelope?: Uint8Array;
  senderKey?: Uint8Array;
  resolve(row: { result: string; seq: number; previous: number }): void;
  reject(e: unknown): void;
}

/** The operations of `ops` in relay_batch's layout. */
function encodeBatch(ops: readonly BatchOp[]): Uint8Array {
  let size = 0;
  for (const op of ops) size += 46 + (op.senderKey?.length ?? 0) + (op.envelope?.length ?? 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const op of ops) {
    out[at] = op.kind === "send" ? 0x61 : 0x6b;
    out.set(op.rid, at + 1);
    out.set(op.msgId, at + 25);
    const sk = op.senderKey ?? new Uint8Array(0);
    out[at + 41] = sk.length;
    out.set(sk, at + 42);
    const envelope = op.envelope ?? new Uint8Array(0);
    view.setUint32(at + 42 + sk.length, envelope.length);
    out.set(envelope, at + 46 + sk.length);
    at += 46 + sk.length + envelope.length;
  }
  return out;
}

/** Most bytes of envelopes one batch carries (more wait for the next one). */
const BATCH_BYTES = 4 * 1024 * 1024;

function bytes(value: unknown): Uint8Array {
  return new Uint8Array(value as Uint8Array);
}

/**
 * A {@linkcode RelayStore} in a PostgreSQL database, shared by any number of relay processes.
 * Open it with {@linkcode PostgresStore.open}.
 */
export class PostgresStore implements RelayStore {
  readonly #sql: Sql;
  readonly #limits: StoreLimits;
  readonly #now: () => number;
  readonly #watchers = new Watchers();
  /**
   * Each queue's last operation in this process: the next one waits for it, except a SEND or ACK
   * after a SEND or ACK that is in a batch already (batches run one at a time, in order).
   */
  readonly #chains = new Map<string, { tail: Promise<unknown>; batched: boolean }>();
  /** SENDs and ACKs for the next batch, and whether one is running. */
  #batch: BatchOp[] = [];
  #batching = false;
  /** This process's mark on its NOTIFY payloads, so that it does not read its own messages again. */
  readonly #origin = crypto.getRandomValues(new Uint8Array(8)).toHex();
  #unlisten: (() => Promise<void>) | undefined;
  /**
   * Queue records that cannot go stale except by deletion: by RID (the recipient key never
   * changes) and secured ones by SID (nor does the sender key, once set). A deleted queue's
   * cached record only lets a command reach the store, which finds no queue. Entries live 60 s.
   */
  readonly #cache = new Map<string, { record: QueueRecord; at: number }>();

  private constructor(sql: Sql, options: PostgresStoreOptions) {
    this.#sql = sql;
    this.#limits = storeLimits(options.limits);
    this.#now = options.now ?? Date.now;
  }

  /**
   * Connects to `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`), creates the tables if they
   * are missing, and listens for other processes' messages.
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const sql = postgres(url, {
      max: options.maxConnections ?? 20,
      onnotice: () => {},
      // Errors carry no values: PostgreSQL's "detail" (which may quote a key) is not kept.
      debug: false,
    });
    try {
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(7240241)`;
        await tx.unsafe(SCHEMA);
      });
      const store = new PostgresStore(sql, options);
      const listening = await sql.listen(CHANNEL, (payload) => {
        // "origin:rid,rid,..." from relay_batch (a process skips its own: it announced them with
        // the messages already), or one bare rid (relay_append, kept for older processes).
        const colon = payload.indexOf(":");
        if (colon >= 0 && payload.slice(0, colon) === store.#origin) return;
        for (const rid of payload.slice(colon + 1).split(",")) {
          if (/^[0-9a-f]{48}$/.test(rid)) store.#watchers.emit(Uint8Array.fromHex(rid));
        }
      });
      store.#unlisten = () => listening.unlisten();
      return store;
    } catch (e) {
      await sql.end({ timeout: 1 });
      throw e;
    }
  }

  /** Runs `run` after the previous operation on the same queue (in this process). */
  #serial<T>(rid: Uint8Array, run: () => Promise<T>, batched = false): Promise<T> {
    const key = rid.toHex();
    const chain = this.#chains.get(key);
    // A SEND or ACK joins the batch at once when the queue's operations before it are all in a
    // batch: the batches run in order.
    const now = batched && (!chain || chain.batched);
    const next = now || !chain ? run() : chain.tail.then(run, run);
    const settled = next.catch(() => {});
    const entry = { tail: settled, batched: now };
    this.#chains.set(key, entry);
    settled.then(() => {
      if (this.#chains.get(key) === entry) this.#chains.delete(key);
    });
    return next;
  }

  /** Adds a SEND or ACK to the next batch. */
  #batched(op: Omit<BatchOp, "resolve" | "reject">) {
    return new Promise<{ result: string; seq: number; previous: number }>((resolve, reject) => {
      this.#batch.push({ ...op, resolve, reject });
      if (!this.#batching) {
        this.#batching = true;
        queueMicrotask(() => this.#runBatches());
      }
    });
  }

  /**
   * Runs the waiting SENDs and ACKs as one `relay_batch` call, then those that arrived meanwhile,
   * until none wait (group commit: one transaction and one round trip per batch). If a batch
   * fails, each of its operations runs alone, so that one failure fails only its own command.
   */
  async #runBatches(): Promise<void> {
    try {
      while (this.#batch.length > 0) {
        let bytes = 0;
        let count = 0;
        while (count < this.#batch.length && (count === 0 || bytes < BATCH_BYTES)) {
          bytes += this.#batch[count++].envelope?.length ?? 0;
        }
        const ops = this.#batch.splice(0, count);
        try {
          const rows = await this.#callBatch(ops);
          ops.forEach((op, i) => op.resolve(rows[i]));
        } catch (e) {
          if (ops.length === 1) {
            ops[0].reject(e);
            continue;
          }
          for (const op of ops) {
            await this.#callBatch([op]).then((rows) => op.resolve(rows[0]), op.reject);
          }
        }
      }
    } finally {
      this.#batching = false;
    }
  }

  async #callBatch(ops: BatchOp[]) {
    const now = this.#now();
    const rows = await this.#sql`SELECT result, seq, previous FROM relay_batch(
      ${encodeBatch(ops)}, ${this.#origin}, ${expiryAt(now, this.#limits.retentionMs)},
      ${expiryAt(now, this.#limits.dedupMs)}, ${this.#limits.maxQueueMessages},
      ${this.#limits.maxQueueBytes})`;
    if (rows.length !== ops.length) throw new Error("relay_batch answered another count");
    return rows.map((row) => ({
      result: String(row.result),
      seq: Number(row.seq ?? 0),
      previous: Number(row.previous ?? 0),
    }));
  }

  async createQueue(rid: Uint8Array, sid: Uint8Array, recipientKey: AuthKey): Promise<void> {
    await this.#sql`INSERT INTO relay_queues (rid, sid, rk_alg, rk)
      VALUES (${rid}, ${sid}, ${recipientKey.algorithm}, ${recipientKey.publicKey})`;
  }

  async queue(
    id: Uint8Array,
    side: "recipient" | "sender",
    fresh = false,
  ): Promise<QueueRecord | undefined> {
    const key = `${side[0]}${id.toHex()}`;
    const cached = this.#cache.get(key);
    if (cached && !fresh && Date.now() - cached.at < 60_000) return cached.record;
    const rows = side === "recipient"
      ? await this.#sql`SELECT * FROM relay_queues WHERE rid = ${id}`
      : await this.#sql`SELECT * FROM relay_queues WHERE sid = ${id}`;
    const record = queueRecordOf(rows[0], bytes);
    // An unsecured record by SID may miss a KEY made through another process: the SEND it lets
    // through unsigned is refused by relay_batch (the sender key differs), and a signed one makes
    // the server ask again with `fresh`.
    if (record) {
      if (this.#cache.size >= 50_000) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(key, { record, at: Date.now() });
    } else this.#cache.delete(key);
    return record;
  }

  secure(rid: Uint8Array, senderKey: AuthKey): Promise<boolean> {
    const known = this.#cache.get(`r${rid.toHex()}`)?.record;
    if (known) this.#cache.delete(`s${known.sid.toHex()}`);
    this.#cache.delete(`r${rid.toHex()}`);
    return this.#serial(rid, async () => {
      const rows = await this.#sql`UPDATE relay_queues SET sk_alg = ${senderKey.algorithm},
        sk = ${senderKey.publicKey} WHERE rid = ${rid} AND sk IS NULL RETURNING 1`;
      if (rows.length > 0) return true;
      const [row] = await this.#sql`SELECT sk_alg, sk FROM relay_queues WHERE rid = ${rid}`;
      return row !== undefined && row.sk != null && row.sk_alg === senderKey.algorithm &&
        equalBytes(bytes(row.sk), senderKey.publicKey);
    });
  }

  deleteQueue(rid: Uint8Array): Promise<boolean> {
    for (const [key, { record }] of this.#cache) {
      if (record.rid.toHex() === rid.toHex()) this.#cache.delete(key);
    }
    return this.#serial(rid, async () => {
      return await this.#sql.begin(async (tx) => {
        // The queue row first, as relay_batch locks it: no two transactions wait in a cycle.
        await tx`SELECT 1 FROM relay_queues WHERE rid = ${rid} FOR UPDATE`;
        await tx`DELETE FROM relay_messages WHERE rid = ${rid}`;
        await tx`DELETE FROM relay_bundles WHERE rid = ${rid}`;
        const rows = await tx`DELETE FROM relay_queues WHERE rid = ${rid} RETURNING 1`;
        return rows.length > 0;
      });
    });
  }

  append(
    rid: Uint8Array,
    msgId: Uint8Array,
    envelope: Uint8Array,
    expectedSenderKey: Uint8Array | undefined,
  ): Promise<AppendResult> {
    return this.#serial(rid, async () => {
      const { result, seq, previous } = await this.#batched({
        kind: "send",
        rid,
        msgId,
        envelope,
        senderKey: expectedSenderKey,
      });
      if (result === "stored") {
        const message: AnnouncedMessage = { seq, previous, msgId, envelope };
        this.#watchers.emit(rid, message);
      }
      return result as AppendResult;
    }, true);
  }

  oldest(rid: Uint8Array): Promise<StoredMessage | undefined> {
    return this.next(rid, 0, 1).then((rows) => rows[0]);
  }

  next(rid: Uint8Array, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    return this.#serial(rid, async () => {
      const rows = await this.#sql`SELECT seq, msg_id, envelope FROM relay_messages
        WHERE rid = ${rid} AND envelope IS NOT NULL AND seq > ${afterSeq}
        AND expires > ${this.#now()} ORDER BY seq LIMIT ${limit}`;
      return rows.map((row) => ({
        seq: Number(row.seq),
        msgId: bytes(row.msg_id),
        envelope: bytes(row.envelope),
      }));
    });
  }

  ack(rid: Uint8Array, msgId: Uint8Array): Promise<boolean> {
    return this.#serial(
      rid,
      async () => (await this.#batched({ kind: "ack", rid, msgId })).result === "acked",
      true,
    );
  }

  publish(
    rid: Uint8Array,
    bundles: readonly Uint8Array[],
    options: { replace: boolean; lastResort: boolean },
  ): Promise<PublishResult> {
    return this.#serial(rid, async () => {
      return await this.#sql.begin(async (tx): Promise<PublishResult> => {
        const [queue] = await tx`SELECT 1 FROM relay_queues WHERE rid = ${rid} FOR UPDATE`;
        if (!queue) return "gone";
        if (options.lastResort) {
          await tx`DELETE FROM relay_bundles WHERE rid = ${rid} AND last_resort`;
          for (const b of bundles) {
            await tx`INSERT INTO relay_bundles (rid, last_resort, bundle) VALUES (${rid}, true, ${b})`;
          }
        } else {
          if (options.replace) {
            await tx`DELETE FROM relay_bundles WHERE rid = ${rid} AND NOT last_resort`;
          }
          const [{ n }] = await tx`SELECT count(*)::int AS n FROM relay_bundles
            WHERE rid = ${rid} AND NOT last_resort`;
          if (Number(n) + bundles.length > this.#limits.maxBundles) return "quota";
          for (const b of bundles) {
            await tx`INSERT INTO relay_bundles (rid, last_resort, bundle) VALUES (${rid}, false, ${b})`;
          }
        }
        const [{ n }] = await tx`SELECT count(*)::int AS n FROM relay_bundles
          WHERE rid = ${rid} AND NOT last_resort`;
        return Number(n);
      });
    });
  }

  async fetchBundle(rid: Uint8Array): Promise<Uint8Array | undefined> {
    // One statement: the row lock and SKIP LOCKED make concurrent fetches, from any process,
    // take different bundles.
    const [popped] = await this.#sql`DELETE FROM relay_bundles WHERE seq = (
        SELECT seq FROM relay_bundles WHERE rid = ${rid} AND NOT last_resort
        ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING bundle`;
    if (popped) return bytes(popped.bundle);
    const [last] = await this.#sql`SELECT bundle FROM relay_bundles
      WHERE rid = ${rid} AND last_resort LIMIT 1`;
    return last ? bytes(last.bundle) : undefined;
  }

  async createGroupQueue(gid: Uint8Array, epoch: bigint, key: AuthKey): Promise<boolean> {
    return await this.#serial(gid, () =>
      this.#sql.begin(async (tx) => {
        const inserted = await tx`INSERT INTO relay_group_queues (gid, epoch)
          VALUES (${gid}, ${epoch.toString()}) ON CONFLICT DO NOTHING RETURNING 1`;
        if (inserted.length > 0) {
          await tx`INSERT INTO relay_group_keys (gid, epoch, alg, key)
            VALUES (${gid}, ${epoch.toString()}, ${key.algorithm}, ${key.publicKey})`;
          return true;
        }
        const [row] = await tx`SELECT q.epoch, q.last_seq, k.alg, k.key FROM relay_group_queues q
          JOIN relay_group_keys k ON k.gid = q.gid AND k.epoch = q.epoch WHERE q.gid = ${gid}`;
        return row !== undefined && BigInt(row.epoch as string) === epoch &&
          Number(row.last_seq) === 0 && row.alg === key.algorithm &&
          equalBytes(bytes(row.key), key.publicKey);
      }));
  }

  async groupKey(
    gid: Uint8Array,
    epoch: bigint,
  ): Promise<{ key: AuthKey; current: bigint } | undefined> {
    const [row] = await this.#sql`SELECT q.epoch AS current, k.alg, k.key FROM relay_group_queues q
      JOIN relay_group_keys k ON k.gid = q.gid AND k.epoch = ${epoch.toString()}
      WHERE q.gid = ${gid}`;
    if (!row) return undefined;
    return {
      key: { algorithm: String(row.alg), publicKey: bytes(row.key) },
      current: BigInt(row.current as string),
    };
  }

  groupPost(
    gid: Uint8Array,
    msgId: Uint8Array,
    epoch: bigint,
    envelope: Uint8Array,
    nextKey: AuthKey | undefined,
  ): Promise<GroupPostResult> {
    return this.#serial(gid, async (): Promise<GroupPostResult> => {
      const expires = expiryAt(this.#now(), this.#limits.retentionMs);
      const [row] = await this.#sql`SELECT relay_group_post(${gid}, ${msgId}, ${epoch.toString()},
        ${envelope}, ${expires}, ${nextKey?.algorithm ?? null}, ${nextKey?.publicKey ?? null},
        ${this.#limits.maxQueueMessages}, ${this.#limits.maxQueueBytes}) AS result`;
      const [result, value] = String(row.result).split(" ");
      if (result === "stored" || result === "duplicate") return { result, seq: Number(value) };
      if (result === "stale") return { result, current: BigInt(value) };
      return { result: result === "quota" ? "quota" : "gone" };
    });
  }

  groupFetch(
    gid: Uint8Array,
    epoch: bigint,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<{ current: bigint; messages: StoredGroupMessage[] } | undefined> {
    return this.#serial(gid, async () => {
      const [queue] = await this.#sql`SELECT epoch FROM relay_group_queues WHERE gid = ${gid}`;
      if (!queue) return undefined;
      const rows = await this.#sql`SELECT seq, envelope FROM relay_group_messages
        WHERE gid = ${gid} AND epoch = ${epoch.toString()} AND seq > ${after}
        AND expires > ${this.#now()} ORDER BY seq LIMIT ${limit}`;
      const messages = groupMessagesWithin(rows, maxBytes, bytes);
      return { current: BigInt(queue.epoch as string), messages };
    });
  }

  async sweep(): Promise<number> {
    const [row] = await this.#sql`SELECT relay_sweep(${this.#now()}) AS n`;
    return Number(row.n);
  }

  watch(listener: WatchListener): () => void {
    return this.#watchers.add(listener);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#chains.values()].map((c) => c.tail));
    await this.#unlisten?.().catch(() => {});
    await this.#sql.end({ timeout: 5 });
  }
}
