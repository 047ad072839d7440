// Internal: `chat @NAME`, a conversation with a contact who has an inbox on a relay (docs/cli.md,
// "Direct connections"): lines and files go over a WebRTC data channel when one opens (signalled
// through the two users' signalling queues, relay/signal.ts), else into the contact's inbox; the
// chat follows this user's own inboxes meanwhile, as `fetch --follow` does. Every message is a
// session message carrying a relay payload (docs/relay.md section 13), over either path, so a
// file cut off on the data channel is finished through the relay from the last piece the peer
// confirmed, and `fetch` completes it.
import { basename } from "node:path";
import { fingerprint } from "./_core.ts";
import type { Values } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { say } from "./_io.ts";
import {
  type Contact,
  findContact,
  type InboxRecord,
  readBook,
  readInboxes,
  writeInboxes,
} from "./_contacts.ts";
import { openAccount, pieces } from "./_chat_session.ts";
import {
  DeferredStore,
  parseRelayPayload,
  pieceBody,
  RELAY_KIND,
  RELAY_PIECE_BYTES,
  RelayOutbox,
  relayPayload,
  renameKey,
  writePiece,
} from "./_relay.ts";
import { checkFileNameOrUsage, checkOutDir, maxFileBytes, Notice, writeAll } from "./_delivery.ts";
import { receivedText } from "./_terminal.ts";
import { relayOptions, sessionIdentity } from "./inbox.ts";
import { queueKey, Reader } from "./fetch.ts";
import type { Account } from "../sessions/account.ts";
import type { SessionStore } from "../sessions/store.ts";
import type { RelayClient } from "../relay/client.ts";
import type { Connection } from "../transports/connection.ts";
import type { SealedEnvelope } from "../cascade/envelope.ts";

const encoder = new TextEncoder();

/**
 * How long an offer waits for the data channel to open (the peer may be starting), and how long
 * the answering side gives an offer it took.
 */
const OFFER_WAIT_MS = 30_000;
/** The offering side's pause after a failed attempt: doubled each time, up to 5 minutes. */
const RETRY_MS = 15_000;
const RETRY_MAX_MS = 300_000;
/** File pieces in flight on the data channel, unconfirmed (each at most 512 KiB). */
const WINDOW = 8;
/** The longest wait for the peer's confirmation of one message on the data channel. */
const CONFIRM_MS = 60_000;

/** The lines `/help` shows. */
const HELP = [
  "  /file PATH   send a file (the peer receives files only with -o DIR)",
  "  /help        this list",
  "  /quit        end the chat (also Ctrl-D; Ctrl-C ends it at once)",
  "  //TEXT       send a line that starts with /",
].join("\n");

/** The data channel went away: `confirmed` bytes of the file being sent were confirmed. */
class LinkLost extends Error {
  constructor(message: string, readonly confirmed = 0) {
    super(message);
  }
}

/**
 * One open data channel to the peer: session messages out, each confirmed by the peer's ACK once
 * its plaintext is written (the channel is bound to the peer by the signed SDP, so a bare ACK is
 * the peer's); the peer's messages in, handed to `receive`, then acknowledged.
 */
class DirectLink {
  readonly #connection: Connection;
  readonly #waiting = new Map<string, { resolve(): void; reject(e: Error): void }>();
  #lost: string | undefined;
  /** Resolves with the reason once the channel is gone. */
  readonly closed: Promise<string>;

