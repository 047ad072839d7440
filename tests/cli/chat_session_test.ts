// `chat` over forward-secret sessions (docs/cli.md, "Sessions in chat"), between real CLI
// processes on loopback: the first chat starts a session (a bundle over the connection), messages
// and a file go both ways as session messages, a second chat continues the same session with no
// new handshake; `--no-session` and a peer without sessions still talk with signed envelopes; a
// bundle for another identity is refused.
import assert from "node:assert/strict";
import { freePort } from "../transports/_socks.ts";
import { peakRssKiB } from "../_process.ts";
import { chatFlags, keyPair, startChat } from "./_cli.ts";
import { fingerprint, generateIdentity } from "../../mod.ts";
import { createAccount } from "../../sessions/account.ts";
import { SqliteSessionStore } from "../../sessions/sqlite_store.ts";

/** A received line: `[HH:MM:SS] ` and the sender's fingerprint prefix (no contact book here). */
const from = (recipient: string, text: string) =>
  new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] ${fingerprint(recipient).slice(0, 9)}: ${text}$`, "m");

/**
 * Alice's and Bob's keys in DIR/alice.key and DIR/bob.key, Alice the initiator (her fingerprint
 * sorts first: she asks for Bob's bundle) or not (she sends hers unasked when she writes first).
 */
async function orderedPair(dir: string, aliceInitiates: boolean) {
  const made = await Promise.all([0, 1].map(() => generateIdentity("x25519+ml-kem-768")));
  made.sort((x, y) => fingerprint(x.recipient) < fingerprint(y.recipient) ? -1 : 1);
  const [alice, bob] = aliceInitiates ? made : [made[1], made[0]];
  const out = [];
  for (const [name, who] of [["alice", alice], ["bob", bob]] as const) {
    await Deno.writeTextFile(`${dir}/${name}.key`, who.identity + "\n", { mode: 0o600 });
    out.push({ key: `${dir}/${name}.key`, recipient: who.recipient });
  }
  return { alice: out[0], bob: out[1] };
}

/** The one session store file under `config` (chat's default place), checked 0600. */
async function storeIn(config: string): Promise<string> {
  const dir = `${config}/polycrypt/sessions`;
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".db")) files.push(e.name);
  assert.equal(files.length, 1, files.join(", "));
  assert.match(files[0], /^[0-9a-f]{32}\.db$/, "the name says nothing about whose it is");
  const path = `${dir}/${files[0]}`;
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
  return path;
}

/** The sessions in the store at `path`, as `identity`'s account sees them. */
async function sessionsIn(path: string, key: string) {
  const identity = (await Deno.readTextFile(key)).split("\n").find((l) =>
    l.startsWith("POLYCRYPT-SECRET-KEY")
  )!;
  const account = await createAccount({ identity, store: new SqliteSessionStore(path) });
  try {
    return await account.sessions();
  } finally {
    await account.close();
  }
}

/**
 * A TCP relay on 127.0.0.1 to `port` that keeps what goes to the listener, and reads it as frames:
 * the mode byte (and a session message's kind) of each envelope that starts.
 */
function recordingRelay(port: number) {
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const chunks: Uint8Array[] = [];
  const open = new Set<Promise<unknown>>();
  (async () => {
    for await (const client of server) {
      const job = (async () => {
        const upstream = await Deno.connect({ hostname: "127.0.0.1", port });
        const kept = new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            chunks.push(chunk.slice());
            controller.enqueue(chunk);
          },
        });
        await Promise.allSettled([
          client.readable.pipeThrough(kept).pipeTo(upstream.writable),
          upstream.readable.pipeTo(client.writable),
        ]);
      })().catch(() => {});
      open.add(job);
      job.finally(() => open.delete(job));
    }
  })().catch(() => {});
  return {
    port: (server.addr as Deno.NetAddr).port,
    /** "mode.kind" of each envelope begun since the last call (e.g. "0", "2.1", "2.2"). */
    take(): string[] {
      const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) (bytes.set(c, at), at += c.length);
      chunks.length = 0;
      const starts: string[] = [];
      let inStream = false;
      for (let i = 0; i + 6 <= bytes.length;) {
        const type = bytes[i + 1];
        const length = new DataView(bytes.buffer).getUint32(i + 2);
        const payload = bytes.subarray(i + 6, i + 6 + length);
        // 1 a whole envelope, 2 a part, 3 the end of a stream, 4 an ACK.
        if ((type === 1 || type === 2 || type === 3) && !inStream) {
          starts.push(payload[8] === 2 ? `2.${payload[9]}` : String(payload[8]));
        }
        if (type === 2) inStream = true;
        if (type === 3) inStream = false;
        i += 6 + length;
      }
      return starts;
    },
    async close() {
      server.close();
      await Promise.allSettled([...open]);
    },
  };
}

Deno.test("chat sessions: both ways and a file over a session; a second chat continues it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-chat-session-" });
  try {
    // Alice writes first and is the initiator: she asks Bob for his bundle.
    const { alice, bob } = await orderedPair(dir, true);
    const env = (who: string) => ({
      XDG_CONFIG_HOME: `${dir}/${who}-config`,
      POLYCRYPT_SECRET: "grey heron",
    });
    await Deno.mkdir(`${dir}/alice-inbox`);
    // 2.5 MiB: three pieces, each a session message.
    const file = new Uint8Array(2.5 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);
    await Deno.writeFile(`${dir}/plans.bin`, file);
    const [a, b] = [freePort(), freePort()];
    // What Alice sends to Bob passes a relay that reads the envelopes' modes.
    const relay = recordingRelay(b);
    const run = async (round: number) => {
      const aliceChat = startChat(
        chatFlags(a, relay.port, alice.key, bob.recipient, ["-o", `${dir}/alice-inbox`]),
        env("alice"),
      );
      const bobChat = startChat(chatFlags(b, a, bob.key, alice.recipient), env("bob"));
      await Promise.all([aliceChat.ready(), bobChat.ready()]);
      await aliceChat.type(`hello Bob ${round}`);
      await bobChat.screen(from(alice.recipient, `hello Bob ${round}`));
      await aliceChat.screen(/\(#1 delivered\)/);
      await bobChat.type(`hi Alice ${round}`);
      await aliceChat.screen(from(bob.recipient, `hi Alice ${round}`));
      await bobChat.screen(/\(#1 delivered\)/);
      if (round === 1) {
        await bobChat.type(`/file ${dir}/plans.bin`);
        await bobChat.screen(/\(#2 delivered\)/);
        assert.deepEqual(await Deno.readFile(`${dir}/alice-inbox/plans.bin`), file);
      }
      if (round === 2) {
        // The shared-secret check in the session: bound to its id, its messages in the session.
        await aliceChat.type("/verify");
        await bobChat.type("/verify");
        await aliceChat.screen(/polycrypt: secrets match/);
        await bobChat.screen(/polycrypt: secrets match/);
      }
      await aliceChat.type(`bye ${round}`);
      await bobChat.screen(from(alice.recipient, `bye ${round}`));
      const [aliceEnd, bobEnd] = [await aliceChat.end(), await bobChat.end()];
      assert.equal(aliceEnd.code, 0, aliceEnd.stderr);
      assert.equal(bobEnd.code, 0, bobEnd.stderr);
      return [aliceEnd, bobEnd];
    };

    const first = await run(1);
    // One control envelope (mode 0: the bundle request, or her bundle), then only session
    // messages (mode 2): texts, /verify, nothing signed one by one.
    const wire1 = relay.take();
    assert.equal(wire1.filter((m) => m === "0").length, 1, wire1.join(" "));
    assert.equal(wire1[0], "0", wire1.join(" "));
    assert.ok(wire1.slice(1).every((m) => m.startsWith("2.")), wire1.join(" "));
    assert.ok(wire1.length >= 3, wire1.join(" "));
    for (const end of first) {
      assert.match(end.stderr, /new session with .*: messages are not signed/);
      assert.doesNotMatch(end.stderr, /continuing the session/);
    }
    const aliceStore = await storeIn(env("alice").XDG_CONFIG_HOME);
    const bobStore = await storeIn(env("bob").XDG_CONFIG_HOME);
    const [aliceSessions, bobSessions] = [
      await sessionsIn(aliceStore, alice.key),
      await sessionsIn(bobStore, bob.key),
    ];
    assert.equal(aliceSessions.length, 1);
    assert.equal(bobSessions.length, 1);
    assert.equal(aliceSessions[0].fingerprint, fingerprint(bob.recipient));
    assert.equal(bobSessions[0].fingerprint, fingerprint(alice.recipient));
    assert.deepEqual(aliceSessions[0].sessionId, bobSessions[0].sessionId);

    // The second chat: the same session, no new handshake on either side.
    const second = await run(2);
    // No handshake: no control envelope, no prekey message; ratchet messages only.
    const wire2 = relay.take();
    assert.ok(wire2.length >= 4, wire2.join(" "));
    assert.ok(wire2.every((m) => m === "2.2"), wire2.join(" "));
    await relay.close();
    for (const end of second) {
      assert.match(end.stderr, /continuing the session with /);
      assert.doesNotMatch(end.stderr, /new session/);
    }
    const again = await sessionsIn(aliceStore, alice.key);
    assert.equal(again.length, 1);
    assert.deepEqual(again[0].sessionId, aliceSessions[0].sessionId);
    assert.equal(again[0].created, aliceSessions[0].created);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat sessions: --no-session on both sides, or on one, still talks (signed envelopes)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-chat-session-" });
  try {
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    const env = (who: string) => ({ XDG_CONFIG_HOME: `${dir}/${who}-config` });
    for (const aliceFlags of [["--no-session"], []]) {
      const [a, b] = [freePort(), freePort()];
      const aliceChat = startChat(
        chatFlags(a, b, alice.key, bob.recipient, aliceFlags),
        env("alice"),
      );
      const bobChat = startChat(
        chatFlags(b, a, bob.key, alice.recipient, ["--no-session"]),
        env("bob"),
      );
      await Promise.all([aliceChat.ready(), bobChat.ready()]);
      await aliceChat.type("hello Bob");
      await bobChat.screen(from(alice.recipient, "hello Bob"));
      await aliceChat.screen(/\(#1 delivered\)/);
      await bobChat.type("hi Alice");
      await aliceChat.screen(from(bob.recipient, "hi Alice"));
      await bobChat.screen(/\(#1 delivered\)/);
      const [aliceEnd, bobEnd] = [await aliceChat.end(), await bobChat.end()];
      assert.equal(aliceEnd.code, 0, aliceEnd.stderr);
      assert.equal(bobEnd.code, 0, bobEnd.stderr);
      assert.doesNotMatch(aliceEnd.stderr + bobEnd.stderr, /new session|continuing the session/);
      if (aliceFlags.length) {
        // Nothing is stored without sessions.
        await assert.rejects(Deno.stat(`${dir}/alice-config/polycrypt/sessions`));
      } else {
        // A chat with sessions asks once, hears that the peer takes none, and signs instead.
        assert.match(aliceEnd.stderr, /takes no sessions .*: messages are signed envelopes/);
      }
      await assert.rejects(Deno.stat(`${dir}/bob-config/polycrypt/sessions`));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat sessions: a bundle for another identity than the peer's is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-chat-session-" });
  try {
    // Alice talks with Bob; Mallory, who has Alice's public key but not Bob's secret, sends her
    // own bundle to Alice's address (she starts the session: her fingerprint sorts after Alice's).
    const made = await Promise.all([0, 1, 2, 3].map(() => generateIdentity("x25519+ml-kem-768")));
    made.sort((x, y) => fingerprint(x.recipient) < fingerprint(y.recipient) ? -1 : 1);
    const [alice, mallory, bob] = [made[0], made[2], made[3]];
    for (const [name, who] of [["alice", alice], ["mallory", mallory], ["bob", bob]] as const) {
      await Deno.writeTextFile(`${dir}/${name}.key`, who.identity + "\n");
    }
    const env = (who: string) => ({ XDG_CONFIG_HOME: `${dir}/${who}-config` });
    const [a, m] = [freePort(), freePort()];
    const aliceChat = startChat(chatFlags(a, m, `${dir}/alice.key`, bob.recipient), env("alice"));
    const malloryChat = startChat(
      chatFlags(m, a, `${dir}/mallory.key`, alice.recipient),
      env("mallory"),
    );
    await Promise.all([aliceChat.ready(), malloryChat.ready()]);
    await malloryChat.type("hi Alice, Bob here");
    await aliceChat.screen(
      /polycrypt: refused a prekey bundle that is not .*'s \(another identity, or damaged\): no session started/,
    );
    // Refused, Mallory's chat falls back to a message signed with her own key: dropped too.
    await aliceChat.screen(/polycrypt: a message was dropped/);
    const [aliceEnd, malloryEnd] = [await aliceChat.end(), await malloryChat.end()];
    assert.equal(aliceEnd.code, 0, aliceEnd.stderr);
    assert.equal(malloryEnd.code, 0, malloryEnd.stderr);
    assert.doesNotMatch(aliceEnd.stdout, /Bob here/);
    assert.doesNotMatch(aliceEnd.stderr, /new session/);
    const sessions = await sessionsIn(
      await storeIn(env("alice").XDG_CONFIG_HOME),
      `${dir}/alice.key`,
    );
    assert.deepEqual(sessions, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat sessions: a 64 MiB file in session pieces arrives intact in bounded memory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-chat-session-" });
  try {
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    await Deno.mkdir(`${dir}/inbox`);
    const size = 64 * 1024 * 1024;
    const file = await Deno.open(`${dir}/big.bin`, { write: true, create: true });
    const block = crypto.getRandomValues(new Uint8Array(65536));
    for (let i = 0; i < size / block.length; i++) await file.write(block);
    file.close();
    const [a, b] = [freePort(), freePort()];
    const aliceChat = startChat(chatFlags(a, b, alice.key, bob.recipient));
    const bobChat = startChat(chatFlags(b, a, bob.key, alice.recipient, ["-o", `${dir}/inbox`]));
    await Promise.all([aliceChat.ready(), bobChat.ready()]);
    const start = performance.now();
    await aliceChat.type(`/file ${dir}/big.bin`);
    await aliceChat.screen(/\(#1 delivered\)/);
    const ms = performance.now() - start;
    const [senderKiB, receiverKiB] = [
      await peakRssKiB(aliceChat.pid),
      await peakRssKiB(bobChat.pid),
    ];
    console.log(
      `64 MiB over a session: ${ms.toFixed(0)} ms (handshake included); peak RSS sender ` +
        `${(senderKiB / 1024).toFixed(0)} MiB, receiver ${(receiverKiB / 1024).toFixed(0)} MiB`,
    );
    const [aliceEnd, bobEnd] = [await aliceChat.end(), await bobChat.end()];
    assert.equal(aliceEnd.code, 0, aliceEnd.stderr);
    assert.equal(bobEnd.code, 0, bobEnd.stderr);
    const got = await Deno.open(`${dir}/inbox/big.bin`);
    try {
      assert.equal((await got.stat()).size, size);
      const buffer = new Uint8Array(block.length);
      for (let i = 0; i < size / block.length; i++) {
        let n = 0;
        while (n < buffer.length) n += (await got.read(buffer.subarray(n)))!;
        assert.deepEqual(buffer, block);
      }
    } finally {
      got.close();
    }
    // Pieces of 1 MiB, one at a time: far below the file's size on either side.
    assert.ok(receiverKiB < 256 * 1024, `receiver ${receiverKiB} KiB`);
    assert.ok(senderKiB < 256 * 1024, `sender ${senderKiB} KiB`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat sessions: when one side lost its store, the next message starts a new session", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-chat-session-" });
  try {
    // Alice writes first and is not the initiator: she sends her bundle unasked, both times.
    const { alice, bob } = await orderedPair(dir, false);
    const [a, b] = [freePort(), freePort()];
    const chats = () => [
      startChat(chatFlags(a, b, alice.key, bob.recipient, ["--sessions", `${dir}/alice.db`])),
      startChat(chatFlags(b, a, bob.key, alice.recipient, ["--sessions", `${dir}/bob.db`])),
    ];
    let [aliceChat, bobChat] = chats();
    await Promise.all([aliceChat.ready(), bobChat.ready()]);
    await aliceChat.type("one");
    await bobChat.screen(from(alice.recipient, "one"));
    await bobChat.type("two");
    await aliceChat.screen(from(bob.recipient, "two"));
    for (const chat of [aliceChat, bobChat]) assert.equal((await chat.end()).code, 0);

    // Bob's store is gone; Alice still holds the session.
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(`${dir}/bob.db${suffix}`).catch(() => {});
    }
    [aliceChat, bobChat] = chats();
    await Promise.all([aliceChat.ready(), bobChat.ready()]);
    await aliceChat.type("three");
    await aliceChat.screen(/\(#1 not delivered: the peer could not decrypt it\)/);
    await aliceChat.screen(/could not decrypt a session message; the next message starts a new/);
    await aliceChat.type("four");
    await bobChat.screen(from(alice.recipient, "four"));
    await aliceChat.screen(/\(#2 delivered\)/);
    await bobChat.type("five");
    await aliceChat.screen(from(bob.recipient, "five"));
    const [aliceEnd, bobEnd] = [await aliceChat.end(), await bobChat.end()];
    assert.equal(aliceEnd.code, 0, aliceEnd.stderr);
    assert.equal(bobEnd.code, 0, bobEnd.stderr);
    assert.match(aliceEnd.stderr, /continuing the session/);
    assert.match(aliceEnd.stderr, /new session with /);
    assert.match(bobEnd.stderr, /new session with /);
    assert.doesNotMatch(bobEnd.stdout, /three/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
