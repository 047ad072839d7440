// Issue 20 section 7, the stated limit of format version 1 (docs/format.md section 2): the header
// MAC does not bind the outer prefix, so a passphrase holder can re-wrap the inner body under a
// new passphrase and the recipients still accept it; they cannot change what is inside. This test
// pins the documented behaviour, so the next format version's fix shows up here.
import assert from "node:assert/strict";
import { ARGON2_FLOOR, decrypt, DecryptionError, encrypt, inspect } from "../../mod.ts";
import { ByteReader, collect, once } from "../../cascade/_reader.ts";
import { MAGIC, parseHeader } from "../../cascade/format.ts";
import { createPasswordLayer, openPasswordLayer } from "../../cascade/password.ts";
import { sealStream } from "../../cascade/stream.ts";
import { assertRejects, identityFor } from "./_helpers.ts";

/** The inner body of a password envelope, as a passphrase holder can read it. */
async function innerBody(sealed: Uint8Array, passphrase: string): Promise<Uint8Array> {
  const reader = new ByteReader(once(sealed));
  const head = (await reader.readExact(MAGIC.length + 1))!;
  const { inner } = await openPasswordLayer(head, reader, passphrase);
  return await collect(inner.rest());
}

/** `inner` sealed under a new passphrase (and a new salt and cost), as a passphrase holder can. */
async function rewrap(inner: Uint8Array, passphrase: string): Promise<Uint8Array> {
  const layer = await createPasswordLayer(passphrase, { ...ARGON2_FLOOR, passes: 3 });
  return new Uint8Array([
    ...layer.prefix,
    ...await collect(sealStream(once(inner), layer.streamKeys, false)),
  ]);
}

Deno.test("a passphrase holder sees the inner header and can re-wrap it, but not change it", async () => {
  const bob = await identityFor("x25519");
  const sealed = await encrypt(new TextEncoder().encode("for bob"), {
    recipients: [bob.recipient],
    passphrase: "shared",
    argon2: ARGON2_FLOOR,
  });
  const inner = await innerBody(sealed, "shared");
  // What the passphrase holder learns: the inner header, the same as `inspect` on a public one.
  const seen = await inspect(new Uint8Array([...MAGIC, 0x00, ...inner]));
  assert.deepEqual(seen.stanzas?.map((s) => s.type), ["x25519"]);
  assert.deepEqual(seen.aead, ["aes-256-gcm"]);
  assert.equal(seen.paddedSize, 8);

  // Re-wrapped under another passphrase, salt and cost: Bob accepts it (documented limit).
  const rewrapped = await rewrap(inner, "mallory's");
  assert.equal((await inspect(rewrapped)).argon2?.passes, 3);
  assert.deepEqual(
    new TextDecoder().decode(
      await decrypt(rewrapped, { identities: [bob.identity], passphrase: "mallory's" }),
    ),
    "for bob",
  );
  // What it cannot do: change a byte of the stanzas, the MAC or the payload.
  const headerEnd = parseHeader(inner).bytes.length;
  for (const at of [headerEnd - 1, headerEnd, inner.length - 1]) {
    const changed = inner.slice();
    changed[at] ^= 1;
    await assertRejects(
      decrypt(await rewrap(changed, "mallory's"), {
        identities: [bob.identity],
        passphrase: "mallory's",
      }),
      [DecryptionError],
      `byte ${at}`,
    );
  }
});
