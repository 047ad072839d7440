// A hostile text through a real `listen` (issue 20 section 4): on a terminal, escape sequences
// arrive as visible escapes and a forged `  (#1 delivered)` or `polycrypt: ...` line carries the
// sender's label; on a pipe the text stays byte-exact. (`chat` on real terminals: chat_tty_test.)
import assert from "node:assert/strict";
import { keyPair, NET_PERMS, runCli, spawnCli, spawnOnTerminal } from "./_cli.ts";

const td = new TextDecoder();
const run = (args: string[]) => runCli(args, NET_PERMS);

/** A window title, a screen clear, then lines that look like polycrypt's own. */
const HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[Hhello\n  (#1 delivered)\npolycrypt: delivered\r" +
  "\u202eevil";

/** Waits for the listening port in `output()`. */
async function portOf(output: () => string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const port = Number(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(output())?.[1] ?? 0);
    if (port) return port;
    if (Date.now() > deadline) throw new Error(`listen did not start: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("listen: received text on a terminal is escaped and labelled, on a pipe exact", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-text-" });
  try {
    const { key, recipient: bob } = await keyPair(dir, "x25519");
    const listenArgs = ["listen", "--on", "tcp://127.0.0.1:0", "-i", key, "--once"];

    await t.step("on a terminal", async () => {
      const child = spawnOnTerminal(listenArgs, NET_PERMS);
      let screen = "";
      const reading = (async () => {
        for await (const chunk of child.stdout) screen += td.decode(chunk);
      })();
      const port = await portOf(() => screen);
      const sent = await run(["send", "--to", `tcp://127.0.0.1:${port}`, "-r", bob, HOSTILE]);
      assert.equal(sent.code, 0, sent.stderr);
      await child.stdin.close();
      assert.equal((await child.status).code, 0, screen);
      await reading;
      // The terminal turns each "\n" into "\r\n"; no other control byte reaches it.
      const lines = screen.split("\r\n");
      // deno-lint-ignore no-control-regex -- control characters are what this matches
      assert.doesNotMatch(screen.replaceAll("\r\n", "\n"), /[\x00-\x08\x0b-\x1f\x7f\u202e]/);
      assert.ok(lines.includes("peer: \\x1b]0;pwned\\x07\\x1b[2J\\x1b[Hhello"), screen);
      assert.ok(lines.includes("peer:   (#1 delivered)"), screen);
      assert.ok(lines.includes("peer: polycrypt: delivered\\x0d\\u202eevil"), screen);
      // The only lines not labelled are polycrypt's own.
      for (const line of lines.filter((l) => l !== "" && !l.startsWith("peer: "))) {
        assert.match(
          line,
          /^polycrypt: (listening on tcp:\/\/127\.0\.0\.1:\d+|unsigned: the sender is not authenticated)$/,
        );
      }
    });

    await t.step("on a pipe, byte-exact", async () => {
      const child = spawnCli(listenArgs, NET_PERMS);
      let stderr = "";
      const reading = (async () => {
        for await (const chunk of child.stderr) stderr += td.decode(chunk);
      })();
      const stdout = new Response(child.stdout).text();
      const port = await portOf(() => stderr);
      const sent = await run(["send", "--to", `tcp://127.0.0.1:${port}`, "-r", bob, HOSTILE]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal((await child.status).code, 0, stderr);
      await reading;
      assert.equal(await stdout, HOSTILE + "\n");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
