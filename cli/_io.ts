// Internal: input streams, atomic output files, progress on stderr.
import { basename, dirname, join, resolve } from "node:path";
import { freeHandedOff, handOff, isHandedOff, isSteady, pooledBytes } from "../cascade/_splice.ts";
import { ffiGranted } from "../engines/_ffi.ts";
import { IoError, UsageError } from "./_errors.ts";

const encoder = new TextEncoder();

/** Writes a line to stderr. */
export function say(message: string): void {
  Deno.stderr.writeSync(encoder.encode(`${message}\n`));
}

/**
 * Bytes per read of an input file: 1 MiB, 16 STREAM chunks, so the cipher gets whole chunks in
 * place and each piece costs one read and one trip through the streams.
 */
const READ_SIZE = 1024 * 1024;

/**
 * A regular file as a stream of {@linkcode READ_SIZE} pieces, one read ahead: as soon as a piece
 * is taken, the next one is read on Deno's I/O thread pool while this thread seals or opens the
 * one just taken (on two cores, the read costs no time of its own). Per 1 MiB, a trip through the
 * pool costs little; it was per 64 KiB chunk, 16 times as many, that Deno's file streams were slow.
 * Each piece is handed off (cascade/_splice.ts): STREAM gives it back once done, so a caller
 * passes the pieces on and keeps none. The file is closed at its end, on an error and on cancel.
 */
function fileStream(file: Deno.FsFile): ReadableStream<Uint8Array> {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  const readPiece = async () => {
    const piece = pooledBytes("piece", READ_SIZE);
    let filled = 0;
    while (filled < piece.length) {
      const n = await file.read(piece.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return { piece, filled };
  };
  let ahead: ReturnType<typeof readPiece> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let piece: Uint8Array, filled: number;
      try {
        ({ piece, filled } = await (ahead ?? readPiece()));
      } catch (e) {
        close();
        throw e;
      }
      ahead = undefined;
      if (filled === piece.length) {
        ahead = readPiece();
        // Its failure is thrown by the pull that awaits it; none is unhandled meanwhile.
        ahead.catch(() => {});
      }
      if (filled > 0) controller.enqueue(handOff(piece.subarray(0, filled), "piece"));
      if (filled < piece.length) {
        close();
        controller.close();
      }
    },
    async cancel() {
      // A read still running would fail on the closed file: let it end first.
      await ahead?.catch(() => {});
      close();
    },
  }, { highWaterMark: 0 });
}

/**
 * {@linkcode fileStream} read synchronously, straight into each pooled piece: for a process whose
 * output files are written on Deno's FFI pool ({@linkcode nativeIo}, {@linkcode writeNative}), so
 * that this thread reads and seals while a pool thread copies the previous batch into the page
 * cache, and no thread waits for another to be scheduled. Against reads one piece ahead on
 * Deno's pool (which also copy each piece once more on this thread), 1 GiB in 0.70-0.77 s
 * against 0.75-1.42 s (encrypt) and 0.70-1.02 s against 0.93-2.00 s (decrypt), alternating runs
 * on the shared 2 cores. The event loop still turns at every batch's write (signals). Pieces are
 * handed off as in {@linkcode fileStream}; the file is closed at its end, on an error and on
 * cancel.
 */
function syncFileStream(file: Deno.FsFile): ReadableStream<Uint8Array> {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const piece = pooledBytes("piece", READ_SIZE);
      let filled = 0;
      try {
        while (filled < piece.length) {
          const n = file.readSync(piece.subarray(filled));
          if (n === null) break;
          filled += n;
        }
      } catch (e) {
        close();
        throw e;
      }
      if (filled > 0) controller.enqueue(handOff(piece.subarray(0, filled), "piece"));
      if (filled < piece.length) {
        close();
        controller.close();
      }
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
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
  const stream = nativeIo() ? syncFileStream(file) : fileStream(file);
  return { stream, size: info.size, path };
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

/**
 * The signals that end polycrypt while it writes an output file, each with its line and exit code
 * (128 + the signal's number, docs/cli.md): the temporary file is removed first. SIGKILL cannot be
 * caught; what it leaves is removed by {@linkcode removeLeftovers}.
 */
const SIGNALS: [Deno.Signal, string, number][] = [
  ["SIGINT", "interrupted", 130],
  ["SIGTERM", "terminated", 143],
  ["SIGHUP", "hung up", 129],
];

function installSignalHandler(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const [signal, what, code] of SIGNALS) {
    // Windows has no SIGTERM or SIGHUP listeners; there, only Ctrl-C is caught.
    if (Deno.build.os === "windows" && signal !== "SIGINT") continue;
    Deno.addSignalListener(signal, () => {
      for (const c of cleanups) c();
      try {
        say(`\npolycrypt: ${what}`);
      } catch { /* no terminal left to tell (SIGHUP) */ }
      Deno.exit(code);
    });
  }
}

