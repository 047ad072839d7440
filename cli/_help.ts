// Internal: the help page of every command, keyed by command name (`polycrypt CMD --help`,
// `polycrypt help CMD`), and the option tables the parser uses. A page lists each option with its
// long and short form, its value and whether it repeats; `optionsConfig` turns that list into the
// parser's table, so a command that calls `parse(name, args)` without a table of its own parses
// exactly what its page documents. A command that still passes its own table (listen, send, chat,
// bench) is checked against its page on `--help` (`optionDrift`, printed as "help page drift" on
// stderr, which tests/cli/help_test.ts fails on). Shell completion (cli/_completion.ts) is
// generated from the same pages.
//
// Adding a command in its own file (say `fingerprint`):
//   export const FINGERPRINT_HELP: CommandHelp = { summary, usage, description, options,
//     examples, exits };
//   export async function fingerprintCommand(args: string[]) {
//     const { values, positionals } = parse("fingerprint", args); // options from the page
//     ...
//   }
// and one line in main.ts's COMMANDS: `fingerprint: { run: fingerprintCommand, help: FINGERPRINT_HELP }`.
// main.ts registers each `help` here (`registerPage`) before any command runs.
import type { ParseArgsOptionsConfig } from "node:util";

/** One option of a command, as its help page shows it and the parser reads it. */
export interface OptionDoc {
  /** The one-letter form, without the dash. */
  readonly short?: string;
  /** The name of the option's value (`FILE`, `ID`...); none for a switch. */
  readonly value?: string;
  /** The option may be given more than once, each value counting. */
  readonly multiple?: boolean;
  /** What it does, one or more sentences. */
  readonly text: string;
  /** What the shell completes for the value: a file, a folder or one of these words. */
  readonly complete?: "file" | "dir" | readonly string[];
}

/** A command's help page. */
export interface CommandHelp {
  /** What the command does, a few words (the command list shows it). */
  readonly summary: string;
  /** The synopsis, without `polycrypt ` (one line per form). */
  readonly usage: readonly string[];
  /** What it does, in paragraphs. */
  readonly description: string;
  /** Every option but `-h/--help`, keyed by long name. */
  readonly options: Readonly<Record<string, OptionDoc>>;
  /** What the positional arguments are, for completion: files, or nothing to complete. */
  readonly positionals?: "file" | "none" | readonly string[];
  /** Two or three examples: [what it does, the command line]. */
  readonly examples: readonly (readonly [string, string])[];
  /** The exit codes this command uses, with what each means for it. */
  readonly exits: readonly (readonly [number, string])[];
}

/** `-h, --help`, which every command has. */
export const HELP_OPTION: OptionDoc = { short: "h", text: "Show this page and exit." };

const PASSPHRASE_FILE: OptionDoc = {
  value: "FILE",
  text: "Read the passphrase from the first line of FILE instead of the terminal " +
    "(POLYCRYPT_PASSPHRASE is the other way around a prompt; never an argument).",
  complete: "file",
};

const TLS_OPTIONS: Record<string, OptionDoc> = {
  "tls-cert": {
    value: "FILE",
    text: "The certificate (PEM) to serve a tls:// address with; needs --tls-key.",
    complete: "file",
  },
  "tls-key": { value: "FILE", text: "Its private key (PEM).", complete: "file" },
  "tls-ca": {
    value: "FILE",
    multiple: true,
    text: "The certificate a tls:// peer must present, or the CA that issued it (PEM, " +
      "repeatable); without it, the built-in web roots.",
    complete: "file",
  },
};

/**
 * --passphrase-file, --proxy and --tls-ca of the commands that reach relays as an identity
 * (inbox, fetch, group); `reach` names what the proxy reaches ("the relay", "the relays").
 */
function relayClientOptions(reach: string): Record<string, OptionDoc> {
  return {
    "passphrase-file": {
      value: "FILE",
      text: "Read the identity's passphrase from the first line of FILE.",
      complete: "file",
    },
    proxy: {
      value: "URL",
      text: `Reach ${reach} through a SOCKS5 proxy: socks5h://HOST:PORT (tcp:// only).`,
    },
    "tls-ca": {
      value: "FILE",
      multiple: true,
      text: "The certificate a tls:// relay must present, or its CA (PEM).",
      complete: "file",
    },
  };
}

/** The options of an xmpp: address (docs/transports.md section 11). */
const XMPP_OPTIONS: Record<string, OptionDoc> = {
  account: {
    value: "JID",
    text: "The XMPP account (NAME@DOMAIN) messages go from and arrive at, for xmpp: addresses. " +
      "Its password comes from --xmpp-password-file, $POLYCRYPT_XMPP_PASSWORD or a prompt.",
  },
  "xmpp-password-file": {
    value: "FILE",
    text: "Read the XMPP password from FILE (first line).",
    complete: "file",
  },
  "xmpp-server": {
    value: "HOST:PORT",
    text: "The XMPP server (STARTTLS; xmpps://HOST:PORT for direct TLS); default: the account's " +
      "domain, through DNS SRV.",
  },
  "xmpp-presence": {
    text: "Announce presence after login: the server then delivers the messages it kept while " +
      "you were offline, and your roster contacts see you online. Off by default.",
  },
  "xmpp-insecure": {
    text: "For tests on loopback only: allow a server without TLS or with an untrusted " +
      "certificate.",
  },
};

const RECIPIENT_OPTIONS: Record<string, OptionDoc> = {
  recipient: {
    short: "r",
    value: "RECIPIENT",
    multiple: true,
    text: "A recipient string (polycrypt2:...) or @NAME, a contact; repeat for a group message.",
  },
  "recipients-file": {
    short: "R",
    value: "FILE",
    multiple: true,
    text: "Read recipients from FILE, one per line (# comments and blank lines ignored); " +
      "`-` is stdin. Repeatable.",
    complete: "file",
  },
};

const ADDRESSES =
  "tcp://HOST:PORT, tls://HOST:PORT, udp://HOST:PORT, ws://HOST:PORT/PATH or xmpp:NAME@DOMAIN";

const EXIT_OK = [0, "success"] as const;
const EXIT_USAGE = [
  2,
  "usage error: unknown option, missing argument, bad key or engine id",
] as const;
const EXIT_IO = [3, "I/O error: a file could not be read or written"] as const;

