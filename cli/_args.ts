// Internal: the CLI's usage texts, argument parsing and identity/recipient loading, shared by
// every command.
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { decrypt, identitiesFromText, isArmored, parseIdentity, parseRecipient } from "../mod.ts";
import { DecryptFailed, UsageError } from "./_errors.ts";
import { readText } from "./_io.ts";
import { readPassphrase } from "./_passphrase.ts";
import { checkKdfCost } from "./_kdf.ts";

export const USAGE: Record<string, string> = {
  engines: "polycrypt engines [--json]",
  bench: "polycrypt bench [--quick] [--engines IDS] [--json]",
  keygen:
    "polycrypt keygen [--engine ID] [--sign-engine ID|none] [-o FILE] [--protect] [--passphrase-file FILE]\n       polycrypt keygen --upgrade -i OLD -o NEW [--sign-engine ID] [--protect]",
  recipient: "polycrypt recipient [-i FILE] [--passphrase-file FILE]",
  encrypt:
    "polycrypt encrypt [-r RECIPIENT]... [-R FILE]... [-p] [--sign -i FILE] [--aead LIST] [-a] [--no-pad] [-o OUT] [--force] [--passphrase-file FILE] [IN]",
  decrypt:
    "polycrypt decrypt [-i FILE]... [-p] [--verify SIGNER]... [-o OUT] [--force] [--passphrase-file FILE] [--max-kdf-memory MiB] [--max-stanza-attempts N] [IN]",
  inspect: "polycrypt inspect [--json] [IN]",
  sign: "polycrypt sign -i FILE [-o SIG] [--force] [--passphrase-file FILE] FILE",
  verify: "polycrypt verify -r SIGNER... [--signature SIG] [-i FILE] FILE",
  fingerprint: "polycrypt fingerprint [KEYFILE | RECIPIENT | @NAME | -] [--passphrase-file FILE]",
  contact:
    "polycrypt contact add NAME RECIPIENT|FILE [--address URL] [--force] | list [--json] | show NAME | rm NAME | verify NAME  [-i IDENTITY]",
  listen:
    "polycrypt listen --on tcp://HOST:PORT|tls://HOST:PORT|udp://HOST:PORT|ws://HOST:PORT/PATH -i FILE... [--from SIGNER]... [-o DIR] [--max-file-size SIZE] [--once] [--tls-cert FILE --tls-key FILE] [--passphrase-file FILE]",
  chat:
    "polycrypt chat --listen tcp://HOST:PORT|tls://HOST:PORT|ws://HOST:PORT/PATH --peer ADDRESS -i FILE... -r RECIPIENT... [-R FILE]... [--proxy socks5h://...] [--tls-cert FILE --tls-key FILE] [--tls-ca FILE]... [-o DIR] [--peer-contact NAME] [--history]",
  send:
    "polycrypt send [-i FILE] --to tcp://HOST:PORT|tls://HOST:PORT|udp://HOST:PORT|ws://HOST:PORT/PATH -r RECIPIENT... [-R FILE]... [--aead LIST] [--proxy socks5h://...] [--tls-ca FILE]... [--peer-contact NAME] [MESSAGE | -f FILE]",
};

export function usage(): string {
  return [
    "polycrypt: multi-layer encryption for messengers",
    "",
    ...Object.values(USAGE).map((u) => `  ${u}`),
    "",
    "Passphrases come from a terminal prompt, --passphrase-file FILE or POLYCRYPT_PASSPHRASE; never from argv.",
    "Exit codes: 0 ok, 1 decryption failed, 2 usage error, 3 I/O error.",
  ].join("\n");
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export function parse(
  command: string,
  args: string[],
  options: ParseArgsOptionsConfig,
): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args,
      options: { help: { type: "boolean", short: "h" }, ...options },
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] };
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nusage: ${USAGE[command]}`);
  }
}

export function onePositional(command: string, positionals: string[]): string | undefined {
  if (positionals.length > 1) throw new UsageError(`too many arguments\nusage: ${USAGE[command]}`);
  return positionals[0];
}

/**
 * Identities from identity files; protected ones are decrypted with a passphrase, after (when
 * `maxKdfMemoryMiB` is given: decrypt's --max-kdf-memory) the Argon2id cost their file names is
 * checked against it (cli/_kdf.ts).
 */
export async function loadIdentities(
  paths: string[],
  passphraseFile: string | undefined,
  maxKdfMemoryMiB?: number,
): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    let text = path === "-" ? await new Response(Deno.stdin.readable).text() : await readText(path);
    if (isArmored(text)) {
      if (maxKdfMemoryMiB !== undefined) {
        await checkKdfCost(
          new TextEncoder().encode(text.trimStart().slice(0, 512)),
          maxKdfMemoryMiB,
        );
      }
      const passphrase = await readPassphrase({ passphraseFile }, `the passphrase of ${path}`);
      try {
        text = new TextDecoder().decode(await decrypt(text, { passphrase }));
      } catch {
        throw new DecryptFailed();
      }
    }
    const found = identitiesFromText(text);
    if (found.length === 0) throw new UsageError(`${path} holds no identity`);
    for (const identity of found) parseIdentity(identity); // FormatError -> usage error
    out.push(...found);
  }
  return out;
}

/**
 * Recipients from -r values (`@NAME` is a contact, opened with `storeIdentity` or the default
 * store identity: cli/_contacts.ts) and -R files, each checked (a bad one is a usage error).
 */
export async function loadRecipients(values: Values, storeIdentity?: string): Promise<string[]> {
  let recipients = [...(values.recipient as string[] | undefined ?? [])];
  if (recipients.some((r) => r.startsWith("@"))) {
    const { resolveContacts } = await import("./_contacts.ts");
    recipients = await resolveContacts(recipients, storeIdentity);
  }
  for (const file of values["recipients-file"] as string[] | undefined ?? []) {
    recipients.push(...identitiesFromText(await readText(file)));
  }
  for (const r of recipients) parseRecipient(r); // FormatError -> usage error, before any work
  return recipients;
}
