// Internal: input streams, atomic output files, progress on stderr.
import { basename, dirname, join, resolve } from "node:path";
import { IoError, UsageError } from "./_errors.ts";

const encoder = new TextEncoder();

/** Writes a line to stderr. */
export function say(message: string): void {
  Deno.stderr.writeSync(encoder.encode(`${message}\n`));
}

/** The input as a stream, and its size when it is a regular file. */
export async function openInput(
  path: string | undefined,
): Promise<{ stream: ReadableStream<Uint8Array>; size?: number; path?: string }> {
  if (path === undefined || path === "-") return { stream: Deno.stdin.readable };
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new IoError(`no such file: ${path}`);
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new IoError(`cannot read ${path}: permission denied`);
    }
    throw e;
  }
  const info = await file.stat();
  if (!info.isFile) {
    file.close();
    throw new IoError(`${path} is not a regular file`);
  }
  return { stream: file.readable, size: info.size, path };
}

/**
 * Counts bytes through a stream and, when stderr is a terminal, draws progress there: a bar for a
 * known `total` over 16 MiB, or a running count once an unknown total passes 16 MiB (a file being
 * received, a pipe).
 */
export function withProgress(
  stream: ReadableStream<Uint8Array>,
  total: number | undefined,
  label: string,
): ReadableStream<Uint8Array> {
  const threshold = 16 * 1024 * 1024;
  if ((total !== undefined && total <= threshold) || !Deno.stderr.isTerminal()) return stream;
  let done = 0;
  let last = 0;
  const start = performance.now();
  const draw = (final: boolean) => {
    const now = performance.now();
    if (total === undefined && done <= threshold) return;
    if (!final && now - last < 200) return;
    last = now;
    const mbps = done / 1e6 / Math.max(0.001, (now - start) / 1000);
    const rate = `${(done / 2 ** 20).toFixed(0)} MiB ${mbps.toFixed(0)} MB/s`;
    let line = `${label} ${rate}`;
    if (total !== undefined) {
      const pct = Math.min(100, (done / total) * 100);
      const width = 30;
      const bar = "#".repeat(Math.round((pct / 100) * width)).padEnd(width, ".");
      line = `${label} [${bar}] ${pct.toFixed(0).padStart(3)}% ${rate}`;
    }
    Deno.stderr.writeSync(encoder.encode(`\r${line}${final ? "\n" : ""}`));
  };
  return stream.pipeThrough(
    new TransformStream({
      transform(chunk, controller) {
        done += chunk.length;
        draw(false);
        controller.enqueue(chunk);
      },
      flush() {
        draw(true); // nothing when an unknown total stayed under the threshold
      },
    }),
  );
}

/** Refuses an output path that is the input file. */
export async function checkNotSameFile(input: string | undefined, output: string): Promise<void> {
  if (!input || input === "-") return;
  try {
    const [a, b] = await Promise.all([Deno.realPath(input), Deno.realPath(output)]);
    if (a === b) {
      throw new UsageError(
        "the output file is the input file; polycrypt never overwrites its input",
      );
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // The output does not exist yet: it cannot be the input.
  }
}

const cleanups = new Set<() => void>();
let signalsInstalled = false;

function installSignalHandler(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  Deno.addSignalListener("SIGINT", () => {
    for (const c of cleanups) c();
    say("\npolycrypt: interrupted");
    Deno.exit(130);
  });
}

/** IoError if `target` exists (`path` is how the user named it). */
async function refuseExisting(target: string, path: string): Promise<void> {
  try {
    await Deno.lstat(target);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  throw new IoError(`${path} already exists (use --force to replace it)`);
}

/**
 * Writes `stream` to `path` atomically: a temporary file in the same folder (mode 0600),
 * fsynced, then renamed over the target. On any failure the temporary file is removed
 * and the target is untouched. Without `force`, an existing target is an error.
 */
export async function writeAtomic(
  path: string,
  stream: ReadableStream<Uint8Array>,
  force: boolean,
): Promise<void> {
  const target = resolve(path);
  if (!force) await refuseExisting(target, path);
  const tmp = join(dirname(target), `.${basename(target)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new IoError(`no such folder for ${path}`);
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new IoError(`cannot write in the folder of ${path}`);
    }
    throw e;
  }
  const cleanup = () => {
    try {
      Deno.removeSync(tmp);
    } catch { /* already gone */ }
  };
  installSignalHandler();
  cleanups.add(cleanup);
  try {
    for await (const chunk of stream) {
      for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
    }
    await file.syncData();
    file.close();
    // Re-check just before the rename: never replace a file that appeared meanwhile.
    if (!force) await refuseExisting(target, path);
    await Deno.rename(tmp, target);
  } catch (e) {
    try {
      file.close();
    } catch { /* closed */ }
    cleanup();
    throw e;
  } finally {
    cleanups.delete(cleanup);
  }
}

/** Writes `stream` to stdout. */
export async function writeStdout(stream: ReadableStream<Uint8Array>): Promise<void> {
  for await (const chunk of stream) {
    for (let off = 0; off < chunk.length;) off += await Deno.stdout.write(chunk.subarray(off));
  }
}

/** Reads a whole text file, as an I/O error when it cannot. */
export async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new IoError(`no such file: ${path}`);
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new IoError(`cannot read ${path}: permission denied`);
    }
    throw e;
  }
}
