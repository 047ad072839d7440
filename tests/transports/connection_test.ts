// Connections over the in-memory pair: only sealed envelopes go out, ids and ACKs match, big
// envelopes stream with bounded pieces, a reader that stops early does not desynchronise the
// connection, and a garbage peer ends in FrameError.
import assert from "node:assert/strict";
import { decrypt, decryptStream, encrypt, encryptStream, generateIdentity } from "../../mod.ts";
import { Connection, FrameError, memoryPair } from "../../transports/mod.ts";
import type { SealedChunk, SealedEnvelope } from "../../mod.ts";
import type { Incoming } from "../../transports/mod.ts";
import { patternBytes, readAll, streamOf } from "../cascade/_helpers.ts";

const bob = await generateIdentity("x25519");
const seal = (text: string) =>
  encrypt(new TextEncoder().encode(text), { recipients: [bob.recipient] });

async function next(it: AsyncGenerator<Incoming>): Promise<Incoming> {
  const r = await it.next();
  assert.ok(!r.done, "a message was expected");
  return r.value;
}

Deno.test("cleartext cannot be sent, by type or at run time", async () => {
  const [a, b] = memoryPair();
  const plain = new TextEncoder().encode("PCRYPT is not enough: attack at dawn");
  await assert.rejects(a.send(plain as SealedEnvelope), TypeError);
  await assert.rejects(a.sendStream([plain as SealedChunk]), TypeError);
  await assert.rejects(a.sendStream([]), TypeError);
  await a.close();
  // Nothing reached the peer.
  const received = [];
  for await (const m of b.messages()) received.push(m);
  assert.equal(received.length, 0);
  await b.close();
});

Deno.test("envelopes arrive whole, decrypt, and their ACK carries the sender's id", async () => {
  const [a, b] = memoryPair();
  const ids = [await a.send(await seal("one")), await a.send(await seal("two"))];
  const incoming = b.messages();
  for (const [i, text] of ["one", "two"].entries()) {
    const m = await next(incoming);
    assert.equal(m.kind, "envelope");
    if (m.kind !== "envelope") return;
    assert.equal(m.id.toHex(), ids[i].toHex());
    assert.equal(
      new TextDecoder().decode(await decrypt(m.envelope, { identities: [bob.identity] })),
      text,
    );
    await b.acknowledge(m.id);
  }
  const acks = a.messages();
  for (const id of ids) {
    const m = await next(acks);
    assert.ok(m.kind === "ack" && m.id.toHex() === id.toHex());
  }
  await a.close();
  await b.close();
});

Deno.test("a 5 MiB envelope streams in pieces of at most 1 MiB and decrypts", async () => {
  const [a, b] = memoryPair();
  const data = patternBytes(5 * 1024 * 1024 + 3);
  const sending = a.sendStream(
    streamOf(data, [300_000]).pipeThrough(encryptStream({ recipients: [bob.recipient] })),
  );
  const m = await next(b.messages());
  assert.equal(m.kind, "stream");
  if (m.kind !== "stream") return;
  let largest = 0;
  const pieces = (async function* () {
    for await (const piece of m.pieces) {
      largest = Math.max(largest, piece.length);
      yield piece;
    }
  })();
  const opened = await readAll(
    ReadableStream.from(pieces).pipeThrough(decryptStream({ identities: [bob.identity] })),
  );
  assert.equal(opened.length, data.length);
  assert.ok(opened.every((v, i) => v === data[i]));
  assert.ok(largest <= 1024 * 1024, `largest piece ${largest}`);
  assert.equal((await m.id).toHex(), (await sending).toHex());
  await a.close();
  await b.close();
});

Deno.test("a reader that leaves a stream early still gets the next message intact", async () => {
  const [a, b] = memoryPair();
  const big = await encrypt(patternBytes(3 * 1024 * 1024), { recipients: [bob.recipient] });
  const sent = Promise.all([a.send(big), a.send(await seal("after"))]);
  const incoming = b.messages();
  const first = await next(incoming);
  assert.equal(first.kind, "stream"); // over 1 MiB: send() streams it
  if (first.kind !== "stream") return;
  for await (const _ of first.pieces) break; // read one piece only
  const second = await next(incoming);
  assert.equal(second.kind, "envelope");
  if (second.kind !== "envelope") return;
  assert.equal(
    new TextDecoder().decode(await decrypt(second.envelope, { identities: [bob.identity] })),
    "after",
  );
  await sent;
  await a.close();
  await b.close();
});

Deno.test("a peer that sends garbage gets FrameError and a closed connection", async () => {
  for (
    const garbage of [
      new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"),
      new Uint8Array([1, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5]), // an ENVELOPE frame that is not an envelope
      new Uint8Array([1, 3, 0, 0, 0, 0]), // END without a stream
    ]
  ) {
    const victim = new Connection({
      readable: ReadableStream.from([garbage]),
      writable: new WritableStream(),
    });
    await assert.rejects(async () => {
      for await (const _ of victim.messages()) { /* nothing valid arrives */ }
    }, FrameError);
    await victim.close();
  }
});
