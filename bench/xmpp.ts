/**
 * XMPP report (issue 28): through a real Prosody on loopback (scripts/prosody.ts), in one run, the
 * senders in this thread and the receivers in a Worker (two devices, in parallel):
 * - 1 KiB messages per second end to end with sessions: Alice's session encrypts each message
 *   (SQLite store, as chat's), it travels as a stanza through Prosody, Bob's session decrypts it.
 *   Back to back, as an application with several messages ready sends them: each encrypted without
 *   waiting for the previous one's result, so that they share store commits (group commit,
 *   docs/sessions.md section 7.2), each sent once its own state is durable; Bob decrypts each as it
 *   arrives, the same way. Also one after the other (each encrypted once the previous was sent);
 * - plain XMPP messages with a 1 KiB body between two other accounts of the same server, the same
 *   way (sent back to back, timed until the last arrives), and one at a time (the next sent once
 *   the previous arrived) for both;
 * - what bounds the first: the transport alone (the same session message sent again, not
 *   decrypted) and the sessions alone (encrypt + decrypt in one thread, no network);
 * - session set-up: Bob's bundle over XMPP, Alice's first (prekey) message, Bob's reply decrypted.
 * Run: `deno task bench:xmpp [N]` (default 500 messages per kind, 5 rounds, medians reported,
 * the ratio as the median of each round's own ratio).
 *
 * @module
 */
import process from "node:process";
import { client, xml } from "@xmpp/client";
import { startProsody } from "../scripts/prosody.ts";
import { decrypt, generateIdentity, type SealedEnvelope } from "../mod.ts";
import { connectXmpp, textMessage } from "../transports/mod.ts";
import { createAccount, MemorySessionStore, SqliteSessionStore } from "../sessions/mod.ts";

