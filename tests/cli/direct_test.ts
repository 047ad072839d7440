// `chat @NAME` (docs/cli.md, "Direct connections"). The cases that open data channels run in a
// `deno test` process of their own (_direct_cases.ts; node-datachannel serves one isolate per
// process, docs/transports.md section 12); here: the options refused before anything starts,
// a relay-only chat (--no-direct on one side, a SOCKS5 proxy on the other) with no data
// channel at all, and the inboxes chat writes to through the relay secured as send -r secures
// them (docs/relay.md section 13), then a direct chat over the reply invitations.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runDeno } from "../_process.ts";
import { runCli, spawnCli, withTempDir } from "./_cli.ts";
import { freePort, startRelay } from "./_relay_process.ts";
import { startProxy } from "../transports/_socks.ts";
import { encrypt, fingerprint } from "../../mod.ts";
import {
  generateQueueKey,
  parseInvitation,
  type QueueKey,
  RELAY_ERROR,
  RelayClient,
  RelayError,
} from "../../relay/mod.ts";
import { readBook, readInboxes, readSenderKeys, storeIdentity } from "../../cli/_contacts.ts";
import type { CommandResult } from "../_process.ts";

const ALL = ["--allow-all"];

Deno.test("chat @NAME --direct: data channels between chat processes (_direct_cases.ts)", async () => {
  const path = new URL("./_direct_cases.ts", import.meta.url).pathname;
  const r = await runDeno(["test", "--allow-all", path], {
    env: { NO_COLOR: "1" },
    deadlineMs: 1_500_000,
  });
  console.log(r.stdout.split("\n").filter((l) => /ms|MiB|bytes|passed/.test(l)).join("\n"));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /ok \| 5 passed \| 0 failed/);
});

interface User {
  key: string;
  invitation: string;
  env: Record<string, string>;
  run(args: string[]): Promise<CommandResult>;
  ok(args: string[]): Promise<CommandResult>;
}

async function user(dir: string, name: string, relay: string): Promise<User> {
  const config = join(dir, name);
  await Deno.mkdir(config);
  const env = { XDG_CONFIG_HOME: config };
  const key = join(dir, `${name}.key`);
  const run = (args: string[]) => runCli(args, ALL, { env, deadlineMs: 240_000 });
  const ok = async (args: string[]) => {
    const r = await run(args);
    assert.equal(r.code, 0, `${args.slice(0, 2).join(" ")}: ${r.stderr}`);
    return r;
  };
  await ok(["keygen", "-o", key]);
  const invitation = (await ok(["inbox", "new", "--relay", relay, "-i", key, "--one-time", "3"]))
    .stdout.trim();
  return { key, invitation, env, run, ok };
}

