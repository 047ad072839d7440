// Internal: small, dependency-free SVG charts for the benchmark report (log-scale line charts and
// horizontal bar charts). Plain SVG 1.1 with a white background, so it renders the same in a
// browser, on GitHub and through rsvg-convert.

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"];
const FONT = `font-family="DejaVu Sans, Helvetica, Arial, sans-serif"`;

const esc = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll(
    '"',
    "&quot;",
  );

/** A readable number: 12345 -> "12k", 1234.5 -> "1235", 256 -> "256", 0.05 -> "0.05". */
function compact(x: number): string {
  const abs = Math.abs(x);
  if (abs >= 1e9) return `${+(x / 1e9).toPrecision(3)}G`;
  if (abs >= 1e6) return `${+(x / 1e6).toPrecision(3)}M`;
  if (abs >= 1e4) return `${+(x / 1e3).toPrecision(3)}k`;
  if (abs >= 100) return `${Math.round(x)}`;
  return `${+x.toPrecision(2)}`;
}

/** Powers of 10 (and 2 and 5 between them when the range is short) covering [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  const decades = Math.log10(hi / lo);
  const steps = decades <= 2 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of steps) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

/** An axis-aligned rectangle in picture coordinates. */
interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** What covering it costs a label: a line sample 1, a dot 10, text 100 (the default). */
  weight?: number;
}

const overlap = (a: Box, b: Box) => a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2;

// Where a point label may go, in order of preference: dx, dy of the text's anchor from the point.
const SPOTS: { dx: number; dy: number; anchor: "start" | "end" | "middle" }[] = [
  { dx: 6, dy: -6, anchor: "start" }, // above right
  { dx: 6, dy: 14, anchor: "start" }, // below right
  { dx: -6, dy: -6, anchor: "end" }, // above left
  { dx: -6, dy: 14, anchor: "end" }, // below left
  { dx: 0, dy: -10, anchor: "middle" }, // above
  { dx: 0, dy: 19, anchor: "middle" }, // below
  { dx: 8, dy: 4, anchor: "start" }, // right
  { dx: -8, dy: 4, anchor: "end" }, // left
];

/**
 * Puts each label (font-size 10, about 6 px per character) at the first spot around its point
 * that stays inside `frame` and clear of the dots, lines, legend and other labels; when no spot
 * is clear, at the one whose collisions weigh least (crossing a line is cheap, covering text
 * dear). A greedy pass in order, then passes that move each label again knowing where all the
 * others are, so an early label can give way to a later one.
 */
function placeLabels(
  labels: { x: number; y: number; text: string; color: string }[],
  obstacles: Box[],
  frame: Box,
): string[] {
  const placed: { box: Box; spot: (typeof SPOTS)[number] }[] = [];
  const place = (l: (typeof labels)[number], taken: Box[]) => {
    const w = l.text.length * 6;
    let best: { box: Box; spot: (typeof SPOTS)[number]; cost: number } | undefined;
    for (const spot of SPOTS) {
      const left = l.x + spot.dx -
        (spot.anchor === "end" ? w : spot.anchor === "middle" ? w / 2 : 0);
      const box = { x1: left, y1: l.y + spot.dy - 8, x2: left + w, y2: l.y + spot.dy + 2 };
      const outside = box.x1 < frame.x1 || box.x2 > frame.x2 || box.y1 < frame.y1 ||
        box.y2 > frame.y2;
      const cost = (outside ? 1000 : 0) +
        taken.reduce((sum, t) => sum + (overlap(t, box) ? t.weight ?? 100 : 0), 0);
      if (!best || cost < best.cost) best = { box, spot, cost };
      if (cost === 0) break;
    }
    return best!;
  };
  for (let pass = 0; pass < 4; pass++) {
    labels.forEach((l, i) => {
      const others = placed.filter((_, j) => j !== i).map((p) => p.box);
      placed[i] = place(l, [...obstacles, ...others]);
    });
  }
  return labels.map((l, i) => {
    const { spot } = placed[i];
    return `<text x="${(l.x + spot.dx).toFixed(1)}" y="${(l.y + spot.dy).toFixed(1)}"${
      spot.anchor === "start" ? "" : ` text-anchor="${spot.anchor}"`
    } font-size="10" fill="${l.color}">${esc(l.text)}</text>`;
  });
}

