/**
 * The targets against a reference, measured as back-to-back pairs: polycrypt, then the platform
 * primitive alone, then the reference (`openssl speed`, typage, the argon2 CLI), several times,
 * keeping the median pair. The machine's speed drifts within minutes, so a ratio of two figures
 * taken minutes apart would measure the drift as much as the code (docs/performance.md, "The
 * protocol").
 *
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { Buffer } from "node:buffer";
import { encryptStream, registry } from "../../mod.ts";
import { ARGON2_DEFAULT, argon2id } from "../../cascade/argon2.ts";
import { FFDHE_GROUPS } from "../../engines/elgamal/elgamal.ts";
import { bigintToBytes } from "../../engines/_bytes.ts";
import { opensslRsa } from "../../engines/rsa/_openssl.ts";
import { median, medianMs } from "../../cli/_bench.ts";
import { opensslSpeed } from "../_openssl.ts";
import { typageEncrypter } from "../peers.ts";
import { ARGON2_CLI_ARGS, blocks, commandMs, type Context, drain, PASSPHRASE } from "./_common.ts";
import type { Pair } from "./results.ts";

/** What {@linkcode measurePairs} returns: the pairs by id, and how they were taken. */
export interface PairedRatios {
  /** How many pairs each median is over. */
  readonly pairs: number;
  /** RSA decapsulations in flight in the RSA targets' second row. */
  readonly lanes: number;
  /** The bytes streamed in the bulk pairs, and in the typage pairs. */
  readonly bulkBytes: number;
  /** The bytes encrypted in each typage pair. */
  readonly typageBytes: number;
  /** `bulk`, `typage`, `x25519`, `elgamal-N`, `rsa-N`, `rsa-N-lanes`, `argon2`. */
  readonly ratios: Record<string, Pair | undefined>;
}

/**
 * Measures every paired ratio: bulk against `openssl speed aes-256-gcm` and against typage, each
 * KEM of `kemIds` with an `openssl speed` counterpart (RSA also with decapsulations on every core
 * against `openssl speed -multi`), and Argon2id against the argon2 CLI. `x` is the X25519
 * identity the bulk pairs encrypt to.
 */
