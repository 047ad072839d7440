/**
 * `deno task bench:sessions`: polycrypt's forward-secret sessions (docs/sessions.md) next to
 * native libsignal in the same run (issue 23, "Performance").
 *
 * - 1 KiB messages, encrypt + decrypt per second, in one direction and in alternating directions
 *   (a DH step at every turn, a KEM step every 50 messages), through the public `Account` API with
 *   the default suite and policy (header encryption, ML-KEM-768 KEM ratchet, AES-256-GCM), once with
 *   `MemorySessionStore` and once with `SqliteSessionStore` in a temporary directory;
 * - the handshake: Alice's `encrypt(bundle, data)` (bundle checked, PQXDH, first message) and Bob's
 *   `decrypt` of it (default KEM ml-kem-768);
 * - bytes on the wire per 1 KiB message;
 * - the KEM step per KEM (ml-kem-512/768/1024, x25519+ml-kem-768, rsa-3072, elgamal-3072): bytes it
 *   adds to a message and time per step, from two sessions that alternate, one stepping at every
 *   turn and one never;
 * - what a message costs in primitives (HMAC, HKDF, AES-GCM, X25519, ML-KEM, the store), to say
 *   where the time goes.
 *
 * libsignal-client 0.103.0 is fetched into a temporary directory and run in a child process
 * (bench/libsignal/client.ts); it never enters a deno.json or lockfile. polycrypt and libsignal run
 * in the same interleaved rounds, the order rotating each round, and every ratio is the median of
 * the rounds' own ratios (this machine's speed drifts within minutes: docs/performance.md). When
 * libsignal cannot be fetched or loaded, the report says why and compares with the figures issue 23
 * quotes, labelled as quoted.
 *
 * Run: `deno task bench:sessions [--rounds N] [--messages N] [--sqlite-messages N]
 * [--handshakes N] [--kem-rounds N] [--kem-messages N] [--no-libsignal] [--libsignal-dir DIR]
 * [--kems a,b] [--out FILE.md]`, or `--render FILE.json` to re-render a stored run.
 * Writes `bench/results/sessions-<date>.md` and `.json` (or `--out`) and prints the Markdown.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { createAccount } from "../sessions/account.ts";
import type { Account } from "../sessions/account.ts";
import { MemorySessionStore } from "../sessions/store.ts";
import type { SessionStore } from "../sessions/store.ts";
import { SqliteSessionStore } from "../sessions/sqlite_store.ts";
import type { KemPolicy } from "../sessions/ratchet.ts";
import { generateIdentity } from "../cascade/keys.ts";
import { startLibsignal } from "./libsignal/client.ts";
import type { LibsignalPeer } from "./libsignal/client.ts";
import { measurePrimitives } from "./sessions_primitives.ts";
import { compact, median, render } from "./sessions_render.ts";
import type { Loop, SessionsResults } from "./sessions_render.ts";
import { registry } from "../engines/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "7" },
    messages: { type: "string", default: "1000" },
    "sqlite-messages": { type: "string", default: "200" },
    handshakes: { type: "string", default: "20" },
    "kem-rounds": { type: "string", default: "3" },
    "kem-messages": { type: "string", default: "100" },
    kems: { type: "string" },
    "no-libsignal": { type: "boolean", default: false },
    "libsignal-dir": { type: "string" },
    out: { type: "string" },
    render: { type: "string" },
  },
});

const root = new URL("../", import.meta.url);

if (values.render) {
  const results = JSON.parse(await Deno.readTextFile(values.render)) as SessionsResults;
  console.log(render(results));
  Deno.exit(0);
}

const rounds = Number(values.rounds);
const messages = Number(values.messages);
const sqliteMessages = Number(values["sqlite-messages"]);
const handshakes = Number(values.handshakes);
const kemRounds = Number(values["kem-rounds"]);
const kemMessages = Number(values["kem-messages"]);
for (const [name, v] of Object.entries({ rounds, handshakes, kemRounds })) {
  if (!(Number.isInteger(v) && v >= 1)) {
    throw new RangeError(`--${name} must be a positive integer`);
  }
}
for (const [name, v] of Object.entries({ messages, sqliteMessages, kemMessages })) {
  if (!(Number.isInteger(v) && v >= 2 && v % 2 === 0)) {
    throw new RangeError(`--${name} must be an even integer >= 2 (alternating pairs)`);
  }
}

/** The KEMs of the KEM-step table, and how many alternating messages a run of each takes. */
const ALL_KEMS: Record<string, number> = {
  "ml-kem-512": 1,
  "ml-kem-768": 1,
  "ml-kem-1024": 1,
  "x25519+ml-kem-768": 1,
  // A step generates a key pair: seconds for RSA, tens of ms for ElGamal.
  "rsa-3072": 0.08,
  "elgamal-3072": 0.2,
};
const kems = values.kems ? values.kems.split(",") : Object.keys(ALL_KEMS);

const log = (line: string) => console.error(line);
const SIZE = 1024;
const data = crypto.getRandomValues(new Uint8Array(SIZE));
const hi = new TextEncoder().encode("hi");

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ------------------------------------------------------------------ polycrypt pairs

