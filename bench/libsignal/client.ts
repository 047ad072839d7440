/**
 * The optional libsignal peer of the sessions benchmark (issue 23, "Performance").
 *
 * {@linkcode startLibsignal} fetches `@signalapp/libsignal-client` at {@linkcode LIBSIGNAL_VERSION}
 * from the npm registry into a fresh temporary directory (`npm install --prefix DIR`, with the
 * package's install scripts off: it ships prebuilt native addons), then starts `driver.ts` in a
 * child Deno process that loads it from there. Nothing about it enters `deno.json`,
 * `bench/deno.json` or any lockfile: libsignal is AGPL-3.0 and 151 MB, and must not become a
 * dependency of the library or of its tests. {@linkcode LibsignalPeer.close} ends the child and
 * deletes the directory.
 *
 * When `npm` is missing, the registry is unreachable or the native addon does not load on this
 * platform, it returns `{ error }` with the reason, and the callers fall back to the figures the
 * issue quotes, labelled as quoted ({@linkcode QUOTED}).
 *
 * @module
 */

/** The libsignal release the issue measured. */
export const LIBSIGNAL_VERSION = "0.103.0";

/** The package, as npm names it. */
export const LIBSIGNAL_PACKAGE = "@signalapp/libsignal-client";

/**
 * The figures issue 23 quotes for libsignal-client 0.103.0 in Deno 2.9.6 on this machine (native,
 * SPQR on, in-memory stores, 1 KiB messages), for a report made without it.
 */
export const QUOTED = {
  oneWayPerSecond: { quiet: 1984, busy: 756 },
  alternatingPerSecond: { quiet: 844, busy: [323, 414] as const },
  wireBytes: [1097, 1130] as const,
};

/** What one message loop took in the child. */
export interface LoopResult {
  /** Milliseconds for the n encrypt + decrypt pairs, timed in the child. */
  ms: number;
  /** CPU time of the child over the loop (user + system, every thread), ms. */
  cpuMs: number;
  /** Serialized size of every message sent. */
  sizes: number[];
  /** Milliseconds of each message (encrypt and decrypt), in order. */
  per: number[];
}

/** What a run of handshakes took. */
export interface HandshakeResult {
  /** Per handshake: Alice's `processPreKeyBundle` and first `signalEncrypt`, ms. */
  initiator: number[];
  /** Per handshake: Bob's `signalDecryptPreKey` of that first message, ms. */
  responder: number[];
  /** Serialized size of each first (PreKey) message. */
  sizes: number[];
}

/** A running libsignal driver. */
export interface LibsignalPeer {
  /** The version that loaded (from the installed package.json). */
  readonly version: string;
  /** Where it was installed (deleted by close). */
  readonly dir: string;
  /** n messages of `size` bytes, Alice to Bob, each encrypted then decrypted. */
  oneWay(n: number, size?: number): Promise<LoopResult>;
  /** n messages of `size` bytes, Alice and Bob taking turns. */
  alternating(n: number, size?: number): Promise<LoopResult>;
  /** n fresh handshakes (bundle processing + first message, then its decryption). */
  handshake(n: number, size?: number): Promise<HandshakeResult>;
  /**
   * Ends the driver and starts a fresh one (new process, new session pair): libsignal's addon
   * under Deno grows its resident set and its occasional stalls with the process's age (see
   * docs/performance.md, "Sessions"), so each round starts from a young process.
   */
  restart(): Promise<void>;
  /** Ends the child and deletes the temporary directory. */
  close(): Promise<void>;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Installs the package into a new temporary directory; its path, or why not. */
async function install(log: (line: string) => void): Promise<{ dir: string } | { error: string }> {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-libsignal-" });
  log(`fetching ${LIBSIGNAL_PACKAGE}@${LIBSIGNAL_VERSION} into ${dir} (npm install --prefix)`);
  try {
    const out = await new Deno.Command("npm", {
      args: [
        "install",
        "--prefix",
        dir,
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        "--loglevel=error",
        `${LIBSIGNAL_PACKAGE}@${LIBSIGNAL_VERSION}`,
      ],
      stdin: "null",
    }).output();
    if (out.code !== 0) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      const err = decoder.decode(out.stderr).trim().split("\n").slice(-3).join(" ");
      return { error: `npm install failed (exit ${out.code}): ${err}` };
    }
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return { error: `npm could not be run: ${e instanceof Error ? e.message : e}` };
  }
  return { dir };
}