export async function measurePairs(
  ctx: Context,
  x: { recipient: string },
  kemIds: readonly string[],
): Promise<PairedRatios> {
  const { quick } = ctx;
  const pairs = quick ? 1 : 7;
  const cores = navigator.hardwareConcurrency;
  // Two per core: with one, a core idles while a finished decryption's result goes back through
  // the event loop (docs/performance.md, "RSA decapsulate").
  const lanes = 2 * cores;
  const paired = (
    ours: () => Promise<number>,
    ref: () => Promise<number | undefined>,
    bare?: () => Promise<number>,
  ) => pairedMedian(pairs, ours, ref, bare);
  const opsPerS = async (run: () => Promise<unknown>) =>
    1000 / (await medianMs(run, quick ? 60 : 500, 3))[0];
  const lanesPerS = (run: () => Promise<unknown>, n: number) =>
    inFlightPerS(run, n, quick ? 100 : 1000);
  const sslNow = async (args: string[], key: string) => (await opensslSpeed(args, 1))[key];

  ctx.log(`paired ratios to openssl (${pairs} pairs each)`);
  const ratios: Record<string, Pair | undefined> = {};

  // Bulk: encryptStream into a sink that counts and drops the output, as `openssl speed` drops
  // its own; 256 MiB, since a 64 MiB run is short enough for one noise burst to move it by 30%.
  const bulkBytes = quick ? 4 << 20 : 256 << 20;
  const block = new Uint8Array(1 << 20).fill(2);
  const bulkOurs = async () => {
    const t = performance.now();
    let n = 0;
    const sealed = blocks(bulkBytes, block).pipeThrough(
      encryptStream({ recipients: [x.recipient] }),
    );
    for await (const c of sealed) n += c.length;
    if (n < bulkBytes) throw new Error("encryptStream lost bytes");
    return bulkBytes / 1e3 / (performance.now() - t);
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
    for (let i = 0; i < bulkBytes / chunk; i++) {
      const iv = new Uint8Array(12);
      new DataView(iv.buffer).setUint32(8, i);
      const at = (i * chunk) % block.length;
      inFlight.push(
        crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, block.subarray(at, at + chunk)),
      );
      if (inFlight.length >= 8) await inFlight.shift();
    }
    await Promise.all(inFlight);
    return bulkBytes / 1e3 / (performance.now() - t);
  };
  // One untimed run of each first, so that no pair includes compiling the stream code.
  await bulkOurs();
  await bulkBare();
  ratios.bulk = await paired(bulkOurs, async () => {
    const bps = await sslNow(["-bytes", "16384", "-evp", "aes-256-gcm"], "aes-256-gcm");
    return bps && bps / 1e6;
  }, bulkBare);

  // Bulk against typage, both keeping the whole ciphertext (typage returns it as one array;
  // encryptStream's chunks are kept).
  const typageData = new Uint8Array(quick ? 4 << 20 : 64 << 20).fill(3);
  const typageEncrypt = await typageEncrypter();
  const mbsOf = async (run: () => Promise<unknown>) => {
    const t = performance.now();
    await run();
    return typageData.length / 1e3 / (performance.now() - t);
  };
  const typageOurs = () =>
    mbsOf(() =>
      drain(
        ReadableStream.from([typageData]).pipeThrough(
          encryptStream({ recipients: [x.recipient] }),
        ),
      )
    );
  const typageRef = () => mbsOf(() => typageEncrypt(typageData));
  await typageOurs();
  await typageRef();
  ratios.typage = await paired(typageOurs, typageRef);

  for (const id of quick ? ["rsa-2048", "elgamal-2048", "x25519"] : kemIds) {
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
    const fixtures = new URL("../../tests/fixtures/rsa/", import.meta.url);
    const keys = family === "rsa" && bits === "4096"
      ? {
        publicKey: await Deno.readFile(new URL("rsa4096.spki.der", fixtures)),
        secretKey: await Deno.readFile(new URL("rsa4096.pkcs8.der", fixtures)),
      }
      : await engine.generateKeyPair();
    const { encapsulation } = await engine.encapsulate(keys.publicKey);
    // RSA encapsulations are key-private (c + t*n, docs/engines/rsa.md): the bare private
    // operation decrypts a plain RSA-OAEP-SHA-256 ciphertext of a 32-byte secret instead.
    const bareInput = family === "rsa" ? await oaepCiphertext(keys.publicKey) : encapsulation;
    const bare = (n: number) =>
      bareOp(family, keys.secretKey, bareInput, Number(bits), opsPerS, lanesPerS, n);
    ratios[id] = await paired(
      () => opsPerS(() => engine.decapsulate(encapsulation, keys.secretKey)),
      () =>
        sslNow(
          [family === "rsa" ? `rsa${bits}` : sslKey === "x25519" ? "ecdhx25519" : sslKey],
          sslKey,
        ),
      await bare(1),
    );
    if (family !== "rsa" || (bits === "2048" && !quick)) continue; // the targets: 3072 and 4096
    // A messenger draining a backlog decapsulates several messages at once: `lanes` of them use
    // every core; OpenSSL gets the same cores through `openssl speed -multi CORES`.
    ratios[`${id}-lanes`] = await paired(
      () => lanesPerS(() => engine.decapsulate(encapsulation, keys.secretKey), lanes),
      () => sslNow(["-multi", String(cores), `rsa${bits}`], sslKey),
      await bare(lanes),
    );
  }

  // Argon2id time (ratio = ours over the CLI's; lower is better).
  const salt = new Uint8Array(16).fill(9);
  ratios.argon2 = await paired(
    async () => (await medianMs(() => argon2id(PASSPHRASE, salt, ARGON2_DEFAULT), 0, 1))[0],
    () => commandMs("argon2", ARGON2_CLI_ARGS, 1, new TextEncoder().encode(PASSPHRASE)),
  );
  return { pairs, lanes, bulkBytes, typageBytes: typageData.length, ratios };
}

