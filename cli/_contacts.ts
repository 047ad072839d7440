// Internal: the local store of `contact` and `chat --history` (docs/contacts.md sections 3-5): a
// contact book and conversation histories under $XDG_CONFIG_HOME/polycrypt, sealed at rest under
// keys derived from the user's identity, so that a copy of the directory alone reveals no names,
// no keys and no messages.
import { dirname, join, resolve, sep } from "node:path";
import {
  fingerprint,
  hkdf,
  hmac,
  padmeLength,
  parseIdentity,
  parseRecipient,
  registry,
} from "./_core.ts";
import { concatBytes } from "../engines/_bytes.ts";
import { isProtectedIdentity, loadIdentities } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { say, writeAtomic } from "./_io.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The AEAD of the store: random 24-byte nonces are safe under one key (docs/contacts.md §3). */
const AEAD_ID = "xchacha20-poly1305";
/** The first bytes of the contact book file. */
const BOOK_MAGIC = encoder.encode("polycrypt contacts v1\n");
const SALT_BYTES = 32;

/** One entry of the contact book. */
export interface Contact {
  /** The local name, as typed after `@`. */
  name: string;
  /** The contact's recipient string. */
  recipient: string;
  /** The address `--peer-contact` dials, if one was given. */
  address?: string;
  /** When it was added (ISO 8601). */
  added: string;
  /**
   * When a shared-secret check with this contact last succeeded (ISO 8601); absent when none
   * did, or the last one failed (docs/contacts.md section 3).
   */
  verified?: string;
  /**
   * The contact's inbox on a relay: a `polycrypt-invite1:` invitation (docs/relay.md section 12),
   * through which `send -r @NAME` and an offline `chat` deliver.
   */
  invitation?: string;
}

/**
 * Names: a letter or digit, then letters, digits, `.`, `_` or `-`, at most 64 in all. No spaces
 * (a fingerprint prefix in chat has one, so a name can never pass for one), no controls.
 */
const NAME = /^[\p{L}\p{N}][\p{L}\p{N}._-]{0,63}$/u;

