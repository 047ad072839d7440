// Internal: `send`, one message (a text, a file or stdin) sealed and delivered to a peer's address
// (docs/cli.md, docs/transports.md section 7).
import { basename } from "node:path";
import { encrypt, encryptStream, registry, type SealedChunk } from "./_core.ts";
import {
  Connection,
  fileMessageHeader,
  newReplyKey,
  offerMessage,
  sendUdpForReceipt,
  textMessage,
  type Transport,
} from "../transports/mod.ts";
import { loadRecipients, onePositional, parse, USAGE } from "./_args.ts";
import { signingIdentity } from "./_sender.ts";
import { IoError, UsageError } from "./_errors.ts";
import { openInput, say, withProgress } from "./_io.ts";
import {
  awaitAck,
  checkFileNameOrUsage,
  dialer,
  offerVerdict,
  type Outcome,
  OUTCOME_LINES,
  prepend,
  receiptOutcome,
} from "./_delivery.ts";

/**
 * The message plaintext (docs/transports.md section 7): a text, or a file with its name, behind
 * the reply key its receipt is sealed to (section 9).
 */
interface Plaintext {
  /** The reply key inside the message. */
  readonly replyKey: Uint8Array;
  /** The text given on the command line, if any. */
  readonly text?: string;
  /** A file's name (`-f`): offered first over a connection (docs/transports.md section 7). */
  readonly offer?: string;
  /** The plaintext as a stream, and its size when known (a file). */
  stream(): Promise<{ stream: ReadableStream<Uint8Array>; size?: number }>;
}

/** How `send` seals: to its recipients, signed when `-i` names the sender's identity. */
interface SealOptions {
  recipients: string[];
  aead?: string[];
  sender?: string;
}

/** Streams the sealed message over a connection and waits for the peer's receipt. */
async function sendOverConnection(
  connection: Connection,
  plaintext: Plaintext,
  options: SealOptions,
): Promise<Outcome> {
  try {
    let id: Uint8Array;
    if (plaintext.text !== undefined) {
      const message = textMessage(plaintext.text, { replyKey: plaintext.replyKey });
      id = await connection.send(await encrypt(message, options));
    } else {
      const source = await plaintext.stream();
      if (plaintext.offer !== undefined) {
        // The offer first (its size when the file is a regular file, a hint the listener checks
        // early): a file the peer will refuse is refused before its bytes travel.
        const offerKey = newReplyKey();
        const offer = offerMessage(plaintext.offer, source.size, { replyKey: offerKey });
        const offerId = await connection.send(await encrypt(offer, options));
        const verdict = offerVerdict(await awaitAck(connection, offerId, offerKey));
        if (verdict !== "accepted") {
          await source.stream.cancel().catch(() => {});
          return verdict;
        }
      }
      // Sealed as it streams: nothing is sent that is not an envelope.
      const sealed = withProgress(source.stream, source.size, "sending").pipeThrough(
        encryptStream(options),
      ) as ReadableStream<SealedChunk>;
      id = await connection.sendStream(sealed);
    }
    return await awaitAck(connection, id, plaintext.replyKey);
  } catch (e) {
    if (e instanceof UsageError || e instanceof IoError) throw e;
    if (e instanceof Deno.errors.NotFound) throw e;
    throw new IoError("the connection failed");
  } finally {
    await connection.close().catch(() => {});
  }
}

/**
 * Seals the whole message in memory (datagrams carry whole envelopes), sends it to `to` and waits
 * for its receipt (docs/transports.md section 10), like over a connection.
 */
async function sendDatagrams(
  peer: Transport,
  to: string,
  plaintext: Plaintext,
  options: SealOptions,
): Promise<Outcome> {
  const bytes = new Uint8Array(await new Response((await plaintext.stream()).stream).arrayBuffer());
  // The receipt comes with the ACK datagram, which only sendUdpForReceipt reads.
  await peer.close();
  try {
    const { id, receipt } = await sendUdpForReceipt(to, await encrypt(bytes, options));
    return await receiptOutcome(plaintext.replyKey, id, receipt);
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw new IoError("the peer did not acknowledge the message");
  }
}

export async function sendCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("send", args);
  // No --to, and a contact with an inbox: through its relay (docs/relay.md section 13).
  const viaRelay = await (await import("./_relay_send.ts")).relayTarget(values);
  if (viaRelay !== undefined) {
    const text = onePositional("send", positionals);
    if (text !== undefined && values.file !== undefined) {
      throw new UsageError(`give a MESSAGE or -f FILE, not both\nusage: ${USAGE.send}`);
    }
    if (values.file !== undefined) checkFileNameOrUsage(basename(values.file as string));
    return await (await import("./_relay_send.ts")).sendThroughRelay(values, text, viaRelay);
  }
  // -i: the message is signed as this identity (docs/cli.md, "Signed messages").
  const sender = await signingIdentity(values);
  let to = values.to as string | undefined;
  const wanted = values["peer-contact"] as string | undefined;
  if (to === undefined && wanted === undefined) {
    throw new UsageError(`--to is required\nusage: ${USAGE.send}`);
  }
  // `-R -` reads stdin, which is also where a message given neither as MESSAGE nor -f comes from.
  const stdinRecipients = (values["recipients-file"] as string[] | undefined ?? []).includes("-");
  if (stdinRecipients && positionals.length === 0 && (values.file ?? "-") === "-") {
    throw new UsageError(
      `-R - reads stdin, so give the message as MESSAGE or -f FILE\nusage: ${USAGE.send}`,
    );
  }
  const recipients = await loadRecipients(values);
  if (wanted !== undefined) {
    // --peer-contact NAME: that contact's key, and its address unless --to is given.
    const contact = await (await import("./_contacts.ts")).contactNamed(wanted);
    if (!recipients.includes(contact.recipient)) recipients.push(contact.recipient);
    to ??= contact.address;
  }
  if (to === undefined) throw new UsageError(`contact ${wanted} has no address: give --to`);
  if (recipients.length === 0) {
    throw new UsageError(`give at least one -r/-R recipient\nusage: ${USAGE.send}`);
  }
  const aead = (values.aead as string | undefined)?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const id of aead ?? []) registry.aead(id);
  const text = onePositional("send", positionals);
  const file = values.file as string | undefined;
  if (text !== undefined && file !== undefined) {
    throw new UsageError(`give a MESSAGE or -f FILE, not both\nusage: ${USAGE.send}`);
  }
  if (file !== undefined) checkFileNameOrUsage(basename(file));
  const replyKey = newReplyKey();
  const plaintext: Plaintext = {
    replyKey,
    text,
    offer: file === undefined ? undefined : basename(file),
    async stream() {
      if (text !== undefined) {
        return { stream: ReadableStream.from([textMessage(text, { replyKey })]) };
      }
      const source = await openInput(file);
      const head = file === undefined
        ? textMessage("", { replyKey })
        : fileMessageHeader(basename(file), { replyKey });
      return { stream: prepend(head, source.stream), size: source.size };
    },
  };
  const peer = await (await dialer(to, values))();
  // The receipt's outcome (docs/transports.md section 10): one line, exit 3 when not delivered.
  const outcome = peer instanceof Connection
    ? await sendOverConnection(peer, plaintext, { recipients, aead, sender })
    : await sendDatagrams(peer, to, plaintext, { recipients, aead, sender });
  if (outcome !== "delivered" && outcome !== "duplicate") {
    throw new IoError(OUTCOME_LINES[outcome]);
  }
  say(`polycrypt: ${OUTCOME_LINES[outcome]}`);
}
