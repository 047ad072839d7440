// Test and benchmark helper: facts about a running process.

/**
 * Peak resident set size (VmHWM) of process `pid` in KiB, or 0 when unknown. Deno may not read
 * /proc itself without --allow-read there, so `cat` does.
 */
export async function peakRssKiB(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/status`], stderr: "null" })
    .output();
  return Number(/VmHWM:\s+(\d+) kB/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? 0);
}
