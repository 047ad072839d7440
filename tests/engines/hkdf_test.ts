// HKDF (RFC 5869) against Wycheproof: one-shot `hkdf` and `hkdfExtract` + `hkdfExpand`.
import assert from "node:assert/strict";
import { hkdf, hkdfExpand, hkdfExtract } from "../../mod.ts";
import type { HkdfHash } from "../../mod.ts";
import { hex, loadWycheproof } from "./_wycheproof.ts";

for (
  const [file, hash, expected] of [
    ["hkdf_sha256_test.json", "SHA-256", { valid: 83, invalid: 3 }],
    ["hkdf_sha512_test.json", "SHA-512", { valid: 80, invalid: 3 }],
  ] as const
) {
  Deno.test(`Wycheproof ${file}`, async () => {
    const { cases, numberOfTests } = await loadWycheproof(file);
    const counts = { valid: 0, invalid: 0 };
    for (const { test } of cases) {
      const [ikm, salt, info] = [test.ikm, test.salt, test.info].map(hex);
      if (test.result === "valid") {
        const okm = hex(test.okm);
        assert.deepEqual(
          await hkdf(hash as HkdfHash, ikm, salt, info, test.size),
          okm,
          `tc ${test.tcId}`,
        );
        const prk = await hkdfExtract(hash as HkdfHash, salt, ikm);
        assert.deepEqual(
          await hkdfExpand(hash as HkdfHash, prk, info, test.size),
          okm,
          `tc ${test.tcId} composed`,
        );
        counts.valid++;
      } else {
        // The invalid cases ask for more than 255 * HashLen bytes (RFC 5869 section 2.3).
        await assert.rejects(
          hkdf(hash as HkdfHash, ikm, salt, info, test.size),
          RangeError,
          `tc ${test.tcId}`,
        );
        const prk = await hkdfExtract(hash as HkdfHash, salt, ikm);
        await assert.rejects(hkdfExpand(hash as HkdfHash, prk, info, test.size), RangeError);
        counts.invalid++;
      }
    }
    assert.deepEqual(counts, expected);
    assert.equal(counts.valid + counts.invalid, numberOfTests);
  });
}

Deno.test("HKDF argument checks name the argument", async () => {
  await assert.rejects(
    hkdf("SHA-256", "x" as never, new Uint8Array(0), new Uint8Array(0), 32),
    /ikm/,
  );
  await assert.rejects(
    hkdf("MD5" as never, new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 32),
    TypeError,
  );
  await assert.rejects(
    hkdf("SHA-256", new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), -1),
    RangeError,
  );
});
