// One contract suite, run against both relay stores (docs/relay.md section 7): SQLite in a
// temporary file, and PostgreSQL in a throwaway cluster (tests/relay/_postgres.ts).
import assert from "node:assert/strict";
import {
  DEFAULT_STORE_LIMITS,
  expiryAt,
  PostgresStore,
  type RelayStore,
  SqliteStore,
  type StoreOptions,
} from "../../relay/mod.ts";
import { type Postgres, startPostgres } from "./_postgres.ts";
import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";

const DAY = 24 * 3600_000;
const key = (fill: number) => ({ algorithm: "ed25519", publicKey: new Uint8Array(32).fill(fill) });
const id = (n: number, size = 24) => {
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, n);
  out[size - 1] = 0xaa;
  return out;
};
const env = (n: number, size = 10) => new Uint8Array(size).fill(n);

interface Harness {
  store: RelayStore;
  clock: { now: number };
  /** Whether another connection to the same database sees the message now. */
  peek(rid: Uint8Array, msgId: Uint8Array): Promise<boolean>;
}

type Open = (
  options: StoreOptions,
) => Promise<{ store: RelayStore; peek: Harness["peek"]; done(): Promise<void> }>;

/** Each contract case, given a fresh store. */
const CASES: Record<string, (h: Harness) => Promise<void>> = {
  async "an answered append is committed: another connection sees it at once"({ store, peek }) {
    await store.createQueue(id(1), id(2), key(7));
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const result = await store.append(id(1), id(i, 16), env(i), undefined);
      return result === "stored" && await peek(id(1), id(i, 16));
    }));
    assert.deepEqual(results, Array(20).fill(true));
  },

  async "queues are found by RID and by SID, not by the other"({ store }) {
    await store.createQueue(id(1), id(2), key(7));
    const byRid = await store.queue(id(1), "recipient");
    assert.deepEqual(byRid?.sid, id(2));
    assert.deepEqual(byRid?.recipientKey.publicKey, key(7).publicKey);
    assert.equal(byRid?.senderKey, undefined);
    assert.deepEqual((await store.queue(id(2), "sender"))?.rid, id(1));
    assert.equal(await store.queue(id(2), "recipient"), undefined);
    assert.equal(await store.queue(id(1), "sender"), undefined);
    assert.equal(await store.queue(id(99), "recipient"), undefined);
  },

  async "messages come oldest first; ACK deletes; a repeated msgId is stored once"({ store }) {
    await store.createQueue(id(1), id(2), key(7));
    for (let i = 0; i < 5; i++) {
      assert.equal(await store.append(id(1), id(i, 16), env(i), undefined), "stored");
    }
    assert.equal(await store.append(id(1), id(3, 16), env(3), undefined), "duplicate");
    for (let i = 0; i < 5; i++) {
      const m = await store.oldest(id(1));
      assert.deepEqual(m && { msgId: m.msgId, envelope: m.envelope }, {
        msgId: id(i, 16),
        envelope: env(i),
      });
      assert.equal(await store.ack(id(1), id(i, 16)), true);
      assert.equal(await store.ack(id(1), id(i, 16)), false); // a retried ACK
    }
    assert.equal(await store.oldest(id(1)), undefined);
    // Within the dedup window, an acknowledged id is still a duplicate.
    assert.equal(await store.append(id(1), id(2, 16), env(2), undefined), "duplicate");
    assert.equal(await store.oldest(id(1)), undefined);
  },

  async "next() pages through the live messages in order, after a position"({ store }) {
    await store.createQueue(id(1), id(2), key(7));
    for (let i = 0; i < 10; i++) await store.append(id(1), id(i, 16), env(i), undefined);
    await store.ack(id(1), id(3, 16));
    const first = await store.next(id(1), 0, 4);
    assert.deepEqual(first.map((m) => m.envelope[0]), [0, 1, 2, 4]);
    assert.ok(first.every((m, i) => i === 0 || m.seq > first[i - 1].seq));
    const rest = await store.next(id(1), first.at(-1)!.seq, 100);
    assert.deepEqual(rest.map((m) => m.envelope[0]), [5, 6, 7, 8, 9]);
    assert.deepEqual(await store.next(id(1), rest.at(-1)!.seq, 100), []);
    assert.deepEqual(await store.next(id(9), 0, 100), []);
  },

  async "concurrent appends keep their order and are all stored"({ store }) {
    await store.createQueue(id(1), id(2), key(7));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.append(id(1), id(i, 16), env(i), undefined)),
    );
    assert.ok(results.every((r) => r === "stored"));
    for (let i = 0; i < 50; i++) {
      const m = await store.oldest(id(1));
      assert.deepEqual(m?.msgId, id(i, 16));
      await store.ack(id(1), id(i, 16));
    }
  },

  async "a full queue refuses by messages and by bytes, and takes more after an ACK"({ store }) {
    await store.createQueue(id(1), id(2), key(7));
    for (let i = 0; i < 3; i++) await store.append(id(1), id(i, 16), env(i), undefined);
    assert.equal(await store.append(id(1), id(9, 16), env(9), undefined), "quota");
    await store.ack(id(1), id(0, 16));
    assert.equal(await store.append(id(1), id(9, 16), env(9), undefined), "stored");
    await store.createQueue(id(3), id(4), key(7));
    assert.equal(await store.append(id(3), id(1, 16), env(1, 60), undefined), "stored");
    assert.equal(await store.append(id(3), id(2, 16), env(2, 41), undefined), "quota");
    assert.equal(await store.append(id(3), id(2, 16), env(2, 40), undefined), "stored");
  },

  async "secure sets the sender key once; appends must match the key they were checked with"({
    store,
  }) {
    await store.createQueue(id(1), id(2), key(7));
    assert.equal(await store.secure(id(1), key(8)), true);
    assert.equal(await store.secure(id(1), key(8)), true); // a retry
    assert.equal(await store.secure(id(1), key(9)), false);
    assert.equal(await store.secure(id(5), key(8)), false);
    assert.deepEqual((await store.queue(id(2), "sender"))?.senderKey, key(8));
    // Checked as unsecured, but secured meanwhile: refused.
    assert.equal(await store.append(id(1), id(1, 16), env(1), undefined), "gone");
    assert.equal(await store.append(id(1), id(1, 16), env(1), key(9).publicKey), "gone");
    assert.equal(await store.append(id(1), id(1, 16), env(1), key(8).publicKey), "stored");
  },

  async "messages expire after the retention period, ids after the dedup window"({ store, clock }) {
    await store.createQueue(id(1), id(2), key(7));
    for (let i = 0; i < 3; i++) await store.append(id(1), id(i, 16), env(i), undefined);
    await store.ack(id(1), id(0, 16));
    clock.now += 2 * DAY; // past the dedup window: the acknowledged id goes at the sweep
    assert.equal(await store.sweep(), 1);
    assert.equal(await store.append(id(1), id(0, 16), env(0), undefined), "stored");
    clock.now += 21 * DAY; // past the retention: everything goes
    assert.equal(await store.oldest(id(1)), undefined); // even before the sweep
    assert.equal(await store.sweep(), 3);
    // The counters went down with them: the queue takes three new messages.
    for (let i = 10; i < 13; i++) {
      assert.equal(await store.append(id(1), id(i, 16), env(i), undefined), "stored");
    }
  },

  async "DEL removes the queue, its messages and bundles"({ store }) {
    await store.createQueue(id(1), id(2), key(7));
    await store.append(id(1), id(1, 16), env(1), undefined);
    await store.publish(id(1), [env(5)], { replace: false, lastResort: false });
    assert.equal(await store.deleteQueue(id(1)), true);
    assert.equal(await store.deleteQueue(id(1)), false);
    assert.equal(await store.queue(id(2), "sender"), undefined);
    assert.equal(await store.oldest(id(1)), undefined);
    assert.equal(await store.fetchBundle(id(1)), undefined);
    assert.equal(await store.append(id(1), id(2, 16), env(2), undefined), "gone");
  },

  async "bundles pop one per fetch, concurrently distinct, then the last resort stays"({ store }) {
    await store.createQueue(id(1), id(2), key(7));
    assert.equal(await store.fetchBundle(id(1)), undefined);
    const bundles = Array.from({ length: 10 }, (_, i) => env(i + 1, 100));
    assert.equal(await store.publish(id(1), bundles, { replace: false, lastResort: false }), 10);
    assert.equal(await store.publish(id(1), [env(99)], { replace: false, lastResort: true }), 10);
    const got = await Promise.all(Array.from({ length: 14 }, () => store.fetchBundle(id(1))));
    const oneTime = got.filter((b) => b && b.length === 100).map((b) => b![0]);
    assert.deepEqual(oneTime.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(got.filter((b) => b?.[0] === 99).length, 4);
    assert.deepEqual(await store.fetchBundle(id(1)), env(99)); // not consumed
    assert.equal(
      await store.publish(id(1), [env(1), env(2)], { replace: false, lastResort: false }),
      2,
    );
    assert.equal(await store.publish(id(1), [env(3)], { replace: true, lastResort: false }), 1);
    assert.deepEqual(await store.fetchBundle(id(1)), env(3));
    assert.equal(
      await store.publish(id(1), Array.from({ length: 13 }, () => env(1)), {
        replace: false,
        lastResort: false,
      }),
      "quota",
    );
    assert.equal(
      await store.publish(id(9), [env(1)], { replace: false, lastResort: false }),
      "gone",
    );
  },

  async "group queues: sequence numbers, the current epoch, first commit wins"({ store }) {
    const gid = id(40);
    assert.equal(await store.createGroupQueue(gid, 3n, key(1)), true);
    assert.equal(await store.createGroupQueue(gid, 3n, key(1)), true); // a retry
    assert.equal(await store.createGroupQueue(gid, 3n, key(2)), false);
    assert.equal(await store.createGroupQueue(gid, 4n, key(1)), false);
    assert.deepEqual(await store.groupKey(gid, 3n), { key: key(1), current: 3n });
    assert.equal(await store.groupKey(gid, 4n), undefined);
    assert.equal(await store.groupKey(id(41), 3n), undefined);
    // Application messages at the current epoch, numbered 1 upwards.
    assert.deepEqual(await store.groupPost(gid, id(1, 16), 3n, env(1), undefined), {
      result: "stored",
      seq: 1,
    });
    assert.deepEqual(await store.groupPost(gid, id(2, 16), 3n, env(2), undefined), {
      result: "stored",
      seq: 2,
    });
    // Two commits for epoch 3, concurrently: exactly one is stored, the other is stale.
    const [a, b] = await Promise.all([
      store.groupPost(gid, id(3, 16), 3n, env(3), key(3)),
      store.groupPost(gid, id(4, 16), 3n, env(4), key(4)),
    ]);
    const results = [a, b].map((r) => r.result).sort();
    assert.deepEqual(results, ["stale", "stored"]);
    const won = a.result === "stored" ? key(3) : key(4);
    const lost = a.result === "stored" ? b : a;
    assert.deepEqual(lost, { result: "stale", current: 4n });
    assert.deepEqual(await store.groupKey(gid, 4n), { key: won, current: 4n });
    // The loser's retry after a lost answer is a duplicate of... nothing: it was never stored.
    // The winner's retry is answered with its number.
    const winnerId = a.result === "stored" ? id(3, 16) : id(4, 16);
    assert.deepEqual(await store.groupPost(gid, winnerId, 3n, env(3), won), {
      result: "duplicate",
      seq: 3,
    });
    assert.deepEqual(await store.groupPost(gid, id(5, 16), 3n, env(5), undefined), {
      result: "stale",
      current: 4n,
    });
    assert.deepEqual(await store.groupPost(gid, id(6, 16), 4n, env(6), undefined), {
      result: "stored",
      seq: 4,
    });
    // Fetches are per epoch: epoch 3's messages (with its commit), then epoch 4's.
    const e3 = await store.groupFetch(gid, 3n, 0, 100, 1 << 20);
    assert.equal(e3?.current, 4n);
    assert.deepEqual(e3?.messages.map((m) => m.seq), [1, 2, 3]);
    assert.deepEqual(e3?.messages[0].envelope, env(1));
    assert.deepEqual((await store.groupFetch(gid, 3n, 1, 1, 1 << 20))?.messages.map((m) => m.seq), [
      2,
    ]);
    assert.deepEqual(
      (await store.groupFetch(gid, 4n, 3, 100, 1 << 20))?.messages.map((m) => m.seq),
      [4],
    );
    // A byte budget: at least one message, then what fits.
    assert.deepEqual((await store.groupFetch(gid, 3n, 0, 100, 15))?.messages.map((m) => m.seq), [
      1,
    ]);
    assert.deepEqual((await store.groupFetch(gid, 3n, 0, 100, 1))?.messages.map((m) => m.seq), [1]);
    assert.equal(await store.groupFetch(id(41), 3n, 0, 100, 1 << 20), undefined);
    assert.deepEqual(await store.groupPost(id(41), id(1, 16), 3n, env(1), undefined), {
      result: "gone",
    });
  },

  async "group queues: 50 concurrent posts get 1..50 without gaps; quota; expiry"(
    { store, clock },
  ) {
    const gid = id(50);
    await store.createGroupQueue(gid, 0n, key(1));
    const posted = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.groupPost(gid, id(i, 16), 0n, env(i), undefined)),
    );
    const seqs = posted.map((r) => r.result === "stored" ? r.seq : -1).sort((x, y) => x - y);
    assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => i + 1));
    const all = await store.groupFetch(gid, 0n, 0, 100, 1 << 20);
    assert.deepEqual(all?.messages.map((m) => m.seq), seqs);
    // Each message is stored with the number it was answered with.
    for (const [i, r] of posted.entries()) {
      assert.deepEqual(
        all?.messages.find((m) => r.result === "stored" && m.seq === r.seq)?.envelope,
        env(i),
      );
    }
    clock.now += 22 * DAY;
    assert.deepEqual((await store.groupFetch(gid, 0n, 0, 100, 1 << 20))?.messages, []);
    assert.ok((await store.sweep()) >= 50);
    assert.deepEqual(await store.groupPost(gid, id(99, 16), 0n, env(9), undefined), {
      result: "stored",
      seq: 51,
    });
  },

  async "group queues: a full queue refuses"({ store }) {
    const gid = id(60);
    await store.createGroupQueue(gid, 0n, key(1));
    for (let i = 0; i < 3; i++) await store.groupPost(gid, id(i, 16), 0n, env(i), undefined);
    assert.deepEqual(await store.groupPost(gid, id(9, 16), 0n, env(9), undefined), {
      result: "quota",
    });
  },

  async "watchers hear of stored messages only"({ store }) {
    await store.createQueue(id(1), id(2), key(7));
    const heard: string[] = [];
    const stop = store.watch((rid) => heard.push(rid.toHex()));
    await store.append(id(1), id(1, 16), env(1), undefined);
    await store.append(id(1), id(1, 16), env(1), undefined);
    const deadline = Date.now() + 10_000;
    while (heard.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    stop();
    assert.ok(heard.length >= 1 && heard.every((h) => h === id(1).toHex()));
    const count = heard.length;
    await store.append(id(1), id(2, 16), env(2), undefined);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(heard.length, count);
  },
};

