// The relay's group queue commands (docs/relay.md section 10) against an in-process relay: the
// envelope check of GPOST, the key rules (a commit names the next epoch's key, nothing else does),
// per-epoch authorization, STALE_EPOCH with the current epoch, retried posts, GGET's epoch filter.
import assert from "node:assert/strict";
import {
  generateQueueKey,
  openInbox,
  parseGroupMessageHeader,
  RELAY_ERROR,
  RelayClient,
  RelayError,
  RelayServer,
  RelayStaleEpochError,
  SqliteStore,
} from "../../relay/mod.ts";

/** A mode-0x03 envelope with an MLS PrivateMessage header (the ciphertext is filler). */
function groupEnvelope(kind: 1 | 2, epoch: bigint, contentType: number, fill = 0): Uint8Array {
  const groupId = new Uint8Array(32).fill(7);
  const head = [0x50, 0x43, 0x52, 0x59, 0x50, 0x54, 0x00, 0x01, 0x03, kind, 0, 1, 0, 2, 32];
  const out = new Uint8Array(head.length + 32 + 9 + 40);
  out.set(head);
  out.set(groupId, head.length);
  new DataView(out.buffer).setBigUint64(head.length + 32, epoch);
  out[head.length + 40] = contentType;
  out.fill(fill, head.length + 41);
  return out;
}

const code = (c: number) => (e: unknown) => e instanceof RelayError && e.code === c;

Deno.test("relay group queues: commands, keys, epochs and errors", async () => {
  const server = new RelayServer({ store: new SqliteStore(":memory:"), sweepIntervalMs: 0 });
  const url = await server.listen("tcp://127.0.0.1:0");
  const client = await RelayClient.connect(url);
  try {
    const gid = crypto.getRandomValues(new Uint8Array(24));
    const [k5, k6, k6b, stranger] = await Promise.all([0, 1, 2, 3].map(() => generateQueueKey()));
    await client.createGroupQueue(gid, k5, 5n);
    await client.createGroupQueue(gid, k5, 5n); // a retry
    await assert.rejects(client.createGroupQueue(gid, k6, 5n), code(RELAY_ERROR.AUTH));

    const app = groupEnvelope(1, 5n, 1);
    assert.deepEqual(parseGroupMessageHeader(app)?.epoch, 5n);
    assert.equal(await client.groupPost(gid, k5, app), 1);
    // Not a group PrivateMessage: another mode, a kind that disagrees with the content type.
    for (
      const bad of [
        new Uint8Array([0x50, 0x43, 0x52, 0x59, 0x50, 0x54, 0x00, 0x01, 0x02, 1, 2, 3, 4, 5]),
        groupEnvelope(1, 5n, 3),
        groupEnvelope(2, 5n, 1),
        groupEnvelope(1, 5n, 1).subarray(0, 50),
      ]
    ) {
      await assert.rejects(client.groupPost(gid, k5, bad), code(RELAY_ERROR.NOT_ENVELOPE));
    }
    // A commit must name the next key, and only a commit may.
    await assert.rejects(
      client.groupPost(gid, k5, groupEnvelope(2, 5n, 3)),
      code(RELAY_ERROR.SYNTAX),
    );
    await assert.rejects(
      client.groupPost(gid, k5, app, { nextKey: k6 }),
      code(RELAY_ERROR.SYNTAX),
    );
    // Signed by another key than the epoch's: AUTH, as for an unknown queue.
    await assert.rejects(client.groupPost(gid, stranger, app), code(RELAY_ERROR.AUTH));
    await assert.rejects(
      client.groupPost(crypto.getRandomValues(new Uint8Array(24)), k5, app),
      code(RELAY_ERROR.AUTH),
    );
    // The first commit for epoch 5 wins; a second gets STALE_EPOCH naming epoch 6.
    const commit = groupEnvelope(2, 5n, 3, 1);
    const id = crypto.getRandomValues(new Uint8Array(16));
    assert.equal(await client.groupPost(gid, k5, commit, { nextKey: k6, messageId: id }), 2);
    assert.equal(await client.groupPost(gid, k5, commit, { nextKey: k6, messageId: id }), 2);
    await assert.rejects(
      client.groupPost(gid, k5, groupEnvelope(2, 5n, 3, 2), { nextKey: k6b }),
      (e: unknown) => e instanceof RelayStaleEpochError && e.currentEpoch === 6n,
    );
    await assert.rejects(
      client.groupPost(gid, k5, groupEnvelope(1, 5n, 1, 3)),
      (e: unknown) => e instanceof RelayStaleEpochError && e.currentEpoch === 6n,
    );
    // Epoch 6 is k6's (the winner's), not k6b's.
    await assert.rejects(
      client.groupPost(gid, k6b, groupEnvelope(1, 6n, 1)),
      code(RELAY_ERROR.AUTH),
    );
    assert.equal(await client.groupPost(gid, k6, groupEnvelope(1, 6n, 1, 4)), 3);
    // GGET: each epoch's messages to that epoch's key only.
    const e5 = await client.groupFetch(gid, k5, 5n, 0);
    assert.equal(e5.current, 6n);
    assert.deepEqual(e5.messages.map((m) => m.seq), [1, 2]);
    assert.deepEqual(e5.messages[1].envelope, commit);
    assert.deepEqual((await client.groupFetch(gid, k6, 6n, 2)).messages.map((m) => m.seq), [3]);
    assert.deepEqual((await client.groupFetch(gid, k5, 5n, 1, 1)).messages.map((m) => m.seq), [2]);
    await assert.rejects(client.groupFetch(gid, k5, 6n, 0), code(RELAY_ERROR.AUTH));
    await assert.rejects(client.groupFetch(gid, stranger, 5n, 0), code(RELAY_ERROR.AUTH));

    // A Welcome (mode 0x03, kind 0x03) goes to the new member's own queue with SEND.
    const inbox = await openInbox(client);
    const welcome = groupEnvelope(1, 0n, 1);
    welcome[9] = 0x03;
    await client.send(inbox.sendingId, welcome);
    assert.deepEqual((await client.fetch(inbox.receivingId, inbox.key))?.envelope, welcome);
    // ...but not to a group queue.
    await assert.rejects(client.groupPost(gid, k6, welcome), code(RELAY_ERROR.NOT_ENVELOPE));
  } finally {
    await client.close();
    await server.close();
  }
});
