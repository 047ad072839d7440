// Internal: `chat`, a two-way conversation in the terminal between two peers, each listening on
// its own address and sending to the other's (docs/cli.md). Lines typed are sent as text
// messages; `/file PATH` sends a file; `/help` lists the commands; `/quit`, Ctrl-D or Ctrl-C end
// it; `/verify` checks a secret shared with the peer (cli/_secret_check.ts). Received lines are
// labelled with a local time and the peer's contact name (or fingerprint prefix); `--history`
// keeps the conversation sealed on disk (docs/contacts.md). With one peer the messages are
// session messages (docs/cli.md, "Sessions in chat"; cli/_chat_session.ts).
import { basename } from "node:path";
import {
  decrypt,
  encrypt,
  encryptStream,
  fingerprint,
  parseIdentity,
  recipientFromIdentity,
  type SealedChunk,
  type SealedEnvelope,
  type Sender,
} from "./_core.ts";
import {
  Connection,
  fileMessageHeader,
  type Inbound,
  newReplyKey,
  offerMessage,
  textMessage,
  verifyMessage,
} from "../transports/mod.ts";
import { peek } from "../cascade/_splice.ts";
import { concatBytes, equalBytes } from "../engines/_bytes.ts";
import { parseBundle } from "../sessions/bundle.ts";
import { PREKEY_MESSAGE, sessionMessageKind } from "../sessions/message.ts";
import {
  CHAT_KIND,
  chatPayload,
  FIRST_PIECE,
  LAST_PIECE,
  MAX_SESSION_MESSAGE,
  openAccount,
  piecePayload,
  PieceReceiver,
  pieces,
  splitPayload,
} from "./_chat_session.ts";
import { loadIdentities, loadRecipients, parse, USAGE, type Values } from "./_args.ts";
import {
  type Contact,
  findContact,
  History,
  peerLabel,
  readBook,
  warnIfExposed,
} from "./_contacts.ts";
import { IoError, UsageError } from "./_errors.ts";
import { openInput, say } from "./_io.ts";
import { receivedText } from "./_terminal.ts";
import { signersNamed } from "./_sender.ts";
import { chatVerifier, SECRET_BINDING } from "./_secret_check.ts";
import {
  addressScheme,
  answer,
  checkFileNameOrUsage,
  checkOutDir,
  dialer,
  envelopes,
  failureLine,
  listenOn,
  maxFileBytes,
  Notice,
  offerVerdict,
  type Opened,
  openMessage,
  type Outcome,
  prepend,
  ReceiptDesk,
  receiptOutcome,
  type Received,
  STREAM_SCHEMES,
  writeAll,
} from "./_delivery.ts";

const encoder = new TextEncoder();

/**
 * Lines of a byte stream (the terminal in line mode, or a pipe), read only when the next line is
 * asked for: while a line is handled nothing reads the stream, so `/verify` can ask for its secret
 * on the same terminal.
 */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let carry = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      carry += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = carry.indexOf("\n")) >= 0) {
        const line = carry.slice(0, nl).replace(/\r$/, "");
        carry = carry.slice(nl + 1);
        yield line;
      }
    }
    carry += decoder.decode();
    if (carry) yield carry;
  } finally {
    reader.releaseLock();
  }
}

/** The delivery note for each receipt outcome (docs/cli.md). */
const NOTES: Readonly<Record<Outcome, string>> = Object.freeze({
  accepted: "accepted: sending",
  delivered: "delivered",
  duplicate: "delivered earlier",
  noOutputDir: "refused: the peer receives files only with -o DIR",
  tooLarge: "refused: too large for the peer",
  failed: "not delivered: the peer could not open it",
  undecryptable: "not delivered: the peer could not decrypt it",
});

/** The lines `/help` shows. */
const HELP = [
  "  /file PATH   send a file (the peer receives files only with -o DIR)",
  "  /verify      check a secret you share with the peer (marks the contact verified or not)",
  "  /help        this list",
  "  /quit        end the chat (also Ctrl-D; Ctrl-C ends it at once)",
  "  //TEXT       send a line that starts with /",
].join("\n");

/** How many entries of the history `chat --history` shows when it starts. */
const HISTORY_SHOWN = 20;

/** `[HH:MM:SS] NAME: `, the local time of `at`; a day other than today gets its date. */
function label(at: Date, who: string): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const now = new Date();
  const day = at.toDateString() === now.toDateString()
    ? ""
    : `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())} `;
  return `[${day}${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}] ${who}: `;
}

/**
 * The contact book as chat uses it: the `--peer-contact` entry and every contact (for the label),
 * opened with the chat's first identity. Without a book, or when it was sealed under another
 * identity and nothing asked for a contact, chat goes on without names.
 */
