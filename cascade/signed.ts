/**
 * Sealed sender (`docs/format.md` section 3.1): a signed envelope carries the sender's public
 * keys and a signature **inside** the encrypted payload, so only recipients learn who sent it.
 * The signature covers a domain-separation string, the envelope's header (every recipient
 * stanza), the sender block and the hash of the plaintext: a recipient can neither strip it
 * into another sender's name nor re-encrypt the signed message to someone else as if the sender
 * had written to them (surreptitious forwarding, Davis 2001).
 *
 * The payload of a signed envelope, before padding, is
 * `u16 len(sender) || sender || data || signature`; the signature comes last so that a writer
 * signs a running hash and never holds the whole plaintext, and a reader releases nothing of the
 * signature and checks it before the stream ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decryptWithSender, encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * const alice = await generateIdentity("x25519");
 * const bob = await generateIdentity("x25519");
 * const sealed = await encrypt(new TextEncoder().encode("hi Bob"), {
 *   recipients: [bob.recipient],
 *   sender: alice.identity,
 * });
 * const { data, sender } = await decryptWithSender(sealed, { identities: [bob.identity] });
 * assert.equal(new TextDecoder().decode(data), "hi Bob");
 * assert.equal(sender?.recipient, alice.recipient);
 * ```
 *
 * @module
 */
import { DecryptionError, FormatError } from "../errors.ts";
import { concatBytes, equalBytes, toBase64, toHex } from "../engines/_bytes.ts";
import { LruCache } from "../engines/_cache.ts";
import { sha256, sha512Hasher } from "../engines/_hash.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import type { KemEngine, SignatureEngine } from "../engines/types.ts";
import { encodeRecipient, parseIdentity, parseRecipient } from "./keys.ts";
import { fingerprintOfCanonical } from "../contacts/fingerprint.ts";
import type { KemIdentity, VerifyingKey } from "./stanza.ts";

/** The verified sender of a signed envelope. */
export interface Sender {
  /** The sender's recipient string (version 2): reply to it, or compare it with a contact's. */
  readonly recipient: string;
  /** The sender's signature engine id. */
  readonly signatureEngine: string;
  /** The sender's public signing key, which verified the signature. */
  readonly publicKey: Uint8Array;
  /** The fingerprint of {@linkcode Sender.recipient} (`docs/contacts.md` section 1). */
  readonly fingerprint: string;
}

/** Who may have signed a message: recipient strings (version 2) or public signing keys. */
export type ExpectedSigner = string | VerifyingKey;

const encoder = new TextEncoder();
/** Domain separation of the signed message (`docs/format.md` section 3.1). */
export const SIGNED_ENVELOPE_LABEL: Uint8Array = encoder.encode("polycrypt/1 signed envelope\0");
// The sender block is a recipient in binary form: engine ids (255 bytes each at most) and keys
// (u16 lengths), so 64 KiB bounds it; checked before anything is read past its length.
const MAX_SENDER_BLOCK = 0xffff;

function shortId(id: string): Uint8Array {
  const bytes = encoder.encode(id);
  if (bytes.length === 0 || bytes.length > 255) throw new RangeError("engine ids are 1-255 bytes");
  return concatBytes(new Uint8Array([bytes.length]), bytes);
}

function u16(n: number): Uint8Array {
  return new Uint8Array([n >> 8, n & 0xff]);
}

/**
 * The sender block: `u8 len || kemId || u8 len || sigId || u16 len || signKey || kemKey`, the
 * binary form of the sender's version-2 recipient string.
 */
function encodeSenderBlock(
  kem: KemEngine,
  kemKey: Uint8Array,
  verifying: VerifyingKey,
): Uint8Array {
  const block = concatBytes(
    shortId(kem.id),
    shortId(verifying.engine.id),
    u16(verifying.publicKey.length),
    verifying.publicKey,
    kemKey,
  );
  if (block.length > MAX_SENDER_BLOCK) throw new RangeError("the sender's keys are too long");
  return block;
}

