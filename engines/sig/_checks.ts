// Internal: the argument checks every signature engine shares, so each reports the same errors.
import { checkBytes } from "../_bytes.ts";

/** The sizes a signature engine's `sign` and `verify` check their arguments against. */
export interface SignatureSizes {
  readonly publicKeySize: number;
  readonly secretKeySize: number;
  readonly signatureSize: number;
}

/** `sign`'s checks: the secret key's type and size, the message's type. */
export function checkSignArguments(
  sizes: SignatureSizes,
  secretKey: unknown,
  message: unknown,
): void {
  checkBytes("secretKey", secretKey, sizes.secretKeySize);
  checkBytes("message", message);
}

/** `verify`'s checks: the public key's and signature's types and sizes, the message's type. */
export function checkVerifyArguments(
  sizes: SignatureSizes,
  publicKey: unknown,
  message: unknown,
  signature: unknown,
): void {
  checkBytes("publicKey", publicKey, sizes.publicKeySize);
  checkBytes("message", message);
  checkBytes("signature", signature, sizes.signatureSize);
}
