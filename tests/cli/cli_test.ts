// The real CLI, run as a separate process (tests/cli/_cli.ts): every command and exit code, atomic
// outputs, passphrase sources, the AND property, one message for every decryption failure.
import assert from "node:assert/strict";
import { peakRssKiB } from "../_process.ts";
import { createHash } from "node:crypto";
import forge from "node-forge";
import { encodeRecipient, registry } from "../../mod.ts";
import { PERMS, runCli, spawnCli, spawnOnTerminal, withTempDir } from "./_cli.ts";

const te = new TextEncoder();
const td = new TextDecoder();

interface Result {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

async function cli(
  args: string[],
  options: { stdin?: Uint8Array; env?: Record<string, string>; cwd?: string } = {},
): Promise<Result> {
  // stdin is always a pipe, empty unless given (as a user's `< /dev/null` would not be).
  const out = await runCli(args, PERMS, { ...options, stdin: options.stdin ?? new Uint8Array(0) });
  return { code: out.code, stdout: out.stdoutBytes, stderr: out.stderr };
}

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("polycrypt-cli-", fn);

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("engines lists every engine, as text and JSON", async () => {
  const text = await cli(["engines"]);
  assert.equal(text.code, 0);
  for (const id of ["rsa-8192", "elgamal-8192", "ml-kem-1024", "x25519", "x448", "aes-256-gcm"]) {
    assert.match(td.decode(text.stdout), new RegExp(id));
  }
  const json = JSON.parse(td.decode((await cli(["engines", "--json"])).stdout));
  const mlkem = json.find((e: { id: string }) => e.id === "ml-kem-768");
  assert.deepEqual([
    mlkem.postQuantum,
    mlkem.securityBits,
    mlkem.publicKeyBytes,
    mlkem.encapsulationBytes,
  ], [true, 192, 1184, 1088]);
  const hybrid = json.find((e: { id: string }) => e.id === "ed25519+ml-dsa-65");
  assert.deepEqual(
    [hybrid.kind, hybrid.postQuantum, hybrid.publicKeyBytes, hybrid.signatureBytes],
    ["signature", true, 1984, 3373],
  );
  assert.match(td.decode(text.stdout), /ml-dsa-87\s+ml-dsa\s+yes\s+256\s+2592\s+4627/);
});

Deno.test("bench --quick compares the engines asked for, as a table and JSON", async () => {
  const json = await cli(["bench", "--quick", "--engines", "x25519,ml-kem-512+x25519", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const rows = JSON.parse(td.decode(json.stdout));
  assert.deepEqual(rows.map((r: { id: string }) => r.id), ["x25519", "ml-kem-512+x25519"]);
  const [x, hybrid] = rows;
  assert.deepEqual(
    [x.publicKeyBytes, x.secretKeyBytes, x.encapsulationBytes, x.postQuantum],
    [32, 32, 32, false],
  );
  assert.equal(hybrid.encapsulationBytes, 768 + 32);
  assert.equal(hybrid.postQuantum, true);
  for (const r of rows) {
    for (const k of ["keygenMs", "encapsulateMs", "decapsulateMs"]) {
      assert.ok(Number.isFinite(r[k]) && r[k] > 0, `${r.id} ${k}`);
    }
    assert.ok(r.runs.encapsulate >= 3);
  }
  // Progress goes to stderr, one line per engine when stderr is not a terminal.
  assert.match(json.stderr, /measuring x25519 \(1\/2\)/);
  const table = await cli(["bench", "--quick", "--engines", "ml-kem-512"]);
  assert.match(
    td.decode(table.stdout),
    /^id\s+bits\s+pq\s+public key B.*\nml-kem-512\s+128\s+yes\s+800\s+64\s+768\s/m,
  );
  const unknown = await cli(["bench", "--engines", "rsa-1024"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /valid ids: .*ml-kem-768/);
});

Deno.test("keygen, recipient, encrypt, decrypt, inspect: files, armor, exit codes", async (t) => {
  await withDir(async (dir) => {
    const key = `${dir}/bob.key`;
    await t.step("keygen writes a 0600 identity and prints the recipient on stderr", async () => {
      const r = await cli(["keygen", "-o", key]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await Deno.stat(key)).mode! & 0o777, 0o600);
      assert.match(r.stderr, /^Public key: polycrypt2:x25519\+ml-kem-768:ed25519\+ml-dsa-65:/);
      const text = await Deno.readTextFile(key);
      assert.match(text, /^# created: /);
      assert.match(text, /\nPOLYCRYPT-SECRET-KEY-2:x25519\+ml-kem-768:ed25519\+ml-dsa-65:/);
      const recipient = await cli(["recipient", "-i", key]);
      assert.equal(
        td.decode(recipient.stdout).trim(),
        r.stderr.slice("Public key: ".length).trim(),
      );
    });
    await t.step(
      "keygen never overwrites (exit 3) and rejects unknown engines (exit 2, listing ids)",
      async () => {
        const before = await Deno.readFile(key);
        const again = await cli(["keygen", "-o", key]);
        assert.equal(again.code, 3);
        assert.deepEqual(await Deno.readFile(key), before);
        const bad = await cli(["keygen", "--engine", "rsa-1024"]);
        assert.equal(bad.code, 2);
        // Only the KEM ids: an AEAD or signature id cannot make an identity.
        assert.match(bad.stderr, /KEM ids: .*ml-kem-768.*x25519/);
        assert.doesNotMatch(bad.stderr, /aes-256-gcm|ed25519/);
        assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
      },
    );
    await t.step("keygen without -o prints the identity file on stdout", async () => {
      const r = await cli(["keygen", "--engine", "x25519"]);
      assert.equal(r.code, 0);
      assert.match(td.decode(r.stdout), /POLYCRYPT-SECRET-KEY-2:x25519:/);
    });
    const recipient = td.decode((await cli(["recipient", "-i", key])).stdout).trim();
    const message = te.encode("meet at 7\n");
    await t.step("encrypt -a / decrypt round trip through files and stdin", async () => {
      await Deno.writeFile(`${dir}/msg.txt`, message);
      const enc = await cli([
        "encrypt",
        "-r",
        recipient,
        "-a",
        "-o",
        `${dir}/msg.pcy`,
        `${dir}/msg.txt`,
      ]);
      assert.equal(enc.code, 0, enc.stderr);
      assert.match(
        await Deno.readTextFile(`${dir}/msg.pcy`),
        /^-----BEGIN POLYCRYPT MESSAGE-----\n/,
      );
      const dec = await cli(["decrypt", "-i", key, `${dir}/msg.pcy`]);
      assert.equal(dec.code, 0, dec.stderr);
      assert.deepEqual(dec.stdout, message);
      const piped = await cli(["decrypt", "-i", key], {
        stdin: await Deno.readFile(`${dir}/msg.pcy`),
      });
      assert.deepEqual(piped.stdout, message);
      const info = await cli(["inspect", `${dir}/msg.pcy`]);
      assert.match(td.decode(info.stdout), /x25519\+ml-kem-768/);
      assert.match(td.decode(info.stdout), /aes-256-gcm/);
    });
    await t.step("-R recipients file, --aead stack, --no-pad", async () => {
      await Deno.writeTextFile(`${dir}/friends.txt`, `# my friends\n${recipient}\n`);
      const enc = await cli([
        "encrypt",
        "-R",
        `${dir}/friends.txt`,
        "--aead",
        "aes-256-gcm,xchacha20-poly1305",
        "--no-pad",
      ], {
        stdin: message,
      });
      assert.equal(enc.code, 0, enc.stderr);
      const info = JSON.parse(
        td.decode((await cli(["inspect", "--json"], { stdin: enc.stdout })).stdout),
      );
      assert.deepEqual(info.aead, ["aes-256-gcm", "xchacha20-poly1305"]);
      assert.equal(info.padded, false);
      assert.deepEqual((await cli(["decrypt", "-i", key], { stdin: enc.stdout })).stdout, message);
    });
    await t.step("usage and I/O errors", async () => {
      assert.equal((await cli(["encrypt"], { stdin: message })).code, 2, "no recipient");
      assert.equal(
        (await cli(["encrypt", "-r", "polycrypt1:x25519:AAAA"], { stdin: message })).code,
        2,
        "bad recipient",
      );
      assert.equal((await cli(["encrypt", "-r", recipient, "--bogus"])).code, 2, "unknown flag");
      assert.equal(
        (await cli(["encrypt", "-r", recipient, `${dir}/missing.txt`])).code,
        3,
        "missing input",
      );
      assert.equal((await cli(["nonsense"])).code, 2, "unknown command");
      assert.equal(
        (await cli(["decrypt", "-i", `${dir}/nokey`], { stdin: message })).code,
        3,
        "missing identity file",
      );
      /** `encrypt -r RECIPIENT -o OUT ...rest msg.txt` */
      const encryptTo = (out: string, ...rest: string[]) =>
        cli(["encrypt", "-r", recipient, "-o", `${dir}/${out}`, ...rest, `${dir}/msg.txt`]);
      const same = await encryptTo("msg.txt", "--force");
      assert.equal(same.code, 2, "output == input");
      assert.deepEqual(await Deno.readFile(`${dir}/msg.txt`), message, "input untouched");
      const exists = await encryptTo("msg.pcy");
      assert.equal(exists.code, 3, "existing output without --force");
      const forced = await encryptTo("msg.pcy", "--force");
      assert.equal(forced.code, 0);
      assert.equal((await cli(["--version"])).code, 0);
    });
  });
});

Deno.test("the AND property and one message for every decryption failure", async () => {
  await withDir(async (dir) => {
    const key = `${dir}/bob.key`;
    const other = `${dir}/eve.key`;
    await cli(["keygen", "-o", key]);
    await cli(["keygen", "-o", other]);
    const recipient = td.decode((await cli(["recipient", "-i", key])).stdout).trim();
    await Deno.writeTextFile(`${dir}/pw`, "river stone\n");
    const enc = await cli([
      "encrypt",
      "-r",
      recipient,
      "--passphrase-file",
      `${dir}/pw`,
      "-o",
      `${dir}/m.pcy`,
    ], {
      stdin: te.encode("secret plans"),
    });
    assert.equal(enc.code, 0, enc.stderr);
    const ok = await cli(["decrypt", "-i", key, "-o", `${dir}/out.txt`, `${dir}/m.pcy`], {
      env: { POLYCRYPT_PASSPHRASE: "river stone" },
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await Deno.readTextFile(`${dir}/out.txt`), "secret plans");

    const sealed = await Deno.readFile(`${dir}/m.pcy`);
    const tampered = sealed.slice();
    tampered[tampered.length - 5] ^= 1;
    await Deno.writeFile(`${dir}/t.pcy`, tampered);
    const failures = [
      await cli(["decrypt", "-i", key, `${dir}/m.pcy`], { env: { POLYCRYPT_PASSPHRASE: "wrong" } }),
      await cli(["decrypt", "-i", other, `${dir}/m.pcy`], {
        env: { POLYCRYPT_PASSPHRASE: "river stone" },
      }),
      await cli(["decrypt", "--passphrase-file", `${dir}/pw`, `${dir}/m.pcy`]),
      await cli(["decrypt", "-i", key, `${dir}/t.pcy`], {
        env: { POLYCRYPT_PASSPHRASE: "river stone" },
      }),
    ];
    for (const f of failures) {
      assert.equal(f.code, 1);
      assert.equal(f.stderr, "polycrypt: decryption failed\n");
      assert.equal(f.stdout.length, 0);
    }
    // Identity alone: no passphrase source and no terminal is a usage error, not a decryption.
    const noPass = await cli(["decrypt", "-i", key, `${dir}/m.pcy`]);
    assert.equal(noPass.code, 2);
  });
});

Deno.test("a decryption that fails in the last chunk leaves no output file", async () => {
  await withDir(async (dir) => {
    const key = `${dir}/k.key`;
    await cli(["keygen", "--engine", "x25519", "-o", key]);
    const recipient = td.decode((await cli(["recipient", "-i", key])).stdout).trim();
    const big = new Uint8Array(3 * 65536 + 10).fill(7);
    const enc = await cli(["encrypt", "-r", recipient, "-o", `${dir}/big.pcy`], { stdin: big });
    assert.equal(enc.code, 0);
    const sealed = await Deno.readFile(`${dir}/big.pcy`);
    sealed[sealed.length - 1] ^= 1;
    await Deno.writeFile(`${dir}/big.pcy`, sealed);
    const before = await listDir(dir);
    const dec = await cli(["decrypt", "-i", key, "-o", `${dir}/big.out`, `${dir}/big.pcy`]);
    assert.equal(dec.code, 1);
    assert.deepEqual(await listDir(dir), before, "no output and no temporary file left");
  });
});

Deno.test("protected identity files (passphrase from the environment)", async () => {
  await withDir(async (dir) => {
    const env = { POLYCRYPT_PASSPHRASE: "key file phrase" };
    const r = await cli(["keygen", "--engine", "x25519", "--protect", "-o", `${dir}/p.key`], {
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    const text = await Deno.readTextFile(`${dir}/p.key`);
    assert.match(text, /^-----BEGIN POLYCRYPT SECRET KEY-----/);
    assert.doesNotMatch(text, /POLYCRYPT-SECRET-KEY/);
    const recipient = td.decode((await cli(["recipient", "-i", `${dir}/p.key`], { env })).stdout)
      .trim();
    assert.equal(recipient, r.stderr.slice("Public key: ".length).trim());
    const wrong = await cli(["recipient", "-i", `${dir}/p.key`], {
      env: { POLYCRYPT_PASSPHRASE: "nope" },
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /the passphrase of .*p\.key is wrong/);
  });
});

Deno.test("the passphrase prompt reads the terminal without echo (script(1) pseudo-terminal)", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/in.txt`, "typed secret");
    // script(1) runs the CLI on a pseudo-terminal; the passphrase is typed at each prompt,
    // only once the prompt is on screen (earlier keystrokes would be echoed by the line discipline).
    const child = spawnOnTerminal(["encrypt", "-p", "-o", `${dir}/p.pcy`, `${dir}/in.txt`], PERMS);
    const w = child.stdin.getWriter();
    let screen = "";
    let answered = 0;
    for await (const chunk of child.stdout) {
      screen += td.decode(chunk);
      const prompts =
        screen.match(/(Enter a passphrase \(empty: generate one\)|Repeat the passphrase): /g)
          ?.length ?? 0;
      while (answered < prompts) {
        await w.write(te.encode("tty phrase\r"));
        answered++;
      }
      if (answered === 2 && /Repeat the passphrase: \r?\n/.test(screen)) await w.close();
    }
    if (answered < 2) await w.close();
    const status = await child.status;
    assert.equal(status.code, 0, screen);
    assert.equal(answered, 2, screen);
    assert.doesNotMatch(screen, /tty phrase/, "the passphrase is not echoed");
    const dec = await cli(["decrypt", `${dir}/p.pcy`], {
      env: { POLYCRYPT_PASSPHRASE: "tty phrase" },
    });
    assert.equal(td.decode(dec.stdout), "typed secret");
  });
});

Deno.test("1 GiB through `encrypt | decrypt` in bounded memory", async () => {
  const total = 1024 * 1024 * 1024;
  await withDir(async (dir) => {
    const key = `${dir}/k.key`;
    await cli(["keygen", "-o", key]);
    const recipient = td.decode((await cli(["recipient", "-i", key])).stdout).trim();
    const spawn = (args: string[]) => spawnCli(args, PERMS, { stderr: "inherit" }, true);
    const enc = spawn(["encrypt", "-r", recipient]);
    const dec = spawn(["decrypt", "-i", key]);
    const peak = { enc: 0, dec: 0 };
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const [e, d] = await Promise.all([peakRssKiB(enc.pid), peakRssKiB(dec.pid)]);
        peak.enc = Math.max(peak.enc, e);
        peak.dec = Math.max(peak.dec, d);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const inHash = createHash("sha256");
    const outHash = createHash("sha256");
    const start = performance.now();
    const feed = (async () => {
      const w = enc.stdin.getWriter();
      const block = new Uint8Array(1 << 20);
      for (let i = 0; i < total / block.length; i++) {
        block[0] = i & 0xff;
        block[block.length - 1] = (i >> 8) & 0xff;
        inHash.update(block);
        await w.write(block);
      }
      await w.close();
    })();
    const pipe = enc.stdout.pipeTo(dec.stdin);
    let received = 0;
    for await (const chunk of dec.stdout) {
      received += chunk.length;
      outHash.update(chunk);
    }
    await Promise.all([feed, pipe]);
    const [encStatus, decStatus] = await Promise.all([enc.status, dec.status]);
    polling = false;
    await poll;
    const seconds = (performance.now() - start) / 1000;
    assert.equal(encStatus.code, 0);
    assert.equal(decStatus.code, 0);
    assert.equal(received, total);
    assert.equal(outHash.digest("hex"), inHash.digest("hex"));
    console.log(
      `1 GiB encrypt|decrypt: ${seconds.toFixed(1)} s, ${
        (total / 1e6 / seconds).toFixed(0)
      } MB/s; ` +
        `peak RSS encrypt ${(peak.enc / 1024).toFixed(0)} MiB, decrypt ${
          (peak.dec / 1024).toFixed(0)
        } MiB`,
    );
    // A sanity bound, not a performance assertion: streaming must not hold the file.
    assert.ok(peak.enc > 0 && peak.dec > 0, "RSS was measured");
    assert.ok(peak.enc < 512 * 1024 && peak.dec < 512 * 1024, JSON.stringify(peak));
  });
});

Deno.test("a hostile RSA recipient key is a usage error: exit 2, one line, no stack trace", async () => {
  // Defective SPKI keys made from a real modulus (tests/engines/rsa_test.ts has every case).
  const spkiOf = (n: bigint, e: bigint) => {
    const big = (v: bigint) => new forge.jsbn.BigInteger(v.toString(16), 16);
    const key = forge.pki.setRsaPublicKey(big(n), big(e));
    const der = forge.asn1.toDer(forge.pki.publicKeyToAsn1(key)).getBytes();
    return Uint8Array.from(der as string, (c: string) => c.charCodeAt(0));
  };
  const modulus = (spki: Uint8Array) => {
    const asn1 = forge.asn1.fromDer(forge.util.binary.raw.encode(spki));
    const key = forge.pki.publicKeyFromAsn1(asn1) as forge.pki.rsa.PublicKey;
    return BigInt(`0x${key.n.toString(16)}`);
  };
  const n = modulus((await registry.kem("rsa-2048").generateKeyPair()).publicKey);
  const n8192 = modulus(
    await Deno.readFile(new URL("../fixtures/rsa/rsa8192.spki.der", import.meta.url)),
  );
  const cases: [string, string][] = [
    ["even modulus", encodeRecipient("rsa-2048", spkiOf(n - 1n, 65537n))],
    ["e >= n", encodeRecipient("rsa-2048", spkiOf(n, n + 2n))],
    ["huge e", encodeRecipient("rsa-2048", spkiOf(n, n - 2n))],
    ["3 divides n", encodeRecipient("rsa-2048", spkiOf(n - (n % 6n) + 3n, 65537n))],
    ["rsa-8192, 8,191-bit e", encodeRecipient("rsa-8192", spkiOf(n8192, (1n << 8190n) + 1n))],
  ];
  await withDir(async (dir) => {
    for (const [what, recipient] of cases) {
      const r = await cli(["encrypt", "-r", recipient], { stdin: te.encode("hi") });
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      const lines = r.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
      assert.match(lines[0], /^polycrypt: publicKey /, what);
      assert.doesNotMatch(r.stderr, /\bat |internal error/, what);
      assert.equal(r.stdout.length, 0, what);
    }
    // The same from a recipients file.
    await Deno.writeTextFile(`${dir}/bad.pub`, `${cases[0][1]}\n`);
    const r = await cli(["encrypt", "-R", `${dir}/bad.pub`], { stdin: te.encode("hi") });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  });
});
