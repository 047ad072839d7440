// What the sections of the report's protocol (measure.ts, paired.ts) share: the run's context,
// the Argon2id inputs, a timed command, and byte streams.
import { median } from "../../cli/_bench.ts";
import { runCommand } from "../../tests/_process.ts";

/** What every section of the protocol shares. */
export interface Context {
  /** Tiny sizes and single runs (`--quick`). */
  readonly quick: boolean;
  /** The time budget per measured operation, in ms. */
  readonly budget: number;
  /** Where progress lines go. */
  readonly log: (line: string) => void;
}

/** The passphrase of the password rows and the Argon2id runs. */
export const PASSPHRASE = "benchmark passphrase";
/** The argon2 CLI's arguments for polycrypt's default parameters (64 MiB, t=3, p=4). */
export const ARGON2_CLI_ARGS: readonly string[] = [
  "saltsaltsaltsalt",
  "-id",
  "-m",
  "16",
  "-t",
  "3",
  "-p",
  "4",
  "-l",
  "32",
];

/**
 * Median wall time of `runs` runs of a command, in ms, or undefined when it is missing or fails.
 */
export async function commandMs(
  cmd: string,
  args: readonly string[],
  runs: number,
  stdin?: Uint8Array,
): Promise<number | undefined> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const out = await runCommand(cmd, [...args], { stdin, stdout: "null", stderr: "null" })
      .catch(() => undefined);
    if (!out?.success) return undefined;
    times.push(performance.now() - t);
  }
  return median(times);
}

/** A stream of `bytes` bytes in blocks of `block`. */
export function blocks(bytes: number, block: Uint8Array): ReadableStream<Uint8Array> {
  return ReadableStream.from((function* () {
    for (let i = 0; i < bytes; i += block.length) yield block;
  })());
}

/** Every chunk of `stream`, kept. */
export async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}