/**
 * Parses a sender block (a `FormatError` when malformed or naming unknown engines). It is parsed
 * without the recipient cache: a stranger's keys must not evict a messenger's contacts.
 */
export function parseSenderBlock(block: Uint8Array, registry: EngineRegistry): Sender & {
  engine: SignatureEngine;
} {
  let at = 0;
  const take = (n: number) => {
    if (at + n > block.length) throw new FormatError("malformed sender block");
    return block.subarray(at, at += n);
  };
  const id = () => {
    const bytes = take(take(1)[0]);
    // Engine ids are printable ASCII (docs/format.md section 3).
    if (bytes.length === 0 || bytes.some((b) => b < 0x21 || b > 0x7e)) {
      throw new FormatError("malformed sender block");
    }
    return String.fromCharCode(...bytes);
  };
  const kemId = id();
  const sigId = id();
  const sizeBytes = take(2);
  const signKey = take((sizeBytes[0] << 8) | sizeBytes[1]).slice();
  const kemKey = block.slice(at);
  const engineOf = (engineId: string) => {
    if (!registry.has(engineId)) {
      throw new FormatError(`the sender block names an unknown engine ${JSON.stringify(engineId)}`);
    }
    return registry.get(engineId);
  };
  const kem = engineOf(kemId);
  const engine = engineOf(sigId);
  if (kem.kind !== "kem" || engine.kind !== "signature") {
    throw new FormatError("the sender block names engines of the wrong kinds");
  }
  if (signKey.length !== engine.publicKeySize) {
    throw new FormatError("the sender block's signing key has the wrong size");
  }
  try {
    kem.checkPublicKey?.(kemKey);
  } catch (e) {
    throw new FormatError(
      `the sender block's encryption key is not usable: ${(e as Error).message}`,
    );
  }
  const recipient = encodeRecipient(kemId, kemKey, { id: sigId, key: signKey });
  return {
    recipient,
    signatureEngine: engine.id,
    publicKey: signKey,
    fingerprint: fingerprintOfCanonical(recipient),
    engine,
  };
}

/** What a writer needs to sign: the sender block, its hash and the secret signing key. */
export interface PreparedSender {
  /** The sender block (section 3.1). */
  readonly block: Uint8Array;
  /** `u16 len(block) || block`: how the signed payload begins. */
  readonly framedBlock: Uint8Array;
  /** SHA-512 of the block, the part of the signed message that names the sender. */
  readonly blockHash: Uint8Array;
  readonly engine: SignatureEngine;
  readonly secretKey: Uint8Array;
}

/** A sender block with the two things every signed envelope also needs of it. */
interface SenderBlock {
  readonly framed: Uint8Array;
  readonly hash: Uint8Array;
}

function frameBlock(block: Uint8Array): SenderBlock {
  const framed = concatBytes(u16(block.length), block);
  const h = sha512Hasher();
  h.update(block);
  return { framed, hash: h.digest() };
}

// Deriving the public keys (an ML-DSA key expansion, an ML-KEM public key) costs more than a
// chat message's signature: a messenger signs with the same identity all day, so the sender
// blocks of recent identities are kept, under a hash of the identity (never the secret itself).
const senderBlocks = new WeakMap<EngineRegistry, LruCache<string, Promise<SenderBlock>>>();
// An identity string is also parsed once (its checksum, base64): the prepared sender of a recent
// identity string is kept under a hash of the string, as the engines keep their key objects.
const preparedSenders = new WeakMap<EngineRegistry, LruCache<string, Promise<PreparedSender>>>();
const PREPARED_TAG = encoder.encode("polycrypt prepared sender\0");

/** The sender block and signing key of `identity` (a string or a parsed identity). */
export async function prepareSender(
  identity: string | KemIdentity,
  registry: EngineRegistry,
): Promise<PreparedSender> {
  if (typeof identity !== "string") return await prepareParsed(identity, registry);
  let cache = preparedSenders.get(registry);
  if (!cache) preparedSenders.set(registry, cache = new LruCache(16));
  const key = toHex(sha256(PREPARED_TAG, encoder.encode(identity)));
  const prepared = cache.getOrCreate(
    key,
    async () => await prepareParsed(parseIdentity(identity, { registry }), registry),
  );
  try {
    return await prepared;
  } catch (e) {
    cache.delete(key); // a bad identity or a failed derivation is not kept
    throw e;
  }
}

