/**
 * The AND-cascade: envelopes whose every layer (password, recipients, AEAD
 * stack) must be broken to read them. Byte format: `docs/format.md`.
 *
 * @example
 * ```ts
 * import { decrypt, encrypt, generateIdentity } from "./mod.ts";
 * const { identity, recipient } = await generateIdentity("x25519");
 * const sealed = await encrypt(new TextEncoder().encode("hi"), { recipients: [recipient] });
 * const opened = await decrypt(sealed, { identities: [identity] });
 * console.log(new TextDecoder().decode(opened)); // "hi"
 * ```
 *
 * @module
 */
import { DecryptionError, FormatError } from "../errors.ts";
import { concatBytes, equalBytes } from "../engines/_bytes.ts";
import { hkdf, hmac } from "../engines/hkdf.ts";
import { registry } from "../engines/mod.ts";
import { nodeAeadPrimitive } from "../engines/symmetric/_aead.ts";
import type { AeadEngine } from "../engines/types.ts";
import { ByteReader, collect, once } from "./_reader.ts";
import { armor, ARMOR_BEGIN, ARMOR_END, dearmor, isArmored } from "./armor.ts";
import { ARGON2_DEFAULT, argon2id, type Argon2Params, checkArgon2Params } from "./argon2.ts";
import { type Identity, parseIdentity, parseRecipient, type Recipient } from "./keys.ts";
import {
  CHUNK_SIZE,
  chunkOverhead,
  deriveStreamKeys,
  openSingleChunk,
  openStream,
  sealSingleChunk,
  sealStream,
  type StreamKeys,
} from "./stream.ts";

/** `"PCRYPT" 0x00 0x01`: the first bytes of every envelope (the last is the version). */
export const MAGIC: Uint8Array = new Uint8Array([0x50, 0x43, 0x52, 0x59, 0x50, 0x54, 0x00, 0x01]);
const MODE_PUBLIC = 0x00;
const MODE_PASSWORD = 0x01;
const KDF_ARGON2ID = 0x01;
const FLAG_PASSWORD = 0x01;
const FLAG_PADDED = 0x02;
const FILE_KEY_SIZE = 32;
const SALT_SIZE = 16;
const MAC_SIZE = 32;

declare const sealedBrand: unique symbol;
declare const sealedChunkBrand: unique symbol;

/**
 * Bytes that {@linkcode encrypt} produced. Transports accept only this type,
 * so cleartext cannot be sent by mistake; {@linkcode isSealedEnvelope} is the
 * run-time check for bytes that arrive from elsewhere.
 */
export type SealedEnvelope = Uint8Array & { readonly [sealedBrand]: true };

/** A piece of an envelope as {@linkcode encryptStream} emits it; the first begins with the magic. */
export type SealedChunk = Uint8Array & { readonly [sealedChunkBrand]: true };

/**
 * Whether `bytes` begin like an envelope: the binary magic and a known mode,
 * or the armor header. A shape check, not authentication.
 *
 * @example
 * ```ts
 * import { isSealedEnvelope } from "./envelope.ts";
 * console.log(isSealedEnvelope(new TextEncoder().encode("hello"))); // false
 * ```
 */
export function isSealedEnvelope(bytes: unknown): bytes is SealedEnvelope {
  if (!(bytes instanceof Uint8Array)) return false;
  if (isArmored(bytes)) return true;
  return bytes.length > MAGIC.length && equalBytes(bytes.subarray(0, MAGIC.length), MAGIC) &&
    (bytes[MAGIC.length] === MODE_PUBLIC || bytes[MAGIC.length] === MODE_PASSWORD);
}

/** Limits that stop parsing bombs (`docs/format.md` section 6). */
export const LIMITS = Object.freeze({
  aeadLayers: 4,
  stanzas: 2048,
  stanzaBody: 0xffff,
  headerBytes: 4 * 1024 * 1024,
});

/** The default AEAD stack: one AES-256-GCM layer. */
export const DEFAULT_AEADS: readonly string[] = Object.freeze(["aes-256-gcm"]);

