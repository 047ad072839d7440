// A group of three through a REAL `polycrypt relay` process with a SQLite store (docs/groups.md
// section 6, docs/relay.md section 10): add, message, remove (a copy of the removed member's state
// cannot read the next message, and the relay does not give it to it), update, concurrent commits
// ordered by the relay (the loser gets STALE_EPOCH and retries), a member offline for 20 epochs,
// a non-member refused by the relay, and a commit signed by a key the member's identity did not
// certify refused by every member.
import assert from "node:assert/strict";
import {
  createCommit,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroup,
  mlsExporter,
  type MLSMessage,
} from "ts-mls";
import { DecryptionError, generateIdentity, InvalidKeyError } from "../../mod.ts";
import { SqliteSessionStore } from "../../sessions/sqlite_store.ts";
import { identitySessionKeys } from "../../sessions/_identity.ts";
import {
  type GroupAccount,
  type GroupEvent,
  openGroups,
  queueId,
  RelayGroupDelivery,
  relayGroupKey,
  relayGroupQueueId,
  StaleEpochError,
} from "../../groups/mod.ts";
import { makeCredential } from "../../groups/_credential.ts";
import { parseGroupEnvelope } from "../../groups/group.ts";
import { DEFAULT_GROUP_SUITE, suiteImpl } from "../../groups/_suites.ts";
import { RELAY_ERROR, RelayClient, RelayError } from "../../relay/mod.ts";
import { spawnCommand } from "../_process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const te = new TextEncoder();
const td = new TextDecoder();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `polycrypt relay --store FILE` as a child process. */
async function startRelay(store: string) {
  const url = `tcp://127.0.0.1:${freePort()}`;
  const child = spawnCommand("deno", [
    "run",
    "--allow-all",
    `${ROOT}cli/main.ts`,
    "relay",
    "--on",
    url,
    "--store",
    `sqlite:${store}`,
  ]);
  let exited = false;
  const output = child.output().then((o) => {
    exited = true;
    return td.decode(o.stdout) + td.decode(o.stderr);
  });
  const stop = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    return output;
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const client = await RelayClient.connect(url, { timeoutMs: 5000 });
      await client.close();
      return { url, stop };
    } catch {
      if (exited || Date.now() > deadline) throw new Error(`the relay did not start: ${await stop()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface Member {
  identity: string;
  account: GroupAccount;
  ds: RelayGroupDelivery;
}

async function member(url: string, store?: SqliteSessionStore, id?: string): Promise<Member> {
  const identity = id ?? (await generateIdentity()).identity;
  const account = await openGroups({ identity, store });
  return {
    identity,
    account,
    ds: new RelayGroupDelivery(await RelayClient.connect(url), account),
  };
}

async function addMembers(group: string, by: Member, who: Member[]) {
  const kps = await Promise.all(who.map((w) => w.account.keyPackage()));
  const commit = await by.account.add(group, kps, who.map((w) => w.account.fingerprint));
  await by.account.publish(by.ds, commit);
  const cursor = await by.account.cursor(group);
  for (const w of who) await w.account.join(commit.welcome!, { cursor });
}

function texts(events: GroupEvent[]): { from: string; text: string }[] {
  return events.flatMap((e) =>
    e.type === "message" ? [{ from: e.sender.fingerprint, text: td.decode(e.data) }] : []
  );
}

async function withRelay(run: (url: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const relay = await startRelay(`${dir}/relay.db`);
  try {
    await run(relay.url, dir);
  } finally {
    const output = await relay.stop();
    await Deno.remove(dir, { recursive: true });
    assert.doesNotMatch(output, /Error|INTERNAL/, output);
  }
}

const close = (...members: Member[]) => Promise.all(members.map((m) => m.ds.client.close()));

Deno.test({
  name: "groups through a relay process: add, message, remove, update",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withRelay(async (url, dir) => {
      const alice = await member(url);
      const bobStore = new SqliteSessionStore(`${dir}/bob.db`);
      const bob = await member(url, bobStore);
      const carol = await member(url);
      const group = await alice.account.create();
      await alice.ds.create(queueId(group), await alice.account.epoch(group));
      await addMembers(group, alice, [bob, carol]);
      for (const m of [alice, bob, carol]) assert.equal(await m.account.epoch(group), 1n);
      assert.equal(await bob.ds.epoch(queueId(group)), 1n);

      // One upload, downloaded by each member.
      const seq = await alice.account.send(alice.ds, group, te.encode("hello both"));
      assert.equal(seq, 2);
      for (const m of [bob, carol]) {
        assert.deepEqual(texts((await m.account.sync(m.ds, group)).events), [
          { from: alice.account.fingerprint, text: "hello both" },
        ]);
      }
      assert.deepEqual((await alice.account.sync(alice.ds, group)).events.map((e) => e.type), [
        "own",
      ]);

      // Remove Bob, keeping a copy of his state from before the removal.
      bobStore.close();
      await Deno.copyFile(`${dir}/bob.db`, `${dir}/bob-copy.db`);
      const bobNow = await member(url, new SqliteSessionStore(`${dir}/bob.db`), bob.identity);
      const removal = await alice.account.remove(group, [bob.account.fingerprint]);
      await alice.account.publish(alice.ds, removal);
      const carolEvents = (await carol.account.sync(carol.ds, group)).events;
      assert.ok(carolEvents[0].type === "commit");
      assert.deepEqual(
        carolEvents[0].type === "commit" && carolEvents[0].removed.map((m) => m.fingerprint),
        [bob.account.fingerprint],
      );
      await alice.account.send(alice.ds, group, te.encode("bob is gone"));
      const next = (await alice.ds.fetch(queueId(group), 0)).at(-1)!;
      assert.deepEqual(texts((await carol.account.sync(carol.ds, group)).events), [
        { from: alice.account.fingerprint, text: "bob is gone" },
      ]);
      // Bob learns he was removed; his state of the group is gone.
      assert.deepEqual((await bobNow.account.sync(bobNow.ds, group)).events.map((e) => e.type), [
        "removed",
      ]);
      assert.deepEqual(await bobNow.account.groups(), []);
      // The copy of his earlier state: the relay gives it the epoch it was in (up to the commit
      // that removed him), not the next message; and given that message, it cannot decrypt it.
      const copy = await member(url, new SqliteSessionStore(`${dir}/bob-copy.db`), bob.identity);
      const visible = await copy.ds.fetch(queueId(group), 0);
      assert.ok(visible.every((m) => m.seq < next.seq));
      assert.deepEqual(visible.at(-1)?.envelope, removal.commit);
      await assert.rejects(copy.account.process(next.envelope), DecryptionError);
      await close(bob, bobNow, copy);

      // A path update by Carol; everyone moves on and still talks.
      await carol.account.publish(carol.ds, await carol.account.update(group));
      const seen = (await alice.account.sync(alice.ds, group)).events;
      assert.ok(
        seen.some((e) =>
          e.type === "commit" && e.sender?.fingerprint === carol.account.fingerprint
        ),
      );
      await carol.account.send(carol.ds, group, te.encode("after the update"));
      assert.deepEqual(texts((await alice.account.sync(alice.ds, group)).events), [
        { from: carol.account.fingerprint, text: "after the update" },
      ]);
      assert.equal(await alice.account.epoch(group), 3n);
      assert.equal(await alice.ds.epoch(queueId(group)), 3n);
      await close(alice, carol);
    }),
});
