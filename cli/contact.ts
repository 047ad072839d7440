// Internal: `contact`, the local contact book (docs/contacts.md): add, list, show, rm, verify
// (the safety number, or with --secret a shared-secret check over the network).
import {
  fingerprint,
  formatSafetyNumber,
  identitiesFromText,
  recipientFromIdentity,
  safetyNumber,
} from "./_core.ts";
import { parse, USAGE } from "./_args.ts";
import { UsageError } from "./_errors.ts";
import { readText, say } from "./_io.ts";
import {
  checkName,
  checkRecipient,
  type Contact,
  findContact,
  readBook,
  storeIdentity,
  warnIfExposed,
  writeBook,
} from "./_contacts.ts";
import { addressScheme } from "./_delivery.ts";
import { INVITATION_PREFIX, parseInvitation } from "../relay/invite.ts";
import { verifyContactWithSecret } from "./_secret_check.ts";

/**
 * An invitation (`polycrypt-invite1:...`, docs/relay.md section 12) given directly or as the only
 * line of a file, or undefined.
 */
async function invitationArgument(arg: string): Promise<string | undefined> {
  let text = arg.trim();
  if (!text.startsWith(INVITATION_PREFIX)) {
    if (/^polycrypt\d+:/.test(text)) return undefined;
    try {
      text = (await Deno.readTextFile(arg)).trim();
    } catch {
      return undefined;
    }
    if (!text.startsWith(INVITATION_PREFIX)) return undefined;
  }
  try {
    parseInvitation(text);
  } catch (e) {
    throw new UsageError(`not a valid invitation: ${(e as Error).message}`);
  }
  return text;
}

/** A recipient string given directly, or the one recipient of a file. */
async function recipientArgument(arg: string): Promise<string> {
  if (/^polycrypt\d+:/.test(arg.trim())) return checkRecipient(arg);
  const lines = identitiesFromText(await readText(arg));
  if (lines.some((l) => /^POLYCRYPT-SECRET-KEY-/.test(l) || l.startsWith("-----BEGIN"))) {
    throw new UsageError(
      `${arg} is an identity (a secret key); give its recipient: polycrypt recipient -i ${arg}`,
    );
  }
  if (lines.length !== 1) {
    throw new UsageError(`${arg} holds ${lines.length} recipients; a contact has exactly one`);
  }
  return checkRecipient(lines[0]);
}

function usageError(message: string): UsageError {
  return new UsageError(`${message}\nusage: ${USAGE.contact}`);
}

export async function contactCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("contact", args);
  const [action, ...rest] = positionals;
  const want = (n: number, what: string) => {
    if (rest.length !== n) throw usageError(`contact ${action} takes ${what}`);
  };
  const identityPath = values.identity as string | undefined;
  switch (action) {
    case "add": {
      want(2, "NAME and RECIPIENT-or-FILE");
      const name = checkName(rest[0]);
      const invitation = await invitationArgument(rest[1]);
      const recipient = invitation === undefined
        ? await recipientArgument(rest[1])
        : parseInvitation(invitation).recipient;
      const address = values.address as string | undefined;
      if (address !== undefined) {
        addressScheme(address, "--address must be a tcp://, tls://, udp:// or ws:// address");
      }
      const identity = await storeIdentity(identityPath);
      const contacts = await readBook(identity);
      const existing = contacts.findIndex((c) => c.name === name);
      if (existing >= 0 && !values.force) {
        throw new UsageError(`a contact named ${name} exists; use --force to replace it`);
      }
      const entry: Contact = { name, recipient, added: new Date().toISOString() };
      if (address !== undefined) entry.address = address;
      if (invitation !== undefined) entry.invitation = invitation;
      const same = contacts.find((c) => c.recipient === recipient && c.name !== name);
      if (existing >= 0) contacts[existing] = entry;
      else contacts.push(entry);
      await writeBook(identity, contacts);
      await warnIfExposed(identityPath);
      console.log(`${name}  ${fingerprint(recipient)}`);
      if (same) say(`polycrypt: note: the same key is also saved as ${same.name}`);
      say(
        `polycrypt: added ${name}; compare the fingerprint with theirs (polycrypt fingerprint), ` +
          `or together: polycrypt contact verify ${name}`,
      );
      return;
    }
    case "list": {
      want(0, "no argument");
      const contacts = await readBook(await storeIdentity(identityPath));
      const rows = contacts.toSorted((a, b) => a.name.localeCompare(b.name)).map((c) => ({
        name: c.name,
        fingerprint: fingerprint(c.recipient),
        address: c.address ?? null,
        added: c.added,
        verified: c.verified ?? null,
        relay: c.invitation === undefined ? null : parseInvitation(c.invitation).relay,
      }));
      if (values.json) return console.log(JSON.stringify(rows, null, 2));
      const width = Math.max(4, ...rows.map((r) => r.name.length));
      for (const r of rows) {
        const marks = [
          r.address ?? "",
          r.relay ? `inbox on ${r.relay}` : "",
          r.verified ? "verified" : "",
        ].filter(Boolean);
        console.log([r.name.padEnd(width), r.fingerprint, ...marks].join("  "));
      }
      return;
    }
    case "show": {
      want(1, "NAME");
      const contacts = await readBook(await storeIdentity(identityPath));
      const found = findContact(contacts, rest[0]);
      console.log(found.recipient);
      if (found.invitation !== undefined) console.log(found.invitation);
      return;
    }
    case "rm": {
      want(1, "NAME");
      const name = checkName(rest[0]);
      const identity = await storeIdentity(identityPath);
      const contacts = await readBook(identity);
      findContact(contacts, name);
      await writeBook(identity, contacts.filter((c) => c.name !== name));
      say(`polycrypt: removed ${name}`);
      return;
    }
    case "verify": {
      want(1, "NAME");
      const identity = await storeIdentity(identityPath);
      const contact = findContact(await readBook(identity), rest[0]);
      if (values.secret) return await verifyContactWithSecret(values, identity, contact);
      const network = ["listen", "peer", "proxy", "tls-cert", "tls-key", "tls-ca"]
        .filter((o) => values[o] !== undefined);
      if (network.length) throw usageError(`--${network[0]} goes with verify --secret`);
      const mine = await recipientFromIdentity(identity);
      console.log(`Safety number with ${contact.name}:\n`);
      console.log(formatSafetyNumber(safetyNumber(mine, contact.recipient)));
      console.log(
        `\nCompare it with the number ${contact.name} sees (polycrypt contact verify, with ` +
          `${contact.name}'s name for you),\nin person or on a call you trust. The same 60 ` +
          `digits on both screens mean each of you\nholds the other's real key.`,
      );
      console.log(`\nyour fingerprint:  ${fingerprint(mine)}`);
      console.log(`${contact.name}'s fingerprint: ${fingerprint(contact.recipient)}`);
      return;
    }
    default:
      throw usageError(
        action === undefined
          ? "give an action: add, list, show, rm or verify"
          : `unknown action ${JSON.stringify(action)}`,
      );
  }
}