/** Checks a contact name (a UsageError naming the rule). */
export function checkName(name: string): string {
  const bare = name.startsWith("@") ? name.slice(1) : name;
  if (bare === "me") {
    throw new UsageError(`"me" is how chat labels your own lines; pick another name`);
  }
  if (!NAME.test(bare)) {
    throw new UsageError(
      "a contact name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    );
  }
  return bare;
}

/** `$XDG_CONFIG_HOME/polycrypt`, or `~/.config/polycrypt` (a relative XDG_CONFIG_HOME is ignored). */
function configDir(): string {
  const xdg = Deno.env.get("XDG_CONFIG_HOME");
  if (xdg && xdg.startsWith("/")) return join(xdg, "polycrypt");
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (!home) throw new UsageError("set HOME or XDG_CONFIG_HOME: the contact book lives there");
  return join(home, ".config", "polycrypt");
}

/**
 * The store identity file when a command has no `-i`: `$POLYCRYPT_IDENTITY`, else
 * `identity.key` in {@linkcode configDir}.
 */
function defaultIdentityPath(): string {
  return Deno.env.get("POLYCRYPT_IDENTITY") || join(configDir(), "identity.key");
}

/** The identity that seals the store, loaded once per path (a protected file asks once). */
const loaded = new Map<string, string>();
export async function storeIdentity(path?: string): Promise<string> {
  const file = path ?? defaultIdentityPath();
  let identity = loaded.get(file);
  if (identity === undefined) {
    try {
      await Deno.stat(file);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new IoError(
        `no identity at ${file}: the contact book is sealed under your identity; give -i FILE, ` +
          `set POLYCRYPT_IDENTITY, or create one with: polycrypt keygen -o ${file}`,
      );
    }
    [identity] = await loadIdentities([file], undefined);
    loaded.set(file, identity);
  }
  return identity;
}

/**
 * A warning when the identity that seals the store is an unprotected file inside the store's own
 * directory: a copy of the directory would then hold the key that opens it (docs/contacts.md §5).
 */
export async function warnIfExposed(path: string | undefined): Promise<void> {
  const file = resolve(path ?? defaultIdentityPath());
  if (!file.startsWith(resolve(configDir()) + sep)) return;
  try {
    if (isProtectedIdentity(await Deno.readTextFile(file))) return;
  } catch {
    return;
  }
  say(
    `polycrypt: warning: ${file} is not passphrase-protected and lies in the directory it seals; ` +
      `a copy of the directory would open it (protect it: keygen --protect, see docs/contacts.md)`,
  );
}

/** The 32-byte key for `purpose` (docs/contacts.md §3): HKDF-SHA-256 over the secret key. */
async function storeKey(identity: string, purpose: string, salt: Uint8Array): Promise<Uint8Array> {
  const { secretKey } = parseIdentity(identity);
  return await hkdf(
    "SHA-256",
    secretKey,
    salt,
    encoder.encode(`polycrypt store v1 ${purpose}`),
    32,
  );
}

/** `u32be(length) || bytes || zeros` to the PADME length of the whole (docs/contacts.md §3). */
function pad(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(padmeLength(4 + bytes.length));
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

function unpad(padded: Uint8Array): Uint8Array {
  const length = new DataView(padded.buffer, padded.byteOffset).getUint32(0);
  if (4 + length > padded.length) throw new Error("bad padding");
  return padded.subarray(4, 4 + length);
}

/** Creates the store directory 0700 (and tightens an existing one to 0700). */
async function ensureDir(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  if (Deno.build.os !== "windows") await Deno.chmod(dir, 0o700);
}

/**
 * Seals `content` as a store file (docs/contacts.md §3): magic || salt || nonce ||
 * XChaCha20-Poly1305(padded JSON), under the key for `purpose` and a fresh salt, with
 * magic || salt as associated data.
 */
async function sealStoreFile(
  identity: string,
  magic: Uint8Array,
  purpose: string,
  content: unknown,
): Promise<Uint8Array> {
  const aead = registry.aead(AEAD_ID);
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const nonce = crypto.getRandomValues(new Uint8Array(aead.nonceSize));
  const key = await storeKey(identity, purpose, salt);
  const json = encoder.encode(JSON.stringify(content));
  const sealed = await aead.seal(key, nonce, pad(json), concatBytes(magic, salt));
  return concatBytes(magic, salt, nonce, sealed);
}

/**
 * Opens what {@linkcode sealStoreFile} sealed and parses its JSON. Throws `Error(notThisFile)`
 * when the bytes are too short or do not start with `magic` (before the identity is read), and
 * the AEAD's error when they are sealed under another identity or damaged.
 */
async function openStoreFile(
  identity: string,
  magic: Uint8Array,
  purpose: string,
  bytes: Uint8Array,
  notThisFile: string,
): Promise<Record<string, unknown> | null> {
  const aead = registry.aead(AEAD_ID);
  const head = magic.length + SALT_BYTES + aead.nonceSize;
  if (bytes.length < head + aead.tagSize || !magic.every((b, i) => bytes[i] === b)) {
    throw new Error(notThisFile);
  }
  const salt = bytes.subarray(magic.length, magic.length + SALT_BYTES);
  const key = await storeKey(identity, purpose, salt);
  const plain = await aead.open(
    key,
    bytes.subarray(magic.length + SALT_BYTES, head),
    bytes.subarray(head),
    bytes.subarray(0, magic.length + SALT_BYTES),
  );
  return JSON.parse(decoder.decode(unpad(plain)));
}

/** The bytes of the file at `path`, or `undefined` when there is none. */
async function readIfPresent(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * The 32-hex-digit name of the per-identity file in the store folder `folder`: an HMAC of the
 * folder's name under the key for purpose `<folder> name`, so the name says nothing about whose
 * it is.
 */
async function storeFileName(identity: string, folder: string): Promise<string> {
  const nameKey = await storeKey(identity, `${folder} name`, new Uint8Array(0));
  return hmac("SHA-256", nameKey, encoder.encode(folder)).subarray(0, 16).toHex();
}

/**
 * Writes `bytes` to `path`, a file in a folder of the store, atomically (temporary file 0600,
 * then rename), making the store folder and the file's folder 0700 first.
 */
async function writeStoreFile(path: string, bytes: Uint8Array): Promise<void> {
  await ensureDir(configDir());
  await ensureDir(dirname(path));
  await writeAtomic(path, ReadableStream.from([bytes]), true);
}

// ------------------------------------------------------------------ the contact book

/** Seals the contact list (docs/contacts.md §3): magic || salt || nonce || AEAD(padded JSON). */
export async function sealBook(identity: string, contacts: Contact[]): Promise<Uint8Array> {
  return await sealStoreFile(identity, BOOK_MAGIC, "contacts", { version: 1, contacts });
}

/** Opens what {@linkcode sealBook} sealed; throws on a wrong identity or damaged bytes. */
export async function openBook(identity: string, bytes: Uint8Array): Promise<Contact[]> {
  const parsed = await openStoreFile(
    identity,
    BOOK_MAGIC,
    "contacts",
    bytes,
    "not a polycrypt contact book",
  );
  if (parsed?.version !== 1 || !Array.isArray(parsed.contacts)) {
    throw new Error("unknown contact book version");
  }
  return parsed.contacts as Contact[];
}

/** The contact book file: one sealed file, so file names reveal nothing. */
function bookPath(dir: string = configDir()): string {
  return join(dir, "contacts");
}

/** The contacts, sealed under `identity`; none when there is no book yet. */
export async function readBook(identity: string): Promise<Contact[]> {
  const path = bookPath();
  const bytes = await readIfPresent(path);
  if (bytes === undefined) return [];
  try {
    return await openBook(identity, bytes);
  } catch {
    throw new IoError(
      `cannot open the contact book ${path}: it is sealed under another identity, or damaged`,
    );
  }
}

/** Writes the contacts, sealed, atomically (temporary file 0600, then rename). */
export async function writeBook(identity: string, contacts: Contact[]): Promise<void> {
  const dir = configDir();
  await ensureDir(dir);
  const bytes = await sealBook(identity, contacts);
  await writeAtomic(bookPath(dir), ReadableStream.from([bytes]), true);
}

/** The contact called `name` (with or without `@`), or a UsageError. */
export function findContact(contacts: Contact[], name: string): Contact {
  const bare = checkName(name);
  const found = contacts.find((c) => c.name === bare);
  if (!found) throw new UsageError(`no contact named ${bare} (polycrypt contact list)`);
  return found;
}

/**
 * The recipients with every `@NAME` replaced by that contact's recipient, from the book sealed
 * under `identity` (default: the store identity, {@linkcode defaultIdentityPath}).
 */
export async function resolveContacts(values: string[], identity?: string): Promise<string[]> {
  if (!values.some((v) => v.startsWith("@"))) return values;
  const contacts = await readBook(identity ?? await storeIdentity());
  return values.map((v) => (v.startsWith("@") ? findContact(contacts, v).recipient : v));
}

/** The contact called `name`, from the book sealed under the store identity (or `identity`). */
export async function contactNamed(name: string, identity?: string): Promise<Contact> {
  return findContact(await readBook(identity ?? await storeIdentity()), name);
}

/**
 * The chat label of a peer: its contact name when the book holds its recipient, else the first
 * two groups of its fingerprint (which hold a space, so no name looks like one).
 */
export function peerLabel(recipient: string, contacts: Contact[]): string {
  const key = recipient.trim();
  return contacts.find((c) => c.recipient === key)?.name ?? fingerprint(key).slice(0, 9);
}

/** Checks a recipient for the book and returns it trimmed. */
export function checkRecipient(recipient: string): string {
  parseRecipient(recipient);
  return recipient.trim();
}

// ------------------------------------------------------------------ session stores

/**
 * The default session store of `identity` (chat's and `bundle`'s `--sessions`, docs/cli.md):
 * `sessions/<32 hex digits>.db` next to the contact book, one file per identity, named by an HMAC
 * under a key derived from the identity so that the name says nothing about whose it is. The
 * folders are made 0700.
 */
export async function defaultSessionsPath(identity: string): Promise<string> {
  const name = await storeFileName(identity, "sessions");
  const dir = join(configDir(), "sessions");
  await ensureDir(configDir());
  await ensureDir(dir);
  return join(dir, `${name}.db`);
}

// ------------------------------------------------------------------ inboxes on relays

/** The first bytes of an inbox file. */
const INBOX_MAGIC = encoder.encode("polycrypt inboxes v1\n");

/** One queue this user created on a relay (`polycrypt inbox new`, docs/relay.md section 13). */
export interface InboxRecord {
  /** The relay's URL. */
  relay: string;
  /** The receiving id, hex (secret: it reads the queue). */
  receivingId: string;
  /** The sending id, hex (in the invitation). */
  sendingId: string;
  /** The queue's authorization key: engine id and hex key pair (the secret half is secret). */
  key: { algorithm: string; publicKey: string; secretKey: string };
  /** The invitation that was printed. */
  invitation: string;
  /** When it was made (ISO 8601). */
  created: string;
  /** When its prekey bundles were last published in full (ISO 8601). */
  published?: string;
  /**
   * Secured by `fetch` to the first verified sender's queue key (docs/relay.md section 13):
   * true for the inboxes of `inbox new` (without `--shared`) and reply inboxes. Absent: an inbox
   * of an older version or a `--shared` one, which stays open to anyone holding its invitation.
   */
  secure?: boolean;
  /** A reply inbox made for one contact: that contact's fingerprint (only they may secure it). */
  contact?: string;
  /** The sender's queue key it is secured to, once it is (fingerprint of the sender, hex key). */
  securedTo?: { fingerprint: string; algorithm: string; publicKey: string; at: string };
  /**
   * Its signalling queue on the same relay, for offers of direct connections (`chat --direct`,
   * docs/relay.md section 14): ids and key as above; its sending id is in the invitation.
   */
  signal?: {
    receivingId: string;
    sendingId: string;
    key: { algorithm: string; publicKey: string; secretKey: string };
  };
}

/**
 * The inbox file of `identity`: `inboxes/<32 hex digits>` next to the contact book, named by an
 * HMAC under a key derived from the identity; sealed like the contact book (docs/relay.md
 * section 12): magic || salt || nonce || XChaCha20-Poly1305(padded JSON), 0600 in a 0700 folder.
 */
async function inboxesPath(identity: string): Promise<string> {
  return join(configDir(), "inboxes", await storeFileName(identity, "inboxes"));
}

/** The inboxes of `identity`, oldest first; none when it has none. */
export async function readInboxes(identity: string): Promise<InboxRecord[]> {
  const path = await inboxesPath(identity);
  const bytes = await readIfPresent(path);
  if (bytes === undefined) return [];
  try {
    const parsed = await openStoreFile(
      identity,
      INBOX_MAGIC,
      "inboxes",
      bytes,
      "not an inbox file",
    );
    if (parsed?.version !== 1 || !Array.isArray(parsed.inboxes)) throw new Error("version");
    return parsed.inboxes as InboxRecord[];
  } catch {
    throw new IoError(
      `cannot open the inbox file ${path}: sealed under another identity, or damaged`,
    );
  }
}

/** Writes the inboxes of `identity`, sealed, atomically (0600). */
export async function writeInboxes(identity: string, inboxes: InboxRecord[]): Promise<void> {
  const path = await inboxesPath(identity);
  await writeStoreFile(
    path,
    await sealStoreFile(identity, INBOX_MAGIC, "inboxes", { version: 1, inboxes }),
  );
}

/** The first bytes of the file of sender queue keys. */
const SENDER_KEYS_MAGIC = encoder.encode("polycrypt relay senders v1\n");

/**
 * A queue key this user signs SENDs with in someone else's queue (docs/relay.md section 13): one
 * per relay and sending id, announced inside the first message, then used once the recipient
 * secured the queue with it.
 */
export interface SenderKeyRecord {
  /** The relay's URL. */
  relay: string;
  /** The queue's sending id, hex. */
  sendingId: string;
  /** The key: engine id and hex key pair (the secret half is secret). */
  key: { algorithm: string; publicKey: string; secretKey: string };
  /** When it was made (ISO 8601). */
  created: string;
  /**
   * The fingerprint of the queue's owner (the invitation's recipient) this key writes to: an
   * invitation naming this queue with another recipient is refused. Absent in records made
   * before it existed (filled in at their next use).
   */
  recipient?: string;
  /** When its announcement was stored on the relay (ISO 8601). */
  announced?: string;
  /** When a SEND signed with it was first accepted: the queue is secured to it (ISO 8601). */
  secured?: string;
}

async function senderKeysPath(identity: string): Promise<string> {
  return join(configDir(), "senders", await storeFileName(identity, "senders"));
}

/** The sender queue keys of `identity` (`senders/<hex>`, sealed like the inbox file). */
export async function readSenderKeys(identity: string): Promise<SenderKeyRecord[]> {
  const path = await senderKeysPath(identity);
  const bytes = await readIfPresent(path);
  if (bytes === undefined) return [];
  try {
    const parsed = await openStoreFile(
      identity,
      SENDER_KEYS_MAGIC,
      "senders",
      bytes,
      "not a sender key file",
    );
    if (parsed?.version !== 1 || !Array.isArray(parsed.senders)) throw new Error("version");
    return parsed.senders as SenderKeyRecord[];
  } catch {
    throw new IoError(
      `cannot open the sender key file ${path}: sealed under another identity, or damaged`,
    );
  }
}

/** Writes the sender queue keys of `identity`, sealed, atomically (0600 in a 0700 folder). */
export async function writeSenderKeys(
  identity: string,
  senders: SenderKeyRecord[],
): Promise<void> {
  const path = await senderKeysPath(identity);
  await writeStoreFile(
    path,
    await sealStoreFile(identity, SENDER_KEYS_MAGIC, "senders", { version: 1, senders }),
  );
}

// ------------------------------------------------------------------ groups (polycrypt group)

/** The first bytes of a group file. */
const GROUPS_MAGIC = encoder.encode("polycrypt groups v1\n");

/** A group this user is in, by its local name (docs/groups.md section 10). */
export interface LocalGroup {
  /** The local name. */
  name: string;
  /** The MLS group id, hex. */
  id: string;
  /** The relay holding the group queue. */
  relay: string;
  /** When it was made or joined (ISO 8601). */
  joined: string;
}

/** A key package a contact sent (`group keypackage`), kept until it is used. */
export interface HeldKeyPackage {
  /** The fingerprint of its sender (a contact). */
  fingerprint: string;
  /** The key package envelope, hex. */
  keyPackage: string;
  /** When it arrived (ISO 8601). */
  received: string;
}

/** The group file's content. */
export interface GroupBook {
  groups: LocalGroup[];
  keyPackages: HeldKeyPackage[];
}

/**
 * The group file of `identity`: `groups/<32 hex digits>` next to the contact book, sealed as the
 * inbox file is (purpose "groups"), 0600 in a 0700 folder.
 */
async function groupsPath(identity: string): Promise<string> {
  return join(configDir(), "groups", await storeFileName(identity, "groups"));
}

/** The local groups and held key packages of `identity` (empty when it has none). */
export async function readGroupBook(identity: string): Promise<GroupBook> {
  const path = await groupsPath(identity);
  const bytes = await readIfPresent(path);
  if (bytes === undefined) return { groups: [], keyPackages: [] };
  try {
    const parsed = await openStoreFile(identity, GROUPS_MAGIC, "groups", bytes, "not a group file");
    if (parsed?.version !== 1 || !Array.isArray(parsed.groups)) throw new Error("version");
    return {
      groups: parsed.groups as LocalGroup[],
      keyPackages: (parsed.keyPackages ?? []) as HeldKeyPackage[],
    };
  } catch {
    throw new IoError(
      `cannot open the group file ${path}: sealed under another identity, or damaged`,
    );
  }
}

/** Writes the group file of `identity`, sealed, atomically (0600). */
export async function writeGroupBook(identity: string, book: GroupBook): Promise<void> {
  const path = await groupsPath(identity);
  await writeStoreFile(
    path,
    await sealStoreFile(identity, GROUPS_MAGIC, "groups", { version: 1, ...book }),
  );
}

// ------------------------------------------------------------------ conversation histories

/** One entry of a history. */
export interface HistoryEntry {
  /** Milliseconds since the epoch. */
  t: number;
  /** Received from the peer, or sent by us. */
  dir: "in" | "out";
  /** The text, or `[file NAME]` for a file. */
  text: string;
}

/**
 * A conversation's history: an append-only file of sealed records under `history/`, named by an
 * HMAC of the peer's recipients (docs/contacts.md §4). Each record is sealed on its own, bound
 * to the file and to its position, so records cannot be reordered, dropped from the middle or
 * moved to another conversation; a torn last record (a crash mid-append) is ignored.
 */
export class History {
  #path: string;
  #key: Uint8Array;
  #id: Uint8Array;
  #count = 0;
  #entries: HistoryEntry[] = [];
  #chain: Promise<void> = Promise.resolve();

  private constructor(path: string, key: Uint8Array, id: Uint8Array) {
    this.#path = path;
    this.#key = key;
    this.#id = id;
  }

  /** Opens (or starts) the history of the conversation with `peers`, sealed under `identity`. */
  static async open(identity: string, peers: string[]): Promise<History> {
    const none = new Uint8Array(0);
    const nameKey = await storeKey(identity, "history name", none);
    const key = await storeKey(identity, "history seal", none);
    const peerBytes = encoder.encode([...peers].map((p) => p.trim()).sort().join("\n"));
    const id = hmac("SHA-256", nameKey, peerBytes).subarray(0, 16);
    const dir = join(configDir(), "history");
    await ensureDir(configDir());
    await ensureDir(dir);
    const history = new History(join(dir, id.toHex()), key, id);
    await history.#load();
    return history;
  }

  /** The entries read at open and appended since. */
  get entries(): readonly HistoryEntry[] {
    return this.#entries;
  }

  #aad(index: number): Uint8Array {
    const aad = new Uint8Array(16 + 8);
    aad.set(this.#id);
    new DataView(aad.buffer).setBigUint64(16, BigInt(index));
    return concatBytes(encoder.encode("polycrypt history v1\n"), aad);
  }

  async #load(): Promise<void> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(this.#path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    const aead = registry.aead(AEAD_ID);
    let offset = 0;
    while (offset + 4 <= bytes.length) {
      const length = new DataView(bytes.buffer, bytes.byteOffset + offset).getUint32(0);
      if (offset + 4 + length > bytes.length) break; // a torn last record
      const record = bytes.subarray(offset + 4, offset + 4 + length);
      let entry: HistoryEntry;
      try {
        const plain = await aead.open(
          this.#key,
          record.subarray(0, aead.nonceSize),
          record.subarray(aead.nonceSize),
          this.#aad(this.#count),
        );
        entry = JSON.parse(decoder.decode(unpad(plain)));
      } catch {
        throw new IoError(
          `cannot open the history ${this.#path}: it is sealed under another identity, or damaged`,
        );
      }
      this.#entries.push(entry);
      this.#count++;
      offset += 4 + length;
    }
    if (offset < bytes.length) await Deno.truncate(this.#path, offset);
  }

  /** Appends one entry (sealed, written and synced before the promise settles). */
  append(entry: HistoryEntry): Promise<void> {
    const index = this.#count++;
    this.#entries.push(entry);
    this.#chain = this.#chain.then(async () => {
      const aead = registry.aead(AEAD_ID);
      const nonce = crypto.getRandomValues(new Uint8Array(aead.nonceSize));
      const plain = pad(encoder.encode(JSON.stringify(entry)));
      const sealed = await aead.seal(this.#key, nonce, plain, this.#aad(index));
      const record = new Uint8Array(4 + nonce.length + sealed.length);
      new DataView(record.buffer).setUint32(0, nonce.length + sealed.length);
      record.set(nonce, 4);
      record.set(sealed, 4 + nonce.length);
      const file = await Deno.open(this.#path, {
        append: true,
        create: true,
        mode: 0o600,
      });
      try {
        for (let off = 0; off < record.length;) off += await file.write(record.subarray(off));
        await file.syncData();
      } finally {
        file.close();
      }
    });
    return this.#chain;
  }
}