/** The pages of the built-in commands. */
const PAGES: Record<string, CommandHelp> = {
  engines: {
    summary: "list the registered engines",
    usage: ["engines [--json]"],
    description:
      "Lists every KEM, AEAD and signature engine: family, post-quantum or not, security bits, " +
      "key, encapsulation, nonce, tag and signature sizes.",
    options: { json: { text: "Print one JSON array instead of the tables." } },
    positionals: "none",
    examples: [
      ["the tables", "polycrypt engines"],
      [
        "the KEM ids, with jq",
        "polycrypt engines --json | jq -r '.[] | select(.kind==\"kem\").id'",
      ],
    ],
    exits: [EXIT_OK, EXIT_USAGE],
  },
  bench: {
    summary: "time KEM engines on this machine",
    usage: ["bench [--quick] [--engines IDS] [--json]"],
    description:
      "Measures key generation, encapsulation and decapsulation of KEM engines on this machine " +
      "(median milliseconds, about 1 s per operation), with their key and encapsulation sizes, " +
      "for choosing a key size. Progress goes to stderr.",
    options: {
      quick: { text: "About 0.1 s per operation instead of 1 s." },
      engines: {
        value: "IDS",
        text: "A comma-separated list of KEM ids, hybrids included (default: X25519, X448, " +
          "ML-KEM-512/768/1024, x25519+ml-kem-768, ElGamal-2048/3072, RSA-2048/3072/4096).",
      },
      json: { text: "Print JSON instead of a table." },
    },
    positionals: "none",
    examples: [
      ["a quick look", "polycrypt bench --quick"],
      ["two engines", "polycrypt bench --engines x25519,rsa-3072"],
    ],
    exits: [EXIT_OK, EXIT_USAGE],
  },
  keygen: {
    summary: "make an identity (a key pair)",
    usage: [
      "keygen [--engine ID] [--sign-engine ID|none] [-o FILE] [--protect] [--passphrase-file FILE]",
      "keygen --upgrade -i OLD -o NEW [--sign-engine ID] [--protect] [--passphrase-file FILE]",
    ],
    description: "Makes an identity, by default x25519+ml-kem-768 (a hybrid that stays secure " +
      "while either X25519 or ML-KEM-768 holds) with a signing key, by default " +
      "ed25519+ml-dsa-65 (both signatures must verify). With -o it writes FILE (mode 0600, never " +
      "over an existing file) and prints `Public key: polycrypt2:...` on stderr; without -o the identity " +
      "file goes to stdout. --protect seals the file under a passphrase (Argon2id); it is then " +
      "labelled -----BEGIN POLYCRYPT SECRET KEY-----.",
    options: {
      engine: {
        value: "ID",
        text: "The KEM: an id from `polycrypt engines`, rsa-N, or 2 to 4 ids joined with '+'.",
        complete: [
          "x25519+ml-kem-768",
          "x25519",
          "x448",
          "ml-kem-512",
          "ml-kem-768",
          "ml-kem-1024",
          "rsa-3072",
          "rsa-4096",
          "elgamal-3072",
        ],
      },
      "sign-engine": {
        value: "ID",
        text: "The signing key's engine (default ed25519+ml-dsa-65); `none` makes an identity " +
          "that cannot sign (the version-1 key string).",
        complete: ["ed25519+ml-dsa-65", "ed25519", "ml-dsa-44", "ml-dsa-65", "ml-dsa-87", "none"],
      },
      upgrade: {
        text:
          "Write NEW (-o) with the encryption key of OLD (-i, a version-1 identity) and a new " +
          "signing key; OLD stays as it is, and a protected OLD gives a protected NEW.",
      },
      identity: {
        short: "i",
        value: "OLD",
        text: "With --upgrade: the identity file to upgrade.",
        complete: "file",
      },
      output: {
        short: "o",
        value: "FILE",
        text: "Write the identity to FILE (mode 0600) instead of stdout.",
        complete: "file",
      },
      protect: { text: "Seal the identity file under a passphrase (asked twice)." },
      "passphrase-file": PASSPHRASE_FILE,
    },
    positionals: "none",
    examples: [
      ["Bob's identity, its public key on stderr", "polycrypt keygen -o bob.key"],
      ["behind a passphrase", "polycrypt keygen --protect -o bob.key"],
      ["give an old key a signing key", "polycrypt keygen --upgrade -i old.key -o new.key"],
    ],
    exits: [EXIT_OK, EXIT_USAGE, [3, "I/O error: FILE exists or cannot be written"]],
  },
  recipient: {
    summary: "print the recipient string of an identity",
    usage: ["recipient [-i FILE] [--passphrase-file FILE]", "recipient [FILE]"],
    description: "Prints the recipient string (the public key, polycrypt1:...) of each identity " +
      "in FILE, or in stdin without one. A protected identity file asks for its passphrase.",
    options: {
      identity: {
        short: "i",
        value: "FILE",
        text: "The identity file (`-`: stdin).",
        complete: "file",
      },
      "passphrase-file": PASSPHRASE_FILE,
    },
    positionals: "file",
    examples: [
      ["Bob's public key, to give to Alice", "polycrypt recipient -i bob.key > bob.pub"],
      ["from stdin", "polycrypt keygen | polycrypt recipient"],
    ],
    exits: [
      EXIT_OK,
      [1, "the protected identity file's passphrase is wrong"],
      EXIT_USAGE,
      EXIT_IO,
    ],
  },
  encrypt: {
    summary: "encrypt to recipients and/or a passphrase",
    usage: [
      "encrypt [-r RECIPIENT]... [-R FILE]... [-p] [--sign -i FILE] [--aead LIST] [-a] " +
      "[--no-pad] [-o OUT] [--force] [--passphrase-file FILE] [IN]",
    ],
    description: "Encrypts IN (or stdin) to every recipient, under a passphrase with -p, or both " +
      "(then both are needed to decrypt). With -p the passphrase is asked twice on the terminal " +
      "(/dev/tty, so it works in a pipeline); left empty, a strong one is generated and printed " +
      "on stderr. The output is written atomically and never over the input.",
    options: {
      ...RECIPIENT_OPTIONS,
      passphrase: {
        short: "p",
        text: "Encrypt under a passphrase too (Argon2id, 64 MiB, t=3, p=4).",
      },
      sign: {
        text: "Sign the message as the identity in -i: its public keys and the signature travel " +
          "inside the encrypted payload (sealed sender); recipients see who sent it.",
      },
      identity: {
        short: "i",
        value: "FILE",
        text: "With --sign: the identity file to sign with (version 2).",
        complete: "file",
      },
      "passphrase-file": PASSPHRASE_FILE,
      aead: {
        value: "LIST",
        text: "The symmetric stack, innermost first, 1 to 4 comma-separated ids " +
          "(default aes-256-gcm).",
        complete: [
          "aes-256-gcm",
          "aes-256-gcm-siv",
          "chacha20-poly1305",
          "xchacha20-poly1305",
          "aes-256-gcm,xchacha20-poly1305",
        ],
      },
      armor: {
        short: "a",
        text: "ASCII armor: -----BEGIN POLYCRYPT MESSAGE----- and base64, for chats and mail.",
      },
      "no-pad": { text: "Turn off PADME length padding (on by default)." },
      output: {
        short: "o",
        value: "OUT",
        text: "Write to OUT (atomically) instead of stdout; `-` is stdout.",
        complete: "file",
      },
      force: { text: "Replace OUT if it exists." },
    },
    positionals: "file",
    examples: [
      ["to Bob, armored", 'echo "meet at 7" | polycrypt encrypt -R bob.pub -a > msg.txt'],
      [
        "a file, to Bob AND behind a passphrase",
        "polycrypt encrypt -R bob.pub -p -o plans.pcy plans.pdf",
      ],
      [
        "signed by Alice",
        "polycrypt encrypt -R bob.pub --sign -i alice.key -a -o msg.txt notes.txt",
      ],
    ],
    exits: [EXIT_OK, EXIT_USAGE, [
      3,
      "I/O error: IN missing, OUT exists (without --force), disk full",
    ]],
  },
  decrypt: {
    summary: "decrypt with identities and/or a passphrase",
    usage: [
      "decrypt [-i FILE]... [-p] [--verify SIGNER]... [-o OUT] [--force] " +
      "[--passphrase-file FILE] [--max-kdf-memory MiB] [--max-stanza-attempts N] [IN]",
    ],
    description: "Decrypts IN (or stdin), armored or binary, with the identities in each FILE " +
      "and, when the envelope has a password layer, a passphrase (asked for by itself). Every " +
      "failure (wrong key, wrong passphrase, tampered or truncated input) is the one message " +
      "`decryption failed`. With -o nothing is written unless the whole input authenticates. " +
      "Then it names the sender on stderr: `signed by NAME (FINGERPRINT)`, or `unsigned`.",
    options: {
      identity: {
        short: "i",
        value: "FILE",
        multiple: true,
        text: "An identity file (`-`: stdin); repeatable.",
        complete: "file",
      },
      passphrase: { short: "p", text: "Ask for a passphrase even if none seems needed." },
      "passphrase-file": PASSPHRASE_FILE,
      output: {
        short: "o",
        value: "OUT",
        text: "Write to OUT (atomically, only once all authenticated) instead of stdout.",
        complete: "file",
      },
      force: { text: "Replace OUT if it exists." },
      verify: {
        value: "SIGNER",
        multiple: true,
        text:
          "Accept only a message signed by SIGNER (a recipient string, @NAME, a recipients or " +
          "identity file); anything else, unsigned included, is `decryption failed`. Repeatable.",
        complete: "file",
      },
      "max-kdf-memory": {
        value: "MiB",
        text: "The most Argon2id memory a password layer may ask for without a question " +
          "(default 256).",
      },
      "max-stanza-attempts": {
        value: "N",
        text: "Stanzas each RSA or ElGamal identity tries (default 16; 1 to 2048).",
      },
    },
    positionals: "file",
    examples: [
      ["Bob reads Alice's message", "polycrypt decrypt -i bob.key msg.txt"],
      ["to a file", "polycrypt decrypt -i bob.key -o plans.pdf plans.pcy"],
      ["only if Alice signed it", "polycrypt decrypt -i bob.key --verify @alice msg.txt"],
    ],
    exits: [
      EXIT_OK,
      [1, "decryption failed (wrong key or passphrase, tampered or truncated input)"],
      [2, "usage error, or a password layer above --max-kdf-memory declined"],
      EXIT_IO,
    ],
  },
  inspect: {
    summary: "show what an envelope reveals without keys",
    usage: ["inspect [--json] [IN]"],
    description: "Shows what anyone can see of an envelope without keys: format version, " +
      "armor, password layer (and its Argon2id cost) or else the recipient stanzas, the AEAD " +
      "stack, padding and the padded plaintext size. For a session message (mode 0x02, " +
      "docs/sessions.md section 4): its kind, and what the network sees of it. Runs nothing " +
      "costly.",
    options: { json: { text: "Print JSON." } },
    positionals: "file",
    examples: [
      ["a file", "polycrypt inspect plans.pcy"],
      ["from a pipe, as JSON", "polycrypt inspect --json < msg.txt"],
    ],
    exits: [EXIT_OK, [2, "not a polycrypt envelope"], EXIT_IO],
  },
  listen: {
    summary: "receive messages and files on an address",
    usage: [
      "listen --on ADDRESS -i FILE... [--from SIGNER]... [-o DIR] [--max-file-size SIZE] [--once] " +
      "[--tls-cert FILE --tls-key FILE] [--passphrase-file FILE]",
    ],
    description: `Listens on ADDRESS (${ADDRESSES}; port 0 picks a free one, printed on ` +
      "stderr) and prints each decrypted text on stdout, one at a time. Files are written " +
      "into -o DIR; without it they are refused. Every envelope gets a receipt only its " +
      "sender can read. Each delivered message's sender is named on stderr (`signed by ...` or " +
      "`unsigned`).",
    options: {
      on: { value: "ADDRESS", text: `Where to listen: ${ADDRESSES}.` },
      identity: {
        short: "i",
        value: "FILE",
        multiple: true,
        text: "An identity file; repeatable.",
        complete: "file",
      },
      from: {
        value: "SIGNER",
        multiple: true,
        text: "Open only messages signed by SIGNER (a recipient string, @NAME, a recipients or " +
          "identity file); the rest are dropped with one line. Repeatable.",
        complete: "file",
      },
      output: {
        short: "o",
        value: "DIR",
        text: "Receive files into DIR (written atomically).",
        complete: "dir",
      },
      "max-file-size": {
        value: "SIZE",
        text: "Refuse larger received files (default 4G; K, M, G, T suffixes).",
      },
      once: { text: "Exit after the first message (1 if it did not decrypt)." },
      "passphrase-file": PASSPHRASE_FILE,
      ...TLS_OPTIONS,
      ...XMPP_OPTIONS,
    },
    positionals: "none",
    examples: [
      ["Bob waits for texts", "polycrypt listen --on tcp://127.0.0.1:7000 -i bob.key"],
      ["from Alice only", "polycrypt listen --on tcp://0.0.0.0:7000 -i bob.key --from @alice"],
      [
        "on an XMPP account",
        "polycrypt listen --on xmpp:bob@example.org -i bob.key --xmpp-presence",
      ],
    ],
    exits: [
      EXIT_OK,
      [1, "with --once: the message did not decrypt"],
      EXIT_USAGE,
      [3, "I/O error: the address is in use, a file cannot be written"],
      [130, "interrupted (Ctrl-C); 143 SIGTERM"],
    ],
  },
  send: {
    summary: "send one message or file to a listening peer",
    usage: [
      "send [-i FILE] --to ADDRESS -r RECIPIENT... [-R FILE]... [--peer-contact NAME] " +
      "[--aead LIST] [--proxy URL] [--tls-ca FILE]... [MESSAGE | -f FILE]",
      "send [-i FILE] -r @NAME [--sessions FILE] [--proxy URL] [--tls-ca FILE]... " +
      "[MESSAGE | -f FILE]",
    ],
    description:
      "Seals MESSAGE (or FILE with its name, or stdin as text) to the recipients and sends it to " +
      `ADDRESS (${ADDRESSES}), directly or for tcp:// through a SOCKS5 proxy such as Tor. ` +
      "Waits for the peer's receipt and prints `polycrypt: delivered`. With -i the message is " +
      "signed (a chat, or listen --from, opens only signed messages of the senders it knows). " +
      "Without --to, to a contact who has an inbox on a relay (`contact add NAME INVITATION`): " +
      "the message goes into that inbox as a session message, for NAME to read later with " +
      "`polycrypt fetch`, and `polycrypt: stored on RELAY` is printed once the relay has it on " +
      "disk. Your identity (-i, $POLYCRYPT_IDENTITY or identity.key next to the contact book) " +
      "opens the book and the sessions; if you have an inbox yourself, its invitation travels " +
      "inside the message, so NAME can answer.",
    options: {
      identity: {
        short: "i",
        value: "FILE",
        text: "Sign the message as this identity (version 2).",
        complete: "file",
      },
      "passphrase-file": PASSPHRASE_FILE,
      "peer-contact": {
        value: "NAME",
        text: "Send to the contact NAME: its key, and its saved address unless --to is given.",
      },
      to: { value: "ADDRESS", text: `The peer: ${ADDRESSES}.` },
      ...RECIPIENT_OPTIONS,
      aead: {
        value: "LIST",
        text: "The symmetric stack, innermost first (default aes-256-gcm).",
        complete: ["aes-256-gcm", "chacha20-poly1305", "xchacha20-poly1305"],
      },
      file: { short: "f", value: "FILE", text: "Send FILE (with its name).", complete: "file" },
      sessions: {
        value: "FILE",
        text: "Through a relay: the session store (default: the one chat uses, next to the " +
          "contact book).",
        complete: "file",
      },
      proxy: {
        value: "URL",
        text: "Connect through a SOCKS5 proxy: socks5h://[USER:PASSWORD@]HOST:PORT (tcp:// only).",
      },
      ...TLS_OPTIONS,
      ...XMPP_OPTIONS,
    },
    positionals: "none",
    examples: [
      ["a signed text", 'polycrypt send -i alice.key --to tcp://127.0.0.1:7000 -R bob.pub "at 7"'],
      [
        "through Tor",
        "polycrypt send --to tcp://PEER.onion:7000 --proxy socks5h://127.0.0.1:9050 -R bob.pub hi",
      ],
      ["a file into Bob's inbox on a relay", "polycrypt send -i alice.key -r @bob -f plans.pdf"],
    ],
    exits: [
      [0, "delivered (or already delivered)"],
      EXIT_USAGE,
      [3, "not delivered: refused, not decryptable by the peer, no connection, no receipt"],
    ],
  },
  chat: {
    summary: "a two-way conversation in the terminal",
    usage: [
      "chat --listen ADDRESS --peer ADDRESS -i FILE... -r RECIPIENT... [-R FILE]... " +
      "[--peer-contact NAME] [--sessions FILE | --no-session] [--history] [--proxy URL] " +
      "[--tls-cert FILE --tls-key FILE] [--tls-ca FILE]... [-o DIR]",
      "chat xmpp:PEER@DOMAIN --account NAME@DOMAIN -i FILE... -r RECIPIENT... [--xmpp-server " +
      "HOST:PORT] [--xmpp-presence] [--xmpp-password-file FILE] [-o DIR]",
      "chat @NAME -i FILE [--direct | --no-direct] [--ice-server stun:HOST:PORT]... " +
      "[--ice-bind ADDRESS] [--sessions FILE] [--proxy URL] [-o DIR]",
    ],
    description:
      "Listens on its own address (tcp://, tls://, ws://, or xmpp: with --account, where " +
      "the peer's xmpp: address may be given alone) and sends each line typed to the " +
      "peer's; `/file PATH` sends a file (received into -o DIR), `/quit`, Ctrl-D or Ctrl-C end " +
      "it; `/verify` checks a secret you share with the peer and marks the contact verified " +
      "or not (docs/sessions.md). Each message gets a delivery note. With one peer, chat runs a " +
      "forward-secret session (docs/sessions.md): the first time, the two chats exchange a " +
      "signed prekey bundle, checked against the peer's key; then every message is a session " +
      "message, authenticated by the session and not signed (deniable), and the session is kept " +
      "in the session store for the next chat. Otherwise (--no-session, several peers, or a peer " +
      "that takes no sessions) every message is signed with the first -i identity. Only messages " +
      "from a peer (-r/-R/--peer-contact) are shown, under the peer's contact name or " +
      "fingerprint; anything else is dropped with one line. `chat @NAME` talks with a contact " +
      'who has an inbox on a relay (docs/cli.md, "Direct connections"): it opens a direct ' +
      "WebRTC data channel, signalled through both users' relay queues, and falls back to the " +
      "contact's inbox when none opens or it breaks, saying which path is in use; meanwhile it " +
      "reads your own inboxes. Going direct shows the contact your IP addresses: --no-direct " +
      "(the default with --proxy) keeps to the relay.",
    options: {
      listen: { value: "ADDRESS", text: "Where this side listens." },
      peer: { value: "ADDRESS", text: "Where the peer listens." },
      identity: {
        short: "i",
        value: "FILE",
        multiple: true,
        text: "This side's identity file; repeatable.",
        complete: "file",
      },
      ...RECIPIENT_OPTIONS,
      "peer-contact": {
        value: "NAME",
        text: "Talk with the contact NAME: its key, and its saved address unless --peer is given.",
      },
      sessions: {
        value: "FILE",
        text: "The session store (SQLite, 0600; default: one file per identity in " +
          "$XDG_CONFIG_HOME/polycrypt/sessions, named by a keyed hash).",
        complete: "file",
      },
      "no-session": {
        text: "Send one-shot signed envelopes, as before sessions; nothing is stored.",
      },
      history: {
        text: "Keep the conversation, sealed under the first identity (docs/contacts.md); " +
          "without it no messages are kept.",
      },
      proxy: {
        value: "URL",
        text: "Reach the peer (tcp:// only) or the relay (chat @NAME) through a SOCKS5 proxy; " +
          "chat @NAME then never goes direct.",
      },
      direct: {
        text: "chat @NAME: try a direct data channel (the default without --proxy; refused " +
          "with it). The contact learns your IP addresses.",
      },
      "no-direct": {
        text: "chat @NAME: relay only, never offer nor answer a direct connection: your IP " +
          "addresses stay hidden from the contact (the default with --proxy).",
      },
      "ice-server": {
        value: "stun:HOST:PORT",
        multiple: true,
        text: "A STUN server for direct connections through NATs (repeatable; none by " +
          "default): it learns your public address and when you connect, not with whom.",
      },
      "ice-bind": {
        value: "ADDRESS",
        text: "Offer only this local address for direct connections (e.g. 127.0.0.1, or one " +
          "LAN address); default every interface's.",
      },
      output: {
        short: "o",
        value: "DIR",
        text: "Receive files into DIR; without it files are refused.",
        complete: "dir",
      },
      "passphrase-file": PASSPHRASE_FILE,
      ...TLS_OPTIONS,
      ...XMPP_OPTIONS,
    },
    positionals: "none",
    examples: [
      [
        "Bob, receiving files into inbox/",
        "polycrypt chat --listen tcp://0.0.0.0:7000 --peer tcp://alice.example:7000 -i bob.key -R alice.pub -o inbox",
      ],
      [
        "over XMPP, sessions as always",
        "polycrypt chat xmpp:bob@example.org --account alice@example.org -i alice.key -r @bob",
      ],
      [
        "with a contact who has an inbox: direct if possible, else the relay",
        "polycrypt chat @bob --direct -i alice.key -o inbox",
      ],
    ],
    exits: [[0, "the conversation ended (/quit, Ctrl-D, Ctrl-C)"], EXIT_USAGE, EXIT_IO],
  },
  bundle: {
    summary: "export a signed prekey bundle for sessions",
    usage: [
      "bundle -i FILE [-o OUT] [--force] [--one-time N] [--sessions FILE] " +
      "[--passphrase-file FILE]",
    ],
    description: "Writes a prekey bundle of the identity in -i (docs/sessions.md section 2): its " +
      "public keys for starting a session, signed by its signing key, for a peer or a relay to " +
      "start a session while you are offline. The secret halves stay in the session store " +
      "(--sessions, the one chat uses), which opens the sessions started from it. The bundle " +
      "holds no secret; OUT is written atomically (0600). Without -o it goes to stdout (not to a " +
      "terminal).",
    options: {
      identity: {
        short: "i",
        value: "FILE",
        text: "The identity (version 2) whose bundle it is.",
        complete: "file",
      },
      output: {
        short: "o",
        value: "OUT",
        text: "Write the bundle to OUT instead of stdout; `-` is stdout.",
        complete: "file",
      },
      force: { text: "Replace OUT if it exists." },
      "one-time": {
        value: "N",
        text: "One-time prekeys of each kind in the bundle (default 10, 0 to 1000): each " +
          "serves one session, then the signed last-resort prekeys do.",
      },
      sessions: {
        value: "FILE",
        text: "The session store that keeps the secret halves (default: the one chat uses).",
        complete: "file",
      },
      "passphrase-file": PASSPHRASE_FILE,
    },
    positionals: "none",
    examples: [
      ["Bob's bundle, for Alice or a relay", "polycrypt bundle -i bob.key -o bob.bundle"],
      ["without one-time keys", "polycrypt bundle -i bob.key --one-time 0 -o bob.bundle"],
    ],
    exits: [EXIT_OK, EXIT_USAGE, [3, "I/O error: OUT exists (without --force), a store error"]],
  },
  sign: {
    summary: "write a detached signature of a file",
    usage: ["sign -i FILE [-o SIG] [--force] [--passphrase-file FILE] FILE"],
    description: "Signs FILE as the identity in -i and writes FILE.sig (or SIG; `-o -` prints " +
      "it), an armored -----BEGIN POLYCRYPT SIGNATURE----- text that names the signer " +
      "(docs/format.md section 10), as minisign and signify do. FILE is read once, in constant " +
      "memory.",
    options: {
      identity: {
        short: "i",
        value: "FILE",
        text: "The identity file to sign with (version 2).",
        complete: "file",
      },
      output: {
        short: "o",
        value: "SIG",
        text: "Write the signature to SIG instead of FILE.sig; `-` is stdout.",
        complete: "file",
      },
      force: { text: "Replace SIG if it exists." },
      "passphrase-file": PASSPHRASE_FILE,
    },
    positionals: "file",
    examples: [
      ["sign a release", "polycrypt sign -i alice.key release.tar.gz"],
      ["signature on stdout", "polycrypt sign -i alice.key -o - notes.txt"],
    ],
    exits: [EXIT_OK, EXIT_USAGE, [3, "I/O error: FILE missing, SIG exists (without --force)"]],
  },
  verify: {
    summary: "check a detached signature",
    usage: ["verify -r SIGNER... [--signature SIG] [-i FILE] FILE"],
    description: "Checks that FILE.sig (or SIG) is a good signature of FILE by one of the " +
      "signers named with -r, and prints `good signature, signed by ...`. A signature by anyone " +
      "else, of another file, or damaged is exit 1.",
    options: {
      signer: {
        short: "r",
        value: "SIGNER",
        multiple: true,
        text: "Who must have signed: a recipient string, @NAME, a recipients or identity file.",
        complete: "file",
      },
      signature: {
        short: "s",
        value: "SIG",
        text: "The signature file (default FILE.sig).",
        complete: "file",
      },
      identity: {
        short: "i",
        value: "FILE",
        text: "Your identity, to name the signer from your contact book.",
        complete: "file",
      },
    },
    positionals: "file",
    examples: [
      ["check Alice's release", "polycrypt verify -r alice.pub release.tar.gz"],
      ["a contact", "polycrypt verify -r @alice --signature r.sig release.tar.gz"],
    ],
    exits: [
      [0, "a good signature by a named signer"],
      [1, "signature verification failed (another signer, another file, damaged)"],
      EXIT_USAGE,
      EXIT_IO,
    ],
  },
  relay: {
    summary: "run a relay that stores sealed messages for recipients who are offline",
    usage: [
      "relay --on ADDRESS... [--store sqlite:PATH | --store postgres://USER@HOST:PORT/DB] " +
      "[--tls-cert FILE --tls-key FILE] [--web]",
    ],
    description: "Serves the relay protocol (docs/relay.md) on each --on address (tcp://, " +
      "tls:// or ws://) until Ctrl-C or SIGTERM. Recipients create queues, senders deposit " +
      "sealed envelopes, recipients fetch and acknowledge them; the relay sees random queue ids " +
      "and sealed envelopes only, keeps no log and stores no IP address, and deletes every " +
      "message on acknowledgement or after 21 days. It prints its addresses and its store, " +
      "nothing about the traffic.",
    options: {
      on: {
        value: "ADDRESS",
        multiple: true,
        text: "Listen on ADDRESS (tcp://HOST:PORT, tls://HOST:PORT or ws://HOST:PORT/PATH); " +
          "repeatable.",
      },
      store: {
        value: "STORE",
        text: "sqlite:PATH (default: relay.db in $XDG_DATA_HOME/polycrypt or " +
          "~/.local/share/polycrypt) or postgres://USER@HOST:PORT/DB, which several relay " +
          "processes can share (a password, if needed, from PGPASSWORD: never in the URL).",
      },
      "tls-cert": TLS_OPTIONS["tls-cert"],
      "tls-key": TLS_OPTIONS["tls-key"],
      web: {
        text:
          "Also serve the web chat page (docs/web.md) on each ws:// address: http://HOST:PORT/ " +
          "in a browser makes an identity there, and chats with sessions through this relay. " +
          "The page is dist/web of the sources (deno task build; deno task install copies it " +
          "when built); its responses carry a strict " +
          "Content-Security-Policy (this origin's scripts only).",
      },
    },
    positionals: "none",
    examples: [
      [
        "a relay with the web chat: open http://127.0.0.1:8800/",
        "polycrypt relay --on ws://127.0.0.1:8800 --web",
      ],
      [
        "a relay on WebSocket and TCP",
        "polycrypt relay --on ws://0.0.0.0:8800 --on tcp://0.0.0.0:8801",
      ],
      [
        "one of several processes on PostgreSQL",
        "polycrypt relay --on ws://0.0.0.0:8800 --store postgres://relay@db.internal:5432/relay",
      ],
    ],
    exits: [
      [0, "stopped by Ctrl-C or SIGTERM"],
      EXIT_USAGE,
      [3, "the address or the database could not be opened, or --web found no built page"],
    ],
  },
  inbox: {
    summary: "create an inbox on a relay, so that contacts can write while you are offline",
    usage: [
      "inbox new --relay URL -i IDENTITY [-o FILE] [--one-time N] [--shared] " +
      "[--sessions FILE] [--proxy URL] [--tls-ca FILE]...",
      "inbox list -i IDENTITY",
    ],
    description: "`new` creates a queue on the relay at URL (a `polycrypt relay`), keeps the " +
      "queue's secrets (its receiving id and key) sealed under IDENTITY next to the contact book, " +
      "publishes prekey bundles there so that senders can start sessions while you are away, and " +
      "prints an invitation (polycrypt-invite1:..., one line: the relay, the queue's sending id and " +
      "your public keys; docs/relay.md section 12). Give it to a friend, who saves it with " +
      "`polycrypt contact add NAME INVITATION` and writes with `polycrypt send -r @NAME`; read " +
      "later with `polycrypt fetch`. The first sender's first message carries a queue key of " +
      "theirs, and `fetch` secures the queue to it: from then on the relay takes messages there " +
      "from that sender only (give each contact an inbox of their own, or use --shared). " +
      "`list` prints the invitations of your inboxes.",
    options: {
      relay: {
        value: "URL",
        text: "The relay: ws://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT.",
      },
      identity: {
        short: "i",
        value: "IDENTITY",
        text:
          "Your identity (version 2): the keys in the invitation, the sessions, and the seal of " +
          "the inbox file and contact book.",
        complete: "file",
      },
      output: {
        short: "o",
        value: "FILE",
        text: "Also write the invitation to FILE.",
        complete: "file",
      },
      "one-time": {
        value: "N",
        text: "One-time prekey bundles to publish (default 20, at most 200); when they are used " +
          "up, sessions start from the last-resort bundle.",
      },
      shared: {
        text: "An inbox for many senders (like a published address): never secured to one, so " +
          "anyone holding the invitation can write there.",
      },
      sessions: {
        value: "FILE",
        text: "The session store (default: the one chat uses, next to the contact book).",
        complete: "file",
      },
      ...relayClientOptions("the relay"),
    },
    positionals: ["new", "list"],
    examples: [
      ["an inbox", "polycrypt inbox new --relay ws://127.0.0.1:8800 -i bob.key -o bob.invite"],
      ["the invitations", "polycrypt inbox list -i bob.key"],
    ],
    exits: [
      [0, "success"],
      [2, "usage error: no --relay, no identity, a version-1 identity"],
      [3, "the relay could not be reached or refused; a file could not be written"],
    ],
  },
  fetch: {
    summary: "read the messages waiting in your inboxes on relays",
    usage: [
      "fetch -i IDENTITY [-o DIR] [--max-file-size SIZE] [--follow] [--sessions FILE] " +
      "[--proxy URL] [--tls-ca FILE]...",
    ],
    description:
      "Downloads the messages waiting in each inbox of IDENTITY (polycrypt inbox new), " +
      "decrypts them with your sessions, and names each sender: by contact name, or for someone " +
      "not in your contact book by fingerprint (a stranger who holds your invitation). Texts go " +
      "to stdout as `NAME: text`; files go into DIR, each written to a temporary file and renamed " +
      "when whole. Each message is acknowledged, which deletes it from the relay, only once its " +
      "plaintext is written: an interrupted fetch loses nothing and shows nothing twice. A message " +
      "that does not decrypt (damaged, forged) is reported and deleted; the others still arrive. " +
      "When a message carries its sender's own invitation and the sender is a contact, the " +
      "contact is updated, so that `send -r @NAME` answers through the sender's inbox. The first " +
      "sender's queue key, inside their first message, secures the inbox to them: the relay then " +
      "refuses anyone else's messages there (docs/relay.md section 13).",
    options: {
      identity: {
        short: "i",
        value: "IDENTITY",
        text: "Your identity: its inboxes, sessions and contact book.",
        complete: "file",
      },
      output: {
        short: "o",
        value: "DIR",
        text: "Where received files go (without it, fetch stops at the first file, which stays " +
          "on the relay).",
        complete: "dir",
      },
      "max-file-size": {
        value: "SIZE",
        text: "Drop received files larger than SIZE (default 4G; K, M, G, T suffixes).",
      },
      follow: {
        text: "Keep going: subscribe and show messages as they arrive, until Ctrl-C.",
      },
      sessions: {
        value: "FILE",
        text: "The session store (default: the one chat uses, next to the contact book).",
        complete: "file",
      },
      ...relayClientOptions("the relays"),
    },
    positionals: "none",
    examples: [
      ["read what waited", "polycrypt fetch -i bob.key -o inbox"],
      ["and stay", "polycrypt fetch -i bob.key -o inbox --follow"],
    ],
    exits: [
      [0, "every waiting message was read (some may have been reported as damaged)"],
      [2, "usage error: no identity, no inbox"],
      [
        3,
        "a relay could not be reached; a file arrived without -o DIR; a file could not be written",
      ],
      [130, "interrupted (Ctrl-C); 143 SIGTERM"],
    ],
  },
  group: {
    summary: "encrypted group chat (MLS, post-quantum) through a relay",
    usage: [
      "group create NAME [--relay URL] -i IDENTITY",
      "group keypackage @CONTACT... -i IDENTITY",
      "group add NAME @CONTACT... -i IDENTITY",
      "group remove NAME @CONTACT... -i IDENTITY",
      "group send NAME TEXT | -f FILE -i IDENTITY",
      "group fetch [NAME] [-o DIR] -i IDENTITY",
      "group chat NAME [-o DIR] -i IDENTITY",
      "group members NAME [--safety] -i IDENTITY",
      "group leave NAME -i IDENTITY",
      "group list -i IDENTITY",
    ],
    description: "MLS groups (RFC 9420 through ts-mls; X-Wing + Ed25519 by default) whose " +
      "members are your contacts (docs/groups.md). `create` makes a group with you alone, its " +
      "queue on the relay (default: your newest inbox's relay). A contact who wants to be added " +
      "runs `keypackage @YOU`: a key package goes to your inbox, and your next `fetch` or " +
      "`group fetch` keeps it (from a contact only). `add` adds the contacts whose key packages " +
      "you hold and puts the Welcome in each one's inbox; their `group fetch` (or `fetch`) joins " +
      "under the name you gave. `remove` takes members out (they read nothing after it); `send` " +
      "posts a text (or a file of at most 768 KiB with -f); `fetch` reads your inboxes, then the " +
      "groups' queues, and prints each message as `GROUP [TIME] NAME: TEXT` (the sender's time); " +
      "`chat` is interactive: each line typed is sent, and the group queue is polled every " +
      "second. `members` lists fingerprints and contact names (with --safety, the safety number " +
      "of each, as `contact verify` shows); `leave` tells the group and deletes the group here " +
      "(the next member to fetch makes it final). Group names stay on this machine, sealed; the " +
      "group state lives in the session store, sealed.",
    options: {
      identity: {
        short: "i",
        value: "IDENTITY",
        text: "Your identity (version 2): your group credentials, the sessions, the seals.",
        complete: "file",
      },
      relay: {
        value: "URL",
        text: "create: the relay of the group's queue (default: your newest inbox's relay).",
      },
      file: {
        short: "f",
        value: "FILE",
        text: "send: send this file (at most 768 KiB) instead of a text.",
        complete: "file",
      },
      output: {
        short: "o",
        value: "DIR",
        text: "fetch, chat: where received files are written (default: the current folder).",
        complete: "dir",
      },
      safety: {
        text: "members: show the safety number with each member.",
      },
      sessions: {
        value: "FILE",
        text: "The session store, which holds the group state too (default: chat's).",
        complete: "file",
      },
      ...relayClientOptions("the relays"),
    },
    positionals: [
      "create",
      "keypackage",
      "add",
      "remove",
      "send",
      "fetch",
      "chat",
      "members",
      "leave",
      "list",
    ],
    examples: [
      [
        "a group on a relay",
        "polycrypt group create team --relay ws://127.0.0.1:8800 -i alice.key",
      ],
      [
        "add Bob and Carol (each ran: group keypackage @alice)",
        "polycrypt group add team @bob @carol -i alice.key",
      ],
      ["talk", 'polycrypt group send team "hello all" -i alice.key'],
    ],
    exits: [
      [0, "success"],
      [
        2,
        "usage error: no identity, an unknown group or contact, no key package from a contact, " +
        "a refused key package or commit",
      ],
      [3, "a relay could not be reached or refused; a file could not be written"],
    ],
  },
  fingerprint: {
    summary: "print the short fingerprint of a key",
    usage: ["fingerprint [KEYFILE | RECIPIENT | @NAME | -] [--passphrase-file FILE]"],
    description: "Prints the fingerprint of each key (a recipient string, a recipients or " +
      "identity file, a contact, or stdin): 160 bits of SHA-256 in eight groups of four base32 " +
      "characters, to read aloud or compare (docs/contacts.md section 1).",
    options: { "passphrase-file": PASSPHRASE_FILE },
    positionals: "file",
    examples: [
      ["Bob's key", "polycrypt fingerprint bob.pub"],
      ["a contact", "polycrypt fingerprint @alice"],
    ],
    exits: [EXIT_OK, EXIT_USAGE, EXIT_IO],
  },
  contact: {
    summary: "keep a local, sealed contact book",
    usage: [
      "contact [-i IDENTITY] add NAME RECIPIENT|INVITATION|FILE [--address URL] [--force]",
      "contact [-i IDENTITY] list [--json] | show NAME | rm NAME | verify NAME",
      "contact [-i IDENTITY] verify NAME --secret --listen ADDRESS [--peer ADDRESS] " +
      "[--proxy URL] [--tls-cert FILE --tls-key FILE] [--tls-ca FILE]...",
    ],
    description: "Keeps contacts (name, key, address) in $XDG_CONFIG_HOME/polycrypt, sealed " +
      "under your identity (-i, $POLYCRYPT_IDENTITY or identity.key there): a copy of the folder " +
      "alone reveals no names or keys. `verify NAME` shows the 60-digit safety number you and " +
      "NAME both see (docs/contacts.md). `verify NAME --secret` instead checks, over the " +
      "network as chat does, that NAME typed the same secret as you ($POLYCRYPT_SECRET or the " +
      "terminal, never an argument), and marks NAME verified or not: CPace, an equality test " +
      "that gives a man in the middle one guess per run (docs/sessions.md). `@NAME` then works " +
      "wherever a key is asked for. An invitation (polycrypt-invite1:..., from `polycrypt inbox " +
      "new`) saves the key and the contact's inbox on a relay: `send -r @NAME` then delivers " +
      "there while NAME is offline.",
    options: {
      identity: {
        short: "i",
        value: "IDENTITY",
        text: "The identity that seals the book.",
        complete: "file",
      },
      address: { value: "URL", text: "With add: the contact's address (tcp://...)." },
      force: { text: "With add: replace a contact of that name." },
      json: { text: "With list: JSON output." },
      secret: {
        text: "With verify: check a shared secret with NAME over the network (needs --listen).",
      },
      listen: { value: "ADDRESS", text: "With verify --secret: where this side listens." },
      peer: {
        value: "ADDRESS",
        text: "With verify --secret: where NAME listens (default: NAME's saved address).",
      },
      proxy: { value: "URL", text: "With verify --secret: reach NAME through a SOCKS5 proxy." },
      ...TLS_OPTIONS,
    },
    positionals: ["add", "list", "show", "rm", "verify"],
    examples: [
      ["save Bob", "polycrypt contact add bob bob.pub --address tcp://bob.example:7000"],
      ["save Bob's inbox", 'polycrypt contact add bob "$(cat bob.invite)"'],
      [
        "check a shared secret",
        "polycrypt contact verify bob --secret --listen tcp://0.0.0.0:7001 --peer tcp://bob.example:7000",
      ],
    ],
    exits: [
      [0, "success; with verify --secret: the secrets match"],
      [1, "verify --secret: the secrets differ (or the peer's message was invalid)"],
      EXIT_USAGE,
      [3, "I/O error; with verify --secret: no connection, or the peer did not answer in time"],
    ],
  },
  help: {
    summary: "show a command's help page",
    usage: ["help [COMMAND]"],
    description:
      "Shows the help page of COMMAND (the same as `polycrypt COMMAND --help`), or the " +
      "list of commands.",
    options: {},
    positionals: [], // filled with the command names by completion
    examples: [["encrypt's page", "polycrypt help encrypt"], ["the commands", "polycrypt help"]],
    exits: [EXIT_OK, [2, "unknown command"]],
  },
  doctor: {
    summary: "report which transports work from this machine",
    usage: ["doctor [--relay URL] [--json]"],
    description:
      "Probes each transport on loopback: a listener, a dial to it, one sealed envelope " +
      "of 1 KiB and its acknowledgement (tcp://, ws://, udp://, and webrtc: a data channel between " +
      "two peers of this process, which needs the native library node-datachannel). tls:// needs a " +
      "certificate and is not probed; kernel SCTP is not offered (docs/transports.md section 13). " +
      "With --relay, also connects to that relay and pings it. Prints one line per transport: ok " +
      "with the time it took, or failed with the reason. Quick: each probe gives up after 10 s.",
    options: {
      relay: { value: "URL", text: "Also probe this relay (ws://, wss://, tcp:// or tls://)." },
      json: { text: "Print the results as JSON: [{transport, ok, ms, detail}]." },
    },
    positionals: "none",
    examples: [
      ["this machine's transports", "polycrypt doctor"],
      ["and a relay", "polycrypt doctor --relay wss://relay.example"],
    ],
    exits: [
      [0, "every probed transport works"],
      [2, "usage error"],
      [3, "at least one probe failed"],
    ],
  },
  completion: {
    summary: "print a shell completion script",
    usage: ["completion bash|zsh"],
    description: "Prints a completion script for bash or zsh, generated from the same option " +
      "tables the parser uses.",
    options: {},
    positionals: ["bash", "zsh"],
    examples: [
      ["bash, for this shell", "source <(polycrypt completion bash)"],
      [
        "bash, for good",
        "polycrypt completion bash > ~/.local/share/bash-completion/completions/polycrypt",
      ],
      ["zsh (a folder on $fpath)", "polycrypt completion zsh > ~/.zfunc/_polycrypt"],
    ],
    exits: [EXIT_OK, [2, "no shell, or one other than bash and zsh"]],
  },
};

