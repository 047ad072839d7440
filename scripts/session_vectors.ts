// Generates tests/vectors/polycrypt/sessions/handshake.json: known answers for the session
// handshake of docs/sessions.md sections 1 to 4 (IK derivation, bundle, PQXDH with a registry KEM,
// sender seal, prekey head). tests/sessions/handshake_test.ts checks that respond() and the KDFs
// reproduce every recorded output. Run once, never over the committed file:
//
//   deno run --allow-read --allow-write --allow-env scripts/session_vectors.ts [OUT]
//
// Fixed randomness: every X25519 secret (SPK, OPK, EK) comes from a counter-mode SHA-256 stream
// through the sessions' @internal random hook; ML-KEM prekeys come from fixed 64-byte seeds
// (deriveKeyPair); the ML-KEM encapsulation uses a fixed FIPS 203 `m` through the engine's
// internal deterministic encapsulation. A KemEngine takes no randomness, so the hybrid case records
// the ciphertext and shared secret it made instead. Identities (and so the hedged ML-DSA
// signatures of ik_cert and of the bundle) are fresh and recorded: the vector holds every secret
// input.
import { generateIdentity } from "../mod.ts";
import { registry } from "../engines/mod.ts";
import { sha256 } from "../engines/_hash.ts";
import { _buildMlKem } from "../engines/mlkem/mlkem.ts";
import type { KemEngine, KemKeyPair } from "../engines/types.ts";
import { encodeBundle, parseBundle, type PrekeyPair, trimBundle } from "../sessions/bundle.ts";
import { initiate, parsePrekeyMessage } from "../sessions/handshake.ts";
import {
  _setRandomSource,
  sessionKeys,
  x25519KeyPair,
  x25519PublicKey,
} from "../sessions/_identity.ts";

const encoder = new TextEncoder();
const out = Deno.args[0] ?? "tests/vectors/polycrypt/sessions/handshake.json";
try {
  await Deno.lstat(out);
  console.error(`${out} exists: committed vectors are never regenerated (name another file)`);
  Deno.exit(1);
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

/** Deterministic bytes: SHA-256(label || u32 counter), concatenated. */
function stream(label: string): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const bytes = new Uint8Array(n);
    for (let at = 0; at < n; at += 32) {
      const block = sha256(encoder.encode(label), new Uint8Array([0, 0, counter >> 8, counter++]));
      bytes.set(block.subarray(0, Math.min(32, n - at)), at);
    }
    return bytes;
  };
}

interface Case {
  name: string;
  kem: string;
  opk: boolean;
  pqopk: boolean;
}

const CASES: Case[] = [
  {
    name: "ml-kem-768, one-time X25519 and KEM prekeys (DH1..DH4 + PQOPK)",
    kem: "ml-kem-768",
    opk: true,
    pqopk: true,
  },
  {
    name: "ml-kem-768, no one-time prekeys (DH1..DH3 + the last-resort PQSPK)",
    kem: "ml-kem-768",
    opk: false,
    pqopk: false,
  },
  {
    name: "ml-kem-512, a one-time KEM prekey and no OPK",
    kem: "ml-kem-512",
    opk: false,
    pqopk: true,
  },
  {
    name: "x25519+ml-kem-768 in the post-quantum slot, OPK and the last-resort PQSPK",
    kem: "x25519+ml-kem-768",
    opk: true,
    pqopk: false,
  },
];

const hex = (b: Uint8Array) => b.toHex();
const pair = (p: PrekeyPair) => ({ id: p.id, secret: hex(p.secretKey), public: hex(p.publicKey) });

