// The benchmark report renders from data: stored results (the committed 2026-11-23 report, and
// fixtures/results.json from a `bench:report --quick` run) render to Markdown and SVG with no
// measurement. The full protocol is not run here (a --quick run takes about a minute); these
// tests check what the report says about given figures.
import assert from "node:assert/strict";
import { charts } from "../../bench/report/charts.ts";
import { PERFORMANCE_DOC, render } from "../../bench/report/render.ts";
import { type Pair, parseResults, type Results } from "../../bench/report/results.ts";
import { evaluateTargets, type TargetKind } from "../../bench/report/targets.ts";
import { runDeno } from "../_process.ts";

const ROOT = new URL("../../", import.meta.url);
const RESULTS = new URL("bench/results/", ROOT);
const FIXTURE = new URL("fixtures/results.json", import.meta.url);
const load = async (url: URL) => parseResults(await Deno.readTextFile(url));

/** The target ids in the report's order, for a full (not --quick) run. */
const TARGET_IDS = [
  "bulk-openssl",
  "rsa-3072-decapsulate",
  "rsa-3072-decapsulate-lanes",
  "rsa-4096-decapsulate",
  "rsa-4096-decapsulate-lanes",
  "elgamal-2048-decapsulate",
  "elgamal-3072-decapsulate",
  "elgamal-4096-decapsulate",
  "elgamal-6144-decapsulate",
  "elgamal-8192-decapsulate",
  "x25519-decapsulate",
  "rsa-2048-keygen",
  "rsa-3072-keygen",
  "rsa-4096-keygen",
  "argon2id",
  "chat-encrypt-age",
  "chat-encrypt-hpke",
  "chat-decrypt-age",
  "chat-decrypt-hpke",
  "bulk-typage",
  "bulk-rss",
];

/** The Markdown table rows under `heading`, up to the next blank line. */
function tableAfter(md: string, heading: string): string[] {
  const lines = md.split("\n");
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, heading);
  const from = lines.findIndex((l, i) => i > start && l.startsWith("|"));
  const to = lines.findIndex((l, i) => i > from && !l.startsWith("|"));
  return lines.slice(from, to);
}

Deno.test("the committed 2026-11-23 JSON renders to the committed report and charts, byte for byte", async () => {
  const results = await load(new URL("2026-11-23.json", RESULTS));
  assert.equal(render(results), await Deno.readTextFile(new URL("2026-11-23.md", RESULTS)));
  const drawn = charts(results);
  assert.deepEqual(Object.keys(drawn).sort(), [
    "cascade",
    "kem-decapsulate",
    "kem-encapsulate",
    "kem-keygen",
    "sizes",
    "throughput",
  ]);
  for (const [name, svg] of Object.entries(drawn)) {
    const stored = await Deno.readTextFile(new URL(`2026-11-23-${name}.svg`, RESULTS));
    assert.equal(svg + "\n", stored, name);
  }
});

Deno.test("targets evaluated from the 2026-11-23 figures are the stored ones, with stable ids", async () => {
  const json = await Deno.readTextFile(new URL("2026-11-23.json", RESULTS));
  const targets = evaluateTargets(parseResults(json));
  assert.deepEqual(targets.map((t) => t.id), TARGET_IDS);
  const stored = JSON.parse(json).targets;
  assert.deepEqual(targets.map(({ id: _id, kind: _kind, bits: _bits, ...row }) => row), stored);
  assert.ok(targets.every((t) => t.verdict === "yes"));
});

