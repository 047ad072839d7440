/**
 * Accounts: one identity's prekeys and sessions in a {@linkcode SessionStore}
 * (docs/sessions.md sections 7 and 8).
 *
 * @module
 */
import { DecryptionError, PolycryptError } from "../errors.ts";
import { equalBytes, toHex } from "../engines/_bytes.ts";
import { rawX25519 } from "../engines/ecc/_montgomery.ts";
import { registry as defaultRegistry } from "../engines/mod.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import type { AeadEngine, KemEngine } from "../engines/types.ts";
import { fingerprint as fingerprintOf } from "../contacts/fingerprint.ts";
import { sessionKeys } from "./_identity.ts";
import { encodeBundle, parseBundle, type PrekeyPair } from "./bundle.ts";
import {
  DEFAULT_SESSION_AEAD,
  DEFAULT_SESSION_KEM,
  initiate,
  parsePrekeyMessage,
  type PrekeyLookup,
  respond,
} from "./handshake.ts";
import { sha256 } from "../engines/_hash.ts";
import {
  PREKEY_MESSAGE,
  RATCHET_MESSAGE,
  ratchetMessagePrefix,
  sessionMessageKind,
} from "./message.ts";
import {
  decodeRatchetState,
  encodeRatchetState,
  initAlice,
  initBob,
  type KemPolicy,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
  type RatchetSuite,
} from "./ratchet.ts";
import { Reader, StorageSeal, Writer } from "./_records.ts";
import { checkChanges, type SessionStore, type StoreChange } from "./store.ts";

export { DEFAULT_SESSION_AEAD, DEFAULT_SESSION_KEM };
/** A signed prekey (`SPK` and `PQSPK`) is replaced once it is this old (7 days, in ms). */
export const PREKEY_ROTATION_MS = 7 * 24 * 3600 * 1000;
/** A replaced signed prekey is kept this long for delayed prekey messages (30 days, in ms). */
export const PREKEY_RETENTION_MS = 30 * 24 * 3600 * 1000;
/** At most this many unused one-time prekeys of each kind are kept; the oldest go first. */
export const MAX_ONE_TIME_PREKEYS = 2000;
/** At most this many one-time prekeys are added by one {@linkcode Account.prekeyBundle} call. */
export const MAX_BUNDLE_ONE_TIME_KEYS = 1000;

/** What {@linkcode createAccount} takes. */
export interface AccountOptions {
  /** The account owner's version-2 identity string (the secret key). */
  readonly identity: string;
  /** Where prekeys and sessions live; {@linkcode Account.close} closes it. */
  readonly store: SessionStore;
  /** Engines to resolve KEM and AEAD ids with (the default registry otherwise). */
  readonly registry?: EngineRegistry;
  /** The KEM of this account's signed and one-time KEM prekeys (default `"ml-kem-768"`). */
  readonly kem?: string;
  /** The sessions' AEAD (default `"aes-256-gcm"`); both ends of a session must use the same. */
  readonly aead?: string;
  /** The KEM ratchet's policy (default: a KEM step every 50 messages or 1 hour). */
  readonly policy?: KemPolicy;
  /** The clock, in milliseconds since 1970 (default `Date.now`), for prekey ages and the policy. */
  readonly now?: () => number;
}

/** Options of {@linkcode Account.decrypt}. */
export interface SessionDecryptOptions {
  /**
   * The fingerprint of the peer the message probably comes from (a chat knows its peer): that
   * session is tried first. Ratchet messages name no sender, so without it the account tries its
   * sessions, the most recently used first. A message from someone else still opens.
   */
  readonly from?: string;
}

/** One session as {@linkcode Account.sessions} lists it: who, and which session. */
export interface SessionInfo {
  /** The peer's fingerprint (docs/contacts.md section 1). */
  readonly fingerprint: string;
  /** The peer's recipient string (their public keys). */
  readonly recipient: string;
  /** The session id `SID` (docs/sessions.md section 3): the binding of the shared-secret check. */
  readonly sessionId: Uint8Array;
  /** The id of the session's KEM. */
  readonly kem: string;
  /** When the session was made, in milliseconds since 1970 (this account's clock). */
  readonly created: number;
}

/**
 * One identity's end of forward-secret sessions (docs/sessions.md): it publishes signed prekey
 * bundles, starts sessions from other accounts' bundles, and encrypts and decrypts session
 * messages, keeping every key in its {@linkcode SessionStore}, sealed under a storage key derived
 * from the identity. Calls on one account are serialized; the store's state is committed before
 * a ciphertext or a plaintext is returned, so no ratchet state is ever used twice. Calls made
 * without waiting for the previous one's result share store commits (group commit: one
 * transaction, one flush to disk for all the messages ready at once).
 */