/**
 * The temporary file of an atomic write to `name`: `.NAME.polycrypt-XXXXXXXX.tmp` (8 random hex
 * digits) in the target's folder, mode 0600, locked by its writer until it is renamed.
 */
function tempName(name: string): string {
  const random = crypto.getRandomValues(new Uint8Array(4));
  return `.${name}.polycrypt-${
    Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")
  }.tmp`;
}

/** Names that {@linkcode tempName} gives, and only those. */
const TEMP_NAME = /^\..+\.polycrypt-[0-9a-f]{8}\.tmp$/;

/**
 * How old (last modified) a temporary file must be before another run may remove it: covers the
 * moment between its creation and its writer's lock.
 */
const LEFTOVER_AGE_MS = 60_000;

/** When each folder was last cleaned of leftovers, by this process. */
const cleaned = new Map<string, number>();

/**
 * {@linkcode removeLeftovers}, at most once a minute per folder: a leftover is only taken once it
 * has been left alone for 60 s, so a `listen -o DIR` receiving many files lists DIR once a minute,
 * not once per file.
 */
async function removeLeftoversNow(dir: string): Promise<void> {
  const now = performance.now();
  if (now - (cleaned.get(dir) ?? -Infinity) < 60_000) return;
  cleaned.set(dir, now);
  await removeLeftovers(dir);
}

/**
 * Removes the temporary files of polycrypt's own atomic writes that a killed run left in `dir`
 * (SIGKILL, a power cut): regular files named as {@linkcode tempName} names them, readable by this
 * user, unmodified for {@linkcode LEFTOVER_AGE_MS}, and not locked: a polycrypt still writing one
 * holds its lock, and the kernel drops the lock of a process that died. Best effort: anything that
 * cannot be checked is left alone.
 */
async function removeLeftovers(dir: string): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isFile || !TEMP_NAME.test(entry.name)) continue;
    const path = join(dir, entry.name);
    let file: Deno.FsFile | undefined;
    try {
      const info = await Deno.lstat(path);
      if (!info.isFile) continue;
      if (info.mtime === null || Date.now() - info.mtime.getTime() < LEFTOVER_AGE_MS) continue;
      // Mode 0600: another user's file does not open, but for root (Deno.uid() needs --allow-sys).
      file = await Deno.open(path, { read: true });
      if (!(await file.tryLock(true))) continue; // a running polycrypt is writing it
      const still = await Deno.lstat(path);
      // The name still holds the file just locked (same inode), not one that replaced it.
      if (still.ino !== null && still.ino !== (await file.stat()).ino) continue;
      await Deno.remove(path);
    } catch {
      /* gone meanwhile, or not ours to remove */
    } finally {
      file?.close();
    }
  }
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
  await removeLeftoversNow(dirname(target));
  const tmp = join(dirname(target), tempName(basename(target)));
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
    // Held until the rename: another run sees the file in use (removeLeftovers). A file system
    // without locks refuses the other run's lock too, so it leaves the file alone.
    await file.lock(true).catch(() => {});
    // With --allow-ffi on Linux, writeNative: pwrite on a descriptor of its own, a batch written
    // on Deno's FFI pool while this thread seals the next one, writeback started every 8 MiB.
    // Without: synchronous writes of whole pieces (a batch of STREAM chunks), measured against a
    // write on Deno's I/O pool one piece behind at 1.27-1.37 s against 1.42-1.53 s for 1 GiB (4
    // alternating runs each), the pool's copy and wake-up costing more than the overlap gave.
    // One fsync at the end, none per piece: fsyncs every 64 MiB in the background made a 1 GiB
    // encrypt slower (1.62 s against 1.41 s, medians of 5 alternating runs).
    const io = nativeIo();
    const fd = io?.open(tmp) ?? -1;
    if (fd >= 0) {
      try {
        await writeNative(stream, file, fd, io!);
      } finally {
        io!.close(fd);
      }
    } else {
      for await (const chunk of stream) {
        for (let off = 0; off < chunk.length;) off += file.writeSync(chunk.subarray(off));
        freeHandedOff(chunk, "batch");
      }
    }
    await file.syncData();
    // Windows renames only closed files; elsewhere the lock stays on until the name is gone.
    if (Deno.build.os === "windows") file.close();
    // Re-check just before the rename: never replace a file that appeared meanwhile.
    if (!force) await refuseExisting(target, path);
    await Deno.rename(tmp, target);
    if (Deno.build.os !== "windows") file.close();
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

