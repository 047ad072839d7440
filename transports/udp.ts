/**
 * UDP transport: `udp://HOST:PORT` (`docs/transports.md` section 6). Envelopes are cut into
 * datagrams of at most 1200 bytes, reassembled with bounded buffers and a timeout, acknowledged,
 * and resent whole by the sender when no acknowledgement comes. A message with a missing
 * fragment is dropped whole: nothing of it reaches the application.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUdpAddress } from "@polycrypt/polycrypt/transports";
 * assert.equal(parseUdpAddress("udp://127.0.0.1:7000").port, 7000);
 * ```
 *
 * @module
 */
import type dgram from "node:dgram";
import { isSealedEnvelope, type SealedEnvelope } from "../cascade/envelope.ts";
import { FrameError, MESSAGE_ID_SIZE } from "./frame.ts";
import { parseHostPort } from "./_address.ts";
import { checkReceipt, RECEIPT_SIZE } from "./message.ts";
import { equalBytes, toHex } from "../engines/_bytes.ts";

/** Largest datagram sent or accepted. */
export const MAX_DATAGRAM = 1200;

const VERSION = 0x01;
const KIND_FRAGMENT = 0x10;
const KIND_ACK = 0x11;
/** An ACK datagram: version 1 carries the message id, version 2 the id and a receipt. */
const ACK_V1 = 2 + MESSAGE_ID_SIZE;
const ACK_V2 = ACK_V1 + RECEIPT_SIZE;
const NONCE_SIZE = 8;
/** version, kind, nonce, u16 index, u16 count */
const HEADER = 2 + NONCE_SIZE + 4;
const PAYLOAD = MAX_DATAGRAM - HEADER;
/** Datagrams sent back to back before the sender pauses. */
const BURST = 32;

/** A parsed `udp://HOST:PORT`. */
export interface UdpAddress {
  /** The host name or IP address (IPv6 without brackets). */
  readonly hostname: string;
  /** The port, 0 to 65535. */
  readonly port: number;
}

/**
 * Why a UDP listener dropped a message: `"malformed"` (a datagram that is not ours, or fragments
 * that disagree), `"overloaded"` (too many messages in reassembly), `"too-long"` (over
 * `maxMessageBytes`), `"not-envelope"` (reassembled, but not a sealed envelope), `"lost"` (a
 * fragment never arrived within `reassemblyTimeoutMs`).
 */
export type UdpDropReason = "malformed" | "overloaded" | "too-long" | "not-envelope" | "lost";

const DROP_MESSAGES: Readonly<Record<UdpDropReason, string>> = {
  malformed: "malformed datagram",
  overloaded: "too many messages in reassembly",
  "too-long": "message longer than the limit",
  "not-envelope": "not an envelope",
  lost: "a message was lost (a fragment never arrived)",
};

/**
 * A message a UDP listener dropped, with its {@linkcode UdpDropReason} in `reason` (match on that,
 * not on the message text). Never carries any received bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameError, UdpDropError } from "@polycrypt/polycrypt/transports";
 * const e = new UdpDropError("lost");
 * assert.equal(e.reason, "lost");
 * assert.ok(e instanceof FrameError);
 * assert.equal(e.message, "a message was lost (a fragment never arrived)");
 * ```
 */
export class UdpDropError extends FrameError {
  /** Why the message was dropped. */
  readonly reason: UdpDropReason;

  /**
   * A drop for `reason`; the message text follows from it.
   *
   * @param reason why the message was dropped
   */
  constructor(reason: UdpDropReason) {
    super(DROP_MESSAGES[reason]);
    this.reason = reason;
  }
}

/**
 * Parses `udp://HOST:PORT` (IPv4 or a name; IPv6 in brackets).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseUdpAddress } from "@polycrypt/polycrypt/transports";
 * assert.equal(parseUdpAddress("udp://[::1]:9").hostname, "::1");
 * assert.throws(() => parseUdpAddress("udp://127.0.0.1:70000"), RangeError);
 * ```
 */
export function parseUdpAddress(address: string): UdpAddress {
  return parseHostPort(address, "udp");
}

/** node:dgram, loaded on first use so that processes without UDP do not carry it. */
async function socketFor(hostname: string): Promise<dgram.Socket> {
  const { createSocket } = await import("node:dgram");
  return createSocket(hostname.includes(":") ? "udp6" : "udp4");
}

function sendDatagram(socket: dgram.Socket, bytes: Uint8Array, to: UdpAddress): Promise<void> {
  return new Promise((resolve, reject) =>
    socket.send(bytes, to.port, to.hostname, (e) => e ? reject(e) : resolve())
  );
}

async function messageId(bytes: Uint8Array): Promise<Uint8Array> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return new Uint8Array(digest, 0, MESSAGE_ID_SIZE);
}

