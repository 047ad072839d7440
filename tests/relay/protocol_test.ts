// The relay protocol against a real RelayServer over loopback (docs/relay.md): authorization,
// replay, limits with their error codes, idempotent SEND, subscriptions, bundles, bad input.
import assert from "node:assert/strict";
import { encrypt, generateIdentity } from "../../mod.ts";
import {
  COMMAND,
  encodeAuthKey,
  encodeBundles,
  generateQueueKey,
  openInbox,
  RELAY_ERROR,
  RelayClient,
  RelayError,
  type RelayMessage,
  RelayServer,
  type RelayServerOptions,
  RESPONSE,
  SqliteStore,
  type StoreLimits,
} from "../../relay/mod.ts";
import { encodeFrame, FRAME } from "../../transports/mod.ts";
import { errCode, RawRelay } from "./_raw.ts";

const bob = await generateIdentity("x25519");
const seal = async (text: string) =>
  await encrypt(new TextEncoder().encode(text), { recipients: [bob.recipient] });
const EMPTY = new Uint8Array(0);

async function withRelay(
  run: (url: string, server: RelayServer) => Promise<void>,
  options: Partial<RelayServerOptions> & { limits?: Partial<StoreLimits>; on?: string } = {},
) {
  const server = new RelayServer({
    store: new SqliteStore(":memory:", { limits: options.limits }),
    sweepIntervalMs: 0,
    ...options,
  });
  try {
    await run(await server.listen(options.on ?? "tcp://127.0.0.1:0"), server);
  } finally {
    await server.close();
  }
}

async function rejectsWith(promise: Promise<unknown>, code: number) {
  await assert.rejects(promise, (e) => e instanceof RelayError && e.code === code);
}

for (const scheme of ["ws", "tcp"]) {
  Deno.test(`${scheme}://: NEW, unsigned SEND, GET, ACK, KEY, then only SENDs signed by SK`, async () => {
    await withRelay(async (url) => {
      const bobRelay = await RelayClient.connect(url);
      const alice = await RelayClient.connect(url);
      try {
        const inbox = await openInbox(bobRelay);
        assert.equal(inbox.receivingId.length, 24);
        assert.equal(inbox.sendingId.length, 24);
        const first = await alice.send(inbox.sendingId, await seal("hello, and my key"));
        const got = await bobRelay.fetch(inbox.receivingId, inbox.key);
        assert.deepEqual(got?.id, first);
        assert.equal(await bobRelay.ack(inbox.receivingId, inbox.key, first), true);
        assert.equal(await bobRelay.ack(inbox.receivingId, inbox.key, first), false);
        // Bob secures the queue to the key Alice sent him (inside the envelope).
        const aliceKey = await generateQueueKey();
        await bobRelay.secure(inbox.receivingId, inbox.key, aliceKey);
        await bobRelay.secure(inbox.receivingId, inbox.key, aliceKey); // a retry is fine
        await rejectsWith(
          bobRelay.secure(inbox.receivingId, inbox.key, await generateQueueKey()),
          RELAY_ERROR.AUTH,
        );
        await rejectsWith(alice.send(inbox.sendingId, await seal("unsigned")), RELAY_ERROR.AUTH);
        const eve = await generateQueueKey();
        await rejectsWith(
          alice.send(inbox.sendingId, await seal("eve"), { key: eve }),
          RELAY_ERROR.AUTH,
        );
        const second = await alice.send(inbox.sendingId, await seal("signed"), { key: aliceKey });
        assert.deepEqual((await bobRelay.fetch(inbox.receivingId, inbox.key))?.id, second);
        await bobRelay.del(inbox.receivingId, inbox.key);
        await rejectsWith(bobRelay.fetch(inbox.receivingId, inbox.key), RELAY_ERROR.AUTH);
        await rejectsWith(
          alice.send(inbox.sendingId, await seal("gone"), { key: aliceKey }),
          RELAY_ERROR.AUTH,
        );
      } finally {
        await alice.close();
        await bobRelay.close();
      }
    }, { on: `${scheme}://127.0.0.1:0` });
  });
}