const encoder = new TextEncoder();
const label = (s: string) => encoder.encode(`polycrypt/1 ${s}`);
const EMPTY = new Uint8Array(0);

/** Options of {@linkcode encrypt} and {@linkcode encryptStream}. */
export interface EncryptOptions {
  /** Recipient strings (`polycrypt1:...`); several make a group message. */
  recipients?: readonly string[];
  /** Adds the outer password layer. Without recipients the envelope is passphrase-only. */
  passphrase?: string;
  /** AEAD ids, innermost first; default `["aes-256-gcm"]`. */
  aead?: readonly string[];
  /** ASCII armor for chats; default false. */
  armor?: boolean;
  /** PADME length hiding; default true. */
  pad?: boolean;
  /** Argon2id cost; default RFC 9106's second recommendation (64 MiB, t=3, p=4). */
  argon2?: Argon2Params;
}

/** Options of {@linkcode decrypt} and {@linkcode decryptStream}. */
export interface DecryptOptions {
  /** Identity strings (`POLYCRYPT-SECRET-KEY-1:...`) to try. */
  identities?: readonly string[];
  /** The passphrase, for envelopes with a password layer. */
  passphrase?: string;
}

// ---------------------------------------------------------------- helpers

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function resolveAeads(ids: readonly string[] | undefined): AeadEngine[] {
  const list = ids ?? DEFAULT_AEADS;
  if (!Array.isArray(list) || list.length < 1 || list.length > LIMITS.aeadLayers) {
    throw new RangeError(`aead must list 1 to ${LIMITS.aeadLayers} AEAD ids`);
  }
  return list.map((id) => {
    const aead = registry.aead(id);
    if (aead.nonceSize !== 12 && aead.nonceSize !== 24) {
      throw new RangeError(`aead ${id} has a ${aead.nonceSize}-byte nonce; 12 or 24 are supported`);
    }
    return aead;
  });
}

async function headerMac(
  fileKey: Uint8Array,
  mode: number,
  header: Uint8Array,
): Promise<Uint8Array> {
  const macKey = await hkdf("SHA-256", fileKey, EMPTY, label("header mac"), 32);
  return hmac("SHA-256", macKey, MAGIC, new Uint8Array([mode]), header);
}

async function wrapKeyFor(
  type: string,
  sharedSecret: Uint8Array,
  encapsulation: Uint8Array,
): Promise<Uint8Array> {
  return await hkdf("SHA-256", sharedSecret, encapsulation, label(`stanza ${type}`), 32);
}

const ZERO_NONCE = new Uint8Array(12);
// The stanza key wrap, synchronous on node:crypto (9-11 us for a file key; noble took 12-23 us).
const stanzaWrap = nodeAeadPrimitive("chacha20-poly1305");

async function makeStanza(recipient: Recipient, fileKey: Uint8Array): Promise<Uint8Array> {
  const { engine, publicKey } = recipient;
  const { encapsulation, sharedSecret } = await engine.encapsulate(publicKey);
  const wrapKey = await wrapKeyFor(engine.id, sharedSecret, encapsulation);
  const wrapped = stanzaWrap.seal(wrapKey, ZERO_NONCE, fileKey, EMPTY);
  const type = encoder.encode(engine.id);
  const body = concatBytes(encapsulation, wrapped);
  return concatBytes(new Uint8Array([type.length]), type, u32(body.length), body);
}

/** The password layer's key material, from Argon2id and the outer header. */
async function passwordKeys(
  passphrase: string,
  outer: Uint8Array,
  salt: Uint8Array,
  params: Argon2Params,
) {
  const k = await argon2id(passphrase, salt, params);
  const [commit, streamKeys, fileKey] = await Promise.all([
    hkdf("SHA-256", k, outer, label("password commit"), 32),
    deriveStreamKeys(k, outer, [registry.aead("aes-256-gcm")], "polycrypt/1 password stream"),
    hkdf("SHA-256", k, outer, label("password file key"), FILE_KEY_SIZE),
  ]);
  return { commit, streamKeys, fileKey };
}

