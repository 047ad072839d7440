// Prekey bundles (docs/sessions.md section 2): what is signed, every refusal rule (and that the
// structural and key rules run before any signature work), trimming, the verification cache.
import assert from "node:assert/strict";
import { InvalidKeyError } from "../../errors.ts";
import { fingerprint } from "../../contacts/fingerprint.ts";
import { generateIdentity } from "../../mod.ts";
import { registry } from "../../engines/mod.ts";
import { EngineRegistry } from "../../engines/registry.ts";
import {
  attachedPrekeyIds,
  BUNDLE_LIMITS,
  encodeBundle,
  generatePrekeys,
  parseBundle,
  trimBundle,
} from "../../sessions/bundle.ts";
import { checkX25519PublicKey, sessionKeys } from "../../sessions/_identity.ts";
import { parseIdentity } from "../../cascade/keys.ts";
import { concatBytes } from "../../engines/_bytes.ts";
import { hex, loadWycheproof } from "../engines/_wycheproof.ts";
import { bobWith, countingRegistry, identityOf } from "./_prekeys.ts";

const mlkem768 = registry.kem("ml-kem-768");

async function refused(
  bytes: Uint8Array,
  options: Parameters<typeof parseBundle>[1],
  pattern?: RegExp,
): Promise<void> {
  await assert.rejects(parseBundle(bytes, options), (e) => {
    assert.ok(e instanceof InvalidKeyError, `${e}`);
    if (pattern) assert.match((e as Error).message, pattern);
    return true;
  });
}

Deno.test("a bundle round trips: every key, id and the creation time; expect by recipient or fingerprint", async () => {
  const bob = await identityOf("bob");
  const { prekeys, bundle } = await bobWith(bob.identity, mlkem768, 3);
  const parsed = await parseBundle(bundle, { expect: bob.recipient });
  assert.equal(parsed.recipient, bob.recipient);
  assert.equal(parsed.fingerprint, fingerprint(bob.recipient));
  assert.equal(parsed.kem, mlkem768);
  assert.equal(parsed.created, 1_700_000_000_000);
  assert.deepEqual(parsed.ik, (await sessionKeys(bob.identity)).ik.publicKey);
  assert.deepEqual(parsed.spk, { id: prekeys.spk.id, publicKey: prekeys.spk.publicKey });
  assert.deepEqual(parsed.pqspk, { id: prekeys.pqspk.id, publicKey: prekeys.pqspk.publicKey });
  assert.deepEqual(parsed.opks, prekeys.opks.map((k) => ({ id: k.id, publicKey: k.publicKey })));
  assert.deepEqual(
    parsed.pqopks,
    prekeys.pqopks.map((k) => ({ id: k.id, publicKey: k.publicKey })),
  );
  // Ids count up from firstId: spk, pqspk, opks, pqopks.
  assert.deepEqual(
    [
      prekeys.spk.id,
      prekeys.pqspk.id,
      ...prekeys.opks.map((k) => k.id),
      ...prekeys.pqopks.map((k) => k.id),
    ],
    [100, 101, 102, 103, 104, 105, 106, 107],
  );
  // A fingerprint matches whatever its spacing and case.
  const f = fingerprint(bob.recipient);
  await parseBundle(bundle, { expect: f });
  await parseBundle(bundle, { expect: f.replaceAll(" ", "").toLowerCase() });
  // The session keys are stable per identity: IK is derived, the storage key too.
  const a = await sessionKeys(bob.identity);
  const b = await sessionKeys(` ${bob.identity}\n`);
  assert.deepEqual(a.ik, b.ik);
  assert.deepEqual(a.storageKey, b.storageKey);
  assert.notDeepEqual(a.storageKey, a.ik.secretKey);
  assert.equal(a.recipient, bob.recipient);
});

Deno.test("expect: a bundle from anyone else is refused before any signature work", async () => {
  const { registry: reg, verifies } = countingRegistry();
  const bob = await identityOf("bob-x", "x25519", "ed25519+ml-dsa-65", reg);
  const eve = await identityOf("eve-x", "x25519", "ed25519+ml-dsa-65", reg);
  const { bundle } = await bobWith(eve.identity, mlkem768, 1, reg);
  await refused(bundle, { registry: reg, expect: bob.recipient }, /expected contact/);
  await refused(bundle, { registry: reg, expect: fingerprint(bob.recipient) }, /expected contact/);
  assert.equal(verifies(), 0);
  await parseBundle(bundle, { registry: reg, expect: eve.recipient });
  assert.equal(verifies(), 2, "ik_cert and sig");
  // Verified once: the same bytes again cost no signature work.
  await parseBundle(bundle, { registry: reg });
  assert.equal(verifies(), 2);
});

