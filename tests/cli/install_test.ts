// The README's install command on a machine with only Node.js and npm: in a scratch HOME, with no
// `deno` on PATH, `npx -y deno@2.9.6 task install` from this clone, then the installed `polycrypt`
// runs (--version, and a keygen/encrypt/decrypt round trip through a pipe) with PATH still lacking
// deno: it calls its own Deno copy by absolute path (scripts/install.ts). And the launcher, the
// `cli` task and the tests' child CLI all pass the same Deno flags (scripts/cli_flags.ts).
import assert from "node:assert/strict";
import { CLI_DENO_FLAGS } from "../../scripts/cli_flags.ts";
import { runCommand } from "../_process.ts";
import { RUN_FLAGS, withTempDir } from "./_cli.ts";

const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** The folders of `node` and `npx` and the system ones, none holding a `deno`. */
async function pathWithoutDeno(): Promise<string> {
  const dirs = ["/usr/bin", "/bin"];
  for (const tool of ["node", "npx"]) {
    const found = await runCommand("sh", ["-c", `command -v ${tool}`]);
    assert.equal(found.code, 0, `${tool} is needed for this test`);
    const dir = found.stdout.trim().replace(/\/[^/]+$/, "");
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  const clean: string[] = [];
  for (const dir of dirs) {
    const hasDeno = await Deno.lstat(`${dir}/deno`).then(() => true, () => false);
    if (!hasDeno) clean.push(dir);
  }
  return clean.join(":");
}

Deno.test("npx -y deno@2.9.6 task install: polycrypt runs without deno on PATH", async () => {
  await withTempDir("polycrypt-install-", async (home) => {
    const path = await pathWithoutDeno();
    const base = { ...Deno.env.toObject() };
    for (const name of ["DENO_DIR", "DENO_INSTALL_ROOT", "INIT_CWD"]) delete base[name];
    // A fresh user: its own HOME (npm's cache stays shared only to spare the download of deno).
    const npmCache = `${Deno.env.get("HOME")}/.npm`;
    const env = {
      ...base,
      HOME: home,
      PATH: path,
      npm_config_update_notifier: "false",
      ...(await Deno.lstat(npmCache).then(() => ({ npm_config_cache: npmCache }), () => ({}))),
    };
    const noDeno = await runCommand("sh", ["-c", "command -v deno"], { env, clearEnv: true });
    assert.notEqual(noDeno.code, 0, "deno must not be on the test's PATH");

    const install = await runCommand("npx", ["-y", "deno@2.9.6", "task", "install"], {
      cwd: REPO,
      env,
      clearEnv: true,
      deadlineMs: 15 * 60_000,
    });
    assert.equal(install.code, 0, install.stderr);
    const shim = `${home}/.local/bin/polycrypt`;
    assert.match(install.stdout, new RegExp(`installed ${shim}`));
    // The script runs the copied Deno by absolute path, not a `deno` from PATH.
    const script = await Deno.readTextFile(shim);
    const flags = CLI_DENO_FLAGS.map((flag) => `'${flag}' `).join("");
    assert.ok(
      script.includes(`exec '${home}/.local/lib/polycrypt/deno' run ${flags}--allow-all `),
      script,
    );
    assert.ok((await Deno.stat(`${home}/.local/lib/polycrypt/deno`)).isFile);

    const run = (line: string) =>
      runCommand("sh", ["-c", line], {
        cwd: home,
        env: { ...env, PATH: `${home}/.local/bin:${path}` },
        clearEnv: true,
        deadlineMs: 120_000,
      });
    const version = await run("command -v deno; polycrypt --version");
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, "polycrypt 0.1.0\n");
    const trip = await run(
      "polycrypt keygen -o bob.key 2>/dev/null && polycrypt recipient -i bob.key > bob.pub && " +
        "echo 'meet at 7' | polycrypt encrypt -R bob.pub -a | polycrypt decrypt -i bob.key",
    );
    assert.equal(trip.code, 0, trip.stderr);
    assert.equal(trip.stdout, "meet at 7\n");
    // The clone is not needed afterwards: the installed sources are a copy.
    assert.match(script, new RegExp(`'${home}/\\.local/lib/polycrypt/src/cli/main\\.ts'`));
  });
});

Deno.test("the installed launcher, the cli task and the tests run the CLI with the same Deno flags", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));
  const flags = CLI_DENO_FLAGS.join(" ");
  assert.equal(config.tasks.cli, `deno run ${flags} --allow-all cli/main.ts`);
  assert.deepEqual(RUN_FLAGS, CLI_DENO_FLAGS);
  // The installed launcher's: the install test above.
});
