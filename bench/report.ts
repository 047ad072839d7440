/**
 * Benchmark report (issue 4): runs a fixed protocol and writes `bench/results/<date>.md`, the same
 * figures as `<date>.json`, and SVG charts `<date>-*.svg`:
 * - every KEM family and key size: keygen, encapsulate, decapsulate (medians), key and
 *   encapsulation bytes;
 * - the native ceiling in the same run: `openssl speed` (RSA, ffdh, X25519, AES-256-GCM and
 *   ChaCha20-Poly1305 on 16 KiB blocks), `openssl genpkey` RSA keygen, the Debian `argon2` CLI;
 * - scaling: message size (64 B to 256 MiB) per AEAD stack, recipients (1 to 1000), cascade depth
 *   (1 to 3 AEADs, 1 to 3 KEMs, the password layer), with fitted log-log slopes;
 * - the targets of issue 4 that need no peer library, each with its measured ratio.
 *
 * Run: `deno task bench:report` (about 10 minutes), `deno task bench:report --quick` (tiny sizes,
 * under a minute; what the smoke test runs). `--out DIR` writes elsewhere than bench/results/.
 *
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { parseArgs } from "node:util";
import {
  ARGON2_DEFAULT,
  decrypt,
  decryptStream,
  encrypt,
  encryptStream,
  FFDHE_GROUPS,
  generateIdentity,
  registry,
  rsaAutoPrivateBackend,
} from "../mod.ts";
import { argon2Backend, argon2id } from "../cascade/argon2.ts";
import { bigintToBytes } from "../engines/elgamal/modexp.ts";
import { type BenchRow, measureKem, median, medianMs } from "../cli/_bench.ts";
import { barChart, lineChart, type Series } from "./_svg.ts";
import { opensslSpeed } from "./_openssl.ts";
import { opensslRsa } from "../engines/rsa/_openssl.ts";
import {
  bulkPeers,
  type ChatContender,
  chatPeerContenders,
  enginePeers,
  interleavedChatRates,
  passwordPeers,
  type PeerRow,
  typageEncrypter,
} from "./peers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { quick: { type: "boolean" }, out: { type: "string" } },
});
const QUICK = Boolean(values.quick);
const OUT = values.out ?? new URL("./results/", import.meta.url).pathname;
const DATE = new Date().toISOString().slice(0, 10);
const BUDGET = QUICK ? 60 : 1000;
const log = (s: string) => console.error(`bench:report: ${s}`);
const te = new TextEncoder();

// ------------------------------------------------------------------ native ceiling

/** The native ceiling: public-key ops/s and AEAD bytes/s at 16 KiB from `openssl speed`. */
async function ceiling(): Promise<Record<string, number>> {
  const seconds = QUICK ? 1 : 3;
  const pk = QUICK
    ? ["rsa2048", "ffdh2048", "ecdhx25519"]
    : ["rsa2048", "rsa3072", "rsa4096", "ffdh2048", "ffdh3072", "ffdh4096", "ffdh6144"]
      .concat(["ffdh8192", "ecdhx25519", "ecdhx448"]);
  const r = await opensslSpeed(pk, seconds);
  for (const aead of ["aes-256-gcm", "chacha20-poly1305"]) {
    Object.assign(r, await opensslSpeed(["-bytes", "16384", "-evp", aead], seconds));
  }
  return r;
}

