// Internal: verifying a contact with a shared secret from the command line (docs/sessions.md,
// "Verifying a contact with a shared secret"; docs/cli.md, "Contacts"): chat's `/verify` and
// `contact verify NAME --secret`. Both run `startSecretCheck` (contacts/secret_verify.ts) over
// the chat connection, its two messages each way carried as signed envelopes of the kind "V"
// (docs/transports.md section 7), and record the result in the contact book.
import {
  encrypt,
  fingerprint,
  parseIdentity,
  recipientFromIdentity,
  type SecretCheck,
  startSecretCheck,
} from "./_core.ts";
import { Connection, newReplyKey, verifyMessage } from "../transports/mod.ts";
import type { Values } from "./_args.ts";
import { type Contact, readBook, writeBook } from "./_contacts.ts";
import { DecryptFailed, IoError, UsageError } from "./_errors.ts";
import { say } from "./_io.ts";
import { readTerminalLine } from "./_passphrase.ts";
import { signersNamed } from "./_sender.ts";
import {
  addressScheme,
  answer,
  awaitAck,
  dialer,
  envelopes,
  listenOn,
  openMessage,
  ReceiptDesk,
  type Received,
  STREAM_SCHEMES,
} from "./_delivery.ts";

/**
 * What a run is bound to besides the two keys (the `binding` of `startSecretCheck`): the same
 * label for chat's `/verify` and `contact verify --secret`, so either meets the other. Sessions
 * will pass their session id instead (docs/sessions.md).
 */
export const SECRET_BINDING = "polycrypt chat v1";

/** The second byte of each message of a check: a share ("S") or a confirmation ("C"). */
const SHARE = 0x53;
const CONFIRM = 0x43;

/** How long `contact verify --secret` waits for the peer, in all. */
const SECRET_WAIT_MS = 5 * 60_000;

/** The result lines, as both commands print them (after `polycrypt: `). */
const MATCH_LINE = "secrets match: contact marked verified";
const DIFFER = "secrets differ";

/**
 * The shared secret: `$POLYCRYPT_SECRET`, else typed on the terminal without echo (never an
 * argument). A UsageError when it is empty, cancelled, or cannot be asked.
 */
async function readSecret(): Promise<string> {
  let secret = Deno.env.get("POLYCRYPT_SECRET");
  if (secret === undefined) {
    let typed: string | null;
    try {
      typed = await readTerminalLine("Enter the secret you share with your contact: ", false);
    } catch (e) {
      if (e instanceof UsageError) {
        throw new UsageError(
          "a shared secret is needed and there is no terminal to ask on: set POLYCRYPT_SECRET",
        );
      }
      throw e;
    }
    if (typed === null) throw new UsageError("secret entry cancelled");
    secret = typed;
  }
  if (secret === "") throw new UsageError("the secret is empty");
  return secret;
}

/**
 * Records the result in the book sealed under `identity`: the contact whose key is `recipient`
 * gets `verified` (the time) when `equal`, and loses it otherwise. Returns that contact, or
 * `undefined` when the book has none with that key.
 */
async function recordVerification(
  identity: string,
  recipient: string,
  equal: boolean,
): Promise<Contact | undefined> {
  const contacts = await readBook(identity);
  const key = recipient.trim();
  const found = contacts.filter((c) => c.recipient === key);
  if (found.length === 0) return undefined;
  for (const c of found) {
    if (equal) c.verified = new Date().toISOString();
    else delete c.verified;
  }
  await writeBook(identity, contacts);
  return found[0];
}

/** The line for a result, and whether the book changed. */
function resultLine(equal: boolean, recorded: Contact | undefined, why = "") {
  if (equal) {
    return recorded ? MATCH_LINE : "secrets match (the peer is not in your contact book)";
  }
  return `${DIFFER}: ${why || "different secrets, or someone in between"}` +
    (recorded ? "; contact marked not verified" : "");
}

/** Received payloads, taken in order by kind; the others are dropped. */
class Inbox {
  #queue: Uint8Array[] = [];
  #wake: (() => void) | undefined;

  push(payload: Uint8Array): void {
    this.#queue.push(payload);
    this.#wake?.();
  }