function encodeOuter(salt: Uint8Array, p: Argon2Params): Uint8Array {
  return concatBytes(
    MAGIC,
    new Uint8Array([MODE_PASSWORD, KDF_ARGON2ID]),
    u32(p.memoryKiB),
    u32(p.passes),
    new Uint8Array([p.parallelism]),
    salt,
  );
}

// ---------------------------------------------------------------- sealing

/** Everything decided before the first payload byte: the bytes up to the payload, and keys. */
async function prepare(options: EncryptOptions) {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object");
  }
  const recipientStrings = options.recipients ?? [];
  if (!Array.isArray(recipientStrings)) {
    throw new TypeError("recipients must be an array of strings");
  }
  if (recipientStrings.length > LIMITS.stanzas) {
    throw new RangeError(`at most ${LIMITS.stanzas} recipients`);
  }
  const recipients = recipientStrings.map(parseRecipient);
  const passphrase = options.passphrase;
  if (passphrase !== undefined && (typeof passphrase !== "string" || passphrase === "")) {
    throw new TypeError("passphrase must be a non-empty string");
  }
  if (recipients.length === 0 && passphrase === undefined) {
    throw new TypeError("encrypt needs at least one recipient or a passphrase");
  }
  const aeads = resolveAeads(options.aead);
  const pad = options.pad ?? true;

  let password: {
    outer: Uint8Array;
    commit: Uint8Array;
    streamKeys: Awaited<ReturnType<typeof passwordKeys>>["streamKeys"];
  } | undefined;
  let fileKey: Uint8Array;
  if (passphrase !== undefined) {
    const params = options.argon2 ?? ARGON2_DEFAULT;
    checkArgon2Params(params);
    const outer = encodeOuter(crypto.getRandomValues(new Uint8Array(SALT_SIZE)), params);
    const keys = await passwordKeys(
      passphrase,
      outer,
      outer.subarray(outer.length - SALT_SIZE),
      params,
    );
    password = { outer, commit: keys.commit, streamKeys: keys.streamKeys };
    fileKey = recipients.length
      ? crypto.getRandomValues(new Uint8Array(FILE_KEY_SIZE))
      : keys.fileKey;
  } else {
    fileKey = crypto.getRandomValues(new Uint8Array(FILE_KEY_SIZE));
  }

  const stanzas = await Promise.all(recipients.map((r) => makeStanza(r, fileKey)));
  const aeadIds = aeads.flatMap((a) => {
    const id = encoder.encode(a.id);
    return [new Uint8Array([id.length]), id];
  });
  const flags = (password ? FLAG_PASSWORD : 0) | (pad ? FLAG_PADDED : 0);
  const header = concatBytes(
    new Uint8Array([flags, aeads.length]),
    ...aeadIds,
    new Uint8Array([stanzas.length >> 8, stanzas.length & 0xff]),
    ...stanzas,
  );
  if (header.length > LIMITS.headerBytes) throw new RangeError("the header would exceed 4 MiB");
  const mode = password ? MODE_PASSWORD : MODE_PUBLIC;
  const mac = await headerMac(fileKey, mode, header);
  const payloadSalt = crypto.getRandomValues(new Uint8Array(SALT_SIZE));
  const payloadKeys = await deriveStreamKeys(fileKey, payloadSalt, aeads);
  return { password, pad, payloadKeys, innerHead: concatBytes(header, mac, payloadSalt) };
}

async function* sealEnvelope(
  source: AsyncIterable<Uint8Array>,
  prepared: Awaited<ReturnType<typeof prepare>>,
): AsyncGenerator<Uint8Array> {
  const { password, pad, payloadKeys, innerHead } = prepared;
  async function* inner(): AsyncGenerator<Uint8Array> {
    yield innerHead;
    yield* sealStream(source, payloadKeys, pad);
  }
  if (password) {
    yield concatBytes(password.outer, password.commit);
    yield* sealStream(inner(), password.streamKeys, false);
  } else {
    yield concatBytes(MAGIC, new Uint8Array([MODE_PUBLIC]));
    yield* inner();
  }
}

