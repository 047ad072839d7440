// Internal: the user-facing side of relays (docs/relay.md section 13): the payload that session
// messages through a relay carry, depositing them (send, chat for an offline peer) with retries
// under one message id, and the store wrapper that lets `fetch` commit a message's ratchet step
// only once its plaintext is written.
import { dirname, join, resolve } from "node:path";
import { sha256 } from "../engines/_hash.ts";
import { fingerprint } from "../contacts/fingerprint.ts";
import { concatBytes } from "../engines/_bytes.ts";
import type { Account } from "../sessions/account.ts";
import { parseBundle } from "../sessions/bundle.ts";
import { checkChanges, type SessionStore, type StoreChange } from "../sessions/store.ts";
import {
  generateQueueKey,
  type QueueKey,
  RelayClient,
  type RelayClientOptions,
} from "../relay/client.ts";
import {
  type AuthKey,
  encodeAuthKey,
  parseAuthKey,
  RELAY_ERROR,
  RelayError,
} from "../relay/protocol.ts";
import { type Invitation, parseInvitation } from "../relay/invite.ts";
import { checkFileName } from "../transports/mod.ts";
import { IoError } from "./_errors.ts";
import { freeName, Notice, tooLarge } from "./_delivery.ts";
import { readSenderKeys, type SenderKeyRecord, writeSenderKeys } from "./_contacts.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The version byte of a relay payload. */
export const RELAY_PAYLOAD_VERSION = 0x01;
/**
 * Payload kinds: a text, a piece of a file, the sender's queue key (docs/relay.md section 13:
 * the recipient secures the queue with it).
 */
export const RELAY_KIND: Readonly<{ text: 0x54; piece: 0x46; queueKey: 0x51 }> = Object
  .freeze({
    text: 0x54,
    piece: 0x46,
    queueKey: 0x51,
  });
/**
 * Group payload kinds (docs/groups.md section 10), handled by cli/group.ts: a key package a
 * contact offers (`group keypackage`), a Welcome into a group (`group add`).
 */
export const GROUP_KIND: Readonly<{ keyPackage: 0x4b; welcome: 0x57 }> = Object.freeze({
  keyPackage: 0x4b,
  welcome: 0x57,
});
/** Flags bit 0 of a piece: the last piece of its file. */
export const LAST = 0x01;
/** A file's bytes per piece at most (one session message each; the relay takes 1 MiB). */
export const RELAY_PIECE_BYTES = 512 * 1024;

/**
 * `0x01 || u16 inviteLen || invite || kind || body` (docs/relay.md section 13): `invite` is the
 * sender's own invitation (how to reply), or empty.
 */
export function relayPayload(kind: number, body: Uint8Array, invite?: string): Uint8Array {
  const inv = encoder.encode(invite ?? "");
  if (inv.length > 0xffff) throw new RangeError("invitation too long");
  const head = new Uint8Array(4 + inv.length);
  head[0] = RELAY_PAYLOAD_VERSION;
  new DataView(head.buffer).setUint16(1, inv.length);
  head.set(inv, 3);
  head[3 + inv.length] = kind;
  return concatBytes(head, body);
}

/** A piece's body: `transferId[16] || u64 offset || u8 flags || u8 nameLen || name || bytes`. */
export function pieceBody(
  transferId: Uint8Array,
  offset: number,
  last: boolean,
  name: string,
  bytes: Uint8Array,
): Uint8Array {
  const nameBytes = encoder.encode(name);
  const head = new Uint8Array(16 + 8 + 2 + nameBytes.length);
  head.set(transferId);
  new DataView(head.buffer).setBigUint64(16, BigInt(offset));
  head[24] = last ? LAST : 0;
  head[25] = nameBytes.length;
  head.set(nameBytes, 26);
  return concatBytes(head, bytes);
}