/**
 * Writes {@linkcode writeNative} has running at once: one. Two on the pool at once contend for the
 * file's lock in the kernel: a 1 GiB encrypt's system time went from 0.6-0.7 s to 1.4-1.7 s.
 */
const WRITES_AHEAD = 1;

/**
 * The body of {@linkcode writeAtomic} on a descriptor of its own (`fd`, {@linkcode nativeIo}):
 * `pwrite` at explicit offsets, on Deno's FFI thread pool for a piece that stays unchanged until
 * given back ({@linkcode isSteady}: STREAM's batches), so that the kernel's copy into the page
 * cache runs while this thread seals the next batch; synchronously for any other piece (its
 * producer may reuse it once the next is asked for). At most {@linkcode WRITES_AHEAD} run at
 * once; they are waited for in order, and a batch is given back only once its write is done.
 * A failed or short write is finished at its offset through `file`, which throws Deno's error for
 * it. Every {@linkcode WRITEBACK_EVERY} bytes written, the kernel is asked (on the pool too) to
 * start writing them to the disk: the final fsync then waits for the last few MiB instead of all
 * of them (measured on a 1 GiB encrypt, 5 alternating runs: 0.88-1.23 s with it, 1.24-1.42 s
 * without). Returns once every call it made has ended, also when it throws.
 */
async function writeNative(
  stream: ReadableStream<Uint8Array>,
  file: Deno.FsFile,
  fd: number,
  io: NativeIo,
): Promise<void> {
  /** A write: the bytes, where they go, and the pieces they were (given back once written). */
  interface Write {
    bytes: Uint8Array;
    offset: number;
    pieces: Uint8Array[];
  }
  const running: (Write & { written: Promise<number> })[] = [];
  /** Steady pieces held to be written as one with the next view of the same batch. */
  let held: Write | undefined;
  let offset = 0;
  let hinted = 0;
  let hint: Promise<void> | undefined;
  /** Finishes what `pwrite` left of a write through Deno's file, which throws its error. */
  const finish = (bytes: Uint8Array, at: number, n: number) => {
    if (n >= bytes.length) return;
    file.seekSync(at + Math.max(0, n), Deno.SeekMode.Start);
    for (let off = Math.max(0, n); off < bytes.length;) {
      off += file.writeSync(bytes.subarray(off));
    }
  };
  const settle = async () => {
    const { bytes, offset: at, pieces, written } = running.shift()!;
    finish(bytes, at, await written);
    for (const piece of pieces) freeHandedOff(piece, "batch");
    const done = at + bytes.length;
    if (done - hinted >= WRITEBACK_EVERY && hint === undefined) {
      // One at a time; one still running when the next is due is followed by a longer range.
      hint = io.syncFileRange(fd, hinted, done - hinted).finally(() => hint = undefined);
      hinted = done;
    }
  };
  const start = async (write: Write) => {
    while (running.length >= WRITES_AHEAD) await settle();
    running.push({ ...write, written: io.pwrite(fd, write.bytes, write.offset) });
  };
  try {
    for await (const chunk of stream) {
      if (chunk.length === 0) continue;
      if (!isSteady(chunk)) {
        if (held) await start(held);
        held = undefined;
        while (running.length > 0) await settle();
        finish(chunk, offset, io.pwriteSync(fd, chunk, offset));
        offset += chunk.length;
        freeHandedOff(chunk, "batch");
        continue;
      }
      // STREAM yields a batch as a steady view and then its handed-off last chunk: one write.
      const last = held?.bytes;
      if (
        last && last.buffer === chunk.buffer && last.byteOffset + last.length === chunk.byteOffset
      ) {
        held!.bytes = new Uint8Array(chunk.buffer, last.byteOffset, last.length + chunk.length);
        held!.pieces.push(chunk);
      } else {
        if (held) await start(held);
        held = { bytes: chunk, offset, pieces: [chunk] };
      }
      offset += chunk.length;
      // A handed-off view ends its batch: nothing more of that buffer follows.
      if (isHandedOff(chunk, "batch")) {
        await start(held!);
        held = undefined;
      }
    }
    if (held) await start(held);
    held = undefined;
    while (running.length > 0) await settle();
  } finally {
    // A write still running reads its buffer: nothing returns (or lets the buffer go) before it
    // ends.
    await Promise.allSettled([...running.map((r) => r.written), hint]);
  }
}

