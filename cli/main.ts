/**
 * The polycrypt command line: `engines`, `bench`, `keygen`, `recipient`, `encrypt`, `decrypt`,
 * `inspect`, `bundle`, `listen`, `send`, `chat`, `fingerprint`, `contact`. Usage, flags and exit codes:
 * `docs/cli.md`.
 *
 * ```sh
 * deno task cli keygen -o bob.key
 * echo "hi" | deno task cli encrypt -r polycrypt2:... -a
 * ```
 *
 * @module
 */
import {
  dearmor,
  decryptStream,
  DEFAULT_IDENTITY_ENGINE,
  DEFAULT_SIGNATURE_ENGINE,
  encrypt,
  encryptStream,
  generateIdentity,
  inspect,
  isArmored,
  type KemEngine,
  parseIdentity,
  recipientFromIdentity,
  registry,
  type Sender,
  type SessionMessageInfo,
  type SignatureEngine,
  sniffEnvelope,
  UnknownEngineError,
  upgradeIdentity,
} from "./_core.ts";
import { peek } from "../cascade/_splice.ts";
import { DecryptFailed, describeError, EXIT, IoError, UsageError } from "./_errors.ts";
import { checkNotSameFile, openInput, say, withProgress, writeAtomic, writeStdout } from "./_io.ts";
import { readPassphrase } from "./_passphrase.ts";
import { checkKdfCost, kdfParams, maxKdfMemoryMiB, stanzaAttemptsFlag } from "./_kdf.ts";
import {
  HelpShown,
  isProtectedIdentity,
  loadIdentities,
  loadRecipients,
  onePositional,
  parse,
  protectIdentityText,
  USAGE,
} from "./_args.ts";
import { type CommandHelp, overview, registerPage } from "./_help.ts";
import { contactsFor, senderLine, signersNamed, signingIdentity } from "./_sender.ts";

const VERSION = "0.1.0";
const encoder = new TextEncoder();

// ------------------------------------------------------------------ engines

function engines(args: string[]): void {
  const { values, positionals } = parse("engines", args);
  if (positionals.length) throw new UsageError(`unexpected argument\nusage: ${USAGE.engines}`);
  // The columns a KEM and a signature engine share, in --json's order.
  const keyed = <E extends KemEngine | SignatureEngine>(id: string, e: E) => ({
    id,
    kind: e.kind as E["kind"],
    family: e.family,
    postQuantum: e.postQuantum,
    securityBits: e.securityBits,
    publicKeyBytes: e.publicKeySize,
  });
  const rows = registry.ids().map((id) => {
    const e = registry.get(id);
    return e.kind === "kem"
      ? {
        ...keyed(id, e),
        encapsulationBytes: e.encapsulationSize,
        sharedSecretBytes: e.sharedSecretSize,
      }
      : e.kind === "aead"
      ? { id, kind: e.kind, keyBytes: e.keySize, nonceBytes: e.nonceSize, tagBytes: e.tagSize }
      : { ...keyed(id, e), signatureBytes: e.signatureSize };
  });
  if (values.json) return console.log(JSON.stringify(rows, null, 2));
  const line = (cells: (string | number)[], widths: number[]) =>
    cells.map((c, i) => String(c).padEnd(widths[i])).join("  ").trimEnd();
  // One table per kind, a blank line between them.
  type Row = (typeof rows)[number];
  const table = <K extends Row["kind"]>(
    kind: K,
    header: string[],
    widths: number[],
    cells: (r: Extract<Row, { kind: K }>) => (string | number)[],
  ) => {
    console.log(line(header, widths));
    for (const r of rows) {
      if (r.kind === kind) console.log(line(cells(r as Extract<Row, { kind: K }>), widths));
    }
  };
  const pq = (r: { postQuantum: boolean }) => r.postQuantum ? "yes" : "no";
  table(
    "kem",
    ["KEM", "family", "pq", "security bits", "public key", "encapsulation"],
    [20, 8, 4, 13, 10, 13],
    (r) => [r.id, r.family, pq(r), r.securityBits, r.publicKeyBytes, r.encapsulationBytes],
  );
  console.log();
  table(
    "aead",
    ["AEAD", "key", "nonce", "tag"],
    [20, 5, 5, 5],
    (r) => [r.id, r.keyBytes, r.nonceBytes, r.tagBytes],
  );
  console.log();
  table(
    "signature",
    ["Signature", "family", "pq", "security bits", "public key", "signature"],
    [20, 8, 4, 13, 10],
    (r) => [r.id, r.family, pq(r), r.securityBits, r.publicKeyBytes, r.signatureBytes],
  );
  console.log(
    "\nHybrids: join 2 to 4 KEM ids with '+', e.g. x25519+ml-kem-768. RSA: rsa-N, N from 2048 to 16384.",
  );
}