async function openLocalStore(
  identity: string | undefined,
  values: Values,
): Promise<{ contacts: Contact[]; contact?: Contact }> {
  const wanted = values["peer-contact"] as string | undefined;
  const named = (values.recipient as string[] | undefined ?? []).some((r) => r.startsWith("@"));
  if (identity === undefined) return { contacts: [] };
  let contacts: Contact[];
  try {
    contacts = await readBook(identity);
  } catch (e) {
    if (wanted !== undefined || named) throw e;
    say(`polycrypt: ${(e as Error).message}; peers are shown by fingerprint`);
    return { contacts: [] };
  }
  return { contacts, contact: wanted === undefined ? undefined : findContact(contacts, wanted) };
}

/** How long `/file` waits for the answer to its offer (docs/transports.md section 7). */
const OFFER_TIMEOUT_MS = 30_000;

/** How long `chat` waits for outstanding acknowledgements when it ends. */
const FAREWELL_MS = 3000;

/** How long a chat waits for the peer's part of starting a session (its bundle, or its hello). */
const SESSION_SETUP_MS = 30_000;

/** A waiting entry of a sent message: its number, reply key, and how its answer is heard. */
interface Waiting {
  n: number;
  replyKey: Uint8Array;
  /** Hears the outcome instead of a note on the screen (`undefined`: the connection ended). */
  answered?: (outcome: Outcome | undefined) => void;
  /** Sent as a session message: an "undecryptable" answer ends the session here. */
  viaSession?: boolean;
}