/** Median wall time of a command, in ms. */
async function commandMs(cmd: string, args: string[], runs: number, stdin?: Uint8Array) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const child = new Deno.Command(cmd, {
      args,
      stdin: stdin ? "piped" : "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    if (stdin) {
      const w = child.stdin.getWriter();
      await w.write(stdin);
      await w.close();
    }
    if (!(await child.status).success) return undefined;
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

// ------------------------------------------------------------------ protocol

const results: Record<string, unknown> = {
  date: DATE,
  quick: QUICK,
  machine: {
    os: Deno.build.os,
    arch: Deno.build.arch,
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  },
};

log("openssl speed (native ceiling)");
const ssl = await ceiling();
results.openssl = ssl;

const kemIds = QUICK
  ? ["x25519", "ml-kem-512", "ml-kem-768", "elgamal-2048", "rsa-2048", "x25519+ml-kem-768"]
  : [
    "x25519",
    "x448",
    "ml-kem-512",
    "ml-kem-768",
    "ml-kem-1024",
    "elgamal-2048",
    "elgamal-3072",
    "elgamal-4096",
    "elgamal-6144",
    "elgamal-8192",
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
    "rsa-8192",
    "x25519+ml-kem-768",
    "x448+ml-kem-1024",
    "rsa-3072+elgamal-3072+ml-kem-1024",
  ];
const kems: BenchRow[] = [];
for (const id of kemIds) {
  log(`KEM ${id}`);
  kems.push(await measureKem(registry.kem(id), BUDGET));
}
results.kems = kems;

// RSA keygen: measureKem times a slow keygen once; the target needs a median of several. A
// random prime search varies several-fold between runs (80 alternating runs at 3072 bits on
// 2026-11-23: ours 294..4,321 ms, openssl 279..3,450 ms; medians 1.26x and 0.98x in two sets of
// 40), and this machine's speed drifts within minutes, so ours and `openssl genpkey` alternate
// and each side takes its median. Bootstrapped from those runs, the ratio of two medians of 15
// came out over 2x in 1.7-3.9% of draws (the 2026-11-23 report drew 2.22x), of 31 in 0.1-0.5%.
const KEYGEN_RUNS = QUICK ? 1 : 31;
log("RSA keygen medians, alternating with openssl genpkey");
const rsaKeygenMs: Record<string, number> = {};
const genpkey: Record<string, number> = {};
for (const bits of QUICK ? [2048] : [2048, 3072, 4096]) {
  const engine = registry.kem(`rsa-${bits}`);
  const ours: number[] = [];
  const openssl: number[] = [];
  for (let i = 0; i < KEYGEN_RUNS; i++) {
    const t = performance.now();
    await engine.generateKeyPair();
    ours.push(performance.now() - t);
    const ms = await commandMs(
      "openssl",
      ["genpkey", "-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${bits}`],
      1,
    );
    if (ms !== undefined) openssl.push(ms);
  }
  rsaKeygenMs[`rsa-${bits}`] = median(ours);
  if (openssl.length === KEYGEN_RUNS) genpkey[`rsa-${bits}`] = median(openssl);
}
results.rsaKeygenMs = rsaKeygenMs;
results.opensslGenpkeyMs = genpkey;
// The KEM table and the keygen chart show these medians too: one timed keygen put rsa-3072
// below rsa-4096 in the 2026-11-23 chart.
for (const k of kems) {
  if (rsaKeygenMs[k.id] === undefined) continue;
  k.keygenMs = rsaKeygenMs[k.id];
  k.runs = { ...k.runs, keygen: KEYGEN_RUNS };
}

// Message size per AEAD stack, encrypt and decrypt, one X25519 recipient, no padding.
const stacks = [
  ["aes-256-gcm"],
  ["chacha20-poly1305"],
  ["xchacha20-poly1305"],
  ["aes-256-gcm", "xchacha20-poly1305"],
];
const sizes = QUICK ? [64, 1024, 65536] : [64, 1024, 16384, 262144, 4 << 20, 64 << 20, 256 << 20];
const x = await generateIdentity("x25519");
const throughput: { stack: string; bytes: number; encryptMBs: number; decryptMBs: number }[] = [];
for (const aead of stacks) {
  for (const bytes of sizes) {
    log(`throughput ${aead.join("+")} ${bytes} B`);
    const data = new Uint8Array(bytes).fill(1);
    const options = { recipients: [x.recipient], aead, pad: false };
    let sealed = await encrypt(data, options);
    const budget = bytes >= 64 << 20 ? 0 : BUDGET;
    const [enc] = await medianMs(async () => sealed = await encrypt(data, options), budget, 3);
    const [dec] = await medianMs(() => decrypt(sealed, { identities: [x.identity] }), budget, 3);
    throughput.push({
      stack: aead.join("+"),
      bytes,
      encryptMBs: bytes / 1e3 / enc,
      decryptMBs: bytes / 1e3 / dec,
    });
  }
}
results.throughput = throughput;

// Streaming with one AES-256-GCM layer (the bulk target).
const streamBytes = QUICK ? 4 << 20 : 256 << 20;
log(`stream ${streamBytes} B`);
const block = new Uint8Array(1 << 20).fill(2);
const source = () =>
  ReadableStream.from((function* () {
    for (let i = 0; i < streamBytes; i += block.length) yield block;
  })());
const drain = async (s: ReadableStream<Uint8Array>) => {
  const chunks: Uint8Array[] = [];
  for await (const c of s) chunks.push(c);
  return chunks;
};
let streamed: Uint8Array[] = [];
const [streamEnc] = await medianMs(
  async () => {
    streamed = await drain(source().pipeThrough(encryptStream({ recipients: [x.recipient] })));
  },
  0,
  3,
);
const [streamDec] = await medianMs(
  async () => {
    await drain(
      ReadableStream.from(streamed).pipeThrough(decryptStream({ identities: [x.identity] })),
    );
  },
  0,
  3,
);
const bulk = {
  bytes: streamBytes,
  encryptMBs: streamBytes / 1e3 / streamEnc,
  decryptMBs: streamBytes / 1e3 / streamDec,
};
results.stream = bulk;

// Recipients (group fan-out): encrypt to N X25519 recipients; the last one decrypts.
const fanout: { recipients: number; encryptMs: number; decryptMs: number }[] = [];
const members = await Promise.all(
  Array.from({ length: QUICK ? 10 : 1000 }, () => generateIdentity("x25519")),
);
for (const n of QUICK ? [1, 10] : [1, 10, 100, 1000]) {
  log(`recipients ${n}`);
  const group = members.slice(0, n);
  const options = { recipients: group.map((m) => m.recipient) };
  const msg = new Uint8Array(1024);
  let sealed = await encrypt(msg, options);
  const [e] = await medianMs(async () => sealed = await encrypt(msg, options), BUDGET, 3);
  const [d] = await medianMs(
    () => decrypt(sealed, { identities: [group[n - 1].identity] }),
    BUDGET,
    3,
  );
  fanout.push({ recipients: n, encryptMs: e, decryptMs: d });
}
results.recipients = fanout;

// Cascade depth: 1 KiB message, encrypt + decrypt.
const depth: { layers: string; ms: number }[] = [];
const msg = new Uint8Array(1024).fill(3);
const kemDepth = ["x25519", "x25519+ml-kem-768", "x25519+ml-kem-768+x448"];
const layerCases: { layers: string; kem: string; aead: string[]; passphrase?: string }[] = [
  { layers: "1 AEAD, 1 KEM", kem: "x25519", aead: ["aes-256-gcm"] },
  { layers: "2 AEADs, 1 KEM", kem: "x25519", aead: ["aes-256-gcm", "xchacha20-poly1305"] },
  {
    layers: "3 AEADs, 1 KEM",
    kem: "x25519",
    aead: ["aes-256-gcm", "xchacha20-poly1305", "chacha20-poly1305"],
  },
  { layers: "1 AEAD, 2 KEMs", kem: kemDepth[1], aead: ["aes-256-gcm"] },
  { layers: "1 AEAD, 3 KEMs", kem: kemDepth[2], aead: ["aes-256-gcm"] },
  { layers: "1 AEAD, 1 KEM, password", kem: "x25519", aead: ["aes-256-gcm"], passphrase: "p" },
];
for (const c of layerCases) {
  log(`cascade ${c.layers}`);
  const id = await generateIdentity(c.kem);
  const options = { recipients: [id.recipient], aead: c.aead, passphrase: c.passphrase };
  const [ms] = await medianMs(
    async () => {
      const sealed = await encrypt(msg, options);
      await decrypt(sealed, { identities: [id.identity], passphrase: c.passphrase });
    },
    c.passphrase ? 0 : BUDGET,
    c.passphrase ? (QUICK ? 1 : 3) : 3,
  );
  depth.push({ layers: c.layers, ms });
}
results.cascade = depth;

// Chat: 1 KiB to the default hybrid, to ml-kem-768 and x25519 identities, and every chat peer,
// measured in interleaved rounds (the hpke seal rate moved from 815/s to 1,143/s between two
// reports measured minutes apart from ours).
log("chat 1 KiB, interleaved with the peers");
const ourChatIds = [undefined, "ml-kem-768", "x25519"] as const;
const ourChat: ChatContender[] = [];
for (const id of ourChatIds) {
  const who = await generateIdentity(id);
  const options = { recipients: [who.recipient] };
  let sealed = await encrypt(msg, options);
  ourChat.push({
    peer: id ? `polycrypt, ${id}` : "polycrypt, x25519+ml-kem-768 (default identity)",
    seal: async () => sealed = await encrypt(msg, options),
    open: () => decrypt(sealed, { identities: [who.identity] }),
  });
}
const CHAT_ROUNDS = QUICK ? 1 : 12;
const chatRows = await interleavedChatRates(
  [...ourChat, ...await chatPeerContenders(msg)],
  CHAT_ROUNDS,
  BUDGET / CHAT_ROUNDS,
);
const chatOurs = chatRows.slice(0, ourChat.length);
const chatPeerRows = chatRows.slice(ourChat.length);
const chat = { encryptPerS: chatOurs[0].encrypt, decryptPerS: chatOurs[0].decrypt };
results.chat = chat;
results.chatPeers = { ours: chatOurs, peers: chatPeerRows, rounds: CHAT_ROUNDS };

log("bulk peers");
const bulkBytes = QUICK ? 4 << 20 : 64 << 20;
const bulkPeerRows = await bulkPeers(new Uint8Array(bulkBytes).fill(3), QUICK ? 1 : 3);
results.bulkPeers = { bytes: bulkBytes, peers: bulkPeerRows };

log("1 GiB stream peak RSS (child process)");
const rssRun = async (mode: string[]) => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-run=cat",
      new URL("./_stream_rss.ts", import.meta.url).pathname,
      String(QUICK ? 16 : 1024),
      ...mode,
    ],
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)) as {
    bytes: number;
    seconds: number;
    peakRssKiB: number;
  };
};
// The encrypt-only peak is a target: the median of 3 runs, since where V8's collections fall
// moves it by several MiB from run to run.
const rssRuns = [];
for (let i = 0; i < (QUICK ? 1 : 3); i++) rssRuns.push(await rssRun(["encrypt"]));
const streamRss = {
  encrypt: rssRuns.toSorted((a, b) => a.peakRssKiB - b.peakRssKiB)[rssRuns.length >> 1],
  encryptRunsKiB: rssRuns.map((r) => r.peakRssKiB),
  roundTrip: await rssRun([]),
};
results.streamRss = streamRss;

log("engine peers");
const enginePeerRows = await enginePeers(BUDGET);
results.enginePeers = enginePeerRows;

log("password peers");
// Where "auto" runs Argon2id in this process (native under this task's --allow-ffi).
const argonBackend = await argon2Backend();
const pwOurs: PeerRow[] = [];
{
  let sealed = await encrypt(msg, { passphrase: "benchmark passphrase" });
  const [e] = await medianMs(
    async () => sealed = await encrypt(msg, { passphrase: "benchmark passphrase" }),
    0,
    QUICK ? 1 : 3,
  );
  const [d] = await medianMs(
    () => decrypt(sealed, { passphrase: "benchmark passphrase" }),
    0,
    QUICK ? 1 : 3,
  );
  pwOurs.push({
    peer: "polycrypt passphrase",
    encrypt: e,
    decrypt: d,
    note: `Argon2id 64 MiB, t=3, p=4 (${argonBackend} backend)`,
  });
}
const pwPeerRows = await passwordPeers(msg, QUICK ? 1 : 3);
results.passwordPeers = { ours: pwOurs, peers: pwPeerRows };

