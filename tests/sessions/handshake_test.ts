// The handshake (docs/sessions.md section 3): both ends derive the same keys with every built-in
// KEM and a plugin in the post-quantum slot, with and without one-time prekeys; the sender seal
// hides Alice; anything wrong in a prekey message is one opaque DecryptionError.
import assert from "node:assert/strict";
import { DecryptionError, FormatError } from "../../errors.ts";
import { fingerprint } from "../../contacts/fingerprint.ts";
import { generateIdentity } from "../../mod.ts";
import { registry } from "../../engines/mod.ts";
import { EngineRegistry } from "../../engines/registry.ts";
import { hkdfSync } from "../../engines/hkdf.ts";
import { concatBytes } from "../../engines/_bytes.ts";
import type { KemEngine } from "../../engines/types.ts";
import { parseBundle, trimBundle } from "../../sessions/bundle.ts";
import {
  initiate,
  type Initiation,
  parsePrekeyMessage,
  type PrekeyLookup,
  respond,
  type Response,
} from "../../sessions/handshake.ts";
import {
  _setRandomSource,
  sessionKeys,
  x25519,
  x25519PublicKey as x25519PublicKeyOf,
} from "../../sessions/_identity.ts";
import { parseRecipient } from "../../cascade/keys.ts";
import { _buildMlKem } from "../../engines/mlkem/mlkem.ts";
import { bobWith, contains, identityOf, lookupOf, type Prekeys } from "./_prekeys.ts";

const BODY = new Uint8Array(40).fill(0xab); // a stand-in ratchet body (the ratchet is not here)
const message = (a: Initiation) => concatBytes(a.prefix, BODY);

function assertSameKeys(a: Initiation, b: Response, kem: KemEngine): void {
  assert.deepEqual(b.rootKey, a.rootKey, "rootKey");
  assert.deepEqual(b.headerKey, a.headerKey, "HKA");
  assert.deepEqual(b.nextHeaderKey, a.nextHeaderKey, "NHKB");
  assert.deepEqual(b.sessionId, a.sessionId, "SID");
  assert.deepEqual(b.ad, a.ad, "AD");
  for (const k of [a.rootKey, a.headerKey, a.nextHeaderKey, a.sessionId, a.ad]) {
    assert.equal(k.length, 32);
  }
  assert.equal(
    new Set([a.rootKey, a.headerKey, a.nextHeaderKey, a.sessionId].map((k) => k.toHex())).size,
    4,
  );
  assert.equal(a.kem, kem);
  assert.equal(b.kem.id, kem.id);
}

const KEMS = [
  "ml-kem-512",
  "ml-kem-768",
  "ml-kem-1024",
  "x25519+ml-kem-768",
  "rsa-3072",
  "elgamal-3072",
];

for (const id of KEMS) {
  Deno.test(`round trip with ${id} in the post-quantum slot, with and without one-time prekeys`, async () => {
    const kem = registry.kem(id);
    const alice = await identityOf("alice");
    const bob = await identityOf("bob");
    const { prekeys, bundle } = await bobWith(bob.identity, kem, 1);
    const lookup = lookupOf(prekeys);
    // With both one-time prekeys.
    const full = await parseBundle(bundle, { expect: bob.recipient });
    const a = await initiate(alice.identity, full);
    const parsed = parsePrekeyMessage(message(a));
    assert.deepEqual(parsed.body, BODY);
    assert.deepEqual(parsed.prefix, a.prefix);
    const b = await respond(bob.identity, parsed, lookup, { kem });
    assertSameKeys(a, b, kem);
    assert.equal(a.peerRecipient, bob.recipient);
    assert.equal(a.peerFingerprint, fingerprint(bob.recipient));
    assert.equal(b.peerRecipient, alice.recipient);
    assert.equal(b.peerFingerprint, fingerprint(alice.recipient));
    assert.deepEqual(b.used, {
      spk: prekeys.spk.id,
      pq: { kind: "pqopk", id: prekeys.pqopks[0].id },
      opk: prekeys.opks[0].id,
    });
    assert.deepEqual(a.peerDh, prekeys.spk.publicKey);
    assert.deepEqual(b.ownDh, {
      publicKey: prekeys.spk.publicKey,
      secretKey: prekeys.spk.secretKey,
    });
    // Without: the last-resort KEM prekey and three DHs.
    const bare = await parseBundle(trimBundle(bundle, {}));
    const a2 = await initiate(alice.identity, bare);
    const b2 = await respond(bob.identity, parsePrekeyMessage(message(a2)), lookup, { kem });
    assertSameKeys(a2, b2, kem);
    assert.deepEqual(b2.used, { spk: prekeys.spk.id, pq: { kind: "pqspk", id: prekeys.pqspk.id } });
    assert.notDeepEqual(a2.rootKey, a.rootKey);
    // The session id differs per handshake, AD does not (it names the two identities).
    assert.notDeepEqual(a2.sessionId, a.sessionId);
    assert.deepEqual(a2.ad, a.ad);
  });
}

