/**
 * The AND-cascade: envelopes whose every layer (password, recipients, AEAD
 * stack) must be broken to read them. Byte format: `docs/format.md`; the
 * layout in `format.ts`, the recipient stanzas in `stanza.ts`, the password
 * layer in `password.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decrypt, encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * const { identity, recipient } = await generateIdentity("x25519");
 * const sealed = await encrypt(new TextEncoder().encode("hi"), { recipients: [recipient] });
 * const opened = await decrypt(sealed, { identities: [identity] });
 * assert.equal(new TextDecoder().decode(opened), "hi");
 * ```
 *
 * @module
 */
import { DecryptionError, FormatError } from "../errors.ts";
import { concatBytes, equalBytes } from "../engines/_bytes.ts";
import { hkdf, hmac } from "../engines/hkdf.ts";
import { registry as defaultRegistry } from "../engines/mod.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import type { AeadEngine } from "../engines/types.ts";
import { ByteReader, collect, once } from "./_reader.ts";
import { armor, armorLines, dearmor, isArmored, maybeDearmor } from "./armor.ts";
import { ARGON2_DEFAULT, type Argon2Params } from "./argon2.ts";
import {
  encodeHeader,
  FILE_KEY_SIZE,
  findAead,
  label,
  LIMITS,
  MAC_SIZE,
  MAGIC,
  MODE_PASSWORD,
  MODE_PUBLIC,
  need,
  parseMode,
  readHeader,
  resolveAeads,
  SALT_SIZE,
  type SealedChunk,
  type SealedEnvelope,
  type Stanza,
} from "./format.ts";
import { parseIdentity, parseRecipient } from "./keys.ts";
import {
  type ExpectedSigner,
  openSignedPayload,
  prepareSender,
  type Sender,
  signedPayloadParts,
  signPayload,
  verifyPayload,
} from "./signed.ts";
import { sha512Hasher } from "../engines/_hash.ts";
import { createPasswordLayer, openPasswordLayer } from "./password.ts";
import {
  findFileKey,
  type Identity,
  type KemIdentity,
  type Recipient,
  type StanzaAttempts,
  stanzaAttempts,
} from "./stanza.ts";
import {
  deriveStreamKeys,
  openSingleChunk,
  openStream,
  sealSingleChunk,
  sealStream,
  type StreamKeys,
} from "./stream.ts";

export { isSealedEnvelope, type SealedChunk, type SealedEnvelope } from "./format.ts";
export { type ExpectedSigner, type Sender, SIGNED_ENVELOPE_LABEL } from "./signed.ts";

/** The default AEAD stack: one AES-256-GCM layer. */
export const DEFAULT_AEADS: readonly string[] = Object.freeze(["aes-256-gcm"]);

/** Options of {@linkcode encrypt} and {@linkcode encryptStream}. */
export interface EncryptOptions {
  /**
   * Recipient strings (`polycrypt1:...`) or {@linkcode Recipient} objects; several make a group
   * message.
   */
  recipients?: readonly (string | Recipient)[];
  /** Adds the outer password layer. Without recipients the envelope is passphrase-only. */
  passphrase?: string;
  /** AEAD ids or engines, innermost first; default `["aes-256-gcm"]`. */
  aead?: readonly (string | AeadEngine)[];
  /** ASCII armor for chats; default false. */
  armor?: boolean;
  /** PADME length hiding; default true. */
  pad?: boolean;
  /** Argon2id cost; default RFC 9106's second recommendation (64 MiB, t=3, p=4). */
  argon2?: Argon2Params;
  /** Where recipient engines and AEAD ids are looked up; default the global `registry`. */
  registry?: EngineRegistry;
  /**
   * Signs the message as this identity (a version-2 identity string or a parsed
   * {@linkcode KemIdentity} with a signing key): its public keys and a signature travel inside
   * the encrypted payload (sealed sender, `docs/format.md` section 3.1).
   */
  sender?: string | KemIdentity;
}

