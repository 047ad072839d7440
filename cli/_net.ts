// Internal: the network commands, `listen` and `send` (docs/cli.md, docs/transports.md).
import { basename, join } from "node:path";
import { decryptStream, encrypt, encryptStream, registry, type SealedChunk } from "../mod.ts";
import {
  checkFileName,
  type Connection,
  connectTcp,
  connectTcpViaSocks5,
  connectTls,
  connectWebSocket,
  fileMessageHeader,
  listenTcp,
  listenTls,
  listenUdp,
  listenWebSocket,
  MESSAGE_KIND,
  parseMessage,
  parseProxyUrl,
  parseTcpAddress,
  parseTlsAddress,
  parseUdpAddress,
  parseWsAddress,
  ProxyError,
  sendUdp,
  textMessage,
} from "../transports/mod.ts";
import {
  loadIdentities,
  loadRecipients,
  onePositional,
  parse,
  USAGE,
  type Values,
} from "./_args.ts";
import { DecryptFailed, IoError, UsageError } from "./_errors.ts";
import { openInput, say, withProgress, writeAtomic } from "./_io.ts";

const encoder = new TextEncoder();

// ------------------------------------------------------------------ listen / send

/** How long `send` waits for the peer's acknowledgement. */
const ACK_TIMEOUT_MS = 30_000;

/** The TLS flags of `listen`, `send` and `chat` (docs/cli.md). */
export const TLS_FLAGS = {
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-ca": { type: "string", multiple: true },
} as const;

/** PEM files named by --tls-ca, read; undefined when none (the built-in web roots apply). */
async function caCerts(values: Values): Promise<string[] | undefined> {
  const files = values["tls-ca"] as string[] | undefined;
  if (!files?.length) return undefined;
  return await Promise.all(files.map((f) => Deno.readTextFile(f)));
}

/**
 * Checks the peer address and its flags (--proxy, --tls-ca) now, and returns the function that
 * connects, so `chat` reports a bad flag before it starts rather than at the first message.
 */
