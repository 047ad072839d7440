import assert from "node:assert/strict";
import { ml_kem512 } from "@noble/post-quantum/ml-kem.js";
import {
  DecryptionError,
  EngineRegistry,
  InvalidKeyError,
  type KemEngine,
  registry,
} from "../../mod.ts";
import { p256 } from "../../examples/plugin_p256.ts";
import type { State } from "../../sessions/_state.ts";
import {
  DEFAULT_KEM_POLICY,
  encodeRatchetState,
  MAX_RATCHET_DATA,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetSuite,
} from "../../sessions/ratchet.ts";
import { newSession, Peer, PREFIX, suiteOf, text } from "./_ratchet.ts";

/** What the header of `body` carries, told by its length (docs/sessions.md section 4). */
function headerExtra(body: Uint8Array): number {
  const encHeader = new DataView(body.buffer, body.byteOffset).getUint32(12);
  return encHeader - 16 - 41;
}

const BUILT_IN = [
  "ml-kem-512",
  "ml-kem-768",
  "ml-kem-1024",
  "x25519+ml-kem-768",
  "rsa-3072",
  "elgamal-3072",
];

/** A KEM from outside polycrypt: ML-KEM-512 straight from @noble/post-quantum, under its own id. */
const thirdParty: KemEngine = Object.freeze({
  kind: "kem" as const,
  id: "acme-kyber512",
  family: "acme",
  postQuantum: true,
  securityBits: 128,
  publicKeySize: 800,
  encapsulationSize: 768,
  sharedSecretSize: 32,
  checkPublicKey(publicKey: Uint8Array) {
    if (publicKey.length !== 800) throw new InvalidKeyError("acme-kyber512: bad key size");
  },
  generateKeyPair: () => Promise.resolve(ml_kem512.keygen()),
  encapsulate(publicKey: Uint8Array) {
    const { cipherText, sharedSecret } = ml_kem512.encapsulate(publicKey);
    return Promise.resolve({ encapsulation: cipherText, sharedSecret });
  },
  decapsulate: (ct: Uint8Array, sk: Uint8Array) => Promise.resolve(ml_kem512.decapsulate(ct, sk)),
});

const plugins = new EngineRegistry();
plugins.register(thirdParty);
plugins.register(p256);
plugins.register(registry.aead("aes-256-gcm"));

/**
 * Both directions with out-of-order delivery, with a policy that asks for a KEM step at every
 * direction change, checking what each header carries.
 */
async function conversation(suite: RatchetSuite) {
  const kem = suite.kem;
  const ct = kem.encapsulationSize;
  const { alice, bob } = await newSession({ ...suite, policy: { messages: 4, milliseconds: 1e9 } });
  // Alice's first chain carries her KEM public key only (the handshake was her KEM step).
  const a0 = await alice.send(text("a0")), a1 = await alice.send(text("a1"));
  const pub = headerExtra(a0) - 4;
  if (kem.family !== "rsa") assert.equal(pub, kem.publicKeySize);
  assert.equal(headerExtra(a0), 4 + pub);
  assert.equal(headerExtra(a1), 4 + pub);
  assert.deepEqual(await bob.receive(a1), text("a1"));
  assert.deepEqual(await bob.receive(a0), text("a0"));
  // Bob never made a KEM step: his first chain encapsulates to Alice's key and carries his own.
  const b0 = await bob.send(text("b0")), b1 = await bob.send(new Uint8Array(3000));
  assert.equal(headerExtra(b0), 8 + pub + ct);
  assert.equal(headerExtra(b1), 8 + pub + ct);
  assert.deepEqual(await alice.receive(b1), new Uint8Array(3000));
  assert.deepEqual(await alice.receive(b0), text("b0"));
  // Four messages since Alice's last step (the policy says 4): her second chain steps again.
  const a2 = await alice.send(text("a2"));
  assert.equal(headerExtra(a2), 8 + pub + ct);
  assert.deepEqual(await bob.receive(a2), text("a2"));
  const b2 = await bob.send(text("b2"));
  assert.equal(headerExtra(b2), 0, "3 messages since Bob's step: none");
  assert.deepEqual(await alice.receive(b2), text("b2"));
  const a3 = await alice.send(text("a3"));
  assert.equal(headerExtra(a3), 0);
  assert.deepEqual(await bob.receive(a3), text("a3"));
  const b3 = await bob.send(text("b3"));
  assert.equal(headerExtra(b3), 8 + pub + ct, "4 messages since Bob's step");
  assert.deepEqual(await alice.receive(b3), text("b3"));
  await assert.rejects(alice.receive(b3), DecryptionError);
}

