// Test code, not part of the page: bundled by tests/web/_webrtc_page_cases.ts (with the web
// build's settings) and driven there by puppeteer: a page with an identity and a relay inbox of
// its own sets up a data channel with a Deno process through sealed, signed signalling envelopes
// (relay/signal.ts, web/webrtc.ts), then exchanges sealed messages over it. The steps are methods
// of `globalThis.rtcPage`.
import { decrypt, encrypt, encryptStream, generateIdentity } from "../mod.ts";
import { openInbox, RelayClient } from "../relay/client.ts";
import { relaySignal, SignalReplayCache } from "../relay/signal.ts";
import type { Connection } from "../transports/connection.ts";
import type { SignalMessage } from "../transports/webrtc.ts";
import { acceptPageWebRtc, connectPageWebRtc, pageWebRtcPath } from "./webrtc.ts";

const fromHex = (hex: string) => Uint8Array.from(hex.match(/../g)!, (b) => parseInt(b, 16));
const toHex = (bytes: Uint8Array) =>
  [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

let me: { identity: string; recipient: string } | undefined;
let relay: RelayClient | undefined;
let inbox: Awaited<ReturnType<typeof openInbox>> | undefined;
let connection: Connection | undefined;
const seen = new SignalReplayCache();
/** The candidates this page sent (what the peer learns of its addresses). */
const sent: string[] = [];

const rtcPage = {
  /** A fresh identity (signing) and a signalling inbox on the relay at `url`. */
  async setup(url: string): Promise<{ recipient: string; sendingId: string }> {
    me ??= await generateIdentity();
    relay = await RelayClient.connect(url);
    inbox = await openInbox(relay);
    return { recipient: me.recipient, sendingId: toHex(inbox.sendingId) };
  },
  /** Sets up the data channel with the peer (its recipient and signalling queue). */
  async open(peer: string, sendingId: string, role: "offer" | "answer"): Promise<number> {
    const start = performance.now();
    const signal = relaySignal({
      relay: relay!,
      identity: me!.identity,
      peer,
      to: fromHex(sendingId),
      inbox: inbox!,
      seen,
      ...(role === "offer" ? { session: crypto.getRandomValues(new Uint8Array(16)) } : {}),
    });
    const recorded = {
      send: (m: SignalMessage) => {
        if (m.type === "candidate") sent.push(m.candidate);
        return signal.send(m);
      },
      messages: () => signal.messages(),
      close: () => signal.close?.(),
    };
    const options = { connectTimeoutMs: 60_000 };
    connection = role === "offer"
      ? await connectPageWebRtc(recorded, options)
      : await acceptPageWebRtc(recorded, options);
    await relay!.close();
    return performance.now() - start;
  },
  /** The candidates sent so far. */
  candidates: () => sent,
  /** The selected candidate pair. */
  path: () => pageWebRtcPath(connection!),
  /** Reads one envelope, decrypts it (it must be signed by `sender`), acknowledges it. */
  async receive(sender: string): Promise<string> {
    const { value } = await connection!.messages().next();
    if (value?.kind !== "envelope") throw new Error(`expected an envelope, got ${value?.kind}`);
    const text = new TextDecoder().decode(
      await decrypt(value.envelope, { identities: [me!.identity], verify: [sender] }),
    );
    await connection!.acknowledge(value.id);
    return text;
  },
  /** Seals and signs `text` to `peer`, sends it, and waits for its ACK: the id in hex. */
  async send(text: string, peer: string): Promise<string> {
    const envelope = await encrypt(new TextEncoder().encode(text), {
      recipients: [peer],
      sender: me!.identity,
    });
    const id = await connection!.send(envelope);
    const { value } = await connection!.messages().next();
    if (value?.kind !== "ack" || toHex(value.id) !== toHex(id)) throw new Error("expected its ACK");
    return toHex(id);
  },
  /** Sends a stream of `mib` MiB (one sealed envelope) and waits for its ACK: milliseconds. */
  async sendStream(mib: number, peer: string): Promise<number> {
    const source = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < mib; i++) controller.enqueue(new Uint8Array(1024 * 1024));
        controller.close();
      },
    });
    const start = performance.now();
    await connection!.sendStream(source.pipeThrough(encryptStream({ recipients: [peer] })));
    const { value } = await connection!.messages().next();
    if (value?.kind !== "ack") throw new Error("expected an ACK");
    return performance.now() - start;
  },
  close: () => connection?.close(),
};

(globalThis as unknown as { rtcPage: typeof rtcPage }).rtcPage = rtcPage;
