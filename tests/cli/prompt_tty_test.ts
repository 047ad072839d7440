// The passphrase prompt as a user meets it, on a real pseudo-terminal (script(1), util-linux): in a
// pipeline (the README's `echo ... | deno task cli encrypt -p -a > msg.txt`: the prompt goes to
// /dev/tty, as age's does), the warning for a short passphrase, the generated passphrase of
// `encrypt -p` left empty, and the refusal (with no output file left) when the program may not
// open /dev/tty.
import assert from "node:assert/strict";
import { spawnCommand } from "../_process.ts";
import { keyPair, MAIN, PERMS, runCli, withTempDir } from "./_cli.ts";

const te = new TextEncoder();
const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const td = new TextDecoder();

/** `'text'` for sh. */
const q = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** The CLI as a shell command line, with `perms`. */
const cliLine = (perms: string[], args: string[]) =>
  [Deno.execPath(), "run", ...perms, MAIN, ...args].map(q).join(" ");

/**
 * Runs the shell command `line` on a pseudo-terminal (script(1)) and types each answer once its
 * prompt is on the screen (typing earlier would reach the line discipline before the CLI turned
 * echo off). Returns the exit code the line ended with and the screen.
 */
async function onTerminal(
  line: string,
  answers: [RegExp, string][],
): Promise<{ code: number; screen: string }> {
  const child = spawnCommand(
    "script",
    ["-qec", `${line}; echo "EXIT=$?"`, "/dev/null"],
    { stderr: "null", env: { NO_COLOR: "1" } },
    true,
  );
  const w = child.stdin.getWriter();
  let screen = "";
  let next = 0;
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    for await (const chunk of child.stdout) {
      screen += td.decode(chunk);
      // Each answer goes once its prompt shows after the previous answer's position.
      while (next < answers.length) {
        const [prompt, answer] = answers[next];
        const seen = screen.match(new RegExp(prompt.source, "g"))?.length ?? 0;
        const expected = answers.slice(0, next + 1).filter(([p]) => p.source === prompt.source)
          .length;
        if (seen < expected) break;
        await w.write(te.encode(answer));
        next++;
      }
      if (/EXIT=\d+/.test(screen)) break;
    }
  } finally {
    clearTimeout(timer);
    await w.close().catch(() => {});
    await child.status;
  }
  const code = Number(/EXIT=(\d+)/.exec(screen)?.[1] ?? -1);
  return { code, screen };
}

const ENTER = /Enter a passphrase \(empty: generate one\): /;
const REPEAT = /Repeat the passphrase: /;

Deno.test("encrypt -p in a pipeline asks on the terminal (/dev/tty); decrypt in a pipeline too", async () => {
  await withTempDir("polycrypt-prompt-", async (dir) => {
    const { key, recipient } = await keyPair(dir, "x25519", { perms: PERMS });
    await Deno.writeTextFile(`${dir}/bob.pub`, `${recipient}\n`);
    // The README's example, through `deno task cli` from the user's folder: stdin and stdout are a
    // pipe and a file, only the terminal is left to ask on.
    const task = [Deno.execPath(), "task", "-q", "--config", `${REPO}/deno.json`, "cli"].map(q)
      .join(" ");
    const sealed = await onTerminal(
      `cd ${q(dir)} && echo 'meet at 7' | ${task} encrypt -R bob.pub -p -a > msg.txt`,
      [[ENTER, "correct horse battery\r"], [REPEAT, "correct horse battery\r"]],
    );
    assert.equal(sealed.code, 0, sealed.screen);
    assert.doesNotMatch(sealed.screen, /correct horse/, "the passphrase is not echoed");
    assert.doesNotMatch(sealed.screen, /warning/);
    const text = await Deno.readTextFile(`${dir}/msg.txt`);
    assert.match(text, /^-----BEGIN POLYCRYPT MESSAGE-----/);
    // Both the key and the passphrase open it.
    const opened = await runCli(["decrypt", "-i", key, `${dir}/msg.txt`], PERMS, {
      env: { POLYCRYPT_PASSPHRASE: "correct horse battery" },
    });
    assert.equal(opened.code, 0, opened.stderr);
    assert.equal(opened.stdout, "meet at 7\n");
    // decrypt with the envelope on stdin and the plaintext on a pipe: asked on the terminal.
    const piped = await onTerminal(
      `cat ${q(`${dir}/msg.txt`)} | ${cliLine(["--allow-all"], ["decrypt", "-i", key])} | cat > ${
        q(`${dir}/plain.txt`)
      }`,
      [[/Enter the passphrase: /, "correct horse battery\r"]],
    );
    assert.equal(piped.code, 0, piped.screen);
    assert.equal(await Deno.readTextFile(`${dir}/plain.txt`), "meet at 7\n");
  });
});

Deno.test("a short new passphrase gets a warning on the terminal; mismatched ones are refused", async () => {
  await withTempDir("polycrypt-prompt-", async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "x");
    const short = await onTerminal(
      cliLine(PERMS, ["encrypt", "-p", "-o", `${dir}/a.pcy`, `${dir}/in.txt`]),
      [[ENTER, "abc\r"], [REPEAT, "abc\r"]],
    );
    assert.equal(short.code, 0, short.screen);
    assert.match(short.screen, /warning: this passphrase is short \(3 characters\)/);
    const mismatch = await onTerminal(
      cliLine(PERMS, ["encrypt", "-p", "-o", `${dir}/b.pcy`, `${dir}/in.txt`]),
      [[ENTER, "long enough one\r"], [REPEAT, "long enough two\r"]],
    );
    assert.equal(mismatch.code, 2, mismatch.screen);
    assert.match(mismatch.screen, /the passphrases do not match/);
    await assert.rejects(Deno.lstat(`${dir}/b.pcy`), Deno.errors.NotFound);
  });
});

Deno.test("encrypt -p with the prompt left empty generates a strong passphrase and prints it", async () => {
  await withTempDir("polycrypt-prompt-", async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "generated");
    const run = await onTerminal(
      cliLine(PERMS, ["encrypt", "-p", "-o", `${dir}/g.pcy`, `${dir}/in.txt`]),
      [[ENTER, "\r"]],
    );
    assert.equal(run.code, 0, run.screen);
    const phrase = /autogenerated passphrase:\s+([a-z2-9]{5}(?:-[a-z2-9]{5}){5})/.exec(run.screen)
      ?.[1];
    assert.ok(phrase, run.screen);
    assert.doesNotMatch(run.screen, REPEAT, "a generated passphrase is not asked again");
    const opened = await runCli(["decrypt", `${dir}/g.pcy`], PERMS, {
      env: { POLYCRYPT_PASSPHRASE: phrase },
    });
    assert.equal(opened.code, 0, opened.stderr);
    assert.equal(opened.stdout, "generated");
  });
});

Deno.test("without --allow-all a pipeline cannot prompt: exit 2 says how, and no output file", async () => {
  await withTempDir("polycrypt-prompt-", async (dir) => {
    const run = await onTerminal(
      `echo hi | ${cliLine(PERMS, ["encrypt", "-p", "-o", `${dir}/out.pcy`])}`,
      [],
    );
    assert.equal(run.code, 2, run.screen);
    assert.match(run.screen, /--passphrase-file FILE or set POLYCRYPT_PASSPHRASE/);
    assert.match(run.screen, /--allow-all/);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
  });
});
