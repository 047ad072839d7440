// ML-KEM on both backends (WebCrypto, noble): conformance, NIST ACVP keyGen/encapDecap (all three
// parameter sets) and the Wycheproof ML-KEM-768/1024 decapsulation and encapsulation files.
import assert from "node:assert/strict";
import { InvalidKeyError, mlKem1024, mlKem512, mlKem768 } from "../../mod.ts";
import { _buildMlKem, type BuiltMlKem, type MlKemBackend } from "../../engines/mlkem/mlkem.ts";
import { kemConformance } from "../../testing/mod.ts";
import { hex, loadWycheproof } from "./_wycheproof.ts";

const BACKENDS: MlKemBackend[] = ["webcrypto", "noble"];
const SIZES = [512, 768, 1024] as const;

for (const backend of BACKENDS) {
  for (const size of SIZES) {
    const { engine } = _buildMlKem(size, backend);
    Deno.test(`${engine.id} (${backend}) conformance`, (t) =>
      kemConformance(t, engine, { tamper: "different-secret" }));
    // Keys made before the seed format: the expanded dk still works.
    Deno.test(`${engine.id} (${backend}) conformance with expanded dk keys`, (t) =>
      kemConformance(t, engine, {
        tamper: "different-secret",
        keyPairs: async () => {
          const expanded = async () => {
            const pair = await engine.generateKeyPair();
            return {
              ...pair,
              secretKey: _buildMlKem(size, "noble").expandSecretKey(pair.secretKey),
            };
          };
          return [await expanded(), await expanded()];
        },
      }));
  }
}

Deno.test("the registry's ML-KEM engines run on WebCrypto here", async () => {
  for (const size of SIZES) {
    const built = _buildMlKem(size, "webcrypto");
    assert.equal(await built.usesWebCrypto(), true, `ml-kem-${size}`);
    assert.equal(await _buildMlKem(size, "noble").usesWebCrypto(), false);
  }
  for (const engine of [mlKem512, mlKem768, mlKem1024]) {
    assert.equal((engine as unknown as { backend: string }).backend, "webcrypto");
  }
});

type SetName = "ML-KEM-512" | "ML-KEM-768" | "ML-KEM-1024";
const built = (backend: MlKemBackend): Record<SetName, BuiltMlKem> => ({
  "ML-KEM-512": _buildMlKem(512, backend),
  "ML-KEM-768": _buildMlKem(768, backend),
  "ML-KEM-1024": _buildMlKem(1024, backend),
});

async function loadAcvp(dir: string) {
  return JSON.parse(
    await Deno.readTextFile(
      new URL(`../vectors/acvp/${dir}/internalProjection.json`, import.meta.url),
    ),
    // deno-lint-ignore no-explicit-any
  ) as { testGroups: { parameterSet: SetName; function?: string; tests: any[] }[] };
}

for (const backend of BACKENDS) {
  Deno.test(`NIST ACVP ML-KEM keyGen (75 cases through deriveKeyPair, ${backend})`, async () => {
    const { testGroups } = await loadAcvp("ML-KEM-keyGen-FIPS203");
    let checked = 0;
    for (const group of testGroups) {
      const { engine, expandSecretKey } = built(backend)[group.parameterSet];
      for (const t of group.tests) {
        const seed = new Uint8Array([...hex(t.d), ...hex(t.z)]);
        const pair = await engine.deriveKeyPair!(seed);
        assert.deepEqual(pair.publicKey, hex(t.ek), `tc ${t.tcId}`);
        // The stored secret key is the seed; its expansion is FIPS 203's dk.
        assert.deepEqual(pair.secretKey, seed, `tc ${t.tcId}`);
        assert.deepEqual(expandSecretKey(pair.secretKey), hex(t.dk), `tc ${t.tcId}`);
        assert.deepEqual(await engine.publicKeyFromSecretKey!(pair.secretKey), hex(t.ek));
        checked++;
      }
    }
    assert.equal(checked, 75);
  });
}

for (const backend of BACKENDS) {
  Deno.test(`NIST ACVP ML-KEM encapDecap (165 cases, ${backend})`, async () => {
    const { testGroups } = await loadAcvp("ML-KEM-encapDecap-FIPS203");
    const counts: Record<string, number> = {};
    const sets = built(backend);
    const nobleSets = built("noble");
    for (const group of testGroups) {
      const { engine, encapsulateWith } = sets[group.parameterSet];
      for (const t of group.tests) {
        const fn = group.function!;
        if (fn === "encapsulation") {
          const { encapsulation, sharedSecret } = encapsulateWith(hex(t.ek), hex(t.m));
          assert.deepEqual(encapsulation, hex(t.c), `tc ${t.tcId}`);
          assert.deepEqual(sharedSecret, hex(t.k), `tc ${t.tcId}`);
          // The backend's randomised encapsulation to the vector's ek opens under its dk on noble.
          const fresh = await engine.encapsulate(hex(t.ek));
          assert.deepEqual(
            await nobleSets[group.parameterSet].engine.decapsulate(fresh.encapsulation, hex(t.dk)),
            fresh.sharedSecret,
            `tc ${t.tcId}`,
          );
        } else if (fn === "decapsulation") {
          // Valid and "modified ciphertext" cases alike: implicit rejection gives k.
          assert.deepEqual(
            await engine.decapsulate(hex(t.c), hex(t.dk)),
            hex(t.k),
            `tc ${t.tcId} ${t.reason}`,
          );
        } else if (fn === "decapsulationKeyCheck") {
          const c = new Uint8Array(engine.encapsulationSize);
          if (t.testPassed === true) await engine.decapsulate(c, hex(t.dk));
          else {await assert.rejects(
              engine.decapsulate(c, hex(t.dk)),
              InvalidKeyError,
              `tc ${t.tcId}`,
            );}
        } else if (fn === "encapsulationKeyCheck") {
          if (t.testPassed === true) await engine.encapsulate(hex(t.ek));
          else await assert.rejects(engine.encapsulate(hex(t.ek)), InvalidKeyError, `tc ${t.tcId}`);
        } else {
          assert.fail(`unknown function ${fn}`);
        }
        counts[fn] = (counts[fn] ?? 0) + 1;
      }
    }
    assert.deepEqual(counts, {
      encapsulation: 75,
      decapsulation: 30,
      decapsulationKeyCheck: 30,
      encapsulationKeyCheck: 30,
    });
  });
}

