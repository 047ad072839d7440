// Accounts (docs/sessions.md sections 7 and 8): the API, round trips with every built-in
// KEM and a plugin, prekey policy, repeated and replayed prekey messages, concurrency.
import assert from "node:assert/strict";
import {
  type Account,
  createAccount,
  DecryptionError,
  generateIdentity,
  MemorySessionStore,
  NoSessionError,
  PREKEY_RETENTION_MS,
  PREKEY_ROTATION_MS,
  registry,
  SqliteSessionStore,
} from "../../mod.ts";
import { p256 } from "../../examples/plugin_p256.ts";
import { PREKEY_MESSAGE, RATCHET_MESSAGE, sessionMessageKind } from "../../sessions/message.ts";
import {
  assertSameStore,
  CountingStore,
  dec,
  enc,
  identity,
  snapshot,
  withTempDir,
} from "./_account_helpers.ts";

if (!registry.has("p256")) registry.register(p256);

Deno.test("the issue's API snippet works as written", async () => {
  await withTempDir(async (dir) => {
    const bobIdentity = (await identity(0)).identity;
    const aliceIdentity = (await identity(1)).identity;
    const data = enc("hello Bob");
    const bytes = enc("hello Alice");
    // ---- verbatim, but for the path ----
    const bob = await createAccount({
      identity: bobIdentity,
      store: new SqliteSessionStore(`${dir}/bob.db`),
    });
    const bundle: Uint8Array = await bob.prekeyBundle({ oneTimeKeys: 20 }); // signed, self-describing
    const alice = await createAccount({ identity: aliceIdentity, store: new MemorySessionStore() });
    const first: Uint8Array = await alice.encrypt(bundle, data); // starts a session
    const { from, data: got } = await bob.decrypt(first); // from: Alice's fingerprint
    const reply = await bob.encrypt(from, bytes); // by fingerprint afterwards
    // ---- checks ----
    assert.equal(from, alice.fingerprint);
    assert.deepEqual(got, data);
    const back = await alice.decrypt(reply);
    assert.equal(back.from, bob.fingerprint);
    assert.deepEqual(back.data, bytes);
    assert.notEqual(alice.fingerprint, bob.fingerprint);
    assert.match(alice.fingerprint, /^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
    const [info] = await bob.sessions();
    assert.equal(info.fingerprint, alice.fingerprint);
    assert.equal(info.recipient, alice.recipient);
    assert.equal(info.kem, "ml-kem-768");
    assert.deepEqual(Object.keys(info).sort(), [
      "created",
      "fingerprint",
      "kem",
      "recipient",
      "sessionId",
    ]);
    assert.deepEqual(await alice.sessionId(bob.fingerprint), info.sessionId);
    assert.equal(info.sessionId.length, 32);
    await alice.close();
    await bob.close();
  });
});

/** A conversation of `rounds` turns each way, checking every message. */
async function converse(kem: string, rounds: number, policyMessages = 2): Promise<void> {
  const policy = { messages: policyMessages, milliseconds: 3_600_000 };
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
    kem,
    policy,
  });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
    policy,
  });
  const bundle = await bob.prekeyBundle({ oneTimeKeys: 1 });
  const first = await alice.encrypt(bundle, enc(`${kem} 0`));
  const opened = await bob.decrypt(first);
  assert.equal(opened.from, alice.fingerprint);
  assert.equal(dec(opened.data), `${kem} 0`);
  for (let i = 1; i <= rounds; i++) {
    const b = await bob.encrypt(alice.fingerprint, enc(`${kem} from Bob ${i}`));
    assert.equal(dec((await alice.decrypt(b)).data), `${kem} from Bob ${i}`);
    const a1 = await alice.encrypt(bob.fingerprint, enc(`${kem} from Alice ${i}`));
    const a2 = await alice.encrypt(bob.fingerprint, new Uint8Array(0));
    assert.equal(dec((await bob.decrypt(a1)).data), `${kem} from Alice ${i}`);
    assert.deepEqual((await bob.decrypt(a2)).data, new Uint8Array(0));
  }
  assert.equal((await alice.sessions())[0].kem, kem);
  await alice.close();
  await bob.close();
}

for (
  const kem of [
    "ml-kem-512",
    "ml-kem-768",
    "ml-kem-1024",
    "x25519+ml-kem-768",
    "rsa-3072",
    "elgamal-3072",
    "p256", // a third-party engine (examples/plugin_p256.ts), registered at run time
  ]
) {
  Deno.test(`round trips both ways with ${kem} in the post-quantum slot`, async () => {
    // RSA key generation takes about a second a key: fewer KEM steps there.
    await converse(kem, kem.startsWith("rsa") ? 2 : 4, kem.startsWith("rsa") ? 3 : 2);
  });
}

