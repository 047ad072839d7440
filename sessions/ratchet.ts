/**
 * The Double Ratchet with header encryption ([DR] revision 4, section 4) and a post-quantum KEM
 * ratchet over any registered KEM, as docs/sessions.md sections 4 to 6 specify: the ratchet body
 * of a session message (`nonce_h || lp(enc_header) || enc_body`), its key schedule (libsignal's
 * KDF_CK, HKDF for KDF_RK_HE), the KEM step policy, skipped message keys and the state's binary
 * encoding.
 *
 * A state is plain data and is never modified: `ratchetEncrypt` and `ratchetDecrypt` return a
 * new one, and a message that fails to decrypt leaves the caller's state as it was. The handshake
 * (sessions/handshake.ts) makes the keys `initAlice` and `initBob` start from.
 *
 * @module
 */
import { DecryptionError, InvalidKeyError } from "../errors.ts";
import { checkBytes, concatBytes, equalBytes, readU32be } from "../engines/_bytes.ts";
import type { AeadEngine, KemEngine } from "../engines/types.ts";
import { padmeLength } from "../cascade/padding.ts";
import { aes256Gcm } from "../engines/symmetric/aes_gcm.ts";
import { chacha20Poly1305 } from "../engines/symmetric/chacha.ts";
import { opensslAead, type OpensslAeadId } from "../engines/symmetric/_openssl.ts";
import { dh, generateDh, headerNonce, kdfCk, kdfRkHe, KEY_SIZE, messageKeys } from "./_kdf.ts";
import {
  decodeState,
  encodeState,
  MAX_SKIPPED_KEYS,
  type RatchetState,
  type SkippedChain,
  type State,
} from "./_state.ts";

export type { RatchetState } from "./_state.ts";
export { MAX_SKIPPED_KEYS } from "./_state.ts";

/** When a sender mixes a fresh KEM secret into the root (docs/sessions.md section 5). */
export interface KemPolicy {
  /** Messages sent and received since this side's last KEM step that call for a new one. */
  readonly messages: number;
  /** Age in milliseconds of this side's last KEM step that calls for a new one. */
  readonly milliseconds: number;
}

/** The default policy: a KEM step after 50 messages or one hour, whichever comes first. */
export const DEFAULT_KEM_POLICY: KemPolicy = Object.freeze({
  messages: 50,
  milliseconds: 3_600_000,
});

/** What a session runs on: the KEM of its post-quantum ratchet and its AEAD. */
export interface RatchetSuite {
  /** The KEM of the KEM ratchet (any registered KEM); its id must match the state's. */
  readonly kem: KemEngine;
  /** The AEAD of headers and bodies (32-byte keys); its id must match the state's. */
  readonly aead: AeadEngine;
  /** The KEM step policy; {@linkcode DEFAULT_KEM_POLICY} when absent. */
  readonly policy?: KemPolicy;
  /**
   * @internal Test hook for committed vectors: where `nonce_h` and the X25519 ratchet keys come
   * from. Production code never sets it (the platform's CSPRNG is used).
   */
  readonly random?: (length: number) => Uint8Array;
}

/** Message keys skipped in one chain before a message is refused ([DR] `MAX_SKIP`). */
export const MAX_SKIP = 1000;
/** The largest `data` one session message carries: 16 MiB. */
export const MAX_RATCHET_DATA = 16 * 1024 * 1024;

const MAX_COUNTER = 2 ** 31;
const NONCE_H = 12;
const DH_SIZE = 32;
const HEADER_FIXED = DH_SIZE + 4 + 4 + 1;
const FLAG_KEM_PUB = 1, FLAG_KEM_CT = 2;
/** A KEM public key in a header may exceed `publicKeySize` by this much (RSA's DER). */
const KEM_PUB_SLACK = 4096;
const EMPTY: Uint8Array = new Uint8Array(0);

