// Committed format-v1 envelopes (tests/vectors/polycrypt/envelopes/) must keep decrypting.
import assert from "node:assert/strict";
import { decrypt, DecryptionError } from "../../mod.ts";
import { assertRejects } from "./_helpers.ts";

interface Vector {
  name: string;
  identity?: string;
  passphrase?: string;
  plaintextSha256: string;
  plaintextSize: number;
  envelope: string;
  armored: boolean;
}

const file = JSON.parse(
  await Deno.readTextFile(
    new URL("../vectors/polycrypt/envelopes/envelopes.json", import.meta.url),
  ),
) as { format: string; vectors: Vector[] };

Deno.test("format v1 envelope vectors decrypt to their recorded plaintext", async (t) => {
  assert.equal(file.format, "polycrypt envelope v1");
  let checked = 0;
  for (const v of file.vectors) {
    await t.step(v.name, async () => {
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
      checked++;
    });
  }
  assert.equal(checked, 10);
});
