// Internal: what `chat` adds for forward-secret sessions (docs/cli.md, "Sessions in chat";
// docs/sessions.md): the session store, the chat's own payload kinds (the bundle request and the
// bundle in control envelopes; the hello and file pieces in session messages), and the receiving
// end of a file sent in pieces.
import { dirname } from "node:path";
import { equalBytes } from "../engines/_bytes.ts";
import { checkFileName, MESSAGE_KIND, REPLY_KEY_SIZE } from "../transports/mod.ts";
import { createAccount } from "../sessions/account.ts";
import type { Account } from "../sessions/account.ts";
import { SqliteSessionStore } from "../sessions/sqlite_store.ts";
import type { SessionStore } from "../sessions/store.ts";
import { defaultSessionsPath } from "./_contacts.ts";
import { IoError } from "./_errors.ts";
import { say, withProgress, writeAtomic } from "./_io.ts";
import { freeName, Notice, type Opened, type ReceiptDesk, Refused, tooLarge } from "./_delivery.ts";

/**
 * The chat's payload kinds besides docs/transports.md section 7's text, file and offer. Each
 * follows the reply key (`0x52 || key`), as every chat payload does:
 *
 * - in an ordinary envelope, unsigned (a control envelope): `Q` asks the peer for a prekey bundle
 *   (nothing follows), `B` is a bundle (docs/sessions.md section 2);
 * - in a session message: `H` starts the session (nothing follows), `P` is a piece of a file:
 *   `u8 flags || u8 len || name || bytes`, flags bit 0 the first piece, bit 1 the last.
 */
export const CHAT_KIND: Readonly<{ request: 0x51; bundle: 0x42; hello: 0x48; piece: 0x50 }> = Object
  .freeze({ request: 0x51, bundle: 0x42, hello: 0x48, piece: 0x50 });

/** Bit 0 of a piece's flags: the first piece of its file. */
export const FIRST_PIECE = 0x01;
/** Bit 1 of a piece's flags: the last piece of its file. */
export const LAST_PIECE = 0x02;

/** Bytes of a file per piece: each piece is one session message (at most 16 MiB of data). */
const PIECE_BYTES = 1024 * 1024;

/**
 * The largest session message chat reads (a piece or a text with its header, KEM step and
 * padding): 16 MiB of data and 1 MiB of margin. Larger ones are dropped unread.
 */
export const MAX_SESSION_MESSAGE = 17 * 1024 * 1024;

const encoder = new TextEncoder();

/** `0x52 || replyKey || kind || body`. */
export function chatPayload(replyKey: Uint8Array, kind: number, body?: Uint8Array): Uint8Array {
  if (replyKey.length !== REPLY_KEY_SIZE) throw new RangeError("bad reply key");
  const out = new Uint8Array(2 + REPLY_KEY_SIZE + (body?.length ?? 0));
  out[0] = MESSAGE_KIND.reply;
  out.set(replyKey, 1);
  out[1 + REPLY_KEY_SIZE] = kind;
  if (body) out.set(body, 2 + REPLY_KEY_SIZE);
  return out;
}

/** A file piece's payload. */
export function piecePayload(
  replyKey: Uint8Array,
  flags: number,
  name: string,
  bytes: Uint8Array,
): Uint8Array {
  const nameBytes = encoder.encode(name);
  const body = new Uint8Array(2 + nameBytes.length + bytes.length);
  body[0] = flags;
  body[1] = nameBytes.length;
  body.set(nameBytes, 2);
  body.set(bytes, 2 + nameBytes.length);
  return chatPayload(replyKey, CHAT_KIND.piece, body);
}