/** Offsets of a bundle's fields (docs/sessions.md section 2), read by the test itself. */
function layout(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = 9;
  const recipient = { at: at + 2, length: view.getUint16(at) };
  at += 2 + recipient.length;
  const ik = at;
  at += 32;
  const cert = { at: at + 4, length: view.getUint32(at) };
  at += 4 + cert.length + 8;
  at += 2 + view.getUint16(at);
  const spk = at + 4;
  at += 36;
  const pqspkLength = view.getUint32(at + 4);
  at += 8 + pqspkLength;
  const m = at;
  at += 2 + 36 * view.getUint16(at);
  const q = at;
  at += 2 + 36 * view.getUint16(at);
  const signedEnd = at;
  const sig = { at: at + 4, length: view.getUint32(at) };
  at += 4 + sig.length;
  return { recipient, ik, cert, spk, m, q, signedEnd, sig, n: at };
}

const splice = (bytes: Uint8Array, at: number, remove: number, insert: Uint8Array) => {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
};

Deno.test("refused: bad signature, bad ik_cert, swapped recipient (and nothing is returned)", async () => {
  const { registry: reg, verifies } = countingRegistry();
  const bob = await identityOf("bob-x", "x25519", "ed25519+ml-dsa-65", reg);
  const eve = await identityOf("eve-x", "x25519", "ed25519+ml-dsa-65", reg);
  const { bundle } = await bobWith(bob.identity, mlkem768, 2, reg);
  const at = layout(bundle);
  for (const offset of [at.sig.at, at.sig.at + at.sig.length - 1, at.sig.at + 1000]) {
    const bad = bundle.slice();
    bad[offset] ^= 1;
    await refused(bad, { registry: reg }, /signature does not verify/);
  }
  for (const offset of [at.cert.at, at.cert.at + at.cert.length - 1]) {
    const bad = bundle.slice();
    bad[offset] ^= 1;
    await refused(bad, { registry: reg }, /ik_cert does not verify|signature does not verify/);
  }
  // Eve's recipient in Bob's bundle (same engines, same length): neither signature is Eve's.
  const swapped = bundle.slice();
  const eveBytes = new TextEncoder().encode(eve.recipient);
  assert.equal(eveBytes.length, at.recipient.length);
  swapped.set(eveBytes, at.recipient.at);
  await refused(swapped, { registry: reg }, /does not verify/);
  // Signed content changed after signing: a one-time key's digest, the SPK id.
  const entry = bundle.slice();
  entry[at.m + 2 + 4] ^= 1;
  await refused(entry, { registry: reg });
  const spkId = bundle.slice();
  spkId[at.spk - 1] ^= 1;
  await refused(spkId, { registry: reg }, /signature does not verify/);
  assert.ok(verifies() > 0);
});

/** `bundle` with `signed` changed by `edit` and signed again with `identity`'s signing key. */
async function resigned(
  bundle: Uint8Array,
  identity: string,
  reg: EngineRegistry,
  edit: (signed: Uint8Array) => Uint8Array,
): Promise<Uint8Array> {
  const at = layout(bundle);
  const signed = edit(bundle.slice(9, at.signedEnd));
  const { signingKey } = parseIdentity(identity, { registry: reg });
  const sig = await signingKey!.engine.sign(
    signingKey!.secretKey,
    concatBytes(
      new TextEncoder().encode("polycrypt/session/1 bundle"),
      bundle.subarray(0, 9),
      signed,
    ),
  );
  const lp = new Uint8Array(4);
  new DataView(lp.buffer).setUint32(0, sig.length);
  return concatBytes(bundle.subarray(0, 9), signed, lp, sig, bundle.subarray(at.n));
}

