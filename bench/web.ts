/**
 * `deno task bench:web`: the npm package's figures (issue 26, "Performance"; docs/package.md,
 * "Figures") measured in one run and written to `bench/results/web-<date>.md`:
 *
 * - bundle sizes per entry point, minified and gzip -9 (`dist/sizes.json`, written by
 *   `deno task build`, which this runs first): the page build (`polycrypt/browser`, its Argon2id
 *   worker and lazy chunk, the web chat's first load) and each npm entry point as a bundler ships
 *   it;
 * - 1 KiB messages sealed and opened per second with the default identity (X25519+ML-KEM-768,
 *   AES-256-GCM) in Chromium (`dist/browser`, Debian's chromium driven by puppeteer-core), in
 *   Node (the npm package installed from `npm pack`) and in Deno (the sources), with Chromium's
 *   ratio to Deno against the target (within 1.5x);
 * - Argon2id with the default parameters (64 MiB, t=3, p=4) in Chromium's Web Worker, Node's
 *   worker_threads worker and Deno's Web Worker (all hash-wasm's WebAssembly), next to the
 *   native code: the addon the CLI loads with `--allow-ffi`, and Debian's `argon2` CLI (the RFC
 *   9106 reference code) when installed; and the progress events the worker fired;
 * - the web chat page's first load on loopback (`polycrypt relay --web`, a fresh browser context
 *   each time) against the target (under 1 s).
 *
 * The machine's speed drifts (two cores shared with other work), so Chromium, Node and Deno take
 * short turns (8 per round for the rates, in a rotating order; Node is one process answering
 * requests, tests/package/node/bench.mjs), `--rounds` times (default 5); each figure is the
 * median of its rounds and each ratio the median of the rounds' own ratios, every round is listed,
 * and the load average is noted at the start and the end.
 *
 * Run: `deno task bench:web [--seconds S per rate and round, default 4] [--rounds N] [--out FILE]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  ARGON2_DEFAULT,
  argon2Backend,
  argon2id,
  decrypt,
  encrypt,
  generateIdentity,
} from "../mod.ts";
import { build, DIST, installPackage, openPage, ROOT, serve } from "../tests/package/_browser.ts";
import { spawnCommand } from "../tests/_process.ts";
import { ARGON2_CLI_ARGS, commandMs } from "./report/_common.ts";
import type { Browser } from "puppeteer-core";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "4" },
    rounds: { type: "string", default: "5" },
    out: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const ROUNDS = Number(values.rounds);
if (!(seconds > 0 && Number.isSafeInteger(ROUNDS) && ROUNDS >= 1)) {
  throw new RangeError("--seconds and --rounds must be positive numbers");
}
const date = new Date().toISOString().slice(0, 10);
const out = values.out ?? `${ROOT}bench/results/web-${date}.md`;
const loadStart = Deno.loadavg();
const log = (line: string) => console.error(line);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
const kib = (n: number) => (n / 1024).toFixed(1);

/** Deno's turn (from the sources): 1 KiB seal + open for about `ms`; the count and time taken. */
let denoOne: (() => Promise<void>) | undefined;
async function denoSlice(ms: number): Promise<Slice> {
  if (!denoOne) {
    const { identity, recipient } = await generateIdentity();
    const message = crypto.getRandomValues(new Uint8Array(1024));
    const one = async () => {
      const sealed = await encrypt(message, { recipients: [recipient] });
      await decrypt(sealed, { identities: [identity] });
    };
    for (let i = 0; i < 20; i++) await one(); // warm up: caches, JIT
    denoOne = one;
  }
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    await denoOne();
    n++;
  }
  return { n, ms: performance.now() - started };
}

/** A turn's count of round trips and its milliseconds. */
interface Slice {
  n: number;
  ms: number;
}

/**
 * `node bench.mjs` in the scratch project (tests/package/node/bench.mjs): one JSON line back for
 * each JSON line sent, so Node takes short turns like the others without starting again.
 */
