/**
 * {@linkcode SqliteSessionStore}: a {@linkcode SessionStore} in one SQLite file through
 * `node:sqlite` (docs/sessions.md section 7).
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { checkChanges, type SessionStore, type StoreChange } from "./store.ts";

/** Owner read and write only: the mode of the database and of its `-wal` and `-shm` files. */
const FILE_MODE = 0o600;

type Fs = typeof import("node:fs");
type Sqlite = typeof import("node:sqlite");
interface Process {
  platform?: string;
  getBuiltinModule?: (id: string) => unknown;
}

// node:sqlite and node:fs are reached at run time (as engines/_node.ts does for node:crypto), so
// that the library's entry point still loads where they do not exist (a browser).
function builtins(): { fs: Fs; sqlite: Sqlite; windows: boolean } {
  const process = (globalThis as { process?: Process }).process;
  const fs = process?.getBuiltinModule?.("node:fs") as Fs | undefined;
  const sqlite = process?.getBuiltinModule?.("node:sqlite") as Sqlite | undefined;
  if (!fs || !sqlite?.DatabaseSync) {
    throw new TypeError("SqliteSessionStore needs node:sqlite (Deno 2.2+, Node 22.5+)");
  }
  return { fs, sqlite, windows: process?.platform === "win32" };
}

/** Sets `path`'s mode to 0600 when the file exists and has another one. */
function restrict(fs: Fs, path: string): void {
  let mode;
  try {
    mode = fs.statSync(path).mode;
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return;
    throw e;
  }
  if ((mode & 0o777) !== FILE_MODE) fs.chmodSync(path, FILE_MODE);
}

/**
 * A {@linkcode SessionStore} in one SQLite database file, through `node:sqlite`'s
 * `DatabaseSync`: one table `key TEXT PRIMARY KEY, value BLOB`, the write-ahead log
 * (`journal_mode=WAL`) and `synchronous=FULL`, so that a commit is on disk when
 * {@linkcode SqliteSessionStore.commit} resolves and survives a crash or a power cut whole or
 * not at all. The file is created with mode 0600 (an existing one is set to 0600), and SQLite
 * gives its `-wal` and `-shm` files the database file's mode.
 *
 * One account at a time should use a database: two processes writing the same session would
 * each advance their own copy of its state. Needs `--allow-read` and `--allow-write` for the
 * file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SqliteSessionStore } from "@polycrypt/polycrypt";
 * const dir = await Deno.makeTempDir();
 * const store = new SqliteSessionStore(`${dir}/bob.db`);
 * await store.commit([{ key: "k", value: new Uint8Array([1, 2]) }]);
 * store.close();
 * const again = new SqliteSessionStore(`${dir}/bob.db`); // the value survived
 * assert.deepEqual(await again.get("k"), new Uint8Array([1, 2]));
 * assert.equal((await Deno.stat(`${dir}/bob.db`)).mode! & 0o777, 0o600);
 * again.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SqliteSessionStore implements SessionStore {
  /** The database file's path. */
  readonly path: string;
  #db: DatabaseSync | undefined;
  #get: StatementSync;
  #put: StatementSync;
  #delete: StatementSync;
  #list: StatementSync;
  #begin: StatementSync;
  #end: StatementSync;
  /** Whether the connection runs with `synchronous=NORMAL` (a relaxed commit), else FULL. */
  #relaxed = false;

  /**
   * Opens (or creates) the database at `path`.
   *
   * @param path the database file; its directory must exist
   */
  constructor(path: string) {
    if (typeof path !== "string" || path.length === 0) {
      throw new TypeError("path must be a non-empty string");
    }
    this.path = path;
    const { fs, sqlite, windows } = builtins();
    if (!windows) {
      // Create the file ourselves so that it never exists with a wider mode, whatever the umask.
      fs.closeSync(fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, FILE_MODE));
      for (const suffix of ["", "-wal", "-shm"]) restrict(fs, path + suffix);
    }
    const db = new sqlite.DatabaseSync(path);
    try {
      db.exec("PRAGMA journal_mode=WAL");
      db.exec("PRAGMA synchronous=FULL");
      // Another connection's write transaction is waited for (up to 10 s), not an error.
      db.exec("PRAGMA busy_timeout=10000");
      db.exec(
        "CREATE TABLE IF NOT EXISTS polycrypt_session_store " +
          "(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID",
      );
      this.#get = db.prepare("SELECT value FROM polycrypt_session_store WHERE key = ?");
      this.#put = db.prepare(
        "INSERT INTO polycrypt_session_store (key, value) VALUES (?, ?) " +
          "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      );
      this.#delete = db.prepare("DELETE FROM polycrypt_session_store WHERE key = ?");
      this.#begin = db.prepare("BEGIN IMMEDIATE");
      this.#end = db.prepare("COMMIT");
      this.#list = db.prepare(
        "SELECT key FROM polycrypt_session_store WHERE key >= ? ORDER BY key",
      );
    } catch (e) {
      db.close();
      throw e;
    }
    this.#db = db;
    if (!windows) { for (const suffix of ["-wal", "-shm"]) restrict(fs, path + suffix); }
  }

  #open(): DatabaseSync {
    if (!this.#db) throw new TypeError("the store is closed");
    return this.#db;
  }

  /** See {@linkcode SessionStore.get}. */
  get(key: string): Promise<Uint8Array | undefined> {
    try {
      this.#open();
      const row = this.#get.get(key) as { value: Uint8Array } | undefined;
      return Promise.resolve(row ? new Uint8Array(row.value) : undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** See {@linkcode SessionStore.list}. */
  list(prefix: string): Promise<string[]> {
    try {
      this.#open();
      const keys: string[] = [];
      for (const row of this.#list.iterate(prefix) as Iterable<{ key: string }>) {
        if (!row.key.startsWith(prefix)) break;
        keys.push(row.key);
      }
      return Promise.resolve(keys);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * See {@linkcode SessionStore.commit}: one SQLite transaction, durable on resolve (with
   * `durable: false`, written to the write-ahead log without an fsync: a power failure may lose
   * it, a crash of the process does not).
   */
  commit(changes: readonly StoreChange[], options?: { durable?: boolean }): Promise<void> {
    try {
      const db = this.#open();
      checkChanges(changes);
      if (changes.length === 0) return Promise.resolve();
      // synchronous=NORMAL in WAL mode: the commit is written to the log, not fsynced; the next
      // FULL commit (or checkpoint) syncs it with everything before it.
      const relaxed = options?.durable === false;
      if (relaxed !== this.#relaxed) {
        db.exec(relaxed ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL");
        this.#relaxed = relaxed;
      }
      this.#begin.run();
      try {
        for (const { key, value } of changes) {
          if (value === undefined) this.#delete.run(key);
          else this.#put.run(key, value);
        }
        this.#end.run();
      } catch (e) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw e;
      }
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Closes the database (checkpointing the write-ahead log); later calls reject. */
  close(): void {
    const db = this.#db;
    this.#db = undefined;
    db?.close();
  }
}
