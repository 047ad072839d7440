// TLS over loopback: delivery with ACKs under a pinned self-signed certificate; an untrusted
// certificate, a plain-TCP peer and garbage each fail on their own while the listener keeps serving.
import assert from "node:assert/strict";
import { decrypt, decryptStream, encrypt, generateIdentity } from "../../mod.ts";
import { connectTls, listenTls, parseTlsAddress } from "../../transports/mod.ts";
import type { Connection } from "../../transports/mod.ts";
import { selfSignedCertificate } from "./_tls.ts";

const bob = await generateIdentity("x25519");
const tls = await selfSignedCertificate();
const other = await selfSignedCertificate();

function bobListener(received: string[]) {
  return listenTls("tls://127.0.0.1:0", async (connection: Connection) => {
    for await (const m of connection.messages()) {
      if (m.kind === "envelope") {
        received.push(
          new TextDecoder().decode(await decrypt(m.envelope, { identities: [bob.identity] })),
        );
        await connection.acknowledge(m.id);
      } else if (m.kind === "stream") {
        let size = 0;
        const opened = ReadableStream.from(m.pieces).pipeThrough(
          decryptStream({ identities: [bob.identity] }),
        );
        for await (const chunk of opened) size += chunk.length;
        received.push(`${size} bytes`);
        await connection.acknowledge(await m.id);
      }
    }
  }, tls);
}

async function deliver(peer: Connection, text: string) {
  const id = await peer.send(
    await encrypt(new TextEncoder().encode(text), { recipients: [bob.recipient] }),
  );
  const m = (await peer.messages().next()).value;
  assert.ok(m && m.kind === "ack" && m.id.toHex() === id.toHex(), "ACK for the message");
}

Deno.test("tls: parseTlsAddress takes tls://HOST:PORT only", () => {
  assert.deepEqual(parseTlsAddress("tls://[::1]:7443"), { hostname: "::1", port: 7443 });
  assert.throws(() => parseTlsAddress("tcp://127.0.0.1:7443"), RangeError);
  assert.throws(() => parseTlsAddress("tls://127.0.0.1:70000"), RangeError);
  assert.throws(
    () => listenTls("tls://127.0.0.1:0", () => {}, {} as { cert: string; key: string }),
    TypeError,
  );
});

Deno.test("tls: messages are delivered and acknowledged under a pinned certificate", async () => {
  const received: string[] = [];
  const listener = bobListener(received);
  for (const host of ["localhost", "127.0.0.1"]) {
    const alice = await connectTls(`tls://${host}:${listener.port}`, { caCerts: [tls.cert] });
    await deliver(alice, `hello over tls via ${host}`);
    // A multi-frame stream (3 MiB envelope) crosses as well.
    const big = await encrypt(new Uint8Array(3 << 20).fill(1), { recipients: [bob.recipient] });
    const id = await alice.send(big);
    const m = (await alice.messages().next()).value;
    assert.ok(m && m.kind === "ack" && m.id.toHex() === id.toHex());
    await alice.close();
  }
  assert.deepEqual(received, [
    "hello over tls via localhost",
    `${3 << 20} bytes`,
    "hello over tls via 127.0.0.1",
    `${3 << 20} bytes`,
  ]);
  await listener.close();
});

Deno.test("tls: untrusted certificates, plain TCP and garbage fail alone", async (t) => {
  const received: string[] = [];
  const listener = bobListener(received);
  const address = `tls://localhost:${listener.port}`;
  await t.step("a certificate the client does not trust is refused before sending", async () => {
    await assert.rejects(connectTls(address, { caCerts: [other.cert] }));
    await assert.rejects(connectTls(address)); // not in the built-in web roots either
  });
  await t.step("a plain-TCP peer sending frames or garbage is dropped", async () => {
    for (const text of ["PCF1 not a tls record", "\x16\x03\x01\x00\x05hello"]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.port });
      await conn.write(new TextEncoder().encode(text));
      const buf = new Uint8Array(64);
      try {
        while (
          (await conn.read(buf)) !== null
        ) { /* the listener answers with an alert, then closes */ }
      } catch { /* reset counts as closed */ }
      conn.close();
    }
  });
  await t.step("the listener still serves a good peer", async () => {
    const alice = await connectTls(address, { caCerts: [tls.cert] });
    await deliver(alice, "still here");
    await alice.close();
  });
  assert.deepEqual(received, ["still here"]);
  await listener.close();
});
