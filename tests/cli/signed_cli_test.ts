// Signed messages and files on the command line (issue 21 §3, docs/cli.md "Signed messages"):
// encrypt --sign, decrypt names the sender or says unsigned, decrypt --verify, and the detached
// sign/verify commands. A streamed signed file that is cut short or whose signature is bad
// leaves no output file.
import assert from "node:assert/strict";
import { fingerprint, identitiesFromText } from "../../mod.ts";
import { patternBytes } from "../cascade/_helpers.ts";
import { envelopeWith, signedPayload } from "../cascade/_signed.ts";
import { keyPair, PERMS, runCli, withTempDir } from "./_cli.ts";

/** Files left in `dir` (temporary outputs included). */
async function filesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("encrypt --sign: decrypt names the sender; --verify accepts only that sender", async () => {
  await withTempDir("signed-cli", async (dir) => {
    const alice = await keyPair(dir, undefined, { name: "alice", perms: PERMS });
    const bob = await keyPair(dir, undefined, { name: "bob", perms: PERMS });
    await Deno.writeTextFile(`${dir}/alice.pub`, alice.recipient + "\n");
    await Deno.writeTextFile(`${dir}/bob.pub`, bob.recipient + "\n");
    let r = await runCli(
      ["encrypt", "-R", `${dir}/bob.pub`, "--sign", "-i", alice.key, "-a", "-o", `${dir}/m.txt`],
      PERMS,
      { stdin: "meet at 7\n" },
    );
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(["decrypt", "-i", bob.key, `${dir}/m.txt`], PERMS);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "meet at 7\n");
    assert.equal(r.stderr.trim(), `polycrypt: signed by ${fingerprint(alice.recipient)}`);
    r = await runCli(
      ["decrypt", "-i", bob.key, "--verify", `${dir}/alice.pub`, `${dir}/m.txt`],
      PERMS,
    );
    assert.equal(r.code, 0, r.stderr);
    // Someone else expected: decryption failed, exit 1, and -o writes nothing.
    r = await runCli(
      ["decrypt", "-i", bob.key, "--verify", bob.recipient, "-o", `${dir}/out`, `${dir}/m.txt`],
      PERMS,
    );
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), "polycrypt: decryption failed");
    assert.ok(!(await filesIn(dir)).some((n) => n.includes("out")), "no output file");
    // Unsigned: said clearly, and refused under --verify.
    r = await runCli(["encrypt", "-R", `${dir}/bob.pub`, "-a", "-o", `${dir}/u.txt`], PERMS, {
      stdin: "anonymous\n",
    });
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(["decrypt", "-i", bob.key, `${dir}/u.txt`], PERMS);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /unsigned/);
    r = await runCli(
      ["decrypt", "-i", bob.key, "--verify", alice.recipient, `${dir}/u.txt`],
      PERMS,
    );
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
  });
});

