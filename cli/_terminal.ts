// Internal: received text made safe for a terminal (docs/cli.md, "What reaches the terminal").
// A peer's text may hold escape sequences (screen clears, window titles, cursor moves), carriage
// returns and bidi overrides that redraw or reorder what is on screen, and newlines followed by
// lines that look like polycrypt's own (`  (#1 delivered)`, `polycrypt: ...`). Here every control
// character except newline and tab becomes a visible escape, and every line gets the sender's
// label, so a received line can never pass for the program's output. Pure: no I/O.

/**
 * Characters shown as escapes: C0 controls but tab and newline, DEL, C1 controls, the bidi marks,
 * embeddings, overrides and isolates (U+061C, U+200E-200F, U+202A-202E, U+2066-2069), and the
 * Unicode line and paragraph separators (U+2028-2029).
 */
// deno-lint-ignore no-control-regex -- control characters are what this matches
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** `\x1b` for a code point below 0x100, `\u202e` above: visible, and never a control itself. */
function escapeOne(char: string): string {
  const code = char.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * `text` with every control character but newline (and tab) replaced by a visible escape:
 * `"\x1b[2J"` becomes the six characters `\x1b[2J`. Printable text, tab and newline are unchanged.
 */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (c) => (c === "\n" ? c : escapeOne(c)));
}

/**
 * The screen form of a received text, fed in pieces (a streamed message): each line is escaped
 * ({@linkcode escapeControls}) and starts with `label`; the text's final newline, if any, ends its
 * last line rather than opening an empty one, and {@linkcode ReceivedText.end} closes the last
 * line. An empty text is one line holding only the label.
 */
export class ReceivedText {
  #label: string;
  #atLineStart = true;
  #pendingNewline = false;
  #empty = true;

  constructor(label: string) {
    this.#label = label;
  }

  /** The screen text for the next piece of the message. */
  push(piece: string): string {
    let out = "";
    for (const part of piece.split(/(\n)/)) {
      if (part === "") continue;
      this.#empty = false;
      if (this.#pendingNewline) {
        out += "\n";
        this.#pendingNewline = false;
        this.#atLineStart = true;
      }
      if (part === "\n") {
        // Held back: a newline that ends the text closes its last line and opens no other.
        if (this.#atLineStart) out += this.#label;
        this.#pendingNewline = true;
        this.#atLineStart = false;
        continue;
      }
      if (this.#atLineStart) out += this.#label;
      this.#atLineStart = false;
      out += escapeControls(part);
    }
    return out;
  }

  /** The rest of the screen text once the message is over: the label of an empty text, "\n". */
  end(): string {
    const out = this.#empty ? `${this.#label}\n` : "\n";
    this.#empty = true;
    this.#atLineStart = true;
    this.#pendingNewline = false;
    return out;
  }
}

/** The whole screen form of `text` from a peer labelled `label` ({@linkcode ReceivedText}). */
export function receivedText(text: string, label: string): string {
  const screen = new ReceivedText(label);
  return screen.push(text) + screen.end();
}
