// `send` and `listen` over XMPP through a real Prosody (scripts/prosody.ts; docs/cli.md "XMPP"):
// a text and a file delivered with receipts, to a contact's saved xmpp: address too; when the
// server goes away, listen says it reconnects and keeps trying; and the CLI's refusals: an xmpp: address without
// --account, XMPP options with another scheme, a wrong password, no password source, insecure
// towards a server that is not on loopback.
import assert from "node:assert/strict";
import { startProsody } from "../../scripts/prosody.ts";
import { keyPair, NET_PERMS, runCli, spawnCli } from "./_cli.ts";

Deno.test("send and listen over XMPP", async () => {
  const server = await startProsody();
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-xmpp-cli-" });
  try {
    for (const user of ["alice", "bob"]) await server.register(user, `pw-${user}`);
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    await Deno.writeTextFile(`${dir}/bob.pw`, "pw-bob\n", { mode: 0o600 });
    await Deno.mkdir(`${dir}/inbox`);
    const flags = ["--xmpp-server", server.server, "--xmpp-insecure"];
    const listener = spawnCli(
      [
        "listen",
        "--on",
        "xmpp:bob@localhost",
        ...flags,
        "--xmpp-password-file",
        `${dir}/bob.pw`,
        "-i",
        bob.key,
        "-o",
        `${dir}/inbox`,
      ],
      NET_PERMS,
    );
    const td = new TextDecoder();
    let stderr = "";
    const reader = child(listener.stderr.getReader(), (s) => stderr += td.decode(s));
    const deadline = Date.now() + 60_000;
    while (!/listening on xmpp:bob@localhost/.test(stderr)) {
      if (Date.now() > deadline) throw new Error(`listen did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const env = { POLYCRYPT_XMPP_PASSWORD: "pw-alice" };
    const send = (args: string[], extra: Record<string, string> = env) =>
      runCli(
        ["send", "--to", "xmpp:bob@localhost", "--account", "alice@localhost", ...flags, ...args],
        NET_PERMS,
        { env: extra },
      );
    const text = await send(["-i", alice.key, "-r", bob.recipient, "hello over xmpp"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stderr, /delivered/);
    await Deno.writeTextFile(`${dir}/notes.txt`, "the file's content\n".repeat(1000));
    const file = await send(["-r", bob.recipient, "-f", `${dir}/notes.txt`]);
    assert.equal(file.code, 0, file.stderr);
    assert.equal(
      await Deno.readTextFile(`${dir}/inbox/notes.txt`),
      "the file's content\n".repeat(1000),
    );

    // A contact carries an XMPP address: send --peer-contact uses it.
    const book = { XDG_CONFIG_HOME: `${dir}/alice-config`, POLYCRYPT_IDENTITY: alice.key };
    const added = await runCli(
      ["contact", "add", "bob", bob.recipient, "--address", "xmpp:bob@localhost"],
      NET_PERMS,
      { env: book },
    );
    assert.equal(added.code, 0, added.stderr);
    const viaContact = await runCli(
      [
        "send",
        "--peer-contact",
        "bob",
        "--account",
        "alice@localhost",
        ...flags,
        "-i",
        alice.key,
        "to the contact's xmpp address",
      ],
      NET_PERMS,
      { env: { ...book, ...env } },
    );
    assert.equal(viaContact.code, 0, viaContact.stderr);

    // Refusals.
    const wrong = await send(["-r", bob.recipient, "x"], { POLYCRYPT_XMPP_PASSWORD: "nope" });
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /refused the login of alice@localhost/);
    assert.doesNotMatch(wrong.stderr, /nope/);
    const noAccount = await runCli(
      ["send", "--to", "xmpp:bob@localhost", ...flags, "-r", bob.recipient, "x"],
      NET_PERMS,
      { env },
    );
    assert.equal(noAccount.code, 2);
    assert.match(noAccount.stderr, /needs --account/);
    const otherScheme = await runCli(
      [
        "send",
        "--to",
        "tcp://127.0.0.1:1",
        "--account",
        "alice@localhost",
        "-r",
        bob.recipient,
        "x",
      ],
      NET_PERMS,
    );
    assert.equal(otherScheme.code, 2);
    assert.match(otherScheme.stderr, /--account works with xmpp: addresses only/);
    const noPassword = await runCli(
      [
        "send",
        "--to",
        "xmpp:bob@localhost",
        "--account",
        "alice@localhost",
        ...flags,
        "-r",
        bob.recipient,
        "x",
      ],
      NET_PERMS,
      { env: { POLYCRYPT_XMPP_PASSWORD: "" } },
    );
    assert.equal(noPassword.code, 2);
    const remote = await runCli(
      [
        "send",
        "--to",
        "xmpp:bob@example.org",
        "--account",
        "alice@example.org",
        "--xmpp-server",
        "192.0.2.1:5222",
        "--xmpp-insecure",
        "-r",
        bob.recipient,
        "x",
      ],
      NET_PERMS,
      { env },
    );
    assert.equal(remote.code, 2);
    assert.match(remote.stderr, /only with a loopback server/);

    // The server goes away: listen says so and keeps trying to log in again (docs/transports.md
    // section 11, "Reconnection"; tests/cli/xmpp_reconnect_test.ts has it come back), until
    // interrupted.
    const out = new Response(listener.stdout).text();
    await server.stop();
    const gone = Date.now() + 30_000;
    while (!/reconnecting/.test(stderr) && Date.now() < gone) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(
      stderr,
      /the connection to the XMPP server of bob@localhost dropped; reconnecting/,
    );
    await new Promise((r) => setTimeout(r, 1_500));
    listener.kill("SIGINT");
    const status = await listener.status;
    await reader;
    assert.equal(status.code, 130, stderr);
    assert.match(await out, /hello over xmpp/);
    assert.match(await out, /to the contact's xmpp address/);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Drains `reader` into `add`. */
async function child(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  add: (chunk: Uint8Array) => void,
): Promise<void> {
  for (let r = await reader.read(); !r.done; r = await reader.read()) add(r.value);
}
