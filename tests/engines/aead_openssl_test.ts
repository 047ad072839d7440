// The libcrypto (FFI) AEAD backend (engines/symmetric/_openssl.ts): the Wycheproof vectors and
// tag tampering on the "openssl" engines, the same bytes as noble and as the fallback, and STREAM
// through its synchronous batches against STREAM through the engines' promises, in this process
// (fallback forced) and in a child without --allow-ffi.
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
import { aeadInto } from "../../engines/symmetric/_aead.ts";
import { disableOpensslAeadForTesting, opensslAead } from "../../engines/symmetric/_openssl.ts";
import { deriveStreamKeys, openStream, sealStream, type StreamKeys } from "../../cascade/stream.ts";
import { collect } from "../../cascade/_reader.ts";
import { hex, loadWycheproof } from "./_wycheproof.ts";
import { runDenoScript } from "../_process.ts";

// The test task grants --allow-ffi and Linux CI has OpenSSL 3; elsewhere these tests are ignored.
const available = !(opensslAead() instanceof Error);
const ignore = !available;

const noble = {
  "aes-256-gcm": createAes256Gcm({ backend: "noble" }),
  "chacha20-poly1305": createChaCha20Poly1305({ backend: "noble" }),
  "xchacha20-poly1305": createXChaCha20Poly1305({ backend: "noble" }),
};
const openssl = () => ({
  "aes-256-gcm": createAes256Gcm({ backend: "openssl" }),
  "chacha20-poly1305": createChaCha20Poly1305({ backend: "openssl" }),
  "xchacha20-poly1305": createXChaCha20Poly1305({ backend: "openssl" }),
});

/** Deterministic bytes (getRandomValues gives at most 64 KiB at a time). */
function bytes(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

Deno.test({
  name: "openssl backends: conformance",
  ignore,
  fn: async (t) => {
    for (const [id, engine] of Object.entries(openssl())) {
      assert.equal(engine.backend, "openssl");
      await t.step(id, (t) => aeadConformance(t, engine));
    }
  },
});

Deno.test({
  name: "openssl backends: Wycheproof AES-GCM (256-bit key, 96-bit IV), ChaCha20-Poly1305 and " +
    "XChaCha20-Poly1305",
  ignore,
  fn: async () => {
    const engines = openssl();
    const files: [string, AeadEngine, (g: Record<string, number>) => boolean, number, number][] = [
      [
        "aes_gcm_test.json",
        engines["aes-256-gcm"],
        (g) => g.ivSize === 96 && g.keySize === 256 && g.tagSize === 128,
        39,
        27,
      ],
      ["chacha20_poly1305_test.json", engines["chacha20-poly1305"], () => true, 256, 60],
      ["xchacha20_poly1305_test.json", engines["xchacha20-poly1305"], () => true, 246, 60],
    ];
    for (const [file, engine, select, valid, invalid] of files) {
      const { cases } = await loadWycheproof(file);
      const counts = { valid: 0, invalid: 0 };
      for (const { group, test } of cases) {
        if (!select(group)) continue;
        const [key, iv, aad, msg, ct, tag] = [
          test.key,
          test.iv,
          test.aad,
          test.msg,
          test.ct,
          test.tag,
        ]
          .map(hex);
        if (iv.length !== engine.nonceSize || key.length !== engine.keySize) continue;
        const sealed = new Uint8Array([...ct, ...tag]);
        if (test.result === "valid") {
          assert.deepEqual(await engine.seal(key, iv, msg, aad), sealed, `${file} ${test.tcId}`);
          assert.deepEqual(await engine.open(key, iv, sealed, aad), msg, `${file} ${test.tcId}`);
          if (aad.length === 0) {
            // The synchronous operations STREAM uses, on the same vector.
            const into = aeadInto(await engine.withKey!(key))!;
            const out = new Uint8Array(sealed.length);
            into.sealInto(iv, msg, out);
            assert.deepEqual(out, sealed, `${file} ${test.tcId} sealInto`);
            const plain = new Uint8Array(msg.length);
            assert.equal(into.openInto(iv, sealed, plain), true);
            assert.deepEqual(plain, msg, `${file} ${test.tcId} openInto`);
          }
          counts.valid++;
        } else {
          assert.equal(test.result, "invalid", `${file} ${test.tcId}`);
          await assert.rejects(engine.open(key, iv, sealed, aad), DecryptionError, `${test.tcId}`);
          counts.invalid++;
        }
      }
      assert.deepEqual(counts, { valid, invalid }, file);
    }
  },
});

Deno.test({
  name: "openssl backends: the same bytes as noble, and any flipped bit is refused",
  ignore,
  fn: async () => {
    const engines = openssl();
    for (const id of Object.keys(noble) as (keyof typeof noble)[]) {
      const [ours, theirs] = [engines[id], noble[id]];
      const key = bytes(32, 1);
      const nonce = bytes(ours.nonceSize, 2);
      for (const size of [0, 1, 15, 16, 17, 4096, 65536, 65537, 200_000]) {
        const pt = bytes(size, size);
        for (const aad of [new Uint8Array(0), bytes(13, 3)]) {
          const sealed = await theirs.seal(key, nonce, pt, aad);
          assert.deepEqual(await ours.seal(key, nonce, pt, aad), sealed, `${id} ${size}`);
          assert.deepEqual(await ours.open(key, nonce, sealed, aad), pt, `${id} ${size}`);
          for (const at of [0, sealed.length >> 1, sealed.length - 16, sealed.length - 1]) {
            const bad = sealed.slice();
            bad[at] ^= 0x01;
            await assert.rejects(ours.open(key, nonce, bad, aad), DecryptionError, `${id} ${at}`);
          }
          await assert.rejects(ours.open(key, nonce, sealed.subarray(0, 15), aad), DecryptionError);
        }
        // The keyed synchronous path refuses a bad tag and leaves nothing decrypted behind.
        const into = aeadInto(await ours.withKey!(key))!;
        const sealed = await theirs.seal(key, nonce, pt);
        sealed[sealed.length - 1] ^= 0x80;
        const out = new Uint8Array(size).fill(0xaa);
        assert.equal(into.openInto(nonce, sealed, out), false, `${id} ${size} openInto`);
        assert.ok(out.every((b) => b === 0), `${id} ${size}: out zeroed`);
      }
    }
  },
});

Deno.test({
  name: "the default engines bind libcrypto for STREAM when FFI is granted, and not when disabled",
  ignore,
  fn: async () => {
    const key = bytes(32, 9);
    for (const engine of [aes256Gcm, chacha20Poly1305, xchacha20Poly1305]) {
      assert.ok(aeadInto(await engine.withKey!(key)), engine.id);
    }
    // AES-GCM-SIV has no libcrypto route: STREAM keeps its promises.
    assert.equal(aeadInto(await aes256GcmSiv.withKey!(key)), undefined);
    disableOpensslAeadForTesting(true);
    try {
      for (const engine of [aes256Gcm, chacha20Poly1305, xchacha20Poly1305]) {
        assert.equal(aeadInto(await engine.withKey!(key)), undefined, engine.id);
      }
      assert.throws(() => createAes256Gcm({ backend: "openssl" }), /disabled/);
      assert.throws(() => createChaCha20Poly1305({ backend: "openssl" }), /disabled/);
    } finally {
      disableOpensslAeadForTesting(false);
    }
  },
});

const STACKS: AeadEngine[][] = [
  [aes256Gcm],
  [chacha20Poly1305],
  [xchacha20Poly1305],
  [aes256Gcm, xchacha20Poly1305],
  [chacha20Poly1305, aes256Gcm, xchacha20Poly1305],
];
const SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536, (1 << 20) + 5, 2 * 65536 * 17 - 3];

