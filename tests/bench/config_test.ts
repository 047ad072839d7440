// The benchmarks' peer libraries live in bench/deno.json and bench/deno.lock only, so that a
// library user, `deno task demo` and `deno task cli` never download them; everything else the
// benchmarks import resolves exactly as in the root config.
import assert from "node:assert/strict";
import { runDeno } from "../_process.ts";

const ROOT = new URL("../../", import.meta.url);
const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(new URL(path, ROOT)));

/** The npm packages only the benchmarks use. */
const PEERS = [
  "openpgp",
  "age-encryption",
  "@hpke/core",
  "@hpke/dhkem-x25519",
  "@hpke/ml-kem",
  "libsodium-wrappers",
];

Deno.test("bench/deno.json: the root imports and compiler options, plus the peers", async () => {
  const root = await readJson("deno.json");
  const bench = await readJson("bench/deno.json");
  for (const peer of PEERS) {
    assert.equal(root.imports[peer], undefined, `${peer} is in the root import map`);
    assert.match(bench.imports[peer], /^npm:/, `${peer} is missing from bench/deno.json`);
  }
  for (const [name, target] of Object.entries(root.imports)) {
    assert.equal(bench.imports[name], target, `bench/deno.json resolves ${name} differently`);
  }
  assert.deepEqual(
    Object.keys(bench.imports).sort(),
    [...Object.keys(root.imports), ...PEERS].sort(),
  );
  assert.deepEqual(bench.compilerOptions, root.compilerOptions);
  assert.equal(bench.workspace, undefined, "bench/ is its own config, not a workspace member");
  assert.equal(root.workspace, undefined, "a workspace would share the root lockfile");
});

type Lock = { npm: Record<string, { integrity: string; dependencies?: string[] }> };

/**
 * A lock entry with its dependencies written name@version: a lockfile names a dependency without
 * its version when it holds only one version of that package.
 */
function resolved(lock: Lock, id: string): { integrity: string; dependencies: string[] } {
  const entry = lock.npm[id];
  assert.ok(entry, `${id} is not in the lockfile`);
  const versioned = (dep: string) => {
    if (lock.npm[dep]) return dep;
    const ids = Object.keys(lock.npm).filter((k) => k.startsWith(`${dep}@`));
    assert.equal(ids.length, 1, `${id} depends on ${dep}: ${ids}`);
    return ids[0];
  };
  return { integrity: entry.integrity, dependencies: (entry.dependencies ?? []).map(versioned) };
}

Deno.test("bench/deno.lock: the root lockfile's resolutions, plus the peers'", async () => {
  const root = await readJson("deno.lock");
  const bench = await readJson("bench/deno.lock");
  // A package with optional peers (ts-mls) resolves with the peers present: in the benchmarks'
  // lockfile its id also names the benchmark peers it sees (@hpke/ml-kem), nothing else.
  const peerSuffix = new RegExp(
    `_(${PEERS.map((p) => p.replace("/", "\\+")).join("|")})@[^_]+`,
    "g",
  );
  const benchId = (id: string) =>
    bench.npm[id] ? id : Object.keys(bench.npm).find((k) => k.replace(peerSuffix, "") === id) ?? id;
  const strip = (dependencies: string[]) =>
    dependencies.map((d) => d.replace(peerSuffix, "")).filter((d) =>
      root.npm[d] !== undefined || !PEERS.some((peer) => d.startsWith(`${peer}@`))
    );
  for (const name of Object.keys(root.npm)) {
    const ours = resolved(bench, benchId(name));
    assert.deepEqual(
      { ...ours, dependencies: strip(ours.dependencies) },
      resolved(root, name),
      `bench/deno.lock resolves ${name} differently`,
    );
  }
  for (const [specifier, version] of Object.entries(root.specifiers)) {
    assert.equal(String(bench.specifiers[specifier]).replace(peerSuffix, ""), version, specifier);
  }
  const peerPattern = new RegExp(`^(${PEERS.join("|")})@`);
  // The root lockfile holds a peer only as a dependency of a library package (ts-mls needs
  // @hpke/core and @hpke/dhkem-x25519), never because the root config imports it.
  const needed = new Set(
    Object.entries(root.npm as Lock["npm"]).filter(([name]) => !peerPattern.test(name))
      .flatMap(([name]) => resolved(root, name).dependencies),
  );
  assert.deepEqual(
    Object.keys(root.npm).filter((name) => peerPattern.test(name) && !needed.has(name)),
    [],
  );
  assert.deepEqual(
    Object.keys(bench.npm).filter((name) => peerPattern.test(name)).map((n) =>
      n.split(/@[^@]+$/)[0]
    )
      .sort(),
    [...PEERS].sort(),
  );
});

Deno.test("deno info --json mod.ts imports none of the benchmark peers", async () => {
  const out = await runDeno(["info", "--json", "mod.ts"], {
    cwd: new URL(".", ROOT).pathname,
    deadlineMs: 120_000,
  });
  assert.equal(out.code, 0, out.stderr);
  // `npmPackages` is the whole resolution of the import map (ts-mls, which groups/ imports, brings
  // @hpke/core with it); what a user of the core downloads is what its module graph imports.
  const { modules } = JSON.parse(out.stdout) as { modules: { npmPackage?: string }[] };
  const imported = modules.flatMap((m) => m.npmPackage === undefined ? [] : [m.npmPackage]);
  assert.ok(imported.some((id) => id.startsWith("@noble/")), "the graph names its npm packages");
  const listed = imported.filter((id) =>
    PEERS.some((peer) => id.startsWith(`${peer}@`)) || id.startsWith("@hpke/") ||
    id.startsWith("ts-mls@")
  );
  assert.deepEqual(listed, []);
});
