// Internal: `listen`, which receives messages on an address: texts to stdout, files into -o DIR
// (docs/cli.md, docs/transports.md section 7).
import type { Inbound } from "../transports/mod.ts";
import { loadIdentities, parse, USAGE } from "./_args.ts";
import { DecryptFailed, UsageError } from "./_errors.ts";
import { say } from "./_io.ts";
import { ReceivedText } from "./_terminal.ts";
import {
  answer,
  checkOutDir,
  envelopes,
  failureLine,
  listenOn,
  type Opened,
  openMessage,
  ReceiptDesk,
  type Received,
  TLS_FLAGS,
  writeAll,
} from "./_delivery.ts";

const encoder = new TextEncoder();

/** What starts each line of a received text on a terminal, as in `chat`. */
const SENDER_LABEL = "peer: ";

export async function listenCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("listen", args, {
    on: { type: "string" },
    identity: { type: "string", short: "i", multiple: true },
    once: { type: "boolean" },
    output: { type: "string", short: "o" },
    "passphrase-file": { type: "string" },
    ...TLS_FLAGS,
  });
  if (values.help) return console.log(USAGE.listen);
  const outDir = values.output as string | undefined;
  await checkOutDir(outDir);
  if (positionals.length) throw new UsageError(`unexpected argument\nusage: ${USAGE.listen}`);
  const on = values.on as string | undefined;
  if (on === undefined) throw new UsageError(`--on is required\nusage: ${USAGE.listen}`);
  const identities = await loadIdentities(
    values.identity as string[] | undefined ?? [],
    values["passphrase-file"] as string | undefined,
  );
  if (identities.length === 0) throw new UsageError(`give -i FILE\nusage: ${USAGE.listen}`);
  const once = Boolean(values.once);
  let printing: Promise<void> = Promise.resolve();
  let finish!: (failed: boolean) => void;
  const finished = new Promise<boolean>((resolve) => finish = resolve);

  /** A text as it arrived (a pipe, a file), ending with a newline. */
  const printBytes = async (body: ReadableStream<Uint8Array>) => {
    let last = 0x0a;
    for await (const chunk of body) {
      if (chunk.length) last = chunk[chunk.length - 1];
      await writeAll(chunk);
    }
    if (last !== 0x0a) await writeAll(encoder.encode("\n"));
  };
  /** A text on a terminal: controls escaped, each line labelled (docs/cli.md). */
  const printScreen = async (body: ReadableStream<Uint8Array>) => {
    const screen = new ReceivedText(SENDER_LABEL);
    for await (const text of body.pipeThrough(new TextDecoderStream())) {
      await writeAll(encoder.encode(screen.push(text)));
    }
    await writeAll(encoder.encode(screen.end()));
  };
  const print = Deno.stdout.isTerminal() ? printScreen : printBytes;

  // Delivered messages (to drop duplicates) and delivery times (to pace receipts), in memory.
  const desk = new ReceiptDesk();
  /** Decrypts one message: text to stdout, a file into -o DIR. One message at a time. */
  const deliver = (item: Received): Promise<Opened> => {
    const run = printing.then(() => openMessage(item, identities, outDir, print, desk));
    printing = run.then(() => {}, () => {});
    return run;
  };

  /** Opens and answers each message (docs/transports.md section 9); one generic line for a failure. */
  const serve = async (peer: Inbound) => {
    for await (const item of envelopes(peer)) {
      let ok = false;
      try {
        const opened = await deliver(item);
        ok = opened.outcome === "delivered";
        // One generic line: nothing from the message, its sender or the failing layer.
        if (opened.error !== undefined) say(failureLine(opened.error));
        await answer(item, opened, desk);
      } catch {
        // The peer went away before its receipt: nothing more to do for it.
      } finally {
        if (once) finish(!ok);
      }
      if (once) return;
    }
  };
  const listener = await listenOn(on, serve, values, {
    onDrop: (e) => {
      if (e.reason === "lost") say("polycrypt: a message was lost in transit");
    },
  });
  // Port 0 picks a free port: the address in use is printed (the rest as given).
  say(`polycrypt: listening on ${listener.address}`);
  const failed = await finished;
  await listener.close();
  if (failed) throw new DecryptFailed();
}
