// Group state at rest, split into records (docs/groups.md section 5): the ratchet trees in records
// of their own, written once per epoch and deleted when no kept epoch refers to them; a message
// rewrites only the small group record; the state reopens from the store after every kind of
// change, and still reads messages of past epochs.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { generateIdentity } from "../../mod.ts";
import { SqliteSessionStore } from "../../sessions/sqlite_store.ts";
import { MemorySessionStore, type SessionStore, type StoreChange } from "../../sessions/store.ts";
import { MemoryGroupDelivery, openGroups, queueId } from "../../groups/mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** A store that records the size of every value written. */
class Recording extends MemorySessionStore implements SessionStore {
  writes: number[][] = [];
  override commit(changes: readonly StoreChange[]): Promise<void> {
    this.writes.push(changes.flatMap((c) => c.value ? [c.value.length] : []));
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

    // A message: Bob's store gets the small group record and one chunk of the secret tree.
    bobStore.writes = [];
    await alice.send(ds, group, te.encode("one"));
    await bob.sync(ds, group);
    const perMessage = bobStore.writes.flat();
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
    await alice.publish(ds, await alice.update(group));
    await bob.sync(ds, group);
    const perCommit = bobStore.writes.flat().sort((a, b) => a - b);
    assert.equal(perMessage.length, 2, `${perMessage}`);
    assert.ok(perCommit.length >= 3, `${perCommit}`);
    // The tree (seven credentials of ~8 KB) is the big one; all a message writes is well under it.
    const tree = perCommit.at(-1)!;
    assert.ok(tree > 7 * 8000, `${perCommit}`);
    assert.ok(perMessage[0] + perMessage[1] < tree / 10, `${perMessage} vs ${perCommit}`);

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

    // Old epochs went: the group record, the index, and per kept epoch (the current one and
    // ts-mls's 4 past ones) one tree and one secret-tree chunk (7 members: 15 nodes, one chunk) remain,
    // whatever the number of epochs gone by.
    aliceStore.close();
    const db = new DatabaseSync(path, { readOnly: true });
    const rows = Number(
      (db.prepare("SELECT count(*) AS n FROM polycrypt_session_store").get() as { n: number }).n,
    );
    db.close();
    assert.ok(rows <= 2 + 5 * 2, `${rows} records`);
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