/** Splits `data` into the pieces a reader would hand STREAM: a fixed size, or ragged. */
function pieces(data: Uint8Array, size: number | "ragged"): Uint8Array[] {
  const out: Uint8Array[] = [];
  let step = 0;
  for (let i = 0; i < data.length;) {
    const n = size === "ragged" ? [1, 65535, 70000, 17, 1 << 20][step++ % 5] : size;
    out.push(data.subarray(i, i + n));
    i += n;
  }
  return out;
}

async function* from(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* parts;
}

/** STREAM's bytes for `data` under `keys`, with the synchronous batches or without. */
async function seal(data: Uint8Array, keys: StreamKeys, pad: boolean, fallback: boolean) {
  disableOpensslAeadForTesting(fallback);
  try {
    return await collect(sealStream(from(pieces(data, "ragged")), keys, pad));
  } finally {
    disableOpensslAeadForTesting(false);
  }
}

async function open(sealed: Uint8Array, keys: StreamKeys, pad: boolean, fallback: boolean) {
  disableOpensslAeadForTesting(fallback);
  try {
    return await collect(openStream(from(pieces(sealed, 1 << 20)), keys, pad));
  } finally {
    disableOpensslAeadForTesting(false);
  }
}

Deno.test({
  name: "STREAM: libcrypto's batches and the promise path give and take the same bytes",
  ignore,
  fn: async () => {
    for (const stack of STACKS) {
      const keys = await deriveStreamKeys(bytes(32, 4), bytes(16, 5), stack);
      for (const size of SIZES) {
        const data = bytes(size, size + stack.length);
        for (const pad of [true, false]) {
          const name = `${stack.map((a) => a.id).join("+")} ${size} pad=${pad}`;
          const batched = await seal(data, keys, pad, false);
          assert.deepEqual(batched, await seal(data, keys, pad, true), name);
          assert.deepEqual(await open(batched, keys, pad, false), data, `${name} open`);
          assert.deepEqual(await open(batched, keys, pad, true), data, `${name} open fallback`);
        }
      }
    }
  },
});

