// Internal: `send -r @NAME` to a contact who has an inbox on a relay (docs/relay.md section 13):
// session messages deposited in the contact's queue, a file in pieces, the sender's reply inbox
// invitation inside the first message so that the contact can answer. ContactOutbox is that
// deposit path for every command that writes into a contact's inbox (send, chat's queue for an
// offline peer, chat @NAME's relay path), so all of them secure inboxes the same way.
import { basename } from "node:path";
import { fingerprint, parseIdentity } from "./_core.ts";
import type { Values } from "./_args.ts";
import { UsageError } from "./_errors.ts";
import { openInput, say } from "./_io.ts";
import {
  type Contact,
  findContact,
  type InboxRecord,
  readBook,
  readInboxes,
  storeIdentity,
  writeInboxes,
} from "./_contacts.ts";
import { openAccount, pieces } from "./_chat_session.ts";
import { pieceBody, RELAY_KIND, RelayOutbox, relayPayload } from "./_relay.ts";
import { parseInvitation } from "../relay/invite.ts";
import { publishBundles, relayOptions } from "./inbox.ts";
import type { Account } from "../sessions/account.ts";

/**
 * The invitation this user hands `contact` inside messages, so that they can answer
 * (docs/relay.md section 13): a reply inbox of its own for this contact on the relay of the
 * user's newest inbox, made on first use there (a queue, its last-resort prekey bundle, a record
 * in the inbox file with the contact's fingerprint), which only that contact may secure; the
 * invitation names the signalling queue of that newest inbox (docs/relay.md section 14), so the
 * contact's `chat @NAME` knows where to send offers. Undefined when the user has no inbox, or the
 * relay cannot make one now (the message goes without, as before).
 */
export async function replyInvitation(
  identity: string,
  account: Account,
  contact: { recipient: string },
  values: Record<string, unknown>,
): Promise<string | undefined> {
  return (await replyInbox(identity, account, contact, values))?.invitation;
}

/**
 * {@linkcode replyInvitation}, and the record of the reply inbox when this call made it (a
 * reader following the user's inboxes, as chat @NAME does, adds it).
 */
export async function replyInbox(
  identity: string,
  account: Account,
  contact: { recipient: string },
  values: Record<string, unknown>,
): Promise<{ invitation: string; made?: InboxRecord } | undefined> {
  const fp = fingerprint(contact.recipient);
  const inboxes = await readInboxes(identity);
  const home = inboxes.filter((i) => i.contact === undefined).at(-1);
  if (home === undefined) return undefined;
  const { encodeInvitation } = await import("../relay/invite.ts");
  // The newest inbox's signalling queue, on the same relay as the reply inbox (section 12).
  const signalId = home.signal ? Uint8Array.fromHex(home.signal.sendingId) : undefined;
  const invite = (relay: string, sendingId: string) =>
    encodeInvitation({
      relay,
      sendId: Uint8Array.fromHex(sendingId),
      recipient: account.recipient,
      ...(signalId ? { signalId } : {}),
    });
  const made = inboxes.filter((i) => i.contact === fp && i.relay === home.relay).at(-1);
  if (made) return { invitation: invite(made.relay, made.sendingId) };
  const { RelayClient, openInbox } = await import("../relay/client.ts");
  let client;
  try {
    client = await RelayClient.connect(home.relay, await relayOptions(values));
  } catch {
    say(`polycrypt: could not reach your relay ${home.relay}: no reply inbox in this message`);
    return undefined;
  }
  try {
    const inbox = await openInbox(client);
    await publishBundles(client, inbox, account, 0, false);
    const now = new Date().toISOString();
    const record: InboxRecord = {
      relay: home.relay,
      receivingId: inbox.receivingId.toHex(),
      sendingId: inbox.sendingId.toHex(),
      key: {
        algorithm: inbox.key.algorithm,
        publicKey: inbox.key.publicKey.toHex(),
        secretKey: inbox.key.secretKey.toHex(),
      },
      invitation: invite(home.relay, inbox.sendingId.toHex()),
      created: now,
      published: now,
      secure: true,
      contact: fp,
    };
    await writeInboxes(identity, [...await readInboxes(identity), record]);
    return { invitation: record.invitation, made: record };
  } catch (e) {
    say(`polycrypt: your relay ${home.relay} made no reply inbox (${(e as Error).message})`);
    return undefined;
  } finally {
    await client.close().catch(() => {});
  }
}

