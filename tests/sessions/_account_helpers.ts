// Helpers of the account-level session tests (account, schedule, security).
import assert from "node:assert/strict";
import { generateIdentity } from "../../mod.ts";
import { MemorySessionStore, type SessionStore, type StoreChange } from "../../sessions/store.ts";

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

const identities: Promise<{ identity: string; recipient: string }>[] = [];

/** The `n`th test identity of this process (version 2, X25519 KEM; sessions derive their own IK). */
export function identity(n: number): Promise<{ identity: string; recipient: string }> {
  while (identities.length <= n) identities.push(generateIdentity("x25519"));
  return identities[n];
}

/** Every key and value of `store`. */
export async function snapshot(store: SessionStore): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const key of await store.list("")) out.set(key, (await store.get(key))!);
  return out;
}

/** A memory store holding a copy of `store`'s content (what a thief copies). */
export async function copyStore(store: SessionStore): Promise<MemorySessionStore> {
  const copy = new MemorySessionStore();
  const changes = [...(await snapshot(store))].map(([key, value]) => ({ key, value }));
  await copy.commit(changes);
  return copy;
}

/** A store that counts commits (and forwards everything to a memory store). */
export class CountingStore implements SessionStore {
  readonly inner: SessionStore;
  commits = 0;
  constructor(inner: SessionStore = new MemorySessionStore()) {
    this.inner = inner;
  }
  get(key: string): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  commit(changes: readonly StoreChange[]): Promise<void> {
    this.commits++;
    return this.inner.commit(changes);
  }
  close(): Promise<void> | void {
    return this.inner.close?.();
  }
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-sessions-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts that two snapshots are byte-identical. */
export function assertSameStore(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [key, value] of a) assert.deepEqual(b.get(key), value, `value of ${key} changed`);
}
