// `chat` over XMPP when a side's connection to the server drops mid-chat (docs/transports.md
// section 11, "Reconnection"): Bob's TCP connection is cut (a proxy between him and Prosody); what
// Alice writes meanwhile waits in the server's offline storage, what Bob writes waits in his
// process; once he is logged in again both arrive, once each, and the session goes on.
import assert from "node:assert/strict";
import { startProsody } from "../../scripts/prosody.ts";
import { tcpProxy } from "../_tcp_proxy.ts";
import { keyPair, startChat } from "./_cli.ts";

Deno.test("chat over XMPP survives a dropped server connection: nothing lost, nothing doubled", async () => {
  const server = await startProsody();
  const proxy = tcpProxy(server.port);
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-xmpp-reconnect-" });
  try {
    for (const user of ["alice", "bob"]) await server.register(user, `pw-${user}`);
    const alice = await keyPair(dir, undefined, { name: "alice" });
    const bob = await keyPair(dir, undefined, { name: "bob" });
    const env = (user: string) => ({
      POLYCRYPT_XMPP_PASSWORD: `pw-${user}`,
      XDG_CONFIG_HOME: `${dir}/${user}-config`,
    });
    await Deno.mkdir(`${dir}/alice-config`);
    await Deno.mkdir(`${dir}/bob-config`);
    const aliceChat = startChat([
      "xmpp:bob@localhost",
      ...["--account", "alice@localhost", "--xmpp-server", server.server, "--xmpp-insecure"],
      ...["-i", alice.key, "-r", bob.recipient],
    ], env("alice"));
    // Bob goes through the proxy, and asks for presence: the server then keeps what comes for
    // him while he is cut off, and gives it to him when he is back (XEP-0160).
    const bobChat = startChat([
      "xmpp:alice@localhost",
      ...["--account", "bob@localhost", "--xmpp-server", `127.0.0.1:${proxy.port}`],
      ...["--xmpp-insecure", "--xmpp-presence", "-i", bob.key, "-r", alice.recipient],
    ], env("bob"));
    await Promise.all([aliceChat.ready(), bobChat.ready()]);
    await aliceChat.type("hello bob");
    await bobChat.screen(/: hello bob$/m);
    await bobChat.type("hi alice");
    await aliceChat.screen(/: hi alice$/m);

    proxy.down();
    await new Promise((r) => setTimeout(r, 500));
    await aliceChat.type("written while you were cut off");
    await bobChat.type("typed while cut off");
    await new Promise((r) => setTimeout(r, 1_500));
    assert.doesNotMatch(bobChat.stdout, /written while you were cut off/);
    assert.doesNotMatch(aliceChat.stdout, /typed while cut off/);
    const t = performance.now();
    proxy.up();
    await bobChat.screen(/: written while you were cut off$/m);
    await aliceChat.screen(/: typed while cut off$/m);
    console.log(`the outage's messages arrived ${Math.round(performance.now() - t)} ms after`);
    // The session goes on, both ways.
    await aliceChat.type("still here");
    await bobChat.screen(/: still here$/m);
    await bobChat.type("me too");
    await aliceChat.screen(/: me too$/m);
    await aliceChat.screen(/\(#3 delivered\)/);
    await bobChat.screen(/\(#3 delivered\)/);
    await new Promise((r) => setTimeout(r, 1_000));

    const a = await aliceChat.end();
    const b = await bobChat.end();
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const count = (text: string, line: RegExp) => (text.match(line) ?? []).length;
    assert.equal(count(b.stdout, /: written while you were cut off$/gm), 1, b.stdout);
    assert.equal(count(a.stdout, /: typed while cut off$/gm), 1, a.stdout);
    assert.doesNotMatch(a.stdout + b.stdout, /not delivered|could not/);
    assert.match(b.stderr, /dropped; reconnecting/);
    assert.match(b.stderr, /connected to the XMPP server of bob@localhost again/);
    assert.doesNotMatch(a.stderr, /reconnecting/);
    assert.ok(proxy.accepted >= 2);
  } finally {
    await proxy.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