/** One line of a line chart. */
export interface Series {
  /** The legend entry. */
  name: string;
  /** The data; a point's label is written next to it. */
  points: { x: number; y: number; label?: string }[];
  /** Drawn dashed (e.g. the decrypt line next to its encrypt line). */
  dashed?: boolean;
  /** Palette index (default: the series' position); a pair of series can share a color. */
  color?: number;
  /** Leave the series out of the legend (e.g. the dashed twin of a solid one). */
  hideLegend?: boolean;
}

/** Options of {@linkcode lineChart}. */
export interface LineChartOptions {
  /** The heading above the chart. */
  title: string;
  /** The x axis title. */
  xLabel: string;
  /** The y axis title. */
  yLabel: string;
  /** One line per series. */
  series: Series[];
  /** Tick values and labels for x (default: powers of 10). */
  xTicks?: { value: number; label: string }[];
  /** Pixels; a default fits the report. */
  width?: number;
  /** Pixels; a default fits the report. */
  height?: number;
}

/** A line chart with logarithmic x and y axes. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 760;
  const height = o.height ?? 460;
  const longest = Math.max(...o.series.map((s) => s.hideLegend ? 0 : s.name.length));
  const m = { left: 78, right: Math.max(120, 60 + longest * 7), top: 44, bottom: 58 };
  const pts = o.series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0);
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const [xLo, xHi] = [Math.min(...xs) / 1.25, Math.max(...xs) * 1.25];
  const [yLo, yHi] = [
    10 ** Math.floor(Math.log10(Math.min(...ys))),
    10 ** Math.ceil(Math.log10(Math.max(...ys))),
  ];
  const px = (x: number) =>
    m.left + (Math.log(x / xLo) / Math.log(xHi / xLo)) * (width - m.left - m.right);
  const py = (y: number) =>
    height - m.bottom - (Math.log(y / yLo) / Math.log(yHi / yLo)) * (height - m.top - m.bottom);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${
      width / 2 - m.right / 2 + m.left / 2
    }" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  );
  for (const t of logTicks(yLo, yHi)) {
    const y = py(t);
    out.push(
      `<line x1="${m.left}" x2="${width - m.right}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`,
      `<text x="${m.left - 6}" y="${y + 4}" text-anchor="end">${compact(t)}</text>`,
    );
  }
  const xTicks = o.xTicks?.filter((t) => t.value >= xLo && t.value <= xHi) ??
    logTicks(xLo, xHi).map((v) => ({ value: v, label: compact(v) }));
  for (const t of xTicks) {
    const x = px(t.value);
    out.push(
      `<line x1="${x}" x2="${x}" y1="${m.top}" y2="${height - m.bottom}" stroke="#efefef"/>`,
      `<text x="${x}" y="${height - m.bottom + 16}" text-anchor="middle">${esc(t.label)}</text>`,
    );
  }
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${width - m.left - m.right}" height="${
      height - m.top - m.bottom
    }" fill="none" stroke="#888"/>`,
    `<text x="${(m.left + width - m.right) / 2}" y="${height - 14}" text-anchor="middle">${
      esc(o.xLabel)
    }</text>`,
    `<text transform="translate(18 ${
      (m.top + height - m.bottom) / 2
    }) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  // Legend entries, dots and lines first; point labels last, placed where they collide least.
  const labels: { x: number; y: number; text: string; color: string }[] = [];
  const obstacles: Box[] = [];
  let legendRow = 0;
  o.series.forEach((s, i) => {
    const color = PALETTE[(s.color ?? i) % PALETTE.length];
    const points = s.points.filter((p) => p.x > 0 && p.y > 0).sort((a, b) => a.x - b.x);
    // The line counts as an obstacle too, sampled every 6 px.
    for (let j = 1; j < points.length; j++) {
      const [ax, ay, bx, by] = [
        px(points[j - 1].x),
        py(points[j - 1].y),
        px(points[j].x),
        py(points[j].y),
      ];
      const steps = Math.ceil(Math.hypot(bx - ax, by - ay) / 6);
      for (let k = 1; k < steps; k++) {
        const [x, y] = [ax + (bx - ax) * k / steps, ay + (by - ay) * k / steps];
        obstacles.push({ x1: x - 1.5, y1: y - 1.5, x2: x + 1.5, y2: y + 1.5, weight: 1 });
      }
    }
    if (points.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${
          s.dashed ? ' stroke-dasharray="6 4"' : ""
        } points="${points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(" ")}"/>`,
      );
    }
    for (const p of points) {
      const [x, y] = [px(p.x), py(p.y)];
      out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3.5" fill="${color}"/>`);
      obstacles.push({ x1: x - 4, y1: y - 4, x2: x + 4, y2: y + 4, weight: 10 });
      if (p.label) labels.push({ x, y, text: p.label, color });
    }
    if (s.hideLegend) return;
    const ly = m.top + 8 + legendRow++ * 20;
    obstacles.push({
      x1: width - m.right + 14,
      y1: ly - 8,
      x2: width - m.right + 46 + s.name.length * 7,
      y2: ly + 8,
    });
    out.push(
      `<line x1="${width - m.right + 14}" x2="${
        width - m.right + 40
      }" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${
        s.dashed ? ' stroke-dasharray="6 4"' : ""
      }/>`,
      `<text x="${width - m.right + 46}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push(...placeLabels(labels, obstacles, { x1: 0, y1: m.top, x2: width, y2: height - 20 }));
  out.push("</svg>");
  return out.join("\n");
}

/** Options of {@linkcode barChart}. */
export interface BarChartOptions {
  /** The heading above the chart. */
  title: string;
  /** The x axis title. */
  xLabel: string;
  /** One row per category; one bar per value name. */
  rows: { label: string; values: Record<string, number> }[];
  /** Logarithmic value axis (for values spanning decades). */
  log?: boolean;
  /** Pixels; a default fits the report. */
  width?: number;
}

