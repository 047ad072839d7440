/**
 * ASCII armor for pasting envelopes into chats (`docs/format.md` section 7).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { armor, dearmor } from "@polycrypt/polycrypt";
 * const text = armor(new Uint8Array([1, 2, 3]));
 * assert.equal(text.split("\n")[0], "-----BEGIN POLYCRYPT MESSAGE-----");
 * assert.deepEqual(dearmor(text), new Uint8Array([1, 2, 3]));
 * ```
 *
 * @module
 */
import { FormatError } from "../errors.ts";
import { concatBytes, fromBase64, setFromBase64, toBase64 } from "../engines/_bytes.ts";
import { peek } from "./_splice.ts";

/** First line of an armored envelope. */
export const ARMOR_BEGIN = "-----BEGIN POLYCRYPT MESSAGE-----";
/** Last line of an armored envelope. */
export const ARMOR_END = "-----END POLYCRYPT MESSAGE-----";
const LINE = 64;
// 48 bytes encode to exactly one 64-character line.
const LINE_BYTES = 48;
const encoder = new TextEncoder();
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Armors bytes: header line, base64 in 64-character lines, footer line. `kind` names what the
 * text holds: `MESSAGE` (an envelope, the default) or `SIGNATURE` (a detached signature).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { armor } from "@polycrypt/polycrypt";
 * assert.equal(
 *   armor(new Uint8Array(0)),
 *   "-----BEGIN POLYCRYPT MESSAGE-----\n-----END POLYCRYPT MESSAGE-----\n",
 * );
 * ```
 */
export function armor(bytes: Uint8Array, kind: string = "MESSAGE"): string {
  const lines = [`-----BEGIN POLYCRYPT ${kind}-----`];
  for (let i = 0; i < bytes.length; i += LINE_BYTES) {
    lines.push(toBase64(bytes.subarray(i, i + LINE_BYTES)));
  }
  lines.push(`-----END POLYCRYPT ${kind}-----`, "");
  return lines.join("\n");
}

/**
 * Whether `input` (text or bytes) begins, after whitespace, with the armor header.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isArmored } from "@polycrypt/polycrypt";
 * assert.equal(isArmored("  -----BEGIN POLYCRYPT MESSAGE-----\n"), true);
 * assert.equal(isArmored(new Uint8Array([0x50, 0x43])), false);
 * ```
 */
export function isArmored(input: string | Uint8Array): boolean {
  if (typeof input === "string") return input.trimStart().startsWith(ARMOR_BEGIN);
  let i = 0;
  while (i < input.length && i < 1024 && /\s/.test(String.fromCharCode(input[i]))) i++;
  const head = encoder.encode(ARMOR_BEGIN);
  if (input.length - i < head.length) return false;
  return head.every((b, k) => input[i + k] === b);
}

/**
 * Removes the armor of the given `kind` (default `MESSAGE`). Throws {@linkcode FormatError} on
 * anything but the exact
 * layout (CRLF line ends and surrounding whitespace are accepted).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { armor, dearmor, FormatError } from "@polycrypt/polycrypt";
 * assert.equal(dearmor(armor(new Uint8Array(100))).length, 100);
 * assert.throws(() => dearmor("hello"), FormatError);
 * ```
 */
export function dearmor(input: string | Uint8Array, kind: string = "MESSAGE"): Uint8Array {
  const text = typeof input === "string"
    ? input
    : new TextDecoder("utf-8", { fatal: false }).decode(input);
  const lines = text.trim().split(/\r?\n/);
  if (
    lines.length < 2 || lines[0] !== `-----BEGIN POLYCRYPT ${kind}-----` ||
    lines[lines.length - 1] !== `-----END POLYCRYPT ${kind}-----`
  ) {
    throw new FormatError(`armor must start and end with the POLYCRYPT ${kind} lines`);
  }
  const body = lines.slice(1, -1);
  for (let i = 0; i < body.length; i++) {
    const line = body[i];
    const lastLine = i === body.length - 1;
    if (
      !BASE64_LINE.test(line) || line.length > LINE || (!lastLine && line.length !== LINE) ||
      (!lastLine && line.includes("=")) || line.length === 0 || line.length % 4 !== 0
    ) {
      throw new FormatError(`armor line ${i + 2} is not a valid 64-character base64 line`);
    }
  }
  try {
    return fromBase64(body.join(""), { lastChunkHandling: "strict" });
  } catch {
    throw new FormatError("armor body is not valid base64");
  }
}

/** Binary bytes per piece of armor text that {@linkcode armorLines} yields: 1,024 lines. */
const ARMOR_SLICE = LINE_BYTES * 1024;

/**
 * Armors an envelope as it streams: the same text as {@linkcode armor}, re-blocked into 48-byte
 * multiples so every line but the last is full. Internal (not exported from the package).
 */
