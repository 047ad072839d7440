/**
 * The one interface every transport offers an application: hand over a sealed envelope, get its
 * message id; close. Stream transports (in-memory, TCP, TLS, SOCKS5, WebSocket) implement it with
 * `Connection`; UDP with {@linkcode udpTransport}. `send` takes only a
 * `SealedEnvelope`, the type that only `encrypt` returns, and checks the envelope magic again at
 * run time, so cleartext cannot be sent by construction (docs/transports.md).
 *
 * @example
 * ```ts
 * import { memoryPair, type Transport } from "./mod.ts";
 * import { encrypt, generateIdentity } from "../mod.ts";
 * const bob = await generateIdentity("x25519");
 * const [alice] = memoryPair();
 * const transport: Transport = alice;
 * const id = await transport.send(await encrypt(new Uint8Array(3), { recipients: [bob.recipient] }));
 * console.log(id.length); // 16
 * // @ts-expect-error: plain bytes are not a SealedEnvelope
 * await transport.send(new TextEncoder().encode("cleartext")).catch((e) => console.log(e.name)); // TypeError
 * await transport.close();
 * ```
 *
 * @module
 */
import type { SealedEnvelope } from "../cascade/envelope.ts";
import { parseUdpAddress, sendUdp, type UdpSendOptions } from "./udp.ts";

/** Delivers sealed envelopes to one peer. */
export interface Transport {
  /**
   * Sends one envelope. Resolves with its message id (16 bytes) once it is handed to the
   * connection (stream transports; the peer's ACK carrying the id follows on
   * `Connection.messages()`), or once the peer acknowledged it (UDP). Rejects with `TypeError`
   * for anything that is not a sealed envelope, before any byte is sent.
   */
  send(envelope: SealedEnvelope): Promise<Uint8Array>;
  /** Releases the transport; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * A {@linkcode Transport} to a UDP peer: each `send` fragments the envelope into datagrams of at
 * most 1200 bytes and resolves once the peer acknowledged it (see `sendUdp`). No socket stays
 * open between sends, so nothing is sent that the application did not ask for.
 *
 * @example
 * ```ts ignore
 * import { udpTransport } from "./transport.ts";
 * const peer = udpTransport("udp://127.0.0.1:7000");
 * await peer.send(envelope);
 * ```
 */
export function udpTransport(address: string, options: UdpSendOptions = {}): Transport {
  parseUdpAddress(address);
  let closed = false;
  return {
    send(envelope) {
      if (closed) return Promise.reject(new TypeError("the transport is closed"));
      return sendUdp(address, envelope, options);
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}
