/**
 * A {@linkcode SessionStore} in the browser's IndexedDB (docs/web.md section 3): the web chat's
 * sessions and prekeys. Each {@linkcode IndexedDbSessionStore.commit} is one `readwrite`
 * transaction with `durability: "strict"`, resolved on its `complete` event, so its changes are
 * all applied or none, and are on disk when the promise resolves (the account relies on it never
 * to reuse a ratchet state). The account blinds the keys and seals the values before they get
 * here; IndexedDB sees no name, key or counter in the clear.
 *
 * Also {@linkcode openDatabase} and {@linkcode KeyValue}, the same object stores for the page's
 * own (sealed) records.
 *
 * @module
 */
import { checkChanges, type SessionStore, type StoreChange } from "../sessions/store.ts";

/** Resolves with a request's result, rejects with its error. */
function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Resolves when a transaction committed; rejects when it aborted or failed. */
function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
  });
}

/**
 * Opens (creating when needed) the database `name` with one object store per name in `stores`,
 * each keyed by a string.
 */
export function openDatabase(name: string, stores: readonly string[]): Promise<IDBDatabase> {
  const request = indexedDB.open(name, 1);
  request.onupgradeneeded = () => {
    for (const store of stores) {
      if (!request.result.objectStoreNames.contains(store)) {
        request.result.createObjectStore(store);
      }
    }
  };
  return done(request);
}

/**
 * A string-keyed object store of byte values with atomic, durable commits: the one
 * implementation behind {@linkcode IndexedDbSessionStore} and the page's own records.
 */
export class KeyValue {
  readonly #db: IDBDatabase;
  readonly #store: string;
  #closed = false;

  /** A view of object store `store` of the open database `db`. */
  constructor(db: IDBDatabase, store: string) {
    this.#db = db;
    this.#store = store;
  }

  #open(): void {
    if (this.#closed) throw new TypeError("the store is closed");
  }

