import assert from "node:assert/strict";
import { encrypt, encryptStream, generateIdentity } from "../../mod.ts";
import {
  acceptWebRtc,
  checkSignalMessage,
  type Connection,
  connectWebRtc,
  type Signal,
  type SignalMessage,
  signalPair,
} from "../../transports/mod.ts";

const options = { bindAddress: "127.0.0.1", connectTimeoutMs: 60_000 };

async function pair(): Promise<[Connection, Connection]> {
  const [a, b] = signalPair();
  return await Promise.all([connectWebRtc(a, options), acceptWebRtc(b, options)]) as [
    Connection,
    Connection,
  ];
}

Deno.test("webrtc: an envelope crosses a loopback data channel and is acknowledged", async () => {
  const bob = await generateIdentity("x25519");
  const [alice, bobEnd] = await pair();
  try {
    const envelope = await encrypt(new Uint8Array(1024), { recipients: [bob.recipient] });
    const id = await alice.send(envelope);
    const first = (await bobEnd.messages().next()).value;
    assert.ok(first?.kind === "envelope");
    assert.deepEqual(first.envelope, envelope);
    await bobEnd.acknowledge(first.id);
    const ack = (await alice.messages().next()).value;
    assert.ok(ack?.kind === "ack");
    assert.equal(ack.id.toHex(), id.toHex());
  } finally {
    await alice.close();
    await bobEnd.close();
  }
});

Deno.test("webrtc: a 100 MiB stream crosses with bounded memory", async () => {
  const bob = await generateIdentity("x25519");
  const [alice, bobEnd] = await pair();
  const total = 100 * 1024 * 1024;
  try {
    const source = new ReadableStream<Uint8Array>({
      start() {},
      pull: (() => {
        let sent = 0;
        return (controller: ReadableStreamDefaultController<Uint8Array>) => {
          if (sent >= total) return controller.close();
          const n = Math.min(1024 * 1024, total - sent);
          sent += n;
          controller.enqueue(new Uint8Array(n));
        };
      })(),
    });
    const rssBefore = Deno.memoryUsage().rss;
    let peak = rssBefore;
    const sending = alice.sendStream(
      source.pipeThrough(encryptStream({ recipients: [bob.recipient] })),
    );
    const first = (await bobEnd.messages().next()).value;
    assert.ok(first?.kind === "stream");
    let received = 0;
    for await (const piece of first.pieces) {
      received += piece.length;
      peak = Math.max(peak, Deno.memoryUsage().rss);
    }
    const id = await sending;
    assert.equal((await first.id).toHex(), id.toHex());
    assert.ok(received > total);
    const grown = (peak - rssBefore) / 1024 / 1024;
    console.log(`100 MiB over a data channel: RSS grew by ${grown.toFixed(1)} MiB`);
    // Both ends are in this process: a collected stream would add at least 200 MiB.
    assert.ok(grown < 160, `RSS grew by ${grown} MiB`);
  } finally {
    await alice.close();
    await bobEnd.close();
  }
});

Deno.test("webrtc: the peer disappearing mid-transfer is reported", async () => {
  const bob = await generateIdentity("x25519");
  const [alice, bobEnd] = await pair();
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new Uint8Array(1024 * 1024));
    },
  });
  const sending = alice.sendStream(
    source.pipeThrough(encryptStream({ recipients: [bob.recipient] })),
  );
  const first = (await bobEnd.messages().next()).value;
  assert.ok(first?.kind === "stream");
  let received = 0;
  for await (const piece of first.pieces) {
    received += piece.length;
    if (received > 4 * 1024 * 1024) break;
  }
  await bobEnd.close();
  await assert.rejects(sending);
  await alice.close();
});

Deno.test("webrtc: signalling messages are checked, malformed ones ignored", async () => {
  assert.throws(() => checkSignalMessage({ type: "offer" }), TypeError);
  assert.throws(
    () => checkSignalMessage({ type: "candidate", candidate: "x".repeat(2000), mid: "0" }),
    TypeError,
  );
  // A signal that only ever delivers junk: the connection times out, nothing else happens.
  const junk: Signal = {
    send() {},
    async *messages() {
      yield { type: "bogus" } as unknown as SignalMessage;
    },
  };
  await assert.rejects(connectWebRtc(junk, { ...options, connectTimeoutMs: 1500 }), TypeError);
});

Deno.test("webrtc: a second isolate (a Worker) is refused with a TypeError, not a crash", async () => {
  const [a, b] = signalPair();
  await Promise.all([connectWebRtc(a, options), acceptWebRtc(b, options)])
    .then((cs) => Promise.all(cs.map((c) => c.close())));
  const mod = new URL("../../transports/mod.ts", import.meta.url).href;
  const code = `import { connectWebRtc, signalPair } from ${JSON.stringify(mod)};
    connectWebRtc(signalPair()[0], { connectTimeoutMs: 500 }).then(
      () => postMessage("opened"),
      (e) => postMessage(e.name + ": " + e.message),
    );`;
  const url = `data:application/typescript;base64,${btoa(code)}`;
  const worker = new Worker(url, { type: "module" });
  try {
    const answer = await new Promise<string>((resolve) => {
      worker.onmessage = (e) => resolve(String(e.data));
    });
    assert.match(answer, /^TypeError: .*another isolate/);
  } finally {
    worker.terminate();
  }
});

Deno.test("webrtc: mtu 4096 on loopback carries a 16 MiB stream; other MTUs are refused", async () => {
  for (const mtu of [1279, 4097, 1500.5]) {
    await assert.rejects(connectWebRtc(signalPair()[0], { ...options, mtu }), RangeError);
  }
  const bob = await generateIdentity("x25519");
  const [a, b] = signalPair();
  const big = { ...options, mtu: 4096 };
  const [alice, bobEnd] = await Promise.all([connectWebRtc(a, big), acceptWebRtc(b, big)]);
  try {
    const total = 16 * 1024 * 1024;
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < total; i += 1024 * 1024) {
          controller.enqueue(new Uint8Array(1024 * 1024).fill(i >> 20));
        }
        controller.close();
      },
    });
    const sending = alice.sendStream(
      source.pipeThrough(encryptStream({ recipients: [bob.recipient] })),
    );
    const first = (await bobEnd.messages().next()).value;
    assert.ok(first?.kind === "stream");
    let received = 0;
    for await (const piece of first.pieces) received += piece.length;
    assert.equal((await first.id).toHex(), (await sending).toHex());
    assert.ok(received > total, `${received} bytes`);
  } finally {
    await alice.close();
    await bobEnd.close();
  }
});
