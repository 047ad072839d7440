// AEAD engines: conformance on every backend and the Wycheproof AES-GCM, ChaCha20-Poly1305 and
// XChaCha20-Poly1305 vectors through the engines.
import assert from "node:assert/strict";
import {
  aes256Gcm,
  aes256GcmSiv,
  chacha20Poly1305,
  createAes256Gcm,
  createChaCha20Poly1305,
  createXChaCha20Poly1305,
  DecryptionError,
  xchacha20Poly1305,
} from "../../mod.ts";
import type { AeadEngine } from "../../mod.ts";
import { aeadConformance } from "../../testing/mod.ts";
import { hex, loadWycheproof } from "./_wycheproof.ts";

const nobleGcm = createAes256Gcm({ backend: "noble" });
const nodeGcm = createAes256Gcm({ backend: "node" });
const webGcm = createAes256Gcm({ backend: "webcrypto" });
const nobleChaCha = createChaCha20Poly1305({ backend: "noble" });
const nobleXChaCha = createXChaCha20Poly1305({ backend: "noble" });
const ENGINES: [string, AeadEngine][] = [
  ["aes-256-gcm (auto)", aes256Gcm],
  ["aes-256-gcm (webcrypto)", webGcm],
  ["aes-256-gcm (node)", nodeGcm],
  ["aes-256-gcm (noble)", nobleGcm],
  ["chacha20-poly1305 (node)", chacha20Poly1305],
  ["chacha20-poly1305 (noble)", nobleChaCha],
  ["xchacha20-poly1305 (node)", xchacha20Poly1305],
  ["xchacha20-poly1305 (noble)", nobleXChaCha],
  ["aes-256-gcm-siv", aes256GcmSiv],
];

for (const [name, engine] of ENGINES) {
  Deno.test(`${name} conformance`, (t) => aeadConformance(t, engine));
}

/** Runs a Wycheproof AEAD file; returns counts by outcome. */
async function runAeadVectors(
  file: string,
  engine: AeadEngine,
  select: (group: Record<string, number>) => boolean,
): Promise<
  { valid: number; invalid: number; rangeErrors: number; skipped: number; total: number }
> {
  const { cases, numberOfTests } = await loadWycheproof(file);
  const counts = { valid: 0, invalid: 0, rangeErrors: 0, skipped: 0, total: numberOfTests };
  for (const { group, test } of cases) {
    if (!select(group)) {
      counts.skipped++;
      continue;
    }
    const [key, iv, aad, msg, ct, tag] = [test.key, test.iv, test.aad, test.msg, test.ct, test.tag]
      .map(hex);
    const sealed = new Uint8Array([...ct, ...tag]);
    if (iv.length !== engine.nonceSize || key.length !== engine.keySize) {
      // The engine's boundary refuses sizes it does not take, before any cryptography.
      assert.equal(test.result, "invalid", `tc ${test.tcId}`);
      await assert.rejects(engine.open(key, iv, sealed, aad), RangeError, `tc ${test.tcId}`);
      counts.rangeErrors++;
    } else if (test.result === "valid") {
      assert.deepEqual(await engine.seal(key, iv, msg, aad), sealed, `tc ${test.tcId} seal`);
      assert.deepEqual(await engine.open(key, iv, sealed, aad), msg, `tc ${test.tcId} open`);
      counts.valid++;
    } else {
      assert.equal(test.result, "invalid", `tc ${test.tcId}: no acceptable cases expected`);
      await assert.rejects(engine.open(key, iv, sealed, aad), DecryptionError, `tc ${test.tcId}`);
      counts.invalid++;
    }
  }
  return counts;
}

// Only 96-bit IVs with 256-bit keys and 128-bit tags: the only AES-GCM our engines take.
const gcmSubset = (g: Record<string, number>) =>
  g.ivSize === 96 && g.keySize === 256 && g.tagSize === 128;
const all = () => true;

Deno.test("Wycheproof aes_gcm_test.json (96-bit IV, 256-bit key subset), every backend", async () => {
  for (const engine of [aes256Gcm, webGcm, nodeGcm, nobleGcm]) {
    const c = await runAeadVectors("aes_gcm_test.json", engine, gcmSubset);
    assert.equal(c.total, 316);
    assert.deepEqual({ valid: c.valid, invalid: c.invalid, rangeErrors: c.rangeErrors }, {
      valid: 39,
      invalid: 27,
      rangeErrors: 0,
    });
    assert.equal(c.valid + c.invalid, 66);
  }
});

