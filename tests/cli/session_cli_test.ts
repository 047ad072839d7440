// `polycrypt bundle` and `inspect` of session messages (docs/cli.md), and a chat that opens a
// session started out of band from its exported bundle, refusing a tampered session message
// without ending: real CLI processes, the other end played with the library.
import assert from "node:assert/strict";
import { freePort } from "../transports/_socks.ts";
import { chatFlags, keyPair, PERMS, runCli, startChat } from "./_cli.ts";
import { fingerprint, parseIdentity } from "../../mod.ts";
import {
  type Connection,
  dial,
  listen,
  newReplyKey,
  openReceipt,
  type SealedEnvelope,
  sealReceipt,
  textMessage,
} from "../../transports/mod.ts";
import { RATCHET_MESSAGE, sessionMessageKind } from "../../sessions/message.ts";
import { createAccount } from "../../sessions/account.ts";
import { parseBundle } from "../../sessions/bundle.ts";
import { MemorySessionStore } from "../../sessions/store.ts";

/** The identity string in a key file that keygen wrote. */
async function identityIn(key: string): Promise<string> {
  return (await Deno.readTextFile(key)).split("\n").find((l) => l.startsWith("POLYCRYPT-SECRET"))!;
}

/** Whether `needle` occurs in `haystack`. */
function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