Deno.test("round trip with only an OPK, or only a PQOPK (ml-kem-768); a kem id stored with the prekey wins", async () => {
  const kem = registry.kem("ml-kem-768");
  const alice = await identityOf("alice");
  const bob = await identityOf("bob");
  const { prekeys, bundle } = await bobWith(bob.identity, kem, 2);
  const lookup = lookupOf(prekeys);
  const onlyOpk = await initiate(
    alice.identity,
    await parseBundle(trimBundle(bundle, { opk: prekeys.opks[1].id })),
  );
  const r1 = await respond(bob.identity, parsePrekeyMessage(message(onlyOpk)), lookup);
  assertSameKeys(onlyOpk, r1, kem);
  assert.deepEqual(r1.used, { spk: 100, pq: { kind: "pqspk", id: 101 }, opk: prekeys.opks[1].id });
  const onlyPq = await initiate(
    alice.identity,
    await parseBundle(trimBundle(bundle, { pqopk: prekeys.pqopks[1].id })),
  );
  // Bob's default KEM is ml-kem-1024 here, but the prekey says ml-kem-768.
  const named: PrekeyLookup = {
    ...lookup,
    pqopk: async (id) => ({ ...(await lookup.pqopk(id))!, kem: "ml-kem-768" }),
  };
  const r2 = await respond(bob.identity, parsePrekeyMessage(message(onlyPq)), named, {
    kem: "ml-kem-1024",
  });
  assertSameKeys(onlyPq, r2, kem);
  assert.deepEqual(r2.used, { spk: 100, pq: { kind: "pqopk", id: prekeys.pqopks[1].id } });
  // Bob with the wrong KEM, or the wrong AEAD for the seal, cannot respond.
  await assert.rejects(
    respond(bob.identity, parsePrekeyMessage(message(onlyOpk)), lookup, { kem: "ml-kem-1024" }),
    DecryptionError,
  );
  await assert.rejects(
    respond(bob.identity, parsePrekeyMessage(message(onlyOpk)), lookup, {
      aead: "chacha20-poly1305",
    }),
    DecryptionError,
  );
  // Both ends may pick another AEAD for the seal, if they agree.
  const chacha = await initiate(alice.identity, await parseBundle(bundle), {
    aead: "chacha20-poly1305",
  });
  assertSameKeys(
    chacha,
    await respond(bob.identity, parsePrekeyMessage(message(chacha)), lookup, {
      aead: "chacha20-poly1305",
    }),
    kem,
  );
});

Deno.test("round trip with a third-party KEM (the p256 plugin) in a private registry", async () => {
  const { p256 } = await import("../../examples/plugin_p256.ts");
  const mine = new EngineRegistry();
  for (const id of ["x25519", "aes-256-gcm", "ed25519"]) mine.register(registry.get(id));
  mine.register(p256);
  const alice = await generateIdentity("x25519", { registry: mine, signatureEngine: "ed25519" });
  const bob = await generateIdentity("p256", { registry: mine, signatureEngine: "ed25519" });
  const { prekeys, bundle } = await bobWith(bob.identity, p256, 1, mine);
  const a = await initiate(alice.identity, await parseBundle(bundle, { registry: mine }), {
    registry: mine,
  });
  const b = await respond(bob.identity, parsePrekeyMessage(message(a)), lookupOf(prekeys), {
    registry: mine,
    kem: "p256",
  });
  assertSameKeys(a, b, p256);
  // The contract's form: the registry as the fourth argument, the KEM named by the prekey.
  const a2 = await initiate(
    alice.identity,
    await parseBundle(trimBundle(bundle, {}), { registry: mine }),
    { registry: mine },
  );
  const lookup = lookupOf(prekeys);
  const named: PrekeyLookup = {
    ...lookup,
    pqspk: async (id) => ({ ...(await lookup.pqspk(id))!, kem: "p256" }),
  };
  assertSameKeys(
    a2,
    await respond(bob.identity, parsePrekeyMessage(message(a2)), named, mine),
    p256,
  );
  // The default registry has no p256.
  await assert.rejects(respond(bob.identity, parsePrekeyMessage(message(a2)), named), Error);
});

