// MLS groups (groups/, docs/groups.md) for groups of 10 and 100 members (1,000 with --sizes):
// ts-mls alone against polycrypt's wrapper (sealed SQLite state, credentials checked) for 1 KiB
// application messages, in the same run; the time to add and remove a member and to process a
// commit, bytes per commit and per Welcome; a 1 KiB message through a relay to every member (one
// upload, each member fetches and decrypts), next to the same message as pairwise Double Ratchet
// sessions to each member.
//
//   deno task bench:groups                       # sizes 10 and 100, X-Wing (default suite)
//   deno task bench:groups --sizes 10,100,1000 --suite MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
//
// Prints a Markdown report (also written to bench/results/groups-DATE.md with --write).
import {
  type ClientState,
  createApplicationMessage,
  createCommit,
  createGroup,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  generateKeyPackageWithKey,
  joinGroup,
  makePskIndex,
  processPrivateMessage,
} from "ts-mls";
import { defaultClientConfig } from "ts-mls/clientConfig.js";
import { generateIdentity } from "../mod.ts";
import { RATCHET_PREFIX, ratchetPair } from "./_ratchet_pair.ts";
import { SqliteSessionStore } from "../sessions/sqlite_store.ts";
import {
  DEFAULT_GROUP_SUITE,
  type GroupAccount,
  type GroupSuite,
  MemoryGroupDelivery,
  openGroups,
  queueId,
  RelayGroupDelivery,
} from "../groups/mod.ts";
import { suiteImpl } from "../groups/_suites.ts";
import { RelayClient, RelayServer, SqliteStore } from "../relay/mod.ts";

const args = Deno.args;
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const SIZES = (arg("--sizes") ?? "10,100").split(",").map(Number);
const SUITE = (arg("--suite") ?? DEFAULT_GROUP_SUITE) as GroupSuite;
const MESSAGES = Number(arg("--messages") ?? 100);
const MESSAGE = new Uint8Array(1024).fill(0x61);

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  return [r, performance.now() - t];
}
const fmt = (ms: number) => ms < 10 ? ms.toFixed(2) : ms.toFixed(0);

// ------------------------------------------------------------------------- ts-mls alone

/** A group of `n` made with ts-mls alone (basic credentials, no store): sender and one reader. */
async function rawGroup(n: number) {
  const cs = await suiteImpl(SUITE);
  // Like polycrypt (docs/groups.md section 4): no MLS padding (ours pads the data with PADME).
  const config = {
    ...defaultClientConfig,
    paddingConfig: { kind: "alwaysPad" as const, paddingLength: 0 },
  };
  const member = async (name: string) => {
    const sig = await cs.signature.keygen();
    return await generateKeyPackageWithKey(
      { credentialType: "basic", identity: new TextEncoder().encode(name) },
      defaultCapabilities(),
      defaultLifetime,
      [],
      sig,
      cs,
    );
  };
  const creator = await member("creator");
  let state: ClientState = await createGroup(
    crypto.getRandomValues(new Uint8Array(32)),
    creator.publicPackage,
    creator.privatePackage,
    [],
    cs,
    config,
  );
  const others = await Promise.all(Array.from({ length: n - 1 }, (_, i) => member(`m${i}`)));
  const commit = await createCommit({ state, cipherSuite: cs }, {
    extraProposals: others.map((o) => ({
      proposalType: "add" as const,
      add: { keyPackage: o.publicPackage },
    })),
    ratchetTreeExtension: true,
  });
  state = commit.newState;
  const reader = await joinGroup(
    commit.welcome!,
    others[0].publicPackage,
    others[0].privatePackage,
    emptyPskIndex,
    cs,
    undefined,
    undefined,
    config,
  );
  return { cs, sender: state, reader };
}

/** One 1 KiB message encrypted and decrypted: [encrypt ms, decrypt ms, bytes]. */
type Step = () => Promise<[number, number, number]>;

async function rawStepper(n: number): Promise<Step> {
  let { cs, sender, reader } = await rawGroup(n);
  return async () => {
    const t0 = performance.now();
    const m = await createApplicationMessage(sender, MESSAGE, cs);
    const t1 = performance.now();
    sender = m.newState;
    const r = await processPrivateMessage(reader, m.privateMessage, makePskIndex(reader, {}), cs);
    const t2 = performance.now();
    if (r.kind !== "applicationMessage") throw new Error("not an application message");
    reader = r.newState;
    return [t1 - t0, t2 - t1, m.privateMessage.ciphertext.length];
  };
}

