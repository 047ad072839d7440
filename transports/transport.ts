/**
 * The one interface every transport offers an application: hand over a sealed envelope, get its
 * message id; close. Stream transports (in-memory, TCP, TLS, SOCKS5, WebSocket) implement it with
 * `Connection`; UDP with {@linkcode udpTransport}. `send` takes only a
 * `SealedEnvelope`, the type that only `encrypt` returns, and checks the envelope magic again at
 * run time, so cleartext cannot be sent by construction (docs/transports.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { memoryPair, type Transport } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const [alice] = memoryPair();
 * const transport: Transport = alice;
 * const id = await transport.send(await encrypt(new Uint8Array(3), { recipients: [bob.recipient] }));
 * assert.equal(id.length, 16);
 * // @ts-expect-error: plain bytes are not a SealedEnvelope
 * await assert.rejects(transport.send(new TextEncoder().encode("cleartext")), TypeError);
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
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { listenUdp, udpTransport } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const listener = await listenUdp("udp://127.0.0.1:0", () => {});
 * const peer = udpTransport(`udp://127.0.0.1:${listener.port}`);
 * const id = await peer.send(await encrypt(new Uint8Array(3), { recipients: [bob.recipient] }));
 * assert.equal(id.length, 16); // resolved once the listener acknowledged
 * await peer.close();
 * await listener.close();
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
