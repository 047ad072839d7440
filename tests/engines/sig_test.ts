// Signature engines: the conformance kit on every engine and backend (and on a plugin), Wycheproof
// Ed25519 on every backend, the small-order key checks, Wycheproof ML-DSA verify/sign files, NIST
// ACVP ML-DSA keyGen and sigVer, the hybrid's construction, and Ed25519 interop with openssl.
import assert from "node:assert/strict";
import { ed25519 as nobleEd25519 } from "@noble/curves/ed25519.js";
import { ml_dsa44, ml_dsa65, ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { sha512 } from "@noble/hashes/sha2.js";
import {
  compositeMessageRepresentative,
  createEd25519Engine,
  ed25519,
  ed25519MlDsa65,
  EngineRegistry,
  mlDsa44,
  mlDsa65,
  mlDsa87,
  registry,
  type SignatureEngine,
  type SignatureKeyPair,
} from "../../mod.ts";
import { _SMALL_ORDER_ENCODINGS, type Ed25519Backend } from "../../engines/sig/ed25519.ts";
import { _buildMlDsa, type MlDsaBackend } from "../../engines/sig/mldsa.ts";
import { _buildEd25519MlDsa65 } from "../../engines/sig/composite.ts";
import { signatureConformance } from "../../testing/mod.ts";
import { runChecked, runCommand } from "../_process.ts";
import { hex, loadWycheproof } from "./_wycheproof.ts";

const ED_BACKENDS: Ed25519Backend[] = ["node", "webcrypto", "noble"];
const DSA_BACKENDS: MlDsaBackend[] = ["webcrypto", "noble"];
const SIZES = [44, 65, 87] as const;
const NOBLE = { 44: ml_dsa44, 65: ml_dsa65, 87: ml_dsa87 };
// noble's ML-DSA verifies some 300 signatures a second: its engines flip every 61st bit.
const NOBLE_STRIDE = 61;

// ------------------------------------------------------------------ conformance

for (const backend of ED_BACKENDS) {
  Deno.test(`ed25519 (${backend}) conformance`, (t) =>
    signatureConformance(t, createEd25519Engine({ backend })));
}
for (const size of SIZES) {
  for (const backend of DSA_BACKENDS) {
    const { engine } = _buildMlDsa(size, backend);
    Deno.test(`${engine.id} (${backend}) conformance`, (t) =>
      signatureConformance(t, engine, {
        signatureBitStride: backend === "noble" ? NOBLE_STRIDE : 1,
      }));
  }
}
Deno.test("ed25519+ml-dsa-65 conformance", (t) => signatureConformance(t, ed25519MlDsa65));
Deno.test("ed25519+ml-dsa-65 (noble halves) conformance", (t) =>
  signatureConformance(
    t,
    _buildEd25519MlDsa65(
      createEd25519Engine({ backend: "noble" }),
      _buildMlDsa(65, "noble").engine,
    ),
    { signatureBitStride: NOBLE_STRIDE },
  ));

/** A third party's engine: Ed25519 straight from @noble/curves, with its own checks. */
function nobleEd25519Plugin(): SignatureEngine {
  const check = (name: string, value: unknown, size?: number) => {
    if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
    if (size !== undefined && value.length !== size) {
      throw new RangeError(`${name} must be ${size} bytes`);
    }
  };
  return Object.freeze({
    kind: "signature",
    id: "ed25519-noble-plugin",
    family: "eddsa",
    postQuantum: false,
    securityBits: 128,
    publicKeySize: 32,
    signatureSize: 64,
    generateKeyPair(): Promise<SignatureKeyPair> {
      const { secretKey, publicKey } = nobleEd25519.keygen();
      return Promise.resolve({ secretKey, publicKey });
    },
    sign(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
      try {
        check("secretKey", secretKey, 32);
        check("message", message);
        return Promise.resolve(nobleEd25519.sign(message, secretKey));
      } catch (e) {
        return Promise.reject(e);
      }
    },
    verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
      try {
        check("publicKey", publicKey, 32);
        check("message", message);
        check("signature", signature, 64);
      } catch (e) {
        return Promise.reject(e);
      }
      try {
        return Promise.resolve(
          nobleEd25519.verify(signature, message, publicKey, { zip215: false }),
        );
      } catch {
        return Promise.resolve(false);
      }
    },
  });
}