for (const id of BUILT_IN) {
  Deno.test(`ratchet round trips both ways with ${id} in the KEM slot`, () =>
    conversation(suiteOf(id)));
}

Deno.test("ratchet round trips with third-party KEMs registered in a private registry", async () => {
  for (const id of ["acme-kyber512", "p256"]) {
    await conversation({ kem: plugins.kem(id), aead: plugins.aead("aes-256-gcm") });
  }
});

Deno.test("ratchet round trips with every built-in AEAD", async () => {
  for (
    const aead of ["aes-256-gcm", "aes-256-gcm-siv", "chacha20-poly1305", "xchacha20-poly1305"]
  ) {
    const { alice, bob } = await newSession(suiteOf("ml-kem-512", { aead: registry.aead(aead) }));
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await bob.receive(await alice.send(text(`a${i}`))), text(`a${i}`));
      assert.deepEqual(await alice.receive(await bob.send(text(`b${i}`))), text(`b${i}`));
    }
  }
});

Deno.test("the default KEM policy: 50 messages or one hour", async () => {
  assert.deepEqual(DEFAULT_KEM_POLICY, { messages: 50, milliseconds: 3_600_000 });
  const { alice, bob } = await newSession(suiteOf("ml-kem-512"), undefined, 0);
  let now = 0;
  const round = async (t = ++now) => {
    const a = await alice.send(text("a"), t);
    await bob.receive(a, t);
    const b = await bob.send(text("b"), t);
    await alice.receive(b, t);
    return [headerExtra(a), headerExtra(b)];
  };
  const withKem = 8 + 800 + 768;
  assert.deepEqual(await round(), [4 + 800, withKem]); // Alice's first chain; Bob's first step
  // Alice's last step was the handshake: her chains carry nothing until 50 messages later.
  const rounds: number[][] = [];
  for (let i = 0; i < 26; i++) rounds.push(await round());
  // Before her send in round i, Alice has counted 2i + 2 messages since the handshake, and Bob
  // 2i + 2 since his first step: both reach 50 in round 24.
  assert.deepEqual(rounds.slice(0, 24).flat().filter((x) => x !== 0), []);
  assert.deepEqual(rounds[24], [withKem, withKem]);
  assert.deepEqual(rounds[25], [0, 0]);
  // An hour without messages calls for a step in each direction.
  assert.deepEqual(await round(now + 3_600_000), [withKem, withKem]);
  assert.deepEqual(await round(now + 3_600_001), [0, 0]);
});

Deno.test("Bob cannot send before Alice's first message; suites must match the state", async () => {
  const { alice, bob } = await newSession(suiteOf("ml-kem-512"));
  await assert.rejects(bob.send(text("too early")), RangeError);
  await assert.rejects(
    ratchetEncrypt(suiteOf("ml-kem-768"), alice.state, text("x"), PREFIX),
    TypeError,
  );
  const body = await alice.send(text("x"));
  await assert.rejects(ratchetDecrypt(suiteOf("ml-kem-768"), bob.state, PREFIX, body), TypeError);
  await assert.rejects(
    ratchetDecrypt(
      suiteOf("ml-kem-512", { aead: registry.aead("chacha20-poly1305") }),
      bob.state,
      PREFIX,
      body,
    ),
    TypeError,
  );
  // The prefix is authenticated: a ratchet body moved under another message head fails.
  const other = PREFIX.slice();
  other[9] = 0x01;
  await assert.rejects(ratchetDecrypt(bob.suite, bob.state, other, body), DecryptionError);
  assert.deepEqual(await bob.receive(body), text("x"));
});

