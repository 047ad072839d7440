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
  for (const name of Object.keys(root.npm)) {
    assert.deepEqual(
      resolved(bench, name),
      resolved(root, name),
      `bench/deno.lock resolves ${name} differently`,
    );
  }
  for (const [specifier, version] of Object.entries(root.specifiers)) {
    assert.equal(bench.specifiers[specifier], version, specifier);
  }
  const peerPattern = new RegExp(`^(${PEERS.join("|")})@`);
  assert.deepEqual(Object.keys(root.npm).filter((name) => peerPattern.test(name)), []);
  assert.deepEqual(
    Object.keys(bench.npm).filter((name) => peerPattern.test(name)).map((n) =>
      n.split(/@[^@]+$/)[0]
    )
      .sort(),
    [...PEERS].sort(),
  );
});

Deno.test("deno info --json mod.ts lists none of the benchmark peers", async () => {
  const out = await runDeno(["info", "--json", "mod.ts"], {
    cwd: new URL(".", ROOT).pathname,
    deadlineMs: 120_000,
  });
  assert.equal(out.code, 0, out.stderr);
  const { npmPackages } = JSON.parse(out.stdout) as { npmPackages: Record<string, unknown> };
  const listed = Object.keys(npmPackages).filter((id) =>
    PEERS.some((peer) => id.startsWith(`${peer}@`)) || id.startsWith("@hpke/")
  );
  assert.deepEqual(listed, []);
});