Deno.test("refused: a validly signed bundle whose ik_cert is bad, or is another identity's", async () => {
  const { registry: reg } = countingRegistry();
  const bob = await identityOf("bob-x", "x25519", "ed25519+ml-dsa-65", reg);
  const eve = await identityOf("eve-x", "x25519", "ed25519+ml-dsa-65", reg);
  const { bundle } = await bobWith(bob.identity, mlkem768, 1, reg);
  const at = layout(bundle);
  // The control: re-signing an unchanged bundle gives a bundle that parses.
  await parseBundle(await resigned(bundle, bob.identity, reg, (s) => s), { registry: reg });
  // Bob's own signature over a flipped certificate: only ik_cert fails.
  const flipped = await resigned(bundle, bob.identity, reg, (s) => {
    s[at.cert.at - 9 + 10] ^= 1;
    return s;
  });
  await refused(flipped, { registry: reg }, /ik_cert does not verify/);
  // Eve re-signs Bob's IK and certificate under her own recipient: the certificate names Bob.
  const claimed = await resigned(bundle, eve.identity, reg, (s) => {
    s.set(new TextEncoder().encode(eve.recipient), at.recipient.at - 9);
    return s;
  });
  await refused(claimed, { registry: reg }, /ik_cert does not verify/);
  // An IK that is not the one the certificate names.
  const otherIk = await resigned(bundle, bob.identity, reg, (s) => {
    s[at.ik - 9] ^= 0x10;
    return s;
  });
  await refused(otherIk, { registry: reg }, /ik_cert does not verify/);
});

Deno.test("refused before any signature work: truncated, extended, bad magic or version, unknown KEM, limits", async () => {
  const { registry: reg, verifies } = countingRegistry();
  const bob = await identityOf("bob-x", "x25519", "ed25519+ml-dsa-65", reg);
  const { bundle } = await bobWith(bob.identity, registry.kem("ml-kem-512"), 1, reg);
  for (let length = 0; length < bundle.length; length++) {
    await refused(bundle.subarray(0, length), { registry: reg });
  }
  await refused(splice(bundle, bundle.length, 0, new Uint8Array(1)), { registry: reg }, /trailing/);
  const magic = bundle.slice();
  magic[0] ^= 0x20;
  await refused(magic, { registry: reg }, /not a prekey bundle/);
  const version = bundle.slice();
  version[8] = 2;
  await refused(version, { registry: reg }, /version/);
  // A KEM Bob's registry has and Alice's does not.
  const rsa = registry.kem("rsa-2048");
  const rsaBundle = await bobWith(bob.identity, rsa, 0, reg);
  await refused(rsaBundle.bundle, { registry: reg }, /unknown KEM "rsa-2048"/);
  // More than 1000 one-time keys (digest entries): m = 1001.
  const empty = (await bobWith(bob.identity, mlkem768, 0, reg)).bundle;
  const at = layout(empty);
  const entries = new Uint8Array(2 + 36 * 1001);
  entries[0] = 1001 >> 8;
  entries[1] = 1001 & 0xff;
  for (let i = 0; i < 1001; i++) new DataView(entries.buffer).setUint32(2 + 36 * i, i);
  await refused(splice(empty, at.m, 2, entries), { registry: reg }, /more than 1000/);
  await refused(splice(empty, at.q, 2, entries), { registry: reg }, /more than 1000/);
  // More attached keys than digests; a bundle over 16 MiB.
  const extra = splice(
    empty,
    at.n,
    2,
    new Uint8Array([0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 32, ...new Uint8Array(32)]),
  );
  await refused(extra, { registry: reg }, /more attached keys than signed digests/);
  await refused(new Uint8Array(BUNDLE_LIMITS.bytes + 1), { registry: reg }, /16 MiB/);
  assert.equal(verifies(), 0);
  assert.throws(() => trimBundle(bundle.subarray(0, 100), {}), InvalidKeyError);
});