// Argon2id at the default parameters: ours on the backend "auto" picks (native under this task's
// --allow-ffi), the WebAssembly backend a program without --allow-ffi gets, and the native CLI.
log("argon2id");
const salt = new Uint8Array(16).fill(9);
const [ourArgon] = await medianMs(
  () => argon2id("benchmark passphrase", salt, ARGON2_DEFAULT),
  0,
  QUICK ? 1 : 5,
);
const [wasmArgon] = await medianMs(
  () => argon2id("benchmark passphrase", salt, ARGON2_DEFAULT, { backend: "wasm" }),
  0,
  QUICK ? 1 : 5,
);
const need = new URL("../scripts/apt_need.sh", import.meta.url).pathname;
// Install the CLI when missing (root, as in CI); without it the row says "not measured".
await new Deno.Command("bash", { args: [need, "argon2", "argon2"], stdout: "null", stderr: "null" })
  .output().catch(() => {});
const nativeArgon = await commandMs(
  "argon2",
  ["saltsaltsaltsalt", "-id", "-m", "16", "-t", "3", "-p", "4", "-l", "32"],
  QUICK ? 1 : 5,
  te.encode("benchmark passphrase"),
);
results.argon2 = {
  backend: argonBackend,
  oursMs: ourArgon,
  wasmMs: wasmArgon,
  nativeMs: nativeArgon,
};

// ------------------------------------------------------------------ paired ceiling ratios

// This machine's speed drifts within minutes (openssl speed aes-256-gcm gave 2,295 and then
// 1,395 MB/s ten minutes apart in one session), so a ratio of two figures taken minutes apart
// measures the drift as much as the code. The targets against openssl are therefore measured
// again as pairs, polycrypt then openssl back to back, and the verdict is the median pair's ratio.
type Pair = {
  ours: number;
  ref: number;
  ratio: number;
  /**
   * The platform primitive polycrypt's figure rests on, alone and measured between ours and the
   * reference in the same pairs (e.g. a bare diffieHellman for X25519), so that a missed target's
   * bound is shown with figures from the same minutes: `bare` is the median pair's, `bareRatio`
   * the median of bare over the reference, `shareOfBare` the median of ours over bare.
   */
  bare?: number;
  bareRatio?: number;
  shareOfBare?: number;
};
const PAIRS = QUICK ? 1 : 7;
async function paired(
  ours: () => Promise<number>,
  ref: () => Promise<number | undefined>,
  bare?: () => Promise<number>,
): Promise<Pair | undefined> {
  const pairs: Pair[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const o = await ours();
    const b = await bare?.();
    const r = await ref();
    if (r === undefined || !(r > 0)) return undefined;
    pairs.push({ ours: o, ref: r, ratio: o / r, ...(b !== undefined && { bare: b }) });
  }
  const mid = pairs.toSorted((a, b) => a.ratio - b.ratio)[pairs.length >> 1];
  if (!bare) return mid;
  return {
    ...mid,
    bareRatio: median(pairs.map((p) => p.bare! / p.ref)),
    shareOfBare: median(pairs.map((p) => p.ours / p.bare!)),
  };
}
const sslNow = async (args: string[], key: string) => (await opensslSpeed(args, 1))[key];
const opsPerS = async (run: () => Promise<unknown>) =>
  1000 / (await medianMs(run, QUICK ? 60 : 500, 3))[0];
/** The cores `openssl speed -multi` gets in the RSA targets' second row. */
const CORES = navigator.hardwareConcurrency;
/**
 * The decapsulations polycrypt keeps in flight there: two per core. With one per core, a core
 * idles while a finished decryption's result goes back through the event loop: RSA-3072 did
 * 1.64-1.74x its one-at-a-time rate with 2 in flight and 1.86-2.2x with 3 or 4 (standalone,
 * 2026-11-23).
 */
const LANES = 2 * CORES;
/** Completed operations per second with `lanes` of `run` in flight at once, over about a second. */
async function lanesPerS(run: () => Promise<unknown>, lanes: number): Promise<number> {
  const ms = QUICK ? 100 : 1000;
  let done = 0;
  const start = performance.now();
  const lane = async () => {
    while (performance.now() - start < ms) {
      await run();
      done++;
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return done * 1000 / (performance.now() - start);
}

log(`paired ratios to openssl (${PAIRS} pairs each)`);
const pairedRatios: Record<string, Pair | undefined> = {};
// Bulk: 256 MiB through encryptStream into a sink that counts and drops the output, as
// `openssl speed` drops its own. Not 64 MiB: such a run takes about 100 ms, short enough for
// one noise burst to move it by 30%.
const pairedBytes = QUICK ? 4 << 20 : 256 << 20;
const bulkOurs = async () => {
  const t = performance.now();
  let n = 0;
  const input = ReadableStream.from((function* () {
    for (let i = 0; i < pairedBytes; i += block.length) yield block;
  })());
  for await (const c of input.pipeThrough(encryptStream({ recipients: [x.recipient] }))) {
    n += c.length;
  }
  if (n < pairedBytes) throw new Error("encryptStream lost bytes");
  return pairedBytes / 1e3 / (performance.now() - t);
};
const bulkBare = async () => {
  // The bare primitive: WebCrypto AES-256-GCM over the same bytes in 64 KiB calls, 8 in flight
  // (encryptStream's window), with no header, key exchange or copies.
  const key = await crypto.subtle.importKey("raw", new Uint8Array(32), "AES-GCM", false, [
    "encrypt",
  ]);
  const chunk = 1 << 16;
  const t = performance.now();
  const inFlight: Promise<ArrayBuffer>[] = [];
  for (let i = 0; i < pairedBytes / chunk; i++) {
    const iv = new Uint8Array(12);
    new DataView(iv.buffer).setUint32(8, i);
    const at = (i * chunk) % block.length;
    inFlight.push(
      crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, block.subarray(at, at + chunk)),
    );
    if (inFlight.length >= 8) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return pairedBytes / 1e3 / (performance.now() - t);
};
// One untimed run of each first, so that no pair includes compiling the stream code.
await bulkOurs();
await bulkBare();
pairedRatios.bulk = await paired(bulkOurs, async () => {
  const bps = await sslNow(["-bytes", "16384", "-evp", "aes-256-gcm"], "aes-256-gcm");
  return bps && bps / 1e6;
}, bulkBare);
// Bulk against typage: the 64 MiB of the bulk peers table, with both keeping the whole
// ciphertext (typage returns it as one array; encryptStream's chunks are kept), in back-to-back
// pairs like the openssl targets. The bulk peers table times the peers minutes after the
// stream figures, so a ratio across those two moved with the machine (2.9x to 5.3x in runs of
// the same code on 2026-11-23).
const typageData = new Uint8Array(QUICK ? 4 << 20 : 64 << 20).fill(3);
const typageEncrypt = await typageEncrypter();
const mbsOf = async (run: () => Promise<unknown>) => {
  const t = performance.now();
  await run();
  return typageData.length / 1e3 / (performance.now() - t);
};
const typageOurs = () =>
  mbsOf(() =>
    drain(
      ReadableStream.from([typageData]).pipeThrough(encryptStream({ recipients: [x.recipient] })),
    )
  );
const typageRef = () => mbsOf(() => typageEncrypt(typageData));
await typageOurs();
await typageRef();
pairedRatios.typage = await paired(typageOurs, typageRef);

/**
 * The platform operation a decapsulation rests on (or, for ElGamal, whose `modPow` is our own,
 * the platform's nearest one), alone, as op/s: the RSA-OAEP-SHA-256 decrypt the default backend
 * uses (OpenSSL's through FFI under this task's --allow-ffi, else WebCrypto's; `lanes` in flight)
 * and node:crypto's X25519 diffieHellman on keys parsed once, or
 * DiffieHellman.computeSecret over the same RFC 7919 group with the same secret exponent (no
 * subgroup check).
 */
async function bareOp(
  family: string,
  secretKey: Uint8Array,
  encapsulation: Uint8Array,
  bits: number,
  lanes = 1,
): Promise<(() => Promise<number>) | undefined> {
  if (family === "elgamal") {
    const group = FFDHE_GROUPS[bits as keyof typeof FFDHE_GROUPS];
    const dh = nodeCrypto.createDiffieHellman(
      Buffer.from(bigintToBytes(group.p, bits / 8)),
      Buffer.from([2]),
    );
    dh.setPrivateKey(Buffer.from(secretKey));
    const c = Buffer.from(encapsulation);
    return () => opsPerS(() => Promise.resolve(dh.computeSecret(c)));
  }
  if (family === "rsa") {
    const openssl = opensslRsa();
    if (!(openssl instanceof Error)) {
      const key = openssl.parse(secretKey, bits);
      const decrypt = () => openssl.decrypt(key, encapsulation, new Uint8Array(0));
      return () => lanes === 1 ? opsPerS(decrypt) : lanesPerS(decrypt, lanes);
    }
    const key = await crypto.subtle.importKey(
      "pkcs8",
      secretKey as Uint8Array<ArrayBuffer>,
      { name: "RSA-OAEP", hash: "SHA-256" },
      false,
      ["decrypt"],
    );
    const ct = encapsulation as Uint8Array<ArrayBuffer>;
    const decrypt = () => crypto.subtle.decrypt({ name: "RSA-OAEP" }, key, ct);
    return () => lanes === 1 ? opsPerS(decrypt) : lanesPerS(decrypt, lanes);
  }
  if (family === "x25519") {
    const a = nodeCrypto.generateKeyPairSync("x25519");
    const b = nodeCrypto.generateKeyPairSync("x25519");
    return () =>
      opsPerS(() =>
        Promise.resolve(
          nodeCrypto.diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey }),
        )
      );
  }
  return undefined;
}
for (const id of QUICK ? ["rsa-2048", "elgamal-2048", "x25519"] : kemIds) {
  const [family, bits] = id.split("-");
  const sslKey = family === "rsa"
    ? `rsa${bits}.private`
    : family === "elgamal"
    ? `ffdh${bits}`
    : id === "x25519"
    ? "x25519"
    : undefined;
  if (!sslKey || (family === "rsa" && !["2048", "3072", "4096"].includes(bits))) continue;
  const engine = registry.kem(id);
  const fixture = family === "rsa" && bits === "4096"
    ? {
      publicKey: await Deno.readFile(
        new URL("../tests/fixtures/rsa/rsa4096.spki.der", import.meta.url),
      ),
      secretKey: await Deno.readFile(
        new URL("../tests/fixtures/rsa/rsa4096.pkcs8.der", import.meta.url),
      ),
    }
    : undefined;
  const keys = fixture ?? await engine.generateKeyPair();
  const { encapsulation } = await engine.encapsulate(keys.publicKey);
  pairedRatios[id] = await paired(
    () => opsPerS(() => engine.decapsulate(encapsulation, keys.secretKey)),
    () =>
      sslNow(
        [family === "rsa" ? `rsa${bits}` : sslKey === "x25519" ? "ecdhx25519" : sslKey],
        sslKey,
      ),
    await bareOp(family, keys.secretKey, encapsulation, Number(bits)),
  );
  if (family !== "rsa" || (bits === "2048" && !QUICK)) continue; // the targets are 3072 and 4096
  // A messenger draining a backlog decapsulates several messages at once. The default backend's
  // private operation runs in Deno's thread pool, so LANES of them use every core; OpenSSL gets
  // the same cores through `openssl speed -multi CORES`.
  pairedRatios[`${id}-lanes`] = await paired(
    () => lanesPerS(() => engine.decapsulate(encapsulation, keys.secretKey), LANES),
    () => sslNow(["-multi", String(CORES), `rsa${bits}`], sslKey),
    await bareOp(family, keys.secretKey, encapsulation, Number(bits), LANES),
  );
}
// Argon2id time (ratio = ours over the CLI's; lower is better).
pairedRatios.argon2 = await paired(
  async () =>
    (await medianMs(() => argon2id("benchmark passphrase", salt, ARGON2_DEFAULT), 0, 1))[0],
  () =>
    commandMs(
      "argon2",
      ["saltsaltsaltsalt", "-id", "-m", "16", "-t", "3", "-p", "4", "-l", "32"],
      1,
      te.encode("benchmark passphrase"),
    ),
);
results.pairedRatios = { pairs: PAIRS, ...pairedRatios };

