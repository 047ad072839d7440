/**
 * The report's signature protocol (issue 21, "Performance"): sign and verify per signature engine
 * and backend next to `openssl speed ed25519` and the @noble libraries alone, the targets' pairs,
 * and the signed 1 KiB chat round trip next to the unsigned one. Returns
 * {@linkcode SignatureResults}; nothing here formats or judges them. docs/performance.md, "The
 * protocol" and the signature sections, says why it is shaped this way.
 *
 * @module
 */
import process from "node:process";
import * as nodeCrypto from "node:crypto";
import { ed25519 as nobleEd25519 } from "@noble/curves/ed25519.js";
import { ml_dsa44, ml_dsa65, ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import {
  createEd25519Engine,
  createMlDsaEngine,
  decrypt,
  decryptWithSender,
  encrypt,
  generateIdentity,
  registry,
} from "../../mod.ts";
import type { SignatureEngine } from "../../mod.ts";
import { _buildEd25519MlDsa65 } from "../../engines/sig/composite.ts";
import type { DsaSubtle } from "../../engines/sig/mldsa.ts";
import { median } from "../../cli/_bench.ts";
import { runCommand } from "../../tests/_process.ts";
import { opensslSpeed } from "../_openssl.ts";
import { medianPair } from "./paired.ts";
import type { Context } from "./_common.ts";
import type { ChatRates, Pair, SignatureResults, SignatureRow } from "./results.ts";

/**
 * The message every row signs: 20 bytes, what `openssl speed ed25519` signs (speed.c's
 * EdDSA_sign_loop), so that the ratios compare the same work. An envelope signs a short,
 * fixed-size message too (docs/format.md section 3.1: hashes, not the data).
 */
export const SIGNED_BYTES = 20;

/** The parameter sets of the ML-DSA rows. */
const ML_DSA_SIZES = [44, 65, 87] as const;
const NOBLE_ML_DSA = { 44: ml_dsa44, 65: ml_dsa65, 87: ml_dsa87 };

/** Sign and verify closures of one contender, over keys made once. */
interface Contender {
  readonly id: string;
  readonly who: string;
  readonly ours: boolean;
  readonly sign: () => Promise<unknown>;
  readonly verify: () => Promise<unknown>;
}

/** What {@linkcode rate} measured: completed operations per second and the cores kept busy. */
interface Rate {
  readonly perS: number;
  /** Process CPU time (every thread) over wall time: 1.0 is one core busy throughout. */
  readonly busy: number;
}

/**
 * Completed runs per second with `lanes` of `run` in flight for `ms` (at least `min` runs per
 * lane), counted over the window as `openssl speed` counts, and the process's CPU time over it.
 */
async function rate(
  run: () => Promise<unknown>,
  ms: number,
  lanes = 1,
  min = 3,
): Promise<Rate> {
  let done = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const lane = async () => {
    for (let i = 0; i < min || performance.now() - start < ms; i++) {
      await run();
      done++;
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { perS: done * 1000 / wall, busy: (used.user + used.system) / 1000 / wall };
}

/** An engine's contender: keys made once, its own signature verified. */
async function engineContender(
  engine: SignatureEngine,
  who: string,
  message: Uint8Array,
): Promise<Contender> {
  const { publicKey, secretKey } = await engine.generateKeyPair();
  const signature = await engine.sign(secretKey, message);
  if (!await engine.verify(publicKey, message, signature)) throw new Error(`${who}: bad signature`);
  return {
    id: engine.id,
    who,
    ours: true,
    sign: () => engine.sign(secretKey, message),
    verify: () => engine.verify(publicKey, message, signature),
  };
}

/** A library alone, synchronous, wrapped as the engines' calls are awaited. */
function aloneContender(
  id: string,
  who: string,
  sign: () => unknown,
  verify: () => boolean,
): Contender {
  if (!verify()) throw new Error(`${who}: bad signature`);
  return {
    id,
    who,
    ours: false,
    sign: () => Promise.resolve(sign()),
    verify: () => Promise.resolve(verify()),
  };
}

/** node:crypto's Ed25519 on key objects made once: what the default engine rests on. */
function nodeEd25519Alone(message: Uint8Array): Contender {
  const { privateKey, publicKey } = nodeCrypto.generateKeyPairSync("ed25519");
  const signature = nodeCrypto.sign(null, message, privateKey);
  return aloneContender(
    "ed25519",
    "node:crypto alone",
    () => nodeCrypto.sign(null, message, privateKey),
    () => nodeCrypto.verify(null, message, publicKey, signature),
  );
}

/**
 * WebCrypto's ML-DSA on keys imported once (what the ML-DSA engines rest on), or undefined
 * where this WebCrypto lacks it.
 */
async function webMlDsaAlone(
  size: 44 | 65 | 87,
  message: Uint8Array<ArrayBuffer>,
): Promise<Contender | undefined> {
  const subtle = crypto.subtle as unknown as DsaSubtle;
  const algorithm = { name: `ML-DSA-${size}` };
  try {
    const secret = await subtle.importKey(
      "raw-seed",
      crypto.getRandomValues(new Uint8Array(32)),
      algorithm,
      false,
      ["sign"],
    );
    const pub = await subtle.getPublicKey(secret, ["verify"]);
    const signature = await subtle.sign(algorithm, secret, message);
    if (!await subtle.verify(algorithm, pub, signature, message)) return undefined;
    return {
      id: `ml-dsa-${size}`,
      who: "WebCrypto alone",
      ours: false,
      sign: () => subtle.sign(algorithm, secret, message),
      verify: () => subtle.verify(algorithm, pub, signature, message),
    };
  } catch {
    return undefined;
  }
}

/** Every row of the signature table, ours and the libraries alone, in the table's order. */
async function contenders(message: Uint8Array<ArrayBuffer>): Promise<Contender[]> {
  const list: Contender[] = [];
  // The registry's own engine first (node backend): the Ed25519 targets' "ours".
  for (const backend of ["node", "webcrypto", "noble"] as const) {
    const engine = backend === "node"
      ? registry.signature("ed25519")
      : createEd25519Engine({ backend });
    list.push(await engineContender(engine, `polycrypt, ${backend}`, message));
  }
  list.push(nodeEd25519Alone(message));
  {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    const publicKey = nobleEd25519.getPublicKey(seed);
    const signature = nobleEd25519.sign(message, seed);
    list.push(aloneContender(
      "ed25519",
      "@noble/curves alone",
      () => nobleEd25519.sign(message, seed),
      () => nobleEd25519.verify(signature, message, publicKey, { zip215: false }),
    ));
  }
  for (const size of ML_DSA_SIZES) {
    for (const backend of ["webcrypto", "noble"] as const) {
      const engine = createMlDsaEngine(size, { backend });
      list.push(await engineContender(engine, `polycrypt, ${backend}`, message));
    }
    const web = await webMlDsaAlone(size, message);
    if (web) list.push(web);
    const noble = NOBLE_ML_DSA[size];
    const keys = noble.keygen(crypto.getRandomValues(new Uint8Array(32)));
    const signature = noble.sign(message, keys.secretKey);
    list.push(aloneContender(
      `ml-dsa-${size}`,
      "@noble/post-quantum alone",
      () => noble.sign(message, keys.secretKey),
      () => noble.verify(signature, message, keys.publicKey),
    ));
  }
  const hybrids: [string, SignatureEngine][] = [
    [
      "polycrypt, default (node Ed25519, WebCrypto ML-DSA)",
      registry.signature("ed25519+ml-dsa-65"),
    ],
    [
      "polycrypt, webcrypto (both)",
      _buildEd25519MlDsa65(
        createEd25519Engine({ backend: "webcrypto" }),
        createMlDsaEngine(65, { backend: "webcrypto" }),
      ),
    ],
    [
      "polycrypt, noble (both)",
      _buildEd25519MlDsa65(
        createEd25519Engine({ backend: "noble" }),
        createMlDsaEngine(65, { backend: "noble" }),
      ),
    ],
  ];
  for (const [who, engine] of hybrids) list.push(await engineContender(engine, who, message));
  return list;
}

/** `openssl version`'s first line, or "" when openssl is missing. */
async function opensslVersion(): Promise<string> {
  try {
    return (await runCommand("openssl", ["version"], { stderr: "null" })).stdout.trim();
  } catch {
    return "";
  }
}

/** The default identity's signed 1 KiB round trip, the unsigned one, and the signatures alone. */
async function chatRoundTrips(
  ctx: Context,
  lanes: number,
): Promise<SignatureResults["chat"]> {
  const bytes = 1024;
  const data = new Uint8Array(bytes).fill(3);
  const [alice, bob] = [await generateIdentity(), await generateIdentity()];
  const signed = async () => {
    const sealed = await encrypt(data, { recipients: [bob.recipient], sender: alice.identity });
    const opened = await decryptWithSender(sealed, {
      identities: [bob.identity],
      verify: [alice.recipient],
    });
    if (opened.data.length !== bytes) throw new Error("signed round trip lost bytes");
  };
  const unsigned = async () => {
    const sealed = await encrypt(data, { recipients: [bob.recipient] });
    if ((await decrypt(sealed, { identities: [bob.identity] })).length !== bytes) {
      throw new Error("round trip lost bytes");
    }
  };
  // The signatures of the round trip alone: the hybrid sign then verify, no envelope.
  const hybrid = registry.signature("ed25519+ml-dsa-65");
  const keys = await hybrid.generateKeyPair();
  const short = new Uint8Array(200).fill(5);
  const signVerify = async () => {
    const s = await hybrid.sign(keys.secretKey, short);
    if (!await hybrid.verify(keys.publicKey, short, s)) throw new Error("bad signature");
  };
  for (const run of [signed, unsigned, signVerify]) for (let i = 0; i < 5; i++) await run();

  const rounds = ctx.quick ? 1 : 7;
  const slice = ctx.quick ? 100 : 700;
  const cases = {
    signedSequential: [signed, 1],
    unsignedSequential: [unsigned, 1],
    signedInFlight: [signed, lanes],
    unsignedInFlight: [unsigned, lanes],
    aloneSequential: [signVerify, 1],
    aloneInFlight: [signVerify, lanes],
  } as const;
  const got = Object.fromEntries(Object.keys(cases).map((k) => [k, [] as Rate[]])) as Record<
    keyof typeof cases,
    Rate[]
  >;
  for (let round = 0; round < rounds; round++) {
    for (const [name, [run, n]] of Object.entries(cases)) {
      got[name as keyof typeof cases].push(await rate(run, slice, n));
    }
  }
  const med = (rs: Rate[]): ChatRates["sequential"] => ({
    perS: median(rs.map((r) => r.perS)),
    busy: median(rs.map((r) => r.busy)),
  });
  return {
    bytes,
    // "polycrypt2:<kem>:<signature>:...": the default identity's engines.
    identity: alice.recipient.split(":").slice(1, 3).join(" with "),
    rounds,
    lanes,
    signed: { sequential: med(got.signedSequential), inFlight: med(got.signedInFlight) },
    unsigned: { sequential: med(got.unsignedSequential), inFlight: med(got.unsignedInFlight) },
    signaturesAlone: { sequential: med(got.aloneSequential), inFlight: med(got.aloneInFlight) },
  };
}

/**
 * Runs the signature protocol: the table in interleaved rounds (every contender, then `openssl
 * speed ed25519`, each round), the Ed25519 targets as back-to-back pairs with node:crypto alone
 * between ours and openssl, the hybrid's verify rate with WebCrypto's ML-DSA-65 verify alone
 * beside it, and the chat round trips with `lanes` in flight.
 */
export async function measureSignatures(ctx: Context, lanes: number): Promise<SignatureResults> {
  const { quick, log } = ctx;
  const message = new Uint8Array(SIGNED_BYTES).fill(7);
  const version = await opensslVersion();
  // OpenSSL 3.5 and later: `openssl speed ml-dsa-65`; 3.0 prints "Unknown algorithm".
  const mlDsaSsl = Object.keys(await opensslSpeed(["ml-dsa-65"], 1)).length > 0;
  const sslArgs = ["ed25519", ...(mlDsaSsl ? ML_DSA_SIZES.map((n) => `ml-dsa-${n}`) : [])];
  const sslSeconds = 1;

  log("signatures: every engine and backend, @noble alone, openssl speed ed25519");
  const list = await contenders(message);
  for (const c of list) {
    for (let i = 0; i < 3; i++) {
      await c.sign();
      await c.verify();
    }
  }
  const rounds = quick ? 1 : 5;
  const slice = quick ? 30 : 200;
  const signs = list.map((): number[] => []);
  const verifies = list.map((): number[] => []);
  const ssl: Record<string, number[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of list.entries()) {
      signs[i].push((await rate(c.sign, slice)).perS);
      verifies[i].push((await rate(c.verify, slice)).perS);
    }
    for (const [k, v] of Object.entries(await opensslSpeed(sslArgs, sslSeconds))) {
      (ssl[k] ??= []).push(v);
    }
  }
  const rows: SignatureRow[] = list.map((c, i) => ({
    id: c.id,
    who: c.who,
    ours: c.ours,
    signPerS: median(signs[i]),
    verifyPerS: median(verifies[i]),
  }));
  const openssl = Object.fromEntries(
    Object.entries(ssl).filter(([, v]) => v.length === rounds).map(([k, v]) => [k, median(v)]),
  );

  const pairs = quick ? 1 : 7;
  log(`signatures: Ed25519 against openssl, ed25519+ml-dsa-65 verify (${pairs} pairs)`);
  const ours = list[0]; // the registry's ed25519
  const bare = list.find((c) => c.who === "node:crypto alone")!;
  const hybrid = list.find((c) => c.id === "ed25519+ml-dsa-65")!;
  const mlDsaWeb = list.find((c) => c.id === "ml-dsa-65" && c.who === "WebCrypto alone");
  const pairSlice = quick ? 100 : 300;
  const signPairs: Pair[] = [];
  const verifyPairs: Pair[] = [];
  const hybridRuns: number[] = [];
  const mlDsaRuns: number[] = [];
  for (let i = 0; i < pairs; i++) {
    // Ours, node:crypto alone, then openssl, back to back; the hybrid's verify and ML-DSA-65's
    // alone in the same minutes.
    const oursSign = (await rate(ours.sign, pairSlice)).perS;
    const oursVerify = (await rate(ours.verify, pairSlice)).perS;
    const bareSign = (await rate(bare.sign, pairSlice)).perS;
    const bareVerify = (await rate(bare.verify, pairSlice)).perS;
    const ref = await opensslSpeed(["ed25519"], sslSeconds);
    if (ref["ed25519.sign"] && ref["ed25519.verify"]) {
      const pair = (o: number, r: number, b: number): Pair => ({
        ours: o,
        ref: r,
        ratio: o / r,
        bare: b,
      });
      signPairs.push(pair(oursSign, ref["ed25519.sign"], bareSign));
      verifyPairs.push(pair(oursVerify, ref["ed25519.verify"], bareVerify));
    }
    hybridRuns.push((await rate(hybrid.verify, pairSlice)).perS);
    if (mlDsaWeb) mlDsaRuns.push((await rate(mlDsaWeb.verify, pairSlice)).perS);
  }
  const complete = signPairs.length === pairs;

  log(`signatures: signed 1 KiB chat round trips, one at a time and ${lanes} in flight`);
  const chat = await chatRoundTrips(ctx, lanes);
  return {
    messageBytes: SIGNED_BYTES,
    rounds,
    rows,
    openssl,
    opensslVersion: version,
    opensslMlDsa: mlDsaSsl,
    pairs,
    ...(complete && { ed25519Sign: medianPair(signPairs), ed25519Verify: medianPair(verifyPairs) }),
    hybridVerify: {
      perS: median(hybridRuns),
      ...(mlDsaRuns.length === pairs && { mlDsa65AlonePerS: median(mlDsaRuns) }),
    },
    chat,
  };
}