/** The AEAD calls of one message: `open` gives `undefined` when the tag does not verify. */
interface MessageAead {
  seal(key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    ct: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array | undefined>;
}

const adapters = new WeakMap<AeadEngine, MessageAead>();
const libcryptoAdapters = new Map<OpensslAeadId, MessageAead>();

/**
 * The registry engine itself, or, for the built-in `aes-256-gcm` and `chacha20-poly1305` objects
 * when this process may use FFI, the same ciphers on the system's libcrypto
 * (engines/symmetric/_openssl.ts): synchronous, and a wrong tag is a `false` rather than an
 * exception, which makes a 1 KiB message about 1.8x cheaper than on node:crypto's AES-GCM here.
 */
function messageAead(engine: AeadEngine): MessageAead {
  const id: OpensslAeadId | undefined = engine === aes256Gcm
    ? "aes-256-gcm"
    : engine === chacha20Poly1305
    ? "chacha20-poly1305"
    : undefined;
  const lib = id ? opensslAead() : undefined;
  if (id && lib && !(lib instanceof Error)) {
    let adapter = libcryptoAdapters.get(id);
    if (!adapter) {
      adapter = {
        seal(key, nonce, pt, aad) {
          const out = new Uint8Array(pt.length + 16);
          lib.sealInto(id, key, nonce, pt, aad, out);
          return Promise.resolve(out);
        },
        open(key, nonce, ct, aad) {
          if (ct.length < 16) return Promise.resolve(undefined);
          const out = new Uint8Array(ct.length - 16);
          return Promise.resolve(lib.openInto(id, key, nonce, ct, aad, out) ? out : undefined);
        },
      };
      libcryptoAdapters.set(id, adapter);
    }
    return adapter;
  }
  let adapter = adapters.get(engine);
  if (!adapter) {
    adapter = {
      seal: (key, nonce, pt, aad) => engine.seal(key, nonce, pt, aad),
      open: (key, nonce, ct, aad) => engine.open(key, nonce, ct, aad).catch(() => undefined),
    };
    adapters.set(engine, adapter);
  }
  return adapter;
}

function checkSuite(suite: RatchetSuite): void {
  if (suite === null || typeof suite !== "object") throw new TypeError("suite must be an object");
  if (suite.kem?.kind !== "kem") throw new TypeError("suite.kem must be a KEM engine");
  if (suite.aead?.kind !== "aead") throw new TypeError("suite.aead must be an AEAD engine");
  if (suite.aead.keySize !== KEY_SIZE) {
    throw new RangeError(`suite.aead must take ${KEY_SIZE}-byte keys`);
  }
  const policy = suite.policy;
  if (
    policy !== undefined &&
    (!(policy.messages >= 1) || !(policy.milliseconds >= 0) ||
      !Number.isSafeInteger(policy.messages) || !Number.isSafeInteger(policy.milliseconds))
  ) {
    throw new RangeError("suite.policy must hold a positive message count and a time");
  }
}

function checkState(suite: RatchetSuite, state: RatchetState): State {
  const s = state as State;
  if (s === null || typeof s !== "object" || s.version !== 1 || !(s.rk instanceof Uint8Array)) {
    throw new TypeError("state must be a ratchet state");
  }
  if (s.kemId !== suite.kem.id || s.aeadId !== suite.aead.id) {
    throw new TypeError(
      `state belongs to the suite ${s.kemId} / ${s.aeadId}, not ${suite.kem.id} / ${suite.aead.id}`,
    );
  }
  return s;
}

function checkNow(now: number | undefined): number {
  const t = now ?? Date.now();
  if (!Number.isSafeInteger(t) || t < 0) throw new RangeError("now must be a time in milliseconds");
  return t;
}

const randomBytes = (suite: RatchetSuite, length: number) =>
  suite.random ? checkBytes("random()", suite.random(length), length).slice() : crypto
    .getRandomValues(new Uint8Array(length));

/**
 * Alice's state after the handshake ([DR] `RatchetInitAliceHE`): a fresh DH key pair and the
 * first sending chain from `DH(DHs, SPK_B)`, a fresh KEM key pair whose public key her first
 * chain carries. `peerDh` must be a valid X25519 public key ({@linkcode InvalidKeyError}).
 */
export async function initAlice(suite: RatchetSuite, init: {
  rootKey: Uint8Array;
  headerKey: Uint8Array;
  nextHeaderKey: Uint8Array;
  peerDh: Uint8Array;
  ad: Uint8Array;
  now?: number;
}): Promise<RatchetState> {
  checkSuite(suite);
  const rootKey = checkBytes("rootKey", init.rootKey, KEY_SIZE);
  const headerKey = checkBytes("headerKey", init.headerKey, KEY_SIZE);
  const nextHeaderKey = checkBytes("nextHeaderKey", init.nextHeaderKey, KEY_SIZE);
  const peerDh = checkBytes("peerDh", init.peerDh, DH_SIZE).slice();
  const ad = checkBytes("ad", init.ad).slice();
  if (ad.length > 65535) throw new RangeError("ad must be at most 65535 bytes");
  const now = checkNow(init.now);
  const dhs = generateDh(suite.random);
  let dhOut: Uint8Array;
  try {
    dhOut = dh(dhs.secretKey, peerDh);
  } catch {
    throw new InvalidKeyError("peerDh is not a valid X25519 public key");
  }
  const { rk, ck, nhk } = kdfRkHe(rootKey, dhOut, EMPTY, suite.kem.id);
  const kems = await suite.kem.generateKeyPair();
  const state: State = {
    version: 1,
    kemId: suite.kem.id,
    aeadId: suite.aead.id,
    ad,
    dhs,
    dhr: peerDh,
    rk,
    cks: ck,
    ns: 0,
    nr: 0,
    pn: 0,
    hks: headerKey.slice(),
    nhks: nhk,
    nhkr: nextHeaderKey.slice(),
    stepPending: false,
    kems,
    kemPendingPub: kems.publicKey,
    kemMessages: 0,
    kemTime: now, // the handshake's encapsulation was her KEM step
    skipped: [],
  };
  return state;
}

/**
 * Bob's state after the handshake ([DR] `RatchetInitBobHE`): his signed prekey as `DHs`, no
 * chain yet. He can encrypt once he has decrypted Alice's first message.
 */
export function initBob(suite: RatchetSuite, init: {
  rootKey: Uint8Array;
  nextSendHeaderKey: Uint8Array;
  nextRecvHeaderKey: Uint8Array;
  ownDh: { publicKey: Uint8Array; secretKey: Uint8Array };
  ad: Uint8Array;
  now?: number;
}): Promise<RatchetState> {
  try {
    checkSuite(suite);
    const ad = checkBytes("ad", init.ad).slice();
    if (ad.length > 65535) throw new RangeError("ad must be at most 65535 bytes");
    checkNow(init.now);
    const state: State = {
      version: 1,
      kemId: suite.kem.id,
      aeadId: suite.aead.id,
      ad,
      dhs: {
        publicKey: checkBytes("ownDh.publicKey", init.ownDh?.publicKey, DH_SIZE).slice(),
        secretKey: checkBytes("ownDh.secretKey", init.ownDh?.secretKey, DH_SIZE).slice(),
      },
      rk: checkBytes("rootKey", init.rootKey, KEY_SIZE).slice(),
      ns: 0,
      nr: 0,
      pn: 0,
      nhks: checkBytes("nextSendHeaderKey", init.nextSendHeaderKey, KEY_SIZE).slice(),
      nhkr: checkBytes("nextRecvHeaderKey", init.nextRecvHeaderKey, KEY_SIZE).slice(),
      stepPending: false,
      kemMessages: 0,
      skipped: [],
    };
    return Promise.resolve(state);
  } catch (e) {
    return Promise.reject(e);
  }
}

const u32 = (out: Uint8Array, at: number, v: number) => {
  out[at] = v >>> 24;
  out[at + 1] = v >>> 16;
  out[at + 2] = v >>> 8;
  out[at + 3] = v;
};

/** `header = DHs_pub || u32 PN || u32 N || u8 flags [|| lp(KEM_pub)] [|| lp(KEM_ct)]`. */
function encodeHeader(
  dhPub: Uint8Array,
  pn: number,
  n: number,
  kemPub: Uint8Array | undefined,
  kemCt: Uint8Array | undefined,
): Uint8Array {
  const size = HEADER_FIXED + (kemPub ? 4 + kemPub.length : 0) + (kemCt ? 4 + kemCt.length : 0);
  const out = new Uint8Array(size);
  out.set(dhPub);
  u32(out, 32, pn);
  u32(out, 36, n);
  out[40] = (kemPub ? FLAG_KEM_PUB : 0) | (kemCt ? FLAG_KEM_CT : 0);
  let at = HEADER_FIXED;
  for (const v of [kemPub, kemCt]) {
    if (!v) continue;
    u32(out, at, v.length);
    out.set(v, at + 4);
    at += 4 + v.length;
  }
  return out;
}

interface Header {
  dh: Uint8Array;
  pn: number;
  n: number;
  kemPub?: Uint8Array;
  kemCt?: Uint8Array;
}

/** Parses a decrypted header; undefined when malformed (never made by a correct peer). */
function parseHeader(h: Uint8Array, kem: KemEngine): Header | undefined {
  if (h.length < HEADER_FIXED) return undefined;
  const pn = readU32be(h, 32), n = readU32be(h, 36), flags = h[40];
  if (pn >= MAX_COUNTER || n >= MAX_COUNTER || (flags & ~(FLAG_KEM_PUB | FLAG_KEM_CT))) {
    return undefined;
  }
  let at = HEADER_FIXED;
  const take = (max: number, exact?: number) => {
    if (at + 4 > h.length) return undefined;
    const len = readU32be(h, at);
    if (len === 0 || len > max || (exact !== undefined && len !== exact)) return undefined;
    if (at + 4 + len > h.length) return undefined;
    const v = h.subarray(at + 4, at + 4 + len);
    at += 4 + len;
    return v;
  };
  const header: Header = { dh: h.subarray(0, DH_SIZE), pn, n };
  if (flags & FLAG_KEM_PUB) {
    header.kemPub = take(kem.publicKeySize + KEM_PUB_SLACK);
    if (!header.kemPub) return undefined;
  }
  if (flags & FLAG_KEM_CT) {
    header.kemCt = take(kem.encapsulationSize, kem.encapsulationSize);
    if (!header.kemCt) return undefined;
  }
  return at === h.length ? header : undefined;
}

function pad(data: Uint8Array): Uint8Array {
  const padded = new Uint8Array(padmeLength(data.length + 1));
  padded.set(data);
  padded[data.length] = 0x80;
  return padded;
}

function unpad(padded: Uint8Array): Uint8Array {
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== 0x80) throw new DecryptionError();
  return padded.subarray(0, end);
}

