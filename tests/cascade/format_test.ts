// The envelope layout as pure encode/parse pairs (cascade/format.ts), in the manner of typage's
// format.test.ts: parse(encode(x)) gives x back, encode(parse(bytes)) gives the bytes back for
// every committed envelope vector, and malformed input fails with FormatError.
import assert from "node:assert/strict";
import { ARGON2_FLOOR, armor, dearmor, encrypt, FormatError, sniffEnvelope } from "../../mod.ts";
import {
  encodeHeader,
  encodeOuter,
  type Header,
  LIMITS,
  MAGIC,
  OUTER_SIZE,
  parseHeader,
  parseOuter,
  readHeader,
} from "../../cascade/format.ts";
import { openPasswordLayer } from "../../cascade/password.ts";
import { ByteReader, once } from "../../cascade/_reader.ts";
import { identityFor } from "./_helpers.ts";

interface Vector {
  name: string;
  passphrase?: string;
  envelope: string;
  armored: boolean;
}

const vectors = (JSON.parse(
  await Deno.readTextFile(
    new URL("../vectors/polycrypt/envelopes/envelopes.json", import.meta.url),
  ),
) as { vectors: Vector[] }).vectors;

const bytesOf = (v: Vector) => v.armored ? dearmor(v.envelope) : Uint8Array.fromBase64(v.envelope);

const HEADERS: Header[] = [
  {
    passwordLayer: false,
    padded: true,
    signed: false,
    aeadIds: ["aes-256-gcm"],
    stanzas: [{ type: "x25519", body: new Uint8Array(80).fill(7) }],
  },
  {
    passwordLayer: true,
    padded: false,
    signed: true,
    aeadIds: ["aes-256-gcm", "xchacha20-poly1305", "chacha20-poly1305", "aes-256-gcm-siv"],
    stanzas: [],
  },
  {
    passwordLayer: true,
    padded: true,
    signed: false,
    aeadIds: ["a"],
    stanzas: [
      { type: "x25519+ml-kem-768", body: new Uint8Array(0) },
      { type: "~".repeat(255), body: new Uint8Array(LIMITS.stanzaBody).fill(1) },
      { type: "plugin/v1", body: new Uint8Array([1, 2, 3]) },
    ],
  },
];

Deno.test("parseHeader(encodeHeader(h)) is h, and reads no further than the header", () => {
  for (const header of HEADERS) {
    const bytes = encodeHeader(header);
    const parsed = parseHeader(bytes);
    assert.deepEqual(parsed.header, header);
    assert.deepEqual(parsed.bytes, bytes);
    // Trailing bytes (the MAC and payload in an envelope) are left alone.
    const followed = new Uint8Array([...bytes, 9, 9, 9]);
    assert.deepEqual(parseHeader(followed).header, header);
    assert.equal(parseHeader(followed).bytes.length, bytes.length);
  }
});

Deno.test("parseOuter(encodeOuter(o)) is o", () => {
  const outer = { argon2: { ...ARGON2_FLOOR }, salt: new Uint8Array(16).fill(0xa5) };
  const bytes = encodeOuter(outer);
  assert.equal(bytes.length, OUTER_SIZE);
  assert.deepEqual(bytes.subarray(0, MAGIC.length), MAGIC);
  assert.deepEqual(parseOuter(bytes), outer);
  const big = {
    argon2: { memoryKiB: 2 ** 32 - 1, passes: 2 ** 31, parallelism: 255 },
    salt: outer.salt,
  };
  assert.deepEqual(parseOuter(encodeOuter(big)), big);
});

