// MLS groups (groups/, docs/groups.md) for groups of 10 and 100 members (1,000 with --sizes):
// ts-mls alone against polycrypt's wrapper (sealed SQLite state, credentials checked) for 1 KiB
// application messages, in the same run; the time to add and remove a member and to process a
// commit, bytes per commit and per Welcome; a 1 KiB message through a relay to every member (one
// upload, each member fetches and decrypts), next to the same message as pairwise Double Ratchet
// sessions to each member.
//
//   deno task bench:groups                       # sizes 10 and 100, X-Wing (default suite)
//   deno task bench:groups --sizes 10,100,1000 --suite MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519
//   deno task bench:groups --sizes 1000 --readers 20 --write
//
// --readers N: how many of the members join and read (default all up to 100 members, else 10):
// every member is in the group (its key package added, its leaf in the tree), but joining from
// a 1,000-member Welcome costs seconds each, so only N of them hold a state and read; the
// relay figures say how many read.
//
// Prints a Markdown report (also written to bench/results/groups-DATE.md with --write).
import {
  createApplicationMessage,
  decodeMlsMessage,
  encodeMlsMessage,
  makePskIndex,
  processPrivateMessage,
} from "ts-mls";
import { rawPair } from "./_groups_raw.ts";
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
const READERS = arg("--readers") === undefined ? undefined : Number(arg("--readers"));
/** Members per commit when building a group above 101 members. */
const ADD_BATCH = 50;
const MESSAGE = new Uint8Array(1024).fill(0x61);

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  return [r, performance.now() - t];
}
const fmt = (ms: number) => ms < 10 ? ms.toFixed(2) : ms.toFixed(0);

// ------------------------------------------------------------------------- ts-mls alone

/** One 1 KiB message encrypted and decrypted: [encrypt ms, decrypt ms, bytes]. */
type Step = () => Promise<[number, number, number]>;

async function rawStepper(n: number): Promise<Step> {
  const cs = await suiteImpl(SUITE);
  let [sender, reader] = await rawPair(n, SUITE);
  // ts-mls's own encrypt and decrypt as an application uses them: to the wire and from it.
  return async () => {
    const t0 = performance.now();
    const m = await createApplicationMessage(sender, MESSAGE, cs);
    const wire = encodeMlsMessage({
      version: "mls10",
      wireformat: "mls_private_message",
      privateMessage: m.privateMessage,
    });
    const t1 = performance.now();
    sender = m.newState;
    const decoded = decodeMlsMessage(wire, 0)![0];
    if (decoded.wireformat !== "mls_private_message") throw new Error("not a private message");
    const r = await processPrivateMessage(
      reader,
      decoded.privateMessage,
      makePskIndex(reader, {}),
      cs,
    );
    const t2 = performance.now();
    if (r.kind !== "applicationMessage") throw new Error("not an application message");
    reader = r.newState;
    return [t1 - t0, t2 - t1, wire.length];
  };
}

/**
 * Runs the steps interleaved, one message each in turn, so that the load of the shared machine
 * falls on all of them alike; each step's times per message.
 */
