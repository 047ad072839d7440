// Receipts (docs/transports.md section 10) against a real `listen` process on loopback: every
// well-formed envelope gets a 60-byte ACK whose receipt only the sender can open; a replayed
// envelope is not shown again and its receipt looks like the one for an envelope the listener
// cannot decrypt; an undecryptable or refused message is reported to `send` within 2 s with its
// reason; a message without a reply key (an older sender) is still delivered.
import assert from "node:assert/strict";
import { encrypt, generateIdentity, type SealedEnvelope } from "../../mod.ts";
import { armor } from "../../cascade/armor.ts";
import {
  type Connection,
  dial,
  MESSAGE_ID_SIZE,
  newReplyKey,
  openReceipt,
  RECEIPT_SIZE,
  sendUdp,
  sendUdpForReceipt,
  textMessage,
} from "../../transports/mod.ts";
import { freePort } from "../transports/_socks.ts";
import { chatFlags, keyPair, NET_PERMS, runCli, spawnCli, startListen } from "./_cli.ts";

const td = new TextDecoder();

/** Starts a long-running `listen` (no --once); `close()` ends it and returns what it printed. */
const startListener = (key: string, extra: string[] = [], on = "tcp://127.0.0.1:0") =>
  startListen(["--on", on, "-i", key, ...extra]);

/** A temporary folder holding Bob's identity file; Bob, Eve, and a `listen` for Bob on `on`. */
async function bobListening(on = "tcp://127.0.0.1:0") {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-receipts-" });
  const bob = await generateIdentity("x25519");
  const eve = await generateIdentity("x25519");
  await Deno.writeTextFile(`${dir}/bob.key`, bob.identity);
  return { dir, bob, eve, listener: await startListener(`${dir}/bob.key`, [], on) };
}

/** Sends `envelope` on a fresh connection; the raw ACK (id and receipt) and the time it took. */
async function exchange(port: number, envelope: Uint8Array) {
  const connection = await dial(`tcp://127.0.0.1:${port}`) as Connection;
  try {
    const start = performance.now();
    const id = await connection.send(envelope as SealedEnvelope);
    for await (const m of connection.messages()) {
      if (m.kind !== "ack") continue;
      assert.equal(m.id.toHex(), id.toHex());
      return { id, receipt: m.receipt, ms: performance.now() - start };
    }
    throw new Error("no ACK");
  } finally {
    await connection.close();
  }
}