export interface Account {
  /** This account's fingerprint (of its identity's recipient string). */
  readonly fingerprint: string;
  /** This account's recipient string. */
  readonly recipient: string;
  /**
   * A signed prekey bundle for others to start sessions with: the current signed prekeys
   * (rotated after 7 days) and `oneTimeKeys` fresh one-time X25519 and KEM prekeys (default 0;
   * each is accepted once).
   */
  prekeyBundle(options?: { oneTimeKeys?: number }): Promise<Uint8Array>;
  /**
   * Encrypts `data` for a peer: `to` is their bundle (a session starts unless one exists with
   * its owner) or the fingerprint of a peer with a session. A bundle is checked (its signatures,
   * its keys) but not against a contact: when it came through a relay, check its owner first
   * with `parseBundle(bundle, { expect: fingerprint })`.
   */
  encrypt(to: Uint8Array | string, data: Uint8Array): Promise<Uint8Array>;
  /**
   * Decrypts a session message. `from` is the sender's fingerprint, which the message proves;
   * whether that fingerprint is a contact to trust is the caller's decision (a prekey message
   * from a stranger starts a session too).
   */
  decrypt(
    message: Uint8Array,
    options?: SessionDecryptOptions,
  ): Promise<{ from: string; data: Uint8Array }>;
  /** The sessions this account holds, one per peer. */
  sessions(): Promise<SessionInfo[]>;
  /** Deletes the session with `fingerprint` (nothing when there is none). */
  endSession(fingerprint: string): Promise<void>;
  /** The session id `SID` of the session with `fingerprint`, or `undefined`. */
  sessionId(fingerprint: string): Promise<Uint8Array | undefined>;
  /** Waits for pending calls and closes the store; later calls reject. */
  close(): Promise<void>;
}

/**
 * There is no session with the peer named (encrypt by fingerprint before any session).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NoSessionError, PolycryptError } from "@polycrypt/polycrypt";
 * const e = new NoSessionError();
 * assert.ok(e instanceof PolycryptError);
 * assert.equal(e.name, "NoSessionError");
 * ```
 */
export class NoSessionError extends PolycryptError {
  /** Makes the error; it never names the peer. */
  constructor() {
    super("no session with this peer: start one from their prekey bundle");
  }
}

// ---- records (docs/sessions.md section 7.1) ----

const RECORD_VERSION = 1;
const NO_OPK = 0xffffffff;
const ROLE_INITIATOR = 1;
const ROLE_RESPONDER = 2;

interface SpkEntry {
  id: number;
  created: number;
  retired: number; // 0 while current
}

interface AccountRecord {
  nextId: number;
  spks: SpkEntry[];
  opks: number[];
  pqopks: number[];
  sessions: string[]; // peers' fingerprints
}

interface SpkRecord {
  kem: string;
  spk: PrekeyPair;
  pqspk: PrekeyPair;
  eks: Uint8Array[]; // SHA-256(EK_A) of every prekey message accepted under this SPK
}

interface SessionState {
  kem: string;
  aead: string;
  created: number;
  sid: Uint8Array;
  role: number;
  prefix: Uint8Array; // the initiator's prekey prefix until she decrypted something, else empty
  ratchet: RatchetState;
}

interface SessionRecord {
  current: SessionState;
  previous?: SessionState;
}

function encodeAccount(r: AccountRecord): Uint8Array {
  const w = new Writer().u8(RECORD_VERSION).u32(r.nextId).u16(r.spks.length);
  for (const s of r.spks) w.u32(s.id).u64(s.created).u64(s.retired);
  w.u32(r.opks.length);
  for (const id of r.opks) w.u32(id);
  w.u32(r.pqopks.length);
  for (const id of r.pqopks) w.u32(id);
  w.u32(r.sessions.length);
  for (const fp of r.sessions) w.sp(fp);
  return w.bytes();
}

function decodeAccount(b: Uint8Array): AccountRecord {
  const r = new Reader(b);
  version(r);
  const nextId = r.u32();
  const spks: SpkEntry[] = [];
  for (let n = r.u16(); n > 0; n--) spks.push({ id: r.u32(), created: r.u64(), retired: r.u64() });
  const ids = () => {
    const out: number[] = [];
    for (let n = r.u32(); n > 0; n--) out.push(r.u32());
    return out;
  };
  const opks = ids();
  const pqopks = ids();
  const sessions: string[] = [];
  for (let n = r.u32(); n > 0; n--) sessions.push(r.spString());
  r.end();
  return { nextId, spks, opks, pqopks, sessions };
}

function version(r: Reader): void {
  if (r.u8() !== RECORD_VERSION) throw new DecryptionError();
}

function encodeSpk(s: SpkRecord): Uint8Array {
  const w = new Writer().u8(RECORD_VERSION).sp(s.kem).u32(s.spk.id).raw(s.spk.publicKey)
    .raw(s.spk.secretKey).u32(s.pqspk.id).lp(s.pqspk.publicKey).lp(s.pqspk.secretKey)
    .u32(s.eks.length);
  for (const ek of s.eks) w.raw(ek);
  return w.bytes();
}

function decodeSpk(b: Uint8Array): SpkRecord {
  const r = new Reader(b);
  version(r);
  const kem = r.spString();
  const spk = { id: r.u32(), publicKey: r.raw(32), secretKey: r.raw(32) };
  const pqspk = { id: r.u32(), publicKey: r.lp(), secretKey: r.lp() };
  const eks: Uint8Array[] = [];
  for (let n = r.u32(); n > 0; n--) eks.push(r.raw(32));
  r.end();
  return { kem, spk, pqspk, eks };
}

function encodeOpk(p: PrekeyPair): Uint8Array {
  return new Writer().u8(RECORD_VERSION).raw(p.publicKey).raw(p.secretKey).bytes();
}

function decodeOpk(id: number, b: Uint8Array): PrekeyPair {
  const r = new Reader(b);
  version(r);
  const pair = { id, publicKey: r.raw(32), secretKey: r.raw(32) };
  r.end();
  return pair;
}

function encodePqopk(kem: string, p: PrekeyPair): Uint8Array {
  return new Writer().u8(RECORD_VERSION).sp(kem).lp(p.publicKey).lp(p.secretKey).bytes();
}

