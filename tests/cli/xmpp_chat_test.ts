// `chat` over XMPP through a real Prosody (scripts/prosody.ts; docs/transports.md section 11): two
// CLI processes start a session over the server and talk both ways, a 10 MiB file crosses, Bob goes
// offline and gets what Alice wrote meanwhile from the server's offline storage when he comes back
// (--xmpp-presence), a message from a third account is refused, and the server's data directory
// never holds a plaintext.
import assert from "node:assert/strict";
import { startProsody } from "../../scripts/prosody.ts";
import { keyPair, runCli, startChat } from "./_cli.ts";
import { NET_PERMS } from "./_cli.ts";
import { runCommand } from "../_process.ts";

Deno.test("chat over XMPP: sessions both ways, a 10 MiB file, offline and back, a forgery refused", async () => {
  const started = performance.now();
  const server = await startProsody();
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-xmpp-chat-" });
  try {
    for (const user of ["alice", "bob", "mallory"]) await server.register(user, `pw-${user}`);
    console.log(`prosody ready in ${Math.round(performance.now() - started)} ms`);
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    const mallory = await keyPair(dir, undefined, { name: "mallory" });
    const xmpp = (user: string) => [
      "--account",
      `${user}@localhost`,
      "--xmpp-server",
      server.server,
      "--xmpp-insecure",
    ];
    const env = (user: string, config: string) => ({
      POLYCRYPT_XMPP_PASSWORD: `pw-${user}`,
      XDG_CONFIG_HOME: config,
    });
    await Deno.mkdir(`${dir}/a-config`);
    await Deno.mkdir(`${dir}/b-config`);
    await Deno.mkdir(`${dir}/inbox`);
    const aliceChat = startChat(
      ["xmpp:bob@localhost", ...xmpp("alice"), "-i", alice.key, "-r", bob.recipient],
      env("alice", `${dir}/a-config`),
    );
    const bobArgs = [
      "xmpp:alice@localhost",
      ...xmpp("bob"),
      "-i",
      bob.key,
      "-r",
      alice.recipient,
      "-o",
      `${dir}/inbox`,
    ];
    let bobChat = startChat(bobArgs, env("bob", `${dir}/b-config`));
    await Promise.all([aliceChat.ready(), bobChat.ready()]);

    // Sessions both ways.
    let t = performance.now();
    await aliceChat.type("hello bob, over xmpp");
    await bobChat.screen(/: hello bob, over xmpp$/m);
    await aliceChat.screen(/\(#1 delivered\)/);
    console.log(`first message with session set-up: ${Math.round(performance.now() - t)} ms`);
    t = performance.now();
    await bobChat.type("hi alice, session here");
    await aliceChat.screen(/: hi alice, session here$/m);
    await bobChat.screen(/\(#1 delivered\)/);
    console.log(`a reply in the session: ${Math.round(performance.now() - t)} ms`);

    // A 10 MiB file, in session pieces.
    const file = `${dir}/big.bin`;
    const data = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const big = new Uint8Array(10 * 1024 * 1024);
    for (let i = 0; i < big.length; i += data.length) big.set(data, i);
    await Deno.writeFile(file, big);
    t = performance.now();
    await aliceChat.type(`/file ${file}`);
    await aliceChat.screen(/\(#2 delivered\)/);
    console.log(`10 MiB file: ${Math.round(performance.now() - t)} ms`);
    const got = await Deno.readFile(`${dir}/inbox/big.bin`);
    assert.equal(got.length, big.length);
    assert.ok(got.every((b, i) => b === big[i]));

    // A third account sends Bob a signed message: chat opens only its peer's (and the session).
    const forged = await runCli(
      [
        "send",
        "--to",
        "xmpp:bob@localhost",
        ...xmpp("mallory"),
        "-i",
        mallory.key,
        "-r",
        bob.recipient,
        "forged by mallory",
      ],
      NET_PERMS,
      { env: { POLYCRYPT_XMPP_PASSWORD: "pw-mallory" } },
    );
    assert.equal(forged.code, 3, forged.stderr);
    assert.doesNotMatch(bobChat.stdout, /forged by mallory/);

    // Bob goes offline; Alice writes; the server keeps it (sealed); Bob comes back and reads it.
    const bobGone = await bobChat.end();
    assert.equal(bobGone.code, 0, bobGone.stderr);
    await aliceChat.type("while you were away");
    // The server keeps the armored message for Bob (once it arrived there).
    const deadline = Date.now() + 30_000;
    let stored = "";
    while (!/offline/.test(stored) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      stored =
        (await runCommand("grep", ["-rl", "BEGIN POLYCRYPT MESSAGE", server.dataDir])).stdout;
    }
    assert.match(stored, /offline/, "the server keeps the armored message for Bob");
    for (const secret of ["while you were away", "hello bob", "hi alice", "forged by mallory"]) {
      const found = await runCommand("grep", ["-rl", secret, server.dataDir]);
      assert.equal(found.stdout, "", `plaintext "${secret}" on the server`);
    }
    t = performance.now();
    bobChat = startChat([...bobArgs, "--xmpp-presence"], env("bob", `${dir}/b-config`));
    await bobChat.ready();
    await bobChat.screen(/: while you were away$/m);
    await aliceChat.screen(/\(#3 delivered\)/);
    console.log(
      `offline message delivered ${Math.round(performance.now() - t)} ms after Bob came back`,
    );
    await bobChat.type("back again");
    await aliceChat.screen(/: back again$/m);

    const a = await aliceChat.end();
    const b = await bobChat.end();
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.match(a.stderr, /new session with/);
    assert.match(b.stderr, /continuing the session/);
    assert.doesNotMatch(a.stdout + b.stdout, /not delivered/);
    // Nothing readable was left on the server either.
    for (const secret of ["while you were away", "back again", "hello bob"]) {
      const found = await runCommand("grep", ["-rl", secret, server.dataDir]);
      assert.equal(found.stdout, "", `plaintext "${secret}" on the server`);
    }
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
