/**
 * An in-memory connected pair, for tests and for embedding two peers in one process.
 *
 * @example
 * ```ts
 * import { memoryPair } from "./memory.ts";
 * const [a, b] = memoryPair();
 * await a.close();
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
 * import { memoryPair } from "./memory.ts";
 * import { encrypt } from "../mod.ts";
 * const [a, b] = memoryPair();
 * const id = await a.send(await encrypt(new Uint8Array(3), { passphrase: "p", argon2: { memoryKiB: 19456, passes: 2, parallelism: 1 } }));
 * const first = await b.messages().next();
 * console.log(first.value?.kind, id.length); // envelope 16
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