Deno.test("the sender seal: the message shows nothing of Alice, Bob learns her recipient", async () => {
  const alice = await identityOf("alice");
  const bob = await identityOf("bob");
  const { prekeys, bundle } = await bobWith(bob.identity, registry.kem("ml-kem-768"), 1);
  const a = await initiate(alice.identity, await parseBundle(bundle));
  const bytes = message(a);
  const encoder = new TextEncoder();
  const mine = await sessionKeys(alice.identity);
  const signingKey = Uint8Array.fromBase64(alice.recipient.split(":").pop()!, {
    alphabet: "base64url",
  })
    .subarray(2, 2 + registry.signature("ed25519+ml-dsa-65").publicKeySize);
  for (
    const [what, needle] of [
      ["recipient", encoder.encode(alice.recipient)],
      ["recipient's base64", encoder.encode(alice.recipient.split(":").pop()!.slice(0, 40))],
      ["fingerprint", encoder.encode(fingerprint(alice.recipient))],
      ["IK_A", mine.ik.publicKey],
      ["ik_cert", mine.ikCert.subarray(0, 64)],
      ["signing key", signingKey.subarray(0, 64)],
      ["signing key's Ed25519 half", signingKey.subarray(signingKey.length - 32)],
    ] as const
  ) {
    assert.ok(!contains(bytes, needle), `the message holds Alice's ${what}`);
  }
  // Bob's keys are in the clear only as the ids of his prekeys.
  assert.ok(!contains(bytes, encoder.encode(bob.recipient.slice(-40))));
  const b = await respond(bob.identity, parsePrekeyMessage(bytes), lookupOf(prekeys));
  assert.equal(b.peerRecipient, alice.recipient);
});

/** Alice (x25519, ed25519) and Bob (ml-kem-512 prekeys): small messages for byte-wise tampering. */
async function small() {
  const alice = await identityOf("alice-s", "x25519", "ed25519");
  const bob = await identityOf("bob-s", "x25519", "ed25519");
  const kem = registry.kem("ml-kem-512");
  const { prekeys, bundle } = await bobWith(bob.identity, kem, 1);
  return { alice, bob, kem, prekeys, bundle, lookup: lookupOf(prekeys, kem.id) };
}

Deno.test("tampering with any byte of prekey_head or sealed_from: DecryptionError (FormatError only for framing)", async () => {
  const { alice, bob, bundle, lookup } = await small();
  for (const keep of [{}, undefined]) {
    const b = keep ? trimBundle(bundle, keep) : bundle;
    const a = await initiate(alice.identity, await parseBundle(b));
    const bytes = message(a);
    const parsed = parsePrekeyMessage(bytes);
    const headLength = parsed.headBytes.length;
    const ctLengthAt = headLength - parsed.head.ct.length - 4;
    // Framing: magic, mode, kind, pq_kind and the two length fields.
    const framing = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14]);
    const lengths = new Set([0, 1, 2, 3].flatMap((i) => [ctLengthAt + i, headLength + i]));
    const counts = { decryption: 0, format: 0 };
    for (let i = 0; i < a.prefix.length; i++) {
      for (const flip of i % 37 === 0 ? [0x01, 0x80] : [0x01]) {
        const bad = bytes.slice();
        bad[i] ^= flip;
        let p;
        try {
          p = parsePrekeyMessage(bad);
        } catch (e) {
          assert.ok(e instanceof FormatError, `byte ${i}: ${e}`);
          assert.ok(framing.has(i) || lengths.has(i), `byte ${i} is not framing, yet FormatError`);
          counts.format++;
          continue;
        }
        assert.ok(!framing.has(i), `byte ${i}`);
        await assert.rejects(respond(bob.identity, p, lookup), DecryptionError, `byte ${i}`);
        counts.decryption++;
      }
    }
    assert.ok(counts.decryption > a.prefix.length - 30, JSON.stringify(counts));
    // The untouched message still responds (the lookup kept every key).
    await respond(bob.identity, parsePrekeyMessage(bytes), lookup);
  }
});

