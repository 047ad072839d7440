// Internal: where passphrases come from. Never argv: a file, an environment variable, or the
// terminal without echo: the controlling terminal (/dev/tty), so a prompt works while stdin and
// stdout are pipes, as age's does, or stdin when it is a terminal. Deno opens /dev/tty only for a
// program run with --allow-all, which `deno task cli` and the installed polycrypt use (docs/cli.md
// says why that costs no protection).
import { readText } from "./_io.ts";
import { UsageError } from "./_errors.ts";

const encoder = new TextEncoder();

export interface PassphraseSource {
  passphraseFile?: string;
}

/** A terminal to prompt on: stdin and stderr when they are one, else /dev/tty. */
interface Terminal {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  setRaw(raw: boolean): void;
  close(): void;
}

/** Why there is no terminal to prompt on, and the ways around it. */
const NO_TERMINAL = "a passphrase is needed and there is no terminal to ask on: " +
  "use --passphrase-file FILE or set POLYCRYPT_PASSPHRASE";

async function openTerminal(): Promise<Terminal> {
  if (Deno.stdin.isTerminal() && Deno.stderr.isTerminal()) {
    return {
      read: (buffer) => Deno.stdin.read(buffer),
      write: (bytes) => Deno.stderr.write(bytes),
      setRaw: (raw) => Deno.stdin.setRaw(raw),
      close: () => {},
    };
  }
  // stdin carries data (a pipeline): the controlling terminal, as age and ssh do.
  let tty: Deno.FsFile;
  try {
    tty = await Deno.open("/dev/tty", { read: true, write: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      // Deno grants /dev/tty to --allow-all only.
      throw new UsageError(
        `${NO_TERMINAL}, or run with --allow-all (as deno task cli and the installed polycrypt ` +
          `do) to be asked on the terminal`,
      );
    }
    throw new UsageError(NO_TERMINAL); // no controlling terminal (cron, CI, ssh without -t)
  }
  if (!tty.isTerminal()) {
    tty.close();
    throw new UsageError(NO_TERMINAL);
  }
  return tty;
}

/** Writes `text` on the terminal prompts use, or on stderr when there is none. */
async function tell(text: string): Promise<void> {
  try {
    const tty = await openTerminal();
    try {
      await tty.write(encoder.encode(text));
    } finally {
      tty.close();
    }
  } catch {
    Deno.stderr.writeSync(encoder.encode(text));
  }
}

/**
 * Shows `prompt` on the terminal (its own echo off) and returns the line typed up to Enter or the end
 * of input; `null` on Ctrl-C or Ctrl-D. Backspace removes the last byte. With `echo`, printable
 * ASCII is echoed (and backspace erased) and other bytes are dropped; without it every byte counts
 * (a passphrase may be any UTF-8). The terminal is restored and closed whatever happens.
 */
export async function readTerminalLine(prompt: string, echo: boolean): Promise<string | null> {
  const tty = await openTerminal();
  try {
    // The terminal echo goes off before the prompt shows, so it echoes nothing typed after it.
    tty.setRaw(true);
    await tty.write(encoder.encode(prompt));
    const typed: number[] = [];
    const buf = new Uint8Array(64);
    reading: for (;;) {
      const n = await tty.read(buf);
      if (n === null) break;
      for (const b of buf.subarray(0, n)) {
        if (b === 0x0d || b === 0x0a) break reading;
        if (b === 0x03 || b === 0x04) return null;
        if (b === 0x7f || b === 0x08) {
          if (typed.pop() !== undefined && echo) await tty.write(encoder.encode("\b \b"));
        } else if (!echo) {
          typed.push(b);
        } else if (b >= 0x20 && b < 0x7f) {
          typed.push(b);
          await tty.write(new Uint8Array([b]));
        }
      }
    }
    return new TextDecoder().decode(new Uint8Array(typed));
  } finally {
    try {
      tty.setRaw(false);
      await tty.write(encoder.encode("\n"));
    } catch { /* terminal gone */ }
    tty.close();
  }
}

async function promptTty(prompt: string): Promise<string> {
  const line = await readTerminalLine(prompt, false);
  if (line === null) throw new UsageError("passphrase entry cancelled");
  return line;
}

/** Below this many characters a new passphrase gets a warning. */
export const SHORT_PASSPHRASE = 8;

/**
 * Characters of generated passphrases: lowercase letters and digits without the ones easily
 * mistaken for each other (0 o 1 l i), 31 of them, so each carries log2(31) = 4.95 bits.
 */
const ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789";

/**
 * A new random passphrase, as `encrypt -p` makes one when the prompt is left empty: 6 groups of
 * 5 characters from {@linkcode ALPHABET} joined by '-', about 148 bits (crypto.getRandomValues,
 * uniform by rejection sampling).
 */
export function generatePassphrase(): string {
  const chars: string[] = [];
  const limit = 256 - (256 % ALPHABET.length); // 248: bytes at or above it are redrawn
  while (chars.length < 30) {
    for (const b of crypto.getRandomValues(new Uint8Array(40))) {
      if (b < limit && chars.length < 30) chars.push(ALPHABET[b % ALPHABET.length]);
    }
  }
  return Array.from({ length: 6 }, (_, i) => chars.slice(i * 5, i * 5 + 5).join("")).join("-");
}

/**
 * The passphrase from --passphrase-file, POLYCRYPT_PASSPHRASE, or a no-echo prompt.
 * `confirm` (a new passphrase) asks twice on a terminal and warns, there, about one shorter than
 * {@linkcode SHORT_PASSPHRASE} characters; with `generate` too, an empty answer at the prompt makes
 * a strong one ({@linkcode generatePassphrase}) and prints it on stderr, as `age -p` does.
 */
export async function readPassphrase(
  source: PassphraseSource,
  what: string,
  confirm = false,
  generate = false,
): Promise<string> {
  let passphrase: string | undefined;
  if (source.passphraseFile !== undefined) {
    passphrase = (await readText(source.passphraseFile)).replace(/\r?\n$/, "");
  } else if (Deno.env.get("POLYCRYPT_PASSPHRASE") !== undefined) {
    passphrase = Deno.env.get("POLYCRYPT_PASSPHRASE");
  } else {
    const hint = generate ? " (empty: generate one)" : "";
    passphrase = await promptTty(`Enter ${what}${hint}: `);
    if (passphrase === "" && generate) {
      passphrase = generatePassphrase();
      Deno.stderr.writeSync(
        encoder.encode(`polycrypt: using an autogenerated passphrase:\n    ${passphrase}\n`),
      );
      return passphrase;
    }
    if (passphrase && confirm) {
      if ([...passphrase].length < SHORT_PASSPHRASE) {
        await tell(
          `polycrypt: warning: this passphrase is short (${[...passphrase].length} characters); ` +
            `whoever gets the file can try passphrases offline: prefer ${SHORT_PASSPHRASE} or more ` +
            `characters, or several words\n`,
        );
      }
      if ((await promptTty("Repeat the passphrase: ")) !== passphrase) {
        throw new UsageError("the passphrases do not match");
      }
    }
  }
  if (!passphrase) throw new UsageError("the passphrase is empty");
  return passphrase;
}