/** A parsed payload. */
export type RelayPayload =
  & { invitation?: Invitation; invitationText?: string }
  & (
    | { kind: "text"; text: string }
    | { kind: "group"; groupKind: number; body: Uint8Array }
    | { kind: "queue-key"; key: AuthKey }
    | {
      kind: "piece";
      transferId: Uint8Array;
      offset: number;
      last: boolean;
      name: string;
      bytes: Uint8Array;
    }
  );

/** Parses a payload; throws a Notice naming what is wrong. */
export function parseRelayPayload(plain: Uint8Array): RelayPayload {
  const bad = (what: string) => new Notice(`a message with ${what} was dropped`);
  if (plain.length < 4 || plain[0] !== RELAY_PAYLOAD_VERSION) throw bad("an unknown format");
  const inviteLen = new DataView(plain.buffer, plain.byteOffset).getUint16(1);
  if (plain.length < 4 + inviteLen) throw bad("a damaged header");
  let invitation: Invitation | undefined;
  let invitationText: string | undefined;
  if (inviteLen) {
    try {
      invitationText = decoder.decode(plain.subarray(3, 3 + inviteLen));
      invitation = parseInvitation(invitationText);
    } catch {
      throw bad("a damaged invitation");
    }
  }
  const kind = plain[3 + inviteLen];
  const body = plain.subarray(4 + inviteLen);
  if (kind === RELAY_KIND.text) {
    let text: string;
    try {
      text = decoder.decode(body);
    } catch {
      throw bad("text that is not UTF-8");
    }
    return { kind: "text", text, invitation, invitationText };
  }
  if (kind === RELAY_KIND.piece) {
    if (body.length < 26 || body.length < 26 + body[25]) throw bad("a damaged file piece");
    const offset = Number(new DataView(body.buffer, body.byteOffset).getBigUint64(16));
    let name: string;
    try {
      name = checkFileName(decoder.decode(body.subarray(26, 26 + body[25])));
    } catch {
      throw bad("a file name that is not allowed");
    }
    return {
      kind: "piece",
      transferId: body.slice(0, 16),
      offset,
      last: (body[24] & LAST) !== 0,
      name,
      bytes: body.subarray(26 + body[25]),
      invitation,
      invitationText,
    };
  }
  if (kind === RELAY_KIND.queueKey) {
    let key: AuthKey;
    try {
      key = parseAuthKey(body);
    } catch {
      throw bad("a damaged queue key");
    }
    return { kind: "queue-key", key, invitation, invitationText };
  }
  if (kind === GROUP_KIND.keyPackage || kind === GROUP_KIND.welcome) {
    return { kind: "group", groupKind: kind, body, invitation, invitationText };
  }
  throw bad("an unknown kind");
}

// ------------------------------------------------------------------ depositing

/** The sender key record `identity` keeps for the queue of `invitation` (relay and SID). */
export async function senderKeyFor(
  identity: string,
  invitation: Invitation,
): Promise<SenderKeyRecord | undefined> {
  const sid = invitation.sendId.toHex();
  return (await readSenderKeys(identity)).find((r) =>
    r.relay === invitation.relay && r.sendingId === sid
  );
}

/** How often and how long a SEND that got no answer is retried (same message id each time). */
const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000];

/**
 * A sender's connection to one contact's inbox: session messages (started from a bundle FETCHed
 * from the relay when the account has no session with the contact yet), each deposited with
 * SEND and retried under the same message id until the relay answers.
 *
 * The sender's side of securing (docs/relay.md section 13): a queue key of its own for this
 * inbox (kept sealed in the identity's sender key file, made and saved before first use), whose
 * public half the first deposit announces inside a message of its own (kind 0x51), which only
 * the recipient can read; the recipient's `fetch` then secures the queue with it (KEY). SENDs go
 * unsigned until one is refused `AUTH`, then again signed with the key; once a signed one was
 * accepted, every later one is signed.
 */
export class RelayOutbox {
  #client: RelayClient | undefined;
  readonly #invitation: Invitation;
  readonly #options: RelayClientOptions;
  readonly #identity: string;
  #sender: SenderKeyRecord;

