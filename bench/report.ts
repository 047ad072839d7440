/**
 * Benchmark report (issue 4): runs the protocol (report/measure.ts) and writes
 * `bench/results/<date>.md` (report/render.ts), the same figures as `<date>.json`, and SVG charts
 * `<date>-*.svg` (report/charts.ts). docs/performance.md explains the protocol and what bounds
 * each target.
 *
 * Run: `deno task bench:report` (about 10 minutes), `deno task bench:report --quick` (tiny sizes,
 * a few minutes, figures not comparable). `--out DIR` writes elsewhere than bench/results/.
 * `--render FILE.json` measures nothing: it renders a stored JSON again, next to it or in --out.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { charts } from "./report/charts.ts";
import { render } from "./report/render.ts";
import { parseResults, type Results } from "./report/results.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { quick: { type: "boolean" }, out: { type: "string" }, render: { type: "string" } },
});
const log = (s: string) => console.error(`bench:report: ${s}`);

const results: Results = values.render
  ? parseResults(await Deno.readTextFile(values.render))
  // Imported only to measure: the protocol loads every peer library.
  : await (await import("./report/measure.ts")).measure({ quick: Boolean(values.quick), log });
const out = values.out ??
  (values.render
    ? new URL(".", new URL(values.render, `file://${Deno.cwd()}/`)).pathname
    : new URL("./results/", import.meta.url).pathname);

await Deno.mkdir(out, { recursive: true });
const base = `${out.replace(/\/$/, "")}/${results.date}`;
const drawn = charts(results);
await Deno.writeTextFile(`${base}.md`, render(results));
if (!values.render) {
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(results, null, 2) + "\n");
}
for (const [name, svg] of Object.entries(drawn)) {
  await Deno.writeTextFile(`${base}-${name}.svg`, svg + "\n");
}
log(
  `wrote ${base}.md${values.render ? "" : `, ${base}.json`} and ${
    Object.keys(drawn).length
  } charts`,
);
