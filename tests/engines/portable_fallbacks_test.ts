// The fallbacks of the portable core, checked here against what Deno uses: engines/_bytes.ts's hex
// and base64 (used where the platform lacks Uint8Array.fromHex/toBase64/..., e.g. Node 20) give
// exactly what Deno's native methods give, results and SyntaxErrors alike; engines/_hash.ts's
// WebCrypto HKDF (browsers) gives what node:crypto's does.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  _fallback,
  type Base64Options,
  fromBase64,
  fromHex,
  setFromBase64,
  toBase64,
  toHex,
} from "../../engines/_bytes.ts";
import { webHkdf } from "../../engines/_hash.ts";
import { hkdfSync } from "../../engines/hkdf.ts";

const native = Uint8Array as unknown as {
  fromHex(hex: string): Uint8Array;
  fromBase64(text: string, options?: Base64Options): Uint8Array;
};

/** The outcome of `run`: its bytes, or the name of the error it threw. */
function outcome(run: () => Uint8Array): string {
  try {
    return "ok:" + Array.from(run()).join(",");
  } catch (e) {
    return "throws:" + (e as Error).name;
  }
}

const OPTIONS: (Base64Options | undefined)[] = [
  undefined,
  { alphabet: "base64url" },
  { lastChunkHandling: "strict" },
  { alphabet: "base64url", lastChunkHandling: "strict" },
];

Deno.test("encoders: the fallbacks equal the native methods on random bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      // Each twice: node:buffer's encoders (used from 33 bytes on where node:buffer exists) and
      // the JavaScript ones (a browser).
      for (const hex of [_fallback.encodeHex, _fallback.encodeHexJs]) {
        assert.equal(hex(bytes), bytes.toHex());
      }
      for (const encode of [_fallback.encodeBase64, _fallback.encodeBase64Js]) {
        for (const alphabet of ["base64", "base64url"] as const) {
          for (const omitPadding of [false, true]) {
            assert.equal(
              encode(bytes, { alphabet, omitPadding }),
              bytes.toBase64({ alphabet, omitPadding }),
            );
          }
        }
        assert.equal(encode(bytes), bytes.toBase64());
      }
    }),
    { numRuns: 2000 },
  );
  const big = new Uint8Array(100_001).map((_, i) => (i * 7919) & 255);
  assert.equal(_fallback.encodeBase64(big), big.toBase64());
  assert.equal(_fallback.encodeBase64Js(big), big.toBase64());
});

Deno.test("decoders: the fallbacks equal the native methods, errors included", () => {
  // Strings over the two alphabets, padding and whitespace, so that every branch is reached.
  const chars = fc.constantFrom(..."AQgw+/-_=\n \tZz09*".split(""));
  fc.assert(
    fc.property(fc.array(chars, { maxLength: 14 }).map((a) => a.join("")), (text) => {
      for (const options of OPTIONS) {
        assert.equal(
          outcome(() => _fallback.decodeBase64(text, options)),
          outcome(() => native.fromBase64(text, options)),
          `${JSON.stringify(text)} ${JSON.stringify(options)}`,
        );
      }
    }),
    { numRuns: 20000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      for (const omitPadding of [false, true]) {
        const text = bytes.toBase64({ omitPadding });
        for (const options of OPTIONS) {
          assert.equal(
            outcome(() => _fallback.decodeBase64(text, options)),
            outcome(() => native.fromBase64(text, options)),
          );
        }
      }
    }),
  );
  const hexChars = fc.constantFrom(..."0aF9gx ".split(""));
  fc.assert(
    fc.property(fc.array(hexChars, { maxLength: 8 }).map((a) => a.join("")), (text) => {
      assert.equal(outcome(() => _fallback.decodeHex(text)), outcome(() => native.fromHex(text)));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("the exported helpers are the native methods' results here", () => {
  const bytes = new Uint8Array([0xfb, 0xff, 0x00, 0x10]);
  assert.equal(toHex(bytes), "fbff0010");
  assert.deepEqual(fromHex("FBff0010"), bytes);
  assert.equal(toBase64(bytes), "+/8AEA==");
  assert.equal(toBase64(bytes, { alphabet: "base64url", omitPadding: true }), "-_8AEA");
  assert.deepEqual(fromBase64("-_8AEA", { alphabet: "base64url" }), bytes);
  assert.throws(() => fromBase64("+/8AEA", { lastChunkHandling: "strict" }), SyntaxError);
  const target = new Uint8Array(8);
  assert.equal(setFromBase64(target, "+/8A\nEA=="), 4);
  assert.deepEqual(target.subarray(0, 4), bytes);
});

Deno.test("webHkdf (the browsers' HKDF) equals hkdfSync on random input", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom("SHA-256" as const, "SHA-512" as const),
      fc.uint8Array({ minLength: 1, maxLength: 80 }),
      fc.uint8Array({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 1100 }),
      fc.integer({ min: 1, max: 300 }),
      async (hash, ikm, salt, info, length) => {
        assert.deepEqual(
          await webHkdf(hash, ikm, salt, info, length),
          hkdfSync(hash, ikm, salt, info, length),
        );
      },
    ),
    { numRuns: 500 },
  );
});