// ------------------------------------------------------------------ keygen / recipient

/** Shows that slow work is going on: a spinner on a terminal, one line otherwise. */
async function withActivity<T>(label: string, work: Promise<T>): Promise<T> {
  if (!Deno.stderr.isTerminal()) {
    say(`polycrypt: ${label}...`);
    return await work;
  }
  const frames = "|/-\\";
  const start = performance.now();
  let i = 0;
  const timer = setInterval(() => {
    const s = ((performance.now() - start) / 1000).toFixed(0);
    Deno.stderr.writeSync(encoder.encode(`\r${frames[i++ % 4]} ${label}... ${s} s`));
  }, 250);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
  }
}

/**
 * The KEM engine `id` names; an unknown id (or one of another kind) is a usage error that lists
 * the KEM ids only, not the AEAD or signature ones.
 */
function kemEngine(id: string): KemEngine {
  try {
    return registry.kem(id);
  } catch (e) {
    if (!(e instanceof UnknownEngineError) && !(e instanceof TypeError)) throw e;
    const kems = registry.ids().filter((k) => registry.get(k).kind === "kem");
    throw new UsageError(
      `unknown KEM ${JSON.stringify(id)}; KEM ids: ${kems.join(", ")}; also rsa-N for N from ` +
        `2048 to 16384 (a multiple of 8), and hybrids of 2 to 4 KEM ids joined with '+', e.g. ` +
        `x25519+ml-kem-768 (polycrypt engines lists them all)`,
    );
  }
}

