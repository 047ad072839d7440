import assert from "node:assert/strict";
import { DecryptionError } from "../../mod.ts";
import { encodeRatchetState, ratchetDecrypt } from "../../sessions/ratchet.ts";
import { newSession, PREFIX, suiteOf, text } from "./_ratchet.ts";

/** A deterministic xorshift stream, so a failure can be replayed from its seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

const same = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** One mutation of `bytes`: flipped bits, a truncation or an extension. */
function mutate(bytes: Uint8Array, next: (n: number) => number): Uint8Array {
  const kind = next(4);
  if (kind <= 1) {
    const out = bytes.slice();
    // One bit, or up to three; a bit flipped twice is flipped again until something changed.
    for (let i = 0, flips = 1 + next(kind === 0 ? 1 : 3); i < flips || same(out, bytes); i++) {
      out[next(out.length)] ^= 1 << next(8);
    }
    return out;
  }
  if (kind === 2) return bytes.slice(0, next(bytes.length));
  const out = new Uint8Array(bytes.length + 1 + next(64));
  out.set(bytes);
  for (let i = bytes.length; i < out.length; i++) out[i] = next(256);
  return out;
}

Deno.test("100,000 mutated ratchet messages are refused and change nothing", async () => {
  const seed = Date.now() >>> 0;
  const next = rng(seed);
  const { alice, bob } = await newSession(suiteOf("ml-kem-768"));
  await bob.receive(await alice.send(text("hello")));
  await alice.receive(await bob.send(text("hi")));
  // Bob's state: a current chain, skipped keys, and a new chain with a KEM step on its way.
  const chain = [];
  for (let i = 0; i < 6; i++) chain.push(await alice.send(text(`current ${i}`)));
  await bob.receive(chain[3]); // keys 0..2 stored as skipped
  const skipped = chain[1], current = chain[5];
  await alice.receive(await bob.send(text("again")));
  const targets = [
    { name: "current chain", body: current, data: text("current 5"), count: 45_000 },
    { name: "skipped key", body: skipped, data: text("current 1"), count: 30_000 },
  ];
  // A message of Alice's next chain (DH step; her KEM step comes with the policy at 50).
  const nextChain = await alice.send(text("next chain"));
  targets.push({ name: "new chain", body: nextChain, data: text("next chain"), count: 20_000 });
  const before = encodeRatchetState(bob.state);
  const state = bob.state;
  const started = performance.now();
  let refused = 0;
  const times: string[] = [];
  for (const target of targets) {
    for (let i = 0; i < target.count; i++) {
      const body = mutate(target.body, next);
      try {
        await ratchetDecrypt(bob.suite, state, PREFIX, body);
        assert.fail(`seed ${seed}: a mutated ${target.name} message decrypted`);
      } catch (e) {
        if (!(e instanceof DecryptionError)) throw e;
        refused++;
      }
    }
    assert.deepEqual(encodeRatchetState(state), before, target.name);
    times.push(`${target.name} ${((performance.now() - started) / 1000).toFixed(2)} s`);
  }
  // The 10 bytes before the body are authenticated too.
  for (let i = 0; i < 5_000; i++) {
    const prefix = mutate(PREFIX, next);
    try {
      await ratchetDecrypt(bob.suite, state, prefix, targets[i % 3].body);
      assert.fail(`seed ${seed}: a message under a mutated prefix decrypted`);
    } catch (e) {
      if (!(e instanceof DecryptionError)) throw e;
      refused++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  assert.equal(refused, 100_000);
  assert.deepEqual(encodeRatchetState(state), before);
  console.log(
    `100,000 mutated messages refused in ${seconds.toFixed(2)} s (seed ${seed}; ${
      times.join(", ")
    })`,
  );
  // The untouched messages still decrypt, each once.
  for (const target of targets) assert.deepEqual(await bob.receive(target.body), target.data);
});
