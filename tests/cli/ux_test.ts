// What a new user runs into, from real CLI processes: repeated single-value flags, unknown options
// and missing values refused (exit 2) with balanced messages; the error texts of issue 22 (schemes,
// a busy port, not an envelope, a damaged header, KEM ids, the length line of inspect, a protected
// key's wrong passphrase); the SECRET KEY label of protected identity files; `-R -`; and relative
// paths through `deno task cli` resolving where the user typed the command (INIT_CWD).
import assert from "node:assert/strict";
import { runDeno, spawnCommand } from "../_process.ts";
import { keyPair, NET_PERMS, PERMS, runCli, startListen, withTempDir } from "./_cli.ts";

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("polycrypt-ux-", fn);
const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** The first line of a run's stderr. */
const firstLine = (stderr: string) => stderr.split("\n")[0];

Deno.test("repeated single-value flags are refused with exit 2; repeatable ones are not", async () => {
  const cases: [string[], string][] = [
    [
      ["chat", "--listen", "tcp://127.0.0.1:1", "--peer", "tcp://a:1", "--peer", "tcp://b:1"],
      "--peer",
    ],
    [["send", "--to", "tcp://127.0.0.1:1", "--to", "tcp://127.0.0.1:2", "-r", "x", "hi"], "--to"],
    [["encrypt", "-o", "a", "--output", "b"], "-o/--output"],
    [["keygen", "--engine", "x25519", "--engine", "x448"], "--engine"],
    [["listen", "--on", "tcp://127.0.0.1:0", "--on", "tcp://127.0.0.1:0", "-i", "k"], "--on"],
  ];
  for (const [args, flag] of cases) {
    const out = await runCli(args, NET_PERMS);
    assert.equal(out.code, 2, args.join(" "));
    assert.equal(
      firstLine(out.stderr),
      `polycrypt: ${flag} was given more than once; it takes one value`,
    );
    assert.match(out.stderr, new RegExp(`usage: polycrypt ${args[0]} `));
  }
  await withDir(async (dir) => {
    const a = await keyPair(dir, "x25519", { name: "a", perms: PERMS });
    const b = await keyPair(dir, "x25519", { name: "b", perms: PERMS });
    const sealed = await runCli(["encrypt", "-r", a.recipient, "-r", b.recipient, "-a"], PERMS, {
      stdin: "group",
    });
    assert.equal(sealed.code, 0, sealed.stderr);
    await Deno.writeTextFile(`${dir}/m.txt`, sealed.stdout);
    const opened = await runCli(
      ["decrypt", "-i", `${dir}/x.key`, "-i", b.key, `${dir}/m.txt`],
      PERMS,
    );
    assert.equal(opened.code, 3, "a missing identity file is an I/O error, not a repeated flag");
    const ok = await runCli(["decrypt", "-i", a.key, "-i", b.key, `${dir}/m.txt`], PERMS);
    assert.equal(ok.stdout, "group");
  });
});

