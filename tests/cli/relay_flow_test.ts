// The README's offline walk-through with real processes (docs/relay.md section 13): a relay, Bob
// creates an inbox and goes away, Alice saves his invitation and sends a text and a file, Bob
// fetches later and answers through Alice's inbox. Then the faults: a fetch killed mid-way loses
// and repeats nothing; a stranger is shown by fingerprint; a tampered envelope is dropped and the
// others arrive.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fingerprint, generateIdentity } from "../../mod.ts";
import { createAccount, MemorySessionStore } from "../../sessions/mod.ts";
import { parseInvitation, RelayClient } from "../../relay/mod.ts";
import { runCli, spawnCli, withTempDir } from "./_cli.ts";
import { freePort, startRelay } from "./_relay_process.ts";
import type { CommandResult } from "../_process.ts";

const ALL = ["--allow-all"];

/** A user: an identity file and a config folder of their own. */
interface User {
  key: string;
  recipient: string;
  run(args: string[], stdin?: string): Promise<CommandResult>;
  ok(args: string[], stdin?: string): Promise<CommandResult>;
  env: Record<string, string>;
}

async function user(dir: string, name: string): Promise<User> {
  const config = join(dir, name);
  await Deno.mkdir(config);
  const env = { XDG_CONFIG_HOME: config };
  const key = join(dir, `${name}.key`);
  const run = (args: string[], stdin?: string) =>
    runCli(args, ALL, { env, stdin, deadlineMs: 240_000 });
  const ok = async (args: string[], stdin?: string) => {
    const r = await run(args, stdin);
    assert.equal(r.code, 0, `${args.slice(0, 2).join(" ")}: ${r.stderr}`);
    return r;
  };
  const made = await ok(["keygen", "-o", key]);
  const recipient = made.stderr.match(/Public key: (\S+)/)![1];
  return { key, recipient, run, ok, env };
}

