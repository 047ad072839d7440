// Internal: `chat`, a two-way conversation in the terminal between two peers, each listening on
// its own address and sending to the other's (docs/cli.md). Lines typed are sent as text
// messages; `/file PATH` sends a file; `/quit`, Ctrl-D or Ctrl-C end it.
import { basename } from "node:path";
import { encrypt, encryptStream, type SealedChunk } from "../mod.ts";
import {
  Connection,
  fileMessageHeader,
  type Inbound,
  newReplyKey,
  textMessage,
} from "../transports/mod.ts";
import { loadIdentities, loadRecipients, parse, USAGE } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { openInput, say } from "./_io.ts";
import { receivedText } from "./_terminal.ts";
import {
  addressScheme,
  answer,
  checkFileNameOrUsage,
  checkOutDir,
  dialer,
  envelopes,
  failureLine,
  listenOn,
  openMessage,
  type Outcome,
  prepend,
  ReceiptDesk,
  receiptOutcome,
  STREAM_SCHEMES,
  TLS_FLAGS,
  writeAll,
} from "./_delivery.ts";

const encoder = new TextEncoder();

/** Lines of a byte stream (the terminal in line mode, or a pipe). */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let carry = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    carry += text;
    let nl;
    while ((nl = carry.indexOf("\n")) >= 0) {
      yield carry.slice(0, nl).replace(/\r$/, "");
      carry = carry.slice(nl + 1);
    }
  }
  if (carry) yield carry;
}

/** The delivery note for each receipt outcome (docs/cli.md). */
const NOTES: Readonly<Record<Outcome, string>> = Object.freeze({
  delivered: "delivered",
  duplicate: "delivered earlier",
  noOutputDir: "refused: the peer receives files only with -o DIR",
  tooLarge: "refused: too large for the peer",
  failed: "not delivered: the peer could not open it",
  undecryptable: "not delivered: the peer could not decrypt it",
});

/** How long `chat` waits for outstanding acknowledgements when it ends. */
const FAREWELL_MS = 3000;

export async function chatCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("chat", args, {
    listen: { type: "string" },
    peer: { type: "string" },
    identity: { type: "string", short: "i", multiple: true },
    recipient: { type: "string", short: "r", multiple: true },
    "recipients-file": { type: "string", short: "R", multiple: true },
    proxy: { type: "string" },
    output: { type: "string", short: "o" },
    "passphrase-file": { type: "string" },
    ...TLS_FLAGS,
  });
  if (values.help) return console.log(USAGE.chat);
  if (positionals.length) throw new UsageError(`unexpected argument\nusage: ${USAGE.chat}`);
  const on = values.listen as string | undefined;
  const peer = values.peer as string | undefined;
  if (on === undefined || peer === undefined) {
    throw new UsageError(`--listen and --peer are required\nusage: ${USAGE.chat}`);
  }
  const notStream = `chat runs over ${STREAM_SCHEMES} addresses`;
  if (![on, peer].every((address) => addressScheme(address, notStream).stream)) {
    throw new UsageError(notStream);
  }
  const identities = await loadIdentities(
    values.identity as string[] | undefined ?? [],
    values["passphrase-file"] as string | undefined,
  );
  const recipients = await loadRecipients(values);
  if (identities.length === 0 || recipients.length === 0) {
    throw new UsageError(`give -i FILE and -r RECIPIENT\nusage: ${USAGE.chat}`);
  }
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
  /** A received text: controls escaped, every line labelled `peer: ` (docs/cli.md). */
  const showReceived = (text: string) => {
    screen = screen.then(() => writeAll(encoder.encode(receivedText(text, "peer: "))))
      .catch(() => {});
    return screen;
  };

  // Incoming: whatever arrives on our address, decrypted and answered with a receipt
  // (docs/transports.md section 10); a duplicate is dropped without being shown again.
  const desk = new ReceiptDesk();
  const serve = async (connection: Inbound) => {
    for await (const item of envelopes(connection)) {
      const opened = await openMessage(item, identities, outDir, async (body) => {
        await showReceived(await new Response(body).text());
      }, desk);
      if (opened.error !== undefined) await show(failureLine(opened.error));
      await answer(item, opened, desk);
    }
  };
  // A conversation's connection stays open while both are quiet (no idle timeout between
  // messages); the frame deadlines and eviction at the cap still apply (docs/transports.md).
  const listener = await listenOn(on, serve, values, { betweenFramesTimeoutMs: 0 });

  // Outgoing: one connection to the peer, opened at the first message and again after a failure.
  let outgoing: Connection | undefined;
  const waiting = new Map<string, { n: number; replyKey: Uint8Array }>();
  let allAcked: (() => void) | undefined;
  const watch = (connection: Connection) => {
    (async () => {
      try {
        for await (const m of connection.messages()) {
          // Only a receipt counts: a bare version 1 ACK could come from anyone on the path.
          if (m.kind !== "ack" || m.receipt === undefined) continue;
          const sent = waiting.get(m.id.toHex());
          if (sent === undefined) continue;
          const outcome = await receiptOutcome(sent.replyKey, m.id, m.receipt);
          waiting.delete(m.id.toHex());
          await show(`  (#${sent.n} ${NOTES[outcome]})`);
          if (waiting.size === 0) allAcked?.();
        }
      } catch { /* a broken connection is replaced at the next message */ }
      if (outgoing === connection) outgoing = undefined;
    })();
  };
  let sent = 0;
  const sendLine = async (line: string) => {
    const connection = outgoing ?? await connectToPeer();
    if (outgoing !== connection) {
      outgoing = connection;
      watch(connection);
    }
    const n = ++sent;
    const replyKey = newReplyKey();
    let id: Uint8Array;
    if (line.startsWith("/file ")) {
      const path = line.slice("/file ".length).trim();
      checkFileNameOrUsage(basename(path));
      const source = await openInput(path);
      const head = fileMessageHeader(basename(path), { replyKey });
      const sealed = prepend(head, source.stream).pipeThrough(
        encryptStream({ recipients }),
      ) as ReadableStream<SealedChunk>;
      await show(`  (#${n} sending ${basename(path)})`);
      id = await connection.sendStream(sealed);
    } else {
      id = await connection.send(await encrypt(textMessage(line, { replyKey }), { recipients }));
    }
    waiting.set(id.toHex(), { n, replyKey });
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
    `polycrypt: chatting on ${listener.address}; type and press Enter, /file PATH sends a file, Ctrl-D ends`,
  );
  try {
    for await (const line of lines(Deno.stdin.readable)) {
      if (line === "/quit") break;
      if (line.trim() === "") continue;
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
