// Internal: `polycrypt fetch`, reading one's inboxes on relays (docs/relay.md section 13): each
// message is decrypted with the session store, its sender named from the contact book (or shown
// by fingerprint), its plaintext written (a text to stdout, a file atomically into -o DIR), and
// only then is the message acknowledged, which deletes it from the relay.
import { fingerprint } from "./_core.ts";
import { parse, USAGE } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { say } from "./_io.ts";
import {
  type Contact,
  type InboxRecord,
  readBook,
  readInboxes,
  writeBook,
  writeInboxes,
} from "./_contacts.ts";
import { openAccount } from "./_chat_session.ts";
import { checkOutDir, maxFileBytes, Notice, writeAll } from "./_delivery.ts";
import { receivedText } from "./_terminal.ts";
import { publishBundles, relayOptions, sessionIdentity } from "./inbox.ts";

/** Fewer one-time bundles than this left on the relay: fetch publishes more. */
const REFILL_BELOW = 5;
/** How many one-time bundles a refill publishes. */
const REFILL_COUNT = 20;
/** Bundles are published afresh after this long (the signed prekey's rotation, 7 days). */
const BUNDLE_REFRESH_MS = 7 * 24 * 3600 * 1000;
import {
  DeferredStore,
  doneKey,
  parseRelayPayload,
  publishPart,
  renameKey,
  senderKeyFor,
  writePiece,
} from "./_relay.ts";
import type { RelayClient, RelayMessage } from "../relay/client.ts";
import type { AuthKey } from "../relay/protocol.ts";

const encoder = new TextEncoder();

/**
 * KEY failed for a reason that may pass (docs/relay.md section 13, "Securing", step 4): the
 * message that announced the key stays on the relay, unacknowledged, and is read (and KEY tried)
 * again by the next read of the inbox; the messages after it wait behind it.
 */
export class KeyNotDone extends IoError {
  constructor(readonly relay: string, readonly codeName: string) {
    super(
      `the relay ${relay} did not secure your inbox (${codeName}); the message with the ` +
        `sender's key and the ones after it wait there: fetch again`,
    );
  }
}

/** What reads messages: the account behind a deferred store, the contacts, and -o DIR. */
export class Reader {
  constructor(
    readonly identity: string,
    readonly account: import("../sessions/account.ts").Account,
    readonly store: DeferredStore,
    /** The session store itself (group state lives there too, under its own keys). */
    readonly inner: import("../sessions/store.ts").SessionStore,
    public contacts: Contact[],
    readonly outDir: string | undefined,
    readonly maxFile: number,
    /** Writes the inbox file (an inbox was secured). */
    readonly saveInboxes: () => Promise<void>,
  ) {}
  shown = 0;
  dropped = 0;
  #chain: Promise<void> = Promise.resolve();

  /** Runs `work` between messages (never during one). */
  serially(work: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(work);
    this.#chain = next.catch(() => {});
    return next;
  }

  /** Handles messages one at a time, in the order they come, across inboxes. */
  handle(client: RelayClient, inbox: InboxRecord, message: RelayMessage): Promise<void> {
    const next = this.#chain.then(() => this.#handle(client, inbox, message));
    this.#chain = next.catch(() => {});
    return next;
  }