// ------------------------------------------------------------------ targets

const kem = (id: string) => kems.find((k) => k.id === id);
type Target = {
  target: string;
  goal: string;
  /** The goal as a number (a ratio), which `goal` writes with its direction. */
  goalRatio: number;
  measured: string;
  ratio?: number;
  verdict?: string;
  /** The platform primitive alone in the same pairs, and its ratio to the reference. */
  platform?: string;
};
const targets: Target[] = [];
/**
 * Records a target. `ratio` is ours over the reference; `atLeast` says whether the goal is a floor
 * (throughput: ratio >= goal) or a ceiling (time: ratio <= goal). The verdict says by how much a
 * missed target misses.
 */
function addTarget(
  target: string,
  goal: number,
  atLeast: boolean,
  figures?: { ours: number; ref: number; unit: string; digits: number },
): void {
  const goalText = `${atLeast ? ">=" : "<="} ${goal}x`;
  if (!figures) {
    targets.push({ target, goal: goalText, goalRatio: goal, measured: "not measured in this run" });
    return;
  }
  const { ours, ref, unit, digits } = figures;
  const ratio = ours / ref;
  const miss = atLeast ? goal / ratio : ratio / goal;
  targets.push({
    target,
    goal: goalText,
    goalRatio: goal,
    measured: `${ours.toFixed(digits)} vs ${ref.toFixed(digits)}${unit}`,
    ratio,
    verdict: miss <= 1
      ? "yes"
      : `**no** (${atLeast ? "short" : "over"} by ${miss.toFixed(miss < 1.1 ? 3 : 2)}x)`,
  });
}
const ratioTarget = (target: string, goal: number, ours?: number, ref?: number, unit = "") =>
  addTarget(
    target,
    goal,
    true,
    ours === undefined || ref === undefined ? undefined : { ours, ref, unit, digits: 1 },
  );