/**
 * Runs the steps interleaved, one message each in turn, so that the load of the shared machine
 * falls on all of them alike; messages/s of each.
 */
async function interleaved(steps: Step[], count: number) {
  const totals = steps.map(() => ({ enc: 0, dec: 0, bytes: 0 }));
  for (let i = 0; i < count; i++) {
    for (const [k, step] of steps.entries()) {
      const [e, d, bytes] = await step();
      totals[k].enc += e;
      totals[k].dec += d;
      totals[k].bytes = bytes;
    }
  }
  return totals.map((t) => ({
    encPerS: count / (t.enc / 1000),
    decPerS: count / (t.dec / 1000),
    bytes: t.bytes,
  }));
}

// --------------------------------------------------------------------------- pairwise

/** One 1 KiB message as pairwise sessions to n - 1 members: ms to encrypt all, decrypt all. */
async function pairwise(n: number) {
  const sessions = await Promise.all(
    Array.from({ length: n - 1 }, () => ratchetPair("x25519+ml-kem-768", MESSAGE)),
  );
  const rounds: { enc: number; dec: number; bytes: number }[] = [];
  for (let r = 0; r < 5; r++) {
    const [bodies, enc] = await time(() => Promise.all(sessions.map((s) => s.alice.send(MESSAGE))));
    const [, dec] = await time(() => Promise.all(sessions.map((s, i) => s.bob.receive(bodies[i]))));
    rounds.push({
      enc,
      dec,
      bytes: bodies.reduce((a, b) => a + b.length + RATCHET_PREFIX.length, 0),
    });
  }
  return {
    enc: median(rounds.map((r) => r.enc)),
    dec: median(rounds.map((r) => r.dec)),
    bytes: rounds[0].bytes,
  };
}

// ---------------------------------------------------------------------------- polycrypt

interface Built {
  accounts: GroupAccount[];
  dss: RelayGroupDelivery[];
  stores: SqliteSessionStore[];
  group: string;
  addAll: number;
  joinMs: number;
  commitBytes: number;
  welcomeBytes: number;
}

/** A group of n with polycrypt accounts, each with its own SQLite store and relay connection. */
async function build(n: number, dir: string, url: string): Promise<Built> {
  const stores: SqliteSessionStore[] = [];
  const accounts: GroupAccount[] = [];
  for (let i = 0; i < n; i++) {
    const store = new SqliteSessionStore(`${dir}/m${i}.db`);
    stores.push(store);
    accounts.push(
      await openGroups({ identity: (await generateIdentity()).identity, store, suite: SUITE }),
    );
  }
  const dss = await Promise.all(
    accounts.map(async (a) => new RelayGroupDelivery(await RelayClient.connect(url), a)),
  );
  const ds = dss[0];
  const [alice, ...rest] = accounts;
  const group = await alice.create();
  await ds.create(queueId(group), await alice.epoch(group));
  const kps = await Promise.all(rest.map((m) => m.keyPackage()));
  const [commit, addAll] = await time(() => alice.add(group, kps));
  await alice.publish(ds, commit);
  const cursor = await alice.cursor(group);
  const joins: number[] = [];
  for (const m of rest) joins.push((await time(() => m.join(commit.welcome!, { cursor })))[1]);
  return {
    accounts,
    dss,
    stores,
    group,
    addAll,
    joinMs: median(joins),
    commitBytes: commit.commit.length,
    welcomeBytes: commit.welcome!.length,
  };
}

function oursStepper(b: Built): Step {
  const [alice, bob] = b.accounts;
  // These messages do not go through the delivery service: the cursors stay as they were.
  return async () => {
    const [m, e] = await time(() => alice.encrypt(b.group, MESSAGE));
    const [, d] = await time(() => bob.process(m));
    return [e, d, m.length];
  };
}

/** The wrapper without the disk: sender and reader with memory stores in a group of n. */
async function memoryStepper(n: number): Promise<Step> {
  const open = async () =>
    openGroups({ identity: (await generateIdentity()).identity, suite: SUITE });
  const [alice, bob] = [await open(), await open()];
  const group = await alice.create();
  const others: Uint8Array[] = [];
  for (let i = 0; i < n - 2; i++) others.push(await (await open()).keyPackage());
  const ds = new MemoryGroupDelivery();
  await ds.create(queueId(group), await alice.epoch(group));
  const commit = await alice.add(group, [await bob.keyPackage(), ...others]);
  await alice.publish(ds, commit);
  await bob.join(commit.welcome!, { cursor: await alice.cursor(group) });
  return async () => {
    const [m, e] = await time(() => alice.encrypt(group, MESSAGE));
    const [, d] = await time(() => bob.process(m));
    return [e, d, m.length];
  };
}

