/**
 * The web chat's engine (docs/web.md): one identity, its inbox on a relay, its contacts and
 * conversations, with no DOM. The page (`web/app.ts`) draws what this holds and calls its methods.
 *
 * - The identity, the inbox's keys and a random data key live in one record sealed under the
 *   user's passphrase (`encrypt(..., { passphrase })`: the cascade's Argon2id layer, as
 *   `polycrypt keygen -p`). Contacts and conversations are records sealed with the data key
 *   (AES-256-GCM); sessions are in IndexedDB too ({@linkcode DeferredSessionStore}), sealed by the
 *   account, written together with what depends on them (docs/web.md section 4).
 * - Every message to a contact is a session message (docs/sessions.md) deposited in the contact's
 *   relay queue; what it carries is the web payload of docs/web.md section 4.
 * - Queues are secured as the CLI secures them (docs/relay.md section 13, "Securing"): a queue
 *   key per contact queue this page writes to (announced in a message of kind 0x51, SENDs signed
 *   once the relay asks for it), and a reply inbox per contact that the contact's announced key
 *   secures with KEY (docs/web.md section 4).
 *
 * @module
 */
import { decrypt, encrypt, generateIdentity, registry } from "../mod.ts";
import { fingerprint, formatSafetyNumber, safetyNumber } from "../contacts/fingerprint.ts";
import { type Account, createAccount, PREKEY_ROTATION_MS } from "../sessions/account.ts";
import { attachedPrekeyIds, parseBundle, trimBundle } from "../sessions/bundle.ts";
import { RelayClient } from "../relay/client.ts";
import type { QueueKey } from "../relay/client.ts";
import { generateQueueKey } from "../relay/client.ts";
import {
  type AuthKey,
  encodeAuthKey,
  parseAuthKey,
  RELAY_ERROR,
  RelayError,
} from "../relay/protocol.ts";
import { encodeInvitation, parseInvitation } from "../relay/invite.ts";
import {
  concatBytes,
  equalBytes,
  fromBase64,
  fromHex,
  toBase64,
  toHex,
} from "../engines/_bytes.ts";
import { sha256 } from "../engines/_hash.ts";
import { checkFileName } from "../transports/message.ts";
import { DeferredSessionStore, KeyValue, openDatabase } from "./indexeddb_store.ts";

/**
 * The payload of a session message through a relay, as the CLI writes it (docs/relay.md section
 * 12): `0x01 || u16 inviteLen || invite || kind || body`, `invite` the sender's own invitation or
 * empty. Kinds: a text (UTF-8), a piece of a file, and the web's receipts (docs/web.md section 4),
 * which only web pages receive.
 */
export const PAYLOAD_VERSION = 0x01;
/** Payload kinds. */
export const KIND = Object.freeze({ text: 0x54, piece: 0x46, receipt: 0x52 });
/**
 * The payload kind of a sender's queue key (docs/relay.md section 13): body = `algLen || alg ||
 * keyLen || publicKey`, the key the sender signs its SENDs with once the queue is secured.
 */
export const QUEUE_KEY = 0x51;
/** Flags bit 0 of a piece: the last piece of its file. */
const LAST = 0x01;
/** Receipt states. */
const DELIVERED = 1;
const READ = 2;

/** Bytes of a file piece: 512 KiB, one envelope under the relay's 1 MiB (as the CLI's). */
export const PART_BYTES = 512 * 1024;
/** The largest file the page sends: 100 MiB. */
export const MAX_FILE_BYTES = 100 * 1024 * 1024;
/** The web identity's encryption keys: the CLI's default hybrid. */
export const IDENTITY_ENGINE = "x25519+ml-kem-768";
/** The web identity's signing key (bundles): Ed25519, so an invitation fits one QR code. */
export const SIGNATURE_ENGINE = "ed25519";
/** One-time prekey bundles published to the relay at a time (a new set when fewer than 5 are left). */
const BUNDLES = 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const strict = new TextDecoder("utf-8", { fatal: true });

/** A contact as the page keeps it. */
export interface Contact {
  readonly fingerprint: string;
  name: string;
  readonly recipient: string;
  /** Where to reach them: their relay and queue (from their invitation); none yet for a stranger. */
  invitation?: string;
  readonly added: number;
}

/** What a message shows. */
export type MessageState = "sending" | "receiving" | "queued" | "delivered" | "read" | "failed";

/** One message of a conversation. */
export interface ChatMessage {
  /** The relay message id (hex): the sender's choice, and what receipts name. */
  readonly id: string;
  readonly direction: "in" | "out";
  readonly text?: string;
  file?: { name: string; size: number };
  /** The sender's clock (ms since 1970) when the sender is a page; else when it arrived. */
  readonly sentAt: number;
  /** When this page received it (incoming). */
  receivedAt?: number;
  state: MessageState;
  /** Files: bytes done out of the size (sent), or bytes received so far (total unknown: 0). */
  progress?: [number, number];
  /** Incoming: whether the sender is a page that wants receipts. */
  receipts?: boolean;
}

interface Vault {
  name: string;
  identity: string;
  recipient: string;
  dataKey: string;
  relay: string;
  inbox: { rid: string; sid: string; alg: string; pk: string; sk: string };
}

/**
 * A queue key this page sends with, one per relay and sending id (docs/relay.md section 13,
 * "Securing"): the CLI's sender key record, hex and ISO 8601 times; sealed in the record
 * `senders` with the data key, saved before the key is first announced.
 */
interface SenderKey {
  relay: string;
  sendingId: string;
  key: { algorithm: string; publicKey: string; secretKey: string };
  created: string;
  /** When the 0x51 message announcing it was stored by the relay. */
  announced?: string;
  /** When a SEND signed with it was first accepted: every later SEND is signed. */
  secured?: string;
}

/**
 * An inbox this page made for one contact's answers (a reply inbox, docs/relay.md section 13):
 * the CLI's inbox record (hex ids and keys); sealed in the record `inboxes` with the data key.
 * Only `contact` may secure it, and its first announced key does.
 */
