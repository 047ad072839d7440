// The CLI as the tests run it: a child `deno run cli/main.ts`, waited for or talked to, and one on
// a pseudo-terminal (script(1)) for what a user on a terminal sees.
import assert from "node:assert/strict";
import { CLI_DENO_FLAGS } from "../../scripts/cli_flags.ts";
import { type CommandOptions, type CommandResult, runDeno, spawnCommand } from "../_process.ts";

/** The CLI's entry point. */
export const MAIN: string = new URL("../../cli/main.ts", import.meta.url).pathname;
/** The Deno flags the CLI runs with, as the installed `polycrypt` and the `cli` task pass them. */
export const RUN_FLAGS: readonly string[] = CLI_DENO_FLAGS;
/** Permissions of the file commands. */
export const PERMS: string[] = ["--allow-read", "--allow-write", "--allow-env"];
/** Permissions of the network commands: loopback only. */
export const NET_PERMS: string[] = [...PERMS, "--allow-net=127.0.0.1,0.0.0.0"];

/** Runs the CLI with `args` and waits for it (NO_COLOR set, as for the rest of these tests). */
export function runCli(
  args: string[],
  perms: string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  return runDeno(["run", ...RUN_FLAGS, ...perms, MAIN, ...args], {
    ...options,
    env: { NO_COLOR: "1", ...options.env },
  });
}

/** Starts the CLI with `args` for a test that talks to it while it runs. */
export function spawnCli(
  args: string[],
  perms: string[],
  options: CommandOptions = {},
  pipeStdin = false,
): Deno.ChildProcess {
  return spawnCommand(Deno.execPath(), ["run", ...RUN_FLAGS, ...perms, MAIN, ...args], {
    ...options,
    env: { NO_COLOR: "1", ...options.env },
  }, pipeStdin);
}

/**
 * Starts the CLI on a pseudo-terminal: its stdin and stderr are a terminal, as for a user, and
 * the screen arrives on the child's stdout; type on its stdin.
 */
export function spawnOnTerminal(args: string[], perms: string[]): Deno.ChildProcess {
  const command = [Deno.execPath(), "run", ...RUN_FLAGS, ...perms, MAIN, ...args].join(" ");
  return spawnCommand("script", ["-qec", command, "/dev/null"], { stderr: "null" }, true);
}

/** `chat`'s flags for a peer on loopback port `mine` talking to the one on `theirs`. */
export function chatFlags(
  mine: number,
  theirs: number,
  key: string,
  recipient: string,
  extra: string[] = [],
): string[] {
  return [
    ...["--listen", `tcp://127.0.0.1:${mine}`, "--peer", `tcp://127.0.0.1:${theirs}`],
    ...["-i", key, "-r", recipient, ...extra],
  ];
}

/**
 * `keygen -o DIR/NAME.key` (with `--engine ENGINE` when given), asserting it succeeds, and the
 * key's recipient as `recipient` prints it.
 */
export async function keyPair(
  dir: string,
  engine?: string,
  { name = "bob", perms = NET_PERMS, options = {} }: {
    name?: string;
    perms?: string[];
    options?: CommandOptions;
  } = {},
): Promise<{ key: string; recipient: string }> {
  const key = `${dir}/${name}.key`;
  const made = await runCli(
    ["keygen", ...(engine ? ["--engine", engine] : []), "-o", key],
    perms,
    options,
  );
  assert.equal(made.code, 0, made.stderr);
  const recipient = (await runCli(["recipient", "-i", key], perms, options)).stdout.trim();
  return { key, recipient };
}

/** What a listener started by {@linkcode startListen} printed, and how it exited. */
export interface ListenResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A running `listen` started by {@linkcode startListen}. */
export interface Listening {
  child: Deno.ChildProcess;
  /** The port it printed in its "listening on" line. */
  port: number;
  /** Its stderr so far (drained as it arrives). */
  stderr(): string;
  /** Its whole stdout ("" when not piped), once it exits. */
  stdout: Promise<string>;
  /** Its exit code and whole output, once it exits. */
  result: Promise<ListenResult>;
  /** Ends it (SIGTERM, which it handles like Ctrl-C; nothing if it has exited) and waits. */
  close(): Promise<ListenResult>;
}