/** Bytes written between two writeback hints of {@linkcode writeAtomic}. */
const WRITEBACK_EVERY = 8 * 1024 * 1024;

/**
 * libc's file calls through Deno's FFI, on a descriptor of polycrypt's own: an output file's
 * writes run on Deno's FFI thread pool (`nonblocking`), straight from the caller's buffer (no
 * copy), while this thread reads and seals; `pwriteSync` runs on this thread. The descriptor is
 * opened on a path Deno has already opened, with its permission checks.
 */
interface NativeIo {
  /**
   * Opens `path` (already opened through Deno, with its permission checks) for writing (an
   * existing file, not truncated), close-on-exec; -1 when it cannot.
   */
  open(path: string): number;
  close(fd: number): void;
  /** `pwrite(fd, from, from.length, offset)` on the pool: bytes written, -1 on error. */
  pwrite(fd: number, from: Uint8Array, offset: number): Promise<number>;
  /** `pwrite` on this thread. */
  pwriteSync(fd: number, from: Uint8Array, offset: number): number;
  /**
   * `sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE)` on the pool: starts writing the
   * range to the disk (it may wait for room in the device's queue). Durability is the fsync's.
   */
  syncFileRange(fd: number, offset: number, length: number): Promise<void>;
}

let native: NativeIo | null | undefined;
/** Set by tests (and nothing else) to take Deno's file path in a process that has FFI. */
let nativeDisabled = false;

/**
 * Tests only: `true` makes the file path use Deno's reads and writes, as without `--allow-ffi`,
 * so both paths run in one process; `false` restores libc's.
 */
export function disableNativeIoForTesting(off: boolean): void {
  nativeDisabled = off;
}

/**
 * {@linkcode NativeIo} on Linux when FFI permission is already granted (a query never prompts;
 * dlopen would) and libc opens; `undefined` elsewhere, where the file path is Deno's own
 * synchronous writes and asynchronous reads. Loaded once per process.
 */
function nativeIo(): NativeIo | undefined {
  if (nativeDisabled) return undefined;
  if (native !== undefined) return native ?? undefined;
  native = null;
  if (Deno.build.os !== "linux" || !ffiGranted()) return undefined;
  // include/uapi/asm-generic/fcntl.h (x86-64 and aarch64 alike).
  const O_WRONLY = 1, O_CLOEXEC = 0o2000000;
  const SYNC_FILE_RANGE_WRITE = 2;
  const symbols = {
    open: { parameters: ["buffer", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    pwrite: {
      parameters: ["i32", "buffer", "usize", "i64"],
      result: "isize",
      nonblocking: true,
    },
    pwrite_sync: {
      name: "pwrite",
      parameters: ["i32", "buffer", "usize", "i64"],
      result: "isize",
    },
    sync_file_range: {
      parameters: ["i32", "i64", "i64", "u32"],
      result: "i32",
      nonblocking: true,
    },
  } as const;
  for (const name of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
    let lib: Deno.DynamicLibrary<typeof symbols>["symbols"];
    try {
      lib = Deno.dlopen(name, symbols).symbols;
    } catch {
      continue;
    }
    const encoder = new TextEncoder();
    native = {
      open: (path) => lib.open(encoder.encode(`${path}\0`), O_WRONLY | O_CLOEXEC),
      close: (fd) => void lib.close(fd),
      pwrite: async (fd, from, offset) =>
        Number(await lib.pwrite(fd, from, BigInt(from.length), BigInt(offset))),
      pwriteSync: (fd, from, offset) =>
        Number(lib.pwrite_sync(fd, from, BigInt(from.length), BigInt(offset))),
      syncFileRange: async (fd, offset, length) =>
        void await lib.sync_file_range(fd, BigInt(offset), BigInt(length), SYNC_FILE_RANGE_WRITE),
    };
    return native;
  }
  return undefined;
}

/**
 * Writes `stream` to stdout, synchronously as {@linkcode writeAtomic} does (a full pipe blocks
 * until its reader takes more, which is all this process would wait for anyway).
 */
export async function writeStdout(stream: ReadableStream<Uint8Array>): Promise<void> {
  for await (const chunk of stream) {
    for (let off = 0; off < chunk.length;) off += Deno.stdout.writeSync(chunk.subarray(off));
    freeHandedOff(chunk, "batch");
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
