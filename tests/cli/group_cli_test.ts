// `polycrypt group` with real processes (docs/groups.md section 10): three users and a stranger,
// one `polycrypt relay` (SQLite). Key packages and Welcomes go through the users' inboxes; the
// group's messages through its group queue. Create, add two members, messages among all three,
// a removal (the removed member gets nothing after it), a leave, and a stranger's key package
// refused.
import assert from "node:assert/strict";
import { join } from "node:path";
import { fingerprint } from "../../mod.ts";
import { runCli, spawnCli, withTempDir } from "./_cli.ts";
import { startRelay } from "./_relay_process.ts";
import type { CommandResult } from "../_process.ts";

const ALL = ["--allow-all"];

interface User {
  name: string;
  key: string;
  env: Record<string, string>;
  recipient: string;
  run(args: string[], stdin?: string): Promise<CommandResult>;
  ok(args: string[], stdin?: string): Promise<CommandResult>;
}

let commands = 0;
/** Wall time of each `group` subcommand's process, for the figures printed at the end. */
const timings = new Map<string, number[]>();

async function user(dir: string, name: string): Promise<User> {
  const config = join(dir, name);
  await Deno.mkdir(config);
  const env = { XDG_CONFIG_HOME: config };
  const key = join(dir, `${name}.key`);
  const run = (args: string[], stdin?: string) => {
    commands++;
    const withKey = args[0] === "keygen" ? args : [...args, "-i", key];
    const t = performance.now();
    return runCli(withKey, ALL, { env, stdin, deadlineMs: 240_000 }).finally(() => {
      if (args[0] !== "group") return;
      const list = timings.get(args[1]) ?? [];
      list.push(performance.now() - t);
      timings.set(args[1], list);
    });
  };
  const ok = async (args: string[], stdin?: string) => {
    const r = await run(args, stdin);
    assert.equal(r.code, 0, `${name}: ${args.slice(0, 3).join(" ")}: ${r.stderr}`);
    return r;
  };
  const made = await ok(["keygen", "-o", key]);
  const recipient = made.stderr.match(/Public key: (\S+)/)![1];
  return { name, key, env, recipient, run, ok };
}

