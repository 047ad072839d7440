// Internal: `listen`, which receives messages on an address: texts to stdout, files into -o DIR
// (docs/cli.md, docs/transports.md section 7).
import type { Inbound } from "../transports/mod.ts";
import { loadIdentities, parse, USAGE } from "./_args.ts";
import { DecryptFailed, UsageError } from "./_errors.ts";
import { say } from "./_io.ts";
import { ReceivedText } from "./_terminal.ts";
import {
  checkOutDir,
  envelopes,
  failureLine,
  FileTooLarge,
  listenOn,
  maxFileBytes,
  openMessage,
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
    "max-file-size": { type: "string" },
    ...TLS_FLAGS,
  });
  if (values.help) return console.log(USAGE.listen);
  const outDir = values.output as string | undefined;
  const maxFile = maxFileBytes(values["max-file-size"] as string | undefined);
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

  /** Decrypts one message: text to stdout, a file into -o DIR. One message at a time. */
  const deliver = (sealed: ReadableStream<Uint8Array>) => {
    const run = printing.then(() => openMessage(sealed, identities, outDir, print, maxFile));
    printing = run.catch(() => {});
    return run;
  };

  /** Opens and acknowledges each message; one generic line for any that fails. */
  const serve = async (peer: Inbound) => {
    for await (const { sealed, acknowledge } of envelopes(peer)) {
      let ok = true;
      let refused = false;
      try {
        await deliver(sealed);
        await acknowledge();
      } catch (e) {
        // One generic line: nothing from the message, its sender or the failing layer.
        ok = false;
        refused = e instanceof FileTooLarge;
        say(failureLine(e));
      } finally {
        if (once) finish(!ok);
      }
      // A file too large: the connection is closed, so its sender stops sending.
      if (once || refused) return;
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
