// Verifying a contact with a shared secret from the command line (docs/cli.md, "Contacts";
// docs/sessions.md): two real processes run `contact verify NAME --secret` against each other,
// with equal and with different secrets, and two chats run `/verify`. The secret comes from
// POLYCRYPT_SECRET (or the terminal), never from an argument.
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort } from "../transports/_socks.ts";
import { chatFlags, keyPair, NET_PERMS, runCli, startChat, withTempDir } from "./_cli.ts";

/** A person: a key pair and a config directory of their own. */
async function person(dir: string, name: string) {
  const config = join(dir, `${name}-config`);
  const { key, recipient } = await keyPair(dir, undefined, { name });
  const env = { XDG_CONFIG_HOME: config, POLYCRYPT_IDENTITY: key };
  const run = (args: string[], extraEnv: Record<string, string> = {}) =>
    runCli(args, NET_PERMS, { env: { ...env, ...extraEnv } });
  return { name, key, recipient, config, env, run };
}

type Person = Awaited<ReturnType<typeof person>>;

/** Alice and Bob, each with the other in the contact book. */
async function pair(dir: string): Promise<[Person, Person]> {
  const alice = await person(dir, "alice");
  const bob = await person(dir, "bob");
  for (const [me, other] of [[alice, bob], [bob, alice]]) {
    const added = await me.run(["contact", "add", other.name, other.recipient]);
    assert.equal(added.code, 0, added.stderr);
  }
  return [alice, bob];
}

/** The `verified` field of `contact list --json` for `name`. */
async function verifiedOf(me: Person, name: string): Promise<string | null> {
  const out = await me.run(["contact", "list", "--json"]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout).find((c: { name: string }) => c.name === name).verified;
}

/** Both sides of `contact verify --secret` at once, each with its secret in POLYCRYPT_SECRET. */
function verifyBoth(alice: Person, bob: Person, secrets: [string, string]) {
  const [a, b] = [freePort(), freePort()];
  const flags = (mine: number, theirs: number) => [
    "--secret",
    ...["--listen", `tcp://127.0.0.1:${mine}`, "--peer", `tcp://127.0.0.1:${theirs}`],
  ];
  return Promise.all([
    alice.run(["contact", "verify", "bob", ...flags(a, b)], { POLYCRYPT_SECRET: secrets[0] }),
    bob.run(["contact", "verify", "alice", ...flags(b, a)], { POLYCRYPT_SECRET: secrets[1] }),
  ]);
}

Deno.test("contact verify --secret: the same secret marks both verified, exit 0", async () => {
  await withTempDir("polycrypt-secret-", async (dir) => {
    const [alice, bob] = await pair(dir);
    assert.equal(await verifiedOf(alice, "bob"), null);
    const started = Date.now();
    const results = await verifyBoth(alice, bob, ["blue heron at dawn", "blue heron at dawn"]);
    const took = Date.now() - started;
    for (const out of results) {
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stderr, /^polycrypt: secrets match: contact marked verified$/m);
      assert.equal(out.stdout, "");
      assert.doesNotMatch(out.stdout + out.stderr, /heron/);
    }
    assert.match(await verifiedOf(alice, "bob") ?? "", /^\d{4}-\d\d-\d\dT/);
    assert.match(await verifiedOf(bob, "alice") ?? "", /^\d{4}-\d\d-\d\dT/);
    const listed = await alice.run(["contact", "list"]);
    assert.match(listed.stdout, /^bob +[A-Z2-7 ]{39} {2}verified$/m);
    // The book stays sealed: no secret and no "verified" in clear.
    const book = await Deno.readFile(join(alice.config, "polycrypt", "contacts"));
    assert.ok(!new TextDecoder().decode(book).includes("verified"));
    console.log(`  both sides done in ${took} ms`);
  });
});

Deno.test("contact verify --secret: different secrets differ on both sides, exit 1, unverified", async () => {
  await withTempDir("polycrypt-secret-", async (dir) => {
    const [alice, bob] = await pair(dir);
    // First a match, so the mismatch has something to take back.
    for (const out of await verifyBoth(alice, bob, ["kestrel", "kestrel"])) {
      assert.equal(out.code, 0, out.stderr);
    }
    assert.notEqual(await verifiedOf(alice, "bob"), null);
    const results = await verifyBoth(alice, bob, ["kestrel", "kestrel "]);
    for (const out of results) {
      assert.equal(out.code, 1, out.stderr);
      assert.match(
        out.stderr,
        /^polycrypt: secrets differ: different secrets, or someone in between; contact marked not verified$/m,
      );
      assert.doesNotMatch(out.stderr, /secrets match/);
    }
    assert.equal(await verifiedOf(alice, "bob"), null);
    assert.equal(await verifiedOf(bob, "alice"), null);
  });
});

