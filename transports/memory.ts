/**
 * An in-memory connected pair, for tests and for embedding two peers in one process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memoryPair } from "@polycrypt/polycrypt/transports";
 * const [a, b] = memoryPair();
 * await a.close();
 * // The peer sees the end of the connection between messages: no message, no error.
 * assert.equal((await b.messages().next()).done, true);
 * await b.close();
 * ```
 *
 * @module
 */
import { Connection } from "./connection.ts";
import type { FrameReaderOptions } from "./frame.ts";

/**
 * Two connections wired back to back: what one sends, the other receives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encrypt, generateIdentity } from "@polycrypt/polycrypt";
 * import { memoryPair } from "@polycrypt/polycrypt/transports";
 * const bob = await generateIdentity("x25519");
 * const [a, b] = memoryPair();
 * const id = await a.send(await encrypt(new Uint8Array(3), { recipients: [bob.recipient] }));
 * const first = (await b.messages().next()).value;
 * assert.equal(first?.kind, "envelope");
 * assert.equal(first?.kind === "envelope" && first.id.toHex(), id.toHex());
 * await a.close();
 * await b.close();
 * ```
 */
export function memoryPair(options: FrameReaderOptions = {}): [Connection, Connection] {
  // Like a socket, each direction buffers some bytes (1 MiB) before a writer has to wait.
  const pipe = () =>
    new TransformStream<Uint8Array, Uint8Array>(
      {},
      new ByteLengthQueuingStrategy({ highWaterMark: 1 << 20 }),
      new ByteLengthQueuingStrategy({ highWaterMark: 1 << 20 }),
    );
  const ab = pipe();
  const ba = pipe();
  return [
    new Connection({ readable: ba.readable, writable: ab.writable }, options),
    new Connection({ readable: ab.readable, writable: ba.writable }, options),
  ];
}