Deno.test("a plugin signature engine registers, resolves and passes the kit", async (t) => {
  const mine = new EngineRegistry();
  const plugin = nobleEd25519Plugin();
  mine.register(plugin);
  assert.equal(mine.signature("ed25519-noble-plugin"), plugin);
  assert.throws(() => mine.kem("ed25519-noble-plugin"), TypeError);
  await signatureConformance(t, mine.signature("ed25519-noble-plugin"));
  // It interoperates with the built-in.
  const { publicKey, secretKey } = await plugin.generateKeyPair();
  const message = new TextEncoder().encode("plugin");
  assert.equal(
    await ed25519.verify(publicKey, message, await plugin.sign(secretKey, message)),
    true,
  );
});

Deno.test("the registry checks what a signature plugin declares", () => {
  const mine = new EngineRegistry();
  const good = nobleEd25519Plugin();
  assert.throws(() => mine.register({ ...good, signatureSize: -1 }), /signatureSize/);
  assert.throws(() => mine.register({ ...good, verify: undefined } as never), /verify/);
  assert.throws(() => mine.register({ ...good, family: "" }), /family/);
  assert.throws(() => mine.register({ ...good, postQuantum: "no" } as never), /postQuantum/);
  assert.throws(() => mine.register({ ...good, kind: "sig" } as never), /kind must be/);
  assert.throws(() => registry.signature("aes-256-gcm"), TypeError);
  assert.equal(registry.signature("ed25519"), ed25519);
  assert.equal(registry.signature("ml-dsa-44"), mlDsa44);
  assert.equal(registry.signature("ml-dsa-65"), mlDsa65);
  assert.equal(registry.signature("ml-dsa-87"), mlDsa87);
  assert.equal(registry.signature("ed25519+ml-dsa-65"), ed25519MlDsa65);
});

Deno.test("the registry's ML-DSA engines run on WebCrypto here, ed25519 on node:crypto", async () => {
  for (const size of SIZES) {
    assert.equal(await _buildMlDsa(size, "webcrypto").usesWebCrypto(), true);
    assert.equal(await _buildMlDsa(size, "noble").usesWebCrypto(), false);
  }
  for (const engine of [mlDsa44, mlDsa65, mlDsa87]) {
    assert.equal((engine as unknown as { backend: string }).backend, "webcrypto");
  }
  assert.equal((ed25519 as unknown as { backend: string }).backend, "node");
});

Deno.test("backends interoperate: keys from one seed, signatures verify across", async () => {
  const message = new TextEncoder().encode("across backends");
  const engines: SignatureEngine[][] = [
    ED_BACKENDS.map((backend) => createEd25519Engine({ backend })),
    ...SIZES.map((size) => DSA_BACKENDS.map((backend) => _buildMlDsa(size, backend).engine)),
  ];
  for (const family of engines) {
    const { publicKey, secretKey } = await family[0].generateKeyPair();
    for (const signer of family) {
      assert.deepEqual(await signer.publicKeyFromSecretKey!(secretKey), publicKey, signer.id);
      const signature = await signer.sign(secretKey, message);
      for (const verifier of family) {
        assert.equal(await verifier.verify(publicKey, message, signature), true, verifier.id);
      }
    }
  }
});

// ------------------------------------------------------------------ Ed25519

