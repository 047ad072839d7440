/**
 * WebRTC data channel next to TCP, both on loopback, in the same run (issue 27):
 * - set-up time: from `connectTcp` / `connectWebRtc` (ICE gathering, DTLS and SCTP handshakes
 *   included, signalled in memory) to a usable connection;
 * - 1 KiB chat messages per second end to end, one at a time (encrypt to the default hybrid,
 *   send, receive, decrypt, acknowledge), as bench:transport measures for TCP: six turns of
 *   0.5 s per transport, TCP and WebRTC in turns;
 * - bulk MB/s: sealed envelopes of MiB/2 (default 256 in all) sent as streams and read to their
 *   end by the peer (the transport alone: sealing is done before the clock starts), two per
 *   transport, in turns.
 * Both ends run in this one process, on the same cores; each round opens a TCP connection and two
 * data channels, one with libdatachannel's default MTU (1280) and one with `mtu: 4096`
 * (docs/transports.md section 12, "Packet size"), and prints a row for each, with WebRTC's figures
 * as a fraction of TCP's.
 *
 * Run: `deno task bench:webrtc [MiB] [rounds]`.
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
  type WebRtcOptions,
} from "../transports/mod.ts";

const bulkMiB = Number(Deno.args[0] ?? 256);
const rounds = Number(Deno.args[1] ?? 2);
if (!(bulkMiB >= 2 && bulkMiB % 2 === 0) || !(rounds >= 1)) {
  throw new RangeError(
    "usage: deno task bench:webrtc [MiB (even, default 256)] [rounds (default 2)]",
  );
}
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

/** 1 KiB messages, one at a time, for `ms`: [messages, seconds]. */
async function messages(connection: Connection, ms: number): Promise<[number, number]> {
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await connection.send(await encrypt(message, { recipients: [bob.recipient] }));
    await nextAck(connection);
    count++;
  }
  return [count, (performance.now() - start) / 1000];
}

const piece = new Uint8Array(1024 * 1024);
piece.set((await encrypt(new Uint8Array(64), { recipients: [bob.recipient] })).subarray(0, 64));

/** One stream of `mib` MiB, sent and acknowledged: seconds. */
async function bulk(connection: Connection, mib: number): Promise<number> {
  const t0 = performance.now();
  await connection.sendStream((function* () {
    for (let i = 0; i < mib; i++) yield piece as SealedChunk;
  })());
  await nextAck(connection);
  return (performance.now() - t0) / 1000;
}

interface Figures {
  setupMs: number;
  count: number;
  seconds: number;
  bulkSeconds: number;
}

const WINDOWS = 6; // 1 KiB windows per transport and round, in turns
const WINDOW_MS = 500;
const STREAMS = 2; // bulk streams per transport and round, in turns
const rows: string[] = [];
for (let round = 0; round < rounds; round++) {
  const figures = (): Figures => ({ setupMs: 0, count: 0, seconds: 0, bulkSeconds: 0 });
  const [tcp, rtc, rtc4k] = [figures(), figures(), figures()];
  const listener = listenTcp("tcp://127.0.0.1:0", serve);
  const t = performance.now();
  const tcpConnection = await connectTcp(`tcp://127.0.0.1:${listener.port}`);
  tcp.setupMs = performance.now() - t;
  /** A data channel on loopback: its connection, and its peer's serving. */
  const channel = async (f: Figures, options: WebRtcOptions) => {
    const [a, b] = signalPair();
    const t = performance.now();
    const [connection, peer] = await Promise.all([
      connectWebRtc(a, options),
      acceptWebRtc(b, options),
    ]);
    f.setupMs = performance.now() - t;
    return { connection, peer, serving: serve(peer).catch(() => {}) };
  };
  const plain = await channel(rtc, { bindAddress: "127.0.0.1" });
  const big = await channel(rtc4k, { bindAddress: "127.0.0.1", mtu: 4096 });
  // The transports take turns (in a rotating order), so that the other processes' load (the
  // figures are noisy on a shared machine) weighs on all alike.
  const turns: [Connection, Figures][] = [
    [tcpConnection, tcp],
    [plain.connection, rtc],
    [big.connection, rtc4k],
  ];
  const rotated = (k: number) => [...turns.slice(k % 3), ...turns.slice(0, k % 3)];
  for (let w = 0; w < WINDOWS; w++) {
    for (const [connection, f] of rotated(w)) {
      const [n, s] = await messages(connection, WINDOW_MS);
      f.count += n;
      f.seconds += s;
    }
  }
  for (let k = 0; k < STREAMS; k++) {
    for (const [connection, f] of rotated(k)) {
      f.bulkSeconds += await bulk(connection, bulkMiB / STREAMS);
    }
  }
  await tcpConnection.close();
  await listener.close();
  for (const c of [plain, big]) {
    await c.connection.close();
    await c.peer.close();
    await c.serving;
  }
  const rate = (f: Figures) => f.count / f.seconds;
  const mbps = (f: Figures) => (bulkMiB * 1024 * 1024) / 1e6 / f.bulkSeconds;
  const load = Deno.loadavg()[0].toFixed(1);
  const rows3 = [["tcp", tcp], ["webrtc", rtc], ["webrtc, mtu 4096", rtc4k]] as const;
  for (const [name, f] of rows3) {
    const ratio = f === tcp
      ? ""
      : `${(rate(f) / rate(tcp)).toFixed(2)}x / ${(mbps(f) / mbps(tcp)).toFixed(2)}x`;
    rows.push(
      `| ${round + 1} | ${name} | ${f.setupMs.toFixed(1)} ms | ${rate(f).toFixed(0)}/s | ${
        mbps(f).toFixed(0)
      } MB/s | ${ratio} | ${load} |`,
    );
  }
}
console.log(
  `| round | transport | set-up | 1 KiB messages | bulk (${bulkMiB} MiB) | webrtc/tcp (messages / bulk) | load |`,
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);
Deno.exit(0); // node-datachannel threads would keep the process alive
