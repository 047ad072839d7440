// A group of three through a REAL `polycrypt relay` process with a SQLite store (docs/groups.md
// section 6, docs/relay.md section 10): add, message, remove (a copy of the removed member's state
// cannot read the next message, and the relay does not give it to it), update, concurrent commits
// ordered by the relay (the loser gets STALE_EPOCH and retries), a member offline for 20 epochs,
// a non-member refused by the relay, and a commit signed by a key the member's identity did not
// certify refused by every member.
import assert from "node:assert/strict";
import {
  createCommit,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroup,
  mlsExporter,
  type MLSMessage,
} from "ts-mls";
import { DecryptionError, generateIdentity, InvalidKeyError } from "../../mod.ts";
import { SqliteSessionStore } from "../../sessions/sqlite_store.ts";
import { identitySessionKeys } from "../../sessions/_identity.ts";
import {
  type GroupAccount,
  type GroupEvent,
  openGroups,
  queueId,
  RelayGroupDelivery,
  relayGroupKey,
  relayGroupQueueId,
  StaleEpochError,
} from "../../groups/mod.ts";
import { makeCredential } from "../../groups/_credential.ts";
import { parseGroupEnvelope } from "../../groups/group.ts";
import { DEFAULT_GROUP_SUITE, suiteImpl } from "../../groups/_suites.ts";
import { RELAY_ERROR, RelayClient, RelayError } from "../../relay/mod.ts";
import { startRelay } from "./_relay_process.ts";

const te = new TextEncoder();
const td = new TextDecoder();

interface Member {
  identity: string;
  account: GroupAccount;
  ds: RelayGroupDelivery;
}

async function member(url: string, store?: SqliteSessionStore, id?: string): Promise<Member> {
  const identity = id ?? (await generateIdentity()).identity;
  const account = await openGroups({ identity, store });
  return {
    identity,
    account,
    ds: new RelayGroupDelivery(await RelayClient.connect(url), account),
  };
}

async function addMembers(group: string, by: Member, who: Member[]) {
  const kps = await Promise.all(who.map((w) => w.account.keyPackage()));
  const commit = await by.account.add(group, kps, who.map((w) => w.account.fingerprint));
  await by.account.publish(by.ds, commit);
  const cursor = await by.account.cursor(group);
  for (const w of who) await w.account.join(commit.welcome!, { cursor });
}

function texts(events: GroupEvent[]): { from: string; text: string }[] {
  return events.flatMap((e) =>
    e.type === "message" ? [{ from: e.sender.fingerprint, text: td.decode(e.data) }] : []
  );
}