  private constructor(
    invitation: Invitation,
    options: RelayClientOptions,
    identity: string,
    sender: SenderKeyRecord,
  ) {
    this.#invitation = invitation;
    this.#options = options;
    this.#identity = identity;
    this.#sender = sender;
  }

  /**
   * Connects to the relay of `invitation` (an IoError when it cannot be reached), with the queue
   * key `identity` keeps for it (a fresh one when it has none yet).
   */
  static async open(
    invitation: string,
    options: RelayClientOptions,
    identity: string,
  ): Promise<RelayOutbox> {
    const parsed = parseInvitation(invitation);
    const sid = parsed.sendId.toHex();
    const owner = fingerprint(parsed.recipient);
    let sender = await senderKeyFor(identity, parsed);
    if (sender?.recipient !== undefined && sender.recipient !== owner) {
      // A contact's invitation naming a queue this user writes to for someone else (one
      // crafted to turn this user's messages, and its queue key, towards another inbox).
      throw new IoError(
        "this invitation names an inbox you write to for another contact: not used (ask for " +
          "a new invitation)",
      );
    }
    // A record from before `recipient` existed: this invitation's owner, saved below.
    const unnamed = sender !== undefined && sender.recipient === undefined;
    if (sender === undefined) {
      const key = await generateQueueKey();
      sender = {
        relay: parsed.relay,
        sendingId: sid,
        key: {
          algorithm: key.algorithm,
          publicKey: key.publicKey.toHex(),
          secretKey: key.secretKey.toHex(),
        },
        created: new Date().toISOString(),
        recipient: owner,
      };
    }
    const outbox = new RelayOutbox(parsed, options, identity, sender);
    if (unnamed) await outbox.#save({ recipient: owner });
    await outbox.#connect();
    return outbox;
  }

  /** The relay's URL. */
  get relay(): string {
    return this.#invitation.relay;
  }

  /** Whether SENDs are signed with this sender's key (the recipient secured the queue with it). */
  get secured(): boolean {
    return this.#sender.secured !== undefined;
  }

  /** The largest file piece that fits this relay's envelopes. */
  get pieceBytes(): number {
    const max = this.#client?.maxEnvelope ?? 1024 * 1024;
    return Math.max(1024, Math.min(RELAY_PIECE_BYTES, Math.floor(max / 2)));
  }

  async #connect(): Promise<RelayClient> {
    if (this.#client) return this.#client;
    try {
      this.#client = await RelayClient.connect(this.#invitation.relay, this.#options);
    } catch {
      throw new IoError(`could not connect to the relay ${this.#invitation.relay}`);
    }
    return this.#client;
  }