Deno.test("relay flow: the README walk-through, Bob offline, a text and a file, a reply", async () => {
  await withTempDir("polycrypt-relay-flow-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const bob = await user(dir, "bob");
      const alice = await user(dir, "alice");
      // Bob: an inbox, its invitation in bob.invite (and on stdout); then he goes offline.
      const invite = join(dir, "bob.invite");
      // Three one-time bundles only: fetch tops them up once fewer than five are left.
      const made = await bob.ok([
        "inbox",
        "new",
        "--relay",
        relay.url,
        "-i",
        bob.key,
        "-o",
        invite,
        "--one-time",
        "3",
      ]);
      const invitation = made.stdout.trim();
      assert.match(invitation, /^polycrypt-invite1:[A-Za-z0-9_-]+$/);
      assert.equal((await Deno.readTextFile(invite)).trim(), invitation);
      assert.equal(parseInvitation(invitation).recipient, bob.recipient);
      assert.equal(parseInvitation(invitation).relay, relay.url);
      // The inbox file: 0600, and neither the invitation nor the queue's ids in clear.
      const inboxes = join(dir, "bob", "polycrypt", "inboxes");
      const [file] = [...Deno.readDirSync(inboxes)];
      const bytes = await Deno.readFile(join(inboxes, file.name));
      assert.equal((await Deno.stat(join(inboxes, file.name))).mode! & 0o777, 0o600);
      const sid = parseInvitation(invitation).sendId.toHex();
      const clear = new TextDecoder("latin1").decode(bytes);
      assert.ok(!clear.includes(sid) && !clear.includes("polycrypt-invite1"));
      assert.equal((await bob.ok(["inbox", "list", "-i", bob.key])).stdout.trim(), invitation);

      // Alice: her own inbox (so Bob can answer), Bob's invitation from the file, a text and a file.
      await alice.ok(["inbox", "new", "--relay", relay.url, "-i", alice.key]);
      const added = await alice.ok(["contact", "-i", alice.key, "add", "bob", invite]);
      assert.match(added.stdout, new RegExp(`^bob  ${fingerprint(bob.recipient)}`));
      assert.match(
        (await alice.ok(["contact", "-i", alice.key, "list"])).stdout,
        new RegExp(`inbox on ${relay.url}`),
      );
      const text = "x".repeat(1000) + " see you at 7";
      let t0 = performance.now();
      const sent = await alice.ok(["send", "-i", alice.key, "-r", "@bob", text]);
      const sendText = performance.now() - t0;
      assert.match(sent.stderr, /stored on ws:\/\/127\.0\.0\.1:\d+ for bob/);
      const data = crypto.getRandomValues(new Uint8Array(65536));
      const big = new Uint8Array(10 * 1024 * 1024 + 12345);
      for (let at = 0; at < big.length; at += data.length) {
        big.set(data.subarray(0, big.length - at), at);
      }
      big[big.length - 1] ^= 0x5a;
      await Deno.writeFile(join(dir, "plans.bin"), big);
      t0 = performance.now();
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "-f", join(dir, "plans.bin")]);
      const sendFile = performance.now() - t0;

      // Bob comes back: the text on stdout from a stranger (by fingerprint), the file in DIR.
      const out = join(dir, "bob-in");
      await Deno.mkdir(out);
      t0 = performance.now();
      const fetched = await bob.ok(["fetch", "-i", bob.key, "-o", out]);
      const fetchAll = performance.now() - t0;
      const aliceFp = fingerprint(alice.recipient);
      assert.equal(fetched.stdout, `stranger ${aliceFp}: ${text}\n`);
      assert.match(fetched.stderr, new RegExp(`received .*plans\\.bin from stranger ${aliceFp}`));
      assert.deepEqual(await Deno.readFile(join(out, "plans.bin")), big);
      assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["plans.bin"]);
      // Alice's invitation came inside the message: Bob saves her with it and answers.
      const aliceInvite = fetched.stderr.match(/contact add NAME (polycrypt-invite1:\S+)/)![1];
      assert.equal(parseInvitation(aliceInvite).recipient, alice.recipient);
      assert.match(fetched.stderr, /published fresh prekey bundles on ws:\S+ \(22 one-time\)/);
      // Nothing waits any more: every message was acknowledged; the bundles need no refill.
      const again = await bob.ok(["fetch", "-i", bob.key, "-o", out]);
      assert.equal(again.stdout, "");
      assert.match(again.stderr, /0 messages read/);
      assert.doesNotMatch(again.stderr, /published/);

      await bob.ok(["contact", "-i", bob.key, "add", "alice", aliceInvite]);
      await bob.ok(["send", "-i", bob.key, "-r", "@alice", "got your plans"]);
      const back = await alice.ok(["fetch", "-i", alice.key]);
      assert.equal(back.stdout, "bob: got your plans\n");
      // And a second message from Alice is now named: Bob knows her.
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "great"]);
      assert.equal((await bob.ok(["fetch", "-i", bob.key])).stdout, "alice: great\n");
      console.log(
        `relay flow (processes, incl. Deno start-up): send 1 KiB ${sendText.toFixed(0)} ms, ` +
          `send 10 MiB ${sendFile.toFixed(0)} ms, fetch both ${fetchAll.toFixed(0)} ms`,
      );
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("relay flow: fetch killed mid-way loses nothing and repeats nothing", async () => {
  await withTempDir("polycrypt-relay-kill-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const bob = await user(dir, "bob");
      const alice = await user(dir, "alice");
      const invitation = (await bob.ok(["inbox", "new", "--relay", relay.url, "-i", bob.key]))
        .stdout.trim();
      await alice.ok(["contact", "-i", alice.key, "add", "bob", invitation]);
      const big = crypto.getRandomValues(new Uint8Array(65536));
      const file = new Uint8Array(16 * 1024 * 1024);
      for (let at = 0; at < file.length; at += big.length) file.set(big, at);
      file[0] ^= 1;
      await Deno.writeFile(join(dir, "big.bin"), file);
      for (let i = 0; i < 5; i++) {
        await alice.ok(["send", "-i", alice.key, "-r", "@bob", `before ${i}`]);
      }
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "-f", join(dir, "big.bin")]);
      for (let i = 0; i < 5; i++) {
        await alice.ok(["send", "-i", alice.key, "-r", "@bob", `after ${i}`]);
      }

      const out = join(dir, "in");
      await Deno.mkdir(out);
      // The first fetch is killed (SIGKILL) once part of the file is written.
      const first = spawnCli(["fetch", "-i", bob.key, "-o", out], ALL, { env: bob.env });
      const firstOut = new Response(first.stdout).text();
      const firstErr = new Response(first.stderr).text();
      let killedMidFile = false;
      for (let i = 0; i < 60_000 / 5; i++) {
        const part = [...Deno.readDirSync(out)].find((e) => e.name.endsWith(".part"));
        const size = part
          ? (await Deno.stat(join(out, part.name)).catch(() => undefined))?.size
          : 0;
        if (size && size >= 1024 * 1024) {
          first.kill("SIGKILL");
          killedMidFile = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await first.status;
      const before = await firstOut;
      await firstErr;
      assert.ok(killedMidFile, "the fetch finished before it could be killed mid-file");
      assert.ok(![...Deno.readDirSync(out)].some((e) => e.name === "big.bin"));

      const second = await bob.ok(["fetch", "-i", bob.key, "-o", out]);
      const lines = (before + second.stdout).trim().split("\n");
      const expected = [0, 1, 2, 3, 4].map((i) => `before ${i}`).concat(
        [0, 1, 2, 3, 4].map((i) => `after ${i}`),
      );
      assert.deepEqual(lines.map((l) => l.replace(/^stranger [A-Z2-7 ]+: /, "")), expected);
      assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["big.bin"]);
      assert.deepEqual(await Deno.readFile(join(out, "big.bin")), file);
      assert.equal((await bob.ok(["fetch", "-i", bob.key, "-o", out])).stdout, "");
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("relay flow: a tampered envelope and a foreign one are dropped; the others arrive", async () => {
  await withTempDir("polycrypt-relay-tamper-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const bob = await user(dir, "bob");
      const alice = await user(dir, "alice");
      const invitation = (await bob.ok(["inbox", "new", "--relay", relay.url, "-i", bob.key]))
        .stdout.trim();
      const { sendId } = parseInvitation(invitation);
      await alice.ok(["contact", "-i", alice.key, "add", "bob", invitation]);
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "one"]);
      // Mallory, who holds the invitation: a session message with one byte flipped, and an
      // ordinary envelope sealed to a key that is not Bob's.
      const client = await RelayClient.connect(relay.url);
      const mallory = await createAccount({
        identity: (await generateIdentity()).identity,
        store: new MemorySessionStore(),
      });
      const bundle = await client.fetchBundle(sendId);
      assert.ok(bundle);
      const good = await mallory.encrypt(bundle, new Uint8Array([1, 0, 0, 0x54, 0x68, 0x69]));
      const tampered = good.slice();
      tampered[tampered.length - 20] ^= 0x01;
      await client.send(sendId, tampered);
      const { encrypt } = await import("../../mod.ts");
      const other = await generateIdentity("x25519");
      await client.send(
        sendId,
        await encrypt(new TextEncoder().encode("not for bob"), { recipients: [other.recipient] }),
      );
      await client.close();
      await mallory.close();
      // A file over fetch's --max-file-size is dropped too, its temporary file removed.
      await Deno.writeFile(join(dir, "large.bin"), new Uint8Array(1536 * 1024));
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "-f", join(dir, "large.bin")]);
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "two"]);

      const out = join(dir, "in");
      await Deno.mkdir(out);
      const fetched = await bob.ok(["fetch", "-i", bob.key, "-o", out, "--max-file-size", "1M"]);
      const fp = fingerprint(alice.recipient);
      assert.equal(fetched.stdout, `stranger ${fp}: one\nstranger ${fp}: two\n`);
      assert.equal(fetched.stderr.match(/does not decrypt/g)?.length, 2);
      assert.match(fetched.stderr, /large\.bin: a file larger than --max-file-size \(1 MiB\)/);
      assert.match(fetched.stderr, /2 messages read, 3 dropped/);
      assert.deepEqual([...Deno.readDirSync(out)], []);
      assert.equal((await bob.ok(["fetch", "-i", bob.key])).stdout, "");
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("relay flow: usage errors", async () => {
  await withTempDir("polycrypt-relay-usage-", async (dir) => {
    const bob = await user(dir, "bob");
    const noInbox = await bob.run(["fetch", "-i", bob.key]);
    assert.equal(noInbox.code, 2, noInbox.stderr);
    assert.match(noInbox.stderr, /no inbox/);
    const noRelay = await bob.run(["inbox", "new", "-i", bob.key]);
    assert.equal(noRelay.code, 2);
    assert.match(noRelay.stderr, /--relay/);
    const badRelay = await bob.run(["inbox", "new", "--relay", "http://x:1", "-i", bob.key]);
    assert.equal(badRelay.code, 2, badRelay.stderr);
    const down = await bob.run([
      "inbox",
      "new",
      "--relay",
      `ws://127.0.0.1:${freePort()}`,
      "-i",
      bob.key,
    ]);
    assert.equal(down.code, 3, down.stderr);
    assert.match(down.stderr, /could not connect to the relay/);
    const badInvite = await bob.run([
      "contact",
      "-i",
      bob.key,
      "add",
      "x",
      "polycrypt-invite1:AAAA",
    ]);
    assert.equal(badInvite.code, 2, badInvite.stderr);
    assert.match(badInvite.stderr, /not a valid invitation/);
    // A contact with neither an inbox nor --to.
    const carol = await generateIdentity();
    await bob.ok(["contact", "-i", bob.key, "add", "carol", carol.recipient]);
    // (An invitation saved for carol: --aead does not apply through a relay.)
    const { encodeInvitation } = await import("../../relay/mod.ts");
    const carolInvite = encodeInvitation({
      relay: "ws://127.0.0.1:1",
      sendId: new Uint8Array(24),
      recipient: carol.recipient,
    });
    await bob.ok(["contact", "-i", bob.key, "add", "carol2", carolInvite]);
    const aead = await bob.run([
      "send",
      "-i",
      bob.key,
      "-r",
      "@carol2",
      "--aead",
      "aes-256-gcm",
      "hi",
    ]);
    assert.equal(aead.code, 2, aead.stderr);
    assert.match(aead.stderr, /--aead does not apply through a relay/);
    const noWay = await bob.run(["send", "-i", bob.key, "-r", "@carol", "hi"]);
    assert.equal(noWay.code, 2, noWay.stderr);
    assert.match(noWay.stderr, /carol has no inbox/);
  });
});

