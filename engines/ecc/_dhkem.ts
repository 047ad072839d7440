// Internal: DHKEM (RFC 9180 section 4.1) over any Diffie-Hellman group. The public
// `createDhKem` in dhkem.ts wraps `buildDhKem`; tests use `encapsulateWithEphemeral` for the
// RFC 9180 known answers.
import { DecryptionError, InvalidKeyError } from "../../errors.ts";
import { checkBytes, concatBytes, i2osp } from "../_bytes.ts";
import { LruCache, secretTag, settle } from "../_cache.ts";
import { hkdfExpand, hkdfExtract, type HkdfHash, hkdfSync } from "../hkdf.ts";
import type { Encapsulation, KemEngine, KemKeyPair } from "../types.ts";

/** A Diffie-Hellman group as DHKEM needs it (RFC 9180 section 4). */
export interface DhGroup {
  /** Serialized public key size `Npk`, which is also `Nenc`. */
  readonly publicKeySize: number;
  /** Serialized secret key size `Nsk`. */
  readonly secretKeySize: number;
  /** A fresh key pair. */
  generate(): Promise<KemKeyPair>;
  /** `pk(sk)`. */
  publicKey(secretKey: Uint8Array): Promise<Uint8Array>;
  /** The raw DH output; may throw on invalid points. */
  dh(secretKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array>;
  /**
   * DeriveKeyPair's secret from `dkp_prk` (RFC 9180 section 7.1.3); `expand(label, info, L)` is
   * LabeledExpand. Default: `sk = LabeledExpand(dkp_prk, "sk", "", Nsk)` (X25519, X448).
   */
  deriveSecretKey?(
    expand: (label: string, info: Uint8Array, length: number) => Promise<Uint8Array>,
  ): Promise<Uint8Array>;
  /**
   * Optional: the operations of a backend that computes synchronously (node:crypto). DHKEM then
   * encapsulates and decapsulates in one synchronous step, without the promise hops (about 30 us
   * of the 200 us an X25519 decapsulation takes here).
   */
  readonly sync?: {
    publicKey(secretKey: Uint8Array): Uint8Array;
    /**
     * The raw DH output; may throw on invalid points. `secretTag` is the secret key's
     * `secretTag` (_cache.ts), so the backend can keep the parsed key of a repeat identity.
     */
    dh(secretKey: Uint8Array, publicKey: Uint8Array, secretTag: string): Uint8Array;
    /**
     * A fresh ephemeral key pair and its DH with `publicKey` in one step: turning a generated
     * secret key into bytes and back would cost more than the DH.
     */
    ephemeralDh(publicKey: Uint8Array): { ephemeralPublicKey: Uint8Array; dh: Uint8Array };
  };
}

/** What identifies a DHKEM (RFC 9180 Table 2) and describes it in the registry. */
export interface DhKemParams {
  /** Registry id, e.g. `"p256"`. */
  readonly id: string;
  /** RFC 9180 `kem_id` (e.g. `0x0010` for P-256): part of every label, so it must match peers. */
  readonly kemId: number;
  /** The HKDF hash of the KEM's key schedule. */
  readonly hash: HkdfHash;
  /** `Nsecret`. */
  readonly sharedSecretSize: number;
  /** Estimated classical security in bits. */
  readonly securityBits: number;
  /** Algorithm family; `"ecc"` when absent. */
  readonly family?: string;
  /** The Diffie-Hellman group the KEM runs over. */
  readonly group: DhGroup;
  /** Extra read-only properties (e.g. `backend`). */
  readonly extra?: Record<string, string>;
}

const encoder = new TextEncoder();
const HPKE_V1 = encoder.encode("HPKE-v1");
const EMPTY = new Uint8Array(0);

export interface BuiltDhKem {
  engine: KemEngine;
  /** Encap with a given ephemeral key pair (RFC 9180 test vectors). */
  encapsulateWithEphemeral(publicKey: Uint8Array, ephemeral: KemKeyPair): Promise<Encapsulation>;
}

const INVALID_PUBLIC_KEY = "publicKey is not a valid public key of this group";

/** `dh`, unless it is all zeros (RFC 9180 section 7.1.4 / RFC 7748 section 6: a small-order point). */
const nonZero = (dh: Uint8Array | undefined) => dh?.some((b) => b !== 0) ? dh : undefined;

export function buildDhKem(params: DhKemParams): BuiltDhKem {
  const { group, hash } = params;
  // Decapsulation's kem_context holds pkR = pk(skR), a scalar multiplication. A messenger
  // decapsulates under the same few identities all day, so pk(sk) is kept for the last 32
  // secret keys, by their secretTag.
  const publicKeys = new LruCache<string, Uint8Array>(32);
  const publicKeyOf = async (secretKey: Uint8Array, tag: string): Promise<Uint8Array> =>
    publicKeys.get(tag) ?? publicKeys.set(tag, await group.publicKey(secretKey));
  const suiteId = concatBytes(encoder.encode("KEM"), i2osp(params.kemId, 2));

  // RFC 9180 section 4: LabeledExtract and LabeledExpand.
  const labeledExtract = (salt: Uint8Array, label: string, ikm: Uint8Array) =>
    hkdfExtract(hash, salt, concatBytes(HPKE_V1, suiteId, encoder.encode(label), ikm));
  const labeledExpand = (prk: Uint8Array, label: string, info: Uint8Array, length: number) =>
    hkdfExpand(
      hash,
      prk,
      concatBytes(i2osp(length, 2), HPKE_V1, suiteId, encoder.encode(label), info),
      length,
    );

  // ExtractAndExpand (RFC 9180 section 4.1) is LabeledExtract then LabeledExpand, which is one
  // HKDF over the labeled ikm and the labeled info: one call instead of two. The labels are the
  // same for every call, so they are encoded once.
  const eaePrkLabel = concatBytes(HPKE_V1, suiteId, encoder.encode("eae_prk"));
  const sharedSecretLabel = concatBytes(
    i2osp(params.sharedSecretSize, 2),
    HPKE_V1,
    suiteId,
    encoder.encode("shared_secret"),
  );
  const extractAndExpand = (dh: Uint8Array, kemContext: Uint8Array): Uint8Array =>
    hkdfSync(
      hash,
      concatBytes(eaePrkLabel, dh),
      EMPTY,
      concatBytes(sharedSecretLabel, kemContext),
      params.sharedSecretSize,
    );

  // The DH, or undefined for an invalid point (the group threw) or a small-order one.
  async function checkedDh(
    secretKey: Uint8Array,
    publicKey: Uint8Array,
  ): Promise<Uint8Array | undefined> {
    try {
      return nonZero(await group.dh(secretKey, publicKey));
    } catch {
      return undefined;
    }
  }

  async function encapsulateWithEphemeral(
    publicKey: Uint8Array,
    ephemeral: KemKeyPair,
  ): Promise<Encapsulation> {
    const dh = await checkedDh(ephemeral.secretKey, publicKey);
    if (!dh) throw new InvalidKeyError(INVALID_PUBLIC_KEY);
    const encapsulation = ephemeral.publicKey;
    const sharedSecret = extractAndExpand(dh, concatBytes(encapsulation, publicKey));
    return { encapsulation, sharedSecret };
  }

  // The synchronous forms (group.sync). They read their inputs before returning, so unlike the
  // asynchronous ones they need no copies to stay unaffected by a caller changing them later.
  function encapsulateSync(
    sync: NonNullable<DhGroup["sync"]>,
    publicKey: Uint8Array,
  ): Encapsulation {
    let result: ReturnType<typeof sync.ephemeralDh> | undefined;
    try {
      result = sync.ephemeralDh(publicKey);
    } catch {
      // An invalid point: the same error as the all-zero output below.
    }
    const dh = nonZero(result?.dh);
    if (!result || !dh) throw new InvalidKeyError(INVALID_PUBLIC_KEY);
    const encapsulation = result.ephemeralPublicKey;
    return {
      encapsulation,
      sharedSecret: extractAndExpand(dh, concatBytes(encapsulation, publicKey)),
    };
  }

  function decapsulateSync(
    sync: NonNullable<DhGroup["sync"]>,
    encapsulation: Uint8Array,
    secretKey: Uint8Array,
  ): Uint8Array {
    const tag = secretTag(secretKey);
    let dh: Uint8Array | undefined;
    try {
      dh = nonZero(sync.dh(secretKey, encapsulation, tag));
    } catch {
      // An invalid point: the same error as the all-zero output.
    }
    if (!dh) throw new DecryptionError();
    const pkR = publicKeys.getOrCreate(tag, () => sync.publicKey(secretKey));
    return extractAndExpand(dh, concatBytes(encapsulation, pkR));
  }

  async function encapsulateAsync(publicKey: Uint8Array): Promise<Encapsulation> {
    checkBytes("publicKey", publicKey, group.publicKeySize);
    return await encapsulateWithEphemeral(publicKey.slice(), await group.generate());
  }

  async function decapsulateAsync(
    encapsulation: Uint8Array,
    secretKey: Uint8Array,
  ): Promise<Uint8Array> {
    checkBytes("encapsulation", encapsulation, group.publicKeySize);
    checkBytes("secretKey", secretKey, group.secretKeySize);
    const enc = encapsulation.slice();
    const sk = secretKey.slice();
    const tag = secretTag(sk);
    const dh = await checkedDh(sk, enc);
    if (!dh) throw new DecryptionError();
    return extractAndExpand(dh, concatBytes(enc, await publicKeyOf(sk, tag)));
  }

  const engine: KemEngine & Record<string, unknown> = {
    kind: "kem",
    id: params.id,
    family: params.family ?? "ecc",
    postQuantum: false,
    securityBits: params.securityBits,
    publicKeySize: group.publicKeySize,
    encapsulationSize: group.publicKeySize,
    sharedSecretSize: params.sharedSecretSize,
    ...params.extra,

    generateKeyPair: () => group.generate(),

    encapsulate(publicKey: Uint8Array): Promise<Encapsulation> {
      const sync = group.sync;
      if (sync) {
        return settle(() => {
          checkBytes("publicKey", publicKey, group.publicKeySize);
          return encapsulateSync(sync, publicKey);
        });
      }
      return encapsulateAsync(publicKey);
    },

    decapsulate(encapsulation: Uint8Array, secretKey: Uint8Array): Promise<Uint8Array> {
      const sync = group.sync;
      if (sync) {
        return settle(() => {
          checkBytes("encapsulation", encapsulation, group.publicKeySize);
          checkBytes("secretKey", secretKey, group.secretKeySize);
          return decapsulateSync(sync, encapsulation, secretKey);
        });
      }
      return decapsulateAsync(encapsulation, secretKey);
    },

    async publicKeyFromSecretKey(secretKey: Uint8Array): Promise<Uint8Array> {
      checkBytes("secretKey", secretKey, group.secretKeySize);
      return await group.publicKey(secretKey.slice());
    },

    async deriveKeyPair(ikm: Uint8Array): Promise<KemKeyPair> {
      checkBytes("ikm", ikm);
      if (ikm.length < group.secretKeySize) {
        throw new RangeError(
          `ikm must be at least ${group.secretKeySize} bytes (RFC 9180 section 7.1.3)`,
        );
      }
      const dkpPrk = await labeledExtract(EMPTY, "dkp_prk", ikm);
      const expand = (label: string, info: Uint8Array, length: number) =>
        labeledExpand(dkpPrk, label, info, length);
      const secretKey = group.deriveSecretKey
        ? await group.deriveSecretKey(expand)
        : await expand("sk", EMPTY, group.secretKeySize);
      return { publicKey: await group.publicKey(secretKey), secretKey };
    },
  };
  return { engine: Object.freeze(engine), encapsulateWithEphemeral };
}
