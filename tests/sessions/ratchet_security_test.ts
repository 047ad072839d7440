// Forward secrecy and post-compromise security of the ratchet (docs/sessions.md section 8), shown
// on both sides of each boundary: what an attacker holding a state copy (and the recorded traffic)
// still reads, and from which message on she reads nothing.
import assert from "node:assert/strict";
import { DecryptionError } from "../../mod.ts";
import { headerNonce, kdfCk, messageKeys } from "../../sessions/_kdf.ts";
import type { State } from "../../sessions/_state.ts";
import {
  encodeRatchetState,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
  type RatchetSuite,
} from "../../sessions/ratchet.ts";
import { newSession, Peer, PREFIX, suiteOf, text } from "./_ratchet.ts";

const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

/**
 * What a holder of a sender's state reads of that sender's messages: the current sending chain,
 * from its next message key on (the attacker's tool; the ratchet itself never decrypts its own
 * messages).
 */
async function readSent(suite: RatchetSuite, state: RatchetState, body: Uint8Array) {
  const s = state as State;
  if (!s.hks || !s.cks) throw new DecryptionError();
  const view = new DataView(body.buffer, body.byteOffset);
  const headEnd = 16 + view.getUint32(12);
  const header = await suite.aead.open(
    s.hks,
    headerNonce(body.subarray(0, 12), suite.aead.nonceSize),
    body.subarray(16, headEnd),
    cat(s.ad, PREFIX),
  );
  const n = new DataView(header.buffer, header.byteOffset).getUint32(36);
  if (n < s.ns) throw new DecryptionError(); // that key was used and deleted
  let ck = s.cks;
  for (let i = s.ns; i < n; i++) ck = kdfCk(ck).ck;
  const { key, nonce } = messageKeys(kdfCk(ck).mk, suite.aead.id, 32, suite.aead.nonceSize);
  const padded = await suite.aead.open(
    key,
    nonce,
    body.subarray(headEnd),
    cat(s.ad, PREFIX, body.subarray(0, headEnd)),
  );
  let end = padded.length - 1;
  while (padded[end] === 0) end--;
  return padded.subarray(0, end);
}

const opens = async (p: Promise<Uint8Array>, expected: Uint8Array) =>
  assert.deepEqual(await p, expected);
const fails = (p: Promise<unknown>) => assert.rejects(p, DecryptionError);

Deno.test("forward secrecy: neither side's later state opens a received message", async () => {
  const { alice, bob } = await newSession(suiteOf());
  await bob.receive(await alice.send(text("hello")));
  await alice.receive(await bob.send(text("hi")));
  const m0 = await alice.send(text("m0")), m1 = await alice.send(text("m1"));
  // Before delivery, a copy of Bob's state (or of Alice's, before she sent) would open them.
  const bobBefore = bob.state;
  assert.deepEqual((await ratchetDecrypt(bob.suite, bobBefore, PREFIX, m0)).data, text("m0"));
  assert.deepEqual(await bob.receive(m1), text("m1")); // m0's key is now a stored skipped key
  assert.deepEqual(await bob.receive(m0), text("m0")); // ... and now deleted
  for (const m of [m0, m1]) {
    await fails(ratchetDecrypt(bob.suite, bob.state, PREFIX, m));
    await fails(ratchetDecrypt(alice.suite, alice.state, PREFIX, m));
    await fails(readSent(alice.suite, alice.state, m)); // her chain key moved past them
  }
  // After a few more turns, both chains and the root have moved on: still nothing.
  for (let i = 0; i < 3; i++) {
    await bob.receive(await alice.send(text("x")));
    await alice.receive(await bob.send(text("y")));
  }
  for (const m of [m0, m1]) {
    await fails(ratchetDecrypt(bob.suite, bob.state, PREFIX, m));
    await fails(ratchetDecrypt(alice.suite, alice.state, PREFIX, m));
    await fails(readSent(alice.suite, alice.state, m));
  }
  // Neither m0's message key nor the chain key it came from is left in either state.
  const mk0 = kdfCk((bobBefore as State).ckr!);
  for (const state of [alice.state, bob.state]) {
    const bytes = encodeRatchetState(state).toHex();
    assert.ok(!bytes.includes(mk0.mk.toHex()) && !bytes.includes(mk0.ck.toHex()));
    assert.ok(!bytes.includes((bobBefore as State).ckr!.toHex()));
  }
});