Deno.test("RFC 8032 section 7.1 TEST 3 on every backend, same bytes", async () => {
  const seed = hex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7");
  const message = hex("af82");
  const expected =
    "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a";
  for (const backend of ED_BACKENDS) {
    const engine = createEd25519Engine({ backend });
    const publicKey = await engine.publicKeyFromSecretKey!(seed);
    assert.equal(
      publicKey.toHex(),
      "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    );
    assert.equal((await engine.sign(seed, message)).toHex(), expected, backend);
    assert.equal(await engine.verify(publicKey, message, hex(expected)), true, backend);
  }
});

Deno.test("Wycheproof ed25519_test.json on every backend (151 cases: 88 valid, 63 invalid)", async () => {
  const file = await loadWycheproof("ed25519_test.json");
  assert.equal(file.numberOfTests, 151);
  assert.equal(file.cases.length, 151);
  for (const backend of ED_BACKENDS) {
    const engine = createEd25519Engine({ backend });
    let valid = 0, invalid = 0;
    for (const { group, test } of file.cases) {
      const pk = hex(group.publicKey.pk);
      const sig = hex(test.sig);
      // A signature of the wrong length is a caller error here, not a verdict.
      const verdict = sig.length !== 64
        ? await engine.verify(pk, hex(test.msg), sig).catch((e) => {
          assert.ok(e instanceof RangeError);
          return false;
        })
        : await engine.verify(pk, hex(test.msg), sig);
      assert.equal(verdict, test.result === "valid", `${backend} tc ${test.tcId} ${test.comment}`);
      if (verdict) valid++;
      else invalid++;
    }
    assert.deepEqual([valid, invalid], [88, 63], backend);
  }
});

Deno.test("the small-order list is the 8-torsion subgroup plus the two x = 0 sign-bit encodings", () => {
  const points = _SMALL_ORDER_ENCODINGS.slice(0, 8).map((h) => nobleEd25519.Point.fromHex(h));
  for (const p of points) assert.ok(p.isSmallOrder());
  assert.equal(new Set(points.map((p) => p.toHex())).size, 8, "8 distinct points: all of them");
  for (const h of _SMALL_ORDER_ENCODINGS.slice(8)) {
    assert.throws(() => nobleEd25519.Point.fromHex(h, false), Error, h);
  }
});

Deno.test("small-order and non-canonical public keys are refused, though node:crypto and WebCrypto accept forgeries under them", async () => {
  const node = (globalThis as { process?: { getBuiltinModule(id: string): unknown } }).process!
    .getBuiltinModule("node:crypto") as typeof import("node:crypto");
  const raw = (pk: Uint8Array, m: Uint8Array, s: Uint8Array) => {
    try {
      const key = node.createPublicKey({
        key: {
          kty: "OKP",
          crv: "Ed25519",
          x: pk.toBase64({ alphabet: "base64url", omitPadding: true }),
        },
        format: "jwk",
      });
      return node.verify(null, m, key, s);
    } catch {
      return false;
    }
  };
  // Non-canonical encodings of small-order points: y = p (0) and y = p + 1 (1).
  const keys = [
    ..._SMALL_ORDER_ENCODINGS,
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  ].map(hex);
  const message = new TextEncoder().encode("I, Alice, owe Mallory everything");
  const forgeries: [Uint8Array, Uint8Array][] = [];
  for (const pk of keys) {
    for (const r of _SMALL_ORDER_ENCODINGS.slice(0, 8).map(hex)) {
      const signature = new Uint8Array([...r, ...new Uint8Array(32)]); // S = 0
      if (raw(pk, message, signature)) forgeries.push([pk, signature]);
    }
  }
  assert.ok(forgeries.length >= 8, `node:crypto accepts ${forgeries.length} forgeries`);
  for (const backend of ED_BACKENDS) {
    const engine = createEd25519Engine({ backend });
    for (const [pk, signature] of forgeries) {
      assert.equal(await engine.verify(pk, message, signature), false, `${backend} ${pk.toHex()}`);
    }
  }
});

Deno.test("S >= L is refused before any backend", async () => {
  const { publicKey, secretKey } = await ed25519.generateKeyPair();
  const message = new TextEncoder().encode("malleable?");
  const signature = await ed25519.sign(secretKey, message);
  // S + L: the same scalar mod L, a different encoding.
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i]);
  s += L;
  const bad = signature.slice();
  for (let i = 0; i < 32; i++) bad[32 + i] = Number((s >> BigInt(8 * i)) & 0xffn);
  for (const backend of ED_BACKENDS) {
    assert.equal(await createEd25519Engine({ backend }).verify(publicKey, message, bad), false);
  }
});

// ------------------------------------------------------------------ ML-DSA: Wycheproof

/**
 * A verification with a context, outside the engines' interface (ctx = "" only): through the
 * noble backend's library, a throw counting as a rejection. Arguments in hex.
 */
function nobleVerifyWithContext(
  size: (typeof SIZES)[number],
  signature: string,
  message: string,
  publicKey: string,
  context: string,
): boolean {
  try {
    return NOBLE[size].verify(hex(signature), hex(message), hex(publicKey), {
      context: hex(context),
    });
  } catch {
    return false;
  }
}

