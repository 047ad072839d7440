/**
 * Invitations (`docs/relay.md` section 12): what a recipient hands a sender, out of band, so that
 * the sender can deposit messages in the recipient's queue: the relay's URL, the queue's sending
 * id and the recipient's public keys (a recipient string, `docs/format.md` section 8). Text, safe
 * on a command line, checksummed like recipient strings:
 *
 * ```
 * invitation = "polycrypt-invite1:" || base64url(payload || check)      ; unpadded, canonical
 * payload    = u16 urlLen || url (ASCII) || u8 sidLen || sid || u16 recLen || recipient (ASCII)
 *              [ || 0x53 || u8 sigLen || signalId ]        ; optional: a queue for direct connections
 * check      = SHA-256("polycrypt-invite1:" || payload)[0..4]
 * ```
 *
 * The relay never sees an invitation; it is not part of the relay protocol.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity } from "@polycrypt/polycrypt";
 * import { encodeInvitation, parseInvitation } from "@polycrypt/polycrypt/relay";
 * const { recipient } = await generateIdentity("x25519");
 * const sendId = crypto.getRandomValues(new Uint8Array(24));
 * const text = encodeInvitation({ relay: "ws://127.0.0.1:8800", sendId, recipient });
 * assert.ok(text.startsWith("polycrypt-invite1:"));
 * const back = parseInvitation(text);
 * assert.equal(back.relay, "ws://127.0.0.1:8800");
 * assert.deepEqual(back.sendId, sendId);
 * assert.equal(back.recipient, recipient);
 * assert.equal(encodeInvitation(back), text);
 * ```
 *
 * @module
 */
import { FormatError } from "../errors.ts";
import { equalBytes, fromBase64, toBase64 } from "../engines/_bytes.ts";
import { sha256 } from "../engines/_hash.ts";
import { parseRecipient } from "../cascade/keys.ts";

/** The prefix of invitations of version 1. */
export const INVITATION_PREFIX = "polycrypt-invite1:";

/** The URL schemes an invitation may name (the relay's stream transports). */
export const INVITATION_SCHEMES: readonly string[] = Object.freeze(["ws:", "wss:", "tcp:", "tls:"]);

/** What an invitation carries. */
export interface Invitation {
  /** The relay's URL (`ws://`, `wss://`, `tcp://` or `tls://`). */
  readonly relay: string;
  /** The queue's sending id (1 to 255 bytes; 24 from a polycrypt relay). */
  readonly sendId: Uint8Array;
  /** The recipient's recipient string (its public encryption and signing keys). */
  readonly recipient: string;
  /**
   * The sending id of the recipient's signalling queue on the same relay (1 to 255 bytes), where
   * offers of direct connections go (docs/relay.md section 14); absent in invitations without one.
   */
  readonly signalId?: Uint8Array;
}

/** The tag of the optional signalling queue field after the recipient. */
const SIGNAL_TAG = 0x53;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function check(payload: Uint8Array): Uint8Array {
  return sha256(encoder.encode(INVITATION_PREFIX), payload).slice(0, 4);
}

/** Checks a relay URL as an invitation carries it; throws `FormatError`. Internal to the CLI. */
export function checkRelayUrl(relay: string): string {
  if (typeof relay !== "string") throw new TypeError("relay must be a string");
  // Printable ASCII only: the URL is shown on terminals (an IDN host goes in its xn-- form).
  if (!/^[\x21-\x7e]+$/.test(relay)) {
    throw new FormatError("invitation's relay must be printable ASCII without spaces");
  }
  let url: URL;
  try {
    url = new URL(relay);
  } catch {
    throw new FormatError("invitation's relay is not a URL");
  }
  if (!INVITATION_SCHEMES.includes(url.protocol) || !url.host) {
    throw new FormatError("invitation's relay must be a ws://, wss://, tcp:// or tls:// URL");
  }
  return relay;
}

function checkRecipientString(recipient: string): string {
  if (typeof recipient !== "string") throw new TypeError("recipient must be a string");
  try {
    parseRecipient(recipient);
  } catch (e) {
    throw new FormatError(`invitation's recipient is invalid: ${(e as Error).message}`);
  }
  if (recipient !== recipient.trim()) throw new FormatError("invitation's recipient has spaces");
  return recipient;
}

/**
 * Encodes an invitation. Throws `FormatError` for a relay URL of another scheme, a sending id
 * outside 1 to 255 bytes, or a recipient string that does not parse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity } from "@polycrypt/polycrypt";
 * import { encodeInvitation } from "@polycrypt/polycrypt/relay";
 * const { recipient } = await generateIdentity("x25519");
 * assert.throws(() =>
 *   encodeInvitation({ relay: "http://example.com", sendId: new Uint8Array(24), recipient })
 * );
 * ```
 */