/**
 * Starts `listen ...args` (an address with port 0 in `--on`), reads its stderr until the
 * "listening on SCHEME://127.0.0.1:PORT" line, then keeps draining it.
 */
export async function startListen(
  args: string[],
  perms: string[] = NET_PERMS,
  options: CommandOptions = {},
): Promise<Listening> {
  const child = spawnCli(["listen", ...args], perms, options);
  const td = new TextDecoder();
  const reader = child.stderr.getReader();
  let stderr = "";
  let port = 0;
  while (!port) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`listen exited: ${stderr}`);
    stderr += td.decode(value);
    port = Number(/listening on (?:tcp|tls|udp|ws):\/\/127\.0\.0\.1:(\d+)/.exec(stderr)?.[1] ?? 0);
  }
  const drained = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      stderr += td.decode(r.value);
    }
    return stderr;
  })();
  const piped = (options.stdout ?? "piped") === "piped";
  const stdout = piped ? new Response(child.stdout).text() : Promise.resolve("");
  const result = Promise.all([child.status, stdout, drained]).then(([status, out, err]) => ({
    code: status.code,
    stdout: out,
    stderr: err,
  }));
  return {
    child,
    port,
    stderr: () => stderr,
    stdout,
    result,
    close() {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      return result;
    },
  };
}

/** Runs `fn` with a new temporary folder named `prefix...`, and removes the folder after it. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A running `chat` started by {@linkcode startChat}. */
export interface ChatSession {
  /** The chat's process id (for its peak memory, tests/_process.ts's peakRssKiB). */
  readonly pid: number;
  /** Types a line (and Enter). */
  type(line: string): Promise<void>;
  /** Waits (30 s at most) until the screen (stdout) matches `pattern`. */
  screen(pattern: RegExp): Promise<void>;
  /** Waits until the chat says it is ready. */
  ready(): Promise<void>;
  /** The screen so far. */
  readonly stdout: string;
  /** Closes its input (Ctrl-D), without waiting. */
  endOfInput(): Promise<void>;
  /** Sends SIGINT (Ctrl-C). */
  interrupt(): void;
  /** Its exit code and whole output, once it exits. */
  status(): Promise<ListenResult>;
  /** Ctrl-D, then its exit code and whole output. */
  end(): Promise<ListenResult>;
}

/**
 * Starts `chat ...args` with piped stdin, and drains its output as it comes. A chat keeps its
 * sessions next to the contact book: without an XDG_CONFIG_HOME in `env` it gets a new empty one,
 * removed once it exits.
 */
export function startChat(args: string[], env: Record<string, string> = {}): ChatSession {
  const scratch = env.XDG_CONFIG_HOME === undefined
    ? Deno.makeTempDirSync({ prefix: "polycrypt-chat-config-" })
    : undefined;
  if (scratch !== undefined) env = { ...env, XDG_CONFIG_HOME: scratch };
  const child = spawnCli(["chat", ...args], NET_PERMS, { env }, true);
  const writer = child.stdin.getWriter();
  const td = new TextDecoder();
  let stdout = "";
  let stderr = "";
  const pump = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    for await (const chunk of stream) add(td.decode(chunk));
  };
  const pumping = Promise.all([
    pump(child.stdout, (s) => stdout += s),
    pump(child.stderr, (s) => stderr += s),
  ]);
  const waitFor = async (where: () => string, pattern: RegExp, what: string) => {
    const deadline = Date.now() + 30_000;
    while (!pattern.test(where())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${where()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const status = async () => {
    const { code } = await child.status;
    await pumping;
    if (scratch !== undefined) await Deno.remove(scratch, { recursive: true }).catch(() => {});
    return { code, stdout, stderr };
  };
  return {
    pid: child.pid,
    type: (line) => writer.write(new TextEncoder().encode(line + "\n")),
    screen: (pattern) => waitFor(() => stdout, pattern, `${pattern} on stdout`),
    ready: () => waitFor(() => stderr, /chatting on/, "the chat to start"),
    get stdout() {
      return stdout;
    },
    endOfInput: () => writer.close(),
    interrupt: () => child.kill("SIGINT"),
    status,
    async end() {
      await writer.close();
      return await status();
    },
  };
}