/** A batch of `count` messages through the relay, read by one member in one sync. */
async function batchRead(b: Built, count: number) {
  const [alice, bob] = b.accounts;
  await bob.sync(b.dss[1], b.group);
  for (let i = 0; i < count; i++) await alice.send(b.dss[0], b.group, MESSAGE);
  const [r, ms] = await time(() => bob.sync(b.dss[1], b.group));
  if (r.events.filter((e) => e.type === "message").length !== count) throw new Error("lost");
  await alice.sync(b.dss[0], b.group);
  return count / (ms / 1000);
}

/** Add one member, remove one, a path update: the committer's and a receiver's times and bytes. */
async function membership(b: Built, dir: string) {
  const [alice, bob] = b.accounts;
  const [ds, bobDs] = b.dss;
  const store = new SqliteSessionStore(`${dir}/newcomer.db`);
  const newcomer = await openGroups({
    identity: (await generateIdentity()).identity,
    store,
    suite: SUITE,
  });
  await bob.sync(bobDs, b.group);
  const [add, addMs] = await time(async () => alice.add(b.group, [await newcomer.keyPackage()]));
  await alice.publish(ds, add);
  const [, processAdd] = await time(() => bob.sync(bobDs, b.group));
  const [, join] = await time(() => newcomer.join(add.welcome!, { cursor: 0 }));
  await newcomer.leave(b.group).catch(() => {}); // its state goes; the removal below is the test
  const [remove, removeMs] = await time(() => alice.remove(b.group, [newcomer.fingerprint]));
  await alice.publish(ds, remove);
  const [, processRemove] = await time(() => bob.sync(bobDs, b.group));
  const [update, updateMs] = await time(() => alice.update(b.group));
  await alice.publish(ds, update);
  const [, processUpdate] = await time(() => bob.sync(bobDs, b.group));
  store.close();
  return {
    addMs,
    addCommitBytes: add.commit.length,
    welcomeBytes: add.welcome!.length,
    processAdd,
    join,
    removeMs,
    removeBytes: remove.commit.length,
    processRemove,
    updateMs,
    updateBytes: update.commit.length,
    processUpdate,
  };
}

/** A 1 KiB message through the relay to every member: ms from send until all decrypted it. */
async function throughRelay(b: Built, rounds = 5) {
  const [alice] = b.accounts;
  const idle = () => new Promise((r) => setTimeout(r, 5));
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await alice.send(b.dss[0], b.group, MESSAGE);
    await Promise.all(
      b.accounts.slice(1).map(async (m, i) => {
        for (;;) {
          const { events } = await m.sync(b.dss[i + 1], b.group);
          if (events.some((e) => e.type === "message")) return;
          await idle();
        }
      }),
    );
    times.push(performance.now() - t0);
  }
  // Throughput: 20 messages back to back, then every member reads them.
  const count = 20;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await alice.send(b.dss[0], b.group, MESSAGE);
  await Promise.all(
    b.accounts.slice(1).map(async (m, i) => {
      let got = 0;
      while (got < count) {
        const { events } = await m.sync(b.dss[i + 1], b.group);
        got += events.filter((e) => e.type === "message").length;
        if (got < count) await idle();
      }
    }),
  );
  const elapsed = performance.now() - t0;
  await alice.sync(b.dss[0], b.group);
  return { latency: median(times), perS: count / (elapsed / 1000) };
}

// -------------------------------------------------------------------------------- main

const lines: string[] = [];
const out = (s = "") => {
  lines.push(s);
  console.log(s);
};
out(`# MLS groups, ${SUITE}, ${new Date().toISOString().slice(0, 10)}`);
out();
out(
  `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, load average ${
    Deno.loadavg()[0].toFixed(2)
  } at start. 1 KiB application messages; polycrypt members each with a SQLite store; ts-mls alone, polycrypt (SQLite) and polycrypt (memory store) measured interleaved, one message each in turn.`,
);
out();

