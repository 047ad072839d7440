// A streamed envelope in armor to a real `listen` (issue 20 section 1, memory): the listener used
// to collect the whole armored stream before de-armoring it (300 MiB sent: 2.8 GiB peak RSS here);
// it now de-armors a line at a time, so its peak stays bounded whatever the size.
import assert from "node:assert/strict";
import { encryptStream } from "../../mod.ts";
import { connectTcp, fileMessageHeader } from "../../transports/mod.ts";
import { peakRssKiB } from "../_process.ts";
import { keyPair, NET_PERMS, startListen } from "./_cli.ts";

Deno.test({
  name: "cli listen receives a 96 MiB armored stream in bounded memory",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "polycrypt-armored-" });
    try {
      const { key, recipient: bob } = await keyPair(dir, "x25519");
      await Deno.mkdir(`${dir}/in`);
      const listening = await startListen(
        ["--on", "tcp://127.0.0.1:0", "-i", key, "--once", "-o", `${dir}/in`],
        NET_PERMS,
        { deadlineMs: 28_000, stdout: "null" },
      );
      const { child: listener, port } = listening;
      let left = 96;
      const plain = new ReadableStream<Uint8Array>({
        start: (c) => c.enqueue(fileMessageHeader("big.bin")),
        pull: (c) => left-- > 0 ? c.enqueue(new Uint8Array(1 << 20).fill(left)) : c.close(),
      });
      let peak = 0;
      const poll = setInterval(async () => {
        peak = Math.max(peak, await peakRssKiB(listener.pid));
      }, 100);
      const alice = await connectTcp(`tcp://127.0.0.1:${port}`);
      try {
        const id = await alice.sendStream(
          plain.pipeThrough(encryptStream({ recipients: [bob], armor: true })),
        );
        const ack = (await alice.messages().next()).value;
        assert.ok(ack?.kind === "ack" && ack.id.toHex() === id.toHex(), "acknowledged");
        peak = Math.max(peak, await peakRssKiB(listener.pid));
      } finally {
        clearInterval(poll);
        await alice.close();
      }
      const { code, stderr: said } = await listening.result;
      assert.equal(code, 0);
      assert.match(said, /received .*big\.bin/);
      assert.equal((await Deno.stat(`${dir}/in/big.bin`)).size, 96 * 1024 * 1024);
      assert.ok(peak > 0 && peak < 256 * 1024, `listener peak RSS ${Math.round(peak / 1024)} MiB`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