Deno.test("unknown or used prekey ids are DecryptionError; the lookup's own errors pass through", async () => {
  const { alice, bob, bundle, lookup, prekeys } = await small();
  const a = await initiate(alice.identity, await parseBundle(bundle));
  const bytes = message(a);
  await respond(bob.identity, parsePrekeyMessage(bytes), lookup);
  // Bob deletes the one-time keys; the same message again (a replay) names a deleted key.
  lookup.consume("opk", prekeys.opks[0].id);
  await assert.rejects(respond(bob.identity, parsePrekeyMessage(bytes), lookup), DecryptionError);
  const noPq = lookupOf(prekeys, "ml-kem-512");
  noPq.consume("pqopk", prekeys.pqopks[0].id);
  await assert.rejects(respond(bob.identity, parsePrekeyMessage(bytes), noPq), DecryptionError);
  // Another identity holding Bob's prekeys opens the seal (it needs only the prekeys) but derives
  // other keys (DH2 uses IK_B), so the ratchet body will not open for it.
  const eve = await identityOf("eve-s", "x25519", "ed25519");
  const asEve = await respond(
    eve.identity,
    parsePrekeyMessage(bytes),
    lookupOf(prekeys, "ml-kem-512"),
  );
  assert.notDeepEqual(asEve.rootKey, a.rootKey);
  assert.notDeepEqual(asEve.headerKey, a.headerKey);
  assert.notDeepEqual(asEve.ad, a.ad);
  // Other prekeys of Bob's own: refused.
  const other = await bobWith(bob.identity, registry.kem("ml-kem-512"), 1);
  await assert.rejects(
    respond(bob.identity, parsePrekeyMessage(bytes), lookupOf(other.prekeys, "ml-kem-512")),
    DecryptionError,
  );
  const failing: PrekeyLookup = {
    ...lookupOf(prekeys),
    spk: () => Promise.reject(new Error("disk on fire")),
  };
  await assert.rejects(respond(bob.identity, parsePrekeyMessage(bytes), failing), /disk on fire/);
  // Framing errors are FormatError.
  assert.throws(() => parsePrekeyMessage(bytes.subarray(0, 20)), FormatError);
  assert.throws(() => parsePrekeyMessage(a.prefix), FormatError, "no ratchet body");
});

/**
 * A prekey message made by hand with a known EK (the random hook) and the seal key computed as
 * docs/sessions.md section 3 says, sealing `inner` instead of Alice's real certificate.
 */
async function forged(
  alice: string,
  bob: { identity: string; bundle: Uint8Array; prekeys: Prekeys },
  kem: KemEngine,
  inner: (real: { recipient: Uint8Array; ik: Uint8Array; cert: Uint8Array }) => Uint8Array,
): Promise<Uint8Array> {
  const ekSecret = new Uint8Array(32).fill(0x42);
  _setRandomSource(() => ekSecret);
  let a;
  try {
    a = await initiate(alice, await parseBundle(bob.bundle));
  } finally {
    _setRandomSource(undefined);
  }
  const parsed = parsePrekeyMessage(message(a));
  const dh3 = await x25519(ekSecret, bob.prekeys.spk.publicKey);
  const dh4 = await x25519(ekSecret, bob.prekeys.opks[0].publicKey);
  const ss = await kem.decapsulate(parsed.head.ct, bob.prekeys.pqopks[0].secretKey);
  const sealK = hkdfSync(
    "SHA-256",
    concatBytes(dh3, dh4, ss),
    new Uint8Array(32),
    new TextEncoder().encode(`polycrypt/session/1 sender seal ${kem.id}`),
    32,
  );
  const aead = registry.aead("aes-256-gcm");
  const nonce = new Uint8Array(12);
  // The seal opens with the key derived here: the derivation is the documented one.
  const plain = await aead.open(sealK, nonce, parsed.sealedFrom, parsed.headBytes);
  const rLength = (plain[0] << 8) | plain[1];
  const real = {
    recipient: plain.subarray(2, 2 + rLength),
    ik: plain.subarray(2 + rLength, 34 + rLength),
    cert: plain.subarray(38 + rLength),
  };
  assert.equal(
    new TextDecoder().decode(real.recipient),
    await sessionKeys(alice).then((k) => k.recipient),
  );
  const sealed = await aead.seal(sealK, nonce, inner(real), parsed.headBytes);
  const lp = new Uint8Array(4);
  new DataView(lp.buffer).setUint32(0, sealed.length);
  return concatBytes(parsed.headBytes, lp, sealed, BODY);
}

