// Internal: what `send`, `listen` and `chat` share (docs/cli.md, docs/transports.md): the address
// flags turned into dial/listen calls with the CLI's messages, receiving and opening messages,
// and the small stream helpers.
import { join } from "node:path";
import { decryptStream, type Sender } from "./_core.ts";
import {
  checkFileName,
  type Connection,
  describeSchemes,
  dial,
  type Inbound,
  listen,
  type Listener,
  type ListenOptions,
  openReceipt,
  parseMessage,
  parseProxyUrl,
  ProxyError,
  type ReceiptOutcome,
  type Scheme,
  schemeOf,
  SCHEMES,
  sealReceipt,
  type Serve,
  type Transport,
  UnsupportedSchemeError,
  VERIFY_MESSAGE_MAX,
} from "../transports/mod.ts";
import type { Values } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { FormatError } from "../errors.ts";
import { say, withProgress, writeAtomic } from "./_io.ts";
import { prepend as prependChunks } from "../cascade/_splice.ts";
import { equalBytes } from "../engines/_bytes.ts";
import { checkNoXmppOptions, closeXmppAccount, xmppAccount } from "./_xmpp.ts";

/** "tcp://" or "tls:// or ws://": the schemes offering `feature`, for messages. */
function schemesWith(feature: "proxy" | "tls" | "stream"): string {
  return describeSchemes(SCHEMES.filter((s) => s[feature]));
}

/** The scheme of `address`, or a UsageError (`unknown` is the message for an unknown scheme). */
export function addressScheme(address: string, unknown: string): Scheme {
  try {
    return schemeOf(address);
  } catch (e) {
    if (e instanceof UnsupportedSchemeError) throw new UsageError(unknown);
    throw new UsageError((e as Error).message);
  }
}

/** The stream schemes (chat's), as "tcp://, tls:// or ws://". */
export const STREAM_SCHEMES: string = schemesWith("stream");

/**
 * Checks the peer address and its flags (--proxy, --tls-ca) now, and returns the function that
 * connects, so `chat` reports a bad flag before it starts rather than at the first message.
 */