/**
 * Encrypts `data` (at most 16 MiB) as the ratchet body of a session message whose bytes before
 * the body are `prefix` (docs/sessions.md section 4). Makes the sending DH step (and a KEM step
 * when the policy calls for one) if a new peer key was received since the last encrypt. Returns
 * the body and the new state; `state` itself is not modified. A state that has no sending chain
 * yet (Bob's, before Alice's first message) is a `RangeError`.
 */
export async function ratchetEncrypt(
  suite: RatchetSuite,
  state: RatchetState,
  data: Uint8Array,
  prefix: Uint8Array,
  now?: number,
): Promise<{ state: RatchetState; body: Uint8Array }> {
  checkSuite(suite);
  const s = checkState(suite, state);
  checkBytes("data", data);
  checkBytes("prefix", prefix);
  if (data.length > MAX_RATCHET_DATA) throw new RangeError("data must be at most 16 MiB");
  const time = checkNow(now);
  const { kem, aead } = suite;
  let { dhs, rk, cks, hks, nhks, ns, pn, kems, kemPendingPub, kemPendingCt, kemMessages, kemTime } =
    s;
  if (s.stepPending) {
    // [DR] RatchetDecryptHE's sending half, made lazily (docs/sessions.md section 5).
    const policy = suite.policy ?? DEFAULT_KEM_POLICY;
    let kemSs = EMPTY;
    kemPendingPub = kemPendingCt = undefined;
    if (
      s.kemr !== undefined &&
      (kemTime === undefined || kemMessages >= policy.messages ||
        time - kemTime >= policy.milliseconds)
    ) {
      const [{ encapsulation, sharedSecret }, pair] = await Promise.all([
        kem.encapsulate(s.kemr),
        kem.generateKeyPair(),
      ]);
      kemSs = sharedSecret;
      kems = pair;
      kemPendingPub = pair.publicKey;
      kemPendingCt = encapsulation;
      kemMessages = 0;
      kemTime = time;
    }
    pn = ns;
    ns = 0;
    hks = nhks;
    dhs = generateDh(suite.random);
    ({ rk, ck: cks, nhk: nhks } = kdfRkHe(rk, dh(dhs.secretKey, s.dhr!), kemSs, kem.id));
  }
  if (!cks || !hks) {
    throw new RangeError("the session has no sending chain until a message is received");
  }
  if (ns >= MAX_COUNTER - 1) throw new RangeError("the sending chain is exhausted");
  const sealer = messageAead(aead);
  const step = kdfCk(cks);
  const header = encodeHeader(dhs.publicKey, pn, ns, kemPendingPub, kemPendingCt);
  const nonceH = randomBytes(suite, NONCE_H);
  const encHeader = await sealer.seal(
    hks,
    headerNonce(nonceH, aead.nonceSize),
    header,
    concatBytes(s.ad, prefix),
  );
  const head = new Uint8Array(NONCE_H + 4 + encHeader.length);
  head.set(nonceH);
  u32(head, NONCE_H, encHeader.length);
  head.set(encHeader, NONCE_H + 4);
  const { key, nonce } = messageKeys(step.mk, aead.id, aead.keySize, aead.nonceSize);
  const encBody = await sealer.seal(key, nonce, pad(data), concatBytes(s.ad, prefix, head));
  const body = new Uint8Array(head.length + encBody.length);
  body.set(head);
  body.set(encBody, head.length);
  const next: State = {
    ...s,
    dhs,
    rk,
    cks: step.ck,
    hks,
    nhks,
    ns: ns + 1,
    pn,
    stepPending: false,
    kems,
    kemPendingPub,
    kemPendingCt,
    kemMessages: Math.min(kemMessages + 1, 0xffffffff),
    kemTime,
  };
  return { state: next, body };
}

