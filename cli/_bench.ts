// Internal: `polycrypt bench`, a short comparison of KEM engines for someone choosing a key size
// (docs/cli.md). The full report with peers, charts and the native ceiling is `deno task
// bench:report`; this is the quick look from the command line.
import { registry } from "./_core.ts";
import type { KemEngine } from "./_core.ts";
import { parse, USAGE } from "./_args.ts";
import { UsageError } from "./_errors.ts";

/** What `bench` measures when --engines is not given: one per family and size class. */
const DEFAULT_ENGINES = [
  "x25519",
  "x448",
  "ml-kem-512",
  "ml-kem-768",
  "ml-kem-1024",
  "x25519+ml-kem-768",
  "elgamal-2048",
  "elgamal-3072",
  "rsa-2048",
  "rsa-3072",
  "rsa-4096",
];

/** One measured engine. Times are medians in milliseconds. */
export interface BenchRow {
  id: string;
  family: string;
  postQuantum: boolean;
  securityBits: number;
  publicKeyBytes: number;
  secretKeyBytes: number;
  encapsulationBytes: number;
  keygenMs: number;
  encapsulateMs: number;
  decapsulateMs: number;
  runs: { keygen: number; encapsulate: number; decapsulate: number };
}

/**
 * The middle value of `xs` (the upper one of the two middles for an even count).
 *
 * @example
 * ```ts
 * // Internal to the CLI and the benchmarks: no entry point exports it.
 * import assert from "node:assert/strict";
 * import { median } from "./_bench.ts";
 * assert.equal(median([3, 1, 2]), 2);
 * assert.equal(median([4, 1, 3, 2]), 3); // the upper middle of an even count
 * ```
 */
export function median(xs: readonly number[]): number {
  return xs.toSorted((a, b) => a - b)[xs.length >> 1];
}

/**
 * Median time of `fn` in ms: runs it at least `min` times and until `budgetMs` has passed (at
 * most 1000 runs). The median, not the mean, because a 2-core machine is noisy.
 */
export async function medianMs(
  fn: () => Promise<unknown>,
  budgetMs: number,
  min: number,
): Promise<[number, number]> {
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 1000 && (times.length < min || performance.now() - start < budgetMs)) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return [median(times), times.length];
}

/** Measures one KEM: keygen, encapsulate and decapsulate. */
export async function measureKem(engine: KemEngine, budgetMs: number): Promise<BenchRow> {
  const first = performance.now();
  let keys = await engine.generateKeyPair();
  // Slow keygens (RSA-4096 takes seconds) get fewer runs: the budget, and at least one more.
  const slow = performance.now() - first > budgetMs / 3;
  const [keygenMs, keygenRuns] = slow
    ? [performance.now() - first, 1]
    : await medianMs(async () => keys = await engine.generateKeyPair(), budgetMs, 3);
  let sealed = await engine.encapsulate(keys.publicKey);
  const [encapsulateMs, encRuns] = await medianMs(
    async () => sealed = await engine.encapsulate(keys.publicKey),
    budgetMs,
    3,
  );
  const [decapsulateMs, decRuns] = await medianMs(
    () => engine.decapsulate(sealed.encapsulation, keys.secretKey),
    budgetMs,
    3,
  );
  return {
    id: engine.id,
    family: engine.family,
    postQuantum: engine.postQuantum,
    securityBits: engine.securityBits,
    publicKeyBytes: keys.publicKey.length,
    secretKeyBytes: keys.secretKey.length,
    encapsulationBytes: sealed.encapsulation.length,
    keygenMs,
    encapsulateMs,
    decapsulateMs,
    runs: { keygen: keygenRuns, encapsulate: encRuns, decapsulate: decRuns },
  };
}

const ms = (x: number) => x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3);

export async function benchCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("bench", args);
  if (positionals.length) throw new UsageError(`unexpected argument\nusage: ${USAGE.bench}`);
  const ids = (values.engines as string | undefined)?.split(",").map((s) => s.trim()).filter(
    Boolean,
  ) ?? DEFAULT_ENGINES;
  if (ids.length === 0) {
    throw new UsageError(`--engines needs at least one id\nusage: ${USAGE.bench}`);
  }
  const engines = ids.map((id) => registry.kem(id)); // UnknownEngineError lists the valid ids
  const budgetMs = values.quick ? 100 : 1000;
  const tty = Deno.stderr.isTerminal();
  const note = (text: string) =>
    Deno.stderr.writeSync(new TextEncoder().encode(tty ? `\r\x1b[K${text}` : `${text}\n`));
  const rows: BenchRow[] = [];
  for (const [i, engine] of engines.entries()) {
    note(`polycrypt: measuring ${engine.id} (${i + 1}/${engines.length})...`);
    rows.push(await measureKem(engine, budgetMs));
  }
  if (tty) note("");
  if (values.json) return console.log(JSON.stringify(rows, null, 2));
  const header = [
    "id",
    "bits",
    "pq",
    "public key B",
    "secret key B",
    "encapsulation B",
    "keygen ms",
    "encaps ms",
    "decaps ms",
  ];
  const table = rows.map((r) => [
    r.id,
    String(r.securityBits),
    r.postQuantum ? "yes" : "no",
    String(r.publicKeyBytes),
    String(r.secretKeyBytes),
    String(r.encapsulationBytes),
    ms(r.keygenMs),
    ms(r.encapsulateMs),
    ms(r.decapsulateMs),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c].length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => c === 0 || c === 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))
      .join("  ");
  console.log(line(header));
  for (const row of table) console.log(line(row));
  console.log(
    `\nMedians on this machine (${
      values.quick ? "--quick: about 0.1 s" : "about 1 s"
    } per operation; a keygen slower than a third of that is timed once).`,
  );
}
