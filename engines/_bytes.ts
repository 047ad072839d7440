// Internal byte helpers shared by the engines. Not part of the public API.
import { nodeBuiltin } from "./_node.ts";

/**
 * Checks that `value` is a Uint8Array (of `length` bytes when given) and
 * returns it. The error names the argument, never its content.
 */
export function checkBytes(name: string, value: unknown, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}

/** Concatenates byte arrays into a new one. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Constant-time equality for equal-length inputs (lengths are public). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Big-endian encoding of a non-negative integer in `length` bytes (RFC 8017 I2OSP). */
export function i2osp(value: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0 && value > 0; i--) {
    out[i] = value & 0xff;
    value = Math.floor(value / 256);
  }
  return out;
}

/**
 * Copies `bytes` into a fresh ArrayBuffer-backed array: WebCrypto wants
 * `BufferSource` over a plain ArrayBuffer, and a copy also guarantees the
 * caller's array is never touched by a backend.
 */
export function toBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

/** The big-endian u32 at `offset` of `bytes` (the inverse of `i2osp(value, 4)`). */
export function readU32be(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) |
    bytes[offset + 3]) >>> 0;
}

/** Big-endian bytes of a non-negative BigInt, left-padded to `length`. */
export function bigintToBytes(value: bigint, length: number): Uint8Array {
  const hex = value.toString(16).padStart(length * 2, "0");
  if (hex.length > length * 2) throw new RangeError("value does not fit");
  return fromHex(hex);
}

/** The non-negative BigInt of big-endian bytes. */
export function bytesToBigint(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt("0x" + toHex(bytes));
}

// Hex and base64. The platform's own `Uint8Array.fromHex`/`toHex`/`fromBase64`/`toBase64`/
// `setFromBase64` (Deno, current browsers) are used where they exist, so Deno's speed is
// unchanged; where they are missing (Node 20 and 22, older browsers) the same functions are
// computed here, with the same results and the same SyntaxErrors for the options polycrypt uses
// (tests/engines/portable_fallbacks_test.ts compares the two on random input). Nothing is added to the global
// Uint8Array: a library must not change its host's built-ins.

/** The base64 options polycrypt passes (a subset of the TC39 proposal's). */
export interface Base64Options {
  /** `"base64"` (RFC 4648 section 4, the default) or `"base64url"` (section 5). */
  readonly alphabet?: "base64" | "base64url";
  /** Encoding: leave out the `=` padding. */
  readonly omitPadding?: boolean;
  /**
   * Decoding: `"loose"` (the default) accepts a last chunk without padding and ignores its spare
   * bits; `"strict"` requires the padding and zero spare bits.
   */
  readonly lastChunkHandling?: "loose" | "strict";
}

interface NativeCodecs {
  fromHex?(hex: string): Uint8Array<ArrayBuffer>;
  fromBase64?(text: string, options?: Base64Options): Uint8Array<ArrayBuffer>;
}
interface NativeMethods {
  toHex?(): string;
  toBase64?(options?: Base64Options): string;
  setFromBase64?(text: string, options?: Base64Options): { read: number; written: number };
}

const NATIVE = Uint8Array as unknown as NativeCodecs;
const NATIVE_PROTO = Uint8Array.prototype as unknown as NativeMethods;
const HAS_HEX = typeof NATIVE.fromHex === "function" && typeof NATIVE_PROTO.toHex === "function";
const HAS_BASE64 = typeof NATIVE.fromBase64 === "function" &&
  typeof NATIVE_PROTO.toBase64 === "function" && typeof NATIVE_PROTO.setFromBase64 === "function";

const HEX_DIGITS = "0123456789abcdef";
const B64_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
let hexPairs: string[] | undefined;
let decodeTables: { std: Int8Array; url: Int8Array } | undefined;

function tables(): { std: Int8Array; url: Int8Array } {
  if (decodeTables) return decodeTables;
  const make = (alphabet: string) => {
    const table = new Int8Array(128).fill(-1);
    for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = i;
    return table;
  };
  return decodeTables = { std: make(B64_STD), url: make(B64_URL) };
}

/** Lower-case hex of `bytes` (`Uint8Array.prototype.toHex`). */
export function toHex(bytes: Uint8Array): string {
  return HAS_HEX ? NATIVE_PROTO.toHex!.call(bytes) : encodeHex(bytes);
}

function encodeHex(bytes: Uint8Array): string {
  const buffer = bytes.length > 32 ? bufferOf(bytes) : undefined;
  return buffer ? buffer.toString("hex") : encodeHexJs(bytes);
}

function encodeHexJs(bytes: Uint8Array): string {
  hexPairs ??= Array.from({ length: 256 }, (_, i) => HEX_DIGITS[i >> 4] + HEX_DIGITS[i & 15]);
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += hexPairs[bytes[i]];
  return out;
}

/** The bytes of an even-length hex string (`Uint8Array.fromHex`); SyntaxError otherwise. */
export function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  return HAS_HEX ? NATIVE.fromHex!(hex) : decodeHex(hex);
}

