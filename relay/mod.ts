/**
 * Offline delivery: a blind store-and-forward relay (`docs/relay.md`). A recipient creates a
 * queue and gives its sending id to a sender; the sender deposits sealed envelopes; the recipient
 * fetches or subscribes, and acknowledges each message, which deletes it. The relay sees only
 * random queue ids, per-queue authorization keys and sealed envelopes. Stores: SQLite
 * (`node:sqlite`, built in) and PostgreSQL (`PostgresStore`, `relay/postgres.ts`, for several
 * relay processes).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { openInbox, RelayClient, RelayServer, SqliteStore } from "@polycrypt/polycrypt/relay";
 *
 * const server = new RelayServer({ store: new SqliteStore(":memory:") });
 * const url = await server.listen("ws://127.0.0.1:0");
 *
 * // Bob makes an inbox and goes offline; Alice holds its sending id and Bob's recipient string.
 * const bob = await generateIdentity("x25519");
 * const bobRelay = await RelayClient.connect(url);
 * const inbox = await openInbox(bobRelay);
 * await bobRelay.close();
 *
 * const alice = await RelayClient.connect(url);
 * await alice.send(inbox.sendingId, await encrypt(new TextEncoder().encode("see you at 7"), { recipients: [bob.recipient] }));
 * await alice.close();
 *
 * // Bob comes back and subscribes: the message waited for him.
 * const back = await RelayClient.connect(url);
 * for await (const message of await back.subscribe(inbox.receivingId, inbox.key)) {
 *   const text = new TextDecoder().decode(await decrypt(message.envelope, { identities: [bob.identity] }));
 *   assert.equal(text, "see you at 7");
 *   await back.ack(inbox.receivingId, inbox.key, message.id);
 *   break;
 * }
 * await back.close();
 * await server.close();
 * ```
 *
 * @module
 */
export * from "./protocol.ts";
export * from "./store.ts";
export * from "./sqlite.ts";
export * from "./server.ts";
export * from "./client.ts";
export * from "./signal.ts";
export { PostgresStore, type PostgresStoreOptions } from "./postgres.ts";
export {
  encodeInvitation,
  type Invitation,
  INVITATION_PREFIX,
  INVITATION_SCHEMES,
  parseInvitation,
} from "./invite.ts";
