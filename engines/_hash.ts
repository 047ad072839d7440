// Internal: SHA-256 and HMAC for synchronous callers, on node:crypto where the platform has it
// (engines/_node.ts) and @noble/hashes elsewhere; both give the same bytes.
import { hmac as nobleHmac } from "@noble/hashes/hmac.js";
import { sha256 as nobleSha256, sha512 as nobleSha512 } from "@noble/hashes/sha2.js";
import { nodeCrypto } from "./_node.ts";

/** The hashes offered: WebCrypto's names. */
export type HashName = "SHA-256" | "SHA-512";

const NODE_NAME: Record<HashName, string> = { "SHA-256": "sha256", "SHA-512": "sha512" };
const NOBLE = { "SHA-256": nobleSha256, "SHA-512": nobleSha512 };

const view = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.length);

/** SHA-256 of the concatenated `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const node = nodeCrypto();
  if (node) {
    const h = node.createHash("sha256");
    for (const p of parts) h.update(p);
    return view(h.digest());
  }
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC (RFC 2104) of the concatenated `data`; `hash` is assumed valid. */
export function hmacSync(hash: HashName, key: Uint8Array, data: Uint8Array[]): Uint8Array {
  const node = nodeCrypto();
  if (node) {
    const h = node.createHmac(NODE_NAME[hash], key);
    for (const d of data) h.update(d);
    return view(h.digest());
  }
  const h = nobleHmac.create(NOBLE[hash], key);
  for (const d of data) h.update(d);
  return h.digest();
}

/** An incremental SHA-512 (node:crypto where the platform has it, else @noble/hashes). */
export function sha512Hasher(): { update(data: Uint8Array): void; digest(): Uint8Array } {
  const node = nodeCrypto();
  if (node) {
    const h = node.createHash("sha512");
    return { update: (d) => void h.update(d), digest: () => view(h.digest()) };
  }
  const h = nobleSha512.create();
  return { update: (d) => void h.update(d), digest: () => h.digest() };
}

/**
 * HKDF (RFC 5869) in WebCrypto, for engines/hkdf.ts where there is no node:crypto; the caller has
 * checked the arguments, and `ikm` is not empty (WebCrypto refuses an empty key). The inputs are
 * copied before the first await, so the caller may reuse its buffers as soon as this returns.
 */
export async function webHkdf(
  hash: HashName,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const params = { name: "HKDF", hash, salt: new Uint8Array(salt), info: new Uint8Array(info) };
  const key = await crypto.subtle.importKey("raw", new Uint8Array(ikm), "HKDF", false, [
    "deriveBits",
  ]);
  return new Uint8Array(await crypto.subtle.deriveBits(params, key, length * 8));
}
