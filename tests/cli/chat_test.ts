// `chat` between two real CLI processes over TCP loopback: lines typed on one side appear on the
// other, acknowledgements come back, a file goes into -o DIR, Ctrl-D and Ctrl-C end cleanly.
import assert from "node:assert/strict";
import { freePort } from "../transports/_socks.ts";
import { chatFlags, NET_PERMS, runCli, startChat } from "./_cli.ts";
import { fingerprint, type SealedEnvelope } from "../../mod.ts";
import { type Connection, dial, newReplyKey, textMessage } from "../../transports/mod.ts";
import { envelopeWith, forgedPayload } from "../cascade/_signed.ts";

const run = (args: string[]) => runCli(args, NET_PERMS);

/** A received line: `[HH:MM:SS] ` and the sender's fingerprint prefix (no contact book here). */
const from = (recipient: string, text: string) =>
  new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] ${fingerprint(recipient).slice(0, 9)}: ${text}$`, "m");

Deno.test("chat: two processes talk, acknowledge, send a file, and end cleanly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-chat-" });
  try {
    await run(["keygen", "--engine", "x25519", "-o", `${dir}/alice.key`]);
    await run(["keygen", "-o", `${dir}/bob.key`]);
    const alice = (await run(["recipient", "-i", `${dir}/alice.key`])).stdout.trim();
    const bob = (await run(["recipient", "-i", `${dir}/bob.key`])).stdout.trim();
    await Deno.mkdir(`${dir}/alice-inbox`);
    await Deno.writeTextFile(`${dir}/plans.txt`, "the plans\n");
    const [a, b] = [freePort(), freePort()];
    const aliceChat = startChat(
      chatFlags(a, b, `${dir}/alice.key`, bob, ["-o", `${dir}/alice-inbox`]),
    );
    const bobChat = startChat(chatFlags(b, a, `${dir}/bob.key`, alice));
    await Promise.all([aliceChat.ready(), bobChat.ready()]);

    await aliceChat.type("hello Bob");
    await bobChat.screen(from(alice, "hello Bob"));
    await aliceChat.screen(/\(#1 delivered\)/);

    await bobChat.type("hi Alice, sending the plans");
    await bobChat.type(`/file ${dir}/plans.txt`);
    await aliceChat.screen(from(bob, "hi Alice, sending the plans"));
    await bobChat.screen(/\(#2 delivered\)/);
    assert.equal(await Deno.readTextFile(`${dir}/alice-inbox/plans.txt`), "the plans\n");

    await aliceChat.type("/file /nonexistent/file.txt");
    await aliceChat.screen(/polycrypt: no such file/);

    aliceChat.endOfInput(); // Ctrl-D
    const aliceEnd = await aliceChat.status();
    assert.equal(aliceEnd.code, 0, aliceEnd.stderr);
    bobChat.interrupt(); // Ctrl-C
    const bobEnd = await bobChat.status();
    assert.equal(bobEnd.code, 0, bobEnd.stderr);
    // Nothing about the peer (addresses, keys) is printed, only messages and delivery notes.
    assert.doesNotMatch(aliceEnd.stdout + bobEnd.stdout, /127\.0\.0\.1|polycrypt[12]:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("chat: a third process cannot pass itself off as the peer (signed messages)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-chat-" });
  try {
    for (const who of ["alice", "bob", "mallory"]) {
      assert.equal((await run(["keygen", "-o", `${dir}/${who}.key`])).code, 0);
    }
    const key = async (who: string) =>
      (await run(["recipient", "-i", `${dir}/${who}.key`])).stdout.trim();
    const [alice, bob] = [await key("alice"), await key("bob")];
    await Deno.writeTextFile(`${dir}/bob.pub`, bob + "\n");
    const [a, b] = [freePort(), freePort()];
    const bobChat = startChat(chatFlags(b, a, `${dir}/bob.key`, alice));
    await bobChat.ready();
    const to = ["--to", `tcp://127.0.0.1:${b}`, "-R", `${dir}/bob.pub`];
    // The failing case of issue 21: anyone with Bob's public key, unsigned...
    const unsigned = await run(["send", ...to, "hi Bob, this is Alice"]);
    assert.equal(unsigned.code, 3, unsigned.stderr);
    assert.match(unsigned.stderr, /could not decrypt/);
    // ...or signed with their own key.
    const mallory = await run(["send", "-i", `${dir}/mallory.key`, ...to, "hi Bob, it's Alice"]);
    assert.equal(mallory.code, 3, mallory.stderr);
    // ...or with Alice's own public keys copied into the sender block, and a made-up signature.
    const sealed = await envelopeWith(bob, true, () =>
      Promise.resolve(
        forgedPayload(alice, textMessage("hi Bob, Alice here", { replyKey: newReplyKey() })),
      ));
    const connection = await dial(`tcp://127.0.0.1:${b}`) as Connection;
    await connection.send(sealed as SealedEnvelope);
    for await (const m of connection.messages()) if (m.kind === "ack") break;
    await connection.close();
    // Alice herself, signing: shown under her name (fingerprint prefix), delivered.
    const real = await run(["send", "-i", `${dir}/alice.key`, ...to, "the real Alice"]);
    assert.equal(real.code, 0, real.stderr);
    await bobChat.screen(from(alice, "the real Alice"));
    bobChat.interrupt();
    const end = await bobChat.status();
    assert.equal(end.code, 0, end.stderr);
    assert.doesNotMatch(
      end.stdout,
      /this is Alice|it's Alice|Alice here/,
      "nothing from the impostors shown",
    );
    // One line each on Bob's screen, never under Alice's name.
    assert.equal(end.stdout.match(/^polycrypt: a message was dropped/gm)?.length, 3, end.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