const alice = await generateIdentity();
const bob = await generateIdentity();
const aliceKeys = await sessionKeys(alice.identity);
const bobKeys = await sessionKeys(bob.identity);
const vectors = [];
for (const [index, c] of CASES.entries()) {
  const kem = registry.kem(c.kem);
  const random = stream(`polycrypt session vectors ${index}`);
  _setRandomSource(random);
  try {
    const x = async (id: number): Promise<PrekeyPair> => ({ id, ...(await x25519KeyPair()) });
    const pq = async (id: number): Promise<PrekeyPair> => {
      const seedLength = c.kem.startsWith("ml-kem") ? 64 : 0;
      const made: KemKeyPair = seedLength
        ? await kem.deriveKeyPair!(random(seedLength))
        : await kem.generateKeyPair(); // the hybrid has no deriveKeyPair: recorded as made
      return { id, ...made };
    };
    const spk = await x(1000 + index);
    const pqspk = await pq(2000 + index);
    const opk = await x(3000 + index);
    const pqopk = await pq(4000 + index);
    const full = await encodeBundle(bob.identity, {
      kem,
      spk,
      pqspk,
      opks: [opk],
      pqopks: [pqopk],
      created: 1_764_720_000_000 + index,
    });
    const bundle = trimBundle(full, {
      ...(c.opk ? { opk: opk.id } : {}),
      ...(c.pqopk ? { pqopk: pqopk.id } : {}),
    });
    const verified = await parseBundle(bundle, { expect: bob.recipient });
    // The encapsulation: a fixed m for ML-KEM, else whatever the engine made (recorded).
    const m = c.kem.startsWith("ml-kem") ? random(32) : undefined;
    let made: { encapsulation: Uint8Array; sharedSecret: Uint8Array } | undefined;
    const replay: KemEngine = {
      ...kem,
      async encapsulate(publicKey) {
        if (m) {
          const size = Number(c.kem.slice("ml-kem-".length)) as 512 | 768 | 1024;
          made = _buildMlKem(size, "noble").encapsulateWith(publicKey, m);
        } else {
          made = await kem.encapsulate(publicKey);
        }
        // initiate erases the secret it is given: hand it a copy.
        return { encapsulation: made.encapsulation, sharedSecret: made.sharedSecret.slice() };
      },
    };
    // The only X25519 key initiate makes is EK: record the secret the hook hands it.
    const drawn: Uint8Array[] = [];
    _setRandomSource((n) => {
      const bytes = random(n);
      drawn.push(bytes.slice());
      return bytes;
    });
    const a = await initiate(alice.identity, { ...verified, kem: replay });
    if (drawn.length !== 1) throw new Error("initiate drew other than one X25519 key");
    const ekPublic = await x25519PublicKey(drawn[0]);
    const parsed = parsePrekeyMessage(new Uint8Array([...a.prefix, ...new Uint8Array(16)]));
    if (hex(parsed.head.ek) !== hex(ekPublic)) throw new Error("EK is not the recorded one");
    vectors.push({
      name: c.name,
      kem: c.kem,
      aead: "aes-256-gcm",
      bundle: hex(bundle),
      prekeys: {
        spk: pair(spk),
        pqspk: pair(pqspk),
        ...(c.opk ? { opk: pair(opk) } : {}),
        ...(c.pqopk ? { pqopk: pair(pqopk) } : {}),
      },
      ek_secret: hex(drawn[0]),
      ek_public: hex(ekPublic),
      ...(m ? { kem_m: hex(m) } : {}),
      ct: hex(made!.encapsulation),
      ss: hex(made!.sharedSecret),
      prekey_head: hex(parsed.headBytes),
      sealed_from: hex(parsed.sealedFrom),
      root_key: hex(a.rootKey),
      hka: hex(a.headerKey),
      nhkb: hex(a.nextHeaderKey),
      sid: hex(a.sessionId),
      ad: hex(a.ad),
    });
  } finally {
    _setRandomSource(undefined);
  }
}

const file = {
  description: "Known answers for the session handshake of docs/sessions.md sections 1 to 4 " +
    "(format version 1): IK derivation, the prekey bundle, PQXDH with a registry KEM, the " +
    "sender seal and the prekey head.",
  provenance: "Generated once by scripts/session_vectors.ts (polycrypt, 2026-12-03) with fixed " +
    "X25519 randomness (the sessions' @internal random hook), ML-KEM prekeys from fixed seeds and " +
    "a fixed FIPS 203 m; the identities and the hedged ML-DSA signatures are as made and recorded. " +
    "Checked by tests/sessions/handshake_test.ts. Never regenerate over this file: later versions " +
    "must reproduce it.",
  alice: {
    identity: alice.identity,
    recipient: alice.recipient,
    ik_secret: hex(aliceKeys.ik.secretKey),
    ik_public: hex(aliceKeys.ik.publicKey),
    ik_cert: hex(aliceKeys.ikCert),
  },
  bob: {
    identity: bob.identity,
    recipient: bob.recipient,
    ik_secret: hex(bobKeys.ik.secretKey),
    ik_public: hex(bobKeys.ik.publicKey),
    ik_cert: hex(bobKeys.ikCert),
    storage_key: hex(bobKeys.storageKey),
  },
  cases: vectors,
};
await Deno.mkdir(new URL(".", new URL(out, `file://${Deno.cwd()}/`)), { recursive: true });
await Deno.writeTextFile(out, JSON.stringify(file, null, 1) + "\n");
console.log(`wrote ${out}: ${vectors.length} cases`);