function nodeBench(cwd: string) {
  const child = new Deno.Command("node", {
    args: ["bench.mjs"],
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return {
    async ask<T>(request: Record<string, unknown>): Promise<T> {
      await writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
      while (!buffered.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("node bench.mjs exited");
        buffered += value;
      }
      const at = buffered.indexOf("\n");
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      return JSON.parse(line) as T;
    },
    async close() {
      await writer.close();
      await child.status;
    },
  };
}

async function denoArgon2(backend: "native" | "wasm"): Promise<number> {
  const started = performance.now();
  await argon2id("correct horse", new Uint8Array(16), ARGON2_DEFAULT, { backend });
  return performance.now() - started;
}

/** `polycrypt relay --web` on a free port; its page's origin and a way to stop it. */
async function startRelay(dir: string): Promise<{ origin: string; stop(): Promise<void> }> {
  const child = spawnCommand(Deno.execPath(), [
    "run",
    "--allow-all",
    `${ROOT}cli/main.ts`,
    "relay",
    "--on",
    "ws://127.0.0.1:0",
    "--store",
    `sqlite:${dir}/relay.db`,
    "--web",
  ], { stdout: "null" });
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 120_000;
  while (!/web chat on (http:\/\/\S+)/.test(text)) {
    if (Date.now() > deadline) throw new Error(`the relay did not start: ${text}`);
    const { value, done } = await lines.read();
    if (done) throw new Error(`the relay exited: ${text}`);
    text += value;
  }
  (async () => {
    for (;;) if ((await lines.read()).done) return;
  })().catch(() => {});
  const origin = /web chat on (http:\/\/\S+?)\/?$/m.exec(text)![1];
  return {
    origin,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** The chat page's first load (a fresh context: nothing cached), to the `load` event, in ms. */
async function firstLoad(browser: Browser, origin: string): Promise<number> {
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(`${origin}/`, { waitUntil: "load", timeout: 120_000 });
    return performance.now() - started;
  } finally {
    await context.close();
  }
}

log("building dist/ ...");
await build();
const sizes = JSON.parse(await Deno.readTextFile(`${DIST}/sizes.json`)) as {
  entry: string;
  minifiedBytes: number;
  gzipBytes: number;
}[];

const server = serve();
const { browser, page } = await openPage(server.origin);
/** The test page's `globalThis.suite` (tests/package/browser/page.js). */
type Suite = { suite: Record<string, (...args: unknown[]) => unknown> };
const call = <T>(name: string, ...args: unknown[]) =>
  page.evaluate(
    (n: string, a: unknown[]) => (globalThis as unknown as Suite).suite[n](...a),
    name,
    args,
  ) as Promise<T>;
const userAgent = (await call<{ userAgent: string }>("platform")).userAgent;
const scratch = await Deno.makeTempDir({ prefix: "polycrypt-bench-web-" });
type Platform = "chromium" | "node" | "deno";
const PLATFORMS: Platform[] = ["chromium", "node", "deno"];
/** Turns per round and platform for the seal/open rates. */
const SLICES = 8;
const rates: Record<Platform, number[]> = { chromium: [], node: [], deno: [] };
const argon2 = { chromium: [] as number[], node: [] as number[], wasm: [] as number[] };
const native: number[] = [];
const reference: number[] = [];
const loads: number[] = [];
let progress: [number, number][] = [];
let nodeVersion = "";
const nativeBackend = (await argon2Backend()) === "native";
try {
  await installPackage(scratch);
  await Deno.copyFile(`${ROOT}tests/package/node/bench.mjs`, `${scratch}/bench.mjs`);
  const relay = await startRelay(scratch);
  try {
    const nodeProcess = nodeBench(scratch);
    try {
      nodeVersion = (await nodeProcess.ask<{ node: string }>({ op: "version" })).node;
      const sliceMs = (seconds * 1000) / SLICES;
      const slicers: Record<Platform, (ms: number) => Promise<Slice>> = {
        chromium: (ms) => call<Slice>("benchSlice", ms),
        node: (ms) => nodeProcess.ask<Slice>({ op: "slice", ms }),
        deno: denoSlice,
      };
      for (let round = 0; round < ROUNDS; round++) {
        log(`round ${round + 1} of ${ROUNDS}`);
        // Seal/open: the three take SLICES short turns each, the order rotating every turn, so
        // that all three run under the same load within the round.
        const sums: Record<Platform, Slice> = {
          chromium: { n: 0, ms: 0 },
          node: { n: 0, ms: 0 },
          deno: { n: 0, ms: 0 },
        };
        for (let turn = 0; turn < SLICES; turn++) {
          for (let i = 0; i < PLATFORMS.length; i++) {
            const platform = PLATFORMS[(round + turn + i) % PLATFORMS.length];
            const { n, ms } = await slicers[platform](sliceMs);
            sums[platform].n += n;
            sums[platform].ms += ms;
          }
        }
        for (const platform of PLATFORMS) {
          rates[platform].push(sums[platform].n / (sums[platform].ms / 1000));
        }
        // Argon2id: one derivation each, the order rotating every round.
        const derivations: (() => Promise<void>)[] = [
          async () => {
            const chromium = await call<{ ms: number; progress: [number, number][] }>("argon2");
            argon2.chromium.push(chromium.ms);
            progress = chromium.progress;
          },
          async () => {
            argon2.node.push((await nodeProcess.ask<{ ms: number }>({ op: "argon2" })).ms);
          },
          async () => {
            argon2.wasm.push(await denoArgon2("wasm"));
          },
          async () => {
            if (nativeBackend) native.push(await denoArgon2("native"));
          },
          async () => {
            const cli = await commandMs(
              "argon2",
              ARGON2_CLI_ARGS,
              1,
              new TextEncoder().encode("correct horse"),
            );
            if (cli !== undefined) reference.push(cli);
          },
        ];
        for (let i = 0; i < derivations.length; i++) {
          await derivations[(round + i) % derivations.length]();
        }
        for (let i = 0; i < 3; i++) loads.push(await firstLoad(browser, relay.origin));
      }
    } finally {
      await nodeProcess.close();
    }
  } finally {
    await relay.stop();
  }
} finally {
  await browser.close();
  await server.close();
  await Deno.remove(scratch, { recursive: true });
}
const loadEnd = Deno.loadavg();

/** Each round's own ratio `num[i] / den[i]`: measured minutes apart, not across the run. */
const ratios = (num: number[], den: number[]) => num.map((x, i) => x / den[i]);
const ratioCell = (xs: number[]) =>
  xs.length ? `${median(xs).toFixed(2)}x (${xs.map((x) => x.toFixed(2)).join(", ")})` : "n/a";
const deno = median(rates.deno);
const chromium = median(rates.chromium);
const node = median(rates.node);
// Time per message relative to Deno's: Deno's rate over theirs, round by round.
const chromiumVsDeno = ratios(rates.deno, rates.chromium);
const nodeVsDeno = ratios(rates.deno, rates.node);
const ratio = median(chromiumVsDeno);
const verdict = (met: boolean) => met ? "met" : "**missed**";
const argonRow = (name: string, xs: number[]) =>
  xs.length
    ? `| ${name} | ${median(xs).toFixed(0)} | ${list(xs)} | ${
      native.length === xs.length ? ratioCell(ratios(xs, native)) : "n/a"
    } |`
    : `| ${name} | n/a | | |`;
const maxLoad = Math.max(...loads);

const lines = [
  `# The npm package in Chromium, Node and Deno, ${date}`,
  "",
  `\`deno task bench:web\` (bench/web.ts) on ${Deno.build.os} ${Deno.build.arch}, ` +
  `${navigator.hardwareConcurrency} cores; load average ${
    loadStart.map((x) => x.toFixed(2)).join(" ")
  } ` +
  `at the start, ${loadEnd.map((x) => x.toFixed(2)).join(" ")} at the end (other work shares the ` +
  `cores: read the ratios, measured in the same rounds, before the absolute figures). ` +
  `${userAgent.replace(/.*(HeadlessChrome\/\S+).*/, "$1")}; Node ${nodeVersion}; Deno ` +
  `${Deno.version.deno}. Seal/open: in each of ${ROUNDS} rounds Chromium, Node and Deno take ` +
  `${SLICES} turns of ${
    ((seconds * 1000) / SLICES).toFixed(0)
  } ms each, in an order that rotates, ` +
  `so they run under the same load; Argon2id: one derivation each per round, the order rotating. ` +
  `Each figure is the median of its rounds, each ratio the median of the rounds' own ratios (all ` +
  `rounds listed).`,
  "",
  "## Bundle sizes per entry point",
  "",
  "Minified, then gzip -9 (`dist/sizes.json`, written by `deno task build`). `browser/` is the " +
  "page build (`polycrypt/browser`: dependencies inlined); each entry counts what it loads " +
  "before its first call (its static imports), lazy chunks are listed on their own. The npm " +
  "rows are the package's entry points as a bundler ships them (dependencies inlined, `node:*` " +
  "left out); the package itself ships them unminified, its dependencies as imports.",
  "",
  "| entry point | minified KiB | gzip KiB |",
  "| --- | ---: | ---: |",
  ...sizes.map((s) => `| ${s.entry} | ${kib(s.minifiedBytes)} | ${kib(s.gzipBytes)} |`),
  "",
  "## 1 KiB seal + open per second, default identity (X25519+ML-KEM-768, AES-256-GCM)",
  "",
  "| where | per second (median) | rounds | time per message vs Deno (median of the rounds' ratios; each round) |",
  "| --- | ---: | --- | --- |",
  `| Deno (sources, --allow-all) | ${deno.toFixed(0)} | ${list(rates.deno)} | 1.00x |`,
  `| Chromium (\`dist/browser\`) | ${chromium.toFixed(0)} | ${list(rates.chromium)} | ${
    ratioCell(chromiumVsDeno)
  } |`,
  `| Node (npm package) | ${node.toFixed(0)} | ${list(rates.node)} | ${ratioCell(nodeVsDeno)} |`,
  "",
  "## Argon2id, default parameters (64 MiB, t=3, p=4)",
  "",
  "| where | ms (median) | rounds | time vs the native addon (median of the rounds' ratios; each round) |",
  "| --- | ---: | --- | --- |",
  argonRow("Chromium, WebAssembly (hash-wasm) in a Web Worker", argon2.chromium),
  argonRow("Node, WebAssembly (hash-wasm) in a worker_threads worker", argon2.node),
  argonRow("Deno, WebAssembly (hash-wasm) in a Web Worker", argon2.wasm),
  argonRow(
    "native addon (the CLI with --allow-ffi: the reference C code, one thread per lane)",
    native,
  ),
  argonRow("Debian's `argon2` CLI (the reference C code, process start included)", reference),
  "",
  `Progress events of the last Chromium run (fraction at ms after the call): ${
    progress.map(([f, ms]) => `${f} at ${ms.toFixed(0)} ms`).join(", ")
  }. hash-wasm computes every pass in one WebAssembly call, so 0 (the worker started hashing) ` +
  "and 1 (the key is ready) are the only events there are; the native backend the CLI uses " +
  'reports the same two (docs/package.md, "Argon2id progress"). On a loaded machine the ' +
  "native code's four threads (one per lane) compete for the two cores like everything else; " +
  "the WebAssembly computes the lanes one after another on one thread.",
  "",
  "## The web chat page's first load",
  "",
  `\`polycrypt relay --web\` on loopback, a fresh browser context per load (nothing cached), to ` +
  `the \`load\` event: ${loads.length} loads, median ${median(loads).toFixed(0)} ms, slowest ` +
  `${maxLoad.toFixed(0)} ms (${list(loads)}).`,
  "",
  "## Targets",
  "",
  "| target | figure | verdict |",
  "| --- | --- | --- |",
  `| Chromium within 1.5x of Deno on 1 KiB seal/open | ${ratio.toFixed(2)}x | ${
    verdict(ratio <= 1.5)
  } |`,
  `| the page's first load under 1 s on loopback | slowest ${maxLoad.toFixed(0)} ms | ${
    verdict(maxLoad < 1000)
  } |`,
  `| the core under 250 KiB gzip | ${
    kib(sizes.find((s) => s.entry === "browser/index.js")?.gzipBytes ?? NaN)
  } KiB | ${
    verdict((sizes.find((s) => s.entry === "browser/index.js")?.gzipBytes ?? Infinity) < 250 * 1024)
  } |`,
  "",
];
await Deno.writeTextFile(out, lines.join("\n"));
console.log(lines.join("\n"));
log(`written to ${out}`);
