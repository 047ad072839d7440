// `chat @NAME --direct` with real processes (docs/cli.md, "Direct connections"): a relay process,
// two chat processes that open a WebRTC data channel on loopback signalled through their relay
// queues, a 100 MiB file across it in bounded memory, the peer killed mid-file (the rest through
// the relay, completed by fetch), and offers that must be refused or ignored. Run by
// direct_test.ts in a `deno test` process of its own (node-datachannel serves one isolate).
import assert from "node:assert/strict";
import { join } from "node:path";
import { decrypt, encrypt, fingerprint, generateIdentity, type SealedEnvelope } from "../../mod.ts";
import {
  encodeInvitation,
  openInbox,
  parseInvitation,
  RelayClient,
  relaySignal,
  SignalReplayCache,
} from "../../relay/mod.ts";
import { connectWebRtc } from "../../transports/mod.ts";
import { runCli, spawnCli, withTempDir } from "./_cli.ts";
import { startRelay } from "./_relay_process.ts";
import { peakRssKiB } from "../_process.ts";
import type { CommandResult } from "../_process.ts";

const ALL = ["--allow-all"];
const WAIT_MS = 120_000;

interface User {
  name: string;
  key: string;
  recipient: string;
  identity: string;
  invitation: string;
  env: Record<string, string>;
  ok(args: string[]): Promise<CommandResult>;
}

async function user(dir: string, name: string, relay: string): Promise<User> {
  const config = join(dir, name);
  await Deno.mkdir(config);
  const env = { XDG_CONFIG_HOME: config };
  const key = join(dir, `${name}.key`);
  const ok = async (args: string[]) => {
    const r = await runCli(args, ALL, { env, deadlineMs: 240_000 });
    assert.equal(r.code, 0, `${args.slice(0, 2).join(" ")}: ${r.stderr}`);
    return r;
  };
  const made = await ok(["keygen", "-o", key]);
  const recipient = made.stderr.match(/Public key: (\S+)/)![1];
  const identity = (await Deno.readTextFile(key)).split("\n").find((l) =>
    l.startsWith("POLYCRYPT-")
  )!;
  const invitation = (await ok(["inbox", "new", "--relay", relay, "-i", key, "--one-time", "3"]))
    .stdout.trim();
  return { name, key, recipient, identity, invitation, env, ok };
}

/** Two users on one relay, each the other's contact (with the invitations). */
async function pair(dir: string, relay: string): Promise<[User, User]> {
  const a = await user(dir, "alice", relay);
  const b = await user(dir, "bob", relay);
  await a.ok(["contact", "-i", a.key, "add", "bob", b.invitation]);
  await b.ok(["contact", "-i", b.key, "add", "alice", a.invitation]);
  return [a, b];
}

/** A running `chat @NAME`, its output drained as it comes. */
interface Chat {
  pid: number;
  stdout(): string;
  stderr(): string;
  type(line: string): Promise<void>;
  waitErr(pattern: RegExp, ms?: number): Promise<void>;
  waitOut(pattern: RegExp, ms?: number): Promise<void>;
  end(): Promise<number>;
  kill(): Promise<void>;
}

