// The CLI's file path (issue 22, "File speed at least age's"): files read in 1 MiB pieces and
// written in batches, sealed through libcrypto with --allow-ffi (the `cli` task) or through
// WebCrypto/noble without: both write envelopes the other opens, to a file or to stdout, with a
// password layer, several AEAD layers and armor, and the output is still a 0600 file renamed into
// place. Peak RSS is printed, not asserted (docs/performance.md has the figures).
import assert from "node:assert/strict";
import { MAIN, PERMS, runCli, withTempDir } from "./_cli.ts";
import { runCommand } from "../_process.ts";

const FFI = [...PERMS, "--allow-ffi"];
const MiB = 1024 * 1024;

/** Random bytes (getRandomValues gives at most 64 KiB at a time). */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** The CLI under GNU time when there is one: its result and peak RSS in MiB (0 without). */
async function timed(args: string[], perms: string[]) {
  const time = await Deno.stat("/usr/bin/time").then(() => true, () => false);
  if (!time) return { ...(await runCli(args, perms)), rssMiB: 0 };
  const report = await Deno.makeTempFile();
  try {
    const result = await runCommand(
      "/usr/bin/time",
      ["-f", "%M", "-o", report, Deno.execPath(), "run", ...perms, MAIN, ...args],
      { env: { NO_COLOR: "1" } },
    );
    const kib = Number((await Deno.readTextFile(report)).trim().split("\n").pop());
    return { ...result, rssMiB: kib / 1024 };
  } finally {
    await Deno.remove(report);
  }
}

Deno.test("file path: envelopes from the libcrypto and fallback backends open on either", async () => {
  await withTempDir("polycrypt-file-path-", async (dir) => {
    const key = `${dir}/bob.key`;
    assert.equal((await runCli(["keygen", "-o", key], PERMS)).code, 0);
    const recipient = (await runCli(["recipient", "-i", key], PERMS)).stdout.trim();
    // Not a whole number of pieces or chunks: the last piece and chunk are short.
    const plain = randomBytes(3 * MiB + 12345);
    await Deno.writeFile(`${dir}/plain`, plain);
    const cases: { name: string; flags: string[] }[] = [
      { name: "default", flags: [] },
      {
        name: "three layers",
        flags: ["--aead", "chacha20-poly1305,aes-256-gcm,xchacha20-poly1305"],
      },
      { name: "no padding", flags: ["--no-pad"] },
      { name: "armor", flags: ["-a"] },
    ];
    for (const { name, flags } of cases) {
      for (const [sealer, sealPerms] of [["ffi", FFI], ["fallback", PERMS]] as const) {
        const sealed = `${dir}/${name}.${sealer}.pc`;
        const enc = await timed(
          ["encrypt", "-r", recipient, ...flags, "-o", sealed, `${dir}/plain`],
          sealPerms,
        );
        assert.equal(enc.code, 0, `${name} ${sealer}: ${enc.stderr}`);
        assert.equal((await Deno.stat(sealed)).mode! & 0o777, 0o600, `${name}: mode`);
        console.log(`${name}: encrypt (${sealer}) peak RSS ${enc.rssMiB.toFixed(0)} MiB`);
        for (const [opener, openPerms] of [["ffi", FFI], ["fallback", PERMS]] as const) {
          const out = `${dir}/${name}.${sealer}.${opener}.out`;
          const dec = await timed(["decrypt", "-i", key, "-o", out, sealed], openPerms);
          assert.equal(dec.code, 0, `${name} ${sealer} -> ${opener}: ${dec.stderr}`);
          assert.deepEqual(await Deno.readFile(out), plain, `${name} ${sealer} -> ${opener}`);
        }
        // To stdout, as `decrypt FILE > out` does.
        const piped = await runCli(["decrypt", "-i", key, sealed], FFI);
        assert.equal(piped.code, 0, piped.stderr);
        assert.deepEqual(piped.stdoutBytes, plain, `${name} ${sealer} -> stdout`);
      }
      // Both backends write the same sizes (the bytes differ: fresh keys and salts each time).
      const sizes = await Promise.all(
        ["ffi", "fallback"].map(async (s) => (await Deno.stat(`${dir}/${name}.${s}.pc`)).size),
      );
      assert.equal(sizes[0], sizes[1], `${name}: sizes`);
    }
  });
});

Deno.test("file path: a recipient and a passphrase, and a tampered file, through libcrypto", async () => {
  await withTempDir("polycrypt-file-path-", async (dir) => {
    const key = `${dir}/bob.key`;
    assert.equal((await runCli(["keygen", "-o", key], PERMS)).code, 0);
    const recipient = (await runCli(["recipient", "-i", key], PERMS)).stdout.trim();
    await Deno.writeTextFile(`${dir}/pass`, "correct horse battery staple\n");
    const plain = randomBytes(2 * MiB + 7);
    await Deno.writeFile(`${dir}/plain`, plain);
    const sealed = `${dir}/plain.pc`;
    const enc = await runCli(
      [
        "encrypt",
        "-r",
        recipient,
        "--passphrase-file",
        `${dir}/pass`,
        "-o",
        sealed,
        `${dir}/plain`,
      ],
      FFI,
    );
    assert.equal(enc.code, 0, enc.stderr);
    for (const perms of [FFI, PERMS]) {
      const out = `${dir}/out-${perms.length}`;
      const dec = await runCli(
        ["decrypt", "-i", key, "--passphrase-file", `${dir}/pass`, "-o", out, sealed],
        perms,
      );
      assert.equal(dec.code, 0, dec.stderr);
      assert.deepEqual(await Deno.readFile(out), plain);
    }
    // One flipped byte in the middle of the payload: exit 1, and no output file, temporary or not.
    const bytes = await Deno.readFile(sealed);
    bytes[bytes.length >> 1] ^= 1;
    await Deno.writeFile(`${dir}/bad.pc`, bytes);
    const out = `${dir}/bad.out`;
    const bad = await runCli(
      ["decrypt", "-i", key, "--passphrase-file", `${dir}/pass`, "-o", out, `${dir}/bad.pc`],
      FFI,
    );
    assert.equal(bad.code, 1, bad.stderr);
    const left = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
    assert.ok(!left.some((n) => n.startsWith(".bad.out") || n === "bad.out"), left.join(" "));
  });
});
