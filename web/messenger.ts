/// <reference lib="dom" />
/**
 * The web chat's engine (docs/web.md): one identity, its inbox on a relay, its contacts and
 * conversations, with no DOM. The page (`web/app.ts`) draws what this holds and calls its methods.
 *
 * - The identity, the inbox's keys and a random data key live in one record sealed under the
 *   user's passphrase (`encrypt(..., { passphrase })`: the cascade's Argon2id layer, as
 *   `polycrypt keygen -p`). Contacts and conversations are records sealed with the data key
 *   (AES-256-GCM); sessions are in an {@linkcode IndexedDbSessionStore}, sealed by the account.
 * - Every message to a contact is a session message (docs/sessions.md) deposited in the contact's
 *   relay queue; what it carries is the web payload of docs/web.md section 4.
 *
 * @module
 */
import { decrypt, encrypt, generateIdentity, registry } from "../mod.ts";
import { fingerprint, formatSafetyNumber, safetyNumber } from "../contacts/fingerprint.ts";
import { type Account, createAccount } from "../sessions/account.ts";
import { attachedPrekeyIds, parseBundle, trimBundle } from "../sessions/bundle.ts";
import { RelayClient } from "../relay/client.ts";
import type { QueueKey } from "../relay/client.ts";
import { generateQueueKey } from "../relay/client.ts";
import { RELAY_ERROR, RelayError } from "../relay/protocol.ts";
import { encodeInvitation, parseInvitation } from "../relay/invite.ts";
import { fromBase64, fromHex, toBase64, toHex } from "../engines/_bytes.ts";
import { IndexedDbSessionStore, KeyValue, openDatabase } from "./indexeddb_store.ts";

/** The payload kinds of docs/web.md section 4. */
export const KIND = Object.freeze({
  hello: 0x48,
  text: 0x74,
  file: 0x66,
  part: 0x70,
  receipt: 0x72,
});

/** Bytes of a file part (docs/web.md section 4): 512 KiB, one envelope under the relay's 1 MiB. */
export const PART_BYTES = 512 * 1024;
/** The largest file the page sends: 100 MiB. */
export const MAX_FILE_BYTES = 100 * 1024 * 1024;
/** The web identity's encryption keys: the CLI's default hybrid. */
export const IDENTITY_ENGINE = "x25519+ml-kem-768";
/** The web identity's signing key (bundles, hellos): Ed25519, so an invitation fits a QR code. */
export const SIGNATURE_ENGINE = "ed25519";
/** One-time prekey bundles published to the relay at a time. */
const BUNDLES = 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A contact as the page keeps it. */
export interface Contact {
  readonly fingerprint: string;
  name: string;
  readonly recipient: string;
  /** Where to reach them: their relay and queue (from their invitation). */
  invitation?: string;
  readonly added: number;
}

/** What a message shows. */
export type MessageState = "sending" | "receiving" | "queued" | "delivered" | "read" | "failed";

/** One message of a conversation. */
export interface ChatMessage {
  /** 16 random bytes in hex, the sender's. */
  readonly id: string;
  readonly direction: "in" | "out";
  readonly text?: string;
  readonly file?: { name: string; size: number; type: string };
  /** The sender's clock, ms since 1970. */
  readonly sentAt: number;
  /** When this page received it (incoming). */
  receivedAt?: number;
  state: MessageState;
  /** Files: parts done out of parts (sent, or received). */
  progress?: [number, number];
}

interface Vault {
  name: string;
  identity: string;
  recipient: string;
  dataKey: string;
  relay: string;
  inbox: { rid: string; sid: string; alg: string; pk: string; sk: string };
}

interface Incoming {
  meta: ChatMessage;
  parts: Blob[];
  received: number;
  total: number;
}

const hexOf = (b: Uint8Array) => toHex(b);
const b64 = (b: Uint8Array) => toBase64(b);
const unb64 = (s: string) => fromBase64(s);
const randomId = () => crypto.getRandomValues(new Uint8Array(16));

function u64(view: DataView, at: number, value: number): void {
  view.setBigUint64(at, BigInt(value));
}

