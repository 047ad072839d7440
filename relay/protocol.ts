/**
 * The relay protocol's byte codec, version 1 (`docs/relay.md` section 3): the relay's greeting,
 * commands, responses and error codes. Pure functions, no I/O.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COMMAND, encodeCommand, parseCommand } from "@polycrypt/polycrypt/relay";
 * const bytes = encodeCommand({ seq: 7, auth: new Uint8Array(0), tag: COMMAND.PING });
 * const parsed = parseCommand(bytes);
 * assert.equal(parsed.seq, 7);
 * assert.equal(parsed.tag, COMMAND.PING);
 * ```
 *
 * @module
 */
import { PolycryptError } from "../errors.ts";
import { concatBytes } from "../engines/_bytes.ts";

/** Protocol version in the relay's HELLO. */
export const RELAY_VERSION = 1;

/** Receiving and sending ids are this long (random). */
export const QUEUE_ID_SIZE = 24;

/** Message ids (chosen by the sender, for deduplication) are this long. */
export const RELAY_MESSAGE_ID_SIZE = 16;

/** The per-connection nonce of the relay's HELLO. */
export const NONCE_SIZE = 32;

/** Command tags (`docs/relay.md` section 3.1). */
export const COMMAND: Readonly<{
  NEW: 0x01;
  KEY: 0x02;
  SEND: 0x03;
  SUB: 0x04;
  GET: 0x05;
  ACK: 0x06;
  DEL: 0x07;
  PUBLISH: 0x08;
  FETCH: 0x09;
  PING: 0x0a;
  GNEW: 0x0b;
  GPOST: 0x0c;
  GGET: 0x0d;
  GSUB: 0x0e;
}> = Object.freeze({
  NEW: 0x01,
  KEY: 0x02,
  SEND: 0x03,
  SUB: 0x04,
  GET: 0x05,
  ACK: 0x06,
  DEL: 0x07,
  PUBLISH: 0x08,
  FETCH: 0x09,
  PING: 0x0a,
  GNEW: 0x0b,
  GPOST: 0x0c,
  GGET: 0x0d,
  GSUB: 0x0e,
});

/** Response tags (`docs/relay.md` section 3.2). */
export const RESPONSE: Readonly<{
  HELLO: 0x80;
  IDS: 0x81;
  OK: 0x82;
  MSG: 0x83;
  EMPTY: 0x84;
  BUNDLE: 0x85;
  COUNT: 0x86;
  PONG: 0x87;
  END: 0x88;
  SEQ: 0x89;
  GMSGS: 0x8a;
  GNOTE: 0x8b;
  ERR: 0xff;
}> = Object.freeze({
  HELLO: 0x80,
  IDS: 0x81,
  OK: 0x82,
  MSG: 0x83,
  EMPTY: 0x84,
  BUNDLE: 0x85,
  COUNT: 0x86,
  PONG: 0x87,
  END: 0x88,
  SEQ: 0x89,
  GMSGS: 0x8a,
  GNOTE: 0x8b,
  ERR: 0xff,
});

/** Error codes of an ERR response (`docs/relay.md` section 3.3). */
export const RELAY_ERROR: Readonly<{
  SYNTAX: 0x01;
  UNKNOWN: 0x02;
  AUTH: 0x03;
  REPLAY: 0x04;
  LARGE: 0x05;
  QUOTA: 0x06;
  NOT_ENVELOPE: 0x07;
  RATE: 0x08;
  QUEUES: 0x09;
  NO_MSG: 0x0a;
  NO_BUNDLE: 0x0b;
  INTERNAL: 0x0c;
  STALE_EPOCH: 0x0d;
}> = Object.freeze({
  SYNTAX: 0x01,
  UNKNOWN: 0x02,
  AUTH: 0x03,
  REPLAY: 0x04,
  LARGE: 0x05,
  QUOTA: 0x06,
  NOT_ENVELOPE: 0x07,
  RATE: 0x08,
  QUEUES: 0x09,
  NO_MSG: 0x0a,
  NO_BUNDLE: 0x0b,
  INTERNAL: 0x0c,
  STALE_EPOCH: 0x0d,
});

/** The name of an error code, e.g. `"QUOTA"`; `"0x.."` for a code this version does not know. */
export function errorName(code: number): string {
  const entry = Object.entries(RELAY_ERROR).find(([, value]) => value === code);
  return entry ? entry[0] : `0x${code.toString(16).padStart(2, "0")}`;
}

