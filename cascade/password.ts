// Internal: the optional outer password layer (`docs/format.md` section 2). Argon2id turns the
// passphrase into K; K gives the commitment a reader checks first, the key of the STREAM that
// hides the whole inner body, and the file key of a passphrase-only envelope.
import { DecryptionError } from "../errors.ts";
import { equalBytes } from "../engines/_bytes.ts";
import { hkdf } from "../engines/hkdf.ts";
import { registry } from "../engines/mod.ts";
import { ByteReader } from "./_reader.ts";
import { argon2id, type Argon2Params, checkArgon2Params } from "./argon2.ts";
import {
  encodeOuter,
  FILE_KEY_SIZE,
  label,
  MAC_SIZE,
  need,
  OUTER_SIZE,
  parseOuter,
  SALT_SIZE,
} from "./format.ts";
import { deriveStreamKeys, openStream, type StreamKeys } from "./stream.ts";

/** The password layer's key material, bound to the outer prefix. */
interface PasswordKeys {
  /** Compared before anything is decrypted; one envelope opens under one passphrase only. */
  commit: Uint8Array;
  /** The STREAM around the inner body. */
  streamKeys: StreamKeys;
  /** The file key of an envelope without recipient stanzas. */
  fileKey: Uint8Array;
}

async function passwordKeys(
  passphrase: string,
  outer: Uint8Array,
  salt: Uint8Array,
  params: Argon2Params,
): Promise<PasswordKeys> {
  const k = await argon2id(passphrase, salt, params);
  // The format fixes one AES-256-GCM layer here, whatever engines the caller's registry holds.
  const [commit, streamKeys, fileKey] = await Promise.all([
    hkdf("SHA-256", k, outer, label("password commit"), 32),
    deriveStreamKeys(k, outer, [registry.aead("aes-256-gcm")], "polycrypt/1 password stream"),
    hkdf("SHA-256", k, outer, label("password file key"), FILE_KEY_SIZE),
  ]);
  return { commit, streamKeys, fileKey };
}

/** A new password layer: the clear bytes it begins with (outer prefix and commit), and its keys. */
export async function createPasswordLayer(
  passphrase: string,
  argon2: Argon2Params,
): Promise<{ prefix: Uint8Array; streamKeys: StreamKeys; fileKey: Uint8Array }> {
  checkArgon2Params(argon2);
  const salt = crypto.getRandomValues(new Uint8Array(SALT_SIZE));
  const outer = encodeOuter({ argon2, salt });
  const keys = await passwordKeys(passphrase, outer, salt, argon2);
  const prefix = new Uint8Array(outer.length + keys.commit.length);
  prefix.set(outer);
  prefix.set(keys.commit, outer.length);
  return { prefix, streamKeys: keys.streamKeys, fileKey: keys.fileKey };
}

/**
 * Opens the password layer of an envelope whose first `head` bytes (magic and mode 0x01) have
 * been read: returns a reader over the inner body and the passphrase-only file key. The Argon2id
 * bounds are checked before Argon2id runs, the commitment before anything is decrypted.
 */
export async function openPasswordLayer(
  head: Uint8Array,
  reader: ByteReader,
  passphrase: string | undefined,
): Promise<{ inner: ByteReader; fileKey: Uint8Array }> {
  const rest = await need(reader, OUTER_SIZE - head.length);
  const outer = new Uint8Array(OUTER_SIZE);
  outer.set(head);
  outer.set(rest, head.length);
  const { argon2, salt } = parseOuter(outer);
  // Bounds first: a hostile file must not make us run an expensive KDF.
  checkArgon2Params(argon2);
  const commit = await need(reader, MAC_SIZE);
  if (passphrase === undefined || passphrase === "") throw new DecryptionError();
  const keys = await passwordKeys(passphrase, outer, salt, argon2);
  if (!equalBytes(keys.commit, commit)) throw new DecryptionError();
  return {
    inner: new ByteReader(openStream(reader, keys.streamKeys, false)),
    fileKey: keys.fileKey,
  };
}
