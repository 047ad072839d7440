// The Transport contract on every transport: `send` takes a sealed envelope and resolves with its
// message id; cleartext is refused with TypeError before a single byte reaches the peer.
import assert from "node:assert/strict";
import { decrypt, encrypt, generateIdentity, type SealedEnvelope } from "../../mod.ts";
import {
  type Connection,
  connectTcp,
  connectTls,
  connectWebSocket,
  listenTcp,
  listenTls,
  listenUdp,
  listenWebSocket,
  memoryPair,
  type Transport,
  udpTransport,
} from "../../transports/mod.ts";
import { selfSignedCertificate } from "./_tls.ts";

const bob = await generateIdentity("x25519");
const tls = await selfSignedCertificate();
const te = new TextEncoder();
const td = new TextDecoder();

/** A peer that records what it decrypts and acknowledges it. */
function recorder() {
  const received: string[] = [];
  const raw: number[] = [];
  const serve = async (connection: Connection) => {
    for await (const m of connection.messages()) {
      if (m.kind !== "envelope") continue;
      raw.push(m.envelope.length);
      received.push(td.decode(await decrypt(m.envelope, { identities: [bob.identity] })));
      await connection.acknowledge(m.id);
    }
  };
  return { received, raw, serve };
}

/** Stream transports: a listener, and a connected Transport to it. */
const streamTransports: Record<
  string,
  (serve: (c: Connection) => Promise<void>) => Promise<[Transport, () => Promise<void>]>
> = {
  memory: (serve) => {
    const [a, b] = memoryPair();
    const serving = serve(b);
    return Promise.resolve([a, async () => {
      await b.close();
      await serving;
    }]);
  },
  tcp: async (serve) => {
    const l = listenTcp("tcp://127.0.0.1:0", serve);
    return [await connectTcp(`tcp://127.0.0.1:${l.port}`), () => l.close()];
  },
  tls: async (serve) => {
    const l = listenTls("tls://127.0.0.1:0", serve, tls);
    return [
      await connectTls(`tls://localhost:${l.port}`, { caCerts: [tls.cert] }),
      () => l.close(),
    ];
  },
  ws: async (serve) => {
    const l = listenWebSocket("ws://127.0.0.1:0/t", serve);
    return [await connectWebSocket(`ws://127.0.0.1:${l.port}/t`), () => l.close()];
  },
};

for (const [name, open] of Object.entries(streamTransports)) {
  Deno.test(`transport contract: ${name}`, async () => {
    const peer = recorder();
    const [transport, stop] = await open(peer.serve);
    // Cleartext, including bytes that merely look like armor, never leaves.
    for (const bytes of [te.encode("cleartext"), new Uint8Array(0), te.encode("PCY")]) {
      await assert.rejects(transport.send(bytes as SealedEnvelope), TypeError);
    }
    const envelope = await encrypt(te.encode(`over ${name}`), { recipients: [bob.recipient] });
    const id = await transport.send(envelope);
    assert.equal(id.length, 16);
    const ack = (await (transport as Connection).messages().next()).value;
    assert.ok(ack && ack.kind === "ack" && ack.id.toHex() === id.toHex());
    assert.deepEqual(peer.received, [`over ${name}`]);
    assert.deepEqual(peer.raw, [envelope.length], "only the envelope arrived");
    await transport.close();
    await transport.close(); // twice is fine
    await stop();
  });
}

Deno.test("transport contract: udp", async () => {
  const received: string[] = [];
  let datagrams = 0;
  const listener = await listenUdp("udp://127.0.0.1:0", async ({ envelope }) => {
    received.push(td.decode(await decrypt(envelope, { identities: [bob.identity] })));
  }, { onDrop: () => datagrams++ });
  const transport = udpTransport(`udp://127.0.0.1:${listener.port}`);
  try {
    await assert.rejects(transport.send(te.encode("cleartext") as SealedEnvelope), TypeError);
    const envelope = await encrypt(te.encode("over udp"), { recipients: [bob.recipient] });
    const id = await transport.send(envelope); // resolves once acknowledged
    assert.equal(id.length, 16);
    assert.deepEqual(received, ["over udp"]);
    assert.equal(datagrams, 0, "nothing malformed reached the listener");
    await transport.close();
    await assert.rejects(transport.send(envelope), TypeError);
    assert.throws(() => udpTransport("tcp://127.0.0.1:1"), RangeError);
  } finally {
    await listener.close();
  }
});
