// Mode 0x02 framing (docs/sessions.md section 4): the prekey head, the kinds, what sniffEnvelope,
// isSealedEnvelope and inspect see of a session message, and that decrypt still refuses it.
import assert from "node:assert/strict";
import { FormatError } from "../../errors.ts";
import { armor, decrypt, inspect, isSealedEnvelope, sniffEnvelope } from "../../mod.ts";
import { MAGIC } from "../../cascade/format.ts";
import { concatBytes } from "../../engines/_bytes.ts";
import { registry } from "../../engines/mod.ts";
import { parseBundle } from "../../sessions/bundle.ts";
import { initiate } from "../../sessions/handshake.ts";
import {
  describeSessionMessage,
  encodePrekeyHead,
  NO_OPK,
  parsePrekeyFrame,
  parseRatchetFrame,
  PREKEY_MESSAGE,
  RATCHET_MESSAGE,
  ratchetMessagePrefix,
  SESSION_MODE,
  sessionMessageKind,
} from "../../sessions/message.ts";
import { bobWith, contains, identityOf } from "./_prekeys.ts";

/** A ratchet body of the documented shape: nonce_h || lp(enc_header) || enc_body. */
function body(headerBytes: number, bodyBytes: number): Uint8Array {
  const out = new Uint8Array(12 + 4 + headerBytes + bodyBytes).fill(0x5a);
  new DataView(out.buffer).setUint32(12, headerBytes);
  return out;
}

Deno.test("the constants and the ratchet prefix are docs/sessions.md section 4's", () => {
  assert.equal(SESSION_MODE, 0x02);
  assert.equal(PREKEY_MESSAGE, 0x01);
  assert.equal(RATCHET_MESSAGE, 0x02);
  assert.deepEqual(ratchetMessagePrefix(), Uint8Array.fromHex("50435259505400010202"));
  assert.equal(sessionMessageKind(ratchetMessagePrefix()), 2);
  assert.equal(sessionMessageKind(Uint8Array.fromHex("50435259505400010201")), 1);
  for (
    const other of [
      "50435259505400010203",
      "50435259505400010001",
      "504352595054000102",
      "50435259505400020202",
    ]
  ) {
    assert.equal(sessionMessageKind(Uint8Array.fromHex(other)), undefined, other);
  }
});

Deno.test("prekey_head: the exact bytes, and parse inverts encode", () => {
  const ek = new Uint8Array(32).fill(7);
  const ct = new Uint8Array([1, 2, 3]);
  const head = encodePrekeyHead({ spkId: 0x01020304, pqKind: "pqopk", pqId: 5, opkId: 6, ek, ct });
  assert.equal(
    head.toHex(),
    "50435259505400010201" + "01020304" + "02" + "00000005" + "00000006" + "07".repeat(32) +
      "00000003" + "010203",
  );
  const noOpk = encodePrekeyHead({ spkId: 1, pqKind: "pqspk", pqId: 2, ek, ct });
  assert.equal(noOpk.subarray(14, 23).toHex(), "01" + "00000002" + "ffffffff");
  const sealed = new Uint8Array([9, 9, 9, 9, 9]);
  const message = concatBytes(head, new Uint8Array([0, 0, 0, 5]), sealed, body(40, 100));
  const parsed = parsePrekeyFrame(message);
  assert.deepEqual(parsed.head, { spkId: 0x01020304, pqKind: "pqopk", pqId: 5, opkId: 6, ek, ct });
  assert.deepEqual(parsed.headBytes, head);
  assert.deepEqual(parsed.sealedFrom, sealed);
  assert.deepEqual(parsed.prefix, concatBytes(head, new Uint8Array([0, 0, 0, 5]), sealed));
  assert.deepEqual(parsed.body, body(40, 100));
  assert.equal(
    parsePrekeyFrame(concatBytes(noOpk, new Uint8Array(4), body(0, 0))).head.opkId,
    undefined,
  );
  assert.throws(
    () => encodePrekeyHead({ spkId: 1, pqKind: "pqspk", pqId: 2, opkId: NO_OPK, ek, ct }),
    RangeError,
  );
  assert.throws(
    () => encodePrekeyHead({ spkId: -1, pqKind: "pqspk", pqId: 2, ek, ct }),
    RangeError,
  );
  assert.throws(
    () => encodePrekeyHead({ spkId: 1, pqKind: "pqspk", pqId: 2, ek: ek.subarray(1), ct }),
    RangeError,
  );
});

