/**
 * The envelope's byte layout (`docs/format.md` sections 1 to 3 and 6), without any cryptography:
 * the outer password-layer prefix and the header, each as an encode/parse pair, and
 * {@linkcode sniffEnvelope} for telling what kind of envelope a few first bytes begin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity, sniffEnvelope } from "@polycrypt/polycrypt";
 * const { recipient } = await generateIdentity("x25519");
 * const sealed = await encrypt(new Uint8Array(3), { recipients: [recipient], armor: true });
 * assert.deepEqual(sniffEnvelope(sealed), { armored: true, passwordProtected: false });
 * ```
 *
 * @module
 */
import { FormatError } from "../errors.ts";
import { concatBytes, equalBytes, i2osp, readU32be } from "../engines/_bytes.ts";
import { EngineRegistry } from "../engines/registry.ts";
import type { AeadEngine } from "../engines/types.ts";
import type { ByteReader } from "./_reader.ts";
import { ARMOR_BEGIN, isArmored } from "./armor.ts";
import type { Argon2Params } from "./argon2.ts";

/** `"PCRYPT" 0x00 0x01`: the first bytes of every envelope (the last is the version). */
export const MAGIC: Uint8Array = new Uint8Array([0x50, 0x43, 0x52, 0x59, 0x50, 0x54, 0x00, 0x01]);
/** The mode byte after the magic: `0x00` a public header, `0x01` a password layer. */
export const MODE_PUBLIC = 0x00;
/** See {@linkcode MODE_PUBLIC}. */
export const MODE_PASSWORD = 0x01;
/**
 * The mode byte of a session message (docs/sessions.md section 4): a prekey (`0x01`) or ratchet
 * (`0x02`) message follows as the next byte. `decrypt` does not open these (an account does).
 */
export const MODE_SESSION = 0x02;
const KDF_ARGON2ID = 0x01;
const FLAG_PASSWORD = 0x01;
const FLAG_PADDED = 0x02;
const FLAG_SIGNED = 0x04;
/** Bytes of the file key, of each stanza's wrapped key before its tag, of the password keys. */
export const FILE_KEY_SIZE = 32;
/** Bytes of the password salt and of the payload salt. */
export const SALT_SIZE = 16;
/** Bytes of the header MAC and of the password commitment. */
export const MAC_SIZE = 32;
/** Bytes of the outer prefix of a password envelope: magic, mode, KDF, m, t, p, salt. */
export const OUTER_SIZE: number = MAGIC.length + 1 + 1 + 4 + 4 + 1 + SALT_SIZE;

/** Limits that stop parsing bombs (`docs/format.md` section 6). */
export const LIMITS: Readonly<{
  /** AEAD layers of the payload. */
  aeadLayers: number;
  /** Stanzas in one header. */
  stanzas: number;
  /** Bytes of one stanza body. */
  stanzaBody: number;
  /** Bytes of a header, flags to last stanza. */
  headerBytes: number;
}> = Object.freeze({
  aeadLayers: 4,
  stanzas: 2048,
  stanzaBody: 0xffff,
  headerBytes: 4 * 1024 * 1024,
});

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** `"polycrypt/1 " || s`: the prefix of every KDF label of the format. */
export function label(s: string): Uint8Array {
  return encoder.encode(`polycrypt/1 ${s}`);
}

/**
 * One entry of a header's recipient list: a type naming how to read it (for the built-in
 * stanzas, the KEM engine id) and an opaque body. What a {@linkcode Recipient} makes and an
 * {@linkcode Identity} reads.
 */
export interface Stanza {
  /** 1 to 255 printable ASCII characters. */
  readonly type: string;
  /** At most {@linkcode LIMITS}.stanzaBody bytes. */
  readonly body: Uint8Array;
}

/** A decoded header (`docs/format.md` section 3), the part the header MAC covers. */
export interface Header {
  /** Flag bit 0: the header is the plaintext of a password layer. */
  readonly passwordLayer: boolean;
  /** Flag bit 1: the payload is PADME-padded. */
  readonly padded: boolean;
  /** Flag bit 2: the payload is signed (sealed sender, section 3.1); absent means false. */
  readonly signed?: boolean;
  /** The payload's AEAD ids, innermost first. */
  readonly aeadIds: readonly string[];
  /** The recipient stanzas; none only under a password layer. */
  readonly stanzas: readonly Stanza[];
}

// -------------------------------------------------------------------- outer

/** The clear prefix of a password envelope: the Argon2id parameters and salt. */
export interface Outer {
  /** Argon2id cost, as written (not yet checked against the bounds). */
  readonly argon2: Argon2Params;
  /** The 16-byte Argon2id salt. */
  readonly salt: Uint8Array;
}