Deno.test("encrypt --sign: usage errors", async () => {
  await withTempDir("signed-cli", async (dir) => {
    const bob = await keyPair(dir, undefined, { name: "bob", perms: PERMS });
    const old = `${dir}/old.key`;
    assert.equal((await runCli(["keygen", "--sign-engine", "none", "-o", old], PERMS)).code, 0);
    for (
      const args of [
        ["encrypt", "-r", bob.recipient, "--sign"], // no -i
        ["encrypt", "-r", bob.recipient, "-i", bob.key], // -i without --sign
        ["encrypt", "-r", bob.recipient, "--sign", "-i", old], // cannot sign
        ["decrypt", "-i", bob.key, "--verify", `${dir}/nope.pub`],
      ]
    ) {
      const r = await runCli(args, PERMS, { stdin: "x" });
      assert.notEqual(r.code, 0, args.join(" "));
      assert.notEqual(r.code, 70, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    }
    const r = await runCli(["encrypt", "-r", bob.recipient, "--sign", "-i", old], PERMS, {
      stdin: "x",
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /keygen --upgrade/);
  });
});

Deno.test("decrypt -o: a streamed signed file with a bad signature or cut short leaves no file", async () => {
  await withTempDir("signed-cli", async (dir) => {
    const alice = await keyPair(dir, undefined, { name: "alice", perms: PERMS });
    const bob = await keyPair(dir, undefined, { name: "bob", perms: PERMS });
    const data = patternBytes(1_000_000); // 16 STREAM chunks: most are released before the end
    // A sender who holds the file key writes a payload whose signature does not verify.
    const [aliceIdentity] = identitiesFromText(await Deno.readTextFile(alice.key));
    const bad = await envelopeWith(bob.recipient, true, async (prefix) => {
      const payload = await signedPayload(aliceIdentity, data, prefix);
      payload[payload.length - 1] ^= 1;
      return payload;
    });
    await Deno.writeFile(`${dir}/bad.pcy`, bad);
    let r = await runCli(
      ["decrypt", "-i", bob.key, "-o", `${dir}/out.bin`, `${dir}/bad.pcy`],
      PERMS,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(await filesIn(dir), ["alice.key", "bad.pcy", "bob.key"]);
    // The same payload with its signature intact decrypts: the file above failed for the bit.
    const good = await envelopeWith(
      bob.recipient,
      true,
      (prefix) => signedPayload(aliceIdentity, data, prefix),
    );
    await Deno.writeFile(`${dir}/good.pcy`, good);
    r = await runCli(["decrypt", "-i", bob.key, "-o", `${dir}/out.bin`, `${dir}/good.pcy`], PERMS);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await Deno.readFile(`${dir}/out.bin`), data);
    await Deno.remove(`${dir}/out.bin`);
    // Cut short after 600 KB: no output.
    await Deno.writeFile(`${dir}/cut.pcy`, good.subarray(0, 600_000));
    r = await runCli(["decrypt", "-i", bob.key, "-o", `${dir}/out.bin`, `${dir}/cut.pcy`], PERMS);
    assert.equal(r.code, 1);
    assert.deepEqual(await filesIn(dir), [
      "alice.key",
      "bad.pcy",
      "bob.key",
      "cut.pcy",
      "good.pcy",
    ]);
  });
});

Deno.test("sign and verify: detached signatures, exit 0 or 1", async () => {
  await withTempDir("signed-cli", async (dir) => {
    const alice = await keyPair(dir, undefined, { name: "alice", perms: PERMS });
    const eve = await keyPair(dir, undefined, { name: "eve", perms: PERMS });
    await Deno.writeFile(`${dir}/release.tar`, patternBytes(300_000));
    let r = await runCli(["sign", "-i", alice.key, `${dir}/release.tar`], PERMS);
    assert.equal(r.code, 0, r.stderr);
    const sig = await Deno.readTextFile(`${dir}/release.tar.sig`);
    assert.match(sig, /^-----BEGIN POLYCRYPT SIGNATURE-----\n/);
    r = await runCli(["verify", "-r", alice.recipient, `${dir}/release.tar`], PERMS);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`good signature, signed by ${fingerprint(alice.recipient)}`));
    // The signer's identity file names the signer too.
    r = await runCli(["verify", "-r", alice.key, `${dir}/release.tar`], PERMS);
    assert.equal(r.code, 0, r.stderr);
    // Another signer, another file, a damaged signature: exit 1.
    r = await runCli(["verify", "-r", eve.recipient, `${dir}/release.tar`], PERMS);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), "polycrypt: signature verification failed");
    const other = patternBytes(300_000);
    other[5] ^= 1;
    await Deno.writeFile(`${dir}/other.tar`, other);
    r = await runCli(
      [
        "verify",
        "-r",
        alice.recipient,
        "--signature",
        `${dir}/release.tar.sig`,
        `${dir}/other.tar`,
      ],
      PERMS,
    );
    assert.equal(r.code, 1);
    // Signing again does not overwrite without --force; -o - writes to stdout.
    r = await runCli(["sign", "-i", alice.key, `${dir}/release.tar`], PERMS);
    assert.equal(r.code, 3);
    r = await runCli(["sign", "-i", alice.key, "-o", "-", `${dir}/release.tar`], PERMS);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^-----BEGIN POLYCRYPT SIGNATURE-----/);
    // No signer named, or a missing signature file: usage and I/O errors, never exit 0.
    assert.equal((await runCli(["verify", `${dir}/release.tar`], PERMS)).code, 2);
    assert.equal(
      (await runCli(["verify", "-r", alice.recipient, `${dir}/other.tar`], PERMS)).code,
      3,
    );
  });
});