  constructor(connection: Connection, receive: (bytes: Uint8Array) => Promise<boolean>) {
    this.#connection = connection;
    this.closed = (async () => {
      let why = "the peer closed it";
      try {
        for await (const m of connection.messages()) {
          if (m.kind === "ack") {
            const key = m.id.toHex();
            this.#waiting.get(key)?.resolve();
            this.#waiting.delete(key);
          } else if (m.kind === "envelope") {
            if (await receive(m.envelope)) await connection.acknowledge(m.id);
          } else {
            throw new TypeError("a streamed message on the data channel");
          }
        }
      } catch (e) {
        why = (e as Error).message;
      }
      this.#lost = why;
      for (const w of this.#waiting.values()) w.reject(new LinkLost(why));
      this.#waiting.clear();
      await connection.close().catch(() => {});
      return why;
    })();
  }

  /** Sends `sealed`; resolves once written, with the promise of its confirmation. */
  async send(sealed: Uint8Array): Promise<{ confirmed: Promise<void> }> {
    if (this.#lost !== undefined) throw new LinkLost(this.#lost);
    let id: Uint8Array;
    try {
      id = await this.#connection.send(sealed as SealedEnvelope);
    } catch (e) {
      throw new LinkLost(this.#lost ?? (e as Error).message);
    }
    if (this.#lost !== undefined) throw new LinkLost(this.#lost);
    const confirmed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new LinkLost("the peer did not confirm a message in time"));
        this.close();
      }, CONFIRM_MS);
      this.#waiting.set(id.toHex(), {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    confirmed.catch(() => {});
    return { confirmed };
  }

  /** Closes the channel. */
  close(): void {
    this.#connection.close().catch(() => {});
  }
}

/** What `chat @NAME` works with. */
interface Chat {
  identity: string;
  account: Account;
  store: DeferredStore;
  reader: Reader;
  contact: Contact;
  peerFp: string;
  name: string;
  outDir: string | undefined;
  maxFile: number;
}

/** Lines of stdin, read one at a time. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let carry = "";
  for await (const chunk of stream) {
    carry += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = carry.indexOf("\n")) >= 0) {
      yield carry.slice(0, nl).replace(/\r$/, "");
      carry = carry.slice(nl + 1);
    }
  }
  carry += decoder.decode();
  if (carry) yield carry;
}

/** A file's bytes from `offset` on. */
async function readFrom(path: string, offset: number): Promise<ReadableStream<Uint8Array>> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new IoError(`no such file: ${path}`);
    throw new IoError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (!(await file.stat()).isFile) {
    file.close();
    throw new IoError(`${path} is not a file`);
  }
  await file.seek(offset, Deno.SeekMode.Start);
  return file.readable;
}

/**
 * Whether this chat goes direct (docs/cli.md, "Direct connections"): by default yes, unless a
 * proxy is set (a SOCKS5/Tor user hides their address: relay only) or --no-direct; --direct with
 * a proxy is refused, since the data channel would bypass the proxy and show the peer this
 * machine's addresses.
 */
export function directWanted(values: Values): { direct: boolean; why?: string } {
  if (values.direct && values["no-direct"]) {
    throw new UsageError("--direct and --no-direct exclude each other");
  }
  if (values.proxy !== undefined) {
    if (values.direct) {
      throw new UsageError(
        "--direct with --proxy: a direct connection does not go through the proxy and shows " +
          "the peer your IP addresses; drop --direct (with a proxy chat goes through the relay " +
          "only) or drop --proxy",
      );
    }
    return { direct: false, why: "--proxy: relay only, your IP addresses stay hidden" };
  }
  if (values["no-direct"]) {
    return { direct: false, why: "--no-direct: your IP addresses stay hidden from the peer" };
  }
  return { direct: true };
}