function decodePqopk(id: number, b: Uint8Array): { kem: string; pair: PrekeyPair } {
  const r = new Reader(b);
  version(r);
  const kem = r.spString();
  const pair = { id, publicKey: r.lp(), secretKey: r.lp() };
  r.end();
  return { kem, pair };
}

interface EkRecord {
  spkId: number;
  fingerprint: string;
  sid: Uint8Array;
}

function encodeEk(e: EkRecord): Uint8Array {
  return new Writer().u8(RECORD_VERSION).u32(e.spkId).sp(e.fingerprint).lp(e.sid).bytes();
}

function decodeEk(b: Uint8Array): EkRecord {
  const r = new Reader(b);
  version(r);
  const e = { spkId: r.u32(), fingerprint: r.spString(), sid: r.lp() };
  r.end();
  return e;
}

function writeState(w: Writer, s: SessionState): void {
  w.sp(s.kem).sp(s.aead).u64(s.created).lp(s.sid).u8(s.role).lp(s.prefix)
    .lp(encodeRatchetState(s.ratchet));
}

function readState(r: Reader): SessionState {
  const kem = r.spString();
  const aead = r.spString();
  const created = r.u64();
  const sid = r.lp();
  const role = r.u8();
  if (role !== ROLE_INITIATOR && role !== ROLE_RESPONDER) throw new DecryptionError();
  const prefix = r.lp();
  const ratchet = decodeRatchetState(r.lp());
  return { kem, aead, created, sid, role, prefix, ratchet };
}

function decodePeer(b: Uint8Array): string {
  const r = new Reader(b);
  version(r);
  const recipient = r.spString();
  r.end();
  return recipient;
}

function encodeSession(s: SessionRecord): Uint8Array {
  const w = new Writer().u8(RECORD_VERSION);
  writeState(w, s.current);
  if (s.previous) writeState(w.u8(1), s.previous);
  else w.u8(0);
  return w.bytes();
}

function decodeSession(b: Uint8Array): SessionRecord {
  const r = new Reader(b);
  version(r);
  const current = readState(r);
  const flag = r.u8();
  const previous = flag === 1 ? readState(r) : undefined;
  if (flag > 1) throw new DecryptionError();
  r.end();
  return { current, previous };
}

/** Record names (docs/sessions.md section 7.1); the store sees only their blinded form. */
const NAME = {
  account: "account",
  spk: (id: number) => `spk/${id}`,
  opk: (id: number) => `opk/${id}`,
  pqopk: (id: number) => `pqopk/${id}`,
  ek: (digest: Uint8Array) => `ek/${toHex(digest)}`,
  session: (fp: string) => `session/${fp}`,
  peer: (fp: string) => `peer/${fp}`,
};

// One queue per identity per store object: two Account objects of one identity on one store would
// otherwise each read a session's state and encrypt under the same message key (docs/sessions.md
// section 7.2, "Ordering"). The queue also holds the group commit (section 7.2, "Group commit"):
// the changes made and not yet durable, and the batch being gathered.
const queues = new WeakMap<SessionStore, Map<string, Queue>>();

/** Most operations one store commit carries (bounds the wait of the first one in a batch). */
const MAX_BATCH_OPERATIONS = 64;

/**
 * A change an operation makes: `record` (the bytes to seal and store), or `encode` giving them
 * when the change is committed (a session's state: only the last of a batch is encoded), or
 * neither (the key is deleted); `value` is what the record decodes to, when the writer has it.
 */
interface Change {
  name: string;
  record?: Uint8Array;
  encode?: () => Uint8Array;
  value?: unknown;
}

/** A value written by an operation whose commit is not yet durable. */
interface Pending {
  /** Whether the key is deleted. */
  deleted: boolean;
  /** The record before sealing, to decode without opening the seal; or `encode` for it. */
  record?: Uint8Array;
  encode?: () => Uint8Array;
  /** What the record decodes to, when the writer had it. */
  value?: unknown;
  /** The sealed value, once the batch carrying it is sealed. */
  sealed?: Uint8Array;
}