/** Splits `kind || body`. */
function kindOf(payload: Uint8Array): [number, Uint8Array] {
  if (payload.length === 0) throw new RangeError("empty payload");
  return [payload[0], payload.subarray(1)];
}

/** Encodes a text message: kind || id[16] || sentAt:u64 || UTF-8 text. */
export function encodeText(id: Uint8Array, sentAt: number, text: string): Uint8Array {
  const body = encoder.encode(text);
  const out = new Uint8Array(1 + 16 + 8 + body.length);
  out[0] = KIND.text;
  out.set(id, 1);
  u64(new DataView(out.buffer), 17, sentAt);
  out.set(body, 25);
  return out;
}

/** Encodes a file header: kind || id[16] || sentAt:u64 || size:u64 || parts:u32 || JSON meta. */
export function encodeFileHeader(
  id: Uint8Array,
  sentAt: number,
  size: number,
  parts: number,
  meta: { name: string; type: string },
): Uint8Array {
  const json = encoder.encode(JSON.stringify({ name: meta.name, type: meta.type }));
  const out = new Uint8Array(1 + 16 + 8 + 8 + 4 + json.length);
  const view = new DataView(out.buffer);
  out[0] = KIND.file;
  out.set(id, 1);
  u64(view, 17, sentAt);
  u64(view, 25, size);
  view.setUint32(33, parts);
  out.set(json, 37);
  return out;
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
  readonly #incoming = new Map<string, Incoming>();
  readonly #files = new Map<string, Blob>();
  readonly #sendChains = new Map<string, Promise<unknown>>();
  #saveChain: Promise<unknown> = Promise.resolve();

  private constructor(vault: Vault, account: Account, records: KeyValue) {
    super();
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
    const account = await createAccount({
      identity: vault.identity,
      store: new IndexedDbSessionStore(db),
    });
    const m = new Messenger(vault, account, new KeyValue(db, "records"));
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
    const out = new Uint8Array(nonce.length + sealed.length);
    out.set(nonce);
    out.set(sealed, nonce.length);
    return out;
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
  }

  /** Writes the contacts and the conversation with `fp` (in order, one at a time). */
  #save(fp?: string): Promise<void> {
    const run = async () => {
      const changes = [{
        key: "contacts",
        value: await this.#seal("contacts", [...this.contacts.values()]),
      }];
      if (fp) {
        const name = `chat/${fp}`;
        changes.push({ key: name, value: await this.#seal(name, this.chats.get(fp) ?? []) });
      }
      await this.#records.commit(changes);
    };
    const next = this.#saveChain.then(run, run);
    this.#saveChain = next.catch(() => {});
    return next;
  }

  #changed(): void {
    this.dispatchEvent(new Event("change"));
  }

  // ---- the relay ----

  /** The relay connection, connecting (and subscribing to the inbox) when needed. */
  #connect(): Promise<RelayClient> {
    if (this.#relay) return Promise.resolve(this.#relay);
    return this.#connecting ??= (async () => {
      try {
        const relay = await RelayClient.connect(this.relayUrl);
        this.#relay = relay;
        const messages = await relay.subscribe(this.#rid, this.#inboxKey);
        this.online = true;
        this.#changed();
        this.#publishBundles(relay).catch((e) => this.#error(e));
        this.#receive(relay, messages);
        return relay;
      } finally {
        this.#connecting = undefined;
      }
    })();
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

  async #publishBundles(relay: RelayClient): Promise<void> {
    const bundle = await this.#account.prekeyBundle({ oneTimeKeys: BUNDLES });
    const { opks, pqopks } = attachedPrekeyIds(bundle);
    const oneTime = opks.map((opk, i) => trimBundle(bundle, { opk, pqopk: pqopks[i] }));
    await relay.publish(this.#rid, this.#inboxKey, oneTime, { replace: true });
    await relay.publish(this.#rid, this.#inboxKey, [trimBundle(bundle, {})], { lastResort: true });
  }

  async #receive(
    relay: RelayClient,
    messages: AsyncIterable<{ id: Uint8Array; envelope: Uint8Array }>,
  ) {
    try {
      for await (const message of messages) {
        try {
          await this.#handle(message.envelope);
        } catch (e) {
          // Not for us, a replay, or damaged: nothing to show; acknowledged so it goes.
          this.#error(e);
        }
        await relay.ack(this.#rid, this.#inboxKey, message.id);
      }
    } catch {
      // the connection failed: reconnect below
    }
    if (this.#relay === relay) this.#reconnect();
  }

  #error(e: unknown): void {
    this.dispatchEvent(new CustomEvent("problem", { detail: String((e as Error)?.message ?? e) }));
  }

  // ---- contacts ----

  /**
   * Adds a contact from their invitation: resolves with the contact and the safety number to
   * compare with them. Sends them a hello (our own invitation, inside the session) so that they
   * can answer even before they add us.
   */
  async addContact(name: string, invitationText: string): Promise<Contact> {
    const invitation = parseInvitation(invitationText);
    const fp = fingerprint(invitation.recipient);
    if (fp === this.fingerprint) throw new RangeError("that is your own invitation");
    const existing = this.contacts.get(fp);
    const contact: Contact = {
      fingerprint: fp,
      name: name.trim() || existing?.name || fp.slice(0, 9),
      recipient: invitation.recipient,
      invitation: encodeInvitation(invitation),
      added: existing?.added ?? Date.now(),
    };
    this.contacts.set(fp, contact);
    if (!this.chats.has(fp)) this.chats.set(fp, []);
    await this.#save(fp);
    this.#changed();
    await this.#sendPayload(contact, this.#hello());
    return contact;
  }

  #hello(): Uint8Array {
    const json = encoder.encode(JSON.stringify({ name: this.name, invitation: this.invitation }));
    const out = new Uint8Array(1 + json.length);
    out[0] = KIND.hello;
    out.set(json, 1);
    return out;
  }

  /** The safety number of a contact (docs/contacts.md section 2): 60 digits, 12 groups, 3 lines. */
  safetyNumber(fp: string): string {
    const contact = this.contacts.get(fp);
    if (!contact) throw new RangeError("no such contact");
    return formatSafetyNumber(safetyNumber(this.recipient, contact.recipient));
  }

  /** Marks the conversation on screen: its incoming messages become read (and say so). */
  show(fp: string | undefined): void {
    this.#visible = fp;
    if (fp) this.#markRead(fp);
  }

  /** A received file's content (this page session only), or undefined. */
  file(id: string): Blob | undefined {
    return this.#files.get(id);
  }

  // ---- sending ----

  /** Encrypts `payload` in the session with `contact` and deposits it in their queue. */
  #sendPayload(contact: Contact, payload: Uint8Array): Promise<void> {
    const run = async () => {
      if (!contact.invitation) throw new Error(`no address for ${contact.name} yet`);
      const { relay: url, sendId } = parseInvitation(contact.invitation);
      if (url !== this.relayUrl) throw new Error(`${contact.name} uses another relay (${url})`);
      const relay = await this.#connect();
      let envelope: Uint8Array;
      if (await this.#account.sessionId(contact.fingerprint)) {
        envelope = await this.#account.encrypt(contact.fingerprint, payload);
      } else {
        const bundle = await relay.fetchBundle(sendId);
        if (!bundle) throw new Error(`${contact.name} published no prekeys on the relay`);
        await parseBundle(bundle, { expect: contact.recipient });
        envelope = await this.#account.encrypt(bundle, payload);
      }
      // The same message id on every retry: the relay stores it once.
      const messageId = randomId();
      for (let attempt = 0;; attempt++) {
        try {
          const r = await this.#connect();
          await r.send(sendId, envelope, { messageId });
          return;
        } catch (e) {
          // A full queue (the contact is offline with a big file waiting) or a lost connection:
          // wait and send again; anything else is final.
          const quota = e instanceof RelayError && e.code === RELAY_ERROR.QUOTA;
          if (!quota && e instanceof RelayError) throw e;
          if (attempt > 600) throw e;
          await new Promise((r) => setTimeout(r, quota ? 2000 : 1000));
        }
      }
    };
    const chain = this.#sendChains.get(contact.fingerprint) ?? Promise.resolve();
    const next = chain.then(run, run);
    this.#sendChains.set(contact.fingerprint, next.catch(() => {}));
    return next;
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
    const id = randomId();
    const message: ChatMessage = {
      id: hexOf(id),
      direction: "out",
      text,
      sentAt: Date.now(),
      state: "sending",
    };
    this.#push(fp, message);
    this.#changed();
    await this.#save(fp);
    try {
      await this.#sendPayload(contact, encodeText(id, message.sentAt, text));
      if (message.state === "sending") message.state = "queued";
    } catch (e) {
      message.state = "failed";
      this.#error(e);
    }
    await this.#save(fp);
    this.#changed();
    return message;
  }

  /** Sends a file (up to 100 MiB) in 512 KiB parts, each its own session message. */
  async sendFile(fp: string, file: Blob & { name?: string }): Promise<ChatMessage> {
    const contact = this.contacts.get(fp);
    if (!contact) throw new RangeError("no such contact");
    if (file.size > MAX_FILE_BYTES) throw new RangeError("files up to 100 MiB");
    const id = randomId();
    const parts = Math.max(1, Math.ceil(file.size / PART_BYTES));
    const message: ChatMessage = {
      id: hexOf(id),
      direction: "out",
      file: { name: file.name ?? "file", size: file.size, type: file.type },
      sentAt: Date.now(),
      state: "sending",
      progress: [0, parts],
    };
    this.#push(fp, message);
    this.#files.set(message.id, file);
    this.#changed();
    try {
      await this.#sendPayload(
        contact,
        encodeFileHeader(id, message.sentAt, file.size, parts, message.file!),
      );
      for (let i = 0; i < parts; i++) {
        const bytes = new Uint8Array(
          await file.slice(i * PART_BYTES, (i + 1) * PART_BYTES).arrayBuffer(),
        );
        const payload = new Uint8Array(1 + 16 + 4 + bytes.length);
        payload[0] = KIND.part;
        payload.set(id, 1);
        new DataView(payload.buffer).setUint32(17, i);
        payload.set(bytes, 21);
        await this.#sendPayload(contact, payload);
        message.progress = [i + 1, parts];
        this.#changed();
      }
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

  async #handle(envelope: Uint8Array): Promise<void> {
    const { from, data } = await this.#account.decrypt(envelope);
    const [kind, body] = kindOf(data);
    switch (kind) {
      case KIND.hello:
        return await this.#onHello(from, body);
      case KIND.text:
        return await this.#onText(from, body);
      case KIND.file:
        return await this.#onFile(from, body);
      case KIND.part:
        return await this.#onPart(from, body);
      case KIND.receipt:
        return await this.#onReceipt(from, body);
      default:
        throw new RangeError(`unknown message kind ${kind}`);
    }
  }

  /** The sender's contact; a stranger who said hello becomes one (named as they say). */
  #contactOf(from: string): Contact {
    const contact = this.contacts.get(from);
    if (!contact) throw new Error("a message from someone who did not say hello");
    return contact;
  }

  async #onHello(from: string, body: Uint8Array): Promise<void> {
    const hello = JSON.parse(decoder.decode(body)) as { name?: string; invitation?: string };
    const invitation = parseInvitation(String(hello.invitation));
    // The invitation must be the sender's own: the session proved `from`.
    if (fingerprint(invitation.recipient) !== from) throw new Error("a hello with another's keys");
    const existing = this.contacts.get(from);
    const contact: Contact = {
      fingerprint: from,
      name: existing?.name ?? (String(hello.name ?? "").slice(0, 64).trim() || from.slice(0, 9)),
      recipient: invitation.recipient,
      invitation: encodeInvitation(invitation),
      added: existing?.added ?? Date.now(),
    };
    this.contacts.set(from, contact);
    if (!this.chats.has(from)) this.chats.set(from, []);
    await this.#save(from);
    this.#changed();
  }

  async #onText(from: string, body: Uint8Array): Promise<void> {
    const contact = this.#contactOf(from);
    if (body.length < 24) throw new RangeError("short text message");
    const id = hexOf(body.subarray(0, 16));
    const sentAt = Number(new DataView(body.buffer, body.byteOffset).getBigUint64(16));
    if ((this.chats.get(from) ?? []).some((m) => m.id === id)) return;
    this.#push(from, {
      id,
      direction: "in",
      text: decoder.decode(body.subarray(24)),
      sentAt,
      receivedAt: Date.now(),
      state: "delivered",
    });
    await this.#save(from);
    this.#changed();
    this.#receipt(contact, 1, [id]);
    if (this.#visible === from) this.#markRead(from);
  }

  async #onFile(from: string, body: Uint8Array): Promise<void> {
    this.#contactOf(from);
    const view = new DataView(body.buffer, body.byteOffset, body.length);
    const id = hexOf(body.subarray(0, 16));
    const sentAt = Number(view.getBigUint64(16));
    const size = Number(view.getBigUint64(24));
    const total = view.getUint32(32);
    const meta = JSON.parse(decoder.decode(body.subarray(36))) as { name?: string; type?: string };
    if (size > MAX_FILE_BYTES || total !== Math.max(1, Math.ceil(size / PART_BYTES))) {
      throw new RangeError("a file header with wrong sizes");
    }
    const message: ChatMessage = {
      id,
      direction: "in",
      file: {
        name: String(meta.name ?? "file").replace(/[/\\]/g, "_").slice(0, 200),
        size,
        type: String(meta.type ?? ""),
      },
      sentAt,
      receivedAt: Date.now(),
      state: "receiving",
      progress: [0, total],
    };
    this.#push(from, message);
    this.#incoming.set(id, { meta: message, parts: [], received: 0, total });
    this.#changed();
  }

  async #onPart(from: string, body: Uint8Array): Promise<void> {
    const contact = this.#contactOf(from);
    const id = hexOf(body.subarray(0, 16));
    const incoming = this.#incoming.get(id);
    if (!incoming || incoming.meta.direction !== "in") return;
    const index = new DataView(body.buffer, body.byteOffset).getUint32(16);
    if (index !== incoming.received) throw new RangeError("a file part out of order");
    incoming.parts.push(new Blob([body.slice(20)]));
    incoming.received++;
    incoming.meta.progress = [incoming.received, incoming.total];
    if (incoming.received === incoming.total) {
      const blob = new Blob(incoming.parts, { type: incoming.meta.file!.type });
      this.#incoming.delete(id);
      if (blob.size !== incoming.meta.file!.size) throw new RangeError("a file of the wrong size");
      this.#files.set(id, blob);
      incoming.meta.state = "delivered";
      await this.#save(from);
      this.#receipt(contact, 1, [id]);
      if (this.#visible === from) this.#markRead(from);
    }
    this.#changed();
  }

  async #onReceipt(from: string, body: Uint8Array): Promise<void> {
    const state = body[0] === 2 ? "read" : body[0] === 1 ? "delivered" : undefined;
    if (!state || (body.length - 1) % 16 !== 0) throw new RangeError("a malformed receipt");
    const ids = new Set<string>();
    for (let at = 1; at < body.length; at += 16) ids.add(hexOf(body.subarray(at, at + 16)));
    let changed = false;
    for (const m of this.chats.get(from) ?? []) {
      if (m.direction !== "out" || !ids.has(m.id)) continue;
      if (state === "read" || m.state !== "read") {
        m.state = state;
        changed = true;
      }
    }
    if (changed) {
      await this.#save(from);
      this.#changed();
    }
  }

  /** Sends a receipt (1 delivered, 2 read) for `ids` (hex) to `contact`. */
  #receipt(contact: Contact, state: 1 | 2, ids: string[]): void {
    if (ids.length === 0) return;
    const out = new Uint8Array(2 + 16 * ids.length);
    out[0] = KIND.receipt;
    out[1] = state;
    ids.forEach((id, i) => out.set(fromHex(id), 2 + 16 * i));
    this.#sendPayload(contact, out).catch((e) => this.#error(e));
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
    this.#receipt(contact, 2, unread.map((m) => m.id));
    this.#changed();
  }

  /** Closes the relay connection and the account. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#relay?.close().catch(() => {});
    await this.#account.close();
  }
}
