import assert from "node:assert/strict";
import { DecryptionError, FormatError } from "../../mod.ts";
import {
  decodeRatchetState,
  encodeRatchetState,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
} from "../../sessions/ratchet.ts";
import { newSession, PREFIX, suiteOf, text } from "./_ratchet.ts";

/** States at every kind of point of a session: fresh, mid-chain, skipped keys, step pending. */
async function sampleStates(): Promise<RatchetState[]> {
  const { alice, bob } = await newSession(suiteOf("ml-kem-512"));
  const states = [alice.state, bob.state];
  const a = [await alice.send(text("0")), await alice.send(text("1")), await alice.send(text("2"))];
  states.push(alice.state);
  await bob.receive(a[2]);
  states.push(bob.state); // skipped keys, a step pending
  await alice.receive(await bob.send(text("b")));
  states.push(bob.state, alice.state); // KEM pending on Bob's chain
  await bob.receive(a[0]);
  states.push(bob.state);
  return states;
}

Deno.test("state encoding round-trips and the decoded state carries on", async () => {
  const { alice, bob } = await newSession(suiteOf("ml-kem-512"));
  await bob.receive(await alice.send(text("x")));
  const skipped = await alice.send(text("skipped"));
  const later = await alice.send(text("later"));
  await bob.receive(later);
  for (const state of await sampleStates()) {
    const bytes = encodeRatchetState(state);
    assert.equal(bytes.subarray(0, 8).toHex(), new TextEncoder().encode("PCSTATE\x01").toHex());
    assert.deepEqual(encodeRatchetState(decodeRatchetState(bytes)), bytes);
  }
  const bytes = encodeRatchetState(bob.state);
  const decoded = decodeRatchetState(bytes);
  bytes.fill(0); // the decoded state owns its bytes
  assert.deepEqual(
    (await ratchetDecrypt(bob.suite, decoded, PREFIX, skipped)).data,
    text("skipped"),
  );
});

Deno.test("malformed states are FormatErrors: truncations, trailing bytes, flips", async () => {
  for (const state of await sampleStates()) {
    const bytes = encodeRatchetState(state);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(() => decodeRatchetState(bytes.subarray(0, n)), FormatError, `length ${n}`);
    }
    assert.throws(() => decodeRatchetState(Uint8Array.of(...bytes, 0)), FormatError);
    // Every single-bit flip either still parses (a key's bits) or is a FormatError.
    let refused = 0;
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [0, 7]) {
        const flipped = bytes.slice();
        flipped[i] ^= 1 << bit;
        try {
          decodeRatchetState(flipped);
        } catch (e) {
          assert.ok(e instanceof FormatError, `byte ${i}: ${e}`);
          refused++;
        }
      }
    }
    assert.ok(refused > 20);
  }
  const good = encodeRatchetState((await sampleStates())[3]);
  const at = (b: Uint8Array, i: number, v: number) => {
    const c = b.slice();
    c[i] = v;
    return c;
  };
  assert.throws(() => decodeRatchetState(at(good, 0, 0x41)), FormatError); // magic
  assert.throws(() => decodeRatchetState(at(good, 7, 2)), FormatError); // version
  assert.throws(() => decodeRatchetState(new Uint8Array(0)), FormatError);
  assert.throws(() => decodeRatchetState("PCSTATE" as never), TypeError);
});

Deno.test("encrypt and decrypt never modify the state they are given", async () => {
  const { alice, bob } = await newSession(suiteOf("ml-kem-512"));
  const a0 = await alice.send(text("a0"));
  for (const [peer, body] of [[bob, a0]] as const) {
    const before = encodeRatchetState(peer.state);
    const input = peer.state;
    const out = await ratchetDecrypt(peer.suite, input, PREFIX, body);
    assert.deepEqual(encodeRatchetState(input), before);
    assert.notEqual(out.state, input);
    await assert.rejects(ratchetDecrypt(peer.suite, out.state, PREFIX, body), DecryptionError);
    peer.state = out.state;
  }
  for (const peer of [alice, bob]) {
    const before = encodeRatchetState(peer.state);
    const out = await ratchetEncrypt(peer.suite, peer.state, text("x"), PREFIX);
    assert.deepEqual(encodeRatchetState(peer.state), before);
    // The same input state twice gives two different bodies under the same message key: the
    // caller must keep the new state (the store commits it before the body is sent).
    const again = await ratchetEncrypt(peer.suite, peer.state, text("x"), PREFIX);
    assert.deepEqual(encodeRatchetState(out.state).length, encodeRatchetState(again.state).length);
    peer.state = out.state;
  }
});

Deno.test("encodeRatchetState refuses what is not a state", () => {
  assert.throws(() => encodeRatchetState({} as RatchetState), TypeError);
  assert.throws(() => encodeRatchetState(null as unknown as RatchetState), TypeError);
});