Deno.test("refused before any signature work: an attached key without its signed digest, twice, or of unknown kind", async () => {
  const { registry: reg, verifies } = countingRegistry();
  const bob = await identityOf("bob-x", "x25519", "ed25519+ml-dsa-65", reg);
  const { bundle, prekeys } = await bobWith(bob.identity, mlkem768, 2, reg);
  const at = layout(bundle);
  // The first attached key is the first OPK: u8 kind || u32 id || lp(pub) after u16 n.
  const first = at.n + 2;
  const other = bundle.slice();
  other.set((await generatePrekeys(mlkem768, { oneTime: 1 }, 0)).opks[0].publicKey, first + 9);
  await refused(other, { registry: reg }, /no matching signed digest/);
  const kind = bundle.slice();
  kind[first] = 0x02; // an OPK presented as a PQOPK
  await refused(kind, { registry: reg }, /no matching signed digest/);
  const unknown = bundle.slice();
  unknown[first] = 0x03;
  await refused(unknown, { registry: reg }, /unknown kind/);
  const trimmed = trimBundle(bundle, { opk: prekeys.opks[0].id });
  const key = trimmed.subarray(trimmed.length - 41);
  const twice = new Uint8Array([...trimmed, ...key]);
  twice[trimmed.length - 41 - 1] = 2; // n = 2
  await refused(twice, { registry: reg }, /appears twice/);
  assert.equal(verifies(), 0);
});

