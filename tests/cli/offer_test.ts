// Offers (docs/transports.md section 7): `send -f` and chat's `/file` offer a file before they
// send it, and a listener that will refuse it says so at once, before the file's bytes travel.
// Real `send`, `listen` and `chat` processes on loopback; a counting TCP relay in front of the
// listener measures how many bytes reached it.
import assert from "node:assert/strict";
import {
  decryptStream,
  encrypt,
  encryptStream,
  generateIdentity,
  type SealedChunk,
  type SealedEnvelope,
} from "../../mod.ts";
import {
  type Connection,
  dial,
  fileMessageHeader,
  listen,
  newReplyKey,
  offerMessage,
  openReceipt,
  parseMessage,
  RECEIPT_SIZE,
  sealReceipt,
} from "../../transports/mod.ts";
import { freePort } from "../transports/_socks.ts";
import { selfSignedCertificate } from "../transports/_tls.ts";
import { chatFlags, keyPair, NET_PERMS, runCli, spawnCli, startListen } from "./_cli.ts";

const MIB = 1024 * 1024;
const te = new TextEncoder();
const td = new TextDecoder();

/**
 * A TCP relay on 127.0.0.1 to `port`: counts the bytes it passed on to the listener (so the
 * listener received no more than `toListener`).
 */
function relay(port: number) {
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const counts = { toListener: 0 };
  const open = new Set<Promise<unknown>>();
  (async () => {
    for await (const client of server) {
      const job = (async () => {
        const upstream = await Deno.connect({ hostname: "127.0.0.1", port });
        const counted = new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            counts.toListener += chunk.length;
            controller.enqueue(chunk);
          },
        });
        await Promise.allSettled([
          client.readable.pipeThrough(counted).pipeTo(upstream.writable),
          upstream.readable.pipeTo(client.writable),
        ]);
      })().catch(() => {});
      open.add(job);
      job.finally(() => open.delete(job));
    }
  })().catch(() => {});
  return {
    port: (server.addr as Deno.NetAddr).port,
    counts,
    async close() {
      server.close();
      await Promise.allSettled([...open]);
    },
  };
}

/** Runs `send --to ADDRESS ...args`; its result and how long it took, start to exit. */
async function timedSend(to: string, args: string[]) {
  const start = performance.now();
  const result = await runCli(["send", "--to", to, ...args], NET_PERMS);
  return { ...result, ms: performance.now() - start };
}

/** A sparse file of `bytes` zero bytes. */
async function bigFile(path: string, bytes: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true });
  await file.truncate(bytes);
  file.close();
}