Deno.test("contact verify --secret: usage errors, and no secret taken from arguments", async () => {
  await withTempDir("polycrypt-secret-", async (dir) => {
    const [alice] = await pair(dir);
    const port = freePort();
    // No --listen: a usage error before anything is asked or opened.
    let out = await alice.run(["contact", "verify", "bob", "--secret"], { POLYCRYPT_SECRET: "x" });
    assert.equal(out.code, 2);
    assert.match(out.stderr, /--listen ADDRESS/);
    // --secret takes no value: a word after it is an extra argument, not a secret.
    out = await alice.run(
      ["contact", "verify", "bob", "--secret", "hunter2", "--listen", `tcp://127.0.0.1:${port}`],
      { POLYCRYPT_SECRET: "x" },
    );
    assert.equal(out.code, 2);
    assert.doesNotMatch(out.stderr, /hunter2/);
    // Network flags without --secret.
    out = await alice.run(["contact", "verify", "bob", "--listen", `tcp://127.0.0.1:${port}`]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /--listen goes with verify --secret/);
    // An empty secret.
    out = await alice.run(
      [
        "contact",
        "verify",
        "bob",
        "--secret",
        "--listen",
        `tcp://127.0.0.1:${port}`,
        "--peer",
        `tcp://127.0.0.1:${freePort()}`,
      ],
      { POLYCRYPT_SECRET: "" },
    );
    assert.equal(out.code, 2);
    assert.match(out.stderr, /secret is empty/);
  });
});

Deno.test("chat /verify: both type it; equal secrets match, different ones differ", async () => {
  await withTempDir("polycrypt-secret-chat-", async (dir) => {
    const [alice, bob] = await pair(dir);
    for (
      const [secretA, secretB, verdict] of [
        ["osprey", "osprey", /polycrypt: secrets match: contact marked verified/],
        ["osprey", "0sprey", /polycrypt: secrets differ: .*; contact marked not verified/],
      ] as const
    ) {
      const [a, b] = [freePort(), freePort()];
      const chatA = startChat(chatFlags(a, b, alice.key, "@bob"), {
        ...alice.env,
        POLYCRYPT_SECRET: secretA,
      });
      const chatB = startChat(chatFlags(b, a, bob.key, "@alice"), {
        ...bob.env,
        POLYCRYPT_SECRET: secretB,
      });
      try {
        await chatA.ready();
        await chatB.ready();
        await chatA.type("/verify");
        await chatA.screen(/waiting for them to type \/verify/);
        await chatB.screen(/alice asks to check the secret you share: type \/verify/);
        await chatB.type("/verify");
        await chatA.screen(verdict);
        await chatB.screen(verdict);
        // The conversation goes on.
        await chatA.type("after the check");
        await chatB.screen(/alice: after the check/);
      } finally {
        const [ra, rb] = [await chatA.end(), await chatB.end()];
        assert.equal(ra.code, 0, ra.stderr);
        assert.equal(rb.code, 0, rb.stderr);
        assert.doesNotMatch(ra.stdout + rb.stdout + ra.stderr + rb.stderr, new RegExp(secretB));
      }
      const expectVerified = secretA === secretB;
      assert.equal((await verifiedOf(alice, "bob")) !== null, expectVerified);
      assert.equal((await verifiedOf(bob, "alice")) !== null, expectVerified);
    }
  });
});

Deno.test("chat /verify meets contact verify --secret; no secret on the line, none without a terminal", async () => {
  await withTempDir("polycrypt-secret-mixed-", async (dir) => {
    const [alice, bob] = await pair(dir);
    const [a, b] = [freePort(), freePort()];
    // Alice chats without POLYCRYPT_SECRET and with stdin a pipe: /verify cannot ask, and says so.
    const noSecret = startChat(chatFlags(a, b, alice.key, "@bob"), alice.env);
    try {
      await noSecret.ready();
      await noSecret.type("/verify hunter2");
      await noSecret.screen(/\/verify takes no argument; it asks for the secret/);
      await noSecret.type("/verify");
      await noSecret.screen(/no terminal to ask on: set POLYCRYPT_SECRET/);
    } finally {
      const r = await noSecret.end();
      assert.equal(r.code, 0, r.stderr);
    }
    // Alice's chat and Bob's contact verify --secret: the same binding, so they meet.
    const chat = startChat(chatFlags(a, b, alice.key, "@bob"), {
      ...alice.env,
      POLYCRYPT_SECRET: "little egret",
    });
    try {
      await chat.ready();
      const bobSide = bob.run([
        ...["contact", "verify", "alice", "--secret"],
        ...["--listen", `tcp://127.0.0.1:${b}`, "--peer", `tcp://127.0.0.1:${a}`],
      ], { POLYCRYPT_SECRET: "little egret" });
      await chat.screen(/bob asks to check the secret you share: type \/verify/);
      await chat.type("/verify");
      await chat.screen(/polycrypt: secrets match: contact marked verified/);
      const out = await bobSide;
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stderr, /^polycrypt: secrets match: contact marked verified$/m);
    } finally {
      const r = await chat.end();
      assert.equal(r.code, 0, r.stderr);
    }
    assert.notEqual(await verifiedOf(alice, "bob"), null);
    assert.notEqual(await verifiedOf(bob, "alice"), null);
  });
});