/** Refuses to overwrite: an identity file is never replaced. */
async function checkNewIdentityFile(output: string | undefined): Promise<void> {
  if (output === undefined) return;
  try {
    await Deno.lstat(output);
    throw new IoError(`${output} already exists; polycrypt never overwrites an identity file`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Writes an identity file (sealed under `passphrase` when given) to `output` or stdout. */
async function writeIdentityFile(
  output: string | undefined,
  passphrase: string | undefined,
  identity: string,
  recipient: string,
): Promise<void> {
  const { engine, signingKey } = parseIdentity(identity);
  let text = `# created: ${new Date().toISOString()}\n# engine: ${engine.id}\n${
    signingKey ? `# signature engine: ${signingKey.engine.id}\n` : ""
  }# recipient: ${recipient}\n${identity}\n`;
  if (passphrase !== undefined) {
    const sealed = await encrypt(encoder.encode(text), { passphrase, armor: true });
    text = protectIdentityText(new TextDecoder().decode(sealed));
  }
  if (output === undefined) {
    await writeStdout(ReadableStream.from([encoder.encode(text)]));
  } else {
    await writeAtomic(output, ReadableStream.from([encoder.encode(text)]), false);
    say(`Public key: ${recipient}`);
  }
}

/** `--sign-engine`: a signature engine id, or `none` for an identity that cannot sign. */
function signEngineFlag(value: string | undefined): string | null {
  if (value === undefined) return DEFAULT_SIGNATURE_ENGINE;
  if (value === "none") return null;
  return registry.signature(value).id; // UnknownEngineError lists the valid ids
}

async function keygen(args: string[]): Promise<void> {
  const { values, positionals } = parse("keygen", args);
  if (positionals.length) throw new UsageError(`unexpected argument\nusage: ${USAGE.keygen}`);
  const output = values.output as string | undefined;
  const signatureEngine = signEngineFlag(values["sign-engine"] as string | undefined);
  const passphraseFile = values["passphrase-file"] as string | undefined;
  if (values.upgrade) return await upgrade(values, output, signatureEngine);
  if (values.identity !== undefined) {
    throw new UsageError(`-i is for --upgrade\nusage: ${USAGE.keygen}`);
  }
  const engine = kemEngine((values.engine as string | undefined) ?? DEFAULT_IDENTITY_ENGINE);
  await checkNewIdentityFile(output);
  const passphrase = values.protect
    ? await readPassphrase({ passphraseFile }, "a passphrase for the identity file", true)
    : undefined;
  const slow = engine.id.split("+").some((id) => /^rsa-/.test(id) && Number(id.slice(4)) >= 4096);
  const work = generateIdentity(engine.id, { signatureEngine });
  const { identity, recipient } = slow
    ? await withActivity(`generating a ${engine.id} key pair`, work)
    : await work;
  await writeIdentityFile(output, passphrase, identity, recipient);
}

/**
 * `keygen --upgrade -i OLD -o NEW`: the identity of OLD (version 1) with a new signing key, so
 * NEW opens everything OLD did. OLD is left as it is.
 */
async function upgrade(
  values: Record<string, unknown>,
  output: string | undefined,
  signatureEngine: string | null,
): Promise<void> {
  const input = values.identity as string | undefined;
  if (input === undefined || output === undefined) {
    throw new UsageError(`--upgrade needs -i OLD and -o NEW\nusage: ${USAGE.keygen}`);
  }
  if (signatureEngine === null) throw new UsageError("--upgrade adds a signing key: not with none");
  if (values.engine !== undefined) {
    throw new UsageError("--upgrade keeps the encryption key: --engine does not apply");
  }
  await checkNewIdentityFile(output);
  const passphraseFile = values["passphrase-file"] as string | undefined;
  const identities = await loadIdentities([input], passphraseFile);
  if (identities.length !== 1) throw new UsageError(`${input} must hold exactly one identity`);
  if (parseIdentity(identities[0]).signingKey) {
    throw new UsageError(`${input} already has a signing key`);
  }
  // A protected OLD gives a protected NEW: the key must not lose its protection on the way.
  const wasProtected = isProtectedIdentity(await Deno.readTextFile(input));
  const passphrase = values.protect || wasProtected
    ? await readPassphrase({ passphraseFile }, "a passphrase for the new identity file", true)
    : undefined;
  const { identity, recipient } = await upgradeIdentity(identities[0], { signatureEngine });
  await writeIdentityFile(output, passphrase, identity, recipient);
}

async function recipient(args: string[]): Promise<void> {
  const { values, positionals } = parse("recipient", args);
  if (values.identity !== undefined && positionals.length) {
    throw new UsageError(`give -i FILE or FILE, not both\nusage: ${USAGE.recipient}`);
  }
  const path = (values.identity as string | undefined) ?? onePositional("recipient", positionals) ??
    "-";
  for (
    const identity of await loadIdentities([path], values["passphrase-file"] as string | undefined)
  ) {
    console.log(await recipientFromIdentity(identity));
  }
}

// ------------------------------------------------------------------ encrypt / decrypt

async function finish(
  stream: ReadableStream<Uint8Array>,
  output: string | undefined,
  force: boolean,
  binary: boolean,
): Promise<void> {
  if (output === undefined || output === "-") {
    if (binary && Deno.stdout.isTerminal()) {
      throw new UsageError(
        "refusing to write binary output to a terminal; use -a (armor) or -o FILE",
      );
    }
    await writeStdout(stream);
  } else {
    await writeAtomic(output, stream, force);
  }
}

async function encryptCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("encrypt", args);
  if (values.identity !== undefined && !values.sign) {
    throw new UsageError("-i names the identity to sign with: add --sign");
  }
  if (values.sign && values.identity === undefined) {
    throw new UsageError("--sign needs the identity to sign with: -i FILE");
  }
  const sender = await signingIdentity(values);
  const input = onePositional("encrypt", positionals);
  const stdinRecipients = (values["recipients-file"] as string[] | undefined ?? []).includes("-");
  if (stdinRecipients && (input === undefined || input === "-")) {
    throw new UsageError(`-R - reads stdin, so give the input as a file\nusage: ${USAGE.encrypt}`);
  }
  const recipients = await loadRecipients(values);
  const wantsPassphrase = Boolean(values.passphrase) || values["passphrase-file"] !== undefined;
  if (recipients.length === 0 && !wantsPassphrase) {
    throw new UsageError(`give at least one -r/-R recipient or -p\nusage: ${USAGE.encrypt}`);
  }
  const aead = (values.aead as string | undefined)?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const id of aead ?? []) registry.aead(id);
  const output = values.output as string | undefined;
  if (output !== undefined && output !== "-") await checkNotSameFile(input, output);
  const passphrase = wantsPassphrase
    ? await readPassphrase(
      { passphraseFile: values["passphrase-file"] as string | undefined },
      "a passphrase",
      true,
      true,
    )
    : undefined;
  const source = await openInput(input);
  const sealed = withProgress(source.stream, source.size, "encrypting").pipeThrough(
    encryptStream({
      recipients,
      passphrase,
      aead,
      armor: Boolean(values.armor),
      pad: !values["no-pad"],
      sender,
    }),
  );
  await finish(sealed, output, Boolean(values.force), !values.armor);
}