for (const n of SIZES) {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-groups-bench-" });
  try {
    const server = new RelayServer({ store: new SqliteStore(`${dir}/relay.db`) });
    const url = await server.listen("tcp://127.0.0.1:0");
    const [b, buildMs] = await time(() => build(n, dir, url));
    const count = Math.max(10, Math.min(MESSAGES, n >= 1000 ? 20 : MESSAGES));
    const [raw, mine, memory] = await interleaved(
      [await rawStepper(n), oursStepper(b), await memoryStepper(n)],
      count,
    );
    const pw = await pairwise(n);
    // The messages above did not go through the relay: each member's cursor is as it was.
    const mem = await membership(b, dir);
    for (const [i, m] of b.accounts.entries()) await m.sync(b.dss[i], b.group);
    const relay = await throughRelay(b);
    const batched = await batchRead(b, count);
    await Promise.all(b.dss.map((d) => d.client.close()));
    await server.close();
    out(`## ${n} members (built in ${(buildMs / 1000).toFixed(1)} s)`);
    out();
    out(`| operation | ts-mls alone | polycrypt | ratio |`);
    out(`| --- | ---: | ---: | ---: |`);
    const rawEnc = raw.encPerS, rawDec = raw.decPerS;
    out(
      `| encrypt, messages/s (SQLite store, a durable write each) | ${rawEnc.toFixed(0)} | ${
        mine.encPerS.toFixed(0)
      } | ${(rawEnc / mine.encPerS).toFixed(2)}x |`,
    );
    out(
      `| decrypt one by one, messages/s (SQLite, a durable write each) | ${rawDec.toFixed(0)} | ${
        mine.decPerS.toFixed(0)
      } | ${(rawDec / mine.decPerS).toFixed(2)}x |`,
    );
    out(
      `| encrypt, memory store (no disk) | ${rawEnc.toFixed(0)} | ${memory.encPerS.toFixed(0)} | ${
        (rawEnc / memory.encPerS).toFixed(2)
      }x |`,
    );
    out(
      `| decrypt, memory store (no disk) | ${rawDec.toFixed(0)} | ${memory.decPerS.toFixed(0)} | ${
        (rawDec / memory.decPerS).toFixed(2)
      }x |`,
    );
    out(
      `| decrypt, ${count} fetched in one sync from the relay (one write) | ${
        rawDec.toFixed(0)
      } | ${batched.toFixed(0)} | ${(rawDec / batched).toFixed(2)}x |`,
    );
    out(`| bytes on the wire | ${raw.bytes} (ciphertext) | ${mine.bytes} (envelope) | |`);
    out();
    out(`| membership (polycrypt) | ms | bytes |`);
    out(`| --- | ---: | ---: |`);
    out(`| commit adding ${n - 1} members | ${fmt(b.addAll)} | ${b.commitBytes} |`);
    out(`| Welcome for ${n - 1} members | | ${b.welcomeBytes} |`);
    out(`| join from that Welcome (median) | ${fmt(b.joinMs)} | |`);
    out(`| add one member: commit | ${fmt(mem.addMs)} | ${mem.addCommitBytes} |`);
    out(`| add one member: Welcome, join | ${fmt(mem.join)} | ${mem.welcomeBytes} |`);
    out(`| add one member: another member processes it | ${fmt(mem.processAdd)} | |`);
    out(`| remove one member: commit | ${fmt(mem.removeMs)} | ${mem.removeBytes} |`);
    out(`| remove one member: another member processes it | ${fmt(mem.processRemove)} | |`);
    out(`| path update: commit | ${fmt(mem.updateMs)} | ${mem.updateBytes} |`);
    out(`| path update: another member processes it | ${fmt(mem.processUpdate)} | |`);
    out();
    out(`| one 1 KiB message to all ${n - 1} others | ms | bytes uploaded |`);
    out(`| --- | ---: | ---: |`);
    out(
      `| group message through a relay, send to last member decrypted (median of 5) | ${
        fmt(relay.latency)
      } | ${mine.bytes} |`,
    );
    out(
      `| pairwise sessions (Double Ratchet, no store): encrypt ${n - 1} + decrypt ${n - 1} | ${
        fmt(pw.enc + pw.dec)
      } | ${pw.bytes} |`,
    );
    out(
      `| group messages/s through the relay, every member reading | ${relay.perS.toFixed(1)} | |`,
    );
    out();
    for (const s of b.stores) s.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (args.includes("--write")) {
  const file = `bench/results/groups-${new Date().toISOString().slice(0, 10)}.md`;
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  console.log(`written ${file}`);
}