Deno.test("Alice sends prekey messages until she hears from Bob, who does not reset on repeats", async () => {
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
  });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const bundle = await bob.prekeyBundle({ oneTimeKeys: 2 });
  const sent = [];
  for (let i = 0; i < 4; i++) sent.push(await alice.encrypt(bundle, enc(`m${i}`)));
  for (const m of sent) assert.equal(sessionMessageKind(m), PREKEY_MESSAGE);
  // Out of order: the third first (it starts the session), then the first (same EK: same session).
  assert.equal(dec((await bob.decrypt(sent[2])).data), "m2");
  const sid = await bob.sessionId(alice.fingerprint);
  assert.equal(dec((await bob.decrypt(sent[0])).data), "m0");
  assert.deepEqual(await bob.sessionId(alice.fingerprint), sid);
  // A duplicate is refused, never decrypted twice.
  await assert.rejects(bob.decrypt(sent[2]), DecryptionError);
  const reply = await bob.encrypt(alice.fingerprint, enc("r"));
  assert.equal(sessionMessageKind(reply), RATCHET_MESSAGE);
  assert.equal(dec((await alice.decrypt(reply)).data), "r");
  // Heard from Bob: ratchet messages from now on.
  const after = await alice.encrypt(bob.fingerprint, enc("m4"));
  assert.equal(sessionMessageKind(after), RATCHET_MESSAGE);
  // The late prekey messages still open, on the same session.
  assert.equal(dec((await bob.decrypt(sent[3])).data), "m3");
  assert.equal(dec((await bob.decrypt(after)).data), "m4");
  assert.equal(dec((await bob.decrypt(sent[1])).data), "m1");
  assert.deepEqual(await bob.sessionId(alice.fingerprint), sid);
  assert.equal((await bob.sessions()).length, 1);
  // Only the one-time prekeys of that bundle were used: another bundle's still start a session.
  const carol = await createAccount({
    identity: (await identity(2)).identity,
    store: new MemorySessionStore(),
  });
  const other = await bob.prekeyBundle({ oneTimeKeys: 1 });
  assert.equal(dec((await bob.decrypt(await carol.encrypt(other, enc("c")))).data), "c");
  const dave = await createAccount({
    identity: (await identity(3)).identity,
    store: new MemorySessionStore(),
  });
  await assert.rejects(bob.decrypt(await dave.encrypt(bundle, enc("d"))), DecryptionError);
});

Deno.test("a one-time prekey is used once: a replay or a second user of it is refused", async () => {
  const bobStore = new CountingStore();
  const bob = await createAccount({ identity: (await identity(0)).identity, store: bobStore });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const carol = await createAccount({
    identity: (await identity(2)).identity,
    store: new MemorySessionStore(),
  });
  const bundle = await bob.prekeyBundle({ oneTimeKeys: 1 });
  const first = await alice.encrypt(bundle, enc("hi"));
  const carols = await carol.encrypt(bundle, enc("me too")); // the same OPK and PQOPK
  await bob.decrypt(first);
  const before = await snapshot(bobStore);
  const commits = bobStore.commits;
  await assert.rejects(bob.decrypt(carols), DecryptionError);
  await assert.rejects(bob.decrypt(first), DecryptionError); // a replay of a message read
  assertSameStore(before, await snapshot(bobStore));
  assert.equal(bobStore.commits, commits);
  // Once the session is gone, the replayed prekey message does not start a new one.
  await bob.endSession(alice.fingerprint);
  assert.deepEqual(await bob.sessions(), []);
  await assert.rejects(bob.decrypt(first), DecryptionError);
  assert.deepEqual(await bob.sessions(), []);
});

Deno.test("a replayed last-resort prekey message is refused (the EK is remembered)", async () => {
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
  });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const bundle = await bob.prekeyBundle(); // no one-time keys: SPK and PQSPK only
  const first = await alice.encrypt(bundle, enc("hi"));
  assert.equal(dec((await bob.decrypt(first)).data), "hi");
  await assert.rejects(bob.decrypt(first), DecryptionError);
  await bob.endSession(alice.fingerprint);
  await assert.rejects(bob.decrypt(first), DecryptionError);
  assert.deepEqual(await bob.sessions(), []);
  // A fresh handshake from the same bundle is fine (a new EK).
  await alice.endSession(bob.fingerprint);
  const again = await alice.encrypt(bundle, enc("again"));
  assert.equal(dec((await bob.decrypt(again)).data), "again");
});