/** Keys `from..until-1` of chain `ck`, and the chain key at `until`. */
function skipKeys(
  ck: Uint8Array,
  from: number,
  until: number,
): { ck: Uint8Array; keys: { n: number; mk: Uint8Array }[] } {
  const keys: { n: number; mk: Uint8Array }[] = [];
  for (let n = from; n < until; n++) {
    const step = kdfCk(ck);
    keys.push({ n, mk: step.mk });
    ck = step.ck;
  }
  return { ck, keys };
}

/** `skipped` with `keys` appended to chain `hk` (the last one), oldest dropped beyond the cap. */
function addSkipped(
  skipped: readonly SkippedChain[],
  hk: Uint8Array,
  keys: { n: number; mk: Uint8Array }[],
): readonly SkippedChain[] {
  if (keys.length === 0) return skipped;
  const chains = skipped.slice();
  const last = chains.at(-1);
  if (last && equalBytes(last.hk, hk)) {
    chains[chains.length - 1] = { hk, keys: [...last.keys, ...keys] };
  } else chains.push({ hk, keys });
  let total = 0;
  for (const c of chains) total += c.keys.length;
  while (total > MAX_SKIPPED_KEYS) {
    const drop = Math.min(total - MAX_SKIPPED_KEYS, chains[0].keys.length);
    if (drop === chains[0].keys.length) chains.shift();
    else chains[0] = { hk: chains[0].hk, keys: chains[0].keys.slice(drop) };
    total -= drop;
  }
  return chains;
}

