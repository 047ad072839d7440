// Internal: the records an Account keeps in its SessionStore (docs/sessions.md section 7.1), their
// binary encodings, and the storage seal (blinded keys, AES-256-GCM values).
import { DecryptionError, FormatError } from "../errors.ts";
import { toHex } from "../engines/_bytes.ts";
import { hmacSync } from "../engines/_hash.ts";
import { aes256Gcm } from "../engines/symmetric/aes_gcm.ts";
import { type OpensslAead, opensslAead } from "../engines/symmetric/_openssl.ts";
import type { KeyedAead } from "../engines/types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Builds a record: big-endian integers, `sp`/`lp`-prefixed byte strings. */
export class Writer {
  #parts: Uint8Array[] = [];
  #length = 0;
  #push(b: Uint8Array): this {
    this.#parts.push(b);
    this.#length += b.length;
    return this;
  }
  u8(v: number): this {
    return this.#push(Uint8Array.of(v));
  }
  u16(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError("u16 out of range");
    return this.#push(Uint8Array.of(v >>> 8, v & 0xff));
  }
  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError("u32 out of range");
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    return this.#push(b);
  }
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError("u64 out of range");
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v));
    return this.#push(b);
  }
  raw(b: Uint8Array): this {
    return this.#push(b);
  }
  sp(b: Uint8Array | string): this {
    const bytes = typeof b === "string" ? encoder.encode(b) : b;
    return this.u16(bytes.length).#push(bytes);
  }
  lp(b: Uint8Array): this {
    return this.u32(b.length).#push(b);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let o = 0;
    for (const p of this.#parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** Reads a record; every overrun or trailing byte is a `FormatError`. */
export class Reader {
  #o = 0;
  readonly #b: Uint8Array;
  readonly #view: DataView;
  constructor(b: Uint8Array) {
    this.#b = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.length);
  }
  #need(n: number): number {
    if (this.#o + n > this.#b.length) throw new FormatError("session store record is truncated");
    const at = this.#o;
    this.#o += n;
    return at;
  }
  u8(): number {
    return this.#b[this.#need(1)];
  }
  u16(): number {
    return this.#view.getUint16(this.#need(2));
  }
  u32(): number {
    return this.#view.getUint32(this.#need(4));
  }
  u64(): number {
    const v = this.#view.getBigUint64(this.#need(8));
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError("session store time too big");
    return Number(v);
  }
  raw(n: number): Uint8Array {
    const at = this.#need(n);
    return this.#b.slice(at, at + n);
  }
  sp(): Uint8Array {
    return this.raw(this.u16());
  }
  spString(): string {
    try {
      return decoder.decode(this.sp());
    } catch {
      throw new FormatError("session store string is not UTF-8");
    }
  }
  lp(): Uint8Array {
    return this.raw(this.u32());
  }
  end(): void {
    if (this.#o !== this.#b.length) throw new FormatError("session store record has extra bytes");
  }
}

/**
 * The storage seal of docs/sessions.md section 7: store keys are `hex(HMAC(storage key, name))`,
 * values `nonce (12) || AES-256-GCM(storage key, nonce, record, aad = utf8(store key))`. The
 * AES key is set up once (one WebCrypto or libcrypto key), blinded names are cached.
 */
export class StorageSeal {
  readonly #key: Uint8Array;
  readonly #aead: KeyedAead;
  // libcrypto through FFI when this process may use it (engines/symmetric/_openssl.ts):
  // synchronous, so a commit does not wait on WebCrypto's thread pool; else the keyed engine.
  readonly #lib: OpensslAead | undefined;
  readonly #names = new Map<string, string>();

  private constructor(key: Uint8Array, aead: KeyedAead) {
    this.#key = key;
    this.#aead = aead;
    const lib = opensslAead();
    this.#lib = lib instanceof Error ? undefined : lib;
  }

  static async create(storageKey: Uint8Array): Promise<StorageSeal> {
    const key = storageKey.slice();
    return new StorageSeal(key, await aes256Gcm.withKey!(key));
  }

  /** The store key of the record called `name`. */
  blind(name: string): string {
    let key = this.#names.get(name);
    if (key === undefined) {
      key = toHex(hmacSync("SHA-256", this.#key, [encoder.encode(name)]));
      if (this.#names.size >= 4096) this.#names.clear();
      this.#names.set(name, key);
    }
    return key;
  }

  async seal(storeKey: string, record: Uint8Array): Promise<Uint8Array> {
    const out = new Uint8Array(12 + record.length + 16);
    const nonce = crypto.getRandomValues(out.subarray(0, 12));
    const aad = encoder.encode(storeKey);
    if (this.#lib) {
      this.#lib.sealInto("aes-256-gcm", this.#key, nonce, record, aad, out.subarray(12));
      return out;
    }
    out.set(await this.#aead.seal(nonce, record, aad), 12);
    return out;
  }

  /** Opens a stored value; `DecryptionError` when it was not sealed under this key and name. */
  async open(storeKey: string, value: Uint8Array): Promise<Uint8Array> {
    if (value.length < 28) throw new FormatError("session store value is too short");
    const nonce = value.subarray(0, 12);
    const aad = encoder.encode(storeKey);
    if (this.#lib) {
      const out = new Uint8Array(value.length - 28);
      if (!this.#lib.openInto("aes-256-gcm", this.#key, nonce, value.subarray(12), aad, out)) {
        throw new DecryptionError();
      }
      return out;
    }
    return await this.#aead.open(nonce, value.subarray(12), aad);
  }
}
