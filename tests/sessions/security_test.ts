// Account-level security properties (docs/sessions.md sections 7 and 8): forward secrecy,
// post-compromise security and its boundary, a stolen database without the identity, 0600
// files, and mutated messages rejected without any change to the store.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  createAccount,
  DecryptionError,
  MemorySessionStore,
  SqliteSessionStore,
} from "../../mod.ts";
import { sessionKeys } from "../../sessions/_identity.ts";
import { parseBundle } from "../../sessions/bundle.ts";
import { parsePrekeyMessage } from "../../sessions/handshake.ts";
import {
  assertSameStore,
  copyStore,
  CountingStore,
  dec,
  enc,
  identity,
  snapshot,
  withTempDir,
} from "./_account_helpers.ts";

const KEM_EVERY_TURN = { messages: 1, milliseconds: 3_600_000 };

Deno.test("forward secrecy: a copy of Bob's state after receiving does not open what he received", async () => {
  const bobStore = new MemorySessionStore();
  const bobId = (await identity(0)).identity;
  const bob = await createAccount({ identity: bobId, store: bobStore });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const captured = [await alice.encrypt(await bob.prekeyBundle({ oneTimeKeys: 1 }), enc("m0"))];
  await bob.decrypt(captured[0]);
  await alice.decrypt(await bob.encrypt(alice.fingerprint, enc("ack")));
  for (let i = 1; i <= 3; i++) captured.push(await alice.encrypt(bob.fingerprint, enc(`m${i}`)));
  const late = await alice.encrypt(bob.fingerprint, enc("late"));
  for (const m of captured.slice(1)) await bob.decrypt(m);
  // The thief has the identity and a full copy of the store, taken after the messages arrived.
  const thief = await createAccount({ identity: bobId, store: await copyStore(bobStore) });
  for (const m of captured) await assert.rejects(thief.decrypt(m), DecryptionError);
  // The boundary: a message not yet received when the copy was made still opens with it.
  assert.equal(dec((await thief.decrypt(late)).data), "late");
  // The identity alone (a fresh store) opens nothing: the prekeys lived only in Bob's store.
  const bare = await createAccount({ identity: bobId, store: new MemorySessionStore() });
  for (const m of [...captured, late]) await assert.rejects(bare.decrypt(m), DecryptionError);
});

Deno.test("post-compromise security: a copy of Alice's state reads until one round trip with a KEM step, then nothing", async () => {
  const aliceStore = new MemorySessionStore();
  const aliceId = (await identity(1)).identity;
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
    policy: KEM_EVERY_TURN,
  });
  const alice = await createAccount({
    identity: aliceId,
    store: aliceStore,
    policy: KEM_EVERY_TURN,
  });
  await bob.decrypt(await alice.encrypt(await bob.prekeyBundle(), enc("hello")));
  await alice.decrypt(await bob.encrypt(alice.fingerprint, enc("hi")));
  await bob.decrypt(await alice.encrypt(bob.fingerprint, enc("a0")));
  // Time t: the attacker copies Alice's whole state (store and identity) and records traffic.
  const attacker = await createAccount({
    identity: aliceId,
    store: await copyStore(aliceStore),
    policy: KEM_EVERY_TURN,
  });
  const b1 = await bob.encrypt(alice.fingerprint, enc("b1 before healing"));
  const b1b = await bob.encrypt(alice.fingerprint, enc("b1b before healing"));
  // Before healing the passive attacker reads Bob's messages...
  assert.equal(dec((await attacker.decrypt(b1)).data), "b1 before healing");
  assert.equal(dec((await attacker.decrypt(b1b)).data), "b1b before healing");
  assert.equal(dec((await alice.decrypt(b1)).data), "b1 before healing");
  assert.equal(dec((await alice.decrypt(b1b)).data), "b1b before healing");
  // ...then one round trip with fresh DH and KEM steps: Alice answers, Bob answers.
  const a1 = await alice.encrypt(bob.fingerprint, enc("a1"));
  assert.ok(a1.length > 2000, "a1 carries a KEM step (public key and ciphertext)");
  await bob.decrypt(a1);
  const after = [];
  for (let i = 0; i < 3; i++) {
    after.push(await bob.encrypt(alice.fingerprint, enc(`b2.${i} healed`)));
  }
  for (const m of after) await assert.rejects(attacker.decrypt(m), DecryptionError);
  for (const [i, m] of after.entries()) {
    assert.equal(dec((await alice.decrypt(m)).data), `b2.${i} healed`);
  }
  // And it stays healed for the next turns.
  await bob.decrypt(await alice.encrypt(bob.fingerprint, enc("a2")));
  await assert.rejects(
    attacker.decrypt(await bob.encrypt(alice.fingerprint, enc("b3"))),
    DecryptionError,
  );
});

