// Internal: `send -r @NAME` to a contact who has an inbox on a relay (docs/relay.md section 13):
// session messages deposited in the contact's queue, a file in pieces, the sender's own
// invitation inside the first message so that the contact can answer.
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
import { publishBundles, relayOptions } from "./inbox.ts";
import type { Account } from "../sessions/account.ts";

/**
 * The invitation this user hands `contact` inside messages, so that they can answer
 * (docs/relay.md section 13): a reply inbox of its own for this contact, made on the relay of the
 * user's newest inbox on first use (a queue, its last-resort prekey bundle, a record in the inbox
 * file with the contact's fingerprint), which only that contact may secure. Undefined when the
 * user has no inbox, or the relay cannot make one now (the message goes without, as before).
 */
export async function replyInvitation(
  identity: string,
  account: Account,
  contact: { recipient: string },
  values: Record<string, unknown>,
): Promise<string | undefined> {
  const fp = fingerprint(contact.recipient);
  const inboxes = await readInboxes(identity);
  const made = inboxes.find((i) => i.contact === fp);
  if (made) return made.invitation;
  const home = inboxes.filter((i) => i.contact === undefined).at(-1);
  if (home === undefined) return undefined;
  const { RelayClient, openInbox } = await import("../relay/client.ts");
  const { encodeInvitation } = await import("../relay/invite.ts");
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
      invitation: encodeInvitation({
        relay: home.relay,
        sendId: inbox.sendingId,
        recipient: account.recipient,
      }),
      created: now,
      published: now,
      secure: true,
      contact: fp,
    };
    await writeInboxes(identity, [...await readInboxes(identity), record]);
    return record.invitation;
  } catch (e) {
    say(`polycrypt: your relay ${home.relay} made no reply inbox (${(e as Error).message})`);
    return undefined;
  } finally {
    await client.close().catch(() => {});
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
  let outbox: RelayOutbox | undefined;
  try {
    outbox = await RelayOutbox.open(contact.invitation!, await relayOptions(values), identity);
    // The sender's reply inbox for this contact, if any: its invitation rides inside the message.
    const mine = await replyInvitation(identity, account, contact, values);
    if (file === undefined) {
      const body = text ?? await new Response(Deno.stdin.readable).text();
      await outbox.deposit(
        account,
        relayPayload(RELAY_KIND.text, new TextEncoder().encode(body), mine),
      );
      say(`polycrypt: stored on ${outbox.relay} for ${contact.name} (polycrypt fetch reads it)`);
      return;
    }
    const source = await openInput(file);
    const name = basename(file);
    const transferId = crypto.getRandomValues(new Uint8Array(16));
    let offset = 0;
    for await (const piece of pieces(source.stream, outbox.pieceBytes)) {
      const body = pieceBody(transferId, offset, piece.last, name, piece.bytes);
      await outbox.deposit(
        account,
        relayPayload(RELAY_KIND.piece, body, offset === 0 ? mine : undefined),
      );
      offset += piece.bytes.length;
    }
    say(`polycrypt: ${name} (${offset} bytes) stored on ${outbox.relay} for ${contact.name}`);
  } finally {
    await outbox?.close();
    await close();
  }
}

/**
 * `chat`'s queue for a peer who is offline (docs/relay.md section 13): each line (a text, or
 * `/file PATH`) that cannot be sent directly is deposited in the peer's inbox as a session
 * message with the chat's account; the first one carries this side's invitation.
 */
export class OfflineQueue {
  #outbox: RelayOutbox | undefined;
  #invitationSent = false;

  constructor(
    readonly account: Account,
    readonly identity: string,
    readonly contact: Contact,
    readonly values: Values,
  ) {}

  /** Deposits `line` (message number `n`), and says so with `show`. */
  async queue(line: string, n: number, show: (line: string) => Promise<void>): Promise<void> {
    this.#outbox ??= await RelayOutbox.open(
      this.contact.invitation!,
      await relayOptions(this.values),
      this.identity,
    );
    const mine = this.#invitationSent
      ? undefined
      : await replyInvitation(this.identity, this.account, this.contact, this.values);
    this.#invitationSent = true;
    if (line.startsWith("/file ")) {
      const path = line.slice("/file ".length).trim();
      const name = basename(path);
      const source = await openInput(path);
      const transferId = crypto.getRandomValues(new Uint8Array(16));
      let offset = 0;
      for await (const piece of pieces(source.stream, this.#outbox.pieceBytes)) {
        const body = pieceBody(transferId, offset, piece.last, name, piece.bytes);
        await this.#outbox.deposit(
          this.account,
          relayPayload(RELAY_KIND.piece, body, offset === 0 ? mine : undefined),
        );
        offset += piece.bytes.length;
      }
    } else {
      const text = line.startsWith("//") ? line.slice(1) : line;
      await this.#outbox.deposit(
        this.account,
        relayPayload(RELAY_KIND.text, new TextEncoder().encode(text), mine),
      );
    }
    await show(
      `  (#${n} ${this.contact.name} is offline: queued on ${this.#outbox.relay}, ` +
        `delivered when they fetch)`,
    );
  }

  /** Closes the relay connection. */
  async close(): Promise<void> {
    await this.#outbox?.close();
  }
}
