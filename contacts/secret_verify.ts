// Verifying a contact with a shared secret (docs/sessions.md, "Verifying a contact with a shared
// secret"): CPace (draft-irtf-cfrg-cpace-21, suite CPACE-RISTR255-SHA512) in the
// initiator-responder setting, followed by key confirmation, used as an equality test of a secret
// both people typed. The group arithmetic and the element derivation are @noble/curves'
// ristretto255; the hashes are SHA-512 and HMAC-SHA-512.
import { ristretto255, ristretto255_hasher } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { concatBytes, equalBytes } from "../engines/_bytes.ts";
import { hmacSync } from "../engines/_hash.ts";
import { FormatError, InvalidKeyError, PolycryptError } from "../errors.ts";

const encoder = new TextEncoder();
const Point = ristretto255.Point;
type Point = InstanceType<typeof Point>;

// ------------------------------------------------------------------ the draft's building blocks

/** G_Ristretto255.DSI (the draft's "CPace group objects G_Ristretto255 and G_Decaf448"). */
export const CPACE_DSI: Uint8Array = encoder.encode("CPaceRistretto255");
/** G.DSI || "_ISK", the label of the intermediate session key ("CPace protocol instructions"). */
const CPACE_DSI_ISK = encoder.encode("CPaceRistretto255_ISK");
/** SHA-512's input block size, H.s_in_bytes. */
const SHA512_BLOCK = 128;
/** G.I: the encoding of ristretto255's identity element. */
const IDENTITY = new Uint8Array(32);
/** Bytes of an encoded ristretto255 element. */
const ELEMENT_BYTES = 32;

/** `prepend_len(data)`: the LEB128 encoding of `data.length`, then `data` (the draft's appendix, "CPace function definitions"). */
export function prependLen(data: Uint8Array): Uint8Array {
  const length: number[] = [];
  let n = data.length;
  do {
    length.push(n < 128 ? n : (n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  } while (n > 0);
  return concatBytes(new Uint8Array(length), data);
}

/** `lv_cat(a0, a1, ...)`: every argument with its length prepended (the draft's appendix, "CPace function definitions"). */
export function lvCat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts.map(prependLen));
}

/** True when `a` sorts after `b` (the draft's `lexiographically_larger`). */
function larger(a: Uint8Array, b: Uint8Array): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return a.length > b.length;
}

/** `o_cat(a, b)`: "oc", then the larger of the two first (the draft's appendix). */
export function oCat(a: Uint8Array, b: Uint8Array): Uint8Array {
  return larger(a, b)
    ? concatBytes(encoder.encode("oc"), a, b)
    : concatBytes(encoder.encode("oc"), b, a);
}

/** `transcript_ir(Ya, ADa, Yb, ADb) = lv_cat(Ya, ADa) || lv_cat(Yb, ADb)`. */
export function transcriptIr(
  ya: Uint8Array,
  adA: Uint8Array,
  yb: Uint8Array,
  adB: Uint8Array,
): Uint8Array {
  return concatBytes(lvCat(ya, adA), lvCat(yb, adB));
}

/** `transcript_oc(Ya, ADa, Yb, ADb) = o_cat(lv_cat(Ya, ADa), lv_cat(Yb, ADb))`. */
export function transcriptOc(
  ya: Uint8Array,
  adA: Uint8Array,
  yb: Uint8Array,
  adB: Uint8Array,
): Uint8Array {
  return oCat(lvCat(ya, adA), lvCat(yb, adB));
}

/**
 * `generator_string(DSI, PRS, CI, sid, s_in_bytes) = lv_cat(DSI, PRS, zero_bytes(len_zpad), CI,
 * sid)`, the zero padding filling the hash's first block after DSI and PRS ("Common function for
 * computing generators").
 */
export function generatorString(
  dsi: Uint8Array,
  prs: Uint8Array,
  ci: Uint8Array,
  sid: Uint8Array,
  sInBytes: number = SHA512_BLOCK,
): Uint8Array {
  const zpad = Math.max(0, sInBytes - 1 - prependLen(prs).length - prependLen(dsi).length);
  return lvCat(dsi, prs, new Uint8Array(zpad), ci, sid);
}