/**
 * The relay refused a command: `code` is one of {@linkcode RELAY_ERROR}, and the message names it
 * (`relay refused the command: QUOTA`). Also thrown by the codec for bytes that do not parse
 * (`SYNTAX`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RELAY_ERROR, RelayError } from "@polycrypt/polycrypt/relay";
 * const e = new RelayError(RELAY_ERROR.QUOTA);
 * assert.equal(e.codeName, "QUOTA");
 * assert.match(e.message, /QUOTA/);
 * ```
 */
export class RelayError extends PolycryptError {
  /** The error code. */
  readonly code: number;
  /**
   * An error for `code`.
   *
   * @param code one of {@linkcode RELAY_ERROR}
   * @param message defaults to naming the code
   */
  constructor(code: number, message?: string) {
    super(message ?? `relay refused the command: ${errorName(code)}`);
    this.code = code;
  }
  /** The code's name, e.g. `"AUTH"`. */
  get codeName(): string {
    return errorName(this.code);
  }
}

/**
 * `ERR STALE_EPOCH` (`docs/relay.md` section 10): a group message for an epoch that is not the
 * group queue's current one (another member's commit came first). Fetch and process the queue,
 * then make the message again.
 */
export class RelayStaleEpochError extends RelayError {
  /** The group queue's current epoch. */
  readonly currentEpoch: bigint;
  /** The error for a queue at `currentEpoch`. */
  constructor(currentEpoch: bigint) {
    super(
      RELAY_ERROR.STALE_EPOCH,
      `relay refused the command: STALE_EPOCH (the group queue is at epoch ${currentEpoch})`,
    );
    this.currentEpoch = currentEpoch;
  }
}

function syntax(what: string): RelayError {
  return new RelayError(RELAY_ERROR.SYNTAX, `malformed relay transmission: ${what}`);
}

/** The label signed commands begin with. */
const LABEL = new TextEncoder().encode("polycrypt-relay/1 command\0");

/** A command as {@linkcode encodeCommand} takes it. */
export interface CommandFields {
  /** Sequence number, 1 to 2^32 - 1, increasing on a connection. */
  seq: number;
  /** The signature, or empty for an unsigned command. */
  auth: Uint8Array;
  /** One of {@linkcode COMMAND}. */
  tag: number;
  /** RID, SID or empty. */
  id?: Uint8Array;
  /** The rest. */
  body?: Uint8Array;
}

/** A parsed command. */
export interface Command {
  /** Sequence number. */
  readonly seq: number;
  /** The signature (empty when unsigned). */
  readonly auth: Uint8Array;
  /** The tag byte. */
  readonly tag: number;
  /** RID, SID or empty. */
  readonly id: Uint8Array;
  /** The body. */
  readonly body: Uint8Array;
  /** `tag || idLen || id || body`: what the signature covers, after the nonce and seq. */
  readonly signed: Uint8Array;
}

/** `tag || idLen || id || body`. */
export function signedPart(
  tag: number,
  id: Uint8Array = new Uint8Array(0),
  body: Uint8Array = new Uint8Array(0),
): Uint8Array {
  if (id.length > 255) throw new RangeError("id must be at most 255 bytes");
  return concatBytes(new Uint8Array([tag, id.length]), id, body);
}

/** `M`, the bytes a command's signature covers (`docs/relay.md` section 3). */
export function commandMessage(nonce: Uint8Array, seq: number, signed: Uint8Array): Uint8Array {
  const s = new Uint8Array(4);
  new DataView(s.buffer).setUint32(0, seq);
  return concatBytes(LABEL, nonce, s, signed);
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > 0xffffffff) {
    throw new RangeError("seq must be an integer from 0 to 2^32 - 1");
  }
}

/** Encodes a command. */
export function encodeCommand(fields: CommandFields): Uint8Array {
  checkSeq(fields.seq);
  if (fields.auth.length > 0xffff) throw new RangeError("auth must be at most 65535 bytes");
  const head = new Uint8Array(6);
  const view = new DataView(head.buffer);
  view.setUint32(0, fields.seq);
  view.setUint16(4, fields.auth.length);
  return concatBytes(head, fields.auth, signedPart(fields.tag, fields.id, fields.body));
}

