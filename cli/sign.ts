// Internal: `sign` and `verify`, detached signatures for files as minisign and signify make them
// (docs/format.md section 10, docs/cli.md).
import { signDetached, verifyDetached } from "./_core.ts";
import { loadIdentities, onePositional, parse, USAGE } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { openInput, readText, say, writeAtomic, writeStdout } from "./_io.ts";
import { contactsFor, senderLine, signersNamed } from "./_sender.ts";

/** `polycrypt sign -i KEY [-o SIG] [--force] FILE`: writes FILE.sig (or SIG, `-`: stdout). */
export async function signCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("sign", args);
  const file = onePositional("sign", positionals);
  if (file === undefined) throw new UsageError(`give the FILE to sign\nusage: ${USAGE.sign}`);
  const key = values.identity as string | undefined;
  if (key === undefined) throw new UsageError(`give the identity to sign with: -i FILE`);
  const [identity, ...more] = await loadIdentities([key], values["passphrase-file"] as string);
  if (more.length) throw new UsageError(`${key} holds several identities: give a file with one`);
  const output = values.output as string | undefined ??
    (file === "-" ? "-" : `${file}.sig`);
  const source = await openInput(file);
  const text = await signDetached(source.stream, identity);
  const bytes = ReadableStream.from([new TextEncoder().encode(text)]);
  if (output === "-") return await writeStdout(bytes);
  await writeAtomic(output, bytes, Boolean(values.force));
  say(`polycrypt: wrote ${output}`);
}

/**
 * `polycrypt verify -r SIGNER... [--signature SIG] FILE`: exit 0 when SIG (default FILE.sig) is
 * a good signature of FILE by one of the signers, else exit 1.
 */
export async function verifyCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("verify", args);
  const file = onePositional("verify", positionals);
  if (file === undefined) throw new UsageError(`give the FILE to verify\nusage: ${USAGE.verify}`);
  const named = values.signer as string[] | undefined ?? [];
  if (named.length === 0) {
    throw new UsageError(
      `give the signer to expect: -r RECIPIENT|FILE|@NAME\nusage: ${USAGE.verify}`,
    );
  }
  const signers = await signersNamed(named);
  const sigPath = values.signature as string | undefined ??
    (file === "-" ? undefined : `${file}.sig`);
  if (sigPath === undefined) throw new UsageError("reading FILE from stdin: give --signature SIG");
  let signature: string;
  try {
    signature = await readText(sigPath);
  } catch (e) {
    if (e instanceof IoError) throw new IoError(`${e.message} (the signature; --signature SIG)`);
    throw e;
  }
  const source = await openInput(file);
  const signer = await verifyDetached(source.stream, signature, signers);
  // Named from the book sealed under -i (or nobody's: the fingerprint).
  const [identity] = values.identity === undefined
    ? [undefined]
    : await loadIdentities([values.identity as string], undefined);
  say(`polycrypt: good signature, ${senderLine(signer, await contactsFor(identity))}`);
}