/**
 * `G_Ristretto255.calculate_generator(SHA-512, PRS, CI, sid)`: SHA-512 of the generator string,
 * mapped with ristretto255's element derivation from 64 uniform bytes (RFC 9496 section 4.3.4).
 */
export function cpaceGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Point {
  return ristretto255_hasher.deriveToCurve!(sha512(generatorString(CPACE_DSI, prs, ci, sid)));
}

/**
 * `G.sample_scalar()` as the draft recommends for ristretto255: 32 random bytes with the bits
 * above the group's 252 cleared, read little-endian (zero, one chance in 2^252, is drawn again).
 */
function sampleScalar(): bigint {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    bytes[31] &= 0x0f;
    const y = littleEndian(bytes);
    bytes.fill(0);
    if (y !== 0n) return y;
  }
}

/** The unsigned little-endian integer of `bytes`. */
export function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

/**
 * `G.scalar_mult_vfy(y, X)`: `encode(y * decode(X))`, or G.I (32 zero bytes) when X does not
 * decode (a non-canonical or invalid encoding). `y` is in [1, 2^252).
 */
export function scalarMultVfy(y: bigint, x: Uint8Array): Uint8Array {
  let point: Point;
  try {
    point = Point.fromBytes(x);
  } catch {
    return IDENTITY.slice();
  }
  if (point.is0()) return IDENTITY.slice();
  return point.multiply(y).toBytes();
}

/**
 * `ISK = SHA-512(lv_cat(G.DSI || "_ISK", sid, K) || transcript)` (the draft's "CPace protocol
 * instructions"), for either transcript form.
 */
export function cpaceIsk(sid: Uint8Array, k: Uint8Array, transcript: Uint8Array): Uint8Array {
  return sha512(concatBytes(lvCat(CPACE_DSI_ISK, sid, k), transcript));
}

// ------------------------------------------------------------------ polycrypt's equality test

/** The protocol's version byte, first in both messages. */
const VERSION = 0x01;
/** The kind byte of a share ("S") and of a confirmation ("C"). */
const SHARE = 0x53;
const CONFIRM = 0x43;
/** Bytes of HMAC-SHA-512. */
const TAG_BYTES = 64;

/** Bytes of the first message, the share: version, kind, the encoded element. */
export const SECRET_CHECK_SHARE_BYTES: number = 2 + ELEMENT_BYTES;
/** Bytes of the second message, the confirmation: version, kind, the HMAC-SHA-512 tag. */
export const SECRET_CHECK_CONFIRMATION_BYTES: number = 2 + TAG_BYTES;
/** The longest secret, in UTF-8 bytes after NFC normalisation. */
export const SECRET_CHECK_MAX_SECRET_BYTES: number = 1024;
/** The longest `binding`, in bytes. */
export const SECRET_CHECK_MAX_BINDING_BYTES: number = 1024;

/** The label that starts CI: no other use of the same secret shares a generator with this one. */
const CI_LABEL = encoder.encode("polycrypt secret check v1");
/** The associated data of each role (not sent: both sides know it). */
const AD_INITIATOR = encoder.encode("initiator");
const AD_RESPONDER = encoder.encode("responder");
/** The draft's key-confirmation label (its section "Key confirmation"). */
const MAC_LABEL = encoder.encode("CPaceMac");
/** sid: empty (no identifier both sides share before the run; see docs/sessions.md). */
const SID = new Uint8Array(0);

/** What {@linkcode startSecretCheck} needs. */
export interface SecretCheckOptions {
  /** The secret both people type: NFC-normalised, then UTF-8; 1 to 1024 bytes. */
  readonly secret: string;
  /** This side's polycrypt fingerprint (as `fingerprint()` prints it; spaces and case ignored). */
  readonly myFingerprint: string;
  /** The other side's fingerprint, as this side knows it (from the contact book). */
  readonly theirFingerprint: string;
  /**
   * What the run is bound to besides the two keys: the session id once there are sessions, a
   * channel's id today (the CLI's chat passes "polycrypt chat v1"); a string is taken as its
   * UTF-8 bytes; at most 1024 bytes. Both sides must give the same bytes.
   */
  readonly binding: Uint8Array | string;
}