const pages = new Map<string, CommandHelp>(Object.entries(PAGES));

/** Adds (or replaces) the page of command `name`: a command defined in its own file. */
export function registerPage(name: string, page: CommandHelp): void {
  pages.set(name, page);
}

/** The page of command `name`, if it has one. */
export function pageOf(name: string): CommandHelp | undefined {
  return pages.get(name);
}

/** Every command with a page, in the order they were added. */
export function commandNames(): string[] {
  return [...pages.keys()];
}

/** The parser's option table for a page: `--help` and every option the page lists. */
export function optionsConfig(page: CommandHelp): ParseArgsOptionsConfig {
  const config: ParseArgsOptionsConfig = { help: { type: "boolean", short: "h" } };
  for (const [name, o] of Object.entries(page.options)) {
    config[name] = {
      type: o.value === undefined ? "boolean" : "string",
      ...(o.short ? { short: o.short } : {}),
      ...(o.multiple ? { multiple: true } : {}),
    };
  }
  return config;
}

/**
 * Differences between a parser's option table and the page of `command`, one line each: an option
 * the parser reads that the page does not list (or lists with another short form, value or
 * multiplicity), and one the page lists that the parser does not read. Empty when they agree.
 */
export function optionDrift(command: string, config: ParseArgsOptionsConfig): string[] {
  const page = pageOf(command);
  if (page === undefined) return [`${command} has no help page`];
  const expected = optionsConfig(page);
  const problems: string[] = [];
  const describe = (o: ParseArgsOptionsConfig[string] | undefined) =>
    o === undefined
      ? "missing"
      : `${o.type}${o.short ? ` -${o.short}` : ""}${o.multiple ? " multiple" : ""}`;
  for (const name of new Set([...Object.keys(config), ...Object.keys(expected)])) {
    const got = describe(config[name]);
    const want = describe(expected[name]);
    if (got !== want) problems.push(`--${name}: the parser has ${got}, the help page ${want}`);
  }
  return problems;
}

