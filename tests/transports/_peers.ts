// The peers the transport tests share: Bob's identity, envelopes sealed to him, a listener's
// `serve` that decrypts, records and acknowledges what arrives, and the sender's ACK check.
import assert from "node:assert/strict";
import { decrypt, encrypt, generateIdentity, type SealedEnvelope } from "../../mod.ts";
import {
  type Connection,
  type FrameError,
  type Inbound,
  listenUdp,
  type UdpListener,
  type UdpListenOptions,
} from "../../transports/mod.ts";

/** The receiving side's identity. */
export const bob = await generateIdentity("x25519");

/** `text` sealed to Bob. */
export const seal = (text: string): Promise<SealedEnvelope> =>
  encrypt(new TextEncoder().encode(text), { recipients: [bob.recipient] });

/** A `serve` that decrypts each whole envelope, records its text in `received` and ACKs it. */
export function recorder(received: string[]): (peer: Inbound) => Promise<void> {
  return async (peer) => {
    for await (const m of peer.messages()) {
      if (m.kind !== "envelope") continue;
      received.push(
        new TextDecoder().decode(await decrypt(m.envelope, { identities: [bob.identity] })),
      );
      await peer.acknowledge(m.id);
    }
  };
}

/** Asserts that the next thing `peer` hears is the ACK of `id`. */
export async function expectAck(peer: Connection, id: Uint8Array): Promise<void> {
  const m = (await peer.messages().next()).value;
  assert.ok(m?.kind === "ack" && m.id.toHex() === id.toHex(), "ACK for the message");
}

/** Sends `text` sealed to Bob and waits for its ACK. */
export async function sendAndAck(peer: Connection, text: string): Promise<void> {
  await expectAck(peer, await peer.send(await seal(text)));
}

/**
 * Resolves with the ms from `start` until the other side closes `conn` (a read returns null or
 * fails); rejects with `message` after `boundMs`.
 */
export async function closedWithin(
  conn: Deno.Conn,
  start: number,
  boundMs: number,
  message: string,
): Promise<number> {
  const buf = new Uint8Array(64);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), boundMs);
  });
  try {
    await Promise.race([
      (async () => {
        try {
          while ((await conn.read(buf)) !== null) { /* drain */ }
        } catch { /* a reset counts as closed */ }
      })(),
      bound,
    ]);
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - start;
}

/** A UDP listener on a free loopback port that decrypts with `identity` and records what comes. */
export async function recordingUdpListener(
  identity: string,
  options: UdpListenOptions = {},
): Promise<{ listener: UdpListener; received: Uint8Array[]; drops: FrameError[] }> {
  const received: Uint8Array[] = [];
  const drops: FrameError[] = [];
  const listener = await listenUdp("udp://127.0.0.1:0", async ({ envelope }) => {
    received.push(await decrypt(envelope, { identities: [identity] }));
  }, { onDrop: (e) => drops.push(e), ...options });
  return { listener, received, drops };
}
