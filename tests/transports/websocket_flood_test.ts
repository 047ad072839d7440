// A WebSocket peer that floods messages the application does not read: a WebSocket reads on
// whether or not anyone asks, so the received messages used to pile up in memory without bound.
// Now they count against the frame budget and a per-connection bound (docs/transports.md
// section 5), and the flooding peer is closed while other peers are still served.
import assert from "node:assert/strict";
import {
  type Connection,
  connectWebSocket,
  FrameBudget,
  listenWebSocket,
  type WebSocketOptions,
} from "../../transports/mod.ts";
import { recorder, sendAndAck } from "./_peers.ts";

const MESSAGE = 64 * 1024;
const FLOOD_LIMIT = 96 * 1024 * 1024;

/**
 * Opens a raw WebSocket to `url` and sends 64 KiB binary messages (keeping at most 1 MiB in its
 * own send buffer) until the server closes it or `FLOOD_LIMIT` bytes are sent. Returns the bytes
 * sent and whether the server closed the connection.
 */
async function flood(url: string): Promise<{ sent: number; closed: boolean }> {
  const socket = new WebSocket(url);
  await new Promise((r) => socket.addEventListener("open", r, { once: true }));
  let closed = false;
  const ended = new Promise<void>((resolve) =>
    socket.addEventListener("close", () => {
      closed = true;
      resolve();
    })
  );
  const chunk = new Uint8Array(MESSAGE).fill(0x5a);
  let sent = 0;
  while (!closed && sent < FLOOD_LIMIT) {
    if (socket.bufferedAmount > 1024 * 1024) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    socket.send(chunk);
    sent += chunk.length;
  }
  if (!closed) {
    // Give the server a moment to catch up with what is in flight (on loopback the 96 MiB can all
    // be written before the server's close arrives), then give up: a close from the server within
    // that moment counts, one we make ourselves does not.
    let gaveUp = false;
    const timer = setTimeout(() => {
      gaveUp = true;
      socket.close();
    }, 2000);
    await ended;
    clearTimeout(timer);
    return { sent, closed: !gaveUp };
  }
  await ended;
  return { sent, closed: true };
}

/**
 * A WebSocket listener whose application never reads from its connections (it only holds them
 * until the test releases it), flooded by one peer: the figures of the flood and the budget.
 */
async function unreadFlood(
  options: WebSocketOptions & { frameBudget: FrameBudget },
): Promise<{ sent: number; closed: boolean; peak: number; heldAfter: number }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const idle = listenWebSocket("ws://127.0.0.1:0/", async (_connection: Connection) => {
    await released;
  }, options);
  try {
    const result = await flood(`ws://127.0.0.1:${idle.port}/`);
    // Once the flooding peer is closed, its unread bytes leave the budget.
    return { ...result, peak: options.frameBudget.peak, heldAfter: options.frameBudget.held };
  } finally {
    release();
    await idle.close();
  }
}

Deno.test("websocket: a peer flooding unread messages is closed at the per-connection bound", async () => {
  const bound = 1024 * 1024;
  const budget = new FrameBudget(64 * 1024 * 1024);
  const { sent, closed, peak, heldAfter } = await unreadFlood({
    maxQueuedBytes: bound,
    frameBudget: budget,
  });
  assert.ok(closed, `the flooding peer was not closed after ${sent} bytes`);
  assert.ok(peak <= bound, `queued ${peak} bytes, over the ${bound}-byte bound`);
  assert.equal(heldAfter, 0);
});

Deno.test("websocket: unread messages count against the frame budget", async () => {
  // A per-connection bound above the budget: the budget is what stops the flood.
  const capacity = 2 * 1024 * 1024;
  const budget = new FrameBudget(capacity);
  const { sent, closed, peak, heldAfter } = await unreadFlood({
    maxQueuedBytes: 64 * 1024 * 1024,
    frameBudget: budget,
  });
  assert.ok(closed, `the flooding peer was not closed after ${sent} bytes`);
  // The total passes the capacity by at most the message just received, for no time at all.
  assert.ok(peak <= capacity + MESSAGE, `held ${peak} bytes, over ${capacity} + one message`);
  assert.equal(heldAfter, 0);
});

Deno.test("websocket: while one peer floods, another is served", async () => {
  const received: string[] = [];
  const budget = new FrameBudget(4 * 1024 * 1024);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  // One listener's application never reads; the other's reads. They share one budget.
  const idle = listenWebSocket("ws://127.0.0.1:0/", async () => {
    await released;
  }, { frameBudget: budget, maxQueuedBytes: 8 * 1024 * 1024 });
  const served = listenWebSocket("ws://127.0.0.1:0/", recorder(received), {
    frameBudget: budget,
  });
  try {
    const alice = await connectWebSocket(`ws://127.0.0.1:${served.port}/`);
    const [{ closed }] = await Promise.all([
      flood(`ws://127.0.0.1:${idle.port}/`),
      (async () => {
        for (let i = 0; i < 20; i++) await sendAndAck(alice, `message ${i}`);
      })(),
    ]);
    await sendAndAck(alice, "after the flood");
    await alice.close();
    assert.ok(closed, "the flooding peer was closed");
    assert.equal(received.length, 21);
    assert.ok(budget.peak <= budget.capacity + MESSAGE, `held ${budget.peak} bytes`);
  } finally {
    release();
    await idle.close();
    await served.close();
  }
});

Deno.test("websocket: maxQueuedBytes is checked", () => {
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(
      () => listenWebSocket("ws://127.0.0.1:0/", () => {}, { maxQueuedBytes: bad }),
      RangeError,
    );
  }
});
