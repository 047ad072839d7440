/**
 * What the CLI's `send`/`listen` put inside an envelope (`docs/transports.md` section 7): a kind
 * byte, then a text, or a file name and the file, or the offer of a file (its name and size). The name travels encrypted, like everything
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
import { hkdf } from "../engines/hkdf.ts";
import { registry } from "../engines/mod.ts";

/**
 * Kind bytes: a text, a file, the offer of a file, a secret-check control message, and the
 * reply-key prefix of receipts (docs/transports.md sections 7 and 10).
 */
export const MESSAGE_KIND: Readonly<
  { text: 0x54; file: 0x46; offer: 0x4f; verify: 0x56; reply: 0x52 }
> = Object.freeze({
  text: 0x54,
  file: 0x46,
  offer: 0x4f,
  verify: 0x56,
  reply: 0x52,
});

/**
 * The most bytes a secret-check control message carries after its kind byte (docs/sessions.md,
 * "Verifying a contact with a shared secret": a share is 34 bytes, a confirmation 66).
 */
export const VERIFY_MESSAGE_MAX = 128;

/**
 * The size field of an offer whose sender does not know the file's size (a pipe): 2^64 - 1
 * (docs/transports.md section 7).
 */
const UNKNOWN_SIZE = 0xffff_ffff_ffff_ffffn;

/** Bytes of the reply key a sender puts in front of a message (docs/transports.md section 10). */
export const REPLY_KEY_SIZE = 32;

/** Bytes of a receipt: nonce, sealed body and tag (docs/transports.md section 10). */
export const RECEIPT_SIZE = 44;

/**
 * Throws RangeError unless `receipt` is absent or {@linkcode RECEIPT_SIZE} bytes: the one check
 * behind every way an acknowledgement is sent (connections, dial's inbound peers, UDP).
 */
export function checkReceipt(receipt: unknown): void {
  if (
    receipt !== undefined && !(receipt instanceof Uint8Array && receipt.length === RECEIPT_SIZE)
  ) {
    throw new RangeError(`receipt must be ${RECEIPT_SIZE} bytes`);
  }
}

/** What a message may carry besides its content. */
export interface MessageOptions {
  /** The {@linkcode REPLY_KEY_SIZE}-byte key the receipt is sealed to (see {@linkcode newReplyKey}). */
  readonly replyKey?: Uint8Array;
}

/**
 * A fresh random reply key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newReplyKey, REPLY_KEY_SIZE } from "@polycrypt/polycrypt/transports";
 * assert.equal(newReplyKey().length, REPLY_KEY_SIZE);
 * ```
 */
export function newReplyKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(REPLY_KEY_SIZE));
}

