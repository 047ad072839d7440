// The listener's limits against slow and idle peers (issue 20 section 1, docs/transports.md
// section 9), with the limits shrunk so each test takes a second or two: an idle connection is
// closed after the idle timeout, a byte-by-byte drip inside a frame after the grace period, a
// frame that takes too long after the frame deadline, a stream below the minimum rate; a reader
// that is slow itself (back-pressure) is not mistaken for a slow peer; and at the connection cap
// the longest-idle connection makes room for a new sender. Loopback only.
import assert from "node:assert/strict";
import {
  encodeFrame,
  FRAME,
  FrameError,
  FrameReader,
  listen,
  type ListenOptions,
} from "../../transports/mod.ts";
import { connectTcp, connectWebSocket } from "../../transports/mod.ts";
import { closedWithin, expectAck, recorder, seal } from "./_peers.ts";

/** The upper bound of every wait here: a test fails rather than hangs. */
const BOUND_MS = 8_000;

/** How long the listener takes to close `conn` (read returns null or fails), at most BOUND_MS. */
const closedAfter = (conn: Deno.Conn, start: number): Promise<number> =>
  closedWithin(conn, start, BOUND_MS, "the listener kept the connection open");

/** Writes `bytes` one at a time, `everyMs` apart, until done or `conn` fails. */
async function drip(conn: Deno.Conn, bytes: Uint8Array, everyMs: number): Promise<void> {
  for (const byte of bytes) {
    try {
      await conn.write(new Uint8Array([byte]));
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function withListener(
  options: ListenOptions,
  body: (port: number, received: string[]) => Promise<void>,
  url = "tcp://127.0.0.1:0",
): Promise<void> {
  const received: string[] = [];
  const listener = await listen(url, recorder(received), options);
  try {
    await body(listener.port, received);
  } finally {
    await listener.close();
  }
}

Deno.test("limits: an idle connection is closed after betweenFramesTimeoutMs", async () => {
  await withListener({ betweenFramesTimeoutMs: 300 }, async (port) => {
    const start = performance.now();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const took = await closedAfter(conn, start);
    conn.close();
    console.log(`idle socket closed after ${took.toFixed(0)} ms (timeout 300 ms)`);
    assert.ok(took >= 250 && took < 3_000, `${took} ms`);
  });
});

Deno.test("limits: an idle connection between two messages is closed too", async () => {
  await withListener({ betweenFramesTimeoutMs: 400 }, async (port, received) => {
    const alice = await connectTcp(`tcp://127.0.0.1:${port}`);
    await expectAck(alice, await alice.send(await seal("one")));
    const start = performance.now();
    const end = await Promise.race([
      alice.messages().next().then(() => "closed", () => "closed"),
      new Promise((r) => setTimeout(() => r("open"), BOUND_MS)),
    ]);
    assert.equal(end, "closed");
    assert.ok(performance.now() - start < 3_000);
    assert.deepEqual(received, ["one"]);
    await alice.close();
  });
});

Deno.test("limits: a 1-byte drip inside a frame is closed after the grace period", async () => {
  // The per-read idle timeout (30 s by default) never fires for a byte every 100 ms: the minimum
  // rate does, once the grace period is over.
  await withListener({ rateGraceMs: 500, minBytesPerSecond: 1024 }, async (port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const start = performance.now();
    const envelope = await seal("x");
    const dripping = drip(conn, encodeFrame(FRAME.envelope, envelope), 100);
    const took = await closedAfter(conn, start);
    await dripping;
    conn.close();
    console.log(`1-byte-per-100-ms drip closed after ${took.toFixed(0)} ms (grace 500 ms)`);
    assert.ok(took >= 450 && took < 3_000, `${took} ms`);
  });
});

Deno.test("limits: a frame that takes longer than frameTimeoutMs is closed", async () => {
  // Fast enough for the (disabled) rate, too slow for the frame deadline.
  await withListener({ frameTimeoutMs: 600, minBytesPerSecond: 0 }, async (port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const start = performance.now();
    const dripping = drip(conn, encodeFrame(FRAME.envelope, await seal("x")), 50);
    const took = await closedAfter(conn, start);
    await dripping;
    conn.close();
    assert.ok(took >= 550 && took < 3_000, `${took} ms`);
  });
});

Deno.test("limits: a stream of quick frames below the minimum rate is closed", async () => {
  // Each PART frame arrives whole and at once, so no frame deadline fires; the stream as a whole
  // averages about 60 B/s against a minimum of 1 KiB/s.
  await withListener({ rateGraceMs: 500, minBytesPerSecond: 1024 }, async (port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const start = performance.now();
    const envelope = await seal("x".repeat(200));
    const sending = (async () => {
      // The first piece is long enough to begin like an envelope.
      for (let i = 0; i < envelope.length && performance.now() - start < BOUND_MS;) {
        const piece = envelope.subarray(i, i === 0 ? 64 : i + 6);
        i += piece.length;
        try {
          await conn.write(encodeFrame(FRAME.part, piece));
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const took = await closedAfter(conn, start);
    await sending;
    conn.close();
    assert.ok(took >= 450 && took < 3_000, `${took} ms`);
  });
});

Deno.test("limits: a reader's own slowness (back-pressure) is not the peer's", async () => {
  // The peer sends all at once; the reader takes 1 s before asking for each frame. The clocks
  // count only the time spent waiting for the peer, so the stream is read in full.
  const frames = [1, 2, 3].map((n) => encodeFrame(FRAME.part, new Uint8Array(64).fill(n)));
  frames.push(encodeFrame(FRAME.end, new Uint8Array(64).fill(4)));
  const bytes = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((off, f) => (bytes.set(f, off), off + f.length), 0);
  const reader = new FrameReader(ReadableStream.from([bytes]), {
    rateGraceMs: 100,
    minBytesPerSecond: 1024 * 1024,
    frameTimeoutMs: 200,
    betweenFramesTimeoutMs: 200,
  });
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await reader.next(i > 0))?.type, i < 3 ? FRAME.part : FRAME.end);
  }
  assert.equal(await reader.next(), undefined);
});

/** A reader of a stream that sends `head` now and `rest` (if any) after `restAfterMs`. */
function stalledReader(
  idleTimeoutMs: number,
  head: Uint8Array,
  rest?: Uint8Array,
  restAfterMs = 0,
): FrameReader {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(head);
      if (rest) timer = setTimeout(() => controller.enqueue(rest), restAfterMs);
    },
    cancel: () => clearTimeout(timer),
  });
  return new FrameReader(source, { idleTimeoutMs, rateGraceMs: 60_000 });
}

Deno.test("limits: one watchdog times every read: each fails at its own deadline, none early or late", async () => {
  const frame = encodeFrame(FRAME.envelope, new Uint8Array(32));
  const head = frame.subarray(0, 10);
  const start = performance.now();
  /** When `reader.next()` settled, with the payload length or the error. */
  interface Settled {
    ok: boolean;
    at: number;
    length?: number;
    error?: unknown;
  }
  const settled = (reader: FrameReader): Promise<Settled> =>
    reader.next().then(
      (f) => ({ ok: true, at: performance.now() - start, length: f?.payload.length }),
      (error) => ({ ok: false, at: performance.now() - start, error }),
    );
  // Three stalled frames with different timeouts, started out of order, and one whose rest
  // arrives in time: the shared timer serves the earliest deadline first.
  const slow = stalledReader(600, head);
  const quick = stalledReader(200, head);
  const middle = stalledReader(400, head);
  const saved = stalledReader(300, head, frame.subarray(10), 100);
  // A deadline beyond what setTimeout takes (2^31 - 1 ms) neither fires at once nor spins.
  const distant = stalledReader(3_000_000_000, head);
  const results = Promise.all([slow, quick, middle, saved].map(settled));
  const far = settled(distant);
  const [s, q, m, v] = await results;
  assert.equal(v.ok, true);
  assert.equal(v.length, 32);
  for (const [r, ms] of [[q, 200], [m, 400], [s, 600]] as const) {
    assert.equal(r.ok, false);
    assert.ok(r.error instanceof FrameError, String(r.error));
    assert.equal((r.error as FrameError).message, "the peer stalled inside a frame");
    assert.ok(r.at >= ms - 5 && r.at < ms + BOUND_MS, `${ms} ms deadline failed at ${r.at}`);
  }
  assert.ok(q.at <= m.at && m.at <= s.at, `${q.at} ${m.at} ${s.at}`);
  // The distant read is still waiting; cancelling it leaves no timer behind (the test's op
  // sanitizer checks).
  const pending = Symbol("pending");
  assert.equal(await Promise.race([far, Promise.resolve(pending)]), pending);
  await Promise.all([slow, quick, middle, saved, distant].map((r) => r.cancel()));
  assert.equal((await far).ok, false);
});

Deno.test("limits: the deadlines are checked", () => {
  for (
    const name of [
      "frameTimeoutMs",
      "minBytesPerSecond",
      "rateGraceMs",
      "betweenFramesTimeoutMs",
    ]
  ) {
    assert.throws(() => new FrameReader(ReadableStream.from([]), { [name]: -1 }), RangeError);
    assert.throws(() => new FrameReader(ReadableStream.from([]), { [name]: 0.5 }), RangeError);
  }
});

for (const scheme of ["tcp", "ws"]) {
  Deno.test(`limits: at the cap (${scheme}), the longest-idle connection makes room`, async () => {
    const url = scheme === "tcp" ? "tcp://127.0.0.1:0" : "ws://127.0.0.1:0/p";
    await withListener({ maxConnections: 16 }, async (port, received) => {
      const to = scheme === "tcp" ? `tcp://127.0.0.1:${port}` : `ws://127.0.0.1:${port}/p`;
      const connect = () => scheme === "tcp" ? connectTcp(to) : connectWebSocket(to);
      // 16 idle connections fill the cap; the first is the longest idle.
      const idle = [];
      for (let i = 0; i < 16; i++) {
        idle.push(await connect());
        await new Promise((r) => setTimeout(r, 5));
      }
      const firstClosed = idle[0].messages().next().then(() => true, () => true);
      const start = performance.now();
      const alice = await connect();
      await expectAck(alice, await alice.send(await seal("room for me")));
      const took = performance.now() - start;
      console.log(`${scheme}: send at a full cap acknowledged after ${took.toFixed(0)} ms`);
      assert.ok(took < 5_000, `${took} ms`);
      assert.deepEqual(received, ["room for me"]);
      assert.equal(
        await Promise.race([firstClosed, new Promise((r) => setTimeout(() => r(false), BOUND_MS))]),
        true,
        "the longest-idle connection was closed",
      );
      await Promise.all([alice, ...idle].map((c) => c.close()));
    }, url);
  });
}