Deno.test("a well-sealed message with a bad certificate, a version-1 or malformed sender: DecryptionError", async () => {
  const { alice, bob, kem, bundle, prekeys } = await small();
  const b = { identity: bob.identity, bundle, prekeys };
  const sp = (x: Uint8Array) => concatBytes(new Uint8Array([x.length >> 8, x.length & 0xff]), x);
  const lp = (x: Uint8Array) => {
    const n = new Uint8Array(4);
    new DataView(n.buffer).setUint32(0, x.length);
    return concatBytes(n, x);
  };
  const cases: [string, Parameters<typeof forged>[3]][] = [
    ["the real inner part (control)", (r) => concatBytes(sp(r.recipient), r.ik, lp(r.cert))],
    ["a flipped certificate bit", (r) => {
      const cert = r.cert.slice();
      cert[5] ^= 1;
      return concatBytes(sp(r.recipient), r.ik, lp(cert));
    }],
    [
      "another IK under the real certificate",
      (r) => concatBytes(sp(r.recipient), new Uint8Array(32).fill(9), lp(r.cert)),
    ],
    ["a trailing byte", (r) => concatBytes(sp(r.recipient), r.ik, lp(r.cert), new Uint8Array(1))],
    ["a version-1 recipient", (r) => {
      const v1 = new TextEncoder().encode(`polycrypt1:x25519:${"A".repeat(43)}`);
      return concatBytes(sp(v1), r.ik, lp(r.cert));
    }],
    [
      "Bob's recipient with Alice's certificate",
      (r) => concatBytes(sp(new TextEncoder().encode(bob.recipient)), r.ik, lp(r.cert)),
    ],
  ];
  for (const [name, inner] of cases) {
    const bytes = await forged(alice.identity, b, kem, inner);
    const result = respond(
      bob.identity,
      parsePrekeyMessage(bytes),
      lookupOf(prekeys, "ml-kem-512"),
    );
    if (name.endsWith("(control)")) {
      assert.equal((await result).peerRecipient, alice.recipient, name);
    } else {
      await assert.rejects(result, DecryptionError, name);
    }
  }
});

Deno.test("a version-1 identity cannot initiate or respond: the error says how to upgrade it", async () => {
  const { bundle, bob } = await small();
  const old = await generateIdentity("x25519", { signatureEngine: null });
  await assert.rejects(initiate(old.identity, await parseBundle(bundle)), /keygen --upgrade/);
  assert.ok(bob.identity);
});

// ------------------------------------------------------------------------------ known answers

interface VectorPrekey {
  id: number;
  secret: string;
  public: string;
}
interface VectorCase {
  name: string;
  kem: string;
  aead: string;
  bundle: string;
  prekeys: { spk: VectorPrekey; pqspk: VectorPrekey; opk?: VectorPrekey; pqopk?: VectorPrekey };
  ek_secret: string;
  ek_public: string;
  kem_m?: string;
  ct: string;
  ss: string;
  prekey_head: string;
  sealed_from: string;
  root_key: string;
  hka: string;
  nhkb: string;
  sid: string;
  ad: string;
}
interface VectorParty {
  identity: string;
  recipient: string;
  ik_secret: string;
  ik_public: string;
  ik_cert: string;
  storage_key?: string;
}

const vectorFile: { alice: VectorParty; bob: VectorParty; cases: VectorCase[] } = JSON.parse(
  await Deno.readTextFile(
    new URL("../vectors/polycrypt/sessions/handshake.json", import.meta.url),
  ),
);
const h = (s: string) => Uint8Array.fromHex(s);
const utf8 = (s: string) => new TextEncoder().encode(s);
const u32 = (n: number) => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
};
const sp16 = (x: Uint8Array) => concatBytes(new Uint8Array([x.length >> 8, x.length & 0xff]), x);
const lp32 = (x: Uint8Array) => concatBytes(u32(x.length), x);

