// Group state at rest, split into records (docs/groups.md section 5): the ratchet trees in records
// of their own, written once per epoch and deleted when no kept epoch refers to them; a received
// message writes only the small per-message record (without waiting for the disk), a sent one
// nothing until the sender's reserved generations run out (then durably); the state reopens from
// the store after every kind of change, and still reads messages of past epochs; a sender
// reopened from its store (a crash) never reuses a generation.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { generateIdentity } from "../../mod.ts";
import { SqliteSessionStore } from "../../sessions/sqlite_store.ts";
import { MemorySessionStore, type SessionStore, type StoreChange } from "../../sessions/store.ts";
import { MemoryGroupDelivery, openGroups, queueId } from "../../groups/mod.ts";
import {
  createGroup,
  defaultCapabilities,
  defaultLifetime,
  encodeGroupState,
  generateKeyPackageWithKey,
} from "ts-mls";
import { identitySessionKeys } from "../../sessions/_identity.ts";
import { StorageSeal, Writer } from "../../sessions/_records.ts";
import { hkdfSync } from "../../engines/hkdf.ts";
import { toHex } from "../../engines/_bytes.ts";
import { makeCredential } from "../../groups/_credential.ts";
import { DEFAULT_GROUP_SUITE, suiteImpl } from "../../groups/_suites.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** A store that records the size of every value written, and which commits were relaxed. */
class Recording extends MemorySessionStore implements SessionStore {
  writes: number[][] = [];
  relaxed: boolean[] = [];
  override commit(
    changes: readonly StoreChange[],
    options?: { durable?: boolean },
  ): Promise<void> {
    this.writes.push(changes.flatMap((c) => c.value ? [c.value.length] : []));
    this.relaxed.push(options?.durable === false);
    return super.commit(changes);
  }
}