Deno.test("framing errors are FormatError: every truncation, a wrong magic, mode, kind or pq_kind", () => {
  const head = encodePrekeyHead({
    spkId: 1,
    pqKind: "pqspk",
    pqId: 2,
    ek: new Uint8Array(32),
    ct: new Uint8Array(10),
  });
  const message = concatBytes(head, new Uint8Array([0, 0, 0, 3, 1, 2, 3]), body(20, 20));
  parsePrekeyFrame(message);
  for (let n = 0; n < head.length + 7 + 16; n++) {
    assert.throws(() => parsePrekeyFrame(message.subarray(0, n)), FormatError, `length ${n}`);
  }
  for (const [at, value] of [[0, 0x51], [7, 2], [8, 0], [8, 1], [9, 2], [9, 3], [14, 0], [14, 3]]) {
    const bad = message.slice();
    bad[at] = value;
    assert.throws(() => parsePrekeyFrame(bad), FormatError, `byte ${at} = ${value}`);
  }
  const ratchet = concatBytes(ratchetMessagePrefix(), body(3, 4));
  assert.deepEqual(parseRatchetFrame(ratchet), {
    prefix: ratchetMessagePrefix(),
    body: body(3, 4),
  });
  assert.throws(() => parseRatchetFrame(ratchet.subarray(0, 25)), FormatError);
  assert.throws(() => parseRatchetFrame(message), FormatError, "a prekey message");
  assert.throws(() => parsePrekeyFrame(ratchet), FormatError, "a ratchet message");
  assert.throws(
    () => describeSessionMessage(concatBytes(ratchetMessagePrefix(), body(3, 4)).subarray(0, 28)),
    FormatError,
  );
});

Deno.test("sniffEnvelope, isSealedEnvelope and inspect see only what the network sees; decrypt refuses", async () => {
  const alice = await identityOf("alice");
  const bob = await identityOf("bob");
  const { bundle, prekeys } = await bobWith(bob.identity, registry.kem("ml-kem-768"), 1);
  const a = await initiate(alice.identity, await parseBundle(bundle));
  const prekeyMessage = concatBytes(a.prefix, body(100, 1040));
  assert.deepEqual(sniffEnvelope(prekeyMessage), {
    armored: false,
    passwordProtected: false,
    session: "prekey",
  });
  const armored = new TextEncoder().encode(armor(prekeyMessage));
  assert.deepEqual(sniffEnvelope(armored.subarray(0, 200)), {
    armored: true,
    passwordProtected: false,
    session: "prekey",
  });
  assert.ok(isSealedEnvelope(prekeyMessage));
  const info = await inspect(prekeyMessage);
  assert.deepEqual(info, {
    version: 1,
    armored: false,
    passwordProtected: false,
    totalBytes: prekeyMessage.length,
    session: {
      kind: "prekey",
      prekeys: {
        spk: prekeys.spk.id,
        pq: { kind: "pqopk", id: prekeys.pqopks[0].id },
        opk: prekeys.opks[0].id,
      },
      kemCiphertextBytes: 1088,
      sealedSenderBytes: parsePrekeyFrame(prekeyMessage).sealedFrom.length,
      headerBytes: 100,
      bodyBytes: 1040,
      paddedSize: 1024,
    },
  });
  // Nothing that names Alice is in what inspect returns.
  assert.ok(!JSON.stringify(info).includes(alice.recipient.slice(-20)));
  assert.ok(!contains(prekeyMessage, new TextEncoder().encode(alice.recipient)));
  const ratchet = concatBytes(ratchetMessagePrefix(), body(60, 80));
  assert.deepEqual(sniffEnvelope(ratchet), {
    armored: false,
    passwordProtected: false,
    session: "ratchet",
  });
  assert.deepEqual((await inspect(ratchet)).session, {
    kind: "ratchet",
    headerBytes: 60,
    bodyBytes: 80,
    paddedSize: 64,
  });
  assert.deepEqual((await inspect(armor(ratchet))).session?.kind, "ratchet");
  // An unknown kind is not a session message; decrypt refuses session messages (an account opens them).
  const unknown = ratchet.slice();
  unknown[MAGIC.length + 1] = 3;
  assert.equal(sniffEnvelope(unknown), undefined);
  assert.equal(isSealedEnvelope(unknown), false);
  await assert.rejects(inspect(unknown), FormatError);
  await assert.rejects(decrypt(prekeyMessage, { identities: [bob.identity] }), FormatError);
  await assert.rejects(decrypt(ratchet, { identities: [bob.identity] }), FormatError);
});