  /** The value under `key`, or undefined. */
  async get(key: string): Promise<Uint8Array | undefined> {
    this.#open();
    const tx = this.#db.transaction(this.#store, "readonly");
    const value = await done(tx.objectStore(this.#store).get(key));
    if (value === undefined) return undefined;
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    throw new TypeError("the stored value is not bytes");
  }

  /** Every key starting with `prefix`, sorted by code unit (IndexedDB's order for strings). */
  async list(prefix: string): Promise<string[]> {
    this.#open();
    if (typeof prefix !== "string") throw new TypeError("prefix must be a string");
    const tx = this.#db.transaction(this.#store, "readonly");
    const range = prefix === "" ? undefined : IDBKeyRange.lowerBound(prefix);
    const keys = await done(tx.objectStore(this.#store).getAllKeys(range));
    const out: string[] = [];
    for (const key of keys) {
      if (typeof key !== "string") continue;
      if (!key.startsWith(prefix)) break; // sorted: past the prefix
      out.push(key);
    }
    return out;
  }

  /** Applies `changes` in one durable transaction (all or none). */
  async commit(changes: readonly StoreChange[]): Promise<void> {
    this.#open();
    checkChanges(changes);
    const tx = this.#db.transaction(this.#store, "readwrite", { durability: "strict" });
    const store = tx.objectStore(this.#store);
    const finished = committed(tx);
    try {
      for (const { key, value } of changes) {
        if (value === undefined) store.delete(key);
        else store.put(value.slice(), key);
      }
    } catch (e) {
      tx.abort();
      await finished.catch(() => {});
      throw e;
    }
    await finished;
  }

  /** Later calls reject (the database stays open for its other stores). */
  close(): void {
    this.#closed = true;
  }
}

/**
 * The sessions of an account in an IndexedDB object store.
 *
 * ```js ignore
 * const db = await openDatabase("polycrypt-web", ["sessions", "records"]);
 * const account = await createAccount({ identity, store: new IndexedDbSessionStore(db) });
 * ```
 */
export class IndexedDbSessionStore extends KeyValue implements SessionStore {
  /** The store `sessions` (default) of the open database `db`. */
  constructor(db: IDBDatabase, store = "sessions") {
    super(db, store);
  }
}

/**
 * A {@linkcode SessionStore} whose commits wait in memory until {@linkcode
 * DeferredSessionStore.flush}, which writes them in one IndexedDB transaction together with
 * changes to other object stores of the same database (docs/web.md section 4, "Receiving"): the
 * page commits the ratchet step of a received message and the conversation that holds its text
 * atomically, as the CLI's `fetch` does with its deferred store (relay.md section 12). A caller
 * flushes before anything leaves the page that depends on a commit (an encrypted message, a
 * published bundle): that is when the account's requirement (durable before use) applies.
 */
export class DeferredSessionStore implements SessionStore {
  readonly #db: IDBDatabase;
  readonly #store: string;
  readonly #inner: KeyValue;
  readonly #pending = new Map<string, Uint8Array | undefined>();

  /** The store `sessions` (default) of the open database `db`, with commits held until flush. */
  constructor(db: IDBDatabase, store = "sessions") {
    this.#db = db;
    this.#store = store;
    this.#inner = new KeyValue(db, store);
  }

  /** The number of keys with a change waiting. */
  get waiting(): number {
    return this.#pending.size;
  }

  /** See {@linkcode SessionStore.get}: a waiting change first. */
  async get(key: string): Promise<Uint8Array | undefined> {
    if (this.#pending.has(key)) return this.#pending.get(key)?.slice();
    return await this.#inner.get(key);
  }

  /** See {@linkcode SessionStore.list}: the stored keys with the waiting changes applied. */
  async list(prefix: string): Promise<string[]> {
    const keys = new Set(await this.#inner.list(prefix));
    for (const [key, value] of this.#pending) {
      if (!key.startsWith(prefix)) continue;
      if (value === undefined) keys.delete(key);
      else keys.add(key);
    }
    return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Holds `changes` (checked now, in order) until the next flush. */
  commit(changes: readonly StoreChange[]): Promise<void> {
    try {
      checkChanges(changes);
    } catch (e) {
      return Promise.reject(e);
    }
    for (const { key, value } of changes) this.#pending.set(key, value?.slice());
    return Promise.resolve();
  }

  /**
   * Writes the waiting changes and `extra` (changes to other object stores of the database) in
   * one durable transaction: all or none. Changes made while it runs wait for the next flush.
   */
  async flush(extra: { store: string; changes: readonly StoreChange[] }[] = []): Promise<void> {
    const mine = [...this.#pending];
    if (mine.length === 0 && extra.every((e) => e.changes.length === 0)) return;
    for (const e of extra) checkChanges(e.changes);
    const names = [...new Set([this.#store, ...extra.map((e) => e.store)])];
    const tx = this.#db.transaction(names, "readwrite", { durability: "strict" });
    const finished = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
    try {
      const put = (store: string, key: string, value: Uint8Array | undefined) =>
        value === undefined
          ? tx.objectStore(store).delete(key)
          : tx.objectStore(store).put(value.slice(), key);
      for (const [key, value] of mine) put(this.#store, key, value);
      for (const e of extra) for (const c of e.changes) put(e.store, c.key, c.value);
    } catch (e) {
      tx.abort();
      await finished.catch(() => {});
      throw e;
    }
    await finished;
    // What was written leaves the waiting list, unless it changed again meanwhile.
    for (const [key, value] of mine) {
      if (this.#pending.get(key) === value) this.#pending.delete(key);
    }
  }

  /** Drops the waiting changes (a received message left on the relay to be read again). */
  discard(): void {
    this.#pending.clear();
  }

  /** Later calls of the underlying view reject; waiting changes are dropped. */
  close(): void {
    this.#pending.clear();
    this.#inner.close();
  }
}
