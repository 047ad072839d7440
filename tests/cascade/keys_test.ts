// Recipient and identity strings: layout, checksums, engines, and secrecy of errors.
import assert from "node:assert/strict";
import {
  decrypt,
  encodeIdentity,
  encodeRecipient,
  encrypt,
  FormatError,
  generateIdentity,
  identitiesFromText,
  parseIdentity,
  parseRecipient,
  recipientFromIdentity,
  upgradeIdentity,
} from "../../mod.ts";
import { sha256 } from "../../engines/_hash.ts";
import { identityFor } from "./_helpers.ts";

Deno.test("layout: prefix, engine id, base64url with a 4-byte SHA-256 check", async () => {
  const pk = new Uint8Array(32).fill(0xab);
  const r = encodeRecipient("x25519", pk);
  const [scheme, id, body] = r.split(":");
  assert.equal(scheme, "polycrypt1");
  assert.equal(id, "x25519");
  const bytes = Uint8Array.fromBase64(body, { alphabet: "base64url" });
  assert.deepEqual(bytes.subarray(0, 32), pk);
  const checked = new Uint8Array([...new TextEncoder().encode("polycrypt1:x25519:"), ...pk]);
  const check = new Uint8Array(await crypto.subtle.digest("SHA-256", checked)).subarray(0, 4);
  assert.deepEqual(bytes.subarray(32), check);
  assert.match(r, /^[A-Za-z0-9_:+.-]+$/, "safe on a command line");
});

Deno.test("identities of every family round-trip to their recipient", async (t) => {
  for (
    const id of ["x25519", "x448", "ml-kem-768", "elgamal-2048", "rsa-2048", "x25519+ml-kem-768"]
  ) {
    await t.step(id, async () => {
      const { identity, recipient } = await identityFor(id);
      assert.ok(identity.startsWith(`POLYCRYPT-SECRET-KEY-2:${id}:ed25519+ml-dsa-65:`));
      assert.equal(await recipientFromIdentity(identity), recipient);
      assert.equal(parseRecipient(recipient).engine.id, id);
      assert.equal(parseIdentity(identity).engine.id, id);
      // Version 1 (encryption only) round-trips too.
      const v1 = await generateIdentity(id, { signatureEngine: null });
      assert.ok(v1.identity.startsWith(`POLYCRYPT-SECRET-KEY-1:${id}:`));
      assert.equal(await recipientFromIdentity(v1.identity), v1.recipient);
      assert.equal(parseIdentity(v1.identity).signingKey, undefined);
      assert.equal(parseRecipient(v1.recipient).verifyingKey, undefined);
    });
  }
});

Deno.test("the default identity: x25519+ml-kem-768 to encrypt, ed25519+ml-dsa-65 to sign", async () => {
  const { identity, recipient } = await generateIdentity();
  assert.ok(recipient.startsWith("polycrypt2:x25519+ml-kem-768:ed25519+ml-dsa-65:"));
  const parsed = parseIdentity(identity);
  assert.equal(parsed.signingKey?.engine.id, "ed25519+ml-dsa-65");
  assert.equal(parsed.signingKey?.secretKey.length, 64, "two 32-byte seeds");
  const r = parseRecipient(recipient);
  assert.equal(r.verifyingKey?.publicKey.length, r.verifyingKey?.engine.publicKeySize);
  // The signing key works: what the identity signs, the recipient's key verifies.
  const message = new TextEncoder().encode("from the owner");
  const signature = await parsed.signingKey!.engine.sign(parsed.signingKey!.secretKey, message);
  assert.equal(
    await r.verifyingKey!.engine.verify(r.verifyingKey!.publicKey, message, signature),
    true,
  );
});

Deno.test("version 2 layout: u16 signing-key length, signing key, KEM key, 4-byte check", () => {
  const kem = new Uint8Array(32).fill(0xab);
  const sig = new Uint8Array(32).fill(0xcd);
  const r = encodeRecipient("x25519", kem, { id: "ed25519", key: sig });
  const [scheme, kemId, sigId, body] = r.split(":");
  assert.deepEqual([scheme, kemId, sigId], ["polycrypt2", "x25519", "ed25519"]);
  const bytes = Uint8Array.fromBase64(body, { alphabet: "base64url" });
  assert.deepEqual(bytes.subarray(0, 2), new Uint8Array([0, 32]));
  assert.deepEqual(bytes.subarray(2, 34), sig);
  assert.deepEqual(bytes.subarray(34, 66), kem);
  const check = sha256(
    new TextEncoder().encode("polycrypt2:x25519:ed25519:"),
    bytes.subarray(0, 66),
  ).subarray(0, 4);
  assert.deepEqual(bytes.subarray(66), check);
  const parsed = parseRecipient(r);
  assert.deepEqual(parsed.publicKey, kem);
  assert.deepEqual(parsed.verifyingKey?.publicKey, sig);
  // The encode/parse pair re-encodes to the same string.
  assert.equal(
    encodeRecipient(parsed.engine.id, parsed.publicKey, {
      id: parsed.verifyingKey!.engine.id,
      key: parsed.verifyingKey!.publicKey,
    }),
    r,
  );
});