async function* armorLines(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  // Re-blocks the envelope into 48-byte multiples so every line but the last is full.
  yield encoder.encode(`${ARMOR_BEGIN}\n`);
  let carry: Uint8Array = EMPTY;
  for await (const piece of source) {
    const bytes = carry.length ? concatBytes(carry, piece) : piece;
    const whole = bytes.length - (bytes.length % 48);
    const lines: string[] = [];
    for (let i = 0; i < whole; i += 48) lines.push(bytes.subarray(i, i + 48).toBase64(), "\n");
    if (lines.length) yield encoder.encode(lines.join(""));
    carry = bytes.slice(whole);
  }
  if (carry.length) yield encoder.encode(carry.toBase64() + "\n");
  yield encoder.encode(`${ARMOR_END}\n`);
}

/**
 * Encrypts a whole message. See {@linkcode EncryptOptions}.
 *
 * @returns the envelope bytes, or its armored text as UTF-8 bytes when `armor` is set
 * @example
 * ```ts
 * import { encrypt } from "./envelope.ts";
 * import { generateIdentity } from "./keys.ts";
 * const { recipient } = await generateIdentity("x25519");
 * const sealed = await encrypt(new Uint8Array(10), { recipients: [recipient], armor: true });
 * console.log(new TextDecoder().decode(sealed).startsWith("-----BEGIN POLYCRYPT MESSAGE-----")); // true
 * ```
 */
export async function encrypt(
  plaintext: Uint8Array,
  options: EncryptOptions,
): Promise<SealedEnvelope> {
  if (!(plaintext instanceof Uint8Array)) throw new TypeError("plaintext must be a Uint8Array");
  const prepared = await prepare(options);
  // Chat-sized messages without a password layer: the same bytes, sealed in one step.
  const single = prepared.password
    ? undefined
    : await sealSingleChunk(plaintext, prepared.payloadKeys, prepared.pad);
  const sealed = single
    ? concatBytes(MAGIC, new Uint8Array([MODE_PUBLIC]), prepared.innerHead, single)
    : await collect(sealEnvelope(once(plaintext), prepared));
  return (options.armor ? encoder.encode(armor(sealed)) : sealed) as SealedEnvelope;
}