/** The reply key, kind and rest of a chat payload that starts with a reply key. */
export function splitPayload(
  plain: Uint8Array,
): { replyKey: Uint8Array; kind: number; body: Uint8Array } | undefined {
  if (plain.length < 2 + REPLY_KEY_SIZE || plain[0] !== MESSAGE_KIND.reply) return undefined;
  return {
    replyKey: plain.slice(1, 1 + REPLY_KEY_SIZE),
    kind: plain[1 + REPLY_KEY_SIZE],
    body: plain.subarray(2 + REPLY_KEY_SIZE),
  };
}

/**
 * Opens the account of `identity` on the session store at `path` (default: next to the contact
 * book, docs/cli.md), creating it (0600, in a folder made 0700 when it is the default one).
 */
export async function openAccount(
  identity: string,
  path: string | undefined,
  wrap?: (store: SessionStore) => SessionStore,
): Promise<{ account: Account; path: string; close(): Promise<void> }> {
  const file = path ?? await defaultSessionsPath(identity);
  try {
    const info = await Deno.stat(dirname(file));
    if (!info.isDirectory) throw new Error();
  } catch {
    throw new IoError(`no such folder for the session store ${file}`);
  }
  // One process at a time on a store (docs/sessions.md section 7.2): two would use one ratchet
  // state twice. An exclusive lock on FILE.lock, held until this process closes it or exits.
  const lock = await lockStore(file);
  let store: SqliteSessionStore;
  try {
    store = new SqliteSessionStore(file);
  } catch (e) {
    lock.close();
    throw new IoError(`cannot open the session store ${file}: ${(e as Error).message}`);
  }
  // The store's own file mode is 0600; an existing file that is wider is tightened.
  if (Deno.build.os !== "windows") await Deno.chmod(file, 0o600).catch(() => {});
  let account: Account;
  try {
    account = await createAccount({ identity, store: wrap ? wrap(store) : store });
  } catch (e) {
    await store.close?.();
    lock.close();
    throw new IoError(`cannot open the session store ${file}: ${(e as Error).message}`);
  }
  return {
    account,
    path: file,
    async close() {
      try {
        await account.close();
      } finally {
        lock.close();
      }
    },
  };
}

/** How long a second process waits for a store's lock before it says the store is in use. */
const LOCK_WAIT_MS = 2000;

/** The exclusive lock of the store at `file` (`FILE.lock`, 0600), or an IoError when taken. */
async function lockStore(file: string): Promise<Deno.FsFile> {
  const lock = await Deno.open(`${file}.lock`, { write: true, create: true, mode: 0o600 })
    .catch((e) => {
      throw new IoError(`cannot open the session store ${file}: ${(e as Error).message}`);
    });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const taken = await Promise.race([
    lock.lock(true).then(() => false, () => false),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), LOCK_WAIT_MS)),
  ]);
  clearTimeout(timer);
  if (taken) {
    throw new IoError(
      `the session store ${file} is in use by another polycrypt (one chat or bundle per store ` +
        `at a time; give this one --sessions FILE)`,
    );
  }
  return lock;
}

/** The pieces of `stream`, each `size` bytes but the last, with whether each is the last. */
export async function* pieces(
  stream: ReadableStream<Uint8Array>,
  size: number = PIECE_BYTES,
): AsyncGenerator<{ bytes: Uint8Array; last: boolean }> {
  let buffer = new Uint8Array(size);
  let filled = 0;
  let held: Uint8Array | undefined;
  for await (const chunk of stream) {
    for (let at = 0; at < chunk.length;) {
      const n = Math.min(chunk.length - at, size - filled);
      buffer.set(chunk.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === size) {
        if (held) yield { bytes: held, last: false };
        held = buffer;
        buffer = new Uint8Array(size);
        filled = 0;
      }
    }
  }
  if (held && filled === 0) {
    yield { bytes: held, last: true };
    return;
  }
  if (held) yield { bytes: held, last: false };
  yield { bytes: buffer.subarray(0, filled), last: true };
}

/** The digest a delivered file is remembered by (as openMessage's). */
async function claimKey(replyKey: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", replyKey as Uint8Array<ArrayBuffer>);
  return `r${new Uint8Array(digest).toHex()}`;
}

