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
import { concatBytes } from "../engines/_bytes.ts";
import { collect } from "./_reader.ts";
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
 * Armors bytes: header line, base64 in 64-character lines, footer line.
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
export function armor(bytes: Uint8Array): string {
  const lines = [ARMOR_BEGIN];
  for (let i = 0; i < bytes.length; i += LINE_BYTES) {
    lines.push(bytes.subarray(i, i + LINE_BYTES).toBase64());
  }
  lines.push(ARMOR_END, "");
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
 * Removes the armor. Throws {@linkcode FormatError} on anything but the exact
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
export function dearmor(input: string | Uint8Array): Uint8Array {
  const text = typeof input === "string"
    ? input
    : new TextDecoder("utf-8", { fatal: false }).decode(input);
  const lines = text.trim().split(/\r?\n/);
  if (lines.length < 2 || lines[0] !== ARMOR_BEGIN || lines[lines.length - 1] !== ARMOR_END) {
    throw new FormatError("armor must start and end with the POLYCRYPT MESSAGE lines");
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
    return Uint8Array.fromBase64(body.join(""), { lastChunkHandling: "strict" });
  } catch {
    throw new FormatError("armor body is not valid base64");
  }
}

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
    const lines: string[] = [];
    for (let i = 0; i < whole; i += LINE_BYTES) {
      lines.push(bytes.subarray(i, i + LINE_BYTES).toBase64(), "\n");
    }
    if (lines.length) yield encoder.encode(lines.join(""));
    carry = bytes.slice(whole);
  }
  if (carry.length) yield encoder.encode(carry.toBase64() + "\n");
  yield encoder.encode(`${ARMOR_END}\n`);
}

/**
 * Routes armored input through {@linkcode dearmor}, binary input straight on. The first 64 bytes
 * decide, however the input is chunked. Armor is for chat-sized messages: it is decoded whole
 * (bounded by the caller's input). Internal (not exported from the package).
 */
export async function* maybeDearmor(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const [head, whole] = await peek(source, 64);
  if (isArmored(head.subarray(0, 64))) yield dearmor(await collect(whole));
  else yield* whole;
}