Deno.test({
  name: "STREAM on libcrypto refuses tampering, truncation, extension and reordering",
  ignore,
  fn: async () => {
    const keys = await deriveStreamKeys(bytes(32, 6), bytes(16, 7), [aes256Gcm, chacha20Poly1305]);
    const chunk = 65536 + 32;
    const data = bytes(5 * 65536 + 100, 8);
    const sealed = await seal(data, keys, true, false);
    const refused = async (bad: Uint8Array, what: string) => {
      for (const size of [1 << 20, 1000, chunk, chunk * 2]) {
        await assert.rejects(
          collect(openStream(from(pieces(bad, size)), keys, true)),
          DecryptionError,
          `${what} (${size}-byte pieces)`,
        );
      }
    };
    for (const at of [0, chunk - 1, 2 * chunk + 5, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[at] ^= 0x20;
      await refused(bad, `byte ${at} flipped`);
    }
    await refused(sealed.subarray(0, 2 * chunk), "cut at a chunk boundary");
    await refused(sealed.subarray(0, sealed.length - 1), "last byte cut");
    await refused(new Uint8Array(0), "empty");
    await refused(new Uint8Array([...sealed, 0]), "a byte appended");
    await refused(new Uint8Array([...sealed, ...sealed.subarray(0, chunk)]), "a chunk appended");
    const swapped = sealed.slice();
    swapped.set(sealed.subarray(chunk, 2 * chunk), 0);
    swapped.set(sealed.subarray(0, chunk), chunk);
    await refused(swapped, "two chunks swapped");
    // Padding that sealStream would not write: the same data sealed unpadded, opened as padded.
    await refused(await seal(data, keys, false, false), "unpadded opened as padded");
  },
});

Deno.test({
  name: "STREAM without --allow-ffi (a child process) writes the bytes libcrypto's batches write",
  ignore,
  fn: async () => {
    const data = bytes(3 * 65536 + 77, 11);
    const stacks = ["aes-256-gcm", "chacha20-poly1305,xchacha20-poly1305"];
    const expected: string[] = [];
    for (const stack of stacks) {
      const aeads = stack.split(",").map((id) =>
        [aes256Gcm, chacha20Poly1305, xchacha20Poly1305].find((a) => a.id === id)!
      );
      const keys = await deriveStreamKeys(bytes(32, 12), bytes(16, 13), aeads);
      expected.push((await seal(data, keys, true, false)).toHex());
    }
    const root = new URL("../../", import.meta.url).href;
    const script = `
      import { aes256Gcm, chacha20Poly1305, xchacha20Poly1305 } from "${root}mod.ts";
      import { deriveStreamKeys, sealStream } from "${root}cascade/stream.ts";
      import { collect } from "${root}cascade/_reader.ts";
      import { aeadInto } from "${root}engines/symmetric/_aead.ts";
      const bytes = ${bytes.toString()};
      const data = bytes(${data.length}, 11);
      const all = [aes256Gcm, chacha20Poly1305, xchacha20Poly1305];
      for (const stack of ${JSON.stringify(stacks)}) {
        const aeads = stack.split(",").map((id) => all.find((a) => a.id === id));
        const keys = await deriveStreamKeys(bytes(32, 12), bytes(16, 13), aeads);
        if (aeadInto(await aeads[0].withKey(keys.keys[0])) !== undefined) throw new Error("ffi?");
        async function* source() { yield data.subarray(0, 100); yield data.subarray(100); }
        console.log((await collect(sealStream(source(), keys, true))).toHex());
      }
    `;
    const child = await runDenoScript(script, ["--allow-read", "--allow-env"]);
    assert.equal(child.code, 0, child.stderr);
    assert.deepEqual(child.stdout.trim().split("\n"), expected);
  },
});

Deno.test({
  name: "STREAM on libcrypto takes pieces that their producer reuses once the next is asked for",
  ignore,
  fn: async () => {
    const keys = await deriveStreamKeys(bytes(32, 14), bytes(16, 15), [aes256Gcm]);
    const data = bytes(3 * 65536 + 999, 16);
    const reference = await seal(data, keys, true, true);
    // Ragged pieces copied into one scratch buffer, overwritten for each piece.
    for (const sizes of [[1000, 70000, 65536, 65536, 65536], [65537, 3 * 65536], [10, 20, 30]]) {
      const scratch = new Uint8Array(Math.max(...sizes));
      const reusing = async function* () {
        let at = 0;
        for (let i = 0; at < data.length; i++) {
          const n = Math.min(sizes[i % sizes.length], data.length - at);
          scratch.set(data.subarray(at, at + n));
          at += n;
          yield scratch.subarray(0, n);
        }
      };
      const sealed = await collect(sealStream(reusing(), keys, true));
      assert.deepEqual(sealed, reference, sizes.join(","));
    }
  },
});
