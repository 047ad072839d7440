// The sessions benchmark's report renders from data (bench/sessions_render.ts): given figures, it
// states the right ratios and verdicts, labels the libsignal figures as quoted when
// libsignal was not measured, and reads sizes from the stored histograms. No measurement here.
import assert from "node:assert/strict";
import {
  compact,
  type Loop,
  render,
  type SessionsResults,
  summary,
} from "../../bench/sessions_render.ts";

/** A loop of n messages of `size` bytes at `perSecond`. */
const loop = (n: number, perSecond: number, size: number): Loop =>
  compact({
    ms: n / perSecond * 1000,
    cpuMs: n / perSecond * 900,
    sizes: new Array(n).fill(size),
    per: new Array(n).fill(1000 / perSecond),
  });

function results(options: { libsignal: boolean; memory: number; sqlite: number }): SessionsResults {
  const rounds = 3;
  const series = (perSecond: number, size: number) =>
    Array.from({ length: rounds }, () => loop(100, perSecond, size));
  return {
    date: "2026-12-03T18:00:00.000Z",
    deno: "2.9.6",
    v8: "14.0",
    cores: 2,
    loadavg: { start: [0.5, 0.5, 0.5], end: [1, 1, 1] },
    size: 1024,
    rounds,
    messages: 100,
    sqliteMessages: 100,
    handshakes: 2,
    libsignal: options.libsignal
      ? { version: "0.103.0", measured: true }
      : { version: "0.103.0", measured: false, error: "npm install failed (exit 1): offline" },
    loops: {
      memory: {
        oneWay: series(options.memory, 1142),
        alternating: series(options.memory / 2, 1142),
      },
      sqlite: {
        oneWay: series(options.sqlite, 1142),
        alternating: series(options.sqlite / 2, 1142),
      },
      libsignal: options.libsignal
        ? { oneWay: series(2000, 1133), alternating: series(1000, 1130) }
        : undefined,
    },
    handshake: {
      polycrypt: [{ initiator: [4, 6], responder: [3, 3], sizes: [5000, 5000] }],
      libsignal: options.libsignal
        ? [{ initiator: [0.8, 0.8], responder: [0.7, 0.7], sizes: [2785, 2785] }]
        : undefined,
    },
    kemSteps: [{
      kem: "ml-kem-768",
      publicKeySize: 1184,
      encapsulationSize: 1088,
      messages: 100,
      withStep: [loop(100, 500, 1142 + 2280)],
      without: [loop(100, 1000, 1142)],
    }],
    primitives: [{ name: "KDF_CK (2 HMAC-SHA-256)", role: "every message", us: 3.2 }],
  };
}

/** The cells of the first row that starts with `| label |` after the line `heading`. */
function row(md: string, label: string, heading = "## Targets"): string[] {
  const lines = md.split("\n");
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, heading);
  const line = lines.slice(start).find((l) => l.startsWith(`| ${label} |`));
  assert.ok(line, label);
  return line.split("|").slice(1, -1).map((c) => c.trim());
}

Deno.test("sessions report: ratios and verdicts against libsignal measured in the run", () => {
  const r = results({ libsignal: true, memory: 3000, sqlite: 800 });
  const s = summary(r);
  assert.equal(s.measured, true);
  assert.equal(s.memoryOneWay, 1.5);
  assert.equal(s.memoryAlternating, 1.5);
  assert.equal(s.sqliteOneWay, 0.4);
  assert.equal(s.handshake.both, 8);
  const md = render(r);
  assert.deepEqual(row(md, "MemorySessionStore >= 1.0x libsignal, one direction"), [
    "MemorySessionStore >= 1.0x libsignal, one direction",
    "1.50x",
    "1.50x",
    "met",
  ]);
  assert.equal(row(md, "SqliteSessionStore >= 0.5x libsignal, one direction")[3], "**missed**");
  assert.equal(row(md, "handshake < 10 ms (ml-kem-768, both ends)")[3], "met");
  assert.ok(!md.includes("quoted"), "nothing is quoted when libsignal ran");
  // Sizes come from the histograms: min / median / mean / max.
  // Per-message times: median / 99th percentile / longest, and the ratio at the median message.
  assert.deepEqual(row(md, "one direction", "## Messages per second").slice(0, 1), [
    "one direction",
  ]);
  const perMessage = md.split("\n").filter((l) => l.startsWith("| one direction |"))[2];
  assert.equal(
    perMessage,
    "| one direction | 333 / 333 / 333 | 1,250 / 1,250 / 1,250 | 500 / 500 / 500 | 1.50x |",
  );
  const bytes = "## Bytes on the wire per 1 KiB message";
  assert.deepEqual(row(md, "one direction", bytes).slice(1), [
    "1,142 / 1,142 / 1,142 / 1,142",
    "1,133 / 1,133 / 1,133 / 1,133",
  ]);
  assert.deepEqual(row(md, "one direction", "## Messages per second").slice(1), [
    "3,000 (3,000-3,000)",
    "800 (800-800)",
    "2,000 (2,000-2,000)",
    "1.50x",
    "0.40x",
  ]);
  // The KEM step: bytes added, and CPU time per step, from the two sessions' difference.
  assert.deepEqual(row(md, "ml-kem-768", "## The KEM step per KEM").slice(1, 4), [
    "1,184 + 1,088",
    "2,280",
    "0.90",
  ]);
});

Deno.test("sessions report: without libsignal the issue's figures are labelled as quoted", () => {
  const r = results({ libsignal: false, memory: 1984, sqlite: 1000 });
  const s = summary(r);
  assert.equal(s.measured, false);
  assert.ok(Math.abs(s.memoryOneWay - 1) < 1e-9);
  assert.ok(Math.abs(s.memoryAlternating - 992 / 844) < 1e-9);
  const md = render(r);
  assert.match(md, /quoted, not measured in this run\*\*: npm install failed \(exit 1\): offline/);
  assert.equal(
    row(md, "MemorySessionStore >= 1.0x libsignal, one direction")[1],
    "1.00x (vs quoted)",
  );
  assert.equal(row(md, "SqliteSessionStore >= 0.5x libsignal, alternating")[3], "met");
  // No CPU-time ratio without a libsignal measured in the run.
  assert.equal(row(md, "SqliteSessionStore >= 0.5x libsignal, alternating")[2], "-");
  assert.equal(row(md, "one direction", "## Messages per second")[3], "1,984 (quoted)");
  assert.equal(
    row(md, "one direction", "## Bytes on the wire per 1 KiB message")[2],
    "1,097-1,130 (quoted)",
  );
});