/** One run of the equality test: send {@linkcode message}, then the answer of `receive`. */
export interface SecretCheck {
  /** Whether this side is CPace's initiator (A): the side whose fingerprint sorts first. */
  readonly initiator: boolean;
  /** The first message to send: the share, {@linkcode SECRET_CHECK_SHARE_BYTES} bytes. */
  readonly message: Uint8Array;
  /**
   * Takes the peer's share and returns the confirmation to send
   * ({@linkcode SECRET_CHECK_CONFIRMATION_BYTES} bytes). Throws `FormatError` for a message that
   * is not a share, `InvalidKeyError` for a share that is no valid ristretto255 element or is the
   * identity (the run is then over: the secrets were not shown equal).
   */
  receive(peerMessage: Uint8Array): Promise<Uint8Array>;
  /**
   * Takes the peer's confirmation: `true` when both sides typed the same secret and agree on
   * both fingerprints and the binding, else `false`. Throws `FormatError` for a message that is
   * not a confirmation.
   */
  finish(peerConfirmation: Uint8Array): boolean;
}

/** Canonical fingerprint bytes: the 32 base32 characters, upper case, no spaces. */
function fingerprintBytes(name: string, value: unknown): Uint8Array {
  if (typeof value !== "string") throw new TypeError(`${name} must be a string`);
  const bare = value.replace(/\s+/g, "").toUpperCase();
  if (!/^[A-Z2-7]{32}$/.test(bare)) {
    throw new RangeError(`${name} must be a polycrypt fingerprint (32 base32 characters)`);
  }
  return encoder.encode(bare);
}

function checkInput(name: string, value: unknown, length: number, kind: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (value.length !== length || value[0] !== VERSION || value[1] !== kind) {
    throw new FormatError(
      `not a secret check ${kind === SHARE ? "share" : "confirmation"} (version 1)`,
    );
  }
  return value;
}

/**
 * Starts an equality test of a secret that two people share, bound to both their keys and to
 * `binding` (docs/sessions.md, "Verifying a contact with a shared secret"): CPace over
 * ristretto255 (draft-irtf-cfrg-cpace-21), then one HMAC-SHA-512 confirmation each way. Each side
 * learns only whether the other typed the same secret; a man in the middle can test one guess per
 * run, and sees nothing that lets him test more offline. The roles need no agreement: the side
 * whose fingerprint sorts first is the initiator, and both messages may cross on the wire.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startSecretCheck } from "@polycrypt/polycrypt";
 * const alice = "GMCM AQ4R O5JI ZA2P ZRJH E55X C6DD VROP";
 * const bob = "7VOF ZIPY IHHK 7ESF OLJX LU2C UDEY YZK7";
 * const binding = "chat with Bob";
 * const a = startSecretCheck({ secret: "blue heron", myFingerprint: alice, theirFingerprint: bob, binding });
 * const b = startSecretCheck({ secret: "blue heron", myFingerprint: bob, theirFingerprint: alice, binding });
 * const [ca, cb] = [await a.receive(b.message), await b.receive(a.message)];
 * assert.equal(a.finish(cb), true);
 * assert.equal(b.finish(ca), true);
 *
 * const c = startSecretCheck({ secret: "grey heron", myFingerprint: alice, theirFingerprint: bob, binding });
 * const d = startSecretCheck({ secret: "blue heron", myFingerprint: bob, theirFingerprint: alice, binding });
 * const [cc, cd] = [await c.receive(d.message), await d.receive(c.message)];
 * assert.equal(c.finish(cd), false);
 * assert.equal(d.finish(cc), false);
 * ```
 */
export function startSecretCheck(options: SecretCheckOptions): SecretCheck {
  return startWithScalar(options, sampleScalar());
}

/**
 * Internal (exported for the tests' fixed-randomness vectors): {@linkcode startSecretCheck} with
 * the scalar given, in [1, 2^252).
 */