/** Whether the envelope starting with `head` has a password layer (binary or armored). */
function hasPasswordLayer(head: Uint8Array): boolean {
  return sniffEnvelope(head)?.passwordProtected === true;
}

async function decryptCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("decrypt", args);
  const maxKdfMemory = maxKdfMemoryMiB(values["max-kdf-memory"] as string | undefined);
  const maxStanzaAttempts = stanzaAttemptsFlag(
    values["max-stanza-attempts"] as string | undefined,
  );
  const input = onePositional("decrypt", positionals);
  if (
    (values.identity as string[] | undefined ?? []).includes("-") &&
    (input === undefined || input === "-")
  ) {
    throw new UsageError(`-i - reads stdin, so give the input as a file\nusage: ${USAGE.decrypt}`);
  }
  const output = values.output as string | undefined;
  if (output !== undefined && output !== "-") await checkNotSameFile(input, output);
  const passphraseFile = values["passphrase-file"] as string | undefined;
  const identities = await loadIdentities(
    values.identity as string[] | undefined ?? [],
    passphraseFile,
    maxKdfMemory,
  );
  const source = await openInput(input);
  const [head, whole] = await peek(source.stream, 200);
  const stream = ReadableStream.from(whole);
  const needsPassphrase = Boolean(values.passphrase) || passphraseFile !== undefined ||
    hasPasswordLayer(head);
  if (!needsPassphrase && identities.length === 0) {
    throw new UsageError(
      `give an identity (-i FILE) or a passphrase (-p)\nusage: ${USAGE.decrypt}`,
    );
  }
  // A password layer names its Argon2id cost in its clear prefix; a prefix that does not parse is
  // a damaged envelope (a flipped mode byte, say): it fails here, before a passphrase is asked.
  if (hasPasswordLayer(head) && kdfParams(head) === undefined) throw new DecryptFailed();
  // The envelope names its own Argon2id cost: above --max-kdf-memory, ask (or refuse) first.
  if (hasPasswordLayer(head)) await checkKdfCost(head, maxKdfMemory);
  const passphrase = needsPassphrase
    ? await readPassphrase({ passphraseFile }, "the passphrase")
    : undefined;
  const verify = values.verify === undefined
    ? undefined
    : await signersNamed(values.verify as string[], passphraseFile);
  let sender: Sender | null = null;
  const opened = withProgress(stream, source.size, "decrypting").pipeThrough(
    decryptStream({
      identities,
      passphrase,
      maxStanzaAttempts,
      verify,
      onSender: (s) => sender = s,
    }),
  );
  try {
    await finish(opened, output, Boolean(values.force), false);
  } catch (e) {
    if (e instanceof UsageError || e instanceof IoError) throw e;
    throw new DecryptFailed();
  }
  // Who sent it, once every byte and the signature verified (docs/cli.md, "Signed messages").
  // The contact book is opened only to name a signer (an unsigned message needs no lookup).
  const contacts = sender === null ? [] : await contactsFor(identities[0]);
  say(`polycrypt: ${senderLine(sender, contacts)}`);
}