Deno.test("bundle: a signed, parseable bundle in a 0600 file, no secret in it; refusals", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-bundle-" });
  try {
    const bob = await keyPair(dir, undefined, { name: "bob", perms: PERMS });
    const alice = await keyPair(dir, undefined, { name: "alice", perms: PERMS });
    const out = `${dir}/bob.bundle`;
    const args = ["bundle", "-i", bob.key, "-o", out, "--sessions", `${dir}/bob.db`];
    const made = await runCli([...args, "--one-time", "3"], PERMS);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stderr, /wrote .*bob\.bundle \(\d+ bytes, 3 one-time prekeys of each kind\)/);
    assert.equal((await Deno.stat(out)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/bob.db`)).mode! & 0o777, 0o600);
    const bytes = await Deno.readFile(out);
    // Signed by Bob and his: every byte is a parsed public field (trailing bytes are refused).
    const parsed = await parseBundle(bytes, { expect: bob.recipient });
    assert.equal(parsed.fingerprint, fingerprint(bob.recipient));
    assert.equal(parsed.opks.length, 3);
    assert.equal(parsed.pqopks.length, 3);
    await assert.rejects(parseBundle(bytes, { expect: alice.recipient }));
    // None of the identity's secrets.
    const identity = await identityIn(bob.key);
    const { secretKey } = parseIdentity(identity);
    assert.ok(!contains(bytes, secretKey));
    assert.ok(!new TextDecoder("latin1").decode(bytes).includes(identity.slice(-40)));

    // Never over a file without --force; --one-time is checked; a version-1 identity cannot.
    const again = await runCli(args, PERMS);
    assert.equal(again.code, 3, again.stderr);
    assert.equal((await runCli([...args, "--force"], PERMS)).code, 0);
    for (const bad of ["-1", "1001", "x"]) {
      const r = await runCli([...args, "--force", `--one-time=${bad}`], PERMS);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--one-time takes a number from 0 to 1000/);
    }
    // To stdout when it is not a terminal; the same store gives new one-time keys each time.
    const piped = await runCli(["bundle", "-i", bob.key, "--sessions", `${dir}/bob.db`], PERMS);
    assert.equal(piped.code, 0, piped.stderr);
    const viaStdout = await parseBundle(piped.stdoutBytes, { expect: bob.recipient });
    assert.equal(viaStdout.opks.length, 10);
    assert.ok(!viaStdout.opks.some((k) => parsed.opks.some((o) => o.id === k.id)));
    // chat: a store and no sessions exclude each other.
    const both = await runCli(
      [
        "chat",
        ...chatFlags(freePort(), freePort(), bob.key, alice.recipient),
        "--no-session",
        "--sessions",
        `${dir}/bob.db`,
      ],
      PERMS,
    );
    assert.equal(both.code, 2, both.stderr);
    assert.match(both.stderr, /--sessions FILE and --no-session exclude each other/);
    const old = await runCli(["keygen", "--sign-engine", "none", "-o", `${dir}/old.key`], PERMS);
    assert.equal(old.code, 0, old.stderr);
    const v1 = await runCli(["bundle", "-i", `${dir}/old.key`, "-o", `${dir}/old.bundle`], PERMS, {
      env: { XDG_CONFIG_HOME: `${dir}/config` },
    });
    assert.equal(v1.code, 2, v1.stderr);
    assert.match(v1.stderr, /cannot sign \(a version-1 identity\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inspect: a session message shows what the network sees, not who sent it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-inspect-session-" });
  try {
    const alice = await keyPair(dir, undefined, { name: "alice", perms: PERMS });
    const bob = await keyPair(dir, undefined, { name: "bob", perms: PERMS });
    const aliceAccount = await createAccount({
      identity: await identityIn(alice.key),
      store: new MemorySessionStore(),
    });
    const bobAccount = await createAccount({
      identity: await identityIn(bob.key),
      store: new MemorySessionStore(),
    });
    const first = await aliceAccount.encrypt(
      await bobAccount.prekeyBundle({ oneTimeKeys: 2 }),
      new Uint8Array(1000),
    );
    const { from } = await bobAccount.decrypt(first);
    const reply = await bobAccount.encrypt(from, new Uint8Array(100));
    await Deno.writeFile(`${dir}/first.msg`, first);
    await Deno.writeFile(`${dir}/reply.msg`, reply);

    const shown = await runCli(["inspect", `${dir}/first.msg`], PERMS);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^polycrypt session message \(mode 0x02\), format v1, \d+ bytes$/m);
    assert.match(shown.stdout, /^kind: prekey message/m);
    assert.match(
      shown.stdout,
      /signed prekey \d+, KEM prekey \d+ \(one-time\), one-time prekey \d+/,
    );
    assert.match(shown.stdout, /padded \(PADME\) to 1024 bytes/);
    assert.match(shown.stdout, /^not visible: the sender/m);
    const replyShown = await runCli(["inspect", `${dir}/reply.msg`], PERMS);
    assert.equal(replyShown.code, 0, replyShown.stderr);
    assert.match(replyShown.stdout, /^kind: ratchet message$/m);
    assert.doesNotMatch(replyShown.stdout, /prekey/);
    for (const out of [shown.stdout, replyShown.stdout]) {
      // Nobody's key or fingerprint: the network does not learn who talks.
      for (const who of [alice.recipient, bob.recipient]) {
        assert.ok(!out.includes(fingerprint(who)));
        assert.ok(!out.includes(fingerprint(who).slice(0, 9)));
      }
    }
    const json = await runCli(["inspect", "--json", `${dir}/first.msg`], PERMS);
    const info = JSON.parse(json.stdout);
    assert.equal(info.session.kind, "prekey");
    assert.equal(info.session.paddedSize, 1024);
    assert.equal(info.totalBytes, first.length);
    await aliceAccount.close();
    await bobAccount.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat sessions: a session started from an exported bundle opens; a tampered message is refused and chat goes on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-chat-oob-" });
  try {
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    const store = `${dir}/bob.db`;
    const exported = await runCli(
      ["bundle", "-i", bob.key, "-o", `${dir}/bob.bundle`, "--sessions", store],
      PERMS,
    );
    assert.equal(exported.code, 0, exported.stderr);
    const [a, b] = [freePort(), freePort()];
    const bobChat = startChat(chatFlags(b, a, bob.key, alice.recipient, ["--sessions", store]));
    await bobChat.ready();
    // One process at a time on a store: a second one is refused, not let in to reuse a state.
    const busy = await runCli(
      ["bundle", "-i", bob.key, "-o", `${dir}/again.bundle`, "--sessions", store],
      PERMS,
    );
    assert.equal(busy.code, 3, busy.stderr);
    assert.match(busy.stderr, /the session store .* is in use by another polycrypt/);
    // Alice, with the library, starts a session from the bundle and sends over a connection.
    const account = await createAccount({
      identity: await identityIn(alice.key),
      store: new MemorySessionStore(),
    });
    const connection = await dial(`tcp://127.0.0.1:${b}`) as Connection;
    const acks = connection.messages();
    /** Sends a message; what its receipt says to the reply key (undefined: random bytes). */
    const send = async (message: Uint8Array, replyKey: Uint8Array) => {
      const id = await connection.send(message as SealedEnvelope);
      for (;;) {
        const { value } = await acks.next();
        if (value?.kind === "ack" && value.receipt) {
          return await openReceipt(replyKey, id, value.receipt);
        }
      }
    };
    const key1 = newReplyKey();
    const first = await account.encrypt(
      await Deno.readFile(`${dir}/bob.bundle`),
      textMessage("from the bundle", { replyKey: key1 }),
    );
    // Tampered: one bit of the encrypted body, then of the header; refused, answered with random
    // bytes, and nothing changes in Bob's store.
    for (const at of [first.length - 1, first.length - 200]) {
      const tampered = first.slice();
      tampered[at] ^= 0x01;
      assert.equal(await send(tampered, key1), undefined);
    }
    assert.equal(await send(first, key1), "delivered");
    await bobChat.screen(
      new RegExp(`\\] ${fingerprint(alice.recipient).slice(0, 9)}: from the bundle$`, "m"),
    );
    // The session goes on: the next message, and a tampered one after it.
    const key2 = newReplyKey();
    const second = await account.encrypt(
      fingerprint(bob.recipient),
      textMessage("and again", { replyKey: key2 }),
    );
    const bad = second.slice();
    bad[bad.length - 5] ^= 0x80;
    assert.equal(await send(bad, key2), undefined);
    assert.equal(await send(second, key2), "delivered");
    await bobChat.screen(/: and again$/m);

    // Bob answers (to Alice's address, where the test listens as Alice): then Alice's messages are
    // ratchet messages, and a tampered one of those is refused too.
    const heard: string[] = [];
    const aliceListens = await listen(`tcp://127.0.0.1:${a}`, async (peer) => {
      for await (const m of peer.messages()) {
        if (m.kind !== "envelope") continue;
        assert.equal(sessionMessageKind(m.envelope), RATCHET_MESSAGE);
        const { data } = await account.decrypt(m.envelope);
        heard.push(new TextDecoder().decode(data.subarray(34)));
        await peer.acknowledge(m.id, await sealReceipt(data.slice(1, 33), m.id, "delivered"));
      }
    });
    await bobChat.type("hi Alice");
    await bobChat.screen(/\(#1 delivered\)/);
    assert.deepEqual(heard, ["hi Alice"]);
    const key3 = newReplyKey();
    const third = await account.encrypt(
      fingerprint(bob.recipient),
      textMessage("a ratchet message", { replyKey: key3 }),
    );
    assert.equal(sessionMessageKind(third), RATCHET_MESSAGE);
    const flipped = third.slice();
    flipped[20] ^= 0x04; // in the header nonce: the header no longer opens
    assert.equal(await send(flipped, key3), undefined);
    assert.equal(await send(third, key3), "delivered");
    await bobChat.screen(/: a ratchet message$/m);
    await connection.close();
    await account.close();
    const end = await bobChat.end();
    await aliceListens.close();
    assert.equal(end.code, 0, end.stderr);
    assert.equal(end.stdout.match(/^polycrypt: a message was dropped/gm)?.length, 4, end.stdout);
    assert.match(end.stderr, /new session with /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
