/**
 * The report's protocol: {@linkcode measure} runs every measurement once, in a fixed order, and
 * returns the figures as {@linkcode Results}; nothing here formats or judges them. Why the
 * protocol is shaped this way (alternating keygen runs, interleaved chat rounds, back-to-back
 * pairs) is in docs/performance.md, "The protocol".
 *
 * @module
 */
import {
  decrypt,
  decryptStream,
  encrypt,
  encryptStream,
  generateIdentity,
  registry,
} from "../../mod.ts";
import { ARGON2_DEFAULT, argon2Backend, argon2id } from "../../cascade/argon2.ts";
import { rsaAutoPrivateBackend } from "../../engines/rsa/rsa.ts";
import { type BenchRow, measureKem, median, medianMs } from "../../cli/_bench.ts";
import { runCommand, runDeno } from "../../tests/_process.ts";
import { ARGON2_CLI_ARGS, blocks, commandMs, type Context, drain, PASSPHRASE } from "./_common.ts";
import { opensslSpeed } from "../_openssl.ts";
import {
  bulkPeers,
  type ChatContender,
  chatPeerContenders,
  enginePeers,
  interleavedChatRates,
  passwordPeers,
} from "../peers.ts";
import { measurePairs } from "./paired.ts";
import { measureSignatures } from "./signatures.ts";
import {
  CASCADE_KEMS,
  type PeerRow,
  type Results,
  type RssRun,
  type ThroughputRow,
} from "./results.ts";
import { evaluateTargets } from "./targets.ts";

