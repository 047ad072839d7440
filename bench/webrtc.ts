/**
 * WebRTC data channel next to TCP, both on loopback, in the same run (issue 27):
 * - set-up time: from `connectTcp` / `connectWebRtc` (ICE gathering, DTLS and SCTP handshakes
 *   included, signalled in memory) to a usable connection;
 * - 1 KiB chat messages per second end to end, one at a time (encrypt to the default hybrid,
 *   send, receive, decrypt, acknowledge), as bench:transport measures for TCP;
 * - bulk MB/s: one sealed envelope of MiB (default 256) sent as a stream and read to its end by
 *   the peer (the transport alone: sealing is done before the clock starts).
 * Both ends run in this one process, on the same cores.
 *
 * Run: `deno task bench:webrtc [MiB]`.
 *
 * @module
 */
import { decrypt, encrypt, generateIdentity, type SealedChunk } from "../mod.ts";
import {
  acceptWebRtc,
  type Connection,
  connectTcp,
  connectWebRtc,
  listenTcp,
  signalPair,
  textMessage,
} from "../transports/mod.ts";

const bulkMiB = Number(Deno.args[0] ?? 256);
const bob = await generateIdentity(); // x25519+ml-kem-768
const message = textMessage("a".repeat(1023));

/** Answers every envelope (decrypting whole ones) and reads streams to their end. */
async function serve(connection: Connection): Promise<void> {
  for await (const m of connection.messages()) {
    if (m.kind === "envelope") {
      await decrypt(m.envelope, { identities: [bob.identity] });
      await connection.acknowledge(m.id);
    } else if (m.kind === "stream") {
      for await (const _ of m.pieces) { /* read through */ }
      await connection.acknowledge(await m.id);
    }
  }
}

async function nextAck(connection: Connection): Promise<void> {
  const { value } = await connection.messages().next();
  if (value?.kind !== "ack") throw new Error("expected an ACK");
}

async function measure(connection: Connection) {
  const seconds = 3;
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await connection.send(await encrypt(message, { recipients: [bob.recipient] }));
    await nextAck(connection);
    count++;
  }
  const rate = count / ((performance.now() - start) / 1000);
  const piece = new Uint8Array(1024 * 1024);
  piece.set((await encrypt(new Uint8Array(64), { recipients: [bob.recipient] })).subarray(0, 64));
  const t0 = performance.now();
  await connection.sendStream((function* () {
    for (let i = 0; i < bulkMiB; i++) yield piece as SealedChunk;
  })());
  await nextAck(connection);
  const mbps = (bulkMiB * 1024 * 1024) / 1e6 / ((performance.now() - t0) / 1000);
  return { rate, mbps };
}

const rows: string[] = [];
for (let round = 0; round < 2; round++) {
  // TCP
  const listener = listenTcp("tcp://127.0.0.1:0", serve);
  let t = performance.now();
  const tcp = await connectTcp(`tcp://127.0.0.1:${listener.port}`);
  const tcpSetup = performance.now() - t;
  const tcpFigures = await measure(tcp);
  await tcp.close();
  await listener.close();
  // WebRTC
  const [a, b] = signalPair();
  t = performance.now();
  const [rtc, rtcPeer] = await Promise.all([
    connectWebRtc(a, { bindAddress: "127.0.0.1" }),
    acceptWebRtc(b, { bindAddress: "127.0.0.1" }),
  ]);
  const rtcSetup = performance.now() - t;
  const serving = serve(rtcPeer).catch(() => {});
  const rtcFigures = await measure(rtc);
  await rtc.close();
  await rtcPeer.close();
  await serving;
  rows.push(
    `| ${round + 1} | tcp    | ${tcpSetup.toFixed(1)} ms | ${tcpFigures.rate.toFixed(0)}/s | ${
      tcpFigures.mbps.toFixed(0)
    } MB/s |`,
    `| ${round + 1} | webrtc | ${rtcSetup.toFixed(1)} ms | ${rtcFigures.rate.toFixed(0)}/s | ${
      rtcFigures.mbps.toFixed(0)
    } MB/s |`,
  );
}
console.log(`| run | transport | set-up | 1 KiB messages | bulk (${bulkMiB} MiB) |`);
console.log("| --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);
Deno.exit(0); // node-datachannel threads would keep the process alive
