// Internal: where passphrases come from. Never argv: a file, an environment variable, or the
// terminal without echo (stdin when it is a terminal; /dev/tty when Deno runs with -A).
import { readText } from "./_io.ts";
import { UsageError } from "./_errors.ts";

const encoder = new TextEncoder();

export interface PassphraseSource {
  passphraseFile?: string;
}

/** A terminal to prompt on: stdin when it is one, else /dev/tty (Deno grants that only to -A). */
interface Terminal {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  setRaw(raw: boolean): void;
  close(): void;
}

async function openTerminal(): Promise<Terminal> {
  if (Deno.stdin.isTerminal() && Deno.stderr.isTerminal()) {
    return {
      read: (buffer) => Deno.stdin.read(buffer),
      write: (bytes) => Deno.stderr.write(bytes),
      setRaw: (raw) => Deno.stdin.setRaw(raw),
      close: () => {},
    };
  }
  try {
    return await Deno.open("/dev/tty", { read: true, write: true });
  } catch {
    throw new UsageError(
      "a passphrase is needed: use --passphrase-file FILE, set POLYCRYPT_PASSPHRASE, or run with stdin on a terminal",
    );
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

/**
 * The passphrase from --passphrase-file, POLYCRYPT_PASSPHRASE, or a no-echo prompt.
 * `confirm` asks twice on a terminal (new passphrases).
 */
export async function readPassphrase(
  source: PassphraseSource,
  what: string,
  confirm = false,
): Promise<string> {
  let passphrase: string | undefined;
  if (source.passphraseFile !== undefined) {
    passphrase = (await readText(source.passphraseFile)).replace(/\r?\n$/, "");
  } else if (Deno.env.get("POLYCRYPT_PASSPHRASE") !== undefined) {
    passphrase = Deno.env.get("POLYCRYPT_PASSPHRASE");
  } else {
    passphrase = await promptTty(`Enter ${what}: `);
    if (confirm && (await promptTty(`Confirm ${what}: `)) !== passphrase) {
      throw new UsageError("the passphrases do not match");
    }
  }
  if (!passphrase) throw new UsageError("the passphrase is empty");
  return passphrase;
}
