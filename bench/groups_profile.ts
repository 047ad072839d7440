// Where the wrapper's time per group application message goes (docs/performance.md, "MLS
// groups"): a group of N members (default 100), a sender and a reader with SQLite stores wrapped
// to count each commit's records, bytes and time; ts-mls alone interleaved for the ratio.
//
//   deno run -A bench/groups_profile.ts [N] [messages] [sqlite|memory]
import {
  type ClientState,
  createApplicationMessage,
  decodeMlsMessage,
  encodeMlsMessage,
  makePskIndex,
  processPrivateMessage,
} from "ts-mls";
import { generateIdentity } from "../mod.ts";
import { SqliteSessionStore } from "../sessions/sqlite_store.ts";
import { MemorySessionStore, type SessionStore, type StoreChange } from "../sessions/store.ts";
import { DEFAULT_GROUP_SUITE, MemoryGroupDelivery, openGroups, queueId } from "../groups/mod.ts";
import { suiteImpl } from "../groups/_suites.ts";

const N = Number(Deno.args[0] ?? 100);
const COUNT = Number(Deno.args[1] ?? 200);
const MESSAGE = new Uint8Array(1024).fill(0x61);

/** A store that times its commits and counts what they write. */
class Counting implements SessionStore {
  commits = 0;
  records = 0;
  bytes = 0;
  ms = 0;
  constructor(readonly inner: SessionStore) {}
  get(key: string) {
    return this.inner.get(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  async commit(changes: readonly StoreChange[], options?: { durable?: boolean }) {
    const t = performance.now();
    await this.inner.commit(changes, options);
    this.ms += performance.now() - t;
    this.commits++;
    this.records += changes.length;
    for (const c of changes) this.bytes += c.value?.length ?? 0;
  }
  reset() {
    this.commits =
      this.records =
      this.bytes =
      this.ms =
        0;
  }
}

const dir = await Deno.makeTempDir();
const MEMORY = Deno.args[2] === "memory";
const stores = [0, 1].map((i) =>
  new Counting(MEMORY ? new MemorySessionStore() : new SqliteSessionStore(`${dir}/m${i}.db`))
);
const open = async (store?: SessionStore) =>
  openGroups({ identity: (await generateIdentity()).identity, store });
const alice = await open(stores[0]);
const bob = await open(stores[1]);
const group = await alice.create();
const others: Uint8Array[] = [];
for (let i = 0; i < N - 2; i++) others.push(await (await open()).keyPackage());
const ds = new MemoryGroupDelivery();
await ds.create(queueId(group), await alice.epoch(group));
const commit = await alice.add(group, [await bob.keyPackage(), ...others]);
await alice.publish(ds, commit);
await bob.join(commit.welcome!, { cursor: await alice.cursor(group) });

// ts-mls alone: take copies of the states through the public API of the wrapper is not possible;
// build a raw pair from the same group is not either, so the raw figure comes from a raw group.
const cs = await suiteImpl(DEFAULT_GROUP_SUITE);
const { rawPair } = await import("./_groups_raw.ts");
let [rawSender, rawReader]: ClientState[] = await rawPair(N);

for (const s of stores) s.reset();
const enc: number[] = [], dec: number[] = [], rawEnc: number[] = [], rawDec: number[] = [];
for (let i = 0; i < COUNT; i++) {
  let t = performance.now();
  const m = await alice.encrypt(group, MESSAGE);
  enc.push(performance.now() - t);
  t = performance.now();
  await bob.process(m);
  dec.push(performance.now() - t);
  t = performance.now();
  // ts-mls's own encrypt and decrypt as an application uses them: to bytes and from bytes.
  const r = await createApplicationMessage(rawSender, MESSAGE, cs);
  const wire = encodeMlsMessage({
    version: "mls10",
    wireformat: "mls_private_message",
    privateMessage: r.privateMessage,
  });
  rawEnc.push(performance.now() - t);
  rawSender = r.newState;
  t = performance.now();
  const decoded = decodeMlsMessage(wire, 0)![0];
  if (decoded.wireformat !== "mls_private_message") throw new Error("not a private message");
  const p = await processPrivateMessage(
    rawReader,
    decoded.privateMessage,
    makePskIndex(rawReader, {}),
    cs,
  );
  rawDec.push(performance.now() - t);
  if (p.kind !== "applicationMessage") throw new Error("not an application message");
  rawReader = p.newState;
}
const per = (x: number) => (x / COUNT).toFixed(3);
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const line = (name: string, ours: number[], raw: number[]) =>
  console.log(
    `${name}: median ours ${median(ours).toFixed(3)} ms, ts-mls ${
      median(raw).toFixed(3)
    } ms, ratio ${(median(ours) / median(raw)).toFixed(2)}; mean ratio ${
      (sum(ours) / sum(raw)).toFixed(2)
    }`,
  );
console.log(
  `${N} members, ${COUNT} messages, ${MEMORY ? "memory" : "SQLite"} stores, load ${
    Deno.loadavg()[0].toFixed(2)
  }`,
);
line("encrypt", enc, rawEnc);
line("decrypt", dec, rawDec);
for (const [name, s] of [["sender", stores[0]], ["reader", stores[1]]] as const) {
  console.log(
    `${name} store: ${(s.commits / COUNT).toFixed(2)} commits/msg, ${
      (s.records / COUNT).toFixed(2)
    } records/msg, ${(s.bytes / COUNT).toFixed(0)} bytes/msg, ${per(s.ms)} ms/msg in commit`,
  );
}
await Deno.remove(dir, { recursive: true });
