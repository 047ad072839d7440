// Test helpers for signed envelopes: build envelopes the way encrypt does, with a payload the
// caller chooses, to play the attacker who holds a decrypted signed payload (docs/format.md 3.1).
import { aes256Gcm, parseRecipient, registry } from "../../mod.ts";
import { concatBytes } from "../../engines/_bytes.ts";
import { sha512Hasher } from "../../engines/_hash.ts";
import { hkdf, hmac } from "../../engines/hkdf.ts";
import { encodeHeader, label, MAGIC, MODE_PUBLIC } from "../../cascade/format.ts";
import { deriveStreamKeys, sealStream } from "../../cascade/stream.ts";
import { collect, once } from "../../cascade/_reader.ts";
import { prepareSender, signPayload } from "../../cascade/signed.ts";

/**
 * Builds an envelope to `recipient` the way `encrypt` does (docs/format.md section 3), with
 * a payload plaintext the caller makes from the envelope prefix's SHA-512: what an attacker who
 * holds a decrypted signed payload can do with the format's public pieces.
 */
export async function envelopeWith(
  recipient: string,
  signed: boolean,
  payloadFor: (prefixHash: Uint8Array) => Promise<Uint8Array>,
): Promise<Uint8Array> {
  const fileKey = crypto.getRandomValues(new Uint8Array(32));
  const stanzas = await parseRecipient(recipient).wrapFileKey(fileKey);
  const header = encodeHeader({
    passwordLayer: false,
    padded: true,
    signed,
    aeadIds: ["aes-256-gcm"],
    stanzas,
  });
  const macKey = await hkdf("SHA-256", fileKey, new Uint8Array(0), label("header mac"), 32);
  const mac = hmac("SHA-256", macKey, MAGIC, new Uint8Array([MODE_PUBLIC]), header);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const keys = await deriveStreamKeys(fileKey, salt, [aes256Gcm]);
  const h = sha512Hasher();
  h.update(concatBytes(MAGIC, new Uint8Array([MODE_PUBLIC]), header, mac, salt));
  const payload = await payloadFor(h.digest());
  const body = await collect(sealStream(once(payload), keys, true));
  return concatBytes(MAGIC, new Uint8Array([MODE_PUBLIC]), header, mac, salt, body);
}

/** The signed payload of `data` by `identity`, as `encrypt` makes it for `prefixHash`'s envelope. */
export async function signedPayload(
  identity: string,
  data: Uint8Array,
  prefixHash: Uint8Array,
): Promise<Uint8Array> {
  const sender = await prepareSender(identity, registry);
  return await collect(signPayload(once(data), sender, prefixHash));
}

/**
 * A forger's signed payload: the sender block of `recipient` (docs/format.md section 3.1, made
 * from public keys only), `data`, and random bytes where the signature goes.
 */
export function forgedPayload(recipient: string, data: Uint8Array): Uint8Array {
  const { engine, publicKey, verifyingKey } = parseRecipient(recipient);
  const id = (s: string) => [s.length, ...new TextEncoder().encode(s)];
  const u16 = (n: number) => [n >> 8, n & 0xff];
  const block = new Uint8Array([
    ...id(engine.id),
    ...id(verifyingKey!.engine.id),
    ...u16(verifyingKey!.publicKey.length),
    ...verifyingKey!.publicKey,
    ...publicKey,
  ]);
  const signature = crypto.getRandomValues(new Uint8Array(verifyingKey!.engine.signatureSize));
  return concatBytes(new Uint8Array(u16(block.length)), block, data, signature);
}