Deno.test("receipts: replays reveal nothing and are not shown twice; old messages still deliver", async () => {
  const { dir, bob, eve, listener } = await bobListening();
  try {
    // Alice's message, with her reply key inside.
    const aliceKey = newReplyKey();
    const envelope = await encrypt(textMessage("meet at 7", { replyKey: aliceKey }), {
      recipients: [bob.recipient],
    });
    const first = await exchange(listener.port, envelope);
    assert.equal(first.receipt?.length, RECEIPT_SIZE);
    assert.equal(await openReceipt(aliceKey, first.id, first.receipt!), "delivered");

    // Mallory captured it and replays it; she also sends one Bob cannot decrypt (for Eve).
    const replay = await exchange(listener.port, envelope);
    const malloryKey = newReplyKey();
    const forEve = await encrypt(textMessage("not for Bob", { replyKey: malloryKey }), {
      recipients: [eve.recipient],
    });
    const undecryptable = await exchange(listener.port, forEve);
    // Same size and form: a 16-byte id and a 44-byte receipt each.
    assert.equal(replay.receipt?.length, RECEIPT_SIZE);
    assert.equal(undecryptable.receipt?.length, RECEIPT_SIZE);
    assert.equal(replay.id.length, MESSAGE_ID_SIZE);
    // Mallory, without Alice's reply key, opens neither (her own key, or any guess, fails).
    for (const guess of [malloryKey, newReplyKey()]) {
      assert.equal(await openReceipt(guess, replay.id, replay.receipt!), undefined);
      assert.equal(await openReceipt(guess, undecryptable.id, undecryptable.receipt!), undefined);
    }
    // Alice can: the replay was a duplicate. Receipts are not all alike.
    assert.equal(await openReceipt(aliceKey, replay.id, replay.receipt!), "duplicate");
    assert.notDeepEqual(replay.receipt, first.receipt);

    // The same envelope re-encoded (armored: another message id) is still a duplicate.
    const armored = new TextEncoder().encode(armor(envelope));
    const rewrapped = await exchange(listener.port, armored);
    assert.notEqual(rewrapped.id.toHex(), first.id.toHex());
    assert.equal(await openReceipt(aliceKey, rewrapped.id, rewrapped.receipt!), "duplicate");

    // An older sender's message (no reply key) is delivered; its receipt is random bytes.
    const old = await encrypt(textMessage("from an old sender"), { recipients: [bob.recipient] });
    const oldAck = await exchange(listener.port, old);
    assert.equal(oldAck.receipt?.length, RECEIPT_SIZE);
    assert.equal(await openReceipt(aliceKey, oldAck.id, oldAck.receipt!), undefined);
    // Sent again whole, it is a duplicate too (remembered by its message id).
    await exchange(listener.port, old);

    assert.ok(undecryptable.ms < 2000, `undecryptable answered after ${undecryptable.ms} ms`);
    console.log(
      `receipt after: delivered ${first.ms.toFixed(1)} ms, duplicate ${replay.ms.toFixed(1)} ms, ` +
        `undecryptable ${undecryptable.ms.toFixed(1)} ms, old format ${oldAck.ms.toFixed(1)} ms`,
    );
  } finally {
    const heard = await listener.close();
    await Deno.remove(dir, { recursive: true });
    // Shown once each, whatever was replayed.
    assert.equal(heard.stdout.split("meet at 7").length - 1, 1, heard.stdout);
    assert.equal(heard.stdout.split("from an old sender").length - 1, 1, heard.stdout);
    assert.doesNotMatch(heard.stdout, /not for Bob/);
  }
});

