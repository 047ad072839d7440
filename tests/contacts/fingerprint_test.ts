// Fingerprints and safety numbers (docs/contacts.md sections 1 and 2): the committed vectors,
// Signal's own vector for the numeric construction, and the properties both sides rely on.
import assert from "node:assert/strict";
import {
  encodeRecipient,
  fingerprint,
  FINGERPRINT_BYTES,
  FormatError,
  formatSafetyNumber,
  generateIdentity,
  SAFETY_NUMBER_ITERATIONS,
  safetyNumber,
} from "../../mod.ts";
import { numericSide } from "../../contacts/fingerprint.ts";
import { sha256 } from "../../engines/_hash.ts";

const vectors = JSON.parse(
  await Deno.readTextFile(new URL("./vectors.json", import.meta.url)),
) as {
  alice: { recipient: string; fingerprint: string };
  bob: { recipient: string; fingerprint: string };
  safetyNumber: string;
};

Deno.test("fingerprint: the committed vectors (default x25519+ml-kem-768 keys)", () => {
  for (const who of [vectors.alice, vectors.bob]) {
    assert.ok(who.recipient.startsWith("polycrypt1:x25519+ml-kem-768:"));
    assert.equal(fingerprint(who.recipient), who.fingerprint);
  }
  assert.equal(fingerprint(vectors.alice.recipient), "GMCM AQ4R O5JI ZA2P ZRJH E55X C6DD VROP");
});

Deno.test("fingerprint: the derivation written in docs/contacts.md, step by step", () => {
  const r = vectors.bob.recipient;
  const digest = sha256(new TextEncoder().encode(`polycrypt-fingerprint-v1:${r}`));
  // RFC 4648 base32 of the first 20 bytes, done here bit by bit as the spec says.
  let bits = "";
  for (const b of digest.subarray(0, FINGERPRINT_BYTES)) bits += b.toString(2).padStart(8, "0");
  const b32 = bits.match(/.{5}/g)!.map((c) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[parseInt(c, 2)]);
  assert.equal(b32.length, 32);
  assert.equal(fingerprint(r), b32.join("").match(/.{4}/g)!.join(" "));
});

Deno.test("fingerprint: covers the engine id and every key byte; blanks around do not count", async () => {
  const key = new Uint8Array(32).fill(9);
  const base = fingerprint(encodeRecipient("x25519", key));
  assert.match(base, /^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
  assert.equal(fingerprint(`\n ${encodeRecipient("x25519", key)} \n`), base);
  for (let i = 0; i < key.length; i++) {
    const other = key.slice();
    other[i] ^= 0x40;
    assert.notEqual(fingerprint(encodeRecipient("x25519", other)), base, `byte ${i}`);
  }
  const { recipient } = await generateIdentity("x25519+ml-kem-768");
  assert.notEqual(fingerprint(recipient), fingerprint(vectors.bob.recipient));
});

Deno.test("fingerprint: refuses what is not a recipient string, never hashing it", () => {
  const r = vectors.bob.recipient;
  assert.throws(() => fingerprint(r.slice(0, -1)), FormatError); // truncated: bad checksum
  assert.throws(() => fingerprint("hello"), FormatError);
  assert.throws(
    () => fingerprint(r.replace("polycrypt1:", "POLYCRYPT-SECRET-KEY-1:")),
    FormatError,
  );
  assert.throws(() => fingerprint(42 as unknown as string), TypeError);
});

Deno.test("safety number: Signal's numeric construction gives Signal's vector", () => {
  // libsignal rust/protocol/src/fingerprint.rs, fingerprint_test_v1 (5200 iterations).
  const alice = Uint8Array.fromHex(
    "0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868",
  );
  const bob = Uint8Array.fromHex(
    "05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b",
  );
  const te = new TextEncoder();
  const a = numericSide(alice, te.encode("+14152222222"), 5200);
  const b = numericSide(bob, te.encode("+14153333333"), 5200);
  assert.equal(SAFETY_NUMBER_ITERATIONS, 5200);
  assert.equal(
    a < b ? a + b : b + a,
    "300354477692869396892869876765458257569162576843440918079131",
  );
});

Deno.test("safety number: the committed vector, the same on both sides, different for a third key", async () => {
  const { alice, bob } = vectors;
  assert.equal(safetyNumber(alice.recipient, bob.recipient), vectors.safetyNumber);
  assert.equal(safetyNumber(bob.recipient, alice.recipient), vectors.safetyNumber);
  assert.equal(
    vectors.safetyNumber,
    "729602647606145469031324273493756789804675409315601585569472",
  );
  // A man in the middle who gave Alice his own key instead of Bob's: Alice's number differs.
  const mallory = (await generateIdentity()).recipient;
  assert.notEqual(safetyNumber(alice.recipient, mallory), vectors.safetyNumber);
  // Each half is one side's 30 digits, sorted.
  const te = new TextEncoder();
  const halves = [alice, bob].map((w) =>
    numericSide(te.encode(w.recipient), te.encode("polycrypt-safety-number-v1"), 5200)
  ).sort();
  assert.equal(halves.join(""), vectors.safetyNumber);
});

Deno.test("safety number: formatted as Signal shows it; bad input refused", () => {
  const lines = formatSafetyNumber(vectors.safetyNumber).split("\n");
  assert.equal(lines.length, 3);
  for (const line of lines) assert.match(line, /^\d{5} \d{5} \d{5} \d{5}$/);
  assert.equal(lines.join("").replaceAll(" ", ""), vectors.safetyNumber);
  assert.throws(() => formatSafetyNumber("123"), RangeError);
  assert.throws(() => safetyNumber(vectors.alice.recipient, "nope"), FormatError);
  assert.throws(() => numericSide(new Uint8Array(1), new Uint8Array(0), 1), RangeError);
});