export async function* armorLines(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield encoder.encode(`${ARMOR_BEGIN}\n`);
  let carry = new Uint8Array(0);
  for await (const piece of source) {
    const bytes = carry.length ? concatBytes(carry, piece) : piece;
    const whole = bytes.length - (bytes.length % LINE_BYTES);
    // At most ARMOR_SLICE bytes per piece of text: a source piece may be a batch of 1 MiB, and
    // the text of all of it at once left its strings for the collector by the MiB.
    for (let start = 0; start < whole; start += ARMOR_SLICE) {
      const end = Math.min(whole, start + ARMOR_SLICE);
      const lines: string[] = [];
      for (let i = start; i < end; i += LINE_BYTES) {
        lines.push(toBase64(bytes.subarray(i, i + LINE_BYTES)), "\n");
      }
      yield encoder.encode(lines.join(""));
    }
    carry = bytes.slice(whole);
  }
  if (carry.length) yield encoder.encode(toBase64(carry) + "\n");
  yield encoder.encode(`${ARMOR_END}\n`);
}

/** The message of every armor whose first or last line is wrong (as {@linkcode dearmor}). */
const FRAMING = "armor must start and end with the POLYCRYPT MESSAGE lines";
const lineError = (n: number) =>
  new FormatError(`armor line ${n} is not a valid 64-character base64 line`);
/** The checks of a body line that hold wherever it stands. */
/** Full body lines with "\n" line ends (sticky: from `lastIndex` only). */
const FULL_LINES = /(?:[A-Za-z0-9+/]{64}\n)+/y;
/** The run of full body lines with "\n" line ends that starts at `at` in `text`, if any. */
function fullLinesAt(text: string, at: number): string | undefined {
  FULL_LINES.lastIndex = at;
  return FULL_LINES.exec(text)?.[0];
}
/** The text de-armored at a time: its strings stay in the young generation of the heap. */
const DEARMOR_SLICE = 16 * 1024;
const lineShapeOk = (line: string) =>
  BASE64_LINE.test(line) && line.length <= LINE && line.length > 0 && line.length % 4 === 0;

/**
 * Tells, in bounded memory, whether a text fed to it piece by piece ends, once trailing white
 * space is trimmed, with a line that is exactly {@linkcode ARMOR_END} (as `dearmor`'s split sees
 * it: the text after the last "\n").
 */
class EndsWithFooter {
  static readonly #TAIL = ARMOR_END.length + 1;
  #core = "";
  #space = "";

  push(text: string): void {
    const trimmed = text.trimEnd();
    if (trimmed.length === 0) {
      this.#space = (this.#space + text).slice(-EndsWithFooter.#TAIL);
      return;
    }
    this.#core = (this.#core + this.#space + trimmed).slice(-EndsWithFooter.#TAIL);
    this.#space = text.slice(trimmed.length).slice(-EndsWithFooter.#TAIL);
  }

  get value(): boolean {
    return this.#core.endsWith(`\n${ARMOR_END}`);
  }
}

/**
 * Removes the armor as the text streams in, in memory bounded by a line (64 characters) and
 * the largest input chunk: accepts exactly the inputs {@linkcode dearmor} accepts, yields the
 * same bytes, and throws the same {@linkcode FormatError} messages. Decoded lines are yielded
 * before the footer is seen, so a consumer may act on them before a later fault is reported; the
 * first faulty line stops the output, and the rest is read (not kept) only to tell which of the
 * two messages `dearmor` would have given. Internal (not exported from the package).
 */