Deno.test("receipts: send reports an undecryptable or refused message within 2 s, with its reason", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-receipts-" });
  const run = (args: string[]) => runCli(args, NET_PERMS);
  try {
    const bob = (await keyPair(dir, "x25519")).recipient;
    const eve = (await keyPair(dir, "x25519", { name: "eve" })).recipient;
    await Deno.writeTextFile(`${dir}/f.txt`, "a file");
    const listener = await startListener(`${dir}/bob.key`);
    const to = `tcp://127.0.0.1:${listener.port}`;
    try {
      // `send` itself takes a while to start (deno, keys): measure it against a delivered message.
      const timed = async (args: string[]) => {
        const start = performance.now();
        const result = await run(["send", "--to", to, ...args]);
        return { ...result, ms: performance.now() - start };
      };
      const delivered = await timed(["-r", bob, "hello"]);
      assert.equal(delivered.code, 0, delivered.stderr);
      assert.equal(delivered.stderr, "polycrypt: delivered\n");
      const undecryptable = await timed(["-r", eve, "psst"]);
      assert.equal(undecryptable.code, 3);
      assert.equal(undecryptable.stderr, "polycrypt: the peer could not decrypt the message\n");
      const refused = await timed(["-r", bob, "-f", `${dir}/f.txt`]);
      assert.equal(refused.code, 3);
      assert.equal(
        refused.stderr,
        "polycrypt: the peer refused the file: it receives files only with -o DIR\n",
      );
      console.log(
        `send, start to exit: delivered ${delivered.ms.toFixed(0)} ms, undecryptable ${
          undecryptable.ms.toFixed(0)
        } ms, file refused ${refused.ms.toFixed(0)} ms`,
      );
      // Within 2 s of the delivered case's own start-up cost (generous when the machine is loaded).
      for (const r of [undecryptable, refused]) {
        assert.ok(r.ms < delivered.ms + 2000, `${r.ms} ms against ${delivered.ms} ms`);
      }
    } finally {
      const heard = await listener.close();
      assert.equal(heard.stdout, "hello\n");
      assert.match(heard.stderr, /a message could not be decrypted/);
      assert.match(heard.stderr, /a file arrived; use -o DIR/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("receipts: chat's delivery notes say delivered, refused or not decrypted", async () => {
  const { dir, bob, eve, listener } = await bobListening(); // no -o DIR: files are refused
  const alice = await generateIdentity("x25519");
  await Deno.writeTextFile(`${dir}/alice.key`, alice.identity);
  await Deno.writeTextFile(`${dir}/f.txt`, "a file");
  /** Alice's chat to Bob's listener sealing to `recipient`: types `lines`, returns her screen. */
  const aliceChat = async (recipient: string, lines: string[], notes: number) => {
    const child = spawnCli(
      ["chat", ...chatFlags(freePort(), listener.port, `${dir}/alice.key`, recipient)],
      NET_PERMS,
      { env: { XDG_CONFIG_HOME: dir } },
      true,
    );
    const writer = child.stdin.getWriter();
    let screen = "";
    const reading = (async () => {
      for await (const chunk of child.stdout) screen += td.decode(chunk);
    })();
    for (const line of lines) await writer.write(new TextEncoder().encode(line + "\n"));
    const deadline = Date.now() + 20_000;
    while ((screen.match(/\(#\d+ (?!sending)/g) ?? []).length < notes && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await writer.close();
    const status = await child.status;
    await reading;
    assert.equal(status.code, 0, screen + await new Response(child.stderr).text());
    return screen;
  };
  try {
    const toBob = await aliceChat(bob.recipient, ["hello", `/file ${dir}/f.txt`], 2);
    assert.match(toBob, /\(#1 delivered\)/);
    assert.match(toBob, /\(#2 refused: the peer receives files only with -o DIR\)/);
    const toEve = await aliceChat(eve.recipient, ["psst"], 1);
    assert.match(toEve, /\(#1 not delivered: the peer could not decrypt it\)/);
    assert.equal((await listener.close()).stdout, "hello\n");
  } finally {
    await listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("receipts: a replay and an undecryptable envelope are answered after comparable delays", async () => {
  const { dir, bob, eve, listener } = await bobListening();
  const connection = await dial(`tcp://127.0.0.1:${listener.port}`) as Connection;
  const acks = connection.messages();
  /** Sends on the one connection; ms until its ACK. */
  const timed = async (envelope: Uint8Array) => {
    const start = performance.now();
    const id = await connection.send(envelope as SealedEnvelope);
    for (;;) {
      const { value } = await acks.next();
      if (value?.kind === "ack" && value.id.toHex() === id.toHex()) {
        return performance.now() - start;
      }
    }
  };
  const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[xs.length >> 1];
  try {
    for (const size of [100, 3 * 1024 * 1024]) {
      const text = "x".repeat(size);
      const sealed = (to: string) =>
        encrypt(textMessage(text, { replyKey: newReplyKey() }), { recipients: [to] });
      const replayed = await sealed(bob.recipient);
      const times = {
        delivered: [] as number[],
        duplicate: [] as number[],
        undecryptable: [] as number[],
      };
      for (let i = 0; i < 3; i++) await timed(await sealed(bob.recipient)); // warm up
      await timed(replayed);
      const rounds = size > 1000 ? 6 : 15;
      for (let i = 0; i < rounds; i++) {
        const [fresh, other] = [await sealed(bob.recipient), await sealed(eve.recipient)];
        times.delivered.push(await timed(fresh));
        times.duplicate.push(await timed(replayed));
        times.undecryptable.push(await timed(other));
      }
      const [d, r, u] = [times.delivered, times.duplicate, times.undecryptable].map(median);
      console.log(
        `${size} B text, median ms to the receipt: delivered ${d.toFixed(1)}, replay ${
          r.toFixed(1)
        }, undecryptable ${u.toFixed(1)}`,
      );
      // The replay and the stranger's envelope wait for the same estimate; the delivered one
      // takes about as long.
      assert.ok(Math.abs(r - u) < 15 + 0.1 * u, `replay ${r} ms, undecryptable ${u} ms`);
      assert.ok(u > 0.7 * d, `undecryptable ${u} ms, delivered ${d} ms`);
    }
  } finally {
    await connection.close();
    await listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("receipts: over UDP a replayed envelope is acknowledged (sendUdp takes any ACK) but shown once", async () => {
  const { dir, bob, listener } = await bobListening("udp://127.0.0.1:0");
  try {
    const envelope = await encrypt(textMessage("over udp", { replyKey: newReplyKey() }), {
      recipients: [bob.recipient],
    });
    const to = `udp://127.0.0.1:${listener.port}`;
    // Each sendUdp cuts the envelope with a fresh nonce: the second is a replay, not a resend.
    await sendUdp(to, envelope);
    await sendUdp(to, envelope);
    assert.equal((await listener.close()).stdout, "over udp\n");
  } finally {
    await listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("receipts: over UDP every whole envelope gets a receipt; a replay and an undecryptable one look alike", async () => {
  const { dir, bob, eve, listener } = await bobListening("udp://127.0.0.1:0");
  const run = (args: string[]) => runCli(args, NET_PERMS);
  try {
    const to = `udp://127.0.0.1:${listener.port}`;
    const aliceKey = newReplyKey();
    const envelope = await encrypt(textMessage("over udp, v2", { replyKey: aliceKey }), {
      recipients: [bob.recipient],
    });
    // Alice reads "delivered"; Mallory's replay (a fresh nonce: not a resend) gets a receipt of
    // the same size, which Alice would read as "duplicate".
    const first = await sendUdpForReceipt(to, envelope);
    assert.equal(await openReceipt(aliceKey, first.id, first.receipt), "delivered");
    const replay = await sendUdpForReceipt(to, envelope);
    assert.equal(replay.receipt.length, RECEIPT_SIZE);
    assert.equal(await openReceipt(aliceKey, replay.id, replay.receipt), "duplicate");
    // One Bob cannot decrypt is answered too (it used to get no ACK at all), with a receipt of the
    // same size that its sender cannot open: "undecryptable".
    const malloryKey = newReplyKey();
    const forEve = await encrypt(textMessage("not for Bob", { replyKey: malloryKey }), {
      recipients: [eve.recipient],
    });
    const undecryptable = await sendUdpForReceipt(to, forEve, { attempts: 1 });
    assert.equal(undecryptable.receipt.length, RECEIPT_SIZE);
    assert.equal(await openReceipt(malloryKey, undecryptable.id, undecryptable.receipt), undefined);
    for (const guess of [newReplyKey(), malloryKey]) {
      assert.equal(await openReceipt(guess, replay.id, replay.receipt), undefined);
    }
    // A library sender that takes any ACK (sendUdp) still gets its answer.
    assert.equal((await sendUdp(to, envelope)).toHex(), first.id.toHex());
    // `send` over udp:// reads the receipt's outcome like over tcp://.
    const delivered = await run(["send", "--to", to, "-r", bob.recipient, "by send"]);
    assert.equal(delivered.code, 0, delivered.stderr);
    assert.equal(delivered.stderr, "polycrypt: delivered\n");
    const start = performance.now();
    const refused = await run(["send", "--to", to, "-r", eve.recipient, "psst"]);
    const ms = performance.now() - start;
    assert.equal(refused.code, 3);
    assert.equal(refused.stderr, "polycrypt: the peer could not decrypt the message\n");
    // Answered at once, not after the 3 x 2 s of resends an unanswered message waits.
    assert.ok(ms < 4000, `${ms} ms`);
    console.log(`send over udp, undecryptable: ${ms.toFixed(0)} ms from start to exit`);
  } finally {
    const heard = await listener.close();
    assert.equal(heard.stdout, "over udp, v2\nby send\n");
    await Deno.remove(dir, { recursive: true });
  }
});