Deno.test("signed prekeys rotate after 7 days and are kept 30 days after", async () => {
  let clock = Date.UTC(2026, 0, 1);
  const now = () => clock;
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
    now,
  });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
    now,
  });
  const carol = await createAccount({
    identity: (await identity(2)).identity,
    store: new MemorySessionStore(),
    now,
  });
  const { parseBundle } = await import("../../sessions/bundle.ts");
  const old = await bob.prekeyBundle();
  const oldSpk = (await parseBundle(old)).spk.id;
  clock += PREKEY_ROTATION_MS - 1;
  assert.equal((await parseBundle(await bob.prekeyBundle())).spk.id, oldSpk);
  clock += 1;
  const fresh = await bob.prekeyBundle();
  assert.notEqual((await parseBundle(fresh)).spk.id, oldSpk);
  // A message made from the old bundle still opens while the old SPK is kept...
  const late = await alice.encrypt(old, enc("late"));
  clock += PREKEY_RETENTION_MS - 1;
  await bob.prekeyBundle();
  assert.equal(dec((await bob.decrypt(late)).data), "late");
  // ...and not once it is deleted.
  const tooLate = await carol.encrypt(old, enc("too late"));
  clock += 1;
  await bob.prekeyBundle();
  await assert.rejects(bob.decrypt(tooLate), DecryptionError);
});

Deno.test("concurrent calls on one session are serialized: every message opens once", async () => {
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
  });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  await bob.decrypt(await alice.encrypt(await bob.prekeyBundle(), enc("start")));
  await alice.decrypt(await bob.encrypt(alice.fingerprint, enc("ok")));
  const n = 60;
  const sent = await Promise.all(
    Array.from({ length: n }, (_, i) => alice.encrypt(bob.fingerprint, enc(`c${i}`))),
  );
  // Interleave Bob's own sends and Alice's decrypts with his decrypts, in a shuffled order.
  const order = sent.map((m, i) => ({ m, i })).sort(() => Math.random() - 0.5);
  const replies = Array.from(
    { length: 10 },
    (_, i) => bob.encrypt(alice.fingerprint, enc(`r${i}`)),
  );
  const opened = await Promise.all(order.map(({ m }) => bob.decrypt(m)));
  assert.deepEqual(opened.map((o) => dec(o.data)).sort(), order.map(({ i }) => `c${i}`).sort());
  const got = await Promise.all((await Promise.all(replies)).map((r) => alice.decrypt(r)));
  assert.deepEqual(got.map((g) => dec(g.data)), Array.from({ length: 10 }, (_, i) => `r${i}`));
  // Every message key was distinct: none of them opens a second time.
  for (const m of sent.slice(0, 5)) await assert.rejects(bob.decrypt(m), DecryptionError);
});

Deno.test("both ends starting a session at once still talk (the previous session is kept)", async () => {
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
  });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const fromAlice = await alice.encrypt(await bob.prekeyBundle(), enc("a"));
  const fromBob = await bob.encrypt(await alice.prekeyBundle(), enc("b"));
  assert.equal(dec((await bob.decrypt(fromAlice)).data), "a");
  assert.equal(dec((await alice.decrypt(fromBob)).data), "b");
  for (let i = 0; i < 3; i++) {
    const x = await alice.encrypt(bob.fingerprint, enc(`a${i}`));
    assert.equal(dec((await bob.decrypt(x)).data), `a${i}`);
    const y = await bob.encrypt(alice.fingerprint, enc(`b${i}`));
    assert.equal(dec((await alice.decrypt(y)).data), `b${i}`);
  }
  assert.deepEqual(await alice.sessionId(bob.fingerprint), await bob.sessionId(alice.fingerprint));
});

Deno.test("a peer who lost their state starts over with a new handshake", async () => {
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
  });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const bundle = await bob.prekeyBundle({ oneTimeKeys: 2 });
  await bob.decrypt(await alice.encrypt(bundle, enc("1")));
  await alice.decrypt(await bob.encrypt(alice.fingerprint, enc("2")));
  const reborn = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const m = await reborn.encrypt(await bob.prekeyBundle({ oneTimeKeys: 1 }), enc("3"));
  assert.equal(dec((await bob.decrypt(m)).data), "3");
  assert.deepEqual(await bob.sessionId(alice.fingerprint), await reborn.sessionId(bob.fingerprint));
  assert.equal(
    dec((await reborn.decrypt(await bob.encrypt(alice.fingerprint, enc("4")))).data),
    "4",
  );
  assert.equal((await bob.sessions()).length, 1);
});

