// Test and benchmark helpers: facts about a running process, and child Deno programs.

/**
 * Peak resident set size (VmHWM) of process `pid` in KiB, or 0 when unknown. Deno may not read
 * /proc itself without --allow-read there, so `cat` does.
 */
export async function peakRssKiB(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/status`], stderr: "null" })
    .output();
  return Number(/VmHWM:\s+(\d+) kB/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? 0);
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
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const deadline = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(deadline);
  }
}