const pairedTarget = (target: string, goal: number, pair: Pair | undefined, unit: string) => {
  ratioTarget(
    `${target} (median of ${PAIRS} back-to-back pairs)`,
    goal,
    pair?.ours,
    pair?.ref,
    unit,
  );
  if (pair?.bare !== undefined) {
    targets.at(-1)!.platform = `${pair.bare.toFixed(1)}${unit} (${pair.bareRatio!.toFixed(3)}x)`;
  }
};
pairedTarget(
  `Bulk: encryptStream, 1 AES-256-GCM layer, ${
    pairedBytes >> 20
  } MiB to a dropping sink, vs openssl aes-256-gcm 16 KiB`,
  0.25,
  pairedRatios.bulk,
  " MB/s",
);
for (const bits of [3072, 4096]) {
  pairedTarget(
    `RSA-${bits} decapsulate (private op), one at a time, vs openssl rsa${bits} sign`,
    0.4,
    pairedRatios[`rsa-${bits}`],
    " op/s",
  );
  pairedTarget(
    `RSA-${bits} decapsulate (private op), ${LANES} in flight on ${CORES} cores, vs openssl speed -multi ${CORES} rsa${bits} sign`,
    0.4,
    pairedRatios[`rsa-${bits}-lanes`],
    " op/s",
  );
}
for (const bits of [2048, 3072, 4096, 6144, 8192]) {
  pairedTarget(
    `ElGamal-${bits} decapsulate vs openssl ffdh${bits}`,
    0.3,
    pairedRatios[`elgamal-${bits}`],
    " op/s",
  );
}
pairedTarget("X25519 decapsulate vs openssl ecdh X25519", 0.3, pairedRatios.x25519, " op/s");
for (const bits of [2048, 3072, 4096]) {
  const ours = rsaKeygenMs[`rsa-${bits}`];
  const ref = genpkey[`rsa-${bits}`];
  if (ours === undefined || ref === undefined) continue;
  addTarget(
    `RSA-${bits} keygen vs openssl genpkey (time, medians of ${KEYGEN_RUNS} runs)`,
    2,
    false,
    {
      ours,
      ref,
      unit: " ms",
      digits: 0,
    },
  );
}
addTarget(
  `Argon2id 64 MiB t=3 p=4 (${argonBackend} backend) vs the argon2 CLI (time, median of ${PAIRS} back-to-back pairs)`,
  1.3,
  false,
  pairedRatios.argon2 &&
    { ours: pairedRatios.argon2.ours, ref: pairedRatios.argon2.ref, unit: " ms", digits: 0 },
);
const peer = (rows: PeerRow[], prefix: string) => rows.find((r) => r.peer.startsWith(prefix));
const ageHybrid = peer(chatPeerRows, "age-encryption, ML-KEM-768");
const hpkeMlKem = peer(chatPeerRows, "@hpke/ml-kem");
for (const [op, name] of [["encrypt", "encrypt"], ["decrypt", "decrypt"]] as const) {
  ratioTarget(
    `Chat: 1 KiB ${name} to x25519+ml-kem-768 vs age-encryption's hybrid`,
    3,
    chat[`${op}PerS`],
    ageHybrid?.[op],
    "/s",
  );
  ratioTarget(
    `Chat: 1 KiB ${name} to x25519+ml-kem-768 vs @hpke/ml-kem ${
      op === "encrypt" ? "seal" : "open"
    }`,
    1.5,
    chat[`${op}PerS`],
    hpkeMlKem?.[op],
    "/s",
  );
}
pairedTarget(
  `Bulk: encryptStream vs age-encryption (typage) encrypt, ${
    typageData.length >> 20
  } MiB, both keeping the ciphertext`,
  3,
  pairedRatios.typage,
  " MB/s",
);
addTarget(
  `Bulk: peak RSS of encryptStream over 1 GiB vs 128 MiB (median of ${streamRss.encryptRunsKiB.length} runs)`,
  1,
  false,
  {
    ours: streamRss.encrypt.peakRssKiB / 1024,
    ref: 128,
    unit: " MiB",
    digits: 0,
  },
);
results.targets = targets;

// ------------------------------------------------------------------ charts

/** The smallest message size in the per-byte (linear) part of the throughput fit. */
const LINEAR_FROM = 256 << 10;

/** Least-squares slope of log(y) against log(x). */
function slope(points: [number, number][]): number {
  return lineSlope(
    points.filter(([a, b]) => a > 0 && b > 0).map(([a, b]) => [Math.log(a), Math.log(b)]),
  );
}

/** Least-squares slope of y against x. */
function lineSlope(p: [number, number][]): number {
  const n = p.length;
  const mx = p.reduce((s, [a]) => s + a, 0) / n;
  const my = p.reduce((s, [, b]) => s + b, 0) / n;
  const num = p.reduce((s, [a, b]) => s + (a - mx) * (b - my), 0);
  const den = p.reduce((s, [a]) => s + (a - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

const families = [...new Set(kems.map((k) => k.family))];
const opChart = (op: "keygenMs" | "encapsulateMs" | "decapsulateMs", name: string) =>
  lineChart({
    title: `${name} per second against public key size`,
    xLabel: "public key bytes (log scale)",
    yLabel: `${name}/s (log scale)`,
    series: families.map((family): Series => ({
      name: family,
      points: kems.filter((k) => k.family === family).map((k) => ({
        x: k.publicKeyBytes,
        y: 1000 / k[op],
        label: k.id,
      })),
    })),
  });
const sizeUnits = [64, 1024, 16384, 65536, 262144, 4 << 20, 64 << 20, 256 << 20];
const sizeLabel = (b: number) =>
  b >= 1 << 20 ? `${b >> 20} MiB` : b >= 1024 ? `${b >> 10} KiB` : `${b} B`;
const charts: Record<string, string> = {
  "kem-keygen": opChart("keygenMs", "keygen"),
  "kem-encapsulate": opChart("encapsulateMs", "encapsulate"),
  "kem-decapsulate": opChart("decapsulateMs", "decapsulate"),
  "sizes": barChart({
    title: "Key and encapsulation sizes",
    xLabel: "bytes (log scale)",
    log: true,
    rows: kems.map((k) => ({
      label: k.id,
      values: {
        "public key": k.publicKeyBytes,
        "secret key": k.secretKeyBytes,
        "encapsulation": k.encapsulationBytes,
      },
    })),
  }),
  "throughput": lineChart({
    title: "encrypt (solid) and decrypt (dashed) throughput against message size",
    xLabel: "message size (log scale)",
    yLabel: "MB/s (log scale)",
    xTicks: sizeUnits.map((b) => ({ value: b, label: sizeLabel(b) })),
    series: stacks.flatMap((aead, i) => {
      const rows = throughput.filter((t) => t.stack === aead.join("+"));
      return [
        {
          name: aead.join("+"),
          color: i,
          points: rows.map((t) => ({ x: t.bytes, y: t.encryptMBs })),
        },
        {
          name: `${aead.join("+")} decrypt`,
          color: i,
          dashed: true,
          hideLegend: true,
          points: rows.map((t) => ({ x: t.bytes, y: t.decryptMBs })),
        },
      ];
    }),
    width: 900,
  }),
  "cascade": barChart({
    title: "Cost of each cascade layer: 1 KiB encrypt + decrypt",
    xLabel: "milliseconds (log scale)",
    log: true,
    rows: depth.map((d) => ({ label: d.layers, values: { "ms": d.ms } })),
  }),
};

// ------------------------------------------------------------------ report

const f = (x: number | undefined, digits = 1) =>
  x === undefined || !Number.isFinite(x) ? "-" : x.toLocaleString("en", {
    maximumFractionDigits: digits,
    minimumFractionDigits: 0,
  });
/** Operations per second from a median time in ms, with two significant digits below 10/s. */
const perSecond = (ms: number) =>
  1000 / ms < 10 ? (1000 / ms).toLocaleString("en", { maximumSignificantDigits: 2 }) : f(1000 / ms);

/**
 * How each family's keygen, encapsulate and decapsulate times grow with its size parameter
 * (RSA modulus bits, ElGamal group bits, ML-KEM's 512/768/1024): least-squares log-log slopes
 * over the sizes in the KEM table. X25519 and X448 are left out: they are two curves with their
 * own code in Deno, and a line through them (size^5 in one run) compares implementations.
 */
function keySizeSlopes(): string[] {
  const families = [
    { name: "RSA", size: "modulus bits", of: (id: string) => /^rsa-(\d+)$/.exec(id)?.[1] },
    { name: "ElGamal", size: "group bits", of: (id: string) => /^elgamal-(\d+)$/.exec(id)?.[1] },
    { name: "ML-KEM", size: "parameter set", of: (id: string) => /^ml-kem-(\d+)$/.exec(id)?.[1] },
  ];
  const lines: string[] = [];
  for (const family of families) {
    const rows = kems.flatMap((k) => {
      const size = family.of(k.id);
      return size ? [{ size: Number(size), k }] : [];
    });
    if (rows.length < 2) continue;
    const grow = (op: "keygenMs" | "encapsulateMs" | "decapsulateMs") =>
      f(slope(rows.map((r) => [r.size, r.k[op]])), 2);
    lines.push(
      `- ${family.name}, ${family.size} ${rows.map((r) => r.size).join(", ")}: keygen time grows ` +
        `as size^${grow("keygenMs")}, encapsulate as size^${grow("encapsulateMs")}, ` +
        `decapsulate as size^${grow("decapsulateMs")}.`,
    );
  }
  return lines.length
    ? ["How cost grows with key size (least-squares log-log slopes over this table):", "", ...lines]
    : [];
}

/**
 * What each added cascade layer costs: the least-squares line through 1 to 3 AEADs (one KEM)
 * and through 1 to 3 KEMs (one AEAD), in ms per added layer.
 */
function depthSlopes(): string[] {
  const ms = (layers: string) => depth.find((d) => d.layers === layers)?.ms;
  // Layer counts 1, 2, 3 against ms, over the cases this run measured.
  const line = (points: (number | undefined)[]) => {
    const known = points.flatMap((y, i): [number, number][] => y === undefined ? [] : [[i + 1, y]]);
    return known.length < 2 ? undefined : lineSlope(known);
  };
  const aead = line([ms("1 AEAD, 1 KEM"), ms("2 AEADs, 1 KEM"), ms("3 AEADs, 1 KEM")]);
  const kem = line([ms("1 AEAD, 1 KEM"), ms("1 AEAD, 2 KEMs"), ms("1 AEAD, 3 KEMs")]);
  if (aead === undefined || kem === undefined) return [];
  return [
    `Each added AEAD layer costs ${f(aead, 3)} ms and each added KEM ${
      f(kem, 3)
    } ms (least-squares lines through 1 to 3 layers; the KEM stacks are ${
      kemDepth.map((id) => `\`${id}\``).join(", ")
    }, so the KEM figure depends on which engines are added).`,
    "",
  ];
}

/** A table of our rows and the peers', with each row's ratio to the best peer. */
function peerTable(
  ours: PeerRow[],
  peers: PeerRow[],
  unit: string,
  higherIsBetter: boolean,
  ceiling?: { encrypt?: number; decrypt?: number; name: string },
): string[] {
  const valid = (v: number) => Number.isFinite(v) && v > 0;
  const pick = (vs: number[]) =>
    vs.filter(valid).reduce(
      (a, b) => (higherIsBetter ? Math.max(a, b) : Math.min(a, b)),
      higherIsBetter ? 0 : Infinity,
    );
  const best = {
    encrypt: pick(peers.map((p) => p.encrypt)),
    decrypt: pick(peers.map((p) => p.decrypt)),
  };
  const ratio = (v: number, ref?: number) =>
    valid(v) && ref !== undefined && valid(ref) && Number.isFinite(ref)
      ? f(higherIsBetter ? v / ref : ref / v, 2) + "x"
      : "-";
  const head = ceiling
    ? `| | encrypt ${unit} | decrypt ${unit} | encrypt vs best peer | decrypt vs best peer | vs ${ceiling.name} | note |`
    : `| | encrypt ${unit} | decrypt ${unit} | encrypt vs best peer | decrypt vs best peer | note |`;
  const line = (r: PeerRow, bold: boolean) =>
    `| ${bold ? `**${r.peer}**` : r.peer} | ${f(r.encrypt, 1)} | ${f(r.decrypt, 1)} | ${
      ratio(r.encrypt, best.encrypt)
    } | ${ratio(r.decrypt, best.decrypt)} |${
      ceiling
        ? ` ${ratio(r.encrypt, ceiling.encrypt)}${
          ceiling.decrypt ? ` / ${ratio(r.decrypt, ceiling.decrypt)}` : ""
        } |`
        : ""
    } ${r.note ?? ""} |`;
  return [
    head,
    `|---|---:|---:|---:|---:|${ceiling ? "---:|" : ""}---|`,
    ...ours.map((r) => line(r, true)),
    ...peers.map((r) => line(r, false)),
  ];
}

/** Engine rows: our decapsulation next to the peers' raw private-key operation. */
function engineTable(): string[] {
  const out = [
    "| engine | implementation | private op/s (decapsulate) | vs openssl | vs best peer |",
    "|---|---|---:|---:|---:|",
  ];
  const sslFor = (id: string) => {
    const [family, bits] = id.split("-");
    if (family === "rsa") return ssl[`rsa${bits}.private`];
    if (family === "elgamal") return ssl[`ffdh${bits}`];
    if (id === "x25519") return ssl.x25519;
    return undefined;
  };
  for (const [id, peers] of Object.entries(enginePeerRows)) {
    const ours = kem(id);
    const ref = sslFor(id);
    const best = Math.max(...peers.map((p) => p.decrypt).filter(Number.isFinite));
    const row = (who: string, v: number | undefined) =>
      `| ${id} | ${who} | ${f(v)} | ${v !== undefined && ref ? f(v / ref, 3) + "x" : "-"} | ${
        v !== undefined && best > 0 ? f(v / best, 2) + "x" : "-"
      } |`;
    out.push(row("**polycrypt**", ours ? 1000 / ours.decapsulateMs : undefined));
    for (const p of peers) out.push(row(p.peer, p.decrypt));
  }
  return out;
}

/**
 * How many cores the host gave the RSA pairs: `openssl speed -multi CORES` over one process, both
 * medians of the same minutes. On an idle 2-core machine here it is 2.0-2.1x; a shared host can
 * give less for minutes at a time, and then the "in flight" rows measured that, on both sides.
 */
function coresLine(): string[] {
  const scaling = [2048, 3072, 4096].flatMap((bits) => {
    const one = pairedRatios[`rsa-${bits}`]?.ref;
    const all = pairedRatios[`rsa-${bits}-lanes`]?.ref;
    return one && all ? [`${f(all / one, 2)}x at ${bits}`] : [];
  });
  if (!scaling.length) return [];
  return [
    `Cores the host gave this run: in the RSA pairs, \`openssl speed -multi ${CORES}\` did ${
      scaling.join(" and ")
    } its one-process rate (2.0-2.1x on this machine when idle, 2026-11-23). Below ${CORES}x, the rows with decapsulations in flight ran on fewer cores than the machine has, on both sides of the ratio.`,
    "",
  ];
}