Deno.test("every committed envelope vector re-encodes to its own bytes", async (t) => {
  let checked = 0;
  for (const v of vectors) {
    await t.step(v.name, async () => {
      const bytes = bytesOf(v);
      let headerSource: Uint8Array;
      if (v.passphrase) {
        const outer = bytes.subarray(0, OUTER_SIZE);
        assert.deepEqual(encodeOuter(parseOuter(outer)), outer);
        // The header hides under the password layer: open it to reach the inner header.
        const reader = new ByteReader(once(bytes));
        const head = (await reader.readExact(MAGIC.length + 1))!;
        const { inner } = await openPasswordLayer(head, reader, v.passphrase);
        const parsed = await readHeader(inner);
        assert.equal(parsed.header.passwordLayer, true);
        headerSource = parsed.bytes;
      } else {
        headerSource = bytes.subarray(MAGIC.length + 1);
      }
      const { header, bytes: raw } = parseHeader(headerSource);
      assert.deepEqual(encodeHeader(header), raw);
      assert.deepEqual(raw, headerSource.subarray(0, raw.length));
      checked++;
    });
  }
  assert.equal(checked, 10);
});

Deno.test("a header read from a stream equals the one parsed from bytes", async () => {
  const bytes = encodeHeader(HEADERS[2]);
  const pieces = [bytes.subarray(0, 3), bytes.subarray(3, 70000), bytes.subarray(70000)];
  const reader = new ByteReader(ReadableStream.from(pieces));
  const read = await readHeader(reader);
  assert.deepEqual(read, parseHeader(bytes));
});

Deno.test("malformed headers are rejected with FormatError", () => {
  const good = encodeHeader(HEADERS[0]);
  for (let n = 0; n < good.length; n++) {
    assert.throws(() => parseHeader(good.subarray(0, n)), FormatError, `truncated at ${n}`);
  }
  const with_ = (edit: (b: Uint8Array) => void) => {
    const b = good.slice();
    edit(b);
    return b;
  };
  const cases: [RegExp, Uint8Array][] = [
    // Bits 0-2 are the password layer, padding and signature (docs/format.md section 3).
    [/^unknown header flags$/, with_((b) => b[0] = 0x08)],
    [/^unknown header flags$/, with_((b) => b[0] = 0x82)],
    [/^bad AEAD layer count$/, with_((b) => b[1] = 0)],
    [/^bad AEAD layer count$/, with_((b) => b[1] = 5)],
    [/^an AEAD id is not printable ASCII$/, with_((b) => b[3] = 0x80)],
    [/^an AEAD id is not printable ASCII$/, with_((b) => b[3] = 0x20)],
    [/^more than 2048 stanzas$/, with_((b) => b.set([0x08, 0x01], 14))],
    [/^empty stanza type$/, with_((b) => b[16] = 0)],
    [/^a stanza type is not printable ASCII$/, with_((b) => b[17] = 0x7f)],
    [/^stanza body over 65535 bytes$/, with_((b) => b.set([0, 1, 0, 0], 23))],
  ];
  for (const [message, bytes] of cases) {
    assert.throws(
      () => parseHeader(bytes),
      (e: Error) => e instanceof FormatError && message.test(e.message),
    );
  }
});

Deno.test("a header growing past 4 MiB is refused before the bytes beyond are read", async () => {
  // 2048 stanzas of 65535 bytes each: the 64th body would end past 4 MiB.
  let pulled = 0;
  async function* hostile(): AsyncGenerator<Uint8Array> {
    const prefix = new Uint8Array([0, 1, 1, 0x61, 0x08, 0x00]);
    pulled += prefix.length;
    yield prefix;
    for (let i = 0; i < 2048; i++) {
      const stanza = new Uint8Array(6 + 0xffff);
      stanza.set([1, 0x61, 0, 0, 0xff, 0xff]);
      pulled += stanza.length;
      yield stanza;
    }
  }
  await assert.rejects(readHeader(new ByteReader(hostile())), (e: Error) => {
    assert.ok(e instanceof FormatError);
    assert.equal(e.message, "the header exceeds 4 MiB");
    return true;
  });
  assert.ok(pulled <= LIMITS.headerBytes + 6 + 0xffff, `read ${pulled} bytes`);
});

