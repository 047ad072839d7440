// Issue 20 section 7: a password envelope names its own Argon2id cost, up to 1 GiB and 16 passes.
// `decrypt` reads that cost before Argon2id runs and, above --max-kdf-memory (default 256 MiB),
// asks on a terminal or refuses without one (exit 2, one line naming the flag). Section 2:
// --max-stanza-attempts raises the cap on the stanzas each identity tries.
import assert from "node:assert/strict";
import { ARGON2_FLOOR, type Argon2Params, armor, encrypt, generateIdentity } from "../../mod.ts";
import { encodeOuter } from "../../cascade/format.ts";
import { PERMS, runCli, spawnOnTerminal, withTempDir } from "./_cli.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const HALF_GIB = { memoryKiB: 512 * 1024, passes: 1, parallelism: 4 };

/** Writes `text` sealed with the passphrase "pw" at `cost` to DIR/m.pcy, and "pw" to DIR/pw. */
async function sealedWithPassphrase(dir: string, text: string, cost: Argon2Params): Promise<void> {
  const sealed = await encrypt(te.encode(text), { passphrase: "pw", argon2: cost });
  await Deno.writeFile(`${dir}/m.pcy`, sealed);
  await Deno.writeTextFile(`${dir}/pw`, "pw\n");
}

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("polycrypt-kdf-", fn);

Deno.test("an envelope asking Argon2id for 512 MiB is refused without a terminal, before Argon2 runs", async () => {
  await withDir(async (dir) => {
    // A hostile file: only the clear prefix matters, it is parsed and never run.
    const forged = new Uint8Array([
      ...encodeOuter({ argon2: HALF_GIB, salt: new Uint8Array(16) }),
      ...crypto.getRandomValues(new Uint8Array(32 + 200)),
    ]);
    await Deno.writeFile(`${dir}/big.pcy`, forged);
    await Deno.writeTextFile(`${dir}/big.asc`, armor(forged));
    await Deno.writeTextFile(`${dir}/pw`, "pw\n");
    for (const file of ["big.pcy", "big.asc"]) {
      const started = performance.now();
      const out = await runCli(
        ["decrypt", "--passphrase-file", `${dir}/pw`, "-o", `${dir}/out`, `${dir}/${file}`],
        PERMS,
        { stdin: new Uint8Array(0) },
      );
      const ms = performance.now() - started;
      console.log(`${file}: refused in ${ms.toFixed(0)} ms (process start included)`);
      assert.equal(out.code, 2, out.stderr);
      assert.equal(out.stderr.trim().split("\n").length, 1, out.stderr);
      assert.match(out.stderr, /^polycrypt: .*512 MiB, t=1, p=4.*--max-kdf-memory 256.*\n$/);
      assert.match(out.stderr, /--max-kdf-memory 512/);
      // Had Argon2id run, the forged commitment would end in "decryption failed" (exit 1),
      // after seconds at 512 MiB; the refusal comes first.
      assert.ok(ms < 3000, `${ms} ms`);
    }
    await assert.rejects(Deno.lstat(`${dir}/out`), Deno.errors.NotFound);
    // A protected identity file is a password envelope too: decrypt -i checks its cost as well.
    await Deno.writeTextFile(`${dir}/id.key`, "\n  " + armor(forged));
    const id = await runCli(
      ["decrypt", "-i", `${dir}/id.key`, "--passphrase-file", `${dir}/pw`, `${dir}/big.pcy`],
      PERMS,
      { stdin: new Uint8Array(0) },
    );
    assert.equal(id.code, 2, id.stderr);
    assert.match(id.stderr, /--max-kdf-memory 512/);
    // A malformed limit is a usage error too.
    for (const bad of ["0", "-1", "1.5", "lots"]) {
      const out = await runCli(["decrypt", "--max-kdf-memory", bad, `${dir}/big.pcy`], PERMS, {
        stdin: new Uint8Array(0),
      });
      assert.equal(out.code, 2, bad);
      assert.match(out.stderr, /--max-kdf-memory/, bad);
    }
  });
});