// ------------------------------------------------------------------ inspect

async function inspectCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("inspect", args);
  const source = await openInput(onePositional("inspect", positionals));
  const bytes = new Uint8Array(await new Response(source.stream).arrayBuffer());
  // Not even the magic (and mode): say so, rather than what the parser tripped on.
  if (sniffEnvelope(bytes.subarray(0, 200)) === undefined) {
    throw new UsageError(`${source.path ?? "the input"} is not a polycrypt envelope`);
  }
  let info;
  try {
    info = await inspect(isArmored(bytes) ? dearmor(bytes) : bytes);
    info.armored = isArmored(bytes);
  } catch (e) {
    throw new UsageError(`not a polycrypt envelope: ${(e as Error).message}`);
  }
  if (values.json) return console.log(JSON.stringify(info, null, 2));
  if (info.session) return printSessionMessage(info.session, info.totalBytes, info.version);
  console.log(
    `polycrypt envelope, format v${info.version}${
      info.armored ? ", armored" : ""
    }, ${info.totalBytes} bytes`,
  );
  if (info.passwordProtected) {
    const a = info.argon2!;
    console.log(`password layer: Argon2id m=${a.memoryKiB} KiB t=${a.passes} p=${a.parallelism}`);
    console.log(
      "everything else (recipients, AEADs, length class) is hidden by the password layer",
    );
    return;
  }
  console.log(`recipient stanzas: ${info.stanzas!.length}`);
  for (const s of info.stanzas!) console.log(`  ${s.type} (${s.bytes} bytes)`);
  console.log(`AEAD stack (innermost first): ${info.aead!.join(", ")}`);
  // paddedSize counts the data, its 1-byte end marker and the padding; payloadBytes adds the tags.
  console.log(
    info.padded
      ? `length: padded (PADME) to ${info.paddedSize} bytes, all anyone learns of the ` +
        `plaintext's length (${info.payloadBytes} bytes of ciphertext with the AEAD tags)`
      : `length: not padded; the plaintext is ${info.paddedSize! - 1} bytes ` +
        `(${info.payloadBytes} bytes of ciphertext with the AEAD tags)`,
  );
}

/**
 * `inspect` of a session message (mode 0x02, docs/sessions.md section 4): what the network sees,
 * and what it does not.
 */
function printSessionMessage(s: SessionMessageInfo, total: number, version: number): void {
  console.log(`polycrypt session message (mode 0x02), format v${version}, ${total} bytes`);
  if (s.kind === "prekey") {
    const p = s.prekeys!;
    console.log(
      "kind: prekey message (it starts a session, or continues one the recipient has not " +
        "answered yet)",
    );
    console.log(
      `recipient's prekeys used: signed prekey ${p.spk}, KEM prekey ${p.pq.id} (${
        p.pq.kind === "pqopk" ? "one-time" : "last resort"
      }), ${p.opk === undefined ? "no one-time prekey" : `one-time prekey ${p.opk}`}`,
    );
    console.log(
      `KEM ciphertext: ${s.kemCiphertextBytes} bytes; sealed sender: ${s.sealedSenderBytes} ` +
        "bytes (who sent it is inside, encrypted)",
    );
  } else {
    console.log("kind: ratchet message");
  }
  console.log(
    `encrypted header: ${s.headerBytes} bytes (ratchet key and counters inside; larger when ` +
      "it carries a KEM step)",
  );
  console.log(
    `length: padded (PADME) to ${s.paddedSize} bytes, all anyone learns of the data's length ` +
      `(${s.bodyBytes} bytes of ciphertext with the AEAD tag)`,
  );
  console.log(
    "not visible: the sender, the counters, the ratchet keys, the contents; no signature " +
      "(the session authenticates it)",
  );
}

// ------------------------------------------------------------------ main

/** A command: what runs it, and its help page when it is not in cli/_help.ts's table. */
interface Command {
  run(args: string[]): Promise<void> | void;
  help?: CommandHelp;
}

