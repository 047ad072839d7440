// Internal: `listen`, which receives messages on an address: texts to stdout, files into -o DIR
// (docs/cli.md, docs/transports.md section 7).
import type { Inbound } from "../transports/mod.ts";
import type { Sender } from "./_core.ts";
import { contactsFor, senderLine, signersNamed } from "./_sender.ts";
import { loadIdentities, parse, USAGE } from "./_args.ts";
import { DecryptFailed, UsageError } from "./_errors.ts";
import { say } from "./_io.ts";
import { ReceivedText } from "./_terminal.ts";
import {
  answer,
  checkOutDir,
  envelopes,
  failureLine,
  FileTooLarge,
  listenOn,
  maxFileBytes,
  openMessage,
  ReceiptDesk,
  writeAll,
} from "./_delivery.ts";

const encoder = new TextEncoder();

/** What starts each line of a received text on a terminal, as in `chat`. */
const SENDER_LABEL = "peer: ";

/**
 * Pieces of messages decrypted at once, over all connections (docs/transports.md section 9): the
 * cores, at least 2. Each connection is served in order, its messages one after another; between
 * connections, only this bounds the work, never another connection's slowness.
 */
export const MAX_DECRYPTIONS: number = Math.max(2, navigator.hardwareConcurrency || 0);

/**
 * A text up to this size is decrypted whole before it is printed: texts never interleave, and
 * only one being printed waits for the terminal. A bigger one is printed as it is decrypted and
 * holds the terminal until its end (bounded by the minimum rate of its stream).
 */
const TEXT_BUFFER_BYTES = 1024 * 1024;

/** A counting semaphore: at most `n` holders, the others wait in order. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

/** A message's sealed bytes, passed on to decryption only while holding a slot. */
interface Gate {
  readonly stream: ReadableStream<Uint8Array>;
  /**
   * Gives the slot back and takes none until `resume`: while the message waits for the terminal,
   * at most the piece or two back-pressure lets through go on without one.
   */
  pause(): void;
  /** Takes slots again. */
  resume(): void;
  /** The message is done: gives the slot back for good. */
  close(): void;
}

/**
 * `sealed` one piece at a time, each holding one of `slots` from its arrival until the next piece
 * is asked for (decryption has taken it): waiting for a slow peer never holds a slot.
 */
function gated(sealed: ReadableStream<Uint8Array>, slots: Slots): Gate {
  const reader = sealed.getReader();
  let held = false;
  let closed = false;
  let paused = false;
  const release = () => {
    if (!held) return;
    held = false;
    slots.release();
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      release();
      const { done, value } = await reader.read();
      if (done) return controller.close();
      if (!paused) {
        await slots.acquire();
        if (closed) return slots.release();
        held = true;
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    pause() {
      paused = true;
      release();
    },
    resume() {
      paused = false;
    },
    close() {
      closed = true;
      release();
    },
  };
}

export async function listenCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("listen", args);
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
  // --from: only these senders' signed messages are opened (docs/cli.md, "Signed messages").
  const from = values.from === undefined
    ? undefined
    : await signersNamed(values.from as string[], values["passphrase-file"] as string | undefined);
  const contacts = await contactsFor(identities[0]);
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

  /** Prints one text at a time: a small one once it is decrypted whole, a big one as it comes. */
  const printText = async (
    body: ReadableStream<Uint8Array>,
    gate: Gate,
    sender: () => Sender | null,
  ) => {
    const reader = body.getReader();
    const head: Uint8Array[] = [];
    let size = 0;
    let ended = false;
    while (size <= TEXT_BUFFER_BYTES) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      head.push(value);
      size += value.length;
    }
    if (!ended) gate.pause();
    const run = printing.then(() => {
      gate.resume();
      return print(ReadableStream.from((async function* (): AsyncGenerator<Uint8Array> {
        yield* head;
        for (let r = await reader.read(); !ended && !r.done; r = await reader.read()) {
          yield r.value;
        }
      })())).then(() => {
        // Its sender, right after its text (in the same turn of the queue), once it verified.
        say(`polycrypt: ${senderLine(sender(), contacts)}`);
      });
    });
    printing = run.catch(() => {});
    await run;
  };
  // Delivered messages (to drop duplicates) and delivery times (to pace receipts), in memory.
  const desk = new ReceiptDesk();
  const slots = new Slots(MAX_DECRYPTIONS);

  /**
   * Opens and answers each message of one peer, in order (docs/transports.md section 10); the
   * peers' messages are decrypted concurrently. One generic line for any that fails.
   */
  const serve = async (peer: Inbound) => {
    for await (const item of envelopes(peer)) {
      const gate = gated(item.sealed, slots);
      let ok = false;
      let textShown = false;
      let refused = false;
      let offerAccepted = false;
      try {
        const opened = await openMessage(
          { ...item, sealed: gate.stream },
          identities,
          outDir,
          (body, sender) => {
            textShown = true;
            return printText(body, gate, sender);
          },
          desk,
          maxFile,
          { verify: from },
        );
        ok = opened.outcome === "delivered";
        // Who sent a file, once it verified: a contact's name, a fingerprint, or "unsigned" (a
        // text's line follows the text).
        if (ok && !textShown) say(`polycrypt: ${senderLine(opened.sender ?? null, contacts)}`);
        // One generic line: nothing from the message, its sender or the failing layer.
        if (opened.error !== undefined) say(failureLine(opened.error, from !== undefined));
        // A file too large: the connection is closed, so its sender stops sending (an offer
        // refused has no bytes coming: its sender just does not send the file).
        refused = opened.error instanceof FileTooLarge && opened.offer === undefined;
        offerAccepted = opened.outcome === "accepted";
        await answer(item, opened, desk);
      } catch {
        // The peer went away before its receipt: nothing more to do for it.
      } finally {
        gate.close();
        // --once: an accepted offer is not the message; the file that follows on this
        // connection is (docs/cli.md).
        if (once && !offerAccepted) finish(!ok);
      }
      if ((once && !offerAccepted) || refused) return;
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
