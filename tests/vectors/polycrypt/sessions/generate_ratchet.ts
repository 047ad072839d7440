// Generates ratchet.json, the committed ratchet bodies every later polycrypt version must keep
// reading (tests/sessions/ratchet_vectors_test.ts). Run once, never over a committed file:
//   deno run --allow-read --allow-write --allow-env tests/vectors/polycrypt/sessions/generate_ratchet.ts
// Written 2026-12-03 for docs/sessions.md version 1.
import { sha256 } from "../../../../engines/_hash.ts";
import { replay, STEPS, stepData } from "../../../sessions/_ratchet_vectors.ts";

const out = new URL("./ratchet.json", import.meta.url);
try {
  await Deno.stat(out);
  console.error("ratchet.json exists: committed vectors are never regenerated");
  Deno.exit(1);
} catch (e) {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

const hex = (b: Uint8Array) => b.toHex();
const fixed = (label: string, n: number) =>
  sha256(new TextEncoder().encode(`polycrypt ratchet vector ${label}`)).subarray(0, n);

const cases = [];
for (const aead of ["aes-256-gcm", "xchacha20-poly1305"]) {
  const input = {
    aead,
    aliceSeed: fixed(`${aead} alice`, 32),
    bobSeed: fixed(`${aead} bob`, 32),
    rootKey: fixed(`${aead} root`, 32),
    headerKey: fixed(`${aead} hka`, 32),
    nextHeaderKey: fixed(`${aead} nhkb`, 32),
    ad: fixed(`${aead} ad`, 32),
    spkSecret: fixed(`${aead} spk`, 32),
  };
  const { bodies, states } = await replay(input);
  cases.push({
    kem: "ml-kem-768",
    aead,
    aliceSeed: hex(input.aliceSeed),
    bobSeed: hex(input.bobSeed),
    rootKey: hex(input.rootKey),
    headerKey: hex(input.headerKey),
    nextHeaderKey: hex(input.nextHeaderKey),
    ad: hex(input.ad),
    spkSecret: hex(input.spkSecret),
    prefix: "5043525950540001" + "0202",
    messages: STEPS.map((step, i) => ({
      ...step,
      data: hex(stepData(i, step.size)),
      body: hex(bodies[i]),
    })),
    finalStateSha256: { alice: hex(sha256(states[0])), bob: hex(sha256(states[1])) },
  });
}

const doc = {
  description: "Double Ratchet bodies (docs/sessions.md sections 4-5, version 1) of one " +
    "conversation per AEAD, made with fixed randomness: each party draws every random byte " +
    "(X25519 ratchet secrets, nonce_h, ML-KEM-768 key seeds d||z and encapsulation messages m) " +
    "from block_i = HMAC-SHA-256(seed, 'polycrypt ratchet vector drbg' || u32 i), in the order " +
    "the ratchet asks for them. Bob's SPK is the X25519 key with secret spkSecret. Each message " +
    "is decrypted by the other party right after it is made; finalStateSha256 is SHA-256 of " +
    "encodeRatchetState after the last message.",
  cases,
};
await Deno.writeTextFile(out, JSON.stringify(doc, null, 1) + "\n");
console.log(`wrote ${out.pathname}`);
