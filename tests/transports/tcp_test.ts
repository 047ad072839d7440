// TCP over loopback: delivery with ACKs, 200 concurrent peers, and peers that send garbage,
// oversized frames or stall: each loses its own connection, the listener keeps serving.
import assert from "node:assert/strict";
import { connectTcp, listenTcp, parseTcpAddress } from "../../transports/mod.ts";
import { closedWithin, expectAck, recorder, seal } from "./_peers.ts";

/** A listener that decrypts what arrives, records it and acknowledges it. */
function bobListener(received: string[], options = {}) {
  return listenTcp("tcp://127.0.0.1:0", recorder(received), options);
}

Deno.test("tcp: a message is delivered, decrypted and acknowledged", async () => {
  const received: string[] = [];
  const listener = bobListener(received);
  const alice = await connectTcp(`tcp://127.0.0.1:${listener.port}`);
  const id = await alice.send(await seal("hello over tcp"));
  await expectAck(alice, id);
  assert.deepEqual(received, ["hello over tcp"]);
  await alice.close();
  await listener.close();
});

Deno.test("tcp: 200 concurrent peers are all served", async () => {
  const received: string[] = [];
  const listener = bobListener(received);
  const envelope = await seal("fan-in");
  const peers = await Promise.all(
    Array.from({ length: 200 }, () => connectTcp(`tcp://127.0.0.1:${listener.port}`)),
  );
  await Promise.all(peers.map(async (peer) => {
    const id = await peer.send(envelope);
    await expectAck(peer, id);
  }));
  assert.equal(received.length, 200);
  assert.equal(listener.active, 200);
  await Promise.all(peers.map((p) => p.close()));
  await listener.close();
});

Deno.test("tcp: garbage, oversized and stalled peers lose only their own connection", async (t) => {
  const received: string[] = [];
  const listener = bobListener(received, { idleTimeoutMs: 200, maxFrameBytes: 1 << 20 });
  const raw = () => Deno.connect({ hostname: "127.0.0.1", port: listener.port });
  await t.step("garbage", async () => {
    const conn = await raw();
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await closedWithin(conn, performance.now(), 10_000, "the listener kept the connection open");
    conn.close();
  });
  await t.step("a 4 GiB frame header is refused before any payload", async () => {
    const conn = await raw();
    await conn.write(new Uint8Array([1, 1, 255, 255, 255, 255]));
    await closedWithin(conn, performance.now(), 10_000, "the listener kept the connection open");
    conn.close();
  });
  await t.step("a sender that stalls inside a frame is timed out", async () => {
    const conn = await raw();
    await conn.write(new Uint8Array([1, 1, 0, 0, 1, 0, 0x50]));
    const start = performance.now();
    await closedWithin(conn, performance.now(), 10_000, "the listener kept the connection open");
    assert.ok(performance.now() - start >= 150, "closed by the idle timeout");
    conn.close();
  });
  await t.step("the listener still serves a good peer", async () => {
    const alice = await connectTcp(`tcp://127.0.0.1:${listener.port}`);
    const id = await alice.send(await seal("still here"));
    await expectAck(alice, id);
    await alice.close();
  });
  assert.deepEqual(received, ["still here"]);
  await listener.close();
});

Deno.test("tcp: addresses are parsed strictly", () => {
  assert.deepEqual(parseTcpAddress("tcp://example.org:7000"), {
    hostname: "example.org",
    port: 7000,
  });
  assert.deepEqual(parseTcpAddress("tcp://[::1]:1"), { hostname: "::1", port: 1 });
  for (
    const bad of ["example.org:7000", "tcp://host", "tcp://host:70000", "udp://h:1", "tcp://a b:1"]
  ) {
    assert.throws(() => parseTcpAddress(bad), RangeError, bad);
  }
});