/** Cuts an envelope into datagrams sharing one random nonce. */
function fragments(envelope: Uint8Array): Uint8Array[] {
  const count = Math.max(1, Math.ceil(envelope.length / PAYLOAD));
  if (count > 0xffff) throw new RangeError("envelope is too big for UDP (use TCP)");
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_SIZE));
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const data = envelope.subarray(i * PAYLOAD, (i + 1) * PAYLOAD);
    const d = new Uint8Array(HEADER + data.length);
    d[0] = VERSION;
    d[1] = KIND_FRAGMENT;
    d.set(nonce, 2);
    new DataView(d.buffer).setUint16(2 + NONCE_SIZE, i);
    new DataView(d.buffer).setUint16(4 + NONCE_SIZE, count);
    d.set(data, HEADER);
    out.push(d);
  }
  return out;
}

/** Options of {@linkcode sendUdp}. */
export interface UdpSendOptions {
  /** Wait for the acknowledgement per attempt (default 2000 ms). */
  ackTimeoutMs?: number;
  /** How many times the whole message is sent before giving up (default 3). */
  attempts?: number;
}

/**
 * Sends one envelope and waits for its acknowledgement, resending the whole message when none
 * comes. Rejects with {@linkcode FrameError} after the last attempt.
 *
 * @returns the message id the receiver acknowledged
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { FrameError, listenUdp, sendUdp } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const envelope = await encrypt(new Uint8Array(3), { recipients: [bob.recipient] });
 * // A listener that refuses the message (throws) sends no acknowledgement.
 * const listener = await listenUdp("udp://127.0.0.1:0", () => {
 *   throw new Error("not for me");
 * });
 * const to = `udp://127.0.0.1:${listener.port}`;
 * await assert.rejects(sendUdp(to, envelope, { ackTimeoutMs: 100, attempts: 2 }), FrameError);
 * await listener.close();
 * ```
 */
export async function sendUdp(
  address: string,
  envelope: SealedEnvelope,
  options: UdpSendOptions = {},
): Promise<Uint8Array> {
  return (await sendAndWait(address, envelope, options, false)).id;
}

/** What {@linkcode sendUdpForReceipt} resolves with. */
export interface UdpReceipt {
  /** The message id the receiver acknowledged. */
  readonly id: Uint8Array;
  /** The receipt that came with the ACK (docs/transports.md section 10), 44 bytes. */
  readonly receipt: Uint8Array;
}

/**
 * {@linkcode sendUdp}, waiting for a version 2 ACK (the message id and a receipt) and resolving
 * with both; a version 1 ACK (the id only) is ignored, since anyone on the path could forge it.
 * Open the receipt with `openReceipt` and the reply key put inside the message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import {
 *   listenUdp,
 *   newReplyKey,
 *   openReceipt,
 *   sealReceipt,
 *   sendUdpForReceipt,
 * } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const replyKey = newReplyKey(); // travels inside the message in practice
 * const listener = await listenUdp("udp://127.0.0.1:0", ({ id }) =>
 *   sealReceipt(replyKey, id, "delivered"));
 * const envelope = await encrypt(new Uint8Array(3), { recipients: [bob.recipient] });
 * const { id, receipt } = await sendUdpForReceipt(`udp://127.0.0.1:${listener.port}`, envelope);
 * assert.equal(await openReceipt(replyKey, id, receipt), "delivered");
 * await listener.close();
 * ```
 */
export async function sendUdpForReceipt(
  address: string,
  envelope: SealedEnvelope,
  options: UdpSendOptions = {},
): Promise<UdpReceipt> {
  const { id, receipt } = await sendAndWait(address, envelope, options, true);
  return { id, receipt: receipt! };
}

/** Sends, resending the whole message, until an ACK of its id comes (with a receipt if asked). */
async function sendAndWait(
  address: string,
  envelope: SealedEnvelope,
  options: UdpSendOptions,
  withReceipt: boolean,
): Promise<{ id: Uint8Array; receipt?: Uint8Array }> {
  const to = parseUdpAddress(address);
  if (!isSealedEnvelope(envelope)) {
    throw new TypeError("envelope must be a sealed polycrypt envelope");
  }
  const attempts = options.attempts ?? 3;
  const wait = options.ackTimeoutMs ?? 2000;
  const id = await messageId(envelope);
  const datagrams = fragments(envelope);
  const socket = await socketFor(to.hostname);
  let acked!: (receipt: Uint8Array | undefined) => void;
  const ack = new Promise<Uint8Array | undefined>((resolve) => acked = resolve);
  socket.on("message", (msg: Uint8Array) => {
    const form = msg.length === ACK_V2 || (msg.length === ACK_V1 && !withReceipt);
    if (
      form && msg[0] === VERSION && msg[1] === KIND_ACK &&
      equalBytes(msg.subarray(2, ACK_V1), id)
    ) acked(msg.length === ACK_V2 ? msg.slice(ACK_V1) : undefined);
  });
  socket.on("error", () => {});
  try {
    for (let attempt = 0; attempt < attempts; attempt++) {
      for (let i = 0; i < datagrams.length; i++) {
        await sendDatagram(socket, datagrams[i], to);
        // Pacing: a burst larger than the receiver's socket buffer (about 200 KiB by default on
        // Linux) is dropped in the kernel, the same fragments on every resend.
        if (i % BURST === BURST - 1) await new Promise((r) => setTimeout(r, 1));
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([
        ack.then((receipt) => ({ receipt })),
        new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), wait)),
      ]);
      clearTimeout(timer);
      if (got) return { id, receipt: got.receipt };
    }
    throw new FrameError("the peer did not acknowledge the message");
  } finally {
    socket.close();
  }
}

