// Help pages and shell completion, from real CLI processes: every command has a full page (what it
// does, every option with its long and short form, examples, exit codes) under `CMD --help` and
// `help CMD`, its option list is the parser's (a drift is reported), and the bash and zsh
// completion scripts parse and complete the commands, options and values of those same tables.
import assert from "node:assert/strict";
import { runCommand } from "../_process.ts";
import { PERMS, runCli, withTempDir } from "./_cli.ts";
import { optionDrift, optionLabel, optionsConfig, pageOf } from "../../cli/_help.ts";

const NEED = new URL("../../scripts/apt_need.sh", import.meta.url).pathname;

/** The commands `polycrypt --help` lists. */
async function commands(): Promise<string[]> {
  const out = await runCli(["--help"], PERMS);
  assert.equal(out.code, 0, out.stderr);
  const list = out.stdout.split("Commands:\n")[1].split("\n\n")[0];
  return list.split("\n").map((l) => l.trim().split(/\s+/)[0]);
}

Deno.test("every command has a full help page, the same under CMD --help, -h and help CMD", async () => {
  const names = await commands();
  for (const expected of ["keygen", "encrypt", "decrypt", "listen", "send", "chat", "completion"]) {
    assert.ok(names.includes(expected), names.join(" "));
  }
  for (const name of names) {
    const page = pageOf(name);
    assert.ok(page, `${name} has a page`);
    const long = await runCli([name, "--help"], PERMS);
    assert.equal(long.code, 0, `${name}: ${long.stderr}`);
    // A parser table that differs from the page shows as "help page drift" on stderr.
    assert.equal(long.stderr, "", `${name} --help`);
    const text = long.stdout;
    assert.match(text, new RegExp(`^polycrypt ${name} - `), name);
    for (const section of ["Usage:", "Options:", "Examples:", "Exit codes:"]) {
      assert.ok(text.includes(`\n${section}\n`), `${name}: ${section}`);
    }
    for (const [option, doc] of Object.entries(page.options)) {
      assert.ok(text.includes(optionLabel(option, doc)), `${name}: ${optionLabel(option, doc)}`);
    }
    assert.ok(text.includes("-h, --help"), name);
    assert.ok(page.examples.length >= 2 && page.examples.length <= 3, `${name}: 2-3 examples`);
    assert.ok(page.exits.some(([code]) => code === 0), `${name}: exit 0`);
    const short = await runCli([name, "-h"], PERMS);
    const viaHelp = await runCli(["help", name], PERMS);
    assert.equal(short.stdout, text, `${name} -h`);
    assert.equal(viaHelp.code, 0, viaHelp.stderr);
    assert.equal(viaHelp.stdout, text, `help ${name}`);
  }
});

Deno.test("help without a command lists them; an unknown command is exit 2", async () => {
  const overview = await runCli(["help"], PERMS);
  assert.equal(overview.code, 0);
  assert.match(overview.stdout, /Commands:\n {2}engines/);
  const none = await runCli([], PERMS);
  assert.equal(none.code, 2);
  const unknown = await runCli(["help", "nosuch"], PERMS);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "nosuch"; the commands: engines, /);
  const top = await runCli(["nosuch"], PERMS);
  assert.equal(top.code, 2);
  assert.match(top.stderr, /unknown command "nosuch"/);
  const version = await runCli(["--version"], PERMS);
  assert.match(version.stdout, /^polycrypt \d+\.\d+\.\d+\n$/);
});

Deno.test("a parser table that differs from its page is reported (the drift check can fail)", () => {
  const page = pageOf("encrypt")!;
  assert.deepEqual(optionDrift("encrypt", optionsConfig(page)), []);
  const extra = { ...optionsConfig(page), secret: { type: "string" as const } };
  assert.match(optionDrift("encrypt", extra).join("\n"), /--secret: the parser has string/);
  const { armor: _armor, ...missing } = optionsConfig(page);
  assert.match(optionDrift("encrypt", missing).join("\n"), /--armor: the parser has missing/);
  const changed = { ...optionsConfig(page), output: { type: "string" as const } }; // no -o
  assert.match(optionDrift("encrypt", changed).join("\n"), /--output/);
});

/** What bash completes for the words `line` (the last one being completed). */
async function bashComplete(script: string, line: string[], cwd?: string): Promise<string[]> {
  const words = line.map((w) => `'${w}'`).join(" ");
  const out = await runCommand("bash", [
    "-c",
    `${script}\nCOMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _polycrypt; ` +
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ], { cwd });
  assert.equal(out.code, 0, out.stderr);
  return out.stdout.split("\n").filter(Boolean);
}

