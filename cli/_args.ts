// Internal: the CLI's usage texts, argument parsing and identity/recipient loading, shared by
// every command.
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { optionDrift, optionsConfig, overview, pageOf, renderPage, usageLine } from "./_help.ts";
import { decrypt, identitiesFromText, isArmored, parseIdentity, parseRecipient } from "./_core.ts";
import { DecryptFailed, UsageError } from "./_errors.ts";
import { readText, say } from "./_io.ts";
import { readPassphrase } from "./_passphrase.ts";
import { checkKdfCost } from "./_kdf.ts";
import { ARMOR_BEGIN, ARMOR_END } from "../cascade/armor.ts";

/** A command's synopsis line (`polycrypt CMD ...`), from its help page (cli/_help.ts). */
export const USAGE: Record<string, string> = new Proxy({} as Record<string, string>, {
  get: (_target, command) => usageLine(String(command)),
});

/** The overview of every command, as `polycrypt --help` prints it. */
export function usage(): string {
  return overview();
}

export type Values = Record<string, string | boolean | string[] | undefined>;

/**
 * Thrown by {@linkcode parse} once it printed a help page (`-h`/`--help`): the command does nothing
 * else and the CLI exits 0.
 */
export class HelpShown extends Error {}

/** An option as it was typed: `--output` or `-o`, for messages. */
function typed(name: string, config: ParseArgsOptionsConfig): string {
  const short = config[name]?.short;
  return short ? `-${short}/--${name}` : `--${name}`;
}

/**
 * Parses `args` for `command` against `options` (default: the option table of its help page,
 * cli/_help.ts). `-h`/`--help` anywhere prints the command's page and throws
 * {@linkcode HelpShown}. Refused with a {@linkcode UsageError} (exit 2), each with the usage line:
 * an unknown option, an option without its value (or with a value that looks like an option:
 * `--output=-x` passes one), a value given to a switch, and a single-value option given twice.
 */
