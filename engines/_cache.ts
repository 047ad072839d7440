// Internal: the small per-key caches the hot paths keep (parsed recipients, prepared ML-KEM keys,
// public keys of recent identities), and the synchronous-to-promise bridge the sync engines use.
import { toHex } from "./_bytes.ts";
import { sha256 } from "./_hash.ts";

/** A map that keeps its `capacity` most recently used entries. */
export class LruCache<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** The entry for `key` (now the most recently used), or `undefined`. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** Stores `value`, evicting the least recently used entry when full; returns `value`. */
  set(key: K, value: V): V {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#capacity) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, value);
    return value;
  }

  /** Forgets the entry for `key`. */
  delete(key: K): void {
    this.#entries.delete(key);
  }

  /** The entry for `key`, made by `make` and stored when missing. */
  getOrCreate(key: K, make: () => V): V {
    return this.get(key) ?? this.set(key, make());
  }
}

/**
 * How caches index secret-derived entries: SHA-256 of the secret in hex, so a secret is never
 * itself a map key.
 */
export function secretTag(secret: Uint8Array): string {
  return toHex(sha256(secret));
}

/** `run()` as a promise: its value, or a rejection with what it threw. */
export function settle<T>(run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (e) {
    return Promise.reject(e);
  }
}