/** Where the default RSA backend decrypts in this run, and that operation alone, in words. */
const RSA_PRIVATE = rsaAutoPrivateBackend();
const RSA_PLATFORM = RSA_PRIVATE === "openssl"
  ? "OpenSSL's RSA-OAEP-SHA-256 EVP_PKEY_decrypt through FFI (key parsed once)"
  : "WebCrypto's RSA-OAEP-SHA-256 decrypt (key imported once)";

/** What bounds each missed target, with the figures from this run that show it. */
function bound(t: Target): string | undefined {
  if (t.verdict === "yes" || t.verdict === undefined) return undefined;
  // Whether the platform primitive alone reached the goal in the same pairs: then the platform
  // is not what bounds this run, and the text must not say it is.
  const bareMet = (pair: Pair | undefined) =>
    pair?.bareRatio !== undefined && pair.bareRatio >= t.goalRatio;
  // "In the same pairs, <primitive> alone did N (r x openssl), and polycrypt did s of it."
  const samePairs = (pair: Pair | undefined, primitive: string, unit: string) =>
    pair?.bare === undefined
      ? ""
      : `In the same pairs, ${primitive} alone did ${f(pair.bare)}${unit}, ${
        f(pair.bareRatio, 3)
      }x openssl, and polycrypt did ${f(pair.shareOfBare, 2)}x of that. ${
        bareMet(pair)
          ? `That primitive alone reached the goal here, so the shortfall is polycrypt's own work around it: ${
            f(100 * (1 - pair.shareOfBare!), 0)
          }% of the primitive's rate. `
          : ""
      }`;
  if (t.target.startsWith("Bulk: encryptStream, 1 AES")) {
    return `${bareMet(pairedRatios.bulk) ? "" : "WebCrypto's AES-GCM is the bound. "}${
      samePairs(
        pairedRatios.bulk,
        "raw WebCrypto AES-256-GCM (64 KiB calls, 8 in flight, no header, key exchange or copies)",
        " MB/s",
      )
    }One WebCrypto call at a time does about a third of that (bulk table). Profiled (process and main-thread CPU time per MiB over 256 MiB, 12 interleaved rounds, 2026-11-23): raw WebCrypto costs 2.70 ms per MiB, 0.59 of it on the main thread that hands each 64 KiB call to Deno's blocking thread pool, so the two cores average about 1.65 busy; encryptStream costs 2.97 ms, 0.82 on the main thread. Its chunks are sealed in place without copies (since 2026-11-23: 510 to 564 MB/s in those rounds), so the rest is the WHATWG streams around it and PADME padding, which seals 3% more bytes at 256 MiB. Workers do not help (two workers, each with its own WebCrypto loop, reached 600-690 MB/s), and node:crypto's AES-256-GCM in Deno is slower still (about 90 MB/s on 64 KiB to 1 MiB inputs); OpenSSL's figure is one core of AES-NI assembly without copies.`;
  }
  if (t.target.startsWith("Bulk: peak RSS")) {
    return `The runs peaked at ${
      streamRss.encryptRunsKiB.map((k) => f(k / 1024, 0)).join(", ")
    } MiB. A Deno process that has imported polycrypt and sealed 1 KiB already holds about 65 MiB (bare Deno about 35 MiB; measured 2026-11-23); the rest is the two 64 KiB ArrayBuffers WebCrypto allocates per chunk (its copy of the input, and the output), which V8 frees at its next young-generation collection. Those follow the JavaScript allocated, not these buffers: --trace-gc counted 36 collections over 1 GiB after the stream code's per-chunk promises were cut, 49 before, and the peak rose from 114-128 to 124-133 MiB (standalone runs, 2026-11-23).`;
  }
  if (t.target.startsWith("RSA-") && t.target.includes("keygen")) {
    return `Key generation is a random search for two primes, so single runs vary several-fold and even medians of ${KEYGEN_RUNS} move between runs; the search runs in Deno's node:crypto (Rust, on a worker thread), so its speed against OpenSSL's is that implementation's.`;
  }
  if (t.target.startsWith("Argon2id")) {
    const wasm =
      `the WebAssembly backend (hash-wasm, its 4 lanes one after another in one worker), which a program without --allow-ffi gets, took ${
        f(wasmArgon, 0)
      } ms (${f(nativeArgon && wasmArgon / nativeArgon, 2)}x the CLI's ${
        f(nativeArgon, 0)
      } ms, medians of ${QUICK ? 1 : 5})`;
    return argonBackend === "native"
      ? `The native backend is node-argon2's prebuilt addon: the same RFC 9106 reference C code as the CLI, one thread per lane, off the event loop; ${wasm}.`
      : `${wasm}; the native backend did not load (no FFI permission or no prebuilt binary).`;
  }
  if (t.target.startsWith("RSA-")) {
    const bits = t.target.slice(4, 8);
    const single = pairedRatios[`rsa-${bits}`];
    const lanes = pairedRatios[`rsa-${bits}-lanes`];
    // How the bulk target counts (every core against one openssl process), from the medians of
    // the two sets of pairs.
    const againstOneProcess = lanes && single ? lanes.ours / single.ref : undefined;
    const routes = RSA_PRIVATE === "openssl"
      ? `The private operation is the system's OpenSSL 3 (EVP_PKEY_decrypt through Deno's FFI, in Deno's blocking thread pool, off the event loop); decapsulation adds the cached key lookup, an EVP_PKEY_CTX per call and the length checks. Without --allow-ffi the default backend uses WebCrypto (Deno's Rust \`rsa\` crate), which ran at 0.36-0.40x OpenSSL in earlier reports.`
      : `The private operation is Deno's native RSA (the Rust \`rsa\` crate), which the default backend reaches through WebCrypto (OpenSSL through FFI did not load) so that it runs in Deno's thread pool, off the event loop; decapsulation adds only the cached key lookup and length checks${
        bareMet(single) ? "" : ", so the gap to OpenSSL is that implementation's"
      }. The other routes, measured standalone (2026-11-23, RSA-3072): node:crypto's RSA-OAEP decrypt, PKCS#1 v1.5 sign, PSS sign and unpadded decrypt run the same crate at 93 to 119 op/s against OpenSSL's 267; node-forge does 0.03x; Deno's key decoders refuse multi-prime keys (RFC 8017 section 3.2), which would cut the private operation's cost; and a CRT over our BigInt \`modPow\` (not an allowed backend, and not constant-time) did 0.95-1.00x of node's rate at 3072 and 1.15x at 4096.`;
    if (t.target.includes("in flight")) {
      return `${
        samePairs(
          lanes,
          `${RSA_PLATFORM} with ${LANES} in flight`,
          " op/s",
        )
      }Both sides use every core here, so this ratio is the per-core one of the row above. Against one openssl process, which is how the bulk target counts (every core of ours against one of OpenSSL's), the same decapsulations did ${
        f(againstOneProcess, 3)
      }x. ${routes}`;
    }
    return `${
      samePairs(single, RSA_PLATFORM, " op/s")
    }${routes} With ${LANES} in flight: the next row.`;
  }
  if (t.target.startsWith("ElGamal-")) {
    const bits = t.target.slice(8, 12);
    return `${
      samePairs(
        pairedRatios[`elgamal-${bits}`],
        "node:crypto's DiffieHellman.computeSecret over the same group with the same exponent (Rust big integers, no subgroup check)",
        " op/s",
      )
    }A decapsulation is one BigInt \`modPow\` (our own, docs/engines/elgamal.md; within 5% of node's computeSecret in a standalone interleaved run, 2026-11-23) plus the Jacobi subgroup check of c, which took 0.51, 0.65 and 1.29 ms of the 1.58, 4.49 and 8.30 ms decapsulation at 2048, 3072 and 4096 bits in that run. The check refuses elements outside the order-q subgroup and stays. From 3072 bits the default engine runs both in workers, side by side, so that they do not hold a messenger's event loop for 4-31 ms; one at a time that measured 0.95-1.18x the inline rate, and all in flight 1.7-1.9x (docs/engines/elgamal.md, Threads).`;
  }
  if (t.target.startsWith("X25519")) {
    return `${
      samePairs(
        pairedRatios.x25519,
        "node:crypto's X25519 diffieHellman (keys parsed once)",
        " op/s",
      )
    }Deno's X25519 is x25519-dalek's Montgomery ladder in Rust, about 140 us per DH here where OpenSSL's assembly takes about 60 us. A decapsulation adds parsing the encapsulation into a key object (about 4 us, from a JWK), RFC 9180's ExtractAndExpand (one node:crypto HKDF, about 8 us) and the SHA-256 tag that finds the cached secret key object (about 3 us). Profiled (V8 --prof over 20,000 decapsulations, 2026-11-23): 89% of the ticks are in Deno's native code and 7% in JavaScript, so the JavaScript around those calls is not where the time goes.`;
  }
  if (t.target.startsWith("Chat:") && t.target.includes("@hpke/ml-kem")) {
    const mk = chatOurs.find((r) => r.peer.endsWith("ml-kem-768"));
    return `The hybrid does an X25519 and an ML-KEM-768 encapsulation where @hpke/ml-kem does ML-KEM-768 alone; ML-KEM runs on WebCrypto off the JavaScript thread while X25519 (node:crypto, about 200 us) runs on it. Like for like, polycrypt with an ml-kem-768 identity does ${
      f(mk?.encrypt, 0)
    } encrypt/s and ${f(mk?.decrypt, 0)} decrypt/s against hpke's ${f(hpkeMlKem?.encrypt, 0)} / ${
      f(hpkeMlKem?.decrypt, 0)
    }.`;
  }
  return undefined;
}

