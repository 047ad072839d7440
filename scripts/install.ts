// Installs the polycrypt command from this clone so that it needs no `deno` on PATH afterwards
// (docs/cli.md, "Install"): `npx -y deno@2.9.6 task install [--root DIR]` on a machine with only
// Node.js and npm, or `deno task install`.
//
// ROOT is --root DIR, else $DENO_INSTALL_ROOT, else ~/.local. It writes:
//   ROOT/lib/polycrypt/deno    a copy of the Deno binary running this script (the one npx fetched)
//   ROOT/lib/polycrypt/src/    the sources the CLI needs, with deno.json and deno.lock
//   ROOT/lib/polycrypt/cache/  their npm dependencies (DENO_DIR), fetched now against deno.lock
//   ROOT/bin/polycrypt         a sh script running src/cli/main.ts with that Deno by absolute path
// `deno install -g` would instead write a script that runs `deno` from PATH, and `deno compile`
// needs a runtime download (dl.deno.land) that npm does not provide. Re-running replaces the
// install; `rm -r ROOT/lib/polycrypt ROOT/bin/polycrypt` removes it. Linux and macOS.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CLI_DENO_FLAGS } from "./cli_flags.ts";

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * What the CLI's module graph and its workers load, copied whole: the package's own files
 * (deno.json "publish.include", so a new source folder cannot be forgotten here) without its
 * documentation, and the lock file.
 */
const SOURCES: string[] = [
  ...(JSON.parse(Deno.readTextFileSync(join(REPO, "deno.json"))).publish.include as string[])
    .map((entry) => entry.replace(/\/$/, ""))
    .filter((entry) => !["docs", "examples", "README.md"].includes(entry)),
  "deno.lock",
];

function fail(message: string): never {
  console.error(`install: ${message}`);
  Deno.exit(1);
}

function rootDir(args: string[]): string {
  if (args.length === 2 && args[0] === "--root" && args[1]) return args[1];
  if (args.length) fail("usage: deno task install [--root DIR]");
  const env = Deno.env.get("DENO_INSTALL_ROOT");
  if (env) return env;
  const home = Deno.env.get("HOME");
  if (!home) fail("no HOME; give --root DIR");
  return join(home, ".local");
}

/** Copies `from` (a file or a folder, recursively) to `to`, skipping tests. */
async function copy(from: string, to: string): Promise<void> {
  const info = await Deno.stat(from);
  if (info.isDirectory) {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      if (entry.name.endsWith("_test.ts")) continue;
      await copy(join(from, entry.name), join(to, entry.name));
    }
  } else {
    await Deno.mkdir(dirname(to), { recursive: true });
    await Deno.copyFile(from, to);
  }
}

/** `'text'` for sh. */
const shQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** The .ts files under `dir`, for `deno cache` (workers and lazy imports included). */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await tsFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

async function main(args: string[]): Promise<void> {
  if (Deno.build.os === "windows") fail("Windows is not supported by this installer");
  const root = rootDir(args);
  const lib = join(root, "lib", "polycrypt");
  const bin = join(root, "bin");
  await Deno.mkdir(lib, { recursive: true });
  await Deno.mkdir(bin, { recursive: true });

  // The Deno that runs this script: npx's copy, which npm may clean from its cache at any time.
  const deno = join(lib, "deno");
  await Deno.copyFile(Deno.execPath(), `${deno}.new`);
  await Deno.chmod(`${deno}.new`, 0o755);
  await Deno.rename(`${deno}.new`, deno);

  const src = join(lib, "src");
  await Deno.remove(src, { recursive: true }).catch(() => {});
  for (const name of SOURCES) await copy(join(REPO, name), join(src, name));
  // The web chat page of `polycrypt relay --web` (docs/web.md), when it was built (deno task build).
  const web = join(REPO, "dist", "web");
  if (await Deno.stat(join(web, "index.html")).then(() => true, () => false)) {
    await copy(web, join(src, "dist", "web"));
  }

  // Fetch the npm dependencies now, pinned by deno.lock, into the install's own cache.
  const cache = join(lib, "cache");
  const cached = await new Deno.Command(deno, {
    args: ["cache", "--config", join(src, "deno.json"), "--frozen", ...await tsFiles(src)],
    env: { DENO_DIR: cache, DENO_NO_UPDATE_CHECK: "1" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!cached.success) fail("could not fetch the dependencies (deno cache failed)");

  const shim = join(bin, "polycrypt");
  const script = [
    "#!/bin/sh",
    `# polycrypt, installed by \`deno task install\` from ${REPO} on ${new Date().toISOString()}.`,
    "# Runs the copied sources with the copied Deno (no deno on PATH needed); --allow-all lets the",
    "# passphrase prompt open /dev/tty (docs/cli.md).",
    `DENO_DIR=${shQuote(cache)}`,
    "DENO_NO_UPDATE_CHECK=1",
    "export DENO_DIR DENO_NO_UPDATE_CHECK",
    `exec ${shQuote(deno)} run ${
      CLI_DENO_FLAGS.map(shQuote).join(" ")
    } --allow-all --no-prompt --config ${shQuote(join(src, "deno.json"))} ${
      shQuote(join(src, "cli", "main.ts"))
    } "$@"`,
    "",
  ].join("\n");
  await Deno.writeTextFile(`${shim}.new`, script, { mode: 0o755 });
  await Deno.chmod(`${shim}.new`, 0o755);
  await Deno.rename(`${shim}.new`, shim);

  console.log(`installed ${shim}`);
  const path = (Deno.env.get("PATH") ?? "").split(":");
  if (!path.includes(bin)) console.log(`add ${bin} to PATH: export PATH="${bin}:$PATH"`);
}

if (import.meta.main) await main(Deno.args);
