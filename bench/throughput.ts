/**
 * Bulk throughput report: polycrypt's one-shot `encrypt`/`decrypt` with one
 * AES-256-GCM layer next to raw WebCrypto AES-GCM over the same 64 KiB chunks
 * (the goal: at least 0.9x), and the streaming API on the same data. polycrypt keeps up
 * to 8 chunks in the AEAD at once, so the raw loop is also shown with 8 in flight.
 *
 * Rounds are interleaved and the median is reported, because this machine's
 * timings are noisy; compare the ratios, which are measured in one run.
 *
 * Run: `deno task bench:throughput [MiB] [rounds]` (defaults: 64 MiB, 5 rounds).
 *
 * @module
 */
import { decrypt, decryptStream, encrypt, encryptStream, generateIdentity } from "../mod.ts";
import { CHUNK_SIZE } from "../cascade/stream.ts";
import { median } from "../cli/_bench.ts";

/** A whole number of at least 1 from the command line, or a usage message and exit code 2. */
function countArg(index: number, name: string, fallback: number): number {
  const text = Deno.args[index];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`${name} must be a whole number of at least 1, got "${text}"`);
    console.error("usage: deno task bench:throughput [MiB] [rounds]");
    Deno.exit(2);
  }
  return value;
}
const mib = countArg(0, "MiB", 64);
const rounds = countArg(1, "rounds", 5);
const size = mib * 1024 * 1024;
const data = new Uint8Array(size);
for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));

const { identity, recipient } = await generateIdentity("x25519");
const options = { recipients: [recipient], aead: ["aes-256-gcm"], pad: false };

function nonce(counter: number, last: boolean): Uint8Array<ArrayBuffer> {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(7, counter);
  n[11] = last ? 1 : 0;
  return n;
}

/** Raw WebCrypto: one key import, then every 64 KiB chunk sealed/opened in turn. */
async function rawSeal(key: CryptoKey): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0, c = 0; i < size; i += CHUNK_SIZE, c++) {
    const chunk = data.subarray(i, Math.min(size, i + CHUNK_SIZE));
    const iv = nonce(c, i + CHUNK_SIZE >= size);
    out.push(new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, chunk)));
  }
  return out;
}

/** Raw WebCrypto with 8 chunks in flight, as polycrypt's STREAM runs them. */
async function rawSealPipelined(key: CryptoKey): Promise<void> {
  const inFlight: Promise<ArrayBuffer>[] = [];
  for (let i = 0, c = 0; i < size; i += CHUNK_SIZE, c++) {
    const chunk = data.subarray(i, Math.min(size, i + CHUNK_SIZE));
    const iv = nonce(c, i + CHUNK_SIZE >= size);
    inFlight.push(crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, chunk));
    if (inFlight.length >= 8) await inFlight.shift();
  }
  await Promise.all(inFlight);
}

async function rawOpen(key: CryptoKey, chunks: Uint8Array[]): Promise<void> {
  for (let c = 0; c < chunks.length; c++) {
    const iv = nonce(c, c === chunks.length - 1);
    await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, chunks[c] as Uint8Array<ArrayBuffer>);
  }
}

async function streamThrough(stream: TransformStream<Uint8Array, Uint8Array>, input: Uint8Array) {
  let total = 0;
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < input.length; i += 1 << 20) {
        controller.enqueue(input.subarray(i, i + (1 << 20)));
      }
      controller.close();
    },
  });
  for await (const chunk of source.pipeThrough(stream)) total += chunk.length;
  return total;
}

const key = await crypto.subtle.importKey(
  "raw",
  crypto.getRandomValues(new Uint8Array(32)),
  {
    name: "AES-GCM",
  },
  false,
  ["encrypt", "decrypt"],
);
const samples: Record<string, number[]> = {};
async function time(name: string, fn: () => Promise<unknown>) {
  const start = performance.now();
  await fn();
  (samples[name] ??= []).push(size / 1e6 / ((performance.now() - start) / 1000));
}

for (let r = 0; r < rounds; r++) {
  let rawChunks: Uint8Array[] = [];
  let sealed: Uint8Array = new Uint8Array(0);
  await time("raw WebCrypto AES-GCM seal", async () => rawChunks = await rawSeal(key));
  await time("raw WebCrypto AES-GCM seal, 8 in flight", () => rawSealPipelined(key));
  await time("polycrypt encrypt (1 layer)", async () => sealed = await encrypt(data, options));
  await time("polycrypt encryptStream", () => streamThrough(encryptStream(options), data));
  await time("raw WebCrypto AES-GCM open", () => rawOpen(key, rawChunks));
  await time("polycrypt decrypt (1 layer)", () => decrypt(sealed, { identities: [identity] }));
  await time(
    "polycrypt decryptStream",
    () => streamThrough(decryptStream({ identities: [identity] }), sealed),
  );
}

const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
console.log(`${mib} MiB, ${rounds} interleaved rounds, median MB/s (10^6 bytes/s)\n`);
console.log("| operation | MB/s | vs raw WebCrypto |");
console.log("|---|---:|---:|");
for (const [name, value] of Object.entries(m)) {
  const raw = name.includes("decrypt") || name.includes("open")
    ? m["raw WebCrypto AES-GCM open"]
    : m["raw WebCrypto AES-GCM seal"];
  console.log(`| ${name} | ${value.toFixed(0)} | ${(value / raw).toFixed(2)}x |`);
}
