// Groups of polycrypt identities over MLS (groups/, docs/groups.md): a group of three through the
// delivery service's ordering, removal, path updates, concurrent commits, a member offline for 20
// epochs, forged and mis-signed commits, sealed state at rest.
import assert from "node:assert/strict";
import {
  type ClientState,
  createCommit,
  createGroup,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroup,
  type MLSMessage,
} from "ts-mls";
import { defaultClientConfig } from "ts-mls/clientConfig.js";
import { DecryptionError, generateIdentity, InvalidKeyError } from "../../mod.ts";
import { SqliteSessionStore } from "../../sessions/sqlite_store.ts";
import { MemorySessionStore } from "../../sessions/store.ts";
import { identitySessionKeys } from "../../sessions/_identity.ts";
import {
  type GroupAccount,
  GroupError,
  type GroupEvent,
  INTEROP_GROUP_SUITE,
  MemoryGroupDelivery,
  openGroups,
  queueId,
  StaleEpochError,
} from "../../groups/mod.ts";
import { makeCredential } from "../../groups/_credential.ts";
import { parseGroupEnvelope } from "../../groups/group.ts";
import { DEFAULT_GROUP_SUITE, suiteImpl } from "../../groups/_suites.ts";

const te = new TextEncoder();
const td = new TextDecoder();

async function newIdentity(): Promise<string> {
  return (await generateIdentity()).identity;
}

/** A group with `creator` alone, its queue created. */
async function newGroup(
  ds: MemoryGroupDelivery,
  creator: GroupAccount,
  suite = DEFAULT_GROUP_SUITE,
) {
  const group = await creator.create({ suite });
  await ds.create(queueId(group), await creator.epoch(group));
  return group;
}

/** `by` adds `who` through the delivery service; they join at the commit's position. */
async function addMembers(
  ds: MemoryGroupDelivery,
  group: string,
  by: GroupAccount,
  who: GroupAccount[],
) {
  const suite = await by.suite(group);
  const kps = await Promise.all(who.map((w) => w.keyPackage({ suite })));
  const commit = await by.add(group, kps, who.map((w) => w.fingerprint));
  await by.publish(ds, commit);
  const cursor = await by.cursor(group);
  for (const w of who) await w.join(commit.welcome!, { cursor });
}

function messages(events: GroupEvent[]): { from: string; text: string }[] {
  return events.flatMap((e) =>
    e.type === "message" ? [{ from: e.sender.fingerprint, text: td.decode(e.data) }] : []
  );
}

