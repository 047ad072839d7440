/**
 * WebRTC data channel transport (`docs/transports.md` section 12): the same frames as on TCP over
 * one ordered, reliable data channel (SCTP over DTLS over UDP, with ICE), on `node-datachannel`
 * (libdatachannel). The peers find each other through a {@linkcode Signal}: a channel that carries
 * the SDP offer and answer and the ICE candidates, such as sealed envelopes through the peers' relay
 * inboxes (`relay/`); {@linkcode signalPair} joins two in one process. Needs `--allow-ffi`; the
 * library is loaded on first use only, so importing this module needs nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectWebRtc, signalPair } from "@polycrypt/polycrypt/transports";
 * const [aliceSide, bobSide] = signalPair();
 * // Alice: `await connectWebRtc(aliceSide, { iceServers: ["stun:stun.example:3478"] })`;
 * // Bob: `await acceptWebRtc(bobSide)`; both resolve with a Connection once the channel is open.
 * // (Not run here: documentation examples each run in an isolate of their own, and the native
 * // library serves one isolate per process; tests/transports/webrtc_test.ts runs it.)
 * await assert.rejects(connectWebRtc(aliceSide, { maxQueuedBytes: 0 }), RangeError);
 * await assert.rejects(connectWebRtc(bobSide, { iceServers: ["http://x"] }), RangeError);
await assert.rejects(connectWebRtc(bobSide, { mtu: 9000 }), RangeError);
 * ```
 *
 * @module
 */
import { type ByteDuplex, Connection } from "./connection.ts";
import { type FrameBudget, FrameError, type FrameReaderOptions } from "./frame.ts";
import { type Holder, ledgerOf, nextSequence } from "./_budget.ts";

/** One signalling message: the session description, or one ICE candidate. */
export type SignalMessage =
  | { readonly type: "offer" | "answer"; readonly sdp: string }
  | { readonly type: "candidate"; readonly candidate: string; readonly mid: string };

/**
 * How two peers exchange their {@linkcode SignalMessage}s before the data channel opens. The
 * messages reveal IP addresses (the ICE candidates): a signal must deliver them to the peer only,
 * and from the peer only (the relay's sealed, signed envelopes do; docs/transports.md section 12).
 */
export interface Signal {
  /** Sends one message to the peer. */
  send(message: SignalMessage): Promise<void> | void;
  /** The peer's messages, in order. Iteration stops when the connection is set up or fails. */
  messages(): AsyncIterable<SignalMessage>;
  /** Called once the data channel is open or the attempt failed: stop reading (optional). */
  close?(): void;
}

/** Options of {@linkcode connectWebRtc} and {@linkcode acceptWebRtc}. */
export interface WebRtcOptions extends FrameReaderOptions {
  /**
   * STUN/TURN servers, `stun:HOST:PORT` or `turn:USER:PASSWORD@HOST:PORT`; none by default, so
   * only the host's own addresses are offered and no third party learns of the connection.
   */
  iceServers?: readonly string[];
  /** The longest wait for the data channel to open (default 30 s). */
  connectTimeoutMs?: number;
  /**
   * Unread received bytes at most (default 32 MiB). A data channel delivers whether or not the
   * application reads, so, as for a WebSocket, a peer that sends more than this ahead of the
   * reader is disconnected; the bytes also count against the frame budget.
   */
  maxQueuedBytes?: number;
  /** Bind ICE to this local address only (e.g. `127.0.0.1`); default all interfaces. */
  bindAddress?: string;
  /**
   * The path MTU libdatachannel assumes (it sends SCTP packets of at most this minus 48 bytes of
   * IPv6 and UDP headers, and does no path MTU discovery): 1280 by default, which crosses any path
   * unfragmented; at most 4096 (libjuice receives datagrams of at most 4096 bytes). On loopback,
   * where the path is known, 4096 doubles bulk throughput, but lets a fast sender run further ahead
   * of a busy reader, whose unread bytes are bounded by `maxQueuedBytes` (docs/transports.md
   * section 12, "Packet size").
   */
  mtu?: number;
}

/** The default of {@linkcode WebRtcOptions.maxQueuedBytes}: 32 MiB. */
export const DEFAULT_WEBRTC_MAX_QUEUED_BYTES: number = 32 * 1024 * 1024;

/**
 * Bytes per data channel message sent (the frames' byte stream is cut at this size): 256 KiB, the
 * `max-message-size` libdatachannel and browsers announce, or less if the peer announces less.
 */
const MESSAGE_BYTES = 256 * 1024;
/**
 * A write waits while more than this is buffered in the SCTP send queue. (4 MiB measured faster,
 * but with both ends in one process it grew the RSS of a 100 MiB transfer past what
 * tests/transports/_webrtc_cases.ts allows, in one run of four.)
 */