Deno.test("commands unsigned, signed by another key or over another nonce are refused", async () => {
  await withRelay(async (url) => {
    const raw = await RawRelay.connect(url);
    try {
      const key = await generateQueueKey();
      // NEW must be signed by the key it registers.
      const other = await generateQueueKey();
      const unsignedNew = await raw.command(COMMAND.NEW, EMPTY, encodeAuthKey(key));
      assert.equal(errCode(unsignedNew), RELAY_ERROR.AUTH);
      const wrongNew = await raw.command(COMMAND.NEW, EMPTY, encodeAuthKey(key), other);
      assert.equal(errCode(wrongNew), RELAY_ERROR.AUTH);
      const { rid, sid } = await raw.create(key);
      for (const tag of [COMMAND.GET, COMMAND.SUB, COMMAND.DEL]) {
        assert.equal(errCode(await raw.command(tag, rid, EMPTY)), RELAY_ERROR.AUTH);
        assert.equal(errCode(await raw.command(tag, rid, EMPTY, other)), RELAY_ERROR.AUTH);
        const otherNonce = await raw.build(tag, rid, EMPTY, key, {
          nonce: new Uint8Array(32).fill(7),
        });
        assert.equal(errCode(await raw.exchange(otherNonce)), RELAY_ERROR.AUTH);
      }
      // A recipient command with the sending id, and a SEND with the receiving id.
      assert.equal(errCode(await raw.command(COMMAND.GET, sid, EMPTY, key)), RELAY_ERROR.AUTH);
      const body = new Uint8Array([...new Uint8Array(16), ...await seal("x")]);
      assert.equal(errCode(await raw.command(COMMAND.SEND, rid, body)), RELAY_ERROR.AUTH);
      // A signature on a SEND to an unsecured queue is refused too (SMP's rule).
      assert.equal(errCode(await raw.command(COMMAND.SEND, sid, body, key)), RELAY_ERROR.AUTH);
      // Unknown queues look like a wrong signature.
      const unknown = crypto.getRandomValues(new Uint8Array(24));
      assert.equal(errCode(await raw.command(COMMAND.GET, unknown, EMPTY, key)), RELAY_ERROR.AUTH);
      // Still usable.
      const ok = await raw.command(COMMAND.GET, rid, EMPTY, key);
      assert.equal(ok.tag, RESPONSE.EMPTY);
    } finally {
      await raw.close();
    }
  });
});

