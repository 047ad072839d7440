// Delivery schedules (fast-check): random interleavings of both directions, reordering, loss
// and duplication, with both accounts closed and reopened from their SQLite databases between
// steps; and a real child process that continues a session from the same database.
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Account, createAccount, DecryptionError, SqliteSessionStore } from "../../mod.ts";
import { runDenoScript } from "../_process.ts";
import { CountingStore, dec, enc, identity, withTempDir } from "./_account_helpers.ts";

type Side = 0 | 1; // 0: Alice, 1: Bob
type Op =
  | { op: "send"; from: Side }
  | { op: "deliver"; pick: number }
  | { op: "duplicate"; pick: number }
  | { op: "drop"; pick: number }
  | { op: "restart" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant("send" as const), from: fc.constantFrom<Side>(0, 1) }),
  },
  { weight: 5, arbitrary: fc.record({ op: fc.constant("deliver" as const), pick: fc.nat(1000) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("duplicate" as const), pick: fc.nat(1000) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("drop" as const), pick: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("restart" as const) }) },
);

interface Flight {
  to: Side;
  bytes: Uint8Array;
  text: string;
}

/** Runs one schedule on two accounts whose databases live in `dir`. */
interface Stats {
  delivered: number;
  duplicates: number;
  restarts: number;
  late: number;
}

async function runSchedule(dir: string, ops: Op[], policyMessages: number): Promise<Stats> {
  const stats: Stats = { delivered: 0, duplicates: 0, restarts: 0, late: 0 };
  const ids = [await identity(1), await identity(0)];
  const policy = { messages: policyMessages, milliseconds: 3_600_000 };
  const stores: CountingStore[] = [];
  const accounts: Account[] = [];
  const open = async () => {
    for (const side of [0, 1] as const) {
      stores[side] = new CountingStore(new SqliteSessionStore(`${dir}/${side}.db`));
      accounts[side] = await createAccount({
        identity: ids[side].identity,
        store: stores[side],
        policy,
      });
    }
  };
  await open();
  const bundle = await accounts[1].prekeyBundle({ oneTimeKeys: 1 });
  const fingerprints = [accounts[0].fingerprint, accounts[1].fingerprint];
  const hasSession = [false, false];
  const inFlight: Flight[] = [];
  const delivered: Flight[] = [];
  let counter = 0;
  try {
    for (const step of ops) {
      switch (step.op) {
        case "send": {
          const from = step.from;
          if (from === 1 && !hasSession[1]) break; // Bob has nobody to write to yet
          const text = `${from ? "bob" : "alice"} ${counter++}`;
          const to = fingerprints[1 - from];
          const bytes = from === 0 && !hasSession[0]
            ? await accounts[0].encrypt(bundle, enc(text))
            : await accounts[from].encrypt(to, enc(text));
          hasSession[from] = true;
          inFlight.push({ to: (1 - from) as Side, bytes, text });
          break;
        }
        case "deliver": {
          if (inFlight.length === 0) break;
          const [m] = inFlight.splice(step.pick % inFlight.length, 1);
          const got = await accounts[m.to].decrypt(m.bytes);
          assert.equal(dec(got.data), m.text);
          assert.equal(got.from, fingerprints[1 - m.to]);
          hasSession[m.to] = true;
          delivered.push(m);
          stats.delivered++;
          break;
        }
        case "duplicate": {
          if (delivered.length === 0) break;
          const m = delivered[step.pick % delivered.length];
          const commits = stores[m.to].commits;
          await assert.rejects(accounts[m.to].decrypt(m.bytes), DecryptionError);
          assert.equal(stores[m.to].commits, commits, "a duplicate changes nothing");
          stats.duplicates++;
          break;
        }
        case "drop":
          if (inFlight.length > 0) inFlight.splice(step.pick % inFlight.length, 1);
          break;
        case "restart":
          for (const a of accounts) await a.close();
          await open();
          stats.restarts++;
          break;
      }
    }
    // Everything still in flight arrives in the end, in reverse order.
    for (const m of inFlight.reverse()) {
      assert.equal(dec((await accounts[m.to].decrypt(m.bytes)).data), m.text);
      stats.late++;
    }
    return stats;
  } finally {
    for (const a of accounts) await a.close();
  }
}