  async #handle(client: RelayClient, inbox: InboxRecord, message: RelayMessage): Promise<void> {
    const rid = Uint8Array.fromHex(inbox.receivingId);
    const key = queueKey(inbox);
    const done = doneKey(rid, message.id);
    // Written and committed already (a fetch ended before its ACK): only acknowledge.
    if (await this.store.committed(done) !== undefined) {
      await client.ack(rid, key, message.id);
      return;
    }
    let opened: { from: string; data: Uint8Array };
    try {
      opened = await this.account.decrypt(message.envelope);
    } catch {
      this.store.discard();
      this.dropped++;
      say(
        "polycrypt: a message that does not decrypt (damaged, forged, or not for you) was deleted",
      );
      await client.ack(rid, key, message.id);
      return;
    }
    const mark = [{ key: done, value: encoder.encode(String(Date.now())) }];
    const contact = this.contacts.find((c) => fingerprint(c.recipient) === opened.from);
    const label = contact?.name ?? `stranger ${opened.from}`;
    let payload;
    try {
      payload = parseRelayPayload(opened.data);
    } catch (e) {
      this.dropped++;
      say(`polycrypt: from ${label}: ${(e as Error).message}`);
      await this.store.flush(mark);
      await client.ack(rid, key, message.id);
      return;
    }
    if (payload.kind === "queue-key") {
      // The sender's queue key (docs/relay.md section 13): secure the queue with it, then the
      // done mark and ACK. Killed before the mark, it is read again and KEY repeated (idempotent).
      // A KEY that failed for a reason that may pass (INTERNAL, RATE, a dropped connection)
      // leaves the message unacknowledged and its ratchet step uncommitted: the next read
      // decrypts it again and repeats KEY, so the inbox is not left open for good.
      try {
        await this.#secure(client, inbox, opened.from, label, payload.key);
      } catch (e) {
        this.store.discard();
        throw e;
      }
      await this.store.flush(mark);
      await client.ack(rid, key, message.id);
      return;
    }
    if (payload.kind === "group") {
      // A key package or a Welcome (docs/groups.md section 10): cli/group.ts takes it, with the
      // group state in the same store; then the done mark, as for a text.
      const { groupInboxPayload } = await import("./group.ts");
      try {
        await groupInboxPayload(this, contact, opened.from, payload);
      } catch (e) {
        this.dropped++;
        say(`polycrypt: from ${label}: ${(e as Error).message}`);
      }
      await this.store.flush(mark);
      await client.ack(rid, key, message.id);
      if (payload.invitationText !== undefined) {
        await this.#invitation(contact, opened.from, payload.invitationText, label);
      }
      return;
    }
    if (payload.kind === "piece" && this.outDir === undefined) {
      // Nothing of this message is committed: it stays on the relay and decrypts next time.
      this.store.discard();
      throw new IoError(
        `a file (${payload.name}) arrived from ${label}; fetch with -o DIR to receive it`,
      );
    }
    if (payload.kind === "text") {
      await writeAll(encoder.encode(receivedText(payload.text, `${label}: `)));
    } else {
      let part: string;
      try {
        part = await writePiece(this.outDir!, opened.from, payload, this.maxFile);
      } catch (e) {
        if (!(e instanceof Notice)) {
          throw new IoError(`cannot write into ${this.outDir}: ${(e as Error).message}`);
        }
        this.dropped++;
        say(`polycrypt: from ${label}: ${e.message}`);
        await this.store.flush(mark);
        await client.ack(rid, key, message.id);
        return;
      }
      if (payload.last) {
        // The file is whole and synced: commit the step, the done mark and the intent to rename
        // together; then rename (a fetch killed in between renames it at its next start).
        const intent = {
          key: renameKey(part),
          value: encoder.encode(JSON.stringify({ part, name: payload.name })),
        };
        await this.store.flush([...mark, intent]);
        await this.finishRename(intent.key, part, payload.name, label);
        await client.ack(rid, key, message.id);
        if (payload.invitationText !== undefined) {
          await this.#invitation(contact, opened.from, payload.invitationText, label);
        }
        return;
      }
    }
    if (payload.kind === "text") this.shown++;
    await this.store.flush(mark);
    await client.ack(rid, key, message.id);
    if (payload.invitationText !== undefined) {
      await this.#invitation(contact, opened.from, payload.invitationText, label);
    }
  }

  /**
   * Secures `inbox` to the queue key its first verified sender announced (docs/relay.md section
   * 13): the message decrypted, so the session authenticated `from`. Nothing for a shared inbox or
   * one of an older version (they stay open), for an inbox already secured (to this key: a
   * repeated announcement; to another: someone who wrote before it was secured), or for a reply
   * inbox made for another contact.
   */
  async #secure(
    client: RelayClient,
    inbox: InboxRecord,
    from: string,
    label: string,
    senderKey: AuthKey,
  ): Promise<void> {
    if (!inbox.secure) return;
    const publicKey = senderKey.publicKey.toHex();
    if (inbox.securedTo !== undefined) {
      if (inbox.securedTo.publicKey === publicKey) return;
      say(
        `polycrypt: ${label} offered a key for your inbox on ${inbox.relay}, which is secured ` +
          `to another sender: ignored (give them a new invitation)`,
      );
      return;
    }
    if (inbox.contact !== undefined && inbox.contact !== from) {
      say(
        `polycrypt: ${label} offered a key for a reply inbox made for someone else: ignored`,
      );
      return;
    }
    const { registry } = await import("../engines/mod.ts");
    let size: number | undefined;
    try {
      size = registry.signature(senderKey.algorithm).publicKeySize;
    } catch { /* not a registered engine */ }
    if (size !== senderKey.publicKey.length) {
      say(`polycrypt: from ${label}: a queue key of an unknown kind was dropped`);
      return;
    }
    const { RELAY_ERROR, RelayError } = await import("../relay/protocol.ts");
    try {
      await client.secure(Uint8Array.fromHex(inbox.receivingId), queueKey(inbox), senderKey);
    } catch (e) {
      if (!(e instanceof RelayError)) throw e;
      // Final: AUTH (secured to another key meanwhile, or not this queue's key) and SYNTAX (a
      // key the relay does not take); repeating KEY would get the same answer.
      if (e.code === RELAY_ERROR.AUTH || e.code === RELAY_ERROR.SYNTAX) {
        say(`polycrypt: the relay ${inbox.relay} did not secure your inbox: ${e.codeName}`);
        return;
      }
      throw new KeyNotDone(inbox.relay, e.codeName);
    }
    inbox.securedTo = {
      fingerprint: from,
      algorithm: senderKey.algorithm,
      publicKey,
      at: new Date().toISOString(),
    };
    await this.saveInboxes();
    say(
      `polycrypt: your inbox on ${inbox.relay} is now secured to ${label}: the relay takes ` +
        `messages there from them only`,
    );
  }

  /** Renames a finished file and forgets the intent. */
  async finishRename(key: string, part: string, name: string, label?: string): Promise<void> {
    const path = await publishPart(part, name);
    if (path !== undefined) {
      say(`polycrypt: received ${path}${label ? ` from ${label}` : ""}`);
      this.shown++;
    }
    await this.store.flush([{ key }]);
  }

  /** Finishes the renames a killed fetch committed but did not do. */
  async recover(): Promise<void> {
    for (const key of await this.store.list("relay-rename:")) {
      const value = await this.store.committed(key);
      if (value === undefined) continue;
      const { part, name } = JSON.parse(new TextDecoder().decode(value));
      await this.finishRename(key, part, name);
    }
  }

  /**
   * A sender's own invitation: saved on their contact, or shown for a stranger. Only one whose
   * recipient is the sender (`from`, authenticated by the session) and whose queue is not one this
   * user writes to for someone else (its sender key record names another recipient): anything
   * else would turn this user's messages to that contact, and their queue key, into another
   * inbox (docs/relay.md section 13).
   */
  async #invitation(
    contact: Contact | undefined,
    from: string,
    invitation: string,
    label: string,
  ): Promise<void> {
    const { parseInvitation } = await import("../relay/invite.ts");
    const parsed = parseInvitation(invitation);
    if (fingerprint(parsed.recipient) !== from) {
      say(
        `polycrypt: ${label} sent an invitation that is not their own (it names another ` +
          `recipient): not saved`,
      );
      return;
    }
    const known = await senderKeyFor(this.identity, parsed);
    if (known?.recipient !== undefined && known.recipient !== from) {
      say(
        `polycrypt: ${label} sent an invitation naming an inbox you write to for someone ` +
          `else: not saved`,
      );
      return;
    }
    if (contact === undefined) {
      if (this.#shownInvitations.has(from)) return;
      this.#shownInvitations.add(from);
      say(
        `polycrypt: stranger ${from} is not in your contact book; if you know them (compare the ` +
          `fingerprint), save them to answer: polycrypt contact add NAME ${invitation}`,
      );
      return;
    }
    if (contact.invitation === invitation) return;
    const book = await readBook(this.identity);
    const entry = book.find((c) => c.name === contact.name);
    if (!entry) return;
    entry.invitation = invitation;
    await writeBook(this.identity, book);
    this.contacts = book;
    say(
      `polycrypt: saved ${contact.name}'s inbox: polycrypt send -r @${contact.name} answers there`,
    );
  }
  #shownInvitations = new Set<string>();
}