/** Options of {@linkcode decrypt} and {@linkcode decryptStream}. */
export interface DecryptOptions {
  /** Identity strings (`POLYCRYPT-SECRET-KEY-1:...`) or {@linkcode Identity} objects to try. */
  identities?: readonly (string | Identity)[];
  /** The passphrase, for envelopes with a password layer. */
  passphrase?: string;
  /** Where identity engines and the header's AEAD ids are looked up; default the global `registry`. */
  registry?: EngineRegistry;
  /** AEAD engines to look the header's ids up in before the registry (engines in no registry). */
  aead?: readonly AeadEngine[];
  /**
   * How many stanzas of its type each KEM identity tries before it gives up, by cost: default
   * `STANZA_ATTEMPTS`, 16 for RSA and ElGamal (hybrids with them included), 256 for
   * X25519, X448 and ML-KEM, and 4 stanzas that unwrap to a key failing the header MAC
   * (`wrongKeys`, for all identities together). Raise `slow` to read group messages with more
   * recipients of one RSA or ElGamal type, e.g. `{ slow: 64 }`; each cap is an integer from 1 to
   * 2048.
   */
  maxStanzaAttempts?: Partial<StanzaAttempts>;
  /**
   * Accept only a message signed by one of these (version-2 recipient strings or public signing
   * keys): anything else, unsigned messages included, fails with the one `DecryptionError`; at
   * once for an unsigned message or one naming another key, at the end of the stream for a bad
   * signature under an expected key (so keep streamed output only when the stream ends cleanly).
   */
  verify?: readonly ExpectedSigner[];
  /**
   * Called once the whole message has authenticated, before the stream ends: with the verified
   * sender of a signed message, `null` for an unsigned one.
   */
  onSender?: (sender: Sender | null) => void;
}

// ---------------------------------------------------------------- sealing

function toRecipient(r: string | Recipient, registry: EngineRegistry): Recipient {
  if (typeof r === "object" && r !== null && typeof r.wrapFileKey === "function") return r;
  return parseRecipient(r as string, { registry });
}

function toIdentity(i: string | Identity, registry: EngineRegistry): Identity {
  if (typeof i === "object" && i !== null && typeof i.unwrapFileKey === "function") return i;
  return parseIdentity(i as string, { registry });
}

async function headerMac(
  fileKey: Uint8Array,
  mode: number,
  header: Uint8Array,
): Promise<Uint8Array> {
  const macKey = await hkdf("SHA-256", fileKey, new Uint8Array(0), label("header mac"), 32);
  return hmac("SHA-256", macKey, MAGIC, new Uint8Array([mode]), header);
}

/** Everything decided before the first payload byte: the bytes up to the payload, and keys. */
async function prepare(options: EncryptOptions) {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object");
  }
  const registry = options.registry ?? defaultRegistry;
  const list = options.recipients ?? [];
  if (!Array.isArray(list)) throw new TypeError("recipients must be an array of strings");
  if (list.length > LIMITS.stanzas) throw new RangeError(`at most ${LIMITS.stanzas} recipients`);
  const recipients = list.map((r) => toRecipient(r, registry));
  const passphrase = options.passphrase;
  if (passphrase !== undefined && (typeof passphrase !== "string" || passphrase === "")) {
    throw new TypeError("passphrase must be a non-empty string");
  }
  if (recipients.length === 0 && passphrase === undefined) {
    throw new TypeError("encrypt needs at least one recipient or a passphrase");
  }
  const aeads = resolveAeads(options.aead ?? DEFAULT_AEADS, registry);
  const pad = options.pad ?? true;
  const sender = options.sender === undefined
    ? undefined
    : await prepareSender(options.sender, registry);
  const password = passphrase === undefined
    ? undefined
    : await createPasswordLayer(passphrase, options.argon2 ?? ARGON2_DEFAULT);
  const fileKey = password && recipients.length === 0
    ? password.fileKey
    : crypto.getRandomValues(new Uint8Array(FILE_KEY_SIZE));
  // Each recipient gets its own copy of the file key: none can change what the others wrap.
  const stanzas = await Promise.all(recipients.map(async (r): Promise<Stanza[]> => {
    const made = await r.wrapFileKey(fileKey.slice());
    if (!Array.isArray(made)) throw new TypeError("wrapFileKey must return an array of stanzas");
    // A recipient without a stanza could never open the message (and, beside a passphrase, would
    // leave a header that no reader can verify): refuse rather than write it.
    if (made.length === 0) throw new RangeError("wrapFileKey must return at least one stanza");
    return made;
  }));
  const header = encodeHeader({
    passwordLayer: password !== undefined,
    padded: pad,
    signed: sender !== undefined,
    aeadIds: aeads.map((a) => a.id),
    stanzas: stanzas.flat(),
  });
  const mode = password ? MODE_PASSWORD : MODE_PUBLIC;
  const mac = await headerMac(fileKey, mode, header);
  const payloadSalt = crypto.getRandomValues(new Uint8Array(SALT_SIZE));
  const payloadKeys = await deriveStreamKeys(fileKey, payloadSalt, aeads);
  const innerHead = concatBytes(header, mac, payloadSalt);
  const signer = sender && { sender, prefixHash: prefixHash(mode, innerHead) };
  return { password, pad, payloadKeys, innerHead, signer };
}