/** `reply || key` when a reply key is given, else nothing. */
function replyPrefix(options: MessageOptions): Uint8Array {
  if (options.replyKey === undefined) return new Uint8Array(0);
  if (!(options.replyKey instanceof Uint8Array) || options.replyKey.length !== REPLY_KEY_SIZE) {
    throw new RangeError(`replyKey must be ${REPLY_KEY_SIZE} bytes`);
  }
  const out = new Uint8Array(1 + REPLY_KEY_SIZE);
  out[0] = MESSAGE_KIND.reply;
  out.set(options.replyKey, 1);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const encoder = new TextEncoder();

/**
 * A text message, with the reply key in front when `options.replyKey` is given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MESSAGE_KIND, newReplyKey, textMessage } from "@polycrypt/polycrypt/transports";
 * assert.deepEqual(textMessage("hi"), new Uint8Array([MESSAGE_KIND.text, 104, 105]));
 * assert.equal(textMessage("hi", { replyKey: newReplyKey() }).length, 1 + 32 + 3);
 * ```
 */
export function textMessage(text: string, options: MessageOptions = {}): Uint8Array {
  if (typeof text !== "string") throw new TypeError("text must be a string");
  const body = encoder.encode(text);
  const out = new Uint8Array(1 + body.length);
  out[0] = MESSAGE_KIND.text;
  out.set(body, 1);
  return concat(replyPrefix(options), out);
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
 * The bytes that precede a file's content: kind, u8 name length, name (after the reply key when
 * `options.replyKey` is given).
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
export function fileMessageHeader(name: string, options: MessageOptions = {}): Uint8Array {
  const bytes = encoder.encode(checkFileName(name));
  const out = new Uint8Array(2 + bytes.length);
  out[0] = MESSAGE_KIND.file;
  out[1] = bytes.length;
  out.set(bytes, 2);
  return concat(replyPrefix(options), out);
}

/**
 * The offer of a file (docs/transports.md section 7): sent before the file, so a listener that
 * will refuse it says so before the file's bytes travel. `size` is the file's size in bytes, or
 * `undefined` when the sender does not know it. An offer needs a reply key (its answer is a
 * receipt sealed to it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MESSAGE_KIND, newReplyKey, offerMessage, parseMessage } from "@polycrypt/polycrypt/transports";
 * const offer = offerMessage("a.txt", 1234, { replyKey: newReplyKey() });
 * assert.equal(offer[33], MESSAGE_KIND.offer);
 * const parsed = await parseMessage(ReadableStream.from([offer]));
 * assert.ok(parsed.kind === "offer");
 * assert.equal(parsed.name, "a.txt");
 * assert.equal(parsed.size, 1234);
 * ```
 */
export function offerMessage(
  name: string,
  size: number | undefined,
  options: MessageOptions & { readonly replyKey: Uint8Array },
): Uint8Array {
  if (options?.replyKey === undefined) throw new TypeError("an offer needs a replyKey");
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
    throw new RangeError("size must be a safe non-negative integer");
  }
  const bytes = encoder.encode(checkFileName(name));
  const out = new Uint8Array(1 + 8 + 1 + bytes.length);
  out[0] = MESSAGE_KIND.offer;
  new DataView(out.buffer).setBigUint64(1, size === undefined ? UNKNOWN_SIZE : BigInt(size));
  out[9] = bytes.length;
  out.set(bytes, 10);
  return concat(replyPrefix(options), out);
}

/**
 * A secret-check control message (docs/transports.md section 7): `0x56 ("V") || payload`, the
 * payload being one message of `startSecretCheck` (at most {@linkcode VERIFY_MESSAGE_MAX}
 * bytes), with the reply key in front when `options.replyKey` is given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseMessage, verifyMessage } from "@polycrypt/polycrypt/transports";
 * const parsed = await parseMessage(ReadableStream.from([verifyMessage(new Uint8Array([1, 2]))]));
 * assert.equal(parsed.kind, "verify");
 * assert.deepEqual(new Uint8Array(await new Response(parsed.body).arrayBuffer()), new Uint8Array([1, 2]));
 * ```
 */
export function verifyMessage(payload: Uint8Array, options: MessageOptions = {}): Uint8Array {
  if (!(payload instanceof Uint8Array)) throw new TypeError("payload must be a Uint8Array");
  if (payload.length > VERIFY_MESSAGE_MAX) {
    throw new RangeError(`payload must be at most ${VERIFY_MESSAGE_MAX} bytes`);
  }
  const out = new Uint8Array(1 + payload.length);
  out[0] = MESSAGE_KIND.verify;
  out.set(payload, 1);
  return concat(replyPrefix(options), out);
}

/**
 * A parsed message: its kind, the file name for files, the reply key when the sender put one in,
 * and the rest of the plaintext.
 */
export type ParsedMessage =
  | {
    readonly kind: "text";
    readonly replyKey?: Uint8Array;
    readonly body: ReadableStream<Uint8Array>;
  }
  | {
    /** A secret-check control message ({@linkcode verifyMessage}); `body` is its payload. */
    readonly kind: "verify";
    readonly replyKey?: Uint8Array;
    readonly body: ReadableStream<Uint8Array>;
  }
  | {
    readonly kind: "file";
    readonly replyKey?: Uint8Array;
    readonly name: string;
    readonly body: ReadableStream<Uint8Array>;
  }
  | {
    readonly kind: "offer";
    readonly replyKey: Uint8Array;
    readonly name: string;
    /** The offered file's size in bytes; `undefined` when its sender did not know it. */
    readonly size: number | undefined;
    /** Empty: an offer ends after its name (read it to the end, so a signature is checked). */
    readonly body: ReadableStream<Uint8Array>;
  };

