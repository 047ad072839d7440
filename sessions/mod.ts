/**
 * Forward-secret sessions (docs/sessions.md): a PQXDH-style handshake whose post-quantum slot
 * takes any registered KEM, then the Double Ratchet with header encryption and a KEM ratchet.
 * An {@linkcode Account} holds one identity's prekeys and sessions in a
 * {@linkcode SessionStore} ({@linkcode MemorySessionStore}, {@linkcode SqliteSessionStore}, or
 * your own), sealed under a key derived from the identity.
 *
 * `decrypt` names the sender by fingerprint: the message proves it, but whether that peer is
 * someone to trust (a contact, a verified one) is the caller's decision; a stranger can start a
 * session with anyone who published a bundle.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity } from "@polycrypt/polycrypt";
 * import {
 *   createAccount,
 *   MemorySessionStore,
 *   SqliteSessionStore,
 * } from "@polycrypt/polycrypt/sessions";
 * const dir = await Deno.makeTempDir();
 * const bob = await createAccount({
 *   identity: (await generateIdentity()).identity,
 *   store: new SqliteSessionStore(`${dir}/bob.db`),
 * });
 * const bundle: Uint8Array = await bob.prekeyBundle({ oneTimeKeys: 20 }); // signed
 * const alice = await createAccount({
 *   identity: (await generateIdentity()).identity,
 *   store: new MemorySessionStore(),
 * });
 * const first = await alice.encrypt(bundle, new TextEncoder().encode("hello Bob"));
 * const { from, data: got } = await bob.decrypt(first); // from: Alice's fingerprint
 * assert.equal(from, alice.fingerprint);
 * assert.equal(new TextDecoder().decode(got), "hello Bob");
 * const reply = await bob.encrypt(from, new TextEncoder().encode("hello Alice"));
 * const back = await alice.decrypt(reply);
 * assert.equal(back.from, bob.fingerprint);
 * assert.equal(new TextDecoder().decode(back.data), "hello Alice");
 * assert.deepEqual(await alice.sessionId(bob.fingerprint), await bob.sessionId(alice.fingerprint));
 * assert.equal((await bob.sessions())[0].kem, "ml-kem-768");
 * await alice.close();
 * await bob.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export {
  type Account,
  type AccountOptions,
  createAccount,
  DEFAULT_SESSION_AEAD,
  DEFAULT_SESSION_KEM,
  MAX_BUNDLE_ONE_TIME_KEYS,
  MAX_ONE_TIME_PREKEYS,
  NoSessionError,
  PREKEY_RETENTION_MS,
  PREKEY_ROTATION_MS,
  type SessionDecryptOptions,
  type SessionInfo,
} from "./account.ts";
export { MemorySessionStore, type SessionStore, type StoreChange } from "./store.ts";
export { SqliteSessionStore } from "./sqlite_store.ts";
export { DEFAULT_KEM_POLICY, type KemPolicy } from "./ratchet.ts";
export {
  parseBundle,
  type ParseBundleOptions,
  type PublicPrekey,
  trimBundle,
  type VerifiedBundle,
} from "./bundle.ts";
export { PREKEY_MESSAGE, RATCHET_MESSAGE, SESSION_MODE, sessionMessageKind } from "./message.ts";
