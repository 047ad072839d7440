// listen names each message's verified sender on stderr, and `--from` opens only messages
// signed by the senders it names (issue 21 §4, docs/cli.md "Signed messages").
import assert from "node:assert/strict";
import { fingerprint, type SealedEnvelope } from "../../mod.ts";
import { type Connection, dial, newReplyKey, textMessage } from "../../transports/mod.ts";
import { envelopeWith, forgedPayload } from "../cascade/_signed.ts";
import { keyPair, NET_PERMS, runCli, startListen, withTempDir } from "./_cli.ts";

Deno.test("listen --from: only the named sender's signed messages are shown", async () => {
  await withTempDir("listen-from", async (dir) => {
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    const eve = await keyPair(dir, undefined, { name: "eve" });
    await Deno.writeTextFile(`${dir}/alice.pub`, alice.recipient + "\n");
    const listening = await startListen([
      ...["--on", "tcp://127.0.0.1:0", "-i", bob.key, "--from", `${dir}/alice.pub`],
    ]);
    const to = ["--to", `tcp://127.0.0.1:${listening.port}`, "-r", bob.recipient];
    const fromEve = await runCli(["send", "-i", eve.key, ...to, "from eve"], NET_PERMS);
    assert.equal(fromEve.code, 3, fromEve.stderr);
    const unsigned = await runCli(["send", ...to, "from nobody"], NET_PERMS);
    assert.equal(unsigned.code, 3, unsigned.stderr);
    const fromAlice = await runCli(["send", "-i", alice.key, ...to, "from alice"], NET_PERMS);
    assert.equal(fromAlice.code, 0, fromAlice.stderr);
    const result = await listening.close();
    assert.equal(result.stdout, "from alice\n");
    assert.match(result.stderr, new RegExp(`signed by ${fingerprint(alice.recipient)}`));
    assert.equal(result.stderr.match(/a message was dropped/g)?.length, 2, result.stderr);
  });
});

Deno.test("listen without --from names the sender, or says unsigned", async () => {
  await withTempDir("listen-from", async (dir) => {
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    const listening = await startListen(["--on", "tcp://127.0.0.1:0", "-i", bob.key]);
    const to = ["--to", `tcp://127.0.0.1:${listening.port}`, "-r", bob.recipient];
    assert.equal((await runCli(["send", "-i", alice.key, ...to, "signed"], NET_PERMS)).code, 0);
    assert.equal((await runCli(["send", ...to, "anonymous"], NET_PERMS)).code, 0);
    const result = await listening.close();
    assert.equal(result.stdout, "signed\nanonymous\n");
    const lines = result.stderr.split("\n").filter((l) => /signed by|unsigned/.test(l));
    assert.deepEqual(lines, [
      `polycrypt: signed by ${fingerprint(alice.recipient)}`,
      "polycrypt: unsigned: the sender is not authenticated",
    ]);
  });
});

Deno.test("listen --from: a forged sender block naming Alice shows nothing, big or small", async () => {
  await withTempDir("listen-from", async (dir) => {
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    const listening = await startListen([
      ...["--on", "tcp://127.0.0.1:0", "-i", bob.key, "--from", alice.recipient],
    ]);
    // The forger has only the public strings; 40 bytes, then 3.2 MB (over listen's 1 MiB buffer).
    for (const words of ["wire the money -- Alice", "wire the money -- Alice\n".repeat(130_000)]) {
      const message = textMessage(words, { replyKey: newReplyKey() });
      const sealed = await envelopeWith(
        bob.recipient,
        true,
        () => Promise.resolve(forgedPayload(alice.recipient, message)),
      );
      const connection = await dial(`tcp://127.0.0.1:${listening.port}`) as Connection;
      await connection.send(sealed as SealedEnvelope);
      // Its receipt says it was not delivered (random bytes or a refusal): wait for it.
      for await (const m of connection.messages()) if (m.kind === "ack") break;
      await connection.close();
    }
    const result = await listening.close();
    assert.equal(result.stdout, "", "nothing printed");
    assert.doesNotMatch(result.stderr, /polycrypt: signed by/);
    assert.equal(
      result.stderr.match(/a message was dropped|was refused/g)?.length,
      2,
      result.stderr,
    );
  });
});