/**
 * Decrypts a ratchet body (`nonce_h || lp(enc_header) || enc_body`) whose message began with
 * `prefix`. Returns the data and the new state; `state` itself is never modified, and any
 * failure (header, body, KEM, padding, a duplicate, a gap beyond {@linkcode MAX_SKIP}) is a
 * {@linkcode DecryptionError} that leaves it usable as it was.
 */
export async function ratchetDecrypt(
  suite: RatchetSuite,
  state: RatchetState,
  prefix: Uint8Array,
  body: Uint8Array,
  now?: number,
): Promise<{ state: RatchetState; data: Uint8Array }> {
  checkSuite(suite);
  const s = checkState(suite, state);
  checkBytes("prefix", prefix);
  checkBytes("body", body);
  checkNow(now);
  try {
    return await decrypt(suite, s, prefix, body);
  } catch {
    throw new DecryptionError();
  }
}

async function decrypt(
  suite: RatchetSuite,
  s: State,
  prefix: Uint8Array,
  body: Uint8Array,
): Promise<{ state: RatchetState; data: Uint8Array }> {
  const { kem, aead } = suite;
  const tag = aead.tagSize;
  if (body.length < NONCE_H + 4) throw new DecryptionError();
  const hlen = readU32be(body, NONCE_H);
  const headEnd = NONCE_H + 4 + hlen;
  const maxHeader = HEADER_FIXED + 8 + kem.publicKeySize + KEM_PUB_SLACK + kem.encapsulationSize;
  if (hlen < HEADER_FIXED + tag || hlen > maxHeader + tag || headEnd + tag + 1 > body.length) {
    throw new DecryptionError();
  }
  if (body.length - headEnd > padmeLength(MAX_RATCHET_DATA + 1) + tag) {
    throw new DecryptionError();
  }
  const nonceH = headerNonce(body.subarray(0, NONCE_H), aead.nonceSize);
  const encHeader = body.subarray(NONCE_H + 4, headEnd);
  const headerAad = concatBytes(s.ad, prefix);
  const opener = messageAead(aead);
  const openHeader = async (hk: Uint8Array): Promise<Header | undefined> => {
    const plain = await opener.open(hk, nonceH, encHeader, headerAad);
    return plain && parseHeader(plain, kem);
  };
  const openBody = async (mk: Uint8Array) => {
    const { key, nonce } = messageKeys(mk, aead.id, aead.keySize, aead.nonceSize);
    const padded = await opener.open(
      key,
      nonce,
      body.subarray(headEnd),
      concatBytes(s.ad, prefix, body.subarray(0, headEnd)),
    );
    if (!padded) throw new DecryptionError();
    return unpad(padded);
  };
  const counted = Math.min(s.kemMessages + 1, 0xffffffff);

  // 1. A skipped message key ([DR] TrySkippedMessageKeys), by (HK, N).
  let current: Header | undefined;
  let triedHkr = false;
  for (let c = 0; c < s.skipped.length; c++) {
    const chain = s.skipped[c];
    const isCurrent = s.hkr !== undefined && equalBytes(chain.hk, s.hkr);
    triedHkr ||= isCurrent;
    const header = await openHeader(chain.hk);
    if (!header) continue;
    const i = chain.keys.findIndex((k) => k.n === header.n);
    if (i < 0) {
      // Not skipped: a message of the current chain (same header key), or a duplicate.
      if (isCurrent) {
        current = header;
        break;
      }
      throw new DecryptionError();
    }
    const data = await openBody(chain.keys[i].mk);
    const skipped = s.skipped.slice();
    const keys = chain.keys.filter((_, j) => j !== i);
    if (keys.length) skipped[c] = { hk: chain.hk, keys };
    else skipped.splice(c, 1);
    return { state: { ...s, skipped, kemMessages: counted } as State, data };
  }

  // 2. The current receiving chain.
  if (!current && s.hkr && !triedHkr) current = await openHeader(s.hkr);
  if (current) {
    if (!s.ckr || !s.dhr || !equalBytes(current.dh, s.dhr)) throw new DecryptionError();
    if (current.n < s.nr || current.n - s.nr > MAX_SKIP) throw new DecryptionError();
    const { ck, keys } = skipKeys(s.ckr, s.nr, current.n);
    const step = kdfCk(ck);
    const data = await openBody(step.mk);
    const next: State = {
      ...s,
      ckr: step.ck,
      nr: current.n + 1,
      skipped: addSkipped(s.skipped, s.hkr!, keys),
      kemMessages: counted,
    };
    return { state: next, data };
  }

  // 3. A new chain: the header opens under NHKr ([DR] RatchetDecryptHE, DHRatchetHE).
  if (s.stepPending) throw new DecryptionError(); // the peer cannot have stepped again yet
  const header = await openHeader(s.nhkr);
  if (!header) throw new DecryptionError();
  let skipped = s.skipped;
  if (s.ckr && s.hkr) {
    if (header.pn < s.nr || header.pn - s.nr > MAX_SKIP) throw new DecryptionError();
    skipped = addSkipped(skipped, s.hkr, skipKeys(s.ckr, s.nr, header.pn).keys);
  } else if (header.pn !== 0) {
    throw new DecryptionError();
  }
  if (header.n > MAX_SKIP) throw new DecryptionError();
  let kemSs = EMPTY;
  if (header.kemCt) {
    if (!s.kems) throw new DecryptionError();
    kemSs = await kem.decapsulate(header.kemCt, s.kems.secretKey);
  }
  let kemr = s.kemr;
  if (header.kemPub) {
    kem.checkPublicKey?.(header.kemPub);
    kemr = header.kemPub.slice();
  }
  const dhr = header.dh.slice();
  const root = kdfRkHe(s.rk, dh(s.dhs.secretKey, dhr), kemSs, kem.id);
  const { ck, keys } = skipKeys(root.ck, 0, header.n);
  const step = kdfCk(ck);
  const data = await openBody(step.mk);
  const hkr = s.nhkr;
  const next: State = {
    ...s,
    dhr,
    rk: root.rk,
    ckr: step.ck,
    nr: header.n + 1,
    hkr,
    nhkr: root.nhk,
    stepPending: true,
    kemr,
    skipped: addSkipped(skipped, hkr, keys),
    kemMessages: counted,
  };
  return { state: next, data };
}

/**
 * The versioned binary form of a state (docs/sessions.md section 7), for a session store. It
 * holds every secret of the session: store it sealed.
 */
export function encodeRatchetState(state: RatchetState): Uint8Array {
  const s = state as State;
  if (s === null || typeof s !== "object" || s.version !== 1) {
    throw new TypeError("state must be a ratchet state");
  }
  return encodeState(s);
}

/** Parses {@linkcode encodeRatchetState}'s bytes; `FormatError` on anything malformed. */
export function decodeRatchetState(bytes: Uint8Array): RatchetState {
  return decodeState(bytes);
}
