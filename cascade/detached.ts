/**
 * Detached signatures for files, as people use minisign and signify (`docs/format.md` section
 * 10): `signDetached` hashes a file as it streams and returns an armored
 * `-----BEGIN POLYCRYPT SIGNATURE-----` text naming the signer; `verifyDetached` checks it
 * against the signers a caller trusts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   generateIdentity,
 *   signDetached,
 *   SignatureError,
 *   verifyDetached,
 * } from "@polycrypt/polycrypt";
 * const alice = await generateIdentity();
 * const file = new TextEncoder().encode("release 1.0");
 * const signature = await signDetached(file, alice.identity);
 * assert.ok(signature.startsWith("-----BEGIN POLYCRYPT SIGNATURE-----"));
 * const signer = await verifyDetached(file, signature, [alice.recipient]);
 * assert.equal(signer.recipient, alice.recipient);
 * await assert.rejects(
 *   verifyDetached(new TextEncoder().encode("release 1.1"), signature, [alice.recipient]),
 *   SignatureError,
 * );
 * ```
 *
 * @module
 */
import { FormatError, SignatureError } from "../errors.ts";
import { concatBytes, equalBytes } from "../engines/_bytes.ts";
import { sha512Hasher } from "../engines/_hash.ts";
import { registry as defaultRegistry } from "../engines/mod.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import { armor, dearmor } from "./armor.ts";
import { isExpected, parseSenderBlock, prepareSender } from "./signed.ts";
import type { ExpectedSigner, Sender } from "./signed.ts";
import type { KemIdentity } from "./stanza.ts";

/** The first bytes of a detached signature: "PCSIG", two zero bytes, the version (1). */
export const SIGNATURE_MAGIC: Uint8Array = new Uint8Array([
  0x50,
  0x43,
  0x53,
  0x49,
  0x47,
  0x00,
  0x00,
  0x01,
]);
/** The armor kind of a detached signature: `-----BEGIN POLYCRYPT SIGNATURE-----`. */
export const SIGNATURE_ARMOR = "SIGNATURE";

const LABEL = new TextEncoder().encode("polycrypt/1 detached signature\0");

/** Options of {@linkcode signDetached} and {@linkcode verifyDetached}. */
export interface DetachedOptions {
  /** Where the engines are looked up; default the global `registry`. */
  registry?: EngineRegistry;
}

async function hashOf(data: Uint8Array | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const h = sha512Hasher();
  if (data instanceof Uint8Array) h.update(data);
  else for await (const chunk of data) h.update(chunk);
  return h.digest();
}

function message(block: Uint8Array, dataHash: Uint8Array): Uint8Array {
  const h = sha512Hasher();
  h.update(block);
  return concatBytes(LABEL, h.digest(), dataHash);
}

/**
 * Signs `data` (bytes, or a stream read once, in constant memory) as `identity` (a version-2
 * identity string or a parsed identity with a signing key); returns the armored signature.
 */
export async function signDetached(
  data: Uint8Array | AsyncIterable<Uint8Array>,
  identity: string | KemIdentity,
  options: DetachedOptions = {},
): Promise<string> {
  const sender = await prepareSender(identity, options.registry ?? defaultRegistry);
  const signature = await sender.engine.sign(
    sender.secretKey,
    message(sender.block, await hashOf(data)),
  );
  const length = new Uint8Array([sender.block.length >> 8, sender.block.length & 0xff]);
  return armor(concatBytes(SIGNATURE_MAGIC, length, sender.block, signature), SIGNATURE_ARMOR);
}

/**
 * Checks a detached signature of `data` made by one of `expected` (version-2 recipient strings
 * or public signing keys); returns the signer. Throws `FormatError` when `signature` is not a
 * polycrypt signature and {@linkcode SignatureError} when it does not verify or is by someone
 * else.
 */
export async function verifyDetached(
  data: Uint8Array | AsyncIterable<Uint8Array>,
  signature: string | Uint8Array,
  expected: readonly ExpectedSigner[],
  options: DetachedOptions = {},
): Promise<Sender> {
  if (!Array.isArray(expected) || expected.length === 0) {
    throw new TypeError("expected must list at least one signer");
  }
  const registry = options.registry ?? defaultRegistry;
  const bytes = dearmor(signature, SIGNATURE_ARMOR);
  const m = SIGNATURE_MAGIC.length;
  if (bytes.length < m + 2 || !equalBytes(bytes.subarray(0, m), SIGNATURE_MAGIC)) {
    throw new FormatError("not a polycrypt signature (or a version this reader does not know)");
  }
  const blockLength = (bytes[m] << 8) | bytes[m + 1];
  const block = bytes.subarray(m + 2, m + 2 + blockLength);
  if (block.length !== blockLength) throw new FormatError("truncated polycrypt signature");
  const sender = parseSenderBlock(block, registry);
  const sig = bytes.subarray(m + 2 + blockLength);
  if (sig.length !== sender.engine.signatureSize) {
    throw new FormatError("truncated polycrypt signature");
  }
  // Someone else's signature fails as a bad one does, before the file is read.
  if (!isExpected(sender, expected, registry)) throw new SignatureError();
  let valid = false;
  try {
    valid = await sender.engine.verify(sender.publicKey, message(block, await hashOf(data)), sig);
  } catch {
    valid = false;
  }
  if (!valid) throw new SignatureError();
  const { engine: _, ...signer } = sender;
  return signer;
}
