// The page build's `node:crypto` (scripts/build.ts swaps it in for the web bundle): the
// transports use only `createHash("sha256")` (message ids of streamed envelopes); here it is
// @noble/hashes' SHA-256, which the core bundles anyway.
import { sha256 } from "@noble/hashes/sha2.js";

/** An incremental SHA-256 with node:crypto's `update`/`digest` shape. */
export function createHash(algorithm: string): {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
} {
  if (algorithm !== "sha256") throw new RangeError(`no ${algorithm} in the page build`);
  const hash = sha256.create();
  return {
    update(data: Uint8Array) {
      hash.update(data);
      return this;
    },
    digest: () => hash.digest(),
  };
}
