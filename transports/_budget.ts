// Internal: the accounting behind a FrameBudget (transports/frame.ts), shared with the WebSocket
// transport, whose received messages wait in a queue before a frame reader asks for them
// (docs/transports.md section 2, "Memory limits of a receiver").

/** One holder of bytes (a frame reader, a WebSocket queue) as its budget sees it. */
export interface Holder {
  /** Bytes counted against the budget. */
  bytes: number;
  /** When its incomplete data began (a sequence number: smaller is older). */
  since: number;
  /** Whether it holds bytes that can be dropped (an incomplete frame, unread messages). */
  evictable(): boolean;
  /** Drops its bytes and fails its connection. */
  evict(): void;
}

/** The accounting behind a FrameBudget. */
export class Ledger {
  held = 0;
  peak = 0;
  readonly holders = new Set<Holder>();
  constructor(readonly capacity: number) {}

  set(holder: Holder, bytes: number): void {
    this.held += bytes - holder.bytes;
    holder.bytes = bytes;
    if (bytes > 0) this.holders.add(holder);
    else this.holders.delete(holder);
    this.peak = Math.max(this.peak, this.held);
  }

  /** Over capacity: evicts evictable holders, oldest first, until it is not. */
  relieve(): void {
    if (this.held <= this.capacity) return;
    const candidates = [...this.holders].filter((h) => h.evictable())
      .sort((a, b) => a.since - b.since);
    for (const holder of candidates) {
      if (this.held <= this.capacity) return;
      holder.evict();
    }
  }
}

/** The ledger of each FrameBudget. */
export const ledgers = new WeakMap<object, Ledger>();

/** Default memory for frames in flight, all connections together: 256 MiB. */
export const DEFAULT_BUDGET_BYTES = 256 * 1024 * 1024;
let processLedger: Ledger | undefined;

/**
 * The ledger of `budget` (a FrameBudget), or for a reader or queue given none, the one
 * process-wide ledger of {@linkcode DEFAULT_BUDGET_BYTES}, made on first use.
 */
export function ledgerOf(budget: object | undefined): Ledger {
  if (budget === undefined) return processLedger ??= new Ledger(DEFAULT_BUDGET_BYTES);
  return ledgers.get(budget)!;
}

let sequence = 0;

/** The next sequence number (smaller is older). */
export function nextSequence(): number {
  return ++sequence;
}

/**
 * Internal option of a FrameReader (a symbol, so it is no part of the public options): called
 * whenever bytes arrive, without a copy or a stream of its own. The connection pool notes each
 * connection's last activity with it.
 */
export const ON_BYTES: unique symbol = Symbol("polycrypt.onBytes");

/** A read waiting for a peer, with the time it may last until. */
export interface Waiter {
  /** When the read fails (`Date.now()` time). */
  dueAt: number;
  /** Fails the read: its deadline passed. */
  expire(): void;
}

const waiting = new Set<Waiter>();
let watchdog: ReturnType<typeof setTimeout> | undefined;
let watchdogAt = Infinity;

function arm(at: number): void {
  if (watchdog !== undefined) clearTimeout(watchdog);
  watchdogAt = at;
  // setTimeout takes at most 2^31 - 1 ms (24.8 days); a later deadline is looked at then.
  watchdog = setTimeout(fire, Math.min(Math.max(0, at - Date.now()), 0x7fffffff));
}

function fire(): void {
  watchdog = undefined;
  watchdogAt = Infinity;
  const now = Date.now();
  let next = Infinity;
  for (const waiter of waiting) {
    if (waiter.dueAt <= now) {
      waiting.delete(waiter);
      waiter.expire();
    } else if (waiter.dueAt < next) {
      next = waiter.dueAt;
    }
  }
  if (next < Infinity) arm(next);
}

/**
 * Watches `waiter` until {@linkcode unwatch}: its `expire` is called once `dueAt` passes. One
 * timer serves every read of the process, re-armed only when a read is due before it: a read no
 * longer costs a timer, a promise and a race of its own (per read, that garbage outlived the
 * reads and held their buffers once the engine had moved it to its old generation).
 */
export function watch(waiter: Waiter): void {
  if (waiter.dueAt === Infinity) return;
  waiting.add(waiter);
  if (waiter.dueAt < watchdogAt) arm(waiter.dueAt);
}

/** Stops watching `waiter`; the timer stops when no read waits. */
export function unwatch(waiter: Waiter): void {
  if (!waiting.delete(waiter) || waiting.size > 0 || watchdog === undefined) return;
  clearTimeout(watchdog);
  watchdog = undefined;
  watchdogAt = Infinity;
}