export function startWithScalar(options: SecretCheckOptions, scalar: bigint): SecretCheck {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("options must be an object");
  }
  const { secret, binding } = options;
  if (typeof secret !== "string") throw new TypeError("secret must be a string");
  const prs = encoder.encode(secret.normalize("NFC"));
  if (prs.length === 0) throw new RangeError("secret must not be empty");
  if (prs.length > SECRET_CHECK_MAX_SECRET_BYTES) {
    prs.fill(0);
    throw new RangeError(`secret must be at most ${SECRET_CHECK_MAX_SECRET_BYTES} bytes`);
  }
  const bound = typeof binding === "string" ? encoder.encode(binding) : binding;
  if (!(bound instanceof Uint8Array)) {
    prs.fill(0);
    throw new TypeError("binding must be a Uint8Array or a string");
  }
  if (bound.length > SECRET_CHECK_MAX_BINDING_BYTES) {
    prs.fill(0);
    throw new RangeError(`binding must be at most ${SECRET_CHECK_MAX_BINDING_BYTES} bytes`);
  }
  let mine: Uint8Array, theirs: Uint8Array;
  try {
    mine = fingerprintBytes("myFingerprint", options.myFingerprint);
    theirs = fingerprintBytes("theirFingerprint", options.theirFingerprint);
    if (equalBytes(mine, theirs)) {
      throw new RangeError("myFingerprint and theirFingerprint are the same key");
    }
  } catch (e) {
    prs.fill(0);
    throw e;
  }
  if (typeof scalar !== "bigint" || scalar < 1n || scalar >= 1n << 252n) {
    throw new RangeError("scalar out of range");
  }
  const initiator = larger(theirs, mine);
  const [fpA, fpB] = initiator ? [mine, theirs] : [theirs, mine];
  const ci = lvCat(CI_LABEL, fpA, fpB, bound);
  const generator = cpaceGenerator(prs, ci, SID);
  prs.fill(0);
  let y: bigint = scalar;
  const share = generator.multiply(y).toBytes();
  const message = concatBytes(new Uint8Array([VERSION, SHARE]), share);
  let state: "started" | "confirming" | "done" | "failed" = "started";
  let expected: Uint8Array | undefined;

  return {
    initiator,
    get message() {
      return message.slice();
    },
    // deno-lint-ignore require-await
    async receive(peerMessage: Uint8Array): Promise<Uint8Array> {
      if (state !== "started") {
        throw new PolycryptError(
          state === "failed"
            ? "this secret check failed; start a new one"
            : "receive() takes the peer's share once; then finish() takes its confirmation",
        );
      }
      if (!(peerMessage instanceof Uint8Array)) {
        throw new TypeError("peerMessage must be a Uint8Array");
      }
      state = "failed"; // until it succeeds: a bad share ends the run
      const peer = checkInput("peerMessage", peerMessage, SECRET_CHECK_SHARE_BYTES, SHARE)
        .slice(2);
      const k = scalarMultVfy(y, peer);
      y = 0n;
      if (equalBytes(k, IDENTITY)) {
        throw new InvalidKeyError("the peer's share is not a valid ristretto255 element");
      }
      const [ya, yb] = initiator ? [share, peer] : [peer, share];
      const isk = cpaceIsk(SID, k, transcriptIr(ya, AD_INITIATOR, yb, AD_RESPONDER));
      k.fill(0);
      const macKey = sha512(concatBytes(MAC_LABEL, SID, isk));
      isk.fill(0);
      const tagA = hmacSync("SHA-512", macKey, [lvCat(ya, AD_INITIATOR)]);
      const tagB = hmacSync("SHA-512", macKey, [lvCat(yb, AD_RESPONDER)]);
      macKey.fill(0);
      const [own, theirsTag] = initiator ? [tagA, tagB] : [tagB, tagA];
      expected = theirsTag;
      state = "confirming";
      return concatBytes(new Uint8Array([VERSION, CONFIRM]), own);
    },
    finish(peerConfirmation: Uint8Array): boolean {
      if (state !== "confirming") {
        throw new PolycryptError(
          state === "started"
            ? "finish() comes after receive() took the peer's share"
            : state === "done"
            ? "finish() was called already"
            : "this secret check failed; start a new one",
        );
      }
      if (!(peerConfirmation instanceof Uint8Array)) {
        throw new TypeError("peerConfirmation must be a Uint8Array");
      }
      state = "done"; // one confirmation per run, well-formed or not
      const wanted = expected!;
      expected = undefined;
      try {
        const tag = checkInput(
          "peerConfirmation",
          peerConfirmation,
          SECRET_CHECK_CONFIRMATION_BYTES,
          CONFIRM,
        ).subarray(2);
        return equalBytes(tag, wanted);
      } finally {
        wanted.fill(0);
      }
    },
  };
}