/** Parses a command; {@linkcode RelayError} `SYNTAX` when it does not parse. */
export function parseCommand(bytes: Uint8Array): Command {
  if (bytes.length < 8) throw syntax("too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seq = view.getUint32(0);
  const authLen = view.getUint16(4);
  if (bytes.length < 6 + authLen + 2) throw syntax("too short");
  const auth = bytes.subarray(6, 6 + authLen);
  const signed = bytes.subarray(6 + authLen);
  const idLen = signed[1];
  if (signed.length < 2 + idLen) throw syntax("id longer than the transmission");
  return {
    seq,
    auth,
    tag: signed[0],
    id: signed.subarray(2, 2 + idLen),
    body: signed.subarray(2 + idLen),
    signed,
  };
}

/** A response or push. */
export interface Response {
  /** The command's seq, 0 for a push. */
  readonly seq: number;
  /** One of {@linkcode RESPONSE}. */
  readonly tag: number;
  /** RID, SID or empty. */
  readonly id: Uint8Array;
  /** The rest. */
  readonly body: Uint8Array;
}

/** Encodes a response. */
export function encodeResponse(
  seq: number,
  tag: number,
  id: Uint8Array = new Uint8Array(0),
  body: Uint8Array = new Uint8Array(0),
): Uint8Array {
  checkSeq(seq);
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, seq);
  return concatBytes(head, signedPart(tag, id, body));
}

/** Parses a response; {@linkcode RelayError} `SYNTAX` when it does not parse. */
export function parseResponse(bytes: Uint8Array): Response {
  if (bytes.length < 6) throw syntax("too short");
  const seq = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  const idLen = bytes[5];
  if (bytes.length < 6 + idLen) throw syntax("id longer than the transmission");
  return {
    seq,
    tag: bytes[4],
    id: bytes.subarray(6, 6 + idLen),
    body: bytes.subarray(6 + idLen),
  };
}

/** The relay's greeting, parsed. */
export interface Hello {
  /** Protocol version. */
  readonly version: number;
  /** This connection's nonce, which every signature covers. */
  readonly nonce: Uint8Array;
  /** The largest envelope the relay accepts. */
  readonly maxEnvelope: number;
}

/** `0x80 || version || nonce[32] || maxEnvelope:u32`. */
export function encodeHello(nonce: Uint8Array, maxEnvelope: number): Uint8Array {
  if (nonce.length !== NONCE_SIZE) throw new RangeError(`nonce must be ${NONCE_SIZE} bytes`);
  const out = new Uint8Array(2 + NONCE_SIZE + 4);
  out[0] = RESPONSE.HELLO;
  out[1] = RELAY_VERSION;
  out.set(nonce, 2);
  new DataView(out.buffer).setUint32(2 + NONCE_SIZE, maxEnvelope);
  return out;
}

/** Parses the greeting; {@linkcode RelayError} `SYNTAX` for anything else or another version. */
export function parseHello(bytes: Uint8Array): Hello {
  if (bytes.length !== 2 + NONCE_SIZE + 4 || bytes[0] !== RESPONSE.HELLO) {
    throw syntax("not a relay greeting");
  }
  if (bytes[1] !== RELAY_VERSION) throw syntax("unsupported relay protocol version");
  return {
    version: bytes[1],
    nonce: bytes.slice(2, 2 + NONCE_SIZE),
    maxEnvelope: new DataView(bytes.buffer, bytes.byteOffset).getUint32(2 + NONCE_SIZE),
  };
}

/** An authorization public key as commands carry it. */
export interface AuthKey {
  /** The signature engine id, e.g. `"ed25519"`. */
  readonly algorithm: string;
  /** The public key. */
  readonly publicKey: Uint8Array;
}

/** `algLen:u8 || alg || keyLen:u16 || publicKey`. */
export function encodeAuthKey(key: AuthKey): Uint8Array {
  const alg = new TextEncoder().encode(key.algorithm);
  if (alg.length < 1 || alg.length > 255) throw new RangeError("algorithm must be 1 to 255 bytes");
  if (key.publicKey.length > 0xffff) throw new RangeError("publicKey is too long");
  const head = new Uint8Array(1 + alg.length + 2);
  head[0] = alg.length;
  head.set(alg, 1);
  new DataView(head.buffer).setUint16(1 + alg.length, key.publicKey.length);
  return concatBytes(head, key.publicKey);
}