async function prepareParsed(
  parsed: KemIdentity,
  registry: EngineRegistry,
): Promise<PreparedSender> {
  if (typeof parsed !== "object" || parsed === null || !("engine" in parsed)) {
    throw new TypeError("sender must be an identity string or a KemIdentity");
  }
  const signing = parsed.signingKey;
  if (!signing) {
    throw new TypeError(
      "the identity has no signing key (a version-1 identity): upgrade it " +
        "(upgradeIdentity; on the command line, polycrypt keygen --upgrade)",
    );
  }
  const { engine, secretKey } = parsed;
  if (!engine.publicKeyFromSecretKey || !signing.engine.publicKeyFromSecretKey) {
    throw new TypeError("the sender's engines cannot derive public keys from secret keys");
  }
  let cache = senderBlocks.get(registry);
  if (!cache) senderBlocks.set(registry, cache = new LruCache(16));
  // Length-framed, so two different key pairs never give the same cache key.
  const frame = (b: Uint8Array) =>
    new Uint8Array([b.length >>> 24, b.length >>> 16, b.length >>> 8, b.length]);
  const key = toHex(sha256(
    encoder.encode(`${engine.id}:${signing.engine.id}:`),
    frame(secretKey),
    secretKey,
    frame(signing.secretKey),
    signing.secretKey,
  ));
  const block = cache.getOrCreate(key, async () => {
    const [kemKey, signKey] = await Promise.all([
      engine.publicKeyFromSecretKey!(secretKey),
      signing.engine.publicKeyFromSecretKey!(signing.secretKey),
    ]);
    return frameBlock(
      encodeSenderBlock(engine, kemKey, { engine: signing.engine, publicKey: signKey }),
    );
  });
  try {
    const { framed, hash } = await block;
    return Object.freeze({
      block: framed.subarray(2),
      framedBlock: framed,
      blockHash: hash,
      engine: signing.engine,
      secretKey: signing.secretKey.slice(),
    });
  } catch (e) {
    cache.delete(key); // a failed derivation is not kept
    throw e;
  }
}

/** The message the sender signs: label, and hashes of the envelope prefix, sender and data. */
function signedMessage(prefixHash: Uint8Array, blockHash: Uint8Array, dataHash: Uint8Array) {
  return concatBytes(SIGNED_ENVELOPE_LABEL, prefixHash, blockHash, dataHash);
}

async function signWith(sender: PreparedSender, message: Uint8Array): Promise<Uint8Array> {
  const signature = await sender.engine.sign(sender.secretKey, message);
  if (signature.length !== sender.engine.signatureSize) {
    throw new RangeError(`${sender.engine.id} returned a signature of the wrong size`);
  }
  return signature;
}

/**
 * The signed payload of `data`: the sender block first, the data, then the signature over
 * {@linkcode SIGNED_ENVELOPE_LABEL}, `prefixHash` (SHA-512 of the envelope up to the payload),
 * the hash of the sender block and the running SHA-512 of the data.
 */
export async function* signPayload(
  source: AsyncIterable<Uint8Array>,
  sender: PreparedSender,
  prefixHash: Uint8Array,
): AsyncGenerator<Uint8Array> {
  yield sender.framedBlock;
  const h = sha512Hasher();
  for await (const chunk of source) {
    h.update(chunk);
    yield chunk;
  }
  yield await signWith(sender, signedMessage(prefixHash, sender.blockHash, h.digest()));
}

/**
 * {@linkcode signPayload} of a whole message, as its three pieces (framed sender block, `data`
 * itself, signature), for a writer that seals them in one step without joining them first.
 */