/** `magic || 0x01 || kdf || m || t || p || salt`: the bytes the password keys are bound to. */
export function encodeOuter(outer: Outer): Uint8Array {
  const { argon2: p, salt } = outer;
  if (salt.length !== SALT_SIZE) throw new RangeError(`the salt must be ${SALT_SIZE} bytes`);
  return concatBytes(
    MAGIC,
    new Uint8Array([MODE_PASSWORD, KDF_ARGON2ID]),
    i2osp(p.memoryKiB, 4),
    i2osp(p.passes, 4),
    new Uint8Array([p.parallelism]),
    salt,
  );
}

/** Decodes the first {@linkcode OUTER_SIZE} bytes of a password envelope. */
export function parseOuter(bytes: Uint8Array): Outer {
  if (parseMode(bytes) !== MODE_PASSWORD) throw new FormatError("not a password envelope");
  if (bytes.length < OUTER_SIZE) throw new FormatError("the envelope is truncated");
  const at = MAGIC.length + 1;
  if (bytes[at] !== KDF_ARGON2ID) throw new FormatError("unknown password KDF");
  return {
    argon2: {
      memoryKiB: readU32be(bytes, at + 1),
      passes: readU32be(bytes, at + 5),
      parallelism: bytes[at + 9],
    },
    salt: bytes.slice(at + 10, OUTER_SIZE),
  };
}

/** The mode byte of an envelope starting with `head`; throws unless it begins with the magic. */
export function parseMode(head: Uint8Array): number {
  if (head.length < MAGIC.length + 1) throw new FormatError("the envelope is truncated");
  if (!equalBytes(head.subarray(0, MAGIC.length), MAGIC)) {
    throw new FormatError("not a polycrypt envelope (or an unsupported version)");
  }
  return head[MAGIC.length];
}

// -------------------------------------------------------------------- header

/** The header bytes: `flags || aeadCount || aeadId* || stanzaCount || stanza*`. */
export function encodeHeader(header: Header): Uint8Array {
  const { aeadIds, stanzas } = header;
  if (aeadIds.length < 1 || aeadIds.length > LIMITS.aeadLayers) {
    throw new RangeError(`aead must list 1 to ${LIMITS.aeadLayers} AEAD ids`);
  }
  if (stanzas.length > LIMITS.stanzas) throw new RangeError(`at most ${LIMITS.stanzas} stanzas`);
  if (stanzas.length === 0 && !header.passwordLayer) {
    throw new RangeError("a header without stanzas needs a password layer");
  }
  const flags = (header.passwordLayer ? FLAG_PASSWORD : 0) | (header.padded ? FLAG_PADDED : 0) |
    (header.signed ? FLAG_SIGNED : 0);
  const parts: Uint8Array[] = [new Uint8Array([flags, aeadIds.length])];
  for (const id of aeadIds) parts.push(...shortString(id, "an AEAD id"));
  parts.push(new Uint8Array([stanzas.length >> 8, stanzas.length & 0xff]));
  for (const { type, body } of stanzas) {
    if (!(body instanceof Uint8Array) || body.length > LIMITS.stanzaBody) {
      throw new RangeError(
        `a stanza body must be a Uint8Array of at most ${LIMITS.stanzaBody} bytes`,
      );
    }
    parts.push(...shortString(type, "a stanza type"), i2osp(body.length, 4), body);
  }
  const bytes = concatBytes(...parts);
  if (bytes.length > LIMITS.headerBytes) throw new RangeError("the header would exceed 4 MiB");
  return bytes;
}

function shortString(s: string, what: string): [Uint8Array, Uint8Array] {
  if (typeof s !== "string" || !/^[\x21-\x7e]{1,255}$/.test(s)) {
    throw new TypeError(`${what} must be 1 to 255 printable ASCII characters`);
  }
  return [new Uint8Array([s.length]), encoder.encode(s)];
}

function ascii(bytes: Uint8Array, what: string): string {
  if (!bytes.every((b) => b >= 0x21 && b <= 0x7e)) {
    throw new FormatError(`${what} is not printable ASCII`);
  }
  return decoder.decode(bytes);
}

/**
 * The header parser as a coroutine: it yields how many bytes it needs next and is resumed with
 * exactly those, so one parser serves whole arrays and streams alike, and every limit is checked
 * before the bytes it guards are asked for. `checkAeads` sees the AEAD ids before the stanzas
 * are read.
 */