Deno.test("a stranger's prekey message names them; strangers' ratchet messages do not open", async () => {
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
  });
  const mallory = await createAccount({
    identity: (await identity(4)).identity,
    store: new MemorySessionStore(),
  });
  const { from } = await bob.decrypt(await mallory.encrypt(await bob.prekeyBundle(), enc("hi")));
  assert.equal(from, mallory.fingerprint); // the caller decides whether to trust it
  const other = await createAccount({
    identity: (await identity(4)).identity,
    store: new MemorySessionStore(),
  });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  await alice.decrypt(await other.encrypt(await alice.prekeyBundle(), enc("x")));
  const stray = await alice.encrypt(other.fingerprint, enc("not for bob"));
  await assert.rejects(bob.decrypt(stray), DecryptionError);
});

Deno.test("usage errors: no session, bad fingerprints, non-session bytes, oneTimeKeys range, closed", async () => {
  const store = new MemorySessionStore();
  const bob = await createAccount({ identity: (await identity(0)).identity, store });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  await assert.rejects(bob.encrypt(alice.fingerprint, enc("x")), NoSessionError);
  await assert.rejects(bob.encrypt("not a fingerprint", enc("x")), TypeError);
  await assert.rejects(bob.decrypt(enc("PCRYPT garbage")), DecryptionError);
  await assert.rejects(bob.decrypt(new Uint8Array(0)), DecryptionError);
  await assert.rejects(bob.prekeyBundle({ oneTimeKeys: -1 }), RangeError);
  await assert.rejects(bob.prekeyBundle({ oneTimeKeys: 1001 }), RangeError);
  await assert.rejects(bob.encrypt(await bob.prekeyBundle(), enc("me")), TypeError);
  assert.equal(await bob.sessionId(alice.fingerprint), undefined);
  await bob.endSession(alice.fingerprint); // nothing to end: fine
  // Fingerprints are accepted without spaces or in lower case.
  await bob.decrypt(await alice.encrypt(await bob.prekeyBundle(), enc("x")));
  const compact = alice.fingerprint.replaceAll(" ", "").toLowerCase();
  assert.ok(await bob.sessionId(compact));
  await bob.close();
  await assert.rejects(bob.sessions(), TypeError);
  await assert.rejects(store.get("x"), TypeError); // close() closed the store
  await assert.rejects(
    createAccount({ identity: "POLYCRYPT-SECRET-KEY-1:nope", store: new MemorySessionStore() }),
  );
  // A version-1 identity has no signing key: sessions need one (upgradeIdentity adds it).
  const v1 = await generateIdentity("x25519", { signatureEngine: null });
  await assert.rejects(
    createAccount({ identity: v1.identity, store: new MemorySessionStore() }),
    /upgrade/,
  );
});

Deno.test("several identities share one store without seeing each other", async () => {
  const store = new MemorySessionStore();
  const bob = await createAccount({ identity: (await identity(0)).identity, store });
  const carol = await createAccount({ identity: (await identity(2)).identity, store });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  await bob.decrypt(await alice.encrypt(await bob.prekeyBundle(), enc("b")));
  assert.equal((await bob.sessions()).length, 1);
  assert.deepEqual(await carol.sessions(), []);
  const toCarol = await createAccount({
    identity: (await identity(3)).identity,
    store: new MemorySessionStore(),
  });
  await assert.rejects(
    bob.decrypt(await toCarol.encrypt(await carol.prekeyBundle(), enc("c"))),
    DecryptionError,
  );
});

Deno.test("a store that fails to commit loses nothing: no ciphertext, no plaintext", async () => {
  class Failing extends CountingStore {
    fail = false;
    override commit(changes: Parameters<CountingStore["commit"]>[0]) {
      if (this.fail) return Promise.reject(new Error("disk full"));
      return super.commit(changes);
    }
  }
  const store = new Failing();
  const bob = await createAccount({ identity: (await identity(0)).identity, store });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const m1 = await alice.encrypt(await bob.prekeyBundle(), enc("1"));
  store.fail = true;
  await assert.rejects(bob.decrypt(m1), /disk full/);
  store.fail = false;
  assert.equal(dec((await bob.decrypt(m1)).data), "1");
  store.fail = true;
  await assert.rejects(bob.encrypt(alice.fingerprint, enc("2")), /disk full/);
  store.fail = false;
  const m2 = await bob.encrypt(alice.fingerprint, enc("2"));
  assert.equal(dec((await alice.decrypt(m2)).data), "2");
});