/**
 * SHA-512 of the envelope up to its payload as the header MAC sees it:
 * `magic || mode || header || mac || payloadSalt`, what a signature binds (section 3.1).
 */
function prefixHash(mode: number, innerHead: Uint8Array): Uint8Array {
  const h = sha512Hasher();
  h.update(MAGIC);
  h.update(new Uint8Array([mode]));
  h.update(innerHead);
  return h.digest();
}

/** The payload's plaintext: the data, or the signed payload of a sealed-sender envelope. */
function payloadOf(
  source: AsyncIterable<Uint8Array>,
  prepared: Awaited<ReturnType<typeof prepare>>,
): AsyncIterable<Uint8Array> {
  const { signer } = prepared;
  return signer ? signPayload(source, signer.sender, signer.prefixHash) : source;
}

/**
 * The envelope's bytes. `source` is the data, or with `payloadReady` the payload plaintext
 * already made from it (a signed payload, signed once).
 */
async function* sealEnvelope(
  source: AsyncIterable<Uint8Array>,
  prepared: Awaited<ReturnType<typeof prepare>>,
  payloadReady = false,
): AsyncGenerator<Uint8Array> {
  const { password, pad, payloadKeys, innerHead } = prepared;
  async function* inner(): AsyncGenerator<Uint8Array> {
    yield innerHead;
    yield* sealStream(payloadReady ? source : payloadOf(source, prepared), payloadKeys, pad);
  }
  if (password) {
    yield password.prefix;
    yield* sealStream(inner(), password.streamKeys, false);
  } else {
    yield concatBytes(MAGIC, new Uint8Array([MODE_PUBLIC]));
    yield* inner();
  }
}

/**
 * Encrypts a whole message. See {@linkcode EncryptOptions}.
 *
 * @returns the envelope bytes, or its armored text as UTF-8 bytes when `armor` is set
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * const { recipient } = await generateIdentity("x25519");
 * const sealed = await encrypt(new Uint8Array(10), { recipients: [recipient], armor: true });
 * assert.ok(new TextDecoder().decode(sealed).startsWith("-----BEGIN POLYCRYPT MESSAGE-----"));
 * ```
 */
export async function encrypt(
  plaintext: Uint8Array,
  options: EncryptOptions,
): Promise<SealedEnvelope> {
  if (!(plaintext instanceof Uint8Array)) throw new TypeError("plaintext must be a Uint8Array");
  const prepared = await prepare(options);
  const { signer } = prepared;
  // The payload's pieces (a signed one: sender block, data, signature), joined only once, when
  // they are padded into the chunk (or read by STREAM).
  const payload = signer
    ? await signedPayloadParts(plaintext, signer.sender, signer.prefixHash)
    : [plaintext];
  // Chat-sized messages without a password layer: the same bytes, sealed in one step.
  const single = prepared.password
    ? undefined
    : await sealSingleChunk(payload, prepared.payloadKeys, prepared.pad);
  const sealed = single
    ? concatBytes(MAGIC, new Uint8Array([MODE_PUBLIC]), prepared.innerHead, single)
    : await collect(sealEnvelope(pieces(payload), prepared, true));
  return (options.armor ? new TextEncoder().encode(armor(sealed)) : sealed) as SealedEnvelope;
}

/** An async iterable over byte arrays. */
async function* pieces(parts: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* parts;
}

