// Test and benchmark helpers: facts about a running process, and child Deno programs.

/**
 * Peak resident set size (VmHWM) of process `pid` in KiB, or 0 when unknown. Deno may not read
 * /proc itself without --allow-read there, so `cat` does.
 */
export async function peakRssKiB(pid: number): Promise<number> {
  const out = await runCommand("cat", [`/proc/${pid}/status`], { stderr: "null" });
  return Number(/VmHWM:\s+(\d+) kB/.exec(out.stdout)?.[1] ?? 0);
}

/**
 * Runs `script` (TypeScript, given on stdin) in a child `deno run` with only `permissions`, and
 * returns its exit code and output. The child is killed after `deadlineMs` (a hang is a failure,
 * not a stuck test run).
 */
export async function runDenoScript(
  script: string,
  permissions: string[],
  deadlineMs = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await runDeno(["run", ...permissions, "-"], {
    stdin: script,
    deadlineMs,
  });
  return { code, stdout, stderr };
}

/** What {@linkcode runCommand} returns: the exit code and both outputs, as bytes and as text. */
export interface CommandResult {
  code: number;
  success: boolean;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
  stderrBytes: Uint8Array;
}

/** Options for {@linkcode runCommand} and {@linkcode spawnCommand}. */
export interface CommandOptions {
  /** Bytes or text written to the child's stdin, then closed; without it stdin is null. */
  stdin?: Uint8Array | string;
  env?: Record<string, string>;
  clearEnv?: boolean;
  cwd?: string;
  /** "piped" (default) keeps the output; "null" drops it; "inherit" shows it. */
  stdout?: "piped" | "null" | "inherit";
  stderr?: "piped" | "null" | "inherit";
  /** The child is killed (SIGKILL) after this long: a hang fails the caller, never the run. */
  deadlineMs?: number;
}

/**
 * The one way tests and benchmarks start a program they wait for: runs `cmd args`, feeds `stdin`,
 * kills it after `deadlineMs` (default 5 minutes), and returns its exit code and output.
 */
export async function runCommand(
  cmd: string,
  args: string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const child = spawnCommand(
    cmd,
    args,
    { ...options, stdin: undefined },
    options.stdin !== undefined,
  );
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    const data = typeof options.stdin === "string"
      ? new TextEncoder().encode(options.stdin)
      : options.stdin;
    await writer.write(data).catch(() => {}); // a child that exits early closes the pipe
    await writer.close().catch(() => {});
  }
  const deadline = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.deadlineMs ?? 300_000);
  try {
    // output() refuses a stream that is not piped ("null" or "inherit"): read only the piped.
    const read = (mode: CommandOptions["stdout"], stream: () => ReadableStream<Uint8Array>) =>
      (mode ?? "piped") === "piped" ? new Response(stream()).bytes() : new Uint8Array(0);
    const [status, stdoutBytes, stderrBytes] = await Promise.all([
      child.status,
      read(options.stdout, () => child.stdout),
      read(options.stderr, () => child.stderr),
    ]);
    const decoder = new TextDecoder();
    return {
      code: status.code,
      success: status.success,
      stdout: decoder.decode(stdoutBytes),
      stderr: decoder.decode(stderrBytes),
      stdoutBytes,
      stderrBytes,
    };
  } finally {
    clearTimeout(deadline);
  }
}

/** {@linkcode runCommand}, throwing with the program's stderr unless it exits 0. */
export async function runChecked(
  cmd: string,
  args: string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  const out = await runCommand(cmd, args, options);
  if (!out.success) throw new Error(`${cmd} ${args[0]} failed: ${out.stderr}`);
  return out;
}

/** {@linkcode runCommand} for a child `deno` (the same binary as this process). */
export function runDeno(args: string[], options: CommandOptions = {}): Promise<CommandResult> {
  return runCommand(Deno.execPath(), args, options);
}

/**
 * Starts `cmd args` for a caller that talks to it while it runs (streams, signals): stdout and
 * stderr default to "piped", stdin is piped when `pipeStdin` is true.
 */
export function spawnCommand(
  cmd: string,
  args: string[],
  options: CommandOptions = {},
  pipeStdin = false,
): Deno.ChildProcess {
  return new Deno.Command(cmd, {
    args,
    stdin: pipeStdin ? "piped" : "null",
    stdout: options.stdout ?? "piped",
    stderr: options.stderr ?? "piped",
    ...childEnv(options),
    cwd: options.cwd,
  }).spawn();
}

/**
 * The child's environment: the caller's `env` over this process's, without `INIT_CWD` unless
 * the caller sets it. `deno task` and npm set INIT_CWD only when it is unset, so one inherited
 * from the task that runs the tests (`deno task test`, `npx deno task`) would make a child
 * `deno task cli` resolve paths against the repository instead of its own folder (docs/cli.md).
 */
function childEnv(options: CommandOptions): { env?: Record<string, string>; clearEnv?: boolean } {
  if (options.clearEnv) return { env: options.env, clearEnv: true };
  // Only when there is one to drop: passing the whole environment explicitly is otherwise
  // needless (and Deno checks explicit LD_* variables against an --allow-run allow list).
  if (Deno.env.get("INIT_CWD") === undefined || options.env?.INIT_CWD !== undefined) {
    return { env: options.env };
  }
  const inherited = Deno.env.toObject();
  delete inherited.INIT_CWD;
  return { env: { ...inherited, ...options.env }, clearEnv: true };
}