async function interleaved(steps: Step[], count: number) {
  const all = steps.map(() => ({ enc: [] as number[], dec: [] as number[], bytes: 0 }));
  // Warm-up (compilation, first use of each key): not counted.
  for (let i = 0; i < 5; i++) for (const step of steps) await step();
  for (let i = 0; i < count; i++) {
    for (const [k, step] of steps.entries()) {
      const [e, d, bytes] = await step();
      all[k].enc.push(e);
      all[k].dec.push(d);
      all[k].bytes = bytes;
    }
  }
  return all;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
/** Messages per second over all the messages of a step. */
const perS = (xs: number[]) => xs.length / (sum(xs) / 1000);

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
async function build(n: number, dir: string, url: string, readers: number): Promise<Built> {
  const stores: SqliteSessionStore[] = [];
  const accounts: GroupAccount[] = [];
  // The creator and `readers` members hold a state (a SQLite store each, a relay connection);
  // the others only give a key package (their leaves are in the tree; they never join).
  for (let i = 0; i <= readers; i++) {
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
  // Above 101 members the others are added first, in commits of ADD_BATCH (one commit adding
  // 999 would make 999 Welcome secrets each over a 9 MB GroupInfo at once: ts-mls and @hpke
  // copy it per joiner, gigabytes of garbage), then the readers in the last commit.
  const silent: Uint8Array[] = [];
  for (let i = readers + 1; i < n; i++) {
    const member = await openGroups({
      identity: (await generateIdentity()).identity,
      suite: SUITE,
    });
    silent.push(await member.keyPackage());
  }
  const batch = n <= 101 ? n : ADD_BATCH;
  for (let i = 0; i < silent.length; i += batch) {
    await alice.publish(ds, await alice.add(group, silent.slice(i, i + batch)));
  }
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
    // Connections stay idle for minutes while a big group is measured: no idle limit here.
    const server = new RelayServer({
      store: new SqliteStore(`${dir}/relay.db`),
      idleTimeoutMs: 3_600_000,
    });
    const url = await server.listen("tcp://127.0.0.1:0");
    const readers = Math.min(n - 1, READERS ?? (n <= 100 ? n - 1 : 10));
    const t0 = performance.now();
    const progress = (what: string) =>
      console.error(`[${n}] ${((performance.now() - t0) / 1000).toFixed(0)} s: ${what}`);
    const [b, buildMs] = await time(() => build(n, dir, url, readers));
    progress("built");
    const count = MESSAGES;
    // The memory-store wrapper needs a second group of n: left out from 1,000 members.
    const [raw, mine, memory] = await interleaved(
      [await rawStepper(n), oursStepper(b), ...(n < 1000 ? [await memoryStepper(n)] : [])],
      count,
    );
    progress("encrypt/decrypt measured");
    const pw = await pairwise(n);
    progress("pairwise measured");
    // The messages above did not go through the relay: each member's cursor is as it was.
    const mem = await membership(b, dir);
    for (const [i, m] of b.accounts.entries()) await m.sync(b.dss[i], b.group);
    progress("membership measured");
    const relay = await throughRelay(b);
    const batched = await batchRead(b, count);
    progress("relay measured");
    await Promise.all(b.dss.map((d) => d.client.close()));
    await server.close();
    out(
      `## ${n} members (built in ${(buildMs / 1000).toFixed(1)} s; ${readers} of the ${
        n - 1
      } others joined and read; load average ${Deno.loadavg()[0].toFixed(2)} at the end)`,
    );
    out();
    out(
      `Per 1 KiB application message, ${count} messages, each step interleaved with the others: median ms (and messages/s over all). ts-mls alone: createApplicationMessage + encodeMlsMessage, decodeMlsMessage + processPrivateMessage, states in memory. polycrypt: GroupAccount.encrypt / process, with polycrypt credentials, PADME padding, the mode-0x03 envelope and the state sealed in the store.`,
    );
    out();
    out(`| operation | ts-mls alone | polycrypt | ratio (median, mean) |`);
    out(`| --- | ---: | ---: | ---: |`);
    const row = (name: string, ours: number[], base: number[]) =>
      out(
        `| ${name} | ${median(base).toFixed(3)} ms (${perS(base).toFixed(0)}/s) | ${
          median(ours).toFixed(3)
        } ms (${perS(ours).toFixed(0)}/s) | ${(median(ours) / median(base)).toFixed(2)}x, ${
          (sum(ours) / ours.length / (sum(base) / base.length)).toFixed(2)
        }x |`,
      );
    row(
      "encrypt, SQLite store (SqliteSessionStore; a durable write per 100 messages)",
      mine.enc,
      raw.enc,
    );
    row(
      "decrypt one by one, SQLite store (a write each, synchronous=NORMAL)",
      mine.dec,
      raw.dec,
    );
    if (memory) {
      row("encrypt, memory store (no disk)", memory.enc, raw.enc);
      row("decrypt, memory store (no disk)", memory.dec, raw.dec);
    }
    out(
      `| decrypt, ${count} fetched in one sync from the relay (one write; not interleaved) | ${
        perS(raw.dec).toFixed(0)
      }/s | ${batched.toFixed(0)}/s | ${(perS(raw.dec) / batched).toFixed(2)}x (mean) |`,
    );
    out(`| bytes on the wire | ${raw.bytes} (MLSMessage) | ${mine.bytes} (envelope) | |`);
    out();
    out(`| membership (polycrypt) | ms | bytes |`);
    out(`| --- | ---: | ---: |`);
    out(
      `| commit adding ${readers} members${
        readers < n - 1 ? " (the last of the commits that built the group)" : ""
      } | ${fmt(b.addAll)} | ${b.commitBytes} |`,
    );
    out(`| Welcome for those ${readers} members | | ${b.welcomeBytes} |`);
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
      `| group message through a relay, send until the last of ${readers} readers decrypted it (median of 5) | ${
        fmt(relay.latency)
      } | ${mine.bytes} |`,
    );
    out(
      `| pairwise sessions (Double Ratchet, no store): encrypt ${n - 1} + decrypt ${n - 1} | ${
        fmt(pw.enc + pw.dec)
      } | ${pw.bytes} |`,
    );
    out(
      `| group messages/s through the relay, ${readers} readers each reading every message (all in this one process) | ${
        relay.perS.toFixed(1)
      } | |`,
    );
    out();
    for (const s of b.stores) s.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (args.includes("--write")) {
  const sizes = SIZES.join(",") === "10,100" ? "" : `-${SIZES.join("-")}`;
  const file = `bench/results/groups-${new Date().toISOString().slice(0, 10)}${sizes}.md`;
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  console.log(`written ${file}`);
}