const HIGH_WATER = 1024 * 1024;
/** ...and resumes once the queue is down to this. */
const LOW_WATER = 256 * 1024;
/** The range of {@linkcode WebRtcOptions.mtu}: IPv6's minimum, and what libjuice receives. */
const MIN_MTU = 1280;
const MAX_MTU = 4096;
/** The data channel's label: one channel per connection. */
const LABEL = "polycrypt/1";

type NodeDataChannel = typeof import("node-datachannel");
type PeerConnection = InstanceType<NodeDataChannel["PeerConnection"]>;
type DataChannel = ReturnType<PeerConnection["createDataChannel"]>;

let library: Promise<NodeDataChannel> | undefined;
/** The environment variable that marks, for the whole process, the isolate using the library. */
const ISOLATE_MARK = "POLYCRYPT_DATACHANNEL_ISOLATE";
/**
 * Loads node-datachannel (its native library, hence `--allow-ffi`) once. The addon binds to the
 * first JavaScript isolate that loads it: used from a second one (a Worker, another `deno test`
 * file) it would crash the process, so a second isolate is refused with a TypeError instead (the
 * mark is a process-wide environment variable holding the process id, so a child process that
 * inherits it is not confused; without `--allow-env` there is no guard).
 */
function loadLibrary(): Promise<NodeDataChannel> {
  return library ??= (async () => {
    // The guard needs Deno (its process-wide mark); in Node the addon is loaded as Node loads it.
    const deno = (globalThis as { Deno?: typeof Deno }).Deno;
    const mine = deno === undefined ? "" : `${deno.pid}:${crypto.randomUUID()}`;
    let other: string | undefined;
    if (deno !== undefined) {
      try {
        other = deno.env.get(ISOLATE_MARK);
        if (other === undefined || !other.startsWith(`${deno.pid}:`)) {
          deno.env.set(ISOLATE_MARK, mine);
        } else if (other !== mine) {
          throw new TypeError(
            "WebRTC data channels are already in use by another isolate (a Worker, another test " +
              "file) of this process: node-datachannel serves one isolate per process",
          );
        }
      } catch (e) {
        if (e instanceof TypeError) throw e; // no env permission: no guard
      }
    }
    const m = await import("node-datachannel");
    const lib = ((m as { default?: NodeDataChannel }).default ?? m) as NodeDataChannel;
    lib.initLogger("Fatal", () => {});
    return lib;
  })().catch((e) => {
    library = undefined;
    throw e;
  });
}

/** Peer connections not closed yet (see {@linkcode tracked}). */
const livePeers = new Set<PeerConnection>();
/**
 * Counts `pc` among the live peer connections. In Node, libdatachannel's threads keep the process
 * alive until its `cleanup()` runs (measured: a script that closed its only connection did not
 * exit in 20 s, and exited at once with it), so the last {@linkcode closePeer} calls it; a later
 * connection starts the library again (the Node suite opens two in turn). Deno does not wait for
 * those threads.
 */
function tracked(lib: NodeDataChannel, pc: PeerConnection): PeerConnection {
  livePeers.add(pc);
  cleanupOf = lib.cleanup;
  return pc;
}
let cleanupOf: (() => void) | undefined;
/** Closes `pc` (again is harmless); the last one closed in Node releases the library's threads. */
function closePeer(pc: PeerConnection): void {
  try {
    pc.close();
  } catch { /* already closed */ }
  if (!livePeers.delete(pc) || livePeers.size > 0) return;
  if ((globalThis as { Deno?: unknown }).Deno !== undefined) return;
  setTimeout(() => {
    if (livePeers.size === 0) cleanupOf?.();
  }, 0);
}

/**
 * Checks a signalling message received from the network; returns it with only its known fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSignalMessage } from "@polycrypt/polycrypt/transports";
 * assert.deepEqual(checkSignalMessage({ type: "answer", sdp: "v=0", x: 1 }), { type: "answer", sdp: "v=0" });
 * assert.throws(() => checkSignalMessage({ type: "candidate", candidate: 3 }), TypeError);
 * ```
 */
export function checkSignalMessage(value: unknown): SignalMessage {
  const v = value as Record<string, unknown> | null;
  const text = (x: unknown, max: number) => typeof x === "string" && x.length <= max;
  if (v && (v.type === "offer" || v.type === "answer") && text(v.sdp, 64 * 1024)) {
    return { type: v.type, sdp: v.sdp as string };
  }
  if (v && v.type === "candidate" && text(v.candidate, 1024) && text(v.mid, 64)) {
    return { type: "candidate", candidate: v.candidate as string, mid: v.mid as string };
  }
  throw new TypeError("not a signalling message");
}