/** Changes of several operations gathered into one store commit. */
interface Batch {
  /** The pending entries it carries, and what to cache once they are durable. */
  written: [key: string, entry: Pending, cache: Map<string, Cached>][];
  operations: number;
  durable: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Queue {
  tail: Promise<unknown>;
  /** Operations queued and not started. */
  waiting: number;
  /** Whether an operation is running. */
  running: boolean;
  /** Values written and not yet durable, newest per key: reads see them first. */
  pending: Map<string, Pending>;
  /** The batch being gathered (not yet handed to the store). */
  batch: Batch | undefined;
  /** The batch the store is committing. */
  inflight: Batch | undefined;
  /** Bumped when a commit fails: operations begun before read state that never became durable. */
  epoch: number;
}

function queueOf(store: SessionStore, accountKey: string): Queue {
  let byIdentity = queues.get(store);
  if (!byIdentity) queues.set(store, byIdentity = new Map());
  let queue = byIdentity.get(accountKey);
  if (!queue) {
    byIdentity.set(
      accountKey,
      queue = {
        tail: Promise.resolve(),
        waiting: 0,
        running: false,
        pending: new Map(),
        batch: undefined,
        inflight: undefined,
        epoch: 0,
      },
    );
  }
  return queue;
}

/** A failed commit of an earlier operation, which this one built on. */
class EarlierCommitError extends Error {
  constructor(cause: unknown) {
    super("an earlier change of this account could not be stored", { cause });
  }
}

function newX25519Pair(id: number): PrekeyPair {
  const { publicKey, secretKey } = rawX25519().generate();
  return { id, publicKey, secretKey };
}

function checkTime(now: number): number {
  if (!Number.isSafeInteger(now) || now < 0) {
    throw new RangeError("the clock must give a non-negative integer of milliseconds");
  }
  return now;
}

/**
 * Whether two sealed values are the same one: same length, random nonce and tag. Every seal
 * draws a fresh 96-bit nonce, so another value written since (by another process) differs here;
 * a value forged without the storage key is never opened through the cache either, since the
 * cache holds only what this account sealed or opened itself.
 */
function sameSealed(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.length;
  if (n !== b.length || n < 28) return false;
  for (let i = 0; i < 12; i++) if (a[i] !== b[i]) return false;
  for (let i = n - 16; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What decoding a stored value gave, kept while the stored bytes stay the same. */
interface Cached {
  sealed: Uint8Array;
  value: unknown;
}

class AccountImpl implements Account {
  readonly fingerprint: string;
  readonly recipient: string;
  readonly #identity: string;
  readonly #store: SessionStore;
  readonly #seal: StorageSeal;
  readonly #registry: EngineRegistry;
  readonly #kem: KemEngine;
  readonly #aead: AeadEngine;
  readonly #policy: KemPolicy | undefined;
  readonly #now: () => number;
  readonly #suites = new Map<string, RatchetSuite>();
  readonly #cache = new Map<string, Cached>();
  #recent: string[] = []; // fingerprints, most recently used first (memory only)
  readonly #queue: Queue;
  /** The queue's epoch when the running operation began. */
  #epoch = 0;
  #closed = false;

  constructor(
    identity: string,
    recipient: string,
    store: SessionStore,
    seal: StorageSeal,
    registry: EngineRegistry,
    kem: KemEngine,
    aead: AeadEngine,
    policy: KemPolicy | undefined,
    now: () => number,
  ) {
    this.#identity = identity;
    this.recipient = recipient;
    this.fingerprint = fingerprintOf(recipient);
    this.#store = store;
    this.#seal = seal;
    this.#registry = registry;
    this.#kem = kem;
    this.#aead = aead;
    this.#policy = policy;
    this.#now = now;
    this.#queue = queueOf(store, seal.blind(NAME.account));
  }

  /**
   * Runs `fn` after every earlier call of this account has run, and of every other account object
   * of the same identity on the same store object (they share one queue). The next call may begin
   * while this one's changes are being stored (group commit, docs/sessions.md section 7.2), but
   * this one's result is given only once every change made up to its end is durable, and an
   * error if one of them could not be stored.
   */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new TypeError("the account is closed"));
    const queue = this.#queue;
    queue.waiting++;
    const run = queue.tail.then(async () => {
      queue.waiting--;
      queue.running = true;
      this.#epoch = queue.epoch;
      try {
        const value = await fn();
        // Everything this operation saw or wrote becomes durable with the newest batch.
        return { value, durable: (queue.batch ?? queue.inflight)?.durable };
      } finally {
        queue.running = false;
        this.#flush();
      }
    });
    queue.tail = run.then(() => undefined, () => undefined);
    return run.then(async ({ value, durable }) => {
      await durable;
      return value;
    });
  }

  /**
   * Hands the gathered batch to the store when nothing is being committed and no operation is
   * running or waiting (the batch has gathered what was ready), or when the batch is full.
   */
  #flush(): void {
    const queue = this.#queue;
    const batch = queue.batch;
    if (!batch || queue.inflight) return;
    if ((queue.running || queue.waiting > 0) && batch.operations < MAX_BATCH_OPERATIONS) return;
    queue.batch = undefined;
    queue.inflight = batch;
    const committed = this.#commitBatch(batch);
    committed.then(() => {
      queue.inflight = undefined;
      for (const [key, entry, cache] of batch.written) {
        // Durable now: the cache takes it unless a later pending change replaced it.
        if (queue.pending.get(key) === entry) queue.pending.delete(key);
        if (entry.sealed !== undefined && entry.value !== undefined) {
          if (cache.size >= 1024 && !cache.has(key)) cache.clear();
          cache.set(key, { sealed: entry.sealed, value: entry.value });
        } else cache.delete(key);
      }
      batch.resolve();
      this.#flush();
    }, (e) => {
      // Nothing of this batch was stored; the batch gathered since built on it, and so did the
      // running operation: they fail too, and reads go back to the store.
      queue.inflight = undefined;
      queue.epoch++;
      queue.pending.clear();
      for (const [key, , cache] of batch.written) cache.delete(key);
      batch.reject(e);
      const next = queue.batch;
      queue.batch = undefined;
      if (next) {
        for (const [key, , cache] of next.written) cache.delete(key);
        next.reject(new EarlierCommitError(e));
      }
    });
  }