Deno.test("with --max-kdf-memory 1024 the same cost runs and decrypts", async () => {
  await withDir(async (dir) => {
    await sealedWithPassphrase(dir, "worth the wait", HALF_GIB);
    const run = (extra: string[]) =>
      runCli(["decrypt", ...extra, "--passphrase-file", `${dir}/pw`, `${dir}/m.pcy`], PERMS, {
        stdin: new Uint8Array(0),
      });
    const refused = await run([]);
    assert.equal(refused.code, 2, refused.stderr);
    const started = performance.now();
    const ok = await run(["--max-kdf-memory", "1024"]);
    const ms = performance.now() - started;
    console.log(`512 MiB, t=1, p=4 run by the CLI (WebAssembly): ${ms.toFixed(0)} ms`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(td.decode(ok.stdoutBytes), "worth the wait");
  });
});

Deno.test("on a terminal decrypt asks before a costly KDF: yes runs it, no refuses", async () => {
  await withDir(async (dir) => {
    // The floor (19 MiB) above a limit of 16 MiB: the prompt, at the price of a cheap KDF.
    await sealedWithPassphrase(dir, "asked first", ARGON2_FLOOR);
    for (const [answer, code] of [["n", 2], ["y", 0]] as const) {
      const out = `${dir}/out-${answer}`;
      const child = spawnOnTerminal([
        "decrypt",
        "--max-kdf-memory",
        "16",
        "--passphrase-file",
        `${dir}/pw`,
        "-o",
        out,
        `${dir}/m.pcy`,
      ], PERMS);
      const w = child.stdin.getWriter();
      let screen = "";
      let answered = false;
      for await (const chunk of child.stdout) {
        screen += td.decode(chunk);
        if (!answered && /Run it\? \[y\/N\] /.test(screen)) {
          await w.write(te.encode(`${answer}\r`));
          await w.close();
          answered = true;
        }
      }
      if (!answered) await w.close();
      const status = await child.status;
      assert.ok(answered, screen);
      assert.match(screen, /Argon2id with 19 MiB, t=2, p=1 .*--max-kdf-memory is 16 MiB/);
      assert.equal(status.code, code, screen);
      if (code === 0) assert.equal(await Deno.readTextFile(out), "asked first");
      else {
        assert.match(screen, /--max-kdf-memory 19/);
        await assert.rejects(Deno.lstat(out), Deno.errors.NotFound);
      }
    }
  });
});

Deno.test("decrypt --max-stanza-attempts raises the cap for a group message with many RSA recipients", async () => {
  await withDir(async (dir) => {
    // 18 rsa-2048 stanzas (two other keys, fresh encapsulations), Bob's last: past the default 16.
    const [bob, ...others] = await Promise.all([1, 2, 3].map(() => generateIdentity("rsa-2048")));
    const sealed = await encrypt(te.encode("eighteenth"), {
      recipients: [...Array.from({ length: 17 }, (_, i) => others[i % 2].recipient), bob.recipient],
    });
    await Deno.writeFile(`${dir}/m.pcy`, sealed);
    await Deno.writeTextFile(`${dir}/bob.key`, `${bob.identity}\n`);
    const run = (extra: string[]) =>
      runCli(["decrypt", "-i", `${dir}/bob.key`, ...extra, `${dir}/m.pcy`], PERMS, {
        stdin: new Uint8Array(0),
      });
    const capped = await run([]);
    assert.equal(capped.code, 1, capped.stderr);
    assert.equal(capped.stderr, "polycrypt: decryption failed\n");
    const raised = await run(["--max-stanza-attempts", "18"]);
    assert.equal(raised.code, 0, raised.stderr);
    assert.equal(td.decode(raised.stdoutBytes), "eighteenth");
    for (const bad of ["0", "2049", "x"]) {
      const out = await run(["--max-stanza-attempts", bad]);
      assert.equal(out.code, 2, bad);
      assert.match(out.stderr, /--max-stanza-attempts/, bad);
    }
  });
});
