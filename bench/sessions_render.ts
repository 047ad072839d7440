/**
 * The sessions benchmark's results (what `bench/results/sessions-<date>.json` holds) and their
 * Markdown, pure: `deno task bench:sessions --render FILE.json` prints a stored run again.
 *
 * @module
 */
import { QUOTED } from "./libsignal/client.ts";

/** A message loop as measured: n encrypt + decrypt pairs. */
export interface RawLoop {
  /** Wall time of the loop, ms. */
  ms: number;
  /** The process's CPU time over the loop (user + system, every thread), ms. */
  cpuMs: number;
  /** Bytes of each message, in order. */
  sizes: number[];
  /** Milliseconds of each message (encrypt + decrypt), in order. */
  per: number[];
}

/** A message loop as stored: the sizes as a histogram. */
export interface Loop {
  ms: number;
  cpuMs: number;
  /** Messages in the loop. */
  n: number;
  /** Message size in bytes -> how many messages had it. */
  sizes: Record<string, number>;
  /** Per-message time (encrypt + decrypt), ms: the median, the 99th percentile, the longest. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** A run of handshakes: per handshake, ms and the first message's bytes. */
export interface Handshakes {
  initiator: number[];
  responder: number[];
  sizes: number[];
}

/** Two sessions alternating with one KEM: one stepping at every turn, one never. */
export interface KemStep {
  kem: string;
  /** The engine's public key and encapsulation sizes, bytes. */
  publicKeySize: number;
  encapsulationSize: number;
  /** Messages per loop. */
  messages: number;
  withStep: Loop[];
  without: Loop[];
}

/** One primitive, microseconds per call. */
export interface PrimitiveTime {
  name: string;
  role: string;
  us: number;
}

/** Everything one run measured. */
export interface SessionsResults {
  date: string;
  /** The polycrypt commit measured ("+": with uncommitted changes). */
  commit?: string;
  deno: string;
  v8: string;
  cores: number;
  /** Load averages (1, 5, 15 min) when the run started and when it ended. */
  loadavg: { start: number[]; end: number[] };
  size: number;
  rounds: number;
  messages: number;
  sqliteMessages: number;
  handshakes: number;
  libsignal: { version: string; measured: boolean; error?: string };
  loops: {
    memory: { oneWay: Loop[]; alternating: Loop[] };
    sqlite: { oneWay: Loop[]; alternating: Loop[] };
    libsignal?: { oneWay: Loop[]; alternating: Loop[] };
  };
  handshake: { polycrypt: Handshakes[]; libsignal?: Handshakes[] };
  kemSteps: KemStep[];
  primitives: PrimitiveTime[];
}

/** The median of `xs` (NaN when empty). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A raw loop as stored. */
export function compact(loop: RawLoop): Loop {
  const sizes: Record<string, number> = {};
  for (const s of loop.sizes) sizes[s] = (sizes[s] ?? 0) + 1;
  const per = [...loop.per].sort((a, b) => a - b);
  return {
    ms: loop.ms,
    cpuMs: loop.cpuMs,
    n: loop.sizes.length,
    sizes,
    p50Ms: median(per),
    p99Ms: per[Math.min(per.length - 1, Math.floor(per.length * 0.99))],
    maxMs: per[per.length - 1],
  };
}

/** Messages per second of a loop. */
export const rate = (l: Loop): number => l.n / l.ms * 1000;

/** Every size of a set of loops, expanded (for medians and ranges). */
function allSizes(loops: readonly Loop[]): number[] {
  const out: number[] = [];
  for (const l of loops) {
    for (const [size, count] of Object.entries(l.sizes)) {
      for (let i = 0; i < count; i++) out.push(Number(size));
    }
  }
  return out;
}

const plural = (n: number, word: string) => `${int(n)} ${word}${n === 1 ? "" : "s"}`;
const int = (x: number) => Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-";
const fix = (x: number, d = 2) => Number.isFinite(x) ? x.toFixed(d) : "-";
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Per-round ratio of two series of loops (a's rate over b's), median over the rounds. */
function ratio(a: readonly Loop[], b: readonly Loop[]): number {
  return median(a.map((l, i) => rate(l) / rate(b[i])));
}

/** CPU time per message of a loop, ms (the process's, every thread). */
const cpuPer = (l: Loop): number => l.cpuMs / l.n;

/**
 * Per-round ratio of CPU time per message (b's over a's: above 1 means a needs less CPU), median
 * over the rounds. Less moved by other processes on the machine than the wall-time ratio.
 */
function cpuRatio(a: readonly Loop[], b: readonly Loop[]): number {
  return median(a.map((l, i) => cpuPer(b[i]) / cpuPer(l)));
}

function sizeCell(loops: readonly Loop[]): string {
  const s = allSizes(loops);
  if (s.length === 0) return "-";
  return `${int(Math.min(...s))} / ${int(median(s))} / ${int(mean(s))} / ${int(Math.max(...s))}`;
}

function rangeCell(loops: readonly Loop[]): string {
  const r = loops.map(rate);
  return `${int(median(r))} (${int(Math.min(...r))}-${int(Math.max(...r))})`;
}

/** The figures the targets are judged on, for render and for callers that print verdicts. */
export function summary(r: SessionsResults) {
  const ls = r.loops.libsignal;
  const measured = r.libsignal.measured && ls !== undefined;
  const quotedOne = QUOTED.oneWayPerSecond.quiet, quotedAlt = QUOTED.alternatingPerSecond.quiet;
  const vs = (loops: Loop[], other: Loop[] | undefined, quoted: number) =>
    measured && other ? ratio(loops, other) : median(loops.map(rate)) / quoted;
  const cpu = (loops: Loop[], other: Loop[] | undefined) =>
    measured && other ? cpuRatio(loops, other) : NaN;
  const hsPc = r.handshake.polycrypt;
  const initiator = median(hsPc.flatMap((h) => h.initiator));
  const responder = median(hsPc.flatMap((h) => h.responder));
  const both = median(hsPc.flatMap((h) => h.initiator.map((x, i) => x + h.responder[i])));
  return {
    measured,
    memoryOneWay: vs(r.loops.memory.oneWay, ls?.oneWay, quotedOne),
    memoryAlternating: vs(r.loops.memory.alternating, ls?.alternating, quotedAlt),
    sqliteOneWay: vs(r.loops.sqlite.oneWay, ls?.oneWay, quotedOne),
    sqliteAlternating: vs(r.loops.sqlite.alternating, ls?.alternating, quotedAlt),
    cpu: {
      memoryOneWay: cpu(r.loops.memory.oneWay, ls?.oneWay),
      memoryAlternating: cpu(r.loops.memory.alternating, ls?.alternating),
      sqliteOneWay: cpu(r.loops.sqlite.oneWay, ls?.oneWay),
      sqliteAlternating: cpu(r.loops.sqlite.alternating, ls?.alternating),
    },
    handshake: { initiator, responder, both },
  };
}

/** The report in Markdown. */
export function render(r: SessionsResults): string {
  const s = summary(r);
  const ls = r.loops.libsignal;
  const hsLs = r.handshake.libsignal;
  const lsName = `libsignal-client ${r.libsignal.version}`;
  const against = s.measured
    ? `${lsName} measured in this run`
    : `the figures issue 23 quotes for ${lsName} on a quiet machine (**quoted, not measured in ` +
      `this run**: ${r.libsignal.error ?? "unavailable"})`;
  const lines: string[] = [
    `# polycrypt sessions against libsignal, ${r.date.slice(0, 10)}`,
    "",
    `${int(r.size)}-byte messages, each encrypted then decrypted at once, through the public ` +
    "`Account` API with the default suite and policy: X25519 + ML-KEM-768 handshake, Double " +
    "Ratchet with header encryption, a KEM step every 50 messages or hour (ML-KEM-768), " +
    "AES-256-GCM, padding (docs/sessions.md). Against " + against +
    (s.measured
      ? ": native Rust through its Node addon in a child Deno process (a young one each round, " +
        "docs/performance.md), SPQR on, in-memory stores holding serialized records. "
      : ". ") +
    `${plural(r.rounds, "interleaved round")} (the order rotating), ${
      plural(r.messages, "message")
    } per loop (${int(r.sqliteMessages)} with SQLite), ${
      plural(r.handshakes, "handshake")
    } per round; rates are ` +
    "medians over the rounds (range in brackets), ratios the median of each round's own ratio. " +
    (r.commit ? `polycrypt ${r.commit}, ` : "") +
    `Deno ${r.deno}, V8 ${r.v8}, ${r.cores} cores, load average ${
      r.loadavg.start.map((x) => x.toFixed(2)).join(" ")
    } at the start and ${r.loadavg.end.map((x) => x.toFixed(2)).join(" ")} at the end.`,
    "",
    "## Messages per second",
    "",
    `| pattern | polycrypt, MemorySessionStore | polycrypt, SqliteSessionStore | ${
      s.measured ? "libsignal" : "libsignal (quoted)"
    } | Memory / libsignal | SQLite / libsignal |`,
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (
    const [label, key, quoted] of [
      ["one direction", "oneWay", QUOTED.oneWayPerSecond.quiet],
      ["alternating directions", "alternating", QUOTED.alternatingPerSecond.quiet],
    ] as const
  ) {
    const lsCell = s.measured && ls ? rangeCell(ls[key]) : `${int(quoted)} (quoted)`;
    const [mem, sql] = key === "oneWay"
      ? [s.memoryOneWay, s.sqliteOneWay]
      : [s.memoryAlternating, s.sqliteAlternating];
    lines.push(
      `| ${label} | ${rangeCell(r.loops.memory[key])} | ${rangeCell(r.loops.sqlite[key])} | ` +
        `${lsCell} | ${fix(mem)}x | ${fix(sql)}x |`,
    );
  }
  const cpuShare = (loops: readonly Loop[]) =>
    `${fix(median(loops.map((l) => l.ms / l.n * 1000)), 0)} / ${
      fix(median(loops.map((l) => l.cpuMs / l.n * 1000)), 0)
    }`;
  lines.push(
    "",
    "Wall and CPU time per message (encrypt + decrypt), microseconds, medians over the rounds (CPU: " +
      "the process's user + system time, every thread):",
    "",
    "| pattern | Memory wall / CPU | SQLite wall / CPU | libsignal wall / CPU |",
    "| --- | ---: | ---: | ---: |",
    ...(["oneWay", "alternating"] as const).map((key) =>
      `| ${key === "oneWay" ? "one direction" : "alternating directions"} | ${
        cpuShare(r.loops.memory[key])
      } | ${cpuShare(r.loops.sqlite[key])} | ${s.measured && ls ? cpuShare(ls[key]) : "-"} |`
    ),
  );
  const us = (x: number) => int(x * 1000);
  const perCell = (loops: readonly Loop[] | undefined) =>
    loops && loops.length
      ? `${us(median(loops.map((l) => l.p50Ms)))} / ${us(median(loops.map((l) => l.p99Ms)))} / ${
        us(Math.max(...loops.map((l) => l.maxMs)))
      }`
      : "-";
  const atMedian = (a: readonly Loop[], b: readonly Loop[] | undefined) =>
    b ? median(a.map((l, i) => b[i].p50Ms / l.p50Ms)) : NaN;
  lines.push(
    "",
    "Each message's own time (encrypt + decrypt), microseconds: the median message, the 99th " +
      "percentile (medians over the rounds) and the longest of the run. A rate is the mean over " +
      "its loop, stalls included; the median message shows the work without them.",
    "",
    "| pattern | Memory | SQLite | libsignal | Memory / libsignal at the median message |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...(["oneWay", "alternating"] as const).map((key) =>
      `| ${key === "oneWay" ? "one direction" : "alternating directions"} | ${
        perCell(r.loops.memory[key])
      } | ${perCell(r.loops.sqlite[key])} | ${perCell(s.measured ? ls?.[key] : undefined)} | ${
        s.measured && ls ? `${fix(atMedian(r.loops.memory[key], ls[key]))}x` : "-"
      } |`
    ),
    "",
    "## Bytes on the wire per 1 KiB message",
    "",
    "min / median / mean / max over every message of the loops:",
    "",
    "| pattern | polycrypt | libsignal |",
    "| --- | ---: | ---: |",
    ...(["oneWay", "alternating"] as const).map((key) =>
      `| ${key === "oneWay" ? "one direction" : "alternating directions"} | ${
        sizeCell([...r.loops.memory[key], ...r.loops.sqlite[key]])
      } | ${
        s.measured && ls ? sizeCell(ls[key]) : `${QUOTED.wireBytes.map(int).join("-")} (quoted)`
      } |`
    ),
  );
  const hsFirst = median(r.handshake.polycrypt.flatMap((h) => h.sizes));
  const lsInit = hsLs ? median(hsLs.flatMap((h) => h.initiator)) : NaN;
  const lsResp = hsLs ? median(hsLs.flatMap((h) => h.responder)) : NaN;
  const lsBoth = hsLs
    ? median(hsLs.flatMap((h) => h.initiator.map((x, i) => x + h.responder[i])))
    : NaN;
  lines.push(
    "",
    "## Handshake",
    "",
    "Fresh accounts each time (memory stores), the bundle made beforehand (untimed) with one " +
      "one-time X25519 and one one-time KEM prekey. Initiator: the bundle parsed and its " +
      "signatures checked, PQXDH, the first message encrypted; responder: that message " +
      "decrypted (prekeys looked up and consumed, sender seal opened, certificate checked). " +
      "polycrypt's KEM is ML-KEM-768 and its prekeys are signed with Ed25519 + ML-DSA-65; " +
      "libsignal's are Kyber-1024 (ML-KEM-1024) and XEdDSA. Medians of every handshake, ms.",
    "",
    "| | polycrypt | libsignal |",
    "| --- | ---: | ---: |",
    `| initiator (bundle + first message) | ${fix(s.handshake.initiator)} | ${fix(lsInit)} |`,
    `| responder (first message decrypted) | ${fix(s.handshake.responder)} | ${fix(lsResp)} |`,
    `| both ends | ${fix(s.handshake.both)} | ${fix(lsBoth)} |`,
    `| first (prekey) message, bytes | ${int(hsFirst)} | ${
      hsLs ? int(median(hsLs.flatMap((h) => h.sizes))) : "-"
    } |`,
    "",
    "## The KEM step per KEM",
    "",
    "Two sessions alternating 1 KiB messages (memory stores): one whose policy steps at every " +
      "turn (`{ messages: 1, milliseconds: 0 }`), one that never steps after the handshake. " +
      "Bytes added: the median message of the first minus that of the second (the KEM public " +
      "key and ciphertext with their two 4-byte lengths). Time per step: the difference of the " +
      "two sessions' CPU time per message (key pair and encapsulation on the sender, " +
      "decapsulation and the public key's check on the receiver, the larger state sealed and " +
      "stored; CPU time, as other processes move wall time by more than a step costs). Medians " +
      "over rounds.",
    "",
    "| KEM | engine's public key + ciphertext sizes (RSA: the modulus) | bytes added per message carrying a step | CPU ms per step | msgs/s stepping every turn | msgs/s never stepping |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const k of r.kemSteps) {
    const added = median(allSizes(k.withStep)) - median(allSizes(k.without));
    const perStep = median(k.withStep.map((l, i) => cpuPer(l) - cpuPer(k.without[i])));
    lines.push(
      `| ${k.kem} | ${int(k.publicKeySize)} + ${int(k.encapsulationSize)} | ${int(added)} | ${
        fix(perStep)
      } | ${int(median(k.withStep.map(rate)))} | ${int(median(k.without.map(rate)))} |`,
    );
  }
  lines.push(
    "",
    "With the default policy and alternating traffic one message in 50 carries the ML-KEM-768 " +
      "step, so it adds about 1/50 of its bytes and time to the average message, which the " +
      "alternating figures above include.",
    "",
    "## Targets",
    "",
    "The verdicts use the rates (wall time). The CPU-time ratio beside them (libsignal's CPU " +
      "time per message over polycrypt's, median of the rounds) is less moved by whatever else " +
      "the machine runs.",
    "",
    "| target | figure | CPU-time ratio | verdict |",
    "| --- | --- | --- | --- |",
  );
  const verdict = (ok: boolean) => ok ? "met" : "**missed**";
  const basis = s.measured ? "" : " (vs quoted)";
  const cpuCell = (x: number) => Number.isFinite(x) ? `${fix(x)}x` : "-";
  lines.push(
    `| MemorySessionStore >= 1.0x libsignal, one direction | ${fix(s.memoryOneWay)}x${basis} | ${
      cpuCell(s.cpu.memoryOneWay)
    } | ${verdict(s.memoryOneWay >= 1)} |`,
    `| MemorySessionStore >= 1.0x libsignal, alternating | ${fix(s.memoryAlternating)}x${basis} | ${
      cpuCell(s.cpu.memoryAlternating)
    } | ${verdict(s.memoryAlternating >= 1)} |`,
    `| handshake < 10 ms (ml-kem-768, both ends) | ${fix(s.handshake.both)} ms (initiator ${
      fix(s.handshake.initiator)
    }) | - | ${verdict(s.handshake.both < 10)} |`,
    `| SqliteSessionStore >= 0.5x libsignal, one direction | ${fix(s.sqliteOneWay)}x${basis} | ${
      cpuCell(s.cpu.sqliteOneWay)
    } | ${verdict(s.sqliteOneWay >= 0.5)} |`,
    `| SqliteSessionStore >= 0.5x libsignal, alternating | ${fix(s.sqliteAlternating)}x${basis} | ${
      cpuCell(s.cpu.sqliteAlternating)
    } | ${verdict(s.sqliteAlternating >= 0.5)} |`,
    "",
    "## What a message is made of",
    "",
    "Each primitive timed alone in this run (the fastest of 5 batches of at least 40 ms, the " +
      "least disturbed by other processes), microseconds per call. " +
      'docs/performance.md ("Sessions") reads the loops\' times against these.',
    "",
    "| primitive | where | us |",
    "| --- | --- | ---: |",
    ...r.primitives.map((p) => `| ${p.name} | ${p.role} | ${fix(p.us, p.us < 10 ? 2 : 1)} |`),
  );
  return lines.join("\n");
}
