// `chat` between two real CLI processes over TCP loopback: lines typed on one side appear on the
// other, acknowledgements come back, a file goes into -o DIR, Ctrl-D and Ctrl-C end cleanly.
import assert from "node:assert/strict";
import { freePort } from "../transports/_socks.ts";
import { chatFlags, NET_PERMS, runCli, spawnCli } from "./_cli.ts";
import { fingerprint } from "../../mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

const run = (args: string[]) => runCli(args, NET_PERMS);

/** A received line: `[HH:MM:SS] ` and the sender's fingerprint prefix (no contact book here). */
const from = (recipient: string, text: string) =>
  new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] ${fingerprint(recipient).slice(0, 9)}: ${text}$`, "m");

/** A running chat: type lines, wait for output, end it. */
function chat(args: string[]) {
  const child = spawnCli(["chat", ...args], NET_PERMS, {}, true);
  const writer = child.stdin.getWriter();
  let stdout = "";
  let stderr = "";
  const pump = async (stream: ReadableStream<Uint8Array>, add: (s: string) => void) => {
    for await (const chunk of stream) add(td.decode(chunk));
  };
  const pumping = Promise.all([
    pump(child.stdout, (s) => stdout += s),
    pump(child.stderr, (s) => stderr += s),
  ]);
  const waitFor = async (where: () => string, pattern: RegExp, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!pattern.test(where())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${where()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    type: (line: string) => writer.write(te.encode(line + "\n")),
    screen: (pattern: RegExp) => waitFor(() => stdout, pattern, `${pattern} on stdout`),
    ready: () => waitFor(() => stderr, /chatting on/, "the chat to start"),
    endOfInput: () => writer.close(),
    interrupt: () => child.kill("SIGINT"),
    async status() {
      const status = await child.status;
      await pumping;
      return { code: status.code, stdout, stderr };
    },
  };
}

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
    const aliceChat = chat(chatFlags(a, b, `${dir}/alice.key`, bob, ["-o", `${dir}/alice-inbox`]));
    const bobChat = chat(chatFlags(b, a, `${dir}/bob.key`, alice));
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