Deno.test("version 2: malformed strings are FormatErrors that never echo an identity", async () => {
  const { identity, recipient } = await identityFor("x25519");
  const body = identity.split(":")[3];
  const bad = [
    identity.slice(0, -1),
    identity.replace("x25519:", "x448:"),
    identity.replace(":ed25519+ml-dsa-65:", ":ml-dsa-65:"),
    identity.replace(":ed25519+ml-dsa-65:", ":nope:"),
    identity.replace(":ed25519+ml-dsa-65:", ":x25519:"),
    identity.replace(":ed25519+ml-dsa-65:", ":"),
    identity.replace("SECRET-KEY-2", "SECRET-KEY-1"),
    "POLYCRYPT-SECRET-KEY-2:x25519:ed25519+ml-dsa-65:AAAAAAAA",
    recipient,
  ];
  for (const b of bad) {
    try {
      parseIdentity(b);
      assert.fail(`accepted ${b.slice(0, 50)}`);
    } catch (e) {
      assert.ok(e instanceof FormatError, String(e));
      assert.ok(!e.message.includes(body.slice(0, 12)), "error echoes key material");
    }
  }
  // A recipient whose signing key has the wrong size for its engine.
  const short = encodeRecipient("x25519", new Uint8Array(32).fill(9), {
    id: "ed25519+ml-dsa-65",
    key: new Uint8Array(32),
  });
  assert.throws(() => parseRecipient(short), FormatError);
  assert.throws(() => parseRecipient(identity), FormatError);
});

Deno.test("upgradeIdentity keeps the encryption key and adds a signing key", async () => {
  const old = await generateIdentity("x25519", { signatureEngine: null });
  const sealed = await encrypt(new TextEncoder().encode("to the old key"), {
    recipients: [old.recipient],
  });
  const upgraded = await upgradeIdentity(old.identity, { signatureEngine: "ml-dsa-44" });
  assert.ok(upgraded.recipient.startsWith("polycrypt2:x25519:ml-dsa-44:"));
  assert.equal(
    new TextDecoder().decode(await decrypt(sealed, { identities: [upgraded.identity] })),
    "to the old key",
  );
  await assert.rejects(upgradeIdentity(upgraded.identity), TypeError);
});

Deno.test("malformed strings are FormatErrors that never echo an identity", async () => {
  const { identity, recipient } = await generateIdentity("x25519", { signatureEngine: null });
  const body = identity.split(":")[2];
  const bad = [
    identity.slice(0, -1),
    identity.slice(0, -2) + (identity.at(-2) === "A" ? "B" : "A") + identity.at(-1),
    identity.replace("x25519", "x448"),
    identity.replace("x25519", "nope"),
    identity.replace("x25519", "aes-256-gcm"),
    "POLYCRYPT-SECRET-KEY-1:x25519:" + body + "*",
    "POLYCRYPT-SECRET-KEY-1:" + body,
    recipient,
    "",
  ];
  for (const b of bad) {
    try {
      parseIdentity(b);
      assert.fail(`accepted ${b.slice(0, 30)}`);
    } catch (e) {
      assert.ok(e instanceof FormatError, String(e));
      assert.ok(!e.message.includes(body.slice(0, 12)), "error echoes key material");
    }
  }
  assert.throws(() => parseRecipient(identity), FormatError);
  assert.throws(() => parseRecipient(42 as never), TypeError);
});

Deno.test("identity files: comments and blank lines are skipped", () => {
  const a = encodeIdentity("x25519", new Uint8Array(32).fill(1));
  const b = encodeIdentity("x25519", new Uint8Array(32).fill(2));
  assert.deepEqual(identitiesFromText(`# created: today\n\n${a}\r\n  ${b}  \n# end\n`), [a, b]);
});