export async function signedPayloadParts(
  data: Uint8Array,
  sender: PreparedSender,
  prefixHash: Uint8Array,
): Promise<Uint8Array[]> {
  const h = sha512Hasher();
  h.update(data);
  const signature = await signWith(sender, signedMessage(prefixHash, sender.blockHash, h.digest()));
  return [sender.framedBlock, data, signature];
}

/** A parsed sender block, with its hash. */
interface ParsedBlock {
  readonly sender: Sender;
  readonly engine: SignatureEngine;
  readonly blockHash: Uint8Array;
  /** The block's bytes in base64: its key in the cache of verified senders. */
  readonly cacheKey: string;
}

// A messenger hears from the same few contacts all day: parsed sender blocks (public keys only)
// are kept under the block's bytes, one cache of 64 per registry for every sender (contacts and
// strangers alike), apart from the recipient cache. A block goes in only once a signature by its
// key verified, so a forged block (any public key, no valid signature) never enters it and cannot
// evict anyone's entry; someone who signs validly with keys of their own still can, at the price
// of a signature each, and that costs a reader only a parse again (speed, never correctness).
const parsedBlocks = new WeakMap<EngineRegistry, LruCache<string, ParsedBlock>>();

/**
 * {@linkcode parseSenderBlock}, from the cache when a signature by this block verified before;
 * the result's bytes are shared. A block parsed afresh is not stored: {@linkcode rememberSender}
 * does that once its signature verified.
 */
function senderOfBlock(block: Uint8Array, registry: EngineRegistry): ParsedBlock {
  const cacheKey = toBase64(block);
  const cached = parsedBlocks.get(registry)?.get(cacheKey);
  if (cached) return cached;
  const { engine, ...sender } = parseSenderBlock(block, registry);
  const h = sha512Hasher();
  h.update(block);
  return Object.freeze({ sender: Object.freeze(sender), engine, blockHash: h.digest(), cacheKey });
}

/** Keeps a sender block whose signature verified, for the sender's next message. */
function rememberSender(parsed: ParsedBlock, registry: EngineRegistry): void {
  let cache = parsedBlocks.get(registry);
  if (!cache) parsedBlocks.set(registry, cache = new LruCache(64));
  cache.set(parsed.cacheKey, parsed);
}

/**
 * Whether the sender block `block` (without its length prefix) is in the cache of verified
 * senders of `registry`. For tests.
 */
export function senderBlockCached(block: Uint8Array, registry: EngineRegistry): boolean {
  return parsedBlocks.get(registry)?.get(toBase64(block)) !== undefined;
}

/** The verified sender handed to a caller: its own copy of the public key. */
function senderFor(parsed: ParsedBlock): Sender {
  return { ...parsed.sender, publicKey: parsed.sender.publicKey.slice() };
}

/** Whether `sender` is one of `expected`. */
export function isExpected(
  sender: Sender,
  expected: readonly ExpectedSigner[],
  registry: EngineRegistry,
): boolean {
  return expected.some((e) => {
    const key = typeof e === "string" ? parseRecipient(e, { registry }).verifyingKey : e;
    if (!key) throw new TypeError("an expected signer has no signing key (a version-1 recipient)");
    return key.engine.id === sender.signatureEngine && equalBytes(key.publicKey, sender.publicKey);
  });
}

/** Options of {@linkcode verifyPayload}. */
export interface VerifyPayloadOptions {
  readonly registry: EngineRegistry;
  /** When set, only a signature by one of these is accepted. */
  readonly expected?: readonly ExpectedSigner[];
  /** Called with the verified sender once the signature verified, before the stream ends. */
  readonly onSender?: (sender: Sender) => void;
}

/**
 * Opens a signed payload: yields the data as it comes, holding back the trailing signature,
 * and throws `DecryptionError` before its end unless the signature verifies (and the signer is
 * expected). Data is released before the signature is checked: a consumer that keeps output
 * only when the stream ends without error (a temporary file renamed at the end) never keeps an
 * unauthenticated sender's data, and one that shows data must wait for the end.
 */