Deno.test("bash completion: valid bash, commands, every option of every page, values", async () => {
  const out = await runCli(["completion", "bash"], PERMS);
  assert.equal(out.code, 0, out.stderr);
  const script = out.stdout;
  const syntax = await runCommand("bash", ["-n", "-c", script]);
  assert.equal(syntax.code, 0, syntax.stderr);
  const names = await commands();
  assert.deepEqual(await bashComplete(script, ["polycrypt", "enc"]), ["encrypt"]);
  assert.deepEqual(
    (await bashComplete(script, ["polycrypt", ""])).filter((w) => !w.startsWith("-")),
    names,
  );
  for (const name of names) {
    const flags = await bashComplete(script, ["polycrypt", name, "-"]);
    const page = pageOf(name)!;
    for (const [option, doc] of Object.entries(page.options)) {
      assert.ok(flags.includes(`--${option}`), `${name} --${option}`);
      if (doc.short) assert.ok(flags.includes(`-${doc.short}`), `${name} -${doc.short}`);
    }
  }
  assert.ok(
    (await bashComplete(script, ["polycrypt", "keygen", "--engine", "x25"])).includes(
      "x25519+ml-kem-768",
    ),
  );
  assert.deepEqual(await bashComplete(script, ["polycrypt", "completion", ""]), ["bash", "zsh"]);
  assert.ok((await bashComplete(script, ["polycrypt", "help", "de"])).includes("decrypt"));
  await withTempDir("polycrypt-complete-", async (dir) => {
    await Deno.mkdir(`${dir}/inbox`);
    await Deno.writeTextFile(`${dir}/bob.key`, "");
    // Files for -i, folders only for listen -o, nothing for a free value such as --on.
    assert.deepEqual(await bashComplete(script, ["polycrypt", "decrypt", "-i", "b"], dir), [
      "bob.key",
    ]);
    assert.deepEqual(await bashComplete(script, ["polycrypt", "listen", "-o", ""], dir), [
      "inbox",
    ]);
    assert.deepEqual(await bashComplete(script, ["polycrypt", "listen", "--on", ""], dir), []);
  });
});

Deno.test("zsh completion: valid zsh that registers _polycrypt", async () => {
  const need = await runCommand("bash", [NEED, "zsh", "zsh"]);
  assert.equal(need.code, 0, `zsh is needed: ${need.stderr}`);
  const out = await runCli(["completion", "zsh"], PERMS);
  assert.equal(out.code, 0, out.stderr);
  await withTempDir("polycrypt-zsh-", async (dir) => {
    await Deno.writeTextFile(`${dir}/_polycrypt`, out.stdout);
    const syntax = await runCommand("zsh", ["-n", `${dir}/_polycrypt`]);
    assert.equal(syntax.code, 0, syntax.stderr);
    // Sourced after compinit, it registers itself for the polycrypt command.
    const loaded = await runCommand("zsh", [
      "-fc",
      `autoload -U compinit && compinit -u -d ${dir}/.zcompdump && source ${dir}/_polycrypt && ` +
      `print -r -- "$_comps[polycrypt]"`,
    ]);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal(loaded.stdout.trim(), "_polycrypt");
    await zshCompletesOnTerminal(dir);
  });
  const bad = await runCli(["completion", "fish"], PERMS);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /bash or zsh/);
});

/**
 * Tab pressed in an interactive zsh on a terminal (tmux), the script loaded from `dir`: the
 * options of a command with their descriptions, a file for `-i`, a word list for `--engine`.
 */
async function zshCompletesOnTerminal(dir: string): Promise<void> {
  const need = await runCommand("bash", [NEED, "tmux", "tmux"]);
  assert.equal(need.code, 0, `tmux is needed: ${need.stderr}`);
  const socket = `polycrypt-zsh-${Deno.pid}`;
  const tmux = async (...args: string[]) => {
    const out = await runCommand("tmux", ["-L", socket, "-f", "/dev/null", ...args]);
    assert.equal(out.code, 0, out.stderr);
    return out.stdout;
  };
  /** Waits for `pattern` on the screen (20 s at most), and returns the screen. */
  const waitFor = async (pattern: RegExp) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const screen = await tmux("capture-pane", "-p", "-J", "-t", "z");
      if (pattern.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await Deno.mkdir(`${dir}/work/inbox`, { recursive: true });
  await Deno.writeTextFile(`${dir}/work/bob.key`, "");
  await tmux(
    "new-session",
    "-d",
    "-s",
    "z",
    "-x",
    "200",
    "-y",
    "50",
    `env -i HOME=${dir} TERM=xterm PATH=/usr/bin:/bin PS1='zsh> ' zsh -f`,
  );
  try {
    await waitFor(/zsh> /);
    await tmux(
      "send-keys",
      "-t",
      "z",
      `autoload -U compinit && compinit -u -d ${dir}/.zcd && source ${dir}/_polycrypt && ` +
        `cd ${dir}/work && clear`,
      "Enter",
    );
    await waitFor(/^zsh> $/m);
    await tmux("send-keys", "-t", "z", "polycrypt listen -", "Tab");
    const options = await waitFor(/--max-file-size/);
    assert.match(options, /--on .*-- Where to listen: tcp:\/\/HOST:PORT/);
    assert.match(options, /--output +-o +-- Receive files into DIR/);
    await tmux("send-keys", "-t", "z", "C-u", "polycrypt dec", "Tab");
    await waitFor(/polycrypt decrypt $/m);
    await tmux("send-keys", "-t", "z", "--", "-i b", "Tab");
    await waitFor(/polycrypt decrypt -i bob\.key $/m);
    await tmux("send-keys", "-t", "z", "C-u", "polycrypt keygen --engine x4", "Tab");
    await waitFor(/polycrypt keygen --engine x448 $/m);
  } finally {
    await runCommand("tmux", ["-L", socket, "-f", "/dev/null", "kill-server"]);
  }
}
