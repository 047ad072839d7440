// Property-based tests (fast-check) for the formats and streams: padding, armor, key strings,
// STREAM under arbitrary input chunking, the single-chunk paths against STREAM, and mutated
// envelopes.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  aes256Gcm,
  armor,
  dearmor,
  decrypt,
  DecryptionError,
  decryptStream,
  encodeRecipient,
  encrypt,
  encryptStream,
  FormatError,
  padmeLength,
  parseRecipient,
  xchacha20Poly1305,
} from "../../mod.ts";
import {
  CHUNK_SIZE,
  deriveStreamKeys,
  openSingleChunk,
  openStream,
  sealSingleChunk,
  sealStream,
} from "../../cascade/stream.ts";
import { collect, once } from "../../cascade/_reader.ts";
import { identityFor, patternBytes, readAll } from "./_helpers.ts";

/** Mutation runs per CI run; `POLYCRYPT_FUZZ_RUNS=1000000` is the documented long run. */
const FUZZ_RUNS = Number(Deno.env.get("POLYCRYPT_FUZZ_RUNS") ?? 100_000);

Deno.test("PADME: never shorter, at most 12% longer, monotone, a fixed point", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => {
      const p = padmeLength(n);
      assert.ok(p >= n);
      assert.ok(p <= Math.max(n * 1.12, n + 1));
      assert.ok(padmeLength(n + 1) >= p);
      assert.equal(padmeLength(p), p);
    }),
    { numRuns: 20_000 },
  );
});

Deno.test("armor round-trips any bytes and rejects altered layout", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
      const text = armor(bytes);
      assert.deepEqual(dearmor(text), bytes);
      assert.deepEqual(dearmor(text.replaceAll("\n", "\r\n")), bytes);
      assert.ok(text.split("\n").every((line) => line.length <= 64));
    }),
  );
  const text = armor(new Uint8Array(100));
  for (
    const bad of [
      text.replace("BEGIN", "BEGlN"),
      text.replace("\n", "\n\n"),
      text.replace(/\n([A-Za-z0-9+/]{10})/, "\n$1*"),
      text.slice(0, -5),
    ]
  ) {
    assert.throws(() => dearmor(bad), FormatError);
  }
});

