// tests/vectors/polycrypt/sessions/first_messages.json: a session's first messages on the wire,
// replayed byte for byte with the recorded randomness, and read from the recorded keys alone.
import assert from "node:assert/strict";
import { registry } from "../../engines/mod.ts";
import { parseBundle } from "../../sessions/bundle.ts";
import { parsePrekeyMessage, respond } from "../../sessions/handshake.ts";
import { PREKEY_MESSAGE, RATCHET_MESSAGE, sessionMessageKind } from "../../sessions/message.ts";
import { initBob, ratchetDecrypt } from "../../sessions/ratchet.ts";
import { firstMessages, hex, unhex } from "./_first_messages.ts";

interface Pair {
  id: number;
  public: string;
  secret: string;
}
const vector = JSON.parse(
  await Deno.readTextFile(
    new URL("../vectors/polycrypt/sessions/first_messages.json", import.meta.url),
  ),
) as {
  alice: { identity: string; recipient: string };
  bob: { identity: string; recipient: string };
  bundle: string;
  prekeys: Record<"spk" | "opk" | "pqspk" | "pqopk", Pair>;
  session_id: string;
  prekey_head: string;
  sealed_from: string;
  messages: {
    from: "alice" | "bob";
    kind: "prekey" | "ratchet";
    now: number;
    text: string;
    message: string;
  }[];
};

Deno.test("first messages: the replay with the recorded randomness makes every byte again", async () => {
  const made = await firstMessages({
    alice: vector.alice,
    bob: vector.bob,
    bundle: unhex(vector.bundle),
    sealedFrom: unhex(vector.sealed_from),
  });
  for (const name of ["spk", "opk", "pqspk", "pqopk"] as const) {
    assert.equal(hex(made.prekeys[name].publicKey), vector.prekeys[name].public, name);
    assert.equal(hex(made.prekeys[name].secretKey), vector.prekeys[name].secret, name);
  }
  assert.equal(hex(made.sessionId), vector.session_id);
  assert.equal(hex(made.prekeyHead), vector.prekey_head);
  assert.equal(made.messages.length, vector.messages.length);
  for (const [i, m] of made.messages.entries()) {
    const want = vector.messages[i];
    assert.deepEqual({ from: m.from, kind: m.kind, now: m.now, text: m.text }, {
      from: want.from,
      kind: want.kind,
      now: want.now,
      text: want.text,
    });
    assert.equal(hex(m.message), want.message, `message ${i}`);
  }
});

Deno.test("first messages: Bob reads the recorded prekey messages with the recorded keys alone", async () => {
  const bundle = await parseBundle(unhex(vector.bundle), { expect: vector.bob.recipient });
  assert.equal(bundle.kem.id, "ml-kem-768");
  assert.equal(hex(bundle.spk.publicKey), vector.prekeys.spk.public);
  const key = (p: Pair) => ({ id: p.id, publicKey: unhex(p.public), secretKey: unhex(p.secret) });
  const lookupOf = (name: "spk" | "opk" | "pqspk" | "pqopk") => (id: number) =>
    Promise.resolve(
      id === vector.prekeys[name].id
        ? { ...key(vector.prekeys[name]), kem: "ml-kem-768" }
        : undefined,
    );
  const messages = vector.messages.map((m) => unhex(m.message));
  assert.deepEqual(messages.map(sessionMessageKind), [
    PREKEY_MESSAGE,
    PREKEY_MESSAGE,
    RATCHET_MESSAGE,
    RATCHET_MESSAGE,
    RATCHET_MESSAGE,
    RATCHET_MESSAGE,
  ]);
  const aead = registry.aead("aes-256-gcm");
  const suite = { kem: registry.kem("ml-kem-768"), aead };
  // The second prekey message first: either one starts the session.
  for (const order of [[0, 1], [1, 0]]) {
    const first = parsePrekeyMessage(messages[order[0]]);
    assert.equal(hex(first.headBytes), vector.prekey_head);
    const hs = await respond(vector.bob.identity, first, {
      spk: lookupOf("spk"),
      opk: lookupOf("opk"),
      pqspk: lookupOf("pqspk"),
      pqopk: lookupOf("pqopk"),
    }, { registry, aead });
    assert.equal(hs.peerRecipient, vector.alice.recipient);
    assert.equal(hex(hs.sessionId), vector.session_id);
    assert.deepEqual(hs.used, { spk: 1, pq: { kind: "pqopk", id: 2 }, opk: 2 });
    let state = await initBob(suite, {
      rootKey: hs.rootKey,
      nextSendHeaderKey: hs.nextHeaderKey,
      nextRecvHeaderKey: hs.headerKey,
      ownDh: hs.ownDh,
      ad: hs.ad,
      now: vector.messages[0].now,
    });
    for (const i of order) {
      const p = parsePrekeyMessage(messages[i]);
      const out = await ratchetDecrypt(suite, state, p.prefix, p.body, vector.messages[i].now);
      assert.equal(new TextDecoder().decode(out.data), vector.messages[i].text);
      state = out.state;
    }
  }
});