export async function* dearmorStream(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  // A byte order mark is dropped at the start only, as `dearmor`'s one-shot decode drops it (a
  // streaming decoder here would drop one at the start of any chunk).
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  let started = false;
  const decode = (bytes?: Uint8Array) => {
    let text = bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    if (!started && text.length > 0) {
      started = true;
      if (text.startsWith("\ufeff")) text = text.slice(1);
    }
    return text;
  };
  const footer = new EndsWithFooter();
  let state = "lead" as "lead" | "begin" | "body" | "trailer";
  let partial = "";
  /** Number of the line being read, BEGIN being line 1 (as `dearmor` counts). */
  let lineNo = 1;
  /** The latest body line, held until the next line shows whether it is the last. */
  let held: string | undefined;
  let fault: FormatError | undefined;
  let ready: string[] = [];

  /** `held` is not the last body line: it must be a full line without padding. */
  const releaseHeld = () => {
    if (held === undefined) return;
    if (held.length !== LINE || held.includes("=")) fault = lineError(lineNo - 1);
    else ready.push(held);
    held = undefined;
  };
  /** One complete line (its "\r\n" or "\n" removed) after the BEGIN line. */
  const bodyLine = (line: string) => {
    if (line.trimEnd() === ARMOR_END) {
      // The footer, if only white space follows (otherwise a body line, and a faulty one).
      state = "trailer";
      return;
    }
    releaseHeld();
    if (fault) return;
    if (!lineShapeOk(line)) fault = lineError(lineNo);
    else held = line;
    lineNo++;
  };
  const feed = (text: string) => {
    footer.push(text);
    let at = 0;
    while (!fault && at < text.length) {
      if (state === "lead") {
        while (at < text.length && /\s/.test(text[at])) at++;
        if (at < text.length) state = "begin";
      } else if (state === "trailer") {
        for (; at < text.length; at++) {
          if (/\s/.test(text[at])) continue;
          // More text after the footer line: it was a body line after all.
          releaseHeld();
          fault ??= lineError(lineNo);
          break;
        }
      } else if (state === "body" && partial === "" && fullLinesAt(text, at)) {
        // A run of full lines ending in "\n" (all but the last line of what armorLines writes):
        // taken together, without a string per line. The last may be the last body line: held.
        const run = fullLinesAt(text, at)!;
        const lines = run.length / (LINE + 1);
        releaseHeld();
        if (fault) break;
        // setFromBase64 skips the line ends.
        if (lines > 1) ready.push(run.slice(0, (lines - 1) * (LINE + 1)));
        held = run.slice((lines - 1) * (LINE + 1), run.length - 1);
        lineNo += lines;
        at += run.length;
      } else {
        const newline = text.indexOf("\n", at);
        const end = newline < 0 ? text.length : newline;
        partial += text.slice(at, end);
        at = end;
        if (newline < 0) {
          // No line of the armor is this long; a footer followed by white space may be.
          if (partial.length <= LINE + 1) continue;
          if (state === "begin") throw new FormatError(FRAMING);
          if (partial.trimEnd() === ARMOR_END) {
            state = "trailer";
          } else {
            releaseHeld();
            fault ??= lineError(lineNo);
          }
          partial = "";
          continue;
        }
        at++;
        const line = partial.endsWith("\r") ? partial.slice(0, -1) : partial;
        partial = "";
        if (state === "begin") {
          if (line !== ARMOR_BEGIN) throw new FormatError(FRAMING);
          state = "body";
          lineNo++;
        } else {
          bodyLine(line);
        }
      }
    }
  };
  const flush = (): Uint8Array | undefined => {
    if (ready.length === 0) return undefined;
    // Full lines without padding: decoding them together equals decoding each.
    const bytes = fromBase64(ready.join(""));
    ready = [];
    return bytes;
  };

  for await (const chunk of source) {
    if (!(chunk instanceof Uint8Array)) throw new TypeError("stream chunks must be Uint8Array");
    // A big chunk (a 1 MiB frame) is taken a slice at a time, each slice's lines decoded into
    // one output buffer: the strings stay small, so they die young instead of growing the heap
    // by the chunk's size at every step (issue 20: a 300 MiB stream grew it by 60 MiB).
    let out: Uint8Array | undefined;
    let written = 0;
    for (let at = 0; at < chunk.length; at += DEARMOR_SLICE) {
      feed(decode(chunk.subarray(at, at + DEARMOR_SLICE)));
      if (fault || ready.length === 0) continue;
      // Each line released is 64 characters of this chunk or the previous one, and 48 bytes.
      out ??= new Uint8Array((Math.floor(chunk.length / (LINE + 1)) + 2) * LINE_BYTES);
      written += setFromBase64(out.subarray(written), ready.join(""));
      ready = [];
    }
    if (!fault && written > 0) yield out!.subarray(0, written);
  }
  feed(decode());
  if (!fault && (state === "begin" || state === "body")) {
    // The last line has no line end.
    const line = partial.endsWith("\r") ? partial.slice(0, -1) : partial;
    if (state === "body" && partial.length > 0) bodyLine(line);
  }
  if (!footer.value) throw new FormatError(FRAMING);
  if (fault) throw fault;
  if (state !== "trailer") throw new FormatError(FRAMING);
  const tail = flush();
  if (tail?.length) yield tail;
  if (held === undefined) return;
  let last: Uint8Array;
  try {
    last = fromBase64(held, { lastChunkHandling: "strict" });
  } catch {
    throw new FormatError("armor body is not valid base64");
  }
  if (last.length) yield last;
}

/**
 * Routes armored input through {@linkcode dearmorStream}, binary input straight on. The first 64
 * bytes decide, however the input is chunked. Internal (not exported from the package).
 */
export async function* maybeDearmor(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const [head, whole] = await peek(source, 64);
  if (isArmored(head.subarray(0, 64))) yield* dearmorStream(whole);
  else yield* whole;
}
