// Internal: decrypt's limits on what a hostile envelope may cost, --max-kdf-memory and
// --max-stanza-attempts. A password envelope names its own Argon2id cost, up to
// the format's cap (1 GiB, 16 passes, 16 lanes: ARGON2_CAP); a hostile file can claim that much.
// Before Argon2id runs, the CLI reads the cost from the envelope's clear prefix and, when the
// memory is above the limit, asks on a terminal, or refuses (a usage error) without one.
import {
  ARGON2_DEFAULT,
  type Argon2Params,
  checkArgon2Params,
  isArmored,
  LIMITS,
  STANZA_ATTEMPTS,
  type StanzaAttempts,
} from "./_core.ts";
import { ARMOR_BEGIN } from "../cascade/armor.ts";
import { OUTER_SIZE, parseOuter } from "../cascade/format.ts";
import { UsageError } from "./_errors.ts";
import { readTerminalLine } from "./_passphrase.ts";

/** `--max-kdf-memory`'s default, in MiB: four times the default Argon2id memory (64 MiB). */
export const DEFAULT_MAX_KDF_MEMORY_MIB = 256;

const MiB = 1024;

/** The value of `--max-kdf-memory` (MiB, a positive integer), or the default. */
export function maxKdfMemoryMiB(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_KDF_MEMORY_MIB;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--max-kdf-memory takes a number of MiB, such as 1024, not ${value}`);
  }
  return n;
}

/**
 * The value of `--max-stanza-attempts N`: each identity tries up to N stanzas of its type, RSA
 * and ElGamal included (default 16), and fast KEMs never fewer than their default 256.
 */
export function stanzaAttemptsFlag(value: string | undefined): Partial<StanzaAttempts> | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > LIMITS.stanzas) {
    throw new UsageError(
      `--max-stanza-attempts takes a number from 1 to ${LIMITS.stanzas}, not ${value}`,
    );
  }
  return { slow: n, fast: Math.max(n, STANZA_ATTEMPTS.fast) };
}

/**
 * The Argon2id cost in the clear prefix of a password envelope that begins with `head` (binary,
 * or armored with its first base64 line in `head`); `undefined` when `head` does not hold it
 * (then the envelope is malformed and fails to parse before any KDF runs).
 */
export function kdfParams(head: Uint8Array): Argon2Params | undefined {
  let bytes = head;
  if (isArmored(head)) {
    const text = new TextDecoder().decode(head);
    const line = text.slice(text.indexOf(ARMOR_BEGIN) + ARMOR_BEGIN.length).trimStart()
      .split(/\r?\n/)[0];
    try {
      // 48 base64 characters are 36 bytes, enough for the 35-byte prefix.
      bytes = Uint8Array.fromBase64(line.slice(0, 48));
    } catch {
      return undefined;
    }
  }
  if (bytes.length < OUTER_SIZE) return undefined;
  try {
    const { argon2 } = parseOuter(bytes.subarray(0, OUTER_SIZE));
    checkArgon2Params(argon2); // out of bounds: the library refuses it before running anything
    return argon2;
  } catch {
    return undefined;
  }
}

const describe = (p: Argon2Params) => `${p.memoryKiB / MiB} MiB, t=${p.passes}, p=${p.parallelism}`;

/**
 * Returns when the Argon2id cost of the envelope starting with `head` is within `maxMiB`, or the
 * user agreed on a terminal to run it; else throws a {@linkcode UsageError} naming the flag.
 */
export async function checkKdfCost(head: Uint8Array, maxMiB: number): Promise<void> {
  const params = kdfParams(head);
  if (params === undefined || params.memoryKiB <= maxMiB * MiB) return;
  const refusal = `the envelope asks Argon2id for ${describe(params)}, above --max-kdf-memory ` +
    `${maxMiB} (MiB); run with --max-kdf-memory ${Math.ceil(params.memoryKiB / MiB)} if you ` +
    `trust it`;
  let answer: string;
  try {
    answer = await askOnTerminal(
      `polycrypt: this envelope's passphrase needs Argon2id with ${
        describe(params)
      } (the default ` +
        `is ${describe(ARGON2_DEFAULT)}; --max-kdf-memory is ${maxMiB} MiB). Run it? [y/N] `,
    );
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(refusal);
    throw e;
  }
  if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError(refusal);
}

/** Asks `question` on the terminal and returns the line typed (echoed); UsageError without one. */
async function askOnTerminal(question: string): Promise<string> {
  return await readTerminalLine(question, true) ?? ""; // Ctrl-C, Ctrl-D: no
}
