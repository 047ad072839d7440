/**
 * What the CLI's `send`/`listen` put inside an envelope (`docs/transports.md` section 7): a kind
 * byte, then a text, or a file name and the file. The name travels encrypted, like everything
 * about the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMessage, textMessage } from "@polycrypt/polycrypt/transports";
 * const parsed = await parseMessage(ReadableStream.from([textMessage("hi")]));
 * assert.equal(parsed.kind, "text");
 * assert.equal(await new Response(parsed.body).text(), "hi");
 * ```
 *
 * @module
 */
import { FormatError } from "../errors.ts";

/** Kind bytes. */
export const MESSAGE_KIND: Readonly<{ text: 0x54; file: 0x46 }> = Object.freeze({
  text: 0x54,
  file: 0x46,
});

const encoder = new TextEncoder();

/**
 * A text message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MESSAGE_KIND, textMessage } from "@polycrypt/polycrypt/transports";
 * assert.deepEqual(textMessage("hi"), new Uint8Array([MESSAGE_KIND.text, 104, 105]));
 * ```
 */
export function textMessage(text: string): Uint8Array {
  if (typeof text !== "string") throw new TypeError("text must be a string");
  const body = encoder.encode(text);
  const out = new Uint8Array(1 + body.length);
  out[0] = MESSAGE_KIND.text;
  out.set(body, 1);
  return out;
}

/**
 * Checks a received or sent file name: one path component, 1 to 255 UTF-8 bytes, no control or
 * bidirectional-formatting characters, no separators, no leading or trailing white space, not
 * hidden, not `.` or `..`. Returns it unchanged or throws {@linkcode FormatError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FormatError } from "@polycrypt/polycrypt";
 * import { checkFileName } from "@polycrypt/polycrypt/transports";
 * assert.equal(checkFileName("report.pdf"), "report.pdf");
 * assert.throws(() => checkFileName("../etc/passwd"), FormatError);
 * assert.throws(() => checkFileName("txt.\u202eexe"), FormatError);
 * ```
 */
export function checkFileName(name: string): string {
  const bytes = encoder.encode(name);
  if (
    bytes.length < 1 || bytes.length > 255 || hasControlOrSeparator(name) ||
    name.startsWith(".") || name.trim() !== name
  ) {
    throw new FormatError("not an acceptable file name");
  }
  return name;
}

/**
 * True if `name` holds a character that could move the terminal or disguise the name when it is
 * printed: C0 and C1 controls, DEL, the bidirectional marks, embeddings, overrides and isolates
 * (Unicode TR9; U+202E makes "txt.exe" display as "exe.txt"), or a path separator.
 */
function hasControlOrSeparator(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (
      c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2f || c === 0x5c ||
      c === 0x200e || c === 0x200f || c === 0x061c || (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069)
    ) return true;
  }
  return false;
}

/**
 * The bytes that precede a file's content: kind, u8 name length, name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileMessageHeader, MESSAGE_KIND } from "@polycrypt/polycrypt/transports";
 * const head = fileMessageHeader("a.txt");
 * assert.deepEqual([...head.subarray(0, 2)], [MESSAGE_KIND.file, 5]);
 * assert.equal(new TextDecoder().decode(head.subarray(2)), "a.txt");
 * ```
 */
export function fileMessageHeader(name: string): Uint8Array {
  const bytes = encoder.encode(checkFileName(name));
  const out = new Uint8Array(2 + bytes.length);
  out[0] = MESSAGE_KIND.file;
  out[1] = bytes.length;
  out.set(bytes, 2);
  return out;
}

/** A parsed message: its kind, the file name for files, and the rest of the plaintext. */
export type ParsedMessage =
  | { readonly kind: "text"; readonly body: ReadableStream<Uint8Array> }
  | { readonly kind: "file"; readonly name: string; readonly body: ReadableStream<Uint8Array> };

/**
 * Reads the kind (and file name) from the front of a decrypted message stream; the body streams
 * on. Throws {@linkcode FormatError} for anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileMessageHeader, parseMessage } from "@polycrypt/polycrypt/transports";
 * const m = await parseMessage(ReadableStream.from([fileMessageHeader("a.txt"), new Uint8Array(5)]));
 * assert.ok(m.kind === "file");
 * assert.equal(m.name, "a.txt");
 * assert.equal((await new Response(m.body).arrayBuffer()).byteLength, 5);
 * ```
 */
export async function parseMessage(stream: ReadableStream<Uint8Array>): Promise<ParsedMessage> {
  const reader = stream.getReader();
  let head = new Uint8Array(0);
  const need = async (n: number) => {
    while (head.length < n) {
      const { value, done } = await reader.read();
      if (done) throw new FormatError("not a polycrypt message");
      const joined = new Uint8Array(head.length + value.length);
      joined.set(head);
      joined.set(value, head.length);
      head = joined;
    }
  };
  const rest = (skip: number) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        if (head.length > skip) controller.enqueue(head.subarray(skip));
      },
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
  try {
    await need(1);
    if (head[0] === MESSAGE_KIND.text) return { kind: "text", body: rest(1) };
    if (head[0] !== MESSAGE_KIND.file) throw new FormatError("not a polycrypt message");
    await need(2);
    const length = head[1];
    await need(2 + length);
    let name: string;
    try {
      name = new TextDecoder("utf-8", { fatal: true }).decode(head.subarray(2, 2 + length));
    } catch {
      throw new FormatError("not an acceptable file name");
    }
    return { kind: "file", name: checkFileName(name), body: rest(2 + length) };
  } catch (e) {
    // Nothing more is read from a message we refuse; the source learns it is not wanted.
    await reader.cancel().catch(() => {});
    throw e;
  }
}
