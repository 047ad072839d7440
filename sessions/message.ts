/**
 * Session messages: envelope mode `0x02` (docs/sessions.md section 4). This module only frames
 * them: the magic, the mode, the kind byte and the prekey head. The handshake
 * (`sessions/handshake.ts`) fills the head in; the ratchet (`sessions/ratchet.ts`) makes the body.
 *
 * ```
 * message     = "PCRYPT" 0x00 0x01 || 0x02 || kind || body
 * prekey_head = "PCRYPT" 0x00 0x01 || 0x02 || 0x01
 *             || u32 spk_id || u8 pq_kind || u32 pq_id || u32 opk_id || EK_A_pub (32) || lp(ct)
 * prekey body = prekey_head || lp(sealed_from) || ratchet body
 * ratchet body= nonce_h (12) || lp(enc_header) || enc_body
 * ```
 *
 * @module
 */
import { FormatError } from "../errors.ts";
import { equalBytes, readU32be } from "../engines/_bytes.ts";
import { MAGIC } from "../cascade/format.ts";

/** The envelope mode of session messages (docs/format.md section 1). */
export const SESSION_MODE = 0x02;
/** `kind` of a prekey message: the handshake's head, the sender seal, then a ratchet body. */
export const PREKEY_MESSAGE = 0x01;
/** `kind` of a ratchet message: a ratchet body only. */
export const RATCHET_MESSAGE = 0x02;
/** `pq_kind` of a prekey message that used Bob's signed last-resort KEM prekey. */
export const PQ_KIND_PQSPK = 0x01;
/** `pq_kind` of a prekey message that used one of Bob's one-time KEM prekeys. */
export const PQ_KIND_PQOPK = 0x02;
/** `opk_id` when no one-time X25519 prekey was used. */
export const NO_OPK = 0xffffffff;
/** Bytes before `body`: the magic, the mode and the kind. */
export const SESSION_PREFIX_SIZE: number = MAGIC.length + 2;
/** Bytes of `nonce_h`, the header nonce at the start of every ratchet body. */
export const HEADER_NONCE_SIZE = 12;
/** The smallest ratchet body: `nonce_h` and the length of `enc_header`. */
export const MIN_RATCHET_BODY: number = HEADER_NONCE_SIZE + 4;

/** The decoded fields of a `prekey_head`. */
export interface PrekeyHead {
  /** Bob's signed X25519 prekey that was used. */
  readonly spkId: number;
  /** Which KEM prekey was used: `"pqspk"` (the last resort) or `"pqopk"` (one-time). */
  readonly pqKind: "pqspk" | "pqopk";
  /** The id of that KEM prekey. */
  readonly pqId: number;
  /** Bob's one-time X25519 prekey that was used, if any. */
  readonly opkId?: number;
  /** Alice's ephemeral X25519 public key. */
  readonly ek: Uint8Array;
  /** The KEM ciphertext. */
  readonly ct: Uint8Array;
}

/**
 * `magic || 0x02 || 0x02`: the first bytes of every ratchet message, which the ratchet binds as
 * the `prefix` of its body.
 */
export function ratchetMessagePrefix(): Uint8Array {
  const out = new Uint8Array(SESSION_PREFIX_SIZE);
  out.set(MAGIC);
  out[MAGIC.length] = SESSION_MODE;
  out[MAGIC.length + 1] = RATCHET_MESSAGE;
  return out;
}

/**
 * The kind of a session message from its first 10 bytes: `1` a prekey message, `2` a ratchet
 * message, `undefined` for anything else (another envelope mode, an unknown kind, too short).
 * A shape check, not authentication.
 */
export function sessionMessageKind(bytes: Uint8Array): 1 | 2 | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length < SESSION_PREFIX_SIZE) return undefined;
  if (!equalBytes(bytes.subarray(0, MAGIC.length), MAGIC)) return undefined;
  if (bytes[MAGIC.length] !== SESSION_MODE) return undefined;
  const kind = bytes[MAGIC.length + 1];
  return kind === PREKEY_MESSAGE || kind === RATCHET_MESSAGE ? kind : undefined;
}