Deno.test("recipient strings: any single-character change is caught", () => {
  const recipient = encodeRecipient("x25519", new Uint8Array(32).fill(7));
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:";
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: recipient.length - 1 }),
      fc.constantFrom(...alphabet),
      (i, ch) => {
        fc.pre(recipient[i] !== ch);
        const bad = recipient.slice(0, i) + ch + recipient.slice(i + 1);
        assert.throws(() => parseRecipient(bad), FormatError);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("streaming output is independent of how the input is cut", async () => {
  const bob = await identityFor("x25519");
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 150_000 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 }),
      async (data, inCuts, outCuts) => {
        const cut = (bytes: Uint8Array, sizes: number[]) => {
          const pieces: Uint8Array[] = [];
          for (let o = 0, i = 0; o < bytes.length; i++) {
            pieces.push(bytes.slice(o, o + sizes[i % sizes.length]));
            o += sizes[i % sizes.length];
          }
          return ReadableStream.from(pieces);
        };
        const sealed = await readAll(
          cut(data, inCuts).pipeThrough(encryptStream({ recipients: [bob.recipient] })),
        );
        const opened = await readAll(
          cut(sealed, outCuts).pipeThrough(decryptStream({ identities: [bob.identity] })),
        );
        assert.deepEqual(opened, data);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test(`${FUZZ_RUNS} mutated envelopes are all rejected with DecryptionError or FormatError`, async () => {
  const bob = await identityFor("x25519");
  const sealed = await encrypt(new TextEncoder().encode("attack at dawn"), {
    recipients: [bob.recipient],
  });
  const options = { identities: [bob.identity] };
  const mutation = fc.oneof(
    fc.record({
      kind: fc.constant("flip" as const),
      at: fc.nat(),
      bits: fc.integer({ min: 1, max: 255 }),
    }),
    fc.record({
      kind: fc.constant("set" as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
    fc.record({
      kind: fc.constant("delete" as const),
      at: fc.nat(),
      count: fc.integer({ min: 1, max: 8 }),
    }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant("append" as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
  );
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
      let bytes: Uint8Array = sealed;
      for (const m of mutations) {
        const at = "at" in m ? m.at % Math.max(1, bytes.length) : 0;
        if (m.kind === "flip") {
          bytes = bytes.slice();
          bytes[at] ^= m.bits;
        } else if (m.kind === "set") {
          bytes = bytes.slice();
          bytes[at] = m.value;
        } else if (m.kind === "insert") {
          bytes = new Uint8Array([...bytes.subarray(0, at), ...m.bytes, ...bytes.subarray(at)]);
        } else if (m.kind === "delete") {
          bytes = new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + m.count)]);
        } else if (m.kind === "truncate") {
          bytes = bytes.subarray(0, at);
        } else {
          bytes = new Uint8Array([...bytes, ...m.bytes]);
        }
      }
      runs++;
      if (bytes.length === sealed.length && bytes.every((b, i) => b === sealed[i])) return; // a no-op mutation
      try {
        await decrypt(bytes, options);
      } catch (e) {
        if (e instanceof DecryptionError || e instanceof FormatError) return;
        throw e;
      }
      assert.fail("a mutated envelope decrypted");
    }),
    { numRuns: FUZZ_RUNS },
  );
  assert.equal(runs, FUZZ_RUNS);
});

Deno.test("single-chunk seal and open match the STREAM functions byte for byte and verdict for verdict", async (t) => {
  const twoLayers = await deriveStreamKeys(
    crypto.getRandomValues(new Uint8Array(32)),
    new Uint8Array(16),
    [aes256Gcm, xchacha20Poly1305],
  );
  const verdict = (run: () => Promise<Uint8Array | undefined>) =>
    run().then((bytes) => bytes, (e) => {
      assert.ok(e instanceof DecryptionError, String(e));
      return "rejected" as const;
    });
  await t.step("sealing: the same bytes whenever the padded message fits one chunk", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 58_000, max: 66_000 })),
        fc.boolean(),
        async (length, pad) => {
          const data = patternBytes(length, length);
          const single = await sealSingleChunk(data, twoLayers, pad);
          const marked = length + 1;
          assert.equal(single !== undefined, (pad ? padmeLength(marked) : marked) <= CHUNK_SIZE);
          if (single) {
            assert.deepEqual(single, await collect(sealStream(once(data), twoLayers, pad)));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
  await t.step(
    "opening: any authenticated plaintext, padded or not, gets the same verdict",
    async () => {
      const oneLayer = await deriveStreamKeys(new Uint8Array(32), new Uint8Array(16), [aes256Gcm]);
      // The STREAM nonce of chunk 0 when it is the last one (docs/format.md section 5).
      const lastNonce = new Uint8Array(12);
      lastNonce[11] = 1;
      await fc.assert(
        fc.asyncProperty(
          // Plaintexts built to hit the tail rules: data, maybe a marker, then zeros.
          fc.uint8Array({ maxLength: 40 }),
          fc.constantFrom(undefined, 0x80, 0x01),
          fc.integer({ min: 0, max: 40 }),
          fc.boolean(),
          async (data, marker, zeros, pad) => {
            const plain = new Uint8Array(data.length + (marker ? 1 : 0) + zeros);
            plain.set(data);
            if (marker) plain[data.length] = marker;
            const sealed = await aes256Gcm.seal(oneLayer.keys[0], lastNonce, plain);
            const viaStream = await verdict(() => collect(openStream(once(sealed), oneLayer, pad)));
            const viaSingle = await verdict(() => openSingleChunk(sealed, oneLayer, pad));
            assert.deepEqual(viaSingle, viaStream);
          },
        ),
        { numRuns: 2000 },
      );
    },
  );
  await t.step("opening: more than one chunk is left to openStream", async () => {
    const sealed = await collect(sealStream(once(new Uint8Array(CHUNK_SIZE)), twoLayers, false));
    assert.equal(await openSingleChunk(sealed, twoLayers, false), undefined);
    // Its first chunk alone is a truncated stream: sealed as "not last", it fails as the last.
    await assert.rejects(
      openSingleChunk(sealed.subarray(0, CHUNK_SIZE + 32), twoLayers, false),
      DecryptionError,
    );
  });
});
