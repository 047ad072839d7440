// The invitation codec (docs/relay.md section 12): encode/parse round trips, a fixed vector that
// pins the byte layout, and every refusal.
import assert from "node:assert/strict";
import { encodeRecipient, FormatError, generateIdentity } from "../../mod.ts";
import { toBase64 } from "../../engines/_bytes.ts";
import { sha256 } from "../../engines/_hash.ts";
import { encodeInvitation, INVITATION_PREFIX, parseInvitation } from "../../relay/mod.ts";

const encoder = new TextEncoder();

Deno.test("invitation: encode, parse and re-encode give the same text", async () => {
  for (const engine of ["x25519", "x25519+ml-kem-768"]) {
    const { recipient } = await generateIdentity(engine);
    for (const relay of ["ws://127.0.0.1:8800", "tls://relay.example:443", "wss://r.example/q"]) {
      const sendId = crypto.getRandomValues(new Uint8Array(24));
      const text = encodeInvitation({ relay, sendId, recipient });
      assert.ok(text.startsWith(INVITATION_PREFIX));
      assert.match(text, /^polycrypt-invite1:[A-Za-z0-9_-]+$/);
      const parsed = parseInvitation(`  ${text}\n`);
      assert.deepEqual(parsed, { relay, sendId, recipient });
      assert.equal(encodeInvitation(parsed), text);
    }
  }
});

Deno.test("invitation: the byte layout of docs/relay.md section 12", () => {
  const recipient = encodeRecipient("x25519", new Uint8Array(32).fill(9));
  const relay = "ws://127.0.0.1:8800";
  const sendId = new Uint8Array(24).map((_, i) => i);
  const url = encoder.encode(relay);
  const rec = encoder.encode(recipient);
  const payload = new Uint8Array([
    0,
    url.length,
    ...url,
    24,
    ...sendId,
    rec.length >> 8,
    rec.length & 0xff,
    ...rec,
  ]);
  const check = sha256(encoder.encode("polycrypt-invite1:"), payload).slice(0, 4);
  const expected = "polycrypt-invite1:" +
    toBase64(new Uint8Array([...payload, ...check]), { alphabet: "base64url", omitPadding: true });
  assert.equal(encodeInvitation({ relay, sendId, recipient }), expected);
});

Deno.test("invitation: refusals", async () => {
  const { recipient } = await generateIdentity("x25519");
  const sendId = new Uint8Array(24).fill(7);
  const good = encodeInvitation({ relay: "tcp://127.0.0.1:1", sendId, recipient });
  const bad = [
    "polycrypt-invite2:" + good.slice(INVITATION_PREFIX.length), // another version
    good.slice(0, -1), // truncated
    good.slice(0, -1) + (good.at(-1) === "A" ? "B" : "A"), // a character changed
    good + "=", // padding
    good.replace(/.$/, "+"), // not base64url
    INVITATION_PREFIX,
    recipient,
  ];
  for (const text of bad) assert.throws(() => parseInvitation(text), FormatError, text);
  for (
    const relay of [
      "http://example.com",
      "not a url",
      "udp://127.0.0.1:1",
      "ws://relay.example:1/\x1b[2J",
      "ws://relay.example:1/\npath",
      "ws://relay.example:1/ a",
    ]
  ) {
    assert.throws(() => encodeInvitation({ relay, sendId, recipient }), FormatError);
  }
  assert.throws(
    () => encodeInvitation({ relay: "ws://a:1", sendId: new Uint8Array(0), recipient }),
    FormatError,
  );
  assert.throws(
    () => encodeInvitation({ relay: "ws://a:1", sendId, recipient: recipient.slice(0, -2) }),
    FormatError,
  );
  // Trailing bytes after the recipient, with a valid checksum, are refused too.
  const body = Uint8Array.fromBase64(good.slice(INVITATION_PREFIX.length), {
    alphabet: "base64url",
  });
  const longer = new Uint8Array([...body.subarray(0, -4), 0]);
  const check = sha256(encoder.encode(INVITATION_PREFIX), longer).slice(0, 4);
  const trailing = INVITATION_PREFIX +
    toBase64(new Uint8Array([...longer, ...check]), { alphabet: "base64url", omitPadding: true });
  assert.throws(() => parseInvitation(trailing), /trailing/);
});

Deno.test("invitation: the optional signalling queue (docs/relay.md sections 12 and 14)", async () => {
  const { recipient } = await generateIdentity("x25519");
  const relay = "ws://127.0.0.1:8800";
  const sendId = crypto.getRandomValues(new Uint8Array(24));
  const signalId = crypto.getRandomValues(new Uint8Array(24));
  const plain = encodeInvitation({ relay, sendId, recipient });
  const text = encodeInvitation({ relay, sendId, recipient, signalId });
  assert.deepEqual(parseInvitation(text), { relay, sendId, recipient, signalId });
  assert.equal(encodeInvitation(parseInvitation(text)), text);
  // The layout: the invitation without it, then 0x53 || u8 length || id, then the checksum.
  const body = (t: string) =>
    Uint8Array.fromBase64(t.slice(INVITATION_PREFIX.length), { alphabet: "base64url" });
  const payload = body(plain).subarray(0, -4);
  const longer = body(text);
  assert.deepEqual(longer.subarray(0, payload.length), payload);
  assert.deepEqual(longer.subarray(payload.length, -4), new Uint8Array([0x53, 24, ...signalId]));
  assert.deepEqual(
    longer.subarray(-4),
    sha256(encoder.encode(INVITATION_PREFIX), longer.subarray(0, -4)).slice(0, 4),
  );
  // Without it, the text is what it always was; a bad length or another tag is refused.
  assert.equal(parseInvitation(plain).signalId, undefined);
  for (const tail of [[0x53, 0], [0x53, 25, ...signalId], [0x54, 24, ...signalId], [0x53]]) {
    const p = new Uint8Array([...payload, ...tail]);
    const bad = INVITATION_PREFIX + toBase64(
      new Uint8Array([...p, ...sha256(encoder.encode(INVITATION_PREFIX), p).slice(0, 4)]),
      { alphabet: "base64url", omitPadding: true },
    );
    assert.throws(() => parseInvitation(bad), FormatError);
  }
  assert.throws(
    () => encodeInvitation({ relay, sendId, recipient, signalId: new Uint8Array(0) }),
    FormatError,
  );
});
