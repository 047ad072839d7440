// CLI message payloads (docs/transports.md section 7): text and file round trips, the file-name
// rules on both sides, and malformed payloads refused without reading further.
import assert from "node:assert/strict";
import fc from "fast-check";
import { FormatError } from "../../mod.ts";
import {
  checkFileName,
  fileMessageHeader,
  MESSAGE_KIND,
  newReplyKey,
  offerMessage,
  parseMessage,
  textMessage,
} from "../../transports/mod.ts";
import { streamOf } from "../cascade/_helpers.ts";

const te = new TextEncoder();
const td = new TextDecoder();

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) out.set(p, (off += p.length) - p.length);
  return out;
};

Deno.test("message: text and file payloads round-trip however the stream is split", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.record({ kind: fc.constant("text" as const), text: fc.string({ maxLength: 200 }) }),
        fc.record({
          kind: fc.constant("file" as const),
          name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,40}[A-Za-z0-9]$/),
          body: fc.uint8Array({ maxLength: 300 }),
        }),
      ),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }),
      async (message, sizes) => {
        const bytes = message.kind === "text"
          ? textMessage(message.text)
          : concat(fileMessageHeader(message.name), message.body);
        const parsed = await parseMessage(streamOf(bytes, sizes));
        assert.equal(parsed.kind, message.kind);
        const body = new Uint8Array(await new Response(parsed.body).arrayBuffer());
        if (message.kind === "text") assert.equal(td.decode(body), message.text);
        else {
          assert.equal(parsed.kind === "file" && parsed.name, message.name);
          assert.deepEqual(body, message.body);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("message: file names that could escape DIR or disguise themselves are refused", () => {
  for (const good of ["report.pdf", "a", "notes 2026.txt", "фото.jpg", "x".repeat(255)]) {
    assert.equal(checkFileName(good), good);
  }
  const bad = [
    "",
    ".",
    "..",
    ".hidden",
    "../etc/passwd",
    "dir/file",
    "dir\\file",
    "new\nline",
    "tab\t",
    "del\x7f",
    "c1\u009b31m",
    "invoice\u202Etxt.exe",
    "isolate\u2066x",
    "mark\u200f",
    " leading",
    "trailing ",
    "x".repeat(256),
    "é".repeat(128), // 256 UTF-8 bytes
  ];
  for (const name of bad) {
    assert.throws(() => checkFileName(name), FormatError, JSON.stringify(name));
    assert.throws(() => fileMessageHeader(name), FormatError, JSON.stringify(name));
  }
});

Deno.test("message: malformed payloads are FormatError and the source is cancelled", async (t) => {
  // [what, header bytes, does more data follow (a body the refusal must not wait for)]
  const cases: [string, Uint8Array, boolean][] = [
    ["empty", new Uint8Array(0), false],
    ["file without a name length", new Uint8Array([MESSAGE_KIND.file]), false],
    ["file name cut short", new Uint8Array([MESSAGE_KIND.file, 10, 0x61, 0x62]), false],
    ["unknown kind", te.encode("Xhello"), true],
    ["file name not UTF-8", new Uint8Array([MESSAGE_KIND.file, 2, 0xc3, 0x28]), true],
    [
      "file name with a slash",
      concat(new Uint8Array([MESSAGE_KIND.file, 3]), te.encode("a/b")),
      true,
    ],
    ["zero-length file name", new Uint8Array([MESSAGE_KIND.file, 0]), true],
  ];
  for (const [what, header, bodyFollows] of cases) {
    await t.step(what, async () => {
      let cancelled = false;
      let sent = 0;
      const source = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent === 0 && header.length) controller.enqueue(header);
          else if (bodyFollows && sent < 1000) controller.enqueue(new Uint8Array(1 << 16));
          else controller.close();
          sent++;
        },
        cancel() {
          cancelled = true;
        },
      }, { highWaterMark: 0 });
      await assert.rejects(parseMessage(source), FormatError);
      if (bodyFollows) {
        assert.ok(cancelled, "a refused message's source is cancelled");
        assert.equal(sent, 1, "nothing after the header was read");
      }
    });
  }
});

Deno.test("message: offers carry a name and a size (or none), and need a reply key", async () => {
  const replyKey = newReplyKey();
  for (const size of [0, 1, 50 * 1024 * 1024, Number.MAX_SAFE_INTEGER, undefined]) {
    const bytes = offerMessage("plans.pdf", size, { replyKey });
    // R, key, O, size (u64 BE), name length, name
    assert.equal(bytes.length, 1 + 32 + 1 + 8 + 1 + 9);
    assert.equal(bytes[33], MESSAGE_KIND.offer);
    for (const split of [[1], [7, 3], [bytes.length]]) {
      const parsed = await parseMessage(streamOf(bytes, split));
      assert.ok(parsed.kind === "offer");
      assert.deepEqual(parsed.replyKey, replyKey);
      assert.equal(parsed.name, "plans.pdf");
      assert.equal(parsed.size, size);
      assert.equal((await new Response(parsed.body).arrayBuffer()).byteLength, 0);
    }
  }
  // The size field: big-endian; all ones means unknown.
  const known = offerMessage("a", 0x0102030405, { replyKey });
  assert.deepEqual([...known.subarray(34, 42)], [0, 0, 0, 1, 2, 3, 4, 5]);
  const unknown = offerMessage("a", undefined, { replyKey });
  assert.deepEqual([...unknown.subarray(34, 42)], new Array(8).fill(0xff));
  assert.throws(() => offerMessage("a", -1, { replyKey }), RangeError);
  assert.throws(() => offerMessage("a", 2 ** 53, { replyKey }), RangeError);
  assert.throws(() => offerMessage("../a", 1, { replyKey }), FormatError);
  assert.throws(
    () => offerMessage("a", 1, {} as unknown as { replyKey: Uint8Array }),
    TypeError,
  );

  // Malformed: no reply key, a size over 2^53 - 1 that is not "unknown", cut short.
  const noKey = known.subarray(33);
  await assert.rejects(parseMessage(streamOf(noKey, [noKey.length])), FormatError);
  const huge = known.slice();
  huge.set([0, 0x20, 0, 0, 0, 0, 0, 0], 34); // 2^53
  await assert.rejects(parseMessage(streamOf(huge, [huge.length])), FormatError);
  for (const cut of [34, 40, 42, known.length - 1]) {
    await assert.rejects(parseMessage(streamOf(known.subarray(0, cut), [cut])), FormatError);
  }
});