  async #drop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.close().catch(() => {});
  }

  #key(): QueueKey {
    return {
      algorithm: this.#sender.key.algorithm,
      publicKey: Uint8Array.fromHex(this.#sender.key.publicKey),
      secretKey: Uint8Array.fromHex(this.#sender.key.secretKey),
    };
  }

  /** Saves this sender's record (the key before its first use, then what was learnt). */
  async #save(change: Partial<SenderKeyRecord>): Promise<void> {
    this.#sender = { ...this.#sender, ...change };
    const all = await readSenderKeys(this.#identity);
    const at = all.findIndex((r) =>
      r.relay === this.#sender.relay && r.sendingId === this.#sender.sendingId
    );
    if (at >= 0) all[at] = this.#sender;
    else all.push(this.#sender);
    await writeSenderKeys(this.#identity, all);
  }

  /**
   * Encrypts `payload` for the invitation's owner with `account` and deposits it; before the
   * first one, the message announcing this sender's queue key.
   */
  async deposit(account: Account, payload: Uint8Array): Promise<void> {
    if (this.#sender.announced === undefined && this.#sender.secured === undefined) {
      // Saved before it is announced: a key the recipient may secure the queue with is never lost.
      await this.#save({});
      const key = this.#key();
      await this.#depositOne(
        account,
        relayPayload(
          RELAY_KIND.queueKey,
          encodeAuthKey({ algorithm: key.algorithm, publicKey: key.publicKey }),
        ),
      );
      await this.#save({ announced: new Date().toISOString() });
    }
    await this.#depositOne(account, payload);
  }

  async #depositOne(account: Account, payload: Uint8Array): Promise<void> {
    const owner = this.#invitation.recipient;
    const fp = fingerprint(owner);
    let message: Uint8Array;
    if (await account.sessionId(fp) !== undefined) {
      message = await account.encrypt(fp, payload);
    } else {
      const bundle = await this.#withRetry((c) => c.fetchBundle(this.#invitation.sendId))
        .catch((e) => {
          throw refused(e);
        });
      if (bundle === undefined) {
        throw new IoError("the contact's inbox has no prekey bundle left to start a session with");
      }
      try {
        await parseBundle(bundle, { expect: owner });
      } catch (e) {
        throw new IoError(`the relay gave a prekey bundle that is not the contact's: ${e}`);
      }
      message = await account.encrypt(bundle, payload);
    }
    const messageId = crypto.getRandomValues(new Uint8Array(16));
    const sid = this.#invitation.sendId;
    const key = this.#key();
    if (this.#sender.secured !== undefined) {
      await this.#withRetry((c) => c.send(sid, message, { messageId, key })).catch((e) => {
        throw refused(e);
      });
      return;
    }
    try {
      await this.#withRetry((c) => c.send(sid, message, { messageId }));
      return;
    } catch (e) {
      if (!(e instanceof RelayError && e.code === RELAY_ERROR.AUTH)) throw refused(e);
    }
    // Refused unsigned: the queue is secured, to this sender's key if the recipient read the
    // announcement. The same command signed, under the same message id.
    await this.#withRetry((c) => c.send(sid, message, { messageId, key })).catch((e) => {
      throw refused(e);
    });
    await this.#save({ secured: new Date().toISOString() });
  }

  /** Runs `work` on the connection; on a failure other than the relay's refusal (a RelayError,
   * thrown as it is), reconnects and runs it again (the same command: a SEND keeps its message
   * id), a few times. */
  async #withRetry<T>(work: (client: RelayClient) => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      try {
        return await work(await this.#connect());
      } catch (e) {
        if (e instanceof RelayError) throw e;
        if (attempt >= RETRY_DELAYS_MS.length) {
          throw e instanceof IoError ? e : new IoError(
            `the relay ${this.#invitation.relay} did not store the message (no answer)`,
          );
        }
        await this.#drop();
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
      }
    }
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.#drop();
  }
}

/** The IoError a failed deposit reports: the relay's refusal named, with what it means. */
function refused(e: unknown): unknown {
  if (!(e instanceof RelayError)) return e;
  const why = e.code === RELAY_ERROR.AUTH
    ? " (the inbox is gone, or secured to another sender: ask its owner for a new invitation)"
    : "";
  return new IoError(`the relay refused the message: ${e.codeName}${why}`);
}

// ------------------------------------------------------------------ fetching

/**
 * A session store whose commits wait (docs/relay.md section 13): `fetch` decrypts a message (the
 * account commits its ratchet step here, in memory), writes the plaintext, then
 * {@linkcode DeferredStore.flush}es the step together with the message's "done" mark, then
 * acknowledges it. A crash before the flush leaves the store as it was, so the message the relay
 * delivers again still decrypts; a crash after it finds the mark and only acknowledges.
 */
export class DeferredStore implements SessionStore {
  readonly #inner: SessionStore;
  readonly #pending = new Map<string, Uint8Array | undefined>();

  constructor(inner: SessionStore) {
    this.#inner = inner;
  }