/**
 * Reads the reply key if any, the kind (and file name, and an offer's size) from the front of a decrypted message
 * stream; the body streams on. Throws {@linkcode FormatError} for anything else. `onReplyKey`
 * hears the reply key as soon as it is read, before the rest is checked.
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
export async function parseMessage(
  stream: ReadableStream<Uint8Array>,
  onReplyKey?: (replyKey: Uint8Array) => void,
): Promise<ParsedMessage> {
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
    let at = 0;
    let replyKey: Uint8Array | undefined;
    if (head[0] === MESSAGE_KIND.reply) {
      await need(1 + REPLY_KEY_SIZE + 1);
      replyKey = head.slice(1, 1 + REPLY_KEY_SIZE);
      onReplyKey?.(replyKey);
      at = 1 + REPLY_KEY_SIZE;
    }
    const extra = replyKey ? { replyKey } : {};
    if (head[at] === MESSAGE_KIND.text) return { kind: "text", ...extra, body: rest(at + 1) };
    if (head[at] === MESSAGE_KIND.verify) return { kind: "verify", ...extra, body: rest(at + 1) };
    /** The u8-length-prefixed file name at `from`, checked. */
    const readName = async (from: number) => {
      await need(from + 1);
      const length = head[from];
      await need(from + 1 + length);
      let name: string;
      try {
        name = new TextDecoder("utf-8", { fatal: true }).decode(
          head.subarray(from + 1, from + 1 + length),
        );
      } catch {
        throw new FormatError("not an acceptable file name");
      }
      return { name: checkFileName(name), end: from + 1 + length };
    };
    if (head[at] === MESSAGE_KIND.offer) {
      if (!replyKey) throw new FormatError("not a polycrypt message");
      await need(at + 9);
      const raw = new DataView(head.buffer, head.byteOffset).getBigUint64(at + 1);
      if (raw !== UNKNOWN_SIZE && raw > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new FormatError("not a polycrypt message");
      }
      const { name, end } = await readName(at + 9);
      const size = raw === UNKNOWN_SIZE ? undefined : Number(raw);
      return { kind: "offer", replyKey, name, size, body: rest(end) };
    }
    if (head[at] !== MESSAGE_KIND.file) throw new FormatError("not a polycrypt message");
    const { name, end } = await readName(at + 1);
    return { kind: "file", ...extra, name, body: rest(end) };
  } catch (e) {
    // Nothing more is read from a message we refuse; the source learns it is not wanted.
    await reader.cancel().catch(() => {});
    throw e;
  }
}

/** Receipt outcomes (docs/transports.md section 10). */
export const RECEIPT_OUTCOME: Readonly<{
  delivered: 0x01;
  duplicate: 0x02;
  noOutputDir: 0x03;
  tooLarge: 0x04;
  failed: 0x05;
  accepted: 0x06;
}> = Object.freeze({
  delivered: 0x01,
  duplicate: 0x02,
  noOutputDir: 0x03,
  tooLarge: 0x04,
  failed: 0x05,
  accepted: 0x06,
});

/** One of the {@linkcode RECEIPT_OUTCOME} names. */
export type ReceiptOutcome = keyof typeof RECEIPT_OUTCOME;

const RECEIPT_VERSION = 0x02;
const RECEIPT_BODY_SIZE = 16;
const RECEIPT_LABEL = encoder.encode("polycrypt receipt v2");
const RECEIPT_AEAD = "aes-256-gcm";

