// WebRTC signalling through a real relay process (docs/relay.md section 14): a data channel set up
// by sealed, signed offers, answers and candidates; forged, replayed, stale and non-contact offers
// ignored.
import assert from "node:assert/strict";
import { encrypt, generateIdentity, type SealedEnvelope } from "../../mod.ts";
import {
  openInbox,
  RelayClient,
  relaySignal,
  type RelaySignalOptions,
  SignalReplayCache,
} from "../../relay/mod.ts";
import { acceptWebRtc, connectWebRtc, type SignalMessage } from "../../transports/mod.ts";
import { spawnCli, withTempDir } from "../cli/_cli.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function withRelay(run: (url: string) => Promise<void>): Promise<void> {
  await withTempDir("polycrypt-signal-", async (dir) => {
    const url = `ws://127.0.0.1:${freePort()}`;
    const child = spawnCli(["relay", "--on", url, "--store", `sqlite:${dir}/relay.db`], [
      "--allow-all",
    ], { stdout: "null", stderr: "null" });
    try {
      let up = false;
      for (let i = 0; i < 1200 && !up; i++) {
        const client = await RelayClient.connect(url).catch(() => undefined);
        if (client) {
          await client.close();
          up = true;
        } else await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(up, "the relay did not start");
      await run(url);
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
  });
}

/** A relay client whose `send` also records the envelopes it deposits. */
function recording(relay: RelayClient, sent: Uint8Array[]): RelayClient {
  return {
    send: (to: Uint8Array, envelope: SealedEnvelope, o?: object) => {
      sent.push(envelope.slice());
      return relay.send(to, envelope, o);
    },
    fetch: relay.fetch.bind(relay),
    ack: relay.ack.bind(relay),
  } as unknown as RelayClient;
}

async function first(signal: { messages(): AsyncIterable<SignalMessage> }, ms: number) {
  const it = signal.messages()[Symbol.asyncIterator]();
  return await Promise.race([
    it.next().then((r) => r.value),
    new Promise<undefined>((r) => setTimeout(() => r(undefined), ms)),
  ]);
}

Deno.test("relay signal: a data channel set up through a real relay; forgeries ignored", async () => {
  await withRelay(async (url) => {
    const [alice, bob, mallory] = await Promise.all([
      generateIdentity(),
      generateIdentity(),
      generateIdentity(),
    ]);
    const aliceRelay = await RelayClient.connect(url);
    const bobRelay = await RelayClient.connect(url);
    const sent: Uint8Array[] = [];
    try {
      const aliceInbox = await openInbox(aliceRelay);
      const bobInbox = await openInbox(bobRelay);
      const bobSeen = new SignalReplayCache();
      const ignored: string[] = [];
      // Mallory (not Bob's contact) and an anonymous sender deposit offers first.
      const forged = new TextEncoder().encode('{"type":"offer","sdp":"v=0"}');
      await aliceRelay.send(
        bobInbox.sendingId,
        await encrypt(forged, { recipients: [bob.recipient], sender: mallory.identity }),
      );
      await aliceRelay.send(
        bobInbox.sendingId,
        await encrypt(forged, { recipients: [bob.recipient] }),
      );
      const base = (o: Partial<RelaySignalOptions>) => o as RelaySignalOptions;
      const toBob = relaySignal(base({
        relay: recording(aliceRelay, sent),
        identity: alice.identity,
        peer: bob.recipient,
        to: bobInbox.sendingId,
        inbox: aliceInbox,
        seen: new SignalReplayCache(),
        session: crypto.getRandomValues(new Uint8Array(16)),
      }));
      const fromAlice = relaySignal(base({
        relay: bobRelay,
        identity: bob.identity,
        peer: alice.recipient,
        to: aliceInbox.sendingId,
        inbox: bobInbox,
        seen: bobSeen,
        onIgnored: (reason) => ignored.push(reason),
      }));
      const options = { bindAddress: "127.0.0.1", connectTimeoutMs: 60_000 };
      const start = performance.now();
      const [a, b] = await Promise.all([
        connectWebRtc(toBob, options),
        acceptWebRtc(fromAlice, options),
      ]);
      console.log(`data channel through the relay: ${(performance.now() - start).toFixed(0)} ms`);
      assert.deepEqual(ignored.slice(0, 2), ["not-from-peer", "not-from-peer"]);
      const envelope = await encrypt(new Uint8Array(1024), { recipients: [bob.recipient] });
      await a.send(envelope);
      const got = (await b.messages().next()).value;
      assert.ok(got?.kind === "envelope");
      assert.deepEqual(got.envelope, envelope);
      await a.close();
      await b.close();

      // Replay: Alice's offer deposited again is refused by Bob, even by a new signal.
      const offer = sent[0];
      await aliceRelay.send(bobInbox.sendingId, offer);
      const replayIgnored: string[] = [];
      // A new connection (as a later session would open): its SUB takes the queue over.
      const bobLater = await RelayClient.connect(url);
      const again = relaySignal(base({
        relay: bobLater,
        identity: bob.identity,
        peer: alice.recipient,
        to: aliceInbox.sendingId,
        inbox: bobInbox,
        seen: bobSeen,
        onIgnored: (reason) => replayIgnored.push(reason),
      }));
      assert.equal(await first(again, 3000), undefined);
      again.close?.();
      await new Promise((r) => setTimeout(r, 200)); // its last GET answered
      await bobLater.close();
      // Alice's late candidates of the finished session may come first ("other-session").
      assert.ok(replayIgnored.includes("replayed"), replayIgnored.join());
      assert.equal(replayIgnored.filter((r) => r !== "other-session").length, 1);
    } finally {
      await aliceRelay.close();
      await bobRelay.close();
    }
  });
});

Deno.test("relay signal: a stale offer is ignored", async () => {
  await withRelay(async (url) => {
    const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
    const relay = await RelayClient.connect(url);
    try {
      const aliceInbox = await openInbox(relay);
      const bobInbox = await openInbox(relay);
      const toBob = relaySignal({
        relay,
        identity: alice.identity,
        peer: bob.recipient,
        to: bobInbox.sendingId,
        inbox: aliceInbox,
        seen: new SignalReplayCache(),
        session: crypto.getRandomValues(new Uint8Array(16)),
      });
      await toBob.send({ type: "offer", sdp: "v=0" });
      await new Promise((r) => setTimeout(r, 300));
      const ignored: string[] = [];
      const fromAlice = relaySignal({
        relay,
        identity: bob.identity,
        peer: alice.recipient,
        to: aliceInbox.sendingId,
        inbox: bobInbox,
        seen: new SignalReplayCache(),
        maxAgeMs: 100,
        onIgnored: (reason) => ignored.push(reason),
      });
      assert.equal(await first(fromAlice, 2000), undefined);
      assert.deepEqual(ignored, ["stale"]);
    } finally {
      await relay.close();
    }
  });
});

Deno.test("relay signal: the newest offer in the queue is adopted, an abandoned one ignored", async () => {
  await withRelay(async (url) => {
    const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
    const relay = await RelayClient.connect(url);
    try {
      const aliceInbox = await openInbox(relay);
      const bobInbox = await openInbox(relay);
      const attempt = () =>
        relaySignal({
          relay,
          identity: alice.identity,
          peer: bob.recipient,
          to: bobInbox.sendingId,
          inbox: aliceInbox,
          seen: new SignalReplayCache(),
          session: crypto.getRandomValues(new Uint8Array(16)),
        });
      // An attempt Alice gave up (Bob was not there), then the one she makes now.
      await attempt().send({ type: "offer", sdp: "v=0 old" });
      const now = attempt();
      await now.send({ type: "offer", sdp: "v=0 new" });
      await now.send({ type: "candidate", candidate: "candidate:1", mid: "0" });
      const ignored: string[] = [];
      const fromAlice = relaySignal({
        relay,
        identity: bob.identity,
        peer: alice.recipient,
        to: aliceInbox.sendingId,
        inbox: bobInbox,
        seen: new SignalReplayCache(),
        onIgnored: (reason) => ignored.push(reason),
      });
      const it = fromAlice.messages()[Symbol.asyncIterator]();
      assert.deepEqual((await it.next()).value, { type: "offer", sdp: "v=0 new" });
      assert.deepEqual((await it.next()).value, {
        type: "candidate",
        candidate: "candidate:1",
        mid: "0",
      });
      assert.deepEqual(ignored, ["other-session"]);
      assert.equal(fromAlice.session?.toHex(), now.session?.toHex());
      fromAlice.close?.();
    } finally {
      await relay.close();
    }
  });
});
