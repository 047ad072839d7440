// `deno task package:report`: the npm package's figures (docs/package.md, "Figures"): bundle sizes
// (dist/sizes.json), 1 KiB seal/open per second with the default identity in Chromium, Deno and
// Node, and Argon2id's default parameters (64 MiB, t=3, p=4) in the browser's Web Worker, Node's
// worker_threads worker, Deno's WebAssembly worker and the native addon the CLI uses. Prints
// Markdown. Usage: deno run --allow-all tests/package/report.ts [SECONDS per rate, default 5]
import {
  ARGON2_DEFAULT,
  argon2Backend,
  argon2id,
  decrypt,
  encrypt,
  generateIdentity,
} from "../../mod.ts";
import { build, DIST, installPackage, openPage, ROOT, serve } from "./_browser.ts";
import { runCommand } from "../_process.ts";

const seconds = Number(Deno.args[0] ?? 5);

async function denoRate(): Promise<number> {
  const { identity, recipient } = await generateIdentity();
  const message = crypto.getRandomValues(new Uint8Array(1024));
  const one = async () => {
    const sealed = await encrypt(message, { recipients: [recipient] });
    await decrypt(sealed, { identities: [identity] });
  };
  for (let i = 0; i < 20; i++) await one();
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await one();
    n++;
  }
  return n / ((performance.now() - started) / 1000);
}

async function denoArgon2(backend: "native" | "wasm"): Promise<number> {
  const started = performance.now();
  await argon2id("correct horse", new Uint8Array(16), ARGON2_DEFAULT, { backend });
  return performance.now() - started;
}

await build();
const sizes = JSON.parse(await Deno.readTextFile(`${DIST}/sizes.json`)) as {
  entry: string;
  minifiedBytes: number;
  gzipBytes: number;
}[];

// Chromium, Node and Deno take turns, ROUNDS times, and each figure is the median of its rounds:
// the machine's speed drifts (other work on its two cores), and turns spread the drift over all.
const ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const server = serve();
const { browser, page } = await openPage(server.origin);
const call = (name: string, ...args: unknown[]) =>
  // deno-lint-ignore no-explicit-any
  page.evaluate((n: string, a: unknown[]) => (globalThis as any).suite[n](...a), name, args);
const userAgent = ((await call("platform")) as { userAgent: string }).userAgent;
const scratch = await Deno.makeTempDir({ prefix: "polycrypt-report-" });
const rates = { chromium: [] as number[], node: [] as number[], deno: [] as number[] };
const argon2 = { chromium: [] as number[], node: [] as number[], wasm: [] as number[] };
const native: number[] = [];
let nodeVersion = "";
try {
  await installPackage(scratch);
  await Deno.copyFile(`${ROOT}tests/package/node/bench.mjs`, `${scratch}/bench.mjs`);
  for (let round = 0; round < ROUNDS; round++) {
    rates.chromium.push((await call("bench", seconds * 1000)) as number);
    argon2.chromium.push(((await call("argon2")) as { ms: number }).ms);
    const out = await runCommand("node", ["bench.mjs", String(seconds)], { cwd: scratch });
    if (!out.success) throw new Error(`node bench.mjs failed: ${out.stderr}`);
    const node = JSON.parse(out.stdout) as {
      node: string;
      sealOpenPerSecond: number;
      argon2Ms: number;
    };
    nodeVersion = node.node;
    rates.node.push(node.sealOpenPerSecond);
    argon2.node.push(node.argon2Ms);
    // Deno, from the sources, with every permission (as `deno task cli` runs).
    rates.deno.push(await denoRate());
    argon2.wasm.push(await denoArgon2("wasm"));
    if ((await argon2Backend()) === "native") native.push(await denoArgon2("native"));
  }
} finally {
  await browser.close();
  await server.close();
  await Deno.remove(scratch, { recursive: true });
}
const denoSealOpen = median(rates.deno);
const chromiumRate = median(rates.chromium);
const node = {
  node: nodeVersion,
  sealOpenPerSecond: median(rates.node),
  argon2Ms: median(argon2.node),
};
const chromiumArgon2 = median(argon2.chromium);
const wasmArgon2 = median(argon2.wasm);
const nativeArgon2 = native.length ? median(native) : NaN;
const spread = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");

const kib = (n: number) => (n / 1024).toFixed(1);
const lines = [
  `Measured ${new Date().toISOString().slice(0, 10)} on this machine (2 cores, load average ` +
  `${Deno.loadavg()[0].toFixed(1)} at the end): medians of ${ROUNDS} rounds taken in turns, ` +
  `${seconds} s per rate (rounds: Deno ${spread(rates.deno)}; Node ${spread(rates.node)}; ` +
  `Chromium ${spread(rates.chromium)}).`,
  `Chromium: ${userAgent.replace(/.*(HeadlessChrome\/\S+).*/, "$1")}; Node ${node.node}; ` +
  `Deno ${Deno.version.deno}.`,
  "",
  "| bundle (dist/browser, what a page loads) | minified KiB | gzip KiB |",
  "| --- | ---: | ---: |",
  ...sizes.map((s) => `| ${s.entry} | ${kib(s.minifiedBytes)} | ${kib(s.gzipBytes)} |`),
  "",
  "| 1 KiB seal + open, default identity (x25519+ml-kem-768, AES-256-GCM) | per second | vs Deno |",
  "| --- | ---: | ---: |",
  `| Deno (sources, --allow-all) | ${denoSealOpen.toFixed(0)} | 1.00x |`,
  `| Node (npm package) | ${node.sealOpenPerSecond.toFixed(0)} | ${
    (denoSealOpen / node.sealOpenPerSecond).toFixed(2)
  }x slower |`,
  `| Chromium (dist/browser) | ${chromiumRate.toFixed(0)} | ${
    (denoSealOpen / chromiumRate).toFixed(2)
  }x slower |`,
  "",
  "| Argon2id, 64 MiB, t=3, p=4 | ms |",
  "| --- | ---: |",
  `| native addon (the CLI with --allow-ffi) | ${nativeArgon2.toFixed(0)} |`,
  `| Deno, WebAssembly in a Web Worker | ${wasmArgon2.toFixed(0)} |`,
  `| Node, WebAssembly in a worker_threads worker | ${node.argon2Ms.toFixed(0)} |`,
  `| Chromium, WebAssembly in a Web Worker | ${chromiumArgon2.toFixed(0)} |`,
];
console.log(lines.join("\n"));
