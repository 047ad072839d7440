/**
 * `ed25519+ml-dsa-65`: a hybrid signature that holds while either Ed25519 or ML-DSA-65 does.
 * Both halves sign the same message representative and both must verify.
 *
 * The construction is Composite ML-DSA `id-MLDSA65-Ed25519-SHA512` of the IETF LAMPS draft
 * (draft-ietf-lamps-pq-composite-sigs, OID 1.3.6.1.5.5.7.6.48) with one difference:
 *
 *     M' = Prefix || Label || len(ctx) || ctx || SHA-512(M)
 *        Prefix = "CompositeAlgorithmSignatures2025", Label = "COMPSIG-MLDSA65-Ed25519-SHA512",
 *        ctx = empty, so len(ctx) = 0x00
 *     signature = ML-DSA-65.Sign(mldsaSeed, M', ctx = "") || Ed25519.Sign(edSeed, M')
 *     publicKey = mldsaPublicKey || edPublicKey     (1952 + 32 bytes)
 *     secretKey = mldsaSeed || edSeed               (32 + 32 bytes)
 *
 * The draft signs the ML-DSA half with the Label as its FIPS 204 context; Deno's WebCrypto
 * refuses any non-empty context, so here the ML-DSA half uses the empty context (the Label is
 * still inside M'). docs/engines/signatures.md spells out what that changes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ed25519MlDsa65, registry } from "@polycrypt/polycrypt";
 * const engine = registry.signature("ed25519+ml-dsa-65");
 * assert.equal(engine, ed25519MlDsa65);
 * const { publicKey, secretKey } = await engine.generateKeyPair();
 * assert.equal(secretKey.length, 64); // two 32-byte seeds
 * const message = new TextEncoder().encode("hi Bob, this is Alice");
 * const signature = await engine.sign(secretKey, message);
 * assert.equal(signature.length, 3309 + 64);
 * assert.equal(await engine.verify(publicKey, message, signature), true);
 * signature[signature.length - 1] ^= 1; // only the Ed25519 half is broken
 * assert.equal(await engine.verify(publicKey, message, signature), false);
 * ```
 *
 * @module
 */
import { sha512 as nobleSha512 } from "@noble/hashes/sha2.js";
import { concatBytes } from "../_bytes.ts";
import { nodeCrypto } from "../_node.ts";
import type { SignatureEngine, SignatureKeyPair } from "../types.ts";
import { checkSignArguments, checkVerifyArguments } from "./_checks.ts";
import { ed25519 } from "./ed25519.ts";
import { mlDsa65 } from "./mldsa.ts";

const encoder = new TextEncoder();

/** The draft's fixed message prefix, "CompositeAlgorithmSignatures2025". */
export const COMPOSITE_SIGNATURE_PREFIX: Uint8Array = encoder.encode(
  "CompositeAlgorithmSignatures2025",
);

/** The fixed parameters of `ed25519+ml-dsa-65`. */
export const ED25519_ML_DSA_65_PARAMETERS: Readonly<{
  id: "ed25519+ml-dsa-65";
  label: "COMPSIG-MLDSA65-Ed25519-SHA512";
  oid: "1.3.6.1.5.5.7.6.48";
  publicKeySize: number;
  secretKeySize: number;
  signatureSize: number;
  securityBits: number;
}> = Object.freeze({
  id: "ed25519+ml-dsa-65",
  label: "COMPSIG-MLDSA65-Ed25519-SHA512",
  oid: "1.3.6.1.5.5.7.6.48",
  publicKeySize: 1952 + 32,
  secretKeySize: 32 + 32,
  signatureSize: 3309 + 64,
  securityBits: 192,
});

const LABEL = encoder.encode(ED25519_ML_DSA_65_PARAMETERS.label);

function sha512(message: Uint8Array): Uint8Array {
  const node = nodeCrypto();
  if (!node) return nobleSha512(message);
  const d = node.createHash("sha512").update(message).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.length);
}