Deno.test("offer: a 50 MiB file is refused before its bytes are sent (no -o, over --max-file-size)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-offer-" });
  try {
    const bob = (await keyPair(dir, "x25519")).recipient;
    const big = `${dir}/big.bin`;
    await bigFile(big, 50 * MIB);
    await Deno.mkdir(`${dir}/inbox`);
    const noOut = await startListen(["--on", "tcp://127.0.0.1:0", "-i", `${dir}/bob.key`]);
    const limited = await startListen([
      ...["--on", "tcp://127.0.0.1:0", "-i", `${dir}/bob.key`],
      ...["-o", `${dir}/inbox`, "--max-file-size", "1M"],
    ]);
    const relays = [relay(noOut.port), relay(limited.port)];
    try {
      const [toNoOut, toLimited] = relays.map((r) => `tcp://127.0.0.1:${r.port}`);
      // `send` takes a while to start (deno, keys): the delivered text is the baseline.
      const baseline = await timedSend(toNoOut, ["-r", bob, "hello"]);
      assert.equal(baseline.code, 0, baseline.stderr);
      const before = relays.map((r) => r.counts.toListener);

      const refused = await timedSend(toNoOut, ["-r", bob, "-f", big]);
      assert.equal(refused.code, 3);
      assert.equal(
        refused.stderr,
        "polycrypt: the peer refused the file: it receives files only with -o DIR\n",
      );
      const tooLarge = await timedSend(toLimited, ["-r", bob, "-f", big]);
      assert.equal(tooLarge.code, 3);
      assert.equal(
        tooLarge.stderr,
        "polycrypt: the peer refused the file: it is larger than the peer accepts\n",
      );
      const read = relays.map((r, i) => r.counts.toListener - before[i]);
      console.log(
        `50 MiB file: send start to exit ${refused.ms.toFixed(0)} ms refused (no -o), ` +
          `${tooLarge.ms.toFixed(0)} ms refused (too large), against ${
            baseline.ms.toFixed(0)
          } ms for a delivered text; ` +
          `bytes that reached the listener: ${read[0]} and ${read[1]}`,
      );
      // Refused within 2 s of the baseline's start-up cost, and only the offer (a few KB) went.
      for (const r of [refused, tooLarge]) {
        assert.ok(r.ms < baseline.ms + 2000, `${r.ms} ms against ${baseline.ms} ms`);
      }
      for (const bytes of read) assert.ok(bytes < 64 * 1024, `${bytes} bytes reached the listener`);

      // The same file sealed without an offer (an older sender) goes whole before its refusal.
      const replyKey = newReplyKey();
      const connection = await dial(toNoOut) as Connection;
      const start = performance.now();
      const at = relays[0].counts.toListener;
      const source = (await Deno.open(big)).readable;
      const head = fileMessageHeader("big.bin", { replyKey });
      const id = await connection.sendStream(
        ReadableStream.from((async function* () {
          yield head;
          yield* source;
        })()).pipeThrough(encryptStream({ recipients: [bob] })) as ReadableStream<SealedChunk>,
      );
      for await (const m of connection.messages()) {
        if (m.kind === "ack" && m.receipt) {
          assert.equal(await openReceipt(replyKey, id, m.receipt), "noOutputDir");
          break;
        }
      }
      await connection.close();
      console.log(
        `without an offer: refused after ${(performance.now() - start).toFixed(0)} ms, ` +
          `${((relays[0].counts.toListener - at) / MIB).toFixed(1)} MiB reached the listener`,
      );
    } finally {
      for (const r of relays) await r.close();
      const heard = await noOut.close();
      assert.match(heard.stderr, /a file arrived; use -o DIR to receive files/);
      const heardLimited = await limited.close();
      assert.match(heardLimited.stderr, /a file larger than --max-file-size \(1 MiB\) was refused/);
    }
    assert.deepEqual([...Deno.readDirSync(`${dir}/inbox`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("offer: over tcp, tls and ws an accepted offer delivers the file intact, a refused one stops it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-offer-" });
  try {
    const bob = (await keyPair(dir, "x25519")).recipient;
    const data = new Uint8Array(3 * MIB + 17);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    await Deno.writeFile(`${dir}/data.bin`, data);
    await bigFile(`${dir}/big.bin`, 50 * MIB);
    const tls = await selfSignedCertificate();
    await Deno.writeTextFile(`${dir}/tls.pem`, tls.cert);
    await Deno.writeTextFile(`${dir}/tls.key`, tls.key);
    const tlsListen = ["--tls-cert", `${dir}/tls.pem`, "--tls-key", `${dir}/tls.key`];
    for (const on of ["tcp://127.0.0.1:0", "tls://127.0.0.1:0", "ws://127.0.0.1:0/in"]) {
      const inbox = await Deno.makeTempDir({ dir, prefix: "inbox-" });
      const isTls = on.startsWith("tls");
      const listener = await startListen([
        ...["--on", on, "-i", `${dir}/bob.key`, "-o", inbox, "--max-file-size", "4M"],
        ...(isTls ? tlsListen : []),
      ]);
      const counter = on.startsWith("tcp") ? relay(listener.port) : undefined;
      try {
        const to = counter
          ? `tcp://127.0.0.1:${counter.port}`
          : on.replace(":0", `:${listener.port}`);
        const flags = ["-r", bob, ...(isTls ? ["--tls-ca", `${dir}/tls.pem`] : [])];
        const sent = await timedSend(to, [...flags, "-f", `${dir}/data.bin`]);
        assert.equal(sent.code, 0, sent.stderr);
        assert.equal(sent.stderr, "polycrypt: delivered\n");
        assert.deepEqual(await Deno.readFile(`${inbox}/data.bin`), data);
        if (counter) assert.ok(counter.counts.toListener > data.length);
        const refused = await timedSend(to, [...flags, "-f", `${dir}/big.bin`]);
        assert.equal(refused.code, 3);
        assert.match(refused.stderr, /it is larger than the peer accepts/);
        console.log(
          `${on.slice(0, 3)}: 3 MiB delivered, send start to exit ${sent.ms.toFixed(0)} ms; ` +
            `50 MiB refused ${refused.ms.toFixed(0)} ms`,
        );
        assert.ok(refused.ms < sent.ms + 2000, `${refused.ms} ms against ${sent.ms} ms`);
      } finally {
        await counter?.close();
        const heard = await listener.close();
        assert.match(heard.stderr, /received .*data\.bin/);
      }
      assert.deepEqual([...Deno.readDirSync(inbox)].map((e) => e.name), ["data.bin"]);
    }
    // --once: the accepted offer is not the one message; the file is, and then it exits 0.
    const inbox = await Deno.makeTempDir({ dir, prefix: "once-" });
    const once = await startListen([
      ...["--on", "tcp://127.0.0.1:0", "-i", `${dir}/bob.key`, "-o", inbox, "--once"],
    ]);
    const sent = await timedSend(`tcp://127.0.0.1:${once.port}`, [
      ...["-r", bob, "-f", `${dir}/data.bin`],
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    const result = await once.result;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await Deno.readFile(`${inbox}/data.bin`), data);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Sends `envelope` on `connection` and waits for its ACK: the id, the receipt, the time taken. */
async function exchange(
  connection: Connection,
  acks: AsyncIterator<unknown>,
  envelope: Uint8Array,
) {
  const start = performance.now();
  const id = await connection.send(envelope as SealedEnvelope);
  for (;;) {
    const { value, done } = await acks.next();
    if (done) throw new Error("no ACK");
    const m = value as { kind: string; id: Uint8Array; receipt?: Uint8Array };
    if (m.kind === "ack" && m.id.toHex() === id.toHex()) {
      return { id, receipt: m.receipt!, ms: performance.now() - start };
    }
  }
}

Deno.test("offer: the offer is a hint (a lying size is caught), and files without an offer still arrive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-offer-" });
  const bob = await generateIdentity("x25519");
  await Deno.writeTextFile(`${dir}/bob.key`, bob.identity);
  await Deno.mkdir(`${dir}/inbox`);
  const listener = await startListen([
    ...["--on", "tcp://127.0.0.1:0", "-i", `${dir}/bob.key`, "-o", `${dir}/inbox`],
    ...["--max-file-size", "1M"],
  ]);
  const seal = (bytes: Uint8Array) => encrypt(bytes, { recipients: [bob.recipient] });
  try {
    const connection = await dial(`tcp://127.0.0.1:${listener.port}`) as Connection;
    const acks = connection.messages();
    // An offer that lies about the size is accepted; the file is still counted and refused.
    const offerKey = newReplyKey();
    const offer = await exchange(
      connection,
      acks,
      await seal(offerMessage("liar.bin", 10, { replyKey: offerKey })),
    );
    assert.equal(offer.receipt.length, RECEIPT_SIZE);
    assert.equal(await openReceipt(offerKey, offer.id, offer.receipt), "accepted");
    const fileKey = newReplyKey();
    const body = new Uint8Array(2 * MIB);
    const head = fileMessageHeader("liar.bin", { replyKey: fileKey });
    const file = await exchange(
      connection,
      acks,
      await seal(new Uint8Array([...head, ...body])),
    );
    assert.equal(await openReceipt(fileKey, file.id, file.receipt), "tooLarge");
    // As for any file over the limit, the listener then closes the connection.
    const after = await acks.next().catch(() => ({ done: true }));
    assert.equal(after.done, true);
    await connection.close();

    // Files without an offer (an older sender), with and without a reply key, are received.
    for (
      const [name, replyKey] of [["old.txt", newReplyKey()], ["older.txt", undefined]] as const
    ) {
      const c = await dial(`tcp://127.0.0.1:${listener.port}`) as Connection;
      const content = te.encode(`content of ${name}`);
      const sealed = await seal(
        new Uint8Array([...fileMessageHeader(name, replyKey ? { replyKey } : {}), ...content]),
      );
      const ack = await exchange(c, c.messages(), sealed);
      if (replyKey) assert.equal(await openReceipt(replyKey, ack.id, ack.receipt), "delivered");
      await c.close();
      assert.deepEqual(await Deno.readFile(`${dir}/inbox/${name}`), content);
    }
    // An offer without a name's end, or with bytes after it, is malformed: "failed".
    const badKey = newReplyKey();
    const withTail = new Uint8Array([...offerMessage("x.bin", 1, { replyKey: badKey }), 0]);
    const c = await dial(`tcp://127.0.0.1:${listener.port}`) as Connection;
    const bad = await exchange(c, c.messages(), await seal(withTail));
    assert.equal(await openReceipt(badKey, bad.id, bad.receipt), "failed");
    await c.close();
  } finally {
    const heard = await listener.close();
    const names = [...Deno.readDirSync(`${dir}/inbox`)].map((e) => e.name);
    await Deno.remove(dir, { recursive: true });
    assert.match(heard.stderr, /a file larger than --max-file-size \(1 MiB\) was refused/);
    assert.doesNotMatch(heard.stderr, /received .*liar/);
    // Nothing of the refused file is left (no liar.bin, no temporary file).
    assert.deepEqual(names.toSorted(), ["old.txt", "older.txt"]);
  }
});

Deno.test("offer: a replayed offer gets the same ACK as one the listener cannot decrypt, after a comparable delay", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-offer-" });
  const bob = await generateIdentity("x25519");
  const eve = await generateIdentity("x25519");
  await Deno.writeTextFile(`${dir}/bob.key`, bob.identity);
  await Deno.mkdir(`${dir}/inbox`);
  const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[xs.length >> 1];
  try {
    for (const extra of [["-o", `${dir}/inbox`], []]) {
      const listener = await startListen([
        ...["--on", "tcp://127.0.0.1:0", "-i", `${dir}/bob.key`, ...extra],
      ]);
      const connection = await dial(`tcp://127.0.0.1:${listener.port}`) as Connection;
      const acks = connection.messages();
      try {
        const offer = (to: string, replyKey = newReplyKey()) =>
          encrypt(offerMessage("plans.pdf", 5 * MIB, { replyKey }), { recipients: [to] });
        const aliceKey = newReplyKey();
        const captured = await offer(bob.recipient, aliceKey);
        const first = await exchange(connection, acks, captured);
        const expected = extra.length ? "accepted" : "noOutputDir";
        assert.equal(await openReceipt(aliceKey, first.id, first.receipt), expected);
        const times = { replay: [] as number[], undecryptable: [] as number[] };
        for (let i = 0; i < 3; i++) await exchange(connection, acks, await offer(bob.recipient));
        for (let i = 0; i < 12; i++) {
          const replay = await exchange(connection, acks, captured);
          const other = await exchange(connection, acks, await offer(eve.recipient));
          // Same form; Mallory, who replays, opens neither; Alice reads the replay as before.
          assert.equal(replay.receipt.length, RECEIPT_SIZE);
          assert.equal(other.receipt.length, RECEIPT_SIZE);
          assert.equal(await openReceipt(newReplyKey(), replay.id, replay.receipt), undefined);
          assert.equal(await openReceipt(aliceKey, replay.id, replay.receipt), expected);
          times.replay.push(replay.ms);
          times.undecryptable.push(other.ms);
        }
        const [r, u] = [median(times.replay), median(times.undecryptable)];
        console.log(
          `offer ${expected}: median ms to the receipt: replay ${r.toFixed(1)}, ` +
            `undecryptable ${u.toFixed(1)}`,
        );
        assert.ok(Math.abs(r - u) < 15 + 0.5 * u, `replay ${r} ms, undecryptable ${u} ms`);
      } finally {
        await connection.close();
        await listener.close();
      }
    }
    assert.deepEqual([...Deno.readDirSync(`${dir}/inbox`)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("offer: chat's /file to a peer without -o is refused at once and the next line is delivered", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-offer-" });
  try {
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    await bigFile(`${dir}/big.bin`, 50 * MIB);
    const [a, b] = [freePort(), freePort()];
    const chat = (args: string[]) => {
      const child = spawnCli(["chat", ...args], NET_PERMS, { env: { XDG_CONFIG_HOME: dir } }, true);
      const writer = child.stdin.getWriter();
      let screen = "";
      let errors = "";
      const pumping = Promise.all([
        (async () => {
          for await (const chunk of child.stdout) screen += td.decode(chunk);
        })(),
        (async () => {
          for await (const chunk of child.stderr) errors += td.decode(chunk);
        })(),
      ]);
      return {
        type: (line: string) => writer.write(te.encode(line + "\n")),
        async waitFor(pattern: RegExp, where: "screen" | "errors" = "screen") {
          const deadline = Date.now() + 30_000;
          while (!pattern.test(where === "screen" ? screen : errors)) {
            if (Date.now() > deadline) throw new Error(`no ${pattern}: ${screen} ${errors}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        },
        async end() {
          await writer.close();
          const status = await child.status;
          await pumping;
          return { code: status.code, screen, errors };
        },
      };
    };
    const bobChat = chat(chatFlags(b, a, bob.key, alice.recipient)); // no -o
    await bobChat.waitFor(/chatting on/, "errors");
    const aliceChat = chat(chatFlags(a, b, alice.key, bob.recipient));
    await aliceChat.waitFor(/chatting on/, "errors");
    aliceChat.type("first");
    await aliceChat.waitFor(/\(#1 delivered\)/);
    const start = performance.now();
    await aliceChat.type(`/file ${dir}/big.bin`);
    await aliceChat.waitFor(/\(#2 refused: the peer receives files only with -o DIR\)/);
    const ms = performance.now() - start;
    await aliceChat.type("after the file");
    await aliceChat.waitFor(/\(#3 delivered\)/);
    await bobChat.waitFor(/: after the file$/m);
    console.log(`chat /file of 50 MiB to a peer without -o: refused after ${ms.toFixed(0)} ms`);
    assert.ok(ms < 5000, `${ms} ms`);
    const aliceEnd = await aliceChat.end();
    const bobEnd = await bobChat.end();
    assert.equal(aliceEnd.code, 0, aliceEnd.errors);
    assert.equal(bobEnd.code, 0, bobEnd.errors);
    assert.match(aliceEnd.screen, /\(#2 sending big\.bin\)/);
    assert.match(bobEnd.screen, /a file arrived; use -o DIR to receive files/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("offer: listen --from answers another signer's offer with random bytes, before the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-offer-" });
  try {
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    const eve = await keyPair(dir, undefined, { name: "eve" });
    await Deno.writeTextFile(`${dir}/alice.pub`, alice.recipient + "\n");
    await Deno.mkdir(`${dir}/inbox`);
    await bigFile(`${dir}/big.bin`, 50 * MIB);
    await Deno.writeTextFile(`${dir}/note.txt`, "from alice\n");
    const listener = await startListen([
      ...["--on", "tcp://127.0.0.1:0", "-i", bob.key, "-o", `${dir}/inbox`],
      ...["--from", `${dir}/alice.pub`],
    ]);
    const counter = relay(listener.port);
    try {
      const to = `tcp://127.0.0.1:${counter.port}`;
      for (const who of [["-i", eve.key], []]) {
        const at = counter.counts.toListener;
        const dropped = await timedSend(to, [...who, "-r", bob.recipient, "-f", `${dir}/big.bin`]);
        assert.equal(dropped.code, 3);
        assert.equal(dropped.stderr, "polycrypt: the peer could not decrypt the message\n");
        const bytes = counter.counts.toListener - at;
        assert.ok(bytes < 64 * 1024, `${bytes} bytes reached the listener`);
        console.log(
          `--from, ${who.length ? "another signer" : "unsigned"}: refused after ${
            dropped.ms.toFixed(0)
          } ms, ${bytes} bytes reached the listener`,
        );
      }
      const sent = await timedSend(to, [
        ...["-i", alice.key, "-r", bob.recipient, "-f", `${dir}/note.txt`],
      ]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal(await Deno.readTextFile(`${dir}/inbox/note.txt`), "from alice\n");
    } finally {
      await counter.close();
      const heard = await listener.close();
      assert.equal(heard.stderr.match(/a message was dropped/g)?.length, 2, heard.stderr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("offer: a listener from before offers answers 'failed', and send then sends the file as before", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-offer-" });
  const bob = await generateIdentity("x25519");
  const received: string[] = [];
  // Bob's listener as receipts v2 shipped before offers: a kind it does not know (0x4F) is a
  // message it read the reply key of but cannot parse, answered "failed"; a file is kept.
  const old = await listen("tcp://127.0.0.1:0", async (peer) => {
    for await (const m of peer.messages()) {
      if (m.kind === "ack") continue;
      const sealed = m.kind === "envelope"
        ? ReadableStream.from([m.envelope])
        : ReadableStream.from(m.pieces);
      let replyKey: Uint8Array | undefined;
      let outcome: "delivered" | "failed" = "failed";
      try {
        const message = await parseMessage(
          sealed.pipeThrough(decryptStream({ identities: [bob.identity] })),
          (key) => replyKey = key,
        );
        if (message.kind !== "file") throw new Error("a kind this listener does not know");
        received.push(`${message.name}: ${await new Response(message.body).text()}`);
        outcome = "delivered";
      } catch { /* "failed" */ }
      const id = await m.id;
      await peer.acknowledge(id, await sealReceipt(replyKey, id, outcome));
    }
  });
  try {
    await Deno.writeTextFile(`${dir}/note.txt`, "the note");
    const sent = await timedSend(old.address, ["-r", bob.recipient, "-f", `${dir}/note.txt`]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(sent.stderr, "polycrypt: delivered\n");
    assert.deepEqual(received, ["note.txt: the note"]);
  } finally {
    await old.close();
    await Deno.remove(dir, { recursive: true });
  }
});