export async function dialer(
  address: string,
  values: Values,
): Promise<() => Promise<Connection>> {
  const proxyUrl = values.proxy as string | undefined;
  let proxy: ReturnType<typeof parseProxyUrl> | undefined;
  try {
    proxy = proxyUrl === undefined ? undefined : parseProxyUrl(proxyUrl);
    if (address.startsWith("tls://")) parseTlsAddress(address);
    else if (address.startsWith("tcp://")) parseTcpAddress(address);
    else if (address.startsWith("ws://")) parseWsAddress(address);
    else throw new RangeError("the address must start with tcp://, tls:// or ws://");
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (proxy && !address.startsWith("tcp://")) {
    throw new UsageError("--proxy works with tcp:// addresses only");
  }
  const cas = await caCerts(values);
  if (cas && !address.startsWith("tls://")) {
    throw new UsageError("--tls-ca works with tls:// addresses only");
  }
  return async () => {
    try {
      if (address.startsWith("ws://")) return await connectWebSocket(address);
      if (address.startsWith("tls://")) return await connectTls(address, { caCerts: cas });
      return proxy ? await connectTcpViaSocks5(address, proxy) : await connectTcp(address);
    } catch (e) {
      if (e instanceof ProxyError) throw new IoError(e.message);
      if (e instanceof Deno.errors.InvalidData && address.startsWith("tls://")) {
        throw new IoError(`${address} presented a certificate that is not trusted (see --tls-ca)`);
      }
      throw new IoError(`could not connect to ${address}`);
    }
  };
}

/** A running listener of any stream transport. */
export interface StreamListener {
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on a tcp://, tls:// or ws:// address; usage and I/O errors as the CLI reports them. */
export async function listenOn(
  on: string,
  serve: (connection: Connection) => Promise<void>,
  values: Values,
): Promise<StreamListener> {
  const certFile = values["tls-cert"] as string | undefined;
  const keyFile = values["tls-key"] as string | undefined;
  if (on.startsWith("tls://")) {
    if (certFile === undefined || keyFile === undefined) {
      throw new UsageError("a tls:// address needs --tls-cert FILE and --tls-key FILE");
    }
  } else if (certFile !== undefined || keyFile !== undefined) {
    throw new UsageError("--tls-cert and --tls-key work with tls:// addresses only");
  }
  const tls = certFile !== undefined && keyFile !== undefined
    ? { cert: await Deno.readTextFile(certFile), key: await Deno.readTextFile(keyFile) }
    : undefined;
  try {
    if (on.startsWith("ws://")) return listenWebSocket(on, serve);
    if (tls) return listenTls(on, serve, tls);
    return listenTcp(on, serve);
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new UsageError(e.message);
    if (tls && e instanceof Error && !(e instanceof Deno.errors.AddrInUse)) {
      throw new IoError("the TLS certificate or key could not be loaded");
    }
    throw new IoError(`could not listen on ${on}`);
  }
}

/** Waits for the ACK of `id`; IoError if the peer closes or stays silent. */
async function awaitAck(connection: Connection, id: Uint8Array): Promise<void> {
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
        if (m.kind === "ack" && m.id.toHex() === id.toHex()) return;
      }
    } catch { /* a broken peer is reported below, without its bytes */ }
    throw new IoError("the peer closed the connection without acknowledging the message");
  })();
  try {
    await Promise.race([acked, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A bytes prefix, then a stream. */
export function prepend(
  head: Uint8Array,
  rest: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  return ReadableStream.from((async function* () {
    yield head;
    yield* rest;
  })());
}

export function checkFileNameOrUsage(name: string): void {
  try {
    checkFileName(name);
  } catch {
    throw new UsageError(`cannot send a file named ${JSON.stringify(name)}`);
  }
}

/** A message worth telling the user about (not a decryption failure). */
export class Notice extends Error {}

/** DIR/NAME, or DIR/NAME (1), (2)... when taken: a received file never replaces another. */
async function freeName(dir: string, name: string): Promise<string> {
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
 * name, a text's body to `onText`. Throws on any failure, a {@linkcode Notice} for a file that
 * cannot be kept.
 */
export async function openMessage(
  sealed: ReadableStream<Uint8Array>,
  identities: string[],
  outDir: string | undefined,
  onText: (body: ReadableStream<Uint8Array>) => Promise<void>,
): Promise<void> {
  const message = await parseMessage(sealed.pipeThrough(decryptStream({ identities })));
  if (message.kind === "text") return await onText(message.body);
  if (outDir === undefined) {
    await message.body.cancel();
    throw new Notice("a file arrived; use -o DIR to receive files");
  }
  const path = await freeName(outDir, message.name);
  await writeAtomic(
    path,
    withProgress(message.body, undefined, `receiving ${message.name}`),
    false,
  );
  say(`polycrypt: received ${path}`);
}

/** Checks that -o DIR is a folder. */
export async function checkOutDir(outDir: string | undefined): Promise<void> {
  if (outDir === undefined) return;
  const info = await Deno.stat(outDir).catch(() => undefined);
  if (!info?.isDirectory) throw new IoError(`${outDir} is not a folder`);
}

export async function sendCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("send", args, {
    to: { type: "string" },
    recipient: { type: "string", short: "r", multiple: true },
    "recipients-file": { type: "string", short: "R", multiple: true },
    aead: { type: "string" },
    file: { type: "string", short: "f" },
    proxy: { type: "string" },
    ...TLS_FLAGS,
  });
  if (values.help) return console.log(USAGE.send);
  const to = values.to as string | undefined;
  if (to === undefined) throw new UsageError(`--to is required\nusage: ${USAGE.send}`);
  const recipients = await loadRecipients(values);
  if (recipients.length === 0) {
    throw new UsageError(`give at least one -r/-R recipient\nusage: ${USAGE.send}`);
  }
  const aead = (values.aead as string | undefined)?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const id of aead ?? []) registry.aead(id);
  const message = onePositional("send", positionals);
  const file = values.file as string | undefined;
  if (message !== undefined && file !== undefined) {
    throw new UsageError(`give a MESSAGE or -f FILE, not both\nusage: ${USAGE.send}`);
  }
  if (file !== undefined) checkFileNameOrUsage(basename(file));
  /** The message plaintext (docs/transports.md section 7): a text, or a file with its name. */
  const plaintextStream = async (): Promise<
    { stream: ReadableStream<Uint8Array>; size?: number }
  > => {
    if (message !== undefined) return { stream: ReadableStream.from([textMessage(message)]) };
    const source = await openInput(file);
    const head = file === undefined
      ? new Uint8Array([MESSAGE_KIND.text])
      : fileMessageHeader(basename(file));
    return { stream: prepend(head, source.stream), size: source.size };
  };
  if (to.startsWith("udp://")) {
    if (values.proxy !== undefined) {
      throw new UsageError("--proxy works with tcp:// addresses only");
    }
    if (values["tls-ca"] !== undefined) {
      throw new UsageError("--tls-ca works with tls:// addresses only");
    }
    try {
      parseUdpAddress(to);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    // Datagrams carry whole envelopes only: seal the input in memory first.
    const plaintext = new Uint8Array(
      await new Response((await plaintextStream()).stream).arrayBuffer(),
    );
    try {
      await sendUdp(to, await encrypt(plaintext, { recipients, aead }));
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(e.message);
      throw new IoError("the peer did not acknowledge the message");
    }
    return say("polycrypt: delivered");
  }
  // Seal first (a file streams while it is sent): nothing is sent that is not an envelope.
  const connection = await (await dialer(to, values))();
  try {
    let id: Uint8Array;
    if (message !== undefined) {
      id = await connection.send(await encrypt(textMessage(message), { recipients, aead }));
    } else {
      const source = await plaintextStream();
      const sealed = withProgress(source.stream, source.size, "sending").pipeThrough(
        encryptStream({ recipients, aead }),
      ) as ReadableStream<SealedChunk>;
      id = await connection.sendStream(sealed);
    }
    await awaitAck(connection, id);
    say("polycrypt: delivered");
  } catch (e) {
    if (e instanceof UsageError || e instanceof IoError) throw e;
    if (e instanceof Deno.errors.NotFound) throw e;
    throw new IoError("the connection failed");
  } finally {
    await connection.close().catch(() => {});
  }
}

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

  /** Decrypts one message: text to stdout, a file into -o DIR. One message at a time. */
  const deliver = (sealed: ReadableStream<Uint8Array>) => {
    const run = printing.then(() =>
      openMessage(sealed, identities, outDir, async (body) => {
        let last = 0x0a;
        for await (const chunk of body) {
          if (chunk.length) last = chunk[chunk.length - 1];
          await writeAll(chunk);
        }
        if (last !== 0x0a) await writeAll(encoder.encode("\n"));
      })
    );
    printing = run.catch(() => {});
    return run;
  };

  const report = async (work: () => Promise<void>) => {
    let ok = true;
    try {
      await work();
    } catch (e) {
      // One generic line: nothing from the message, its sender or the failing layer.
      ok = false;
      say(`polycrypt: ${e instanceof Notice ? e.message : "a message could not be decrypted"}`);
      throw e;
    } finally {
      if (once) finish(!ok);
    }
  };
  const serve = async (connection: Connection) => {
    for await (const m of connection.messages()) {
      if (m.kind === "ack") continue;
      try {
        await report(async () => {
          if (m.kind === "envelope") {
            await deliver(ReadableStream.from([m.envelope]));
            await connection.acknowledge(m.id);
          } else {
            await deliver(ReadableStream.from(m.pieces));
            await connection.acknowledge(await m.id);
          }
        });
      } catch { /* reported; this connection carries on */ }
      if (once) return;
    }
  };
  let listener: StreamListener;
  if (on.startsWith("udp://")) {
    if (values["tls-cert"] !== undefined || values["tls-key"] !== undefined) {
      throw new UsageError("--tls-cert and --tls-key work with tls:// addresses only");
    }
    try {
      listener = await listenUdp(
        on,
        ({ envelope }) => report(() => deliver(ReadableStream.from([envelope]))),
        {
          onDrop: (e) => {
            if (/lost/.test(e.message)) say("polycrypt: a message was lost in transit");
          },
        },
      );
    } catch (e) {
      if (e instanceof RangeError || e instanceof TypeError) throw new UsageError(e.message);
      throw new IoError(`could not listen on ${on}`);
    }
  } else {
    listener = await listenOn(on, serve, values);
  }
  // Port 0 picks a free port: print the one in use (the rest of the address as given).
  say(`polycrypt: listening on ${on.replace(/:0(?=\/|$)/, `:${listener.port}`)}`);
  const failed = await finished;
  await listener.close();
  if (failed) throw new DecryptFailed();
}
