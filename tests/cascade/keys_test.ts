// Recipient and identity strings: layout, checksums, engines, and secrecy of errors.
import assert from "node:assert/strict";
import {
  encodeIdentity,
  encodeRecipient,
  FormatError,
  generateIdentity,
  identitiesFromText,
  parseIdentity,
  parseRecipient,
  recipientFromIdentity,
} from "../../mod.ts";
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
      assert.ok(identity.startsWith(`POLYCRYPT-SECRET-KEY-1:${id}:`));
      assert.equal(await recipientFromIdentity(identity), recipient);
      assert.equal(parseRecipient(recipient).engine.id, id);
      assert.equal(parseIdentity(identity).engine.id, id);
    });
  }
});

Deno.test("the default identity engine is x25519+ml-kem-768", async () => {
  const { recipient } = await generateIdentity();
  assert.ok(recipient.startsWith("polycrypt1:x25519+ml-kem-768:"));
});

Deno.test("malformed strings are FormatErrors that never echo an identity", async () => {
  const { identity, recipient } = await identityFor("x25519");
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
