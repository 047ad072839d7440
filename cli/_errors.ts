// Internal: the CLI's error classes and how every error maps to a message and an exit code.
import {
  DecryptionError,
  FormatError,
  InvalidKeyError,
  PolycryptError,
  SignatureError,
  UnknownEngineError,
} from "./_core.ts";

/** Exit codes (docs/cli.md). */
export const EXIT = Object.freeze({
  ok: 0,
  decryption: 1,
  usage: 2,
  io: 3,
  internal: 70,
  interrupted: 130,
});

/** A mistake in how the command was called. */
export class UsageError extends Error {}

/** A file could not be read or written. */
export class IoError extends Error {}

/**
 * Raised around decryption so that every failure there has one message, `decryption failed`;
 * given a message (a protected identity file's wrong passphrase), that one instead (exit 1 still).
 */
export class DecryptFailed extends Error {}

/** Maps an error to [exit code, one-line message]; never includes secrets or stack traces. */
export function describeError(e: unknown): [number, string] {
  if (e instanceof DecryptFailed && e.message) return [EXIT.decryption, e.message];
  if (e instanceof DecryptFailed || e instanceof DecryptionError) {
    return [EXIT.decryption, "decryption failed"];
  }
  if (e instanceof SignatureError) return [EXIT.decryption, e.message];
  if (e instanceof UsageError) return [EXIT.usage, e.message];
  if (e instanceof UnknownEngineError) return [EXIT.usage, e.message];
  if (e instanceof FormatError || e instanceof InvalidKeyError) return [EXIT.usage, e.message];
  if (e instanceof IoError) return [EXIT.io, e.message];
  if (e instanceof Deno.errors.NotFound) {
    return [EXIT.io, `no such file: ${(e as Error).message.split(": ").at(-1)}`];
  }
  if (e instanceof Deno.errors.PermissionDenied) return [EXIT.io, "permission denied"];
  if (e instanceof Deno.errors.BrokenPipe) {
    return [EXIT.io, "the output was closed before everything was written (broken pipe)"];
  }
  if (e instanceof Deno.errors.AlreadyExists) {
    return [EXIT.io, "the output file already exists (use --force)"];
  }
  if (e instanceof Deno.errors.IsADirectory) {
    return [EXIT.io, "a directory was given where a file was expected"];
  }
  if (e instanceof TypeError || e instanceof RangeError || e instanceof PolycryptError) {
    return [EXIT.usage, (e as Error).message];
  }
  return [
    EXIT.internal,
    `internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`,
  ];
}