/** `chat @NAME [--direct | --no-direct]`: see the module comment. */
export async function directChat(values: Values, who: string): Promise<void> {
  const wanted = directWanted(values);
  const iceServers = values["ice-server"] as string[] | undefined ?? [];
  for (const server of iceServers) {
    if (!/^stun:[^@\s:/]+:\d{1,5}$/.test(server)) {
      throw new UsageError(`--ice-server takes stun:HOST:PORT, not ${server}`);
    }
  }
  const bindAddress = values["ice-bind"] as string | undefined;
  if (!wanted.direct && (iceServers.length > 0 || bindAddress !== undefined)) {
    throw new UsageError("--ice-server and --ice-bind apply to direct connections only");
  }
  for (const option of ["listen", "peer", "peer-contact", "recipient", "recipients-file"]) {
    if (values[option] !== undefined) {
      throw new UsageError(`chat @NAME takes its peer from the contact book: drop --${option}`);
    }
  }
  // Options of the other forms of chat that this one does not take (rather than ignore them).
  for (
    const option of [
      "history",
      "no-session",
      "tls-cert",
      "tls-key",
      "account",
      "xmpp-password-file",
      "xmpp-server",
      "xmpp-presence",
      "xmpp-insecure",
    ]
  ) {
    if (values[option] !== undefined) {
      throw new UsageError(`--${option} does not apply to chat @NAME`);
    }
  }
  const ids = values.identity as string[] | undefined ?? [];
  if (ids.length > 1) throw new UsageError("chat @NAME takes one identity (-i FILE)");
  const identity = await sessionIdentity({ ...values, identity: ids[0] });
  const outDir = values.output as string | undefined;
  await checkOutDir(outDir);
  const contacts = await readBook(identity);
  const contact = findContact(contacts, who);
  if (contact.invitation === undefined) {
    throw new UsageError(
      `${contact.name} has no inbox: chat @NAME talks through the contact's inbox on a relay; ` +
        `save their invitation (polycrypt contact add ${contact.name} INVITATION --force), or ` +
        `chat with --listen/--peer`,
    );
  }
  const inboxes = await readInboxes(identity);
  if (inboxes.length === 0) {
    throw new UsageError(
      "you have no inbox for the answers: create one with polycrypt inbox new --relay URL -i FILE",
    );
  }
  const { parseInvitation } = await import("../relay/invite.ts");
  const invitation = parseInvitation(contact.invitation);
  const options = await relayOptions(values);
  const maxFile = maxFileBytes(undefined);
  let store: DeferredStore | undefined;
  let inner: SessionStore | undefined;
  const opened = await openAccount(
    identity,
    values.sessions as string | undefined,
    (s) => store = new DeferredStore(inner = s),
  );
  const reader = new Reader(
    identity,
    opened.account,
    store!,
    inner!,
    contacts,
    outDir,
    maxFile,
    () => writeInboxes(identity, inboxes),
  );
  const chat: Chat = {
    identity,
    account: opened.account,
    store: store!,
    reader,
    contact,
    peerFp: fingerprint(contact.recipient),
    name: contact.name,
    outDir,
    maxFile,
  };
  const { RelayClient } = await import("../relay/client.ts");
  const clients: RelayClient[] = [];
  const connect = async (url: string) => {
    try {
      const client = await RelayClient.connect(url, options);
      clients.push(client);
      return client;
    } catch {
      throw new IoError(`could not connect to the relay ${url}`);
    }
  };
  let outbox: RelayOutbox | undefined;
  let ended = false;
  const stop = new AbortController();
  try {
    await reader.recover();
    // ------------------------------------------------------------------ paths
    let link: DirectLink | undefined;
    let path: string | undefined;
    const setPath = (now: "direct" | "relay", why?: string) => {
      const line = now === "direct"
        ? `polycrypt: path to ${chat.name}: direct (a WebRTC data channel; ${chat.name} sees ` +
          `your IP addresses)`
        : `polycrypt: path to ${chat.name}: relay ${invitation.relay}${why ? ` (${why})` : ""}`;
      if (line === path) return;
      path = line;
      say(line);
    };
    const mine = inboxes.at(-1)!;
    let direct = wanted.direct;
    let noDirect = wanted.why;
    if (direct && invitation.signalId === undefined) {
      direct = false;
      noDirect = `${chat.name}'s invitation names no signalling queue (made before direct ` +
        `connections): ask for a new one`;
    } else if (direct && mine.signal === undefined) {
      direct = false;
      noDirect = "your inbox has no signalling queue (made before direct connections): make a " +
        "new one with polycrypt inbox new, and give its invitation";
    }
    setPath("relay", direct ? "trying a direct connection" : noDirect);

    /** Runs `work` between the messages the reader handles (the account is used by one at once). */
    const serial = <T>(work: () => Promise<T>): Promise<T> => {
      let out: T;
      return reader.serially(async () => {
        out = await work();
      }).then(() => out);
    };

    // ------------------------------------------------------------------ receiving
    /** A session message from the data channel: written (like fetch), then confirmed. */
    const receiveDirect = (bytes: Uint8Array): Promise<boolean> =>
      serial(async () => {
        let from: string;
        let data: Uint8Array;
        try {
          ({ from, data } = await chat.account.decrypt(bytes, { from: chat.peerFp }));
          if (from !== chat.peerFp) throw new Error("not from the peer");
        } catch {
          chat.store.discard();
          say(`polycrypt: a message on the direct connection did not decrypt: dropped`);
          return true;
        }
        let payload;
        try {
          payload = parseRelayPayload(data);
        } catch (e) {
          await chat.store.flush();
          say(`polycrypt: from ${chat.name}: ${(e as Error).message}`);
          return true;
        }
        if (payload.kind === "text") {
          await writeAll(encoder.encode(receivedText(payload.text, `${chat.name}: `)));
          await chat.store.flush();
          return true;
        }
        if (payload.kind !== "piece") {
          await chat.store.flush();
          say(`polycrypt: from ${chat.name}: a group message on the direct connection: dropped`);
          return true;
        }
        if (chat.outDir === undefined) {
          // Not confirmed: the sender finishes it through the relay, and fetch -o DIR takes it.
          chat.store.discard();
          if (payload.offset === 0) {
            say(
              `polycrypt: ${chat.name} sends a file (${payload.name}): it waits in your inbox; ` +
                `chat or fetch with -o DIR to receive it`,
            );
          }
          link?.close();
          return false;
        }
        let part: string;
        try {
          part = await writePiece(chat.outDir, from, payload, chat.maxFile);
        } catch (e) {
          if (!(e instanceof Notice)) {
            throw new IoError(`cannot write into ${chat.outDir}: ${(e as Error).message}`);
          }
          await chat.store.flush();
          say(`polycrypt: from ${chat.name}: ${e.message}`);
          return true;
        }
        if (!payload.last) {
          await chat.store.flush();
          return true;
        }
        const intent = {
          key: renameKey(part),
          value: encoder.encode(JSON.stringify({ part, name: payload.name })),
        };
        await chat.store.flush([intent]);
        await reader.finishRename(intent.key, part, payload.name, chat.name);
        return true;
      });
    /** This user's inboxes, followed as `fetch --follow` does (what came through the relay). */
    const follow = async (inbox: InboxRecord) => {
      const client = await connect(inbox.relay);
      const messages = await client.subscribe(
        Uint8Array.fromHex(inbox.receivingId),
        queueKey(inbox),
      );
      for await (const message of messages) {
        if (ended) return;
        await reader.handle(client, inbox, message);
      }
      if (!ended) say(`polycrypt: stopped reading your inbox on ${inbox.relay} (another reader)`);
    };
    for (const inbox of inboxes) {
      follow(inbox).catch((e) => {
        if (!ended) say(`polycrypt: stopped reading your inbox on ${inbox.relay}: ${e.message}`);
      });
    }

    // ------------------------------------------------------------------ the data channel
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        stop.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    const directLoop = async () => {
      const { connectWebRtc, acceptWebRtc } = await import("../transports/webrtc.ts");
      const { relaySignal, SignalReplayCache } = await import("../relay/signal.ts");
      const signalling = mine.signal!;
      const seen = new SignalReplayCache();
      // One channel carries both directions: the side whose fingerprint sorts first offers it.
      const offerer = fingerprint(opened.account.recipient) < chat.peerFp;
      let pause = RETRY_MS;
      /** The relay connections of the signalling queues: made again after any failure. */
      let relays: [RelayClient, RelayClient] | undefined;
      while (!ended) {
        if (relays === undefined) {
          try {
            const myClient = await connect(mine.relay);
            relays = [
              myClient,
              invitation.relay === mine.relay ? myClient : await connect(invitation.relay),
            ];
          } catch (e) {
            setPath("relay", `no direct connection: ${(e as Error).message}`);
            await sleep(RETRY_MS);
            continue;
          }
        }
        const [myClient, peerClient] = relays;
        const signal = relaySignal({
          relay: peerClient,
          inboxRelay: myClient,
          identity,
          peer: contact.recipient,
          to: invitation.signalId!,
          inbox: {
            receivingId: Uint8Array.fromHex(signalling.receivingId),
            key: queueKey({ key: signalling.key } as InboxRecord),
          },
          seen,
          // The answering side takes no offer older than its sender waits for the channel (less
          // 5 s to open it): one left from an attempt the peer gave up would be answered in vain.
          ...(offerer
            ? { session: crypto.getRandomValues(new Uint8Array(16)) }
            : { maxAgeMs: OFFER_WAIT_MS - 5000 }),
          onIgnored: (reason) => {
            // A replay is signed by the peer: someone (the relay?) sent it again. Anything not
            // from the peer (a stranger, a forgery) is ignored without a word.
            if (reason === "replayed") say("polycrypt: a replayed connection offer was refused");
          },
        });
        const rtc = {
          iceServers,
          ...(bindAddress ? { bindAddress } : {}),
          connectTimeoutMs: OFFER_WAIT_MS,
        };
        const abort = () => signal.close?.();
        stop.signal.addEventListener("abort", abort, { once: true });
        let connection: Connection;
        try {
          if (offerer) {
            connection = await connectWebRtc(signal, rtc);
          } else {
            // Wait for an offer as long as it takes; then it has OFFER_WAIT_MS to open.
            const it = signal.messages()[Symbol.asyncIterator]();
            const first = await it.next();
            if (first.done) {
              stop.signal.removeEventListener("abort", abort);
              continue;
            }
            connection = await acceptWebRtc({
              send: (m) => signal.send(m),
              close: () => signal.close?.(),
              async *messages() {
                yield first.value;
                for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
              },
            }, rtc);
          }
        } catch (e) {
          stop.signal.removeEventListener("abort", abort);
          if (ended) return;
          // The relay connections may be what failed: the next attempt makes new ones.
          for (const client of new Set(relays)) client.close().catch(() => {});
          relays = undefined;
          // The answering side waits quietly for an offer; a failed attempt is said.
          if (offerer || signal.session !== undefined) {
            setPath("relay", `no direct connection: ${(e as Error).message}`);
          }
          if (offerer) {
            await sleep(pause);
            pause = Math.min(2 * pause, RETRY_MAX_MS);
          } else {
            await sleep(1000);
          }
          continue;
        }
        stop.signal.removeEventListener("abort", abort);
        if (ended) {
          await connection.close().catch(() => {});
          return;
        }
        pause = RETRY_MS;
        link = new DirectLink(connection, receiveDirect);
        setPath("direct");
        const why = await link.closed;
        link = undefined;
        if (ended) return;
        setPath("relay", `the direct connection was lost: ${why}`);
        if (offerer) await sleep(RETRY_MS);
      }
    };
    if (direct) {
      directLoop().catch((e) => {
        if (!ended) setPath("relay", `direct connections stopped: ${(e as Error).message}`);
      });
    }

    // ------------------------------------------------------------------ sending
    /** Session-encrypts `payload` for the peer (a session started from a bundle if none). */
    const seal = (payload: Uint8Array): Promise<Uint8Array> =>
      serial(async () => {
        try {
          if (await chat.account.sessionId(chat.peerFp) !== undefined) {
            return await chat.account.encrypt(chat.peerFp, payload);
          }
          const client = await connect(invitation.relay);
          const bundle = await client.fetchBundle(invitation.sendId).finally(() =>
            client.close().catch(() => {})
          );
          if (bundle === undefined) {
            throw new IoError("the contact's inbox has no prekey bundle left to start a session");
          }
          const { parseBundle } = await import("../sessions/bundle.ts");
          await parseBundle(bundle, { expect: contact.recipient });
          return await chat.account.encrypt(bundle, payload);
        } finally {
          await chat.store.flush();
        }
      });
    let invitationSent = false;
    /** Deposits `payload` in the peer's inbox (the first one carries this user's invitation). */
    const deposit = async (kind: number, body: Uint8Array) => {
      outbox ??= await RelayOutbox.open(contact.invitation!, options, chat.identity);
      const invite = invitationSent ? undefined : mine.invitation;
      invitationSent = true;
      await reader.serially(async () => {
        try {
          await outbox!.deposit(chat.account, relayPayload(kind, body, invite));
        } finally {
          await chat.store.flush();
        }
      });
    };
    let sent = 0;
    const sendText = async (text: string) => {
      const n = ++sent;
      const body = encoder.encode(text);
      const current = link;
      if (current) {
        try {
          const { confirmed } = await current.send(
            await seal(relayPayload(RELAY_KIND.text, body)),
          );
          await confirmed;
          say(`  (#${n} delivered, direct)`);
          return;
        } catch (e) {
          if (!(e instanceof LinkLost)) throw e;
          say(`polycrypt: #${n} did not cross the direct connection (${e.message}): via the relay`);
        }
      }
      await deposit(RELAY_KIND.text, body);
      say(`  (#${n} queued on ${outbox!.relay} for ${chat.name})`);
    };
    const sendFile = async (file: string) => {
      const n = ++sent;
      const name = basename(file);
      checkFileNameOrUsage(name);
      const transferId = crypto.getRandomValues(new Uint8Array(16));
      let start = 0;
      const current = link;
      if (current) {
        const inFlight: { end: number; confirmed: Promise<void> }[] = [];
        let offset = 0;
        try {
          for await (const piece of pieces(await readFrom(file, 0), RELAY_PIECE_BYTES)) {
            const body = pieceBody(transferId, offset, piece.last, name, piece.bytes);
            const sealed = await seal(relayPayload(RELAY_KIND.piece, body));
            offset += piece.bytes.length;
            inFlight.push({ end: offset, ...await current.send(sealed) });
            while (inFlight.length >= (piece.last ? 1 : WINDOW)) {
              await inFlight[0].confirmed;
              start = inFlight.shift()!.end;
            }
          }
          say(`  (#${n} ${name}: ${start} bytes delivered, direct)`);
          return;
        } catch (e) {
          if (!(e instanceof LinkLost)) throw e;
          say(
            `polycrypt: the direct connection to ${chat.name} was lost while sending ${name} ` +
              `(${e.message}); ${start} bytes were confirmed, the rest goes through the relay`,
          );
        }
      }
      outbox ??= await RelayOutbox.open(contact.invitation!, options, chat.identity);
      let offset = start;
      for await (const piece of pieces(await readFrom(file, start), outbox.pieceBytes)) {
        await deposit(
          RELAY_KIND.piece,
          pieceBody(transferId, offset, piece.last, name, piece.bytes),
        );
        offset += piece.bytes.length;
      }
      say(
        `  (#${n} ${name}: ${offset - start} bytes queued on ${outbox.relay} for ${chat.name}` +
          `${start ? `, after ${start} delivered directly` : ""})`,
      );
    };

    // ------------------------------------------------------------------ the conversation
    const onInterrupt = () => {
      ended = true;
      stop.abort();
      link?.close();
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    say(
      `polycrypt: chatting with ${chat.name}; type and press Enter, /file PATH sends a file, ` +
        `/help lists the commands, Ctrl-D ends`,
    );
    try {
      for await (const line of lines(Deno.stdin.readable)) {
        if (line === "/quit") break;
        if (line.trim() === "") continue;
        if (line === "/help") {
          say(HELP);
          continue;
        }
        const command = line.startsWith("//") ? undefined : /^\/(\S*)/.exec(line)?.[1];
        try {
          if (command === "file" && line.startsWith("/file ")) {
            await sendFile(line.slice("/file ".length).trim());
          } else if (command !== undefined) {
            say(
              `polycrypt: unknown command /${command}; /help lists them (// sends a line ` +
                `starting with /)`,
            );
          } else {
            await sendText(line.startsWith("//") ? line.slice(1) : line);
          }
        } catch (e) {
          say(
            `polycrypt: ${
              e instanceof UsageError || e instanceof IoError ? e.message : "not sent"
            }`,
          );
        }
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      ended = true;
      stop.abort();
      link?.close();
    }
  } finally {
    ended = true;
    stop.abort();
    await reader.serially(async () => {});
    await outbox?.close();
    for (const client of clients) await client.close().catch(() => {});
    await opened.close();
  }
}
