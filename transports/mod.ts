/**
 * Transports: framed delivery of sealed envelopes between peers, with no server and no presence.
 * They accept only sealed envelopes (type brand plus a run-time magic check), so cleartext cannot
 * be sent. Frame format: `docs/transports.md`. Available: the in-memory pair, TCP, TCP through
 * SOCKS5 (Tor), WebSocket and UDP.
 *
 * @example
 * ```ts
 * import { memoryPair } from "./mod.ts";
 * import { decrypt, encrypt, generateIdentity } from "../mod.ts";
 * const bob = await generateIdentity("x25519");
 * const [alice, bobEnd] = memoryPair();
 * const id = await alice.send(await encrypt(new TextEncoder().encode("hi"), { recipients: [bob.recipient] }));
 * const incoming = bobEnd.messages();
 * const first = (await incoming.next()).value!;
 * if (first.kind === "envelope") {
 *   console.log(new TextDecoder().decode(await decrypt(first.envelope, { identities: [bob.identity] }))); // hi
 *   await bobEnd.acknowledge(first.id);
 * }
 * const ack = (await alice.messages().next()).value!;
 * console.log(ack.kind, ack.kind === "ack" && ack.id.toHex() === id.toHex()); // ack true
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
export * from "./message.ts";
export * from "./dial.ts";