export async function* verifyPayload(
  source: AsyncIterable<Uint8Array>,
  prefixHash: Uint8Array,
  options: VerifyPayloadOptions,
): AsyncGenerator<Uint8Array> {
  // Accumulate the sender block first (a few KiB), then stream the rest, holding back the last
  // signatureSize bytes (a copy of at most that many): every other byte is released as a view of
  // the chunk it came in, without copying.
  let pending: Uint8Array = new Uint8Array(0);
  let parsed: ParsedBlock | undefined;
  let held: Uint8Array = new Uint8Array(0);
  const h = sha512Hasher();
  const release = function* (data: Uint8Array): Generator<Uint8Array> {
    if (data.length === 0) return;
    h.update(data);
    yield data;
  };
  for await (const chunk of source) {
    let piece = chunk;
    if (!parsed) {
      pending = pending.length === 0 ? chunk : concatBytes(pending, chunk);
      if (pending.length < 2) continue;
      const length = (pending[0] << 8) | pending[1];
      if (length === 0) throw new DecryptionError();
      if (pending.length < 2 + length) continue;
      parsed = expectedSender(pending.subarray(2, 2 + length), options);
      piece = pending.subarray(2 + length);
      pending = new Uint8Array(0);
    }
    const size = parsed.engine.signatureSize;
    if (piece.length >= size) {
      // Everything held, and all of this piece but its last `size` bytes, is data.
      yield* release(held);
      yield* release(piece.subarray(0, piece.length - size));
      held = piece.slice(piece.length - size);
    } else {
      const joined = concatBytes(held, piece); // at most 2 * size bytes
      yield* release(joined.subarray(0, Math.max(0, joined.length - size)));
      held = joined.slice(Math.max(0, joined.length - size));
    }
  }
  if (!parsed || held.length !== parsed.engine.signatureSize) throw new DecryptionError();
  await checkSignature(parsed, signedMessage(prefixHash, parsed.blockHash, h.digest()), held);
  rememberSender(parsed, options.registry);
  options.onSender?.(senderFor(parsed));
}

/**
 * The parsed sender block, a `DecryptionError` when it is malformed (authenticated by the AEAD,
 * but not a usable sender) or names a key other than the expected ones. A block that names an
 * expected key is only believed once the signature verifies.
 */
function expectedSender(block: Uint8Array, options: VerifyPayloadOptions): ParsedBlock {
  let parsed: ParsedBlock;
  try {
    parsed = senderOfBlock(block, options.registry);
  } catch {
    throw new DecryptionError();
  }
  if (options.expected && !isExpected(parsed.sender, options.expected, options.registry)) {
    throw new DecryptionError();
  }
  return parsed;
}

/** Throws `DecryptionError` unless `signature` by the parsed sender verifies over `message`. */
async function checkSignature(
  parsed: ParsedBlock,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<void> {
  let valid = false;
  try {
    valid = await parsed.engine.verify(parsed.sender.publicKey, message, signature);
  } catch {
    valid = false;
  }
  if (!valid) throw new DecryptionError();
}

/**
 * {@linkcode verifyPayload} of a whole decrypted payload, for a reader that holds all of it (a
 * chat message): the same checks in the same order, with no copy. Returns the data, a view of
 * `payload`, once the signature verified.
 */
export async function openSignedPayload(
  payload: Uint8Array,
  prefixHash: Uint8Array,
  options: VerifyPayloadOptions,
): Promise<Uint8Array> {
  if (payload.length < 2) throw new DecryptionError();
  const length = (payload[0] << 8) | payload[1];
  if (length === 0 || payload.length < 2 + length) throw new DecryptionError();
  const parsed = expectedSender(payload.subarray(2, 2 + length), options);
  const end = payload.length - parsed.engine.signatureSize;
  if (end < 2 + length) throw new DecryptionError();
  const data = payload.subarray(2 + length, end);
  const h = sha512Hasher();
  h.update(data);
  await checkSignature(
    parsed,
    signedMessage(prefixHash, parsed.blockHash, h.digest()),
    payload.subarray(end),
  );
  rememberSender(parsed, options.registry);
  options.onSender?.(senderFor(parsed));
  return data;
}
