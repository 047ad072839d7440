// `polycrypt relay` as real processes (docs/relay.md section 6): kill -9 under a load of 10,000
// messages on SQLite (every answered SEND is fetched afterwards, none twice), two relay processes
// on one PostgreSQL (sent through A, pushed to a subscriber on B at once; A killed under a load of
// 10,000), and no plaintext, public encryption key or IP address in the database files, in a
// pg_dump of every row (bytea as hex), or in the relays' output.
import assert from "node:assert/strict";
import { encrypt, generateIdentity, parseRecipient } from "../../mod.ts";
import { type Inbox, openInbox, RelayClient, RelayError } from "../../relay/mod.ts";
import { spawnCommand } from "../_process.ts";
import { startPostgres } from "./_postgres.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const MARKER = "RELAY-PLAINTEXT-MARKER";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A `polycrypt relay` process, and what it printed once it is gone. */
class RelayProcess {
  readonly child: Deno.ChildProcess;
  readonly output: Promise<string>;
  constructor(readonly url: string, store: string) {
    this.child = spawnCommand("deno", [
      "run",
      "--allow-all",
      `${ROOT}cli/main.ts`,
      "relay",
      "--on",
      url,
      "--store",
      store,
    ]);
    this.output = this.child.output().then((o) =>
      new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr)
    );
  }
  static async start(url: string, store: string): Promise<RelayProcess> {
    const relay = new RelayProcess(url, store);
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        const client = await RelayClient.connect(url, { timeoutMs: 5000 });
        await client.close();
        return relay;
      } catch {
        if (Date.now() > deadline) {
          throw new Error(`the relay did not start: ${await relay.stop()}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  kill9(): Promise<string> {
    try {
      this.child.kill("SIGKILL");
    } catch { /* gone */ }
    return this.output;
  }
  stop(): Promise<string> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone */ }
    return this.output;
  }
}

interface Job {
  sid: Uint8Array;
  id: Uint8Array;
  envelope: Uint8Array;
}

/**
 * Sends every job over `workers` connections; a SEND that fails (the relay died) is retried with
 * the same message id, on `pick()`'s relay, until it is answered. Resolves with the answered ids.
 */
async function sendAll(
  jobs: Job[],
  workers: number,
  pick: (worker: number, failures: number) => string,
  answered: Set<string>,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    let client: RelayClient | undefined;
    let failures = 0;
    while (next < jobs.length) {
      const job = jobs[next++];
      for (;;) {
        try {
          client ??= await RelayClient.connect(pick(w, failures), { timeoutMs: 20_000 });
          await client.send(job.sid, job.envelope, { messageId: job.id });
          answered.add(job.id.toHex());
          break;
        } catch (e) {
          if (e instanceof RelayError) throw e; // refused: a bug, not a crash
          failures++;
          await client?.close().catch(() => {});
          client = undefined;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
    await client?.close();
  }));
}

/** Fetches and acknowledges everything in the inboxes; returns each id with how often it came. */
async function drain(url: string, inboxes: Inbox[]): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  await Promise.all(inboxes.map(async (inbox) => {
    const client = await RelayClient.connect(url, { timeoutMs: 60_000 });
    for (;;) {
      const m = await client.fetch(inbox.receivingId, inbox.key);
      if (!m) break;
      seen.set(m.id.toHex(), (seen.get(m.id.toHex()) ?? 0) + 1);
      await client.ack(inbox.receivingId, inbox.key, m.id);
    }
    await client.close();
  }));
  return seen;
}

async function setUp(url: string, queues: number, messages: number) {
  const bob = await generateIdentity("x25519");
  const client = await RelayClient.connect(url);
  const inboxes: Inbox[] = [];
  for (let i = 0; i < queues; i++) inboxes.push(await openInbox(client));
  await client.close();
  const envelopes = await Promise.all(
    Array.from(
      { length: 25 },
      (_, i) =>
        encrypt(new TextEncoder().encode(`${MARKER} ${i} meet at 7`), {
          recipients: [bob.recipient],
        }),
    ),
  );
  const jobs: Job[] = Array.from({ length: messages }, (_, i) => ({
    sid: inboxes[i % queues].sendingId,
    id: crypto.getRandomValues(new Uint8Array(16)),
    envelope: envelopes[i % envelopes.length],
  }));
  return { bob, inboxes, jobs };
}

function checkDelivery(answered: Set<string>, seen: Map<string, number>, jobs: Job[]) {
  const sent = new Set(jobs.map((j) => j.id.toHex()));
  const missing = [...answered].filter((id) => !seen.has(id));
  const twice = [...seen.values()].filter((n) => n > 1).length;
  const unknown = [...seen.keys()].filter((id) => !sent.has(id)).length;
  assert.equal(missing.length, 0, `${missing.length} answered SENDs were not delivered`);
  assert.equal(twice, 0, `${twice} messages were delivered twice`);
  assert.equal(unknown, 0);
  assert.equal(answered.size, jobs.length);
}

/** Fails if `haystack` holds any of the needles (the name says which). */
function assertAbsent(where: string, haystack: Uint8Array, needles: Record<string, Uint8Array>) {
  const text = new TextDecoder("latin1").decode(haystack);
  for (const [name, needle] of Object.entries(needles)) {
    const n = new TextDecoder("latin1").decode(needle);
    assert.equal(text.includes(n), false, `${where} contains ${name}`);
  }
}

/**
 * What must not be stored or printed. IP addresses are looked for as text: four binary bytes such
 * as 7f 00 00 01 occur by chance in a database file's own structures.
 */
function secrets(bob: { recipient: string }, withIp = true): Record<string, Uint8Array> {
  const e = new TextEncoder();
  return {
    "the plaintext": e.encode(MARKER),
    "the recipient string": e.encode(bob.recipient),
    "the public encryption key": parseRecipient(bob.recipient).publicKey,
    ...(withIp ? { "an IP address": e.encode("127.0.0.1") } : {}),
  };
}

/** The needles as lower-case hex too, as PostgreSQL prints bytea (`\\x...`). */
function hexForms(needles: Record<string, Uint8Array>): Record<string, Uint8Array> {
  return Object.fromEntries(
    Object.entries(needles).map((
      [name, bytes],
    ) => [`${name} (as hex)`, new TextEncoder().encode(bytes.toHex())]),
  );
}

Deno.test({
  name: "SQLite: kill -9 under a load of 10,000 messages; every answered SEND is fetched once",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const url = `ws://127.0.0.1:${freePort()}`;
    const store = `sqlite:${dir}/relay.db`;
    let relay = await RelayProcess.start(url, store);
    const outputs: string[] = [];
    try {
      const { bob, inboxes, jobs } = await setUp(url, 10, 10_000);
      const answered = new Set<string>();
      const started = Date.now();
      const sending = sendAll(jobs, 24, () => url, answered);
      while (answered.size < 3000) await new Promise((r) => setTimeout(r, 5));
      const atKill = answered.size;
      outputs.push(await relay.kill9());
      relay = await RelayProcess.start(url, store);
      await sending;
      const sendMs = Date.now() - started;
      const seen = await drain(url, inboxes);
      checkDelivery(answered, seen, jobs);
      console.log(
        `killed after ${atKill} answered; 10,000 sent in ${sendMs} ms with the restart; ` +
          `${seen.size} fetched once each`,
      );
      outputs.push(await relay.stop());
      for (const name of ["relay.db", "relay.db-wal", "relay.db-shm"]) {
        const bytes = await Deno.readFile(`${dir}/${name}`).catch(() => undefined);
        if (bytes) assertAbsent(name, bytes, secrets(bob));
      }
      const printed = outputs.join("\n");
      assertAbsent(
        "the relay's output",
        new TextEncoder().encode(printed.replaceAll(url, "")),
        secrets(bob),
      );
      for (const inbox of inboxes) {
        assert.equal(printed.includes(inbox.sendingId.toHex()), false);
        assert.equal(printed.includes(inbox.receivingId.toHex()), false);
      }
    } finally {
      await relay.kill9();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "PostgreSQL: two relay processes; sent through A, pushed on B; A killed under a load of 10,000",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const pg = await startPostgres();
    const a = `ws://127.0.0.1:${freePort()}`;
    const b = `tcp://127.0.0.1:${freePort()}`;
    const db = await pg.database("relay");
    let relayA: RelayProcess | undefined;
    let relayB: RelayProcess | undefined;
    const outputs: string[] = [];
    try {
      relayA = await RelayProcess.start(a, db);
      relayB = await RelayProcess.start(b, db);
      const { bob, inboxes, jobs } = await setUp(a, 10, 10_000);

      // A subscriber on B gets what is sent through A at once (LISTEN/NOTIFY).
      const phone = await RelayClient.connect(b);
      const messages = await phone.subscribe(inboxes[0].receivingId, inboxes[0].key);
      const alice = await RelayClient.connect(a);
      const latencies: number[] = [];
      const iterator = messages[Symbol.asyncIterator]();
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const id = await alice.send(inboxes[0].sendingId, jobs[i].envelope);
        const got = await iterator.next();
        latencies.push(performance.now() - t0);
        assert.deepEqual(got.value?.id, id);
        await phone.ack(inboxes[0].receivingId, inboxes[0].key, id);
      }
      await alice.close();
      await phone.close();
      latencies.sort((x, y) => x - y);
      console.log(
        `SEND on A to delivery on B: median ${latencies[10].toFixed(1)} ms, max ${
          latencies.at(-1)!.toFixed(1)
        } ms`,
      );

      // Half the senders on A, half on B; A is killed; its senders go to B with the same ids.
      const answered = new Set<string>();
      let aDead = false;
      const sending = sendAll(
        jobs,
        16,
        (w, failures) => (w % 2 === 0 && failures === 0 && !aDead ? a : b),
        answered,
      );
      const started = Date.now();
      while (answered.size < 3000) await new Promise((r) => setTimeout(r, 5));
      const atKill = answered.size;
      aDead = true;
      outputs.push(await relayA.kill9());
      await sending;
      const sendMs = Date.now() - started;
      // Before the drain: the messages are in the database now.
      const stored = await pg.dump("relay");
      const seen = await drain(b, inboxes);
      checkDelivery(answered, seen, jobs);
      console.log(
        `A killed after ${atKill} answered; 10,000 sent in ${sendMs} ms; ${seen.size} fetched ` +
          `from B, once each`,
      );
      outputs.push(await relayB.stop());
      const printed = outputs.join("\n").replaceAll(a, "").replaceAll(b, "")
        .replaceAll(db.replace("postgres://", ""), "");
      assertAbsent("the relays' output", new TextEncoder().encode(printed), secrets(bob));
      // The cluster's files: no plaintext or key (its own config names its listening address).
      const dump = new Deno.Command("bash", {
        args: ["-c", `find "$1" -type f -exec cat {} +`, "bash", pg.dataDir],
        stdout: "piped",
        stderr: "null",
      });
      const files = (await dump.output()).stdout;
      assert.ok(files.length > 1_000_000);
      assertAbsent("the PostgreSQL files", files, secrets(bob, false));
      // Every row, as pg_dump prints it (bytea as hex): the rows of 10,000 messages were there.
      const envelopeHex = jobs.reduce((n, j) => n + 2 * j.envelope.length, 0);
      assert.ok(stored.length > envelopeHex, `a dump of ${stored.length} bytes`);
      const storedText = new TextDecoder("latin1").decode(stored);
      assert.ok(
        jobs.every((j, i) => i > 50 || storedText.includes(j.envelope.subarray(0, 64).toHex())),
        "the dump does not show the stored envelopes",
      );
      assertAbsent("pg_dump of the relay database", stored, {
        ...secrets(bob),
        ...hexForms(secrets(bob)),
      });
      assertAbsent("pg_dump after the drain", await pg.dump("relay"), {
        ...secrets(bob),
        ...hexForms(secrets(bob)),
      });
    } finally {
      await relayA?.kill9();
      await relayB?.kill9();
      await pg.stop();
    }
  },
});