Deno.test("groups: a group of three (X-Wing) through the delivery service", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const aliceStore = new SqliteSessionStore(`${dir}/alice.db`);
    const aliceId = await newIdentity();
    let alice = await openGroups({ identity: aliceId, store: aliceStore });
    const bob = await openGroups({ identity: await newIdentity() });
    const carol = await openGroups({ identity: await newIdentity() });
    const ds = new MemoryGroupDelivery();
    const group = await newGroup(ds, alice);
    assert.equal(await alice.suite(group), "MLS_256_XWING_AES256GCM_SHA512_Ed25519");

    await addMembers(ds, group, alice, [bob, carol]);
    assert.equal(await alice.epoch(group), 1n);
    assert.equal(await bob.epoch(group), 1n);
    const fps = [alice.fingerprint, bob.fingerprint, carol.fingerprint].sort();
    for (const m of [alice, bob, carol]) {
      const members = await m.members(group);
      assert.deepEqual(members.map((x) => x.fingerprint).sort(), fps);
      assert.equal(members.filter((x) => x.self).length, 1);
      assert.equal(members.find((x) => x.self)!.fingerprint, m.fingerprint);
    }

    // A message: the two others read it, named by fingerprint; the sender's echo is "own".
    await alice.send(ds, group, te.encode("hello both"));
    for (const m of [bob, carol]) {
      assert.deepEqual(messages((await m.sync(ds, group)).events), [
        { from: alice.fingerprint, text: "hello both" },
      ]);
    }
    assert.deepEqual((await alice.sync(ds, group)).events.map((e) => e.type), ["own"]);

    // The state survives reopening the SQLite store, and the store names no group or member.
    aliceStore.close();
    const reopened = new SqliteSessionStore(`${dir}/alice.db`);
    alice = await openGroups({ identity: aliceId, store: reopened });
    assert.deepEqual(await alice.groups(), [group]);
    assert.equal(await alice.epoch(group), 1n);
    const raw = await Deno.readFile(`${dir}/alice.db`);
    const rawText = new TextDecoder("latin1").decode(raw);
    for (const secret of [group, alice.fingerprint, bob.fingerprint, "polycrypt2:", "PCGRP1"]) {
      assert.ok(!rawText.includes(secret), `the database shows ${secret}`);
    }

    // Remove Bob: he learns it, and cannot read the next message, even from a copy of his state.
    const bobBefore = await bob.epoch(group);
    const removal = await alice.remove(group, [bob.fingerprint]);
    await alice.publish(ds, removal);
    const bobEvents = (await bob.sync(ds, group)).events;
    assert.deepEqual(bobEvents.map((e) => e.type), ["removed"]);
    assert.deepEqual(await bob.groups(), []);
    assert.equal(bobBefore, 1n);
    const carolEvents = (await carol.sync(ds, group)).events;
    assert.equal(carolEvents.length, 1);
    const c0 = carolEvents[0];
    assert.ok(c0.type === "commit" && !c0.own);
    assert.deepEqual(c0.removed.map((m) => m.fingerprint), [bob.fingerprint]);
    assert.equal(c0.sender?.fingerprint, alice.fingerprint);

    const after = await alice.encrypt(group, te.encode("bob is gone"));
    await assert.rejects(bob.process(after), DecryptionError);
    const ev = await carol.process(after);
    assert.ok(ev.type === "message" && td.decode(ev.data) === "bob is gone");

    // A path update by Carol: everyone moves on and still talks.
    const update = await carol.update(group);
    await carol.publish(ds, update);
    const seen = (await alice.sync(ds, group)).events;
    assert.ok(seen.some((e) => e.type === "commit" && e.sender?.fingerprint === carol.fingerprint));
    assert.equal(await alice.epoch(group), await carol.epoch(group));
    await carol.send(ds, group, te.encode("after the update"));
    assert.deepEqual(messages((await alice.sync(ds, group)).events), [
      { from: carol.fingerprint, text: "after the update" },
    ]);
    reopened.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("groups: concurrent commits are ordered by the delivery service, the loser retries", async () => {
  const ds = new MemoryGroupDelivery();
  const [alice, bob, carol] = await Promise.all(
    [0, 1, 2].map(async () => openGroups({ identity: await newIdentity() })),
  );
  const group = await newGroup(ds, alice);
  await addMembers(ds, group, alice, [bob, carol]);
  const epoch = await alice.epoch(group);
  // Both make a commit for the same epoch; Bob's reaches the service first.
  const fromAlice = await alice.update(group);
  const fromBob = await bob.update(group);
  assert.equal(fromAlice.epoch, fromBob.epoch);
  await bob.publish(ds, fromBob);
  await assert.rejects(alice.publish(ds, fromAlice), StaleEpochError);
  // Alice's pending commit was dropped and Bob's processed: she is at the next epoch and retries.
  assert.equal(await alice.pending(group), undefined);
  assert.equal(await alice.epoch(group), epoch + 1n);
  await alice.publish(ds, await alice.update(group));
  await carol.sync(ds, group);
  await bob.sync(ds, group);
  for (const m of [alice, bob, carol]) assert.equal(await m.epoch(group), epoch + 2n);
  await carol.send(ds, group, te.encode("all in step"));
  for (const m of [alice, bob]) {
    assert.deepEqual(messages((await m.sync(ds, group)).events), [
      { from: carol.fingerprint, text: "all in step" },
    ]);
  }
  // A stale message is refused by the service too (its sender must catch up first).
  await assert.rejects(
    ds.post(queueId(group), "application", epoch, new Uint8Array(1)),
    StaleEpochError,
  );
});

Deno.test("groups: a commit seen before publication makes the pending one a conflict", async () => {
  const ds = new MemoryGroupDelivery();
  const [alice, bob] = await Promise.all(
    [0, 1].map(async () =>
      openGroups({ identity: await newIdentity(), suite: INTEROP_GROUP_SUITE })
    ),
  );
  const group = await newGroup(ds, alice, INTEROP_GROUP_SUITE);
  await addMembers(ds, group, alice, [bob]);
  await alice.update(group); // made, never published
  await bob.publish(ds, await bob.update(group));
  const { events } = await alice.sync(ds, group);
  assert.deepEqual(events.map((e) => e.type), ["conflict"]);
  assert.equal(await alice.pending(group), undefined);
  await assert.rejects(alice.update(group).then(() => alice.update(group)), GroupError);
});

Deno.test("groups: a member offline for 20 epochs catches up", async () => {
  const ds = new MemoryGroupDelivery();
  const [alice, bob, dave] = await Promise.all(
    [0, 1, 2].map(async () => openGroups({ identity: await newIdentity() })),
  );
  const group = await newGroup(ds, alice);
  await addMembers(ds, group, alice, [bob, dave]);
  const start = await dave.epoch(group);
  for (let i = 0; i < 20; i++) {
    const by = i % 2 ? alice : bob;
    await by.sync(ds, group);
    await by.publish(ds, await by.update(group));
    if (i % 5 === 0) await by.send(ds, group, te.encode(`epoch ${i}`));
  }
  await alice.sync(ds, group);
  await alice.send(ds, group, te.encode("welcome back"));
  const { events, errors } = await dave.sync(ds, group);
  assert.deepEqual(errors, []);
  assert.equal(events.filter((e) => e.type === "commit").length, 20);
  assert.equal(await dave.epoch(group), start + 20n);
  assert.deepEqual(messages(events).map((m) => m.text), [
    "epoch 0",
    "epoch 5",
    "epoch 10",
    "epoch 15",
    "welcome back",
  ]);
});

// ---------------------------------------------------------------------------- authentication

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

Deno.test("groups: forged commits are refused", async () => {
  const ds = new MemoryGroupDelivery();
  const alice = await openGroups({ identity: await newIdentity() });
  const bob = await openGroups({ identity: await newIdentity() });
  const group = await newGroup(ds, alice);
  await addMembers(ds, group, alice, [bob]);

  // Carol joins as a member with ts-mls directly.
  const carol = await rawMember(await newIdentity());
  const add = await alice.add(group, [
    carol.envelopeOf({
      version: "mls10",
      wireformat: "mls_key_package",
      keyPackage: carol.kp.publicPackage,
    }, 4),
  ]);
  await alice.publish(ds, add);
  await bob.sync(ds, group);
  const welcome = parseGroupEnvelope(add.welcome!).message;
  assert.ok(welcome.wireformat === "mls_welcome");
  const carolState: ClientState = await joinGroup(
    welcome.welcome,
    carol.kp.publicPackage,
    carol.kp.privatePackage,
    emptyPskIndex,
    carol.cs,
  );
  const epoch = await alice.epoch(group);

  // 1. A commit from a non-member: Mallory's own group under the same group id.
  const mallory = await rawMember(await newIdentity());
  let mState = await createGroup(
    carolState.groupContext.groupId,
    mallory.kp.publicPackage,
    mallory.kp.privatePackage,
    [],
    mallory.cs,
  );
  for (let i = 0n; i < epoch; i++) {
    mState = (await createCommit({ state: mState, cipherSuite: mallory.cs }, {})).newState;
  }
  const forged = await createCommit({ state: mState, cipherSuite: mallory.cs }, {});
  await assert.rejects(alice.process(carol.envelopeOf(forged.commit, 2)), DecryptionError);

  // 2. Carol's commit signed with a key that is not the one her identity certified.
  const other = await carol.cs.signature.keygen();
  const wrongKey = await createCommit({
    state: { ...carolState, signaturePrivateKey: other.signKey },
    cipherSuite: carol.cs,
  }, {});
  await assert.rejects(alice.process(carol.envelopeOf(wrongKey.commit, 2)), InvalidKeyError);

  // 3. Carol's commit whose new leaf carries another signature key under her old certificate.
  const tree = carolState.ratchetTree.slice();
  const own = carolState.privatePath.leafIndex * 2;
  const leaf = tree[own]!;
  assert.ok(leaf.nodeType === "leaf");
  tree[own] = { ...leaf, leaf: { ...leaf.leaf, signaturePublicKey: other.publicKey } };
  const swapped = await createCommit({
    state: { ...carolState, ratchetTree: tree, signaturePrivateKey: other.signKey },
    cipherSuite: carol.cs,
  }, {});
  await assert.rejects(alice.process(carol.envelopeOf(swapped.commit, 2)), InvalidKeyError);

  // Nothing changed: Alice and Bob are at the same epoch and Carol's honest commit goes through.
  assert.equal(await alice.epoch(group), epoch);
  const honest = await createCommit({ state: carolState, cipherSuite: carol.cs }, {});
  const ev = await alice.process(carol.envelopeOf(honest.commit, 2));
  assert.ok(ev.type === "commit");
  assert.equal(ev.sender?.fingerprint, carol.keys.fingerprint);
  void defaultClientConfig;
});

Deno.test("groups: key packages are checked against the identity they name and the contacts", async () => {
  const ds = new MemoryGroupDelivery();
  const bobId = await newIdentity();
  const bob = await openGroups({ identity: bobId });
  const eve = await rawMember(await newIdentity());
  const contacts = new Set<string>([bob.fingerprint]);
  const alice = await openGroups({
    identity: await newIdentity(),
    verifyMember: (m) => m.fingerprint === alice.fingerprint || contacts.has(m.fingerprint),
  });
  const group = await newGroup(ds, alice);

  // Eve certifies her MLS key with her identity but names Bob's recipient: refused.
  const bobKeys = await identitySessionKeys(bobId);
  const fake = await makeCredential(
    DEFAULT_GROUP_SUITE,
    bobKeys.recipient,
    eve.keys.signing,
    eve.sig.publicKey,
  );
  const fakeKp = await generateKeyPackageWithKey(
    fake,
    defaultCapabilities(),
    defaultLifetime,
    [],
    eve.sig,
    eve.cs,
  );
  const fakeEnvelope = eve.envelopeOf(
    { version: "mls10", wireformat: "mls_key_package", keyPackage: fakeKp.publicPackage },
    4,
  );
  await assert.rejects(alice.add(group, [fakeEnvelope]), InvalidKeyError);
  // Eve's real key package: not in the contacts, refused; Bob's with Eve's fingerprint expected: refused.
  const eveEnvelope = eve.envelopeOf(
    { version: "mls10", wireformat: "mls_key_package", keyPackage: eve.kp.publicPackage },
    4,
  );
  await assert.rejects(alice.add(group, [eveEnvelope]), InvalidKeyError);
  await assert.rejects(
    alice.add(group, [await bob.keyPackage()], [eve.keys.fingerprint]),
    InvalidKeyError,
  );
  // A key package of the other suite is refused for this group.
  await assert.rejects(
    alice.add(group, [await bob.keyPackage({ suite: INTEROP_GROUP_SUITE })]),
    InvalidKeyError,
  );
  // Bob, a contact, is added.
  await addMembers(ds, group, alice, [bob]);
  assert.equal((await alice.members(group)).length, 2);
  void MemorySessionStore;
});

Deno.test("groups: leaving sends a self-removal that the next commit applies", async () => {
  const ds = new MemoryGroupDelivery();
  const [alice, bob, carol] = await Promise.all(
    [0, 1, 2].map(async () =>
      openGroups({ identity: await newIdentity(), suite: INTEROP_GROUP_SUITE })
    ),
  );
  const group = await newGroup(ds, alice, INTEROP_GROUP_SUITE);
  await addMembers(ds, group, alice, [bob, carol]);
  const proposal = await bob.leave(group);
  assert.deepEqual(await bob.groups(), []);
  await ds.post(queueId(group), "proposal", await alice.epoch(group), proposal);
  const seen = (await alice.sync(ds, group)).events;
  assert.deepEqual(seen.map((e) => e.type), ["proposal"]);
  await alice.publish(ds, await alice.update(group));
  const { events } = await carol.sync(ds, group);
  const commit = events.find((e) => e.type === "commit");
  assert.ok(commit?.type === "commit");
  assert.deepEqual(commit.removed.map((m) => m.fingerprint), [bob.fingerprint]);
  assert.deepEqual(
    (await carol.members(group)).map((m) => m.fingerprint).sort(),
    [alice.fingerprint, carol.fingerprint].sort(),
  );
});
