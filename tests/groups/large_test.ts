// Large groups (docs/groups.md section 4.1, docs/relay.md sections 5 and 10): a Welcome too big
// for one relay message travels in pieces and is assembled in the joiner's store; a group of 150
// members is built through a REAL `polycrypt relay` process (SQLite), its 1.5 MB commit posted
// and fetched as one group handshake message (over the 1 MiB envelope limit, under the 15 MiB
// handshake limit), and a new member joins from a 1.4 MB Welcome sent in pieces through a relay
// queue, then reads the group.
import assert from "node:assert/strict";
import { FormatError, generateIdentity } from "../../mod.ts";
import {
  type GroupAccount,
  openGroups,
  parseGroupPiece,
  queueId,
  RelayGroupDelivery,
  splitGroupMessage,
} from "../../groups/mod.ts";
import {
  generateQueueKey,
  RELAY_ERROR,
  RelayClient,
  RelayError,
  RelayServer,
  SqliteStore,
} from "../../relay/mod.ts";
import { MemorySessionStore } from "../../sessions/store.ts";
import { startRelay } from "./_relay_process.ts";

const te = new TextEncoder();
const td = new TextDecoder();

Deno.test("group message pieces: split, assembled in any order in the store, checked", async () => {
  const store = new MemorySessionStore();
  const identity = (await generateIdentity()).identity;
  const account = await openGroups({ identity, store });
  const message = new Uint8Array(100_000).map((_, i) => (i * 7919) % 251);
  assert.deepEqual(splitGroupMessage(message, 200_000), [message]);
  const pieces = splitGroupMessage(message, 30_000);
  assert.equal(pieces.length, 4);
  assert.ok(pieces.every((p) => p.length <= 30_000));
  assert.deepEqual(pieces.map((p) => parseGroupPiece(p).index), [0, 1, 2, 3]);
  // Out of order, one twice; nothing until the last one; kept across a reopening of the store.
  assert.equal(await account.assemble(pieces[2]), undefined);
  assert.equal(await account.assemble(pieces[0]), undefined);
  assert.equal(await account.assemble(pieces[2]), undefined);
  const reopened = await openGroups({ identity, store });
  assert.equal(await reopened.assemble(pieces[3]), undefined);
  assert.deepEqual(await reopened.assemble(pieces[1]), message);
  // The pieces are gone from the store once assembled.
  assert.equal(await reopened.assemble(pieces[1]), undefined);
  // A piece whose bytes were changed makes a whole that does not hash to the id: refused.
  const forged = pieces.map((p) => p.slice());
  forged[1][forged[1].length - 1] ^= 1;
  for (const p of forged.slice(0, 3)) assert.equal(await account.assemble(p), undefined);
  await assert.rejects(account.assemble(forged[3]), FormatError);
  // Not a piece, or a bad header.
  await assert.rejects(account.assemble(message.subarray(0, 100)), FormatError);
  const bad = pieces[0].slice();
  new DataView(bad.buffer).setUint16(26, 9);
  await assert.rejects(account.assemble(bad), FormatError);
});