// Per file: all cases, and those without a context (the ones the engines take).
const WYCHEPROOF_VERIFY = { 44: [180, 173], 65: [210, 203], 87: [241, 234] } as const;

for (const size of SIZES) {
  Deno.test(`Wycheproof mldsa_${size}_verify_test.json on both backends`, async () => {
    const file = await loadWycheproof(`mldsa_${size}_verify_test.json`);
    assert.equal(file.numberOfTests, WYCHEPROOF_VERIFY[size][0]);
    assert.equal(file.cases.length, file.numberOfTests);
    const withContext = file.cases.filter(({ test }) => test.ctx !== undefined && test.ctx !== "");
    for (const backend of DSA_BACKENDS) {
      const { engine } = _buildMlDsa(size, backend);
      let checked = 0;
      for (const { group, test } of file.cases) {
        if (test.ctx !== undefined && test.ctx !== "") continue; // the engine signs with ctx = ""
        const pk = hex(group.publicKey);
        const sig = hex(test.sig);
        const sized = pk.length === engine.publicKeySize && sig.length === engine.signatureSize;
        const verdict = sized
          ? await engine.verify(pk, hex(test.msg), sig)
          : await engine.verify(pk, hex(test.msg), sig).catch((e) => {
            assert.ok(e instanceof RangeError, String(e));
            return false;
          });
        assert.equal(
          verdict,
          test.result === "valid",
          `${backend} tc ${test.tcId} ${test.comment}`,
        );
        checked++;
      }
      assert.equal(checked, WYCHEPROOF_VERIFY[size][1], backend);
      assert.equal(checked + withContext.length, file.numberOfTests);
    }
    // The cases with a context, through the library of the noble backend.
    for (const { group, test } of withContext) {
      const verdict = nobleVerifyWithContext(size, test.sig, test.msg, group.publicKey, test.ctx);
      assert.equal(verdict, test.result === "valid", `noble+ctx tc ${test.tcId}`);
    }
  });
}

Deno.test("Wycheproof mldsa_65_sign_seed_test.json: keys from the seed, signatures verify", async () => {
  const file = await loadWycheproof("mldsa_65_sign_seed_test.json");
  assert.equal(file.numberOfTests, 105);
  for (const backend of DSA_BACKENDS) {
    const { engine } = _buildMlDsa(65, backend);
    let keys = 0, verified = 0, badSeeds = 0;
    const groups = new Set<unknown>();
    for (const { group, test } of file.cases) {
      const seed = hex(group.privateSeed);
      if (seed.length !== 32) {
        await assert.rejects(engine.sign(seed, new Uint8Array(1)), RangeError);
        assert.equal(test.result, "invalid");
        badSeeds++;
        continue;
      }
      if (!groups.has(group)) {
        groups.add(group);
        assert.deepEqual(await engine.publicKeyFromSecretKey!(seed), hex(group.publicKey));
        keys++;
      }
      if (test.msg === undefined || (test.ctx !== undefined && test.ctx !== "")) continue;
      assert.equal(test.result, "valid", `tc ${test.tcId}`);
      assert.equal(await engine.verify(hex(group.publicKey), hex(test.msg), hex(test.sig)), true);
      verified++;
    }
    assert.deepEqual([keys, verified, badSeeds], [39, 81, 3], backend);
  }
});

Deno.test("Wycheproof mldsa_65_sign_noseed_test.json: the valid signatures verify", async () => {
  const file = await loadWycheproof("mldsa_65_sign_noseed_test.json");
  assert.equal(file.numberOfTests, 78);
  for (const backend of DSA_BACKENDS) {
    const { engine } = _buildMlDsa(65, backend);
    let verified = 0;
    for (const { group, test } of file.cases) {
      if (test.result !== "valid" || test.msg === undefined) continue;
      if (test.ctx !== undefined && test.ctx !== "") continue;
      assert.equal(await engine.verify(hex(group.publicKey), hex(test.msg), hex(test.sig)), true);
      verified++;
    }
    assert.equal(verified, 61, backend);
  }
});

// ------------------------------------------------------------------ ML-DSA: ACVP

