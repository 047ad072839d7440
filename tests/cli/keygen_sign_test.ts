// keygen makes identities that sign (version 2); --sign-engine chooses the engine, none makes an
// encryption-only (version 1) identity, and --upgrade adds a signing key to an old one.
import assert from "node:assert/strict";
import { decrypt, encrypt, parseIdentity, recipientFromIdentity } from "../../mod.ts";
import { identitiesFromText } from "../../mod.ts";
import { runDeno } from "../_process.ts";
import { withTempDir } from "./_cli.ts";

const CLI = ["run", "--allow-read", "--allow-write", "--allow-env", "cli/main.ts"];

async function identityIn(path: string): Promise<string> {
  const [identity] = identitiesFromText(await Deno.readTextFile(path));
  return identity;
}

Deno.test("keygen: the default identity signs with ed25519+ml-dsa-65", async () => {
  await withTempDir("keygen-sign", async (dir) => {
    const r = await runDeno([...CLI, "keygen", "-o", `${dir}/a.key`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Public key: polycrypt2:x25519\+ml-kem-768:ed25519\+ml-dsa-65:/);
    const text = await Deno.readTextFile(`${dir}/a.key`);
    assert.match(text, /^# signature engine: ed25519\+ml-dsa-65$/m);
    assert.equal((await Deno.stat(`${dir}/a.key`)).mode! & 0o777, 0o600);
    const identity = await identityIn(`${dir}/a.key`);
    assert.equal(parseIdentity(identity).signingKey?.engine.id, "ed25519+ml-dsa-65");
  });
});

Deno.test("keygen --sign-engine: another engine, none, and an unknown id", async () => {
  await withTempDir("keygen-sign", async (dir) => {
    let r = await runDeno([...CLI, "keygen", "--sign-engine", "ml-dsa-87", "-o", `${dir}/b.key`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      parseIdentity(await identityIn(`${dir}/b.key`)).signingKey?.engine.id,
      "ml-dsa-87",
    );
    r = await runDeno([...CLI, "keygen", "--sign-engine", "none", "-o", `${dir}/c.key`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Public key: polycrypt1:/);
    assert.equal(parseIdentity(await identityIn(`${dir}/c.key`)).signingKey, undefined);
    r = await runDeno([...CLI, "keygen", "--sign-engine", "rsa-2048", "-o", `${dir}/d.key`]);
    assert.equal(r.code, 2);
    await assert.rejects(Deno.stat(`${dir}/d.key`), Deno.errors.NotFound);
  });
});

Deno.test("keygen --upgrade keeps the encryption key and adds a signing key", async () => {
  await withTempDir("keygen-sign", async (dir) => {
    let r = await runDeno([...CLI, "keygen", "--sign-engine", "none", "-o", `${dir}/old.key`]);
    assert.equal(r.code, 0, r.stderr);
    const old = await identityIn(`${dir}/old.key`);
    const sealed = await encrypt(new TextEncoder().encode("before the upgrade"), {
      recipients: [await recipientFromIdentity(old)],
    });
    r = await runDeno([
      ...CLI,
      "keygen",
      "--upgrade",
      "-i",
      `${dir}/old.key`,
      "-o",
      `${dir}/new.key`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const upgraded = await identityIn(`${dir}/new.key`);
    assert.ok(upgraded.startsWith("POLYCRYPT-SECRET-KEY-2:x25519+ml-kem-768:ed25519+ml-dsa-65:"));
    assert.equal(
      new TextDecoder().decode(await decrypt(sealed, { identities: [upgraded] })),
      "before the upgrade",
    );
    assert.equal(await identityIn(`${dir}/old.key`), old, "the old file is left as it was");
    // Upgrading twice, or without -o, is a usage error and writes nothing.
    r = await runDeno([
      ...CLI,
      "keygen",
      "--upgrade",
      "-i",
      `${dir}/new.key`,
      "-o",
      `${dir}/x.key`,
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /already has a signing key/);
    await assert.rejects(Deno.stat(`${dir}/x.key`), Deno.errors.NotFound);
    r = await runDeno([...CLI, "keygen", "--upgrade", "-i", `${dir}/old.key`]);
    assert.equal(r.code, 2);
  });
});