export async function chatCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("chat", args);
  // `chat @bob` (docs/cli.md, "Direct connections"): a contact with an inbox, direct or relayed.
  if (positionals.length === 1 && positionals[0].startsWith("@")) {
    return await (await import("./_direct.ts")).directChat(values, positionals[0]);
  }
  for (const option of ["direct", "no-direct", "ice-server", "ice-bind"]) {
    if (values[option] !== undefined) {
      throw new UsageError(`--${option} goes with chat @NAME (a contact who has an inbox)`);
    }
  }
  // `chat xmpp:bob@example.org --account alice@example.org` (docs/cli.md, "XMPP"): the peer's
  // xmpp: address may stand alone, and this side then listens on its account.
  if (positionals.length === 1 && positionals[0].startsWith("xmpp:") && values.peer === undefined) {
    values.peer = positionals.pop();
  }
  if (positionals.length) throw new UsageError(`unexpected argument\nusage: ${USAGE.chat}`);
  if (values.listen === undefined && typeof values.account === "string") {
    values.listen = `xmpp:${values.account}`;
  }
  const on = values.listen as string | undefined;
  const wanted = values["peer-contact"] as string | undefined;
  if (on === undefined || (values.peer === undefined && wanted === undefined)) {
    throw new UsageError(`--listen and --peer are required\nusage: ${USAGE.chat}`);
  }
  if (values["no-session"] && values.sessions !== undefined) {
    throw new UsageError(`--sessions FILE and --no-session exclude each other`);
  }
  const notStream = `chat runs over ${STREAM_SCHEMES} addresses`;
  const checkStream = (address: string) => {
    if (!addressScheme(address, notStream).stream) throw new UsageError(notStream);
  };
  checkStream(on);
  if (values.peer !== undefined) checkStream(values.peer as string);
  const identities = await loadIdentities(
    values.identity as string[] | undefined ?? [],
    values["passphrase-file"] as string | undefined,
  );
  // The contact book and the history are sealed under the first identity (docs/contacts.md).
  const local = await openLocalStore(identities[0], values);
  const peer = values.peer as string | undefined ?? local.contact?.address;
  if (peer === undefined) {
    throw new UsageError(
      `contact ${wanted} has no address: give --peer ADDRESS, or save one with ` +
        `polycrypt contact add --force --address ADDRESS ${wanted} ...`,
    );
  }
  checkStream(peer);
  // Chat reads the conversation from stdin: recipients cannot come from there too.
  if ((values["recipients-file"] as string[] | undefined ?? []).includes("-")) {
    throw new UsageError(`chat reads what you type from stdin: give -R FILE, not -R -`);
  }
  const recipients = await loadRecipients(values, identities[0]);
  if (local.contact && !recipients.includes(local.contact.recipient)) {
    recipients.push(local.contact.recipient);
  }
  if (identities.length === 0 || recipients.length === 0) {
    throw new UsageError(`give -i FILE and -r RECIPIENT\nusage: ${USAGE.chat}`);
  }
  // Without a session every message is signed with the first identity, and only messages signed
  // by a peer are shown (docs/cli.md, "Signed messages"); sessions need version 2 keys too.
  // Parsed once: every signed message is signed with it.
  const me = parseIdentity(identities[0]);
  if (!me.signingKey) {
    throw new UsageError(
      `${(values.identity as string[])[0]} cannot sign (a version-1 identity): upgrade it with ` +
        `polycrypt keygen --upgrade`,
    );
  }
  await signersNamed(recipients); // a peer key without a signing key is a usage error
  const outDir = values.output as string | undefined;
  await checkOutDir(outDir);
  const dialPeer = await dialer(peer, values);
  const connectToPeer = async (): Promise<Connection> => {
    const connection = await dialPeer();
    // The addresses were checked above: the peer's scheme is a stream scheme.
    if (!(connection instanceof Connection)) throw new UsageError(notStream);
    return connection;
  };

  // Sessions (docs/cli.md, "Sessions in chat"): with one peer, messages are session messages,
  // authenticated by the session and not signed; the store keeps the session for the next chat.
  const peerFingerprints = new Set(recipients.map((r) => fingerprint(r)));
  const ownFingerprint = fingerprint(await recipientFromIdentity(identities[0]));
  const peerRecipient = recipients[0];
  const peerFp = fingerprint(peerRecipient);
  const accepted = (from: string) => peerFingerprints.has(from);
  let sessionsOff: string | undefined;
  if (values["no-session"]) sessionsOff = "--no-session";
  else if (peerFingerprints.size !== 1) {
    sessionsOff = "sessions are between two: with several peers";
  } else if (peerFp === ownFingerprint) {
    sessionsOff = "sessions are between two: talking to yourself";
  }
  if (sessionsOff !== undefined && !values["no-session"]) {
    say(`polycrypt: ${sessionsOff}, messages are signed envelopes`);
  }
  const opened = sessionsOff === undefined
    ? await openAccount(identities[0], values.sessions as string | undefined)
    : undefined;
  const account = opened?.account;
  /** The side whose fingerprint sorts first asks for the other's bundle (docs/cli.md). */
  const initiator = ownFingerprint < peerFp;
  /** Whether the store holds a session with the peer (kept in step with the store). */
  let haveSession = false;
  /** The peer answered that it takes no sessions: messages go as signed envelopes. */
  let signedOnly = account === undefined;
  /** The bundle this side hands out until a session starts from it (one set of one-time keys). */
  let pendingBundle: Uint8Array | undefined;
  /** When this chat last answered a bundle request. */
  let lastAnswer = 0;
  /** Digests of the bundles this chat started a session from (a bundle starts one session). */
  const usedBundles = new Set<string>();

  // Screen output goes through one queue so incoming and status lines never interleave.
  let screen: Promise<void> = Promise.resolve();
  const show = (line: string) => {
    screen = screen.then(() => writeAll(encoder.encode(line + "\n"))).catch(() => {});
    return screen;
  };
  /**
   * A received text: controls escaped, every line labelled `[HH:MM:SS] NAME: ` with the local
   * time and the peer's name or fingerprint prefix (docs/cli.md).
   */
  const name = local.contact?.name ?? peerLabel(recipients[0], local.contacts);
  const showReceived = (text: string, at = new Date(), who = name) => {
    screen = screen.then(() => writeAll(encoder.encode(receivedText(text, label(at, who)))))
      .catch(() => {});
    return screen;
  };
  if (values.history) await warnIfExposed((values.identity as string[])[0]);
  const history = values.history
    ? await History.open(identities[0], recipients).catch((e) => {
      throw e instanceof IoError ? e : new IoError(`cannot keep a history: ${e.message}`);
    })
    : undefined;
  const record = (dir: "in" | "out", text: string) =>
    history?.append({ t: Date.now(), dir, text }).catch((e) =>
      show(`polycrypt: the history could not be written (${(e as Error).message})`)
    );
  if (history && history.entries.length > 0) {
    const shown = history.entries.slice(-HISTORY_SHOWN);
    for (const e of shown) await showReceived(e.text, new Date(e.t), e.dir === "in" ? name : "me");
    say(`polycrypt: history: the last ${shown.length} of ${history.entries.length} messages`);
  }
  if (account) {
    const info = (await account.sessions()).find((s) => s.fingerprint === peerFp);
    if (info) {
      haveSession = true;
      say(
        `polycrypt: continuing the session with ${name} (started ${
          new Date(info.created).toISOString()
        }): messages are not signed, the session authenticates them`,
      );
    }
  }

  /** Those waiting for a session with the peer to start. */
  const readyWaiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  /** A session with the peer exists now: `fresh` when it was just made. */
  const sessionReady = (fresh: boolean) => {
    const had = haveSession;
    haveSession = true;
    signedOnly = false;
    if (fresh || !had) {
      say(
        `polycrypt: new session with ${name}: messages are not signed, the session ` +
          `authenticates them (forward secrecy; kept in ${opened!.path})`,
      );
    }
    for (const w of readyWaiters) w.resolve();
    readyWaiters.clear();
  };
  const sessionFailed = (e: Error) => {
    for (const w of readyWaiters) w.reject(e);
    readyWaiters.clear();
  };
  /** Resolves when a session with the peer exists (at most SESSION_SETUP_MS from now). */
  const whenReady = () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const promise = new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      readyWaiters.add(waiter);
      timer = setTimeout(() => {
        readyWaiters.delete(waiter);
        reject(new IoError("the peer did not start a session (is it running chat?)"));
      }, SESSION_SETUP_MS);
    });
    promise.catch(() => {});
    return promise;
  };

  // Incoming: whatever arrives on our address, decrypted and answered with a receipt
  // (docs/transports.md section 10); a duplicate is dropped without being shown again.
  const desk = new ReceiptDesk();
  // `/verify` (docs/sessions.md): its control messages arrive among the peer's messages. Within a
  // session the check is bound to the session id (both ends hold it, nobody else does).
  const verifier = chatVerifier({
    identity: identities[0],
    recipients,
    name,
    send: (payload) => sendVerify(payload),
    show,
    // The session's id when there is a session (its messages then travel in it), else the
    // label `contact verify --secret` uses too: the check does not start a session.
    binding: async () =>
      haveSession && account ? await account.sessionId(peerFp) ?? SECRET_BINDING : SECRET_BINDING,
  });
  const onVerify = (payload: Uint8Array) => verifier.receive(payload);
  const onText = async (body: ReadableStream<Uint8Array>, sender: () => Sender | null) => {
    const text = await new Response(body).text();
    // A signed message names its signer; a session message comes from the session's peer.
    const from = sender()?.recipient ?? peerRecipient;
    const who = from === local.contact?.recipient
      ? local.contact.name
      : peerLabel(from, local.contacts);
    await showReceived(text, new Date(), who);
    await record("in", text);
  };
  const maxFile = maxFileBytes(undefined);

  /** A bundle from the peer: checked, then the session starts from it with a hello. */
  const onBundle = async (bundle: Uint8Array, replyKey: Uint8Array): Promise<Opened> => {
    let parsed;
    try {
      parsed = await parseBundle(bundle, { expect: peerRecipient });
    } catch (e) {
      const error = new Notice(
        `refused a prekey bundle that is not ${name}'s (another identity, or damaged): ` +
          `no session started`,
      );
      sessionFailed(new IoError(error.message));
      void e;
      return { outcome: "failed", replyKey, error };
    }
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", bundle as Uint8Array<ArrayBuffer>),
    ).toHex();
    if (usedBundles.has(digest)) return { outcome: "delivered", replyKey };
    if (haveSession) {
      // A bundle older than the session is a replay: the session stays.
      const info = (await account!.sessions()).find((s) => s.fingerprint === peerFp);
      if (info && parsed.created <= info.created) return { outcome: "delivered", replyKey };
      await account!.endSession(peerFp);
      haveSession = false;
    }
    usedBundles.add(digest);
    const helloKey = newReplyKey();
    const hello = await account!.encrypt(bundle, chatPayload(helloKey, CHAT_KIND.hello));
    const connection = await outgoingConnection();
    const id = await connection.send(hello as SealedEnvelope);
    expect(id, {
      n: 0,
      replyKey: helloKey,
      answered: (outcome) => {
        if (outcome !== "delivered" && outcome !== "duplicate") {
          show(`polycrypt: ${name} could not start the session; the next message tries again`);
          endSession();
        }
      },
    });
    sessionReady(true);
    return { outcome: "delivered", replyKey };
  };

  /** A control envelope (docs/cli.md): a bundle request, or a bundle. */
  const onControl = async (kind: number, replyKey: Uint8Array, body: Uint8Array) => {
    // Without sessions (--no-session) the answer is "failed": the peer then sends signed
    // envelopes, as to a listener.
    if (account === undefined) return { outcome: "failed", replyKey } as Opened;
    if (kind === CHAT_KIND.request && body.length === 0) {
      // Anyone may ask (the request is unsigned): the answer goes only to the peer's address,
      // always the same bundle until a session starts from it, at most one a second.
      pendingBundle ??= await account.prekeyBundle({ oneTimeKeys: 1 });
      const bundle = pendingBundle;
      if (Date.now() - lastAnswer >= 1000) {
        lastAnswer = Date.now();
        sendControl(CHAT_KIND.bundle, bundle).catch(() => {});
      }
      return { outcome: "delivered", replyKey } as Opened;
    }
    if (kind === CHAT_KIND.bundle) return await onBundle(body, replyKey);
    return undefined;
  };

  /**
   * A whole envelope (mode 0x00/0x01): decrypted in memory; a control envelope is answered, any
   * other message must be signed by the peer (as `decryptStream`'s `verify` asks of a stream).
   */
  const receiveWhole = async (item: Received): Promise<Opened> => {
    const bytes = new Uint8Array(await new Response(item.sealed).arrayBuffer());
    let sender: Sender | null = null;
    let plain: Uint8Array;
    try {
      plain = await decrypt(bytes, { identities, onSender: (s) => sender = s });
    } catch (error) {
      return { outcome: "undecryptable", error };
    }
    const split = splitPayload(plain);
    if (split && (split.kind === CHAT_KIND.request || split.kind === CHAT_KIND.bundle)) {
      const answered = await onControl(split.kind, split.replyKey, split.body);
      if (answered) return answered;
    }
    const signer = sender as Sender | null;
    if (signer === null || !accepted(signer.fingerprint)) {
      return { outcome: "undecryptable", error: new Error("not signed by the peer") };
    }
    return await openMessage(item, identities, outDir, onText, desk, maxFile, {
      verify: recipients,
      decrypted: { plain, sender: signer },
    }, onVerify);
  };

  /** A session message (mode 0x02): decrypted by the account, from the peer only. */
  const receiveSession = async (
    item: Received,
    kind: number,
    files: PieceReceiver,
  ): Promise<Opened> => {
    if (account === undefined) {
      return {
        outcome: "undecryptable",
        error: new Notice("a session message was dropped: this chat runs with --no-session"),
      };
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of item.sealed) {
      size += chunk.length;
      if (size > MAX_SESSION_MESSAGE) {
        await item.sealed.cancel().catch(() => {});
        return { outcome: "undecryptable", error: new Error("too large a session message") };
      }
      chunks.push(chunk);
    }
    const bytes = chunks.length === 1 ? chunks[0] : concatBytes(...chunks);
    // A prekey message from someone else makes a session in the store: removed again, unless
    // one with them was there before.
    const known = kind === PREKEY_MESSAGE
      ? new Set((await account.sessions()).map((s) => s.fingerprint))
      : undefined;
    const sessionBefore = kind === PREKEY_MESSAGE ? await account.sessionId(peerFp) : undefined;
    let from: string;
    let data: Uint8Array;
    try {
      ({ from, data } = await account.decrypt(bytes, { from: peerFp }));
    } catch (error) {
      return { outcome: "undecryptable", error };
    }
    if (!accepted(from)) {
      if (known && !known.has(from)) await account.endSession(from).catch(() => {});
      return { outcome: "undecryptable", error: new Error("a session message from another") };
    }
    if (kind === PREKEY_MESSAGE) {
      // The peer started (or restarted) the session from our bundle: a request makes a new one.
      pendingBundle = undefined;
      const now = await account.sessionId(peerFp);
      sessionReady(
        sessionBefore === undefined || now === undefined ||
          !equalBytes(sessionBefore, now),
      );
    } else if (!haveSession) {
      sessionReady(false);
    }
    const split = splitPayload(data);
    if (split?.kind === CHAT_KIND.hello && split.body.length === 0) {
      return { outcome: "delivered", replyKey: split.replyKey };
    }
    if (split?.kind === CHAT_KIND.piece) return await files.piece(split.replyKey, split.body);
    return await openMessage(item, identities, outDir, onText, desk, maxFile, {
      verify: recipients,
      decrypted: { plain: data, sender: null },
    }, onVerify);
  };

  const serve = async (connection: Inbound) => {
    const files = new PieceReceiver(outDir, desk, maxFile);
    try {
      for await (const received of envelopes(connection)) {
        const [head, whole] = await peek(received.sealed, 10);
        const item = { ...received, sealed: ReadableStream.from(whole) };
        const kind = sessionMessageKind(head);
        let opened: Opened;
        if (kind !== undefined) {
          opened = await receiveSession(item, kind, files);
        } else if (item.wholeId !== undefined) {
          opened = await receiveWhole(item);
        } else {
          // A streamed envelope (a file): only the peers' signed messages open, checked as the
          // stream is read.
          opened = await openMessage(item, identities, outDir, onText, desk, maxFile, {
            verify: recipients,
          }, onVerify);
        }
        if (opened.error !== undefined) await show(failureLine(opened.error, true));
        await answer(item, opened, desk);
      }
    } finally {
      await files.abort();
    }
  };
  // A conversation's connection stays open while both are quiet (no idle timeout between
  // messages); the frame deadlines and eviction at the cap still apply (docs/transports.md).
  const listener = await listenOn(on, serve, values, { betweenFramesTimeoutMs: 0 });

  // Outgoing: one connection to the peer, opened at the first message and again after a failure.
  let outgoing: Connection | undefined;
  let connecting: Promise<Connection> | undefined;
  /** Messages waiting for their receipt, by id. */
  const waiting = new Map<string, Waiting>();
  /** Offers waiting for their answer on each connection, told when it ends. */
  const offersOn = new Map<Connection, Set<(outcome: Outcome | undefined) => void>>();
  let allAcked: (() => void) | undefined;
  // Receipts for ids not registered yet: `send` resolves with the id after the last frame is
  // written, and a fast peer's receipt can arrive before that (a few, kept briefly).
  const early = new Map<string, Uint8Array>();
  /** Ends the session with the peer here: the next message starts a new one. */
  const endSession = () => {
    if (!haveSession) return;
    haveSession = false;
    account?.endSession(peerFp).catch(() => {});
  };
  const settle = async (id: Uint8Array, receipt: Uint8Array) => {
    const key = id.toHex();
    const sent = waiting.get(key);
    if (sent === undefined) {
      early.set(key, receipt);
      if (early.size > 16) early.delete(early.keys().next().value!);
      return;
    }
    waiting.delete(key);
    const outcome = await receiptOutcome(sent.replyKey, id, receipt);
    if (outcome === "undecryptable" && sent.viaSession && haveSession) {
      // The peer has no session (it lost its store, or runs --no-session): a new one starts.
      endSession();
      await show(
        `polycrypt: ${name} could not decrypt a session message; the next message starts a new session`,
      );
    }
    // An offer's answer goes to the /file that waits for it; a message's, to the screen.
    if (sent.answered) sent.answered(outcome);
    else await show(`  (#${sent.n} ${NOTES[outcome]})`);
    if (waiting.size === 0) allAcked?.();
  };
  /**
   * Registers a sent message's id before anything else is awaited: its receipt may arrive at once,
   * or have arrived already (then it is settled now).
   */
  const expect = (id: Uint8Array, entry: Waiting) => {
    waiting.set(id.toHex(), entry);
    const arrived = early.get(id.toHex());
    if (arrived !== undefined) {
      early.delete(id.toHex());
      settle(id, arrived).catch(() => {});
    }
  };
  const watch = (connection: Connection) => {
    (async () => {
      try {
        for await (const m of connection.messages()) {
          // Only a receipt counts: a bare version 1 ACK could come from anyone on the path.
          if (m.kind !== "ack" || m.receipt === undefined) continue;
          await settle(m.id, m.receipt);
        }
      } catch { /* a broken connection is replaced at the next message */ }
      if (outgoing === connection) outgoing = undefined;
      for (const answered of offersOn.get(connection) ?? []) answered(undefined);
      offersOn.delete(connection);
    })();
  };
  /** The connection to the peer: the open one, or a new one (one dial at a time). */
  const outgoingConnection = async (): Promise<Connection> => {
    if (outgoing) return outgoing;
    connecting ??= connectToPeer().finally(() => connecting = undefined);
    const connection = await connecting;
    if (outgoing !== connection) {
      outgoing = connection;
      watch(connection);
    }
    return connection;
  };
  /**
   * Sends `sealed` as message `n` and waits for its answer (at most OFFER_TIMEOUT_MS): the
   * outcome, or `undefined` when none came.
   */
  const exchange = async (
    connection: Connection,
    n: number,
    sealed: SealedEnvelope,
    replyKey: Uint8Array,
    viaSession = false,
  ): Promise<Outcome | undefined> => {
    let answered!: (outcome: Outcome | undefined) => void;
    const answer = new Promise<Outcome | undefined>((resolve) => answered = resolve);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), OFFER_TIMEOUT_MS);
    });
    if (!offersOn.has(connection)) offersOn.set(connection, new Set());
    offersOn.get(connection)!.add(answered);
    try {
      const id = await connection.send(sealed);
      expect(id, { n, replyKey, answered, viaSession });
      const outcome = await Promise.race([answer, timeout]);
      waiting.delete(id.toHex());
      return outcome;
    } finally {
      clearTimeout(timer);
      offersOn.get(connection)?.delete(answered);
    }
  };
  /** A control envelope to the peer: unsigned, sealed to it alone; its answer. */
  const sendControl = async (kind: number, body?: Uint8Array) => {
    const replyKey = newReplyKey();
    const sealed = await encrypt(chatPayload(replyKey, kind, body), {
      recipients: [peerRecipient],
    });
    return await exchange(await outgoingConnection(), 0, sealed, replyKey);
  };
  /**
   * Sends one `/verify` message: in the session when there is one, else signed; its receipt is
   * noted only when it was not taken.
   */
  const sendVerify = async (payload: Uint8Array) => {
    const connection = await outgoingConnection();
    const replyKey = newReplyKey();
    const message = verifyMessage(payload, { replyKey });
    const viaSession = haveSession && account !== undefined;
    const sealed = viaSession
      ? await account!.encrypt(peerFp, message) as SealedEnvelope
      : await encrypt(message, { recipients, sender: me });
    const id = await connection.send(sealed);
    expect(id, {
      n: 0,
      replyKey,
      viaSession,
      answered: (outcome) => {
        if (outcome !== undefined && outcome !== "delivered" && outcome !== "duplicate") {
          show(`polycrypt: the peer could not take the secret check (${NOTES[outcome]})`);
        }
      },
    });
  };
  let starting: Promise<"session" | "signed" | "undecryptable"> | undefined;
  /**
   * How the next message goes: in the session (started first when there is none: the initiator
   * asks for the peer's bundle, the other side sends its own), as a signed envelope (no
   * sessions, or a peer that takes none), or not at all ("undecryptable": the peer could not read
   * the request).
   */
  const ensureSession = (): Promise<"session" | "signed" | "undecryptable"> => {
    if (account === undefined || signedOnly) return Promise.resolve("signed");
    if (haveSession) return Promise.resolve("session");
    starting ??= (async () => {
      const ready = whenReady();
      const outcome = initiator ? await sendControl(CHAT_KIND.request) : await sendControl(
        CHAT_KIND.bundle,
        pendingBundle ??= await account.prekeyBundle({ oneTimeKeys: 1 }),
      );
      if (haveSession) return "session";
      if (outcome === undefined) {
        throw new IoError("the peer did not answer the start of a session");
      }
      if (outcome === "undecryptable") return "undecryptable";
      if (outcome !== "delivered") {
        // It decrypted the request and does not know it: a listener, or chat --no-session.
        signedOnly = true;
        say(
          `polycrypt: ${name} takes no sessions (a listener, or chat --no-session): messages ` +
            `are signed envelopes`,
        );
        return "signed";
      }
      await ready;
      return "session";
    })().finally(() => starting = undefined);
    return starting;
  };
  /**
   * Offers the file `name` (docs/transports.md section 7) as message `n` and waits for the answer
   * (at most OFFER_TIMEOUT_MS): whether to send it ("accepted"), or why not.
   */
  const offer = async (
    connection: Connection,
    n: number,
    name: string,
    size: number | undefined,
    seal: (payload: Uint8Array) => Promise<SealedEnvelope>,
    viaSession: boolean,
  ) => {
    const replyKey = newReplyKey();
    const sealed = await seal(offerMessage(name, size, { replyKey }));
    const outcome = await exchange(connection, n, sealed, replyKey, viaSession);
    if (outcome === undefined) throw new IoError(`the peer did not answer the offer of ${name}`);
    return offerVerdict(outcome);
  };
  /**
   * Sends a file in pieces, each a session message (docs/cli.md): stops at the first piece the
   * peer refuses; the last piece's answer is the file's note.
   */
  const sendPieces = async (
    connection: Connection,
    n: number,
    name: string,
    stream: ReadableStream<Uint8Array>,
  ) => {
    const replyKey = newReplyKey();
    let refused: Outcome | undefined;
    let first = true;
    for await (const piece of pieces(stream)) {
      if (refused !== undefined) {
        await stream.cancel().catch(() => {});
        await show(`  (#${n} ${NOTES[refused]})`);
        return;
      }
      const flags = (first ? FIRST_PIECE : 0) | (piece.last ? LAST_PIECE : 0);
      first = false;
      const sealed = await account!.encrypt(
        peerFp,
        piecePayload(replyKey, flags, name, piece.bytes),
      ) as SealedEnvelope;
      const id = await connection.send(sealed);
      expect(
        id,
        piece.last ? { n, replyKey, viaSession: true } : {
          n,
          replyKey,
          viaSession: true,
          answered: (outcome) => {
            if (outcome !== "accepted") refused ??= outcome ?? "failed";
          },
        },
      );
    }
  };
  let sent = 0;
  const sendLine = async (line: string) => {
    const connection = await outgoingConnection();
    const n = ++sent;
    const how = await ensureSession();
    if (how === "undecryptable") {
      await show(`  (#${n} ${NOTES.undecryptable})`);
      return;
    }
    const viaSession = how === "session";
    const seal = async (payload: Uint8Array): Promise<SealedEnvelope> =>
      viaSession
        ? await account!.encrypt(peerFp, payload) as SealedEnvelope
        : await encrypt(payload, { recipients, sender: me });
    const replyKey = newReplyKey();
    let id: Uint8Array;
    let kept: string; // what the history keeps
    if (line.startsWith("/file ")) {
      const path = line.slice("/file ".length).trim();
      const name = basename(path);
      checkFileNameOrUsage(name);
      const source = await openInput(path);
      kept = `[file ${name}]`;
      await show(`  (#${n} sending ${name})`);
      // The offer first: a file the peer will refuse is refused at once, before its bytes travel.
      let verdict: Outcome;
      try {
        verdict = await offer(connection, n, name, source.size, seal, viaSession);
      } catch (e) {
        await source.stream.cancel().catch(() => {});
        throw e;
      }
      if (verdict !== "accepted") {
        await source.stream.cancel().catch(() => {});
        await show(`  (#${n} ${NOTES[verdict]})`);
        await record("out", kept);
        return;
      }
      if (viaSession) {
        await sendPieces(connection, n, name, source.stream);
        await record("out", kept);
        return;
      }
      const head = fileMessageHeader(name, { replyKey });
      const sealed = prepend(head, source.stream).pipeThrough(
        encryptStream({ recipients, sender: me }),
      ) as ReadableStream<SealedChunk>;
      id = await connection.sendStream(sealed);
    } else {
      kept = line.startsWith("//") ? line.slice(1) : line;
      id = await connection.send(await seal(textMessage(kept, { replyKey })));
    }
    expect(id, { n, replyKey, viaSession });
    await record("out", kept);
  };

  // An offline peer with an inbox (its contact holds an invitation) and a session account:
  // what cannot be sent directly is deposited in the peer's inbox, read there with `fetch`.
  const inboxContact = local.contact?.invitation !== undefined
    ? local.contact
    : local.contacts.find((c) => c.recipient === peerRecipient && c.invitation !== undefined);
  const offline = inboxContact !== undefined && account !== undefined
    ? new (await import("./_relay_send.ts")).OfflineQueue(
      account,
      identities[0],
      inboxContact,
      values,
    )
    : undefined;
  /** Whether the peer answers a connection now (the connection is kept for the line). */
  const reachable = async (): Promise<boolean> => {
    try {
      await outgoingConnection();
      return true;
    } catch {
      return false;
    }
  };

  let ended = false;
  const end = async () => {
    if (ended) return;
    ended = true;
    if (waiting.size > 0) {
      await Promise.race([
        new Promise<void>((resolve) => allAcked = resolve),
        new Promise((resolve) => setTimeout(resolve, FAREWELL_MS)),
      ]);
      if (waiting.size > 0) await show(`polycrypt: ${waiting.size} message(s) not acknowledged`);
    }
    await outgoing?.close().catch(() => {});
    await offline?.close();
    await listener.close();
    await opened?.close().catch(() => {});
    await screen;
  };
  const onInterrupt = () => {
    end().finally(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);

  say(
    `polycrypt: chatting on ${listener.address} with ${name}; type and press Enter, /file PATH sends a file, /help lists the commands, Ctrl-D ends`,
  );
  try {
    for await (const line of lines(Deno.stdin.readable)) {
      if (line === "/quit") break;
      if (line.trim() === "") continue;
      if (line === "/help") {
        await show(HELP);
        continue;
      }
      const command = line.startsWith("//") ? undefined : /^\/(\S*)/.exec(line)?.[1];
      if (command === "verify") {
        // The secret is asked for without echo, never taken from the line (nor sent as text).
        if (line.trim() === "/verify") await verifier.command();
        else await show("polycrypt: /verify takes no argument; it asks for the secret");
        continue;
      }
      if (command === "file" && !line.startsWith("/file ")) {
        await show("polycrypt: /file PATH sends a file");
        continue;
      }
      if (command !== undefined && command !== "file") {
        await show(
          `polycrypt: unknown command /${command}; /help lists them (// sends a line starting with /)`,
        );
        continue;
      }
      try {
        // The peer is offline and has an inbox: the line waits there (docs/relay.md section 13).
        if (offline !== undefined && !(await reachable())) {
          await offline.queue(line, ++sent, show);
          await record(
            "out",
            line.startsWith("/file ") ? `[file ${basename(line.slice(6).trim())}]` : line,
          );
          continue;
        }
        await sendLine(line);
      } catch (e) {
        const why = e instanceof UsageError || e instanceof IoError ? e.message : "not sent";
        await show(`polycrypt: ${why}`);
        await outgoing?.close().catch(() => {});
        outgoing = undefined;
      }
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await end();
  }
}
