// A data channel peer in another process, signalled through a real relay process, dies in the
// middle of a stream: the sender's stream is rejected, and the time it took is printed.
import assert from "node:assert/strict";
import { encryptStream, generateIdentity } from "../../mod.ts";
import { openInbox, RelayClient, relaySignal, SignalReplayCache } from "../../relay/mod.ts";
import { connectWebRtc } from "../../transports/mod.ts";
import { spawnCommand } from "../_process.ts";
import { spawnCli, withTempDir } from "../cli/_cli.ts";

const PEER = new URL("./_webrtc_peer.ts", import.meta.url).pathname;

Deno.test("webrtc: a peer process that dies mid-stream is reported to the sender", async () => {
  await withTempDir("polycrypt-webrtc-peer-", async (dir) => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const url = `ws://127.0.0.1:${(l.addr as Deno.NetAddr).port}`;
    l.close();
    const relayProcess = spawnCli(["relay", "--on", url, "--store", `sqlite:${dir}/r.db`], [
      "--allow-all",
    ], { stdout: "null", stderr: "null" });
    let relay: RelayClient | undefined;
    for (let i = 0; i < 1200 && !relay; i++) {
      relay = await RelayClient.connect(url).catch(() => undefined);
      if (!relay) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(relay, "the relay did not start");
    const [alice, bob] = await Promise.all([generateIdentity(), generateIdentity()]);
    const inbox = await openInbox(relay);
    const child = spawnCommand(Deno.execPath(), [
      "run",
      "--allow-all",
      PEER,
      url,
      alice.recipient,
      inbox.sendingId.toHex(),
      String(8 * 1024 * 1024),
    ], { env: { PEER_IDENTITY: bob.identity }, stderr: "inherit" });
    try {
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("\n")) text += (await lines.read()).value ?? "";
      const bobSid = Uint8Array.fromHex(text.trim().split("\n")[0]);
      const signal = relaySignal({
        relay,
        identity: alice.identity,
        peer: bob.recipient,
        to: bobSid,
        inbox,
        seen: new SignalReplayCache(),
        session: crypto.getRandomValues(new Uint8Array(16)),
      });
      const connection = await connectWebRtc(signal, {
        bindAddress: "127.0.0.1",
        connectTimeoutMs: 60_000,
      });
      let sent = 0;
      const source = new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += 1024 * 1024;
          controller.enqueue(new Uint8Array(1024 * 1024)); // endless: only the failure ends it
        },
      });
      const start = performance.now();
      await assert.rejects(
        connection.sendStream(source.pipeThrough(encryptStream({ recipients: [bob.recipient] }))),
      );
      const status = await child.status;
      assert.equal(status.code, 0);
      console.log(
        `peer gone after ${sent >> 20} MiB produced; sender failed ${
          ((performance.now() - start) / 1000).toFixed(1)
        } s after the start`,
      );
      await connection.close();
    } finally {
      try {
        child.kill();
      } catch { /* gone */ }
      await child.status;
      await relay.close();
      relayProcess.kill("SIGTERM");
      await relayProcess.status;
    }
  });
});
