// Securing from the command line, the cases a review found (docs/relay.md section 13,
// "Securing"): a KEY that fails for a reason that may pass (the relay answers INTERNAL) leaves the
// announcing message on the relay for the next fetch, which secures the queue; and an invitation a
// contact's message carries is saved only when it is the contact's own and names no queue the
// user writes to for someone else (Mallory cannot point Alice's messages at Bob's inbox).
import assert from "node:assert/strict";
import { join } from "node:path";
import { fingerprint } from "../../mod.ts";
import {
  type AuthKey,
  encodeInvitation,
  parseInvitation,
  RELAY_ERROR,
  RelayError,
  RelayServer,
  SqliteStore,
} from "../../relay/mod.ts";
import { readBook, readInboxes, readSenderKeys, writeBook } from "../../cli/_contacts.ts";
import { openAccount } from "../../cli/_chat_session.ts";
import { RELAY_KIND, RelayOutbox, relayPayload } from "../../cli/_relay.ts";
import { withTempDir } from "../cli/_cli.ts";
import { as, thirdPartySend, type User, user } from "./_secure_users.ts";

/** A relay store whose next `failKeys` KEYs fail (the relay answers them INTERNAL). */
class FlakyKeyStore extends SqliteStore {
  failKeys = 0;
  keys = 0;
  override secure(rid: Uint8Array, senderKey: AuthKey): Promise<boolean> {
    this.keys++;
    if (this.failKeys > 0) {
      this.failKeys--;
      return Promise.reject(new Error("test: this KEY fails"));
    }
    return super.secure(rid, senderKey);
  }
}

/** A relay in this process over `store`; the CLI processes connect to it. */
async function withRelay(
  store: SqliteStore,
  work: (url: string) => Promise<void>,
): Promise<void> {
  const server = new RelayServer({ store, sweepIntervalMs: 0, onError: () => {} });
  const url = await server.listen("ws://127.0.0.1:0");
  try {
    await work(url);
  } finally {
    await server.close();
  }
}

Deno.test("secured inbox: a KEY the relay answers INTERNAL is tried again by the next fetch", async () => {
  await withTempDir("polycrypt-relay-keyretry-", async (dir) => {
    const store = new FlakyKeyStore(join(dir, "relay.db"));
    await withRelay(store, async (url) => {
      const [bob, alice] = await Promise.all([user(dir, "bob"), user(dir, "alice")]);
      const invitation = (await bob.ok(["inbox", "new", "--relay", url, "-i", bob.key]))
        .stdout.trim();
      await alice.ok(["contact", "-i", alice.key, "add", "bob", invitation]);
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "first"]);
      const [sender] = await as(alice, readSenderKeys);
      assert.ok(sender.announced);

      // Bob's first fetch: the relay fails the KEY. The announcement (and the text behind it)
      // stay on the relay; fetch says so and exits 3.
      store.failKeys = 1;
      const failed = await bob.run(["fetch", "-i", bob.key]);
      assert.equal(failed.code, 3, failed.stderr);
      assert.match(failed.stderr, /did not secure your inbox \(INTERNAL\)/);
      assert.match(failed.stderr, /fetch again/);
      assert.equal(failed.stdout, "");
      assert.equal(store.keys, 1);
      let [inbox] = await as(bob, readInboxes);
      assert.equal(inbox.securedTo, undefined);

      // The next fetch decrypts the announcement again, KEY succeeds, the text follows.
      const fetched = await bob.ok(["fetch", "-i", bob.key]);
      const aliceFp = fingerprint(alice.recipient);
      assert.equal(fetched.stdout, `stranger ${aliceFp}: first\n`);
      assert.match(fetched.stderr, new RegExp(`secured to stranger ${aliceFp}`));
      assert.equal(store.keys, 2);
      [inbox] = await as(bob, readInboxes);
      assert.equal(inbox.securedTo?.publicKey, sender.key.publicKey);
      await assert.rejects(
        thirdPartySend(invitation),
        (e) => e instanceof RelayError && e.code === RELAY_ERROR.AUTH,
        "an unsigned SEND after the retried KEY was not refused",
      );
      // Alice's next message is signed, and is read once.
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "second"]);
      assert.equal(
        (await bob.ok(["fetch", "-i", bob.key])).stdout,
        `stranger ${aliceFp}: second\n`,
      );
      assert.ok((await as(alice, readSenderKeys))[0].secured);
    });
  });
});

