// Internal: turning rows of the SQL stores (relay/sqlite.ts, relay/postgres.ts) into the records
// of relay/store.ts. Both stores' tables share their column names (`docs/relay.md` section 7);
// each passes its driver's way of reading a blob column as `bytes`.
import type { QueueRecord, StoredGroupMessage } from "./store.ts";

/** A row as the database driver returns it. */
export type Row = Record<string, unknown>;

/** The queue record of a row of the queues table (rid, sid, rk_alg, rk, sk_alg, sk). */
export function queueRecordOf(
  row: Row | undefined,
  bytes: (value: unknown) => Uint8Array,
): QueueRecord | undefined {
  if (!row) return undefined;
  return {
    rid: bytes(row.rid),
    sid: bytes(row.sid),
    recipientKey: { algorithm: String(row.rk_alg), publicKey: bytes(row.rk) },
    senderKey: row.sk == null
      ? undefined
      : { algorithm: String(row.sk_alg), publicKey: bytes(row.sk) },
  };
}

/**
 * The group messages of `rows` (seq, envelope) that fit in `maxBytes` of envelopes, in order (at
 * least the first one).
 */
export function groupMessagesWithin(
  rows: Iterable<Row>,
  maxBytes: number,
  bytes: (value: unknown) => Uint8Array,
): StoredGroupMessage[] {
  const out: StoredGroupMessage[] = [];
  let total = 0;
  for (const row of rows) {
    const envelope = bytes(row.envelope);
    total += envelope.length;
    if (out.length > 0 && total > maxBytes) break;
    out.push({ seq: Number(row.seq), envelope });
  }
  return out;
}