async function withRelay(run: (url: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const relay = await startRelay(`${dir}/relay.db`);
  try {
    await run(relay.url, dir);
  } finally {
    const output = await relay.stop();
    await Deno.remove(dir, { recursive: true });
    assert.doesNotMatch(output, /Error|INTERNAL/, output);
  }
}

const close = (...members: Member[]) => Promise.all(members.map((m) => m.ds.client.close()));

Deno.test({
  name: "groups through a relay process: add, message, remove, update",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withRelay(async (url, dir) => {
      const alice = await member(url);
      const bobStore = new SqliteSessionStore(`${dir}/bob.db`);
      const bob = await member(url, bobStore);
      const carol = await member(url);
      const group = await alice.account.create();
      await alice.ds.create(queueId(group), await alice.account.epoch(group));
      await addMembers(group, alice, [bob, carol]);
      for (const m of [alice, bob, carol]) assert.equal(await m.account.epoch(group), 1n);
      assert.equal(await bob.ds.epoch(queueId(group)), 1n);

      // One upload, downloaded by each member.
      const seq = await alice.account.send(alice.ds, group, te.encode("hello both"));
      assert.equal(seq, 2);
      for (const m of [bob, carol]) {
        assert.deepEqual(texts((await m.account.sync(m.ds, group)).events), [
          { from: alice.account.fingerprint, text: "hello both" },
        ]);
      }
      assert.deepEqual((await alice.account.sync(alice.ds, group)).events.map((e) => e.type), [
        "own",
      ]);

      // Remove Bob, keeping a copy of his state from before the removal.
      bobStore.close();
      await Deno.copyFile(`${dir}/bob.db`, `${dir}/bob-copy.db`);
      const bobNow = await member(url, new SqliteSessionStore(`${dir}/bob.db`), bob.identity);
      const removal = await alice.account.remove(group, [bob.account.fingerprint]);
      await alice.account.publish(alice.ds, removal);
      const carolEvents = (await carol.account.sync(carol.ds, group)).events;
      assert.ok(carolEvents[0].type === "commit");
      assert.deepEqual(
        carolEvents[0].type === "commit" && carolEvents[0].removed.map((m) => m.fingerprint),
        [bob.account.fingerprint],
      );
      await alice.account.send(alice.ds, group, te.encode("bob is gone"));
      const next = (await alice.ds.fetch(queueId(group), 0)).at(-1)!;
      assert.deepEqual(texts((await carol.account.sync(carol.ds, group)).events), [
        { from: alice.account.fingerprint, text: "bob is gone" },
      ]);
      // Bob learns he was removed; his state of the group is gone.
      assert.deepEqual((await bobNow.account.sync(bobNow.ds, group)).events.map((e) => e.type), [
        "removed",
      ]);
      assert.deepEqual(await bobNow.account.groups(), []);
      // The copy of his earlier state: the relay gives it the epoch it was in (up to the commit
      // that removed him), not the next message; and given that message, it cannot decrypt it.
      const copy = await member(url, new SqliteSessionStore(`${dir}/bob-copy.db`), bob.identity);
      const visible = await copy.ds.fetch(queueId(group), 0);
      assert.ok(visible.every((m) => m.seq < next.seq));
      assert.deepEqual(visible.at(-1)?.envelope, removal.commit);
      await assert.rejects(copy.account.process(next.envelope), DecryptionError);
      await close(bob, bobNow, copy);

      // A path update by Carol; everyone moves on and still talks.
      await carol.account.publish(carol.ds, await carol.account.update(group));
      const seen = (await alice.account.sync(alice.ds, group)).events;
      assert.ok(
        seen.some((e) =>
          e.type === "commit" && e.sender?.fingerprint === carol.account.fingerprint
        ),
      );
      await carol.account.send(carol.ds, group, te.encode("after the update"));
      assert.deepEqual(texts((await alice.account.sync(alice.ds, group)).events), [
        { from: carol.account.fingerprint, text: "after the update" },
      ]);
      assert.equal(await alice.account.epoch(group), 3n);
      assert.equal(await alice.ds.epoch(queueId(group)), 3n);
      await close(alice, carol);
    }),
});

Deno.test({
  name: "groups through a relay process: concurrent commits, 20 epochs offline, forgeries",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withRelay(async (url) => {
      const [alice, bob, carol, dave] = await Promise.all([0, 1, 2, 3].map(() => member(url)));
      const group = await alice.account.create();
      await alice.ds.create(queueId(group), await alice.account.epoch(group));
      await addMembers(group, alice, [bob, carol, dave]);
      const start = await dave.account.epoch(group);

      // Alice and Bob commit for the same epoch at once: the relay takes exactly one; the other
      // gets STALE_EPOCH, has processed the winner, and commits again.
      const epoch = await alice.account.epoch(group);
      const made = [await alice.account.update(group), await bob.account.update(group)];
      const results = await Promise.allSettled([
        alice.account.publish(alice.ds, made[0]),
        bob.account.publish(bob.ds, made[1]),
      ]);
      const won = results.findIndex((r) => r.status === "fulfilled");
      const lost = 1 - won;
      assert.ok(won >= 0 && results[lost].status === "rejected");
      const reason = (results[lost] as PromiseRejectedResult).reason;
      assert.ok(reason instanceof StaleEpochError, String(reason));
      assert.equal(reason.currentEpoch, epoch + 1n);
      const loser = [alice, bob][lost];
      assert.equal(await loser.account.pending(group), undefined);
      assert.equal(await loser.account.epoch(group), epoch + 1n);
      await loser.account.publish(loser.ds, await loser.account.update(group));
      for (const m of [alice, bob, carol]) await m.account.sync(m.ds, group);
      for (const m of [alice, bob, carol]) assert.equal(await m.account.epoch(group), epoch + 2n);

      // Dave is offline while the others make 20 commits (two made above) and some messages.
      for (let i = 0; i < 18; i++) {
        const by = i % 2 ? alice : carol;
        await by.account.sync(by.ds, group);
        await by.account.publish(by.ds, await by.account.update(group));
        if (i % 5 === 0) await by.account.send(by.ds, group, te.encode(`epoch ${i}`));
      }
      await alice.account.sync(alice.ds, group);
      await alice.account.send(alice.ds, group, te.encode("welcome back"));
      const { events, errors } = await dave.account.sync(dave.ds, group);
      assert.deepEqual(errors, []);
      assert.equal(events.filter((e) => e.type === "commit").length, 20);
      assert.equal(await dave.account.epoch(group), start + 20n);
      assert.deepEqual(texts(events).map((m) => m.text), [
        "epoch 0",
        "epoch 5",
        "epoch 10",
        "epoch 15",
        "welcome back",
      ]);
      const now = await alice.account.epoch(group);
      assert.equal(now, start + 20n);

      // A non-member knows the queue id (it is no secret from the relay) but no epoch secret: the
      // relay refuses its posts and fetches (AUTH), whatever key it tries.
      const mallory = await RelayClient.connect(url);
      const guess = await relayGroupKey(crypto.getRandomValues(new Uint8Array(32)));
      const forged = await alice.account.encrypt(group, te.encode("replayed by mallory"));
      for (
        const attempt of [
          () => mallory.groupPost(relayGroupQueueId(group), guess, forged),
          () => mallory.groupFetch(relayGroupQueueId(group), guess, now, 0),
          () => mallory.createGroupQueue(relayGroupQueueId(group), guess, now),
        ]
      ) {
        await assert.rejects(
          attempt(),
          (e: unknown) => e instanceof RelayError && e.code === RELAY_ERROR.AUTH,
        );
      }
      await mallory.close();
      await close(alice, bob, carol, dave);
    }),
});

/** A member driven with ts-mls directly (to forge what the library never makes). */
async function rawMember(identity: string, suite = DEFAULT_GROUP_SUITE) {
  const keys = await identitySessionKeys(identity);
  const cs = await suiteImpl(suite);
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
  const envelopeOf = (m: MLSMessage, kind: number) => {
    const body = encodeMlsMessage(m);
    const out = new Uint8Array(10 + body.length);
    out.set([0x50, 0x43, 0x52, 0x59, 0x50, 0x54, 0x00, 0x01, 0x03, kind]);
    out.set(body, 10);
    return out;
  };
  return { keys, cs, sig, credential, kp, envelopeOf };
}

Deno.test({
  name: "groups through a relay process: a commit signed by a key the identity did not certify",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withRelay(async (url) => {
      const [alice, bob] = await Promise.all([0, 1].map(() => member(url)));
      const group = await alice.account.create();
      await alice.ds.create(queueId(group), await alice.account.epoch(group));
      await addMembers(group, alice, [bob]);
      // Carol, a member run with ts-mls directly, so she can sign with another key.
      const carol = await rawMember((await generateIdentity()).identity);
      const add = await alice.account.add(group, [
        carol.envelopeOf({
          version: "mls10",
          wireformat: "mls_key_package",
          keyPackage: carol.kp.publicPackage,
        }, 4),
      ]);
      await alice.account.publish(alice.ds, add);
      await bob.account.sync(bob.ds, group);
      const welcome = parseGroupEnvelope(add.welcome!).message;
      assert.ok(welcome.wireformat === "mls_welcome");
      const carolState = await joinGroup(
        welcome.welcome,
        carol.kp.publicPackage,
        carol.kp.privatePackage,
        emptyPskIndex,
        carol.cs,
      );
      const epoch = await alice.account.epoch(group);
      assert.equal(carolState.groupContext.epoch, epoch);

      // Her commit, signed by a key her identity never certified. She is a member, so she can
      // authorize it to the relay (the relay cannot see inside): the relay orders it...
      const other = await carol.cs.signature.keygen();
      const wrong = await createCommit({
        state: { ...carolState, signaturePrivateKey: other.signKey },
        cipherSuite: carol.cs,
      }, {});
      const secretOf = (state: typeof carolState) =>
        mlsExporter(
          state.keySchedule.exporterSecret,
          "polycrypt/group/1 relay key",
          new Uint8Array(0),
          32,
          carol.cs,
        );
      const client = await RelayClient.connect(url);
      await client.groupPost(
        relayGroupQueueId(group),
        await relayGroupKey(await secretOf(carolState)),
        carol.envelopeOf(wrong.commit, 2),
        { nextKey: await relayGroupKey(await secretOf(wrong.newState)) },
      );
      // ...and every member refuses it: InvalidKeyError, nothing applied.
      for (const m of [alice, bob]) {
        const { events, errors } = await m.account.sync(m.ds, group);
        assert.deepEqual(events, []);
        assert.equal(errors.length, 1);
        assert.ok(errors[0] instanceof InvalidKeyError, String(errors[0]));
        assert.equal(await m.account.epoch(group), epoch);
      }
      await client.close();
      await close(alice, bob);
    }),
});