const identities = {
  alice: (await generateIdentity()).identity,
  bob: (await generateIdentity()).identity,
};

interface PcPair {
  alice: Account;
  bob: Account;
  close(): Promise<void>;
}

/**
 * Two accounts with a complete session: Bob's bundle (one one-time key of each kind), Alice's
 * first (prekey) message, Bob's reply, so that both ends send ratchet messages afterwards.
 */
async function pcPair(
  makeStore: (name: string) => SessionStore,
  options: { kem?: string; policy?: KemPolicy } = {},
): Promise<PcPair> {
  const alice = await createAccount({
    identity: identities.alice,
    store: makeStore("alice"),
    ...options,
  });
  const bob = await createAccount({
    identity: identities.bob,
    store: makeStore("bob"),
    ...options,
  });
  const bundle = await bob.prekeyBundle({ oneTimeKeys: 1 });
  const first = await bob.decrypt(await alice.encrypt(bundle, hi));
  if (first.from !== alice.fingerprint) throw new Error("polycrypt handshake: wrong sender");
  const reply = await alice.decrypt(await bob.encrypt(alice.fingerprint, hi));
  if (reply.from !== bob.fingerprint) throw new Error("polycrypt reply: wrong sender");
  return {
    alice,
    bob,
    close: async () => {
      await alice.close();
      await bob.close();
    },
  };
}

/** n messages of `data`, each encrypted then decrypted, one way or taking turns. */
async function pcLoop(pair: PcPair, n: number, alternating: boolean): Promise<Loop> {
  const { alice, bob } = pair;
  const sizes: number[] = new Array(n);
  const per: number[] = new Array(n);
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const [from, to] = alternating && i % 2 === 1 ? [bob, alice] : [alice, bob];
    const message = await from.encrypt(to.fingerprint, data);
    sizes[i] = message.length;
    const got = await to.decrypt(message);
    if (got.from !== from.fingerprint || !sameBytes(got.data, data)) {
      throw new Error("polycrypt round trip differs");
    }
    per[i] = performance.now() - t0;
  }
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return compact({ ms, cpuMs: (used.user + used.system) / 1000, sizes, per });
}

/** n fresh handshakes on memory stores: bundle untimed; Alice's first encrypt, Bob's decrypt. */
async function pcHandshakes(n: number) {
  const initiator: number[] = [], responder: number[] = [], sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    const alice = await createAccount({
      identity: identities.alice,
      store: new MemorySessionStore(),
    });
    const bob = await createAccount({ identity: identities.bob, store: new MemorySessionStore() });
    const bundle = await bob.prekeyBundle({ oneTimeKeys: 1 });
    const t0 = performance.now();
    const first = await alice.encrypt(bundle, data);
    const t1 = performance.now();
    const got = await bob.decrypt(first);
    const t2 = performance.now();
    if (!sameBytes(got.data, data)) throw new Error("polycrypt handshake round trip differs");
    initiator.push(t1 - t0);
    responder.push(t2 - t1);
    sizes.push(first.length);
    await alice.close();
    await bob.close();
  }
  return { initiator, responder, sizes };
}

// ------------------------------------------------------------------ the run

const date = new Date().toISOString().slice(0, 10);
/** The commit measured (with "+" when the work tree has changes), or "unknown". */
async function commitId(): Promise<string> {
  try {
    const git = (args: string[]) =>
      new Deno.Command("git", { args, cwd: root.pathname, stdout: "piped", stderr: "null" })
        .output();
    const head = await git(["rev-parse", "--short", "HEAD"]);
    if (head.code !== 0) return "unknown";
    const dirty = await git(["status", "--porcelain", "--untracked-files=no"]);
    return new TextDecoder().decode(head.stdout).trim() +
      (new TextDecoder().decode(dirty.stdout).trim() ? "+" : "");
  } catch {
    return "unknown";
  }
}
const commit = await commitId();
const loadStart = Deno.loadavg();
const dir = await Deno.makeTempDir({ prefix: "polycrypt-bench-sessions-" });
let libsignal: LibsignalPeer | undefined;
let libsignalError: string | undefined;
if (values["no-libsignal"]) {
  libsignalError = "not requested (--no-libsignal)";
} else {
  const started = await startLibsignal({ dir: values["libsignal-dir"], log });
  if ("error" in started) {
    libsignalError = started.error;
    log(
      `libsignal unavailable: ${started.error}; the report compares with the issue's quoted figures`,
    );
  } else {
    libsignal = started;
    log(`libsignal ${started.version} loaded`);
  }
}