/** Options of {@linkcode listenUdp}. */
export interface UdpListenOptions {
  /** Largest envelope accepted (default 16 MiB). */
  maxMessageBytes?: number;
  /** Time to collect all fragments of a message (default 10 s). */
  reassemblyTimeoutMs?: number;
  /**
   * Messages being reassembled at once, all senders together (default 64). When the table is full,
   * a new message takes the slot of the oldest message of the source address holding the most
   * slots (the new one counted with its own), so a sender that floods first fragments only
   * evicts its own.
   */
  maxPendingMessages?: number;
  /**
   * Bytes held in reassembly, all senders together (default 64 MiB); over it, the oldest message
   * of the source address holding the most bytes is dropped, the same way.
   */
  maxPendingBytes?: number;
  /**
   * Told when a message is dropped (lost fragment, malformed datagram), with the reason in
   * `error.reason`. Never given its bytes.
   */
  onDrop?: (error: UdpDropError) => void;
}

/** A running UDP listener. */
export interface UdpListener {
  /** The port it listens on (useful with port 0). */
  readonly port: number;
  /** Stops receiving, lets running handlers (and their acknowledgements) finish, frees the port. */
  close(): Promise<void>;
}

interface Pending {
  /** The sender's address as fairness counts it (IPv4 address, IPv6 /64), kept in memory only. */
  source: string;
  count: number;
  parts: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The unit the reassembly table is shared fairly between: an IPv4 address (also when mapped into
 * IPv6), or the /64 prefix of an IPv6 address (one host usually has a whole /64).
 */
function sourceOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(":")) return address;
  const [head, tail = ""] = address.split("%")[0].split("::");
  const left = head ? head.split(":") : [];
  const right = address.includes("::") && tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, "")).join(":") + "::/64";
}

/**
 * Receives envelopes on `address`. `onMessage` gets each complete envelope once (duplicates
 * from resends are acknowledged again, with the same ACK, but not delivered twice). When it
 * returns, the ACK goes back: the message id (version 1), or the id and the 44-byte receipt it
 * returned (version 2, docs/transports.md section 10); when it throws, no ACK.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { listenUdp, sendUdp } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const sizes: number[] = [];
 * const listener = await listenUdp("udp://127.0.0.1:0", ({ envelope }) => {
 *   sizes.push(envelope.length);
 * });
 * const envelope = await encrypt(new Uint8Array(5000), { recipients: [bob.recipient] });
 * await sendUdp(`udp://127.0.0.1:${listener.port}`, envelope); // five datagrams, one message
 * assert.deepEqual(sizes, [envelope.length]);
 * await listener.close();
 * ```
 */