Deno.test("known answers: IK, storage key and ik_cert of the vector identities (docs/sessions.md section 1)", async () => {
  for (const party of [vectorFile.alice, vectorFile.bob]) {
    const ik = hkdfSync(
      "SHA-256",
      utf8(party.identity),
      new Uint8Array(0),
      utf8("polycrypt/session/1 identity dh key"),
      32,
    );
    assert.equal(ik.toHex(), party.ik_secret);
    assert.equal((await x25519PublicKeyOf(ik)).toHex(), party.ik_public);
    const keys = await sessionKeys(party.identity);
    assert.equal(keys.ik.secretKey.toHex(), party.ik_secret);
    assert.equal(keys.recipient, party.recipient);
    const verifying = parseRecipient(party.recipient).verifyingKey!;
    const message = concatBytes(
      utf8("polycrypt/session/1 identity key"),
      sp16(utf8(party.recipient)),
      h(party.ik_public),
    );
    assert.equal(
      await verifying.engine.verify(verifying.publicKey, message, h(party.ik_cert)),
      true,
    );
  }
  const storage = hkdfSync(
    "SHA-256",
    utf8(vectorFile.bob.identity),
    new Uint8Array(0),
    utf8("polycrypt/session/1 storage key"),
    32,
  );
  assert.equal(storage.toHex(), vectorFile.bob.storage_key);
  assert.equal(
    (await sessionKeys(vectorFile.bob.identity)).storageKey.toHex(),
    vectorFile.bob.storage_key,
  );
});

