/**
 * What an envelope shows without keys: its kind, the Argon2id cost of a password layer, or the
 * AEAD stack, stanza types and padded size of a public header; of a session message, what the
 * network sees (docs/sessions.md section 4).
 *
 * @module
 */
import { FormatError } from "../errors.ts";
import { registry as defaultRegistry } from "../engines/mod.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import type { AeadEngine } from "../engines/types.ts";
import { ByteReader, once } from "./_reader.ts";
import { dearmor, isArmored } from "./armor.ts";
import type { Argon2Params } from "./argon2.ts";
import {
  findAead,
  MAC_SIZE,
  MAGIC,
  MODE_PASSWORD,
  MODE_PUBLIC,
  MODE_SESSION,
  need,
  OUTER_SIZE,
  parseMode,
  parseOuter,
  readHeader,
  SALT_SIZE,
} from "./format.ts";
import { CHUNK_SIZE, chunkOverhead } from "./stream.ts";
import { describeSessionMessage, type SessionMessageInfo } from "../sessions/message.ts";

export type { SessionMessageInfo } from "../sessions/message.ts";

/** What {@linkcode inspect} can see without keys. */
export interface EnvelopeInfo {
  /** The format version (the last byte of the magic). */
  version: number;
  /** Whether the input was ASCII armor. */
  armored: boolean;
  /** When true, everything below the Argon2id parameters is hidden. */
  passwordProtected: boolean;
  /** The Argon2id cost of the password layer, as written. */
  argon2?: Argon2Params;
  /** The payload's AEAD ids, innermost first. */
  aead?: string[];
  /** The recipient stanzas: type and body size. */
  stanzas?: { type: string; bytes: number }[];
  /** Whether the payload is PADME-padded. */
  padded?: boolean;
  /**
   * Whether the payload is signed (sealed sender): who signed it is inside the encrypted
   * payload, visible to recipients only.
   */
  signed?: boolean;
  /** Payload ciphertext bytes. */
  payloadBytes?: number;
  /** Padded plaintext bytes (data, marker and padding): what an observer learns of the length. */
  paddedSize?: number;
  /** Total envelope bytes (before armor). */
  totalBytes: number;
  /**
   * A session message (mode 0x02, docs/sessions.md section 4): only what the network sees, its
   * kind, the prekey ids of a prekey message, and lengths.
   */
  session?: SessionMessageInfo;
}

/** Options of {@linkcode inspect}. */
export interface InspectOptions {
  /** Where the header's AEAD ids are looked up; default the global `registry`. */
  registry?: EngineRegistry;
  /** AEAD engines to look the header's ids up in before the registry. */
  aead?: readonly AeadEngine[];
}

/**
 * Describes an envelope without decrypting it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity, inspect } from "@polycrypt/polycrypt";
 * const { recipient } = await generateIdentity("x25519");
 * const info = await inspect(await encrypt(new Uint8Array(1000), { recipients: [recipient] }));
 * assert.equal(info.stanzas?.[0].type, "x25519");
 * assert.deepEqual(info.aead, ["aes-256-gcm"]);
 * assert.equal(info.paddedSize, 1024);
 * ```
 */
export async function inspect(
  sealed: Uint8Array | string,
  options: InspectOptions = {},
): Promise<EnvelopeInfo> {
  const armored = typeof sealed === "string" || isArmored(sealed);
  const bytes = armored ? dearmor(sealed) : sealed as Uint8Array;
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("sealed must be a Uint8Array or a string");
  }
  const reader = new ByteReader(once(bytes));
  const head = await need(reader, MAGIC.length + 1);
  const mode = parseMode(head);
  const info: EnvelopeInfo = {
    version: MAGIC[MAGIC.length - 1],
    armored,
    passwordProtected: mode === MODE_PASSWORD,
    totalBytes: bytes.length,
  };
  if (info.passwordProtected) {
    info.argon2 = parseOuter(bytes.subarray(0, OUTER_SIZE)).argon2;
    return info;
  }
  if (mode === MODE_SESSION) return { ...info, session: describeSessionMessage(bytes) };
  if (mode !== MODE_PUBLIC) throw new FormatError("unknown envelope mode");
  const registry = options.registry ?? defaultRegistry;
  let aeads: AeadEngine[] = [];
  const parsed = await readHeader(reader, (ids) => {
    aeads = ids.map((id) => findAead(id, registry, options.aead));
  });
  await need(reader, MAC_SIZE + SALT_SIZE);
  const payloadBytes = bytes.length -
    (MAGIC.length + 1 + parsed.bytes.length + MAC_SIZE + SALT_SIZE);
  const overhead = chunkOverhead({ aeads, keys: [] });
  const chunks = Math.max(1, Math.ceil(payloadBytes / (CHUNK_SIZE + overhead)));
  return {
    ...info,
    aead: [...parsed.header.aeadIds],
    stanzas: parsed.header.stanzas.map((s) => ({ type: s.type, bytes: s.body.length })),
    padded: parsed.header.padded,
    signed: parsed.header.signed ?? false,
    payloadBytes,
    paddedSize: payloadBytes - chunks * overhead,
  };
}
