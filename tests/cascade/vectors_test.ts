// Committed envelopes (tests/vectors/polycrypt/envelopes/) must keep decrypting: format 1.0, and
// the key-private RSA stanzas (format 1, stanza revision 2, docs/format.md).
import assert from "node:assert/strict";
import {
  decrypt,
  DecryptionError,
  decryptWithSender,
  generateIdentity,
  inspect,
} from "../../mod.ts";
import { assertRejects } from "./_helpers.ts";

interface Vector {
  name: string;
  identity?: string;
  passphrase?: string;
  plaintextSha256: string;
  plaintextSize: number;
  envelope: string;
  armored: boolean;
  /** The sender's recipient string, for a signed envelope. */
  sender?: string;
}

async function load(name: string): Promise<{ format: string; vectors: Vector[] }> {
  const url = new URL(`../vectors/polycrypt/envelopes/${name}`, import.meta.url);
  return JSON.parse(await Deno.readTextFile(url));
}

async function decryptsToRecorded(v: Vector): Promise<void> {
  const sealed = v.armored ? v.envelope : Uint8Array.fromBase64(v.envelope);
  const options = { identities: v.identity ? [v.identity] : [], passphrase: v.passphrase };
  const plaintext = await decrypt(sealed, options);
  assert.equal(plaintext.length, v.plaintextSize);
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new Uint8Array(plaintext)),
  ).toHex();
  assert.equal(digest, v.plaintextSha256);
  if (v.identity && v.passphrase) {
    await assertRejects(decrypt(sealed, { identities: [v.identity] }), [DecryptionError]);
  }
}

/** Decrypts every vector of `name` (then runs `more` on it) and checks the file's format and count. */
async function checkFile(
  t: Deno.TestContext,
  name: string,
  format: string,
  count: number,
  more: (v: Vector) => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  const file = await load(name);
  assert.equal(file.format, format);
  let checked = 0;
  for (const v of file.vectors) {
    await t.step(v.name, async () => {
      await decryptsToRecorded(v);
      await more(v);
      checked++;
    });
  }
  assert.equal(checked, count);
}

Deno.test("format v1 envelope vectors decrypt to their recorded plaintext", (t) =>
  checkFile(t, "envelopes.json", "polycrypt envelope v1", 10));

Deno.test("key-private RSA stanza vectors decrypt, and their RSA stanzas are modulus + 16 bytes", (t) =>
  checkFile(
    t,
    "rsa_key_private.json",
    "polycrypt envelope v1, RSA stanzas key-private",
    3,
    async (v) => {
      const info = await inspect(v.armored ? v.envelope : Uint8Array.fromBase64(v.envelope));
      assert.ok(info.stanzas?.length, v.name);
      for (const stanza of info.stanzas!) {
        // docs/format.md: body = encapsulation || wrapped file key (32 + 16); an RSA encapsulation
        // is the modulus plus 16 bytes (rsa-2048: 272, rsa-3072: 400), X25519's 32.
        const expected = { "rsa-2048": 272, "rsa-3072+x25519": 400 + 32 }[stanza.type];
        assert.equal(stanza.bytes, expected! + 48, stanza.type);
      }
    },
  ));

Deno.test("signed (sealed sender) vectors decrypt and name their verified sender", async (t) => {
  const stranger = await generateIdentity("x25519", { signatureEngine: "ed25519" });
  await checkFile(
    t,
    "signed.json",
    "polycrypt envelope v1, signed (sealed sender)",
    4,
    async (v) => {
      const sealed = v.armored ? v.envelope : Uint8Array.fromBase64(v.envelope);
      const options = { identities: v.identity ? [v.identity] : [], passphrase: v.passphrase };
      const { sender } = await decryptWithSender(sealed, options);
      assert.equal(sender?.recipient, v.sender);
      assert.equal(
        (await decrypt(sealed, { ...options, verify: [v.sender!] })).length,
        v.plaintextSize,
      );
      await assertRejects(
        decrypt(sealed, { ...options, verify: [stranger.recipient] }),
        [DecryptionError],
      );
      // The signature is inside the encrypted payload: the header shows only that it is signed.
      const info = await inspect(sealed);
      if (!v.passphrase) assert.equal(info.signed, true);
      assert.ok(!JSON.stringify(info).includes(v.sender!.split(":")[3].slice(0, 16)));
    },
  );
});
