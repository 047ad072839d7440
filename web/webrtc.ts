/**
 * WebRTC data channels in a page (docs/transports.md section 12, "In a browser"): the same
 * frames as on TCP over one ordered, reliable data channel of the platform's `RTCPeerConnection`,
 * set up through a {@linkcode Signal} exactly as `transports/webrtc.ts` does in Deno (same
 * messages, same order rules, same channel label), so a page and a Deno process (node-datachannel)
 * reach each other, signalled through the relay with `relaySignal` (relay/signal.ts).
 *
 * @module
 */
import { type ByteDuplex, Connection } from "../transports/connection.ts";
import { type FrameBudget, FrameError } from "../transports/frame.ts";
import { type Holder, ledgerOf, nextSequence } from "../transports/_budget.ts";
import {
  checkSignalMessage,
  DEFAULT_WEBRTC_MAX_QUEUED_BYTES,
  type Signal,
  type SignalMessage,
  type WebRtcOptions,
} from "../transports/webrtc.ts";

/** Options of {@linkcode connectPageWebRtc} and {@linkcode acceptPageWebRtc}. */
/** The options of transports/webrtc.ts but `bindAddress` and `mtu`: the browser picks those. */
export type PageWebRtcOptions = Omit<WebRtcOptions, "bindAddress" | "mtu">;

/** The label of the one data channel (as transports/webrtc.ts). */
const LABEL = "polycrypt/1";
/** Bytes per data channel message at most (less if the peer announces less). */
const MESSAGE_BYTES = 256 * 1024;
/** A write waits while more than this is buffered... */
const HIGH_WATER = 1024 * 1024;
/** ...and resumes once the buffer is down to this. */
const LOW_WATER = 256 * 1024;

const peers = new WeakMap<Connection, RTCPeerConnection>();

/** `stun:HOST:PORT` / `turn:USER:PASSWORD@HOST:PORT` as the platform takes it. */
function iceServerOf(url: string): RTCIceServer {
  const m = typeof url === "string" &&
    /^(stun|turns?):(?:([^:@\s]+):([^@\s]+)@)?([^@\s:/]+(?::\d{1,5})?)$/.exec(url);
  if (!m) {
    throw new RangeError(`an ICE server must be stun:HOST:PORT or turn:USER:PASSWORD@HOST:PORT`);
  }
  return m[2] === undefined
    ? { urls: `${m[1]}:${m[4]}` }
    : { urls: `${m[1]}:${m[4]}`, username: m[2], credential: m[3] };
}

/**
 * Opens a data channel to the peer on the other end of `signal`, as the offering side; resolves
 * with a {@linkcode Connection} once it is open, rejects with `TypeError` when it does not open
 * within `connectTimeoutMs` (default 30 s).
 */
export function connectPageWebRtc(
  signal: Signal,
  options: PageWebRtcOptions = {},
): Promise<Connection> {
  return open(signal, options, true);
}

/** Answers the offer that arrives on `signal`; resolves once the peer's data channel is open. */
export function acceptPageWebRtc(
  signal: Signal,
  options: PageWebRtcOptions = {},
): Promise<Connection> {
  return open(signal, options, false);
}

/** The two ends of a candidate pair, as `RTCPeerConnection.getStats()` reports them. */
export interface CandidateInfo {
  /** `host`, `srflx`, `prflx` or `relay` (a TURN server). */
  type: string;
  address: string;
  port: number;
  protocol: string;
}

/**
 * The candidate pair a data channel connection of this module runs on (undefined for another
 * connection, or before one is selected): `relay` on either end means through a TURN server, any
 * other type a direct path between the two peers. transports/webrtc.ts's `webRtcPath` in a page;
 * asynchronous, as `getStats()` is.
 */