/**
 * Writes `records` (read from the inbox file earlier, some changed since: secured, republished)
 * into the inbox file as it is now: each replaces the record of the same relay and receiving id;
 * records made meanwhile (a reply inbox made by a `send`, or by the chat reading these) are kept.
 */
export async function saveInboxRecords(identity: string, records: InboxRecord[]): Promise<void> {
  const id = (r: InboxRecord) => `${r.relay} ${r.receivingId}`;
  const ours = new Map(records.map((r) => [id(r), r]));
  const now = await readInboxes(identity);
  const merged = now.map((r) => ours.get(id(r)) ?? r);
  const there = new Set(now.map(id));
  for (const r of records) if (!there.has(id(r))) merged.push(r);
  await writeInboxes(identity, merged);
}

export function queueKey(inbox: InboxRecord) {
  return {
    algorithm: inbox.key.algorithm,
    publicKey: Uint8Array.fromHex(inbox.key.publicKey),
    secretKey: Uint8Array.fromHex(inbox.key.secretKey),
  };
}

export async function fetchCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("fetch", args);
  if (positionals.length) throw new UsageError(`unexpected argument\nusage: ${USAGE.fetch}`);
  await fetchInboxes(values);
}

/**
 * Reads the inboxes of `values`' identity (fetch's options). With `group`, an open account is
 * used instead of opening one (cli/group.ts), and the closing summary is left out.
 */