const LIMITS = { maxQueueMessages: 3, maxQueueBytes: 100, maxBundles: 12 };

async function contract(t: Deno.TestContext, name: string, open: Open) {
  for (const [title, run] of Object.entries(CASES)) {
    await t.step(`${name}: ${title}`, async () => {
      const clock = { now: Date.UTC(2026, 0, 1, 12) };
      const { store, peek, done } = await open({
        limits: title.startsWith("a full") || title.endsWith("a full queue refuses")
          ? LIMITS
          : { maxBundles: 12 },
        now: () => clock.now,
      });
      try {
        await run({ store, clock, peek });
      } finally {
        await store.close();
        await done();
      }
    });
  }
}

Deno.test("expiry times are rounded up to the hour", () => {
  const t = Date.UTC(2026, 0, 1, 12, 0, 1);
  assert.equal(expiryAt(t, DAY), Date.UTC(2026, 0, 2, 13));
  assert.equal(DEFAULT_STORE_LIMITS.retentionMs, 21 * DAY);
});

Deno.test("relay store contract: SQLite", async (t) => {
  const dir = await Deno.makeTempDir();
  let n = 0;
  try {
    await contract(t, "sqlite", (options) => {
      const path = `${dir}/relay-${n++}.db`;
      const store = new SqliteStore(path, options);
      const reader = new DatabaseSync(path, { readOnly: true });
      const query = reader.prepare("SELECT 1 FROM messages WHERE rid = ? AND msg_id = ?");
      return Promise.resolve({
        store,
        peek: (rid: Uint8Array, msgId: Uint8Array) =>
          Promise.resolve(query.get(rid, msgId) !== undefined),
        done: () => Promise.resolve(reader.close()),
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "relay store contract: PostgreSQL",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    let pg: Postgres | undefined;
    let n = 0;
    try {
      pg = await startPostgres();
      const cluster = pg;
      await contract(t, "postgres", async (options) => {
        const url = await cluster.database(`contract_${n++}`);
        const store = await PostgresStore.open(url, options);
        const reader = postgres(url, { max: 1, onnotice: () => {} });
        return {
          store,
          peek: async (rid: Uint8Array, msgId: Uint8Array) =>
            (await reader`SELECT 1 FROM relay_messages WHERE rid = ${rid} AND msg_id = ${msgId}`)
              .length > 0,
          done: () => reader.end({ timeout: 1 }),
        };
      });
    } finally {
      await pg?.stop();
    }
  },
});
