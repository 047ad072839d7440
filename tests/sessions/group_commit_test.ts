// Group commit (docs/sessions.md section 7.2): calls made without waiting for each other share
// store commits, yet each one's result comes only once its changes are durable, a failed commit
// fails every call that built on it and changes nothing, and the account goes on afterwards.
import assert from "node:assert/strict";
import { createAccount, SqliteSessionStore } from "../../sessions/mod.ts";
import { MemorySessionStore, type SessionStore, type StoreChange } from "../../sessions/store.ts";
import { dec, enc, identity, snapshot } from "./_account_helpers.ts";

/** A memory store whose commits wait for `release()` and may be told to fail. */
class GatedStore implements SessionStore {
  readonly inner = new MemorySessionStore();
  /** The changes of every commit asked for, in order. */
  readonly commits: StoreChange[][] = [];
  gated = false;
  failNext: Error | undefined;
  #waiting: (() => void)[] = [];
  get(key: string) {
    return this.inner.get(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  async commit(changes: readonly StoreChange[]): Promise<void> {
    this.commits.push([...changes]);
    if (this.gated) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
    await this.inner.commit(changes);
  }
  release(): void {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

/** Alice and Bob with a session both ways; Alice's store is `store`. */
async function pair(store: SessionStore) {
  const alice = await createAccount({ identity: (await identity(0)).identity, store });
  const bob = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const first = await bob.decrypt(await alice.encrypt(await bob.prekeyBundle(), enc("hi")));
  await alice.decrypt(await bob.encrypt(first.from, enc("hello")));
  return { alice, bob };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("calls made at once share one commit, and none returns before it is durable", async () => {
  const store = new GatedStore();
  const { alice, bob } = await pair(store);
  const before = store.commits.length;
  store.gated = true;
  let settled = 0;
  const sent = Array.from({ length: 10 }, (_, i) => {
    const p = alice.encrypt(bob.fingerprint, enc(`m${i}`));
    p.then(() => settled++, () => settled++);
    return p;
  });
  for (let i = 0; i < 20; i++) await tick();
  // Every encryption is done, gathered into one commit, and none was given out.
  assert.equal(store.commits.length, before + 1);
  assert.equal(settled, 0);
  const stored = await snapshot(store.inner);
  store.release();
  const messages = await Promise.all(sent);
  assert.equal(settled, 10);
  assert.notDeepEqual(await snapshot(store.inner), stored);
  // One commit carried the advanced state; the messages open in order at Bob's.
  for (const [i, m] of messages.entries()) assert.equal(dec((await bob.decrypt(m)).data), `m${i}`);
  store.gated = false;
  // A call on its own is committed at once, alone.
  const one = await alice.encrypt(bob.fingerprint, enc("alone"));
  assert.equal(store.commits.length, before + 2);
  assert.equal(dec((await bob.decrypt(one)).data), "alone");
  await alice.close();
  await bob.close();
});

Deno.test("a failed group commit fails every call that built on it and changes nothing", async () => {
  const store = new GatedStore();
  const { alice, bob } = await pair(store);
  const stored = await snapshot(store.inner);
  store.gated = true;
  const failure = new Error("disk full");
  store.failNext = failure;
  // The first call's commit is under way when the next ones come: they gather in a second batch,
  // which builds on the first.
  const first = alice.encrypt(bob.fingerprint, enc("first"));
  for (let i = 0; i < 5; i++) await tick();
  const later = [1, 2, 3].map((i) => alice.encrypt(bob.fingerprint, enc(`later ${i}`)));
  for (let i = 0; i < 20; i++) await tick();
  store.release();
  await assert.rejects(first, (e) => e === failure);
  for (const p of later) await assert.rejects(p, /an earlier change of this account/);
  assert.deepEqual(await snapshot(store.inner), stored);
  // The account goes on from the stored state: Bob opens the next message.
  store.gated = false;
  const next = await alice.encrypt(bob.fingerprint, enc("after the failure"));
  assert.equal(dec((await bob.decrypt(next)).data), "after the failure");
  await alice.close();
  await bob.close();
});

Deno.test("SqliteSessionStore: messages encrypted at once share transactions and survive reopening", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let store = new SqliteSessionStore(`${dir}/alice.db`);
    let commits = 0;
    const commit = store.commit.bind(store);
    store.commit = (changes) => {
      commits++;
      return commit(changes);
    };
    const { alice, bob } = await pair(store);
    commits = 0;
    const messages = await Promise.all(
      Array.from({ length: 50 }, (_, i) => alice.encrypt(bob.fingerprint, enc(`m${i}`))),
    );
    assert.ok(commits >= 1 && commits < 50, `${commits} commits for 50 messages`);
    // Bob decrypts them all at once too, in order.
    const opened = await Promise.all(messages.map((m) => bob.decrypt(m)));
    assert.deepEqual(opened.map((o) => dec(o.data)), messages.map((_, i) => `m${i}`));
    await alice.close();
    // What was returned was stored: reopened, the account sends on from there.
    store = new SqliteSessionStore(`${dir}/alice.db`);
    const again = await createAccount({ identity: (await identity(0)).identity, store });
    const next = await again.encrypt(bob.fingerprint, enc("after reopening"));
    assert.equal(dec((await bob.decrypt(next)).data), "after reopening");
    await again.close();
    await bob.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
