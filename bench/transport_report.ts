/**
 * Transport report (issue 5's measurements), over TCP loopback:
 * - 1 KiB chat messages per second end to end (encrypt to the default hybrid, send, receive,
 *   decrypt, acknowledge), with 1 peer (plain TCP and TLS) and with 100 concurrent peers;
 * - MB/s of a file streamed through `encryptStream` -> TCP -> `decryptStream`, next to a raw TCP
 *   copy of the same bytes on the same loopback;
 * - peak RSS of a `polycrypt listen` process while 200 connections each deliver a message.
 *
 * Run: `deno task bench:transport [MiB]` (default 1024).
 *
 * @module
 */
import { decrypt, decryptStream, encrypt, encryptStream, generateIdentity } from "../mod.ts";
import { connectTcp, connectTls, listenTcp, listenTls, textMessage } from "../transports/mod.ts";
import { selfSignedCertificate } from "../tests/transports/_tls.ts";
import { peakRssKiB } from "../tests/_process.ts";
import type { SealedChunk } from "../mod.ts";
import type { Connection } from "../transports/mod.ts";

const fileMiB = Number(Deno.args[0] ?? 1024);
const bob = await generateIdentity(); // x25519+ml-kem-768
// A 1 KiB chat message in the CLI's payload format (kind byte + UTF-8 text).
const message = textMessage("a".repeat(1023));

const listener = listenTcp("tcp://127.0.0.1:0", async (connection: Connection) => {
  for await (const m of connection.messages()) {
    if (m.kind === "envelope") {
      await decrypt(m.envelope, { identities: [bob.identity] });
      await connection.acknowledge(m.id);
    } else if (m.kind === "stream") {
      const opened = ReadableStream.from(m.pieces).pipeThrough(
        decryptStream({ identities: [bob.identity] }),
      );
      for await (const _ of opened) { /* drain */ }
      await connection.acknowledge(await m.id);
    }
  }
});
const address = `tcp://127.0.0.1:${listener.port}`;

async function chatty(peer: Connection, count: number) {
  const acks = peer.messages();
  for (let i = 0; i < count; i++) {
    const id = await peer.send(await encrypt(message, { recipients: [bob.recipient] }));
    const ack = (await acks.next()).value;
    if (!ack || ack.kind !== "ack" || ack.id.toHex() !== id.toHex()) throw new Error("no ACK");
  }
}

// 1 peer, one message at a time.
{
  const peer = await connectTcp(address);
  await chatty(peer, 20); // warm-up
  const n = 300;
  const start = performance.now();
  await chatty(peer, n);
  const s = (performance.now() - start) / 1000;
  console.log(
    `1 KiB messages, 1 peer: ${(n / s).toFixed(0)} msg/s (${(s / n * 1000).toFixed(2)} ms each)`,
  );
  await peer.close();
}

// The same over TLS (a throwaway certificate from openssl), 1 peer.
{
  const tls = await selfSignedCertificate();
  const tlsListener = listenTls("tls://127.0.0.1:0", async (connection: Connection) => {
    for await (const m of connection.messages()) {
      if (m.kind !== "envelope") continue;
      await decrypt(m.envelope, { identities: [bob.identity] });
      await connection.acknowledge(m.id);
    }
  }, tls);
  const peer = await connectTls(`tls://127.0.0.1:${tlsListener.port}`, { caCerts: [tls.cert] });
  await chatty(peer, 20);
  const n = 300;
  const start = performance.now();
  await chatty(peer, n);
  const s = (performance.now() - start) / 1000;
  console.log(
    `1 KiB messages over TLS, 1 peer: ${(n / s).toFixed(0)} msg/s (${
      (s / n * 1000).toFixed(2)
    } ms each)`,
  );
  await peer.close();
  await tlsListener.close();
}

// 100 concurrent peers.
{
  const peers = await Promise.all(Array.from({ length: 100 }, () => connectTcp(address)));
  const per = 10;
  const start = performance.now();
  await Promise.all(peers.map((p) => chatty(p, per)));
  const s = (performance.now() - start) / 1000;
  console.log(`1 KiB messages, 100 concurrent peers: ${(100 * per / s).toFixed(0)} msg/s in total`);
  await Promise.all(peers.map((p) => p.close()));
}

// A file, streamed, next to a raw TCP copy.
const size = fileMiB * 1024 * 1024;
const block = new Uint8Array(1 << 20).fill(7);
const source = () =>
  new ReadableStream<Uint8Array>(
    {
      sent: 0,
      pull(controller) {
        if (this.sent >= size) return controller.close();
        controller.enqueue(block);
        this.sent += block.length;
      },
    } as UnderlyingDefaultSource<Uint8Array> & { sent: number },
  );
{
  const peer = await connectTcp(address);
  const start = performance.now();
  const id = await peer.sendStream(
    source().pipeThrough(encryptStream({ recipients: [bob.recipient] })) as ReadableStream<
      SealedChunk
    >,
  );
  const ack = (await peer.messages().next()).value;
  if (!ack || ack.kind !== "ack" || ack.id.toHex() !== id.toHex()) throw new Error("no ACK");
  const s = (performance.now() - start) / 1000;
  console.log(
    `${fileMiB} MiB file, encrypt -> TCP -> decrypt: ${(size / 1e6 / s).toFixed(0)} MB/s`,
  );
  await peer.close();
}
{
  const raw = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const receiving = (async () => {
    const conn = await raw.accept();
    for await (const _ of conn.readable) { /* drain */ }
  })();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: (raw.addr as Deno.NetAddr).port });
  const start = performance.now();
  await source().pipeTo(conn.writable);
  await receiving;
  const s = (performance.now() - start) / 1000;
  console.log(`${fileMiB} MiB raw TCP copy (no crypto): ${(size / 1e6 / s).toFixed(0)} MB/s`);
  raw.close();
}
await listener.close();

// Peak RSS of a real listener process under 200 connections.
{
  const dir = await Deno.makeTempDir();
  const key = `${dir}/bob.key`;
  await Deno.writeTextFile(key, bob.identity + "\n", { mode: 0o600 });
  const cli = new URL("../cli/main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net",
      cli,
      "listen",
      "--on",
      "tcp://127.0.0.1:0",
      "-i",
      key,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.getReader();
  let text = "";
  let port = 0;
  while (!port) {
    const { value, done } = await reader.read();
    if (done) throw new Error(text);
    text += new TextDecoder().decode(value);
    port = Number(/:(\d+)\s*$/m.exec(text)?.[1] ?? 0);
  }
  const peers = await Promise.all(
    Array.from({ length: 200 }, () => connectTcp(`tcp://127.0.0.1:${port}`)),
  );
  await Promise.all(peers.map((p) => chatty(p, 1)));
  const hwm = await peakRssKiB(child.pid);
  console.log(
    `listener process, 200 connections each delivering a 1 KiB message: peak RSS ${
      (hwm / 1024).toFixed(0)
    } MiB`,
  );
  await Promise.all(peers.map((p) => p.close()));
  child.kill("SIGTERM");
  await child.status;
  await reader.cancel();
  await Deno.remove(dir, { recursive: true });
}