Deno.test("group CLI: three users through a relay: add, talk, remove, leave; a stranger refused", async () => {
  await withTempDir("polycrypt-group-cli-", async (dir) => {
    const relay = await startRelay(dir);
    const t0 = performance.now();
    try {
      const [alice, bob, carol, dave] = await Promise.all(
        ["alice", "bob", "carol", "dave"].map((n) => user(dir, n)),
      );
      const invites: Record<string, string> = {};
      await Promise.all([alice, bob, carol].map(async (u) => {
        const made = await u.ok(["inbox", "new", "--relay", relay.url, "--one-time", "3"]);
        invites[u.name] = made.stdout.trim();
      }));
      // Alice knows Bob and Carol, they know her and each other; Dave knows Alice, not she him.
      const knows: [User, User][] = [
        [alice, bob],
        [alice, carol],
        [bob, alice],
        [bob, carol],
        [carol, alice],
        [carol, bob],
        [dave, alice],
      ];
      // One book per user, written by one process at a time.
      await Promise.all([alice, bob, carol, dave].map(async (u) => {
        for (const [, v] of knows.filter(([w]) => w === u)) {
          await u.ok(["contact", "add", v.name, invites[v.name]]);
        }
      }));
      const setup = performance.now() - t0;

      const t1 = performance.now();
      const created = await alice.ok(["group", "create", "team"]);
      assert.match(created.stderr, /group team created on ws:/);
      // Bob, Carol and Dave offer key packages to Alice.
      for (const u of [bob, carol, dave]) {
        assert.match((await u.ok(["group", "keypackage", "@alice"])).stderr, /key package sent/);
      }
      const kept = await alice.ok(["group", "fetch"]);
      assert.match(kept.stderr, /bob sent a key package/);
      assert.match(kept.stderr, /carol sent a key package/);
      assert.match(
        kept.stderr,
        new RegExp(`group key package from stranger ${fingerprint(dave.recipient)} was refused`),
      );
      // Dave is no contact of Alice's: he cannot be added.
      const refused = await alice.run(["group", "add", "team", "@dave"]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /dave/);
      // No key package from a contact: a clear usage error.
      const none = await bob.run(["group", "create", "other"]).then(() =>
        bob.run(["group", "add", "other", "@carol"])
      );
      assert.equal(none.code, 2);
      assert.match(none.stderr, /no key package from carol/);

      await alice.ok(["group", "add", "team", "@bob", "@carol"]);
      for (const u of [bob, carol]) {
        const joined = await u.ok(["group", "fetch"]);
        assert.match(joined.stderr, /alice added you to the group team/);
      }
      const members = (await alice.ok(["group", "members", "team", "--safety"])).stdout;
      assert.match(members, new RegExp(`${fingerprint(bob.recipient)}  bob`));
      assert.match(members, new RegExp(`${fingerprint(carol.recipient)}  carol`));
      assert.match(members, new RegExp(`${fingerprint(alice.recipient)}  you`));
      assert.match(members, /\d{5} \d{5}/);
      const carolSees = (await carol.ok(["group", "members", "team"])).stdout;
      assert.match(carolSees, new RegExp(`^${fingerprint(bob.recipient)} {2}bob$`, "m"));

      // Messages both ways among all three.
      const out: Record<string, string> = { alice: "", bob: "", carol: "" };
      const keep = (u: User, r: CommandResult) => (out[u.name] += r.stdout);
      keep(alice, await alice.ok(["group", "send", "team", "hello from alice"]));
      keep(bob, await bob.ok(["group", "send", "team", "hi from bob"]));
      await Deno.writeTextFile(join(dir, "notes.txt"), "carol's notes\n");
      keep(carol, await carol.ok(["group", "send", "team", "carol here"]));
      keep(carol, await carol.ok(["group", "send", "team", "-f", join(dir, "notes.txt")]));
      for (const u of [alice, bob, carol]) {
        const o = join(dir, `${u.name}-in`);
        await Deno.mkdir(o);
        keep(u, await u.ok(["group", "fetch", "team", "-o", o]));
      }
      const line = /^team \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] /;
      for (
        const [u, from, text] of [
          [alice, "bob", "hi from bob"],
          [alice, "carol", "carol here"],
          [bob, "alice", "hello from alice"],
          [bob, "carol", "carol here"],
          [carol, "alice", "hello from alice"],
          [carol, "bob", "hi from bob"],
        ] as [User, string, string][]
      ) {
        const found = out[u.name].split("\n").find((l) => l.endsWith(`${from}: ${text}`));
        assert.ok(found, `${u.name} did not see ${from}'s "${text}":\n${out[u.name]}`);
        assert.match(found, line);
      }
      assert.equal(
        await Deno.readTextFile(join(dir, "bob-in", "notes.txt")),
        "carol's notes\n",
      );
      assert.ok(!out.alice.includes("alice: hello from alice"), "own messages are not shown");

      // group chat: what arrived is shown, each typed line is sent; end of input ends it.
      await bob.ok(["group", "send", "team", "for the chat"]);
      const chat = await alice.ok(["group", "chat", "team"], "typed in the chat\n");
      assert.match(chat.stdout, /^team \[[^\]]+\] bob: for the chat$/m);
      assert.match(chat.stderr, /polled|checked every second/);
      assert.match((await carol.ok(["group", "fetch"])).stdout, /alice: typed in the chat/);
      // A chat left open shows what arrives while it runs (it polls the queue every second).
      const live = spawnCli(
        ["group", "chat", "team", "-i", carol.key],
        ALL,
        { env: carol.env },
        true,
      );
      const screen = { text: "" };
      const reading = (async () => {
        for await (const chunk of live.stdout.pipeThrough(new TextDecoderStream())) {
          screen.text += chunk;
        }
      })();
      const errors = new Response(live.stderr).text();
      const sentAt = performance.now();
      await bob.ok(["group", "send", "team", "while carol chats"]);
      let shownAfter = -1;
      for (let i = 0; i < 1200; i++) {
        if (screen.text.includes("bob: while carol chats")) {
          shownAfter = performance.now() - sentAt;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const stdin = live.stdin.getWriter();
      await stdin.write(new TextEncoder().encode("carol typed this\n"));
      await stdin.close();
      assert.equal((await live.status).code, 0, await errors);
      await reading;
      assert.ok(shownAfter >= 0, `the chat did not show bob's message:\n${screen.text}`);
      assert.match((await bob.ok(["group", "fetch"])).stdout, /carol: carol typed this/);
      // The group file: 0600, no group name or id in clear.
      const groupsDir = join(dir, "alice", "polycrypt", "groups");
      const [file] = [...Deno.readDirSync(groupsDir)];
      assert.equal((await Deno.stat(join(groupsDir, file.name))).mode! & 0o777, 0o600);
      const clear = new TextDecoder("latin1").decode(
        await Deno.readFile(join(groupsDir, file.name)),
      );
      assert.ok(!clear.includes("team") && !clear.includes(relay.url));

      // Alice removes Bob; what follows is not for him.
      await alice.ok(["group", "remove", "team", "@bob"]);
      await alice.ok(["group", "send", "team", "bob is gone"]);
      const gone = await bob.ok(["group", "fetch"]);
      assert.match(gone.stdout, /team .* you were removed from the group/);
      assert.ok(!gone.stdout.includes("bob is gone"));
      const later = await bob.ok(["group", "fetch"]);
      assert.equal(later.stdout, "");
      assert.equal((await bob.ok(["group", "list"])).stdout.includes("team"), false);
      assert.equal((await bob.run(["group", "send", "team", "still here?"])).code, 2);
      const carolRead = await carol.ok(["group", "fetch"]);
      assert.match(carolRead.stdout, /alice removed bob/);
      assert.match(carolRead.stdout, /alice: bob is gone/);

      // Carol leaves; Alice's next fetch sees it and makes it final.
      assert.match((await carol.ok(["group", "leave", "team"])).stderr, /you left team/);
      const left = await alice.ok(["group", "fetch"]);
      assert.match(left.stdout, /carol left/);
      const last = (await alice.ok(["group", "members", "team"])).stdout.trim().split("\n");
      assert.equal(last.length, 1, last.join("\n"));
      assert.match(last[0], /you$/);
      assert.equal((await carol.ok(["group", "fetch"])).stdout, "");
      const flow = performance.now() - t1;
      console.log(
        `group CLI: setup ${(setup / 1000).toFixed(1)} s; group flow ${
          (flow / 1000).toFixed(1)
        } s; ` +
          `${commands} polycrypt processes; a message shown in a running chat ` +
          `${(shownAfter / 1000).toFixed(1)} s after its send process started`,
      );
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      console.log(
        "group CLI: median process wall time: " +
          [...timings].map(([k, v]) => `${k} ${(median(v) / 1000).toFixed(2)} s (${v.length})`)
            .join(", "),
      );
    } finally {
      await relay.stop();
    }
  });
});
