// A TCP proxy the tests can cut, to drop a client's connection to a server (the XMPP
// reconnection tests).

/** What {@linkcode tcpProxy} gives. */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Connections accepted so far (refused ones not counted). */
  readonly accepted: number;
  /** Closes every connection through it and refuses new ones. */
  down(): void;
  /** Accepts connections again. */
  up(): void;
  /** Closes everything. */
  close(): Promise<void>;
}
/**
 * A TCP proxy to 127.0.0.1:`port` that the test can cut: `down()` closes every connection through
 * it and refuses new ones until `up()`.
 */
export function tcpProxy(port: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let refusing = false;
  let accepted = 0;
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable);
    } catch { /* cut */ }
    for (const c of [from, to]) {
      try {
        c.close();
      } catch { /* closed */ }
      open.delete(c);
    }
  };
  const pipes: Promise<void>[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      if (refusing) {
        conn.close();
        continue;
      }
      accepted++;
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      open.add(conn);
      open.add(upstream);
      pipes.push(pipe(conn, upstream), pipe(upstream, conn));
    }
  })().catch(() => {});
  const cut = () => {
    for (const c of open) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    open.clear();
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    down() {
      refusing = true;
      cut();
    },
    up() {
      refusing = false;
    },
    async close() {
      cut();
      listener.close();
      await serving;
      await Promise.allSettled(pipes);
    },
  };
}