Deno.test("refused before any signature work: ML-KEM keys failing the modulus check (Wycheproof), as PQSPK and as PQOPK", async () => {
  const { registry: reg, verifies } = countingRegistry();
  const bob = await identityOf("bob-x", "x25519", "ed25519+ml-dsa-65", reg);
  const { cases } = await loadWycheproof("mlkem_768_encaps_test.json");
  const bad = cases.map(({ test }) => test).filter((t) =>
    t.result === "invalid" && hex(t.ek).length === mlkem768.publicKeySize
  ).slice(0, 4);
  assert.equal(bad.length, 4);
  const prekeys = await generatePrekeys(mlkem768, { oneTime: 1 }, 1);
  for (const test of bad) {
    const ek = hex(test.ek);
    assert.throws(() => mlkem768.checkPublicKey!(ek), InvalidKeyError, `tc ${test.tcId}`);
    const asPqspk = await encodeBundle(bob.identity, {
      kem: mlkem768,
      ...prekeys,
      pqspk: { id: 1, publicKey: ek },
      created: 0,
      registry: reg,
    });
    await refused(asPqspk, { registry: reg }, /PQSPK fails its engine's check/);
    const asPqopk = await encodeBundle(bob.identity, {
      kem: mlkem768,
      ...prekeys,
      pqopks: [{ id: 9, publicKey: ek }],
      created: 0,
      registry: reg,
    });
    await refused(asPqopk, { registry: reg }, /a PQOPK fails its engine's check/);
  }
  // A key of the wrong size.
  const short = await encodeBundle(bob.identity, {
    kem: mlkem768,
    ...prekeys,
    pqspk: { id: 1, publicKey: prekeys.pqspk.publicKey.subarray(1) },
    created: 0,
    registry: reg,
  });
  await refused(short, { registry: reg }, /PQSPK fails/);
  assert.equal(verifies(), 0);
});

Deno.test("refused before any signature work: X25519 low-order and non-canonical points as SPK and as OPK", async () => {
  const { registry: reg, verifies } = countingRegistry();
  const bob = await identityOf("bob-x", "x25519", "ed25519+ml-dsa-65", reg);
  const prekeys = await generatePrekeys(mlkem768, { oneTime: 1 }, 1);
  const points = [
    new Uint8Array(32),
    hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // p
    hex("0900000000000000000000000000000000000000000000000000000000000080"), // top bit set
  ];
  for (const point of points) {
    const asSpk = await encodeBundle(bob.identity, {
      kem: mlkem768,
      ...prekeys,
      spk: { id: 1, publicKey: point },
      created: 0,
      registry: reg,
    });
    await refused(asSpk, { registry: reg }, /SPK is/);
    const asOpk = await encodeBundle(bob.identity, {
      kem: mlkem768,
      ...prekeys,
      opks: [{ id: 7, publicKey: point }],
      created: 0,
      registry: reg,
    });
    await refused(asOpk, { registry: reg }, /an OPK is/);
  }
  assert.equal(verifies(), 0);
});

Deno.test("checkX25519PublicKey refuses every Wycheproof public key with an all-zero shared secret, accepts the canonical others", async () => {
  const { cases } = await loadWycheproof("x25519_test.json");
  const counts = { zero: 0, accepted: 0, nonCanonical: 0 };
  for (const { test } of cases) {
    const pk = hex(test.public);
    if (test.flags.includes("ZeroSharedSecret")) {
      assert.throws(() => checkX25519PublicKey(pk), InvalidKeyError, `tc ${test.tcId}`);
      counts.zero++;
    } else if ((pk[31] & 0x80) === 0 && !test.flags.includes("NonCanonicalPublic")) {
      checkX25519PublicKey(pk);
      counts.accepted++;
    } else {
      // The top bit set, or u >= p: refused as not canonical (our keys never are).
      assert.throws(() => checkX25519PublicKey(pk), InvalidKeyError, `tc ${test.tcId}`);
      counts.nonCanonical++;
    }
  }
  assert.equal(counts.zero, 31);
  assert.ok(counts.accepted > 300, JSON.stringify(counts));
});

Deno.test("trimBundle keeps the signature valid: one key of each kind, one kind, or none", async () => {
  const bob = await identityOf("bob");
  const { bundle, prekeys } = await bobWith(bob.identity, mlkem768, 4);
  assert.deepEqual(attachedPrekeyIds(bundle), {
    opks: prekeys.opks.map((k) => k.id),
    pqopks: prekeys.pqopks.map((k) => k.id),
  });
  const both = trimBundle(bundle, { opk: prekeys.opks[2].id, pqopk: prekeys.pqopks[1].id });
  const parsed = await parseBundle(both, { expect: bob.recipient });
  assert.deepEqual(parsed.opks, [{ id: prekeys.opks[2].id, publicKey: prekeys.opks[2].publicKey }]);
  assert.deepEqual(parsed.pqopks, [{
    id: prekeys.pqopks[1].id,
    publicKey: prekeys.pqopks[1].publicKey,
  }]);
  // Three attached keys of each kind fewer: u8 kind || u32 id || lp(pub) each.
  assert.equal(both.length, bundle.length - 3 * (9 + 32) - 3 * (9 + mlkem768.publicKeySize));
  const onlyPq = await parseBundle(trimBundle(bundle, { pqopk: prekeys.pqopks[0].id }));
  assert.equal(onlyPq.opks.length, 0);
  assert.equal(onlyPq.pqopks.length, 1);
  const none = await parseBundle(trimBundle(bundle, {}));
  assert.deepEqual([none.opks, none.pqopks], [[], []]);
  assert.deepEqual(none.pqspk.publicKey, prekeys.pqspk.publicKey);
  assert.throws(() => trimBundle(bundle, { opk: 99999 }), RangeError);
  // A trimmed bundle can be trimmed again, to the same or fewer keys.
  assert.deepEqual(
    trimBundle(both, { opk: prekeys.opks[2].id, pqopk: prekeys.pqopks[1].id }),
    both,
  );
});

Deno.test("a version-1 identity cannot make a bundle: the error says how to upgrade it", async () => {
  const old = await generateIdentity("x25519", { signatureEngine: null });
  await assert.rejects(
    encodeBundle(old.identity, {
      kem: mlkem768,
      ...(await generatePrekeys(mlkem768, { oneTime: 0 }, 1)),
      created: 0,
    }),
    (e) => e instanceof TypeError && /keygen --upgrade/.test(e.message),
  );
  await assert.rejects(sessionKeys(old.identity), /keygen --upgrade/);
  await assert.rejects(generatePrekeys(mlkem768, { oneTime: 1001 }, 1), RangeError);
});

Deno.test("a third-party KEM in a private registry: its bundles parse there and nowhere else", async () => {
  const { p256 } = await import("../../examples/plugin_p256.ts");
  const mine = new EngineRegistry();
  for (const id of ["x25519", "aes-256-gcm", "ed25519"]) mine.register(registry.get(id));
  mine.register(p256);
  const bob = await generateIdentity("p256", { registry: mine, signatureEngine: "ed25519" });
  const prekeys = await generatePrekeys(p256, { oneTime: 1 }, 1);
  const bundle = await encodeBundle(bob.identity, {
    kem: p256,
    ...prekeys,
    created: 5,
    registry: mine,
  });
  const parsed = await parseBundle(bundle, { registry: mine });
  assert.equal(parsed.kem, p256);
  assert.equal(parsed.recipient, bob.recipient);
  await refused(bundle, {}, /recipient does not parse/);
});
