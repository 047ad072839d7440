// The Double Ratchet alone (sessions/ratchet.ts: header encryption and the KEM ratchet on, no
// handshake, no store): 1 KiB messages encrypted and decrypted in one direction, and alternating
// directions (a DH step every message, a KEM step every 50 with the default policy), against
// libsignal's 1,984 and 844 messages/s (issue 23, measured on this machine when it was quiet).
//
//   deno bench --config bench/deno.json --allow-read --allow-env --allow-ffi bench/sessions_ratchet_bench.ts
//   deno run --config bench/deno.json --allow-read --allow-env --allow-sys --allow-ffi bench/sessions_ratchet_bench.ts
//
// `deno run` prints messages/s (median of 5 rounds) and the bytes on the wire of a 1 KiB message
// per KEM, with and without a KEM step; `deno bench` runs the same operations as benchmarks.
import { RATCHET_PREFIX, ratchetPair, RatchetPeer } from "./_ratchet_pair.ts";

const MESSAGE = new Uint8Array(1024).fill(0x61);
const KEMS = [
  "ml-kem-512",
  "ml-kem-768",
  "ml-kem-1024",
  "x25519+ml-kem-768",
  "rsa-3072",
  "elgamal-3072",
];

/** A session from random handshake outputs, after one message each way. */
function session(kem = "ml-kem-768"): ReturnType<typeof ratchetPair> {
  return ratchetPair(kem, MESSAGE);
}

const oneWay = await session();
const alternating = await session();
let turn = 0;
const oneDirection = async () => void await oneWay.bob.receive(await oneWay.alice.send(MESSAGE));
const alternate = async () => {
  const [from, to] = turn++ % 2
    ? [alternating.bob, alternating.alice]
    : [alternating.alice, alternating.bob];
  await to.receive(await from.send(MESSAGE));
};

Deno.bench({
  name: "1 KiB, one direction (encrypt + decrypt)",
  group: "ratchet",
  baseline: true,
  fn: oneDirection,
});
Deno.bench({
  name: "1 KiB, alternating directions (DH step each, KEM step every 50)",
  group: "ratchet",
  fn: alternate,
});

/** Messages per second of `op`, the median of `rounds` rounds of `n`. */
async function rate(op: () => Promise<void>, n: number, rounds = 5): Promise<number> {
  for (let i = 0; i < Math.min(n, 200); i++) await op();
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) await op();
    rates.push(n / ((performance.now() - start) / 1000));
  }
  return rates.sort((a, b) => a - b)[Math.floor(rounds / 2)];
}

/** Bytes on the wire of a 1 KiB ratchet message (10-byte head + body) per KEM. */
async function wireSizes() {
  const rows: string[] = [];
  for (const id of KEMS) {
    const { alice, bob } = await session(id);
    // a chain without a KEM step
    const plain = (await alice.send(MESSAGE)).length + RATCHET_PREFIX.length;
    const policy = { messages: 1, milliseconds: 0 };
    const stepping = new RatchetPeer({ ...bob.suite, policy }, bob.state);
    await stepping.receive(await alice.send(MESSAGE));
    const withKem = (await stepping.send(MESSAGE)).length + RATCHET_PREFIX.length;
    rows.push(`| ${id} | ${plain} | ${withKem} | +${withKem - plain} |`);
  }
  return rows;
}

if (import.meta.main) {
  const load = Deno.loadavg()[0].toFixed(2);
  console.log(`Double Ratchet, 1 KiB messages, ml-kem-768, aes-256-gcm (load average ${load})`);
  const one = await rate(oneDirection, 2000);
  const alt = await rate(alternate, 1000);
  console.log(`| case | messages/s | libsignal 0.103.0 (quiet) | ratio |`);
  console.log(`| --- | ---: | ---: | ---: |`);
  console.log(`| one direction | ${one.toFixed(0)} | 1,984 | ${(one / 1984).toFixed(2)}x |`);
  console.log(`| alternating | ${alt.toFixed(0)} | 844 | ${(alt / 844).toFixed(2)}x |`);
  console.log();
  console.log(`| KEM | bytes, no KEM step | bytes, KEM step | overhead |`);
  console.log(`| --- | ---: | ---: | ---: |`);
  for (const row of await wireSizes()) console.log(row);
}