/** A file being received in pieces. */
interface Transfer {
  readonly replyKey: Uint8Array;
  readonly key: string;
  readonly name: string;
  readonly path: string;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly done: Promise<void>;
  bytes: number;
}

/**
 * The receiving end of files sent in pieces over one connection (docs/cli.md): the first piece
 * claims the file (a duplicate is dropped), is refused without -o DIR, and opens a temporary file
 * (0600) that each piece extends; the last renames it to a free name in DIR. Over `maxFile` bytes
 * the file is refused and its temporary file removed. Memory stays at one piece.
 */
export class PieceReceiver {
  #current: Transfer | undefined;
  #skipping: Uint8Array | undefined;

  constructor(
    readonly outDir: string | undefined,
    readonly desk: ReceiptDesk,
    readonly maxFile: number,
  ) {}

  /** Ends an unfinished transfer: its temporary file is removed. */
  async abort(reason: Error = new Error("the file did not arrive whole")): Promise<void> {
    const current = this.#current;
    if (!current) return;
    this.#current = undefined;
    await current.writer.abort(reason).catch(() => {});
    await current.done.catch(() => {});
    this.desk.settle(current.key, false);
  }

  /** Takes one piece; the outcome its receipt carries. */
  async piece(replyKey: Uint8Array, body: Uint8Array): Promise<Opened> {
    if (body.length < 2 || body.length < 2 + body[1]) {
      return { outcome: "failed", replyKey, error: new Notice("a damaged file piece was dropped") };
    }
    const flags = body[0];
    const name = new TextDecoder().decode(body.subarray(2, 2 + body[1]));
    const bytes = body.subarray(2 + body[1]);
    if (flags & FIRST_PIECE) {
      await this.abort();
      this.#skipping = undefined;
      const key = await claimKey(replyKey);
      if (!this.desk.claim(key)) {
        this.#skipping = replyKey;
        return { outcome: "duplicate", replyKey };
      }
      if (this.outDir === undefined) {
        this.desk.settle(key, false);
        const error = new Refused("a file arrived; use -o DIR to receive files", "noOutputDir");
        return { outcome: "noOutputDir", replyKey, error };
      }
      let path: string;
      try {
        path = await freeName(this.outDir, checkFileName(name));
      } catch (error) {
        this.desk.settle(key, false);
        return { outcome: "failed", replyKey, error };
      }
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      const done = writeAtomic(path, withProgress(readable, undefined, `receiving ${name}`), false);
      done.catch(() => {});
      this.#current = { replyKey, key, name, path, writer: writable.getWriter(), done, bytes: 0 };
    } else if (this.#skipping && equalBytes(this.#skipping, replyKey)) {
      return { outcome: "duplicate", replyKey };
    }
    const current = this.#current;
    if (!current || !equalBytes(current.replyKey, replyKey) || current.name !== name) {
      return {
        outcome: "failed",
        replyKey,
        error: new Notice("a piece of a file that did not start was dropped"),
      };
    }
    current.bytes += bytes.length;
    if (current.bytes > this.maxFile) {
      const error = tooLarge(this.maxFile);
      await this.abort(error);
      return { outcome: "tooLarge", replyKey, error };
    }
    try {
      if (bytes.length) await current.writer.write(bytes.slice());
      if (!(flags & LAST_PIECE)) return { outcome: "accepted", replyKey };
      this.#current = undefined;
      await current.writer.close();
      await current.done;
    } catch (error) {
      this.#current = undefined;
      await current.writer.abort(error).catch(() => {});
      this.desk.settle(current.key, false);
      return { outcome: "failed", replyKey, error };
    }
    this.desk.settle(current.key, true);
    say(`polycrypt: received ${current.path}`);
    return { outcome: "delivered", replyKey, sender: null };
  }
}