/** What a {@linkcode ContactOutbox}'s user adds to how it works. */
export interface ContactOutboxHooks {
  /**
   * Runs each use of the account (a deposit, the making of a reply inbox); chat @NAME runs it
   * between the messages its reader handles, and commits the session store after it.
   */
  withAccount?<T>(work: () => Promise<T>): Promise<T>;
  /** Told of a reply inbox made for the contact (chat @NAME follows it). */
  onReplyInbox?(record: InboxRecord): void;
}

/**
 * Deposits into one contact's inbox, as `send -r @NAME`, `chat`'s queue for an offline peer and
 * the relay path of `chat @NAME` all do (docs/relay.md section 13): through a
 * {@linkcode RelayOutbox} opened on first use (this sender's queue key announced with a kind-0x51
 * message before the first message into the queue, SENDs unsigned until the recipient secured the
 * queue, then signed), and with this user's reply inbox invitation for the contact
 * ({@linkcode replyInvitation}) in every message until one was deposited.
 */
export class ContactOutbox {
  #outbox: RelayOutbox | undefined;
  #invited = false;
  readonly #hooks: ContactOutboxHooks;

  constructor(
    readonly account: Account,
    readonly identity: string,
    readonly contact: Contact,
    readonly values: Record<string, unknown>,
    hooks: ContactOutboxHooks = {},
  ) {
    if (contact.invitation === undefined) throw new TypeError(`${contact.name} has no inbox`);
    this.#hooks = hooks;
  }

  /** Connects to the contact's relay, once (an IoError when it cannot be reached). */
  async open(): Promise<RelayOutbox> {
    this.#outbox ??= await RelayOutbox.open(
      this.contact.invitation!,
      await relayOptions(this.values),
      this.identity,
    );
    return this.#outbox;
  }

  /** The relay's URL. */
  get relay(): string {
    return this.#outbox?.relay ?? parseInvitation(this.contact.invitation!).relay;
  }

  /** Deposits one payload of `kind` (the reply invitation inside until one was deposited). */
  async deposit(kind: number, body: Uint8Array): Promise<void> {
    const outbox = await this.open();
    const run = this.#hooks.withAccount ?? (<T>(work: () => Promise<T>) => work());
    await run(async () => {
      let invite: string | undefined;
      if (!this.#invited) {
        const reply = await replyInbox(this.identity, this.account, this.contact, this.values);
        if (reply?.made) this.#hooks.onReplyInbox?.(reply.made);
        invite = reply?.invitation;
      }
      await outbox.deposit(this.account, relayPayload(kind, body, invite));
      this.#invited = true;
    });
  }

  /**
   * Deposits a file read from `source`, in pieces of one transfer (`transferId`, random unless
   * given) from `offset` (default 0: `source` starts there); resolves with the bytes deposited.
   */
  async depositFile(
    source: ReadableStream<Uint8Array>,
    name: string,
    options: { transferId?: Uint8Array; offset?: number } = {},
  ): Promise<number> {
    const outbox = await this.open();
    const transferId = options.transferId ?? crypto.getRandomValues(new Uint8Array(16));
    const start = options.offset ?? 0;
    let offset = start;
    for await (const piece of pieces(source, outbox.pieceBytes)) {
      await this.deposit(
        RELAY_KIND.piece,
        pieceBody(transferId, offset, piece.last, name, piece.bytes),
      );
      offset += piece.bytes.length;
    }
    return offset - start;
  }

  /** Closes the relay connection. */
  async close(): Promise<void> {
    await this.#outbox?.close();
  }
}

