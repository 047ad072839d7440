// Smoke test of `deno task bench:report --quick`: it runs end to end on tiny sizes and writes the
// report, its JSON and well-formed SVG charts. Figures are not checked (a slow machine is not a
// failure); that every target row is present and each chart has data is.
import assert from "node:assert/strict";

const REPORT = new URL("../../bench/report.ts", import.meta.url).pathname;

Deno.test("bench:report --quick writes the report, JSON and charts", async () => {
  const out = await Deno.makeTempDir({ prefix: "polycrypt-report-" });
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-run",
        "--allow-ffi",
        REPORT,
        "--quick",
        "--out",
        out,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, stderr);
    const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    const date = files.find((f) => f.endsWith(".md"))!.slice(0, -3);
    assert.deepEqual(
      files,
      [
        "-cascade.svg",
        "-kem-decapsulate.svg",
        "-kem-encapsulate.svg",
        "-kem-keygen.svg",
        "-sizes.svg",
        "-throughput.svg",
        ".json",
        ".md",
      ].map((suffix) => date + suffix),
    );
    const json = JSON.parse(await Deno.readTextFile(`${out}/${date}.json`));
    assert.deepEqual(
      json.kems.map((k: { id: string }) => k.id),
      ["x25519", "ml-kem-512", "ml-kem-768", "elgamal-2048", "rsa-2048", "x25519+ml-kem-768"],
    );
    assert.ok(json.openssl["aes-256-gcm"] > 0, "openssl speed was parsed");
    // With the task's --allow-ffi, Argon2id runs natively; the WebAssembly backend is measured too.
    assert.equal(json.argon2.backend, "native");
    assert.ok(json.argon2.oursMs > 0 && json.argon2.wasmMs > 0, JSON.stringify(json.argon2));
    assert.ok(json.targets.length >= 10);
    // The RSA targets' second row: decapsulations on every core against `openssl speed -multi`.
    const lanes = json.pairedRatios["rsa-2048-lanes"];
    assert.ok(lanes.ours > 0 && lanes.ref > 0 && lanes.bare > 0, JSON.stringify(lanes));
    const md = await Deno.readTextFile(`${out}/${date}.md`);
    for (const heading of ["## Targets", "## KEM engines", "## Message size", "## Recipients"]) {
      assert.ok(md.includes(heading), heading);
    }
    // Scaling with key size and cascade depth, as fitted slopes with finite numbers.
    assert.match(
      md,
      /- ML-KEM, parameter set 512, 768: keygen time grows as size\^-?[\d.]+, encapsulate as size\^-?[\d.]+, decapsulate as size\^-?[\d.]+\./,
    );
    assert.match(md, /Each added AEAD layer costs -?[\d.]+ ms and each added KEM -?[\d.]+ ms/);
    assert.match(md, /measured in the same 1 interleaved round;/);
    assert.match(md, /`openssl speed -multi \d+` did [\d.]+x at 2048 its one-process rate/);
    for (const f of files.filter((f) => f.endsWith(".svg"))) {
      const svg = await Deno.readTextFile(`${out}/${f}`);
      assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>[\s\S]*<\/svg>\n$/, f);
      assert.ok(/<(circle|rect) [^>]*(cx|width)="[\d.]+"/.test(svg), `${f} draws data`);
      assert.doesNotMatch(svg, /NaN|Infinity|undefined/, f);
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
