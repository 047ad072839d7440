/**
 * The signed chat round trip alone (issue 21's "a signed 1 KiB chat message ... at least 600
 * round trips per second"), with where its CPU time goes: the report's workload
 * (bench/report/signatures.ts, `chatRoundTrips`) without the rest of the protocol, so that it can
 * be repeated and compared quickly. docs/performance.md, "Signed chat round trip", has the runs.
 *
 * A round trip is `encrypt` of 1 KiB from one default identity to another with `sender`, then
 * `decryptWithSender` with `verify` naming the sender. Beside it, in the same rounds: the unsigned
 * round trip and the hybrid's sign + verify alone (what the signatures cost without an envelope),
 * and, with `--before DIR`, the signed round trip of another checkout of polycrypt (e.g. `git
 * archive <rev> | tar -x -C DIR`), so that before and after are measured under the same load.
 *
 * Each figure is the median of `--rounds` rounds; a round runs every case for `--ms`
 * milliseconds with `--lanes` round trips in flight (default 4, two per core as the report's), and
 * one at a time. CPU time is the process's, every thread; on Linux it is also split by thread:
 * the JavaScript thread ("main", the one that bounds the rate), Deno's thread pool (WebCrypto's
 * ML-DSA and ML-KEM, large AES-GCM inputs) and the rest (V8's garbage collector helpers).
 *
 * Run: `deno run -A bench/chat_signed.ts [--rounds 5] [--ms 1000] [--lanes 4] [--before DIR]`
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import * as current from "../mod.ts";

type Polycrypt = Pick<
  typeof current,
  "decrypt" | "decryptWithSender" | "encrypt" | "generateIdentity" | "registry"
>;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    ms: { type: "string", default: "1000" },
    lanes: { type: "string", default: "4" },
    before: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const ms = Number(values.ms);
const lanes = Number(values.lanes);

/** CPU milliseconds so far by kind of thread, from /proc (undefined where there is none). */
function threadTimes(): Record<string, number> | undefined {
  try {
    const out: Record<string, number> = { main: 0, pool: 0, other: 0 };
    for (const task of Deno.readDirSync("/proc/self/task")) {
      const dir = `/proc/self/task/${task.name}`;
      // schedstat: nanoseconds on a CPU; stat: the thread's name, in parentheses.
      const onCpu = Number(Deno.readTextFileSync(`${dir}/schedstat`).split(" ")[0]) / 1e6;
      const stat = Deno.readTextFileSync(`${dir}/stat`);
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const kind = task.name === String(Deno.pid)
        ? "main"
        : name.startsWith("tokio-runtime")
        ? "pool"
        : "other";
      out[kind] += onCpu;
    }
    return out;
  } catch {
    return undefined;
  }
}

interface Rate {
  perS: number;
  /** CPU ms per round trip, every thread. */
  cpu: number;
  /** CPU ms per round trip by kind of thread, where /proc tells. */
  threads?: Record<string, number>;
}

async function rate(run: () => Promise<unknown>, n: number): Promise<Rate> {
  let done = 0;
  const before = threadTimes();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const lane = async () => {
    while (performance.now() - start < ms) {
      await run();
      done++;
    }
  };
  await Promise.all(Array.from({ length: n }, lane));
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const after = threadTimes();
  const threads = before && after
    ? Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] - before[k]) / done]))
    : undefined;
  return { perS: done * 1000 / wall, cpu: (used.user + used.system) / 1000 / done, threads };
}

async function signedRoundTrip(p: Polycrypt): Promise<() => Promise<void>> {
  const data = new Uint8Array(1024).fill(3);
  const [alice, bob] = [await p.generateIdentity(), await p.generateIdentity()];
  return async () => {
    const sealed = await p.encrypt(data, { recipients: [bob.recipient], sender: alice.identity });
    const opened = await p.decryptWithSender(sealed, {
      identities: [bob.identity],
      verify: [alice.recipient],
    });
    if (opened.data.length !== data.length || !opened.sender) {
      throw new Error("signed round trip failed");
    }
  };
}

async function unsignedRoundTrip(p: Polycrypt): Promise<() => Promise<void>> {
  const data = new Uint8Array(1024).fill(3);
  const [alice, bob] = [await p.generateIdentity(), await p.generateIdentity()];
  void alice;
  return async () => {
    const sealed = await p.encrypt(data, { recipients: [bob.recipient] });
    if ((await p.decrypt(sealed, { identities: [bob.identity] })).length !== data.length) {
      throw new Error("round trip failed");
    }
  };
}

async function signaturesAlone(p: Polycrypt): Promise<() => Promise<void>> {
  const hybrid = p.registry.signature("ed25519+ml-dsa-65");
  const keys = await hybrid.generateKeyPair();
  // What an envelope signs: the label and three SHA-512 hashes (docs/format.md section 3.1).
  const message = new Uint8Array(28 + 3 * 64).fill(5);
  return async () => {
    const signature = await hybrid.sign(keys.secretKey, message);
    if (!await hybrid.verify(keys.publicKey, message, signature)) throw new Error("bad signature");
  };
}

const cases: [string, () => Promise<void>][] = [
  ["signed round trip", await signedRoundTrip(current)],
];
if (values.before) {
  const dir = values.before.startsWith("/") ? values.before : `${Deno.cwd()}/${values.before}`;
  const before = await import(`file://${dir}/mod.ts`) as Polycrypt;
  cases.push(["signed round trip, --before", await signedRoundTrip(before)]);
}
cases.push(
  ["unsigned round trip", await unsignedRoundTrip(current)],
  ["ed25519+ml-dsa-65 sign + verify alone", await signaturesAlone(current)],
);
for (const [, run] of cases) for (let i = 0; i < 20; i++) await run();

const load = () => Deno.loadavg().map((x) => x.toFixed(1)).join(" ");
const loadBefore = load();
const got = cases.map(() => ({ inFlight: [] as Rate[], sequential: [] as Rate[] }));
for (let round = 0; round < rounds; round++) {
  for (const [i, [, run]] of cases.entries()) {
    got[i].inFlight.push(await rate(run, lanes));
    got[i].sequential.push(await rate(run, 1));
  }
}
const median = (xs: number[]) => {
  const s = xs.toSorted((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (x: number, d = 0) =>
  x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(
  `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, load average ${loadBefore}` +
    ` before and ${load()} after; median of ${rounds} rounds of ${ms} ms`,
);
console.log();
console.log(
  `| 1 KiB, default identities | ${lanes} in flight /s | CPU ms each (main / pool / other) | one at a time /s | CPU ms each |`,
);
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const [i, [name]] of cases.entries()) {
  const { inFlight, sequential } = got[i];
  const split = inFlight[0].threads
    ? ` (${
      ["main", "pool", "other"].map((k) => f(median(inFlight.map((r) => r.threads![k])), 2))
        .join(" / ")
    })`
    : "";
  console.log(
    `| ${name} | ${f(median(inFlight.map((r) => r.perS)))} | ${
      f(median(inFlight.map((r) => r.cpu)), 2)
    }${split} | ${f(median(sequential.map((r) => r.perS)))} | ${
      f(median(sequential.map((r) => r.cpu)), 2)
    } |`,
  );
}
