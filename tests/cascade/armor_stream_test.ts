// The streaming de-armor (issue 20 section 1, memory): the same accepted and rejected inputs,
// bytes and messages as `dearmor`, under any chunking; and a large armored stream decrypts in
// bounded memory.
import assert from "node:assert/strict";
import fc from "fast-check";
import { armor, dearmor, FormatError } from "../../mod.ts";
import { dearmorStream } from "../../cascade/armor.ts";
import { collect } from "../../cascade/_reader.ts";
import { runDenoScript } from "../_process.ts";

const encoder = new TextEncoder();

/** `dearmor`'s outcome: the bytes, or the error message. */
function whole(input: Uint8Array): Uint8Array | string {
  try {
    return dearmor(input);
  } catch (e) {
    assert.ok(e instanceof FormatError);
    return e.message;
  }
}

/** `dearmorStream`'s outcome over `input` cut at `cuts`. */
async function streamed(input: Uint8Array, cuts: number[]): Promise<Uint8Array | string> {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const p of [...points, input.length]) {
    chunks.push(input.subarray(at, p));
    at = p;
  }
  try {
    return await collect(dearmorStream(ReadableStream.from(chunks)));
  } catch (e) {
    assert.ok(e instanceof FormatError, String(e));
    return e.message;
  }
}

async function assertSame(input: Uint8Array, cuts: number[] = []): Promise<void> {
  const expected = whole(input);
  const actual = await streamed(input, cuts);
  if (typeof expected === "string") assert.equal(actual, expected);
  else assert.deepEqual(actual, expected);
}

const text = (bytes: number, seed = 1) => armor(new Uint8Array(bytes).map((_, i) => i * seed));

Deno.test("dearmorStream: the same result as dearmor on chosen layouts", async () => {
  const a = text(100);
  const [head, ...rest] = a.split("\n");
  const cases = [
    a,
    a.replaceAll("\n", "\r\n"),
    ` \t\n\r\n  ${a}  \n\n\t `,
    text(0),
    text(1),
    text(2),
    text(48),
    text(96),
    a.replace("BEGIN", "BEGlN"),
    a.replace("\n", "\n\n"),
    a.replace(/\n([A-Za-z0-9+/]{10})/, "\n$1*"),
    a.slice(0, -5),
    a.slice(0, -1),
    a + "x",
    a + "\n" + a,
    a.replace("-----END", "  -----END"),
    a.replace("-----\n", "----- \n"),
    a.replace("-----END POLYCRYPT MESSAGE-----", "-----END POLYCRYPT MESSAGE-----   "),
    a.replace("-----END POLYCRYPT MESSAGE-----", "-----END POLYCRYPT MESSAGE-----\u00a0\u2028"),
    a.replace(
      "-----END POLYCRYPT MESSAGE-----\n",
      `-----END POLYCRYPT MESSAGE-----${" ".repeat(500)}`,
    ),
    a.replace("-----END POLYCRYPT MESSAGE-----", "-----END POLYCRYPT MESSAGE-----\r\r"),
    a.replace("\n-----END", "\n-----END POLYCRYPT MESSAGE-----\n-----END"),
    [head, ...rest.slice(0, 1), "-----END POLYCRYPT MESSAGE-----", ...rest.slice(1)].join("\n"),
    [head, rest[0] + rest[1], ...rest.slice(2)].join("\n"),
    [head, rest[0].slice(0, 60), ...rest.slice(1)].join("\n"),
    [head, "A".repeat(200), ...rest].join("\n"),
    [head, ...rest.slice(0, -3), "A".repeat(200)].join("\n"),
    [head, rest[0].slice(0, 62) + "==", ...rest.slice(1)].join("\n"),
    a.replace(/[A-Za-z0-9+/]=*\n-----END/, "B\n-----END"),
    armor(new Uint8Array([1])).replace("AQ==", "AR=="),
    armor(new Uint8Array([1])).replace("AQ==", "AQ="),
    armor(new Uint8Array([1])).replace("AQ==", "AQ"),
    armor(new Uint8Array([1])).replace("AQ==", "A==="),
    "-----BEGIN POLYCRYPT MESSAGE-----",
    "-----BEGIN POLYCRYPT MESSAGE-----\n",
    "-----BEGIN POLYCRYPT MESSAGE-----\n-----END POLYCRYPT MESSAGE-----",
    "-----BEGIN POLYCRYPT MESSAGE-----\r\r\n-----END POLYCRYPT MESSAGE-----",
    "-----BEGIN POLYCRYPT MESSAGE-----" + " ".repeat(100) + "\n-----END POLYCRYPT MESSAGE-----",
    "-----END POLYCRYPT MESSAGE-----",
    "",
    "   \n ",
    "hello",
  ];
  for (const c of cases) {
    const bytes = encoder.encode(c);
    await assertSame(bytes);
    await assertSame(bytes, [1, 7, 33, 34, 64, 65, 66, 100, 101]);
    await assertSame(bytes, Array.from({ length: bytes.length }, (_, i) => i));
  }
  // Bytes that are not UTF-8 are decoded as dearmor decodes them (U+FFFD), wherever they fall.
  const invalid = new Uint8Array([
    ...encoder.encode(a.slice(0, 100)),
    0xc3,
    ...encoder.encode(a.slice(100)),
  ]);
  await assertSame(invalid, [100, 101]);
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode(a)]);
  await assertSame(bom, [1, 2]);
  // A byte order mark inside the text, at the start of a later chunk, is text, not a mark.
  const inner = encoder.encode(a.replace("BEGIN", "BE\ufeffGIN"));
  await assertSame(inner, [8]);
  const split = encoder.encode(a + "\u00a0");
  await assertSame(split, [split.length - 1]);
});

