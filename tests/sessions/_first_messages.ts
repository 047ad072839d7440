// The conversation of tests/vectors/polycrypt/sessions/first_messages.json: a handshake and the
// first ratchet messages both ways, with fixed randomness through the sessions' internal hooks.
// scripts/session_first_messages.ts records it once; tests/sessions/first_messages_test.ts
// replays it and compares every byte.
import { registry } from "../../engines/mod.ts";
import { sha256 } from "../../engines/_hash.ts";
import { _buildMlKem } from "../../engines/mlkem/mlkem.ts";
import type { KemEngine } from "../../engines/types.ts";
import { _setRandomSource, x25519KeyPair } from "../../sessions/_identity.ts";
import { encodeBundle, parseBundle, type PrekeyPair } from "../../sessions/bundle.ts";
import { initiate, parsePrekeyMessage, respond } from "../../sessions/handshake.ts";
import { ratchetMessagePrefix } from "../../sessions/message.ts";
import {
  initAlice,
  initBob,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
  type RatchetSuite,
} from "../../sessions/ratchet.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const hex = (b: Uint8Array): string => b.toHex();
export const unhex = (s: string): Uint8Array => Uint8Array.fromHex(s);

/** Deterministic bytes: SHA-256(label || u32 counter), concatenated. */
export function stream(label: string): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const bytes = new Uint8Array(n);
    for (let at = 0; at < n; at += 32) {
      const c = counter++;
      const block = sha256(encoder.encode(label), new Uint8Array([c >>> 24, c >>> 16, c >>> 8, c]));
      bytes.set(block.subarray(0, Math.min(32, n - at)), at);
    }
    return bytes;
  };
}

/** ML-KEM-768 whose key pairs and encapsulations come from `random` (seeds and FIPS 203 `m`). */
function deterministicMlKem768(random: (n: number) => Uint8Array): KemEngine {
  const kem = registry.kem("ml-kem-768");
  const det = _buildMlKem(768, "noble");
  return {
    ...kem,
    generateKeyPair: () => kem.deriveKeyPair!(random(64)),
    encapsulate: (publicKey: Uint8Array) =>
      Promise.resolve(det.encapsulateWith(publicKey, random(32))),
  };
}

/** The inputs that are not randomness: the two identities, and what a replay keeps as made. */
export interface FirstMessagesInput {
  alice: { identity: string; recipient: string };
  bob: { identity: string; recipient: string };
  /** The signed bundle (its hedged ML-DSA signature is as made); made afresh when absent. */
  bundle?: Uint8Array;
  /** `sealed_from` as recorded: the `ik_cert` inside it is a hedged signature. */
  sealedFrom?: Uint8Array;
}

export interface FirstMessage {
  from: "alice" | "bob";
  kind: "prekey" | "ratchet";
  now: number;
  text: string;
  message: Uint8Array;
}

export interface FirstMessagesOutput {
  bundle: Uint8Array;
  prekeys: { spk: PrekeyPair; opk: PrekeyPair; pqspk: PrekeyPair; pqopk: PrekeyPair };
  sessionId: Uint8Array;
  /** `prekey_head` and `sealed_from` of Alice's prekey messages. */
  prekeyHead: Uint8Array;
  sealedFrom: Uint8Array;
  messages: FirstMessage[];
}

export const LABEL = "polycrypt/session/1 first messages vector";
const T0 = 1_764_720_000_000;

/**
 * Alice starts a session from Bob's bundle (one OPK and one PQOPK, ML-KEM-768, AES-256-GCM) and
 * sends two prekey messages; Bob reads both and answers twice; Alice reads both and answers once
 * (a ratchet message now); Bob reads it and answers once. Every message is decrypted by its
 * receiver on the way and checked against its text.
 */
