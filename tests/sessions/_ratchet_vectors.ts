// The scenario behind tests/vectors/polycrypt/sessions/ratchet.json: a conversation replayed with
// fixed randomness (the suite's internal `random` hook and an ML-KEM-768 whose key generation and
// encapsulation draw from the same stream), so that every ratchet body is reproducible.
// generate_ratchet.ts writes the file once; ratchet_vectors_test.ts replays it both ways.
import { hmac, registry } from "../../mod.ts";
import { _buildMlKem } from "../../engines/mlkem/mlkem.ts";
import type { KemEngine } from "../../engines/types.ts";
import { generateDh } from "../../sessions/_kdf.ts";
import {
  encodeRatchetState,
  initAlice,
  initBob,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
  type RatchetSuite,
} from "../../sessions/ratchet.ts";
import { PREFIX } from "./_ratchet.ts";

const LABEL = new TextEncoder().encode("polycrypt ratchet vector drbg");

/**
 * The vectors' randomness: `block_i = HMAC-SHA-256(seed, LABEL || u32 i)` for i = 0, 1, ...,
 * concatenated and consumed in order.
 */
export function drbg(seed: Uint8Array): (length: number) => Uint8Array {
  let i = 0;
  let pool = new Uint8Array(0);
  return (length: number) => {
    while (pool.length < length) {
      const block = hmac("SHA-256", seed, LABEL, Uint8Array.of(i >>> 24, i >>> 16, i >>> 8, i));
      i++;
      const next = new Uint8Array(pool.length + 32);
      next.set(pool);
      next.set(block, pool.length);
      pool = next;
    }
    const out = pool.slice(0, length);
    pool = pool.slice(length);
    return out;
  };
}

const mlKem = _buildMlKem(768, "noble");

/** ML-KEM-768 (the registry's bytes) drawing its seeds and messages from `random`. */
export function deterministicMlKem768(random: (length: number) => Uint8Array): KemEngine {
  const base = registry.kem("ml-kem-768");
  return Object.freeze({
    ...base,
    generateKeyPair: () => base.deriveKeyPair!(random(64)),
    encapsulate: (publicKey: Uint8Array) =>
      Promise.resolve(mlKem.encapsulateWith(publicKey, random(32))),
  });
}

/** One message of the scenario. */
export interface Step {
  from: "alice" | "bob";
  now: number;
  size: number;
}

/**
 * The conversation: both first chains (Alice's KEM key, Bob's KEM step), a DH-only round, then a
 * KEM step by the clock from each side, the last two messages in one chain.
 */
export const STEPS: readonly Step[] = [
  { from: "alice", now: 1_000, size: 0 },
  { from: "alice", now: 1_001, size: 1 },
  { from: "bob", now: 2_000, size: 100 },
  { from: "alice", now: 3_000, size: 1024 },
  { from: "bob", now: 4_000, size: 13 },
  { from: "alice", now: 1_000 + 3_600_000, size: 64 },
  { from: "bob", now: 2_000 + 3_600_000, size: 0 },
  { from: "bob", now: 2_000 + 3_600_001, size: 300 },
];

/** What a vector case fixes. */
export interface CaseInput {
  aead: string;
  aliceSeed: Uint8Array;
  bobSeed: Uint8Array;
  rootKey: Uint8Array;
  headerKey: Uint8Array;
  nextHeaderKey: Uint8Array;
  ad: Uint8Array;
  spkSecret: Uint8Array;
}

/** The data of step `i`: bytes `(i * 31 + j) mod 256`. */
export const stepData = (i: number, size: number): Uint8Array =>
  Uint8Array.from({ length: size }, (_, j) => (i * 31 + j) & 0xff);

/**
 * Replays the scenario. `committed(i)` gives a committed body to decrypt in place of the one just
 * made (the "decrypt" direction); the bodies made are returned (the "re-derive" direction).
 */
export async function replay(
  input: CaseInput,
  committed?: (i: number) => Uint8Array,
): Promise<{ bodies: Uint8Array[]; received: Uint8Array[]; states: Uint8Array[] }> {
  const aliceRandom = drbg(input.aliceSeed), bobRandom = drbg(input.bobSeed);
  const aead = registry.aead(input.aead);
  const suites: Record<"alice" | "bob", RatchetSuite> = {
    alice: { kem: deterministicMlKem768(aliceRandom), aead, random: aliceRandom },
    bob: { kem: deterministicMlKem768(bobRandom), aead, random: bobRandom },
  };
  const spk = generateDh(() => input.spkSecret);
  const states: Record<"alice" | "bob", RatchetState> = {
    alice: await initAlice(suites.alice, {
      rootKey: input.rootKey,
      headerKey: input.headerKey,
      nextHeaderKey: input.nextHeaderKey,
      peerDh: spk.publicKey,
      ad: input.ad,
      now: 0,
    }),
    bob: await initBob(suites.bob, {
      rootKey: input.rootKey,
      nextSendHeaderKey: input.nextHeaderKey,
      nextRecvHeaderKey: input.headerKey,
      ownDh: spk,
      ad: input.ad,
      now: 0,
    }),
  };
  const bodies: Uint8Array[] = [], received: Uint8Array[] = [];
  for (const [i, step] of STEPS.entries()) {
    const to = step.from === "alice" ? "bob" : "alice";
    const sent = await ratchetEncrypt(
      suites[step.from],
      states[step.from],
      stepData(i, step.size),
      PREFIX,
      step.now,
    );
    states[step.from] = sent.state;
    bodies.push(sent.body);
    const got = await ratchetDecrypt(
      suites[to],
      states[to],
      PREFIX,
      committed?.(i) ?? sent.body,
      step.now,
    );
    states[to] = got.state;
    received.push(got.data);
  }
  return {
    bodies,
    received,
    states: [encodeRatchetState(states.alice), encodeRatchetState(states.bob)],
  };
}
