// UDP over loopback through a shim that drops chosen datagrams: fragmentation and reassembly,
// resend after loss, a message with a fragment lost for good is dropped whole, garbage is
// ignored, oversized messages are refused before reassembly.
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { encrypt, generateIdentity, type SealedEnvelope } from "../../mod.ts";
import {
  FrameError,
  listenUdp,
  MAX_DATAGRAM,
  newReplyKey,
  openReceipt,
  parseUdpAddress,
  RECEIPT_SIZE,
  sealReceipt,
  sendUdp,
  sendUdpForReceipt,
  type UdpListenOptions,
} from "../../transports/mod.ts";
import { patternBytes } from "../cascade/_helpers.ts";
import { recordingUdpListener } from "./_peers.ts";

const bob = await generateIdentity("x25519");

/**
 * A UDP forwarder between a sender and the listener. `drop(n, bytes)` decides for the n-th
 * datagram from the sender (from 0) whether it is lost. Replies travel back unchanged.
 */
async function lossyShim(target: number, drop: (n: number, bytes: Uint8Array) => boolean) {
  const front = dgram.createSocket("udp4");
  const back = dgram.createSocket("udp4");
  let client: { address: string; port: number } | undefined;
  let n = 0;
  let largest = 0;
  front.on("message", (msg: Uint8Array, from: { address: string; port: number }) => {
    client = from;
    largest = Math.max(largest, msg.length);
    if (!drop(n++, msg)) back.send(msg, target, "127.0.0.1");
  });
  back.on("message", (msg: Uint8Array) => {
    if (client) front.send(msg, client.port, client.address);
  });
  await new Promise<void>((r) => front.bind(0, "127.0.0.1", () => r()));
  await new Promise<void>((r) => back.bind(0, "127.0.0.1", () => r()));
  return {
    port: front.address().port,
    get count() {
      return n;
    },
    get largest() {
      return largest;
    },
    close: () => Promise.all([front, back].map((s) => new Promise((r) => s.close(() => r(0))))),
  };
}

/** Bob's UDP listener: what he decrypted and what was dropped. */
const bobListener = (options: UdpListenOptions = {}) => recordingUdpListener(bob.identity, options);

const sealed = (bytes: Uint8Array) => encrypt(bytes, { recipients: [bob.recipient] });

Deno.test("udp: small and fragmented messages arrive whole and are acknowledged", async () => {
  const { listener, received } = await bobListener();
  const shim = await lossyShim(listener.port, () => false);
  try {
    const small = new TextEncoder().encode("hi over udp");
    const big = patternBytes(200_000);
    const envelope = await sealed(big);
    await sendUdp(`udp://127.0.0.1:${shim.port}`, await sealed(small));
    await sendUdp(`udp://127.0.0.1:${shim.port}`, envelope);
    assert.equal(received.length, 2);
    assert.deepEqual(received[0], small);
    assert.ok(received[1].length === big.length && received[1].every((v, i) => v === big[i]));
    assert.ok(shim.largest <= MAX_DATAGRAM, `largest datagram ${shim.largest}`);
    assert.ok(shim.count >= Math.ceil(envelope.length / MAX_DATAGRAM) + 1);
  } finally {
    await shim.close();
    await listener.close();
  }
});

Deno.test("udp: a fragment lost once is recovered by the resend", async () => {
  const { listener, received, drops } = await bobListener({ reassemblyTimeoutMs: 5000 });
  const shim = await lossyShim(listener.port, (n) => n === 3); // the 4th datagram, first try
  try {
    await sendUdp(`udp://127.0.0.1:${shim.port}`, await sealed(patternBytes(20_000)), {
      ackTimeoutMs: 300,
    });
    assert.equal(received.length, 1);
    assert.equal(received[0].length, 20_000);
    assert.equal(drops.length, 0);
  } finally {
    await shim.close();
    await listener.close();
  }
});

