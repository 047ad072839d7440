// A UDP flood of first fragments (issue 20 section 1): 64 first fragments every 9 s used to keep
// the 64-slot reassembly table full and lock every other sender out. The table is now shared per
// source address, the heaviest source losing its oldest message first, so a real sender gets
// through. Loopback only: the flooder sends from 127.0.0.2, the real sender from 127.0.0.1.
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { encrypt, generateIdentity } from "../../mod.ts";
import {
  listenUdp,
  sendUdp,
  type UdpDropError,
  type UdpListenOptions,
} from "../../transports/mod.ts";
import { patternBytes } from "../cascade/_helpers.ts";
import { recordingUdpListener } from "./_peers.ts";

const bob = await generateIdentity("x25519");

/** A socket on 127.0.0.2 that sends `count` first fragments of never-finished messages. */
async function flooder(port: number, fragmentsPerMessage = 2, dataBytes = 1) {
  const socket = dgram.createSocket("udp4");
  socket.on("error", () => {});
  await new Promise<void>((r) => socket.bind(0, "127.0.0.2", () => r()));
  let sent = 0;
  const burst = async (count: number, index = 0, nonces?: Uint8Array[]) => {
    const used: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const d = new Uint8Array(14 + dataBytes);
      d.set([1, 0x10]);
      const nonce = nonces?.[i] ?? crypto.getRandomValues(new Uint8Array(8));
      d.set(nonce, 2);
      new DataView(d.buffer).setUint16(10, index);
      new DataView(d.buffer).setUint16(12, fragmentsPerMessage);
      used.push(nonce);
      await new Promise((r) => socket.send(d, port, "127.0.0.1", r));
      sent++;
    }
    return used;
  };
  return {
    burst,
    get sent() {
      return sent;
    },
    close: () => new Promise((r) => socket.close(() => r(0))),
  };
}

/** Bob's UDP listener: what he decrypted and what was dropped. */
const bobListener = (options: UdpListenOptions = {}) => recordingUdpListener(bob.identity, options);

Deno.test("udp: a first-fragment flood filling the reassembly table does not lock out a real sender", async () => {
  const { listener, received, drops } = await bobListener();
  const flood = await flooder(listener.port);
  let flooding = true;
  try {
    // The table full (64 slots), then refilled four times a second (the attack needed one burst
    // every 9 s against the 10 s reassembly timeout).
    await flood.burst(64);
    await new Promise((r) => setTimeout(r, 50));
    const refill = (async () => {
      while (flooding) {
        await flood.burst(64);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const data = patternBytes(5000); // five datagrams
    const envelope = await encrypt(data, { recipients: [bob.recipient] });
    for (let i = 0; i < 3; i++) {
      await sendUdp(`udp://127.0.0.1:${listener.port}`, envelope, {
        ackTimeoutMs: 500,
        attempts: 2,
      });
    }
    flooding = false;
    await refill;
    assert.deepEqual(received, [data, data, data]);
    assert.ok(flood.sent >= 128);
    // The flooder's own messages were the ones evicted, reported without any address.
    const overloaded = drops.filter((e) => (e as UdpDropError).reason === "overloaded");
    assert.ok(overloaded.length > 0);
    assert.ok(overloaded.every((e) => !e.message.includes("127.0.0")));
  } finally {
    flooding = false;
    await flood.close();
    await listener.close();
  }
});

Deno.test("udp: a flood of large partial messages is held to maxPendingBytes, fairly", async () => {
  // 40 fragments of 1186 bytes held per flooder message, four messages: about 190 KB wanted, 64 KiB
  // allowed. The real 20 KB message (18 fragments) still arrives.
  const { listener, received, drops } = await bobListener({ maxPendingBytes: 64 * 1024 });
  const flood = await flooder(listener.port, 100, 1186);
  try {
    const nonces = await flood.burst(4);
    for (let i = 1; i < 40; i++) await flood.burst(4, i, nonces);
    await new Promise((r) => setTimeout(r, 50));
    const data = patternBytes(20_000);
    await sendUdp(
      `udp://127.0.0.1:${listener.port}`,
      await encrypt(data, { recipients: [bob.recipient] }),
      { ackTimeoutMs: 1000, attempts: 2 },
    );
    assert.deepEqual(received, [data]);
    assert.ok(drops.some((e) => (e as UdpDropError).reason === "overloaded"));
  } finally {
    await flood.close();
    await listener.close();
  }
});

Deno.test("udp: maxPendingMessages and maxPendingBytes must be positive integers", async () => {
  for (const bad of [{ maxPendingMessages: 0 }, { maxPendingBytes: 1.5 }]) {
    await assert.rejects(listenUdp("udp://127.0.0.1:0", () => {}, bad), RangeError);
  }
});
