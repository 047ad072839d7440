// `fingerprint`, `contact` and the contact book in use (docs/contacts.md): real CLI processes,
// each with its own $XDG_CONFIG_HOME in a temporary directory.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fingerprint, parseRecipient, safetyNumber } from "../../mod.ts";
import { freePort } from "../transports/_socks.ts";
import { keyPair, NET_PERMS, runCli, startChat } from "./_cli.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** A person: a key pair and a config directory of their own. */
async function person(dir: string, name: string, engine = "x25519") {
  const config = join(dir, `${name}-config`);
  const { key, recipient } = await keyPair(dir, engine, { name });
  const env = { XDG_CONFIG_HOME: config, POLYCRYPT_IDENTITY: key };
  const run = (args: string[], stdin?: string) => runCli(args, NET_PERMS, { env, stdin });
  return { name, key, recipient, config, env, run };
}

/** Every file under `dir` (path, bytes), recursively. */
async function allFiles(dir: string): Promise<[string, Uint8Array][]> {
  const out: [string, Uint8Array][] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await allFiles(path));
    else out.push([path, await Deno.readFile(path)]);
  }
  return out;
}

/** Whether `needle` occurs in `hay`. */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Asserts that no file under `dir` holds any of `secrets` (text) or `keys` (raw bytes). */
async function assertNothingInClear(dir: string, secrets: string[], keys: Uint8Array[]) {
  const files = await allFiles(dir);
  assert.ok(files.length > 0);
  for (const [path, bytes] of files) {
    const text = td.decode(bytes);
    for (const s of secrets) {
      assert.ok(!path.slice(dir.length).includes(s), `${path} names ${s}`);
      assert.ok(!text.includes(s), `${path} holds ${s}`);
      assert.ok(!contains(bytes, te.encode(s.toLowerCase())), `${path} holds ${s}`);
    }
    for (const k of keys) {
      // Any 12 consecutive bytes of a key would be a leak.
      for (let i = 0; i + 12 <= k.length; i += 12) {
        assert.ok(!contains(bytes, k.subarray(i, i + 12)), `${path} holds key bytes`);
      }
    }
  }
}

