// CLI message payloads (docs/transports.md section 7): text and file round trips, the file-name
// rules on both sides, and malformed payloads refused without reading further.
import assert from "node:assert/strict";
import fc from "fast-check";
import { FormatError } from "../../mod.ts";
import {
  checkFileName,
  fileMessageHeader,
  MESSAGE_KIND,
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