interface ReplyInbox {
  relay: string;
  receivingId: string;
  sendingId: string;
  key: { algorithm: string; publicKey: string; secretKey: string };
  invitation: string;
  created: string;
  /** When its last-resort bundle was last published. */
  published: string;
  secure: true;
  contact: string;
  securedTo?: { fingerprint: string; algorithm: string; publicKey: string; at: string };
}

/** A queue this page reads: its inbox (shared, never secured) or a reply inbox. */
interface Queue {
  readonly rid: Uint8Array;
  readonly key: QueueKey;
  readonly reply?: ReplyInbox;
}

/** The refusal of a signed SEND, as the CLI words it. */
const REFUSED_AUTH = "the relay refused the message: AUTH (the inbox is gone, or secured to " +
  "another sender: ask its owner for a new invitation)";

const hexKey = (k: { algorithm: string; publicKey: string; secretKey: string }): QueueKey => ({
  algorithm: k.algorithm,
  publicKey: fromHex(k.publicKey),
  secretKey: fromHex(k.secretKey),
});

interface Incoming {
  meta: ChatMessage;
  parts: Blob[];
  received: number;
}

const hexOf = (b: Uint8Array) => toHex(b);
const b64 = (b: Uint8Array) => toBase64(b);
const unb64 = (s: string) => fromBase64(s);

const ID_LABEL = encoder.encode("polycrypt-web/1 message id");

/**
 * A page's relay message id (docs/web.md section 4): `sentAt:u64 || random[4] || tag[4]`, `tag`
 * the first 4 bytes of SHA-256(label || the first 12 bytes). A page that receives a message with
 * such an id knows the sender is a page (it answers with receipts) and when it was sent; any other
 * id (the CLI's are random) is a message that wants no receipt.
 */
export function pageMessageId(sentAt: number): Uint8Array {
  const id = new Uint8Array(16);
  new DataView(id.buffer).setBigUint64(0, BigInt(sentAt));
  crypto.getRandomValues(id.subarray(8, 12));
  id.set(sha256(ID_LABEL, id.subarray(0, 12)).subarray(0, 4), 12);
  return id;
}

/** The send time of a page's message id, or undefined for any other id. */
export function pageSentAt(id: Uint8Array): number | undefined {
  if (id.length !== 16) return undefined;
  if (!equalBytes(sha256(ID_LABEL, id.subarray(0, 12)).subarray(0, 4), id.subarray(12))) {
    return undefined;
  }
  return Number(new DataView(id.buffer, id.byteOffset).getBigUint64(0));
}

/** `0x01 || u16 inviteLen || invite || kind || body`. */
export function encodePayload(kind: number, body: Uint8Array, invite?: string): Uint8Array {
  const inv = encoder.encode(invite ?? "");
  const out = new Uint8Array(4 + inv.length + body.length);
  out[0] = PAYLOAD_VERSION;
  new DataView(out.buffer).setUint16(1, inv.length);
  out.set(inv, 3);
  out[3 + inv.length] = kind;
  out.set(body, 4 + inv.length);
  return out;
}

/** Parses a payload: its invitation (if any), kind and body. */
export function decodePayload(
  plain: Uint8Array,
): { invitation?: string; kind: number; body: Uint8Array } {
  if (plain.length < 4 || plain[0] !== PAYLOAD_VERSION) throw new RangeError("unknown format");
  const inviteLen = new DataView(plain.buffer, plain.byteOffset).getUint16(1);
  if (plain.length < 4 + inviteLen) throw new RangeError("a damaged header");
  const invitation = inviteLen ? strict.decode(plain.subarray(3, 3 + inviteLen)) : undefined;
  return { invitation, kind: plain[3 + inviteLen], body: plain.subarray(4 + inviteLen) };
}

/** A piece's body: `transferId[16] || u64 offset || u8 flags || u8 nameLen || name || bytes`. */
export function encodePiece(
  transferId: Uint8Array,
  offset: number,
  last: boolean,
  name: string,
  bytes: Uint8Array,
): Uint8Array {
  const nameBytes = encoder.encode(name);
  const out = new Uint8Array(26 + nameBytes.length + bytes.length);
  out.set(transferId);
  new DataView(out.buffer).setBigUint64(16, BigInt(offset));
  out[24] = last ? LAST : 0;
  out[25] = nameBytes.length;
  out.set(nameBytes, 26);
  out.set(bytes, 26 + nameBytes.length);
  return out;
}

/** A file name as the CLI accepts it (no path, control or direction characters), else "file". */
function safeName(name: string): string {
  let n = name.trim().replace(/[/\\]/g, "_");
  while (encoder.encode(n).length > 255) n = n.slice(0, -1);
  try {
    return checkFileName(n);
  } catch {
    return "file";
  }
}

/** The web chat of one identity. */
export class Messenger extends EventTarget {
  readonly name: string;
  readonly fingerprint: string;
  readonly recipient: string;
  readonly invitation: string;
  readonly relayUrl: string;
  /** Contacts by fingerprint. */
  readonly contacts = new Map<string, Contact>();
  /** Conversations by fingerprint. */
  readonly chats = new Map<string, ChatMessage[]>();
  /** Whether the page's relay connection is up. */
  online = false;
  /** The conversation on screen (its incoming messages are read). */
  #visible: string | undefined;
  readonly #vault: Vault;
  readonly #account: Account;
  readonly #records: KeyValue;
  readonly #dataKey: Uint8Array;
  readonly #inboxKey: QueueKey;
  readonly #rid: Uint8Array;
  #relay: RelayClient | undefined;
  #connecting: Promise<RelayClient> | undefined;
  #closed = false;
  /** Files arriving, by sender and transfer id. */
  readonly #incoming = new Map<string, Incoming>();
  readonly #files = new Map<string, Blob>();
  readonly #sendChains = new Map<string, Promise<unknown>>();
  readonly #others = new Map<string, Promise<RelayClient>>();
  readonly #safetyNumbers = new Map<string, string>();
  /** Queue keys this page sends with (record `senders`). */
  #senders: SenderKey[] = [];
  /** Reply inboxes, one per contact written to (record `inboxes`). */
  #inboxes: ReplyInbox[] = [];
  /** Reply inboxes being made, by contact. */
  readonly #making = new Map<string, Promise<ReplyInbox>>();
  /** The queues subscribed on each connection (receiving ids, hex). */
  readonly #subscribed = new WeakMap<RelayClient, Set<string>>();
  #saveChain: Promise<unknown> = Promise.resolve();
  readonly #sessions: DeferredSessionStore;
  /** Account work and the flush of what it committed run one at a time (see #exclusive). */
  #accountChain: Promise<unknown> = Promise.resolve();
  /** The conversations a received message changed, written with its ratchet step. */
  #touched: Set<string> | undefined;

