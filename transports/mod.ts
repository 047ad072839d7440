/**
 * Transports: framed delivery of sealed envelopes between peers, with no server and no presence.
 * They accept only sealed envelopes (type brand plus a run-time magic check), so cleartext cannot
 * be sent. Frame format: `docs/transports.md`. Available: the in-memory pair, TCP, TCP through
 * SOCKS5 (Tor), WebSocket, UDP, XMPP and WebRTC data channels.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { memoryPair } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const [alice, bobEnd] = memoryPair();
 * const id = await alice.send(await encrypt(new TextEncoder().encode("hi"), { recipients: [bob.recipient] }));
 * const first = (await bobEnd.messages().next()).value;
 * assert.ok(first?.kind === "envelope");
 * const plain = await decrypt(first.envelope, { identities: [bob.identity] });
 * assert.equal(new TextDecoder().decode(plain), "hi");
 * await bobEnd.acknowledge(first.id);
 * const ack = (await alice.messages().next()).value;
 * assert.ok(ack?.kind === "ack");
 * assert.equal(ack.id.toHex(), id.toHex());
 * await alice.close();
 * await bobEnd.close();
 * ```
 *
 * @module
 */
export * from "./frame.ts";
export * from "./connection.ts";
export * from "./transport.ts";
export * from "./memory.ts";
export * from "./tcp.ts";
export * from "./tls.ts";
export * from "./socks5.ts";
export * from "./websocket.ts";
export * from "./udp.ts";
export * from "./webrtc.ts";
export * from "./message.ts";
export * from "./dial.ts";
export * from "./xmpp.ts";
// The core types and base error that the transports' signatures name, so that this entry point
// documents them (they are the same as the root module's).
export type { SealedChunk, SealedEnvelope } from "../cascade/envelope.ts";
export { PolycryptError } from "../errors.ts";