/**
 * The contact a `send` without --to goes to through a relay: the one `-r @NAME` (or
 * `--peer-contact NAME` without an address) whose contact has an invitation, with the identity
 * that opens the book; undefined when the command names a peer address or no such contact.
 */
export async function relayTarget(
  values: Values,
): Promise<{ identity: string; contact: Contact } | undefined> {
  if (values.to !== undefined) return undefined;
  const named = values.recipient as string[] | undefined ?? [];
  const wanted = values["peer-contact"] as string | undefined;
  const name = wanted ?? (named.length === 1 && named[0].startsWith("@") ? named[0] : undefined);
  if (name === undefined || (wanted !== undefined && named.length > 0)) return undefined;
  if (values["recipients-file"] !== undefined) return undefined;
  const identity = await storeIdentity(values.identity as string | undefined);
  const contact = findContact(await readBook(identity), name);
  if (contact.invitation === undefined) {
    // --peer-contact without an inbox: the peer-to-peer path (and its own errors).
    if (wanted !== undefined) return undefined;
    throw new UsageError(
      `${contact.name} has no inbox and the command no --to ADDRESS: give --to, or save ` +
        `their invitation (polycrypt contact add ${contact.name} INVITATION --force)`,
    );
  }
  if (values.aead !== undefined) {
    throw new UsageError(
      "--aead does not apply through a relay: session messages use the session's AEAD",
    );
  }
  return { identity, contact };
}

/** Sends the text or file of `send`'s arguments to `contact`'s inbox. */
export async function sendThroughRelay(
  values: Values,
  text: string | undefined,
  target: { identity: string; contact: Contact },
): Promise<void> {
  const { identity, contact } = target;
  if (!parseIdentity(identity).signingKey) {
    throw new UsageError(
      "sending through a relay needs a version-2 identity (sessions): polycrypt keygen --upgrade",
    );
  }
  const file = values.file as string | undefined;
  const { account, close } = await openAccount(identity, values.sessions as string | undefined);
  const outbox = new ContactOutbox(account, identity, contact, values);
  try {
    await outbox.open();
    if (file === undefined) {
      const body = text ?? await new Response(Deno.stdin.readable).text();
      await outbox.deposit(RELAY_KIND.text, new TextEncoder().encode(body));
      say(`polycrypt: stored on ${outbox.relay} for ${contact.name} (polycrypt fetch reads it)`);
      return;
    }
    const source = await openInput(file);
    const name = basename(file);
    const bytes = await outbox.depositFile(source.stream, name);
    say(`polycrypt: ${name} (${bytes} bytes) stored on ${outbox.relay} for ${contact.name}`);
  } finally {
    await outbox.close();
    await close();
  }
}

/**
 * `chat`'s queue for a peer who is offline (docs/relay.md section 13): each line (a text, or
 * `/file PATH`) that cannot be sent directly is deposited in the peer's inbox as a session
 * message with the chat's account; the first one carries this side's invitation.
 */
export class OfflineQueue {
  readonly #outbox: ContactOutbox;

  constructor(
    readonly account: Account,
    readonly identity: string,
    readonly contact: Contact,
    readonly values: Values,
  ) {
    this.#outbox = new ContactOutbox(account, identity, contact, values);
  }

  /** Deposits `line` (message number `n`), and says so with `show`. */
  async queue(line: string, n: number, show: (line: string) => Promise<void>): Promise<void> {
    await this.#outbox.open();
    if (line.startsWith("/file ")) {
      const path = line.slice("/file ".length).trim();
      const source = await openInput(path);
      await this.#outbox.depositFile(source.stream, basename(path));
    } else {
      const text = line.startsWith("//") ? line.slice(1) : line;
      await this.#outbox.deposit(RELAY_KIND.text, new TextEncoder().encode(text));
    }
    await show(
      `  (#${n} ${this.contact.name} is offline: queued on ${this.#outbox.relay}, ` +
        `delivered when they fetch)`,
    );
  }

  /** Closes the relay connection. */
  async close(): Promise<void> {
    await this.#outbox.close();
  }
}