/**
 * Two {@linkcode Signal}s joined in memory, for tests and for peers in one process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signalPair } from "@polycrypt/polycrypt/transports";
 * const [a, b] = signalPair();
 * await a.send({ type: "offer", sdp: "v=0" });
 * assert.deepEqual((await b.messages()[Symbol.asyncIterator]().next()).value, { type: "offer", sdp: "v=0" });
 * ```
 */
export function signalPair(): [Signal, Signal] {
  const make = () => ({
    queue: [] as SignalMessage[],
    wake: undefined as (() => void) | undefined,
  });
  const boxes = [make(), make()];
  const side = (mine: number): Signal => ({
    send(message) {
      const box = boxes[1 - mine];
      box.queue.push(checkSignalMessage(message));
      box.wake?.();
      box.wake = undefined;
    },
    async *messages() {
      const box = boxes[mine];
      while (true) {
        while (box.queue.length === 0) await new Promise<void>((r) => (box.wake = r));
        yield box.queue.shift()!;
      }
    },
  });
  return [side(0), side(1)];
}

/** Parses `stun:HOST:PORT` / `turn:[USER:PASSWORD@]HOST:PORT` into what libdatachannel takes. */
function iceServerOf(url: string): string {
  if (typeof url !== "string" || !/^(stun|turns?):([^@\s]+@)?[^@\s:/]+(:\d{1,5})?$/.test(url)) {
    throw new RangeError(`an ICE server must be stun:HOST:PORT or turn:USER:PASSWORD@HOST:PORT`);
  }
  return url;
}

/** One end of the candidate pair a data channel runs on. */
export interface WebRtcCandidate {
  /** `host`, `srflx` (seen by a STUN server), `prflx` (learnt from the peer's checks) or `relay`. */
  readonly type: string;
  /** The IP address (for `relay`, the TURN server's). */
  readonly address: string;
  /** The UDP (or TCP) port. */
  readonly port: number;
  /** `UDP` (or `TCP`, ICE-TCP). */
  readonly protocol: string;
}

const peersOf = new WeakMap<Connection, PeerConnection>();

/**
 * The candidate pair a connection of {@linkcode connectWebRtc} or {@linkcode acceptWebRtc} runs
 * on: a `relay` candidate on either end means through a TURN server; otherwise the path is direct
 * between the two peers. Undefined for any other connection, or once the connection is closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryPair, webRtcPath } from "@polycrypt/polycrypt/transports";
 * const [a, b] = memoryPair();
 * assert.equal(webRtcPath(a), undefined);
 * await a.close();
 * await b.close();
 * ```
 */
export function webRtcPath(
  connection: Connection,
): { local: WebRtcCandidate; remote: WebRtcCandidate } | undefined {
  const pc = peersOf.get(connection);
  if (!pc) return undefined;
  let pair: ReturnType<PeerConnection["getSelectedCandidatePair"]>;
  try {
    pair = pc.getSelectedCandidatePair();
  } catch {
    return undefined; // closed
  }
  if (!pair) return undefined;
  const end = (c: typeof pair.local): WebRtcCandidate => ({
    type: c.type,
    address: c.address,
    port: c.port,
    protocol: c.transportType,
  });
  return { local: end(pair.local), remote: end(pair.remote) };
}

/**
 * Opens a data channel to the peer on the other end of `signal`, as the offering side, and
 * resolves with a {@linkcode Connection} over it once it is open. Rejects with `TypeError` when it
 * does not open within `connectTimeoutMs` (the peer did not answer, or no candidate pair works).
 */
export function connectWebRtc(signal: Signal, options: WebRtcOptions = {}): Promise<Connection> {
  return open(signal, options, true);
}

/**
 * Answers the offer that arrives on `signal` and resolves with a {@linkcode Connection} over the
 * data channel the peer opens.
 */
export function acceptWebRtc(signal: Signal, options: WebRtcOptions = {}): Promise<Connection> {
  return open(signal, options, false);
}

