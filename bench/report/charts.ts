/**
 * The report's SVG charts, drawn from {@linkcode Results} alone: `<date>-<name>.svg` for each
 * name of {@linkcode charts}.
 *
 * @module
 */
import { barChart, lineChart, type Series } from "../_svg.ts";
import { sizeLabel, stacksOf } from "./_format.ts";
import type { Results } from "./results.ts";

const SIZE_TICKS = [64, 1024, 16384, 65536, 262144, 4 << 20, 64 << 20, 256 << 20];

/** Every chart of the report by file name suffix (`kem-keygen`, `sizes`, ...), as SVG text. */
export function charts(results: Results): Record<string, string> {
  const { kems, throughput } = results;
  const families = [...new Set(kems.map((k) => k.family))];
  const opChart = (op: "keygenMs" | "encapsulateMs" | "decapsulateMs", name: string) =>
    lineChart({
      title: `${name} per second against public key size`,
      xLabel: "public key bytes (log scale)",
      yLabel: `${name}/s (log scale)`,
      series: families.map((family): Series => ({
        name: family,
        points: kems.filter((k) => k.family === family).map((k) => ({
          x: k.publicKeyBytes,
          y: 1000 / k[op],
          label: k.id,
        })),
      })),
    });
  return {
    "kem-keygen": opChart("keygenMs", "keygen"),
    "kem-encapsulate": opChart("encapsulateMs", "encapsulate"),
    "kem-decapsulate": opChart("decapsulateMs", "decapsulate"),
    "sizes": barChart({
      title: "Key and encapsulation sizes",
      xLabel: "bytes (log scale)",
      log: true,
      rows: kems.map((k) => ({
        label: k.id,
        values: {
          "public key": k.publicKeyBytes,
          "secret key": k.secretKeyBytes,
          "encapsulation": k.encapsulationBytes,
        },
      })),
    }),
    "throughput": lineChart({
      title: "encrypt (solid) and decrypt (dashed) throughput against message size",
      xLabel: "message size (log scale)",
      yLabel: "MB/s (log scale)",
      xTicks: SIZE_TICKS.map((b) => ({ value: b, label: sizeLabel(b) })),
      series: stacksOf(throughput).flatMap((stack, i) => {
        const rows = throughput.filter((t) => t.stack === stack);
        return [
          { name: stack, color: i, points: rows.map((t) => ({ x: t.bytes, y: t.encryptMBs })) },
          {
            name: `${stack} decrypt`,
            color: i,
            dashed: true,
            hideLegend: true,
            points: rows.map((t) => ({ x: t.bytes, y: t.decryptMBs })),
          },
        ];
      }),
      width: 900,
    }),
    "cascade": barChart({
      title: "Cost of each cascade layer: 1 KiB encrypt + decrypt",
      xLabel: "milliseconds (log scale)",
      log: true,
      rows: results.cascade.map((d) => ({ label: d.layers, values: { "ms": d.ms } })),
    }),
  };
}