/** Encodes a `prekey_head` (with its 10 leading bytes). */
export function encodePrekeyHead(head: PrekeyHead): Uint8Array {
  for (const [name, id] of [["spkId", head.spkId], ["pqId", head.pqId]] as const) {
    checkId(name, id);
  }
  if (head.opkId !== undefined) checkId("opkId", head.opkId);
  if (head.opkId === NO_OPK) throw new RangeError("opkId 0xffffffff is reserved");
  if (head.ek.length !== 32) throw new RangeError("ek must be 32 bytes");
  const out = new Uint8Array(SESSION_PREFIX_SIZE + 4 + 1 + 4 + 4 + 32 + 4 + head.ct.length);
  const view = new DataView(out.buffer);
  out.set(MAGIC);
  out[MAGIC.length] = SESSION_MODE;
  out[MAGIC.length + 1] = PREKEY_MESSAGE;
  let at = SESSION_PREFIX_SIZE;
  view.setUint32(at, head.spkId);
  out[at + 4] = head.pqKind === "pqopk" ? PQ_KIND_PQOPK : PQ_KIND_PQSPK;
  view.setUint32(at + 5, head.pqId);
  view.setUint32(at + 9, head.opkId ?? NO_OPK);
  out.set(head.ek, at + 13);
  at += 45;
  view.setUint32(at, head.ct.length);
  out.set(head.ct, at + 4);
  return out;
}

function checkId(name: string, id: number): void {
  if (!Number.isSafeInteger(id) || id < 0 || id > 0xffffffff) {
    throw new RangeError(`${name} must be a u32`);
  }
}

/** The parts of a prekey message (docs/sessions.md section 4). */
export interface ParsedPrekeyMessage {
  /** The decoded `prekey_head`. */
  readonly head: PrekeyHead;
  /** The bytes of `prekey_head`, with its 10 leading bytes: the sender seal's associated data. */
  readonly headBytes: Uint8Array;
  /** `prekey_head || lp(sealed_from)`: the ratchet's `prefix` for this message. */
  readonly prefix: Uint8Array;
  /** The sealed sender (`sealed_from`). */
  readonly sealedFrom: Uint8Array;
  /** The ratchet body: `nonce_h || lp(enc_header) || enc_body`. */
  readonly body: Uint8Array;
}

/**
 * Splits a prekey message into its head, its sender seal and its ratchet body, without any
 * cryptography. Throws `FormatError` for anything that is not a well-formed prekey message. The
 * parts are views of `message`.
 */
export function parsePrekeyFrame(message: Uint8Array): ParsedPrekeyMessage {
  if (!(message instanceof Uint8Array)) throw new TypeError("message must be a Uint8Array");
  if (message.length < SESSION_PREFIX_SIZE) throw new FormatError("the message is truncated");
  if (!equalBytes(message.subarray(0, MAGIC.length), MAGIC)) {
    throw new FormatError("not a polycrypt message (or an unsupported version)");
  }
  if (message[MAGIC.length] !== SESSION_MODE) throw new FormatError("not a session message");
  if (message[MAGIC.length + 1] !== PREKEY_MESSAGE) throw new FormatError("not a prekey message");
  let at = SESSION_PREFIX_SIZE;
  const need = (n: number) => {
    if (message.length - at < n) throw new FormatError("the prekey message is truncated");
  };
  need(45 + 4);
  const spkId = readU32be(message, at);
  const pqByte = message[at + 4];
  if (pqByte !== PQ_KIND_PQSPK && pqByte !== PQ_KIND_PQOPK) {
    throw new FormatError("the prekey message names an unknown KEM prekey kind");
  }
  const pqId = readU32be(message, at + 5);
  const opk = readU32be(message, at + 9);
  const ek = message.subarray(at + 13, at + 45);
  at += 45;
  const ctLength = readU32be(message, at);
  at += 4;
  need(ctLength);
  const ct = message.subarray(at, at + ctLength);
  at += ctLength;
  const headBytes = message.subarray(0, at);
  need(4);
  const sealedLength = readU32be(message, at);
  at += 4;
  need(sealedLength);
  const sealedFrom = message.subarray(at, at + sealedLength);
  at += sealedLength;
  const prefix = message.subarray(0, at);
  if (message.length - at < MIN_RATCHET_BODY) {
    throw new FormatError("the prekey message is truncated");
  }
  return {
    head: {
      spkId,
      pqKind: pqByte === PQ_KIND_PQOPK ? "pqopk" : "pqspk",
      pqId,
      ...(opk === NO_OPK ? {} : { opkId: opk }),
      ek,
      ct,
    },
    headBytes,
    prefix,
    sealedFrom,
    body: message.subarray(at),
  };
}