export async function listenUdp(
  address: string,
  onMessage: (
    message: { envelope: Uint8Array; id: Uint8Array },
  ) => void | Uint8Array | Promise<void | Uint8Array>,
  options: UdpListenOptions = {},
): Promise<UdpListener> {
  const { hostname, port } = parseUdpAddress(address);
  const maxBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
  const maxCount = Math.ceil(maxBytes / PAYLOAD);
  const timeout = options.reassemblyTimeoutMs ?? 10_000;
  const maxPending = options.maxPendingMessages ?? 64;
  const maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
  for (
    const [name, value] of [["maxPendingMessages", maxPending], [
      "maxPendingBytes",
      maxPendingBytes,
    ]] as const
  ) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`${name} must be a positive integer`);
    }
  }
  const drop = (reason: UdpDropReason) => options.onDrop?.(new UdpDropError(reason));
  // In insertion order: the first entry of a source is its oldest.
  const pending = new Map<string, Pending>();
  let pendingBytes = 0;
  const remove = (key: string, entry: Pending) => {
    clearTimeout(entry.timer);
    pending.delete(key);
    pendingBytes -= entry.bytes;
  };
  /**
   * Frees room under pressure: the oldest entry of the source with the most `weight` (entries or
   * bytes), `extra` being added to `newcomer`'s share first. Nothing about the sources is kept
   * beyond the table itself, and nothing is logged.
   */
  const evict = (weight: (e: Pending) => number, newcomer?: string, extra = 0): boolean => {
    const shares = new Map<string, number>();
    if (newcomer !== undefined) shares.set(newcomer, extra);
    for (const e of pending.values()) shares.set(e.source, (shares.get(e.source) ?? 0) + weight(e));
    const heaviest = Math.max(...shares.values());
    for (const [key, e] of pending) {
      if (shares.get(e.source) !== heaviest) continue;
      remove(key, e);
      drop("overloaded");
      return true;
    }
    return false;
  };
  // Recently answered messages, with their ACK datagram: a resend (our ACK was lost) is
  // acknowledged again with the same datagram, not delivered again.
  const delivered = new Map<string, Promise<Uint8Array>>();
  const socket = await socketFor(hostname);
  socket.on("error", () => {});

  const ackDatagram = (id: Uint8Array, receipt: Uint8Array | undefined) => {
    const d = new Uint8Array(receipt ? ACK_V2 : ACK_V1);
    d[0] = VERSION;
    d[1] = KIND_ACK;
    d.set(id, 2);
    if (receipt) d.set(receipt, ACK_V1);
    return d;
  };
  const acknowledge = (d: Uint8Array, to: { address: string; port: number }) =>
    new Promise<void>((resolve) => socket.send(d, to.port, to.address, () => resolve()));
  // Handlers still running (and their ACKs): close() lets them finish first.
  const inflight = new Set<Promise<void>>();

  socket.on("message", (msg: Uint8Array, from: { address: string; port: number }) => {
    const task = receive(msg, from);
    inflight.add(task);
    task.finally(() => inflight.delete(task));
  });

  async function receive(msg: Uint8Array, from: { address: string; port: number }): Promise<void> {
    if (msg.length > MAX_DATAGRAM || msg.length < HEADER) return drop("malformed");
    if (msg[0] !== VERSION || msg[1] !== KIND_FRAGMENT) return drop("malformed");
    const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
    const index = view.getUint16(2 + NONCE_SIZE);
    const count = view.getUint16(4 + NONCE_SIZE);
    if (count === 0 || index >= count || count > maxCount) return drop("malformed");
    const key = `${from.address}|${from.port}|${toHex(msg.subarray(2, 2 + NONCE_SIZE))}`;
    let entry = pending.get(key);
    if (!entry) {
      const again = delivered.get(key);
      if (again !== undefined) {
        if (index === 0) await again.then((d) => acknowledge(d, from), () => {});
        return;
      }
      const source = sourceOf(from.address);
      if (pending.size >= maxPending && !evict(() => 1, source, 1)) return drop("overloaded");
      const created: Pending = {
        source,
        count,
        parts: new Array(count),
        received: 0,
        bytes: 0,
        timer: setTimeout(() => {
          remove(key, created);
          drop("lost");
        }, timeout),
      };
      entry = created;
      pending.set(key, entry);
    }
    if (entry.count !== count) {
      remove(key, entry);
      return drop("malformed");
    }
    if (entry.parts[index]) return; // duplicate
    const data = msg.slice(HEADER);
    entry.bytes += data.length;
    pendingBytes += data.length;
    if (entry.bytes > maxBytes) {
      remove(key, entry);
      return drop("too-long");
    }
    entry.parts[index] = data;
    entry.received++;
    while (pendingBytes > maxPendingBytes && evict((e) => e.bytes));
    if (pending.get(key) !== entry) return; // evicted just now
    if (entry.received < entry.count) return;
    remove(key, entry);
    const envelope = new Uint8Array(entry.bytes);
    let offset = 0;
    for (const p of entry.parts) {
      envelope.set(p!, offset);
      offset += p!.length;
    }
    if (!isSealedEnvelope(envelope)) return drop("not-envelope");
    const answered = (async () => {
      const id = await messageId(envelope);
      const receipt = await onMessage({ envelope, id });
      checkReceipt(receipt || undefined);
      return ackDatagram(id, receipt || undefined);
    })();
    delivered.set(key, answered);
    if (delivered.size > 1024) delivered.delete(delivered.keys().next().value!);
    let datagram: Uint8Array;
    try {
      datagram = await answered;
    } catch {
      // The application refused it (it did not decrypt, say): no acknowledgement.
      delivered.delete(key);
      return;
    }
    await acknowledge(datagram, from);
  }

  await new Promise<void>((resolve) => socket.bind(port, hostname, () => resolve()));
  return {
    port: socket.address().port,
    async close() {
      for (const [key, entry] of pending) remove(key, entry);
      await Promise.allSettled([...inflight]);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}
