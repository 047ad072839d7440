// Internal: what `send`, `listen` and `chat` share (docs/cli.md, docs/transports.md): the address
// flags turned into dial/listen calls with the CLI's messages, receiving and opening messages,
// and the small stream helpers.
import { join } from "node:path";
import { decryptStream } from "../mod.ts";
import {
  checkFileName,
  type Connection,
  describeSchemes,
  dial,
  type Inbound,
  listen,
  type Listener,
  type ListenOptions,
  parseMessage,
  parseProxyUrl,
  ProxyError,
  type Scheme,
  schemeOf,
  SCHEMES,
  type Serve,
  type Transport,
  UnsupportedSchemeError,
} from "../transports/mod.ts";
import type { Values } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { say, withProgress, writeAtomic } from "./_io.ts";
import { prepend as prependChunks } from "../cascade/_splice.ts";

/** The TLS flags of `listen`, `send` and `chat` (docs/cli.md). */
export const TLS_FLAGS = {
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-ca": { type: "string", multiple: true },
} as const;

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
  return async () => {
    try {
      return await dial(address, { proxy, caCerts });
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
  try {
    return await listen(on, serve, { ...options, tls });
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new UsageError(e.message);
    if (tls && e instanceof Error && !(e instanceof Deno.errors.AddrInUse)) {
      throw new IoError("the TLS certificate or key could not be loaded");
    }
    throw new IoError(`could not listen on ${on}`);
  }
}

/** Each envelope `peer` sends, whole or streamed, with the way to acknowledge it. */
export async function* envelopes(
  peer: Inbound,
): AsyncGenerator<{ sealed: ReadableStream<Uint8Array>; acknowledge(): Promise<void> }> {
  for await (const m of peer.messages()) {
    if (m.kind === "ack") continue;
    yield m.kind === "envelope"
      ? { sealed: ReadableStream.from([m.envelope]), acknowledge: () => peer.acknowledge(m.id) }
      : {
        sealed: ReadableStream.from(m.pieces),
        acknowledge: async () => peer.acknowledge(await m.id),
      };
  }
}

/** How long `send` waits for the peer's acknowledgement. */
const ACK_TIMEOUT_MS = 30_000;

/** Waits for the ACK of `id`; IoError if the peer closes or stays silent. */
export async function awaitAck(connection: Connection, id: Uint8Array): Promise<void> {
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

/** `listen --max-file-size`'s default: 4 GiB per received file. */
export const DEFAULT_MAX_FILE_BYTES: number = 4 * 1024 ** 3;

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
export class FileTooLarge extends Notice {}

/** Passes `body` on, erroring with {@linkcode FileTooLarge} before a chunk would pass `max`. */
function limitSize(body: ReadableStream<Uint8Array>, max: number): ReadableStream<Uint8Array> {
  let total = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        total += chunk.length;
        if (total > max) {
          throw new FileTooLarge(
            `a file larger than --max-file-size (${describeSize(max)}) was refused`,
          );
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

/** The one line shown for a message that could not be opened: nothing from it, or its sender. */
export function failureLine(e: unknown): string {
  return `polycrypt: ${e instanceof Notice ? e.message : "a message could not be decrypted"}`;
}

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
 * cannot be kept ({@linkcode FileTooLarge} for one over `maxFile` bytes: no more than `maxFile`
 * bytes of it reach the disk, in a temporary file that is removed).
 */
export async function openMessage(
  sealed: ReadableStream<Uint8Array>,
  identities: string[],
  outDir: string | undefined,
  onText: (body: ReadableStream<Uint8Array>) => Promise<void>,
  maxFile: number = DEFAULT_MAX_FILE_BYTES,
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
    withProgress(limitSize(message.body, maxFile), undefined, `receiving ${message.name}`),
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