Deno.test("groups at rest: trees once per epoch, small writes per message, reopening", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/alice.db`;
    const aliceId = (await generateIdentity()).identity;
    let aliceStore = new SqliteSessionStore(path);
    let alice = await openGroups({ identity: aliceId, store: aliceStore });
    const bobStore = new Recording();
    const bobId = (await generateIdentity()).identity;
    const bob = await openGroups({
      identity: bobId,
      store: bobStore,
    });
    const others = await Promise.all(
      [0, 1, 2, 3, 4].map(async () =>
        openGroups({ identity: (await generateIdentity()).identity })
      ),
    );
    const ds = new MemoryGroupDelivery();
    const group = await alice.create();
    await ds.create(queueId(group), await alice.epoch(group));
    const all = [bob, ...others];
    const commit = await alice.add(group, await Promise.all(all.map((m) => m.keyPackage())));
    await alice.publish(ds, commit);
    for (const m of all) await m.join(commit.welcome!, { cursor: await alice.cursor(group) });

    // A message: Bob's store gets the small per-message record only, written relaxed.
    bobStore.writes = [];
    bobStore.relaxed = [];
    await alice.send(ds, group, te.encode("one"));
    await bob.sync(ds, group);
    const perMessage = bobStore.writes.flat();
    assert.deepEqual(bobStore.relaxed, [true]);
    // Five messages fetched in one sync: one write for the batch, not one per message.
    for (let i = 0; i < 5; i++) await alice.send(ds, group, te.encode(`batch ${i}`));
    bobStore.writes = [];
    const batch = await bob.sync(ds, group);
    assert.equal(batch.events.filter((e) => e.type === "message").length, 5);
    assert.equal(bobStore.writes.length, 1, `${bobStore.writes}`);
    // A fresh account on Bob's store sees the batch applied (its cursor and keys moved on).
    const bobAgain = await openGroups({ identity: bobId, store: bobStore });
    assert.equal(await bobAgain.cursor(group), await bob.cursor(group));
    assert.deepEqual((await bobAgain.sync(ds, group)).events, []);
    // A commit: Bob's store gets the group record, the new epoch's tree and its secret tree.
    bobStore.writes = [];
    bobStore.relaxed = [];
    await alice.publish(ds, await alice.update(group));
    await bob.sync(ds, group);
    const perCommit = bobStore.writes.flat().sort((a, b) => a - b);
    assert.equal(perMessage.length, 1, `${perMessage}`);
    assert.ok(perMessage[0] < 1000, `${perMessage}`);
    assert.ok(perCommit.length >= 3, `${perCommit}`);
    // The tree (seven credentials of ~8 KB) is the big one; all a message writes is well under it.
    const tree = perCommit.at(-1)!;
    assert.ok(tree > 7 * 8000, `${perCommit}`);
    assert.ok(perMessage[0] < tree / 50, `${perMessage} vs ${perCommit}`);
    // A commit is written durably.
    assert.ok(bobStore.relaxed.length > 0 && !bobStore.relaxed.includes(true));

    // Ten epochs with a message in each, reopening Alice's store from the file every time.
    for (let i = 0; i < 10; i++) {
      const by = i % 2 ? bob : others[0];
      await by.sync(ds, group);
      await by.publish(ds, await by.update(group));
      await by.send(ds, group, te.encode(`epoch ${i}`));
      aliceStore.close();
      aliceStore = new SqliteSessionStore(path);
      alice = await openGroups({ identity: aliceId, store: aliceStore });
      const { events, errors } = await alice.sync(ds, group);
      assert.deepEqual(errors, []);
      assert.deepEqual(
        events.flatMap((e) => e.type === "message" ? [td.decode(e.data)] : []),
        i === 0 ? ["epoch 0"] : [`epoch ${i}`],
      );
    }
    // A message of a past epoch (kept for late delivery) still opens after a reopening.
    const late = await bob.encrypt(group, te.encode("late"));
    await bob.publish(ds, await bob.update(group));
    aliceStore.close();
    aliceStore = new SqliteSessionStore(path);
    alice = await openGroups({ identity: aliceId, store: aliceStore });
    await alice.sync(ds, group);
    const opened = await alice.process(late);
    assert.ok(opened.type === "message" && td.decode(opened.data) === "late");

    // Old epochs went: the group record, the per-message record, the index, and per kept epoch
    // (the current one and ts-mls's 4 past ones) one tree and one secret-tree chunk (7 members:
    // 15 nodes, one chunk) remain, whatever the number of epochs gone by.
    aliceStore.close();
    const db = new DatabaseSync(path, { readOnly: true });
    const rows = Number(
      (db.prepare("SELECT count(*) AS n FROM polycrypt_session_store").get() as { n: number }).n,
    );
    db.close();
    assert.ok(rows <= 3 + 5 * 2, `${rows} records`);
    // Leaving deletes every record of the group (the index stays).
    aliceStore = new SqliteSessionStore(path);
    alice = await openGroups({ identity: aliceId, store: aliceStore });
    await alice.leave(group);
    aliceStore.close();
    const after = new DatabaseSync(path, { readOnly: true });
    const left = Number(
      (after.prepare("SELECT count(*) AS n FROM polycrypt_session_store").get() as { n: number })
        .n,
    );
    after.close();
    assert.equal(left, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("groups at rest: a version-1 record (the whole state in one) is read and rewritten as version 2", async () => {
  const identity = (await generateIdentity()).identity;
  const keys = await identitySessionKeys(identity);
  const suite = DEFAULT_GROUP_SUITE;
  const cs = await suiteImpl(suite);
  // A group state made with ts-mls, under this identity's credential, stored the old way.
  const sig = await cs.signature.keygen();
  const credential = await makeCredential(suite, keys.recipient, keys.signing, sig.publicKey);
  const kp = await generateKeyPackageWithKey(
    credential,
    defaultCapabilities(),
    defaultLifetime,
    [],
    sig,
    cs,
  );
  const groupId = crypto.getRandomValues(new Uint8Array(32));
  const state = await createGroup(groupId, kp.publicPackage, kp.privatePackage, [], cs);
  const group = toHex(groupId);
  const storageKey = hkdfSync(
    "SHA-256",
    te.encode(identity.trim()),
    new Uint8Array(0),
    te.encode("polycrypt/group/1 storage key"),
    32,
  );
  const seal = await StorageSeal.create(storageKey);
  const store = new MemorySessionStore();
  const put = async (name: string, record: Uint8Array) => {
    const key = seal.blind(name);
    await store.commit([{ key, value: await seal.seal(key, record) }]);
  };
  await put("groups", new Writer().u8(1).u32(1).sp(group).bytes());
  await put(
    `group/${group}`,
    new Writer().u8(1).sp(suite).u64(0).lp(encodeGroupState(state)).u8(0).bytes(),
  );

  const account = await openGroups({ identity, store });
  assert.deepEqual(await account.groups(), [group]);
  assert.equal(await account.epoch(group), 0n);
  const bob = await openGroups({ identity: (await generateIdentity()).identity });
  const ds = new MemoryGroupDelivery();
  await ds.create(queueId(group), 0n);
  const add = await account.add(group, [await bob.keyPackage()]);
  await account.publish(ds, add);
  await bob.join(add.welcome!, { cursor: await account.cursor(group) });
  await account.send(ds, group, te.encode("from a version-1 record"));
  const events = (await bob.sync(ds, group)).events;
  assert.ok(
    events[0].type === "message" && td.decode(events[0].data) === "from a version-1 record",
  );
  const key = seal.blind(`group/${group}`);
  const now = await seal.open(key, (await store.get(key))!);
  assert.equal(now[0], 2);
  // And a fresh account reads the version-2 record it left.
  const again = await openGroups({ identity, store });
  assert.equal(await again.epoch(group), 1n);
});

Deno.test("groups at rest: a sender writes once per 100 messages, and a crash never makes it reuse a generation", async () => {
  const aliceId = (await generateIdentity()).identity;
  const aliceStore = new Recording();
  const alice = await openGroups({ identity: aliceId, store: aliceStore });
  const bob = await openGroups({ identity: (await generateIdentity()).identity });
  const ds = new MemoryGroupDelivery();
  const group = await alice.create();
  await ds.create(queueId(group), await alice.epoch(group));
  const add = await alice.add(group, [await bob.keyPackage()]);
  await alice.publish(ds, add);
  await bob.join(add.welcome!, { cursor: await alice.cursor(group) });

  // 210 messages: the reservation is written before the 1st, the 101st and the 201st, durably.
  aliceStore.writes = [];
  aliceStore.relaxed = [];
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 210; i++) sent.push(await alice.encrypt(group, te.encode(`m${i}`)));
  assert.equal(aliceStore.writes.length, 3, `${aliceStore.writes}`);
  assert.deepEqual(aliceStore.relaxed, [false, false, false]);
  assert.ok(aliceStore.writes.flat().every((n) => n < 1000), `${aliceStore.writes}`);
  for (const [i, m] of sent.entries()) {
    const event = await bob.process(m);
    assert.ok(event.type === "message" && td.decode(event.data) === `m${i}`);
  }

  // A crash after message 210: the store holds the state as written before message 201.
  // Reopened, Alice sends from the reserved generation (300), never from one she used: Bob, who
  // has used generations 0-209, opens the message (a reused generation would be refused as in
  // the past).
  const again = await openGroups({ identity: aliceId, store: aliceStore });
  const after = await again.encrypt(group, te.encode("after the crash"));
  const opened = await bob.process(after);
  assert.ok(opened.type === "message" && td.decode(opened.data) === "after the crash");
});

Deno.test("groups at rest: past 16 changed secret tree nodes the chunks are rewritten, and the state reopens", async () => {
  const readerId = (await generateIdentity()).identity;
  const store = new Recording();
  const reader = await openGroups({ identity: readerId, store });
  const senders = await Promise.all(
    Array.from(
      { length: 19 },
      async () => openGroups({ identity: (await generateIdentity()).identity }),
    ),
  );
  const ds = new MemoryGroupDelivery();
  const group = await senders[0].create();
  await ds.create(queueId(group), await senders[0].epoch(group));
  const add = await senders[0].add(
    group,
    [await reader.keyPackage(), ...await Promise.all(senders.slice(1).map((s) => s.keyPackage()))],
  );
  await senders[0].publish(ds, add);
  const cursor = await senders[0].cursor(group);
  await reader.join(add.welcome!, { cursor });
  for (const s of senders.slice(1)) await s.join(add.welcome!, { cursor });

  // One message from each sender: each changes that sender's node in the reader's secret tree.
  const sizes: number[] = [];
  for (const [i, s] of senders.entries()) {
    store.writes = [];
    const event = await reader.process(await s.encrypt(group, te.encode(`from ${i}`)));
    assert.ok(event.type === "message" && td.decode(event.data) === `from ${i}`);
    sizes.push(store.writes.flat().reduce((a, b) => a + b, 0));
  }
  // The per-message record grows by one node a message, until the 17th node: then the chunks
  // (39 nodes: 3 chunks) are written and the per-message record is empty again.
  assert.ok(sizes[1] > sizes[0] && sizes[15] > sizes[14], `${sizes}`);
  assert.ok(sizes[16] > sizes[15], `${sizes}`);
  assert.ok(sizes[17] < sizes[1], `${sizes}`);
  // Reopened, the reader opens the next message of every sender (its keys were all stored).
  const again = await openGroups({ identity: readerId, store });
  for (const [i, s] of senders.entries()) {
    const event = await again.process(await s.encrypt(group, te.encode(`again ${i}`)));
    assert.ok(event.type === "message" && td.decode(event.data) === `again ${i}`);
  }
});
