// SessionStore implementations: MemorySessionStore and SqliteSessionStore (docs/sessions.md §7).
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MemorySessionStore, type SessionStore } from "../../sessions/store.ts";
import { SqliteSessionStore } from "../../sessions/sqlite_store.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-store-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The same behaviour from every store. */
async function contract(store: SessionStore): Promise<void> {
  assert.equal(await store.get("missing"), undefined);
  assert.deepEqual(await store.list(""), []);
  await store.commit([
    { key: "session/b", value: bytes(2) },
    { key: "session/a", value: bytes(1) },
    { key: "sessionx", value: bytes(3) },
    { key: "prekey/1", value: bytes(4, 4) },
  ]);
  assert.deepEqual(await store.get("session/a"), bytes(1));
  assert.deepEqual(await store.list("session/"), ["session/a", "session/b"]);
  assert.deepEqual(await store.list(""), ["prekey/1", "session/a", "session/b", "sessionx"]);
  // Later changes of one commit win; a missing key deletes quietly.
  await store.commit([
    { key: "session/a", value: bytes(9) },
    { key: "session/a", value: bytes(10) },
    { key: "prekey/1" },
    { key: "never-was" },
  ]);
  assert.deepEqual(await store.get("session/a"), bytes(10));
  assert.equal(await store.get("prekey/1"), undefined);
  // A returned value is the caller's copy.
  const got = (await store.get("session/a"))!;
  got[0] = 0;
  assert.deepEqual(await store.get("session/a"), bytes(10));
  // Empty values are values.
  await store.commit([{ key: "empty", value: new Uint8Array(0) }]);
  assert.deepEqual(await store.get("empty"), new Uint8Array(0));
  // A malformed commit changes nothing (all or none).
  const before = await snapshot(store);
  await assert.rejects(
    store.commit([{ key: "new", value: bytes(1) }, { key: "", value: bytes(2) }]),
    TypeError,
  );
  await assert.rejects(
    store.commit([{ key: "new", value: bytes(1) }, { key: "x", value: "no" as never }]),
    TypeError,
  );
  assert.deepEqual(await snapshot(store), before);
  await store.commit([]);
  assert.deepEqual(await snapshot(store), before);
  // Big values.
  const big = crypto.getRandomValues(new Uint8Array(60_000));
  await store.commit([{ key: "big", value: big }]);
  assert.deepEqual(await store.get("big"), big);
}

async function snapshot(store: SessionStore): Promise<Map<string, Uint8Array | undefined>> {
  const out = new Map<string, Uint8Array | undefined>();
  for (const key of await store.list("")) out.set(key, await store.get(key));
  return out;
}

Deno.test("MemorySessionStore keeps the SessionStore contract", async () => {
  const store = new MemorySessionStore();
  await contract(store);
  assert.equal(store.size, 5);
  store.close();
  await assert.rejects(store.get("session/a"), TypeError);
  await assert.rejects(store.commit([]), TypeError);
});

Deno.test("SqliteSessionStore keeps the SessionStore contract and its data across reopening", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.db`;
    const store = new SqliteSessionStore(path);
    await contract(store);
    const before = await snapshot(store);
    store.close();
    await assert.rejects(store.get("session/a"), TypeError);
    const again = new SqliteSessionStore(path);
    assert.deepEqual(await snapshot(again), before);
    again.close();
  });
});

Deno.test("SqliteSessionStore: WAL, one table, and 0600 files", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.db`;
    const store = new SqliteSessionStore(path);
    await store.commit([{ key: "k", value: bytes(1) }]);
    if (Deno.build.os !== "windows") {
      for (const suffix of ["", "-wal", "-shm"]) {
        const mode = (await Deno.stat(path + suffix)).mode! & 0o777;
        assert.equal(mode, 0o600, `${suffix || "database"} mode ${mode.toString(8)}`);
      }
    }
    // A second connection sees the settings and the committed row.
    const db = new DatabaseSync(path);
    assert.equal(
      (db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
      "wal",
    );
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all();
    assert.deepEqual(tables.map((t) => (t as { name: string }).name), ["polycrypt_session_store"]);
    assert.equal(db.prepare("SELECT count(*) AS n FROM polycrypt_session_store").get()!.n, 1);
    db.close();
    store.close();
  });
});

Deno.test("SqliteSessionStore narrows an existing database file to 0600", {
  ignore: Deno.build.os === "windows",
}, async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/wide.db`;
    await Deno.writeFile(path, new Uint8Array(0), { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    const store = new SqliteSessionStore(path);
    await store.commit([{ key: "k", value: bytes(1) }]);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${path}-wal`)).mode! & 0o777, 0o600);
    store.close();
  });
});

Deno.test("SqliteSessionStore rolls a failing commit back whole", async () => {
  await withTempDir(async (dir) => {
    const store = new SqliteSessionStore(`${dir}/s.db`);
    await store.commit([{ key: "a", value: bytes(1) }]);
    // A value SQLite cannot bind fails in the middle of the transaction.
    const bad = {
      key: "c",
      get value() {
        throw new Error("boom");
      },
    } as never;
    await assert.rejects(
      store.commit([{ key: "a", value: bytes(2) }, { key: "b", value: bytes(3) }, bad]),
    );
    assert.deepEqual(await store.get("a"), bytes(1));
    assert.equal(await store.get("b"), undefined);
    // And the store still works afterwards.
    await store.commit([{ key: "b", value: bytes(3) }]);
    assert.deepEqual(await store.list(""), ["a", "b"]);
    store.close();
  });
});

Deno.test("SqliteSessionStore: a commit is visible to another process at once", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/s.db`;
    const store = new SqliteSessionStore(path);
    await store.commit([{ key: "k", value: bytes(42) }]);
    const reader = new SqliteSessionStore(path); // a second connection, as another process would
    assert.deepEqual(await reader.get("k"), bytes(42));
    reader.close();
    store.close();
  });
});