export async function fetchInboxes(
  values: Record<string, unknown>,
  group?: { summary: false },
): Promise<void> {
  const outDir = values.output as string | undefined;
  await checkOutDir(outDir);
  const maxFile = maxFileBytes(values["max-file-size"] as string | undefined);
  const identity = await sessionIdentity(values);
  const inboxes = await readInboxes(identity);
  if (inboxes.length === 0) {
    throw new UsageError(
      `no inbox for this identity: create one with polycrypt inbox new --relay URL -i FILE`,
    );
  }
  const options = await relayOptions(values);
  const contacts = await readBook(identity).catch(() => [] as Contact[]);
  let store: DeferredStore | undefined;
  let inner: import("../sessions/store.ts").SessionStore | undefined;
  const { account, close } = await openAccount(
    identity,
    values.sessions as string | undefined,
    (s) => store = new DeferredStore(inner = s),
  );
  const reader = new Reader(
    identity,
    account,
    store!,
    inner!,
    contacts,
    outDir,
    maxFile,
    () => saveInboxRecords(identity, inboxes),
  );
  await reader.recover();
  const { RelayClient } = await import("../relay/client.ts");
  const clients: RelayClient[] = [];
  let inboxesChanged = false;
  const unreachable: string[] = [];
  /** Inboxes whose KEY failed for a reason that may pass: read again at the next fetch. */
  const unsecured: string[] = [];
  try {
    /**
     * Tops up an inbox's prekey bundles (docs/relay.md section 13): fewer than REFILL_BELOW
     * one-time bundles left, or the last full publication older than the signed prekey's
     * rotation (7 days), publishes a fresh set (replacing the old one-time bundles when stale).
     */
    const refill = async (client: RelayClient, inbox: InboxRecord) => {
      const rid = Uint8Array.fromHex(inbox.receivingId);
      const key = queueKey(inbox);
      const age = Date.now() - Date.parse(inbox.published ?? inbox.created);
      const stale = !(age < BUNDLE_REFRESH_MS);
      // A reply inbox holds a last-resort bundle only (its contact has a session already).
      const reply = inbox.contact !== undefined;
      const held = reply ? 0 : await client.publish(rid, key, []);
      if ((reply || held >= REFILL_BELOW) && !stale) return;
      const now = await publishBundles(
        client,
        { receivingId: rid, key },
        account,
        reply ? 0 : REFILL_COUNT,
        stale,
      );
      await store!.flush();
      inbox.published = new Date().toISOString();
      inboxesChanged = true;
      say(`polycrypt: published fresh prekey bundles on ${inbox.relay} (${now} one-time)`);
    };
    const connect = async (inbox: InboxRecord) => {
      try {
        const client = await RelayClient.connect(inbox.relay, options);
        clients.push(client);
        return client;
      } catch {
        throw new IoError(`could not connect to the relay ${inbox.relay}`);
      }
    };
    if (!values.follow) {
      for (const inbox of inboxes) {
        // A relay that cannot be reached does not keep the other inboxes from being read.
        let client: RelayClient;
        try {
          client = await connect(inbox);
        } catch (e) {
          unreachable.push(inbox.relay);
          say(`polycrypt: ${(e as Error).message}; its messages wait there`);
          continue;
        }
        const rid = Uint8Array.fromHex(inbox.receivingId);
        const key = queueKey(inbox);
        try {
          for (;;) {
            const message = await client.fetch(rid, key);
            if (message === undefined) break;
            await reader.handle(client, inbox, message);
          }
        } catch (e) {
          // KEY to be tried again: this inbox's messages wait; the other inboxes are read.
          if (!(e instanceof KeyNotDone)) throw e;
          say(`polycrypt: ${e.message}`);
          unsecured.push(`${e.relay} (${e.codeName})`);
          continue;
        }
        await refill(client, inbox);
      }
    } else {
      const stop = Promise.withResolvers<void>();
      const watches = inboxes.map(async (inbox) => {
        const client = await connect(inbox);
        await reader.serially(() => refill(client, inbox));
        const messages = await client.subscribe(
          Uint8Array.fromHex(inbox.receivingId),
          queueKey(inbox),
        );
        for await (const message of messages) await reader.handle(client, inbox, message);
        throw new IoError(`the subscription to ${inbox.relay} ended (another fetch took it over)`);
      });
      say(
        `polycrypt: following ${inboxes.length} inbox${
          inboxes.length === 1 ? "" : "es"
        }; Ctrl-C ends`,
      );
      await Promise.race([stop.promise, ...watches]);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof IoError) throw e;
    const { RelayError } = await import("../relay/protocol.ts");
    if (e instanceof RelayError) throw new IoError(`the relay refused: ${e.codeName}`);
    throw new IoError(`the relay connection failed: ${(e as Error).message}`);
  } finally {
    for (const client of clients) await client.close().catch(() => {});
    await close();
    if (inboxesChanged) await saveInboxRecords(identity, inboxes);
  }
  if (group && !unreachable.length && !unsecured.length) return;
  if (unreachable.length || unsecured.length) {
    const why = [
      ...(unreachable.length ? [`could not reach ${unreachable.join(", ")}`] : []),
      ...(unsecured.length ? [`could not secure your inbox on ${unsecured.join(", ")}`] : []),
    ];
    throw new IoError(
      `${reader.shown} message${reader.shown === 1 ? "" : "s"} read; ${why.join("; ")}` +
        (unsecured.length ? " (its messages wait there: fetch again)" : ""),
    );
  }
  say(
    `polycrypt: ${reader.shown} message${reader.shown === 1 ? "" : "s"} read` +
      (reader.dropped ? `, ${reader.dropped} dropped` : ""),
  );
}
