/**
 * Where an {@linkcode Account} keeps its prekeys and sessions (docs/sessions.md section 7): a
 * {@linkcode SessionStore} maps string keys to byte values and applies a list of changes
 * atomically. The account blinds every key and seals every value before it reaches the store, so
 * a store never sees a name, a key or a counter in the clear.
 *
 * @module
 */

/** One change of a {@linkcode SessionStore.commit}: `value` set, or the key deleted when absent. */
export interface StoreChange {
  /** The key written or deleted. */
  readonly key: string;
  /** The new value; `undefined` deletes the key. */
  readonly value?: Uint8Array;
}

/**
 * A key-value store for an {@linkcode Account}'s state. Implementations must make
 * {@linkcode SessionStore.commit} atomic (all of its changes or none, also across a crash) and
 * durable when its promise resolves: the account relies on it to never reuse a ratchet state.
 * The browser's IndexedDB, a keychain or a server-side table can implement it; polycrypt ships
 * {@linkcode MemorySessionStore} and `SqliteSessionStore`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemorySessionStore, type SessionStore } from "@polycrypt/polycrypt";
 * const store: SessionStore = new MemorySessionStore();
 * await store.commit([{ key: "a/1", value: new Uint8Array([1]) }, { key: "b", value: new Uint8Array([2]) }]);
 * assert.deepEqual(await store.get("a/1"), new Uint8Array([1]));
 * assert.deepEqual(await store.list("a/"), ["a/1"]);
 * await store.commit([{ key: "a/1" }]); // no value: delete
 * assert.equal(await store.get("a/1"), undefined);
 * ```
 */
export interface SessionStore {
  /** The value stored under `key`, or `undefined`. The caller may modify the returned bytes. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Every key that starts with `prefix` (`""`: all keys), sorted by code unit. */
  list(prefix: string): Promise<string[]>;
  /**
   * Applies `changes` in order, all or none, and resolves once they are durable. A change with
   * no `value` deletes its key (deleting a missing key is not an error).
   *
   * `options.durable: false` allows a store to resolve before the changes reach stable storage
   * (a power failure may then lose them, with every later relaxed commit, but never a part of
   * one, nor a durable commit made after them). Groups use it for a received message's record,
   * never for a state a sender depends on (docs/groups.md section 5). Stores may ignore it.
   */
  commit(changes: readonly StoreChange[], options?: { durable?: boolean }): Promise<void>;
  /** Optional: releases the store (closes a database). */
  close?(): Promise<void> | void;
}

/** Throws `TypeError` unless `changes` is a list of well-formed changes. */
export function checkChanges(changes: readonly StoreChange[]): void {
  if (!Array.isArray(changes)) throw new TypeError("changes must be an array");
  for (const change of changes) {
    if (typeof change?.key !== "string" || change.key.length === 0) {
      throw new TypeError("every change needs a non-empty string key");
    }
    if (change.value !== undefined && !(change.value instanceof Uint8Array)) {
      throw new TypeError("a change's value must be a Uint8Array or undefined");
    }
  }
}

/**
 * A {@linkcode SessionStore} in memory, for tests, short-lived accounts and one side of a
 * benchmark: its state is lost with the process (so are its sessions). Values are copied in and
 * out, so no caller can change a stored value in place.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemorySessionStore } from "@polycrypt/polycrypt";
 * const store = new MemorySessionStore();
 * const value = new Uint8Array([7]);
 * await store.commit([{ key: "k", value }]);
 * value[0] = 0; // the store kept a copy
 * assert.deepEqual(await store.get("k"), new Uint8Array([7]));
 * assert.equal(store.size, 1);
 * ```
 */
export class MemorySessionStore implements SessionStore {
  #map = new Map<string, Uint8Array>();
  #closed = false;

  /** The number of keys stored. */
  get size(): number {
    return this.#map.size;
  }

  #open(): void {
    if (this.#closed) throw new TypeError("the store is closed");
  }

  /** See {@linkcode SessionStore.get}. */
  get(key: string): Promise<Uint8Array | undefined> {
    try {
      this.#open();
      return Promise.resolve(this.#map.get(key)?.slice());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** See {@linkcode SessionStore.list}. */
  list(prefix: string): Promise<string[]> {
    try {
      this.#open();
      const keys = [...this.#map.keys()].filter((k) => k.startsWith(prefix));
      return Promise.resolve(keys.sort());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** See {@linkcode SessionStore.commit}: checked first, then applied at once. */
  commit(changes: readonly StoreChange[]): Promise<void> {
    try {
      this.#open();
      checkChanges(changes);
      for (const { key, value } of changes) {
        if (value === undefined) this.#map.delete(key);
        else this.#map.set(key, value.slice());
      }
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Forgets every value; later calls reject. */
  close(): void {
    this.#closed = true;
    this.#map.clear();
  }
}