Deno.test("fingerprint: key file, recipient, recipients file, stdin and @NAME agree", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-fpr-" });
  try {
    const bob = await person(dir, "bob", "x25519+ml-kem-768");
    const expected = fingerprint(bob.recipient);
    assert.match(expected, /^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
    await Deno.writeTextFile(join(dir, "bob.pub"), `# bob\n${bob.recipient}\n`);
    for (const args of [[bob.key], [bob.recipient], [join(dir, "bob.pub")], []]) {
      const out = await bob.run(["fingerprint", ...args], bob.recipient);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, `${expected}\n`, args.join(" "));
    }
    const added = await bob.run(["contact", "add", "self", bob.recipient]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal((await bob.run(["fingerprint", "@self"])).stdout, `${expected}\n`);

    const bad = await bob.run(["fingerprint", bob.recipient.slice(0, -4)]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /checksum/);
    assert.equal((await bob.run(["fingerprint", join(dir, "missing.pub")])).code, 3);
    assert.equal((await bob.run(["fingerprint", "@nobody"])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("contact: add, list, show, rm; sealed at rest with no name or key in clear", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-contacts-" });
  try {
    const me = await person(dir, "me-user");
    const bob = await person(dir, "bob", "x25519+ml-kem-768");
    const carol = await person(dir, "carol");
    await Deno.writeTextFile(join(dir, "carol.pub"), `${carol.recipient}\n`);

    let out = await me.run([
      "contact",
      "add",
      "bobby",
      bob.recipient,
      "--address",
      "tcp://127.0.0.1:7000",
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, `bobby  ${fingerprint(bob.recipient)}\n`);
    assert.match(out.stderr, /contact verify bobby/);
    out = await me.run(["contact", "add", "Carolina", join(dir, "carol.pub")]);
    assert.equal(out.code, 0, out.stderr);

    out = await me.run(["contact", "list"]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(
      out.stdout,
      `bobby     ${fingerprint(bob.recipient)}  tcp://127.0.0.1:7000\n` +
        `Carolina  ${fingerprint(carol.recipient)}\n`,
    );
    const listed = JSON.parse((await me.run(["contact", "list", "--json"])).stdout);
    assert.deepEqual(listed.map((c: { name: string }) => c.name), ["bobby", "Carolina"]);
    assert.equal((await me.run(["contact", "show", "@bobby"])).stdout, `${bob.recipient}\n`);

    // The directory alone: 0700, files 0600, and no name, recipient or key byte in clear.
    const store = join(me.config, "polycrypt");
    assert.equal((await Deno.stat(store)).mode! & 0o777, 0o700);
    for (const [path] of await allFiles(store)) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600, path);
    }
    const keys = [bob, carol].map((p) => parseRecipient(p.recipient).publicKey);
    const body = (r: string) => r.slice(r.lastIndexOf(":") + 1);
    await assertNothingInClear(store, [
      "bobby",
      "Carolina",
      "127.0.0.1",
      ...[bob, carol].flatMap((
        p,
      ) => [body(p.recipient).slice(0, 16), body(p.recipient).slice(-16)]),
      ...[bob, carol].map((p) => fingerprint(p.recipient).slice(0, 9)),
    ], keys);

    // Refusals: a taken name, a bad name, a secret key, a file of several keys, a damaged key.
    out = await me.run(["contact", "add", "bobby", carol.recipient]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /--force/);
    for (const name of ["", "me", "bad name", "-x", "a\x1b[2J", "x".repeat(65)]) {
      assert.equal((await me.run(["contact", "add", name, carol.recipient])).code, 2, name);
    }
    out = await me.run(["contact", "add", "oops", carol.key]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /is an identity/);
    await Deno.writeTextFile(join(dir, "two.pub"), `${bob.recipient}\n${carol.recipient}\n`);
    assert.equal((await me.run(["contact", "add", "two", join(dir, "two.pub")])).code, 2);
    assert.equal((await me.run(["contact", "add", "x", carol.recipient.slice(0, -1)])).code, 2);

    // --force replaces, rm removes.
    out = await me.run(["contact", "add", "--force", "bobby", carol.recipient]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /also saved as Carolina/);
    assert.equal((await me.run(["contact", "show", "bobby"])).stdout, `${carol.recipient}\n`);
    out = await me.run(["contact", "rm", "bobby"]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(
      (await me.run(["contact", "list"])).stdout,
      `Carolina  ${fingerprint(carol.recipient)}\n`,
    );
    assert.equal((await me.run(["contact", "rm", "bobby"])).code, 2);
    assert.equal((await me.run(["contact", "frobnicate"])).code, 2);
    // No temporary file is left behind.
    assert.deepEqual((await allFiles(store)).map(([p]) => p), [join(store, "contacts")]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("contact: only the identity that sealed the book opens it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-contacts-" });
  try {
    const me = await person(dir, "me-user");
    const other = await person(dir, "other");
    assert.equal((await me.run(["contact", "add", "secretname", other.recipient])).code, 0);
    const book = await Deno.readFile(join(me.config, "polycrypt", "contacts"));

    // Another identity (with -i, or POLYCRYPT_IDENTITY) on the same directory: exit 3, no names.
    for (
      const out of [
        await me.run(["contact", "list", "-i", other.key]),
        await runCli(["contact", "list"], NET_PERMS, {
          env: { ...me.env, POLYCRYPT_IDENTITY: other.key },
        }),
      ]
    ) {
      assert.equal(out.code, 3);
      assert.match(out.stderr, /sealed under another identity, or damaged/);
      assert.doesNotMatch(out.stdout + out.stderr, /secretname/);
    }
    // A flipped byte anywhere is refused the same way; the book is left as it was.
    for (const i of [0, 30, 60, book.length - 1]) {
      const bad = book.slice();
      bad[i] ^= 1;
      await Deno.writeFile(join(me.config, "polycrypt", "contacts"), bad);
      assert.equal((await me.run(["contact", "list"])).code, 3, `byte ${i}`);
    }
    await Deno.writeFile(join(me.config, "polycrypt", "contacts"), book);
    assert.match((await me.run(["contact", "list"])).stdout, /^secretname /);

    // An unprotected identity inside the directory it seals: a warning says so; none otherwise.
    assert.doesNotMatch((await me.run(["contact", "list"])).stderr, /warning/);
    const inside = join(me.config, "polycrypt", "identity.key");
    await Deno.copyFile(me.key, inside);
    const exposed = await runCli(["contact", "add", "again", other.recipient], NET_PERMS, {
      env: { XDG_CONFIG_HOME: me.config },
    });
    assert.equal(exposed.code, 0, exposed.stderr);
    assert.match(exposed.stderr, /warning: .*identity\.key is not passphrase-protected/);
    assert.doesNotMatch(
      (await me.run(["contact", "add", "more", other.recipient])).stderr,
      /warning/,
    );

    // No identity at all: the message says where it looked and how to make one.
    const none = await runCli(["contact", "list"], NET_PERMS, {
      env: { XDG_CONFIG_HOME: join(dir, "empty") },
    });
    assert.equal(none.code, 3);
    assert.match(none.stderr, /no identity at .*empty\/polycrypt\/identity\.key.*keygen -o/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("contact: a protected store identity asks for its passphrase; chat's refusals", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-contacts-" });
  try {
    const bob = await person(dir, "bob");
    const key = join(dir, "protected.key");
    await Deno.writeTextFile(join(dir, "pass"), "correct horse battery staple\n");
    const made = await runCli(
      [
        "keygen",
        "--engine",
        "x25519",
        "--protect",
        "--passphrase-file",
        join(dir, "pass"),
        "-o",
        key,
      ],
      NET_PERMS,
    );
    assert.equal(made.code, 0, made.stderr);
    const env = { XDG_CONFIG_HOME: join(dir, "cfg"), POLYCRYPT_IDENTITY: key };
    const good = { ...env, POLYCRYPT_PASSPHRASE: "correct horse battery staple" };
    let out = await runCli(["contact", "add", "bob", bob.recipient], NET_PERMS, { env: good });
    assert.equal(out.code, 0, out.stderr);
    out = await runCli(["contact", "list"], NET_PERMS, {
      env: { ...env, POLYCRYPT_PASSPHRASE: "wrong horse" },
    });
    assert.equal(out.code, 1);
    assert.doesNotMatch(out.stdout, /bob/);
    out = await runCli(["fingerprint", key], NET_PERMS, { env: good });
    assert.equal(out.code, 0, out.stderr);
    const mine = await runCli(["recipient", "-i", key], NET_PERMS, { env: good });
    assert.equal(out.stdout, `${fingerprint(mine.stdout.trim())}\n`);

    // chat: an unknown contact, and a contact without an address and no --peer.
    const listen = ["chat", "--listen", `tcp://127.0.0.1:${freePort()}`, "-i", key];
    out = await runCli([...listen, "--peer-contact", "nobody"], NET_PERMS, { env: good });
    assert.equal(out.code, 2);
    assert.match(out.stderr, /no contact named nobody/);
    out = await runCli([...listen, "--peer-contact", "bob"], NET_PERMS, { env: good });
    assert.equal(out.code, 2);
    assert.match(out.stderr, /contact bob has no address: give --peer ADDRESS/);
    out = await runCli(["send", "--peer-contact", "bob", "hi"], NET_PERMS, { env: good });
    assert.equal(out.code, 2);
    assert.match(out.stderr, /contact bob has no address: give --to/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("contact verify: both sides see the same 60 digits; a swapped key changes them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-verify-" });
  try {
    const alice = await person(dir, "alice", "x25519+ml-kem-768");
    const bob = await person(dir, "bob", "x25519+ml-kem-768");
    const mallory = await person(dir, "mallory");
    assert.equal((await alice.run(["contact", "add", "bob", bob.recipient])).code, 0);
    assert.equal((await bob.run(["contact", "add", "alice", alice.recipient])).code, 0);
    const digits = (stdout: string) => {
      const rows = stdout.split("\n").filter((l) => /^\d{5} \d{5} \d{5} \d{5}$/.test(l));
      assert.equal(rows.length, 3, stdout);
      return rows.join("").replaceAll(" ", "");
    };
    const onAlice = await alice.run(["contact", "verify", "bob"]);
    const onBob = await bob.run(["contact", "verify", "alice"]);
    assert.equal(onAlice.code, 0, onAlice.stderr);
    assert.equal(onBob.code, 0, onBob.stderr);
    assert.equal(digits(onAlice.stdout), digits(onBob.stdout));
    assert.equal(digits(onAlice.stdout), safetyNumber(alice.recipient, bob.recipient));
    assert.match(onAlice.stdout, new RegExp(`your fingerprint: +${fingerprint(alice.recipient)}`));
    assert.match(onAlice.stdout, new RegExp(`bob's fingerprint: ${fingerprint(bob.recipient)}`));

    // Mallory gave Alice his key as Bob's: Alice's number no longer matches Bob's.
    await alice.run(["contact", "add", "--force", "bob", mallory.recipient]);
    const fooled = await alice.run(["contact", "verify", "bob"]);
    assert.notEqual(digits(fooled.stdout), digits(onBob.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-r @NAME: encrypt to a contact; an unknown name is a usage error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-at-" });
  try {
    const alice = await person(dir, "alice");
    const bob = await person(dir, "bob");
    assert.equal((await alice.run(["contact", "add", "bob", bob.recipient])).code, 0);
    const sealed = await alice.run(["encrypt", "-r", "@bob", "-a"], "meet at 7");
    assert.equal(sealed.code, 0, sealed.stderr);
    const opened = await bob.run(["decrypt", "-i", bob.key], sealed.stdout);
    assert.equal(opened.stdout, "meet at 7");
    const unknown = await alice.run(["encrypt", "-r", "@robert", "-a"], "x");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no contact named robert/);
    assert.equal(unknown.stdout, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const TIME = "\\[\\d\\d:\\d\\d:\\d\\d\\]";

Deno.test("chat: --peer-contact names the peer, --history keeps it sealed; send --peer-contact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-chat-contacts-" });
  try {
    const alice = await person(dir, "alice");
    const bob = await person(dir, "bob");
    const [a, b] = [freePort(), freePort()];
    const add = await bob.run([
      "contact",
      "add",
      "alice",
      alice.recipient,
      "--address",
      `tcp://127.0.0.1:${a}`,
    ]);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(
      (await alice.run([
        "contact",
        "add",
        "bob",
        bob.recipient,
        "--address",
        `tcp://127.0.0.1:${b}`,
      ])).code,
      0,
    );

    const bobArgs = [
      "--listen",
      `tcp://127.0.0.1:${b}`,
      "-i",
      bob.key,
      "--peer-contact",
      "alice",
      "--history",
    ];
    let bobChat = startChat(bobArgs, bob.env);
    // Alice has Bob only by key here: her screen names him by fingerprint prefix.
    const aliceChat = startChat(
      [
        "--listen",
        `tcp://127.0.0.1:${a}`,
        "--peer",
        `tcp://127.0.0.1:${b}`,
        "-i",
        alice.key,
        "-r",
        bob.recipient,
      ],
      { XDG_CONFIG_HOME: join(dir, "alice-elsewhere") },
    );
    await Promise.all([bobChat.ready(), aliceChat.ready()]);
    await aliceChat.type("hello Bob");
    await bobChat.screen(new RegExp(`^${TIME} alice: hello Bob$`, "m"));
    await bobChat.type("hi Alice");
    await aliceChat.screen(
      new RegExp(`^${TIME} ${fingerprint(bob.recipient).slice(0, 9)}: hi Alice$`, "m"),
    );
    await bobChat.screen(/\(#1 delivered\)/);
    await bobChat.type("/help");
    await bobChat.screen(/^ {2}\/file PATH/m);
    await bobChat.type("/nonsense");
    await bobChat.screen(/unknown command \/nonsense/);

    // send --peer-contact: Alice's book gives the address and the key.
    const sent = await alice.run([
      "send",
      "-i",
      alice.key,
      "--peer-contact",
      "bob",
      "sent with send",
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    await bobChat.screen(new RegExp(`^${TIME} alice: sent with send$`, "m"));

    let ended = await bobChat.end();
    assert.equal(ended.code, 0, ended.stderr);
    assert.equal((await aliceChat.end()).code, 0);

    // The history: 0600 files with a name that says nothing, and no text, name or key in clear.
    const historyDir = join(bob.config, "polycrypt", "history");
    const [[path]] = await allFiles(historyDir);
    assert.match(path.slice(historyDir.length), /^\/[0-9a-f]{32}$/);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await assertNothingInClear(join(bob.config, "polycrypt"), [
      "hello Bob",
      "hi Alice",
      "sent with send",
      "alice",
    ], [parseRecipient(alice.recipient).publicKey]);

    // A second chat with --history shows the conversation again, in order.
    bobChat = startChat(
      bobArgs.filter((a) => a !== "--listen" && !a.includes(`:${b}`)).concat([
        "--listen",
        `tcp://127.0.0.1:${freePort()}`,
      ]),
      bob.env,
    );
    await bobChat.ready();
    await bobChat.screen(/sent with send/);
    ended = await bobChat.end();
    assert.equal(ended.code, 0, ended.stderr);
    const shown = ended.stdout.split("\n").filter((l) => l.startsWith("["));
    assert.deepEqual(shown.map((l) => l.replace(/^\[[^\]]*\] /, "")), [
      "alice: hello Bob",
      "me: hi Alice",
      "alice: sent with send",
    ]);
    assert.match(ended.stderr, /history: the last 3 of 3 messages/);

    // Without --history nothing is kept or shown.
    const plain = startChat([
      "--listen",
      `tcp://127.0.0.1:${freePort()}`,
      "-i",
      bob.key,
      "--peer-contact",
      "alice",
    ], bob.env);
    await plain.ready();
    const plainEnd = await plain.end();
    assert.doesNotMatch(plainEnd.stdout, /hello Bob/);
    assert.equal((await allFiles(historyDir)).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