/** Parses a key that fills `bytes` exactly; {@linkcode RelayError} `SYNTAX` otherwise. */
export function parseAuthKey(bytes: Uint8Array): AuthKey {
  if (bytes.length < 4) throw syntax("key too short");
  const algLen = bytes[0];
  if (algLen === 0 || bytes.length < 1 + algLen + 2) throw syntax("key too short");
  const algorithm = new TextDecoder("utf-8", { fatal: false }).decode(
    bytes.subarray(1, 1 + algLen),
  );
  if (!/^[a-z0-9+-]+$/.test(algorithm)) throw syntax("bad algorithm id");
  const keyLen = new DataView(bytes.buffer, bytes.byteOffset).getUint16(1 + algLen);
  if (bytes.length !== 1 + algLen + 2 + keyLen) throw syntax("key length");
  return { algorithm, publicKey: bytes.slice(1 + algLen + 2) };
}

/** `flags:u8 || count:u16 || (len:u32 || bundle)*`. */
export function encodeBundles(bundles: readonly Uint8Array[], flags: number): Uint8Array {
  if (bundles.length > 0xffff) throw new RangeError("too many bundles");
  const parts: Uint8Array[] = [new Uint8Array([flags, bundles.length >> 8, bundles.length & 0xff])];
  for (const b of bundles) {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length);
    parts.push(len, b);
  }
  return concatBytes(...parts);
}

/** Parses a PUBLISH body. */
export function parseBundles(body: Uint8Array): { flags: number; bundles: Uint8Array[] } {
  if (body.length < 3) throw syntax("publish too short");
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const flags = body[0];
  const count = view.getUint16(1);
  const bundles: Uint8Array[] = [];
  let at = 3;
  for (let i = 0; i < count; i++) {
    if (at + 4 > body.length) throw syntax("bundle length");
    const len = view.getUint32(at);
    at += 4;
    if (at + len > body.length) throw syntax("bundle length");
    bundles.push(body.slice(at, at + len));
    at += len;
  }
  if (at !== body.length) throw syntax("bytes after the bundles");
  return { flags, bundles };
}

/** PUBLISH flag: drop the queue's previous one-time bundles first. */
export const PUBLISH_REPLACE = 0x01;
/** PUBLISH flag: the one bundle given is the last-resort bundle. */
export const PUBLISH_LAST_RESORT = 0x02;

const MAGIC = new Uint8Array([0x50, 0x43, 0x52, 0x59, 0x50, 0x54, 0x00, 0x01]);

/**
 * Whether `bytes` begin like a binary sealed envelope the relay accepts: the magic
 * `"PCRYPT" 0x00 0x01` and mode 0x00 (public), 0x01 (password), 0x02 (session message) or 0x03
 * (group message: a Welcome or key package deposited in a member's queue). Armored envelopes are
 * refused. A shape check, not authentication.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { isRelayEnvelope } from "@polycrypt/polycrypt/relay";
 * const bob = await generateIdentity("x25519");
 * assert.equal(isRelayEnvelope(await encrypt(new Uint8Array(1), { recipients: [bob.recipient] })), true);
 * assert.equal(isRelayEnvelope(new TextEncoder().encode("hello, relay")), false);
 * ```
 */