function* headerParser(
  checkAeads: (ids: readonly string[]) => void,
): Generator<number, Header, Uint8Array> {
  let size = 0;
  function* take(n: number): Generator<number, Uint8Array, Uint8Array> {
    size += n;
    if (size > LIMITS.headerBytes) throw new FormatError("the header exceeds 4 MiB");
    return yield n;
  }
  const [flags, aeadCount] = yield* take(2);
  if ((flags & ~(FLAG_PASSWORD | FLAG_PADDED | FLAG_SIGNED)) !== 0) {
    throw new FormatError("unknown header flags");
  }
  if (aeadCount < 1 || aeadCount > LIMITS.aeadLayers) throw new FormatError("bad AEAD layer count");
  const aeadIds: string[] = [];
  for (let i = 0; i < aeadCount; i++) {
    const [length] = yield* take(1);
    aeadIds.push(ascii(yield* take(length), "an AEAD id"));
  }
  checkAeads(aeadIds);
  const countBytes = yield* take(2);
  const count = (countBytes[0] << 8) | countBytes[1];
  if (count > LIMITS.stanzas) throw new FormatError(`more than ${LIMITS.stanzas} stanzas`);
  const stanzas: Stanza[] = [];
  for (let i = 0; i < count; i++) {
    const [typeLength] = yield* take(1);
    if (typeLength === 0) throw new FormatError("empty stanza type");
    const type = ascii(yield* take(typeLength), "a stanza type");
    const bodyLength = readU32be(yield* take(4), 0);
    if (bodyLength > LIMITS.stanzaBody) throw new FormatError("stanza body over 65535 bytes");
    stanzas.push({ type, body: (yield* take(bodyLength)).slice() });
  }
  return {
    passwordLayer: (flags & FLAG_PASSWORD) !== 0,
    padded: (flags & FLAG_PADDED) !== 0,
    signed: (flags & FLAG_SIGNED) !== 0,
    aeadIds,
    stanzas,
  };
}

/** A parsed header and the exact bytes it was parsed from (what the header MAC covers). */
export interface ParsedHeader {
  /** The decoded header. */
  readonly header: Header;
  /** Its encoding, as read. */
  readonly bytes: Uint8Array;
}

/**
 * Decodes the header at the start of `bytes` (bytes after it are left alone). Throws
 * {@linkcode FormatError} on a malformed or truncated header.
 */
export function parseHeader(
  bytes: Uint8Array,
  checkAeads: (ids: readonly string[]) => void = () => {},
): ParsedHeader {
  const parser = headerParser(checkAeads);
  let offset = 0;
  for (let step = parser.next();; step = parser.next(bytes.subarray(offset - step.value, offset))) {
    if (step.done) return { header: step.value, bytes: bytes.subarray(0, offset) };
    offset += step.value;
    if (offset > bytes.length) throw new FormatError("the envelope is truncated");
  }
}

/** Like {@linkcode parseHeader}, reading the header off a stream, no further than its end. */
export async function readHeader(
  reader: ByteReader,
  checkAeads: (ids: readonly string[]) => void = () => {},
): Promise<ParsedHeader> {
  const parser = headerParser(checkAeads);
  const parts: Uint8Array[] = [];
  for (let step = parser.next();; step = parser.next(parts[parts.length - 1])) {
    if (step.done) return { header: step.value, bytes: concatBytes(...parts) };
    parts.push((await need(reader, step.value)).slice());
  }
}

/** Reads exactly n bytes or fails as a format error (truncated envelope). */
export async function need(reader: ByteReader, n: number): Promise<Uint8Array> {
  const bytes = await reader.readExact(n);
  if (!bytes) throw new FormatError("the envelope is truncated");
  return bytes;
}

/**
 * The engines of an `aead` option for sealing: ids looked up in `registry`, engine objects
 * checked as registering them would check them (in a throwaway registry).
 */
export function resolveAeads(
  list: readonly (string | AeadEngine)[],
  registry: EngineRegistry,
): AeadEngine[] {
  if (!Array.isArray(list) || list.length < 1 || list.length > LIMITS.aeadLayers) {
    throw new RangeError(`aead must list 1 to ${LIMITS.aeadLayers} AEAD ids`);
  }
  return list.map((entry) => {
    let aead: AeadEngine;
    if (typeof entry === "string") {
      aead = registry.aead(entry);
    } else {
      new EngineRegistry().register(entry);
      if (entry.kind !== "aead") throw new TypeError(`engine ${entry.id} is not an AEAD`);
      aead = entry;
    }
    if (aead.nonceSize !== 12 && aead.nonceSize !== 24) {
      const id = typeof entry === "string" ? entry : aead.id;
      throw new RangeError(`aead ${id} has a ${aead.nonceSize}-byte nonce; 12 or 24 are supported`);
    }
    return aead;
  });
}

/**
 * The engine for an AEAD id a header names: from `preferred`, else from `registry`. Throws
 * {@linkcode FormatError} for an unknown id or an unsupported nonce size.
 */