Deno.test("a stored --quick run renders its tables, target rows, verdicts and chart links", async () => {
  const results = await load(FIXTURE);
  const md = render(results);
  assert.match(md, /^# polycrypt benchmark report, 2026-12-03 \(--quick\)\n/);
  for (
    const heading of [
      "## Targets",
      "### What bounds the missed targets",
      "## Peers",
      "### Engines: the private-key operation",
      "## KEM engines",
      "## Message size",
      "## Recipients",
      "## Cascade depth",
    ]
  ) {
    assert.ok(md.split("\n").includes(heading), heading);
  }

  // One row per target, in order, each with its verdict.
  const targets = evaluateTargets(results);
  const rows = tableAfter(md, "## Targets");
  assert.equal(
    rows[0],
    "| target | goal | measured | ratio | met | platform primitive alone, same pairs (ratio) |",
  );
  assert.equal(rows.length, 2 + targets.length);
  assert.equal(targets.length, TARGET_IDS.length - 2, "--quick measures RSA keygen at 2048 only");
  for (const [i, t] of targets.entries()) {
    assert.ok(rows[2 + i].startsWith(`| ${t.target} | ${t.goal} | ${t.measured} |`), t.id);
  }
  const byId = new Map(targets.map((t) => [t.id, t]));
  assert.equal(byId.get("x25519-decapsulate")?.verdict, "yes");
  assert.match(
    rows[2 + targets.indexOf(byId.get("x25519-decapsulate")!)],
    /\| 0\.469 \| yes \| 12165\.2 op\/s \(0\.451x\) \|$/,
  );
  assert.equal(byId.get("bulk-openssl")?.verdict, "**no** (short by 6.85x)");
  assert.equal(byId.get("rsa-3072-decapsulate")?.measured, "not measured in this run");
  assert.match(rows[2 + targets.indexOf(byId.get("rsa-3072-decapsulate")!)], /\| - \| - \| {2}\|$/);

  // The missed targets, and only those, are listed with this run's figures and a link.
  const missed = targets.filter((t) => t.verdict?.startsWith("**no**"));
  assert.deepEqual(missed.map((t) => t.id), [
    "bulk-openssl",
    "elgamal-2048-decapsulate",
    "bulk-typage",
  ]);
  const bounds = md.split("\n").filter((l) => l.startsWith("- ") && l.includes("Why: ["));
  assert.deepEqual(
    bounds.map((l) => /#([a-z0-9-]+)\)\.$/.exec(l)?.[1]),
    ["bulk-openssl", "elgamal-decapsulate", "bulk-typage"],
  );
  assert.match(bounds[0], /raw WebCrypto AES-256-GCM .* alone did 808\.2 MB\/s, 0\.292x openssl/);
  assert.ok(!md.includes("None: every target with a figure was met"));

  // Every chart is linked by the name it is written under.
  for (const name of Object.keys(charts(results))) {
    assert.ok(md.includes(`(2026-12-03-${name}.svg)`), name);
  }
  // The scaling lines are fitted from the tables.
  assert.match(
    md,
    /- ML-KEM, parameter set 512, 768: keygen time grows as size\^-?[\d.]+, encapsulate as size\^-?[\d.]+, decapsulate as size\^-?[\d.]+\./,
  );
  assert.match(md, /Each added AEAD layer costs -?[\d.]+ ms and each added KEM -?[\d.]+ ms/);
  assert.match(md, /measured in the same 1 interleaved round;/);
  assert.match(md, /`openssl speed -multi 2` did 1\.36x at 2048 its one-process rate/);
  assert.equal(tableAfter(md, "## Recipients").length, 2 + results.recipients.length);
  assert.equal(tableAfter(md, "## Message size").length, 2 + results.throughput.length);
  assert.doesNotMatch(md, /NaN|undefined|Infinity/);
});

Deno.test("the charts of a stored run are well-formed SVG with data", async () => {
  for (const [name, svg] of Object.entries(charts(await load(FIXTURE)))) {
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>[\s\S]*<\/svg>$/, name);
    assert.ok(/<(circle|rect) [^>]*(cx|width)="[\d.]+"/.test(svg), `${name} draws data`);
    assert.doesNotMatch(svg, /NaN|Infinity|undefined/, name);
  }
});

/** `results` with every target missed: each paired figure and each direct figure made worse. */
function everyTargetMissed(results: Results): Results {
  const worse: Record<string, Pair | number> = { pairs: results.pairedRatios.pairs };
  for (const [id, pair] of Object.entries(results.pairedRatios)) {
    if (typeof pair !== "object") continue;
    const ours = id === "argon2" ? pair.ref * 100 : pair.ref / 100;
    worse[id] = { ...pair, ours, ratio: ours / pair.ref };
  }
  return {
    ...results,
    pairedRatios: worse as Results["pairedRatios"],
    rsaKeygenMs: Object.fromEntries(
      Object.entries(results.rsaKeygenMs).map(([id, ms]) => [id, ms * 100]),
    ),
    chat: { encryptPerS: 1, decryptPerS: 1 },
    streamRss: {
      ...results.streamRss,
      encrypt: { ...results.streamRss.encrypt, peakRssKiB: 1 << 20 },
    },
  };
}

Deno.test("every missed target says what bounds it and links to its section of docs/performance.md", async () => {
  const doc = await Deno.readTextFile(new URL("docs/performance.md", ROOT));
  const results = everyTargetMissed(await load(new URL("2026-11-23.json", RESULTS)));
  const targets = evaluateTargets(results);
  assert.deepEqual(targets.map((t) => t.id), TARGET_IDS);
  assert.ok(targets.every((t) => t.verdict?.startsWith("**no**")), JSON.stringify(targets));
  const md = render(results);
  const bounds = md.split("\n").filter((l) => l.startsWith("- ") && l.includes("Why: ["));
  assert.equal(bounds.length, targets.length);
  const kinds = new Set<TargetKind>();
  for (const [i, t] of targets.entries()) {
    assert.ok(bounds[i].startsWith(`- ${t.target}: `), t.id);
    assert.ok(
      bounds[i].endsWith(`Why: [docs/performance.md](${PERFORMANCE_DOC}#${t.kind}).`),
      t.id,
    );
    kinds.add(t.kind);
  }
  // Each kind's anchor exists, and the link resolves from bench/results/.
  assert.equal(new URL(PERFORMANCE_DOC, RESULTS).href, new URL("docs/performance.md", ROOT).href);
  for (const kind of kinds) assert.ok(doc.includes(`<a id="${kind}"></a>`), kind);
  assert.equal(kinds.size, 11);
  // This run's figures, by kind.
  const line = (id: string) => bounds[TARGET_IDS.indexOf(id)];
  assert.match(line("bulk-rss"), /The runs peaked at 128, 121, 128 MiB\. /);
  assert.match(
    line("rsa-3072-decapsulate"),
    /EVP_PKEY_decrypt through FFI \(key parsed once\) alone did 257\.5 op\/s/,
  );
  assert.match(
    line("rsa-4096-decapsulate-lanes"),
    /Against one openssl process, the same decapsulations did [\d.]+x\./,
  );
  assert.match(
    line("x25519-decapsulate"),
    /X25519 diffieHellman \(keys parsed once\) alone did 7,215 op\/s/,
  );
  assert.match(
    line("chat-decrypt-hpke"),
    /polycrypt with an ml-kem-768 identity does 3,039 encrypt\/s and 2,309 decrypt\/s against hpke's 951 \/ 554\./,
  );
  assert.match(
    line("argon2id"),
    /The native backend is node-argon2's prebuilt addon; the WebAssembly backend/,
  );
  assert.match(line("rsa-2048-keygen"), /even medians of 31 move between runs/);
});

Deno.test("bench:report --render FILE.json writes the report of stored results, measuring nothing", async () => {
  const out = await Deno.makeTempDir({ prefix: "polycrypt-report-" });
  try {
    const run = await runDeno([
      "run",
      "--config",
      new URL("bench/deno.json", ROOT).pathname,
      "--allow-read",
      "--allow-write",
      new URL("bench/report.ts", ROOT).pathname,
      "--render",
      FIXTURE.pathname,
      "--out",
      out,
    ], { deadlineMs: 120_000 });
    assert.equal(run.code, 0, run.stderr);
    const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepEqual(files, [
      "2026-12-03-cascade.svg",
      "2026-12-03-kem-decapsulate.svg",
      "2026-12-03-kem-encapsulate.svg",
      "2026-12-03-kem-keygen.svg",
      "2026-12-03-sizes.svg",
      "2026-12-03-throughput.svg",
      "2026-12-03.md",
    ]);
    assert.equal(await Deno.readTextFile(`${out}/2026-12-03.md`), render(await load(FIXTURE)));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