  /** The next payload of `kind`, or an IoError at `deadline`. */
  async next(kind: number, deadline: number, what: string): Promise<Uint8Array> {
    for (;;) {
      const at = this.#queue.findIndex((p) => p[1] === kind);
      if (at >= 0) return this.#queue.splice(0, at + 1).at(-1)!;
      this.#queue.length = 0;
      const left = deadline - Date.now();
      if (left <= 0) throw new IoError(`the peer did not send ${what} in time`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }
}

/**
 * `contact verify NAME --secret`: listens on `--listen`, sends to `--peer` (or the contact's
 * address), runs one check with the contact, records the result, and prints it. Exit 0 when the
 * secrets match, 1 when they differ (docs/cli.md).
 */
export async function verifyContactWithSecret(
  values: Values,
  identity: string,
  contact: Contact,
): Promise<void> {
  const on = values.listen as string | undefined;
  const peer = values.peer as string | undefined ?? contact.address;
  if (on === undefined || peer === undefined) {
    throw new UsageError(
      `contact verify --secret needs --listen ADDRESS and --peer ADDRESS (or a contact saved ` +
        `with --address)`,
    );
  }
  const notStream = `contact verify --secret runs over ${STREAM_SCHEMES} addresses`;
  for (const address of [on, peer]) {
    if (!addressScheme(address, notStream).stream) throw new UsageError(notStream);
  }
  const me = parseIdentity(identity);
  if (!me.signingKey) {
    throw new UsageError(
      "this identity cannot sign (a version-1 identity): upgrade it with polycrypt keygen --upgrade",
    );
  }
  await signersNamed([contact.recipient]); // the contact's key must verify signatures
  const dialPeer = await dialer(peer, values);
  const mine = await recipientFromIdentity(identity);
  const secret = await readSecret();
  const run = startSecretCheck({
    secret,
    myFingerprint: fingerprint(mine),
    theirFingerprint: fingerprint(contact.recipient),
    binding: SECRET_BINDING,
  });

  const inbox = new Inbox();
  const desk = new ReceiptDesk();
  // Messages being opened or answered: the listener closes only once each has its receipt, so
  // the peer's last message (its confirmation) is acknowledged before this side ends.
  let inflight = 0;
  let idle: (() => void) | undefined;
  const handle = async (item: Received) => {
    const opened = await openMessage(
      item,
      [identity],
      undefined,
      (body) => body.cancel(), // texts are not for this command
      desk,
      undefined,
      { verify: [contact.recipient] },
      (payload) => Promise.resolve(inbox.push(payload)),
    );
    await answer(item, opened, desk);
  };
  const listener = await listenOn(
    on,
    async (connection) => {
      for await (const item of envelopes(connection)) {
        inflight++;
        try {
          await handle(item);
        } finally {
          if (--inflight === 0) idle?.();
        }
      }
    },
    values,
    { betweenFramesTimeoutMs: 0 },
  );
  if (Deno.stderr.isTerminal()) {
    say(`polycrypt: waiting for ${contact.name} on ${listener.address} (at most 5 minutes)`);
  }
  const deadline = Date.now() + SECRET_WAIT_MS;

  /** Sends one message of the check, retrying until the peer listens; waits for its receipt. */
  const send = async (payload: Uint8Array) => {
    const replyKey = newReplyKey();
    const sealed = await encrypt(verifyMessage(payload, { replyKey }), {
      recipients: [contact.recipient],
      sender: me,
    });
    for (;;) {
      let connection: Connection | undefined;
      try {
        const dialed = await dialPeer();
        if (!(dialed instanceof Connection)) throw new UsageError(notStream);
        connection = dialed;
      } catch (e) {
        if (!(e instanceof IoError) || Date.now() > deadline) throw e;
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      try {
        const id = await connection.send(sealed);
        const outcome = await awaitAck(connection, id, replyKey);
        if (outcome !== "delivered" && outcome !== "duplicate") {
          throw new IoError(
            `the peer did not take the check (${outcome}): it needs a polycrypt with ` +
              `contact verify --secret or chat's /verify, and your key as its contact`,
          );
        }
        return;
      } finally {
        await connection.close().catch(() => {});
      }
    }
  };

  try {
    await send(run.message);
    const share = await inbox.next(SHARE, deadline, "its share");
    let confirmation: Uint8Array;
    try {
      confirmation = await run.receive(share);
    } catch {
      const recorded = await recordVerification(identity, contact.recipient, false);
      throw new DecryptFailed(resultLine(false, recorded, "the peer's message was invalid"));
    }
    await send(confirmation);
    const theirs = await inbox.next(CONFIRM, deadline, "its confirmation");
    let equal: boolean;
    try {
      equal = run.finish(theirs);
    } catch {
      equal = false;
    }
    const recorded = await recordVerification(identity, contact.recipient, equal);
    if (!equal) throw new DecryptFailed(resultLine(false, recorded));
    say(`polycrypt: ${resultLine(true, recorded)}`);
  } finally {
    if (inflight > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        idle = resolve;
        timer = setTimeout(resolve, 10_000);
      });
      clearTimeout(timer);
    }
    await listener.close();
  }
}

/** What chat gives its `/verify`. */
export interface ChatVerifyOptions {
  /** The chat's first identity (it signs, and seals the contact book). */
  readonly identity: string;
  /** The chat's peers; a check needs exactly one. */
  readonly recipients: readonly string[];
  /** The peer's label (contact name or fingerprint prefix). */
  readonly name: string;
  /** Sends one message of the check to the peer (sealed, signed, with a reply key). */
  send(payload: Uint8Array): Promise<void>;
  /** Shows a status line. */
  show(line: string): Promise<void>;
  /**
   * What the check is bound to (default {@linkcode SECRET_BINDING}): chat passes its session's id
   * when it has a session with the peer (docs/sessions.md, section 9).
   */
  binding?(): Promise<Uint8Array | string>;
}

/**
 * Chat's side of a check: `command()` when the user types `/verify` (asks for the secret, sends
 * this side's share), `receive(payload)` for each control message from the peer. A share that
 * arrives first is kept until the user types `/verify`; a new share from the peer restarts.
 */
export function chatVerifier(options: ChatVerifyOptions): {
  command(): Promise<void>;
  receive(payload: Uint8Array): Promise<void>;
} {
  let run: SecretCheck | undefined;
  let confirming = false;
  let pending: Uint8Array | undefined; // the peer's share, before this side typed /verify
  let starting = false;

  const finish = async (equal: boolean, why = "") => {
    run = undefined;
    confirming = false;
    const recorded = await recordVerification(options.identity, options.recipients[0], equal)
      .catch(() => undefined);
    await options.show(`polycrypt: ${resultLine(equal, recorded, why)}`);
  };
  const answerShare = async (share: Uint8Array) => {
    let confirmation: Uint8Array;
    try {
      confirmation = await run!.receive(share);
    } catch {
      await finish(false, "the peer's message was invalid");
      return;
    }
    confirming = true;
    try {
      await options.send(confirmation);
    } catch (e) {
      run = undefined;
      confirming = false;
      await options.show(`polycrypt: the secret check stopped: ${(e as Error).message}`);
    }
  };

  return {
    async command() {
      if (options.recipients.length !== 1) {
        await options.show("polycrypt: /verify needs exactly one peer");
        return;
      }
      if (run || starting) {
        await options.show("polycrypt: a check is already running; wait for its result");
        return;
      }
      starting = true;
      let fresh: SecretCheck;
      try {
        const secret = await readSecret();
        const mine = await recipientFromIdentity(options.identity);
        fresh = startSecretCheck({
          secret,
          myFingerprint: fingerprint(mine),
          theirFingerprint: fingerprint(options.recipients[0]),
          binding: await options.binding?.() ?? SECRET_BINDING,
        });
        // The share goes first; a share of the peer's that arrives meanwhile waits in `pending`.
        await options.send(fresh.message);
      } catch (e) {
        await options.show(`polycrypt: ${(e as Error).message}`);
        return;
      } finally {
        starting = false;
      }
      run = fresh;
      if (pending) {
        const share = pending;
        pending = undefined;
        await answerShare(share);
      } else {
        await options.show(
          `polycrypt: checking the secret with ${options.name}: waiting for them to type /verify`,
        );
      }
    },
    async receive(payload) {
      if (payload[1] === SHARE) {
        if (run && !confirming) return await answerShare(payload);
        // A share when none is expected: the peer (re)started a check.
        run = undefined;
        confirming = false;
        pending = payload;
        if (starting) return; // this side is typing its secret: answered once it is sent
        await options.show(
          `polycrypt: ${options.name} asks to check the secret you share: type /verify`,
        );
      } else if (payload[1] === CONFIRM && run && confirming) {
        let equal: boolean;
        try {
          equal = run.finish(payload);
        } catch {
          equal = false;
        }
        await finish(equal);
      }
    },
  };
}