/** How {@linkcode measure} runs. */
export interface MeasureOptions {
  /** Tiny sizes and single runs: the whole protocol in a few minutes, figures not comparable. */
  readonly quick: boolean;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** The KEM engines of the KEM table: every size of each family, and the hybrids. */
export function kemIds(quick: boolean): string[] {
  if (quick) {
    return ["x25519", "ml-kem-512", "ml-kem-768", "elgamal-2048", "rsa-2048", "x25519+ml-kem-768"];
  }
  return [
    "x25519",
    "x448",
    ...[512, 768, 1024].map((n) => `ml-kem-${n}`),
    ...[2048, 3072, 4096, 6144, 8192].map((bits) => `elgamal-${bits}`),
    ...[2048, 3072, 4096, 8192].map((bits) => `rsa-${bits}`),
    "x25519+ml-kem-768",
    "x448+ml-kem-1024",
    "rsa-3072+elgamal-3072+ml-kem-1024",
  ];
}

/** Runs the whole protocol and returns its figures, with the targets evaluated from them. */
export async function measure(options: MeasureOptions): Promise<Results> {
  const quick = options.quick;
  const ctx: Context = { quick, budget: quick ? 60 : 1000, log: options.log ?? (() => {}) };
  const { log } = ctx;
  const msg = new Uint8Array(1024).fill(3);

  log("openssl speed (native ceiling)");
  const openssl = await ceiling(quick);

  const ids = kemIds(quick);
  const kems: BenchRow[] = [];
  for (const id of ids) {
    log(`KEM ${id}`);
    kems.push(await measureKem(registry.kem(id), ctx.budget));
  }
  log("RSA keygen medians, alternating with openssl genpkey");
  const keygen = await rsaKeygen(ctx);
  // The KEM table and the keygen chart show these medians too (one timed keygen can put
  // rsa-3072 below rsa-4096).
  for (const k of kems) {
    if (keygen.ours[k.id] === undefined) continue;
    k.keygenMs = keygen.ours[k.id];
    k.runs = { ...k.runs, keygen: keygen.runs };
  }

  const x = await generateIdentity("x25519");
  const throughput = await messageSizes(ctx, x);
  const stream = await streaming(ctx, x);
  const recipients = await fanout(ctx);
  const cascade = await cascadeDepth(ctx, msg);
  log("chat 1 KiB, interleaved with the peers");
  const chatPeers = await chatRates(ctx, msg);
  log("bulk peers");
  const bulkBytes = quick ? 4 << 20 : 64 << 20;
  const bulkPeerRows = await bulkPeers(new Uint8Array(bulkBytes).fill(3), quick ? 1 : 3);
  log("1 GiB stream peak RSS (child process)");
  const streamRss = await rss(quick);
  log("engine peers");
  const engines = await enginePeers(ctx.budget);
  log("password peers");
  const argonBackend = await argon2Backend();
  const passwordOurs = await password(quick, msg, argonBackend);
  const passwordPeerRows = await passwordPeers(msg, quick ? 1 : 3);
  log("argon2id");
  const argon2 = await argon2Times(quick);

  const paired = await measurePairs(ctx, x, ids);
  const signatures = await measureSignatures(ctx, paired.lanes);
  const results: Results = {
    date: new Date().toISOString().slice(0, 10),
    quick,
    machine: {
      os: Deno.build.os,
      arch: Deno.build.arch,
      cores: navigator.hardwareConcurrency,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
    },
    openssl,
    kems,
    keygenRuns: keygen.runs,
    rsaKeygenMs: keygen.ours,
    opensslGenpkeyMs: keygen.openssl,
    throughput,
    stream,
    recipients,
    cascade,
    cascadeKems: CASCADE_KEMS,
    chat: { encryptPerS: chatPeers.ours[0].encrypt, decryptPerS: chatPeers.ours[0].decrypt },
    chatPeers,
    bulkPeers: { bytes: bulkBytes, peers: bulkPeerRows },
    streamRss,
    enginePeers: engines,
    passwordPeers: { ours: passwordOurs, peers: passwordPeerRows },
    argon2: { backend: argonBackend, ...argon2 },
    rsaPrivateBackend: rsaAutoPrivateBackend(),
    lanes: paired.lanes,
    pairedBulkBytes: paired.bulkBytes,
    typageBytes: paired.typageBytes,
    pairedRatios: { pairs: paired.pairs, ...paired.ratios },
    signatures,
  };
  return { ...results, targets: evaluateTargets(results) };
}

/** The native ceiling: public-key ops/s and AEAD bytes/s at 16 KiB from `openssl speed`. */
async function ceiling(quick: boolean): Promise<Record<string, number>> {
  const seconds = quick ? 1 : 3;
  const pk = quick
    ? ["rsa2048", "ffdh2048", "ecdhx25519"]
    : ["rsa2048", "rsa3072", "rsa4096", "ffdh2048", "ffdh3072", "ffdh4096", "ffdh6144"]
      .concat(["ffdh8192", "ecdhx25519", "ecdhx448"]);
  const r = await opensslSpeed(pk, seconds);
  for (const aead of ["aes-256-gcm", "chacha20-poly1305"]) {
    Object.assign(r, await opensslSpeed(["-bytes", "16384", "-evp", aead], seconds));
  }
  return r;
}

/**
 * RSA keygen medians, ours and `openssl genpkey` alternating, each side its own median: a random
 * prime search varies several-fold between runs (docs/performance.md, "RSA keygen").
 */
async function rsaKeygen(
  ctx: Context,
): Promise<{ runs: number; ours: Record<string, number>; openssl: Record<string, number> }> {
  const runs = ctx.quick ? 1 : 31;
  const ours: Record<string, number> = {};
  const openssl: Record<string, number> = {};
  for (const bits of ctx.quick ? [2048] : [2048, 3072, 4096]) {
    const engine = registry.kem(`rsa-${bits}`);
    const oursMs: number[] = [];
    const opensslMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await engine.generateKeyPair();
      oursMs.push(performance.now() - t);
      const ms = await commandMs(
        "openssl",
        ["genpkey", "-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${bits}`],
        1,
      );
      if (ms !== undefined) opensslMs.push(ms);
    }
    ours[`rsa-${bits}`] = median(oursMs);
    if (opensslMs.length === runs) openssl[`rsa-${bits}`] = median(opensslMs);
  }
  return { runs, ours, openssl };
}

type Identity = { identity: string; recipient: string };

/** Message size per AEAD stack, encrypt and decrypt, one X25519 recipient, no padding. */
async function messageSizes(ctx: Context, x: Identity): Promise<ThroughputRow[]> {
  const stacks = [
    ["aes-256-gcm"],
    ["chacha20-poly1305"],
    ["xchacha20-poly1305"],
    ["aes-256-gcm", "xchacha20-poly1305"],
  ];
  const sizes = ctx.quick
    ? [64, 1024, 65536]
    : [64, 1024, 16384, 262144, 4 << 20, 64 << 20, 256 << 20];
  const rows: ThroughputRow[] = [];
  for (const aead of stacks) {
    for (const bytes of sizes) {
      ctx.log(`throughput ${aead.join("+")} ${bytes} B`);
      const data = new Uint8Array(bytes).fill(1);
      const options = { recipients: [x.recipient], aead, pad: false };
      let sealed = await encrypt(data, options);
      const budget = bytes >= 64 << 20 ? 0 : ctx.budget;
      const [enc] = await medianMs(async () => sealed = await encrypt(data, options), budget, 3);
      const [dec] = await medianMs(() => decrypt(sealed, { identities: [x.identity] }), budget, 3);
      rows.push({
        stack: aead.join("+"),
        bytes,
        encryptMBs: bytes / 1e3 / enc,
        decryptMBs: bytes / 1e3 / dec,
      });
    }
  }
  return rows;
}

/** Streaming with one AES-256-GCM layer (the bulk target's workload), median of 3. */
async function streaming(ctx: Context, x: Identity): Promise<Results["stream"]> {
  const bytes = ctx.quick ? 4 << 20 : 256 << 20;
  ctx.log(`stream ${bytes} B`);
  const block = new Uint8Array(1 << 20).fill(2);
  let streamed: Uint8Array[] = [];
  const [enc] = await medianMs(
    async () => {
      streamed = await drain(
        blocks(bytes, block).pipeThrough(encryptStream({ recipients: [x.recipient] })),
      );
    },
    0,
    3,
  );
  const [dec] = await medianMs(
    async () => {
      await drain(
        ReadableStream.from(streamed).pipeThrough(decryptStream({ identities: [x.identity] })),
      );
    },
    0,
    3,
  );
  return { bytes, encryptMBs: bytes / 1e3 / enc, decryptMBs: bytes / 1e3 / dec };
}

/** Recipients (group fan-out): encrypt to N X25519 recipients; the last one decrypts. */
async function fanout(ctx: Context): Promise<Results["recipients"]> {
  const rows: Results["recipients"][number][] = [];
  const members = await Promise.all(
    Array.from({ length: ctx.quick ? 10 : 1000 }, () => generateIdentity("x25519")),
  );
  for (const n of ctx.quick ? [1, 10] : [1, 10, 100, 1000]) {
    ctx.log(`recipients ${n}`);
    const group = members.slice(0, n);
    const options = { recipients: group.map((m) => m.recipient) };
    const msg = new Uint8Array(1024);
    let sealed = await encrypt(msg, options);
    const [e] = await medianMs(async () => sealed = await encrypt(msg, options), ctx.budget, 3);
    const [d] = await medianMs(
      () => decrypt(sealed, { identities: [group[n - 1].identity] }),
      ctx.budget,
      3,
    );
    rows.push({ recipients: n, encryptMs: e, decryptMs: d });
  }
  return rows;
}

/** Cascade depth: a 1 KiB message, encrypt + decrypt, per shape. */
async function cascadeDepth(ctx: Context, msg: Uint8Array): Promise<Results["cascade"]> {
  const [oneKem, twoKems, threeKems] = CASCADE_KEMS;
  const cases: { layers: string; kem: string; aead: string[]; passphrase?: string }[] = [
    { layers: "1 AEAD, 1 KEM", kem: oneKem, aead: ["aes-256-gcm"] },
    { layers: "2 AEADs, 1 KEM", kem: oneKem, aead: ["aes-256-gcm", "xchacha20-poly1305"] },
    {
      layers: "3 AEADs, 1 KEM",
      kem: oneKem,
      aead: ["aes-256-gcm", "xchacha20-poly1305", "chacha20-poly1305"],
    },
    { layers: "1 AEAD, 2 KEMs", kem: twoKems, aead: ["aes-256-gcm"] },
    { layers: "1 AEAD, 3 KEMs", kem: threeKems, aead: ["aes-256-gcm"] },
    { layers: "1 AEAD, 1 KEM, password", kem: oneKem, aead: ["aes-256-gcm"], passphrase: "p" },
  ];
  const rows: { layers: string; ms: number }[] = [];
  for (const c of cases) {
    ctx.log(`cascade ${c.layers}`);
    const id = await generateIdentity(c.kem);
    const options = { recipients: [id.recipient], aead: c.aead, passphrase: c.passphrase };
    const [ms] = await medianMs(
      async () => {
        const sealed = await encrypt(msg, options);
        await decrypt(sealed, { identities: [id.identity], passphrase: c.passphrase });
      },
      c.passphrase ? 0 : ctx.budget,
      c.passphrase ? (ctx.quick ? 1 : 3) : 3,
    );
    rows.push({ layers: c.layers, ms });
  }
  return rows;
}

/**
 * Chat: 1 KiB to the default hybrid, to ml-kem-768 and x25519 identities, and every chat peer,
 * all in the same interleaved rounds (a peer's rate moves between runs minutes apart).
 */
async function chatRates(ctx: Context, msg: Uint8Array): Promise<Results["chatPeers"]> {
  const ours: ChatContender[] = [];
  for (const id of [undefined, "ml-kem-768", "x25519"] as const) {
    const who = await generateIdentity(id);
    const options = { recipients: [who.recipient] };
    let sealed = await encrypt(msg, options);
    ours.push({
      peer: id ? `polycrypt, ${id}` : "polycrypt, x25519+ml-kem-768 (default identity)",
      seal: async () => sealed = await encrypt(msg, options),
      open: () => decrypt(sealed, { identities: [who.identity] }),
    });
  }
  const rounds = ctx.quick ? 1 : 12;
  const rows = await interleavedChatRates(
    [...ours, ...await chatPeerContenders(msg)],
    rounds,
    ctx.budget / rounds,
  );
  return { ours: rows.slice(0, ours.length), peers: rows.slice(ours.length), rounds };
}

/**
 * Peak RSS of a stream through bench/_stream_rss.ts in a child process: the encrypt-only peak is
 * a target, so it is the median of 3 runs (where V8's collections fall moves it by several MiB).
 */
async function rss(quick: boolean): Promise<Results["streamRss"]> {
  const run = async (mode: string[]): Promise<RssRun> => {
    const out = await runDeno([
      "run",
      "--allow-read",
      "--allow-run=cat",
      new URL("../_stream_rss.ts", import.meta.url).pathname,
      String(quick ? 16 : 1024),
      ...mode,
    ], { stderr: "inherit" });
    return JSON.parse(out.stdout);
  };
  const runs: RssRun[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) runs.push(await run(["encrypt"]));
  return {
    encrypt: runs.toSorted((a, b) => a.peakRssKiB - b.peakRssKiB)[runs.length >> 1],
    encryptRunsKiB: runs.map((r) => r.peakRssKiB),
    roundTrip: await run([]),
  };
}

/** Our row of the password table: 1 KiB under a passphrase. */
async function password(quick: boolean, msg: Uint8Array, backend: string): Promise<PeerRow[]> {
  let sealed = await encrypt(msg, { passphrase: PASSPHRASE });
  const [e] = await medianMs(
    async () => sealed = await encrypt(msg, { passphrase: PASSPHRASE }),
    0,
    quick ? 1 : 3,
  );
  const [d] = await medianMs(() => decrypt(sealed, { passphrase: PASSPHRASE }), 0, quick ? 1 : 3);
  return [{
    peer: "polycrypt passphrase",
    encrypt: e,
    decrypt: d,
    note: `Argon2id 64 MiB, t=3, p=4 (${backend} backend)`,
  }];
}

/**
 * Argon2id at the default parameters: ours on the backend "auto" picks (native under the task's
 * --allow-ffi), the WebAssembly backend a program without --allow-ffi gets, and the native CLI
 * (installed when missing and running as root, as in CI; without it: not measured).
 */
async function argon2Times(quick: boolean): Promise<Omit<Results["argon2"], "backend">> {
  const salt = new Uint8Array(16).fill(9);
  const runs = quick ? 1 : 5;
  const [oursMs] = await medianMs(() => argon2id(PASSPHRASE, salt, ARGON2_DEFAULT), 0, runs);
  const [wasmMs] = await medianMs(
    () => argon2id(PASSPHRASE, salt, ARGON2_DEFAULT, { backend: "wasm" }),
    0,
    runs,
  );
  const need = new URL("../../scripts/apt_need.sh", import.meta.url).pathname;
  await runCommand("bash", [need, "argon2", "argon2"], { stdout: "null", stderr: "null" })
    .catch(() => {});
  const nativeMs = await commandMs(
    "argon2",
    ARGON2_CLI_ARGS,
    runs,
    new TextEncoder().encode(PASSPHRASE),
  );
  return { oursMs, wasmMs, nativeMs };
}