  /**
   * Seals the batch's values and hands them to the store as one commit. A key written by several
   * operations needs only its last value (one transaction: the others were never visible), which
   * is then the only one encoded and sealed.
   */
  async #commitBatch(batch: Batch): Promise<void> {
    const last = new Map<string, number>();
    batch.written.forEach(([key], i) => last.set(key, i));
    const changes: StoreChange[] = [];
    for (const [i, [key, entry]] of batch.written.entries()) {
      if (last.get(key) !== i) continue;
      if (entry.deleted) {
        changes.push({ key });
        continue;
      }
      entry.sealed = await this.#seal.seal(key, entry.record ?? entry.encode!());
      changes.push({ key, value: entry.sealed });
    }
    checkChanges(changes);
    await this.#store.commit(changes);
  }

  #time(): number {
    return checkTime(this.#now());
  }

  #suite(kem: string, aead: string): RatchetSuite {
    const key = `${kem}\n${aead}`;
    let suite = this.#suites.get(key);
    if (!suite) {
      suite = {
        kem: this.#registry.kem(kem),
        aead: this.#registry.aead(aead),
        ...(this.#policy ? { policy: this.#policy } : {}),
      };
      this.#suites.set(key, suite);
    }
    return suite;
  }

  // ---- the sealed store ----

  async #read<T>(name: string, decode: (b: Uint8Array) => T): Promise<T | undefined> {
    const key = this.#seal.blind(name);
    const pending = this.#queue.pending.get(key);
    if (pending) {
      if (pending.deleted) return undefined;
      if (pending.value !== undefined) return pending.value as T;
      return decode((pending.record ?? pending.encode!()).slice());
    }
    const sealed = await this.#store.get(key);
    if (sealed === undefined) {
      this.#cache.delete(key);
      return undefined;
    }
    const hit = this.#cache.get(key);
    if (hit && sameSealed(hit.sealed, sealed)) return hit.value as T;
    const value = decode(await this.#seal.open(key, sealed));
    this.#remember(key, { sealed, value });
    return value;
  }

  /** Caches a decoded record; the cache holds at most 1024 (it is only a shortcut). */
  #remember(key: string, entry: Cached): void {
    if (this.#cache.size >= 1024 && !this.#cache.has(key)) this.#cache.clear();
    this.#cache.set(key, entry);
  }

  /**
   * Adds `changes` to the batch the store commits next (group commit, docs/sessions.md section
   * 7.2): later operations read them at once, the caller of this one gets its result once they are
   * durable (see #serial), and they are cached then.
   */
  #commit(changes: Change[]): void {
    const written: Batch["written"] = [];
    for (const c of changes) {
      const key = this.#seal.blind(c.name);
      const deleted = c.record === undefined && c.encode === undefined;
      written.push([
        key,
        { deleted, record: c.record, encode: c.encode, value: c.value },
        this.#cache,
      ]);
    }
    const queue = this.#queue;
    // A commit failed since this operation began: what it read may never have been stored.
    if (queue.epoch !== this.#epoch) throw new EarlierCommitError(undefined);
    let batch = queue.batch;
    if (!batch) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const durable = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Callers that never look at an operation's result still see its failure, elsewhere.
      durable.catch(() => {});
      batch = queue.batch = { written: [], operations: 0, durable, resolve, reject };
    }
    batch.written.push(...written);
    batch.operations++;
    for (const [key, entry] of written) queue.pending.set(key, entry);
  }

  /** The account record as stored (shared with the cache: read it, do not change it). */
  async #accountView(): Promise<Readonly<AccountRecord> | undefined> {
    return await this.#read(NAME.account, decodeAccount);
  }

  async #account(): Promise<AccountRecord> {
    const record = await this.#read(NAME.account, decodeAccount);
    // A copy: callers change it and commit it, and a failed commit must leave the cache right.
    return record
      ? {
        nextId: record.nextId,
        spks: record.spks.map((s) => ({ ...s })),
        opks: [...record.opks],
        pqopks: [...record.pqopks],
        sessions: [...record.sessions],
      }
      : { nextId: 1, spks: [], opks: [], pqopks: [], sessions: [] };
  }

  #accountChange(r: AccountRecord) {
    return { name: NAME.account, record: encodeAccount(r), value: r };
  }

  #takeId(r: AccountRecord): number {
    const id = r.nextId;
    if (id >= NO_OPK) throw new RangeError("this account has used every prekey id");
    r.nextId = id + 1;
    return id;
  }

  // ---- prekeys ----

  prekeyBundle(options: { oneTimeKeys?: number } = {}): Promise<Uint8Array> {
    const count = options.oneTimeKeys ?? 0;
    if (!Number.isSafeInteger(count) || count < 0 || count > MAX_BUNDLE_ONE_TIME_KEYS) {
      return Promise.reject(
        new RangeError(`oneTimeKeys must be an integer from 0 to ${MAX_BUNDLE_ONE_TIME_KEYS}`),
      );
    }
    return this.#serial(async () => {
      const now = this.#time();
      const account = await this.#account();
      const changes: Change[] = [];
      let current = account.spks.find((s) => s.retired === 0);
      let spk = current && await this.#read(NAME.spk(current.id), decodeSpk);
      if (
        !current || !spk || spk.kem !== this.#kem.id ||
        now - current.created >= PREKEY_ROTATION_MS ||
        now < current.created
      ) {
        if (current) current.retired = now;
        const id = this.#takeId(account);
        const pq = await this.#kem.generateKeyPair();
        spk = {
          kem: this.#kem.id,
          spk: newX25519Pair(id),
          pqspk: { id, publicKey: pq.publicKey, secretKey: pq.secretKey },
          eks: [],
        };
        current = { id, created: now, retired: 0 };
        account.spks.push(current);
        changes.push({ name: NAME.spk(id), record: encodeSpk(spk), value: spk });
      }
      changes.push(...await this.#expire(account, now));
      const opks: PrekeyPair[] = [];
      const pqopks: PrekeyPair[] = [];
      for (let i = 0; i < count; i++) {
        const id = this.#takeId(account);
        const opk = newX25519Pair(id);
        const pq = await this.#kem.generateKeyPair();
        const pqopk = { id, publicKey: pq.publicKey, secretKey: pq.secretKey };
        opks.push(opk);
        pqopks.push(pqopk);
        account.opks.push(id);
        account.pqopks.push(id);
        changes.push({ name: NAME.opk(id), record: encodeOpk(opk) });
        changes.push({ name: NAME.pqopk(id), record: encodePqopk(this.#kem.id, pqopk) });
      }
      for (
        const [list, name] of [[account.opks, NAME.opk], [account.pqopks, NAME.pqopk]] as const
      ) {
        while (list.length > MAX_ONE_TIME_PREKEYS) changes.push({ name: name(list.shift()!) });
      }
      changes.push(this.#accountChange(account));
      // The keys are stored before anyone can see the bundle that names them.
      const bundle = await encodeBundle(this.#identity, {
        kem: this.#kem,
        spk: spk.spk,
        pqspk: spk.pqspk,
        opks,
        pqopks,
        created: now,
      });
      await this.#commit(changes);
      return bundle;
    });
  }

  /** Deletes signed prekeys retired more than 30 days ago, with their EK digests. */
  async #expire(account: AccountRecord, now: number) {
    const changes: { name: string; record?: Uint8Array }[] = [];
    const keep: SpkEntry[] = [];
    for (const entry of account.spks) {
      if (entry.retired !== 0 && now - entry.retired >= PREKEY_RETENTION_MS) {
        const spk = await this.#read(NAME.spk(entry.id), decodeSpk);
        for (const ek of spk?.eks ?? []) changes.push({ name: NAME.ek(ek) });
        changes.push({ name: NAME.spk(entry.id) });
      } else keep.push(entry);
    }
    account.spks = keep;
    return changes;
  }

  // ---- sessions ----

  async #session(fp: string): Promise<SessionRecord | undefined> {
    return await this.#read(NAME.session(fp), decodeSession);
  }

  #sessionChange(fp: string, record: SessionRecord): Change {
    // Encoded when committed: of several messages committed together, only the last state is.
    return { name: NAME.session(fp), encode: () => encodeSession(record), value: record };
  }

  #peerChange(fp: string, recipient: string) {
    return { name: NAME.peer(fp), record: new Writer().u8(RECORD_VERSION).sp(recipient).bytes() };
  }

  #touch(fp: string): void {
    if (this.#recent[0] === fp) return;
    this.#recent = [fp, ...this.#recent.filter((f) => f !== fp)];
  }

  encrypt(to: Uint8Array | string, data: Uint8Array): Promise<Uint8Array> {
    if (!(data instanceof Uint8Array)) return Promise.reject(new TypeError("data must be bytes"));
    if (typeof to !== "string" && !(to instanceof Uint8Array)) {
      return Promise.reject(new TypeError("to must be a bundle or a fingerprint"));
    }
    return this.#serial(async () => {
      const now = this.#time();
      if (typeof to === "string") {
        const fp = normalizeFingerprint(to);
        const record = await this.#session(fp);
        if (!record) throw new NoSessionError();
        return await this.#send(fp, record, data, now);
      }
      const bundle = await parseBundle(to, { registry: this.#registry });
      if (bundle.fingerprint === this.fingerprint) {
        throw new TypeError("a session with oneself is not supported");
      }
      const existing = await this.#session(bundle.fingerprint);
      if (existing) return await this.#send(bundle.fingerprint, existing, data, now);
      const hs = await initiate(this.#identity, bundle, {
        registry: this.#registry,
        aead: this.#aead,
      });
      const suite = this.#suite(hs.kem.id, this.#aead.id);
      const ratchet = await initAlice(suite, {
        rootKey: hs.rootKey,
        headerKey: hs.headerKey,
        nextHeaderKey: hs.nextHeaderKey,
        peerDh: hs.peerDh,
        ad: hs.ad,
        now,
      });
      const state: SessionState = {
        kem: hs.kem.id,
        aead: this.#aead.id,
        created: now,
        sid: hs.sessionId,
        role: ROLE_INITIATOR,
        prefix: hs.prefix,
        ratchet,
      };
      const account = await this.#account();
      account.sessions.push(hs.peerFingerprint);
      return await this.#send(hs.peerFingerprint, { current: state }, data, now, [
        this.#accountChange(account),
        this.#peerChange(hs.peerFingerprint, hs.peerRecipient),
      ]);
    });
  }

  /** Encrypts on `record`'s current state and commits the advanced state before returning. */
  async #send(
    fp: string,
    record: SessionRecord,
    data: Uint8Array,
    now: number,
    more: Change[] = [],
  ): Promise<Uint8Array> {
    const state = record.current;
    const prefix = state.prefix.length > 0 ? state.prefix : ratchetMessagePrefix();
    const suite = this.#suite(state.kem, state.aead);
    const out = await ratchetEncrypt(suite, state.ratchet, data, prefix, now);
    const next: SessionRecord = { ...record, current: { ...state, ratchet: out.state } };
    await this.#commit([...more, this.#sessionChange(fp, next)]);
    this.#touch(fp);
    const message = new Uint8Array(prefix.length + out.body.length);
    message.set(prefix);
    message.set(out.body, prefix.length);
    return message;
  }

  decrypt(
    message: Uint8Array,
    options: SessionDecryptOptions = {},
  ): Promise<{ from: string; data: Uint8Array }> {
    if (!(message instanceof Uint8Array)) {
      return Promise.reject(new TypeError("message must be bytes"));
    }
    let hint: string | undefined;
    try {
      hint = options.from === undefined ? undefined : normalizeFingerprint(options.from);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#serial(async () => {
      const now = this.#time();
      const kind = sessionMessageKind(message);
      if (kind === PREKEY_MESSAGE) return await this.#receivePrekey(message, now);
      if (kind === RATCHET_MESSAGE) return await this.#receiveRatchet(message, now, hint);
      throw new DecryptionError();
    });
  }

  /**
   * Tries `body` on the record's current state, then on its previous one (a session replaced by
   * a newer handshake, as when both ends started one at once); the state that opens it becomes
   * current. `sid`, when given, limits the attempt to the state with that session id.
   */
  async #tryRecord(
    fp: string,
    record: SessionRecord,
    prefix: Uint8Array,
    body: Uint8Array,
    now: number,
    sid?: Uint8Array,
  ): Promise<Uint8Array | undefined> {
    const states = record.previous ? [record.current, record.previous] : [record.current];
    for (const [i, state] of states.entries()) {
      if (sid && !equalBytes(sid, state.sid)) continue;
      let out;
      try {
        out = await ratchetDecrypt(
          this.#suite(state.kem, state.aead),
          state.ratchet,
          prefix,
          body,
          now,
        );
      } catch {
        continue; // the ratchet's DecryptionError, or anything a malformed message caused
      }
      // Something came from the peer: an initiator stops sending prekey messages.
      const advanced: SessionState = {
        ...state,
        ratchet: out.state,
        prefix: new Uint8Array(0),
      };
      const next: SessionRecord = i === 0
        ? { current: advanced, previous: record.previous }
        : { current: advanced, previous: record.current };
      await this.#commit([this.#sessionChange(fp, next)]);
      this.#touch(fp);
      return out.data;
    }
    return undefined;
  }

  async #receiveRatchet(message: Uint8Array, now: number, hint?: string) {
    const prefix = message.subarray(0, ratchetMessagePrefix().length);
    const body = message.subarray(prefix.length);
    const sessions = (await this.#accountView())?.sessions ?? [];
    const known = new Set(sessions);
    const order = this.#recent.filter((f) => known.has(f) && f !== hint);
    if (hint !== undefined && known.has(hint)) order.unshift(hint);
    const first = new Set(order);
    for (const fp of sessions) if (!first.has(fp)) order.push(fp);
    for (const fp of order) {
      const record = await this.#session(fp);
      if (!record) continue;
      const data = await this.#tryRecord(fp, record, prefix, body, now);
      if (data) return { from: fp, data };
    }
    throw new DecryptionError();
  }

  async #receivePrekey(message: Uint8Array, now: number) {
    let parsed;
    try {
      parsed = parsePrekeyMessage(message);
    } catch {
      throw new DecryptionError();
    }
    const ek = sha256(parsed.head.ek); // EK_A's digest (docs/sessions.md section 8)
    // A repeat of a session's prekey message (the initiator sends them until she hears back)
    // continues that session; an EK seen before for any other reason is a replay.
    const seen = await this.#read(NAME.ek(ek), decodeEk);
    if (seen) {
      const record = await this.#session(seen.fingerprint);
      const data = record &&
        await this.#tryRecord(seen.fingerprint, record, parsed.prefix, parsed.body, now, seen.sid);
      if (!data) throw new DecryptionError();
      return { from: seen.fingerprint, data };
    }
    const account = await this.#account();
    const spkId: number = parsed.head.spkId;
    const spk = account.spks.some((s) => s.id === spkId)
      ? await this.#read(NAME.spk(spkId), decodeSpk)
      : undefined;
    if (!spk) throw new DecryptionError();
    const lookup = this.#lookup(account, spk);
    let hs;
    try {
      hs = await respond(this.#identity, parsed, lookup, {
        registry: this.#registry,
        aead: this.#aead,
      });
    } catch {
      throw new DecryptionError();
    }
    const from = hs.peerFingerprint;
    if (from === this.fingerprint) throw new DecryptionError();
    const suite = this.#suite(hs.kem.id, this.#aead.id);
    const ratchet0 = await initBob(suite, {
      rootKey: hs.rootKey,
      nextSendHeaderKey: hs.nextHeaderKey,
      nextRecvHeaderKey: hs.headerKey,
      ownDh: hs.ownDh,
      ad: hs.ad,
      now,
    });
    let out;
    try {
      out = await ratchetDecrypt(suite, ratchet0, parsed.prefix, parsed.body, now);
    } catch {
      throw new DecryptionError();
    }
    // One commit: the one-time prekeys go, the EK is remembered, the session is made.
    const changes: Change[] = [];
    const used = hs.used;
    if (used.opk !== undefined) {
      account.opks = account.opks.filter((id) => id !== used.opk);
      changes.push({ name: NAME.opk(used.opk) });
    }
    if (used.pq.kind === "pqopk") {
      account.pqopks = account.pqopks.filter((id) => id !== used.pq.id);
      changes.push({ name: NAME.pqopk(used.pq.id) });
    }
    const spkNext: SpkRecord = { ...spk, eks: [...spk.eks, ek.slice()] };
    changes.push({ name: NAME.spk(spkId), record: encodeSpk(spkNext), value: spkNext });
    changes.push({
      name: NAME.ek(ek),
      record: encodeEk({ spkId, fingerprint: from, sid: hs.sessionId }),
    });
    const state: SessionState = {
      kem: hs.kem.id,
      aead: this.#aead.id,
      created: now,
      sid: hs.sessionId,
      role: ROLE_RESPONDER,
      prefix: new Uint8Array(0),
      ratchet: out.state,
    };
    const existing = await this.#session(from);
    // A new handshake from a known peer (they lost their state, or both ends started a session
    // at once) becomes current; the old session stays as the previous one until the next.
    const record: SessionRecord = { current: state, previous: existing?.current };
    if (!account.sessions.includes(from)) account.sessions.push(from);
    changes.push(this.#accountChange(account));
    changes.push(this.#peerChange(from, hs.peerRecipient));
    changes.push(this.#sessionChange(from, record));
    await this.#commit(changes);
    this.#touch(from);
    return { from, data: out.data };
  }

  /** The prekeys `respond` may use: the named signed prekey and any one-time prekey left. */
  #lookup(account: AccountRecord, spk: SpkRecord): PrekeyLookup {
    return {
      spk: (id: number) => Promise.resolve(id === spk.spk.id ? spk.spk : undefined),
      pqspk: (id: number) =>
        Promise.resolve(id === spk.pqspk.id ? { ...spk.pqspk, kem: spk.kem } : undefined),
      opk: async (id: number) =>
        account.opks.includes(id)
          ? await this.#read(NAME.opk(id), (b) => decodeOpk(id, b))
          : undefined,
      pqopk: async (id: number) => {
        if (!account.pqopks.includes(id)) return undefined;
        const found = await this.#read(NAME.pqopk(id), (b) => decodePqopk(id, b));
        if (!found) return undefined;
        return { ...found.pair, kem: found.kem };
      },
    };
  }

  sessions(): Promise<SessionInfo[]> {
    return this.#serial(async () => {
      const out: SessionInfo[] = [];
      for (const fp of (await this.#accountView())?.sessions ?? []) {
        const record = await this.#session(fp);
        const recipient = await this.#read(NAME.peer(fp), decodePeer);
        if (!record || recipient === undefined) continue;
        const s = record.current;
        out.push({
          fingerprint: fp,
          recipient,
          sessionId: s.sid.slice(),
          kem: s.kem,
          created: s.created,
        });
      }
      return out;
    });
  }

  endSession(fingerprint: string): Promise<void> {
    return this.#serial(async () => {
      const fp = normalizeFingerprint(fingerprint);
      const account = await this.#account();
      const record = await this.#session(fp);
      if (!record && !account.sessions.includes(fp)) return;
      account.sessions = account.sessions.filter((f) => f !== fp);
      this.#recent = this.#recent.filter((f) => f !== fp);
      // The EK records stay until their signed prekey expires: a replay finds no session.
      await this.#commit([
        this.#accountChange(account),
        { name: NAME.session(fp) },
        { name: NAME.peer(fp) },
      ]);
    });
  }

  sessionId(fingerprint: string): Promise<Uint8Array | undefined> {
    return this.#serial(async () => {
      const record = await this.#session(normalizeFingerprint(fingerprint));
      return record?.current.sid.slice();
    });
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const last = this.#serial(async () => {});
    this.#closed = true;
    // A failed commit was reported to the calls it concerned; the store is closed all the same.
    return last.catch(() => {}).then(async () => {
      this.#cache.clear();
      await this.#store.close?.();
    });
  }
}