Deno.test("secured inbox: a contact's message cannot point Alice at another person's inbox", async () => {
  await withTempDir("polycrypt-relay-foreign-invite-", async (dir) => {
    await withRelay(new SqliteStore(join(dir, "relay.db")), async (url) => {
      const [alice, bob, mallory] = await Promise.all(
        ["alice", "bob", "mallory"].map((n) => user(dir, n)),
      );
      const inbox = async (u: User) =>
        (await u.ok(["inbox", "new", "--relay", url, "-i", u.key])).stdout.trim();
      const [aliceInv, bobInv, malloryInv] = [
        await inbox(alice),
        await inbox(bob),
        await inbox(mallory),
      ];
      await alice.ok(["contact", "-i", alice.key, "add", "bob", bobInv]);
      await alice.ok(["contact", "-i", alice.key, "add", "mallory", malloryInv]);
      await mallory.ok(["contact", "-i", mallory.key, "add", "alice", aliceInv]);
      // Alice writes to Bob: her sender key record for his queue names him.
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "hi bob"]);
      const [toBob] = await as(alice, readSenderKeys);
      assert.equal(toBob.recipient, fingerprint(bob.recipient));
      // Mallory writes to Alice as any contact does (her reply invitation is saved).
      await mallory.ok(["send", "-i", mallory.key, "-r", "@alice", "hello"]);
      const first = await alice.ok(["fetch", "-i", alice.key]);
      assert.equal(first.stdout, "mallory: hello\n");
      const book = await as(alice, readBook);

      // Mallory's messages carry (1) Bob's own invitation, (2) one with her own key but the
      // sending id of Bob's queue.
      const bobQueue = parseInvitation(bobInv);
      const crafted = encodeInvitation({
        relay: bobQueue.relay,
        sendId: bobQueue.sendId,
        recipient: mallory.recipient,
      });
      await as(mallory, async (identity) => {
        const [toAlice] = (await readBook(identity)).filter((c) => c.name === "alice");
        const { account, close } = await openAccount(identity, undefined);
        const outbox = await RelayOutbox.open(toAlice.invitation!, {}, identity);
        try {
          for (const [text, invite] of [["use this", bobInv], ["or this", crafted]]) {
            await outbox.deposit(
              account,
              relayPayload(RELAY_KIND.text, new TextEncoder().encode(text), invite),
            );
          }
        } finally {
          await outbox.close();
          await close();
        }
      });
      const read = await alice.ok(["fetch", "-i", alice.key]);
      assert.equal(read.stdout, "mallory: use this\nmallory: or this\n");
      assert.match(read.stderr, /mallory sent an invitation that is not their own/);
      assert.match(read.stderr, /mallory sent an invitation naming an inbox you write to for/);
      assert.doesNotMatch(read.stderr, /saved mallory's inbox/);
      assert.deepEqual(await as(alice, readBook), book, "Alice's book changed");

      // Alice's next message to Mallory goes to Mallory's inbox, not to Bob's.
      await alice.ok(["send", "-i", alice.key, "-r", "@mallory", "for mallory only"]);
      const atBob = await bob.ok(["fetch", "-i", bob.key]);
      assert.doesNotMatch(atBob.stdout, /for mallory only/);
      assert.match(atBob.stdout, /: hi bob\n/);
      const atMallory = await mallory.ok(["fetch", "-i", mallory.key]);
      assert.match(atMallory.stdout, /alice: for mallory only\n|: for mallory only\n/);

      // Had the crafted invitation reached the book some other way, sending refuses it.
      await as(alice, async (identity) => {
        const now = await readBook(identity);
        now.find((c) => c.name === "mallory")!.invitation = crafted;
        await writeBook(identity, now);
      });
      const refused = await alice.run(["send", "-i", alice.key, "-r", "@mallory", "again"]);
      assert.equal(refused.code, 3, refused.stderr);
      assert.match(refused.stderr, /names an inbox you write to for another contact/);
      assert.equal((await bob.ok(["fetch", "-i", bob.key])).stdout, "");
    });
  });
});