/** Wraps an async-generator transformation as a TransformStream-shaped pair. */
function generatorStream(
  transform: (source: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>,
): TransformStream<Uint8Array, Uint8Array> {
  const { readable: input, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const readable = readableFrom(transform(iterate(input)));
  return { readable, writable } as TransformStream<Uint8Array, Uint8Array>;
}

type StreamFrom = (source: AsyncIterable<Uint8Array>) => ReadableStream<Uint8Array>;

/**
 * `ReadableStream.from(source)`, or the same stream built by hand where the platform lacks it
 * (Chromium, Safari): pulled one value at a time, cancelling returns the iterator.
 */
function readableFrom(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array> {
  const from = (ReadableStream as unknown as { from?: StreamFrom }).from;
  if (typeof from === "function") return from.call(ReadableStream, source);
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel(reason) {
      await iterator.return?.(reason);
    },
  }, { highWaterMark: 0 });
}

/** A ReadableStream as an async iterable, also where streams are not iterable (Safari). */
function iterate(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  if (Symbol.asyncIterator in stream) return stream as AsyncIterable<Uint8Array>;
  return (async function* () {
    const reader = (stream as ReadableStream<Uint8Array>).getReader();
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  })();
}

/**
 * A stream that encrypts what is written to it, in constant memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decryptStream, encryptStream, generateIdentity } from "@polycrypt/polycrypt";
 * const { identity, recipient } = await generateIdentity("x25519");
 * const out = ReadableStream.from([new Uint8Array(100000)])
 *   .pipeThrough(encryptStream({ recipients: [recipient] }))
 *   .pipeThrough(decryptStream({ identities: [identity] }));
 * let n = 0;
 * for await (const chunk of out) n += chunk.length;
 * assert.equal(n, 100000);
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

/** An envelope read up to its payload. */
interface Opened {
  /** Left at the payload. */
  reader: ByteReader;
  payloadKeys: StreamKeys;
  pad: boolean;
  /** For a signed payload, the hash its signature binds (section 3.1). */
  signedPrefix?: Uint8Array;
}

/** Reads an envelope up to its payload: the reader left at the payload, and the payload keys. */
async function openHeader(
  source: AsyncIterable<Uint8Array>,
  options: DecryptOptions,
): Promise<Opened> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object");
  }
  const registry = options.registry ?? defaultRegistry;
  const identities = (options.identities ?? []).map((i) => toIdentity(i, registry));
  const caps = stanzaAttempts(options.maxStanzaAttempts);
  let reader = new ByteReader(source);
  const head = await need(reader, MAGIC.length + 1);
  const mode = parseMode(head);
  let passwordFileKey: Uint8Array | undefined;
  if (mode === MODE_PASSWORD) {
    const layer = await openPasswordLayer(head, reader, options.passphrase);
    reader = layer.inner;
    passwordFileKey = layer.fileKey;
  } else if (mode !== MODE_PUBLIC) {
    throw new FormatError("unknown envelope mode");
  }

  let aeads: AeadEngine[] = [];
  const { header, bytes } = await readHeader(reader, (ids) => {
    aeads = ids.map((id) => findAead(id, registry, options.aead));
  });
  if (header.passwordLayer !== (mode === MODE_PASSWORD)) throw new DecryptionError();
  const mac = await need(reader, MAC_SIZE);
  const payloadSalt = await need(reader, SALT_SIZE);
  const verify = async (key: Uint8Array) => equalBytes(await headerMac(key, mode, bytes), mac);

  let fileKey: Uint8Array | undefined;
  if (header.stanzas.length === 0) {
    if (mode !== MODE_PASSWORD) {
      throw new FormatError("an envelope without stanzas needs a password layer");
    }
    if (await verify(passwordFileKey!)) fileKey = passwordFileKey;
  } else {
    fileKey = await findFileKey(identities, header.stanzas, verify, caps);
  }
  if (!fileKey) throw new DecryptionError();
  // An expected signer and an unsigned message: fail before any plaintext exists.
  if (options.verify !== undefined && !header.signed) throw new DecryptionError();
  const payloadKeys = await deriveStreamKeys(fileKey, payloadSalt, aeads);
  const signedPrefix = header.signed
    ? prefixHash(mode, concatBytes(bytes, mac, payloadSalt))
    : undefined;
  return { reader, payloadKeys, pad: header.padded, signedPrefix };
}

