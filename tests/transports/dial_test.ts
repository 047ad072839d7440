// dial/listen by URL over loopback: every scheme of the table round-trips an envelope (tcp also
// through a real SOCKS5 proxy, tls with a pinned certificate), close() frees the port, unknown
// schemes and options that do not fit the scheme are refused, and UDP reports typed drop reasons.
import assert from "node:assert/strict";
import dgram from "node:dgram";
import {
  Connection,
  describeSchemes,
  dial,
  type DialOptions,
  FrameError,
  listen,
  type ListenOptions,
  schemeOf,
  SCHEMES,
  UdpDropError,
  UnsupportedSchemeError,
} from "../../transports/mod.ts";
import { expectAck, recorder, seal } from "./_peers.ts";
import { startProxy } from "./_socks.ts";
import { selfSignedCertificate } from "./_tls.ts";

/**
 * Listens on `url`, dials the address it reports, sends one envelope and checks it arrived and
 * was acknowledged; then closes and listens again on the same port (close() freed it).
 */
async function roundTrip(
  url: string,
  listenOptions: ListenOptions = {},
  dialOptions: DialOptions = {},
  dialTo: (address: string) => string = (a) => a,
) {
  const heard: string[] = [];
  const listener = await listen(url, recorder(heard), listenOptions);
  assert.equal(listener.address, url.replace(/:0(?=\/|$)/, `:${listener.port}`));
  assert.ok(listener.port > 0);
  const peer = await dial(dialTo(listener.address), dialOptions);
  try {
    const id = await peer.send(await seal(`hi over ${url}`));
    assert.equal(peer instanceof Connection, schemeOf(url).stream);
    if (peer instanceof Connection) {
      await expectAck(peer, id);
    }
    assert.deepEqual(heard, [`hi over ${url}`]);
  } finally {
    await peer.close();
    await listener.close();
  }
  const again = await listen(listener.address, () => {}, listenOptions);
  assert.equal(again.port, listener.port);
  await again.close();
}

Deno.test("dial/listen: tcp:// round-trips and close() frees the port", async () => {
  await roundTrip("tcp://127.0.0.1:0");
});

Deno.test("dial/listen: tcp:// through a real SOCKS5 proxy (names resolved by the proxy)", async () => {
  const proxy = await startProxy();
  try {
    await roundTrip(
      "tcp://127.0.0.1:0",
      {},
      { proxy: `socks5h://127.0.0.1:${proxy.port}` },
      (a) => a.replace("127.0.0.1", "localhost"),
    );
  } finally {
    await proxy.stop();
  }
});

Deno.test("dial/listen: tls:// with a pinned certificate; an untrusted one is refused", async () => {
  const tls = await selfSignedCertificate();
  const other = await selfSignedCertificate();
  await roundTrip("tls://127.0.0.1:0", { tls }, { caCerts: [tls.cert] });
  const listener = await listen("tls://127.0.0.1:0", () => {}, { tls });
  try {
    await assert.rejects(dial(listener.address, { caCerts: [other.cert] }));
  } finally {
    await listener.close();
  }
});

Deno.test("dial/listen: udp:// round-trips and close() frees the port", async () => {
  await roundTrip("udp://127.0.0.1:0");
});

Deno.test("dial/listen: ws:// round-trips and close() frees the port", async () => {
  await roundTrip("ws://127.0.0.1:0/polycrypt");
});

Deno.test("dial/listen: udp:// a message serve does not acknowledge gets no ACK", async () => {
  let seen = 0;
  const listener = await listen("udp://127.0.0.1:0", async (peer) => {
    for await (const _ of peer.messages()) seen++;
  });
  try {
    const peer = await dial(listener.address, { ackTimeoutMs: 200, attempts: 2 });
    await assert.rejects(peer.send(await seal("unwanted")), FrameError);
    assert.ok(seen >= 1);
  } finally {
    await listener.close();
  }
});

Deno.test("dial/listen: udp:// drops come with a typed reason", async () => {
  const drops: UdpDropError[] = [];
  const listener = await listen("udp://127.0.0.1:0", () => {}, { onDrop: (e) => drops.push(e) });
  const socket = dgram.createSocket("udp4");
  try {
    await new Promise<void>((resolve, reject) =>
      socket.send(
        new Uint8Array([9, 9, 9]),
        listener.port,
        "127.0.0.1",
        (e) => e ? reject(e) : resolve(),
      )
    );
    const deadline = Date.now() + 5000;
    while (drops.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(drops[0]?.reason, "malformed");
    assert.ok(drops[0] instanceof UdpDropError && drops[0] instanceof FrameError);
  } finally {
    socket.close();
    await listener.close();
  }
});

Deno.test("dial/listen: unknown schemes are refused with the valid ones listed", async () => {
  for (const url of ["http://127.0.0.1:80", "127.0.0.1:7000", "", "TCP://127.0.0.1:1"]) {
    await assert.rejects(dial(url), UnsupportedSchemeError);
    await assert.rejects(listen(url, () => {}), UnsupportedSchemeError);
    assert.throws(() => schemeOf(url), RangeError);
  }
  await assert.rejects(dial("http://x:1"), /tcp:\/\/, tls:\/\/, udp:\/\/, ws:\/\/ or xmpp:/);
  // @ts-expect-error: not a string
  await assert.rejects(dial(7000), TypeError);
  assert.equal(describeSchemes(SCHEMES), "tcp://, tls://, udp://, ws:// or xmpp:");
});

Deno.test("dial/listen: malformed addresses and options that do not fit the scheme", async () => {
  await assert.rejects(dial("tcp://127.0.0.1"), RangeError);
  await assert.rejects(dial("ws://127.0.0.1/x"), RangeError);
  await assert.rejects(listen("udp://127.0.0.1:99999", () => {}), RangeError);
  await assert.rejects(
    dial("ws://127.0.0.1:1/", { proxy: "socks5h://127.0.0.1:9050" }),
    /options\.proxy works with tcp:\/\/ URLs only/,
  );
  await assert.rejects(
    dial("tcp://127.0.0.1:1", { caCerts: ["x"] }),
    /options\.caCerts works with tls:\/\/ URLs only/,
  );
  await assert.rejects(dial("tcp://127.0.0.1:1", { proxy: "socks5://127.0.0.1:9050" }), RangeError);
  await assert.rejects(
    listen("tcp://127.0.0.1:0", () => {}, { tls: { cert: "c", key: "k" } }),
    /options\.tls works with tls:\/\/ URLs only/,
  );
  await assert.rejects(listen("tls://127.0.0.1:0", () => {}), TypeError);
  // @ts-expect-error: serve must be a function
  await assert.rejects(listen("tcp://127.0.0.1:0", undefined), TypeError);
});