/** A fingerprint as accounts store it: upper case, groups of four separated by one space. */
function normalizeFingerprint(fp: string): string {
  if (typeof fp !== "string") throw new TypeError("fingerprint must be a string");
  const compact = fp.replace(/\s+/g, "").toUpperCase();
  if (!/^[A-Z2-7]{32}$/.test(compact)) {
    throw new TypeError("not a fingerprint: 32 base32 characters expected");
  }
  return compact.match(/.{4}/g)!.join(" ");
}

/**
 * Opens (or starts) the account of `options.identity` in `options.store`. Several identities
 * may share one store: every record is named and sealed under its identity's storage key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createAccount, generateIdentity, MemorySessionStore } from "@polycrypt/polycrypt";
 * const bob = await createAccount({
 *   identity: (await generateIdentity("x25519")).identity,
 *   store: new MemorySessionStore(),
 * });
 * const alice = await createAccount({
 *   identity: (await generateIdentity("x25519")).identity,
 *   store: new MemorySessionStore(),
 * });
 * const bundle = await bob.prekeyBundle({ oneTimeKeys: 1 });
 * const first = await alice.encrypt(bundle, new TextEncoder().encode("hi Bob"));
 * const { from, data } = await bob.decrypt(first);
 * assert.equal(from, alice.fingerprint);
 * assert.equal(new TextDecoder().decode(data), "hi Bob");
 * const reply = await bob.encrypt(from, new TextEncoder().encode("hi Alice"));
 * assert.equal(new TextDecoder().decode((await alice.decrypt(reply)).data), "hi Alice");
 * await alice.close();
 * await bob.close();
 * ```
 */
export async function createAccount(options: AccountOptions): Promise<Account> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("createAccount needs { identity, store }");
  }
  const { identity, store } = options;
  if (typeof identity !== "string") throw new TypeError("identity must be a string");
  if (
    typeof store?.get !== "function" || typeof store.list !== "function" ||
    typeof store.commit !== "function"
  ) {
    throw new TypeError("store must be a SessionStore");
  }
  const registry = options.registry ?? defaultRegistry;
  const kem = registry.kem(options.kem ?? DEFAULT_SESSION_KEM);
  const aead = registry.aead(options.aead ?? DEFAULT_SESSION_AEAD);
  const now = options.now ?? Date.now;
  if (typeof now !== "function") throw new TypeError("now must be a function");
  const keys = await sessionKeys(identity);
  const seal = await StorageSeal.create(keys.storageKey);
  return new AccountImpl(
    identity,
    keys.recipient,
    store,
    seal,
    registry,
    kem,
    aead,
    options.policy,
    now,
  );
}
