// The memory budget for frames in flight (issue 20 section 1): 12 connections each sending all
// but the last byte of a 16 MiB - 1 frame used to add 236 MiB to a listener (about 20 GiB at the
// connection cap). A listener's connections now share one budget; over it, the oldest incomplete
// frame is evicted and its connection closed. Loopback only, with a shrunk budget.
import assert from "node:assert/strict";
import {
  connectTcp,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  FRAME,
  FrameBudget,
  FrameError,
  FrameReader,
  type Inbound,
  listenTcp,
} from "../../transports/mod.ts";
import { decrypt, encrypt } from "../../mod.ts";
import { bob, expectAck, seal } from "./_peers.ts";
import { waitUntil } from "../_event_loop.ts";

const MiB = 1024 * 1024;
/** The most a socket read brings at once (Deno reads into 64 KiB buffers). */
const CHUNK = 64 * 1024;

/** Decrypts and acknowledges every envelope, whole or streamed; records the plaintext sizes. */
function serveAll(sizes: number[]): (peer: Inbound) => Promise<void> {
  return async (peer) => {
    for await (const m of peer.messages()) {
      if (m.kind === "ack") continue;
      const sealed = m.kind === "envelope" ? m.envelope : await new Response(
        ReadableStream.from(m.pieces),
      ).bytes();
      sizes.push((await decrypt(sealed, { identities: [bob.identity] })).length);
      await peer.acknowledge(m.kind === "envelope" ? m.id : await m.id);
    }
  };
}

/**
 * A raw connection that announces a frame of `length` bytes and sends `send` bytes of it. Resolves
 * with whether the listener closed it (once `send` bytes are out, it waits up to `waitMs`).
 */
async function partialFrame(port: number, length: number, send: number, waitMs = 3000) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const header = new Uint8Array([1, FRAME.envelope, 0, 0, 0, 0]);
  new DataView(header.buffer).setUint32(2, length);
  let closed = false;
  try {
    await conn.write(header);
    const piece = new Uint8Array(MiB);
    for (let sent = 0; sent < send;) {
      sent += await conn.write(piece.subarray(0, Math.min(MiB, send - sent)));
    }
    const buf = new Uint8Array(16);
    let timer: ReturnType<typeof setTimeout> | undefined;
    closed = await Promise.race([
      conn.read(buf).then((n) => n === null, () => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), waitMs)),
    ]);
    clearTimeout(timer);
  } catch {
    closed = true; // reset while writing: the listener dropped it
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
  return closed;
}

/**
 * A test against a TCP listener whose connections share a `capacity` budget, serving with
 * `serveAll(sizes)`; the listener is closed after `fn`.
 */
function budgetTest(
  name: string,
  capacity: number,
  fn: (
    budget: FrameBudget,
    sizes: number[],
    listener: ReturnType<typeof listenTcp>,
  ) => Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const budget = new FrameBudget(capacity);
      const sizes: number[] = [];
      const listener = listenTcp("tcp://127.0.0.1:0", serveAll(sizes), { frameBudget: budget });
      try {
        await fn(budget, sizes, listener);
      } finally {
        await listener.close();
      }
    },
  });
}

budgetTest(
  "frame budget: 12 maximal partial frames never hold more than the budget",
  64 * MiB,
  async (budget, sizes, listener) => {
    // Each announces 16 MiB - 1 and sends all but its last byte: 192 MiB wanted, 64 MiB allowed.
    const attackers = Array.from(
      { length: 12 },
      () =>
        partialFrame(
          listener.port,
          DEFAULT_MAX_FRAME_BYTES - 1,
          DEFAULT_MAX_FRAME_BYTES - 2,
          1000,
        ),
    );
    // A real sender meanwhile: its 1 KiB message is delivered and acknowledged.
    const alice = await connectTcp(`tcp://127.0.0.1:${listener.port}`);
    await expectAck(alice, await alice.send(await seal("x".repeat(1024))));
    await alice.close();
    const closed = await Promise.all(attackers);
    // At most four 16 MiB frames fit in 64 MiB: the others were evicted, oldest first.
    assert.ok(closed.filter((c) => c).length >= 8, `${closed}`);
    assert.deepEqual(sizes, [1024]);
    assert.ok(budget.peak <= budget.capacity + CHUNK, `peak ${budget.peak}`);
    await waitUntil(() => listener.active === 0, 10_000, "the listener closed its connections");
    assert.equal(budget.held, 0);
  },
);

budgetTest(
  "frame budget: the oldest stalled frame is evicted, a moving stream completes",
  4 * MiB,
  async (budget, sizes, listener) => {
    // The stalled frame holds 3 MiB of the 4 MiB.
    const stalled = partialFrame(listener.port, 8 * MiB, 3 * MiB, 10_000);
    await waitUntil(() => budget.held >= 3 * MiB, 10_000, "the stalled frame holds 3 MiB");
    // A 3 MiB message streams in 1 MiB PART frames: 1 MiB more takes the total over.
    const alice = await connectTcp(`tcp://127.0.0.1:${listener.port}`);
    const data = new Uint8Array(3 * MiB);
    const sealed = await encrypt(data, { recipients: [bob.recipient] });
    await expectAck(alice, await alice.send(sealed));
    await alice.close();
    assert.equal(await stalled, true);
    assert.deepEqual(sizes, [3 * MiB]);
    assert.ok(budget.peak <= budget.capacity + CHUNK, `peak ${budget.peak}`);
  },
);

Deno.test("frame budget: a reader counts its frame until it is asked for the next, and fails once evicted", async () => {
  const budget = new FrameBudget(1000);
  const a = new FrameReader(
    ReadableStream.from([encodeFrame(FRAME.envelope, new Uint8Array(600))]),
    { frameBudget: budget },
  );
  assert.equal((await a.next())?.payload.length, 600);
  assert.equal(budget.held, 600);
  // B's incomplete frame is older than anything A holds, but A's frame is complete: B goes.
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const b = new FrameReader(new ReadableStream({ start: (c) => void (feed = c) }), {
    frameBudget: budget,
  });
  const next = b.next();
  feed.enqueue(encodeFrame(FRAME.envelope, new Uint8Array(700)).subarray(0, 500));
  await assert.rejects(next, FrameError);
  assert.equal(budget.held, 600);
  assert.equal(await a.next(), undefined);
  assert.equal(budget.held, 0);
  assert.throws(() => new FrameBudget(0), RangeError);
  assert.throws(
    () => new FrameReader(new ReadableStream(), { frameBudget: {} as FrameBudget }),
    TypeError,
  );
});
