// Internal: who sent a message, as the CLI says it (docs/cli.md, "Signed messages"): the
// signers a user names (`--verify`, `verify -r`, `listen --from`) and the line that names a
// verified sender by contact name or fingerprint.
import { parseIdentity, type Sender } from "./_core.ts";
import { loadIdentities } from "./_args.ts";
import { recipientsOf } from "./fingerprint.ts";
import { type Contact, peerLabel, readBook } from "./_contacts.ts";
import { UsageError } from "./_errors.ts";
import { parseRecipient } from "./_core.ts";

/**
 * The recipients (version 2: with a signing key) that SIGNER values name: recipient strings,
 * `@NAME` contacts, recipients files or identity files.
 */
export async function signersNamed(values: string[], passphraseFile?: string): Promise<string[]> {
  const out: string[] = [];
  for (const value of values) {
    for (const r of await recipientsOf(value, passphraseFile)) {
      if (!parseRecipient(r).verifyingKey) {
        throw new UsageError(
          `${value} names a key without a signing key (a polycrypt1: recipient): its owner can ` +
            `upgrade with polycrypt keygen --upgrade`,
        );
      }
      out.push(r);
    }
  }
  return out;
}

/**
 * The contacts sealed under `identity`, to name senders; none when that identity does not open
 * a book (a sender is then named by fingerprint).
 */
export async function contactsFor(identity: string | undefined): Promise<Contact[]> {
  if (identity === undefined) return [];
  try {
    return await readBook(identity);
  } catch {
    return [];
  }
}

/** `signed by NAME (FINGERPRINT)`, `signed by FINGERPRINT`, or `unsigned`. */
export function senderLine(sender: Sender | null, contacts: Contact[]): string {
  if (sender === null) return "unsigned: the sender is not authenticated";
  const name = peerLabel(sender.recipient, contacts);
  return name === sender.fingerprint.slice(0, 9)
    ? `signed by ${sender.fingerprint}`
    : `signed by ${name} (${sender.fingerprint})`;
}

/**
 * The identity a command signs with: the one in `-i FILE` (`encrypt --sign`, `send`), asked for
 * its passphrase when protected; `undefined` without `-i`. A usage error when it cannot sign.
 */
export async function signingIdentity(
  values: Record<string, unknown>,
): Promise<string | undefined> {
  const file = values.identity as string | undefined;
  if (file === undefined) return undefined;
  const [identity, ...more] = await loadIdentities(
    [file],
    values["passphrase-file"] as string | undefined,
  );
  if (more.length) throw new UsageError(`${file} holds several identities: give a file with one`);
  if (!parseIdentity(identity).signingKey) {
    throw new UsageError(
      `${file} cannot sign (a version-1 identity): upgrade it with ` +
        `polycrypt keygen --upgrade -i ${file} -o NEW`,
    );
  }
  return identity;
}
