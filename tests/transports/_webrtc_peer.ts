// A child process for tests/transports/webrtc_peer_test.ts: answers a data channel signalled
// through a relay, reads a stream until BYTES have arrived, then dies without closing anything.
import { openInbox, RelayClient, relaySignal, SignalReplayCache } from "../../relay/mod.ts";
import { acceptWebRtc } from "../../transports/mod.ts";

const [url, peer, toHex, bytes] = Deno.args;
const identity = Deno.env.get("PEER_IDENTITY")!; // a secret: never in argv
const relay = await RelayClient.connect(url);
const inbox = await openInbox(relay);
console.log(inbox.sendingId.toHex());
const signal = relaySignal({
  relay,
  identity,
  peer,
  to: Uint8Array.fromHex(toHex),
  inbox,
  seen: new SignalReplayCache(),
});
const connection = await acceptWebRtc(signal, { bindAddress: "127.0.0.1" });
const first = (await connection.messages().next()).value;
if (first?.kind !== "stream") Deno.exit(2);
let received = 0;
for await (const piece of first.pieces) {
  received += piece.length;
  if (received >= Number(bytes)) {
    console.log(`received ${received}`);
    Deno.exit(0); // gone: no close, no goodbye
  }
}