for (const v of vectorFile.cases) {
  Deno.test(`known answer: ${v.name}`, async () => {
    const { alice, bob } = vectorFile;
    const kem = registry.kem(v.kem);
    const aead = registry.aead(v.aead);
    const { spk, pqspk, opk, pqopk } = v.prekeys;
    const pq = pqopk ?? pqspk;
    // The bundle parses and carries the recorded public keys.
    const bundle = await parseBundle(h(v.bundle), { expect: bob.recipient });
    assert.equal(bundle.spk.publicKey.toHex(), spk.public);
    assert.equal(bundle.pqspk.publicKey.toHex(), pqspk.public);
    assert.deepEqual(bundle.opks.map((k) => k.publicKey.toHex()), opk ? [opk.public] : []);
    assert.deepEqual(bundle.pqopks.map((k) => k.publicKey.toHex()), pqopk ? [pqopk.public] : []);
    assert.equal(bundle.ik.toHex(), bob.ik_public);
    // Every recorded secret belongs to its public key; the encapsulation to the KEM prekey.
    for (const k of [spk, opk].filter((k) => k !== undefined)) {
      assert.equal((await x25519PublicKeyOf(h(k.secret))).toHex(), k.public);
    }
    assert.equal((await x25519PublicKeyOf(h(v.ek_secret))).toHex(), v.ek_public);
    assert.equal((await kem.publicKeyFromSecretKey!(h(pq.secret))).toHex(), pq.public);
    assert.equal((await kem.decapsulate(h(v.ct), h(pq.secret))).toHex(), v.ss);
    if (v.kem_m) {
      const size = Number(v.kem.slice("ml-kem-".length)) as 512 | 768 | 1024;
      const made = _buildMlKem(size, "noble").encapsulateWith(h(pq.public), h(v.kem_m));
      assert.equal(made.encapsulation.toHex(), v.ct);
      assert.equal(made.sharedSecret.toHex(), v.ss);
    }
    // The four DHs, from either side.
    const dh1 = await x25519(h(alice.ik_secret), h(spk.public));
    assert.deepEqual(await x25519(h(spk.secret), h(alice.ik_public)), dh1);
    const dh2 = await x25519(h(v.ek_secret), h(bob.ik_public));
    assert.deepEqual(await x25519(h(bob.ik_secret), h(v.ek_public)), dh2);
    const dh3 = await x25519(h(v.ek_secret), h(spk.public));
    const dh4 = opk ? await x25519(h(v.ek_secret), h(opk.public)) : undefined;
    const dhs = dh4 ? [dh1, dh2, dh3, dh4] : [dh1, dh2, dh3];
    // The key schedule, as docs/sessions.md section 3 writes it.
    const km = concatBytes(new Uint8Array(32).fill(0xff), ...dhs, h(v.ss));
    const okm = hkdfSync(
      "SHA-256",
      km,
      new Uint8Array(32),
      utf8(`polycrypt/session/1 PQXDH CURVE25519 SHA-256 ${v.kem}`),
      128,
    );
    assert.deepEqual(
      [okm.subarray(0, 32), okm.subarray(32, 64), okm.subarray(64, 96), okm.subarray(96)].map((x) =>
        x.toHex()
      ),
      [
        v.root_key,
        v.hka,
        v.nhkb,
        v.sid,
      ],
    );
    const ad = await crypto.subtle.digest(
      "SHA-256",
      new Uint8Array(concatBytes(
        utf8("polycrypt/session/1 ad"),
        sp16(utf8(alice.recipient)),
        h(alice.ik_public),
        sp16(utf8(bob.recipient)),
        h(bob.ik_public),
      )),
    );
    assert.equal(new Uint8Array(ad).toHex(), v.ad);
    // The head, byte for byte.
    const head = concatBytes(
      h("50435259505400010201"),
      u32(spk.id),
      new Uint8Array([pqopk ? 2 : 1]),
      u32(pq.id),
      u32(opk ? opk.id : 0xffffffff),
      h(v.ek_public),
      lp32(h(v.ct)),
    );
    assert.equal(head.toHex(), v.prekey_head);
    // The seal opens under SEAL_K to exactly Alice's recipient, IK and certificate.
    const sealK = hkdfSync(
      "SHA-256",
      concatBytes(...dhs.slice(2), h(v.ss)),
      new Uint8Array(32),
      utf8(`polycrypt/session/1 sender seal ${v.kem}`),
      aead.keySize,
    );
    const inner = await aead.open(sealK, new Uint8Array(aead.nonceSize), h(v.sealed_from), head);
    assert.deepEqual(
      inner,
      concatBytes(sp16(utf8(alice.recipient)), h(alice.ik_public), lp32(h(alice.ik_cert))),
    );
    // respond() reproduces every output from the recorded message and Bob's recorded prekeys.
    const prekey = (k?: VectorPrekey) =>
      k && { id: k.id, publicKey: h(k.public), secretKey: h(k.secret), kem: v.kem };
    const lookup: PrekeyLookup = {
      spk: (id) => Promise.resolve(id === spk.id ? prekey(spk) : undefined),
      pqspk: (id) => Promise.resolve(id === pqspk.id ? prekey(pqspk) : undefined),
      opk: (id) => Promise.resolve(id === opk?.id ? prekey(opk) : undefined),
      pqopk: (id) => Promise.resolve(id === pqopk?.id ? prekey(pqopk) : undefined),
    };
    const message = concatBytes(head, lp32(h(v.sealed_from)), BODY);
    const b = await respond(bob.identity, parsePrekeyMessage(message), lookup);
    const keysOf = (r: HandshakeResultLike) =>
      [r.rootKey, r.headerKey, r.nextHeaderKey, r.sessionId, r.ad].map((x) => x.toHex());
    assert.deepEqual(keysOf(b), [v.root_key, v.hka, v.nhkb, v.sid, v.ad]);
    assert.equal(b.peerRecipient, alice.recipient);
    // initiate() with the recorded EK and encapsulation reproduces the head and every key.
    const replay: KemEngine = {
      ...kem,
      encapsulate: () => Promise.resolve({ encapsulation: h(v.ct), sharedSecret: h(v.ss) }),
    };
    _setRandomSource(() => h(v.ek_secret));
    let a;
    try {
      a = await initiate(alice.identity, { ...bundle, kem: replay });
    } finally {
      _setRandomSource(undefined);
    }
    assert.deepEqual(keysOf(a), [v.root_key, v.hka, v.nhkb, v.sid, v.ad]);
    assert.equal(parsePrekeyMessage(message).headBytes.toHex(), v.prekey_head);
    assert.equal(parsePrekeyMessage(concatBytes(a.prefix, BODY)).headBytes.toHex(), v.prekey_head);
  });
}

type HandshakeResultLike = {
  rootKey: Uint8Array;
  headerKey: Uint8Array;
  nextHeaderKey: Uint8Array;
  sessionId: Uint8Array;
  ad: Uint8Array;
};