export function findAead(
  id: string,
  registry: EngineRegistry,
  preferred: readonly AeadEngine[] = [],
): AeadEngine {
  const engine = preferred.find((a) => a.id === id) ??
    (registry.has(id) ? registry.get(id) : undefined);
  if (engine?.kind !== "aead" || (engine.nonceSize !== 12 && engine.nonceSize !== 24)) {
    throw new FormatError(`unsupported AEAD ${JSON.stringify(id)}`);
  }
  return engine;
}

// -------------------------------------------------------------------- sniffing

/**
 * Bytes that {@linkcode encrypt} produced. Transports accept only this type,
 * so cleartext cannot be sent by mistake; {@linkcode isSealedEnvelope} is the
 * run-time check for bytes that arrive from elsewhere. (The brand exists only
 * for the type checker.)
 */
export type SealedEnvelope = Uint8Array & { readonly "polycrypt.sealed": "envelope" };

/** A piece of an envelope as {@linkcode encryptStream} emits it; the first begins with the magic. */
export type SealedChunk = Uint8Array & { readonly "polycrypt.sealed": "chunk" };

/**
 * Whether `bytes` begin like an envelope: the binary magic and a known mode,
 * or the armor header. A shape check, not authentication.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSealedEnvelope } from "@polycrypt/polycrypt";
 * assert.equal(isSealedEnvelope(new TextEncoder().encode("hello")), false);
 * ```
 */
export function isSealedEnvelope(bytes: unknown): bytes is SealedEnvelope {
  if (!(bytes instanceof Uint8Array)) return false;
  if (isArmored(bytes)) return true;
  return bytes.length > MAGIC.length && equalBytes(bytes.subarray(0, MAGIC.length), MAGIC) &&
    (bytes[MAGIC.length] === MODE_PUBLIC || bytes[MAGIC.length] === MODE_PASSWORD ||
      sessionKind(bytes) !== undefined);
}

/** The kind of a session message (mode 0x02) from its first 10 bytes, else undefined. */
function sessionKind(bytes: Uint8Array): "prekey" | "ratchet" | undefined {
  if (bytes.length < MAGIC.length + 2 || bytes[MAGIC.length] !== MODE_SESSION) return undefined;
  const kind = bytes[MAGIC.length + 1];
  return kind === 0x01 ? "prekey" : kind === 0x02 ? "ratchet" : undefined;
}

/** What the first bytes of an envelope tell, from {@linkcode sniffEnvelope}. */
export interface EnvelopeSniff {
  /** ASCII armor (`-----BEGIN POLYCRYPT MESSAGE-----`) rather than binary. */
  readonly armored: boolean;
  /** An outer password layer: opening it needs the passphrase. */
  readonly passwordProtected: boolean;
  /**
   * Present only for a session message (mode 0x02, docs/sessions.md section 4): its kind. An
   * account opens these, not `decrypt`.
   */
  readonly session?: "prekey" | "ratchet";
}

/**
 * Tells from the first bytes of an input whether it is an envelope, armored or binary, and
 * whether it has a password layer: `undefined` when they do not begin like an envelope. A shape
 * check, not authentication. Nine bytes decide a binary envelope (ten a session message, which
 * `session` names); an armored one needs its header line and the first 16 characters after it
 * (200 bytes are ample unless whitespace precedes the armor).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARGON2_FLOOR, encrypt, sniffEnvelope } from "@polycrypt/polycrypt";
 * const sealed = await encrypt(new Uint8Array(5), { passphrase: "pw", argon2: ARGON2_FLOOR });
 * assert.deepEqual(sniffEnvelope(sealed.subarray(0, 200)), {
 *   armored: false,
 *   passwordProtected: true,
 * });
 * assert.equal(sniffEnvelope(new TextEncoder().encode("hello")), undefined);
 * ```
 */
export function sniffEnvelope(head: Uint8Array): EnvelopeSniff | undefined {
  let bytes = head;
  const armored = isArmored(head);
  if (armored) {
    const text = new TextDecoder().decode(head);
    const line =
      text.slice(text.indexOf(ARMOR_BEGIN) + ARMOR_BEGIN.length).trimStart().split(/\r?\n/)[0];
    try {
      // 16 characters hold the 10 bytes a session message needs; 12 the 9 of an envelope.
      bytes = Uint8Array.fromBase64(line.length >= 16 ? line.slice(0, 16) : line.slice(0, 12));
    } catch {
      return undefined;
    }
  }
  if (bytes.length <= MAGIC.length || !equalBytes(bytes.subarray(0, MAGIC.length), MAGIC)) {
    return undefined;
  }
  const mode = bytes[MAGIC.length];
  const session = sessionKind(bytes);
  if (session) return { armored, passwordProtected: false, session };
  if (mode !== MODE_PUBLIC && mode !== MODE_PASSWORD) return undefined;
  return { armored, passwordProtected: mode === MODE_PASSWORD };
}
