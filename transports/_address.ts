// Internal: `SCHEME://HOST:PORT` parsing shared by the TCP, TLS and UDP transports, and the TCP
// socket under TCP and TLS.

/** A host and port parsed from an address. */
export interface HostPort {
  readonly hostname: string;
  readonly port: number;
}

/** Parses `SCHEME://HOST:PORT` (IPv6 hosts in brackets); RangeError naming the expected shape. */
export function parseHostPort(address: string, scheme: "tcp" | "tls" | "udp"): HostPort {
  if (typeof address !== "string") throw new TypeError("address must be a string");
  const m = /^([a-z]+):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || m[1] !== scheme || port > 65535) {
    throw new RangeError(
      `address must look like ${scheme}://HOST:PORT (got ${JSON.stringify(address)})`,
    );
  }
  return { hostname: m[2].replace(/^\[|\]$/g, ""), port };
}

/** A TCP socket to `to` with Nagle off, so each frame goes out as it is written. */
export async function openTcp(to: HostPort): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: to.hostname, port: to.port, transport: "tcp" });
  conn.setNoDelay(true);
  return conn;
}
