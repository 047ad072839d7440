// fast-check over random sequences of add / remove / update / message in groups of 2 to 8
// members (suite 1, in memory): every member in the group when a message is sent decrypts it, and
// nobody else does (former members and accounts never added).
import assert from "node:assert/strict";
import fc from "fast-check";
import { DecryptionError, generateIdentity } from "../../mod.ts";
import {
  type GroupAccount,
  INTEROP_GROUP_SUITE,
  MemoryGroupDelivery,
  openGroups,
  queueId,
} from "../../groups/mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const POOL = 8;

type Op =
  | { op: "add"; who: number }
  | { op: "remove"; who: number; by: number }
  | { op: "update"; by: number }
  | { op: "message"; by: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("add" as const), who: fc.nat(POOL - 1) }),
  fc.record({ op: fc.constant("remove" as const), who: fc.nat(POOL - 1), by: fc.nat(POOL - 1) }),
  fc.record({ op: fc.constant("update" as const), by: fc.nat(POOL - 1) }),
  fc.record({ op: fc.constant("message" as const), by: fc.nat(POOL - 1) }),
);

// Identities are made once (ML-DSA key generation is the slow part); accounts fresh per run.
const identities = await Promise.all(
  Array.from({ length: POOL }, async () => (await generateIdentity()).identity),
);

Deno.test("groups: random add/remove/update/message sequences (2-8 members)", async () => {
  let messagesChecked = 0;
  let refusals = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 4, maxLength: 14 }), async (ops) => {
      const ds = new MemoryGroupDelivery();
      const accounts: GroupAccount[] = await Promise.all(
        identities.map((identity) => openGroups({ identity, suite: INTEROP_GROUP_SUITE })),
      );
      const group = await accounts[0].create();
      await ds.create(queueId(group), 0n);
      const inGroup = new Set<number>([0]);
      // Everyone starts with a second member so that the group has 2 to 8.
      const add = async (who: number, by: number) => {
        const kp = await accounts[who].keyPackage();
        const commit = await accounts[by].add(group, [kp], [accounts[who].fingerprint]);
        await accounts[by].publish(ds, commit);
        await accounts[who].join(commit.welcome!, { cursor: await accounts[by].cursor(group) });
        inGroup.add(who);
      };
      await add(1, 0);
      const syncAll = async () => {
        for (const i of inGroup) await accounts[i].sync(ds, group);
      };
      const pick = (n: number) => [...inGroup][n % inGroup.size];
      for (const step of ops) {
        await syncAll();
        if (step.op === "add") {
          if (inGroup.size >= POOL || inGroup.has(step.who)) continue;
          await add(step.who, pick(step.who));
        } else if (step.op === "remove") {
          const who = pick(step.who);
          const by = pick(step.by);
          if (inGroup.size <= 2 || who === by) continue;
          await accounts[by].publish(
            ds,
            await accounts[by].remove(group, [accounts[who].fingerprint]),
          );
          const { events } = await accounts[who].sync(ds, group);
          assert.equal(events.at(-1)?.type, "removed");
          inGroup.delete(who);
        } else if (step.op === "update") {
          const by = pick(step.by);
          await accounts[by].publish(ds, await accounts[by].update(group));
        } else {
          const by = pick(step.by);
          const text = `m${messagesChecked} from ${by}`;
          const epoch = await accounts[by].epoch(group);
          const envelope = await accounts[by].encrypt(group, te.encode(text));
          await ds.post(queueId(group), "application", epoch, envelope);
          for (let i = 0; i < POOL; i++) {
            if (i === by) continue;
            if (inGroup.has(i)) {
              const { events, errors } = await accounts[i].sync(ds, group);
              assert.deepEqual(errors, []);
              const got = events.filter((e) => e.type === "message");
              assert.equal(got.length, 1);
              assert.ok(got[0].type === "message");
              assert.equal(td.decode(got[0].data), text);
              assert.equal(got[0].sender.fingerprint, accounts[by].fingerprint);
            } else {
              await assert.rejects(accounts[i].process(envelope), DecryptionError);
              refusals++;
            }
          }
          messagesChecked++;
        }
      }
      // All members end at the same epoch.
      await syncAll();
      const epochs = new Set<bigint>();
      for (const i of inGroup) epochs.add(await accounts[i].epoch(group));
      assert.equal(epochs.size, 1);
    }),
    { numRuns: 40 },
  );
  assert.ok(messagesChecked > 5, `${messagesChecked} messages checked`);
  assert.ok(refusals > 5, `${refusals} refusals checked`);
});
