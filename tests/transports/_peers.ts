// The peers the transport tests share: Bob's identity, envelopes sealed to him, a listener's
// `serve` that decrypts, records and acknowledges what arrives, and the sender's ACK check.
import assert from "node:assert/strict";
import { decrypt, encrypt, generateIdentity, type SealedEnvelope } from "../../mod.ts";
import type { Connection, Inbound } from "../../transports/mod.ts";

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