Deno.test({
  name: "a group of 150 through a relay process: a 1.5 MB commit, a Welcome in pieces",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const relay = await startRelay(`${dir}/relay.db`);
    const clients: RelayClient[] = [];
    const connect = async () => {
      const c = await RelayClient.connect(relay.url);
      clients.push(c);
      return c;
    };
    try {
      const open = async () => openGroups({ identity: (await generateIdentity()).identity });
      const alice = await open();
      const carol = await open();
      const dave = await open();
      const aliceDs = new RelayGroupDelivery(await connect(), alice);
      const carolDs = new RelayGroupDelivery(await connect(), carol);
      const group = await alice.create();
      await aliceDs.create(queueId(group), await alice.epoch(group));
      const first = await alice.add(group, [await carol.keyPackage()]);
      await alice.publish(aliceDs, first);
      await carol.join(first.welcome!, { cursor: await alice.cursor(group) });

      // 147 more members and Dave in one commit: 148 key packages of ~10 KB each.
      const others: GroupAccount[] = [];
      for (let i = 0; i < 147; i++) others.push(await open());
      const kps = [
        await dave.keyPackage(),
        ...await Promise.all(others.map((o) => o.keyPackage())),
      ];
      const big = await alice.add(group, kps);
      assert.ok(big.commit.length > 1024 * 1024, `commit of ${big.commit.length} bytes`);
      assert.ok(big.welcome!.length > 1024 * 1024, `Welcome of ${big.welcome!.length} bytes`);
      await alice.publish(aliceDs, big);
      assert.equal((await alice.members(group)).length, 150);
      // Carol fetches the big commit from the relay and processes it.
      const synced = await carol.sync(carolDs, group);
      assert.deepEqual(synced.errors, []);
      assert.ok(synced.events.some((e) => e.type === "commit" && e.added.length === 148));

      // The Welcome goes to Dave's queue on the relay in pieces under the 1 MiB envelope limit.
      const daveRelay = await connect();
      const key = await generateQueueKey();
      const inbox = await daveRelay.create(key);
      const pieces = splitGroupMessage(big.welcome!, 512 * 1024);
      assert.ok(pieces.length >= 3, `${pieces.length} pieces`);
      const aliceRelay = await connect();
      for (const p of pieces) await aliceRelay.send(inbox.sendingId, p);
      let joined: string | undefined;
      for (;;) {
        const m = await daveRelay.fetch(inbox.receivingId, key);
        if (!m) break;
        const whole = await dave.assemble(m.envelope);
        await daveRelay.ack(inbox.receivingId, key, m.id);
        if (whole) joined = await dave.join(whole, { cursor: await alice.cursor(group) });
      }
      assert.equal(joined, group);
      assert.equal((await dave.members(group)).length, 150);

      // A message from Alice through the relay reaches Carol and Dave; Dave answers.
      const daveDs = new RelayGroupDelivery(await connect(), dave);
      await alice.send(aliceDs, group, te.encode("welcome, all 149 of you"));
      for (const [m, ds] of [[carol, carolDs], [dave, daveDs]] as const) {
        const { events, errors } = await m.sync(ds, group);
        assert.deepEqual(errors, []);
        const got = events.flatMap((e) => e.type === "message" ? [td.decode(e.data)] : []);
        assert.deepEqual(got, ["welcome, all 149 of you"]);
      }
      await dave.send(daveDs, group, te.encode("thanks"));
      const back = await alice.sync(aliceDs, group);
      assert.ok(back.events.some((e) => e.type === "message" && td.decode(e.data) === "thanks"));
    } finally {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      const output = await relay.stop();
      await Deno.remove(dir, { recursive: true });
      assert.doesNotMatch(output, /Error|INTERNAL/, output);
    }
  },
});

Deno.test("the relay's limits: application messages under maxEnvelopeBytes, commits under maxGroupHandshakeBytes", async () => {
  const server = new RelayServer({
    store: new SqliteStore(":memory:"),
    maxEnvelopeBytes: 4096,
    maxGroupHandshakeBytes: 64 * 1024,
  });
  const url = await server.listen("tcp://127.0.0.1:0");
  const open = async () => openGroups({ identity: (await generateIdentity()).identity });
  const alice = await open();
  const ds = new RelayGroupDelivery(await RelayClient.connect(url), alice);
  try {
    const group = await alice.create();
    await ds.create(queueId(group), await alice.epoch(group));
    // A commit adding one member (~10 KB) is over the envelope limit and accepted.
    const bob = await open();
    const one = await alice.add(group, [await bob.keyPackage()]);
    assert.ok(one.commit.length > 4096);
    await alice.publish(ds, one);
    // An application message over the envelope limit is LARGE.
    await assert.rejects(
      alice.send(ds, group, new Uint8Array(5000)),
      (e) => e instanceof RelayError && e.code === RELAY_ERROR.LARGE,
    );
    // A commit over the handshake limit (seven key packages) is LARGE; nothing moved.
    const seven = await Promise.all(
      Array.from({ length: 7 }, async () => (await open()).keyPackage()),
    );
    const big = await alice.add(group, seven);
    assert.ok(big.commit.length > 64 * 1024);
    await assert.rejects(
      alice.publish(ds, big),
      (e) => e instanceof RelayError && e.code === RELAY_ERROR.LARGE,
    );
    assert.equal(await ds.epoch(queueId(group)), await alice.epoch(group));
  } finally {
    await ds.client.close();
    await server.close();
  }
});