function decodeHex(hex: string): Uint8Array<ArrayBuffer> {
  if (typeof hex !== "string") throw new TypeError("expected a string");
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new SyntaxError("not a valid hex string");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Base64 of `bytes` (`Uint8Array.prototype.toBase64`). */
export function toBase64(bytes: Uint8Array, options?: Base64Options): string {
  return HAS_BASE64 ? NATIVE_PROTO.toBase64!.call(bytes, options) : encodeBase64(bytes, options);
}

/** node:buffer's Buffer where the platform has one (Node): its base64 and hex are native code. */
let nodeBuffer: typeof import("node:buffer").Buffer | null | undefined;
function bufferOf(bytes: Uint8Array) {
  if (nodeBuffer === undefined) nodeBuffer = nodeBuiltin("node:buffer")?.Buffer ?? null;
  return nodeBuffer?.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function encodeBase64(bytes: Uint8Array, options?: Base64Options): string {
  const buffer = bytes.length > 32 ? bufferOf(bytes) : undefined;
  if (buffer) {
    if (options?.alphabet !== "base64url") {
      const text = buffer.toString("base64");
      return options?.omitPadding ? text.replace(/=+$/, "") : text;
    }
    const text = buffer.toString("base64url"); // never padded
    return options?.omitPadding ? text : text + "==".slice(0, (4 - (text.length % 4)) % 4);
  }
  return encodeBase64Js(bytes, options);
}

function encodeBase64Js(bytes: Uint8Array, options?: Base64Options): string {
  const alphabet = options?.alphabet === "base64url" ? B64_URL : B64_STD;
  const pad = !options?.omitPadding;
  const parts: string[] = [];
  let out = "";
  const whole = bytes.length - (bytes.length % 3);
  for (let i = 0; i < whole; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] +
      alphabet[n & 63];
    if (out.length >= 8192) {
      parts.push(out);
      out = "";
    }
  }
  const rest = bytes.length - whole;
  if (rest === 1) {
    const n = bytes[whole] << 16;
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + (pad ? "==" : "");
  } else if (rest === 2) {
    const n = (bytes[whole] << 16) | (bytes[whole + 1] << 8);
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] +
      (pad ? "=" : "");
  }
  parts.push(out);
  return parts.join("");
}

/** ASCII whitespace, which base64 decoding skips: tab, line feed, form feed, carriage return, space. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

function decodeBase64(text: string, options?: Base64Options): Uint8Array<ArrayBuffer> {
  if (typeof text !== "string") throw new TypeError("expected a string");
  const table = options?.alphabet === "base64url" ? tables().url : tables().std;
  const strict = options?.lastChunkHandling === "strict";
  const out = new Uint8Array(Math.ceil(text.length / 4) * 3);
  let o = 0;
  let acc = 0;
  let n = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) continue;
    if (c === 0x3d) break; // "="
    const v = c < 128 ? table[c] : -1;
    if (v < 0) throw new SyntaxError("not a valid base64 string");
    acc = (acc << 6) | v;
    if (++n === 4) {
      out[o++] = acc >>> 16;
      out[o++] = (acc >>> 8) & 255;
      out[o++] = acc & 255;
      acc = 0;
      n = 0;
    }
  }
  if (i < text.length) {
    // Padding: "xx==" or "xxx=", then nothing but whitespace.
    if (n < 2) throw new SyntaxError("misplaced base64 padding");
    let pads = 0;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (isSpace(c)) continue;
      if (c === 0x3d && pads < 4 - n) pads++;
      else throw new SyntaxError("characters after base64 padding");
    }
    if (pads !== 4 - n) throw new SyntaxError("incomplete base64 padding");
  } else if (n === 1 || (n > 1 && strict)) {
    throw new SyntaxError("incomplete base64 chunk");
  }
  if (n === 2) {
    if (strict && (acc & 15) !== 0) throw new SyntaxError("non-zero base64 padding bits");
    out[o++] = acc >>> 4;
  } else if (n === 3) {
    if (strict && (acc & 3) !== 0) throw new SyntaxError("non-zero base64 padding bits");
    out[o++] = acc >>> 10;
    out[o++] = (acc >>> 2) & 255;
  }
  return out.slice(0, o);
}

/** The bytes of a base64 string (`Uint8Array.fromBase64`); SyntaxError when it is not one. */
export function fromBase64(text: string, options?: Base64Options): Uint8Array<ArrayBuffer> {
  if (HAS_BASE64) return NATIVE.fromBase64!(text, options);
  return decodeBase64(text, options);
}

/**
 * Decodes base64 `text` (loose, standard alphabet) into `target` and returns how many bytes it
 * wrote (`Uint8Array.prototype.setFromBase64(text).written`). The caller sizes `target` for all of
 * it: the fallback throws RangeError where the native one would stop early.
 */
export function setFromBase64(target: Uint8Array, text: string): number {
  if (HAS_BASE64) return NATIVE_PROTO.setFromBase64!.call(target, text).written;
  const bytes = decodeBase64(text);
  if (bytes.length > target.length) throw new RangeError("the target is too small");
  target.set(bytes);
  return bytes.length;
}

/** Tests only: the fallbacks, whatever the platform has. */
export const _fallback = {
  encodeHex,
  encodeHexJs,
  decodeHex,
  encodeBase64,
  encodeBase64Js,
  decodeBase64,
};