Deno.test("post-compromise security: a copy of Alice's state reads until one round trip", async () => {
  // Every direction change makes a DH and a KEM step.
  const suite = suiteOf("ml-kem-768", { policy: { messages: 1, milliseconds: 1e12 } });
  const { alice, bob } = await newSession(suite);
  for (let i = 0; i < 3; i++) {
    await bob.receive(await alice.send(text(`a${i}`)));
    await alice.receive(await bob.send(text(`b${i}`)));
  }
  const bx = await bob.send(text("bx")); // Bob's chain B_k
  await alice.receive(bx);
  const a1 = await alice.send(text("a1")); // Alice's new chain A_k+1: DH and KEM step
  // Time t: Eve copies Alice's whole state and records everything from now on.
  const eve = new Peer(suite, structuredClone(alice.state));
  const eveSent = structuredClone(alice.state);

  // Before healing, Eve reads:
  const a2 = await alice.send(text("a2"));
  await opens(readSent(suite, eveSent, a2), text("a2")); // Alice's current chain
  const late = await bob.send(text("late")); // Bob's current chain B_k
  await opens(eve.receive(late), text("late"));
  await bob.receive(a1);
  await bob.receive(a2);
  await alice.receive(late);
  const b1 = await bob.send(text("b1")); // Bob's new chain: DH and KEM to keys in Eve's copy
  await opens(eve.receive(b1), text("b1"));
  await alice.receive(b1);

  // One round trip later Alice has made fresh DH and KEM keys Eve never saw: nothing opens.
  const a3 = await alice.send(text("a3"));
  await fails(eve.receive(a3));
  await fails(readSent(suite, eve.state, a3));
  // Eve's best try: the same step with her own keys. It gives her the new chain's header key,
  // derived one step earlier (she opens a3's header), but not its chain key.
  const guess = await ratchetEncrypt(suite, eve.state, text("guess"), PREFIX);
  const headEnd = 16 + new DataView(a3.buffer, a3.byteOffset).getUint32(12);
  const header = await suite.aead.open(
    (guess.state as State).hks!,
    a3.subarray(0, 12),
    a3.subarray(16, headEnd),
    cat((eve.state as State).ad, PREFIX),
  );
  assert.deepEqual(header.subarray(32, 41), Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 0, 3));
  await bob.receive(a3);
  const b2 = await bob.send(text("b2"));
  await fails(eve.receive(b2));
  await fails(ratchetDecrypt(suite, guess.state, PREFIX, b2));
  await alice.receive(b2);
  for (let i = 0; i < 3; i++) {
    const a = await alice.send(text(`later a${i}`));
    await fails(eve.receive(a));
    await bob.receive(a);
    const b = await bob.send(text(`later b${i}`));
    await fails(eve.receive(b));
    await alice.receive(b);
  }
});

/** A suite whose X25519 ratchet secrets are recorded (the X25519-breaking attacker's view). */
function recording(base: RatchetSuite) {
  const secrets: Uint8Array[] = [];
  const suite: RatchetSuite = {
    ...base,
    random(n: number) {
      const bytes = crypto.getRandomValues(new Uint8Array(n));
      if (n === 32) secrets.push(bytes.slice());
      return bytes;
    },
  };
  return { suite, secrets };
}

/** A suite that replays the X25519 secrets `secrets` from `from` on, with fresh everything else. */
function replaying(base: RatchetSuite, secrets: Uint8Array[], from: number): RatchetSuite {
  let i = from;
  return {
    ...base,
    random(n: number) {
      if (n !== 32) return crypto.getRandomValues(new Uint8Array(n));
      assert.ok(i < secrets.length, "the mirror asks for no more DH secrets than were made");
      return secrets[i++];
    },
  };
}

Deno.test("harvest now, decrypt later: breaking X25519 reads until a KEM step to a fresh key", async () => {
  // KEM steps only when the clock says so (every 1000 ms): DH-only steps in between.
  const base = suiteOf("ml-kem-768", { policy: { messages: 1e9, milliseconds: 1000 } });
  const a = recording(base), b = recording(base);
  const { alice, bob } = await newSession(a.suite, b.suite, 0);
  let now = 0;
  await bob.receive(await alice.send(text("hello"), now), now);
  await alice.receive(await bob.send(text("hi"), now), now); // Bob's first step has a KEM step
  await bob.receive(await alice.send(text("ok"), ++now), now);
  await alice.receive(await bob.send(text("ok"), ++now), now);

  // Time t: Eve holds copies of both states. From now on she learns every X25519 secret the two
  // make (a quantum computer), but no KEM secret.
  const mirror = {
    alice: new Peer(replaying(base, a.secrets, a.secrets.length), structuredClone(alice.state)),
    bob: new Peer(replaying(base, b.secrets, b.secrets.length), structuredClone(bob.state)),
  };
  const real = { alice, bob };
  /** Sends for real, mirrors the sender's step, and says whether Eve read the message. */
  const exchange = async (from: "alice" | "bob", data: string, t: number) => {
    const to = from === "alice" ? "bob" : "alice";
    const body = await real[from].send(text(data), t);
    await mirror[from].send(text("mirror"), t); // same DH secret; her own KEM randomness
    await real[to].receive(body, t);
    try {
      assert.deepEqual(await mirror[to].receive(body, t), text(data));
    } catch (e) {
      if (e instanceof DecryptionError) return { read: false, body };
      throw e;
    }
    // Eve now knows the real root: her mirror of the sender takes it (her best attacker).
    const synced: State = { ...(mirror[from].state as State), rk: (mirror[to].state as State).rk };
    mirror[from].state = synced;
    return { read: true, body };
  };

  // DH-only steps after t: Eve follows them (she has every DH secret).
  assert.equal((await exchange("alice", "dh only 1", ++now)).read, true);
  assert.equal((await exchange("bob", "dh only 2", ++now)).read, true);
  assert.equal((await exchange("alice", "dh only 3", ++now)).read, true);
  // Bob's KEM step encapsulates to Alice's KEM key of before t, which Eve's copy holds: read.
  now += 1000;
  assert.equal((await exchange("bob", "kem to an old key", now)).read, true);
  // Alice's KEM step encapsulates to Bob's new key (made after t, unknown to Eve): the boundary.
  const step = await exchange("alice", "kem to a fresh key", ++now);
  assert.equal(step.read, false);
  // The only thing Eve lacked was Bob's new KEM secret: with it, the same mirror reads the message.
  const withKemSecret = { ...(mirror.bob.state as State), kems: (bob.state as State).kems };
  await opens(
    ratchetDecrypt(base, withKemSecret, PREFIX, step.body, now).then((r) => r.data),
    text("kem to a fresh key"),
  );
  // And from then on, nothing, DH-only steps included.
  for (let i = 0; i < 3; i++) {
    assert.equal((await exchange("bob", `after b${i}`, ++now)).read, false);
    assert.equal((await exchange("alice", `after a${i}`, ++now)).read, false);
  }
});