Deno.test("unknown options, missing values and values to switches: one balanced line, exit 2", async () => {
  const cases: [string[], string][] = [
    [["encrypt", "--foo"], "polycrypt: unknown option --foo"],
    [["decrypt", "-z"], "polycrypt: unknown option -z"],
    [["encrypt", "-o"], "polycrypt: -o/--output needs a value"],
    [["send", "--to"], "polycrypt: --to needs a value"],
    [["encrypt", "--armor=yes"], "polycrypt: -a/--armor takes no value"],
    [
      ["encrypt", "-o", "-a"],
      "polycrypt: -o/--output needs a value (for one that starts with '-', write --output=-a)",
    ],
  ];
  for (const [args, line] of cases) {
    const out = await runCli(args, PERMS);
    assert.equal(out.code, 2, args.join(" "));
    assert.equal(firstLine(out.stderr), line);
    for (const l of out.stderr.trimEnd().split("\n")) {
      assert.equal((l.match(/'/g) ?? []).length % 2, 0, `balanced quotes: ${l}`);
      assert.equal((l.match(/"/g) ?? []).length % 2, 0, `balanced quotes: ${l}`);
    }
    assert.match(out.stderr, /\(more: polycrypt \w+ --help\)\n$/);
  }
});

Deno.test("error texts: schemes, busy port, not an envelope, damaged header, KEM ids, inspect", async () => {
  await withDir(async (dir) => {
    const { key, recipient } = await keyPair(dir, undefined, { perms: PERMS });
    const schemes = await runCli(
      ["send", "--to", "127.0.0.1:7000", "-r", recipient, "hi"],
      NET_PERMS,
    );
    assert.equal(schemes.code, 2);
    assert.match(schemes.stderr, /tcp:\/\/, tls:\/\/, udp:\/\/, ws:\/\/ or xmpp:/);

    const first = await startListen(["--on", "tcp://127.0.0.1:0", "-i", key]);
    try {
      const busy = await runCli(
        ["listen", "--on", `tcp://127.0.0.1:${first.port}`, "-i", key],
        NET_PERMS,
      );
      assert.equal(busy.code, 3);
      assert.match(busy.stderr, /could not listen on tcp:\/\/127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      await first.close();
    }

    await Deno.writeTextFile(`${dir}/hello`, "hello");
    const notEnvelope = await runCli(["inspect", `${dir}/hello`], PERMS);
    assert.equal(notEnvelope.code, 2);
    assert.equal(notEnvelope.stderr, `polycrypt: ${dir}/hello is not a polycrypt envelope\n`);

    // Each byte of the clear header flipped in an armored message: decryption failed (exit 1)
    // or not an envelope (exit 2), never a passphrase prompt.
    const sealed = await runCli(["encrypt", "-r", recipient, "-a"], PERMS, { stdin: "meet at 7" });
    const lines = sealed.stdout.trim().split("\n");
    const bytes = Uint8Array.fromBase64(lines.slice(1, -1).join(""));
    for (let i = 0; i < 12; i++) {
      const flipped = bytes.slice();
      flipped[i] ^= 1;
      const b64 = flipped.toBase64().match(/.{1,64}/g)!.join("\n");
      await Deno.writeTextFile(`${dir}/f.txt`, `${lines[0]}\n${b64}\n${lines.at(-1)}\n`);
      const out = await runCli(["decrypt", "-i", key, `${dir}/f.txt`], PERMS, { stdin: "" });
      assert.ok(
        (out.code === 1 && out.stderr === "polycrypt: decryption failed\n") ||
          (out.code === 2 && /not a polycrypt envelope|magic|version|mode/.test(out.stderr)),
        `byte ${i}: ${out.code} ${out.stderr}`,
      );
      assert.doesNotMatch(out.stderr, /passphrase/, `byte ${i}`);
    }

    const engine = await runCli(["keygen", "--engine", "foo"], PERMS);
    assert.equal(engine.code, 2);
    assert.match(engine.stderr, /unknown KEM "foo"; KEM ids: .*ml-kem-768/);
    for (const other of ["aes-256-gcm", "xchacha20-poly1305", "ed25519", "ml-dsa-65"]) {
      assert.ok(!engine.stderr.includes(other), `${other} is not a KEM`);
    }

    await Deno.writeTextFile(`${dir}/m.pcy.txt`, sealed.stdout);
    const shown = await runCli(["inspect", `${dir}/m.pcy.txt`], PERMS);
    assert.equal(shown.code, 0, shown.stderr);
    assert.doesNotMatch(shown.stdout, /padded size/);
    // "meet at 7" (9 bytes) and its end marker, PADME-padded to 10, 16-byte tag: 26.
    assert.match(
      shown.stdout,
      /length: padded \(PADME\) to 10 bytes, all anyone learns of the plaintext's length \(26 bytes of ciphertext with the AEAD tags\)/,
    );
    const plain = await runCli(["encrypt", "--no-pad", "-r", recipient], PERMS, { stdin: "abc" });
    const shownPlain = await runCli(["inspect"], PERMS, { stdin: plain.stdoutBytes });
    assert.match(shownPlain.stdout, /length: not padded; the plaintext is 3 bytes/);
  });
});

Deno.test("protected identity files: SECRET KEY label, old MESSAGE label, wrong passphrase named", async () => {
  await withDir(async (dir) => {
    const env = { POLYCRYPT_PASSPHRASE: "key file phrase" };
    const made = await runCli(["keygen", "--protect", "-o", `${dir}/p.key`], PERMS, { env });
    assert.equal(made.code, 0, made.stderr);
    const text = await Deno.readTextFile(`${dir}/p.key`);
    assert.match(
      text,
      /^-----BEGIN POLYCRYPT SECRET KEY-----\n[\s\S]+\n-----END POLYCRYPT SECRET KEY-----\n$/,
    );
    const recipient = await runCli(["recipient", "-i", `${dir}/p.key`], PERMS, { env });
    assert.equal(recipient.code, 0, recipient.stderr);
    assert.match(recipient.stdout, /^polycrypt2:x25519\+ml-kem-768:ed25519\+ml-dsa-65:/);
    // A file written before the label (an armored MESSAGE) still loads.
    const old = text.replace("BEGIN POLYCRYPT SECRET KEY", "BEGIN POLYCRYPT MESSAGE")
      .replace("END POLYCRYPT SECRET KEY", "END POLYCRYPT MESSAGE");
    await Deno.writeTextFile(`${dir}/old.key`, old);
    const fromOld = await runCli(["recipient", "-i", `${dir}/old.key`], PERMS, { env });
    assert.equal(fromOld.stdout, recipient.stdout);
    const wrong = await runCli(["recipient", "-i", `${dir}/p.key`], PERMS, {
      env: { POLYCRYPT_PASSPHRASE: "not it" },
    });
    assert.equal(wrong.code, 1);
    assert.equal(
      wrong.stderr,
      `polycrypt: the passphrase of ${dir}/p.key is wrong (or the file is damaged)\n`,
    );
  });
});

Deno.test("-R - reads recipients from stdin, like -i -", async () => {
  await withDir(async (dir) => {
    const { key, recipient } = await keyPair(dir, "x25519", { perms: PERMS });
    await Deno.writeTextFile(`${dir}/in.txt`, "from a file");
    const sealed = await runCli(
      ["encrypt", "-R", "-", "-o", `${dir}/out.pcy`, `${dir}/in.txt`],
      PERMS,
      {
        stdin: `# Bob\n${recipient}\n`,
      },
    );
    assert.equal(sealed.code, 0, sealed.stderr);
    const opened = await runCli(["decrypt", "-i", key, `${dir}/out.pcy`], PERMS);
    assert.equal(opened.stdout, "from a file");
    const both = await runCli(["encrypt", "-R", "-"], PERMS, { stdin: recipient });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /-R - reads stdin, so give the input as a file/);
  });
});

Deno.test("deno task cli resolves relative paths where the command was typed (INIT_CWD)", async () => {
  // The issue's own case: from the repository's docs folder.
  const name = `dave-${crypto.randomUUID().slice(0, 8)}.key`;
  try {
    const out = await runDeno(["task", "-q", "cli", "keygen", "--engine", "x25519", "-o", name], {
      cwd: `${REPO}/docs`,
      env: { NO_COLOR: "1" },
    });
    assert.equal(out.code, 0, out.stderr);
    assert.ok((await Deno.lstat(`${REPO}/docs/${name}`)).isFile);
    await assert.rejects(Deno.lstat(`${REPO}/${name}`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(`${REPO}/docs/${name}`).catch(() => {});
    await Deno.remove(`${REPO}/${name}`).catch(() => {});
  }
  // Outside the repository: every kind of path argument, from the folder the user is in.
  await withDir(async (dir) => {
    const task = (args: string[], stdin?: string) =>
      runDeno(["task", "-q", "--config", `${REPO}/deno.json`, "cli", ...args], {
        cwd: dir,
        stdin,
        env: { NO_COLOR: "1" },
      });
    assert.equal((await task(["keygen", "--engine", "x25519", "-o", "bob.key"])).code, 0);
    const recipient = await task(["recipient", "-i", "bob.key"]);
    assert.equal(recipient.code, 0, recipient.stderr);
    await Deno.writeTextFile(`${dir}/bob.pub`, recipient.stdout);
    await Deno.writeTextFile(`${dir}/plans.txt`, "the plans");
    const sealed = await task(["encrypt", "-R", "bob.pub", "-o", "plans.pcy", "plans.txt"]);
    assert.equal(sealed.code, 0, sealed.stderr);
    const opened = await task(["decrypt", "-i", "bob.key", "-o", "plans.out", "plans.pcy"]);
    assert.equal(opened.code, 0, opened.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/plans.out`), "the plans");
    // listen -o DIR: a file sent to it lands in DIR under the user's folder.
    await Deno.mkdir(`${dir}/inbox`);
    const listener = spawnDenoTask(dir, [
      "listen",
      "--on",
      "tcp://127.0.0.1:0",
      "-i",
      "bob.key",
      "-o",
      "inbox",
      "--once",
    ]);
    try {
      const port = await listenerPort(listener);
      const sent = await runCli(
        [
          "send",
          "--to",
          `tcp://127.0.0.1:${port}`,
          "-R",
          `${dir}/bob.pub`,
          "-f",
          `${dir}/plans.txt`,
        ],
        NET_PERMS,
      );
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal((await listener.status).code, 0);
      assert.equal(await Deno.readTextFile(`${dir}/inbox/plans.txt`), "the plans");
    } finally {
      try {
        listener.kill("SIGTERM");
      } catch { /* exited */ }
    }
  });
});

/** `deno task cli ...args` from folder `cwd`, stderr piped. */
function spawnDenoTask(cwd: string, args: string[]): Deno.ChildProcess {
  return spawnCommand(
    Deno.execPath(),
    ["task", "-q", "--config", `${REPO}/deno.json`, "cli", ...args],
    { cwd, env: { NO_COLOR: "1" }, stdout: "null" },
  );
}

/** The port from a listener's "listening on" line; keeps draining its stderr after. */
async function listenerPort(child: Deno.ChildProcess): Promise<number> {
  const reader = child.stderr.getReader();
  const td = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`listen exited: ${text}`);
    text += td.decode(value);
    const port = /listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1];
    if (port) {
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })();
      return Number(port);
    }
  }
}

Deno.test("-R - in send and chat: stdin cannot hold both the recipients and the message", async () => {
  await withDir(async (dir) => {
    const { key, recipient } = await keyPair(dir, "x25519", { perms: PERMS });
    const send = await runCli(["send", "--to", "tcp://127.0.0.1:9", "-R", "-"], NET_PERMS, {
      stdin: recipient,
    });
    assert.equal(send.code, 2);
    assert.match(send.stderr, /-R - reads stdin, so give the message as MESSAGE or -f FILE/);
    const chat = await runCli(
      [
        "chat",
        "--listen",
        "tcp://127.0.0.1:0",
        "--peer",
        "tcp://127.0.0.1:9",
        "-i",
        key,
        "-R",
        "-",
      ],
      NET_PERMS,
      { stdin: recipient },
    );
    assert.equal(chat.code, 2);
    assert.match(chat.stderr, /give -R FILE, not -R -/);
  });
});