async function open(signal: Signal, options: WebRtcOptions, offerer: boolean): Promise<Connection> {
  const maxQueued = options.maxQueuedBytes ?? DEFAULT_WEBRTC_MAX_QUEUED_BYTES;
  if (!Number.isSafeInteger(maxQueued) || maxQueued < 1) {
    throw new RangeError("maxQueuedBytes must be a positive integer");
  }
  const iceServers = (options.iceServers ?? []).map(iceServerOf);
  const mtu = options.mtu;
  if (mtu !== undefined && !(Number.isSafeInteger(mtu) && mtu >= MIN_MTU && mtu <= MAX_MTU)) {
    throw new RangeError(`mtu must be an integer from ${MIN_MTU} to ${MAX_MTU}`);
  }
  const timeoutMs = options.connectTimeoutMs ?? 30_000;
  const lib = await loadLibrary();
  const pc = tracked(
    lib,
    new lib.PeerConnection(offerer ? "offerer" : "answerer", {
      iceServers,
      ...(options.bindAddress ? { bindAddress: options.bindAddress } : {}),
      ...(mtu !== undefined ? { mtu } : {}),
    }),
  );
  let settled = false;
  const sendSignal = (message: SignalMessage) => {
    if (settled) return;
    Promise.resolve(signal.send(message)).catch(() => {});
  };
  pc.onLocalDescription((sdp, type) => {
    if (type === "offer" || type === "answer") sendSignal({ type, sdp });
  });
  // The offering side holds its candidates back until the answer is applied: with them, the
  // answering side could reach it and start DTLS before it knows the answer's certificate
  // fingerprint, and the handshake would fail (signalling through a relay takes some time).
  let described = false;
  const held: SignalMessage[] = [];
  pc.onLocalCandidate((candidate, mid) => {
    const message: SignalMessage = { type: "candidate", candidate, mid };
    if (offerer && !described) held.push(message);
    else sendSignal(message);
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const channel = await new Promise<DataChannel>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new TypeError("the data channel did not open in time")),
        timeoutMs,
      );
      pc.onStateChange((state) => {
        if (state === "failed" || state === "closed") {
          reject(new TypeError(`the peer connection ${state}`));
        }
      });
      if (offerer) {
        const dc = pc.createDataChannel(LABEL, { unordered: false });
        dc.onOpen(() => resolve(dc));
      } else {
        pc.onDataChannel((dc) => {
          if (dc.getLabel() === LABEL) resolve(dc);
          else dc.close();
        });
      }
      // Apply the peer's signals until the channel opens.
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
            if (described) pc.addRemoteCandidate(message.candidate, message.mid);
            else early.push(message);
          } else if (!described && message.type === (offerer ? "answer" : "offer")) {
            pc.setRemoteDescription(message.sdp, message.type);
            described = true;
            for (const m of held.splice(0)) sendSignal(m);
            for (const m of early) {
              if (m.type === "candidate") pc.addRemoteCandidate(m.candidate, m.mid);
            }
          }
        }
      })().catch((e) => reject(e instanceof Error ? e : new TypeError(String(e))));
    });
    settled = true;
    const connection = new Connection(
      channelDuplex(pc, channel, maxQueued, options.frameBudget),
      options,
    );
    peersOf.set(connection, pc);
    return connection;
  } catch (e) {
    settled = true;
    closePeer(pc);
    throw e;
  } finally {
    settled = true;
    clearTimeout(timer);
    signal.close?.();
  }
}

/**
 * The data channel as a byte duplex: the frames' bytes go out in messages of at most 256 KiB,
 * waiting while more than 1 MiB is buffered (SCTP's own flow and congestion control drain it);
 * received messages wait in a queue bounded like a WebSocket's (docs/transports.md section 5).
 */
function channelDuplex(
  pc: PeerConnection,
  dc: DataChannel,
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
    try {
      dc.close();
    } catch { /* already closed */ }
    closePeer(pc);
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
  dc.setBufferedAmountLowThreshold(LOW_WATER);
  dc.onBufferedAmountLow(() => {
    drained?.();
    drained = undefined;
  });
  dc.onMessage((message) => {
    if (failure || ended) return;
    if (typeof message === "string") {
      fail(new TypeError("text message on the data channel"));
      return;
    }
    const chunk = message instanceof ArrayBuffer
      ? new Uint8Array(message)
      : new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
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
  });
  dc.onClosed(() => {
    ended = true;
    notify();
  });
  dc.onError((error) => fail(new TypeError(`data channel error: ${error}`)));
  pc.onStateChange((state) => {
    if (state === "disconnected" || state === "failed") {
      fail(new TypeError("the peer disappeared (data channel lost)"));
    } else if (state === "closed") {
      ended = true;
      notify();
    }
  });
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
  // The peer's max-message-size (0 or less when it announced none: then the SCTP default applies).
  const announced = dc.maxMessageSize();
  const messageBytes = announced > 0 ? Math.min(MESSAGE_BYTES, announced) : 64 * 1024;
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      for (let i = 0; i < chunk.length; i += messageBytes) {
        while (!failure && !ended && dc.isOpen() && dc.bufferedAmount() > HIGH_WATER) {
          await new Promise<void>((resolve) => {
            // A safety net should the low-water callback be missed.
            const timer = setTimeout(resolve, 50);
            drained = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        if (failure) throw failure;
        if (ended || !dc.isOpen()) throw new TypeError("the data channel is closed");
        dc.sendMessageBinary(chunk.subarray(i, i + messageBytes));
      }
    },
    async close() {
      // Let what is buffered leave before closing (bounded by the connection's health).
      const start = Date.now();
      while (!failure && dc.isOpen() && dc.bufferedAmount() > 0 && Date.now() - start < 10_000) {
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
