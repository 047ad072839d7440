// Internal: the Double Ratchet's state as plain data (docs/sessions.md section 5) and its
// versioned binary encoding (docs/sessions.md section 7, "Ratchet state encoding").
import { FormatError } from "../errors.ts";
import type { KemKeyPair } from "../engines/types.ts";

/**
 * A session's Double Ratchet state: plain data (byte arrays, numbers, strings), so
 * `structuredClone` copies it; opaque to callers, who keep it with
 * {@linkcode encodeRatchetState} and get it back with {@linkcode decodeRatchetState}. The
 * functions of `sessions/ratchet.ts` never modify a state: they return a new one.
 */
export interface RatchetState {
  /** The version of the state's layout (1). */
  readonly version: 1;
}

/** Message keys skipped in one receiving chain, by `N`, oldest first. */
export interface SkippedChain {
  /** The chain's header key. */
  readonly hk: Uint8Array;
  /** Its skipped message keys, by increasing `N`. */
  readonly keys: readonly { readonly n: number; readonly mk: Uint8Array }[];
}

/** The fields behind {@linkcode RatchetState} ([DR] section 4 names, docs/sessions.md section 5). */
export interface State extends RatchetState {
  readonly kemId: string;
  readonly aeadId: string;
  readonly ad: Uint8Array;
  readonly dhs: KemKeyPair;
  readonly dhr?: Uint8Array;
  readonly rk: Uint8Array;
  readonly cks?: Uint8Array;
  readonly ckr?: Uint8Array;
  readonly ns: number;
  readonly nr: number;
  readonly pn: number;
  readonly hks?: Uint8Array;
  readonly hkr?: Uint8Array;
  readonly nhks: Uint8Array;
  readonly nhkr: Uint8Array;
  /** A new `DHr` was received: the next encrypt makes the sending DH step (lazily). */
  readonly stepPending: boolean;
  readonly kems?: KemKeyPair;
  readonly kemr?: Uint8Array;
  /** `kem_pending`: what every message of the current sending chain carries. */
  readonly kemPendingPub?: Uint8Array;
  readonly kemPendingCt?: Uint8Array;
  /** Messages sent and received since this side's last KEM step. */
  readonly kemMessages: number;
  /** When this side made its last KEM step (milliseconds), if it ever made one. */
  readonly kemTime?: number;
  readonly skipped: readonly SkippedChain[];
}

const MAGIC = new TextEncoder().encode("PCSTATE");
const VERSION = 1;
const KEY = 32;
/** Bounds checked when decoding. */
const MAX_ID = 255;
const MAX_AD = 65535;
const MAX_KEM_VALUE = 1 << 20;
/** At most this many skipped message keys are stored (docs/sessions.md section 5). */
export const MAX_SKIPPED_KEYS = 2000;
const MAX_COUNTER = 2 ** 31;

const F = {
  dhr: 1 << 0,
  cks: 1 << 1,
  ckr: 1 << 2,
  hks: 1 << 3,
  hkr: 1 << 4,
  kems: 1 << 5,
  kemr: 1 << 6,
  pendPub: 1 << 7,
  pendCt: 1 << 8,
  stepPending: 1 << 9,
  kemTime: 1 << 10,
} as const;
const ALL_FLAGS = (1 << 11) - 1;