Deno.test("udp: a fragment lost for good: nothing delivered, the sender is told", async () => {
  const { listener, received, drops } = await bobListener({ reassemblyTimeoutMs: 150 });
  const shim = await lossyShim(
    listener.port,
    (_, bytes) => new DataView(bytes.buffer, bytes.byteOffset).getUint16(10) === 2,
  );
  try {
    await assert.rejects(
      sendUdp(`udp://127.0.0.1:${shim.port}`, await sealed(patternBytes(20_000)), {
        ackTimeoutMs: 200,
        attempts: 2,
      }),
      FrameError,
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(received.length, 0, "no partial output");
    assert.ok(drops.some((e) => /lost/.test(e.message)), drops.map((e) => e.message).join());
  } finally {
    await shim.close();
    await listener.close();
  }
});

Deno.test("udp: garbage and oversized messages are dropped; the listener keeps working", async () => {
  const { listener, received, drops } = await bobListener({ maxMessageBytes: 10_000 });
  const raw = dgram.createSocket("udp4");
  const to = (bytes: Uint8Array) =>
    new Promise((r) => raw.send(bytes, listener.port, "127.0.0.1", r));
  try {
    await to(new TextEncoder().encode("GET / HTTP/1.1"));
    await to(new Uint8Array(1500)); // over MAX_DATAGRAM
    const claim = new Uint8Array(14 + 10);
    claim.set([1, 0x10]);
    new DataView(claim.buffer).setUint16(12, 60000); // 60000 fragments: over the limit
    await to(claim);
    await assert.rejects(
      sendUdp(`udp://127.0.0.1:${listener.port}`, await sealed(patternBytes(50_000)), {
        ackTimeoutMs: 200,
        attempts: 1,
      }),
      FrameError,
    );
    await sendUdp(`udp://127.0.0.1:${listener.port}`, await sealed(new Uint8Array([1, 2, 3])));
    assert.equal(received.length, 1);
    assert.ok(drops.length >= 4, drops.map((e) => e.message).join());
  } finally {
    await new Promise((r) => raw.close(() => r(0)));
    await listener.close();
  }
});

Deno.test("udp: only sealed envelopes, strict addresses", async () => {
  await assert.rejects(
    sendUdp("udp://127.0.0.1:9", new TextEncoder().encode("cleartext") as SealedEnvelope),
    TypeError,
  );
  assert.deepEqual(parseUdpAddress("udp://localhost:7000"), { hostname: "localhost", port: 7000 });
  for (const bad of ["tcp://h:1", "udp://h", "udp://h:99999"]) {
    assert.throws(() => parseUdpAddress(bad), RangeError);
  }
});

Deno.test("udp: ACK datagrams with a receipt (version 2) and with the id only (version 1)", async () => {
  const replyKey = newReplyKey();
  let calls = 0;
  // Version 2: onMessage returns the receipt, which the ACK datagram carries.
  const v2 = await listenUdp("udp://127.0.0.1:0", ({ id }) => {
    calls++;
    return sealReceipt(replyKey, id, "delivered");
  });
  // Version 1: onMessage returns nothing, the ACK carries the id only.
  const v1 = await listenUdp("udp://127.0.0.1:0", () => {});
  const shim = await lossyShim(v2.port, () => false);
  try {
    const envelope = await sealed(patternBytes(3000));
    const got = await sendUdpForReceipt(`udp://127.0.0.1:${shim.port}`, envelope);
    assert.equal(got.receipt.length, RECEIPT_SIZE);
    assert.equal(await openReceipt(replyKey, got.id, got.receipt), "delivered");
    // A sender that takes any ACK reads both forms.
    assert.equal((await sendUdp(`udp://127.0.0.1:${v2.port}`, envelope)).toHex(), got.id.toHex());
    assert.equal((await sendUdp(`udp://127.0.0.1:${v1.port}`, envelope)).toHex(), got.id.toHex());
    // One that wants a receipt ignores an id-only ACK (anyone on the path could forge one).
    await assert.rejects(
      sendUdpForReceipt(`udp://127.0.0.1:${v1.port}`, envelope, { ackTimeoutMs: 150, attempts: 2 }),
      FrameError,
    );
    // Each sendUdp cuts the envelope with a fresh nonce: two messages for v2's application.
    assert.equal(calls, 2);
  } finally {
    await shim.close();
    await v1.close();
    await v2.close();
  }
});

Deno.test("udp: a resend whose ACK was lost gets the same receipt, without a second delivery", async () => {
  const replyKey = newReplyKey();
  let calls = 0;
  const listener = await listenUdp("udp://127.0.0.1:0", ({ id }) => {
    calls++;
    return sealReceipt(replyKey, id, "delivered");
  });
  // A shim that loses the first ACK on its way back.
  const front = dgram.createSocket("udp4");
  const back = dgram.createSocket("udp4");
  let client: { address: string; port: number } | undefined;
  const acks: Uint8Array[] = [];
  front.on("message", (msg: Uint8Array, from: { address: string; port: number }) => {
    client = from;
    back.send(msg, listener.port, "127.0.0.1");
  });
  back.on("message", (msg: Uint8Array) => {
    acks.push(msg.slice());
    if (acks.length > 1 && client) front.send(msg, client.port, client.address);
  });
  await new Promise<void>((r) => front.bind(0, "127.0.0.1", () => r()));
  await new Promise<void>((r) => back.bind(0, "127.0.0.1", () => r()));
  try {
    const envelope = await sealed(new Uint8Array(10));
    const got = await sendUdpForReceipt(`udp://127.0.0.1:${front.address().port}`, envelope, {
      ackTimeoutMs: 200,
    });
    assert.equal(await openReceipt(replyKey, got.id, got.receipt), "delivered");
    assert.equal(calls, 1);
    assert.equal(acks.length, 2);
    assert.equal(acks[0].length, 2 + 16 + RECEIPT_SIZE);
    assert.equal(acks[0].toHex(), acks[1].toHex());
  } finally {
    await Promise.all([front, back].map((s) => new Promise((r) => s.close(() => r(0)))));
    await listener.close();
  }
});

Deno.test("udp: a receipt of the wrong size is refused (no ACK)", async () => {
  const listener = await listenUdp("udp://127.0.0.1:0", () => new Uint8Array(10));
  try {
    await assert.rejects(
      sendUdp(`udp://127.0.0.1:${listener.port}`, await sealed(new Uint8Array(1)), {
        ackTimeoutMs: 100,
        attempts: 1,
      }),
      FrameError,
    );
  } finally {
    await listener.close();
  }
});
