// Detached signatures (docs/format.md section 10): round trips, streams, the wrong file, the
// wrong signer, every part of the signature text.
import assert from "node:assert/strict";
import {
  dearmor,
  FormatError,
  generateIdentity,
  parseRecipient,
  registry,
  SignatureError,
  signDetached,
  verifyDetached,
} from "../../mod.ts";
import { armor } from "../../cascade/armor.ts";
import { assertRejects, patternBytes } from "./_helpers.ts";

const alice = await generateIdentity();
const eve = await generateIdentity();
const file = patternBytes(200_000);

Deno.test("detached: a signature verifies for its signer and its file only", async () => {
  const signature = await signDetached(file, alice.identity);
  assert.match(signature, /^-----BEGIN POLYCRYPT SIGNATURE-----\n/);
  assert.match(signature, /\n-----END POLYCRYPT SIGNATURE-----\n$/);
  const signer = await verifyDetached(file, signature, [alice.recipient]);
  assert.equal(signer.recipient, alice.recipient);
  // Streams read once give the same signature check.
  assert.equal(
    (await verifyDetached(ReadableStream.from([file.subarray(0, 7), file.subarray(7)]), signature, [
      alice.recipient,
    ])).recipient,
    alice.recipient,
  );
  const other = file.slice();
  other[123_456] ^= 0x10;
  await assertRejects(verifyDetached(other, signature, [alice.recipient]), [SignatureError]);
  await assertRejects(verifyDetached(file, signature, [eve.recipient]), [SignatureError]);
  // A public signing key works as well as a recipient string.
  const key = parseRecipient(alice.recipient).verifyingKey!;
  assert.equal((await verifyDetached(file, signature, [key])).signatureEngine, "ed25519+ml-dsa-65");
  await assertRejects(verifyDetached(file, signature, []), [TypeError]);
});

Deno.test("detached: every byte of the signature and of the sender block matters", async () => {
  const signature = await signDetached(new Uint8Array(10), alice.identity);
  const bytes = dearmor(signature, "SIGNATURE");
  const size = registry.signature("ed25519+ml-dsa-65").signatureSize;
  // Flip one bit at positions spread over the whole text: magic, length, sender block, signature.
  const positions = [
    0,
    7,
    8,
    9,
    10,
    40,
    bytes.length - size - 1,
    bytes.length - size,
    bytes.length - 1,
  ];
  for (let step = 97; step < bytes.length; step += 997) positions.push(step);
  for (const at of positions) {
    const bad = bytes.slice();
    bad[at] ^= 0x01;
    await assertRejects(
      verifyDetached(new Uint8Array(10), armor(bad, "SIGNATURE"), [alice.recipient]),
      [SignatureError, FormatError],
    );
  }
  // Cut short, or an envelope's armor instead: not a signature.
  await assertRejects(
    verifyDetached(new Uint8Array(10), armor(bytes.subarray(0, bytes.length - 1), "SIGNATURE"), [
      alice.recipient,
    ]),
    [FormatError],
  );
  await assertRejects(
    verifyDetached(new Uint8Array(10), armor(bytes), [alice.recipient]),
    [FormatError],
  );
});

Deno.test("detached: Eve cannot move Alice's signature under her name or the reverse", async () => {
  const data = new TextEncoder().encode("pay 10 to Eve");
  const byAlice = dearmor(await signDetached(data, alice.identity), "SIGNATURE");
  const byEve = dearmor(await signDetached(data, eve.identity), "SIGNATURE");
  const size = registry.signature("ed25519+ml-dsa-65").signatureSize;
  const swapped = new Uint8Array([
    ...byEve.subarray(0, byEve.length - size),
    ...byAlice.subarray(-size),
  ]);
  await assertRejects(
    verifyDetached(data, armor(swapped, "SIGNATURE"), [eve.recipient]),
    [SignatureError],
  );
  // ...and the reverse: Alice's name over Eve's signature.
  const reversed = new Uint8Array([
    ...byAlice.subarray(0, byAlice.length - size),
    ...byEve.subarray(-size),
  ]);
  await assertRejects(
    verifyDetached(data, armor(reversed, "SIGNATURE"), [alice.recipient]),
    [SignatureError],
  );
  // A version-1 identity cannot sign.
  const old = await generateIdentity("x25519", { signatureEngine: null });
  await assertRejects(signDetached(data, old.identity), [TypeError]);
});