Deno.test("a command replayed on another connection (AUTH) or on its own (REPLAY) is refused", async () => {
  await withRelay(async (url) => {
    const a = await RawRelay.connect(url);
    const b = await RawRelay.connect(url);
    try {
      assert.notDeepEqual(a.hello.nonce, b.hello.nonce);
      const key = await generateQueueKey();
      const { rid, sid } = await a.create(key);
      const sender = await RelayClient.connect(url);
      await sender.send(sid, await seal("one"));
      const getBytes = await a.build(COMMAND.GET, rid, EMPTY, key);
      const got = await a.exchange(getBytes);
      assert.equal(got.tag, RESPONSE.MSG);
      const ack = await a.build(COMMAND.ACK, rid, got.body.slice(0, 16), key);
      // Replayed on b (b's seq counter is fresh, so the seq is acceptable there): AUTH.
      assert.equal(errCode(await b.exchange(getBytes)), RELAY_ERROR.AUTH);
      assert.equal(errCode(await b.exchange(ack)), RELAY_ERROR.AUTH);
      // On its own connection: REPLAY, even for a command never executed before (a lower seq).
      assert.equal(errCode(await a.exchange(getBytes)), RELAY_ERROR.REPLAY);
      assert.equal((await a.exchange(ack)).tag, RESPONSE.OK);
      assert.equal(errCode(await a.exchange(ack)), RELAY_ERROR.REPLAY);
      await sender.close();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

Deno.test("oversized, non-envelope and armored SENDs, and a full queue, are refused with their codes", async () => {
  await withRelay(async (url) => {
    const bobRelay = await RelayClient.connect(url);
    const raw = await RawRelay.connect(url);
    try {
      assert.equal(bobRelay.maxEnvelope, 4096);
      const inbox = await openInbox(bobRelay);
      const big = await encrypt(new Uint8Array(5000), { recipients: [bob.recipient] });
      const large = await raw.command(
        COMMAND.SEND,
        inbox.sendingId,
        new Uint8Array([...new Uint8Array(16), ...big]),
      );
      assert.equal(errCode(large), RELAY_ERROR.LARGE);
      const plain = new TextEncoder().encode("PCRYPT but not sealed, meet at 7");
      const notEnvelope = await raw.command(
        COMMAND.SEND,
        inbox.sendingId,
        new Uint8Array([...new Uint8Array(16), ...plain]),
      );
      assert.equal(errCode(notEnvelope), RELAY_ERROR.NOT_ENVELOPE);
      const armored = await encrypt(new Uint8Array(3), {
        recipients: [bob.recipient],
        armor: true,
      });
      const armoredAnswer = await raw.command(
        COMMAND.SEND,
        inbox.sendingId,
        new Uint8Array([...new Uint8Array(16), ...armored]),
      );
      assert.equal(errCode(armoredAnswer), RELAY_ERROR.NOT_ENVELOPE);
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 3; i++) {
        sent.push(await bobRelay.send(inbox.sendingId, await seal(`${i}`)));
      }
      await rejectsWith(bobRelay.send(inbox.sendingId, await seal("full")), RELAY_ERROR.QUOTA);
      // A retry of a stored message is still OK (deduplicated), even when the queue is full.
      await bobRelay.send(inbox.sendingId, await seal("0"), { messageId: sent[0] });
      await bobRelay.ack(inbox.receivingId, inbox.key, sent[0]);
      await bobRelay.send(inbox.sendingId, await seal("room again"));
    } finally {
      await raw.close();
      await bobRelay.close();
    }
  }, { maxEnvelopeBytes: 4096, limits: { maxQueueMessages: 3 } });
});

Deno.test("a SEND retried with the same message id is stored and delivered once", async () => {
  await withRelay(async (url) => {
    const bobRelay = await RelayClient.connect(url);
    const inbox = await openInbox(bobRelay);
    const envelope = await seal("once");
    const id = crypto.getRandomValues(new Uint8Array(16));
    for (let i = 0; i < 3; i++) {
      const alice = await RelayClient.connect(url); // a new connection each time, as after a crash
      assert.deepEqual(await alice.send(inbox.sendingId, envelope, { messageId: id }), id);
      await alice.close();
    }
    const got = await bobRelay.fetch(inbox.receivingId, inbox.key);
    assert.deepEqual(got?.id, id);
    await bobRelay.ack(inbox.receivingId, inbox.key, id);
    // After the ACK, within the dedup window, a late retry is not stored again.
    const late = await RelayClient.connect(url);
    await late.send(inbox.sendingId, envelope, { messageId: id });
    await late.close();
    assert.equal(await bobRelay.fetch(inbox.receivingId, inbox.key), undefined);
    await bobRelay.close();
  });
});

Deno.test("SUB pushes waiting and new messages in order; a second SUB ends the first", async () => {
  await withRelay(async (url) => {
    const bobRelay = await RelayClient.connect(url);
    const alice = await RelayClient.connect(url);
    const inbox = await openInbox(bobRelay);
    const ids = [await alice.send(inbox.sendingId, await seal("waiting"))];
    const messages = await bobRelay.subscribe(inbox.receivingId, inbox.key);
    const received: RelayMessage[] = [];
    const reading = (async () => {
      for await (const m of messages) {
        received.push(m);
        await bobRelay.ack(inbox.receivingId, inbox.key, m.id);
        if (received.length === 5) break;
      }
    })();
    for (let i = 0; i < 4; i++) ids.push(await alice.send(inbox.sendingId, await seal(`new ${i}`)));
    await reading;
    assert.deepEqual(received.map((m) => m.id.toHex()), ids.map((i) => i.toHex()));
    // Another connection subscribes: the first one's subscription ends.
    const phone = await RelayClient.connect(url);
    const second = await phone.subscribe(inbox.receivingId, inbox.key);
    const ended = (async () => {
      for await (const _ of messages) { /* drained */ }
      return "ended";
    })();
    assert.equal(await ended, "ended");
    const late = await alice.send(inbox.sendingId, await seal("to the phone"));
    for await (const m of second) {
      assert.deepEqual(m.id, late);
      break;
    }
    await phone.close();
    await alice.close();
    await bobRelay.close();
  });
});

Deno.test("SUB pushes at most 32 unacknowledged messages, and refills after 16 ACKs", async () => {
  await withRelay(async (url) => {
    const bobRelay = await RelayClient.connect(url);
    const alice = await RelayClient.connect(url);
    const inbox = await openInbox(bobRelay);
    for (let i = 0; i < 40; i++) await alice.send(inbox.sendingId, await seal(`${i}`));
    const raw = await RawRelay.connect(url);
    const sub = await raw.command(COMMAND.SUB, inbox.receivingId, EMPTY, inbox.key);
    assert.equal(sub.tag, RESPONSE.OK);
    const pushed: Uint8Array[] = [];
    for (let i = 0; i < 32; i++) pushed.push((await raw.next(true)).body.slice(0, 16));
    const ack = async (id: Uint8Array) =>
      assert.equal(
        (await raw.command(COMMAND.ACK, inbox.receivingId, id, inbox.key)).tag,
        RESPONSE.OK,
      );
    for (let i = 0; i < 15; i++) await ack(pushed[i]);
    // Nothing more yet: a push sent before this PONG would be held here.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await raw.command(COMMAND.PING, EMPTY, EMPTY)).tag, RESPONSE.PONG);
    assert.equal(raw.heldPushes, 0);
    await ack(pushed[15]); // half the window acknowledged: the other 8 come
    const rest: string[] = [];
    for (let i = 0; i < 8; i++) rest.push((await raw.next(true)).body.slice(0, 16).toHex());
    assert.equal(new Set([...pushed.map((p) => p.toHex()), ...rest]).size, 40);
    await raw.close();
    await alice.close();
    await bobRelay.close();
  });
});

Deno.test("bundles: 20 concurrent fetches over 20 connections take distinct one-time bundles", async () => {
  await withRelay(async (url) => {
    const bobRelay = await RelayClient.connect(url);
    const inbox = await openInbox(bobRelay);
    const bundles = Array.from({ length: 15 }, (_, i) => new Uint8Array(200).fill(i + 1));
    assert.equal(await bobRelay.publish(inbox.receivingId, inbox.key, bundles), 15);
    assert.equal(
      await bobRelay.publish(inbox.receivingId, inbox.key, [new Uint8Array([0xee])], {
        lastResort: true,
      }),
      15,
    );
    const fetchers = await Promise.all(
      Array.from({ length: 20 }, () => RelayClient.connect(url)),
    );
    const got = await Promise.all(fetchers.map((f) => f.fetchBundle(inbox.sendingId)));
    const oneTime = got.filter((b) => b!.length === 200).map((b) => b![0]).sort((a, b) => a - b);
    assert.deepEqual(oneTime, Array.from({ length: 15 }, (_, i) => i + 1));
    assert.equal(got.filter((b) => b!.length === 1 && b![0] === 0xee).length, 5);
    await Promise.all(fetchers.map((f) => f.close()));
    // Oversized bundles, a bad flag, a fetch with a signature.
    await rejectsWith(
      bobRelay.publish(inbox.receivingId, inbox.key, [new Uint8Array(16 * 1024 + 1)]),
      RELAY_ERROR.LARGE,
    );
    const raw = await RawRelay.connect(url);
    const badFlags = await raw.command(
      COMMAND.PUBLISH,
      inbox.receivingId,
      encodeBundles([new Uint8Array(3)], 0x80),
      inbox.key,
    );
    assert.equal(errCode(badFlags), RELAY_ERROR.SYNTAX);
    const signedFetch = await raw.command(COMMAND.FETCH, inbox.sendingId, EMPTY, inbox.key);
    assert.equal(errCode(signedFetch), RELAY_ERROR.AUTH);
    await raw.close();
    await bobRelay.close();
  });
});

Deno.test("garbage: bad transmissions answer SYNTAX or UNKNOWN and the connection lives; bad frames close only their connection", async () => {
  await withRelay(async (url) => {
    const raw = await RawRelay.connect(url);
    assert.equal(errCode(await raw.exchangeAny(new Uint8Array([1, 2, 3]))), RELAY_ERROR.SYNTAX);
    assert.equal(errCode(await raw.command(0x7e, EMPTY, EMPTY)), RELAY_ERROR.UNKNOWN);
    const truncatedId = await raw.build(COMMAND.GET, new Uint8Array(24), EMPTY);
    truncatedId[6 + 1] = 200; // idLen beyond the end
    assert.equal(errCode(await raw.exchange(truncatedId)), RELAY_ERROR.SYNTAX);
    const badKey = await raw.command(
      COMMAND.NEW,
      EMPTY,
      new Uint8Array([3, 120, 120, 120, 0, 1, 0]),
    );
    assert.equal(errCode(badKey), RELAY_ERROR.SYNTAX);
    // Random payloads: every one answered, none fatal.
    for (let i = 0; i < 300; i++) {
      const junk = crypto.getRandomValues(new Uint8Array(1 + (i % 97)));
      // A junk seq below the last is REPLAY, otherwise anything; never a crash or silence.
      const answer = await raw.exchangeAny(junk);
      assert.equal(answer.tag, RESPONSE.ERR);
    }
    raw.seq = 0xfffffff0 - 1;
    assert.equal((await raw.command(COMMAND.PING, EMPTY, EMPTY)).tag, RESPONSE.PONG);
    await raw.close();

    // An ENVELOPE frame on a relay connection, and bytes that are no frame at all.
    const port = Number(new URL(url.replace("tcp:", "http:")).port);
    for (
      const bytes of [
        encodeFrame(FRAME.envelope, await seal("p2p")),
        new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      ]
    ) {
      const socket = await Deno.connect({ hostname: "127.0.0.1", port });
      await socket.write(bytes);
      const buf = new Uint8Array(1024);
      let total = 0;
      for (;;) {
        const n = await socket.read(buf).catch(() => null);
        if (n === null) break;
        total += n;
      }
      assert.ok(total <= 2 + 6 + 38); // at most the greeting came back before the close
      socket.close();
    }
    const after = await RelayClient.connect(url);
    await after.ping();
    await after.close();
  });
});

Deno.test("limits: commands per second (RATE) and queues per connection (QUEUES)", async () => {
  await withRelay(async (url) => {
    const client = await RelayClient.connect(url);
    const results = await Promise.allSettled(Array.from({ length: 60 }, () => client.ping()));
    const rate = results.filter((r) =>
      r.status === "rejected" && r.reason instanceof RelayError &&
      r.reason.code === RELAY_ERROR.RATE
    ).length;
    assert.ok(rate >= 30, `${rate} refused`);
    assert.ok(results.filter((r) => r.status === "fulfilled").length >= 20);
    await new Promise((r) => setTimeout(r, 1100));
    await client.ping(); // the bucket refilled
    await openInbox(client);
    await openInbox(client);
    await rejectsWith(openInbox(client), RELAY_ERROR.QUEUES);
    await client.close();
  }, { commandsPerSecond: 20, maxQueuesPerConnection: 2 });
});

Deno.test("idle connections are closed after the silence limit", async () => {
  await withRelay(async (url) => {
    const idle = await RawRelay.connect(url);
    const started = Date.now();
    await assert.rejects(idle.next());
    const lived = Date.now() - started;
    assert.ok(lived >= 300 && lived < 10_000, `idle connection lived ${lived} ms`);
    console.log(`idle connection closed after ${lived} ms (limit 500 ms)`);
    // A subscribed client pings, so it stays.
    const client = await RelayClient.connect(url, { pingIntervalMs: 150 });
    const inbox = await openInbox(client);
    const messages = await client.subscribe(inbox.receivingId, inbox.key);
    await new Promise((r) => setTimeout(r, 1500));
    const sender = await RelayClient.connect(url);
    await sender.send(inbox.sendingId, await seal("still here"));
    for await (const m of messages) {
      assert.equal(m.envelope.length > 0, true);
      break;
    }
    await sender.close();
    await client.close();
  }, { idleTimeoutMs: 500 });
});

Deno.test("300 idle sockets against a cap of 16: the idlest go, a client gets through", async () => {
  await withRelay(async (url) => {
    const port = Number(new URL(url.replace("tcp:", "http:")).port);
    const sockets = await Promise.all(
      Array.from({ length: 300 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
    );
    await new Promise((r) => setTimeout(r, 1000)); // all accepted (and most evicted)
    const client = await RelayClient.connect(url);
    const inbox = await openInbox(client);
    await client.send(inbox.sendingId, await seal("through"));
    assert.ok(await client.fetch(inbox.receivingId, inbox.key));
    await client.close();
    for (const s of sockets) s.close();
  }, { maxConnections: 16 });
});

Deno.test("1,000 concurrent connections each create a queue, send and fetch", async () => {
  await withRelay(async (url) => {
    const started = Date.now();
    const clients = await Promise.all(
      Array.from({ length: 1000 }, () => RelayClient.connect(url, { timeoutMs: 120_000 })),
    );
    const inboxes = await Promise.all(clients.map((c) => openInbox(c)));
    const envelope = await seal("one of a thousand");
    await Promise.all(clients.map((c, i) => c.send(inboxes[(i + 1) % 1000].sendingId, envelope)));
    const got = await Promise.all(
      clients.map((c, i) => c.fetch(inboxes[i].receivingId, inboxes[i].key)),
    );
    assert.equal(got.filter((m) => m !== undefined).length, 1000);
    await Promise.all(clients.map((c) => c.close()));
    console.log(`1,000 connections: ${Date.now() - started} ms`);
  }, { on: "ws://127.0.0.1:0" });
});

Deno.test({
  name: "tls:// with a pinned certificate, and tcp:// through a real SOCKS5 proxy",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { selfSignedCertificate } = await import("../transports/_tls.ts");
    const { startProxy } = await import("../transports/_socks.ts");
    const tls = await selfSignedCertificate();
    const server = new RelayServer({ store: new SqliteStore(":memory:"), sweepIntervalMs: 0 });
    const proxy = await startProxy();
    try {
      const tlsUrl = await server.listen("tls://127.0.0.1:0", tls);
      const tcpUrl = await server.listen("tcp://127.0.0.1:0");
      const bobRelay = await RelayClient.connect(tlsUrl, { caCerts: [tls.cert] });
      const inbox = await openInbox(bobRelay);
      const alice = await RelayClient.connect(tcpUrl, {
        proxy: `socks5h://127.0.0.1:${proxy.port}`,
      });
      const id = await alice.send(inbox.sendingId, await seal("via Tor, say"));
      assert.deepEqual((await bobRelay.fetch(inbox.receivingId, inbox.key))?.id, id);
      await alice.close();
      await bobRelay.close();
      // Without the pinned certificate, the web roots refuse it.
      await assert.rejects(RelayClient.connect(tlsUrl));
    } finally {
      await proxy.stop();
      await server.close();
    }
  },
});

Deno.test("a store failure is answered INTERNAL and reported without ids", async () => {
  const sqlite = new SqliteStore(":memory:");
  const failing = Object.create(sqlite) as SqliteStore;
  // The real store, with its append failing as a full disk would.
  Object.defineProperty(failing, "append", {
    value: () => Promise.reject(new Error("database or disk is full")),
  });
  for (const name of ["createQueue", "queue", "watch", "close", "sweep", "oldest", "next"]) {
    const method = (sqlite as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
    Object.defineProperty(failing, name, { value: method.bind(sqlite) });
  }
  const errors: string[] = [];
  const server = new RelayServer({
    store: failing,
    sweepIntervalMs: 0,
    onError: (e) => errors.push((e as Error).message),
  });
  try {
    const client = await RelayClient.connect(await server.listen("tcp://127.0.0.1:0"));
    const inbox = await openInbox(client);
    await rejectsWith(client.send(inbox.sendingId, await seal("lost?")), RELAY_ERROR.INTERNAL);
    assert.deepEqual(errors, ["database or disk is full"]);
    await client.ping(); // the connection lives on
    await client.close();
  } finally {
    await server.close();
  }
});
