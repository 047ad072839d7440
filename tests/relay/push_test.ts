// The relay's fast paths (docs/relay.md sections 3.1 and 7): each store announces a stored message
// with the position of the queue's previous one, batches SENDs and ACKs in order (PostgreSQL's
// relay_batch, SQLite's group commit), and the server pushes announced messages from memory: every
// message reaches its subscriber once, in order, whether pushed at once or read after a full window.
import assert from "node:assert/strict";
import {
  type AnnouncedMessage,
  openInbox,
  PostgresStore,
  RelayClient,
  RelayServer,
  type RelayStore,
  SqliteStore,
} from "../../relay/mod.ts";
import { encrypt, generateIdentity } from "../../mod.ts";
import { startPostgres } from "./_postgres.ts";

const key = (fill: number) => ({ algorithm: "ed25519", publicKey: new Uint8Array(32).fill(fill) });
const id = (n: number, size = 24) => {
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, n);
  out[size - 1] = 0xbb;
  return out;
};

async function announcements(store: RelayStore) {
  const heard: { rid: string; message?: AnnouncedMessage }[] = [];
  const stop = store.watch((rid, message) => heard.push({ rid: rid.toHex(), message }));
  const rid = id(1);
  await store.createQueue(rid, id(2), key(7));
  assert.equal(await store.append(rid, id(1, 16), new Uint8Array([1, 2, 3]), undefined), "stored");
  assert.equal(await store.append(rid, id(2, 16), new Uint8Array([4]), undefined), "stored");
  // Two SENDs of one message id at once (one batch): stored once, announced once.
  const twice = await Promise.all([
    store.append(rid, id(3, 16), new Uint8Array([5]), undefined),
    store.append(rid, id(3, 16), new Uint8Array([5]), undefined),
  ]);
  assert.deepEqual(twice.sort(), ["duplicate", "stored"]);
  await new Promise((r) => setTimeout(r, 200)); // other processes' notifications, if any
  stop();
  const own = heard.filter((h) => h.message);
  assert.equal(own.length, 3);
  assert.ok(heard.every((h) => h.rid === rid.toHex()));
  const [a, b, c] = own.map((h) => h.message!);
  assert.deepEqual([a.msgId, a.envelope], [id(1, 16), new Uint8Array([1, 2, 3])]);
  assert.equal(a.previous, 0);
  assert.equal(b.previous, a.seq);
  assert.equal(c.previous, b.seq);
  assert.ok(a.seq < b.seq && b.seq < c.seq);
  // The same positions as a read.
  assert.deepEqual((await store.next(rid, 0, 10)).map((m) => m.seq), [a.seq, b.seq, c.seq]);
  assert.equal(await store.ack(rid, id(1, 16)), true);
  assert.equal(await store.ack(rid, id(2, 16)), true);
  assert.equal(await store.ack(rid, id(3, 16)), true);
  // After everything is acknowledged, the next message's previous is at most the last one's seq.
  const later: AnnouncedMessage[] = [];
  const stop2 = store.watch((_, message) => message && later.push(message));
  await store.append(rid, id(4, 16), new Uint8Array([6]), undefined);
  stop2();
  assert.ok(later[0].previous <= c.seq && later[0].seq > c.seq);
}

async function batchOrder(store: RelayStore) {
  const rid = id(5);
  await store.createQueue(rid, id(6), key(8));
  for (let i = 0; i < 3; i++) await store.append(rid, id(i, 16), new Uint8Array([i]), undefined);
  // Issued together, in this order: the ACK frees a place for the first SEND only.
  const results = await Promise.all([
    store.ack(rid, id(0, 16)),
    store.append(rid, id(10, 16), new Uint8Array([10]), undefined),
    store.append(rid, id(11, 16), new Uint8Array([11]), undefined),
    store.ack(rid, id(99, 16)),
  ]);
  assert.deepEqual(results, [true, "stored", "quota", false]);
  // Many queues at once, SENDs and ACKs mixed: each answer is its own.
  const rids = Array.from({ length: 20 }, (_, i) => id(100 + i));
  await Promise.all(rids.map((r, i) => store.createQueue(r, id(200 + i), key(9))));
  const sent = await Promise.all(
    rids.flatMap((r) =>
      [1, 2].map((m) => store.append(r, id(m, 16), new Uint8Array([m]), undefined))
    ),
  );
  assert.ok(sent.every((s) => s === "stored"));
  const acked = await Promise.all(
    rids.flatMap((r) => [store.ack(r, id(1, 16)), store.ack(r, id(7, 16))]),
  );
  assert.deepEqual(acked, rids.flatMap(() => [true, false]));
  for (const r of rids) {
    assert.deepEqual((await store.next(r, 0, 10)).map((m) => m.msgId), [id(2, 16)]);
  }
}

Deno.test("stores announce messages with the previous position and batch in order", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-push-" });
  const limits = { maxQueueMessages: 3 };
  try {
    await t.step("SQLite", async () => {
      const store = new SqliteStore(`${dir}/a.db`, { limits });
      try {
        await announcements(store);
        await batchOrder(store);
      } finally {
        await store.close();
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const pg = await startPostgres();
  try {
    await t.step("PostgreSQL", async () => {
      const url = await pg.database("push");
      const store = await PostgresStore.open(url, { limits });
      // A second process's store on the same database: it hears the first one's messages.
      const other = await PostgresStore.open(url, { limits });
      const heard: string[] = [];
      const stop = other.watch((rid, message) => {
        assert.equal(message, undefined);
        heard.push(rid.toHex());
      });
      try {
        await announcements(store);
        await batchOrder(store);
        const deadline = Date.now() + 10_000;
        while (!heard.includes(id(5).toHex()) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(heard.includes(id(1).toHex()) && heard.includes(id(5).toHex()));
      } finally {
        stop();
        await other.close();
        await store.close();
      }
    });
  } finally {
    await pg.stop();
  }
});

Deno.test("a subscriber gets every message once, in order, through pushes and refills", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-push-" });
  const server = new RelayServer({
    store: new SqliteStore(`${dir}/relay.db`),
    sweepIntervalMs: 0,
    commandsPerSecond: 100_000,
  });
  try {
    const url = await server.listen("tcp://127.0.0.1:0");
    const bob = await RelayClient.connect(url);
    const inbox = await openInbox(bob);
    const recipient = (await generateIdentity("x25519")).recipient;
    const envelope = await encrypt(new Uint8Array(50), { recipients: [recipient] });
    const messages = await bob.subscribe(inbox.receivingId, inbox.key);
    // 400 messages from one connection, in order (one SEND at a time, the next after the answer)
    // while the subscriber stalls now and then, so that the window fills and refills.
    const alice = await RelayClient.connect(url);
    const order: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < 400; i++) {
        const msgId = id(i, 16);
        order.push(msgId.toHex());
        await alice.send(inbox.sendingId, envelope, { messageId: msgId });
      }
    })();
    const got: string[] = [];
    const iterator = messages[Symbol.asyncIterator]();
    while (got.length < 400) {
      // A message that is never pushed fails the test (after a generous wait), not hangs it.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = await Promise.race([
        iterator.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no push after ${got.length} messages`)),
            30_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      if (next.done) break;
      got.push(next.value.id.toHex());
      if (got.length % 50 === 0) await new Promise((r) => setTimeout(r, 100));
      await bob.ack(inbox.receivingId, inbox.key, next.value.id);
    }
    await sending;
    assert.deepEqual(got, order);
    assert.equal(await bob.fetch(inbox.receivingId, inbox.key), undefined);
    await alice.close();
    await bob.close();
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