/** `-o, --output OUT` or `    --force`: how an option is named on a page. */
export function optionLabel(name: string, o: OptionDoc): string {
  const short = o.short ? `-${o.short}, ` : "    ";
  return `${short}--${name}${o.value ? ` ${o.value}` : ""}`;
}

/** Words wrapped to `width` columns, every line but the first indented by `indent`. */
function wrap(text: string, width: number, indent: string, synopsis = false): string {
  const lines: string[] = [];
  let line = "";
  // In a synopsis, `[--tls-ca FILE]...` is one word.
  const words = synopsis ? text.match(/\[[^\]]*\](?:\.\.\.)?|\S+/g) ?? [] : text.split(/\s+/);
  for (const word of words.filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join(`\n${indent}`);
}

/** The synopsis of `command`: `polycrypt ...`, its first form. */
export function usageLine(command: string): string {
  const page = pageOf(command);
  return page ? `polycrypt ${page.usage[0]}` : `polycrypt ${command}`;
}

/** The full help page of `command`, as `polycrypt CMD --help` prints it. */
export function renderPage(command: string): string {
  const page = pageOf(command);
  if (page === undefined) throw new Error(`no help page for ${command}`);
  const out: string[] = [`polycrypt ${command} - ${page.summary}`, "", "Usage:"];
  for (const u of page.usage) out.push(`  ${wrap(`polycrypt ${u}`, 96, "      ", true)}`);
  out.push("", wrap(page.description, 98, ""), "", "Options:");
  const entries = [...Object.entries(page.options), ["help", HELP_OPTION] as const];
  const labels = entries.map(([name, o]) => optionLabel(name, o));
  const column = Math.min(30, Math.max(...labels.map((l) => l.length)) + 2);
  entries.forEach(([, o], i) => {
    const label = `  ${labels[i]}`;
    const text = wrap(o.text + (o.multiple ? "" : ""), 96 - column, " ".repeat(column + 2));
    out.push(
      label.length - 2 < column
        ? `${label.padEnd(column + 2)}${text}`
        : `${label}\n${" ".repeat(column + 2)}${text}`,
    );
  });
  out.push("", "Examples:");
  for (const [what, line] of page.examples) out.push(`  # ${what}`, `  ${line}`);
  out.push("", "Exit codes:");
  for (const [code, what] of page.exits) out.push(`  ${String(code).padEnd(4)}${what}`);
  return out.join("\n");
}

/**
 * The overview `polycrypt`, `polycrypt --help` and `polycrypt help` print: the commands `names`
 * (default: every command with a page) with their summaries.
 */
export function overview(names: string[] = commandNames()): string {
  const width = Math.max(...names.map((n) => n.length)) + 2;
  return [
    "polycrypt: multi-layer encryption for messengers",
    "",
    "Usage: polycrypt COMMAND [OPTIONS]   (polycrypt COMMAND --help, or polycrypt help COMMAND)",
    "",
    "Commands:",
    // A command without a page shows as such (tests/cli/help_test.ts fails on it).
    ...names.map((n) => `  ${n.padEnd(width)}${pageOf(n)?.summary ?? "(no help page)"}`),
    "",
    "Passphrases come from a terminal prompt, --passphrase-file FILE or POLYCRYPT_PASSPHRASE; " +
    "never from argv.",
    "Exit codes: 0 ok, 1 decryption failed, 2 usage error, 3 I/O error.",
    "--version prints the version. Everything is in docs/cli.md.",
  ].join("\n");
}