Deno.test("aes-256-gcm backends agree around the auto backend's size threshold", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const aad = crypto.getRandomValues(new Uint8Array(13));
  for (const size of [0, 1, 4079, 4080, 4095, 4096, 4097, 70000]) {
    const pt = new Uint8Array(size).map((_, i) => (i * 131 + size) & 0xff);
    const sealed = await nobleGcm.seal(key, nonce, pt, aad);
    for (const engine of [aes256Gcm, webGcm, nodeGcm]) {
      assert.deepEqual(await engine.seal(key, nonce, pt, aad), sealed, `${size}`);
      assert.deepEqual(await engine.open(key, nonce, sealed, aad), pt, `${size}`);
      const keyed = await engine.withKey!(key);
      assert.deepEqual(await keyed.seal(nonce, pt, aad), sealed, `${size} keyed`);
      assert.deepEqual(await keyed.open(nonce, sealed, aad), pt, `${size} keyed`);
      const bad = sealed.slice();
      bad[bad.length - 1] ^= 1;
      await assert.rejects(keyed.open(nonce, bad, aad), DecryptionError, `${size} tampered`);
    }
  }
});

for (
  const { file, valid, total, engine, noble, create } of [
    {
      file: "chacha20_poly1305_test.json",
      valid: 256,
      total: 325,
      engine: chacha20Poly1305,
      noble: nobleChaCha,
      create: createChaCha20Poly1305,
    },
    {
      file: "xchacha20_poly1305_test.json",
      valid: 246,
      total: 315,
      engine: xchacha20Poly1305,
      noble: nobleXChaCha,
      create: createXChaCha20Poly1305,
    },
  ]
) {
  Deno.test(`Wycheproof ${file}, all ${total}, both backends`, async () => {
    assert.equal(engine.backend, "node");
    for (const e of [engine, noble]) {
      const c = await runAeadVectors(file, e, all);
      assert.deepEqual(c, { valid, invalid: 60, rangeErrors: 9, skipped: 0, total });
    }
    assert.throws(() => create({ backend: "wasm" as "node" }), TypeError);
  });
}

Deno.test("xchacha20-poly1305 backends agree on long inputs, keyed or not", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(24));
  const aad = crypto.getRandomValues(new Uint8Array(7));
  for (const size of [0, 63, 64, 65, 70000]) {
    const pt = new Uint8Array(size).map((_, i) => (i * 29 + size) & 0xff);
    const sealed = await nobleXChaCha.seal(key, nonce, pt, aad);
    assert.deepEqual(await xchacha20Poly1305.seal(key, nonce, pt, aad), sealed, `${size}`);
    const keyed = await xchacha20Poly1305.withKey!(key);
    assert.deepEqual(await keyed.seal(nonce, pt, aad), sealed, `${size} keyed`);
    assert.deepEqual(await keyed.open(nonce, sealed, aad), pt, `${size} keyed`);
    // A nonce differing only in its HChaCha20 half (bytes 0..16) must not open it.
    const other = nonce.slice();
    other[3] ^= 1;
    await assert.rejects(keyed.open(other, sealed, aad), DecryptionError, `${size} nonce`);
  }
});

Deno.test("keyed AEADs read their input during the call: reusing the buffer at once is safe", async () => {
  // The promise behind KeyedAead.readsInputOnCall, which STREAM relies on to seal in place:
  // the input is overwritten right after the call, before the promise settles, and on the very
  // first large input (where aes-256-gcm's auto backend is still importing its WebCrypto key).
  const key = crypto.getRandomValues(new Uint8Array(32));
  for (
    const engine of [aes256Gcm, webGcm, nodeGcm, nobleGcm, chacha20Poly1305, xchacha20Poly1305]
  ) {
    const keyed = await engine.withKey!(key);
    assert.equal(keyed.readsInputOnCall, true, engine.id);
    const nonce = new Uint8Array(engine.nonceSize).fill(1);
    for (const size of [100, 70000, 70000]) {
      const pt = new Uint8Array(size).map((_, i) => i & 0xff);
      const expected = pt.slice();
      const sealing = keyed.seal(nonce, pt, undefined);
      pt.fill(0xee);
      const sealed = await sealing;
      const opening = keyed.open(nonce, sealed.slice(), undefined);
      assert.deepEqual(await opening, expected, `${engine.id} ${engine.backend} ${size}`);
      // A fresh keyed object, so that its first large open is also the one importing the key.
      const ct = sealed.slice();
      const openingReused = (await engine.withKey!(key)).open(nonce, ct, undefined);
      ct.fill(0);
      assert.deepEqual(
        await openingReused,
        expected,
        `${engine.id} ${engine.backend} ${size} open`,
      );
    }
  }
});