Deno.test("dearmorStream: the same result as dearmor on mutated armor, any chunking", async () => {
  const alphabet = [
    "A",
    "z",
    "+",
    "/",
    "=",
    "-",
    " ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\u00a0",
    "\u2028",
    "\ufeff",
    "*",
  ];
  const edit = fc.record({
    at: fc.nat(),
    remove: fc.nat({ max: 3 }),
    insert: fc.array(fc.constantFrom(...alphabet), { maxLength: 3 }).map((s) => s.join("")),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(edit, { maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.boolean(),
      async (bytes, edits, cuts, crlf) => {
        let t = armor(bytes);
        if (crlf) t = t.replaceAll("\n", "\r\n");
        for (const e of edits) {
          const at = e.at % (t.length + 1);
          t = t.slice(0, at) + e.insert + t.slice(at + e.remove);
        }
        await assertSame(encoder.encode(t), cuts);
      },
    ),
    { numRuns: 3000 },
  );
  // Bytes that are not UTF-8, or pieces of multi-byte characters, anywhere, cut anywhere.
  const byteEdit = fc.record({
    at: fc.nat(),
    insert: fc.array(fc.constantFrom(0xc3, 0xa0, 0xef, 0xbb, 0xbf, 0xe2, 0x80, 0xa8, 0xff, 0x0a), {
      minLength: 1,
      maxLength: 3,
    }),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 200 }),
      fc.array(byteEdit, { maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      async (bytes, edits, cuts) => {
        let b = encoder.encode(armor(bytes));
        for (const e of edits) {
          const at = e.at % (b.length + 1);
          b = new Uint8Array([...b.subarray(0, at), ...e.insert, ...b.subarray(at)]);
        }
        await assertSame(b, cuts);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test({
  name: "decryptStream of a 64 MiB armored envelope keeps the peak RSS bounded",
  sanitizeResources: false,
  fn: async () => {
    // The child encrypts to armor and decrypts as one pipeline: nothing but the de-armor can hold
    // the whole stream. The collecting de-armor peaked at about 760 MiB here; the streaming one
    // at about 185 MiB, the same at 128 MiB.
    const root = new URL("../../mod.ts", import.meta.url).href;
    const script = `
      import { decryptStream, encryptStream, generateIdentity } from "${root}";
      const bob = await generateIdentity("x25519");
      let left = 64;
      const plain = new ReadableStream({
        pull(c) { if (left-- > 0) c.enqueue(new Uint8Array(1 << 20).fill(left)); else c.close(); },
      });
      let n = 0;
      const out = plain.pipeThrough(encryptStream({ recipients: [bob.recipient], armor: true }))
        .pipeThrough(decryptStream({ identities: [bob.identity] }));
      for await (const chunk of out) n += chunk.length;
      const hwm = /VmHWM:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1];
      console.log(JSON.stringify({ n, hwmKiB: Number(hwm) }));
    `;
    const { code, stdout, stderr } = await runDenoScript(script, ["--allow-all"], 30_000);
    assert.equal(code, 0, stderr);
    const { n, hwmKiB } = JSON.parse(stdout);
    assert.equal(n, 64 * 1024 * 1024);
    assert.ok(hwmKiB < 320 * 1024, `peak RSS ${Math.round(hwmKiB / 1024)} MiB`);
  },
});