Deno.test("data: empty to 16 MiB, padded to its PADME class", async () => {
  const { alice, bob } = await newSession(suiteOf("ml-kem-512"));
  await bob.receive(await alice.send(text("start")));
  await alice.receive(await bob.send(text("ok")));
  const sizes = [0, 1, 2, 100, 1023, 1024, 65536, 1_000_000];
  const lengths = new Map<number, number>();
  for (const size of sizes) {
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
    const body = await alice.send(data);
    lengths.set(size, body.length);
    assert.deepEqual(await bob.receive(body), data);
  }
  // Same header (no KEM step): body lengths differ only by PADME(len + 1) + tag.
  const headerPart = lengths.get(0)! - 1 - 16;
  const padme = (l: number) => {
    if (l < 2) return l;
    const e = Math.floor(Math.log2(l)), s = Math.floor(Math.log2(e)) + 1;
    return Math.ceil(l / 2 ** (e - s)) * 2 ** (e - s);
  };
  for (const size of sizes) assert.equal(lengths.get(size), headerPart + padme(size + 1) + 16);
  assert.equal(lengths.get(1023), lengths.get(1000 + 23)); // 1024 is its own class
  const max = new Uint8Array(MAX_RATCHET_DATA);
  max[max.length - 1] = 7;
  assert.deepEqual(await bob.receive(await alice.send(max)), max);
  await assert.rejects(alice.send(new Uint8Array(MAX_RATCHET_DATA + 1)), RangeError);
});

Deno.test("a body longer than 16 MiB of data can carry is refused before any work", async () => {
  const { alice, bob } = await newSession(suiteOf("ml-kem-512"));
  const body = await alice.send(text("x"));
  const huge = new Uint8Array(body.length + 20 * 1024 * 1024);
  huge.set(body);
  const before = bob.state;
  await assert.rejects(bob.receive(huge), DecryptionError);
  assert.equal(bob.state, before);
});

Deno.test("peer objects keep their state; states are plain data", async () => {
  const { alice, bob } = await newSession(suiteOf("ml-kem-512"));
  const clone = new Peer(bob.suite, structuredClone(bob.state));
  const body = await alice.send(text("cloned"));
  assert.deepEqual(await clone.receive(body), text("cloned"));
  assert.deepEqual(await bob.receive(body), text("cloned"));
});

Deno.test("a peer's invalid KEM or DH key is refused, the state unchanged", async () => {
  const { alice, bob } = await newSession(suiteOf("ml-kem-768"));
  const s = alice.state as State;
  // An ML-KEM-768 key whose first coefficient exceeds the modulus (FIPS 203 section 7.2).
  const badKem = s.kemPendingPub!.slice();
  badKem[0] = 0xff;
  badKem[1] |= 0x0f;
  assert.throws(() => registry.kem("ml-kem-768").checkPublicKey!(badKem), InvalidKeyError);
  const lowOrder = Uint8Array.fromHex(
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  );
  const forged: State[] = [
    { ...s, kemPendingPub: badKem },
    { ...s, dhs: { ...s.dhs, publicKey: lowOrder } },
    { ...s, dhs: { ...s.dhs, publicKey: new Uint8Array(32) } },
  ];
  for (const state of forged) {
    const { body } = await ratchetEncrypt(alice.suite, state, text("forged"), PREFIX);
    const before = encodeRatchetState(bob.state);
    await assert.rejects(bob.receive(body), DecryptionError);
    assert.deepEqual(encodeRatchetState(bob.state), before);
  }
  assert.deepEqual(await bob.receive(await alice.send(text("genuine"))), text("genuine"));
});
