// Test code, not part of the page: bundled by tests/web/store_test.ts (esbuild) and run in Chromium: the SessionStore contract on
// IndexedDbSessionStore, and two accounts whose sessions live in IndexedDB. Results go to
// `globalThis.storeResults` as [name, passed, detail] rows.
import {
  DeferredSessionStore,
  IndexedDbSessionStore,
  KeyValue,
  openDatabase,
} from "./indexeddb_store.ts";
import { generateIdentity } from "../mod.ts";
import { createAccount } from "../sessions/account.ts";

type Row = [string, boolean, string];
const rows: Row[] = [];
const enc = new TextEncoder();
const dec = new TextDecoder();

async function check(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    rows.push([name, true, ""]);
  } catch (e) {
    rows.push([name, false, String((e as Error)?.stack ?? e)]);
  }
}

function same(a: unknown, b: unknown, what: string): void {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  if (x !== y) throw new Error(`${what}: ${x} !== ${y}`);
}

async function rejects(p: Promise<unknown>, type: ErrorConstructor, what: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (e instanceof type) return;
    throw new Error(`${what}: wrong error ${e}`);
  }
  throw new Error(`${what}: did not reject`);
}

async function run(): Promise<void> {
  const db = await openDatabase(`store-test-${Date.now()}`, ["sessions", "records"]);
  const store = new IndexedDbSessionStore(db);
  const bytes = (s: string) => enc.encode(s);

  await check("get of a missing key is undefined", async () => {
    same(await store.get("nothing"), undefined, "missing");
  });
  await check("commit sets, get reads, list is sorted by code unit and filtered", async () => {
    await store.commit([
      { key: "b/2", value: bytes("two") },
      { key: "a/1", value: bytes("one") },
      { key: "b/10", value: bytes("ten") },
      { key: "b", value: bytes("bare") },
      { key: "c/\u00e9", value: bytes("e") },
      { key: "b/\uffff", value: bytes("last") },
    ]);
    same(dec.decode(await store.get("a/1")), "one", "get");
    same(await store.list("b/"), ["b/10", "b/2", "b/\uffff"], "list b/");
    same(await store.list(""), ["a/1", "b", "b/10", "b/2", "b/\uffff", "c/\u00e9"], "list all");
    same(await store.list("zz"), [], "list none");
  });
  await check("a change without value deletes; deleting a missing key is fine", async () => {
    await store.commit([{ key: "a/1" }, { key: "never" }]);
    same(await store.get("a/1"), undefined, "deleted");
  });
  await check("changes apply in order within one commit", async () => {
    await store.commit([{ key: "k", value: bytes("x") }, { key: "k" }, {
      key: "k",
      value: bytes("y"),
    }]);
    same(dec.decode(await store.get("k")), "y", "last wins");
  });
  await check(
    "a malformed list of changes is refused whole (TypeError), nothing applied",
    async () => {
      await rejects(
        store.commit([{ key: "good", value: bytes("1") }, { key: "", value: bytes("2") }]),
        TypeError,
        "empty key",
      );
      await rejects(
        store.commit([{ key: "good", value: "text" as unknown as Uint8Array }]),
        TypeError,
        "string value",
      );
      same(await store.get("good"), undefined, "nothing applied");
    },
  );
  await check("values are copied in: changing the caller's bytes changes nothing", async () => {
    const value = bytes("abc");
    await store.commit([{ key: "copy", value }]);
    value[0] = 0;
    same(dec.decode(await store.get("copy")), "abc", "copied");
  });
  await check("a failing transaction leaves nothing (atomic)", async () => {
    // A Uint8Array (so it passes the checks) whose copy IndexedDB cannot store: the second put
    // throws inside the transaction, after the first was queued.
    class Uncloneable extends Uint8Array {
      override slice(): Uint8Array<ArrayBuffer> {
        return (() => 0) as unknown as Uint8Array<ArrayBuffer>;
      }
    }
    await rejects(
      store.commit([
        { key: "atomic-1", value: bytes("1") },
        { key: "atomic-2", value: new Uncloneable(1) },
      ]),
      DOMException as unknown as ErrorConstructor,
      "uncloneable value",
    );
    same(await store.get("atomic-1"), undefined, "first change rolled back");
  });
  await check("two accounts hold their sessions in IndexedDB across reopening", async () => {
    const alice = await generateIdentity();
    const bob = await generateIdentity();
    const adb = await openDatabase(`alice-${Date.now()}`, ["sessions"]);
    const bdb = await openDatabase(`bob-${Date.now()}`, ["sessions"]);
    let a = await createAccount({
      identity: alice.identity,
      store: new IndexedDbSessionStore(adb),
    });
    let b = await createAccount({ identity: bob.identity, store: new IndexedDbSessionStore(bdb) });
    const first = await a.encrypt(await b.prekeyBundle({ oneTimeKeys: 2 }), bytes("hello Bob"));
    const got = await b.decrypt(first);
    same(dec.decode(got.data), "hello Bob", "first");
    await a.close();
    await b.close();
    // Reopened from the same databases: the sessions continue, no new handshake.
    a = await createAccount({ identity: alice.identity, store: new IndexedDbSessionStore(adb) });
    b = await createAccount({ identity: bob.identity, store: new IndexedDbSessionStore(bdb) });
    const reply = await b.decrypt(await a.encrypt(b.fingerprint, bytes("again")));
    same(dec.decode(reply.data), "again", "after reopening");
    const back = await a.decrypt(await b.encrypt(a.fingerprint, bytes("hi Alice")));
    same(dec.decode(back.data), "hi Alice", "reply");
    // The store holds no name or key in the clear.
    const keys = await new IndexedDbSessionStore(adb).list("");
    if (keys.some((k) => k.includes(b.fingerprint.replaceAll(" ", "")) || k.includes("session"))) {
      throw new Error(`a key in the clear: ${keys.join(", ")}`);
    }
    await a.close();
    await b.close();
  });
  await check(
    "deferred: commits wait for flush, which writes them with other stores' changes",
    async () => {
      const ddb = await openDatabase(`deferred-${Date.now()}`, ["sessions", "records"]);
      const deferred = new DeferredSessionStore(ddb);
      const stored = new KeyValue(ddb, "sessions");
      await deferred.commit([{ key: "s/1", value: bytes("ratchet") }, { key: "s/0" }]);
      same(dec.decode(await deferred.get("s/1")), "ratchet", "seen through the deferred store");
      same(await deferred.list("s/"), ["s/1"], "listed");
      same(await stored.get("s/1"), undefined, "not written yet");
      await deferred.flush([{
        store: "records",
        changes: [{ key: "chat", value: bytes("text") }],
      }]);
      same(dec.decode(await stored.get("s/1")), "ratchet", "written");
      same(dec.decode(await new KeyValue(ddb, "records").get("chat")), "text", "with the record");
      same(deferred.waiting, 0, "nothing waits");
    },
  );
  await check(
    "deferred: a flush that fails writes nothing, and the changes still wait",
    async () => {
      const ddb = await openDatabase(`deferred-fail-${Date.now()}`, ["sessions", "records"]);
      const deferred = new DeferredSessionStore(ddb);
      await deferred.commit([{ key: "s/1", value: bytes("ratchet") }]);
      class Uncloneable extends Uint8Array {
        override slice(): Uint8Array<ArrayBuffer> {
          return (() => 0) as unknown as Uint8Array<ArrayBuffer>;
        }
      }
      await rejects(
        deferred.flush([{
          store: "records",
          changes: [{ key: "bad", value: new Uncloneable(1) }],
        }]),
        DOMException as unknown as ErrorConstructor,
        "uncloneable record",
      );
      same(
        await new KeyValue(ddb, "sessions").get("s/1"),
        undefined,
        "the session change was not written",
      );
      same(deferred.waiting, 1, "it still waits");
      await deferred.flush();
      same(dec.decode(await new KeyValue(ddb, "sessions").get("s/1")), "ratchet", "written later");
    },
  );
  await check("a closed store refuses", async () => {
    const s = new IndexedDbSessionStore(db);
    s.close();
    await rejects(s.get("k"), TypeError, "get after close");
  });
}

run().then(
  () => ((globalThis as unknown as { storeResults: Row[] }).storeResults = rows),
  (
    e,
  ) => ((globalThis as unknown as { storeResults: Row[] }).storeResults = [[
    "run",
    false,
    String(e),
  ]]),
);
