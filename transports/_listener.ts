// Internal: the accept loop shared by the TCP and TLS listeners, and the connection pool (with
// per-connection serving) shared with WebSocket: the cap, idle eviction and listener defaults
// (docs/transports.md section 9).
import { type ByteDuplex, Connection } from "./connection.ts";
import type { TcpListener, TcpListenOptions } from "./tcp.ts";
import { ON_BYTES } from "./_budget.ts";

/** Default connections served at once by a listener. */
export const DEFAULT_MAX_CONNECTIONS = 1024;

/** Default longest silence between messages on a listener's connection: 60 s. */
export const DEFAULT_LISTENER_IDLE_MS = 60_000;

/** RangeError unless `maxConnections` is absent or a positive integer. */
export function checkMaxConnections(options: TcpListenOptions): void {
  const max = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError("maxConnections must be a positive integer");
  }
}

/**
 * The connections a listener serves, each with the time it last received a byte. At the cap, a
 * new connection closes the one idle the longest instead of being refused, so sockets left open
 * (slowloris) cannot lock legitimate senders out.
 */
export class ConnectionPool {
  readonly #max: number;
  readonly #options: TcpListenOptions;
  readonly #open = new Map<Connection, { at: number }>();
  readonly #running = new Set<Promise<void>>();

  constructor(options: TcpListenOptions) {
    this.#max = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.#options = {
      ...options,
      betweenFramesTimeoutMs: options.betweenFramesTimeoutMs ?? DEFAULT_LISTENER_IDLE_MS,
    };
  }

  /** How many connections are being served. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Serves `duplex` with `handler` until the handler returns or throws (that connection only), then
   * closes it. At the cap, first closes the connection idle the longest.
   */
  serve(duplex: ByteDuplex, handler: (connection: Connection) => Promise<void> | void): void {
    if (this.#open.size >= this.#max) this.#evict();
    const activity = { at: Date.now() };
    // The frame reader tells when bytes arrive: no stream of its own in between, no copy.
    const connection = new Connection(duplex, {
      ...this.#options,
      [ON_BYTES]: () => activity.at = Date.now(),
    } as TcpListenOptions);
    this.#open.set(connection, activity);
    const task = (async () => {
      try {
        await handler(connection);
      } catch {
        // One peer's failure is that peer's alone.
      } finally {
        this.#open.delete(connection);
        await connection.close();
      }
    })();
    this.#running.add(task);
    task.finally(() => this.#running.delete(task));
  }

  /** Closes the connection that received nothing for the longest time. */
  #evict(): void {
    let oldest: [Connection, { at: number }] | undefined;
    for (const entry of this.#open) if (!oldest || entry[1].at < oldest[1].at) oldest = entry;
    if (!oldest) return;
    this.#open.delete(oldest[0]);
    oldest[0].close().catch(() => {});
  }

  /** Closes every connection and waits for the handlers. */
  async close(): Promise<void> {
    await Promise.all([...this.#open.keys()].map((c) => c.close()));
    await Promise.all(this.#running);
  }
}

/**
 * Accepts connections from `listener` and runs `handler` for each, at most
 * `options.maxConnections` at once (at the cap, the connection idle the longest is closed). A
 * handler that throws closes its own connection only.
 */
export function serveConnections<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  handler: (connection: Connection) => Promise<void> | void,
  options: TcpListenOptions,
  prepare: (conn: C) => void = () => {},
): TcpListener {
  const pool = new ConnectionPool(options);
  let closing = false;

  const accepting = (async () => {
    for (;;) {
      let conn: C;
      try {
        conn = await listener.accept();
      } catch {
        if (closing) return;
        continue;
      }
      prepare(conn);
      pool.serve(conn, handler);
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    get active() {
      return pool.size;
    },
    async close() {
      if (closing) return;
      closing = true;
      listener.close();
      await accepting;
      await pool.close();
    },
  };
}