export function isRelayEnvelope(bytes: Uint8Array): boolean {
  if (bytes.length <= MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return false;
  return bytes[MAGIC.length] <= 0x03;
}

/** A group message as the relay reads its clear header (`docs/relay.md` section 10). */
export interface GroupMessageHeader {
  /** `"commit"`, `"proposal"` or `"application"` (the MLS content type, in clear). */
  readonly type: "commit" | "proposal" | "application";
  /** The MLS epoch the message was made in. */
  readonly epoch: bigint;
  /** The MLS group id. */
  readonly groupId: Uint8Array;
}

/** An MLS variable-length size (RFC 9420 section 2.1.2): [value, bytes read], or undefined. */
function mlsVarint(bytes: Uint8Array, at: number): [number, number] | undefined {
  if (at >= bytes.length) return undefined;
  const prefix = bytes[at] >> 6;
  const size = [1, 2, 4][prefix];
  if (size === undefined || at + size > bytes.length) return undefined;
  let value = bytes[at] & 0x3f;
  for (let i = 1; i < size; i++) value = value * 256 + bytes[at + i];
  return [value, size];
}

/**
 * Reads the clear header of a mode-0x03 group envelope the relay orders (GPOST): `"PCRYPT" 0x00
 * 0x01 || 0x03 || kind || MLSMessage` with kind 0x01 (application) or 0x02 (handshake), the MLS
 * message a `PrivateMessage` (version mls10, wire format 2) whose content type agrees with the
 * kind. Undefined for anything else. A shape check: the relay cannot decrypt or authenticate it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseGroupMessageHeader } from "@polycrypt/polycrypt/relay";
 * const bytes = new Uint8Array([0x50, 0x43, 0x52, 0x59, 0x50, 0x54, 0, 1, 3, 2, 0, 1, 0, 2, 2, 7, 7,
 *   0, 0, 0, 0, 0, 0, 0, 5, 3, 0, 0, 0]);
 * assert.deepEqual(parseGroupMessageHeader(bytes), {
 *   type: "commit", epoch: 5n, groupId: new Uint8Array([7, 7]),
 * });
 * assert.equal(parseGroupMessageHeader(bytes.subarray(0, 20)), undefined);
 * ```
 */
export function parseGroupMessageHeader(bytes: Uint8Array): GroupMessageHeader | undefined {
  if (bytes.length < 14) return undefined;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return undefined;
  const kind = bytes[9];
  if (bytes[8] !== 0x03 || (kind !== 0x01 && kind !== 0x02)) return undefined;
  // MLSMessage: version u16 = 1 (mls10), wire_format u16 = 2 (mls_private_message).
  if (bytes[10] !== 0 || bytes[11] !== 1 || bytes[12] !== 0 || bytes[13] !== 2) return undefined;
  const length = mlsVarint(bytes, 14);
  if (!length) return undefined;
  const at = 14 + length[1] + length[0];
  if (at + 9 > bytes.length) return undefined;
  const groupId = bytes.slice(14 + length[1], at);
  const epoch = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(at);
  const contentType = bytes[at + 8];
  const type = contentType === 1
    ? "application"
    : contentType === 2
    ? "proposal"
    : contentType === 3
    ? "commit"
    : undefined;
  if (!type || (kind === 0x01) !== (type === "application")) return undefined;
  return { type, epoch, groupId };
}

/** `epoch:u64 || after:u64 || limit:u16`: a GGET body. */
export function encodeGroupGet(epoch: bigint, after: number, limit: number): Uint8Array {
  const out = new Uint8Array(18);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, epoch);
  view.setBigUint64(8, BigInt(after));
  view.setUint16(16, limit);
  return out;
}

/** One message of a group queue as GGET returns it. */
export interface GroupQueueMessage {
  /** Its sequence number in the group queue (1 upwards, no gaps). */
  readonly seq: number;
  /** The envelope as posted. */
  readonly envelope: Uint8Array;
}

/** `current:u64 || count:u16 || (seq:u64 || len:u32 || envelope)*`: a GMSGS body. */
export function encodeGroupMessages(
  current: bigint,
  messages: readonly GroupQueueMessage[],
): Uint8Array {
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(10);
  new DataView(head.buffer).setBigUint64(0, current);
  new DataView(head.buffer).setUint16(8, messages.length);
  parts.push(head);
  for (const m of messages) {
    const h = new Uint8Array(12);
    new DataView(h.buffer).setBigUint64(0, BigInt(m.seq));
    new DataView(h.buffer).setUint32(8, m.envelope.length);
    parts.push(h, m.envelope);
  }
  return concatBytes(...parts);
}

/** Parses a GMSGS body; {@linkcode RelayError} `SYNTAX` when it does not parse. */
export function parseGroupMessages(
  body: Uint8Array,
): { current: bigint; messages: GroupQueueMessage[] } {
  if (body.length < 10) throw syntax("group messages too short");
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const current = view.getBigUint64(0);
  const count = view.getUint16(8);
  const messages: GroupQueueMessage[] = [];
  let at = 10;
  for (let i = 0; i < count; i++) {
    if (at + 12 > body.length) throw syntax("group message length");
    const seq = Number(view.getBigUint64(at));
    const len = view.getUint32(at + 8);
    at += 12;
    if (at + len > body.length) throw syntax("group message length");
    messages.push({ seq, envelope: body.slice(at, at + len) });
    at += len;
  }
  if (at !== body.length) throw syntax("bytes after the group messages");
  return { current, messages };
}