/** The receipt key and additional data for a reply key and a message id. */
async function receiptKey(
  replyKey: Uint8Array,
  id: Uint8Array,
): Promise<{ key: Uint8Array; aad: Uint8Array }> {
  if (!(replyKey instanceof Uint8Array) || replyKey.length !== REPLY_KEY_SIZE) {
    throw new RangeError(`replyKey must be ${REPLY_KEY_SIZE} bytes`);
  }
  if (!(id instanceof Uint8Array)) throw new TypeError("id must be a Uint8Array");
  const key = await hkdf("SHA-256", replyKey, new Uint8Array(0), RECEIPT_LABEL, 32);
  return { key, aad: concat(RECEIPT_LABEL, id) };
}

/**
 * The {@linkcode RECEIPT_SIZE}-byte receipt for the message `id`: sealed to `replyKey` with the
 * outcome, or random bytes when there is no reply key (docs/transports.md section 10).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newReplyKey, openReceipt, RECEIPT_SIZE, sealReceipt } from "@polycrypt/polycrypt/transports";
 * const replyKey = newReplyKey(), id = new Uint8Array(16);
 * const sealed = await sealReceipt(replyKey, id, "delivered");
 * const random = await sealReceipt(undefined, id, "delivered");
 * assert.equal(sealed.length, RECEIPT_SIZE);
 * assert.equal(random.length, RECEIPT_SIZE);
 * assert.equal(await openReceipt(replyKey, id, sealed), "delivered");
 * assert.equal(await openReceipt(replyKey, id, random), undefined);
 * assert.equal(await openReceipt(newReplyKey(), id, sealed), undefined);
 * ```
 */
export async function sealReceipt(
  replyKey: Uint8Array | undefined,
  id: Uint8Array,
  outcome: ReceiptOutcome,
): Promise<Uint8Array> {
  if (!(outcome in RECEIPT_OUTCOME)) throw new RangeError("unknown receipt outcome");
  if (replyKey === undefined) return crypto.getRandomValues(new Uint8Array(RECEIPT_SIZE));
  const { key, aad } = await receiptKey(replyKey, id);
  const aead = registry.aead(RECEIPT_AEAD);
  const nonce = crypto.getRandomValues(new Uint8Array(aead.nonceSize));
  const body = new Uint8Array(RECEIPT_BODY_SIZE);
  body[0] = RECEIPT_VERSION;
  body[1] = RECEIPT_OUTCOME[outcome];
  return concat(nonce, await aead.seal(key, nonce, body, aad));
}

/**
 * Opens a receipt for the message `id` with the sender's `replyKey`: its outcome, or `undefined`
 * when it does not open (the listener could not decrypt the message, or the receipt is not for
 * this message).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newReplyKey, openReceipt, sealReceipt } from "@polycrypt/polycrypt/transports";
 * const replyKey = newReplyKey();
 * const receipt = await sealReceipt(replyKey, new Uint8Array(16), "duplicate");
 * assert.equal(await openReceipt(replyKey, new Uint8Array(16), receipt), "duplicate");
 * assert.equal(await openReceipt(replyKey, new Uint8Array(16).fill(1), receipt), undefined);
 * ```
 */
export async function openReceipt(
  replyKey: Uint8Array,
  id: Uint8Array,
  receipt: Uint8Array,
): Promise<ReceiptOutcome | undefined> {
  if (!(receipt instanceof Uint8Array) || receipt.length !== RECEIPT_SIZE) return undefined;
  const { key, aad } = await receiptKey(replyKey, id);
  const aead = registry.aead(RECEIPT_AEAD);
  let body: Uint8Array;
  try {
    body = await aead.open(
      key,
      receipt.subarray(0, aead.nonceSize),
      receipt.subarray(aead.nonceSize),
      aad,
    );
  } catch {
    return undefined;
  }
  if (body.length !== RECEIPT_BODY_SIZE || body[0] !== RECEIPT_VERSION) return undefined;
  const name = (Object.keys(RECEIPT_OUTCOME) as ReceiptOutcome[])
    .find((k) => RECEIPT_OUTCOME[k] === body[1]);
  return name;
}