/** A running `chat @PEER` of `u`, its output gathered as it comes. */
function start(u: User, peer: string, extra: string[]) {
  const child = spawnCli(["chat", `@${peer}`, "-i", u.key, ...extra], ALL, { env: u.env }, true);
  const writer = child.stdin.getWriter();
  let out = "";
  let err = "";
  const td = new TextDecoder();
  const pumping = Promise.all([
    (async () => {
      for await (const c of child.stdout) out += td.decode(c);
    })(),
    (async () => {
      for await (const c of child.stderr) err += td.decode(c);
    })(),
  ]);
  const wait = async (where: () => string, p: RegExp) => {
    const deadline = Date.now() + 120_000;
    while (!p.test(where())) {
      if (Date.now() > deadline) throw new Error(`timed out: ${p}\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    type: (l: string) => writer.write(new TextEncoder().encode(l + "\n")),
    waitOut: (p: RegExp) => wait(() => out, p),
    waitErr: (p: RegExp) => wait(() => err, p),
    err: () => err,
    async end() {
      await writer.close();
      const { code } = await child.status;
      await pumping;
      return code;
    },
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await child.status;
      await writer.abort().catch(() => {});
      await pumping.catch(() => {});
    },
  };
}

Deno.test("chat @NAME: options refused before anything starts", async () => {
  await withTempDir("polycrypt-direct-usage-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const alice = await user(dir, "alice", relay.url);
      const bob = await user(dir, "bob", relay.url);
      await alice.ok(["contact", "-i", alice.key, "add", "bob", bob.invitation]);
      const refused = async (args: string[], message: RegExp) => {
        const r = await alice.run(["chat", ...args]);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message);
      };
      const proxy = ["--proxy", "socks5h://127.0.0.1:9"];
      await refused(["@bob", "-i", alice.key, "--direct", ...proxy], /--direct with --proxy/);
      await refused(["@bob", "-i", alice.key, "--direct", "--no-direct"], /exclude each other/);
      await refused(["@bob", "-i", alice.key, "--ice-server", "turn:x@h:1"], /stun:HOST:PORT/);
      await refused(
        ["@bob", "-i", alice.key, "--no-direct", "--ice-server", "stun:h:3478"],
        /direct connections only/,
      );
      await refused(["@bob", "-i", alice.key, "--peer", "tcp://127.0.0.1:1"], /drop --peer/);
      await refused(
        ["--listen", "tcp://127.0.0.1:0", "--peer", "tcp://127.0.0.1:1", "--direct"],
        /--direct goes with chat @NAME/,
      );
      await refused(["@carol", "-i", alice.key], /carol/);
      await refused(["@bob", "-i", alice.key, "--history"], /--history does not apply/);
      await refused(["@bob", "-i", alice.key, "--no-session"], /--no-session does not apply/);
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("chat @NAME: relay only (--no-direct; a proxy) both ways, nothing direct", async () => {
  await withTempDir("polycrypt-direct-relay-", async (dir) => {
    // A tcp:// relay: what a SOCKS5 proxy reaches (docs/relay.md section 2).
    const relay = await startRelay(dir, `tcp://127.0.0.1:${freePort()}`);
    const socks = await startProxy();
    try {
      const alice = await user(dir, "alice", relay.url);
      const bob = await user(dir, "bob", relay.url);
      await alice.ok(["contact", "-i", alice.key, "add", "bob", bob.invitation]);
      await bob.ok(["contact", "-i", bob.key, "add", "alice", alice.invitation]);
      const a = start(alice, "bob", ["--proxy", `socks5h://127.0.0.1:${socks.port}`]);
      const b = start(bob, "alice", ["--no-direct"]);
      await a.waitErr(
        /path to bob: relay \S+ \(--proxy: relay only, your IP addresses stay hidden\)/,
      );
      await b.waitErr(/path to alice: relay \S+ \(--no-direct: your IP addresses stay hidden/);
      await a.waitErr(/chatting with bob/);
      await b.waitErr(/chatting with alice/);
      await a.type("through the relay");
      await a.waitErr(/\(#1 queued on tcp:\S+ for bob\)/);
      await b.waitOut(/^alice: through the relay$/m);
      await b.type("//and back, /slash kept");
      await b.waitErr(/\(#1 queued on tcp:\S+ for alice\)/);
      await a.waitOut(/^bob: \/and back, \/slash kept$/m);
      assert.equal(await a.end(), 0);
      assert.equal(await b.end(), 0);
      assert.doesNotMatch(a.err() + b.err(), /direct \(|trying a direct/);
    } finally {
      await socks.stop();
      await relay.stop();
    }
  });
});

/** Runs `work` with `u`'s config folder, to read their sealed files in this process. */
async function as<T>(u: User, work: (identity: string) => Promise<T>): Promise<T> {
  const before = Deno.env.get("XDG_CONFIG_HOME");
  Deno.env.set("XDG_CONFIG_HOME", u.env.XDG_CONFIG_HOME);
  try {
    return await work(await storeIdentity(u.key));
  } finally {
    if (before === undefined) Deno.env.delete("XDG_CONFIG_HOME");
    else Deno.env.set("XDG_CONFIG_HOME", before);
  }
}

/** A third party's SEND into `invitation`'s queue (a valid envelope for its owner): refused AUTH. */
async function refusedToThirdParty(invitation: string, key?: QueueKey): Promise<void> {
  const { relay, sendId, recipient } = parseInvitation(invitation);
  const client = await RelayClient.connect(relay);
  try {
    const envelope = await encrypt(new TextEncoder().encode("let me in"), {
      recipients: [recipient],
    });
    await assert.rejects(
      client.send(sendId, envelope, key ? { key } : {}),
      (e) => e instanceof RelayError && e.code === RELAY_ERROR.AUTH,
      `a third party's ${key ? "signed" : "unsigned"} SEND was not refused with AUTH`,
    );
  } finally {
    await client.close();
  }
}

Deno.test("chat @NAME through the relay secures the inboxes it writes to, as send -r does", async () => {
  await withTempDir("polycrypt-direct-secure-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const alice = await user(dir, "alice", relay.url);
      const bob = await user(dir, "bob", relay.url);
      await alice.ok(["contact", "-i", alice.key, "add", "bob", bob.invitation]);
      await bob.ok(["contact", "-i", bob.key, "add", "alice", alice.invitation]);
      const aliceFp = fingerprint(parseInvitation(alice.invitation).recipient);
      const bobFp = fingerprint(parseInvitation(bob.invitation).recipient);

      // Relay only, both ways: each chat's first deposit announces its queue key, and the other
      // chat's reader secures its inbox with it (KEY), as fetch does.
      const a = start(alice, "bob", ["--no-direct"]);
      const b = start(bob, "alice", ["--no-direct"]);
      try {
        await a.waitErr(/chatting with bob/);
        await b.waitErr(/chatting with alice/);
        await a.type("one");
        await a.waitErr(/\(#1 queued on ws:\S+ for bob\)/);
        await b.waitOut(/^alice: one$/m);
        await b.waitErr(/your inbox on ws:\S+ is now secured to alice/);
        await b.type("two");
        await b.waitErr(/\(#1 queued on ws:\S+ for alice\)/);
        await a.waitOut(/^bob: two$/m);
        await a.waitErr(/your inbox on ws:\S+ is now secured to bob/);
        // Alice's next SEND is refused unsigned, then sent signed with her announced key.
        await a.type("three");
        await a.waitErr(/\(#2 queued on ws:\S+ for bob\)/);
        await b.waitOut(/^alice: three$/m);
        assert.equal(await a.end(), 0);
        assert.equal(await b.end(), 0);
      } finally {
        await a.kill().catch(() => {});
        await b.kill().catch(() => {});
      }

      // Alice's queue key for Bob's inbox: announced, and her SENDs now signed with it.
      const [sender] = (await as(alice, readSenderKeys)).filter((r) =>
        r.sendingId === parseInvitation(bob.invitation).sendId.toHex()
      );
      assert.ok(sender?.announced, "Alice announced no queue key for Bob's inbox");
      assert.ok(sender.secured, "Alice's SENDs into Bob's inbox are not signed");
      const bobHome = (await as(bob, readInboxes)).find((i) => i.contact === undefined)!;
      assert.equal(bobHome.securedTo?.publicKey, sender.key.publicKey);
      assert.equal(bobHome.securedTo?.fingerprint, aliceFp);
      // A third party holding either invitation is refused, unsigned or signed by its own key.
      for (const invitation of [bob.invitation, alice.invitation]) {
        await refusedToThirdParty(invitation);
        await refusedToThirdParty(invitation, await generateQueueKey());
      }

      // The first message carried Alice's reply inbox for Bob (not her shared newest inbox), which
      // names the signalling queue of her newest inbox: Bob's book holds it now.
      const aliceReply = (await as(alice, readInboxes)).find((i) => i.contact === bobFp)!;
      assert.ok(aliceReply, "Alice's chat made no reply inbox for Bob");
      assert.equal(aliceReply.secure, true);
      const saved = (await as(bob, readBook)).find((c) => c.name === "alice")!.invitation!;
      assert.notEqual(saved, alice.invitation);
      assert.equal(parseInvitation(saved).sendId.toHex(), aliceReply.sendingId);
      assert.deepEqual(
        parseInvitation(saved).signalId,
        parseInvitation(alice.invitation).signalId,
      );

      // A second chat, direct: the reply invitations name the signalling queues, and each chat
      // reads the one of its newest inbox (not of a reply inbox).
      const a2 = start(alice, "bob", ["--direct", "--ice-bind", "127.0.0.1"]);
      const b2 = start(bob, "alice", ["--direct", "--ice-bind", "127.0.0.1"]);
      try {
        await a2.waitErr(/path to bob: direct/);
        await b2.waitErr(/path to alice: direct/);
        await b2.type("direct now");
        await a2.waitOut(/^bob: direct now$/m);
        await b2.waitErr(/\(#1 delivered, direct\)/);
        await a2.type("/quit");
        assert.equal(await a2.end(), 0);
        assert.equal(await b2.end(), 0);
      } finally {
        await a2.kill().catch(() => {});
        await b2.kill().catch(() => {});
      }

      // Bob answers into Alice's reply inbox; her fetch secures it to him.
      await bob.ok(["send", "-i", bob.key, "-r", "@alice", "four"]);
      const fetched = await alice.ok(["fetch", "-i", alice.key]);
      assert.equal(fetched.stdout, "bob: four\n");
      assert.match(fetched.stderr, /your inbox on ws:\S+ is now secured to bob/);
      await refusedToThirdParty(saved);
    } finally {
      await relay.stop();
    }
  });
});