export function encodeInvitation(invitation: Invitation): string {
  const url = encoder.encode(checkRelayUrl(invitation.relay));
  const sid = invitation.sendId;
  if (!(sid instanceof Uint8Array) || sid.length < 1 || sid.length > 255) {
    throw new FormatError("invitation's sending id must be 1 to 255 bytes");
  }
  const recipient = encoder.encode(checkRecipientString(invitation.recipient));
  if (url.length > 0xffff || recipient.length > 0xffff) {
    throw new FormatError("invitation is too long");
  }
  const signal = invitation.signalId;
  if (
    signal !== undefined &&
    (!(signal instanceof Uint8Array) || signal.length < 1 || signal.length > 255)
  ) {
    throw new FormatError("invitation's signalling id must be 1 to 255 bytes");
  }
  const extra = signal === undefined ? 0 : 2 + signal.length;
  const payload = new Uint8Array(2 + url.length + 1 + sid.length + 2 + recipient.length + extra);
  const view = new DataView(payload.buffer);
  let at = 0;
  view.setUint16(at, url.length);
  payload.set(url, at += 2);
  payload[at += url.length] = sid.length;
  payload.set(sid, at += 1);
  view.setUint16(at += sid.length, recipient.length);
  payload.set(recipient, at += 2);
  if (signal !== undefined) {
    payload[at += recipient.length] = SIGNAL_TAG;
    payload[at += 1] = signal.length;
    payload.set(signal, at + 1);
  }
  const body = new Uint8Array(payload.length + 4);
  body.set(payload);
  body.set(check(payload), payload.length);
  return INVITATION_PREFIX + toBase64(body, { alphabet: "base64url", omitPadding: true });
}

/**
 * Parses an invitation (surrounding white space ignored). Throws `FormatError` when the prefix,
 * the base64url (canonical, unpadded), the checksum, a length, the relay URL or the recipient
 * string is wrong, or bytes follow the recipient.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FormatError } from "@polycrypt/polycrypt";
 * import { parseInvitation } from "@polycrypt/polycrypt/relay";
 * assert.throws(() => parseInvitation("polycrypt-invite1:AAAA"), FormatError);
 * ```
 */
export function parseInvitation(text: string): Invitation {
  if (typeof text !== "string") throw new TypeError("invitation must be a string");
  const value = text.trim();
  if (!value.startsWith(INVITATION_PREFIX)) {
    throw new FormatError(`invitation must start with "${INVITATION_PREFIX}"`);
  }
  const b64 = value.slice(INVITATION_PREFIX.length);
  if (!BASE64URL.test(b64)) throw new FormatError("invitation is not valid base64url");
  let body: Uint8Array;
  try {
    body = fromBase64(b64, { alphabet: "base64url" });
  } catch {
    throw new FormatError("invitation is not valid base64url");
  }
  if (toBase64(body, { alphabet: "base64url", omitPadding: true }) !== b64) {
    throw new FormatError("invitation is not valid base64url");
  }
  if (body.length < 4 + 2 + 1 + 1 + 2) throw new FormatError("invitation is too short");
  const payload = body.subarray(0, body.length - 4);
  if (!equalBytes(body.subarray(body.length - 4), check(payload))) {
    throw new FormatError("invitation has a bad checksum (mistyped or truncated?)");
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
  let at = 0;
  const take = (n: number): Uint8Array => {
    if (at + n > payload.length) throw new FormatError("invitation is truncated");
    const out = payload.slice(at, at + n);
    at += n;
    return out;
  };
  const text8 = (bytes: Uint8Array, what: string): string => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new FormatError(`invitation's ${what} is not UTF-8`);
    }
  };
  if (payload.length < 2) throw new FormatError("invitation is truncated");
  const urlLen = view.getUint16(at);
  at += 2;
  const relay = checkRelayUrl(text8(take(urlLen), "relay"));
  const sidLen = take(1)[0];
  if (sidLen === 0) throw new FormatError("invitation's sending id is empty");
  const sendId = take(sidLen);
  if (at + 2 > payload.length) throw new FormatError("invitation is truncated");
  const recLen = view.getUint16(at);
  at += 2;
  const recipient = checkRecipientString(text8(take(recLen), "recipient"));
  if (at === payload.length) return { relay, sendId, recipient };
  if (payload[at] !== SIGNAL_TAG || at + 2 > payload.length || payload[at + 1] === 0) {
    throw new FormatError("invitation has trailing bytes");
  }
  at += 1;
  const signalId = take(take(1)[0]);
  if (at !== payload.length) throw new FormatError("invitation has trailing bytes");
  return { relay, sendId, recipient, signalId };
}
