// Securing inboxes from the command line (docs/relay.md section 13, SMP's KEY): the first sender's
// first message carries a queue key of theirs inside the sealed envelope, `fetch` verifies the
// sender and secures the queue to it, later SENDs are signed with it, and the relay refuses any
// other SEND with AUTH. Shared inboxes and inboxes of older versions stay open.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fingerprint } from "../../mod.ts";
import {
  generateQueueKey,
  parseInvitation,
  type QueueKey,
  RELAY_ERROR,
  RelayError,
} from "../../relay/mod.ts";
import { readInboxes, readSenderKeys, writeInboxes } from "../../cli/_contacts.ts";
import { withTempDir } from "../cli/_cli.ts";
import { startRelay } from "../cli/_relay_process.ts";
import { as, thirdPartySend, user } from "./_secure_users.ts";

async function refusedAuth(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(
    promise,
    (e) => e instanceof RelayError && e.code === RELAY_ERROR.AUTH,
    `${what} was not refused with AUTH`,
  );
}

Deno.test("secured inbox: after Bob's first fetch only Alice's key may SEND; her reply inbox likewise", async () => {
  await withTempDir("polycrypt-relay-secure-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const [bob, alice] = await Promise.all([user(dir, "bob"), user(dir, "alice")]);
      const invitation = (await bob.ok(["inbox", "new", "--relay", relay.url, "-i", bob.key]))
        .stdout.trim();
      await alice.ok(["inbox", "new", "--relay", relay.url, "-i", alice.key]);
      await alice.ok(["contact", "-i", alice.key, "add", "bob", invitation]);
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "first"]);

      // Alice's queue key for Bob's inbox: sealed in her sender key file (0600), announced.
      const [sender] = await as(alice, readSenderKeys);
      assert.equal(sender.sendingId, parseInvitation(invitation).sendId.toHex());
      assert.ok(sender.announced);
      assert.equal(sender.secured, undefined);
      const senders = join(alice.config, "polycrypt", "senders");
      for (const entry of Deno.readDirSync(senders)) {
        const path = join(senders, entry.name);
        assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
        const clear = new TextDecoder("latin1").decode(await Deno.readFile(path));
        assert.ok(!clear.includes(sender.key.secretKey) && !clear.includes(sender.sendingId));
      }
      let [bobInbox] = await as(bob, readInboxes);
      assert.equal(bobInbox.secure, true);
      assert.equal(bobInbox.securedTo, undefined);

      // Bob's first fetch: the text, and the queue secured to Alice's key.
      const fetched = await bob.ok(["fetch", "-i", bob.key]);
      const aliceFp = fingerprint(alice.recipient);
      assert.equal(fetched.stdout, `stranger ${aliceFp}: first\n`);
      assert.match(fetched.stderr, new RegExp(`secured to stranger ${aliceFp}`));
      [bobInbox] = await as(bob, readInboxes);
      assert.equal(bobInbox.securedTo?.publicKey, sender.key.publicKey);
      assert.equal(bobInbox.securedTo?.fingerprint, aliceFp);

      // A third party holding the invitation: unsigned, or signed by its own key, refused.
      await refusedAuth(thirdPartySend(invitation), "an unsigned SEND");
      await refusedAuth(thirdPartySend(invitation, await generateQueueKey()), "another key's SEND");
      // The relay holds exactly Alice's key: a SEND signed with it goes in (it does not decrypt
      // as a session message, so Bob's fetch drops it).
      const aliceKey: QueueKey = {
        algorithm: sender.key.algorithm,
        publicKey: Uint8Array.fromHex(sender.key.publicKey),
        secretKey: Uint8Array.fromHex(sender.key.secretKey),
      };
      await thirdPartySend(invitation, aliceKey);
      assert.match((await bob.ok(["fetch", "-i", bob.key])).stderr, /does not decrypt/);

      // Alice goes on: her SENDs are signed now, and arrive.
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "second"]);
      const [after] = await as(alice, readSenderKeys);
      assert.ok(after.secured, "Alice's sender record does not say secured");
      const second = await bob.ok(["fetch", "-i", bob.key]);
      assert.equal(second.stdout, `stranger ${aliceFp}: second\n`);
      assert.doesNotMatch(second.stderr, /secured/);

      // Alice's message carried a reply inbox made for Bob; Bob answers there and secures it.
      const reply = fetched.stderr.match(/contact add NAME (polycrypt-invite1:\S+)/)![1];
      const aliceInboxes = await as(alice, readInboxes);
      const made = aliceInboxes.find((i) => i.invitation === reply)!;
      assert.equal(made.contact, fingerprint(bob.recipient));
      assert.equal(made.secure, true);
      // `inbox list` shows the inbox of `inbox new` only.
      assert.equal(
        (await alice.ok(["inbox", "list", "-i", alice.key])).stdout.trim().split("\n").length,
        1,
      );
      // Carol got hold of that reply invitation and writes first: her key is not Bob's, so
      // Alice's fetch does not secure the queue to her; Bob's answer secures it to him.
      const carol = await user(dir, "carol");
      await carol.ok(["contact", "-i", carol.key, "add", "alice", reply]);
      await carol.ok(["send", "-i", carol.key, "-r", "@alice", "sneaking in"]);
      await bob.ok(["contact", "-i", bob.key, "add", "alice", reply]);
      await bob.ok(["send", "-i", bob.key, "-r", "@alice", "got it"]);
      const back = await alice.ok(["fetch", "-i", alice.key]);
      assert.equal(
        back.stdout,
        `stranger ${fingerprint(carol.recipient)}: sneaking in\nbob: got it\n`,
      );
      assert.match(back.stderr, /reply inbox made for someone else: ignored/);
      assert.match(back.stderr, /secured to bob/);
      await refusedAuth(thirdPartySend(reply), "an unsigned SEND to the reply inbox");
      const late = await carol.run(["send", "-i", carol.key, "-r", "@alice", "again"]);
      assert.equal(late.code, 3, late.stderr);
      await bob.ok(["send", "-i", bob.key, "-r", "@alice", "again"]);
      assert.equal((await alice.ok(["fetch", "-i", alice.key])).stdout, "bob: again\n");

      // A sender refused (the queue is secured to another key) is told why, exit 3.
      await carol.ok(["contact", "-i", carol.key, "add", "bob", invitation]);
      const denied = await carol.run(["send", "-i", carol.key, "-r", "@bob", "me too"]);
      assert.equal(denied.code, 3, denied.stderr);
      assert.match(denied.stderr, /refused the message: AUTH \(.*secured to another sender/);
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("secured inbox: a shared inbox, and one of an older version, stay open to every sender", async () => {
  await withTempDir("polycrypt-relay-secure-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const [bob, alice, carol] = await Promise.all(
        ["bob", "alice", "carol"].map((n) => user(dir, n)),
      );
      const shared = (await bob.ok([
        "inbox",
        "new",
        "--relay",
        relay.url,
        "-i",
        bob.key,
        "--shared",
      ])).stdout.trim();
      // An older version's inbox: its record has no `secure` (made before securing existed).
      const older = (await bob.ok(["inbox", "new", "--relay", relay.url, "-i", bob.key]))
        .stdout.trim();
      await as(bob, async (identity) => {
        const inboxes = await readInboxes(identity);
        assert.equal(inboxes[0].secure, undefined);
        assert.equal(inboxes[1].secure, true);
        delete inboxes[1].secure;
        await writeInboxes(identity, inboxes);
      });
      for (const invitation of [shared, older]) {
        for (const u of [alice, carol]) {
          await u.ok(["contact", "-i", u.key, "add", "bob", invitation, "--force"]);
          await u.ok(["send", "-i", u.key, "-r", "@bob", `${u.name} writes`]);
        }
        const read = await bob.ok(["fetch", "-i", bob.key]);
        assert.equal(read.stdout.split("\n").filter((l) => l.endsWith("writes")).length, 2);
        assert.doesNotMatch(read.stderr, /secured/);
        // Still open: the others write again, and so can anyone with the invitation.
        for (const u of [alice, carol]) {
          await u.ok(["send", "-i", u.key, "-r", "@bob", `${u.name} again`]);
        }
        await thirdPartySend(invitation);
        const again = await bob.ok(["fetch", "-i", bob.key]);
        assert.equal(again.stdout.split("\n").filter((l) => l.endsWith("again")).length, 2);
      }
      for (const inbox of await as(bob, readInboxes)) assert.equal(inbox.securedTo, undefined);
    } finally {
      await relay.stop();
    }
  });
});