export function parse(
  command: string,
  args: string[],
  options?: ParseArgsOptionsConfig,
): { values: Values; positionals: string[] } {
  const page = pageOf(command);
  const config: ParseArgsOptionsConfig = options
    ? { help: { type: "boolean", short: "h" }, ...options }
    : page
    ? optionsConfig(page)
    : { help: { type: "boolean", short: "h" } };
  const { values, positionals, tokens } = parseArgs({
    args,
    options: config,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const fail = (message: string): never => {
    throw new UsageError(
      `${message}\nusage: ${usageLine(command)}\n(more: polycrypt ${command} --help)`,
    );
  };
  if (tokens.some((t) => t.kind === "option" && t.name === "help")) {
    if (page !== undefined) {
      // A parser table that differs from the page is a bug: shown, so tests see it (help_test.ts).
      for (const problem of optionDrift(command, config)) {
        say(`polycrypt: help page drift: ${problem}`);
      }
      console.log(renderPage(command));
    } else {
      console.log(usageLine(command));
    }
    throw new HelpShown();
  }
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const o = Object.hasOwn(config, token.name) ? config[token.name] : undefined;
    if (o === undefined) {
      fail(`unknown option ${token.rawName}`);
    } else if (o.type === "boolean") {
      if (token.value !== undefined) fail(`${typed(token.name, config)} takes no value`);
    } else if (token.value === undefined) {
      fail(`${typed(token.name, config)} needs a value`);
    } else if (!token.inlineValue && token.value.length > 1 && token.value.startsWith("-")) {
      fail(
        `${typed(token.name, config)} needs a value (for one that starts with '-', write ` +
          `--${token.name}=${token.value})`,
      );
    } else if (!o.multiple && seen.has(token.name)) {
      fail(`${typed(token.name, config)} was given more than once; it takes one value`);
    }
    seen.add(token.name);
  }
  return { values: values as Values, positionals };
}

export function onePositional(command: string, positionals: string[]): string | undefined {
  if (positionals.length > 1) throw new UsageError(`too many arguments\nusage: ${USAGE[command]}`);
  return positionals[0];
}

/** The first and last lines of a protected identity file (`keygen --protect`). */
export const SECRET_KEY_BEGIN = "-----BEGIN POLYCRYPT SECRET KEY-----";
export const SECRET_KEY_END = "-----END POLYCRYPT SECRET KEY-----";

/**
 * A protected identity file's text from the armored envelope that seals it: the same bytes under
 * the labels `-----BEGIN/END POLYCRYPT SECRET KEY-----` instead of `... MESSAGE-----`, so the file
 * says what it is (docs/cli.md).
 */
export function protectIdentityText(armored: string): string {
  return armored.replace(ARMOR_BEGIN, SECRET_KEY_BEGIN).replace(ARMOR_END, SECRET_KEY_END);
}

/**
 * The armored envelope inside a protected identity file, labelled SECRET KEY (or MESSAGE, as files
 * from before the label were); `undefined` for a file that is not protected.
 */
function protectedEnvelope(text: string): string | undefined {
  const trimmed = text.trimStart();
  if (trimmed.startsWith(SECRET_KEY_BEGIN)) {
    return trimmed.replace(SECRET_KEY_BEGIN, ARMOR_BEGIN).replace(SECRET_KEY_END, ARMOR_END);
  }
  return isArmored(text) ? text : undefined;
}

/** Whether `text` is a protected identity file (SECRET KEY or, from before the label, MESSAGE). */
export function isProtectedIdentity(text: string): boolean {
  return protectedEnvelope(text) !== undefined;
}

/** stdin as text, read once however many options name it (`-i -`, `-R -`). */
let stdinText: Promise<string> | undefined;
function readStdinText(): Promise<string> {
  return stdinText ??= new Response(Deno.stdin.readable).text();
}

/**
 * Identities from identity files; protected ones are decrypted with a passphrase, after (when
 * `maxKdfMemoryMiB` is given: decrypt's --max-kdf-memory) the Argon2id cost their file names is
 * checked against it (cli/_kdf.ts). A wrong passphrase says which file it was for (exit 1).
 */
export async function loadIdentities(
  paths: string[],
  passphraseFile: string | undefined,
  maxKdfMemoryMiB?: number,
): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    let text = path === "-" ? await readStdinText() : await readText(path);
    const sealed = protectedEnvelope(text);
    if (sealed !== undefined) {
      if (maxKdfMemoryMiB !== undefined) {
        await checkKdfCost(
          new TextEncoder().encode(sealed.trimStart().slice(0, 512)),
          maxKdfMemoryMiB,
        );
      }
      const name = path === "-" ? "the identity on stdin" : path;
      const passphrase = await readPassphrase({ passphraseFile }, `the passphrase of ${name}`);
      try {
        text = new TextDecoder().decode(await decrypt(sealed, { passphrase }));
      } catch {
        throw new DecryptFailed(
          `the passphrase of ${name} is wrong (or the file is damaged)`,
        );
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
 * store identity: cli/_contacts.ts) and -R files (`-R -`: stdin), each checked (a bad one is a
 * usage error, before any work).
 */
export async function loadRecipients(values: Values, storeIdentity?: string): Promise<string[]> {
  let recipients = [...(values.recipient as string[] | undefined ?? [])];
  if (recipients.some((r) => r.startsWith("@"))) {
    const { resolveContacts } = await import("./_contacts.ts");
    recipients = await resolveContacts(recipients, storeIdentity);
  }
  for (const file of values["recipients-file"] as string[] | undefined ?? []) {
    recipients.push(
      ...identitiesFromText(file === "-" ? await readStdinText() : await readText(file)),
    );
  }
  for (const r of recipients) parseRecipient(r); // FormatError -> usage error, before any work
  return recipients;
}
