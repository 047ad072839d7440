// Internal: `fingerprint`, the short fingerprint of a key (docs/contacts.md section 1).
import { fingerprint, identitiesFromText, recipientFromIdentity } from "./_core.ts";
import { isProtectedIdentity, loadIdentities, onePositional, parse } from "./_args.ts";
import { UsageError } from "./_errors.ts";
import { readText } from "./_io.ts";

/** A recipient string of any version (`polycrypt1:`, `polycrypt2:`, ...). */
const RECIPIENT = /^polycrypt\d+:/;
/** An identity string of any version. */
const IDENTITY = /^POLYCRYPT-SECRET-KEY-\d+:/;

/**
 * The recipients an argument names: itself when it is a recipient string, a contact's for
 * `@NAME`, else those of the file (a recipients file, or an identity file whose recipients are
 * derived; a protected one asks for its passphrase).
 */
export async function recipientsOf(arg: string, passphraseFile?: string): Promise<string[]> {
  if (RECIPIENT.test(arg.trim())) return [arg.trim()];
  if (arg.startsWith("@")) {
    const { resolveContacts } = await import("./_contacts.ts");
    return await resolveContacts([arg]);
  }
  const text = arg === "-" ? await new Response(Deno.stdin.readable).text() : await readText(arg);
  if (isProtectedIdentity(text)) {
    if (arg === "-") throw new UsageError("give a protected identity as a file, not on stdin");
    const identities = await loadIdentities([arg], passphraseFile);
    return await Promise.all(identities.map((i) => recipientFromIdentity(i)));
  }
  const lines = identitiesFromText(text);
  if (lines.length === 0) throw new UsageError(`${arg === "-" ? "stdin" : arg} holds no key`);
  return await Promise.all(
    lines.map((line) => IDENTITY.test(line) ? recipientFromIdentity(line) : line),
  );
}

/** `polycrypt fingerprint [KEYFILE|RECIPIENT|@NAME|-]`: one fingerprint per key, one a line. */
export async function fingerprintCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("fingerprint", args);
  const arg = onePositional("fingerprint", positionals) ?? "-";
  const recipients = await recipientsOf(arg, values["passphrase-file"] as string | undefined);
  for (const r of recipients) console.log(fingerprint(r)); // FormatError -> usage error
}