Deno.test("relay flow: chat queues lines in the inbox of a peer who is offline", async () => {
  await withTempDir("polycrypt-relay-chat-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const bob = await user(dir, "bob");
      const alice = await user(dir, "alice");
      const invitation = (await bob.ok(["inbox", "new", "--relay", relay.url, "-i", bob.key]))
        .stdout.trim();
      // Bob's contact has an address (where his chat would listen) and his inbox.
      const bobPort = freePort();
      await alice.ok([
        "contact",
        "-i",
        alice.key,
        "add",
        "bob",
        invitation,
        "--address",
        `tcp://127.0.0.1:${bobPort}`,
      ]);
      await Deno.writeTextFile(join(dir, "notes.txt"), "the notes\n");
      const chat = await alice.run(
        [
          "chat",
          "--listen",
          `tcp://127.0.0.1:${freePort()}`,
          "-i",
          alice.key,
          "--peer-contact",
          "bob",
        ],
        `are you there?\n/file ${join(dir, "notes.txt")}\n`,
      );
      assert.equal(chat.code, 0, chat.stderr);
      assert.equal(chat.stdout.match(/bob is offline: queued on ws:/g)?.length, 2, chat.stdout);
      const out = join(dir, "in");
      await Deno.mkdir(out);
      const fetched = await bob.ok(["fetch", "-i", bob.key, "-o", out]);
      assert.equal(fetched.stdout, `stranger ${fingerprint(alice.recipient)}: are you there?\n`);
      assert.equal(await Deno.readTextFile(join(out, "notes.txt")), "the notes\n");
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("relay flow: fetch --follow shows messages as they arrive", async () => {
  await withTempDir("polycrypt-relay-follow-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const bob = await user(dir, "bob");
      const alice = await user(dir, "alice");
      const invitation = (await bob.ok(["inbox", "new", "--relay", relay.url, "-i", bob.key]))
        .stdout.trim();
      await alice.ok(["contact", "-i", alice.key, "add", "bob", invitation]);
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "waiting already"]);
      const follow = spawnCli(["fetch", "-i", bob.key, "--follow"], ALL, { env: bob.env });
      const reader = follow.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      const readUntil = async (text: string) => {
        while (!seen.includes(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`fetch --follow ended before ${text}: ${seen}`);
          seen += value;
        }
      };
      try {
        await readUntil("waiting already\n");
        const t0 = performance.now();
        await alice.ok(["send", "-i", alice.key, "-r", "@bob", "and now"]);
        await readUntil("and now\n");
        console.log(
          `fetch --follow: a send (a process) shown after ${
            (performance.now() - t0).toFixed(0)
          } ms`,
        );
      } finally {
        follow.kill("SIGTERM");
        await follow.status;
        await reader.cancel().catch(() => {});
        await follow.stderr.cancel().catch(() => {});
      }
      const fp = fingerprint(alice.recipient);
      assert.equal(seen, `stranger ${fp}: waiting already\nstranger ${fp}: and now\n`);
      assert.equal((await bob.ok(["fetch", "-i", bob.key])).stdout, "");
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("relay flow: the relay killed during a send; the sender retries and the file arrives once", async () => {
  await withTempDir("polycrypt-relay-crash-", async (dir) => {
    let relay = await startRelay(dir);
    try {
      const bob = await user(dir, "bob");
      const alice = await user(dir, "alice");
      const invitation = (await bob.ok(["inbox", "new", "--relay", relay.url, "-i", bob.key]))
        .stdout.trim();
      await alice.ok(["contact", "-i", alice.key, "add", "bob", invitation]);
      const file = new Uint8Array(24 * 1024 * 1024);
      const block = crypto.getRandomValues(new Uint8Array(65536));
      for (let at = 0; at < file.length; at += block.length) file.set(block, at);
      file[1] ^= 1;
      await Deno.writeFile(join(dir, "big.bin"), file);
      const send = spawnCli(
        ["send", "-i", alice.key, "-r", "@bob", "-f", join(dir, "big.bin")],
        ALL,
        {
          env: alice.env,
        },
      );
      const sendOut = send.output();
      // Once some pieces are on the relay, kill -9 it and start it again on the same database.
      const db = join(dir, "relay.db");
      for (let i = 0; i < 12_000; i++) {
        const wal = await Deno.stat(`${db}-wal`).catch(() => undefined);
        if ((wal?.size ?? 0) > 2 * 1024 * 1024) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      let sendDone = false;
      sendOut.then(() => sendDone = true, () => {});
      await new Promise((r) => setTimeout(r, 0));
      assert.ok(!sendDone, "the send finished before the relay could be killed");
      await relay.stop("SIGKILL");
      relay = await startRelay(dir, relay.url);
      const sent = await sendOut;
      const err = new TextDecoder().decode(sent.stderr);
      assert.equal(sent.code, 0, err);
      assert.match(err, /big\.bin \(25165824 bytes\) stored/);
      const out = join(dir, "in");
      await Deno.mkdir(out);
      const fetched = await bob.ok(["fetch", "-i", bob.key, "-o", out]);
      assert.match(fetched.stderr, /1 message read/);
      assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["big.bin"]);
      assert.deepEqual(await Deno.readFile(join(out, "big.bin")), file);
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("relay flow: an inbox whose relay is down does not keep the others from being read", async () => {
  await withTempDir("polycrypt-relay-down-", async (dir) => {
    const a = await startRelay(await Deno.makeTempDir({ dir }));
    const b = await startRelay(await Deno.makeTempDir({ dir }));
    try {
      const bob = await user(dir, "bob");
      const alice = await user(dir, "alice");
      await bob.ok(["inbox", "new", "--relay", b.url, "-i", bob.key]);
      const onA = (await bob.ok(["inbox", "new", "--relay", a.url, "-i", bob.key])).stdout.trim();
      assert.equal((await bob.ok(["inbox", "list", "-i", bob.key])).stdout.split("\n").length, 3);
      await alice.ok(["contact", "-i", alice.key, "add", "bob", onA]);
      await alice.ok(["send", "-i", alice.key, "-r", "@bob", "via a"]);
      await b.stop();
      const fetched = await bob.run(["fetch", "-i", bob.key]);
      assert.equal(fetched.code, 3, fetched.stderr);
      assert.match(fetched.stdout, /: via a\n$/);
      assert.match(fetched.stderr, new RegExp(`1 message read; could not reach ${b.url}`));
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
