import assert from "node:assert/strict";
import fc from "fast-check";
import { DecryptionError } from "../../mod.ts";
import {
  decodeRatchetState,
  encodeRatchetState,
  MAX_SKIP,
  MAX_SKIPPED_KEYS,
} from "../../sessions/ratchet.ts";
import { newSession, type Peer, suiteOf, text } from "./_ratchet.ts";

type Side = "alice" | "bob";
type Op =
  | { kind: "send"; from: Side; size: number }
  | { kind: "deliver" | "drop" | "replay"; to: Side; pick: number }
  | { kind: "persist"; who: Side };

const side = fc.constantFrom<Side>("alice", "bob");
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("send" as const), from: side, size: fc.nat(300) }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant("deliver" as const), to: side, pick: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("drop" as const), to: side, pick: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("replay" as const), to: side, pick: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("persist" as const), who: side }) },
);

interface InFlight {
  body: Uint8Array;
  data: Uint8Array;
}

/** A failed decryption leaves the state byte-identical. */
async function rejects(peer: Peer, body: Uint8Array) {
  const before = encodeRatchetState(peer.state);
  await assert.rejects(peer.receive(body), DecryptionError);
  assert.deepEqual(encodeRatchetState(peer.state), before);
}

Deno.test("fast-check: random interleavings, reordering, loss, duplicates and restarts", async () => {
  let runs = 0, delivered = 0, replayed = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 100 }), async (ops) => {
      runs++;
      // A KEM step whenever a side has seen 3 messages since its last one: many KEM steps.
      const peers = await newSession(
        suiteOf("ml-kem-512", { policy: { messages: 3, milliseconds: 1e12 } }),
      );
      const inFlight: Record<Side, InFlight[]> = { alice: [], bob: [] }; // by recipient
      const done: Record<Side, InFlight[]> = { alice: [], bob: [] };
      let bobCanSend = false;
      let counter = 0;
      for (const o of ops) {
        if (o.kind === "send") {
          if (o.from === "bob" && !bobCanSend) continue;
          const data = text(`${counter++}:`.padEnd(o.size, "x"));
          const body = await peers[o.from].send(data);
          inFlight[o.from === "alice" ? "bob" : "alice"].push({ body, data });
        } else if (o.kind === "persist") {
          const peer = peers[o.who];
          peer.state = decodeRatchetState(encodeRatchetState(peer.state).slice());
        } else if (o.kind === "replay") {
          const list = done[o.to];
          if (list.length) {
            await rejects(peers[o.to], list[o.pick % list.length].body);
            replayed++;
          }
        } else {
          const list = inFlight[o.to];
          if (!list.length) continue;
          const [m] = list.splice(o.pick % list.length, 1);
          if (o.kind === "drop") continue;
          assert.deepEqual(await peers[o.to].receive(m.body), m.data);
          done[o.to].push(m);
          delivered++;
          if (o.to === "bob") bobCanSend = true;
        }
      }
      // Whatever is still in flight decrypts, in any order, exactly once.
      for (const to of ["alice", "bob"] as const) {
        for (const m of inFlight[to].reverse()) {
          assert.deepEqual(await peers[to].receive(m.body), m.data);
          await rejects(peers[to], m.body);
          delivered++;
        }
      }
    }),
    { numRuns: 200 },
  );
  assert.ok(runs >= 200 && delivered > 1000 && replayed > 100, `${runs} ${delivered} ${replayed}`);
});

Deno.test(`MAX_SKIP: a gap of ${MAX_SKIP} keys is taken, one more is refused`, async () => {
  const { alice, bob } = await newSession(suiteOf("ml-kem-512"));
  const bodies: Uint8Array[] = [];
  for (let i = 0; i <= MAX_SKIP + 1; i++) bodies.push(await alice.send(text(`${i}`)));
  // A new chain whose first message comes after more than MAX_SKIP others.
  await rejects(bob, bodies[MAX_SKIP + 1]);
  assert.deepEqual(await bob.receive(bodies[MAX_SKIP]), text(`${MAX_SKIP}`));
  assert.deepEqual(await bob.receive(bodies[0]), text("0"));
  assert.deepEqual(await bob.receive(bodies[MAX_SKIP + 1]), text(`${MAX_SKIP + 1}`));
  // Within the current chain, too.
  for (let i = 0; i <= MAX_SKIP + 1; i++) bodies.push(await alice.send(text(`b${i}`)));
  const base = MAX_SKIP + 2;
  await rejects(bob, bodies[base + MAX_SKIP + 1]);
  assert.deepEqual(await bob.receive(bodies[base + MAX_SKIP]), text(`b${MAX_SKIP}`));
  // And across a chain change: the rest of the old chain counts against the gap (PN).
  const c = await newSession(suiteOf("ml-kem-512"));
  await c.bob.receive(await c.alice.send(text("first")));
  for (let i = 0; i <= MAX_SKIP; i++) await c.alice.send(text("lost"));
  await c.alice.receive(await c.bob.send(text("reply")));
  await rejects(c.bob, await c.alice.send(text("next chain, PN = 1002")));
});

Deno.test(`at most ${MAX_SKIPPED_KEYS} skipped keys are kept, the oldest dropped first`, async () => {
  const { alice, bob } = await newSession(suiteOf("ml-kem-512"));
  const chains: Uint8Array[][] = [];
  for (const size of [MAX_SKIP + 1, MAX_SKIP + 1, 11]) {
    const chain: Uint8Array[] = [];
    for (let i = 0; i < size; i++) chain.push(await alice.send(text(`${chains.length}.${i}`)));
    chains.push(chain);
    await bob.receive(chain[size - 1]); // skips all the others
    await alice.receive(await bob.send(text("ack")));
  }
  // 1000 + 1000 + 10 were skipped: the first 10 of the first chain are gone.
  const state = decodeRatchetState(encodeRatchetState(bob.state));
  bob.state = state;
  for (let i = 0; i < 10; i++) await rejects(bob, chains[0][i]);
  assert.deepEqual(await bob.receive(chains[0][10]), text("0.10"));
  assert.deepEqual(await bob.receive(chains[1][0]), text("1.0"));
  assert.deepEqual(await bob.receive(chains[2][9]), text("2.9"));
  assert.deepEqual(await bob.receive(chains[0][MAX_SKIP - 1]), text(`0.${MAX_SKIP - 1}`));
});