/**
 * Splits a ratchet message into its 10-byte prefix and its ratchet body (`FormatError` when it
 * is not one).
 */
export function parseRatchetFrame(message: Uint8Array): { prefix: Uint8Array; body: Uint8Array } {
  if (!(message instanceof Uint8Array)) throw new TypeError("message must be a Uint8Array");
  if (message.length < SESSION_PREFIX_SIZE) throw new FormatError("the message is truncated");
  if (!equalBytes(message.subarray(0, MAGIC.length), MAGIC)) {
    throw new FormatError("not a polycrypt message (or an unsupported version)");
  }
  if (message[MAGIC.length] !== SESSION_MODE) throw new FormatError("not a session message");
  if (message[MAGIC.length + 1] !== RATCHET_MESSAGE) {
    throw new FormatError("not a ratchet message");
  }
  if (message.length < SESSION_PREFIX_SIZE + MIN_RATCHET_BODY) {
    throw new FormatError("the message is truncated");
  }
  return {
    prefix: message.subarray(0, SESSION_PREFIX_SIZE),
    body: message.subarray(SESSION_PREFIX_SIZE),
  };
}

/**
 * What the network sees of a session message (docs/sessions.md section 4): its kind, in a prekey
 * message Bob's prekey ids and the sizes of the KEM ciphertext and the sender seal, and the
 * lengths of the encrypted header and body. Not the sender, the keys or the counters.
 */
export interface SessionMessageInfo {
  /** `"prekey"` (starts or continues a session Bob has not answered) or `"ratchet"`. */
  kind: "prekey" | "ratchet";
  /** Prekey messages: the ids of Bob's prekeys that were used. */
  prekeys?: { spk: number; pq: { kind: "pqspk" | "pqopk"; id: number }; opk?: number };
  /** Prekey messages: bytes of the KEM ciphertext. */
  kemCiphertextBytes?: number;
  /** Prekey messages: bytes of the sender seal (`sealed_from`). */
  sealedSenderBytes?: number;
  /** Bytes of the encrypted header (larger when it carries a KEM step). */
  headerBytes: number;
  /** Bytes of the encrypted body. */
  bodyBytes: number;
  /**
   * The padded plaintext's size (PADME size class of the data): `bodyBytes` less a 16-byte tag,
   * the tag size of every built-in AEAD.
   */
  paddedSize: number;
}

const BODY_TAG = 16;

/** {@linkcode SessionMessageInfo} of a session message; `FormatError` when it is not one. */
export function describeSessionMessage(message: Uint8Array): SessionMessageInfo {
  const kind = sessionMessageKind(message);
  let info: Omit<SessionMessageInfo, "headerBytes" | "bodyBytes" | "paddedSize"> & {
    kind: "prekey" | "ratchet";
  };
  let body: Uint8Array;
  if (kind === PREKEY_MESSAGE) {
    const parsed = parsePrekeyFrame(message);
    const { head } = parsed;
    info = {
      kind: "prekey",
      prekeys: {
        spk: head.spkId,
        pq: { kind: head.pqKind, id: head.pqId },
        ...(head.opkId === undefined ? {} : { opk: head.opkId }),
      },
      kemCiphertextBytes: head.ct.length,
      sealedSenderBytes: parsed.sealedFrom.length,
    };
    body = parsed.body;
  } else {
    body = parseRatchetFrame(message).body; // FormatError for anything else
    info = { kind: "ratchet" };
  }
  const headerBytes = readU32be(body, HEADER_NONCE_SIZE);
  if (body.length - MIN_RATCHET_BODY < headerBytes) {
    throw new FormatError("the session message is truncated");
  }
  const bodyBytes = body.length - MIN_RATCHET_BODY - headerBytes;
  return { ...info, headerBytes, bodyBytes, paddedSize: Math.max(0, bodyBytes - BODY_TAG) };
}