/** Every 12-byte window of `haystacks`, as hex, for looking needles up. */
function windows(haystacks: Uint8Array[], size: number): Set<string> {
  const out = new Set<string>();
  for (const h of haystacks) {
    const hex = h.toHex();
    for (let i = 0; i + size <= h.length; i++) out.add(hex.slice(2 * i, 2 * (i + size)));
  }
  return out;
}

/** The first piece of `needle` (cut in `size`-byte pieces) found in `seen`, if any. */
function leaked(needle: Uint8Array, seen: Set<string>, size: number): number | undefined {
  for (let o = 0; o + size <= needle.length; o += size) {
    const piece = needle.subarray(o, o + size);
    if (piece.every((b) => b === piece[0])) continue; // runs of one byte say nothing
    if (seen.has(piece.toHex())) return o;
  }
  if (needle.length >= 8 && needle.length < size) {
    // Short needles (a 32-byte key is cut in two pieces; shorter ones are checked whole).
    const hex = needle.toHex();
    for (const w of seen) if (w.includes(hex)) return 0;
  }
  return undefined;
}

Deno.test("a copy of the database without the identity reveals nothing the test knows", async () => {
  await withTempDir(async (dir) => {
    const ids = [await identity(0), await identity(1)];
    const bobStore = new SqliteSessionStore(`${dir}/bob.db`);
    const aliceStore = new SqliteSessionStore(`${dir}/alice.db`);
    const bob = await createAccount({
      identity: ids[0].identity,
      store: bobStore,
      policy: KEM_EVERY_TURN,
    });
    const alice = await createAccount({
      identity: ids[1].identity,
      store: aliceStore,
      policy: KEM_EVERY_TURN,
    });
    const needles: [string, Uint8Array][] = [];
    const text = (what: string, s: string) => needles.push([what, enc(s)]);
    const bytes = (what: string, b: Uint8Array) => needles.push([what, b]);
    const bundle = await bob.prekeyBundle({ oneTimeKeys: 3 });
    const parsed = await parseBundle(bundle);
    bytes("bundle SPK", parsed.spk.publicKey);
    bytes("bundle PQSPK", parsed.pqspk.publicKey);
    bytes("bundle IK", parsed.ik);
    for (const k of [...parsed.opks, ...parsed.pqopks]) {
      bytes(`one-time prekey ${k.id}`, k.publicKey);
    }
    const plaintexts = Array.from(
      { length: 12 },
      (_, i) => `secret message number ${i}: ${crypto.randomUUID()}`,
    );
    const messages: Uint8Array[] = [];
    messages.push(await alice.encrypt(bundle, enc(plaintexts[0])));
    const head = parsePrekeyMessage(messages[0]);
    bytes("EK_A", head.head.ek);
    bytes("KEM ciphertext", head.head.ct);
    bytes("sealed_from", head.sealedFrom);
    await bob.decrypt(messages[0]);
    for (let i = 1; i < plaintexts.length; i++) {
      const [from, to] = i % 3 === 0 ? [alice, bob] : [bob, alice];
      const m = await from.encrypt(to.fingerprint, enc(plaintexts[i]));
      messages.push(m);
      assert.equal(dec((await to.decrypt(m)).data), plaintexts[i]);
    }
    plaintexts.forEach((p, i) => text(`plaintext ${i}`, p));
    messages.forEach((m, i) => bytes(`message ${i}`, m));
    for (const [i, id] of ids.entries()) {
      text(`identity ${i}`, id.identity);
      text(`recipient ${i}`, id.recipient);
      const keys = await sessionKeys(id.identity);
      bytes(`IK secret ${i}`, keys.ik.secretKey);
      bytes(`IK public ${i}`, keys.ik.publicKey);
      bytes(`ik_cert ${i}`, keys.ikCert);
      bytes(`storage key ${i}`, keys.storageKey);
    }
    for (const account of [alice, bob]) {
      text("fingerprint", account.fingerprint);
      text("fingerprint, compact", account.fingerprint.replaceAll(" ", ""));
    }
    bytes("session id", (await alice.sessionId(bob.fingerprint))!);
    for (
      const word of ["ml-kem-768", "aes-256-gcm", "session/", "peer/", "account", "spk/", "PCRYPT"]
    ) {
      text(word, word);
    }
    const check = async (label: string) => {
      for (const name of ["bob.db", "alice.db"]) {
        const files = [];
        for (const suffix of ["", "-wal"]) {
          try {
            files.push(await Deno.readFile(`${dir}/${name}${suffix}`));
          } catch (e) {
            if (!(e instanceof Deno.errors.NotFound)) throw e;
          }
        }
        assert.ok(files.reduce((n, f) => n + f.length, 0) > 4096, "the database has content");
        const seen12 = windows(files, 12);
        // The search finds what is there: the blinded name of the `account` record.
        const owner = name === "bob.db" ? ids[0] : ids[1];
        const blinded = createHmac("sha256", (await sessionKeys(owner.identity)).storageKey)
          .update("account").digest("hex");
        assert.equal(leaked(enc(blinded), seen12, 12), 0, "the blinded key of `account` is found");
        for (const [what, needle] of needles) {
          const at = leaked(needle, seen12, 12);
          assert.equal(at, undefined, `${label}: ${name} contains ${what} (piece at ${at})`);
        }
      }
    };
    await check("open database with its write-ahead log");
    await alice.close();
    await bob.close();
    await check("closed database");
    if (Deno.build.os !== "windows") {
      for (const name of ["bob.db", "alice.db"]) {
        assert.equal((await Deno.stat(`${dir}/${name}`)).mode! & 0o777, 0o600);
      }
    }
    // The stores still work with the identities: nothing was lost in the sealing.
    const again = await createAccount({
      identity: ids[0].identity,
      store: new SqliteSessionStore(`${dir}/bob.db`),
    });
    assert.equal((await again.sessions())[0].fingerprint, alice.fingerprint);
    await again.close();
  });
});