class Writer {
  #buf: Uint8Array;
  #view: DataView;
  #at = 0;
  constructor(size: number) {
    this.#buf = new Uint8Array(size);
    this.#view = new DataView(this.#buf.buffer);
  }
  bytes(b: Uint8Array) {
    this.#buf.set(b, this.#at);
    this.#at += b.length;
  }
  u16(n: number) {
    this.#view.setUint16(this.#at, n);
    this.#at += 2;
  }
  u32(n: number) {
    this.#view.setUint32(this.#at, n);
    this.#at += 4;
  }
  u64(n: number) {
    this.#view.setBigUint64(this.#at, BigInt(n));
    this.#at += 8;
  }
  sp(b: Uint8Array) {
    this.u16(b.length);
    this.bytes(b);
  }
  lp(b: Uint8Array) {
    this.u32(b.length);
    this.bytes(b);
  }
  done(): Uint8Array {
    if (this.#at !== this.#buf.length) throw new Error("state size miscomputed");
    return this.#buf;
  }
}

const encoder = new TextEncoder();

/** The versioned binary form of a state (docs/sessions.md section 7). */
export function encodeState(s: State): Uint8Array {
  const kemId = encoder.encode(s.kemId), aeadId = encoder.encode(s.aeadId);
  let flags = 0;
  let size = MAGIC.length + 1 + 2 + kemId.length + 2 + aeadId.length + 2 + s.ad.length + 2 +
    5 * KEY + 12 + 12;
  const opt = (bit: number, value: unknown, bytes: number) => {
    if (value === undefined) return;
    flags |= bit;
    size += bytes;
  };
  opt(F.dhr, s.dhr, KEY);
  opt(F.cks, s.cks, KEY);
  opt(F.ckr, s.ckr, KEY);
  opt(F.hks, s.hks, KEY);
  opt(F.hkr, s.hkr, KEY);
  opt(F.kems, s.kems, s.kems ? 8 + s.kems.publicKey.length + s.kems.secretKey.length : 0);
  opt(F.kemr, s.kemr, 4 + (s.kemr?.length ?? 0));
  opt(F.pendPub, s.kemPendingPub, 4 + (s.kemPendingPub?.length ?? 0));
  opt(F.pendCt, s.kemPendingCt, 4 + (s.kemPendingCt?.length ?? 0));
  opt(F.kemTime, s.kemTime, 0);
  if (s.stepPending) flags |= F.stepPending;
  size += 2;
  for (const chain of s.skipped) size += KEY + 2 + chain.keys.length * (4 + KEY);
  const w = new Writer(size);
  w.bytes(MAGIC);
  w.bytes(new Uint8Array([VERSION]));
  w.sp(kemId);
  w.sp(aeadId);
  w.sp(s.ad);
  w.u16(flags);
  w.bytes(s.dhs.publicKey);
  w.bytes(s.dhs.secretKey);
  w.bytes(s.rk);
  w.bytes(s.nhks);
  w.bytes(s.nhkr);
  w.u32(s.ns);
  w.u32(s.nr);
  w.u32(s.pn);
  w.u32(s.kemMessages);
  w.u64(s.kemTime ?? 0);
  for (const k of [s.dhr, s.cks, s.ckr, s.hks, s.hkr]) if (k) w.bytes(k);
  if (s.kems) {
    w.lp(s.kems.publicKey);
    w.lp(s.kems.secretKey);
  }
  for (const v of [s.kemr, s.kemPendingPub, s.kemPendingCt]) if (v) w.lp(v);
  w.u16(s.skipped.length);
  for (const chain of s.skipped) {
    w.bytes(chain.hk);
    w.u16(chain.keys.length);
    for (const { n, mk } of chain.keys) {
      w.u32(n);
      w.bytes(mk);
    }
  }
  return w.done();
}

class Reader {
  #at = 0;
  readonly #view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  #need(n: number) {
    if (this.#at + n > this.buf.length) throw new FormatError("ratchet state is truncated");
  }
  bytes(n: number): Uint8Array {
    this.#need(n);
    // A copy: the state owns its keys, whatever the caller does with the input afterwards.
    const out = this.buf.slice(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  u8(): number {
    this.#need(1);
    return this.buf[this.#at++];
  }
  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#at);
    this.#at += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#at);
    this.#at += 4;
    return v;
  }
  u64(): number {
    this.#need(8);
    const v = this.#view.getBigUint64(this.#at);
    this.#at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError("ratchet state time too large");
    return Number(v);
  }
  sp(max: number): Uint8Array {
    const n = this.u16();
    if (n > max) throw new FormatError("ratchet state field too long");
    return this.bytes(n);
  }
  lp(max: number): Uint8Array {
    const n = this.u32();
    if (n === 0 || n > max) throw new FormatError("ratchet state field has a bad length");
    return this.bytes(n);
  }
  end() {
    if (this.#at !== this.buf.length) throw new FormatError("trailing bytes after ratchet state");
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function id(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new FormatError("ratchet state has an empty engine id");
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new FormatError("ratchet state has a malformed engine id");
  }
  if (!/^[a-z0-9._+-]+$/.test(text)) throw new FormatError("ratchet state has a bad engine id");
  return text;
}

const counter = (v: number) => {
  if (v >= MAX_COUNTER) throw new FormatError("ratchet state counter out of range");
  return v;
};

/** Parses {@linkcode encodeState}'s bytes; {@linkcode FormatError} on anything malformed. */
export function decodeState(bytes: Uint8Array): State {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("state must be a Uint8Array");
  const r = new Reader(bytes);
  const magic = r.bytes(MAGIC.length);
  if (!magic.every((b, i) => b === MAGIC[i])) throw new FormatError("not a ratchet state");
  if (r.u8() !== VERSION) throw new FormatError("unsupported ratchet state version");
  const kemId = id(r.sp(MAX_ID));
  const aeadId = id(r.sp(MAX_ID));
  const ad = r.sp(MAX_AD);
  const flags = r.u16();
  if (flags & ~ALL_FLAGS) throw new FormatError("ratchet state has unknown flags");
  const has = (bit: number) => (flags & bit) !== 0;
  const dhs = { publicKey: r.bytes(KEY), secretKey: r.bytes(KEY) };
  const rk = r.bytes(KEY), nhks = r.bytes(KEY), nhkr = r.bytes(KEY);
  const ns = counter(r.u32()), nr = counter(r.u32()), pn = counter(r.u32());
  const kemMessages = r.u32();
  const time = r.u64();
  const key = (bit: number) => has(bit) ? r.bytes(KEY) : undefined;
  const dhr = key(F.dhr), cks = key(F.cks), ckr = key(F.ckr), hks = key(F.hks), hkr = key(F.hkr);
  const kems = has(F.kems)
    ? { publicKey: r.lp(MAX_KEM_VALUE), secretKey: r.lp(MAX_KEM_VALUE) }
    : undefined;
  const value = (bit: number) => has(bit) ? r.lp(MAX_KEM_VALUE) : undefined;
  const kemr = value(F.kemr), kemPendingPub = value(F.pendPub), kemPendingCt = value(F.pendCt);
  // What the ratchet itself never makes: a sending chain without its header key, or the reverse.
  if (!!cks !== !!hks || !!ckr !== !!hkr || (ckr && !dhr) || (has(F.stepPending) && !dhr)) {
    throw new FormatError("ratchet state is inconsistent");
  }
  const chains = r.u16();
  const skipped: SkippedChain[] = [];
  let total = 0;
  for (let c = 0; c < chains; c++) {
    const hk = r.bytes(KEY);
    const count = r.u16();
    total += count;
    if (count === 0 || total > MAX_SKIPPED_KEYS) {
      throw new FormatError("ratchet state has a bad skipped key count");
    }
    const keys: { n: number; mk: Uint8Array }[] = [];
    for (let i = 0; i < count; i++) {
      const n = counter(r.u32());
      if (i > 0 && n <= keys[i - 1].n) throw new FormatError("ratchet state skipped keys unsorted");
      keys.push({ n, mk: r.bytes(KEY) });
    }
    skipped.push({ hk, keys });
  }
  r.end();
  return {
    version: 1,
    kemId,
    aeadId,
    ad,
    dhs,
    dhr,
    rk,
    cks,
    ckr,
    ns,
    nr,
    pn,
    hks,
    hkr,
    nhks,
    nhkr,
    stepPending: has(F.stepPending),
    kems,
    kemr,
    kemPendingPub,
    kemPendingCt,
    kemMessages,
    kemTime: has(F.kemTime) ? time : undefined,
    skipped,
  };
}
