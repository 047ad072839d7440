// Generates tests/vectors/polycrypt/sessions/first_messages.json: a session's first messages on
// the wire (docs/sessions.md section 4), a handshake and the first ratchet messages both ways, with
// fixed randomness (X25519 keys and nonce_h from SHA-256 counter streams through the sessions'
// internal hooks, ML-KEM keys from seeds and encapsulations from a fixed FIPS 203 m). The
// identities, the bundle signature and ik_cert (hedged ML-DSA) are as made and recorded.
// tests/sessions/first_messages_test.ts replays the conversation and compares every byte.
// Run once, never over the committed file:
//
//   deno run --allow-read --allow-write --allow-env scripts/session_first_messages.ts [OUT]
import { generateIdentity } from "../mod.ts";
import { firstMessages, hex, LABEL } from "../tests/sessions/_first_messages.ts";

const out = Deno.args[0] ?? "tests/vectors/polycrypt/sessions/first_messages.json";
try {
  await Deno.lstat(out);
  console.error(`${out} exists: committed vectors are never regenerated (name another file)`);
  Deno.exit(1);
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

const alice = await generateIdentity("x25519");
const bob = await generateIdentity("x25519");
const made = await firstMessages({ alice, bob });
const pair = (p: { id: number; publicKey: Uint8Array; secretKey: Uint8Array }) => ({
  id: p.id,
  public: hex(p.publicKey),
  secret: hex(p.secretKey),
});
const file = {
  description: "The first messages of a session on the wire (docs/sessions.md sections 2 to 5, " +
    "format version 1): Alice's two prekey messages from Bob's bundle (one OPK, one PQOPK, " +
    "ml-kem-768, aes-256-gcm), Bob's two replies, Alice's first ratchet message and Bob's answer.",
  provenance: "Generated once by scripts/session_first_messages.ts (polycrypt, 2026-12-03) with " +
    `fixed randomness: SHA-256(label || u32 counter) streams labelled "${LABEL} prekeys", ` +
    '"... alice" and "... bob" through the sessions\' internal hooks (X25519 keys, nonce_h), ' +
    "ML-KEM key pairs from 64-byte seeds and encapsulations from 32-byte m drawn from the same " +
    "streams. The identities, the bundle signature and ik_cert (hedged ML-DSA) are as made and " +
    "recorded. Checked by tests/sessions/first_messages_test.ts. Never regenerate over this file.",
  alice: { identity: alice.identity, recipient: alice.recipient },
  bob: { identity: bob.identity, recipient: bob.recipient },
  bundle: hex(made.bundle),
  prekeys: {
    spk: pair(made.prekeys.spk),
    opk: pair(made.prekeys.opk),
    pqspk: pair(made.prekeys.pqspk),
    pqopk: pair(made.prekeys.pqopk),
  },
  session_id: hex(made.sessionId),
  prekey_head: hex(made.prekeyHead),
  sealed_from: hex(made.sealedFrom),
  messages: made.messages.map((m) => ({
    from: m.from,
    kind: m.kind,
    now: m.now,
    text: m.text,
    message: hex(m.message),
  })),
};
await Deno.writeTextFile(out, JSON.stringify(file, null, 1) + "\n");
console.log(`wrote ${out}: ${file.messages.length} messages`);
