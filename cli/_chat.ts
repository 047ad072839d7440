// Internal: `chat`, a two-way conversation in the terminal between two peers, each listening on
// its own address and sending to the other's (docs/cli.md). Lines typed are sent as text
// messages; `/file PATH` sends a file; `/help` lists the commands; `/quit`, Ctrl-D or Ctrl-C end
// it; `/verify` checks a secret shared with the peer (cli/_secret_check.ts). Received lines are
// labelled with a local time and the peer's contact name (or fingerprint
// prefix); `--history` keeps the conversation sealed on disk (docs/contacts.md).
import { basename } from "node:path";
import { encrypt, encryptStream, parseIdentity, type SealedChunk } from "../mod.ts";
import {
  Connection,
  fileMessageHeader,
  type Inbound,
  newReplyKey,
  offerMessage,
  textMessage,
  verifyMessage,
} from "../transports/mod.ts";
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
import { chatVerifier } from "./_secret_check.ts";
import {
  addressScheme,
  answer,
  checkFileNameOrUsage,
  checkOutDir,
  dialer,
  envelopes,
  failureLine,
  listenOn,
  offerVerdict,
  openMessage,
  type Outcome,
  prepend,
  ReceiptDesk,
  receiptOutcome,
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

export async function chatCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("chat", args);
  if (positionals.length) throw new UsageError(`unexpected argument\nusage: ${USAGE.chat}`);
  const on = values.listen as string | undefined;
  const wanted = values["peer-contact"] as string | undefined;
  if (on === undefined || (values.peer === undefined && wanted === undefined)) {
    throw new UsageError(`--listen and --peer are required\nusage: ${USAGE.chat}`);
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
  // Every message is signed with the first identity, and only messages signed by a peer are
  // shown (docs/cli.md, "Signed messages"): both need keys of version 2.
  // Parsed once: every message is signed with it.
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

  // Incoming: whatever arrives on our address, decrypted and answered with a receipt
  // (docs/transports.md section 10); a duplicate is dropped without being shown again.
  const desk = new ReceiptDesk();
  // `/verify` (docs/sessions.md): its control messages arrive among the peer's signed messages.
  const verifier = chatVerifier({
    identity: identities[0],
    recipients,
    name,
    send: (payload) => sendControl(payload),
    show,
  });
  const serve = async (connection: Inbound) => {
    for await (const item of envelopes(connection)) {
      // Only the peers' signed messages open; the text is read whole (its signature comes last)
      // before it is shown, under the name of the peer who signed it.
      const opened = await openMessage(
        item,
        identities,
        outDir,
        async (body, sender) => {
          const text = await new Response(body).text();
          const from = sender()!.recipient;
          const who = from === local.contact?.recipient
            ? local.contact.name
            : peerLabel(from, local.contacts);
          await showReceived(text, new Date(), who);
          await record("in", text);
        },
        desk,
        undefined,
        { verify: recipients },
        (payload) => verifier.receive(payload),
      );
      if (opened.error !== undefined) await show(failureLine(opened.error, true));
      await answer(item, opened, desk);
    }
  };
  // A conversation's connection stays open while both are quiet (no idle timeout between
  // messages); the frame deadlines and eviction at the cap still apply (docs/transports.md).
  const listener = await listenOn(on, serve, values, { betweenFramesTimeoutMs: 0 });

  // Outgoing: one connection to the peer, opened at the first message and again after a failure.
  let outgoing: Connection | undefined;
  /**
   * Messages waiting for their receipt, by id. An offer's entry has `answered`, which hears its
   * outcome (or `undefined` when its connection ended) instead of showing a note.
   */
  const waiting = new Map<
    string,
    { n: number; replyKey: Uint8Array; answered?: (outcome: Outcome | undefined) => void }
  >();
  /** Offers waiting for their answer on each connection, told when it ends. */
  const offersOn = new Map<Connection, Set<(outcome: Outcome | undefined) => void>>();
  let allAcked: (() => void) | undefined;
  // Receipts for ids not registered yet: `send` resolves with the id after the last frame is
  // written, and a fast peer's receipt can arrive before that (a few, kept briefly).
  const early = new Map<string, Uint8Array>();
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
    // An offer's answer goes to the /file that waits for it; a message's, to the screen.
    if (sent.answered) sent.answered(outcome);
    else await show(`  (#${sent.n} ${NOTES[outcome]})`);
    if (waiting.size === 0) allAcked?.();
  };
  /**
   * Registers a sent message's id before anything else is awaited: its receipt may arrive at once,
   * or have arrived already (then it is settled now).
   */
  const expect = (id: Uint8Array, entry: Parameters<typeof waiting.set>[1]) => {
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
  /**
   * Offers the file `name` (docs/transports.md section 7) as message `n` and waits for the answer
   * (at most OFFER_TIMEOUT_MS): whether to send it ("accepted"), or why not.
   */
  const offer = async (connection: Connection, n: number, name: string, size?: number) => {
    const replyKey = newReplyKey();
    const sealed = await encrypt(offerMessage(name, size, { replyKey }), {
      recipients,
      sender: me,
    });
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
      expect(id, { n, replyKey, answered });
      const outcome = await Promise.race([answer, timeout]);
      waiting.delete(id.toHex());
      if (outcome === undefined) throw new IoError(`the peer did not answer the offer of ${name}`);
      return offerVerdict(outcome);
    } finally {
      clearTimeout(timer);
      offersOn.get(connection)?.delete(answered);
    }
  };
  /** The connection to the peer: the open one, or a new one (one at a time). */
  let connecting: Promise<Connection> | undefined;
  const current = async (): Promise<Connection> => {
    if (outgoing) return outgoing;
    connecting ??= connectToPeer().then((connection) => {
      outgoing = connection;
      watch(connection);
      return connection;
    }).finally(() => connecting = undefined);
    return await connecting;
  };
  /** Sends one `/verify` control message; its receipt is noted only when it was not taken. */
  const sendControl = async (payload: Uint8Array) => {
    const connection = await current();
    const replyKey = newReplyKey();
    const id = await connection.send(
      await encrypt(verifyMessage(payload, { replyKey }), { recipients, sender: me }),
    );
    expect(id, {
      n: 0,
      replyKey,
      answered: (outcome) => {
        if (outcome !== undefined && outcome !== "delivered" && outcome !== "duplicate") {
          show(`polycrypt: the peer could not take the secret check (${NOTES[outcome]})`);
        }
      },
    });
  };
  let sent = 0;
  const sendLine = async (line: string) => {
    const connection = await current();
    const n = ++sent;
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
        verdict = await offer(connection, n, name, source.size);
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
      const head = fileMessageHeader(name, { replyKey });
      const sealed = prepend(head, source.stream).pipeThrough(
        encryptStream({ recipients, sender: me }),
      ) as ReadableStream<SealedChunk>;
      id = await connection.sendStream(sealed);
    } else {
      kept = line.startsWith("//") ? line.slice(1) : line;
      id = await connection.send(
        await encrypt(textMessage(kept, { replyKey }), { recipients, sender: me }),
      );
    }
    expect(id, { n, replyKey });
    await record("out", kept);
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
    await listener.close();
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