const md: string[] = [];
md.push(
  `# polycrypt benchmark report, ${DATE}${QUICK ? " (--quick)" : ""}`,
  "",
  `Machine: ${navigator.hardwareConcurrency} cores, ${Deno.build.os}/${Deno.build.arch}, Deno ${Deno.version.deno}. ` +
    "Medians in one run; ratios compare figures from this run only, and the targets against openssl " +
    "compare back-to-back pairs (the machine's speed drifts within minutes). RSA-2048 to RSA-4096 keygen is the median of " +
    `${KEYGEN_RUNS} runs alternating with openssl genpkey (in the targets, the KEM table and the keygen chart); any other keygen slower than a third of the ` +
    "per-operation budget is timed once. Made by `deno task bench:report`.",
  "",
  "## Targets",
  "",
  "| target | goal | measured | ratio | met | platform primitive alone, same pairs (ratio) |",
  "|---|---|---|---:|---|---|",
  ...targets.map((t) =>
    `| ${t.target} | ${t.goal} | ${t.measured} | ${t.ratio === undefined ? "-" : f(t.ratio, 3)} | ${
      t.verdict ?? "-"
    } | ${t.platform ?? ""} |`
  ),
  "",
  "The last column is what polycrypt's figure rests on, measured alone between polycrypt and " +
    "openssl in each pair: raw WebCrypto AES-256-GCM (64 KiB calls, 8 in flight) for bulk, " +
    `${RSA_PLATFORM} (one at a time, or as many in flight as polycrypt's row) ` +
    "and node:crypto's X25519 diffieHellman on keys parsed once for the engines, and node:crypto's DiffieHellman.computeSecret over the same group for ElGamal " +
    "(whose modPow is our own). A target whose goal is above that ratio cannot be met by composing this platform's " +
    "primitives.",
  "",
  ...coresLine(),
  "### What bounds the missed targets",
  "",
  ...(() => {
    const bounds = targets.flatMap((t) => {
      const b = bound(t);
      return b ? [`- ${t.target}: ${b}`] : [];
    });
    return bounds.length ? bounds : ["None: every target with a figure was met in this run."];
  })(),
  "",
  "## Peers",
  "",
  "Each peer runs through its own public API on the same input in this run. Ratios: ours over the best peer (above 1 is better).",
  "",
  "### Chat: 1 KiB to one recipient (per second)",
  "",
  `Every row, polycrypt's and the peers', was measured in the same ${CHAT_ROUNDS} interleaved round${
    CHAT_ROUNDS === 1 ? "" : "s"
  }; each figure is the median over the rounds.`,
  "",
  ...peerTable(chatOurs, chatPeerRows, "/s", true),
  "",
  `### Bulk: ${sizeLabel(bulkBytes)} (MB/s)`,
  "",
  ...peerTable(
    [{
      peer: "polycrypt encryptStream / decryptStream, AES-256-GCM",
      encrypt: bulk.encryptMBs,
      decrypt: bulk.decryptMBs,
      note: `${sizeLabel(streamBytes)} streamed`,
    }],
    bulkPeerRows,
    "MB/s",
    true,
    { encrypt: ssl["aes-256-gcm"] && ssl["aes-256-gcm"] / 1e6, name: "openssl aes-256-gcm" },
  ),
  "",
  `1 GiB through \`encryptStream\` in a child process: ${
    f(streamRss.encrypt.bytes / 1e6 / streamRss.encrypt.seconds, 0)
  } MB/s, peak RSS ${
    f(streamRss.encrypt.peakRssKiB / 1024, 0)
  } MiB; \`encryptStream | decryptStream\` in one process: ${
    f(streamRss.roundTrip.bytes / 1e6 / streamRss.roundTrip.seconds, 0)
  } MB/s, peak RSS ${f(streamRss.roundTrip.peakRssKiB / 1024, 0)} MiB.`,
  "",
  "### Engines: the private-key operation",
  "",
  ...engineTable(),
  "",
  "### Password: 1 KiB under a passphrase, each tool's default KDF (ms, lower is better)",
  "",
  ...peerTable(pwOurs, pwPeerRows, "ms", false),
  "",
  `Native ceiling: the \`argon2\` CLI at polycrypt's parameters takes ${
    f(nativeArgon, 0)
  } ms. libsodium-wrappers (not -sumo) has no crypto_pwhash, so it has no row.`,
  "",
  "## KEM engines",
  "",
  `![keygen](${DATE}-kem-keygen.svg)`,
  `![encapsulate](${DATE}-kem-encapsulate.svg)`,
  `![decapsulate](${DATE}-kem-decapsulate.svg)`,
  "",
  "| id | bits | pq | public key B | secret key B | encapsulation B | keygen/s | encapsulate/s | decapsulate/s |",
  "|---|---:|---|---:|---:|---:|---:|---:|---:|",
  ...kems.map((k) =>
    `| ${k.id} | ${k.securityBits} | ${
      k.postQuantum ? "yes" : "no"
    } | ${k.publicKeyBytes} | ${k.secretKeyBytes} | ${k.encapsulationBytes} | ${
      perSecond(k.keygenMs)
    } | ${perSecond(k.encapsulateMs)} | ${perSecond(k.decapsulateMs)} |`
  ),
  "",
  ...keySizeSlopes(),
  "",
  `![sizes](${DATE}-sizes.svg)`,
  "",
  "Native ceiling (`openssl speed`): " +
    Object.entries(ssl).map(([k, v]) =>
      `${k} ${k.includes("-") ? `${f(v / 1e6, 0)} MB/s` : `${f(v)} op/s`}`
    ).join(", ") + ". `openssl genpkey` RSA keygen (median ms): " +
    Object.entries(genpkey).map(([k, v]) => `${k} ${f(v, 0)}`).join(", ") + ".",
  "",
  "## Message size",
  "",
  `![throughput](${DATE}-throughput.svg)`,
  "",
  "| AEAD stack | size | encrypt MB/s | decrypt MB/s |",
  "|---|---:|---:|---:|",
  ...throughput.map((t) =>
    `| ${t.stack} | ${sizeLabel(t.bytes)} | ${f(t.encryptMBs)} | ${f(t.decryptMBs)} |`
  ),
  "",
  ...stacks.map((aead) => {
    const rows = throughput.filter((t) => t.stack === aead.join("+"));
    const fit = (part: typeof rows) =>
      `size^${f(slope(part.map((t) => [t.bytes, t.bytes / t.encryptMBs])), 2)} over ${
        sizeLabel(part[0].bytes)
      } to ${sizeLabel(part.at(-1)!.bytes)}`;
    // Below a few chunks the fixed cost per message (key derivation, promises) dominates, so
    // the fit over all sizes is well under 1; from 256 KiB up it shows the per-byte cost.
    const large = rows.filter((t) => t.bytes >= LINEAR_FROM);
    return `- ${aead.join("+")}: encrypt time grows as ${fit(rows)}${
      large.length >= 2 ? `, and as ${fit(large)}` : ""
    } (least-squares log-log slopes)`;
  }),
  "",
  `Streaming (\`encryptStream\`, one AES-256-GCM layer, ${sizeLabel(streamBytes)}): encrypt ${
    f(bulk.encryptMBs)
  } MB/s, decrypt ${f(bulk.decryptMBs)} MB/s.`,
  "",
  "## Recipients",
  "",
  "| recipients | encrypt ms | decrypt ms (last recipient) |",
  "|---:|---:|---:|",
  ...fanout.map((r) => `| ${r.recipients} | ${f(r.encryptMs, 2)} | ${f(r.decryptMs, 2)} |`),
  "",
  `Encrypt time grows as recipients^${
    f(slope(fanout.map((r) => [r.recipients, r.encryptMs])), 2)
  }; decrypt as recipients^${f(slope(fanout.map((r) => [r.recipients, r.decryptMs])), 2)}.`,
  "",
  "## Cascade depth",
  "",
  `![cascade](${DATE}-cascade.svg)`,
  "",
  "| layers | ms (1 KiB encrypt + decrypt) |",
  "|---|---:|",
  ...depth.map((d) => `| ${d.layers} | ${f(d.ms, 2)} |`),
  "",
  ...depthSlopes(),
  `Chat, 1 KiB to \`x25519+ml-kem-768\`: ${f(chat.encryptPerS, 0)} encrypt/s, ${
    f(chat.decryptPerS, 0)
  } decrypt/s. Argon2id (64 MiB, t=3, p=4): ${f(ourArgon, 0)} ms (${argonBackend} backend), ${
    f(wasmArgon, 0)
  } ms on WebAssembly, native CLI ${f(nativeArgon, 0)} ms.`,
  "",
);

await Deno.mkdir(OUT, { recursive: true });
const base = `${OUT.replace(/\/$/, "")}/${DATE}`;
await Deno.writeTextFile(`${base}.md`, md.join("\n"));
await Deno.writeTextFile(`${base}.json`, JSON.stringify(results, null, 2) + "\n");
for (const [name, svg] of Object.entries(charts)) {
  await Deno.writeTextFile(`${base}-${name}.svg`, svg + "\n");
}
log(`wrote ${base}.md, ${base}.json and ${Object.keys(charts).length} charts`);
