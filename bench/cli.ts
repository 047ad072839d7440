/**
 * `deno task bench:cli`: the polycrypt command line against `age` on the same files in the same
 * run (issue 22, "File speed at least age's"):
 *
 * - encrypting and decrypting a random file (default 1 GiB) to one recipient (polycrypt's default
 *   identity, X25519+ML-KEM-768, AES-256-GCM; age's X25519), file to file: wall time, MB/s and the
 *   peak RSS of each process;
 * - a 1 KiB message's round trip (encrypt, then decrypt, two processes each), start-up included;
 * - the floors that bound it: an empty `deno run` and polycrypt's `--version`.
 *
 * polycrypt runs as a user runs it: the installed `polycrypt` when one is on PATH, else
 * `deno run` with the `cli` task's own flags from deno.json. `age` comes from PATH, installed
 * with `apt-get install -y age` when missing (and allowed). Each round runs the two tools back to
 * back, alternating which goes first, and every ratio is the median of the rounds' own ratios:
 * this machine's speed drifts within minutes (docs/performance.md).
 *
 * Run: `deno task bench:cli [--size MiB] [--rounds N] [--small-rounds N] [--out FILE.md]`.
 * Writes `bench/results/cli-<date>.md` (or `--out`) and prints the same table.
 *
 * @module
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    size: { type: "string", default: "1024" },
    rounds: { type: "string", default: "3" },
    "small-rounds": { type: "string", default: "10" },
    out: { type: "string" },
  },
});
const sizeMiB = Number(values.size);
const rounds = Number(values.rounds);
const smallRounds = Number(values["small-rounds"]);
if (!(sizeMiB >= 1 && rounds >= 1 && smallRounds >= 1)) {
  throw new RangeError("--size, --rounds and --small-rounds must be positive numbers");
}

const root = new URL("../", import.meta.url);
const decoder = new TextDecoder();

/** Runs a command to its end; its output as text. */
async function run(cmd: string, args: string[], cwd?: string) {
  const out = await new Deno.Command(cmd, { args, cwd, stdin: "null" }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function onPath(cmd: string): Promise<boolean> {
  try {
    return (await run("sh", ["-c", `command -v ${cmd}`])).code === 0;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ the two tools

/** polycrypt as a user runs it: the installed binary, else the `cli` task's command line. */
async function polycryptCommand(): Promise<{ cmd: string; args: string[]; how: string }> {
  if (await onPath("polycrypt")) {
    return { cmd: "polycrypt", args: [], how: "installed `polycrypt`" };
  }
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const task = String(config.tasks.cli).split(/\s+/);
  if (task[0] !== "deno") throw new Error(`unexpected cli task: ${config.tasks.cli}`);
  const args = task.slice(1).map((a) => a.endsWith(".ts") ? new URL(a, root).pathname : a);
  return { cmd: Deno.execPath(), args, how: `\`deno ${task.slice(1).join(" ")}\` (the cli task)` };
}

async function ensureAge(): Promise<string> {
  if (!(await onPath("age")) || !(await onPath("age-keygen"))) {
    console.error("age is not installed: trying apt-get install -y age");
    const install = await run("apt-get", ["install", "-y", "age"]).catch(() => undefined);
    if (!install || install.code !== 0 || !(await onPath("age"))) {
      throw new Error("age is missing and could not be installed: apt-get install -y age");
    }
  }
  return (await run("age", ["--version"])).stdout.trim();
}

// ------------------------------------------------------------------ measuring one process

interface Measured {
  seconds: number;
  peakRssMiB: number;
}

const GNU_TIME = "/usr/bin/time";
const hasGnuTime = await Deno.stat(GNU_TIME).then(() => true, () => false);

/**
 * Runs `cmd args` to its end and returns its wall time and peak RSS (GNU time's maximum resident
 * set, from wait4; without GNU time, VmHWM polled every 5 ms). Fails on a non-zero exit.
 */
async function measure(cmd: string, args: string[], dir: string): Promise<Measured> {
  if (hasGnuTime) {
    const report = `${dir}/time.txt`;
    const start = performance.now();
    const out = await run(GNU_TIME, ["-f", "%M", "-o", report, cmd, ...args], dir);
    const seconds = (performance.now() - start) / 1000;
    if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${out.stderr}`);
    const kib = Number((await Deno.readTextFile(report)).trim().split("\n").pop());
    return { seconds, peakRssMiB: kib / 1024 };
  }
  const start = performance.now();
  const child = new Deno.Command(cmd, { args, cwd: dir, stdin: "null", stdout: "null" }).spawn();
  let peak = 0;
  let done = false;
  const status = child.status.finally(() => done = true);
  while (!done) {
    const text = await Deno.readTextFile(`/proc/${child.pid}/status`).catch(() => "");
    peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(text)?.[1] ?? 0));
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - start) / 1000;
  if (!(await status).success) throw new Error(`${cmd} ${args.join(" ")} failed`);
  return { seconds, peakRssMiB: peak / 1024 };
}

// ------------------------------------------------------------------ the files

/** Writes `mib` MiB of random bytes to `path` (getRandomValues gives 64 KiB at a time). */
async function randomFile(path: string, mib: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(1 << 20);
  for (let i = 0; i < mib; i++) {
    for (let o = 0; o < block.length; o += 65536) {
      crypto.getRandomValues(block.subarray(o, o + 65536));
    }
    for (let off = 0; off < block.length;) off += file.writeSync(block.subarray(off));
  }
  file.close();
}

async function sameFile(a: string, b: string): Promise<boolean> {
  return (await run("cmp", ["-s", a, b])).code === 0;
}

const remove = (path: string) => Deno.remove(path).catch(() => {});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ------------------------------------------------------------------ the protocol

const pc = await polycryptCommand();
const ageVersion = await ensureAge();
const dir = await Deno.makeTempDir({ prefix: "polycrypt-bench-cli-" });
const polycrypt = (...args: string[]) => [...pc.args, ...args];

try {
  // Keys: polycrypt's default identity, age's X25519.
  const keygen = await run(pc.cmd, polycrypt("keygen", "-o", `${dir}/pc.key`), dir);
  if (keygen.code !== 0) throw new Error(`polycrypt keygen failed: ${keygen.stderr}`);
  const pcRecipients = `${dir}/pc.pub`;
  const recipient = await run(pc.cmd, polycrypt("recipient", "-i", `${dir}/pc.key`), dir);
  await Deno.writeTextFile(pcRecipients, recipient.stdout);
  await run("age-keygen", ["-o", `${dir}/age.key`]);
  const agePub = (await run("age-keygen", ["-y", `${dir}/age.key`])).stdout.trim();

  console.error(`writing ${sizeMiB} MiB of random bytes`);
  const big = `${dir}/big.bin`;
  await randomFile(big, sizeMiB);
  const bytes = sizeMiB * 2 ** 20;

  const steps = {
    ageEncrypt: () => measure("age", ["-r", agePub, "-o", `${dir}/big.age`, big], dir),
    pcEncrypt: () =>
      measure(pc.cmd, polycrypt("encrypt", "-R", pcRecipients, "-o", `${dir}/big.pc`, big), dir),
    ageDecrypt: () =>
      measure(
        "age",
        ["-d", "-i", `${dir}/age.key`, "-o", `${dir}/big.age.out`, `${dir}/big.age`],
        dir,
      ),
    pcDecrypt: () =>
      measure(
        pc.cmd,
        polycrypt("decrypt", "-i", `${dir}/pc.key`, "-o", `${dir}/big.pc.out`, `${dir}/big.pc`),
        dir,
      ),
  };
  const big_ = {
    encrypt: { pc: [] as Measured[], age: [] as Measured[], ratio: [] as number[] },
    decrypt: { pc: [] as Measured[], age: [] as Measured[], ratio: [] as number[] },
  };
  // age does not fsync its output; polycrypt does before its rename (docs/cli.md, "Nothing is
  // lost"). The time `sync -d` then takes on age's output is what durability would add to age:
  // reported beside the targets, which compare with age as it runs.
  const ageDurable = { encrypt: [] as number[], decrypt: [] as number[] };
  const ageOutput = { encrypt: `${dir}/big.age`, decrypt: `${dir}/big.age.out` };
  /** Flushes every dirty page first (untimed), so that each run starts from the same state. */
  const settle = () => run("sync", []);
  for (let r = 0; r < rounds; r++) {
    for (const path of ["big.age", "big.pc", "big.age.out", "big.pc.out"]) {
      await remove(`${dir}/${path}`);
    }
    const pcFirst = r % 2 === 1;
    for (const op of ["encrypt", "decrypt"] as const) {
      const runPc = async () => {
        await settle();
        return await (op === "encrypt" ? steps.pcEncrypt() : steps.pcDecrypt());
      };
      const runAge = async () => {
        await settle();
        const measured = await (op === "encrypt" ? steps.ageEncrypt() : steps.ageDecrypt());
        const start = performance.now();
        await run("sync", ["-d", ageOutput[op]]);
        ageDurable[op].push(measured.seconds + (performance.now() - start) / 1000);
        return measured;
      };
      const [p, a] = pcFirst ? [await runPc(), await runAge()] : await (async () => {
        const a = await runAge();
        return [await runPc(), a];
      })();
      big_[op].pc.push(p);
      big_[op].age.push(a);
      // Throughput ratio: age's time over ours (above 1 means faster than age).
      big_[op].ratio.push(a.seconds / p.seconds);
      console.error(
        `round ${r + 1} ${op}: polycrypt ${p.seconds.toFixed(2)} s ${
          p.peakRssMiB.toFixed(0)
        } MiB, age ${a.seconds.toFixed(2)} s ${a.peakRssMiB.toFixed(0)} MiB (with sync -d ${
          ageDurable[op].at(-1)!.toFixed(2)
        } s)`,
      );
    }
    if (!(await sameFile(big, `${dir}/big.pc.out`))) {
      throw new Error("polycrypt round trip differs");
    }
    if (!(await sameFile(big, `${dir}/big.age.out`))) throw new Error("age round trip differs");
  }
  for (const path of ["big.age", "big.pc", "big.age.out", "big.pc.out", "big.bin"]) {
    await remove(`${dir}/${path}`);
  }

  // 1 KiB round trips, and the floors of a Deno program's start.
  const small = `${dir}/small.bin`;
  await Deno.writeFile(small, crypto.getRandomValues(new Uint8Array(1024)));
  const empty = `${dir}/empty.ts`;
  await Deno.writeTextFile(empty, "");
  const roundTrip = async (encrypt: () => Promise<Measured>, decrypt: () => Promise<Measured>) => {
    const e = await encrypt();
    const d = await decrypt();
    return { seconds: e.seconds + d.seconds, peakRssMiB: Math.max(e.peakRssMiB, d.peakRssMiB) };
  };
  const tiny = { pc: [] as Measured[], age: [] as Measured[], ratio: [] as number[] };
  const floors = { deno: [] as number[], version: [] as number[] };
  for (let r = 0; r < smallRounds; r++) {
    for (const path of ["s.pc", "s.age", "s.pc.out", "s.age.out"]) await remove(`${dir}/${path}`);
    const p = await roundTrip(
      () =>
        measure(pc.cmd, polycrypt("encrypt", "-R", pcRecipients, "-o", `${dir}/s.pc`, small), dir),
      () =>
        measure(
          pc.cmd,
          polycrypt("decrypt", "-i", `${dir}/pc.key`, "-o", `${dir}/s.pc.out`, `${dir}/s.pc`),
          dir,
        ),
    );
    const a = await roundTrip(
      () => measure("age", ["-r", agePub, "-o", `${dir}/s.age`, small], dir),
      () =>
        measure(
          "age",
          ["-d", "-i", `${dir}/age.key`, "-o", `${dir}/s.age.out`, `${dir}/s.age`],
          dir,
        ),
    );
    tiny.pc.push(p);
    tiny.age.push(a);
    tiny.ratio.push(p.seconds / a.seconds);
    // Two starts, as a round trip has: an empty program, and polycrypt loading its modules.
    floors.deno.push(
      (await measure(Deno.execPath(), ["run", empty], dir)).seconds * 2,
    );
    floors.version.push((await measure(pc.cmd, polycrypt("--version"), dir)).seconds * 2);
  }
  if (!(await sameFile(small, `${dir}/s.pc.out`))) {
    throw new Error("polycrypt 1 KiB round trip differs");
  }

  // ---------------------------------------------------------------- the report
  const mb = bytes / 1e6;
  const row = (op: "encrypt" | "decrypt") => {
    const p = big_[op].pc, a = big_[op].age;
    const ps = median(p.map((m) => m.seconds)), as = median(a.map((m) => m.seconds));
    const durable = median(ageDurable[op]);
    return {
      ageDurableSeconds: durable,
      ageDurableMBs: mb / durable,
      pcSeconds: ps,
      ageSeconds: as,
      pcMBs: mb / ps,
      ageMBs: mb / as,
      ratio: median(big_[op].ratio),
      pcRss: Math.max(...p.map((m) => m.peakRssMiB)),
      ageRss: Math.max(...a.map((m) => m.peakRssMiB)),
    };
  };
  const enc = row("encrypt"), dec = row("decrypt");
  const tinyPc = median(tiny.pc.map((m) => m.seconds)) * 1000;
  const tinyAge = median(tiny.age.map((m) => m.seconds)) * 1000;
  const tinyRatio = median(tiny.ratio);
  const denoFloor = median(floors.deno) * 1000;
  const versionFloor = median(floors.version) * 1000;
  const sizeLabel = sizeMiB % 1024 === 0 ? `${sizeMiB / 1024} GiB` : `${sizeMiB} MiB`;
  const verdict = (ok: boolean) => ok ? "met" : "**missed**";
  const f = (x: number, d = 2) => x.toFixed(d);
  const date = new Date().toISOString().slice(0, 10);
  const lines = [
    `# polycrypt CLI against age, ${date}`,
    "",
    `${sizeLabel} of random bytes, file to file, one recipient (polycrypt: X25519+ML-KEM-768 with ` +
    `AES-256-GCM; age: X25519 with ChaCha20-Poly1305); medians of ${rounds} rounds run back to ` +
    `back, ratios the median of each round's own ratio. polycrypt ran as ${pc.how}; ` +
    `${ageVersion.startsWith("v") ? "age " + ageVersion : "age " + ageVersion}; Deno ` +
    `${Deno.version.deno}; ${navigator.hardwareConcurrency} cores. Peak RSS is each process's ` +
    `maximum resident set (the highest of the rounds).`,
    "",
    "| operation | polycrypt s | polycrypt MB/s | age s | age MB/s | throughput vs age | age + fsync s | polycrypt peak RSS MiB | age peak RSS MiB |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...([["encrypt", enc], ["decrypt", dec]] as const).map(([op, r]) =>
      `| ${op} ${sizeLabel} | ${f(r.pcSeconds)} | ${f(r.pcMBs, 0)} | ${f(r.ageSeconds)} | ${
        f(r.ageMBs, 0)
      } | ${f(r.ratio)}x | ${f(r.ageDurableSeconds)} | ${f(r.pcRss, 0)} | ${f(r.ageRss, 0)} |`
    ),
    "",
    "polycrypt fsyncs its output before renaming it into place (docs/cli.md); age does not. " +
    '"age + fsync" is age\'s time plus that of `sync -d` on its output right after, the like ' +
    "for like; the targets compare with age as it runs. Every run starts after a `sync` (untimed).",
    "",
    `1 KiB round trip (encrypt then decrypt, two processes each, start-up included; median of ` +
    `${smallRounds}): polycrypt ${f(tinyPc, 0)} ms, age ${f(tinyAge, 0)} ms, ` +
    `${f(tinyRatio, 1)}x age's wall time. Floors of two starts: an empty \`deno run\` ` +
    `${f(denoFloor, 0)} ms (${f(denoFloor / tinyAge, 1)}x age's round trip), polycrypt ` +
    `\`--version\` (its modules loaded, nothing done) ${f(versionFloor, 0)} ms.`,
    "",
    "| target | figure | verdict |",
    "| --- | --- | --- |",
    `| encrypt throughput >= 1.0x age's | ${f(enc.ratio)}x | ${verdict(enc.ratio >= 1)} |`,
    `| decrypt throughput >= 1.0x age's | ${f(dec.ratio)}x | ${verdict(dec.ratio >= 1)} |`,
    `| peak RSS <= 96 MiB | ${f(Math.max(enc.pcRss, dec.pcRss), 0)} MiB | ${
      verdict(Math.max(enc.pcRss, dec.pcRss) <= 96)
    } |`,
    `| 1 KiB round trip <= 2x age's wall time | ${f(tinyRatio, 1)}x | ${verdict(tinyRatio <= 2)} |`,
    "",
  ];
  if (tinyRatio > 2) {
    lines.push(
      `The 1 KiB round trip is bounded by starting a Deno program: two empty \`deno run\`s take ` +
        `${f(denoFloor, 0)} ms, ${f(denoFloor / tinyAge, 1)}x age's whole round trip, before any ` +
        `module loads; loading polycrypt's modules brings two starts to ${f(versionFloor, 0)} ms ` +
        `(docs/performance.md, "CLI start-up").`,
      "",
    );
  }
  const markdown = lines.join("\n");
  console.log(markdown);
  const out = values.out ?? new URL(`bench/results/cli-${date}.md`, root).pathname;
  await Deno.writeTextFile(out, markdown);
  console.error(`wrote ${out}`);
} finally {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