  private constructor(
    vault: Vault,
    account: Account,
    records: KeyValue,
    sessions: DeferredSessionStore,
  ) {
    super();
    this.#sessions = sessions;
    this.#vault = vault;
    this.name = vault.name;
    this.recipient = vault.recipient;
    this.fingerprint = fingerprint(vault.recipient);
    this.relayUrl = vault.relay;
    this.#account = account;
    this.#records = records;
    this.#dataKey = unb64(vault.dataKey);
    this.#rid = unb64(vault.inbox.rid);
    this.#inboxKey = {
      algorithm: vault.inbox.alg,
      publicKey: unb64(vault.inbox.pk),
      secretKey: unb64(vault.inbox.sk),
    };
    this.invitation = encodeInvitation({
      relay: vault.relay,
      sendId: unb64(vault.inbox.sid),
      recipient: vault.recipient,
    });
  }

  /** The database of this page (one identity per origin). */
  static async database(name = "polycrypt-web"): Promise<IDBDatabase> {
    return await openDatabase(name, ["sessions", "records"]);
  }

  /** Whether an identity is stored in `db`. */
  static async exists(db: IDBDatabase): Promise<boolean> {
    return (await new KeyValue(db, "records").get("vault")) !== undefined;
  }

  /**
   * First visit: a new identity (the default hybrid, with a signing key for sessions), an inbox
   * on the relay at `relayUrl` with published prekey bundles, all sealed under `passphrase`.
   */
  static async create(
    db: IDBDatabase,
    options: { name: string; passphrase: string; relayUrl: string },
  ): Promise<Messenger> {
    if (!options.passphrase) throw new RangeError("choose a passphrase");
    // Hybrid post-quantum encryption keys; an Ed25519 signing key (docs/web.md section 3: with
    // the composite ML-DSA key the invitation is too long for one QR code).
    const { identity, recipient } = await generateIdentity(IDENTITY_ENGINE, {
      signatureEngine: SIGNATURE_ENGINE,
    });
    const relay = await RelayClient.connect(options.relayUrl);
    let vault: Vault;
    try {
      const key = await generateQueueKey();
      const ids = await relay.create(key);
      vault = {
        name: options.name.trim() || "me",
        identity,
        recipient,
        dataKey: b64(crypto.getRandomValues(new Uint8Array(32))),
        relay: options.relayUrl,
        inbox: {
          rid: b64(ids.receivingId),
          sid: b64(ids.sendingId),
          alg: key.algorithm,
          pk: b64(key.publicKey),
          sk: b64(key.secretKey),
        },
      };
    } finally {
      await relay.close();
    }
    const sealed = await encrypt(encoder.encode(JSON.stringify(vault)), {
      passphrase: options.passphrase,
    });
    await new KeyValue(db, "records").commit([{ key: "vault", value: sealed as Uint8Array }]);
    return await Messenger.#open(db, vault);
  }

  /** Later visits: opens the stored identity with `passphrase` (DecryptionError when wrong). */
  static async unlock(db: IDBDatabase, passphrase: string): Promise<Messenger> {
    const sealed = await new KeyValue(db, "records").get("vault");
    if (!sealed) throw new Error("no identity is stored in this browser");
    const vault = JSON.parse(decoder.decode(await decrypt(sealed, { passphrase }))) as Vault;
    return await Messenger.#open(db, vault);
  }

  static async #open(db: IDBDatabase, vault: Vault): Promise<Messenger> {
    const sessions = new DeferredSessionStore(db);
    const account = await createAccount({ identity: vault.identity, store: sessions });
    const m = new Messenger(vault, account, new KeyValue(db, "records"), sessions);
    await m.#load();
    m.#connect().catch(() => {});
    return m;
  }

  // ---- sealed records ----

  async #seal(name: string, value: unknown): Promise<Uint8Array> {
    const aead = registry.aead("aes-256-gcm");
    const nonce = crypto.getRandomValues(new Uint8Array(aead.nonceSize));
    const sealed = await aead.seal(
      this.#dataKey,
      nonce,
      encoder.encode(JSON.stringify(value)),
      encoder.encode(`polycrypt-web record ${name}`),
    );
    return concatBytes(nonce, sealed);
  }

  async #unseal<T>(name: string): Promise<T | undefined> {
    const bytes = await this.#records.get(name);
    if (!bytes) return undefined;
    const aead = registry.aead("aes-256-gcm");
    const plain = await aead.open(
      this.#dataKey,
      bytes.subarray(0, aead.nonceSize),
      bytes.subarray(aead.nonceSize),
      encoder.encode(`polycrypt-web record ${name}`),
    );
    return JSON.parse(decoder.decode(plain)) as T;
  }

  async #load(): Promise<void> {
    for (const c of (await this.#unseal<Contact[]>("contacts")) ?? []) {
      this.contacts.set(c.fingerprint, c);
      const chat = (await this.#unseal<ChatMessage[]>(`chat/${c.fingerprint}`)) ?? [];
      // A send cut off by closing the page did not reach the relay.
      for (const m of chat) if (m.state === "sending") m.state = "failed";
      this.chats.set(c.fingerprint, chat);
    }
    this.#senders = (await this.#unseal<{ senders: SenderKey[] }>("senders"))?.senders ?? [];
    this.#inboxes = (await this.#unseal<{ inboxes: ReplyInbox[] }>("inboxes"))?.inboxes ?? [];
  }

  /** Writes the queue keys (`senders`) or the reply inboxes (`inboxes`) as they are now. */
  #saveQueues(name: "senders" | "inboxes"): Promise<void> {
    const run = async () => {
      const value = name === "senders"
        ? { version: 1, senders: this.#senders }
        : { version: 1, inboxes: this.#inboxes };
      await this.#records.commit([{ key: name, value: await this.#seal(name, value) }]);
    };
    const next = this.#saveChain.then(run, run);
    this.#saveChain = next.catch(() => {});
    return next;
  }

  /** Writes the contacts and the conversation with `fp` (in order, one at a time). */
  #save(fp?: string): Promise<void> {
    return this.#persist(fp ? [fp] : [], false);
  }

  /**
   * Writes the contacts and the conversations `fps`, and with `sessions` the account's waiting
   * commits, in one transaction; on the chain of writes, so snapshots land in the order taken.
   */
  #persist(fps: readonly string[], sessions: boolean): Promise<void> {
    const run = async () => {
      const changes = [{
        key: "contacts",
        value: await this.#seal("contacts", [...this.contacts.values()]),
      }];
      for (const fp of fps) {
        const name = `chat/${fp}`;
        changes.push({ key: name, value: await this.#seal(name, this.chats.get(fp) ?? []) });
      }
      if (sessions) await this.#sessions.flush([{ store: "records", changes }]);
      else await this.#records.commit(changes);
    };
    const next = this.#saveChain.then(run, run);
    this.#saveChain = next.catch(() => {});
    return next;
  }

  /**
   * Runs `fn` (account work) after every earlier one, then writes what the account committed:
   * the account's state is durable before anything that depends on it leaves the page, and a
   * received message's ratchet step lands with the conversation that shows it.
   */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = async () => {
      try {
        return await fn();
      } finally {
        const touched = this.#touched;
        this.#touched = undefined;
        // Nothing of the page's own changed (a file's middle piece): the account's commits alone.
        if (touched?.size) await this.#persist([...touched], true);
        else await this.#sessions.flush();
      }
    };
    const next = this.#accountChain.then(run, run);
    this.#accountChain = next.catch(() => {});
    return next;
  }

  /** Marks the conversation with `fp` changed: written with the message being received, if any. */
  #dirty(fp: string): Promise<void> {
    if (this.#touched) {
      this.#touched.add(fp);
      return Promise.resolve();
    }
    return this.#save(fp);
  }

  #changed(): void {
    this.dispatchEvent(new Event("change"));
  }

  // ---- the relay ----

  /** The relay connection, connecting (and subscribing to the inboxes) when needed. */
  #connect(): Promise<RelayClient> {
    if (this.#relay) return Promise.resolve(this.#relay);
    return this.#connecting ??= (async () => {
      let relay: RelayClient | undefined;
      try {
        relay = await RelayClient.connect(this.relayUrl);
        this.#relay = relay;
        await this.#listen(relay, { rid: this.#rid, key: this.#inboxKey });
        for (const reply of [...this.#inboxes]) await this.#listen(relay, replyQueue(reply));
        this.online = true;
        this.#changed();
        this.#publishBundles(relay)
          .then(() => this.#publishReplyBundles(relay!))
          .catch((e) => this.#error(e));
        return relay;
      } catch (e) {
        if (relay && this.#relay === relay) {
          this.#relay = undefined;
          relay.close().catch(() => {});
        }
        throw e;
      } finally {
        this.#connecting = undefined;
      }
    })();
  }

  /** Subscribes `relay` to `queue` (once per connection) and reads what it pushes. */
  async #listen(relay: RelayClient, queue: Queue): Promise<void> {
    const name = hexOf(queue.rid);
    let done = this.#subscribed.get(relay);
    if (!done) this.#subscribed.set(relay, done = new Set());
    if (done.has(name)) return;
    done.add(name);
    this.#receive(relay, queue, await relay.subscribe(queue.rid, queue.key));
  }

  /** After a connection failed: try again in 1 s, then every 3 s. */
  #reconnect(): void {
    this.#relay = undefined;
    this.online = false;
    this.#changed();
    if (this.#closed) return;
    const attempt = (delay: number) =>
      setTimeout(() => {
        if (this.#closed) return;
        this.#connect().catch(() => attempt(3000));
      }, delay);
    attempt(1000);
  }

  /** A connection to a contact's relay: this page's own, or one more kept open for sending. */
  async #relayFor(url: string): Promise<RelayClient> {
    if (sameRelay(url, this.relayUrl)) return await this.#connect();
    const key = new URL(url).href;
    let client = this.#others.get(key);
    if (!client) {
      client = RelayClient.connect(url);
      this.#others.set(key, client);
      client.catch(() => this.#others.delete(key));
    }
    return await client;
  }

  /** Forgets a failed connection, so that the next attempt opens a new one. */
  #dropRelay(url: string, client: RelayClient): void {
    if (sameRelay(url, this.relayUrl)) {
      if (this.#relay === client) client.close().catch(() => {});
      return;
    }
    this.#others.delete(new URL(url).href);
    client.close().catch(() => {});
  }

  /**
   * Keeps the inbox's prekey bundles fresh, as the CLI's `fetch` does (relay.md section 12): when
   * fewer than 5 one-time bundles are left or the last set is older than the signed prekey's
   * rotation (7 days), a new set of 10 replaces them, with a new last-resort bundle.
   */
  async #publishBundles(relay: RelayClient): Promise<void> {
    const left = await relay.publish(this.#rid, this.#inboxKey, []);
    const last = (await this.#unseal<{ at: number }>("bundles"))?.at ?? 0;
    if (left >= 5 && Date.now() - last < PREKEY_ROTATION_MS) return;
    // The new prekeys are stored before the relay sees the bundles that name them.
    const bundle = await this.#exclusive(() =>
      this.#account.prekeyBundle({ oneTimeKeys: BUNDLES })
    );
    const { opks, pqopks } = attachedPrekeyIds(bundle);
    const oneTime = opks.map((opk, i) => trimBundle(bundle, { opk, pqopk: pqopks[i] }));
    await relay.publish(this.#rid, this.#inboxKey, oneTime, { replace: true });
    await relay.publish(this.#rid, this.#inboxKey, [trimBundle(bundle, {})], { lastResort: true });
    await this.#records.commit([{
      key: "bundles",
      value: await this.#seal("bundles", { at: Date.now() }),
    }]);
  }

  /**
   * Reply inboxes hold a last-resort bundle only (the contact has a session already); it is
   * published again when a week old, as the CLI's `fetch` does (relay.md section 13).
   */
  async #publishReplyBundles(relay: RelayClient): Promise<void> {
    const stale = this.#inboxes.filter((r) =>
      Date.now() - Date.parse(r.published) >= PREKEY_ROTATION_MS
    );
    if (stale.length === 0) return;
    const bundle = await this.#exclusive(() => this.#account.prekeyBundle({ oneTimeKeys: 0 }));
    for (const reply of stale) {
      const q = replyQueue(reply);
      await relay.publish(q.rid, q.key, [trimBundle(bundle, {})], { lastResort: true });
      reply.published = new Date().toISOString();
    }
    await this.#saveQueues("inboxes");
  }

  async #receive(
    relay: RelayClient,
    queue: Queue,
    messages: AsyncIterable<{ id: Uint8Array; envelope: Uint8Array }>,
  ): Promise<void> {
    try {
      for await (const message of messages) {
        let failure: unknown;
        // Decrypted, shown and written (ratchet step and conversation in one transaction), then
        // acknowledged: a page closed before the write gets the message again. A write that
        // fails throws out of here without the ACK (the connection is dropped and renewed).
        await this.#exclusive(async () => {
          this.#touched = new Set();
          try {
            await this.#handle(message.id, message.envelope, queue, relay);
          } catch (e) {
            failure = e;
            // Left for the relay to deliver again: its ratchet step is not written either.
            if (e instanceof KeyNotDone) this.#sessions.discard();
          }
        });
        // A KEY to try again: no ACK; the connection is renewed below, which delivers it again.
        if (failure instanceof KeyNotDone) throw failure;
        // Not for us, a replay, or damaged: nothing to show; acknowledged so it goes.
        if (failure) this.#error(failure);
        await relay.ack(queue.rid, queue.key, message.id);
      }
    } catch (e) {
      // the connection failed, or a write did: reconnect below (once per connection, whichever
      // of its subscriptions notices first)
      if (this.#relay === relay) {
        this.#reconnect();
        await relay.close().catch(() => {});
      }
      if (!(e instanceof Error && /relay connection|closed/.test(e.message))) this.#error(e);
      return;
    }
    if (this.#relay === relay) {
      this.#reconnect();
      await relay.close().catch(() => {});
    }
  }

  #error(e: unknown): void {
    this.dispatchEvent(new CustomEvent("problem", { detail: String((e as Error)?.message ?? e) }));
  }

  /** A note for the user that is not a problem (an inbox was secured). */
  #notice(text: string): void {
    this.dispatchEvent(new CustomEvent("notice", { detail: text }));
  }

  // ---- contacts ----

  /**
   * Adds (or renames) a contact from their invitation; resolves with the contact. Compare the
   * {@linkcode Messenger.safetyNumber} with them. Nothing is sent until the first message, which
   * carries this page's invitation so that they can answer.
   */
  async addContact(name: string, invitationText: string): Promise<Contact> {
    const invitation = parseInvitation(invitationText);
    const fp = fingerprint(invitation.recipient);
    if (fp === this.fingerprint) throw new RangeError("that is your own invitation");
    const existing = this.contacts.get(fp);
    const contact: Contact = {
      fingerprint: fp,
      name: name.trim().slice(0, 64) || existing?.name || fp.slice(0, 9),
      recipient: invitation.recipient,
      invitation: encodeInvitation(invitation),
      added: existing?.added ?? Date.now(),
    };
    this.contacts.set(fp, contact);
    if (!this.chats.has(fp)) this.chats.set(fp, []);
    await this.#save(fp);
    this.#changed();
    return contact;
  }

  /** The safety number of a contact (docs/contacts.md section 2): 60 digits, 12 groups, 3 lines. */
  safetyNumber(fp: string): string {
    const contact = this.contacts.get(fp);
    if (!contact) throw new RangeError("no such contact");
    // 5,200 SHA-512 iterations per side (about 100 ms in a page): computed once per key.
    const cached = this.#safetyNumbers.get(contact.recipient);
    if (cached) return cached;
    const number = formatSafetyNumber(safetyNumber(this.recipient, contact.recipient));
    this.#safetyNumbers.set(contact.recipient, number);
    return number;
  }

  /** Marks the conversation on screen: its incoming messages become read (and say so). */
  show(fp: string | undefined): void {
    this.#visible = fp;
    if (fp) this.#markRead(fp);
  }

  /** A file's content (received or sent in this page session), or undefined. */
  file(id: string): Blob | undefined {
    return this.#files.get(id);
  }

  // ---- sending ----

  /**
   * Encrypts `payload` in the session with `contact` (starting one from a bundle fetched from
   * their relay when there is none) and deposits it in their queue (`invitation`, default the
   * contact's current one) under `messageId`, retried with the same id until the relay stored
   * it. Messages to one contact go in order. Before the first one into a queue, the message
   * announcing this page's queue key for it (docs/relay.md section 13, "Securing").
   */
  #deposit(
    contact: Contact,
    payload: Uint8Array,
    messageId: Uint8Array,
    invitation?: string,
  ): Promise<void> {
    const run = async () => {
      const text = invitation ?? contact.invitation;
      if (!text) throw new Error(`${contact.name} sent no invitation: add theirs to answer`);
      const { relay: url, sendId } = parseInvitation(text);
      const sender = await this.#senderKey(url, sendId);
      if (!sender.announced && !sender.secured) {
        const key = hexKey(sender.key);
        const announce = encodePayload(
          QUEUE_KEY,
          encodeAuthKey({ algorithm: key.algorithm, publicKey: key.publicKey }),
        );
        await this.#depositOne(contact, url, sendId, sender, announce, randomId());
        sender.announced = new Date().toISOString();
        await this.#saveQueues("senders");
      }
      await this.#depositOne(contact, url, sendId, sender, payload, messageId);
    };
    const chain = this.#sendChains.get(contact.fingerprint) ?? Promise.resolve();
    const next = chain.then(run, run);
    this.#sendChains.set(contact.fingerprint, next.catch(() => {}));
    return next;
  }

  /**
   * This page's queue key for the queue `sendId` on `url`: a fresh Ed25519 one the first time,
   * written to IndexedDB before it is returned (so before it is ever announced or used).
   */
  async #senderKey(url: string, sendId: Uint8Array): Promise<SenderKey> {
    const sid = hexOf(sendId);
    const known = this.#senders.find((r) => r.relay === url && r.sendingId === sid);
    if (known) return known;
    const key = await generateQueueKey();
    const record: SenderKey = {
      relay: url,
      sendingId: sid,
      key: {
        algorithm: key.algorithm,
        publicKey: hexOf(key.publicKey),
        secretKey: hexOf(key.secretKey),
      },
      created: new Date().toISOString(),
    };
    this.#senders.push(record);
    await this.#saveQueues("senders");
    return record;
  }

  /**
   * One session message into one queue: unsigned until the relay refuses it with AUTH (the
   * recipient secured the queue), then the same command signed with the queue key, and every
   * later one signed (docs/relay.md section 13, "Securing", step 3).
   */
  async #depositOne(
    contact: Contact,
    url: string,
    sendId: Uint8Array,
    sender: SenderKey,
    payload: Uint8Array,
    messageId: Uint8Array,
  ): Promise<void> {
    let envelope: Uint8Array | undefined;
    let signed = sender.secured !== undefined;
    for (let attempt = 0;; attempt++) {
      let relay: RelayClient | undefined;
      try {
        relay = await this.#relayFor(url);
        if (!envelope) {
          const r = relay;
          envelope = await this.#exclusive(async () => {
            if (await this.#account.sessionId(contact.fingerprint)) {
              return await this.#account.encrypt(contact.fingerprint, payload);
            }
            const bundle = await r.fetchBundle(sendId);
            if (!bundle) throw new Final(`${contact.name} has no prekeys left on the relay`);
            try {
              await parseBundle(bundle, { expect: contact.recipient });
            } catch (e) {
              throw new Final(
                `the relay gave a prekey bundle that is not ${contact.name}'s: ${e}`,
              );
            }
            return await this.#account.encrypt(bundle, payload);
          });
        }
        const key = signed ? hexKey(sender.key) : undefined;
        try {
          await relay.send(sendId, envelope, { messageId, key });
        } catch (e) {
          if (signed || !(e instanceof RelayError && e.code === RELAY_ERROR.AUTH)) throw e;
          // Refused unsigned: secured, to this key if the recipient read the announcement.
          signed = true;
          await relay.send(sendId, envelope, { messageId, key: hexKey(sender.key) });
        }
        if (signed && !sender.secured) {
          sender.secured = new Date().toISOString();
          await this.#saveQueues("senders");
        }
        return;
      } catch (e) {
        if (e instanceof RelayError && e.code === RELAY_ERROR.AUTH) throw new Final(REFUSED_AUTH);
        // A full queue (the contact is offline with a big file waiting) or a lost connection:
        // wait and send the same envelope again; any other refusal is final.
        const quota = e instanceof RelayError && e.code === RELAY_ERROR.QUOTA;
        if ((e instanceof RelayError && !quota) || e instanceof Final) throw e;
        if (attempt >= 900) throw e;
        if (relay && !quota) this.#dropRelay(url, relay);
        await new Promise((r) => setTimeout(r, quota ? 2000 : 1000));
      }
    }
  }

  /**
   * The invitation this page hands `contact` inside messages: a reply inbox of its own made for
   * them (docs/relay.md section 13, "Reply inboxes"), which they secure with the key they
   * announce; the page's shared inbox when the relay cannot make one now.
   */
  async #myInvitation(contact: Contact): Promise<string> {
    const fp = contact.fingerprint;
    const made = this.#inboxes.find((r) => r.contact === fp);
    if (made) return made.invitation;
    let making = this.#making.get(fp);
    if (!making) {
      making = this.#makeReplyInbox(fp);
      this.#making.set(fp, making);
      making.then(() => this.#making.delete(fp), () => this.#making.delete(fp));
    }
    try {
      return (await making).invitation;
    } catch {
      return this.invitation;
    }
  }

  /** NEW on this page's relay, its last-resort bundle, the record written, then subscribed. */
  async #makeReplyInbox(fp: string): Promise<ReplyInbox> {
    const relay = await this.#connect();
    const key = await generateQueueKey();
    const ids = await relay.create(key);
    const bundle = await this.#exclusive(() => this.#account.prekeyBundle({ oneTimeKeys: 0 }));
    await relay.publish(ids.receivingId, key, [trimBundle(bundle, {})], { lastResort: true });
    const now = new Date().toISOString();
    const reply: ReplyInbox = {
      relay: this.relayUrl,
      receivingId: hexOf(ids.receivingId),
      sendingId: hexOf(ids.sendingId),
      key: {
        algorithm: key.algorithm,
        publicKey: hexOf(key.publicKey),
        secretKey: hexOf(key.secretKey),
      },
      invitation: encodeInvitation({
        relay: this.relayUrl,
        sendId: ids.sendingId,
        recipient: this.recipient,
      }),
      created: now,
      published: now,
      secure: true,
      contact: fp,
    };
    this.#inboxes.push(reply);
    await this.#saveQueues("inboxes");
    const current = this.#relay;
    if (current) await this.#listen(current, replyQueue(reply)).catch((e) => this.#error(e));
    return reply;
  }

  #push(fp: string, message: ChatMessage): void {
    const chat = this.chats.get(fp) ?? [];
    chat.push(message);
    this.chats.set(fp, chat);
  }

  /** Sends a text; its state goes sending, queued (the relay holds it), delivered, read. */
  async sendText(fp: string, text: string): Promise<ChatMessage> {
    const contact = this.contacts.get(fp);
    if (!contact) throw new RangeError("no such contact");
    const sentAt = Date.now();
    const id = pageMessageId(sentAt);
    const message: ChatMessage = {
      id: hexOf(id),
      direction: "out",
      text,
      sentAt,
      state: "sending",
    };
    this.#push(fp, message);
    this.#changed();
    await this.#save(fp);
    try {
      await this.#deposit(
        contact,
        encodePayload(KIND.text, encoder.encode(text), await this.#myInvitation(contact)),
        id,
      );
      if (message.state === "sending") message.state = "queued";
    } catch (e) {
      message.state = "failed";
      this.#error(e);
    }
    await this.#save(fp);
    this.#changed();
    return message;
  }

  /**
   * Sends a file (up to 100 MiB) in 512 KiB pieces, each its own session message, read from
   * the Blob piece by piece (constant memory). The message's id is its first piece's.
   */
  async sendFile(fp: string, file: Blob & { name?: string }): Promise<ChatMessage> {
    const contact = this.contacts.get(fp);
    if (!contact) throw new RangeError("no such contact");
    if (file.size > MAX_FILE_BYTES) throw new RangeError("files up to 100 MiB");
    const name = safeName(file.name ?? "file");
    const transferId = crypto.getRandomValues(new Uint8Array(16));
    const sentAt = Date.now();
    const first = pageMessageId(sentAt);
    const message: ChatMessage = {
      id: hexOf(first),
      direction: "out",
      file: { name, size: file.size },
      sentAt,
      state: "sending",
      progress: [0, file.size],
    };
    this.#push(fp, message);
    this.#files.set(message.id, file);
    this.#changed();
    try {
      const mine = await this.#myInvitation(contact);
      // All pieces into one queue, in order, even if the contact's invitation changes meanwhile.
      const queue = contact.invitation;
      let offset = 0;
      do {
        const end = Math.min(file.size, offset + PART_BYTES);
        const bytes = new Uint8Array(await file.slice(offset, end).arrayBuffer());
        const last = end === file.size;
        const body = encodePiece(transferId, offset, last, name, bytes);
        const payload = encodePayload(KIND.piece, body, offset === 0 ? mine : "");
        const id = offset === 0 ? first : pageMessageId(Date.now());
        await this.#deposit(contact, payload, id, queue);
        offset = end;
        message.progress = [offset, file.size];
        this.#changed();
      } while (offset < file.size);
      if (message.state === "sending") message.state = "queued";
    } catch (e) {
      message.state = "failed";
      this.#error(e);
    }
    await this.#save(fp);
    this.#changed();
    return message;
  }

  // ---- receiving ----

  async #handle(
    relayId: Uint8Array,
    envelope: Uint8Array,
    queue: Queue,
    relay: RelayClient,
  ): Promise<void> {
    const { from, data } = await this.#account.decrypt(envelope);
    const { invitation, kind, body } = decodePayload(data);
    const contact = await this.#learn(from, invitation);
    const sentAt = pageSentAt(relayId);
    switch (kind) {
      case KIND.text:
        return await this.#onText(contact, relayId, sentAt, strict.decode(body));
      case KIND.piece:
        return await this.#onPiece(contact, relayId, sentAt, body);
      case KIND.receipt:
        return await this.#onReceipt(contact, body);
      case QUEUE_KEY:
        // A sender's queue key (docs/relay.md section 13): the message decrypted, so the session
        // authenticated the sender; a reply inbox made for them is secured with it.
        return await this.#secure(relay, queue, contact, body);
      default:
        throw new RangeError(`a message of an unknown kind (${kind}) was dropped`);
    }
  }

  /**
   * Secures a reply inbox to the queue key its contact announced (docs/relay.md section 13,
   * "Securing", step 4): KEY(RID, SK), then `securedTo` written, before the message's ACK (a
   * page closed in between gets the message again and repeats KEY, which the relay answers OK).
   * The page's own inbox is shared and never secured: an announcement there is ignored.
   */
  async #secure(relay: RelayClient, queue: Queue, contact: Contact, body: Uint8Array) {
    const reply = queue.reply;
    let key: AuthKey;
    try {
      key = parseAuthKey(body);
    } catch {
      throw new RangeError(`a damaged queue key from ${contact.name} was dropped`);
    }
    if (!reply) return;
    const publicKey = hexOf(key.publicKey);
    if (reply.securedTo) {
      if (reply.securedTo.publicKey === publicKey) return;
      return this.#notice(
        `${contact.name} offered a key for an inbox secured to another sender: ignored`,
      );
    }
    if (reply.contact !== contact.fingerprint) {
      return this.#notice(
        `${contact.name} offered a key for an inbox made for someone else: ignored`,
      );
    }
    let size: number | undefined;
    try {
      size = registry.signature(key.algorithm).publicKeySize;
    } catch { /* not a registered engine */ }
    if (size !== key.publicKey.length) {
      throw new RangeError(`a queue key of an unknown kind from ${contact.name} was dropped`);
    }
    try {
      await relay.secure(queue.rid, queue.key, key);
    } catch (e) {
      // Final: AUTH (secured to another key meanwhile) and SYNTAX (a key the relay does not
      // take). Anything else is tried again: the message waits on the relay (KeyNotDone).
      const final = e instanceof RelayError &&
        (e.code === RELAY_ERROR.AUTH || e.code === RELAY_ERROR.SYNTAX);
      if (final) {
        return this.#notice(
          `the relay did not secure your inbox for ${contact.name}: ${e.codeName}`,
        );
      }
      throw new KeyNotDone(
        `the relay did not secure your inbox for ${contact.name} (${
          e instanceof RelayError ? e.codeName : "no answer"
        }): trying again`,
      );
    }
    reply.securedTo = {
      fingerprint: contact.fingerprint,
      algorithm: key.algorithm,
      publicKey,
      at: new Date().toISOString(),
    };
    await this.#saveQueues("inboxes");
    this.#notice(
      `your inbox for ${contact.name} is now secured: the relay takes messages there ` +
        `from ${contact.name} only`,
    );
  }

  /**
   * The sender's contact. A stranger becomes one (named by fingerprint until the user adds their
   * invitation with a name); an invitation in the message, if it is the sender's own (the session
   * proved who sent it), is where to answer.
   */
  async #learn(from: string, invitationText: string | undefined): Promise<Contact> {
    let contact = this.contacts.get(from);
    let invitation: string | undefined;
    if (invitationText) {
      const parsed = parseInvitation(invitationText);
      if (fingerprint(parsed.recipient) !== from) {
        throw new Error("a message carrying someone else's invitation was dropped");
      }
      invitation = encodeInvitation(parsed);
    }
    if (contact && (!invitation || contact.invitation === invitation)) return contact;
    if (contact) {
      contact.invitation = invitation;
    } else {
      const info = (await this.#account.sessions()).find((s) => s.fingerprint === from);
      if (!info) throw new Error("a message from a peer without a session");
      contact = {
        fingerprint: from,
        name: from.slice(0, 9),
        recipient: info.recipient,
        invitation,
        added: Date.now(),
      };
      this.contacts.set(from, contact);
      this.chats.set(from, this.chats.get(from) ?? []);
    }
    await this.#dirty(from);
    this.#changed();
    return contact;
  }

  async #onText(contact: Contact, relayId: Uint8Array, sentAt: number | undefined, text: string) {
    const fp = contact.fingerprint;
    const id = hexOf(relayId);
    if ((this.chats.get(fp) ?? []).some((m) => m.id === id)) return;
    const now = Date.now();
    this.#push(fp, {
      id,
      direction: "in",
      text,
      sentAt: sentAt ?? now,
      receivedAt: now,
      state: "delivered",
      receipts: sentAt !== undefined,
    });
    await this.#dirty(fp);
    this.#changed();
    if (sentAt !== undefined) this.#receipt(contact, DELIVERED, [id]);
    if (this.#visible === fp) this.#markRead(fp);
  }

  async #onPiece(
    contact: Contact,
    relayId: Uint8Array,
    sentAt: number | undefined,
    body: Uint8Array,
  ) {
    const fp = contact.fingerprint;
    if (body.length < 26 || body.length < 26 + body[25]) throw new RangeError("a damaged piece");
    const transfer = `${fp}/${hexOf(body.subarray(0, 16))}`;
    const offset = Number(new DataView(body.buffer, body.byteOffset).getBigUint64(16));
    const last = (body[24] & LAST) !== 0;
    const name = safeName(strict.decode(body.subarray(26, 26 + body[25])));
    const bytes = body.subarray(26 + body[25]);
    let incoming = this.#incoming.get(transfer);
    if (!incoming) {
      if (offset !== 0) throw new RangeError(`a piece of ${name} whose start is missing`);
      const now = Date.now();
      const meta: ChatMessage = {
        id: hexOf(relayId),
        direction: "in",
        file: { name, size: 0 },
        sentAt: sentAt ?? now,
        receivedAt: now,
        state: "receiving",
        progress: [0, 0],
        receipts: sentAt !== undefined,
      };
      this.#push(fp, meta);
      incoming = { meta, parts: [], received: 0 };
      this.#incoming.set(transfer, incoming);
    }
    if (offset !== incoming.received || incoming.received + bytes.length > MAX_FILE_BYTES) {
      this.#incoming.delete(transfer);
      incoming.meta.state = "failed";
      this.#changed();
      throw new RangeError(`a piece of ${name} is missing: the file was dropped`);
    }
    incoming.parts.push(new Blob([bytes.slice()]));
    incoming.received += bytes.length;
    incoming.meta.progress = [incoming.received, 0];
    incoming.meta.file = { name, size: incoming.received };
    if (last) {
      this.#incoming.delete(transfer);
      this.#files.set(incoming.meta.id, new Blob(incoming.parts));
      incoming.meta.state = "delivered";
      incoming.meta.progress = undefined;
      await this.#dirty(fp);
      if (incoming.meta.receipts) this.#receipt(contact, DELIVERED, [incoming.meta.id]);
      if (this.#visible === fp) this.#markRead(fp);
    }
    this.#changed();
  }

  async #onReceipt(contact: Contact, body: Uint8Array): Promise<void> {
    const state = body[0] === READ ? "read" : body[0] === DELIVERED ? "delivered" : undefined;
    if (!state || (body.length - 1) % 16 !== 0) throw new RangeError("a malformed receipt");
    const ids = new Set<string>();
    for (let at = 1; at < body.length; at += 16) ids.add(hexOf(body.subarray(at, at + 16)));
    let changed = false;
    for (const m of this.chats.get(contact.fingerprint) ?? []) {
      if (m.direction !== "out" || !ids.has(m.id) || m.state === "read") continue;
      m.state = state;
      changed = true;
    }
    if (changed) {
      await this.#dirty(contact.fingerprint);
      this.#changed();
    }
  }

  /** Sends a receipt (delivered or read) for `ids` (hex) to a page `contact`. */
  #receipt(contact: Contact, state: number, ids: string[]): void {
    if (ids.length === 0 || !contact.invitation) return;
    const body = new Uint8Array(1 + 16 * ids.length);
    body[0] = state;
    ids.forEach((id, i) => body.set(fromHex(id), 1 + 16 * i));
    this.#deposit(contact, encodePayload(KIND.receipt, body), pageMessageId(Date.now()))
      .catch((e) => this.#error(e));
  }

  #markRead(fp: string): void {
    const contact = this.contacts.get(fp);
    if (!contact) return;
    const unread = (this.chats.get(fp) ?? []).filter((m) =>
      m.direction === "in" && m.state === "delivered"
    );
    if (unread.length === 0) return;
    for (const m of unread) m.state = "read";
    this.#save(fp).catch((e) => this.#error(e));
    this.#receipt(contact, READ, unread.filter((m) => m.receipts).map((m) => m.id));
    this.#changed();
  }

  /** Closes the relay connections and the account. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#relay?.close().catch(() => {});
    for (const other of this.#others.values()) {
      await other.then((c) => c.close(), () => {}).catch(() => {});
    }
    await this.#account.close();
  }
}

/** A failure that sending again cannot cure. */
class Final extends Error {}

/**
 * KEY failed for a reason that may pass (docs/relay.md section 13, "Securing", step 4: anything
 * but AUTH and SYNTAX, or a dropped connection): the announcing message is left unacknowledged,
 * its ratchet step dropped, and the connection renewed, so the relay delivers it again and KEY
 * is tried again.
 */
class KeyNotDone extends Error {}

/** 16 random bytes: the relay message id of a queue-key announcement (as the CLI's). */
function randomId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

/** The queue of a reply inbox record. */
function replyQueue(reply: ReplyInbox): Queue {
  return { rid: fromHex(reply.receivingId), key: hexKey(reply.key), reply };
}

/** Whether two relay URLs name the same relay (`ws://h:1` and `ws://h:1/` do). */
function sameRelay(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}