  get(key: string): Promise<Uint8Array | undefined> {
    if (this.#pending.has(key)) return Promise.resolve(this.#pending.get(key)?.slice());
    return this.#inner.get(key);
  }

  /** A value of the underlying store, ignoring what waits. */
  committed(key: string): Promise<Uint8Array | undefined> {
    return this.#inner.get(key);
  }

  async list(prefix: string): Promise<string[]> {
    const keys = new Set(await this.#inner.list(prefix));
    for (const [key, value] of this.#pending) {
      if (!key.startsWith(prefix)) continue;
      if (value === undefined) keys.delete(key);
      else keys.add(key);
    }
    return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  commit(changes: readonly StoreChange[]): Promise<void> {
    checkChanges(changes);
    for (const c of changes) this.#pending.set(c.key, c.value?.slice());
    return Promise.resolve();
  }

  /** Commits what waits, and `extra`, in one atomic commit of the underlying store. */
  async flush(extra: readonly StoreChange[] = []): Promise<void> {
    const changes: StoreChange[] = [...this.#pending].map(([key, value]) => ({ key, value }));
    await this.#inner.commit([...changes, ...extra]);
    this.#pending.clear();
  }

  /** Forgets what waits (a message that failed: the account reads the stored state again). */
  discard(): void {
    this.#pending.clear();
  }

  close(): Promise<void> | void {
    return this.#inner.close?.();
  }
}

/** The store key of the "done" mark of message `id` of the queue `receivingId`. */
export function doneKey(receivingId: Uint8Array, id: Uint8Array): string {
  return `relay-done:${
    sha256(encoder.encode("polycrypt relay done"), receivingId, id).subarray(0, 16).toHex()
  }`;
}

/** The temporary file of a transfer (in the output folder, 0600). */
export function partPath(dir: string, from: string, transferId: Uint8Array): string {
  const id = sha256(encoder.encode(from), transferId).subarray(0, 16).toHex();
  return join(resolve(dir), `.polycrypt-relay-${id}.part`);
}

/**
 * Writes one piece at its offset in its transfer's temporary file, and syncs it; the last piece
 * truncates the file there. Resolves with the temporary file's path. A piece past the end of what
 * arrived (one went missing) ends the transfer: its file is removed, and a Notice thrown.
 */
export async function writePiece(
  dir: string,
  from: string,
  piece: { transferId: Uint8Array; offset: number; last: boolean; name: string; bytes: Uint8Array },
  maxFile = Number.MAX_SAFE_INTEGER,
): Promise<string> {
  const path = partPath(dir, from, piece.transferId);
  if (piece.offset + piece.bytes.length > maxFile) {
    await Deno.remove(path).catch(() => {});
    throw new Notice(`${piece.name}: ${tooLarge(maxFile).message}`);
  }
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  let open = true;
  try {
    const size = (await file.stat()).size;
    if (piece.offset > size) {
      file.close();
      open = false;
      await Deno.remove(path).catch(() => {});
      throw new Notice(`a piece of ${piece.name} is missing: the file was dropped`);
    }
    await file.seek(piece.offset, Deno.SeekMode.Start);
    for (let at = 0; at < piece.bytes.length;) at += await file.write(piece.bytes.subarray(at));
    if (piece.last) await file.truncate(piece.offset + piece.bytes.length);
    await file.syncData();
  } finally {
    if (open) file.close();
  }
  return path;
}

/** The store key of the intent to rename the finished temporary file `part`. */
export function renameKey(part: string): string {
  return `relay-rename:${sha256(encoder.encode(part)).subarray(0, 16).toHex()}`;
}

/**
 * Renames a finished transfer's temporary file to a free name for `name` in its folder, and syncs
 * the folder; resolves with the new path (undefined when the temporary file is gone: renamed
 * before).
 */
export async function publishPart(part: string, name: string): Promise<string | undefined> {
  const dir = dirname(part);
  const exists = await Deno.lstat(part).then(() => true, () => false);
  if (!exists) return undefined;
  const target = await freeName(dir, name);
  await Deno.rename(part, target);
  try {
    const folder = await Deno.open(dir, { read: true });
    await folder.syncData().catch(() => {});
    folder.close();
  } catch { /* a folder that cannot be opened to sync */ }
  return target;
}