export async function firstMessages(input: FirstMessagesInput): Promise<FirstMessagesOutput> {
  const prekeyRandom = stream(`${LABEL} prekeys`);
  const aliceRandom = stream(`${LABEL} alice`);
  const bobRandom = stream(`${LABEL} bob`);
  const aead = registry.aead("aes-256-gcm");
  const aliceSuite: RatchetSuite = {
    kem: deterministicMlKem768(aliceRandom),
    aead,
    random: aliceRandom,
  };
  const bobSuite: RatchetSuite = { kem: deterministicMlKem768(bobRandom), aead, random: bobRandom };
  const kem = registry.kem("ml-kem-768");
  try {
    _setRandomSource(prekeyRandom);
    const spk: PrekeyPair = { id: 1, ...(await x25519KeyPair()) };
    const opk: PrekeyPair = { id: 2, ...(await x25519KeyPair()) };
    const pqspk: PrekeyPair = { id: 1, ...(await kem.deriveKeyPair!(prekeyRandom(64))) };
    const pqopk: PrekeyPair = { id: 2, ...(await kem.deriveKeyPair!(prekeyRandom(64))) };
    const bundle = input.bundle ?? await encodeBundle(input.bob.identity, {
      kem,
      spk,
      pqspk,
      opks: [opk],
      pqopks: [pqopk],
      created: T0,
    });
    const verified = await parseBundle(bundle, { expect: input.bob.recipient });

    // Alice: the handshake (EK from her stream, the KEM's m too), then two prekey messages.
    _setRandomSource(aliceRandom);
    const hs = await initiate(input.alice.identity, { ...verified, kem: aliceSuite.kem });
    let prefix = hs.prefix;
    if (input.sealedFrom) {
      const made = parsePrekeyMessage(concat(hs.prefix, new Uint8Array(64)));
      const length = new Uint8Array(4);
      new DataView(length.buffer).setUint32(0, input.sealedFrom.length);
      prefix = concat(made.headBytes, concat(length, input.sealedFrom));
    }
    let alice: RatchetState = await initAlice(aliceSuite, {
      rootKey: hs.rootKey,
      headerKey: hs.headerKey,
      nextHeaderKey: hs.nextHeaderKey,
      peerDh: hs.peerDh,
      ad: hs.ad,
      now: T0,
    });
    const messages: FirstMessage[] = [];
    const send = async (from: "alice" | "bob", text: string, now: number) => {
      const isAlice = from === "alice";
      const head = isAlice && messages.every((m) => m.from === "alice")
        ? prefix
        : ratchetMessagePrefix();
      const out = await ratchetEncrypt(
        isAlice ? aliceSuite : bobSuite,
        isAlice ? alice : bob!,
        encoder.encode(text),
        head,
        now,
      );
      if (isAlice) alice = out.state;
      else bob = out.state;
      const message = concat(head, out.body);
      messages.push({ from, kind: head === prefix ? "prekey" : "ratchet", now, text, message });
      return message;
    };
    let bob: RatchetState | undefined;
    const receive = async (to: "alice" | "bob", m: FirstMessage) => {
      const isBob = to === "bob";
      const p = m.kind === "prekey" ? parsePrekeyMessage(m.message).prefix : ratchetMessagePrefix();
      const body = m.message.subarray(p.length);
      const out = await ratchetDecrypt(
        isBob ? bobSuite : aliceSuite,
        isBob ? bob! : alice,
        p,
        body,
        m.now + 1,
      );
      if (isBob) bob = out.state;
      else alice = out.state;
      if (decoder.decode(out.data) !== m.text) throw new Error(`${to} read the wrong text`);
    };
    await send("alice", "Hello Bob, this is Alice.", T0 + 1000);
    await send("alice", "A second prekey message, before any reply.", T0 + 2000);

    // Bob: the handshake from the first message, with the prekeys it names.
    _setRandomSource(bobRandom);
    const parsed = parsePrekeyMessage(messages[0].message);
    const byId = (p: PrekeyPair) => (id: number) => Promise.resolve(id === p.id ? p : undefined);
    const bobHs = await respond(input.bob.identity, parsed, {
      spk: byId(spk),
      opk: byId(opk),
      pqspk: (id) => Promise.resolve(id === pqspk.id ? { ...pqspk, kem: kem.id } : undefined),
      pqopk: (id) => Promise.resolve(id === pqopk.id ? { ...pqopk, kem: kem.id } : undefined),
    }, { registry, aead });
    if (bobHs.peerRecipient !== input.alice.recipient) throw new Error("Bob saw another sender");
    if (hex(bobHs.sessionId) !== hex(hs.sessionId)) throw new Error("the session ids differ");
    bob = await initBob(bobSuite, {
      rootKey: bobHs.rootKey,
      nextSendHeaderKey: bobHs.nextHeaderKey,
      nextRecvHeaderKey: bobHs.headerKey,
      ownDh: bobHs.ownDh,
      ad: bobHs.ad,
      now: T0 + 3000,
    });
    await receive("bob", messages[0]);
    await receive("bob", messages[1]);
    await send("bob", "Hello Alice.", T0 + 4000);
    await send("bob", "Bob's second message.", T0 + 5000);
    await receive("alice", messages[2]);
    await receive("alice", messages[3]);
    await send("alice", "Alice again: a ratchet message now.", T0 + 6000);
    await receive("bob", messages[4]);
    await send("bob", "The end.", T0 + 7000);
    await receive("alice", messages[5]);
    const sent = parsePrekeyMessage(messages[0].message);
    return {
      bundle,
      prekeys: { spk, opk, pqspk, pqopk },
      sessionId: hs.sessionId,
      prekeyHead: sent.headBytes,
      sealedFrom: sent.sealedFrom,
      messages,
    };
  } finally {
    _setRandomSource(undefined);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
