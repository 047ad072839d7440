// The terminal form of received text (cli/_terminal.ts): no control character reaches the screen
// but newline and tab, every line carries the sender's label, printable text is left alone, and
// feeding a text in pieces gives the same screen as feeding it whole.
import assert from "node:assert/strict";
import fc from "fast-check";
import { escapeControls, ReceivedText, receivedText } from "../../cli/_terminal.ts";

const LABEL = "peer: ";

/** Any control character that must not reach the terminal raw. */
// deno-lint-ignore no-control-regex -- control characters are what this matches
const FORBIDDEN = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

/** Text rich in controls, newlines and bidi marks, and any Unicode besides. */
const hostile = fc.array(
  fc.oneof(
    fc.string({ unit: "grapheme", maxLength: 8 }),
    fc.constantFrom(
      "\x1b[2J",
      "\x1b]0;pwned\x07",
      "\r",
      "\n",
      "\n  (#1 delivered)",
      "\npolycrypt: delivered",
      "\x9b31m",
      "\u202e",
      "\u2066",
      "\u2029",
      "\x7f",
      "\0",
      "\t",
    ),
    fc.string({ unit: fc.integer({ min: 0, max: 0x2100 }).map((c) => String.fromCharCode(c)) }),
  ),
  { maxLength: 12 },
).map((parts) => parts.join(""));

Deno.test("received text: only newline and tab among controls, every line labelled", () => {
  fc.assert(
    fc.property(hostile, (text) => {
      const screen = receivedText(text, LABEL);
      assert.doesNotMatch(screen, FORBIDDEN);
      assert.ok(screen.endsWith("\n"));
      for (const line of screen.slice(0, -1).split("\n")) assert.ok(line.startsWith(LABEL), line);
      // One screen line per line of the text (its final newline ends the last one).
      const lines = text === "" ? 1 : text.replace(/\n$/, "").split("\n").length;
      assert.equal(screen.split("\n").length - 1, lines);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("received text: printable text, tabs and newlines are unchanged", () => {
  const printable = fc.string({ unit: "grapheme", maxLength: 40 }).filter((s) =>
    !FORBIDDEN.test(s)
  );
  fc.assert(
    fc.property(fc.array(printable, { maxLength: 6 }), (lines) => {
      const text = lines.join("\n");
      assert.equal(escapeControls(text), text);
      const screen = receivedText(text, LABEL);
      // The text's final newline ends its last line rather than opening an empty one.
      const shown = text === "" ? [""] : text.replace(/\n$/, "").split("\n");
      assert.equal(screen, shown.map((l) => LABEL + l + "\n").join(""));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("received text: pieces give the screen of the whole", () => {
  fc.assert(
    fc.property(hostile, fc.array(fc.nat(), { maxLength: 6 }), (text, cuts) => {
      const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
      const screen = new ReceivedText(LABEL);
      let out = "";
      let from = 0;
      for (const to of [...at, text.length]) {
        out += screen.push(text.slice(from, to));
        from = to;
      }
      out += screen.end();
      assert.equal(out, receivedText(text, LABEL));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("received text: the attacks of issue 20 as the user sees them", () => {
  assert.equal(
    receivedText("\x1b]0;pwned\x07\x1b[2Jhi\n  (#1 delivered)\npolycrypt: delivered\n", LABEL),
    "peer: \\x1b]0;pwned\\x07\\x1b[2Jhi\npeer:   (#1 delivered)\npeer: polycrypt: delivered\n",
  );
  assert.equal(receivedText("fake\r  (#2 delivered)", LABEL), "peer: fake\\x0d  (#2 delivered)\n");
  assert.equal(receivedText("abc\u202edcba", LABEL), "peer: abc\\u202edcba\n");
  assert.equal(receivedText("\x9b2J\x7f", LABEL), "peer: \\x9b2J\\x7f\n");
  assert.equal(receivedText("a\tb", LABEL), "peer: a\tb\n");
  assert.equal(receivedText("", LABEL), "peer: \n");
  assert.equal(receivedText("\n\n", LABEL), "peer: \npeer: \n");
  assert.equal(receivedText("x\n", LABEL), "peer: x\n");
});
