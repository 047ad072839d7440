// The client side of connections_test.ts, run as a child process of its own (under a raised
// `ulimit -n`, since it holds 1,300 sockets): IDLE raw TCP connections that never send a byte,
// then ACTIVE relay clients at once, each creating a queue, sending and fetching, then one more
// client (the legitimate user). Prints one JSON line of what happened.
//
//   deno run --allow-all tests/relay/_load_connections.ts tcp://127.0.0.1:PORT IDLE ACTIVE
import { encrypt, generateIdentity } from "../../mod.ts";
import { openInbox, RelayClient } from "../../relay/mod.ts";

const [url, idleArg, activeArg] = Deno.args;
const idleCount = Number(idleArg);
const activeCount = Number(activeArg);
const { hostname, port } = new URL(url.replace(/^tcp:/, "http:"));

const bob = await generateIdentity("x25519");
const envelope = await encrypt(new TextEncoder().encode("one of many"), {
  recipients: [bob.recipient],
});

// The idle ones: connected, reading (the relay greets them), never writing.
let idleClosed = 0;
const idle = await Promise.all(
  Array.from({ length: idleCount }, () => Deno.connect({ hostname, port: Number(port) })),
);
const idleDone = idle.map(async (socket) => {
  const buffer = new Uint8Array(256);
  try {
    while (await socket.read(buffer) !== null) { /* the greeting */ }
  } catch { /* reset by the relay */ }
  idleClosed++;
});
await new Promise((r) => setTimeout(r, 1000)); // all accepted by the relay
const idleClosedBefore = idleClosed;

// The active ones, all at once, all connected until every one is done.
const started = performance.now();
const results = await Promise.allSettled(
  Array.from({ length: activeCount }, async () => {
    const client = await RelayClient.connect(url, { timeoutMs: 180_000 });
    try {
      const inbox = await openInbox(client);
      return { client, inbox };
    } catch (e) {
      await client.close();
      throw e;
    }
  }),
);
const clients = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
const errors = results.flatMap((r) => r.status === "rejected" ? [String(r.reason)] : []);
const sent = await Promise.allSettled(
  clients.map((c, i) => c.client.send(clients[(i + 1) % clients.length].inbox.sendingId, envelope)),
);
const fetched = await Promise.allSettled(
  clients.map((c) => c.client.fetch(c.inbox.receivingId, c.inbox.key)),
);
const activeMs = performance.now() - started;
const idleClosedDuring = idleClosed;

// The legitimate user, while the active clients are still connected.
let legitimate = false;
try {
  const client = await RelayClient.connect(url, { timeoutMs: 60_000 });
  const inbox = await openInbox(client);
  await client.send(inbox.sendingId, envelope);
  legitimate = (await client.fetch(inbox.receivingId, inbox.key)) !== undefined;
  await client.close();
} catch (e) {
  errors.push(`legitimate: ${e}`);
}
await Promise.all(clients.map((c) => c.client.close().catch(() => {})));
for (const s of idle) {
  try {
    s.close();
  } catch { /* closed by the relay */ }
}
await Promise.all(idleDone);

console.log(JSON.stringify({
  connected: clients.length,
  sent: sent.filter((r) => r.status === "fulfilled").length,
  fetched: fetched.filter((r) => r.status === "fulfilled" && r.value !== undefined).length,
  idleClosedBefore,
  idleClosedDuring,
  legitimate,
  activeMs: Math.round(activeMs),
  errors: errors.slice(0, 5),
}));
