// The CLI as the tests run it: a child `deno run cli/main.ts`, waited for or talked to, and one on
// a pseudo-terminal (script(1)) for what a user on a terminal sees.
import { type CommandOptions, type CommandResult, runDeno, spawnCommand } from "../_process.ts";

/** The CLI's entry point. */
export const MAIN: string = new URL("../../cli/main.ts", import.meta.url).pathname;
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
  return runDeno(["run", ...perms, MAIN, ...args], {
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
  return spawnCommand(Deno.execPath(), ["run", ...perms, MAIN, ...args], {
    ...options,
    env: { NO_COLOR: "1", ...options.env },
  }, pipeStdin);
}

/**
 * Starts the CLI on a pseudo-terminal: its stdin and stderr are a terminal, as for a user, and
 * the screen arrives on the child's stdout; type on its stdin.
 */
export function spawnOnTerminal(args: string[], perms: string[]): Deno.ChildProcess {
  const command = [Deno.execPath(), "run", ...perms, MAIN, ...args].join(" ");
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
