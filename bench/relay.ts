// `deno task bench:relay [--quick]`: the relay under load (issue 24, docs/relay.md). Relays run as
// `polycrypt relay` processes; clients in this process send 1 KiB envelopes over WebSocket to many
// queues while subscribers receive and acknowledge them. Reports messages/s (sent, stored durably,
// delivered and acknowledged) and the SEND-to-delivery latency (p50/p99), at full load and at a
// fixed 1,000 messages/s, for SQLite and for PostgreSQL with one and two relay processes, next to
// the raw ceiling measured in the same run (batched inserts of the same bytes straight into the
// same store), and the relay's memory while it holds 100,000 queued messages. Writes
// bench/results/relay-DATE.md.
import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";
import { encrypt, generateIdentity } from "../mod.ts";
import { type Inbox, openInbox, RelayClient } from "../relay/mod.ts";
import { spawnCommand } from "../tests/_process.ts";
import { startPostgres } from "../tests/relay/_postgres.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const QUICK = Deno.args.includes("--quick");
/**
 * `--stores=sqlite`, `postgres` or `memory` (the relay holding HELD messages): only those parts
 * (for profiling; no report written).
 */
const STORES = (
  Deno.args.find((a) => a.startsWith("--stores="))?.slice(9) ?? "sqlite,postgres,memory"
).split(",");
const PARTIAL = STORES.length < 3;
const MESSAGES = Number(
  Deno.args.find((a) => a.startsWith("--messages="))?.slice(11) ?? (QUICK ? 5_000 : 30_000),
);
/** POLYCRYPT_BENCH_INSPECT=PORT: the first relay runs with --inspect and is profiled at full load. */
const INSPECT = Deno.env.get("POLYCRYPT_BENCH_INSPECT");
const QUEUES = 100;
const SENDERS = 10;
const SUBSCRIBERS = 10;
const WINDOW = 32; // SENDs in flight per sender connection
const HELD = QUICK ? 20_000 : 100_000;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function startRelay(
  store: string,
  inspect?: string,
): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const url = `ws://127.0.0.1:${freePort()}`;
  const child = spawnCommand("deno", [
    "run",
    "--allow-all",
    ...(inspect ? [`--inspect=127.0.0.1:${inspect}`] : []),
    `${ROOT}cli/main.ts`,
    "relay",
    "--on",
    url,
    "--store",
    store,
  ], { stdout: "null", stderr: "null" });
  for (let i = 0;; i++) {
    try {
      await (await RelayClient.connect(url)).close();
      break;
    } catch {
      if (i > 600) throw new Error("the relay did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

/** CPU seconds (user + system) a process has used so far. */
async function cpuSeconds(pid: number | "self"): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

interface Run {
  perSecond: number;
  p50: number;
  p99: number;
  count: number;
  /** CPU microseconds per message: the relay processes' and the benchmark's (the clients'). */
  relayCpu: number;
  clientCpu: number;
}

/**
 * Sends `count` envelopes spread over the inboxes from SENDERS connections (to `sendUrls` in
 * turn), at `rate` messages/s or as fast as the window allows, while SUBSCRIBERS connections (on
 * `receiveUrls`) receive and acknowledge; resolves when every message is acknowledged.
 */
async function load(
  sendUrls: string[],
  receiveUrls: string[],
  inboxes: Inbox[],
  envelope: Uint8Array,
  count: number,
  rate?: number,
  pids: number[] = [],
): Promise<Run> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let delivered = 0;
  const { promise: allDelivered, resolve: done } = Promise.withResolvers<void>();
  const subscribers = await Promise.all(
    Array.from(
      { length: SUBSCRIBERS },
      (_, i) => RelayClient.connect(receiveUrls[i % receiveUrls.length]),
    ),
  );
  const readers: Promise<void>[] = [];
  for (let q = 0; q < inboxes.length; q++) {
    const client = subscribers[q % SUBSCRIBERS];
    const inbox = inboxes[q];
    const messages = await client.subscribe(inbox.receivingId, inbox.key);
    readers.push(
      (async () => {
        for await (const m of messages) {
          const t = sentAt.get(m.id.toHex());
          if (t !== undefined) latencies.push(performance.now() - t);
          await client.ack(inbox.receivingId, inbox.key, m.id);
          if (++delivered === count) done();
        }
      })().catch(() => {}),
    );
  }
  const senders = await Promise.all(
    Array.from({ length: SENDERS }, (_, i) => RelayClient.connect(sendUrls[i % sendUrls.length])),
  );
  const cpuBefore = await Promise.all([...pids, "self" as const].map(cpuSeconds));
  const started = performance.now();
  let next = 0;
  await Promise.all(senders.map(async (client) => {
    await Promise.all(Array.from({ length: WINDOW }, async () => {
      while (next < count) {
        const i = next++;
        if (rate) {
          const due = started + (i * 1000) / rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        const id = crypto.getRandomValues(new Uint8Array(16));
        sentAt.set(id.toHex(), performance.now());
        await client.send(inboxes[i % inboxes.length].sendingId, envelope, { messageId: id });
      }
    }));
  }));
  await allDelivered;
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = await Promise.all([...pids, "self" as const].map(cpuSeconds));
  const used = cpuAfter.map((c, i) => (c - cpuBefore[i]) * 1e6 / count);
  await Promise.all([...senders, ...subscribers].map((c) => c.close()));
  await Promise.all(readers);
  latencies.sort((a, b) => a - b);
  return {
    perSecond: count / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    count,
    relayCpu: used.slice(0, -1).reduce((a, b) => a + b, 0),
    clientCpu: used[used.length - 1],
  };
}

async function makeInboxes(url: string, n: number): Promise<Inbox[]> {
  const client = await RelayClient.connect(url);
  const inboxes = await Promise.all(Array.from({ length: n }, () => openInbox(client)));
  await client.close();
  return inboxes;
}

/** Batched inserts of the same rows straight into a SQLite file like the relay's. */
function sqliteCeiling(path: string, envelope: Uint8Array, count: number): number {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL");
  db.exec(
    "CREATE TABLE messages (seq INTEGER PRIMARY KEY, rid BLOB NOT NULL, msg_id BLOB NOT NULL, " +
      "envelope BLOB, expires INTEGER NOT NULL, UNIQUE (rid, msg_id))",
  );
  db.exec("CREATE INDEX messages_live ON messages (rid, seq) WHERE envelope IS NOT NULL");
  const insert = db.prepare(
    "INSERT INTO messages (rid, msg_id, envelope, expires) VALUES (?, ?, ?, ?)",
  );
  const rid = crypto.getRandomValues(new Uint8Array(24));
  const started = performance.now();
  for (let i = 0; i < count; i += 500) {
    db.exec("BEGIN");
    for (let j = i; j < Math.min(count, i + 500); j++) {
      insert.run(rid, crypto.getRandomValues(new Uint8Array(16)), envelope, Date.now());
    }
    db.exec("COMMIT");
  }
  const perSecond = count / ((performance.now() - started) / 1000);
  db.close();
  return perSecond;
}

/** Batched inserts into PostgreSQL (500 rows a statement, one transaction each). */
async function postgresCeiling(url: string, envelope: Uint8Array, count: number): Promise<number> {
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  await sql`CREATE TABLE ceiling (seq bigserial PRIMARY KEY, rid bytea NOT NULL,
    msg_id bytea NOT NULL, envelope bytea, expires bigint NOT NULL, UNIQUE (rid, msg_id))`;
  const rid = crypto.getRandomValues(new Uint8Array(24));
  const started = performance.now();
  const batches = [];
  for (let i = 0; i < count; i += 500) {
    const rows = Array.from({ length: Math.min(500, count - i) }, () => ({
      rid,
      msg_id: crypto.getRandomValues(new Uint8Array(16)),
      envelope,
      expires: Date.now(),
    }));
    batches.push(sql`INSERT INTO ceiling ${sql(rows)}`);
    if (batches.length === 4) await Promise.all(batches.splice(0));
  }
  await Promise.all(batches);
  const perSecond = count / ((performance.now() - started) / 1000);
  await sql.end();
  return perSecond;
}

/** Fills queues with `count` messages, nobody reading, and reports the relay's RSS. */
async function heldMemory(url: string, pid: number, envelope: Uint8Array, count: number) {
  const inboxes = await makeInboxes(url, Math.ceil(count / 10_000));
  const senders = await Promise.all(
    Array.from({ length: SENDERS }, () => RelayClient.connect(url)),
  );
  let next = 0;
  let peak = 0;
  await Promise.all(senders.map(async (client) => {
    await Promise.all(Array.from({ length: WINDOW }, async () => {
      while (next < count) {
        const i = next++;
        await client.send(inboxes[i % inboxes.length].sendingId, envelope);
        if (i % 5000 === 0) peak = Math.max(peak, await rssMiB(pid));
      }
    }));
  }));
  await Promise.all(senders.map((c) => c.close()));
  await new Promise((r) => setTimeout(r, 500));
  return { held: count, rss: await rssMiB(pid), peak: Math.max(peak, await rssMiB(pid)) };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => n.toFixed(1);

const bob = await generateIdentity("x25519");
const envelope = await encrypt(new Uint8Array(1024 - 200), { recipients: [bob.recipient] });
console.error(`envelope: ${envelope.length} bytes; ${MESSAGES} messages, ${QUEUES} queues`);
const lines: string[] = [];
const row = (what: string, full: Run, fixed: Run, ceiling: number) => {
  const line = `| ${what} | ${fmt(full.perSecond)} | ${ms(full.p50)} / ${ms(full.p99)} | ${
    ms(fixed.p50)
  } / ${ms(fixed.p99)} | ${fmt(ceiling)} | ${(full.perSecond / ceiling).toFixed(2)}x | ${
    fmt(full.relayCpu)
  } / ${fmt(full.clientCpu)} |`;
  lines.push(line);
  console.error(line);
};

/** The full-load run, profiled when POLYCRYPT_BENCH_INSPECT is set. */
async function fullLoad(
  sendUrls: string[],
  receiveUrls: string[],
  inboxes: Inbox[],
  pids: number[],
  inspected: boolean,
): Promise<Run> {
  if (!inspected) return await load(sendUrls, receiveUrls, inboxes, envelope, MESSAGES, 0, pids);
  const { profile, summarize } = await import("./relay_profile.ts");
  const run = load(sendUrls, receiveUrls, inboxes, envelope, MESSAGES, 0, pids);
  // Profile the middle of the run (its length estimated from the messages).
  await new Promise((r) => setTimeout(r, 300));
  const taken = await profile(Number(INSPECT), Math.max(1, MESSAGES / 4000));
  console.error(summarize(taken));
  return await run;
}

const loadAtStart = Deno.loadavg();
const dir = await Deno.makeTempDir({ prefix: "polycrypt-bench-relay-" });
let memory: { held: number; rss: number; peak: number } | undefined;
const fixedCount = Math.min(MESSAGES, QUICK ? 2000 : 5000);
try {
  // SQLite, one relay process.
  if (STORES.includes("sqlite")) {
    const relay = await startRelay(`sqlite:${dir}/relay.db`, INSPECT);
    const inboxes = await makeInboxes(relay.url, QUEUES);
    const pids = [relay.pid];
    const full = await fullLoad([relay.url], [relay.url], inboxes, pids, INSPECT !== undefined);
    const fixed = await load([relay.url], [relay.url], inboxes, envelope, fixedCount, 1000, pids);
    const ceiling = sqliteCeiling(`${dir}/ceiling.db`, envelope, MESSAGES);
    row("SQLite, 1 relay", full, fixed, ceiling);
    // The same relay then holds HELD messages, nobody reading.
    if (STORES.includes("memory")) memory = await heldMemory(relay.url, relay.pid, envelope, HELD);
    await relay.stop();
  } else if (STORES.includes("memory")) {
    // `--stores=memory` alone: a fresh relay.
    const relay = await startRelay(`sqlite:${dir}/held.db`);
    memory = await heldMemory(relay.url, relay.pid, envelope, HELD);
    console.error(`held ${memory.held}: ${ms(memory.rss)} MiB (peak ${ms(memory.peak)})`);
    await relay.stop();
  }
  // PostgreSQL, one and two relay processes.
  if (STORES.includes("postgres")) {
    const pg = await startPostgres();
    try {
      const ceiling = await postgresCeiling(await pg.database("ceiling"), envelope, MESSAGES);
      for (const n of [1, 2]) {
        const db = await pg.database(`relay${n}`);
        const relays = await Promise.all(
          Array.from({ length: n }, (_, i) => startRelay(db, i === 0 ? INSPECT : undefined)),
        );
        const urls = relays.map((r) => r.url);
        const pids = relays.map((r) => r.pid);
        const inboxes = await makeInboxes(urls[0], QUEUES);
        // With two relays, senders use A and B in turn and subscribers the other one.
        const receive = n === 2 ? [...urls].reverse() : urls;
        const full = await fullLoad(urls, receive, inboxes, pids, INSPECT !== undefined);
        const fixed = await load(urls, receive, inboxes, envelope, fixedCount, 1000, pids);
        row(`PostgreSQL, ${n} relay${n > 1 ? "s" : ""}`, full, fixed, ceiling);
        await Promise.all(relays.map((r) => r.stop()));
      }
    } finally {
      await pg.stop();
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
if (PARTIAL) Deno.exit(0);

const date = new Date().toISOString().slice(0, 10);
const report = `# Relay benchmark, ${date}${QUICK ? " (--quick)" : ""}

\`deno task bench:relay\` (bench/relay.ts) on ${Deno.build.os} ${Deno.build.arch}, ${navigator.hardwareConcurrency} cores. ${QUEUES} queues, ${SENDERS} sender and ${SUBSCRIBERS} subscriber WebSocket connections,
${WINDOW} SENDs in flight per sender, envelopes of ${envelope.length} bytes. Relays are
\`polycrypt relay\` processes; the clients run in the benchmark's process on the same machine.
"Full load": ${fmt(MESSAGES)} messages sent as fast as the relay answers, each stored durably,
pushed to its subscriber and acknowledged (messages/s = messages / time until the last ACK).
Latency: SEND issued to delivery at the subscriber. "Fixed rate": 1,000 messages/s. Ceiling:
batched inserts (500 rows per transaction) of the same bytes straight into the same store.

| store and relays | full load, msgs/s | full load p50 / p99 ms | 1,000 msgs/s p50 / p99 ms | raw ceiling, msgs/s | ratio | CPU µs/msg relay / clients |
| --- | --- | --- | --- | --- | --- | --- |
${lines.join("\n")}

Load average (1, 5, 15 min) at the start: ${
  loadAtStart.map((l) => l.toFixed(2)).join(", ")
}; at the end: ${
  Deno.loadavg().map((l) => l.toFixed(2)).join(", ")
} (other jobs share the machine: compare the ratio and the CPU per message, not messages/s, across
runs).

Memory: the SQLite relay holding ${fmt(memory?.held ?? 0)} queued messages: ${
  ms(memory?.rss ?? 0)
} MiB RSS (peak ${ms(memory?.peak ?? 0)} MiB while they were sent).
`;
await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
const out = `${ROOT}bench/results/relay-${date}${QUICK ? "-quick" : ""}.md`;
await Deno.writeTextFile(out, report);
console.log(report);
console.error(`written to ${out}`);