/**
 * The message representative M' both halves sign (empty ctx):
 * `Prefix || Label || 0x00 || SHA-512(message)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compositeMessageRepresentative } from "@polycrypt/polycrypt";
 * const m = compositeMessageRepresentative(new TextEncoder().encode("hi"));
 * assert.equal(m.length, 32 + 30 + 1 + 64);
 * assert.equal(new TextDecoder().decode(m.subarray(0, 62)),
 *   "CompositeAlgorithmSignatures2025COMPSIG-MLDSA65-Ed25519-SHA512");
 * ```
 */
export function compositeMessageRepresentative(message: Uint8Array): Uint8Array {
  return concatBytes(COMPOSITE_SIGNATURE_PREFIX, LABEL, new Uint8Array([0]), sha512(message));
}

/**
 * Internal (tests, backends): the hybrid over the given Ed25519 and ML-DSA-65 engines, which must
 * have those ids.
 */
export function _buildEd25519MlDsa65(
  ed: SignatureEngine,
  mldsa: SignatureEngine,
): SignatureEngine {
  if (ed.id !== "ed25519" || mldsa.id !== "ml-dsa-65") {
    throw new TypeError("components must be ed25519 and ml-dsa-65");
  }
  const params = ED25519_ML_DSA_65_PARAMETERS;
  const mlPk = mldsa.publicKeySize;
  const mlSig = mldsa.signatureSize;
  const engine: SignatureEngine = {
    kind: "signature",
    id: params.id,
    family: "hybrid",
    postQuantum: true,
    securityBits: params.securityBits,
    publicKeySize: params.publicKeySize,
    secretKeySize: params.secretKeySize,
    signatureSize: params.signatureSize,
    async generateKeyPair(): Promise<SignatureKeyPair> {
      const [m, e] = await Promise.all([mldsa.generateKeyPair(), ed.generateKeyPair()]);
      return {
        publicKey: concatBytes(m.publicKey, e.publicKey),
        secretKey: concatBytes(m.secretKey, e.secretKey),
      };
    },
    async sign(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
      checkSignArguments(params, secretKey, message);
      const representative = compositeMessageRepresentative(message);
      // ML-DSA first: on WebCrypto it runs on another thread while Ed25519 runs on this one.
      const [m, e] = await Promise.all([
        mldsa.sign(secretKey.subarray(0, 32), representative),
        ed.sign(secretKey.subarray(32), representative),
      ]);
      return concatBytes(m, e);
    },
    async verify(
      publicKey: Uint8Array,
      message: Uint8Array,
      signature: Uint8Array,
    ): Promise<boolean> {
      checkVerifyArguments(params, publicKey, message, signature);
      const representative = compositeMessageRepresentative(message);
      const [m, e] = await Promise.all([
        mldsa.verify(publicKey.subarray(0, mlPk), representative, signature.subarray(0, mlSig)),
        ed.verify(publicKey.subarray(mlPk), representative, signature.subarray(mlSig)),
      ]);
      return m && e;
    },
    async publicKeyFromSecretKey(secretKey: Uint8Array): Promise<Uint8Array> {
      checkSignArguments(params, secretKey, new Uint8Array(0));
      const [m, e] = await Promise.all([
        mldsa.publicKeyFromSecretKey!(secretKey.subarray(0, 32)),
        ed.publicKeyFromSecretKey!(secretKey.subarray(32)),
      ]);
      return concatBytes(m, e);
    },
  };
  return Object.freeze(engine);
}

/**
 * The registry's `ed25519+ml-dsa-65`, over the registry's `ed25519` and `ml-dsa-65`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ed25519MlDsa65 } from "@polycrypt/polycrypt";
 * assert.equal(ed25519MlDsa65.publicKeySize, 1984);
 * assert.equal(ed25519MlDsa65.signatureSize, 3373);
 * assert.equal(ed25519MlDsa65.postQuantum, true);
 * ```
 */
export const ed25519MlDsa65: SignatureEngine = _buildEd25519MlDsa65(ed25519, mlDsa65);