for (
  const [bits, built] of BACKENDS.flatMap((b) =>
    [[768, _buildMlKem(768, b)], [1024, _buildMlKem(1024, b)]] as const
  )
) {
  Deno.test(`Wycheproof mlkem_${bits}_test.json (seed -> keys, decapsulation, ${built.engine.backend})`, async () => {
    const { cases, numberOfTests } = await loadWycheproof(`mlkem_${bits}_test.json`);
    const counts = { valid: 0, badSeed: 0, badCiphertext: 0 };
    for (const { test } of cases) {
      const seed = hex(test.seed);
      if (seed.length !== 64) {
        assert.equal(test.result, "invalid");
        await assert.rejects(built.engine.deriveKeyPair!(seed), RangeError, `tc ${test.tcId}`);
        counts.badSeed++;
        continue;
      }
      const { publicKey, secretKey } = await built.engine.deriveKeyPair!(seed);
      assert.deepEqual(publicKey, hex(test.ek), `tc ${test.tcId}`);
      const c = hex(test.c);
      if (test.result === "valid") {
        assert.deepEqual(
          await built.engine.decapsulate(c, secretKey),
          hex(test.K),
          `tc ${test.tcId}`,
        );
        counts.valid++;
      } else {
        assert.notEqual(c.length, built.engine.encapsulationSize);
        await assert.rejects(built.engine.decapsulate(c, secretKey), RangeError, `tc ${test.tcId}`);
        counts.badCiphertext++;
      }
    }
    assert.deepEqual(counts, { valid: 153, badSeed: 20, badCiphertext: 20 });
    assert.equal(counts.valid + counts.badSeed + counts.badCiphertext, numberOfTests);
  });

  Deno.test(`Wycheproof mlkem_${bits}_encaps_test.json (modulus check, lengths, ${built.engine.backend})`, async () => {
    const { cases, numberOfTests } = await loadWycheproof(`mlkem_${bits}_encaps_test.json`);
    const counts = { valid: 0, notReduced: 0, badLength: 0 };
    for (const { test } of cases) {
      const ek = hex(test.ek);
      if (test.result === "valid") {
        const { encapsulation, sharedSecret } = built.encapsulateWith(ek, hex(test.m));
        assert.deepEqual(encapsulation, hex(test.c), `tc ${test.tcId}`);
        assert.deepEqual(sharedSecret, hex(test.K), `tc ${test.tcId}`);
        counts.valid++;
      } else if (ek.length !== built.engine.publicKeySize) {
        await assert.rejects(built.engine.encapsulate(ek), RangeError, `tc ${test.tcId}`);
        counts.badLength++;
      } else {
        await assert.rejects(built.engine.encapsulate(ek), InvalidKeyError, `tc ${test.tcId}`);
        counts.notReduced++;
      }
    }
    assert.equal(counts.valid + counts.notReduced + counts.badLength, numberOfTests);
    // Not reduced: Wycheproof's "Public key not reduced" and ModulusOverflow cases (FIPS 203 7.2).
    assert.deepEqual(counts, { valid: 133, notReduced: bits === 768 ? 112 : 116, badLength: 20 });
  });
}

Deno.test("key caches: repeat keys stay checked, and many keys evict correctly", async (t) => {
  for (const backend of BACKENDS) {
    for (const size of SIZES) {
      const { engine, expandSecretKey } = _buildMlKem(size, backend);
      await t.step(`${engine.id} (${backend})`, async () => {
        const { publicKey, secretKey } = await engine.generateKeyPair();
        const dk = expandSecretKey(secretKey);
        for (let i = 0; i < 3; i++) {
          const { encapsulation, sharedSecret } = await engine.encapsulate(publicKey);
          assert.deepEqual(await engine.decapsulate(encapsulation, secretKey), sharedSecret);
          assert.deepEqual(await engine.decapsulate(encapsulation, dk), sharedSecret);
        }
        const { encapsulation } = await engine.encapsulate(publicKey);
        // dk's stored H(ek) (FIPS 203 section 7.3) is still checked once ek is cached.
        const badHash = dk.slice();
        badHash[badHash.length - 40] ^= 1;
        await assert.rejects(engine.decapsulate(encapsulation, badHash), InvalidKeyError);
        // A changed secret vector s, or a changed seed, gives a different secret, not an error.
        for (const key of [dk, secretKey]) {
          const bad = key.slice();
          bad[0] ^= 1;
          assert.notDeepEqual(
            await engine.decapsulate(encapsulation, bad),
            await engine.decapsulate(encapsulation, secretKey),
          );
        }
      });
    }
  }
  await t.step("70 distinct keys twice (past the 64-entry caches)", async () => {
    const pairs = await Promise.all(Array.from({ length: 70 }, () => mlKem768.generateKeyPair()));
    for (let round = 0; round < 2; round++) {
      for (const { publicKey, secretKey } of pairs) {
        const { encapsulation, sharedSecret } = await mlKem768.encapsulate(publicKey);
        assert.deepEqual(await mlKem768.decapsulate(encapsulation, secretKey), sharedSecret);
      }
    }
  });
});