export async function pageWebRtcPath(
  connection: Connection,
): Promise<{ local: CandidateInfo; remote: CandidateInfo } | undefined> {
  const pc = peers.get(connection);
  if (!pc) return undefined;
  const stats = await pc.getStats();
  const byId = new Map<string, Record<string, unknown>>();
  stats.forEach((s: Record<string, unknown>) => byId.set(s.id as string, s));
  let pairId: string | undefined;
  for (const s of byId.values()) {
    if (s.type === "transport" && typeof s.selectedCandidatePairId === "string") {
      pairId = s.selectedCandidatePairId;
    }
  }
  const pair = pairId ? byId.get(pairId) : undefined;
  if (!pair) return undefined;
  const info = (id: unknown): CandidateInfo => {
    const c = byId.get(id as string) ?? {};
    return {
      type: String(c.candidateType ?? ""),
      address: String(c.address ?? c.ip ?? ""),
      port: Number(c.port ?? 0),
      protocol: String(c.protocol ?? ""),
    };
  };
  return { local: info(pair.localCandidateId), remote: info(pair.remoteCandidateId) };
}

async function open(
  signal: Signal,
  options: PageWebRtcOptions,
  offerer: boolean,
): Promise<Connection> {
  const maxQueued = options.maxQueuedBytes ?? DEFAULT_WEBRTC_MAX_QUEUED_BYTES;
  if (!Number.isSafeInteger(maxQueued) || maxQueued < 1) {
    throw new RangeError("maxQueuedBytes must be a positive integer");
  }
  const iceServers = (options.iceServers ?? []).map(iceServerOf);
  const timeoutMs = options.connectTimeoutMs ?? 30_000;
  const pc = new RTCPeerConnection({ iceServers });
  let settled = false;
  const sendSignal = (message: SignalMessage) => {
    if (settled) return;
    Promise.resolve(signal.send(message)).catch(() => {});
  };
  // As in transports/webrtc.ts: the offering side holds its candidates until the answer is set.
  let described = false;
  const held: SignalMessage[] = [];
  pc.onicecandidate = (event) => {
    const c = event.candidate;
    if (!c || !c.candidate) return; // the end of gathering
    const message: SignalMessage = {
      type: "candidate",
      candidate: c.candidate,
      mid: c.sdpMid ?? "0",
    };
    if (offerer && !described) held.push(message);
    else sendSignal(message);
  };
  const addCandidate = (m: SignalMessage) => {
    if (m.type !== "candidate") return;
    // libdatachannel writes "a=candidate:..."; the platform takes "candidate:...".
    const candidate = m.candidate.replace(/^a=/, "");
    pc.addIceCandidate({ candidate, sdpMid: m.mid }).catch(() => {});
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const channel = await new Promise<RTCDataChannel>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new TypeError("the data channel did not open in time")),
        timeoutMs,
      );
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "failed" || pc.connectionState === "closed") {
          reject(new TypeError(`the peer connection ${pc.connectionState}`));
        }
      };
      if (offerer) {
        const dc = pc.createDataChannel(LABEL, { ordered: true });
        dc.binaryType = "arraybuffer";
        dc.onopen = () => resolve(dc);
        (async () => {
          await pc.setLocalDescription(await pc.createOffer());
          sendSignal({ type: "offer", sdp: pc.localDescription!.sdp });
        })().catch((e) => reject(new TypeError(`no offer: ${e}`)));
      } else {
        pc.ondatachannel = (event) => {
          const dc = event.channel;
          if (dc.label !== LABEL) return dc.close();
          dc.binaryType = "arraybuffer";
          if (dc.readyState === "open") resolve(dc);
          else dc.onopen = () => resolve(dc);
        };
      }
      (async () => {
        const early: SignalMessage[] = [];
        for await (const raw of signal.messages()) {
          if (settled) break;
          let message: SignalMessage;
          try {
            message = checkSignalMessage(raw);
          } catch {
            continue;
          }
          if (message.type === "candidate") {
            if (described) addCandidate(message);
            else early.push(message);
          } else if (!described && message.type === (offerer ? "answer" : "offer")) {
            await pc.setRemoteDescription({ type: message.type, sdp: message.sdp });
            described = true;
            if (!offerer) {
              await pc.setLocalDescription(await pc.createAnswer());
              sendSignal({ type: "answer", sdp: pc.localDescription!.sdp });
            }
            for (const m of held.splice(0)) sendSignal(m);
            for (const m of early.splice(0)) addCandidate(m);
          }
        }
      })().catch((e) => reject(e instanceof Error ? e : new TypeError(String(e))));
    });
    settled = true;
    const connection = new Connection(
      channelDuplex(pc, channel, maxQueued, options.frameBudget),
      options,
    );
    peers.set(connection, pc);
    return connection;
  } catch (e) {
    settled = true;
    pc.close();
    throw e;
  } finally {
    settled = true;
    clearTimeout(timer);
    signal.close?.();
  }
}

