// Number formatting and fitted slopes shared by the report's Markdown and its charts.

/** `x` with at most `digits` decimals and thousands separators; "-" when unknown. */
export function f(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? "-" : x.toLocaleString("en", {
    maximumFractionDigits: digits,
    minimumFractionDigits: 0,
  });
}

/** Operations per second from a median time in ms, with two significant digits below 10/s. */
export function perSecond(ms: number): string {
  return 1000 / ms < 10
    ? (1000 / ms).toLocaleString("en", { maximumSignificantDigits: 2 })
    : f(1000 / ms);
}

/** A byte count as "64 B", "16 KiB" or "256 MiB". */
export function sizeLabel(b: number): string {
  return b >= 1 << 20 ? `${b >> 20} MiB` : b >= 1024 ? `${b >> 10} KiB` : `${b} B`;
}

/** The smallest message size in the per-byte (linear) part of the throughput fit. */
export const LINEAR_FROM = 256 << 10;

/** Least-squares slope of log(y) against log(x), over the points with both positive. */
export function slope(points: [number, number][]): number {
  return lineSlope(
    points.filter(([a, b]) => a > 0 && b > 0).map(([a, b]) => [Math.log(a), Math.log(b)]),
  );
}

/** Least-squares slope of y against x (NaN when every x is the same). */
export function lineSlope(p: [number, number][]): number {
  const n = p.length;
  const mx = p.reduce((s, [a]) => s + a, 0) / n;
  const my = p.reduce((s, [, b]) => s + b, 0) / n;
  const num = p.reduce((s, [a, b]) => s + (a - mx) * (b - my), 0);
  const den = p.reduce((s, [a]) => s + (a - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

/** The AEAD stacks of the message-size table, in the order measured. */
export function stacksOf(rows: readonly { stack: string }[]): string[] {
  return [...new Set(rows.map((t) => t.stack))];
}