async function loadAcvpGz(dir: string) {
  const file = await Deno.open(
    new URL(`../vectors/acvp/${dir}/internalProjection.json.gz`, import.meta.url),
  );
  const text = await new Response(file.readable.pipeThrough(new DecompressionStream("gzip")))
    .text();
  // deno-lint-ignore no-explicit-any
  return JSON.parse(text) as { testGroups: any[] };
}
const SET = { "ML-DSA-44": 44, "ML-DSA-65": 65, "ML-DSA-87": 87 } as const;

Deno.test("NIST ACVP ML-DSA keyGen (75 cases, both backends): the seed is the secret key", async () => {
  const { testGroups } = await loadAcvpGz("ML-DSA-keyGen-FIPS204");
  for (const backend of DSA_BACKENDS) {
    let checked = 0;
    for (const group of testGroups) {
      const built = _buildMlDsa(SET[group.parameterSet as keyof typeof SET], backend);
      for (const t of group.tests) {
        const seed = hex(t.seed);
        assert.deepEqual(
          await built.engine.publicKeyFromSecretKey!(seed),
          hex(t.pk),
          `tc ${t.tcId}`,
        );
        assert.deepEqual(built.expandSecretKey(seed), hex(t.sk), `tc ${t.tcId}`);
        checked++;
      }
    }
    assert.equal(checked, 75);
  }
});

Deno.test("NIST ACVP ML-DSA sigVer (180 cases): pure, empty context through the engines", async () => {
  const { testGroups } = await loadAcvpGz("ML-DSA-sigVer-FIPS204");
  let total = 0, engineCases = 0, withContext = 0;
  for (const group of testGroups) {
    total += group.tests.length;
    if (group.signatureInterface !== "external" || group.preHash !== "pure") continue;
    const size = SET[group.parameterSet as keyof typeof SET];
    for (const t of group.tests) {
      if (t.context === "") {
        for (const backend of DSA_BACKENDS) {
          const { engine } = _buildMlDsa(size, backend);
          const verdict = await engine.verify(hex(t.pk), hex(t.message), hex(t.signature));
          assert.equal(verdict, t.testPassed, `${backend} tc ${t.tcId} ${t.reason}`);
        }
        engineCases++;
      } else {
        // Outside the engine's interface (ctx = "" only): the noble backend's library with ctx.
        const verdict = nobleVerifyWithContext(size, t.signature, t.message, t.pk, t.context);
        assert.equal(verdict, t.testPassed, `noble+ctx tc ${t.tcId} ${t.reason}`);
        withContext++;
      }
    }
  }
  assert.deepEqual([total, engineCases, withContext], [180, 3, 42]);
});

// ------------------------------------------------------------------ the hybrid

Deno.test("ed25519+ml-dsa-65: both halves sign M' = Prefix || Label || 0 || SHA-512(M)", async () => {
  const { publicKey, secretKey } = await ed25519MlDsa65.generateKeyPair();
  const message = new TextEncoder().encode("hybrid");
  const signature = await ed25519MlDsa65.sign(secretKey, message);
  const representative = new Uint8Array([
    ...new TextEncoder().encode("CompositeAlgorithmSignatures2025"),
    ...new TextEncoder().encode("COMPSIG-MLDSA65-Ed25519-SHA512"),
    0,
    ...sha512(message),
  ]);
  assert.deepEqual(compositeMessageRepresentative(message), representative);
  const [mlPk, edPk] = [publicKey.subarray(0, 1952), publicKey.subarray(1952)];
  const [mlSig, edSig] = [signature.subarray(0, 3309), signature.subarray(3309)];
  assert.equal(await mlDsa65.verify(mlPk, representative, mlSig), true);
  assert.equal(await ed25519.verify(edPk, representative, edSig), true);
  assert.deepEqual(await ed25519.publicKeyFromSecretKey!(secretKey.subarray(32)), edPk);
  assert.deepEqual(await mlDsa65.publicKeyFromSecretKey!(secretKey.subarray(0, 32)), mlPk);
  // Neither half signs the bare message.
  assert.equal(await ed25519.verify(edPk, message, edSig), false);
  assert.equal(await mlDsa65.verify(mlPk, message, mlSig), false);
});