/** `help [COMMAND]`: a command's page, as `COMMAND --help` prints it, or the overview. */
async function helpCommand(args: string[]): Promise<void> {
  const { positionals } = parse("help", args);
  const name = onePositional("help", positionals);
  if (name === undefined) return console.log(overview(Object.keys(COMMANDS)));
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    throw new UsageError(
      `unknown command ${JSON.stringify(name)}; the commands: ${Object.keys(COMMANDS).join(", ")}`,
    );
  }
  await command.run(["--help"]);
}

/** Every command, one entry each; a command in its own file may bring its page (`help`). */
const COMMANDS: Record<string, Command> = {
  engines: { run: engines },
  // Commands in modules of their own load when used, so that each command's start-up loads only
  // what it needs: the transports stay out of all but listen, send and chat (docs/performance.md,
  // "CLI start-up").
  bench: { run: async (args) => (await import("./_bench.ts")).benchCommand(args) },
  keygen: { run: keygen },
  recipient: { run: recipient },
  encrypt: { run: encryptCommand },
  decrypt: { run: decryptCommand },
  inspect: { run: inspectCommand },
  bundle: { run: async (args) => (await import("./bundle.ts")).bundleCommand(args) },
  sign: { run: async (args) => (await import("./sign.ts")).signCommand(args) },
  verify: { run: async (args) => (await import("./sign.ts")).verifyCommand(args) },
  listen: { run: async (args) => (await import("./listen.ts")).listenCommand(args) },
  send: { run: async (args) => (await import("./send.ts")).sendCommand(args) },
  chat: { run: async (args) => (await import("./_chat.ts")).chatCommand(args) },
  fingerprint: { run: async (args) => (await import("./fingerprint.ts")).fingerprintCommand(args) },
  contact: { run: async (args) => (await import("./contact.ts")).contactCommand(args) },
  relay: { run: async (args) => (await import("./relay.ts")).relayCommand(args) },
  inbox: { run: async (args) => (await import("./inbox.ts")).inboxCommand(args) },
  fetch: { run: async (args) => (await import("./fetch.ts")).fetchCommand(args) },
  group: { run: async (args) => (await import("./group.ts")).groupCommand(args) },
  doctor: { run: async (args) => (await import("./doctor.ts")).doctorCommand(args) },
  help: { run: helpCommand },
  completion: {
    run: async (args) =>
      (await import("./_completion.ts")).completionCommand(args, Object.keys(COMMANDS)),
  },
};
for (const [name, command] of Object.entries(COMMANDS)) {
  if (command.help) registerPage(name, command.help);
}

/**
 * `deno task cli` runs in the repository's folder, so a relative path would name a file there,
 * not where the user typed the command. `deno task` (and npm) put that folder in INIT_CWD: when
 * this process runs in the repository root with INIT_CWD set, it moves there first, so every path
 * (-o, -i, -R, input files, listen -o...) resolves as the user expects (docs/cli.md).
 */
function followTaskCwd(): void {
  const initCwd = Deno.env.get("INIT_CWD");
  if (!initCwd || !import.meta.url.startsWith("file:")) return;
  try {
    // Deno.realPathSync takes the file URL itself (no node:url to load for it).
    const root = Deno.realPathSync(new URL("..", import.meta.url));
    if (Deno.cwd() === root && Deno.realPathSync(initCwd) !== root) Deno.chdir(initCwd);
  } catch {
    // INIT_CWD is gone or unreadable: stay where the task runs.
  }
}

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  followTaskCwd();
  const [command, ...rest] = args;
  if (command === undefined || command === "--help" || command === "-h") {
    console.log(overview(Object.keys(COMMANDS)));
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === "--version" || command === "-V") {
    console.log(`polycrypt ${VERSION}`);
    return EXIT.ok;
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) {
    say(
      `polycrypt: unknown command ${JSON.stringify(command)}; the commands: ${
        Object.keys(COMMANDS).join(", ")
      } (polycrypt --help)`,
    );
    return EXIT.usage;
  }
  try {
    await entry.run(rest);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof HelpShown) return EXIT.ok;
    const [code, message] = describeError(e);
    say(`polycrypt: ${message}`);
    return code;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