const n = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 500);
const rounds = 5;
const server = await startProsody();
const dir = await Deno.makeTempDir({ prefix: "polycrypt-bench-xmpp-" });
/** CPU milliseconds (user + system) of this process, every thread: senders and receivers. */
const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
/** The Prosody processes (found by their configuration's path) and their CPU milliseconds. */
const prosodyPids = [...Deno.readDirSync("/proc")].map((e) => e.name).filter((pid) => {
  try {
    return /^\d+$/.test(pid) &&
      Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes(`${server.dir}/prosody.cfg.lua`);
  } catch {
    return false;
  }
});
const prosodyCpuMs = () => {
  let ticks = 0;
  for (const pid of prosodyPids) {
    try {
      const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return ticks * 10; // USER_HZ is 100 on Linux
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const text = "a".repeat(1023); // with the kind byte: 1 KiB of plaintext
try {
  for (const u of ["alice", "bob", "carol", "dave"]) await server.register(u, `pw-${u}`);
  const ca = [await Deno.readTextFile(server.certFile)];
  const aliceId = await generateIdentity();
  const bobId = await generateIdentity();

  const worker = new Worker(new URL("./_xmpp_receiver.ts", import.meta.url), { type: "module" });
  const waiting = new Map<string, () => void>();
  worker.onmessage = (e) => {
    if (e.data.state) return console.error("receiver state", JSON.stringify(e.data.state));
    const key = e.data.ready
      ? "ready"
      : e.data.stopped
      ? "stopped"
      : e.data.armed
      ? `armed ${e.data.armed}`
      : `done ${e.data.done}`;
    waiting.get(key)?.();
  };
  /** Resolves when the receiver reports `key`; after 120 s, says what it has and fails. */
  const from = (key: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        worker.postMessage({ cmd: "state" });
        setTimeout(() => reject(new Error(`no ${key} from the receiver in 120 s`)), 500);
      }, 120_000);
      waiting.set(key, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const ready = from("ready");
  worker.postMessage({
    cmd: "init",
    server: server.server,
    ca,
    bobIdentity: bobId.identity,
    aliceRecipient: aliceId.recipient,
    dir,
  });
  await ready;

  // Carol, a plain client (STARTTLS; the test certificate not checked, as for Dave).
  Deno.env.set("NODE_TLS_REJECT_UNAUTHORIZED", "0");
  const carol = client({
    service: `xmpp://${server.server}`,
    domain: "localhost",
    username: "carol",
    password: "pw-carol",
    resource: "plain",
  });
  carol.on("error", () => {});
  await carol.start();

  const alice = await createAccount({
    identity: aliceId.identity,
    store: new SqliteSessionStore(`${dir}/alice.db`),
  });
  const aliceX = await connectXmpp({
    jid: "alice@localhost",
    password: "pw-alice",
    server: server.server,
    caCerts: ca,
  });
  let onAlice: ((e: Uint8Array) => Promise<void>) | undefined;
  aliceX.listen(async (peer) => {
    for await (const m of peer.messages()) if (m.kind === "envelope") await onAlice?.(m.envelope);
  }, { betweenFramesTimeoutMs: 0 });
  const toBob = aliceX.dial("xmpp:bob@localhost");

  // Session set-up over XMPP.
  const t0 = performance.now();
  const bundleArrived = new Promise<Uint8Array>((resolve) =>
    onAlice = (e) => Promise.resolve(resolve(e))
  );
  worker.postMessage({ cmd: "bundle" });
  const bundle = await decrypt(await bundleArrived, { identities: [aliceId.identity] });
  const replyOpened = new Promise<void>((resolve) =>
    onAlice = async (e) => {
      await alice.decrypt(e);
      resolve();
    }
  );
  await toBob.send(await alice.encrypt(bundle, textMessage("hello")) as SealedEnvelope);
  await replyOpened;
  const setupMs = performance.now() - t0;
  const bobFp = (await alice.sessions())[0].fingerprint;

  // The sessions alone: another pair, in this thread, same stores kind.
  const a2 = await createAccount({
    identity: (await generateIdentity()).identity,
    store: new SqliteSessionStore(`${dir}/a2.db`),
  });
  const b2 = await createAccount({
    identity: (await generateIdentity()).identity,
    store: new SqliteSessionStore(`${dir}/b2.db`),
  });
  const first = await b2.decrypt(await a2.encrypt(await b2.prekeyBundle(), textMessage("x")));
  await a2.decrypt(await b2.encrypt(first.from, textMessage("y")));
  const a3 = await createAccount({
    identity: (await generateIdentity()).identity,
    store: new MemorySessionStore(),
  });
  const b3 = await createAccount({
    identity: (await generateIdentity()).identity,
    store: new MemorySessionStore(),
  });
  const third = await b3.decrypt(await a3.encrypt(await b3.prekeyBundle(), textMessage("x")));
  await a3.decrypt(await b3.encrypt(third.from, textMessage("y")));

  /** CPU microseconds per message (this process; Prosody), per round, of the timed kinds. */
  const cpu: Record<string, { own: number[]; prosody: number[] }> = {};
  const rates: Record<string, number[]> = {
    plain: [],
    session: [],
    serial: [],
    transport: [],
    alone: [],
    memory: [],
  };
  const progress = (line: string) =>
    Deno.args.includes("--verbose") && Deno.stderr.writeSync(new TextEncoder().encode(line + "\n"));
  const timed = async (
    kind: string,
    send: () => Promise<void>,
    flushed: () => Promise<unknown> = () => Promise.resolve(),
  ) => {
    progress(`${kind}...`);
    const done = from(`done ${kind}`);
    // The receiver counts from now on: it says so before the first message goes.
    const armed = from(`armed ${kind}`);
    worker.postMessage({ cmd: "expect", kind, n });
    await armed;
    const t = performance.now();
    const own = ownCpuMs();
    const prosody = prosodyCpuMs();
    for (let i = 0; i < n; i++) await send();
    await flushed();
    await done;
    cpu[kind] ??= { own: [], prosody: [] };
    cpu[kind].own.push((ownCpuMs() - own) * 1000 / n);
    cpu[kind].prosody.push((prosodyCpuMs() - prosody) * 1000 / n);
    rates[kind].push(n / ((performance.now() - t) / 1000));
  };
  /** One message at a time (sent once the previous one arrived): milliseconds each, median. */
  const latency: Record<string, number[]> = { plain: [], session: [] };
  const oneByOne = async (kind: string, send: () => Promise<void>) => {
    for (let i = 0; i < Math.min(n, 200); i++) {
      const done = from(`done ${kind}`);
      const armed = from(`armed ${kind}`);
      worker.postMessage({ cmd: "expect", kind, n: 1 });
      await armed;
      const t = performance.now();
      await send();
      await done;
      latency[kind].push(performance.now() - t);
    }
  };
  const sample = await alice.encrypt(bobFp, textMessage(text)) as SealedEnvelope;
  for (let r = 0; r < rounds; r++) {
    await timed("plain", () =>
      carol.send(
        xml(
          "message",
          { to: "dave@localhost/plain", type: "chat" },
          xml("body", {}, "a".repeat(1024)),
        ),
      ));
    // As an application with several messages to send does: each encrypted without waiting for
    // the previous one's commit (they share commits: group commit, docs/sessions.md section 7.2),
    // each sent once its own state is stored, in order.
    let sent: Promise<unknown> = Promise.resolve();
    await timed("session", () => {
      const envelope = alice.encrypt(bobFp, textMessage(text));
      sent = Promise.all([sent, envelope]).then(([, e]) => toBob.send(e as SealedEnvelope));
      return Promise.resolve();
    }, () => sent);
    // One after the other: the next message is encrypted once the previous one is sent.
    await timed("serial", async () => {
      await toBob.send(await alice.encrypt(bobFp, textMessage(text)) as SealedEnvelope);
    });
    await timed("transport", async () => {
      await toBob.send(sample);
    });
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      await b2.decrypt(await a2.encrypt(b2.fingerprint, textMessage(text)));
    }
    rates.alone.push(n / ((performance.now() - t) / 1000));
    const tm = performance.now();
    for (let i = 0; i < n; i++) {
      await b3.decrypt(await a3.encrypt(b3.fingerprint, textMessage(text)));
    }
    rates.memory.push(n / ((performance.now() - tm) / 1000));
  }
  await oneByOne("plain", () =>
    carol.send(
      xml(
        "message",
        { to: "dave@localhost/plain", type: "chat" },
        xml("body", {}, "a".repeat(1024)),
      ),
    ));
  await oneByOne("session", async () => {
    await toBob.send(await alice.encrypt(bobFp, textMessage(text)) as SealedEnvelope);
  });
  const lp = median(latency.plain);
  const ls = median(latency.session);
  const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
  const row = (label: string, rate: number) =>
    `  ${label.padEnd(52)} ${rate.toFixed(0).padStart(6)} msg/s  ${
      (1000 / rate).toFixed(2)
    } ms each`;
  console.log([
    `XMPP through Prosody on 127.0.0.1 (STARTTLS), ${n} messages of 1 KiB back to back, ` +
    `median of ${rounds} rounds; senders here, receivers in a Worker`,
    row("plain XMPP (1 KiB <body>, no polycrypt)", m.plain),
    row("polycrypt sessions (encrypt, XMPP, decrypt)", m.session),
    row("  the same, each encrypted once the previous was sent", m.serial),
    row("  the transport alone (a session message, not opened)", m.transport),
    row("  the sessions alone (encrypt + decrypt, one thread)", m.alone),
    row("  the same with in-memory stores (no SQLite)", m.memory),
    `  time per message, polycrypt / plain: ${
      median(rates.plain.map((p, i) => p / rates.session[i])).toFixed(2)
    }x, median of the rounds' own ratios (${
      rates.plain.map((p, i) => (p / rates.session[i]).toFixed(2)).join(", ")
    }; target <= 2x)`,
    ...Object.entries(cpu).map(([kind, c]) =>
      `  CPU per message, ${kind.padEnd(9)}: ${median(c.own).toFixed(0)} us in the clients + ${
        median(c.prosody).toFixed(0)
      } us in Prosody = ${(median(c.own) + median(c.prosody)).toFixed(0)} us`
    ),
    `  CPU per message, polycrypt sessions / plain: ${
      ((median(cpu.session.own) + median(cpu.session.prosody)) /
        (median(cpu.plain.own) + median(cpu.plain.prosody))).toFixed(2)
    }x (what bounds the rate when the cores are busy)`,
    `  one at a time (send, wait for arrival; median of ${latency.plain.length}): plain ${
      lp.toFixed(2)
    } ms, polycrypt sessions ${ls.toFixed(2)} ms: ${(ls / lp).toFixed(2)}x`,
    `  session set-up over XMPP (bundle, prekey message, reply opened): ${setupMs.toFixed(0)} ms`,
    ...Object.entries(rates).map(([k, v]) =>
      `  rounds ${k}: ${v.map((x) => x.toFixed(0)).join(", ")}`
    ),
  ].join("\n"));
  const stopped = from("stopped");
  worker.postMessage({ cmd: "stop" });
  await stopped;
  worker.terminate();
  await toBob.close();
  await aliceX.close();
  await alice.close();
  await a2.close();
  await b2.close();
  await a3.close();
  await b3.close();
  await carol.stop().catch(() => {});
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true });
}
Deno.exit(0);