function chat(u: User, peer: string, extra: string[]): Chat {
  const child = spawnCli(
    ["chat", `@${peer}`, "-i", u.key, "--ice-bind", "127.0.0.1", ...extra],
    ALL,
    { env: u.env },
    true,
  );
  const writer = child.stdin.getWriter();
  const td = new TextDecoder();
  let out = "";
  let err = "";
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const c of s) add(td.decode(c));
  };
  const pumping = Promise.all([
    pump(child.stdout, (t) => out += t),
    pump(child.stderr, (t) => err += t),
  ]);
  const wait = async (where: () => string, pattern: RegExp, ms = WAIT_MS) => {
    const deadline = Date.now() + ms;
    while (!pattern.test(where())) {
      if (Date.now() > deadline) {
        throw new Error(
          `${u.name}: timed out waiting for ${pattern}\nstdout: ${out}\nstderr: ${err}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    pid: child.pid,
    stdout: () => out,
    stderr: () => err,
    type: (line) => writer.write(new TextEncoder().encode(line + "\n")),
    waitErr: (p, ms) => wait(() => err, p, ms),
    waitOut: (p, ms) => wait(() => out, p, ms),
    async end() {
      await writer.close().catch(() => {});
      const { code } = await child.status;
      await pumping;
      return code;
    },
    async kill() {
      child.kill("SIGKILL");
      await child.status;
      await writer.abort().catch(() => {});
      await pumping.catch(() => {});
    },
  };
}

async function sha256(path: string): Promise<string> {
  const file = await Deno.open(path);
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256");
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** A file of `size` pseudo-random bytes (a 64 KiB random block repeated, each copy marked). */
async function bigFile(path: string, size: number): Promise<void> {
  const block = crypto.getRandomValues(new Uint8Array(65536));
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let at = 0, n = 0; at < size; at += block.length, n++) {
    new DataView(block.buffer).setUint32(0, n);
    const piece = block.subarray(0, Math.min(block.length, size - at));
    for (let w = 0; w < piece.length;) w += await file.write(piece.subarray(w));
  }
  file.close();
}

Deno.test("chat --direct: two processes over a data channel, both directions, 100 MiB", async () => {
  await withTempDir("polycrypt-direct-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const [alice, bob] = await pair(dir, relay.url);
      const aliceIn = join(dir, "alice-in");
      const bobIn = join(dir, "bob-in");
      await Deno.mkdir(aliceIn);
      await Deno.mkdir(bobIn);
      const t0 = performance.now();
      const a = chat(alice, "bob", ["--direct", "-o", aliceIn]);
      const b = chat(bob, "alice", ["--direct", "-o", bobIn]);
      try {
        await a.waitErr(/path to bob: relay ws:\S+ \(trying a direct connection\)/);
        await a.waitErr(/path to bob: direct/);
        await b.waitErr(/path to alice: direct/);
        console.log(`data channel open ${Math.round(performance.now() - t0)} ms after start`);
        await a.type("hello over the data channel");
        await b.waitOut(/^alice: hello over the data channel$/m);
        await a.waitErr(/\(#1 delivered, direct\)/);
        await b.type("and back");
        await a.waitOut(/^bob: and back$/m);
        await b.waitErr(/\(#1 delivered, direct\)/);
        // Nothing went through the inboxes.
        assert.doesNotMatch(a.stderr() + b.stderr(), /queued on/);

        // 100 MiB across, in bounded memory on both sides: a 32 MiB file first (the heaps and
        // buffers settle), then 100 MiB, which must not grow the peak much further.
        const send = async (n: number, name: string, size: number) => {
          const src = join(dir, name);
          await bigFile(src, size);
          const want = await sha256(src);
          const t1 = performance.now();
          await a.type(`/file ${src}`);
          await a.waitErr(
            new RegExp(`\\(#${n} ${name.replace(".", "\\.")}: ${size} bytes delivered, direct\\)`),
            600_000,
          );
          const ms = performance.now() - t1;
          await b.waitErr(new RegExp(`received \\S+${name.replace(".", "\\.")} from alice`));
          assert.equal(await sha256(join(bobIn, name)), want);
          await Deno.remove(src);
          return ms;
        };
        await send(2, "warm.bin", 32 * 1024 * 1024);
        const before = [await peakRssKiB(a.pid), await peakRssKiB(b.pid)];
        const size = 100 * 1024 * 1024 + 4321;
        const ms = await send(3, "big.bin", size);
        const after = [await peakRssKiB(a.pid), await peakRssKiB(b.pid)];
        console.log(
          `100 MiB direct: ${Math.round(ms)} ms (${(size / 1e6 / (ms / 1000)).toFixed(1)} MB/s); ` +
            `peak RSS after 32 MiB / after 100 MiB: sender ${before[0] >> 10} / ${
              after[0] >> 10
            } MiB, receiver ${before[1] >> 10} / ${after[1] >> 10} MiB`,
        );
        assert.deepEqual([...Deno.readDirSync(bobIn)].map((e) => e.name).sort(), [
          "big.bin",
          "warm.bin",
        ]);
        // Constant memory: three times the bytes of the first file grow neither peak by 40% of
        // the file (a copy of it, or a large part of one, held anywhere would show here).
        for (const i of [0, 1]) {
          assert.ok(after[i] - before[i] < 40 * 1024, `grew ${after[i] - before[i]} KiB`);
          assert.ok(after[i] < 300 * 1024, `peak RSS ${after[i]} KiB`);
        }
        assert.doesNotMatch(a.stderr() + b.stderr(), /queued on/);
        await a.type("/quit");
        assert.equal(await a.end(), 0);
        await b.waitErr(/path to alice: relay \S+ \(the direct connection was lost/);
        assert.equal(await b.end(), 0);
      } finally {
        await a.kill().catch(() => {});
        await b.kill().catch(() => {});
      }
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("chat --direct: the peer killed mid-file, the rest through the relay, fetch completes it", async () => {
  await withTempDir("polycrypt-direct-kill-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const [alice, bob] = await pair(dir, relay.url);
      const bobIn = join(dir, "bob-in");
      await Deno.mkdir(bobIn);
      const a = chat(alice, "bob", ["--direct"]);
      const b = chat(bob, "alice", ["--direct", "-o", bobIn]);
      try {
        await a.waitErr(/path to bob: direct/);
        await b.waitErr(/path to alice: direct/);
        const src = join(dir, "cut.bin");
        const size = 40 * 1024 * 1024 + 777;
        await bigFile(src, size);
        const want = await sha256(src);
        await a.type(`/file ${src}`);
        // Kill Bob once a few MiB are written (the transfer's temporary file in his folder).
        const deadline = Date.now() + WAIT_MS;
        let written = 0;
        while (written < 3 * 1024 * 1024) {
          assert.ok(Date.now() < deadline, "no piece arrived");
          for (const e of Deno.readDirSync(bobIn)) {
            if (e.name.endsWith(".part")) written = (await Deno.stat(join(bobIn, e.name))).size;
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        await b.kill();
        assert.ok(written < size, "the file crossed before the kill");
        const t0 = performance.now();
        await a.waitErr(/direct connection to bob was lost while sending cut\.bin/, 180_000);
        console.log(`the sender noticed the loss after ${Math.round(performance.now() - t0)} ms`);
        await a.waitErr(/path to bob: relay/);
        const done =
          /\(#1 cut\.bin: (\d+) bytes queued on ws:\S+ for bob, after (\d+) delivered directly\)/;
        await a.waitErr(done, 300_000);
        const [, queued, direct] = a.stderr().match(done)!;
        assert.equal(Number(queued) + Number(direct), size);
        assert.ok(Number(direct) > 0);
        console.log(
          `killed after ${written} bytes written; ${direct} confirmed, ${queued} relayed`,
        );
        await a.type("/quit");
        assert.equal(await a.end(), 0);
        // Bob, later: fetch finishes the file from where the data channel left it, once.
        const fetched = await bob.ok(["fetch", "-i", bob.key, "-o", bobIn]);
        assert.match(fetched.stderr, /received \S+cut\.bin from alice/);
        assert.deepEqual([...Deno.readDirSync(bobIn)].map((e) => e.name), ["cut.bin"]);
        assert.equal(await sha256(join(bobIn, "cut.bin")), want);
        const again = await bob.ok(["fetch", "-i", bob.key, "-o", bobIn]);
        assert.match(again.stderr, /0 messages read/);
      } finally {
        await a.kill().catch(() => {});
        await b.kill().catch(() => {});
      }
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("chat --direct: forged, unsigned and replayed offers refused; a stranger's ignored", async () => {
  await withTempDir("polycrypt-direct-offers-", async (dir) => {
    const relay = await startRelay(dir);
    const client = await RelayClient.connect(relay.url);
    try {
      const alice = await user(dir, "alice", relay.url);
      const aliceFp = fingerprint(alice.recipient);
      // Bob is played by the test with the library; the chat under test must be the answering
      // side, so Bob's fingerprint sorts first.
      let bob = await generateIdentity();
      while (fingerprint(bob.recipient) >= aliceFp) bob = await generateIdentity();
      const mallory = await generateIdentity();
      const bobInbox = await openInbox(client);
      const bobSignal = await openInbox(client);
      const malloryQueue = await openInbox(client);
      const bobInvitation = encodeInvitation({
        relay: relay.url,
        sendId: bobInbox.sendingId,
        recipient: bob.recipient,
        signalId: bobSignal.sendingId,
      });
      await alice.ok(["contact", "-i", alice.key, "add", "bob", bobInvitation]);
      const aliceSignal = parseInvitation(alice.invitation).signalId!;
      /** Whatever arrives in a queue within `ms` (each message taken). */
      const drain = async (queue: typeof bobSignal, ms: number) => {
        const got: Uint8Array[] = [];
        const end = Date.now() + ms;
        while (Date.now() < end) {
          const m = await client.fetch(queue.receivingId, queue.key);
          if (m === undefined) {
            await new Promise((r) => setTimeout(r, 100));
            continue;
          }
          got.push(m.envelope);
          await client.ack(queue.receivingId, queue.key, m.id);
        }
        return got;
      };
      const a = chat(alice, "bob", ["--direct"]);
      try {
        await a.waitErr(/chatting with bob/);
        await a.waitErr(/trying a direct connection/);
        const said = () => a.stderr().split("\n").filter((l) => l.trim()).length;
        const lines = said();

        // A stranger's offer (signed by a key that is not a contact's): nothing shown, nothing
        // answered, to Bob or to the stranger.
        await relaySignal({
          relay: client,
          identity: mallory.identity,
          peer: alice.recipient,
          to: aliceSignal,
          inbox: malloryQueue,
          seen: new SignalReplayCache(),
          session: crypto.getRandomValues(new Uint8Array(16)),
        }).send({ type: "offer", sdp: "v=0\r\n" });
        // A forged offer: sealed to Alice, in the signalling format, but not signed by anyone.
        const json = new TextEncoder().encode(JSON.stringify({ type: "offer", sdp: "v=0\r\n" }));
        const plain = new Uint8Array(30 + json.length);
        plain.set([0x53, 0x01]);
        plain.set(crypto.getRandomValues(new Uint8Array(16)), 2);
        new DataView(plain.buffer).setBigUint64(18, BigInt(Date.now()));
        plain.set(json, 30);
        await client.send(aliceSignal, await encrypt(plain, { recipients: [alice.recipient] }));
        assert.deepEqual(await drain(bobSignal, 4000), [], "the chat answered a forged offer");
        assert.deepEqual(await drain(malloryQueue, 500), []);
        assert.equal(said(), lines, `the chat said something: ${a.stderr()}`);

        // Bob's genuine offer: the chat answers it and the data channel opens (so the forgeries
        // before it were read and dropped, not adopted). The offer's envelope is kept.
        const sent: Uint8Array[] = [];
        const recording = {
          send: (to: Uint8Array, envelope: SealedEnvelope, o?: object) => {
            sent.push(envelope.slice());
            return client.send(to, envelope, o);
          },
          fetch: client.fetch.bind(client),
          ack: client.ack.bind(client),
        } as unknown as RelayClient;
        const connection = await connectWebRtc(
          relaySignal({
            relay: recording,
            identity: bob.identity,
            peer: alice.recipient,
            to: aliceSignal,
            inbox: bobSignal,
            seen: new SignalReplayCache(),
            session: crypto.getRandomValues(new Uint8Array(16)),
          }),
          { bindAddress: "127.0.0.1", connectTimeoutMs: 60_000 },
        );
        await a.waitErr(/path to bob: direct/);
        await connection.close();
        await a.waitErr(/path to bob: relay \S+ \(the direct connection was lost/);
        // The same offer again (a relay replaying it), at once: refused, and not answered (late
        // candidates of the finished session may still come; an answer must not).
        const started = performance.now();
        await client.send(aliceSignal, sent[0]);
        await a.waitErr(/a replayed connection offer was refused/);
        const refusedAfter = performance.now() - started;
        const kinds = await Promise.all(
          (await drain(bobSignal, 3000)).map(async (envelope) => {
            const plain = await decrypt(envelope, {
              identities: [bob.identity],
              verify: [alice.recipient],
            });
            return JSON.parse(new TextDecoder().decode(plain.subarray(30))).type as string;
          }),
        );
        assert.ok(!kinds.includes("answer"), `the chat answered a replayed offer: ${kinds}`);
        console.log(
          `replay refused ${Math.round(refusedAfter)} ms after it was sent`,
        );
        assert.doesNotMatch(a.stderr(), /path to bob: direct[^]*path to bob: direct/);
        await a.type("/quit");
        assert.equal(await a.end(), 0);
      } finally {
        await a.kill().catch(() => {});
      }
    } finally {
      await client.close();
      await relay.stop();
    }
  });
});

Deno.test("chat --direct: the contact not there yet: relay first, direct once it comes", async () => {
  await withTempDir("polycrypt-direct-later-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      let [first, second] = await pair(dir, relay.url);
      // The side that offers (its fingerprint sorts first) starts alone: its offer times out.
      if (fingerprint(first.recipient) > fingerprint(second.recipient)) {
        [first, second] = [second, first];
      }
      const a = chat(first, second.name, ["--direct"]);
      let b: Chat | undefined;
      try {
        await a.waitErr(
          new RegExp(
            `path to ${second.name}: relay \\S+ \\(no direct connection: the data channel did ` +
              `not open in time\\)`,
          ),
        );
        await a.type("are you there?");
        await a.waitErr(new RegExp(`\\(#1 queued on ws:\\S+ for ${second.name}\\)`));
        // The contact comes: the line is in its inbox, and the next offer opens the channel.
        b = chat(second, first.name, ["--direct"]);
        await b.waitOut(new RegExp(`^${first.name}: are you there\\?$`, "m"));
        const t0 = performance.now();
        await a.waitErr(new RegExp(`path to ${second.name}: direct`));
        await b.waitErr(new RegExp(`path to ${first.name}: direct`));
        console.log(`direct ${Math.round(performance.now() - t0)} ms after the line arrived`);
        await b.type("here now");
        await a.waitOut(new RegExp(`^${second.name}: here now$`, "m"));
        await b.waitErr(/\(#1 delivered, direct\)/);
        await a.type("/quit");
        assert.equal(await a.end(), 0);
        assert.equal(await b.end(), 0);
      } finally {
        await a.kill().catch(() => {});
        await b?.kill().catch(() => {});
      }
    } finally {
      await relay.stop();
    }
  });
});

Deno.test("chat --direct: a chat without -o DIR: the file goes to its inbox for fetch -o", async () => {
  await withTempDir("polycrypt-direct-no-out-", async (dir) => {
    const relay = await startRelay(dir);
    try {
      const [alice, bob] = await pair(dir, relay.url);
      const a = chat(alice, "bob", ["--direct"]); // no -o
      const b = chat(bob, "alice", ["--direct"]);
      try {
        await a.waitErr(/path to bob: direct/);
        await b.waitErr(/path to alice: direct/);
        const src = join(dir, "notes.bin");
        await bigFile(src, 3 * 1024 * 1024 + 5);
        await b.type(`/file ${src}`);
        await a.waitErr(/bob sends a file \(notes\.bin\): it waits in your inbox; chat or fetch/);
        await b.waitErr(/\(#1 notes\.bin: \d+ bytes queued on ws:\S+ for alice\)/);
        await a.waitErr(/stopped reading your inbox on ws:\S+: a file \(notes\.bin\) arrived/);
        await a.type("/quit");
        assert.equal(await a.end(), 0);
        await b.type("/quit");
        assert.equal(await b.end(), 0);
        const out = join(dir, "alice-in");
        await Deno.mkdir(out);
        const fetched = await alice.ok(["fetch", "-i", alice.key, "-o", out]);
        assert.match(fetched.stderr, /received \S+notes\.bin from bob/);
        assert.equal(await sha256(join(out, "notes.bin")), await sha256(src));
        assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["notes.bin"]);
      } finally {
        await a.kill().catch(() => {});
        await b.kill().catch(() => {});
      }
    } finally {
      await relay.stop();
    }
  });
});
