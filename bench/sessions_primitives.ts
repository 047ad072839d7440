/**
 * What a session message is made of, timed one primitive at a time in the benchmark's own run
 * (`deno task bench:sessions`), so that a missed rate can be traced to KDF, AEAD, DH, KEM, the
 * store or the event loop. The KDFs and the DH are the ratchet's own (sessions/_kdf.ts), the AEAD
 * and the KEMs the registry's, the stores the account's.
 *
 * @module
 */
import { registry } from "../engines/mod.ts";
import { dh, generateDh, kdfCk, kdfRkHe, messageKeys } from "../sessions/_kdf.ts";
import { MemorySessionStore } from "../sessions/store.ts";
import { SqliteSessionStore } from "../sessions/sqlite_store.ts";

/** One primitive: microseconds per call (the fastest of 5 timed batches). */
export interface Primitive {
  name: string;
  /** What it stands for in a message. */
  role: string;
  us: number;
}

/**
 * Times `fn` in batches of at least `minMs` each; microseconds per call in the fastest batch (the
 * one least disturbed by other processes on a shared machine).
 */
async function time(fn: () => unknown, minMs = 40, batches = 5): Promise<number> {
  for (let i = 0; i < 10; i++) await fn(); // warm-up
  let n = 1;
  // Find a batch size that takes at least minMs.
  while (true) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn();
    if (performance.now() - t0 >= minMs || n >= 1 << 20) break;
    n *= 2;
  }
  const per: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn();
    per.push((performance.now() - t0) * 1000 / n);
  }
  return Math.min(...per);
}

/** Times the primitives of a message; `dir` holds a scratch SQLite file. */
export async function measurePrimitives(dir: string): Promise<Primitive[]> {
  const out: Primitive[] = [];
  const add = async (name: string, role: string, fn: () => unknown, minMs?: number) => {
    out.push({ name, role, us: await time(fn, minMs) });
  };
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const ad = crypto.getRandomValues(new Uint8Array(32));
  const header = crypto.getRandomValues(new Uint8Array(41));
  const body = crypto.getRandomValues(new Uint8Array(1056));
  const state = crypto.getRandomValues(new Uint8Array(3072)); // a session record: 3-5 KB

  await add(
    "async call (await of a resolved promise)",
    "each await in encrypt/decrypt",
    () => Promise.resolve(),
  );
  await add("KDF_CK (2 HMAC-SHA-256)", "every message, each side", () => kdfCk(key));
  await add(
    "message keys (HKDF-SHA-256, 44 bytes)",
    "every message, each side",
    () => messageKeys(key, "aes-256-gcm", 32, 12),
  );
  await add(
    "KDF_RK_HE (HKDF-SHA-256, 96 bytes)",
    "each DH step, each side",
    () => kdfRkHe(key, key, new Uint8Array(0), "ml-kem-768"),
  );
  const pair = generateDh();
  const peer = generateDh();
  await add("X25519 key pair", "each DH step, sender", () => generateDh());
  await add("X25519 DH", "each DH step, each side", () => dh(pair.secretKey, peer.publicKey));

  const aead = registry.aead("aes-256-gcm");
  const sealedHeader = await aead.seal(key, nonce, header, ad);
  const sealedBody = await aead.seal(key, nonce, body, ad);
  const sealedState = await aead.seal(key, nonce, state, ad);
  await add(
    "AES-256-GCM seal, 41-byte header",
    "every message, sender",
    () => aead.seal(key, nonce, header, ad),
  );
  await add(
    "AES-256-GCM open, 41-byte header",
    "every message, receiver",
    () => aead.open(key, nonce, sealedHeader, ad),
  );
  await add(
    "AES-256-GCM seal, 1 KiB body (padded)",
    "every message, sender",
    () => aead.seal(key, nonce, body, ad),
  );
  await add(
    "AES-256-GCM open, 1 KiB body (padded)",
    "every message, receiver",
    () => aead.open(key, nonce, sealedBody, ad),
  );
  await add(
    "AES-256-GCM seal, 3 KiB (a session record at rest)",
    "every message, each side",
    () => aead.seal(key, nonce, state, ad),
  );
  await add(
    "AES-256-GCM open, 3 KiB (a session record at rest)",
    "every message, each side",
    () => aead.open(key, nonce, sealedState, ad),
  );

  const kem = registry.kem("ml-kem-768");
  const kp = await kem.generateKeyPair();
  const enc = await kem.encapsulate(kp.publicKey);
  await add("ML-KEM-768 key pair", "each KEM step, sender", () => kem.generateKeyPair(), 100);
  await add(
    "ML-KEM-768 encapsulate",
    "each KEM step, sender",
    () => kem.encapsulate(kp.publicKey),
    100,
  );
  await add(
    "ML-KEM-768 decapsulate",
    "each KEM step, receiver",
    () => kem.decapsulate(enc.encapsulation, kp.secretKey),
    100,
  );

  // Every commit writes new bytes, as a sealed state (random nonce) does: SQLite skips writing a
  // row whose bytes did not change, and with it the fsync.
  const memory = new MemorySessionStore();
  let i = 0;
  const fresh = () => {
    i++;
    new DataView(state.buffer).setUint32(0, i);
    return state.slice();
  };
  await add(
    "MemorySessionStore commit (1 value, 3 KiB)",
    "every message, each side",
    () => memory.commit([{ key: `k${i % 8}`, value: fresh() }]),
  );
  await add("MemorySessionStore get", "every message, each side", () => memory.get("k1"));
  const sqlite = new SqliteSessionStore(`${dir}/primitives.db`);
  try {
    await add(
      "SqliteSessionStore commit (1 value, 3 KiB; WAL, synchronous=FULL)",
      "every message, each side",
      () => sqlite.commit([{ key: `k${i % 8}`, value: fresh() }]),
      200,
    );
    await add("SqliteSessionStore get", "every message, each side", () => sqlite.get("k1"));
  } finally {
    await sqlite.close?.();
  }
  return out;
}