interface Driver {
  version: string;
  call<T>(command: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

/** Starts driver.ts on the installation in `dir`; the running driver, or why not. */
async function spawnDriver(dir: string): Promise<Driver | { error: string }> {
  const driver = new URL("./driver.ts", import.meta.url).pathname;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--node-modules-dir=manual",
        // node-gyp-build probes files such as /etc/alpine-release to pick the prebuilt addon.
        "--allow-read",
        "--allow-ffi",
        "--allow-env",
        "--allow-sys",
        driver,
        dir,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    return { error: `the driver could not be started: ${e instanceof Error ? e.message : e}` };
  }
  const writer = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  let buffered = "";
  const nextLine = async (): Promise<string | undefined> => {
    while (true) {
      const newline = buffered.indexOf("\n");
      if (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        return line;
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffered += value;
    }
  };
  const first = await nextLine();
  const ready = first === undefined ? undefined : JSON.parse(first);
  if (!ready?.ready) {
    await writer.close().catch(() => {});
    await child.status;
    const err = (await stderr).trim().split("\n").filter((l) => l.trim() !== "").slice(0, 3)
      .join(" ")
      // deno-lint-ignore no-control-regex
      .replace(/\x1b\[[0-9;]*m/g, "");
    return { error: `libsignal did not load in Deno: ${err || "no output"}` };
  }
  let queue: Promise<unknown> = Promise.resolve();
  return {
    version: String(ready.version),
    call<T>(command: Record<string, unknown>): Promise<T> {
      const result = queue.then(async () => {
        await writer.write(encoder.encode(JSON.stringify(command) + "\n"));
        const line = await nextLine();
        if (line === undefined) throw new Error(`libsignal driver ended: ${await stderr}`);
        const answer = JSON.parse(line);
        if (answer.error) throw new Error(`libsignal driver: ${answer.error}`);
        return answer as T;
      });
      queue = result.catch(() => {});
      return result;
    },
    async close() {
      await writer.write(encoder.encode(JSON.stringify({ op: "quit" }) + "\n")).catch(() => {});
      await writer.close().catch(() => {});
      await reader.cancel().catch(() => {});
      await child.status;
      await stderr.catch(() => "");
    },
  };
}

/**
 * Fetches libsignal and starts its driver. `dir` reuses an existing installation (a directory
 * holding `node_modules/@signalapp/libsignal-client`, kept by close) instead of fetching one.
 */
export async function startLibsignal(
  options: { dir?: string; log?: (line: string) => void } = {},
): Promise<LibsignalPeer | { error: string }> {
  const log = options.log ?? ((line: string) => console.error(line));
  const installed = options.dir ? { dir: options.dir } : await install(log);
  if ("error" in installed) return installed;
  const dir = installed.dir;
  const owned = options.dir === undefined;
  const cleanup = async () => {
    if (owned) await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const started = await spawnDriver(dir);
  if ("error" in started) {
    await cleanup();
    return started;
  }
  let driver: Driver = started;
  return {
    version: driver.version,
    dir,
    oneWay: (n, size = 1024) => driver.call<LoopResult>({ op: "oneWay", n, size }),
    alternating: (n, size = 1024) => driver.call<LoopResult>({ op: "alternating", n, size }),
    handshake: (n, size = 1024) => driver.call<HandshakeResult>({ op: "handshake", n, size }),
    async restart() {
      await driver.close();
      const next = await spawnDriver(dir);
      if ("error" in next) throw new Error(next.error);
      driver = next;
    },
    async close() {
      await driver.close();
      await cleanup();
    },
  };
}
