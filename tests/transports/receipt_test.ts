// Receipts at the library level (docs/transports.md section 10): the reply-key message form, the
// 60-byte ACK frame, and receipts that open only with the reply key and the message id.
import assert from "node:assert/strict";
import { FormatError } from "../../errors.ts";
import {
  encodeFrame,
  fileMessageHeader,
  FRAME,
  FrameError,
  FrameReader,
  memoryPair,
  MESSAGE_ID_SIZE,
  MESSAGE_KIND,
  newReplyKey,
  openReceipt,
  parseMessage,
  RECEIPT_SIZE,
  REPLY_KEY_SIZE,
  sealReceipt,
  textMessage,
} from "../../transports/mod.ts";
import { encrypt, generateIdentity } from "../../mod.ts";

Deno.test("a message with a reply key parses to the same kind, name and body, and the key", async () => {
  const replyKey = newReplyKey();
  const text = await parseMessage(ReadableStream.from([textMessage("hi", { replyKey })]));
  assert.equal(text.kind, "text");
  assert.deepEqual(text.replyKey, replyKey);
  assert.equal(await new Response(text.body).text(), "hi");
  // Split anywhere, the head is still read whole.
  const bytes = textMessage("hello", { replyKey });
  const split = await parseMessage(
    ReadableStream.from([...bytes].map((b) => new Uint8Array([b]))),
  );
  assert.deepEqual(split.replyKey, replyKey);
  assert.equal(await new Response(split.body).text(), "hello");
  let heard: Uint8Array | undefined;
  const file = await parseMessage(
    ReadableStream.from([fileMessageHeader("a.txt", { replyKey }), new Uint8Array(7)]),
    (key) => heard = key,
  );
  assert.ok(file.kind === "file");
  assert.equal(file.name, "a.txt");
  assert.deepEqual(file.replyKey, replyKey);
  assert.deepEqual(heard, replyKey);
  assert.equal((await new Response(file.body).arrayBuffer()).byteLength, 7);
  // Without one (an older sender): no replyKey, bytes as before.
  assert.equal((await parseMessage(ReadableStream.from([textMessage("x")]))).replyKey, undefined);
  // A reply key and nothing after it, or a short one, is not a message.
  const bare = new Uint8Array(1 + REPLY_KEY_SIZE).fill(1);
  bare[0] = MESSAGE_KIND.reply;
  await assert.rejects(parseMessage(ReadableStream.from([bare])), FormatError);
  await assert.rejects(parseMessage(ReadableStream.from([bare.subarray(0, 10)])), FormatError);
  assert.throws(() => textMessage("x", { replyKey: new Uint8Array(16) }), RangeError);
});

Deno.test("receipts open only with the reply key and the message id; random ones never", async () => {
  const replyKey = newReplyKey();
  const id = crypto.getRandomValues(new Uint8Array(MESSAGE_ID_SIZE));
  for (
    const outcome of [
      "delivered",
      "duplicate",
      "noOutputDir",
      "tooLarge",
      "failed",
      "accepted",
    ] as const
  ) {
    const receipt = await sealReceipt(replyKey, id, outcome);
    assert.equal(receipt.length, RECEIPT_SIZE);
    assert.equal(await openReceipt(replyKey, id, receipt), outcome);
    assert.equal(await openReceipt(newReplyKey(), id, receipt), undefined);
    assert.equal(await openReceipt(replyKey, id.map((b) => b ^ 1), receipt), undefined);
    const flipped = receipt.slice();
    flipped[20] ^= 1;
    assert.equal(await openReceipt(replyKey, id, flipped), undefined);
    assert.equal(await openReceipt(replyKey, id, receipt.subarray(1)), undefined);
  }
  for (let i = 0; i < 20; i++) {
    const random = await sealReceipt(undefined, id, "delivered");
    assert.equal(random.length, RECEIPT_SIZE);
    assert.equal(await openReceipt(replyKey, id, random), undefined);
  }
  await assert.rejects(sealReceipt(replyKey, id, "lost" as "failed"), RangeError);
});

Deno.test("an ACK frame is 16 bytes (version 1) or 60 (with a receipt); other lengths break", async () => {
  for (const length of [MESSAGE_ID_SIZE, MESSAGE_ID_SIZE + RECEIPT_SIZE]) {
    const reader = new FrameReader(
      ReadableStream.from([encodeFrame(FRAME.ack, new Uint8Array(length))]),
    );
    assert.equal((await reader.next())?.payload.length, length);
  }
  for (const length of [0, 17, MESSAGE_ID_SIZE + RECEIPT_SIZE - 1, 61]) {
    const reader = new FrameReader(
      ReadableStream.from([encodeFrame(FRAME.ack, new Uint8Array(length))]),
    );
    await assert.rejects(reader.next(), FrameError);
  }
});

Deno.test("Connection.acknowledge carries a receipt; messages() hands it over with the id", async () => {
  const bob = await generateIdentity("x25519");
  const [alice, bobEnd] = memoryPair();
  const replyKey = newReplyKey();
  const id = await alice.send(
    await encrypt(textMessage("hi", { replyKey }), { recipients: [bob.recipient] }),
  );
  const incoming = (await bobEnd.messages().next()).value;
  assert.ok(incoming?.kind === "envelope");
  await assert.rejects(bobEnd.acknowledge(incoming.id, new Uint8Array(43)), RangeError);
  await bobEnd.acknowledge(incoming.id, await sealReceipt(replyKey, incoming.id, "delivered"));
  await bobEnd.acknowledge(incoming.id); // version 1 still works
  const acks = alice.messages();
  const first = (await acks.next()).value;
  assert.ok(first?.kind === "ack" && first.receipt !== undefined);
  assert.equal(first.id.toHex(), id.toHex());
  assert.equal(await openReceipt(replyKey, id, first.receipt), "delivered");
  const second = (await acks.next()).value;
  assert.ok(second?.kind === "ack" && second.receipt === undefined);
  await alice.close();
  await bobEnd.close();
});
