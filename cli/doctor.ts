// Internal: `polycrypt doctor`, which transports work from this machine (docs/cli.md, "doctor").
// Each probe is local and quick: a listener on loopback, a dial to it, one sealed envelope of 1
// KiB and its ACK; a relay only when one is named. Nothing leaves the machine unless --relay names
// a remote relay.
import { encrypt, generateIdentity } from "./_core.ts";
import { parse } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";

interface Result {
  transport: string;
  ok: boolean | null;
  ms?: number;
  detail: string;
}

const PROBE_MS = 10_000;

async function timed(
  transport: string,
  what: string,
  probe: () => Promise<void>,
): Promise<Result> {
  const start = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${PROBE_MS / 1000} s`)), PROBE_MS);
      }),
    ]);
    return { transport, ok: true, ms: performance.now() - start, detail: what };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const reason = /--allow-ffi/.test(message)
      ? "needs --allow-ffi (the native library of node-datachannel)"
      : /--allow-net/.test(message)
      ? "needs --allow-net"
      : message.split("\n")[0];
    return { transport, ok: false, detail: reason };
  } finally {
    clearTimeout(timer);
  }
}

/** `polycrypt doctor`. */
export async function doctorCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("doctor", args);
  if (positionals.length) throw new UsageError("doctor takes no argument");
  const relayUrl = values.relay as string | undefined;
  const t = await import("../transports/mod.ts");
  const bob = await generateIdentity("x25519");
  const envelope = await encrypt(new Uint8Array(1024), { recipients: [bob.recipient] });
  const answer = async (peer: {
    messages(): AsyncIterable<import("../transports/mod.ts").Incoming>;
    acknowledge(id: Uint8Array): Promise<void>;
  }) => {
    for await (const m of peer.messages()) if (m.kind === "envelope") await peer.acknowledge(m.id);
  };
  const roundTrip = async (connection: import("../transports/mod.ts").Connection) => {
    const id = await connection.send(envelope);
    const ack = (await connection.messages().next()).value;
    if (ack?.kind !== "ack" || ack.id.toHex() !== id.toHex()) throw new Error("no ACK");
  };
  const results: Result[] = [];
  for (const url of ["tcp://127.0.0.1:0", "ws://127.0.0.1:0/doctor"]) {
    const name = url.slice(0, url.indexOf(":"));
    results.push(
      await timed(name, "loopback: listen, dial, 1 KiB envelope, ACK", async () => {
        const listener = await t.listen(url, answer);
        try {
          const connection = await t.dial(
            listener.address,
          ) as import("../transports/mod.ts").Connection;
          try {
            await roundTrip(connection);
          } finally {
            await connection.close();
          }
        } finally {
          await listener.close();
        }
      }),
    );
  }
  results.push(
    await timed("udp", "loopback: 1 KiB envelope in datagrams, ACK", async () => {
      const listener = await t.listen("udp://127.0.0.1:0", answer);
      try {
        const peer = await t.dial(listener.address);
        await peer.send(envelope);
        await peer.close();
      } finally {
        await listener.close();
      }
    }),
  );
  results.push({ transport: "tls", ok: null, detail: "not probed (needs a certificate)" });
  results.push(
    await timed(
      "webrtc",
      "loopback data channel (node-datachannel), 1 KiB envelope, ACK",
      async () => {
        const [a, b] = t.signalPair();
        const options = { bindAddress: "127.0.0.1", connectTimeoutMs: PROBE_MS };
        const [alice, bobEnd] = await Promise.all([
          t.connectWebRtc(a, options),
          t.acceptWebRtc(b, options),
        ]);
        try {
          const serving = answer(bobEnd).catch(() => {});
          await roundTrip(alice);
          await alice.close();
          await serving;
        } finally {
          await alice.close();
          await bobEnd.close();
        }
      },
    ),
  );
  results.push({
    transport: "sctp",
    ok: null,
    detail: "kernel SCTP is not offered (docs/transports.md section 13)",
  });
  if (relayUrl !== undefined) {
    results.push(
      await timed("relay", `connected to ${relayUrl} and pinged it`, async () => {
        const { RelayClient } = await import("../relay/client.ts");
        const client = await RelayClient.connect(relayUrl);
        try {
          await client.ping();
        } finally {
          await client.close();
        }
      }),
    );
  }
  if (values.json) {
    console.log(JSON.stringify(results.map((r) => ({ ...r, ms: r.ms && +r.ms.toFixed(1) }))));
  } else {
    for (const r of results) {
      const state = r.ok === null ? "-     " : r.ok ? "ok    " : "failed";
      const ms = r.ms === undefined ? "" : ` ${r.ms.toFixed(1)} ms,`;
      console.log(`${r.transport.padEnd(7)}${state}${ms} ${r.detail}`);
    }
  }
  if (results.some((r) => r.ok === false)) {
    throw new IoError(`doctor: ${results.filter((r) => r.ok === false).length} probe(s) failed`);
  }
}
