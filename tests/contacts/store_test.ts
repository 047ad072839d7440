// The sealed store of cli/_contacts.ts (docs/contacts.md sections 3 and 4): the committed book
// vector, the format re-derived step by step from the spec, and the history's append-only log.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  encodeIdentity,
  encodeRecipient,
  hkdf,
  hmac,
  padmeLength,
  parseIdentity,
  registry,
} from "../../mod.ts";
import { type Contact, History, openBook, sealBook } from "../../cli/_contacts.ts";

const te = new TextEncoder();
const vector = JSON.parse(
  await Deno.readTextFile(new URL("./book_vector.json", import.meta.url)),
) as { identity: string; contacts: Contact[]; sealed: string };
const sealed = Uint8Array.fromHex(vector.sealed);
const other = encodeIdentity("x25519", new Uint8Array(32).fill(2));

Deno.test("contact book: the committed vector opens, and the spec's steps give the same JSON", async () => {
  assert.deepEqual(await openBook(vector.identity, sealed), vector.contacts);
  // docs/contacts.md section 3, by hand.
  const magic = te.encode("polycrypt contacts v1\n");
  assert.deepEqual(sealed.subarray(0, 22), magic);
  const salt = sealed.subarray(22, 54);
  const nonce = sealed.subarray(54, 78);
  const key = await hkdf(
    "SHA-256",
    parseIdentity(vector.identity).secretKey,
    salt,
    te.encode("polycrypt store v1 contacts"),
    32,
  );
  const plain = await registry.aead("xchacha20-poly1305").open(
    key,
    nonce,
    sealed.subarray(78),
    sealed.subarray(0, 54),
  );
  const length = new DataView(plain.buffer, plain.byteOffset).getUint32(0);
  assert.equal(plain.length, padmeLength(4 + length));
  assert.ok(plain.subarray(4 + length).every((b) => b === 0));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(plain.subarray(4, 4 + length))), {
    version: 1,
    contacts: vector.contacts,
  });
});

Deno.test("contact book: another identity, any flipped byte or a cut is refused", async () => {
  await assert.rejects(openBook(other, sealed));
  for (let i = 0; i < sealed.length; i += 7) {
    const bad = sealed.slice();
    bad[i] ^= 0x01;
    await assert.rejects(openBook(vector.identity, bad), `byte ${i}`);
  }
  await assert.rejects(openBook(vector.identity, sealed.subarray(0, sealed.length - 1)));
  await assert.rejects(openBook(vector.identity, sealed.subarray(0, 60)));
});

Deno.test("contact book: each sealing is fresh (salt, nonce); sizes are PADME-padded", async () => {
  const again = await sealBook(vector.identity, vector.contacts);
  assert.notDeepEqual(again, sealed);
  assert.equal(again.length, sealed.length);
  assert.deepEqual(await openBook(vector.identity, again), vector.contacts);
  const many = Array.from({ length: 5 }, (_, i) => ({
    name: `c${i}`,
    recipient: encodeRecipient("x25519", new Uint8Array(32).fill(9 + i)),
    added: "2026-12-03T00:00:00.000Z",
  }));
  for (let n = 0; n <= many.length; n++) {
    const bytes = await sealBook(vector.identity, many.slice(0, n));
    const json = te.encode(JSON.stringify({ version: 1, contacts: many.slice(0, n) }));
    assert.equal(bytes.length, 78 + padmeLength(4 + json.length) + 16);
  }
});

Deno.test("history: appended entries come back in order; reordering or another identity is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-history-" });
  const saved = Deno.env.get("XDG_CONFIG_HOME");
  Deno.env.set("XDG_CONFIG_HOME", dir);
  try {
    const peers = [encodeRecipient("x25519", new Uint8Array(32).fill(9))];
    const h = await History.open(vector.identity, peers);
    assert.equal(h.entries.length, 0);
    const entries = [
      { t: 1, dir: "in" as const, text: "hello" },
      { t: 2, dir: "out" as const, text: "hi there, a longer line" },
      { t: 3, dir: "in" as const, text: "bye" },
    ];
    for (const e of entries) await h.append(e);
    // The file's name is HMAC-SHA-256(nameKey, peers)[0..16] in hex (docs/contacts.md §4).
    const nameKey = await hkdf(
      "SHA-256",
      parseIdentity(vector.identity).secretKey,
      new Uint8Array(0),
      te.encode("polycrypt store v1 history name"),
      32,
    );
    const file = join(
      dir,
      "polycrypt",
      "history",
      hmac("SHA-256", nameKey, te.encode(peers[0])).subarray(0, 16).toHex(),
    );
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.deepEqual((await History.open(vector.identity, peers)).entries, entries);

    // A torn last record (a crash mid-append) is dropped, the rest stays readable.
    const whole = await Deno.readFile(file);
    await Deno.writeFile(file, whole.subarray(0, whole.length - 5));
    assert.deepEqual((await History.open(vector.identity, peers)).entries, entries.slice(0, 2));

    // Records swapped: each is bound to its position.
    const records: Uint8Array[] = [];
    for (let off = 0; off < whole.length;) {
      const n = new DataView(whole.buffer, off).getUint32(0);
      records.push(whole.subarray(off, off + 4 + n));
      off += 4 + n;
    }
    assert.equal(records.length, 3);
    const swapped = new Uint8Array(whole.length);
    swapped.set(records[1], 0);
    swapped.set(records[0], records[1].length);
    swapped.set(records[2], records[0].length + records[1].length);
    await Deno.writeFile(file, swapped);
    await assert.rejects(History.open(vector.identity, peers), /sealed under another identity/);

    // Another identity: another file name, and it cannot read this one.
    await Deno.writeFile(file, whole);
    const theirs = await History.open(other, peers);
    assert.equal(theirs.entries.length, 0);
    await theirs.append({ t: 4, dir: "in", text: "x" });
    const names = [...Deno.readDirSync(join(dir, "polycrypt", "history"))];
    assert.equal(names.length, 2);
  } finally {
    if (saved === undefined) Deno.env.delete("XDG_CONFIG_HOME");
    else Deno.env.set("XDG_CONFIG_HOME", saved);
    await Deno.remove(dir, { recursive: true });
  }
});
