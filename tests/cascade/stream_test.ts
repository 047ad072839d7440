// STREAM internals: keyed and per-call AEAD paths agree byte for byte, chunks in flight are
// released in order and a failing later chunk stops the stream without an unhandled rejection.
import assert from "node:assert/strict";
import { aes256Gcm, chacha20Poly1305, DecryptionError } from "../../mod.ts";
import type { AeadEngine } from "../../mod.ts";
import { CHUNK_SIZE, deriveStreamKeys, openStream, sealStream } from "../../cascade/stream.ts";
import { collect, once } from "../../cascade/_reader.ts";
import { assertSameBytes, patternBytes } from "./_helpers.ts";

/** A third-party style AEAD: the required interface only, no `withKey`. */
function withoutKeyBinding(engine: AeadEngine): AeadEngine {
  return {
    kind: "aead",
    id: engine.id,
    keySize: engine.keySize,
    nonceSize: engine.nonceSize,
    tagSize: engine.tagSize,
    seal: (key, nonce, plaintext, aad) => engine.seal(key, nonce, plaintext, aad),
    open: (key, nonce, ciphertext, aad) => engine.open(key, nonce, ciphertext, aad),
  };
}

const ikm = patternBytes(32, 7);
const salt = patternBytes(16, 8);
const data = patternBytes(5 * CHUNK_SIZE + 123, 9);

Deno.test("keyed (withKey) and per-call AEADs give identical STREAM bytes", async () => {
  const stack = [aes256Gcm, chacha20Poly1305];
  const keyed = await deriveStreamKeys(ikm, salt, stack);
  const plain = await deriveStreamKeys(ikm, salt, stack.map(withoutKeyBinding));
  assert.ok(stack.every((a) => typeof a.withKey === "function"));
  const a = await collect(sealStream(once(data), keyed, true));
  const b = await collect(sealStream(once(data), plain, true));
  assertSameBytes(a, b, "sealed");
  assertSameBytes(await collect(openStream(once(a), plain, true)), data, "opened per-call");
  assertSameBytes(await collect(openStream(once(b), keyed, true)), data, "opened keyed");
});

Deno.test("a forged later chunk: earlier chunks come out in order, then DecryptionError", async () => {
  const keys = await deriveStreamKeys(ikm, salt, [aes256Gcm]);
  const sealed = await collect(sealStream(once(data), keys, false));
  const sealedChunk = CHUNK_SIZE + 16;
  for (const bad of [1, 2, 4]) {
    const forged = sealed.slice();
    forged[bad * sealedChunk + 5] ^= 0x40;
    const released: Uint8Array[] = [];
    let error: unknown;
    try {
      for await (const piece of openStream(once(forged), keys, false)) released.push(piece);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof DecryptionError, `chunk ${bad}`);
    const out = await collect((async function* () {
      yield* released;
    })());
    // Only whole authenticated chunks before the forged one, less the held-back last byte.
    assert.ok(out.length <= bad * CHUNK_SIZE, `chunk ${bad}: ${out.length} bytes released`);
    assertSameBytes(out, data.subarray(0, out.length), `chunk ${bad}`);
  }
});

Deno.test("sealing keeps chunk buffers independent while several are in flight", async () => {
  // A lazy AEAD reads its plaintext only after a delay, when later chunks have been filled:
  // if STREAM reused one chunk buffer, earlier chunks would be sealed with later bytes. The
  // producer also reuses its own piece after each yield.
  const lazy: AeadEngine = {
    ...withoutKeyBinding(aes256Gcm),
    seal: async (key, nonce, plaintext, aad) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      return await aes256Gcm.seal(key, nonce, plaintext, aad);
    },
  };
  const keys = await deriveStreamKeys(ikm, salt, [lazy]);
  const input = patternBytes(6 * CHUNK_SIZE, 10);
  const scratch = new Uint8Array(CHUNK_SIZE);
  async function* reusing() {
    for (let i = 0; i < 6; i++) {
      scratch.set(input.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE));
      yield scratch;
    }
  }
  const sealed = await collect(sealStream(reusing(), keys, false));
  assertSameBytes(await collect(openStream(once(sealed), keys, false)), input);
});

Deno.test("an AEAD that reads its input on call seals whole chunks in place, others get copies", async () => {
  // Records which buffer each chunk arrived in, then seals with the real engine.
  const seen: ArrayBufferLike[] = [];
  const recording = (readsInputOnCall: boolean | undefined): AeadEngine => ({
    ...aes256Gcm,
    withKey: async (key) => {
      const keyed = await aes256Gcm.withKey!(key);
      return {
        readsInputOnCall,
        seal: (nonce, plaintext, aad) => {
          seen.push(plaintext.buffer);
          return keyed.seal(nonce, plaintext, aad);
        },
        open: (nonce, ciphertext, aad) => keyed.open(nonce, ciphertext, aad),
      };
    },
  });
  const reference = await collect(
    sealStream(once(data), await deriveStreamKeys(ikm, salt, [aes256Gcm]), true),
  );
  for (const flag of [true, false, undefined]) {
    seen.length = 0;
    const keys = await deriveStreamKeys(ikm, salt, [recording(flag)]);
    const sealed = await collect(sealStream(once(data), keys, true));
    assertSameBytes(sealed, reference, `readsInputOnCall ${flag}`);
    const inPlace = seen.filter((b) => b === data.buffer).length;
    // data is 5 whole chunks and 123 bytes: the 5 are sealed in place only when promised.
    assert.equal(inPlace, flag === true ? 5 : 0, `readsInputOnCall ${flag}`);
  }
});

Deno.test("in-place sealing with a producer that reuses its piece", async () => {
  // Pieces of 2.5 chunks in one reused buffer: whole chunks are sealed in place, the halves are
  // assembled; every byte must be the one the producer gave at that point.
  const keys = await deriveStreamKeys(ikm, salt, [aes256Gcm, chacha20Poly1305]);
  const pieceSize = 2.5 * CHUNK_SIZE;
  const input = patternBytes(4 * pieceSize, 11);
  const scratch = new Uint8Array(pieceSize);
  async function* reusing() {
    for (let i = 0; i < 4; i++) {
      scratch.set(input.subarray(i * pieceSize, (i + 1) * pieceSize));
      yield scratch;
    }
  }
  const sealed = await collect(sealStream(reusing(), keys, true));
  assertSameBytes(sealed, await collect(sealStream(once(input), keys, true)), "sealed");
  assertSameBytes(await collect(openStream(once(sealed), keys, true)), input);
});