try {
  log("setting up the session pairs");
  const memory = await pcPair(() => new MemorySessionStore());
  const sqlite = await pcPair((name) => new SqliteSessionStore(`${dir}/${name}.db`));

  type Who = "memory" | "sqlite" | "libsignal";
  const who: Who[] = libsignal ? ["memory", "libsignal", "sqlite"] : ["memory", "sqlite"];
  const loops: Record<Who, { oneWay: Loop[]; alternating: Loop[] }> = {
    memory: { oneWay: [], alternating: [] },
    sqlite: { oneWay: [], alternating: [] },
    libsignal: { oneWay: [], alternating: [] },
  };
  const counts: Record<Who, number> = {
    memory: messages,
    libsignal: messages,
    sqlite: sqliteMessages,
  };
  const run = async (w: Who, alternating: boolean): Promise<Loop> => {
    if (w === "libsignal") {
      return compact(
        alternating
          ? await libsignal!.alternating(counts[w], SIZE)
          : await libsignal!.oneWay(counts[w], SIZE),
      );
    }
    return await pcLoop(w === "memory" ? memory : sqlite, counts[w], alternating);
  };
  // Warm-up (untimed): JIT, the stores' first pages, libsignal's first calls.
  for (const w of who) {
    await run(w, false);
    await run(w, true);
  }
  const hsPc: SessionsResults["handshake"]["polycrypt"] = [];
  const hsLs: SessionsResults["handshake"]["polycrypt"] = [];
  await pcHandshakes(2);
  for (let r = 0; r < rounds; r++) {
    // A young libsignal process each round (untimed): under Deno its addon's resident set and its
    // occasional stalls grow with the process's age.
    await libsignal?.restart();
    // Rotate who goes first, so no side always runs right after the other.
    const order = who.map((_, i) => who[(i + r) % who.length]);
    for (const alternating of [false, true]) {
      for (const w of order) {
        const result = await run(w, alternating);
        loops[w][alternating ? "alternating" : "oneWay"].push(result);
      }
    }
    const pcFirst = r % 2 === 0;
    if (!pcFirst && libsignal) hsLs.push(await libsignal.handshake(handshakes, SIZE));
    hsPc.push(await pcHandshakes(handshakes));
    if (pcFirst && libsignal) hsLs.push(await libsignal.handshake(handshakes, SIZE));
    const rate = (l: Loop) => Math.round(l.n / l.ms * 1000);
    log(
      `round ${r + 1}/${rounds}: ` +
        who.map((w) =>
          `${w} ${rate(loops[w].oneWay.at(-1)!)}/s one way, ${
            rate(loops[w].alternating.at(-1)!)
          }/s alternating`
        ).join("; ") +
        `; handshake ${median(hsPc.at(-1)!.initiator).toFixed(2)} + ${
          median(hsPc.at(-1)!.responder).toFixed(2)
        } ms`,
    );
  }
  await memory.close();
  await sqlite.close();

  // ---------------------------------------------------------------- the KEM step per KEM
  const kemSteps: SessionsResults["kemSteps"] = [];
  const always: KemPolicy = { messages: 1, milliseconds: 0 };
  const never: KemPolicy = {
    messages: Number.MAX_SAFE_INTEGER,
    milliseconds: Number.MAX_SAFE_INTEGER,
  };
  for (const kem of kems) {
    const share = ALL_KEMS[kem] ?? 1;
    const n = Math.max(4, 2 * Math.round(kemMessages * share / 2));
    log(`KEM step: ${kem}, ${n} alternating messages x ${kemRounds} rounds`);
    const stepping = await pcPair(() => new MemorySessionStore(), { kem, policy: always });
    const plain = await pcPair(() => new MemorySessionStore(), { kem, policy: never });
    await pcLoop(stepping, 4, true);
    await pcLoop(plain, 4, true);
    const withStep: Loop[] = [], without: Loop[] = [];
    for (let r = 0; r < kemRounds; r++) {
      if (r % 2 === 0) {
        withStep.push(await pcLoop(stepping, n, true));
        without.push(await pcLoop(plain, n, true));
      } else {
        without.push(await pcLoop(plain, n, true));
        withStep.push(await pcLoop(stepping, n, true));
      }
    }
    await stepping.close();
    await plain.close();
    const engine = registry.kem(kem);
    kemSteps.push({
      kem,
      publicKeySize: engine.publicKeySize,
      encapsulationSize: engine.encapsulationSize,
      messages: n,
      withStep,
      without,
    });
  }

  log("primitives");
  const primitives = await measurePrimitives(dir);

  const results: SessionsResults = {
    date: new Date().toISOString(),
    commit,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    cores: navigator.hardwareConcurrency,
    loadavg: { start: loadStart, end: Deno.loadavg() },
    size: SIZE,
    rounds,
    messages,
    sqliteMessages,
    handshakes,
    libsignal: libsignal
      ? { version: libsignal.version, measured: true }
      : { version: "0.103.0", measured: false, error: libsignalError },
    loops: {
      memory: loops.memory,
      sqlite: loops.sqlite,
      libsignal: libsignal ? loops.libsignal : undefined,
    },
    handshake: { polycrypt: hsPc, libsignal: libsignal ? hsLs : undefined },
    kemSteps,
    primitives,
  };
  const markdown = render(results);
  console.log(markdown);
  const out = values.out ?? new URL(`bench/results/sessions-${date}.md`, root).pathname;
  await Deno.writeTextFile(out, markdown + "\n");
  await Deno.writeTextFile(out.replace(/\.md$/, "") + ".json", JSON.stringify(results) + "\n");
  log(`wrote ${out} and its .json`);
} finally {
  await libsignal?.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
