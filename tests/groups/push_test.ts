// Push for group queues (GSUB, docs/relay.md section 10, docs/groups.md section 10): a member
// watching its epoch is notified of each post of that epoch with its sequence number, the commit
// that ends the epoch included; posts of the next epoch only once it watches that one; a key
// that is not the epoch's is refused (AUTH).
import assert from "node:assert/strict";
import { generateIdentity } from "../../mod.ts";
import { openGroups, queueId, RelayGroupDelivery, relayGroupQueueId } from "../../groups/mod.ts";
import {
  generateQueueKey,
  RELAY_ERROR,
  RelayClient,
  RelayError,
  RelayServer,
  SqliteStore,
} from "../../relay/mod.ts";
import { waitUntil } from "../_event_loop.ts";

const te = new TextEncoder();

Deno.test("group queues push: notes of the watched epoch, the next one after watching again", async () => {
  const server = new RelayServer({ store: new SqliteStore(":memory:") });
  const url = await server.listen("tcp://127.0.0.1:0");
  const open = async () => openGroups({ identity: (await generateIdentity()).identity });
  const alice = await open();
  const bob = await open();
  const aliceDs = new RelayGroupDelivery(await RelayClient.connect(url), alice);
  const bobDs = new RelayGroupDelivery(await RelayClient.connect(url), bob);
  const stranger = await RelayClient.connect(url);
  try {
    const group = await alice.create();
    await aliceDs.create(queueId(group), await alice.epoch(group));
    const add = await alice.add(group, [await bob.keyPackage()]);
    await alice.publish(aliceDs, add);
    await bob.join(add.welcome!, { cursor: await alice.cursor(group) });

    const notes: number[] = [];
    assert.equal(await bobDs.watch(group, (seq) => notes.push(seq)), 1n);
    const first = await alice.send(aliceDs, group, te.encode("one"));
    await waitUntil(() => notes.length === 1, 30_000, "note 1");
    assert.deepEqual(notes, [first]);
    // The commit that ends epoch 1 is notified; a message of epoch 2 is not, until Bob watches 2.
    const update = await alice.update(group);
    await alice.publish(aliceDs, update);
    const commitSeq = await alice.cursor(group);
    await waitUntil(() => notes.length === 2, 30_000, "note 2");
    assert.deepEqual(notes, [first, commitSeq]);
    const second = await alice.send(aliceDs, group, te.encode("two"));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(notes, [first, commitSeq]);
    await bob.sync(bobDs, group);
    assert.equal(await bobDs.watch(group, (seq) => notes.push(seq)), 2n);
    const third = await alice.send(aliceDs, group, te.encode("three"));
    await waitUntil(() => notes.length === 3, 30_000, "note 3");
    assert.deepEqual(notes, [first, commitSeq, third]);
    assert.ok(second < third);
    // Another key than the epoch's: AUTH.
    await assert.rejects(
      stranger.groupWatch(relayGroupQueueId(group), await generateQueueKey(), 2n, () => {}),
      (e) => e instanceof RelayError && e.code === RELAY_ERROR.AUTH,
    );
  } finally {
    await Promise.all([aliceDs.client.close(), bobDs.client.close(), stranger.close()]);
    await server.close();
  }
});