Deno.test("malformed password prefixes are rejected with FormatError", () => {
  const good = encodeOuter({ argon2: ARGON2_FLOOR, salt: new Uint8Array(16) });
  for (let n = 0; n < good.length; n++) {
    assert.throws(() => parseOuter(good.subarray(0, n)), FormatError, `truncated at ${n}`);
  }
  const bad = (at: number, value: number) => {
    const b = good.slice();
    b[at] = value;
    return b;
  };
  assert.throws(() => parseOuter(bad(0, 0x51)), FormatError, "magic");
  assert.throws(() => parseOuter(bad(7, 0x02)), FormatError, "version");
  assert.throws(() => parseOuter(bad(8, 0x00)), FormatError, "mode");
  assert.throws(() => parseOuter(bad(9, 0x02)), /unknown password KDF/);
});

Deno.test("encodeHeader refuses what no reader would accept", () => {
  const base = HEADERS[0];
  const stanza = base.stanzas[0];
  assert.throws(() => encodeHeader({ ...base, aeadIds: [] }), RangeError);
  assert.throws(() => encodeHeader({ ...base, aeadIds: ["a", "b", "c", "d", "e"] }), RangeError);
  assert.throws(() => encodeHeader({ ...base, aeadIds: ["aes 256"] }), TypeError);
  assert.throws(() => encodeHeader({ ...base, stanzas: [] }), RangeError);
  assert.throws(() => encodeHeader({ ...base, stanzas: [{ ...stanza, type: "" }] }), TypeError);
  assert.throws(
    () => encodeHeader({ ...base, stanzas: [{ ...stanza, type: "x".repeat(256) }] }),
    TypeError,
  );
  assert.throws(
    () => encodeHeader({ ...base, stanzas: [{ ...stanza, body: new Uint8Array(65536) }] }),
    RangeError,
  );
  assert.throws(
    () => encodeHeader({ ...base, stanzas: new Array(2049).fill(stanza) }),
    RangeError,
  );
  assert.throws(
    () => encodeOuter({ argon2: ARGON2_FLOOR, salt: new Uint8Array(15) }),
    RangeError,
  );
});

Deno.test("sniffEnvelope tells binary from armored and a password layer from none", async () => {
  const { recipient } = await identityFor("x25519");
  const pub = await encrypt(new Uint8Array(5), { recipients: [recipient] });
  const pw = await encrypt(new Uint8Array(5), { passphrase: "pw", argon2: ARGON2_FLOOR });
  const armored = (b: Uint8Array) => new TextEncoder().encode(armor(b));
  assert.deepEqual(sniffEnvelope(pub), { armored: false, passwordProtected: false });
  assert.deepEqual(sniffEnvelope(pw.subarray(0, 9)), { armored: false, passwordProtected: true });
  assert.deepEqual(sniffEnvelope(armored(pub)), { armored: true, passwordProtected: false });
  assert.deepEqual(sniffEnvelope(armored(pw).subarray(0, 200)), {
    armored: true,
    passwordProtected: true,
  });
  const indented = new Uint8Array([...new TextEncoder().encode("  \r\n"), ...armored(pw)]);
  assert.equal(sniffEnvelope(indented)?.passwordProtected, true);
  assert.equal(sniffEnvelope(pw.subarray(0, 8)), undefined, "the mode byte is missing");
  assert.equal(sniffEnvelope(new TextEncoder().encode("hello world")), undefined);
  const unknownMode = pub.slice(0, 10);
  unknownMode[8] = 3; // 0x02 is a session message (docs/sessions.md section 4), 0x03 unknown
  assert.equal(sniffEnvelope(unknownMode), undefined);
  unknownMode[8] = 2;
  unknownMode[9] = 3; // a session message of unknown kind
  assert.equal(sniffEnvelope(unknownMode), undefined);
  assert.equal(
    sniffEnvelope(new TextEncoder().encode("-----BEGIN POLYCRYPT MESSAGE-----\n!!!!")),
    undefined,
  );
});
