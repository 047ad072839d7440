// WebSocket over loopback: delivery with ACKs, 100 concurrent peers, text and garbage peers
// lose only their own connection, plain HTTP is refused.
import assert from "node:assert/strict";
import { decrypt, encrypt, generateIdentity } from "../../mod.ts";
import { connectWebSocket, listenWebSocket, parseWsAddress } from "../../transports/mod.ts";
import type { Connection } from "../../transports/mod.ts";

const bob = await generateIdentity("x25519");
const seal = (text: string) =>
  encrypt(new TextEncoder().encode(text), { recipients: [bob.recipient] });

function bobServer(received: string[]) {
  return listenWebSocket("ws://127.0.0.1:0/polycrypt", async (connection: Connection) => {
    for await (const m of connection.messages()) {
      if (m.kind !== "envelope") continue;
      received.push(
        new TextDecoder().decode(await decrypt(m.envelope, { identities: [bob.identity] })),
      );
      await connection.acknowledge(m.id);
    }
  });
}

async function sendAndAck(peer: Connection, text: string) {
  const id = await peer.send(await seal(text));
  const ack = (await peer.messages().next()).value;
  assert.ok(ack?.kind === "ack" && ack.id.toHex() === id.toHex(), "ACK");
}

/** Resolves when the server closes a raw WebSocket. */
function closed(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => socket.addEventListener("close", () => resolve()));
}

Deno.test("websocket: delivery, 100 concurrent peers, bad peers", async (t) => {
  const received: string[] = [];
  const server = bobServer(received);
  const url = `ws://127.0.0.1:${server.port}/polycrypt`;
  try {
    await t.step("a message is delivered and acknowledged", async () => {
      const alice = await connectWebSocket(url);
      await sendAndAck(alice, "hello over websocket");
      await alice.close();
    });
    await t.step("100 concurrent peers", async () => {
      const peers = await Promise.all(Array.from({ length: 100 }, () => connectWebSocket(url)));
      await Promise.all(peers.map((p) => sendAndAck(p, "fan-in")));
      await Promise.all(peers.map((p) => p.close()));
    });
    await t.step("a text message or garbage closes that peer only", async () => {
      for (const junk of ["hello", new Uint8Array([9, 9, 9, 9, 9, 9, 9])]) {
        const raw = new WebSocket(url);
        await new Promise((r) => raw.addEventListener("open", r, { once: true }));
        const done = closed(raw);
        raw.send(junk);
        await done;
      }
      const alice = await connectWebSocket(url);
      await sendAndAck(alice, "still here");
      await alice.close();
    });
    await t.step("plain HTTP gets 426 and other paths 404", async () => {
      const plain = await fetch(`http://127.0.0.1:${server.port}/polycrypt`);
      assert.equal(plain.status, 426);
      await plain.body?.cancel();
      const other = await fetch(`http://127.0.0.1:${server.port}/elsewhere`);
      assert.equal(other.status, 404);
      await other.body?.cancel();
    });
    assert.equal(received.length, 102);
    assert.equal(received.at(-1), "still here");
  } finally {
    await server.close();
  }
});

Deno.test("websocket: addresses", () => {
  assert.equal(parseWsAddress("ws://127.0.0.1:80/a/b").path, "/a/b");
  for (const bad of ["wss://h:1/", "ws://h/", "http://h:1/", "ws://h:1/?q=1", "nope"]) {
    assert.throws(() => parseWsAddress(bad), RangeError, bad);
  }
});
