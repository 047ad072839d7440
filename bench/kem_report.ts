/**
 * KEM report: median ops/s of keygen, encapsulate and decapsulate for every
 * registered KEM id and the alternative backends, next to `openssl speed` on
 * the same machine in the same run. `deno bench` prints means and tails; this
 * prints medians, which are steadier on a noisy 2-core machine.
 *
 * Run: `deno task bench:kem` (add `--slow` for RSA-8192 keygen and forge RSA
 * keygen above 2048 bits, which take minutes).
 *
 * OpenSSL columns: RSA `sign/s` and `verify/s` are the private and public
 * operations (decapsulate and encapsulate do one each, plus OAEP padding);
 * `openssl speed` has no 8192-bit RSA, so 7680 is shown. `ffdh` and
 * `ecdh` are one key agreement: ElGamal and DHKEM encapsulation do two
 * exponentiations (fresh key and shared value), decapsulation one.
 *
 * @module
 */
import {
  createElGamalEngine,
  createMlKemEngine,
  createRsaEngine,
  createX25519Engine,
  createX448Engine,
  registry,
} from "../mod.ts";
import { rsaAutoPrivateBackend } from "../engines/rsa/rsa.ts";
import type { KemEngine, KemKeyPair } from "../mod.ts";
import { medianMs } from "../cli/_bench.ts";
import { opensslSpeed } from "./_openssl.ts";

const SLOW = Deno.args.includes("--slow");
const BUDGET_MS = 1500;
const median = (fn: () => Promise<unknown>, minRuns = 5) =>
  medianMs(fn, BUDGET_MS, minRuns).then(([ms]) => ms);

async function fixture(bits: number): Promise<KemKeyPair | undefined> {
  try {
    const dir = new URL("../tests/fixtures/rsa/", import.meta.url);
    return {
      publicKey: await Deno.readFile(new URL(`rsa${bits}.spki.der`, dir)),
      secretKey: await Deno.readFile(new URL(`rsa${bits}.pkcs8.der`, dir)),
    };
  } catch {
    return undefined;
  }
}

const ops = (ms: number | undefined) =>
  ms === undefined ? "-" : (1000 / ms).toLocaleString("en", { maximumFractionDigits: 1 });

const rows: string[] = [];
async function report(kem: KemEngine, label: string, options: {
  keys?: KemKeyPair;
  keygen?: boolean;
  openssl?: string;
} = {}) {
  const keygenRuns = options.keygen === false
    ? undefined
    : await median(() => kem.generateKeyPair(), 3);
  const keys = options.keys ?? await kem.generateKeyPair();
  const { encapsulation } = await kem.encapsulate(keys.publicKey);
  const enc = await median(() => kem.encapsulate(keys.publicKey));
  const dec = await median(() => kem.decapsulate(encapsulation, keys.secretKey));
  rows.push(
    `| ${label} | ${ops(keygenRuns)} | ${ops(enc)} | ${ops(dec)} | ${options.openssl ?? ""} |`,
  );
}

const ssl = await opensslSpeed(
  ["rsa2048", "rsa3072", "rsa4096", "rsa7680", "ffdh2048", "ffdh3072", "ffdh4096", "ffdh6144"]
    .concat(["ffdh8192", "ecdhx25519", "ecdhx448"]),
  2,
);
const rsaSsl = (bits: number) =>
  ssl[`rsa${bits}.private`]
    ? `rsa${bits}: verify ${ssl[`rsa${bits}.public`]}/s, sign ${ssl[`rsa${bits}.private`]}/s`
    : "";
const dhSsl = (key: string, name: string) => ssl[key] ? `${name}: ${ssl[key]} op/s` : "";

for (const bits of [2048, 3072, 4096, 8192]) {
  const keys = bits >= 4096 ? await fixture(bits) : undefined;
  // "openssl" needs --allow-ffi (the task grants it); without, "auto" is WebCrypto's row again.
  const backends = rsaAutoPrivateBackend() === "openssl"
    ? ["auto", "node", "webcrypto", "forge"] as const
    : ["auto", "node", "forge"] as const;
  for (const backend of backends) {
    const kem = createRsaEngine(bits, { backend });
    // "auto" generates keys with node:crypto's keygen: the "node" row would time it again.
    const keygen = backend === "forge"
      ? bits === 2048 || SLOW
      : backend !== "node" && (bits < 8192 || SLOW);
    const actual = (kem as KemEngine & { backend?: string }).backend;
    const label = backend === "auto" ? `auto: ${rsaAutoPrivateBackend()}, default` : actual;
    await report(kem, `rsa-${bits} (${label})`, {
      keys,
      keygen,
      openssl: backend === "auto" ? rsaSsl(bits === 8192 ? 7680 : bits) : "",
    });
  }
}
for (const bits of [2048, 3072, 4096, 6144, 8192] as const) {
  // The default engine's thread first ("inline" at 2048 bits, "worker" from 3072), then the other.
  const defaultThread = createElGamalEngine(bits).thread;
  const otherThread: "worker" | "inline" = defaultThread === "worker" ? "inline" : "worker";
  for (const thread of [defaultThread, otherThread]) {
    await report(
      createElGamalEngine(bits, { thread }),
      `elgamal-${bits} (bigint, ${thread}${thread === defaultThread ? ", default" : ""})`,
      { openssl: thread === defaultThread ? dhSsl(`ffdh${bits}`, `ffdh${bits}`) : "" },
    );
  }
  await report(createElGamalEngine(bits, { backend: "forge" }), `elgamal-${bits} (forge)`);
}
for (const size of [512, 768, 1024] as const) {
  for (const backend of ["webcrypto", "noble"] as const) {
    const suffix = backend === "webcrypto" ? ", default" : "";
    await report(createMlKemEngine(size, { backend }), `ml-kem-${size} (${backend}${suffix})`);
  }
}
for (const backend of ["node", "webcrypto", "noble"] as const) {
  const suffix = backend === "node" ? ", default" : "";
  await report(createX25519Engine({ backend }), `x25519 (${backend}${suffix})`, {
    openssl: backend === "node" ? dhSsl("x25519", "X25519") : "",
  });
  await report(createX448Engine({ backend }), `x448 (${backend}${suffix})`, {
    openssl: backend === "node" ? dhSsl("x448", "X448") : "",
  });
}
for (const id of ["x25519+ml-kem-768", "x448+ml-kem-1024", "rsa-3072+elgamal-3072+ml-kem-1024"]) {
  await report(registry.kem(id), id);
}

console.log(`Median ops/s (${Deno.build.os}, ${navigator.hardwareConcurrency} cores)\n`);
console.log("| engine (backend) | keygen/s | encapsulate/s | decapsulate/s | openssl speed |");
console.log("|---|---:|---:|---:|---|");
for (const row of rows) console.log(row);