/** The data channel as a byte duplex, with the bounds of transports/webrtc.ts's. */
function channelDuplex(
  pc: RTCPeerConnection,
  dc: RTCDataChannel,
  maxQueued: number,
  budget: FrameBudget | undefined,
): ByteDuplex {
  const ledger = ledgerOf(budget);
  let chunks: Uint8Array[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let drained: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
    drained?.();
    drained = undefined;
  };
  const shut = () => {
    dc.close();
    pc.close();
  };
  const fail = (error: Error) => {
    if (failure || ended) return;
    failure = error;
    chunks = [];
    queued = 0;
    ledger.set(holder, 0);
    shut();
    notify();
  };
  const holder: Holder = {
    bytes: 0,
    since: 0,
    evictable: () => queued > 0 && !failure,
    evict: () => fail(new FrameError("the memory for frames in flight is exhausted")),
  };
  dc.bufferedAmountLowThreshold = LOW_WATER;
  dc.onbufferedamountlow = () => {
    drained?.();
    drained = undefined;
  };
  dc.onmessage = (event) => {
    if (failure || ended) return;
    if (!(event.data instanceof ArrayBuffer)) {
      fail(new TypeError("text message on the data channel"));
      return;
    }
    const chunk = new Uint8Array(event.data);
    if (chunk.length === 0) return;
    if (queued + chunk.length > maxQueued) {
      fail(new FrameError("the peer sent more than is read"));
      return;
    }
    if (queued === 0) holder.since = nextSequence();
    chunks.push(chunk);
    queued += chunk.length;
    ledger.set(holder, queued);
    ledger.relieve();
    notify();
  };
  dc.onclose = () => {
    ended = true;
    notify();
  };
  dc.onerror = (event) => {
    const error = (event as RTCErrorEvent).error;
    fail(new TypeError(`data channel error: ${error?.message ?? "unknown"}`));
  };
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "disconnected" || pc.connectionState === "failed") {
      fail(new TypeError("the peer disappeared (data channel lost)"));
    }
  });
  const announced = pc.sctp?.maxMessageSize ?? 0;
  const messageBytes = announced > 0 ? Math.min(MESSAGE_BYTES, announced) : 64 * 1024;
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      while (chunks.length === 0 && !failure && !ended) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (failure) {
        controller.error(failure);
      } else if (chunks.length > 0) {
        const chunk = chunks.shift()!;
        queued -= chunk.length;
        ledger.set(holder, queued);
        controller.enqueue(chunk);
      } else {
        controller.close();
      }
    },
    cancel() {
      chunks = [];
      queued = 0;
      ledger.set(holder, 0);
      ended = true;
      notify();
      shut();
    },
  }, { highWaterMark: 0 });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      for (let i = 0; i < chunk.length; i += messageBytes) {
        while (!failure && !ended && dc.readyState === "open" && dc.bufferedAmount > HIGH_WATER) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 50); // should the event be missed
            drained = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        if (failure) throw failure;
        if (ended || dc.readyState !== "open") throw new TypeError("the data channel is closed");
        // slice: the platform's send() takes a view of an ArrayBuffer (it copies it anyway).
        dc.send(chunk.slice(i, i + messageBytes));
      }
    },
    async close() {
      const start = Date.now();
      while (!failure && dc.readyState === "open" && dc.bufferedAmount > 0) {
        if (Date.now() - start > 10_000) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      ended = true;
      notify();
      shut();
    },
    abort() {
      ended = true;
      notify();
      shut();
    },
  });
  return { readable, writable };
}