/** The data of an opened payload: a signed one is verified before the stream ends. */
async function* dataOf(
  payload: AsyncIterable<Uint8Array>,
  opened: Opened,
  options: DecryptOptions,
): AsyncGenerator<Uint8Array> {
  if (!opened.signedPrefix) {
    yield* payload;
    options.onSender?.(null);
    return;
  }
  yield* verifyPayload(payload, opened.signedPrefix, {
    registry: options.registry ?? defaultRegistry,
    expected: options.verify,
    onSender: options.onSender,
  });
}

async function* openEnvelope(
  source: AsyncIterable<Uint8Array>,
  options: DecryptOptions,
): AsyncGenerator<Uint8Array> {
  const opened = await openHeader(source, options);
  yield* dataOf(openStream(opened.reader, opened.payloadKeys, opened.pad), opened, options);
}

/**
 * Decrypts a whole envelope (binary, or armored text/bytes). Nothing is
 * returned unless every layer and every chunk authenticates.
 *
 * @throws {DecryptionError} wrong passphrase, no matching identity, or tampering (one message)
 * @throws {FormatError} input that is not a well-formed envelope
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARGON2_FLOOR, decrypt, DecryptionError, encrypt } from "@polycrypt/polycrypt";
 * const sealed = await encrypt(new Uint8Array([7]), { passphrase: "pw", argon2: ARGON2_FLOOR });
 * assert.deepEqual(await decrypt(sealed, { passphrase: "pw" }), new Uint8Array([7]));
 * await assert.rejects(decrypt(sealed, { passphrase: "wrong" }), DecryptionError);
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
  const opened = await openHeader(once(bytes), options);
  const { reader, payloadKeys, pad } = opened;
  // The whole payload is in memory already; a chat-sized one opens in one step.
  const payload = await collect(reader.rest());
  const single = await openSingleChunk(payload, payloadKeys, pad);
  if (single && opened.signedPrefix) {
    // A signed chat message: checked in place, as dataOf would check it streamed.
    return await openSignedPayload(single, opened.signedPrefix, {
      registry: options.registry ?? defaultRegistry,
      expected: options.verify,
      onSender: options.onSender,
    });
  }
  const plain = single ? once(single) : openStream(once(payload), payloadKeys, pad);
  return await collect(dataOf(plain, opened, options));
}

/** A decrypted message and who sent it. */
export interface DecryptedMessage {
  /** The plaintext. */
  data: Uint8Array;
  /** The verified sender of a signed message; `null` when the message is not signed. */
  sender: Sender | null;
}

/**
 * {@linkcode decrypt}, also returning the verified sender (`null` for an unsigned message). A
 * signature that does not verify is the one `DecryptionError`, as any other failure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decryptWithSender, encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * const alice = await generateIdentity("x25519");
 * const bob = await generateIdentity("x25519");
 * const signed = await encrypt(new Uint8Array([1]), {
 *   recipients: [bob.recipient],
 *   sender: alice.identity,
 * });
 * const opened = await decryptWithSender(signed, { identities: [bob.identity] });
 * assert.equal(opened.sender?.recipient, alice.recipient);
 * const anonymous = await encrypt(new Uint8Array([1]), { recipients: [bob.recipient] });
 * assert.equal((await decryptWithSender(anonymous, { identities: [bob.identity] })).sender, null);
 * ```
 */
export async function decryptWithSender(
  sealed: Uint8Array | string,
  options: DecryptOptions,
): Promise<DecryptedMessage> {
  let sender: Sender | null = null;
  const data = await decrypt(sealed, {
    ...options,
    onSender: (s) => {
      sender = s;
      options.onSender?.(s);
    },
  });
  return { data, sender };
}

/**
 * A stream that decrypts what is written to it. Each 64 KiB chunk is released
 * after it authenticates; a truncated or forged stream errors the readable
 * side, so write output to a temporary file and keep it only on success.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ARGON2_FLOOR, decryptStream, encryptStream } from "@polycrypt/polycrypt";
 * const opts = { passphrase: "pw", argon2: ARGON2_FLOOR };
 * const out = ReadableStream.from([new Uint8Array([1, 2])])
 *   .pipeThrough(encryptStream(opts)).pipeThrough(decryptStream(opts));
 * const chunks = await Array.fromAsync(out);
 * assert.deepEqual(chunks, [new Uint8Array([1, 2])]);
 * ```
 */
export function decryptStream(options: DecryptOptions): TransformStream<Uint8Array, Uint8Array> {
  return generatorStream((source) => openEnvelope(maybeDearmor(source), options));
}