Deno.test("ed25519+ml-dsa-65: a hybrid with one valid half is rejected", async () => {
  const alice = await ed25519MlDsa65.generateKeyPair();
  const mallory = await ed25519MlDsa65.generateKeyPair();
  const message = new TextEncoder().encode("from Alice");
  const good = await ed25519MlDsa65.sign(alice.secretKey, message);
  const forged = await ed25519MlDsa65.sign(mallory.secretKey, message);
  // Alice's ML-DSA half with Mallory's Ed25519 half, and the other way round.
  const mixes = [
    new Uint8Array([...good.subarray(0, 3309), ...forged.subarray(3309)]),
    new Uint8Array([...forged.subarray(0, 3309), ...good.subarray(3309)]),
    new Uint8Array([...good.subarray(0, 3309), ...new Uint8Array(64)]),
    new Uint8Array([...new Uint8Array(3309), ...good.subarray(3309)]),
  ];
  for (const mix of mixes) {
    assert.equal(await ed25519MlDsa65.verify(alice.publicKey, message, mix), false);
  }
  // Each half alone, under a mixed public key, is not enough either.
  const mixedKey = new Uint8Array([
    ...alice.publicKey.subarray(0, 1952),
    ...mallory.publicKey.subarray(1952),
  ]);
  assert.equal(await ed25519MlDsa65.verify(mixedKey, message, good), false);
  assert.equal(await ed25519MlDsa65.verify(alice.publicKey, message, good), true);
});

// ------------------------------------------------------------------ OpenSSL interop

Deno.test("Ed25519 interop with openssl pkeyutl, both ways", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const message = new TextEncoder().encode("interop with openssl pkeyutl\n");
    await Deno.writeFile(`${dir}/msg`, message);

    await t.step(
      "openssl's key and signature verify with us, and we sign the same bytes",
      async () => {
        await runChecked("openssl", ["genpkey", "-algorithm", "ed25519", "-out", `${dir}/key.pem`]);
        await runChecked("openssl", [
          "pkey",
          "-in",
          `${dir}/key.pem`,
          "-outform",
          "DER",
          "-out",
          `${dir}/key.der`,
        ]);
        await runChecked("openssl", [
          "pkey",
          "-in",
          `${dir}/key.pem`,
          "-pubout",
          "-outform",
          "DER",
          "-out",
          `${dir}/pub.der`,
        ]);
        const seed = (await Deno.readFile(`${dir}/key.der`)).slice(-32);
        const publicKey = (await Deno.readFile(`${dir}/pub.der`)).slice(-32);
        await runChecked("openssl", [
          "pkeyutl",
          "-sign",
          "-inkey",
          `${dir}/key.pem`,
          "-rawin",
          "-in",
          `${dir}/msg`,
          "-out",
          `${dir}/sig`,
        ]);
        const signature = await Deno.readFile(`${dir}/sig`);
        for (const backend of ED_BACKENDS) {
          const engine = createEd25519Engine({ backend });
          assert.deepEqual(await engine.publicKeyFromSecretKey!(seed), publicKey, backend);
          assert.equal(await engine.verify(publicKey, message, signature), true, backend);
          assert.deepEqual(await engine.sign(seed, message), signature, backend); // deterministic
        }
      },
    );

    await t.step("our key and signature verify with openssl; a changed one does not", async () => {
      const { publicKey, secretKey } = await ed25519.generateKeyPair();
      const spki = new Uint8Array([...hex("302a300506032b6570032100"), ...publicKey]);
      await Deno.writeFile(`${dir}/ours.der`, spki);
      await runChecked("openssl", [
        "pkey",
        "-pubin",
        "-inform",
        "DER",
        "-in",
        `${dir}/ours.der`,
        "-out",
        `${dir}/ours.pem`,
      ]);
      const signature = await ed25519.sign(secretKey, message);
      await Deno.writeFile(`${dir}/ours.sig`, signature);
      const verify = (sig: string) =>
        runCommand("openssl", [
          "pkeyutl",
          "-verify",
          "-pubin",
          "-inkey",
          `${dir}/ours.pem`,
          "-rawin",
          "-in",
          `${dir}/msg`,
          "-sigfile",
          sig,
        ]);
      const good = await verify(`${dir}/ours.sig`);
      const said = good.stdout + good.stderr;
      assert.ok(good.success && /Signature Verified Successfully/.test(said), said);
      signature[10] ^= 1;
      await Deno.writeFile(`${dir}/bad.sig`, signature);
      assert.equal((await verify(`${dir}/bad.sig`)).success, false);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