Deno.test("ratchet messages name no sender: the account finds the session, a hint only orders the tries", async () => {
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
  });
  const peers: Account[] = [];
  for (let i = 1; i <= 4; i++) {
    const peer = await createAccount({
      identity: (await identity(i)).identity,
      store: new MemorySessionStore(),
    });
    await bob.decrypt(await peer.encrypt(await bob.prekeyBundle(), enc(`hello ${i}`)));
    await peer.decrypt(await bob.encrypt(peer.fingerprint, enc("welcome")));
    peers.push(peer);
  }
  assert.equal((await bob.sessions()).length, 4);
  for (const [i, peer] of peers.entries()) {
    const m1 = await peer.encrypt(bob.fingerprint, enc(`plain ${i}`));
    const m2 = await peer.encrypt(bob.fingerprint, enc(`hinted ${i}`));
    const m3 = await peer.encrypt(bob.fingerprint, enc(`misled ${i}`));
    assert.deepEqual(await bob.decrypt(m1), { from: peer.fingerprint, data: enc(`plain ${i}`) });
    assert.deepEqual(await bob.decrypt(m2, { from: peer.fingerprint }), {
      from: peer.fingerprint,
      data: enc(`hinted ${i}`),
    });
    const other = peers[(i + 1) % peers.length].fingerprint;
    assert.deepEqual(await bob.decrypt(m3, { from: other }), {
      from: peer.fingerprint,
      data: enc(`misled ${i}`),
    });
  }
  await assert.rejects(bob.decrypt(enc("x"), { from: "nope" }), TypeError);
});

Deno.test("unused one-time prekeys are capped: beyond 2000 of a kind the oldest go first", async () => {
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
  });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const carol = await createAccount({
    identity: (await identity(2)).identity,
    store: new MemorySessionStore(),
  });
  const oldest = await bob.prekeyBundle({ oneTimeKeys: 1 });
  const kept = await bob.prekeyBundle({ oneTimeKeys: 1 });
  await bob.prekeyBundle({ oneTimeKeys: 1000 });
  await bob.prekeyBundle({ oneTimeKeys: 999 }); // 2001 in all: the oldest pair is dropped
  await assert.rejects(bob.decrypt(await alice.encrypt(oldest, enc("old"))), DecryptionError);
  assert.equal(dec((await bob.decrypt(await carol.encrypt(kept, enc("kept")))).data), "kept");
});

Deno.test("the storage seal is the same bytes on libcrypto (FFI) and on the fallback", async () => {
  const { disableOpensslAeadForTesting } = await import("../../engines/symmetric/_openssl.ts");
  const store = new MemorySessionStore();
  const bobId = (await identity(0)).identity;
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const bob = await createAccount({ identity: bobId, store });
  await bob.decrypt(await alice.encrypt(await bob.prekeyBundle(), enc("one")));
  disableOpensslAeadForTesting(true);
  try {
    // A second account object on the same store seals and opens without libcrypto.
    const fallback = await createAccount({ identity: bobId, store });
    assert.equal(
      dec((await fallback.decrypt(await alice.encrypt(bob.fingerprint, enc("two")))).data),
      "two",
    );
    await alice.decrypt(await fallback.encrypt(alice.fingerprint, enc("three")));
  } finally {
    disableOpensslAeadForTesting(false);
  }
  // And what the fallback sealed opens on libcrypto again.
  const again = await createAccount({ identity: bobId, store });
  assert.equal(
    dec((await again.decrypt(await alice.encrypt(bob.fingerprint, enc("four")))).data),
    "four",
  );
  assert.equal((await again.sessions()).length, 1);
});

Deno.test("a forged or damaged bundle starts nothing: refused, and nothing stored", async () => {
  const aliceStore = new CountingStore();
  const alice = await createAccount({ identity: (await identity(1)).identity, store: aliceStore });
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
  });
  const bundle = await bob.prekeyBundle({ oneTimeKeys: 1 });
  for (const at of [20, 200, bundle.length - 40, Math.floor(bundle.length / 2)]) {
    const bad = bundle.slice();
    bad[at] ^= 0x01;
    await assert.rejects(alice.encrypt(bad, enc("x")));
  }
  await assert.rejects(alice.encrypt(bundle.subarray(0, bundle.length - 1), enc("x")));
  assert.equal(aliceStore.commits, 0);
  assert.deepEqual(await alice.sessions(), []);
  await alice.encrypt(bundle, enc("fine"));
  assert.equal(aliceStore.commits, 1);
});