export async function dialer(
  address: string,
  values: Values,
): Promise<() => Promise<Connection | Transport>> {
  const proxyUrl = values.proxy as string | undefined;
  let proxy: ReturnType<typeof parseProxyUrl> | undefined;
  try {
    proxy = proxyUrl === undefined ? undefined : parseProxyUrl(proxyUrl);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const scheme = addressScheme(address, `the address must start with ${describeSchemes(SCHEMES)}`);
  if (proxy && !scheme.proxy) {
    throw new UsageError(`--proxy works with ${schemesWith("proxy")} addresses only`);
  }
  const caFiles = values["tls-ca"] as string[] | undefined;
  if (caFiles?.length && !scheme.tls) {
    throw new UsageError(`--tls-ca works with ${schemesWith("tls")} addresses only`);
  }
  // Without --tls-ca, the built-in web roots apply.
  const caCerts = caFiles?.length
    ? await Promise.all(caFiles.map((f) => Deno.readTextFile(f)))
    : undefined;
  // xmpp: the account logs in now (its password is asked before anything else happens).
  if (scheme.name !== "xmpp") checkNoXmppOptions(values);
  const xmpp = scheme.name === "xmpp" ? await xmppAccount(values) : undefined;
  return async () => {
    try {
      return await dial(address, { proxy, caCerts, xmpp });
    } catch (e) {
      if (e instanceof ProxyError) throw new IoError(e.message);
      if (e instanceof Deno.errors.InvalidData && scheme.tls) {
        throw new IoError(`${address} presented a certificate that is not trusted (see --tls-ca)`);
      }
      throw new IoError(`could not connect to ${address}`);
    }
  };
}

/** Listens on any scheme's address; usage and I/O errors as the CLI reports them. */
export async function listenOn(
  on: string,
  serve: Serve,
  values: Values,
  options: ListenOptions = {},
): Promise<Listener> {
  const scheme = addressScheme(on, `the address must start with ${describeSchemes(SCHEMES)}`);
  const certFile = values["tls-cert"] as string | undefined;
  const keyFile = values["tls-key"] as string | undefined;
  if (scheme.tls) {
    if (certFile === undefined || keyFile === undefined) {
      throw new UsageError(
        `a ${scheme.name}:// address needs --tls-cert FILE and --tls-key FILE`,
      );
    }
  } else if (certFile !== undefined || keyFile !== undefined) {
    throw new UsageError(`--tls-cert and --tls-key work with ${schemesWith("tls")} addresses only`);
  }
  const tls = certFile !== undefined && keyFile !== undefined
    ? { cert: await Deno.readTextFile(certFile), key: await Deno.readTextFile(keyFile) }
    : undefined;
  if (scheme.name !== "xmpp") checkNoXmppOptions(values);
  const xmpp = scheme.name === "xmpp" ? await xmppAccount(values, on) : undefined;
  try {
    const listener = await listen(on, serve, { ...options, tls, xmpp });
    if (!xmpp) return listener;
    // The account goes with the listener: closing it logs out.
    return {
      address: listener.address,
      port: listener.port,
      close: () => listener.close().finally(closeXmppAccount),
    };
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new UsageError(e.message);
    if (tls && e instanceof Error && !(e instanceof Deno.errors.AddrInUse)) {
      throw new IoError("the TLS certificate or key could not be loaded");
    }
    const reason = e instanceof Deno.errors.AddrInUse
      ? "the address is already in use (EADDRINUSE)"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied (EACCES: ports below 1024 need privileges)"
      : (e as Error).message;
    throw new IoError(`could not listen on ${on}: ${reason}`);
  }
}

/** One envelope a peer sent, as `listen` and `chat` answer it. */
export interface Received {
  /** The sealed bytes. */
  readonly sealed: ReadableStream<Uint8Array>;
  /** When its first frame arrived (`performance.now()`). */
  readonly arrived: number;
  /** Its message id: for a stream, once its last piece arrived. */
  id(): Promise<Uint8Array>;
  /** Its bytes so far (all of them once `sealed` was read to the end or `id()` resolved). */
  size(): number;
  /** The id when known up front (a whole envelope), for messages without a reply key. */
  readonly wholeId?: Uint8Array;
  /** Sends the ACK with `receipt` (on a connection, or in a UDP ACK datagram). */
  acknowledge(receipt: Uint8Array): Promise<void>;
}

/** Each envelope `peer` sends, whole or streamed, with the way to answer it. */
export async function* envelopes(peer: Inbound): AsyncGenerator<Received> {
  for await (const m of peer.messages()) {
    if (m.kind === "ack") continue;
    const arrived = performance.now();
    if (m.kind === "envelope") {
      yield {
        sealed: ReadableStream.from([m.envelope]),
        arrived,
        id: () => Promise.resolve(m.id),
        size: () => m.envelope.length,
        wholeId: m.id,
        acknowledge: (receipt) => peer.acknowledge(m.id, receipt),
      };
    } else {
      let bytes = 0;
      const counted = async function* () {
        for await (const piece of m.pieces) {
          bytes += piece.length;
          yield piece;
        }
      };
      yield {
        sealed: ReadableStream.from(counted()),
        arrived,
        // The rest of a stream that was not read (refused, undecryptable) is read here, so its
        // id and size are known and the connection moves on to the next message.
        id: async () => {
          for await (const piece of m.pieces) bytes += piece.length;
          return await m.id;
        },
        size: () => bytes,
        acknowledge: async (receipt) => peer.acknowledge(await m.id, receipt),
      };
    }
  }
}

/** What became of a received message. */
export type Outcome = ReceiptOutcome | "undecryptable";

/**
 * What a receipt says to the sender who holds `replyKey`: its outcome, or "undecryptable" when it
 * does not open (the listener could not read the reply key and answered with random bytes).
 */
export async function receiptOutcome(
  replyKey: Uint8Array,
  id: Uint8Array,
  receipt: Uint8Array,
): Promise<Outcome> {
  return await openReceipt(replyKey, id, receipt) ?? "undecryptable";
}

/** The outcome of a received message, its reply key if it had one, and the error if it failed. */
export interface Opened {
  /** Delivered, refused, a duplicate, or not decrypted. */
  readonly outcome: Outcome;
  /** The sender's reply key, when the message carried one and it was read. */
  readonly replyKey?: Uint8Array;
  /** Why it was not delivered (for the one local line); absent for delivered and duplicates. */
  readonly error?: unknown;
  /** Who signed a delivered message (`null`: unsigned); absent when it was not delivered. */
  readonly sender?: Sender | null;
  /** Set when the message was the offer of a file (docs/transports.md section 7), not a file. */
  readonly offer?: { readonly name: string; readonly size: number | undefined };
}

/** Who may send to a listener (docs/cli.md, "Signed messages"). */
export interface SenderPolicy {
  /** Only messages signed by one of these recipients are opened; the others are dropped. */
  readonly verify?: readonly string[];
  /**
   * The message's plaintext, when the caller decrypted and authenticated it already (chat: a
   * session message, or a whole envelope whose sender it checked): `item.sealed` is then not
   * read, and `sender` is who the caller found (`null`: a session peer, authenticated by the
   * session rather than by a signature).
   */
  readonly decrypted?: { readonly plain: Uint8Array; readonly sender: Sender | null };
}

const MIB = 1024 * 1024;

/**
 * A listener's memory for receipts (docs/transports.md section 10): the messages it delivered
 * (digests only, bounded, in memory only, never logged) and its estimate of how long a delivery
 * of a given size takes, which every receipt waits for.
 */
export class ReceiptDesk {
  /** Digest (hex) -> when it is forgotten. Insertion order is age order. */
  readonly #seen = new Map<string, number>();
  readonly #claimed = new Set<string>();
  #baseMs = 5;
  #msPerByte = 10 / MIB;

  constructor(readonly maxEntries = 4096, readonly retentionMs = 24 * 3600_000) {}

  /** True and claimed unless `key` was delivered (or is being delivered) already. */
  claim(key: string): boolean {
    const now = Date.now();
    for (const [k, expiry] of this.#seen) {
      if (expiry > now) break;
      this.#seen.delete(k);
    }
    if (this.#seen.has(key) || this.#claimed.has(key)) return false;
    this.#claimed.add(key);
    return true;
  }

  /** Ends a claim: remembered when `delivered`, released otherwise. */
  settle(key: string, delivered: boolean): void {
    this.#claimed.delete(key);
    if (!delivered) return;
    this.#seen.set(key, Date.now() + this.retentionMs);
    while (this.#seen.size > this.maxEntries) this.#seen.delete(this.#seen.keys().next().value!);
  }

  /** Learns from one delivery of `bytes` that took `ms`. */
  record(bytes: number, ms: number): void {
    if (bytes < 256 * 1024) {
      this.#baseMs = 0.8 * this.#baseMs + 0.2 * Math.max(0, ms - bytes * this.#msPerByte);
    } else {
      this.#msPerByte = 0.8 * this.#msPerByte + 0.2 * Math.max(0, ms - this.#baseMs) / bytes;
    }
  }

  /**
   * How long a delivery of `bytes` usually takes here, in ms. The fixed part is capped at 1 s (a
   * text that waited behind a long file must not hold every later receipt back past 2 s).
   */
  estimate(bytes: number): number {
    return Math.min(this.#baseMs, 1000) + bytes * this.#msPerByte;
  }
}

/** The digest a delivered message is remembered by. */
async function digestOf(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return new Uint8Array(digest).toHex();
}

/**
 * Answers a received message (docs/transports.md section 10), on a connection and over UDP alike:
 * a receipt for every outcome (sealed to the reply key, else random bytes), sent no earlier than
 * the desk's estimate for its size.
 */
export async function answer(item: Received, opened: Opened, desk: ReceiptDesk): Promise<void> {
  const id = await item.id();
  const elapsed = performance.now() - item.arrived;
  if (opened.outcome === "delivered") desk.record(item.size(), elapsed);
  const receipt = opened.outcome === "undecryptable"
    ? await sealReceipt(undefined, id, "failed")
    : await sealReceipt(opened.replyKey, id, opened.outcome);
  const wait = desk.estimate(item.size()) + Math.random() * 5 -
    (performance.now() - item.arrived);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  await item.acknowledge(receipt);
}

/** How long `send` waits for the peer's acknowledgement. */
const ACK_TIMEOUT_MS = 30_000;

/**
 * Waits for the receipt of `id` and opens it with `replyKey`: the outcome, or "undecryptable"
 * when it does not open. A version 1 ACK (no receipt) is ignored: anyone could forge it.
 * IoError if the peer closes or stays silent.
 */
export async function awaitAck(
  connection: Connection,
  id: Uint8Array,
  replyKey: Uint8Array,
): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new IoError("the peer did not acknowledge the message")),
      ACK_TIMEOUT_MS,
    );
  });
  const acked = (async () => {
    try {
      for await (const m of connection.messages()) {
        if (m.kind === "ack" && m.receipt && equalBytes(m.id, id)) {
          return await receiptOutcome(replyKey, id, m.receipt);
        }
      }
    } catch { /* a broken peer is reported below, without its bytes */ }
    throw new IoError("the peer closed the connection without acknowledging the message");
  })();
  try {
    return await Promise.race([acked, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What the answer to the offer of a file (docs/transports.md section 7) means for the file:
 * "accepted" when it is to be sent, also for "failed", the answer of a listener from before offers
 * (it does not know the kind, and takes the file as before); a refusal or "undecryptable" as it
 * is (the file is not sent); anything else, which no listener answers to an offer, "failed".
 */
export function offerVerdict(answer: Outcome): Outcome {
  switch (answer) {
    case "accepted":
    case "failed":
      return "accepted";
    case "noOutputDir":
    case "tooLarge":
    case "undecryptable":
      return answer;
    default:
      return "failed";
  }
}

/** The one line `send` prints (and the error it throws) for each outcome (docs/cli.md). */
export const OUTCOME_LINES: Readonly<Record<Outcome, string>> = Object.freeze({
  accepted: "the peer accepted the file",
  delivered: "delivered",
  duplicate: "already delivered (a duplicate)",
  noOutputDir: "the peer refused the file: it receives files only with -o DIR",
  tooLarge: "the peer refused the file: it is larger than the peer accepts",
  failed: "the peer could not open the whole message",
  undecryptable: "the peer could not decrypt the message",
});

/** A bytes prefix, then a stream (the cascade's one splice helper, as a ReadableStream). */
export function prepend(
  head: Uint8Array,
  rest: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  return ReadableStream.from(prependChunks(head, rest));
}

/** UsageError unless `name` may travel as a file name (docs/transports.md section 7). */
export function checkFileNameOrUsage(name: string): void {
  try {
    checkFileName(name);
  } catch {
    throw new UsageError(`cannot send a file named ${JSON.stringify(name)}`);
  }
}

/** A message worth telling the user about (not a decryption failure). */
export class Notice extends Error {}

/**
 * A decrypted message the listener will not keep, with the receipt outcome that tells its sender
 * why (docs/transports.md section 10); the message is the local line.
 */
export class Refused extends Notice {
  constructor(message: string, readonly outcome: "noOutputDir" | "tooLarge") {
    super(message);
  }
}

/** `listen --max-file-size`'s default: 4 GiB per received file. */
const DEFAULT_MAX_FILE_BYTES: number = 4 * 1024 ** 3;

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/** "4 GiB", "100 KiB", "12345 bytes": a limit as the CLI prints it. */
function describeSize(bytes: number): string {
  for (
    const [unit, size] of [["TiB", 1024 ** 4], ["GiB", 1024 ** 3], ["MiB", 1024 ** 2], [
      "KiB",
      1024,
    ]] as const
  ) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}

/**
 * The value of `--max-file-size`: bytes, or a number with K, M, G or T (powers of 1024, "KiB",
 * "MB"... accepted as the same), or the default.
 */
export function maxFileBytes(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_FILE_BYTES;
  const match = /^(\d+)\s*(?:([KMGT])(?:i?B)?|B)?$/i.exec(value.trim());
  const bytes = match ? Number(match[1]) * SIZE_UNITS[(match[2] ?? "").toUpperCase()] : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(`--max-file-size takes a size such as 4G, 500M or 1048576, not ${value}`);
  }
  return bytes;
}

/**
 * A received file over `--max-file-size`: refused, its partial temporary file removed, and (in
 * `listen`) the sender's connection closed so it stops sending.
 */
export class FileTooLarge extends Refused {
  /** @param message the local line, naming the limit */
  constructor(message: string) {
    super(message, "tooLarge");
  }
}

/** The refusal of a file over `max` bytes, with the local line that names the limit. */
export function tooLarge(max: number): FileTooLarge {
  return new FileTooLarge(`a file larger than --max-file-size (${describeSize(max)}) was refused`);
}

/**
 * The largest text opened under a sender policy (`listen --from`, `chat`): 1 MiB, which `listen`
 * holds whole before printing (its TEXT_BUFFER_BYTES) and chat shows as one message.
 */
export const SIGNED_TEXT_LIMIT = 1024 * 1024;

/** Passes `body` on, erroring with `tooLarge()` before a chunk would take it past `max` bytes. */
function limitBytes(
  body: ReadableStream<Uint8Array>,
  max: number,
  tooLarge: () => Error,
): ReadableStream<Uint8Array> {
  let total = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        total += chunk.length;
        if (total > max) throw tooLarge();
        controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * The one line shown for a message that could not be opened: nothing from it, or its sender.
 * `verifying`: only some senders are accepted, so the message may also have been dropped for that.
 */
export function failureLine(e: unknown, verifying = false): string {
  if (e instanceof Notice) return `polycrypt: ${e.message}`;
  return verifying
    ? "polycrypt: a message was dropped: not signed by an accepted sender, or not decryptable"
    : "polycrypt: a message could not be decrypted";
}

/** DIR/NAME, or DIR/NAME (1), (2)... when taken: a received file never replaces another. */
export async function freeName(dir: string, name: string): Promise<string> {
  const dot = name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  for (let i = 0; i < 1000; i++) {
    const candidate = join(dir, i === 0 ? name : `${stem} (${i})${ext}`);
    try {
      await Deno.lstat(candidate);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return candidate;
      throw e;
    }
  }
  throw new Notice(`too many files named ${name} in ${dir}`);
}

/** Writes all of `bytes` to stdout. */
export async function writeAll(bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await Deno.stdout.write(bytes.subarray(off));
}

/**
 * Decrypts one message (docs/transports.md section 7): a file goes into `outDir` under a free
 * name, a text's body to `onText`. Never throws: the outcome says what happened, with the reply
 * key for the receipt and the error (a {@linkcode Notice} for a file that cannot be kept:
 * {@linkcode FileTooLarge} for one over `maxFile` bytes, of which no more than `maxFile` bytes
 * reach the disk, in a temporary file that is removed). A message `desk` says was delivered
 * already is dropped unread ("duplicate"). The offer of a file (section 7) is answered "accepted",
 * or refused as its file would be (no `outDir`, a size over `maxFile`); it is never claimed. With `policy.verify`, a message not signed by one of
 * those senders fails like an undecryptable one, before any of its data is released; a text's
 * `sender()` is known once its body has been read to the end (the signature comes last).
 */
export async function openMessage(
  item: Pick<Received, "sealed" | "wholeId">,
  identities: string[],
  outDir: string | undefined,
  onText: (body: ReadableStream<Uint8Array>, sender: () => Sender | null) => Promise<void>,
  desk: ReceiptDesk,
  maxFile: number = DEFAULT_MAX_FILE_BYTES,
  policy: SenderPolicy = {},
  onVerify?: (payload: Uint8Array, sender: () => Sender | null) => Promise<void>,
): Promise<Opened> {
  let replyKey: Uint8Array | undefined;
  let claim: string | undefined;
  let outcome: Outcome = "undecryptable";
  let sender: Sender | null | undefined;
  const signer = () => {
    if (sender === undefined) throw new Error("the sender is known only at the message's end");
    return sender;
  };
  try {
    const decrypted = policy.decrypted;
    if (decrypted) sender = decrypted.sender;
    const message = await parseMessage(
      decrypted ? ReadableStream.from([decrypted.plain]) : item.sealed.pipeThrough(
        decryptStream({ identities, verify: policy.verify, onSender: (s) => sender = s }),
      ),
      (key) => replyKey = key,
    );
    outcome = "failed";
    if (message.kind === "offer") {
      // The offer of a file: answered "accepted" or refused, before the file's bytes travel. It
      // is read to its end first, so a signature is checked; nothing of it is kept or claimed
      // (the file that follows is checked and claimed as any file).
      const offer = { name: message.name, size: message.size };
      if ((await new Response(message.body).arrayBuffer()).byteLength > 0) {
        throw new FormatError("not a polycrypt message");
      }
      try {
        if (outDir === undefined) {
          throw new Refused("a file arrived; use -o DIR to receive files", "noOutputDir");
        }
        if (offer.size !== undefined && offer.size > maxFile) throw tooLarge(maxFile);
      } catch (error) {
        return { outcome: (error as Refused).outcome, replyKey, error, offer };
      }
      return { outcome: "accepted", replyKey, sender: signer(), offer };
    }
    const key = message.replyKey
      ? `r${await digestOf(message.replyKey)}`
      : item.wholeId && `i${item.wholeId.toHex()}`;
    if (key !== undefined) {
      if (!desk.claim(key)) {
        await message.body.cancel();
        return { outcome: "duplicate", replyKey };
      }
      claim = key;
    }
    if (message.kind === "verify") {
      // A secret-check control message (chat's /verify, contact verify --secret): small, read
      // whole (so its signature is checked) before it is handed on; refused where none is
      // expected (listen).
      if (!onVerify) {
        await message.body.cancel();
        throw new FormatError("not a polycrypt message");
      }
      const payload = new Uint8Array(
        await new Response(
          limitBytes(
            message.body,
            VERIFY_MESSAGE_MAX,
            () => new FormatError("not a polycrypt message"),
          ),
        ).arrayBuffer(),
      );
      await onVerify(payload, signer);
    } else if (message.kind === "text") {
      // Under a sender policy a text is shown only once its signature verified, at its end: it
      // must fit in memory, so it is bounded (a forger naming an accepted key gets no further).
      await onText(
        policy.verify
          ? limitBytes(message.body, SIGNED_TEXT_LIMIT, () =>
            new Refused(
              `a text larger than ${describeSize(SIGNED_TEXT_LIMIT)} was refused`,
              "tooLarge",
            ))
          : message.body,
        signer,
      );
    } else if (outDir === undefined) {
      await message.body.cancel();
      throw new Refused("a file arrived; use -o DIR to receive files", "noOutputDir");
    } else {
      const path = await freeName(outDir, message.name);
      await writeAtomic(
        path,
        withProgress(
          limitBytes(message.body, maxFile, () => tooLarge(maxFile)),
          undefined,
          `receiving ${message.name}`,
        ),
        false,
      );
      say(`polycrypt: received ${path}`);
    }
    outcome = "delivered";
    return { outcome, replyKey, sender: signer() };
  } catch (error) {
    if (error instanceof Refused) outcome = error.outcome;
    if (!replyKey) return { outcome: "undecryptable", error };
    return { outcome: outcome === "undecryptable" ? "failed" : outcome, replyKey, error };
  } finally {
    if (claim !== undefined) desk.settle(claim, outcome === "delivered");
  }
}

/** Checks that -o DIR is a folder. */
export async function checkOutDir(outDir: string | undefined): Promise<void> {
  if (outDir === undefined) return;
  const info = await Deno.stat(outDir).catch(() => undefined);
  if (!info?.isDirectory) throw new IoError(`${outDir} is not a folder`);
}