/** Horizontal grouped bars, value printed at each bar's end. */
export function barChart(o: BarChartOptions): string {
  const names = [...new Set(o.rows.flatMap((r) => Object.keys(r.values)))];
  const width = o.width ?? 760;
  const bar = 12;
  const group = names.length * bar + 10;
  const m = { left: 210, right: 70, top: 58, bottom: 48 };
  const height = m.top + m.bottom + o.rows.length * group;
  const all = o.rows.flatMap((r) => Object.values(r.values)).filter((v) => v > 0);
  const hi = o.log ? 10 ** Math.ceil(Math.log10(Math.max(...all))) : Math.max(...all) * 1.05;
  const lo = o.log ? 10 ** Math.floor(Math.log10(Math.min(...all))) : 0;
  const span = width - m.left - m.right;
  const px = (v: number) => m.left + (o.log ? Math.log(v / lo) / Math.log(hi / lo) : v / hi) * span;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(o.title)
    }</text>`,
  ];
  names.forEach((n, i) => {
    const x = m.left + i * 150;
    out.push(
      `<rect x="${x}" y="34" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`,
      `<text x="${x + 17}" y="44">${esc(n)}</text>`,
    );
  });
  const ticks = o.log ? logTicks(lo, hi) : [0, 0.25, 0.5, 0.75, 1].map((f) => f * hi);
  for (const t of ticks) {
    const x = px(Math.max(t, lo || 0));
    out.push(
      `<line x1="${x}" x2="${x}" y1="${m.top}" y2="${height - m.bottom}" stroke="#e8e8e8"/>`,
      `<text x="${x}" y="${height - m.bottom + 16}" text-anchor="middle">${compact(t)}</text>`,
    );
  }
  o.rows.forEach((r, i) => {
    const y0 = m.top + i * group + 4;
    out.push(
      `<text x="${m.left - 8}" y="${y0 + (names.length * bar) / 2 + 4}" text-anchor="end">${
        esc(r.label)
      }</text>`,
    );
    names.forEach((n, j) => {
      const v = r.values[n];
      if (!(v > 0)) return;
      const x1 = px(v);
      out.push(
        `<rect x="${m.left}" y="${y0 + j * bar}" width="${
          Math.max(1, x1 - m.left).toFixed(1)
        }" height="${bar - 2}" fill="${PALETTE[j % PALETTE.length]}"/>`,
        `<text x="${(x1 + 4).toFixed(1)}" y="${y0 + j * bar + 9}" font-size="10">${
          compact(v)
        }</text>`,
      );
    });
  });
  out.push(
    `<text x="${m.left + span / 2}" y="${height - 12}" text-anchor="middle">${
      esc(o.xLabel)
    }</text>`,
    "</svg>",
  );
  return out.join("\n");
}