/**
 * `count` pairs of `ours` then `ref` (with `bare` between them when given), and the median pair
 * by ratio; undefined when the reference is missing.
 */
async function pairedMedian(
  count: number,
  ours: () => Promise<number>,
  ref: () => Promise<number | undefined>,
  bare?: () => Promise<number>,
): Promise<Pair | undefined> {
  const pairs: Pair[] = [];
  for (let i = 0; i < count; i++) {
    const o = await ours();
    const b = await bare?.();
    const r = await ref();
    if (r === undefined || !(r > 0)) return undefined;
    pairs.push({ ours: o, ref: r, ratio: o / r, ...(b !== undefined && { bare: b }) });
  }
  return medianPair(pairs);
}

/**
 * The median of `pairs` by ratio; when they carry the platform primitive alone (`bare`), with the
 * medians of bare over the reference and of ours over bare.
 */
export function medianPair(pairs: readonly Pair[]): Pair {
  const mid = pairs.toSorted((a, b) => a.ratio - b.ratio)[pairs.length >> 1];
  if (pairs.some((p) => p.bare === undefined)) return mid;
  return {
    ...mid,
    bareRatio: median(pairs.map((p) => p.bare! / p.ref)),
    shareOfBare: median(pairs.map((p) => p.ours / p.bare!)),
  };
}

/** Completed operations per second with `lanes` of `run` in flight at once, over `ms`. */
async function inFlightPerS(
  run: () => Promise<unknown>,
  lanes: number,
  ms: number,
): Promise<number> {
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

/** A plain RSA-OAEP-SHA-256 ciphertext of a random 32-byte secret to the SPKI `publicKey`. */
async function oaepCiphertext(publicKey: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "spki",
    publicKey as Uint8Array<ArrayBuffer>,
    { name: "RSA-OAEP", hash: "SHA-256" },
    false,
    ["encrypt"],
  );
  const secret = crypto.getRandomValues(new Uint8Array(32));
  return new Uint8Array(await crypto.subtle.encrypt({ name: "RSA-OAEP" }, key, secret));
}

/**
 * The platform operation a decapsulation rests on (or, for ElGamal, whose `modPow` is our own,
 * the platform's nearest one), alone, as op/s: the RSA-OAEP-SHA-256 decrypt the default backend
 * uses (OpenSSL's through FFI under the task's --allow-ffi, else WebCrypto's; `lanes` in flight),
 * node:crypto's X25519 diffieHellman on keys parsed once, or DiffieHellman.computeSecret over
 * the same RFC 7919 group with the same secret exponent (no subgroup check).
 */
async function bareOp(
  family: string,
  secretKey: Uint8Array,
  encapsulation: Uint8Array,
  bits: number,
  opsPerS: (run: () => Promise<unknown>) => Promise<number>,
  lanesPerS: (run: () => Promise<unknown>, lanes: number) => Promise<number>,
  lanes: number,
): Promise<(() => Promise<number>) | undefined> {
  const rate = (run: () => Promise<unknown>) => () =>
    lanes === 1 ? opsPerS(run) : lanesPerS(run, lanes);
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
      return rate(() => openssl.decrypt(key, encapsulation, new Uint8Array(0)));
    }
    const key = await crypto.subtle.importKey(
      "pkcs8",
      secretKey as Uint8Array<ArrayBuffer>,
      { name: "RSA-OAEP", hash: "SHA-256" },
      false,
      ["decrypt"],
    );
    const ct = encapsulation as Uint8Array<ArrayBuffer>;
    return rate(() => crypto.subtle.decrypt({ name: "RSA-OAEP" }, key, ct));
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