/** Wraps an async-generator transformation as a TransformStream-shaped pair. */
function generatorStream(
  transform: (source: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>,
): TransformStream<Uint8Array, Uint8Array> {
  const { readable: input, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const readable = ReadableStream.from(transform(input));
  return { readable, writable } as TransformStream<Uint8Array, Uint8Array>;
}

/**
 * A stream that encrypts what is written to it, in constant memory.
 *
 * @example
 * ```ts
 * import { decryptStream, encryptStream } from "./envelope.ts";
 * import { generateIdentity } from "./keys.ts";
 * const { identity, recipient } = await generateIdentity("x25519");
 * const out = ReadableStream.from([new Uint8Array(100000)])
 *   .pipeThrough(encryptStream({ recipients: [recipient] }))
 *   .pipeThrough(decryptStream({ identities: [identity] }));
 * let n = 0;
 * for await (const chunk of out) n += chunk.length;
 * console.log(n); // 100000
 * ```
 */
export function encryptStream(options: EncryptOptions): TransformStream<Uint8Array, SealedChunk> {
  return generatorStream(async function* (source) {
    const prepared = await prepare(options);
    const sealed = sealEnvelope(source, prepared);
    yield* options.armor ? armorLines(sealed) : sealed;
  }) as TransformStream<Uint8Array, SealedChunk>;
}

// ---------------------------------------------------------------- opening

interface Stanza {
  type: string;
  body: Uint8Array;
}

interface ParsedHeader {
  flags: number;
  aeads: AeadEngine[];
  aeadIds: string[];
  stanzas: Stanza[];
  header: Uint8Array;
}

/** Reads exactly n bytes or fails as a format error (truncated envelope). */
async function need(reader: ByteReader, n: number): Promise<Uint8Array> {
  const bytes = await reader.readExact(n);
  if (!bytes) throw new FormatError("the envelope is truncated");
  return bytes;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function ascii(bytes: Uint8Array, what: string): string {
  if (!bytes.every((b) => b >= 0x21 && b <= 0x7e)) {
    throw new FormatError(`${what} is not printable ASCII`);
  }
  return decoder.decode(bytes);
}

/** Parses the header (flags to last stanza), checking every limit before reading on. */
async function readHeader(reader: ByteReader): Promise<ParsedHeader> {
  const parts: Uint8Array[] = [];
  let size = 0;
  const take = async (n: number) => {
    size += n;
    if (size > LIMITS.headerBytes) throw new FormatError("the header exceeds 4 MiB");
    const b = await need(reader, n);
    parts.push(b.slice());
    return b;
  };
  const [flags, aeadCount] = await take(2);
  if ((flags & ~(FLAG_PASSWORD | FLAG_PADDED)) !== 0) throw new FormatError("unknown header flags");
  if (aeadCount < 1 || aeadCount > LIMITS.aeadLayers) throw new FormatError("bad AEAD layer count");
  const aeadIds: string[] = [];
  for (let i = 0; i < aeadCount; i++) {
    const [len] = await take(1);
    aeadIds.push(ascii(await take(len), "an AEAD id"));
  }
  const aeads = aeadIds.map((id) => {
    const engine = registry.has(id) ? registry.get(id) : undefined;
    if (engine?.kind !== "aead" || (engine.nonceSize !== 12 && engine.nonceSize !== 24)) {
      throw new FormatError(`unsupported AEAD ${JSON.stringify(id)}`);
    }
    return engine;
  });
  const countBytes = await take(2);
  const count = (countBytes[0] << 8) | countBytes[1];
  if (count > LIMITS.stanzas) throw new FormatError(`more than ${LIMITS.stanzas} stanzas`);
  const stanzas: Stanza[] = [];
  for (let i = 0; i < count; i++) {
    const [typeLength] = await take(1);
    if (typeLength === 0) throw new FormatError("empty stanza type");
    const type = ascii(await take(typeLength), "a stanza type");
    const bodyLength = readU32(await take(4), 0);
    if (bodyLength > LIMITS.stanzaBody) throw new FormatError("stanza body over 65535 bytes");
    stanzas.push({ type, body: (await take(bodyLength)).slice() });
  }
  return { flags, aeads, aeadIds, stanzas, header: concatBytes(...parts) };
}

async function unwrapStanza(identity: Identity, stanza: Stanza): Promise<Uint8Array | undefined> {
  const { engine, secretKey } = identity;
  const encSize = engine.encapsulationSize;
  if (stanza.type !== engine.id || stanza.body.length !== encSize + FILE_KEY_SIZE + 16) {
    return undefined;
  }
  const encapsulation = stanza.body.subarray(0, encSize);
  try {
    const sharedSecret = await engine.decapsulate(encapsulation, secretKey);
    const wrapKey = await wrapKeyFor(engine.id, sharedSecret, encapsulation);
    return stanzaWrap.open(wrapKey, ZERO_NONCE, stanza.body.subarray(encSize), EMPTY);
  } catch {
    return undefined;
  }
}

/** Reads an envelope up to its payload: the reader left at the payload, and the payload keys. */
async function openHeader(
  source: AsyncIterable<Uint8Array>,
  options: DecryptOptions,
): Promise<{ reader: ByteReader; payloadKeys: StreamKeys; pad: boolean }> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object");
  }
  const identities = (options.identities ?? []).map(parseIdentity);
  let reader = new ByteReader(source);
  const head = await need(reader, MAGIC.length + 1);
  if (!equalBytes(head.subarray(0, MAGIC.length), MAGIC)) {
    throw new FormatError("not a polycrypt envelope (or an unsupported version)");
  }
  const mode = head[MAGIC.length];
  let passwordFileKey: Uint8Array | undefined;
  if (mode === MODE_PASSWORD) {
    const params = await need(reader, 1 + 4 + 4 + 1 + SALT_SIZE);
    if (params[0] !== KDF_ARGON2ID) throw new FormatError("unknown password KDF");
    const argon2 = {
      memoryKiB: readU32(params, 1),
      passes: readU32(params, 5),
      parallelism: params[9],
    };
    // Bounds first: a hostile file must not make us run an expensive KDF.
    checkArgon2Params(argon2);
    const commit = await need(reader, 32);
    if (options.passphrase === undefined || options.passphrase === "") throw new DecryptionError();
    const outer = concatBytes(head, params);
    const keys = await passwordKeys(options.passphrase, outer, params.subarray(10), argon2);
    if (!equalBytes(keys.commit, commit)) throw new DecryptionError();
    passwordFileKey = keys.fileKey;
    reader = new ByteReader(openStream(reader, keys.streamKeys, false));
  } else if (mode !== MODE_PUBLIC) {
    throw new FormatError("unknown envelope mode");
  }

  const parsed = await readHeader(reader);
  if (((parsed.flags & FLAG_PASSWORD) !== 0) !== (mode === MODE_PASSWORD)) {
    throw new DecryptionError();
  }
  const mac = await need(reader, MAC_SIZE);
  const payloadSalt = await need(reader, SALT_SIZE);

  let fileKey: Uint8Array | undefined;
  if (parsed.stanzas.length === 0) {
    if (mode !== MODE_PASSWORD) {
      throw new FormatError("an envelope without stanzas needs a password layer");
    }
    if (equalBytes(await headerMac(passwordFileKey!, mode, parsed.header), mac)) {
      fileKey = passwordFileKey;
    }
  } else {
    search: for (const identity of identities) {
      for (const stanza of parsed.stanzas) {
        const candidate = await unwrapStanza(identity, stanza);
        if (candidate && equalBytes(await headerMac(candidate, mode, parsed.header), mac)) {
          fileKey = candidate;
          break search;
        }
      }
    }
  }
  if (!fileKey) throw new DecryptionError();
  const payloadKeys = await deriveStreamKeys(fileKey, payloadSalt, parsed.aeads);
  return { reader, payloadKeys, pad: (parsed.flags & FLAG_PADDED) !== 0 };
}

async function* openEnvelope(
  source: AsyncIterable<Uint8Array>,
  options: DecryptOptions,
): AsyncGenerator<Uint8Array> {
  const { reader, payloadKeys, pad } = await openHeader(source, options);
  yield* openStream(reader, payloadKeys, pad);
}

async function* dearmorStream(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  // Armor is for chat-sized messages; it is decoded whole (bounded by the caller's input).
  yield dearmor(await collect(source));
}

/** Routes armored input through the armor decoder, binary input straight on. */
async function* maybeDearmor(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = new ByteReader(source);
  const head = await reader.read(64);
  async function* all(): AsyncGenerator<Uint8Array> {
    yield head;
    yield* reader.rest();
  }
  yield* isArmored(head) ? dearmorStream(all()) : all();
}

/**
 * Decrypts a whole envelope (binary, or armored text/bytes). Nothing is
 * returned unless every layer and every chunk authenticates.
 *
 * @throws {DecryptionError} wrong passphrase, no matching identity, or tampering (one message)
 * @throws {FormatError} input that is not a well-formed envelope
 * @example
 * ```ts
 * import { decrypt, encrypt } from "./envelope.ts";
 * import { ARGON2_FLOOR } from "./argon2.ts";
 * const sealed = await encrypt(new Uint8Array([7]), { passphrase: "pw", argon2: ARGON2_FLOOR });
 * console.log(await decrypt(sealed, { passphrase: "pw" })); // Uint8Array(1) [ 7 ]
 * ```
 */
export async function decrypt(
  sealed: Uint8Array | string,
  options: DecryptOptions,
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  if (typeof sealed === "string") bytes = dearmor(sealed);
  else if (sealed instanceof Uint8Array) bytes = isArmored(sealed) ? dearmor(sealed) : sealed;
  else throw new TypeError("sealed must be a Uint8Array or an armored string");
  const { reader, payloadKeys, pad } = await openHeader(once(bytes), options);
  // The whole payload is in memory already; a chat-sized one opens in one step.
  const payload = await collect(reader.rest());
  return await openSingleChunk(payload, payloadKeys, pad) ??
    await collect(openStream(once(payload), payloadKeys, pad));
}

/**
 * A stream that decrypts what is written to it. Each 64 KiB chunk is released
 * after it authenticates; a truncated or forged stream errors the readable
 * side, so write output to a temporary file and keep it only on success.
 *
 * @example
 * ```ts
 * import { decryptStream, encryptStream } from "./envelope.ts";
 * import { ARGON2_FLOOR } from "./argon2.ts";
 * const opts = { passphrase: "pw", argon2: ARGON2_FLOOR };
 * const out = ReadableStream.from([new Uint8Array([1, 2])])
 *   .pipeThrough(encryptStream(opts)).pipeThrough(decryptStream(opts));
 * for await (const chunk of out) console.log(chunk); // Uint8Array(2) [ 1, 2 ]
 * ```
 */
export function decryptStream(options: DecryptOptions): TransformStream<Uint8Array, Uint8Array> {
  return generatorStream((source) => openEnvelope(maybeDearmor(source), options));
}

// ---------------------------------------------------------------- inspect

/** What {@linkcode inspect} can see without keys. */
export interface EnvelopeInfo {
  version: number;
  armored: boolean;
  /** When true, everything below the Argon2id parameters is hidden. */
  passwordProtected: boolean;
  argon2?: Argon2Params;
  aead?: string[];
  stanzas?: { type: string; bytes: number }[];
  padded?: boolean;
  /** Payload ciphertext bytes. */
  payloadBytes?: number;
  /** Padded plaintext bytes (data, marker and padding): what an observer learns of the length. */
  paddedSize?: number;
  /** Total envelope bytes (before armor). */
  totalBytes: number;
}

/**
 * Describes an envelope without decrypting it.
 *
 * @example
 * ```ts
 * import { encrypt, inspect } from "./envelope.ts";
 * import { generateIdentity } from "./keys.ts";
 * const { recipient } = await generateIdentity("x25519");
 * const info = await inspect(await encrypt(new Uint8Array(1000), { recipients: [recipient] }));
 * console.log(info.stanzas?.[0].type, info.aead, info.paddedSize); // x25519 [ "aes-256-gcm" ] 1024
 * ```
 */
export async function inspect(sealed: Uint8Array | string): Promise<EnvelopeInfo> {
  const armored = typeof sealed === "string" || isArmored(sealed);
  const bytes = armored ? dearmor(sealed) : sealed as Uint8Array;
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("sealed must be a Uint8Array or a string");
  }
  const reader = new ByteReader(once(bytes));
  const head = await need(reader, MAGIC.length + 1);
  if (!equalBytes(head.subarray(0, MAGIC.length), MAGIC)) {
    throw new FormatError("not a polycrypt envelope (or an unsupported version)");
  }
  const info: EnvelopeInfo = {
    version: MAGIC[MAGIC.length - 1],
    armored,
    passwordProtected: head[MAGIC.length] === MODE_PASSWORD,
    totalBytes: bytes.length,
  };
  if (info.passwordProtected) {
    const params = await need(reader, 10);
    info.argon2 = {
      memoryKiB: readU32(params, 1),
      passes: readU32(params, 5),
      parallelism: params[9],
    };
    return info;
  }
  if (head[MAGIC.length] !== MODE_PUBLIC) throw new FormatError("unknown envelope mode");
  const parsed = await readHeader(reader);
  await need(reader, MAC_SIZE + SALT_SIZE);
  const payloadBytes = bytes.length -
    (MAGIC.length + 1 + parsed.header.length + MAC_SIZE + SALT_SIZE);
  const overhead = chunkOverhead({ aeads: parsed.aeads, keys: [] });
  const chunks = Math.max(1, Math.ceil(payloadBytes / (CHUNK_SIZE + overhead)));
  return {
    ...info,
    aead: parsed.aeadIds,
    stanzas: parsed.stanzas.map((s) => ({ type: s.type, bytes: s.body.length })),
    padded: (parsed.flags & FLAG_PADDED) !== 0,
    payloadBytes,
    paddedSize: payloadBytes - chunks * overhead,
  };
}