Deno.test("fast-check: interleavings, reordering, loss and duplicates across restarts (SQLite)", async () => {
  const total: Stats = { delivered: 0, duplicates: 0, restarts: 0, late: 0 };
  await fc.assert(
    fc.asyncProperty(
      fc.array(opArb, { minLength: 10, maxLength: 60 }),
      fc.constantFrom(1, 3, 50),
      async (ops, policy) => {
        await withTempDir(async (dir) => {
          const stats = await runSchedule(dir, [{ op: "send", from: 0 }, ...ops], policy);
          for (const k of Object.keys(total) as (keyof Stats)[]) total[k] += stats[k];
        });
      },
    ),
    { numRuns: 40 },
  );
  // The schedules did exercise every kind of step.
  assert.ok(
    total.delivered > 100 && total.duplicates > 10 && total.restarts > 10,
    JSON.stringify(total),
  );
  console.log(`schedules: ${JSON.stringify(total)}`);
});

Deno.test("a schedule with long gaps: 300 messages lost or held back, then delivered late", async () => {
  await withTempDir(async (dir) => {
    const ops: Op[] = [
      { op: "send", from: 0 },
      { op: "deliver", pick: 0 },
      { op: "send", from: 1 },
      { op: "deliver", pick: 0 },
    ];
    for (let i = 0; i < 300; i++) ops.push({ op: "send", from: (i % 7 === 0 ? 1 : 0) as Side });
    for (let i = 0; i < 100; i++) ops.push({ op: "drop", pick: i * 13 });
    ops.push({ op: "restart" });
    for (let i = 0; i < 50; i++) ops.push({ op: "deliver", pick: i * 31 });
    const stats = await runSchedule(dir, ops, 50);
    assert.equal(stats.delivered, 52);
    assert.equal(stats.late, 302 - 52 - 100);
  });
});

Deno.test("a child process continues the session from the same database", async () => {
  await withTempDir(async (dir) => {
    const [alice, bob] = [await identity(1), await identity(0)];
    const a = await createAccount({
      identity: alice.identity,
      store: new SqliteSessionStore(`${dir}/alice.db`),
    });
    let b = await createAccount({
      identity: bob.identity,
      store: new SqliteSessionStore(`${dir}/bob.db`),
    });
    await b.decrypt(await a.encrypt(await b.prekeyBundle({ oneTimeKeys: 1 }), enc("one")));
    await a.decrypt(await b.encrypt(a.fingerprint, enc("two")));
    const pending = await a.encrypt(b.fingerprint, enc("three"));
    await b.close();
    await Deno.writeFile(`${dir}/in.msg`, pending);
    // The child gets Bob's identity in its program text (stdin), never in its arguments.
    const mod = new URL("../../mod.ts", import.meta.url).href;
    const script = `
      import { createAccount, SqliteSessionStore } from ${JSON.stringify(mod)};
      const dir = ${JSON.stringify(dir)};
      const bob = await createAccount({
        identity: ${JSON.stringify(bob.identity)},
        store: new SqliteSessionStore(dir + "/bob.db"),
      });
      const { from, data } = await bob.decrypt(await Deno.readFile(dir + "/in.msg"));
      const reply = await bob.encrypt(from, new TextEncoder().encode("four, after " + new TextDecoder().decode(data)));
      await Deno.writeFile(dir + "/out.msg", reply);
      console.log(from);
      await bob.close();
    `;
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const child = await runDenoScript(script, [
      `--config=${config}`,
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      "--allow-env",
    ], 120_000);
    assert.equal(child.code, 0, child.stderr);
    assert.equal(child.stdout.trim(), a.fingerprint);
    const reply = await a.decrypt(await Deno.readFile(`${dir}/out.msg`));
    assert.equal(dec(reply.data), "four, after three");
    // The child's commit is what this process reads: the message it read stays read.
    b = await createAccount({
      identity: bob.identity,
      store: new SqliteSessionStore(`${dir}/bob.db`),
    });
    await assert.rejects(b.decrypt(pending), DecryptionError);
    await b.decrypt(await a.encrypt(b.fingerprint, enc("five")));
    assert.equal(dec((await a.decrypt(await b.encrypt(a.fingerprint, enc("six")))).data), "six");
    await a.close();
    await b.close();
  });
});