/** A small deterministic generator (xorshift32): mutations are reproducible from the seed. */
function prng(seed: number): (n: number) => number {
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

function mutate(m: Uint8Array, rnd: (n: number) => number): Uint8Array {
  const kind = rnd(10);
  if (kind < 6) { // one bit flipped
    const out = m.slice();
    out[rnd(out.length)] ^= 1 << rnd(8);
    return out;
  }
  if (kind < 7) return m.slice(0, rnd(m.length)); // truncated
  if (kind < 8) { // bytes appended
    const out = new Uint8Array(m.length + 1 + rnd(32));
    out.set(m);
    out.fill(rnd(256), m.length);
    return out;
  }
  // a run of bytes overwritten
  const out = m.slice();
  const at = rnd(out.length);
  const len = 1 + rnd(16);
  for (let i = at; i < Math.min(out.length, at + len); i++) out[i] = rnd(256);
  if (out.every((b, i) => b === m[i])) out[at] ^= 0xff;
  return out;
}

Deno.test("100,000 mutated session messages (prekey and ratchet) are refused without any store change", async () => {
  const store = new CountingStore();
  const bob = await createAccount({ identity: (await identity(0)).identity, store });
  const alice = await createAccount({
    identity: (await identity(1)).identity,
    store: new MemorySessionStore(),
  });
  const carol = await createAccount({
    identity: (await identity(2)).identity,
    store: new MemorySessionStore(),
  });
  const bundle = await bob.prekeyBundle({ oneTimeKeys: 2 });
  // A prekey message of a session Bob has (Alice repeats it until she hears back), one that would
  // start a new session (Carol's, not delivered yet), and ratchet messages both fresh and old.
  const prekeyKnown = await alice.encrypt(bundle, enc("p0"));
  const prekeyRepeat = await alice.encrypt(bundle, enc("p1"));
  await bob.decrypt(prekeyKnown);
  await alice.decrypt(await bob.encrypt(alice.fingerprint, enc("ack")));
  const ratchet = await alice.encrypt(bob.fingerprint, enc("r0"));
  const skipped = await alice.encrypt(bob.fingerprint, enc("r1"));
  const ratchetNext = await alice.encrypt(bob.fingerprint, enc("r2"));
  await bob.decrypt(ratchetNext); // r0 and r1 now wait among the skipped keys
  const prekeyNew = await carol.encrypt(await bob.prekeyBundle({ oneTimeKeys: 1 }), enc("c0"));
  const before = await snapshot(store);
  const commits = store.commits;
  const rnd = prng(0x5eed);
  const plan: [Uint8Array, number][] = [
    [ratchet, 40_000],
    [skipped, 20_000],
    [prekeyRepeat, 30_000],
    [prekeyNew, 10_000], // every one of these runs the handshake's checks up to the failing one
  ];
  let total = 0;
  const started = performance.now();
  for (const [message, count] of plan) {
    for (let i = 0; i < count; i++) {
      const bad = mutate(message, rnd);
      await assert.rejects(bob.decrypt(bad), DecryptionError);
      total++;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`${total} mutated messages refused in ${seconds.toFixed(1)} s`);
  assert.equal(total, 100_000);
  assert.equal(store.commits, commits, "no commit for a refused message");
  assertSameStore(before, await snapshot(store));
  // The originals still open: the state was never touched.
  assert.equal(dec((await bob.decrypt(ratchet)).data), "r0");
  assert.equal(dec((await bob.decrypt(skipped)).data), "r1");
  assert.equal(dec((await bob.decrypt(prekeyRepeat)).data), "p1");
  assert.equal(dec((await bob.decrypt(prekeyNew)).data), "c0");
});
