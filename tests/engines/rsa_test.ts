// RSA-OAEP KEM: conformance on every backend, Wycheproof OAEP-SHA-256 vectors, the factory, and
// OpenSSL interop in both directions.
import assert from "node:assert/strict";
import forge from "node-forge";
import { constants as nodeConstants, createPublicKey, publicEncrypt } from "node:crypto";
import {
  createRsaEngine,
  DecryptionError,
  encodeRecipient,
  encrypt,
  importRsaPublicKey,
  importRsaSecretKey,
  InvalidKeyError,
  KemRecipient,
  parseRecipient,
  registry,
  rsaAutoPrivateBackend,
  rsaFactory,
} from "../../mod.ts";
import type { KemKeyPair, RsaBackend } from "../../mod.ts";
import { _oaepDecrypt } from "../../engines/rsa/rsa.ts";
import { kemConformance } from "../../testing/mod.ts";
import { hex, loadWycheproof } from "./_wycheproof.ts";
import { ticksDuring } from "../_event_loop.ts";
import { runChecked, runDenoScript } from "../_process.ts";

// The test task grants --allow-ffi, so "openssl" loads (and "auto" uses it for the private
// operation); a test below runs without that permission.
const BACKENDS: RsaBackend[] = ["auto", "openssl", "node", "webcrypto", "forge"];

async function fixture(bits: number): Promise<KemKeyPair> {
  const dir = new URL("../fixtures/rsa/", import.meta.url);
  return {
    publicKey: await Deno.readFile(new URL(`rsa${bits}.spki.der`, dir)),
    secretKey: await Deno.readFile(new URL(`rsa${bits}.pkcs8.der`, dir)),
  };
}

function spkiSize(bits: number) {
  // The SPKI wraps the modulus: always a little longer than publicKeySize.
  return (pk: Uint8Array) =>
    assert.ok(pk.length > bits / 8 && pk.length < bits / 8 + 40, `${pk.length}`);
}

for (const bits of [2048, 3072]) {
  for (const backend of BACKENDS) {
    // forge's pure-JS keygen is slow: its key pairs come from the native backend.
    const keyPairs = backend === "forge"
      ? async () => {
        const kem = createRsaEngine(bits);
        return [await kem.generateKeyPair(), await kem.generateKeyPair()] as [
          KemKeyPair,
          KemKeyPair,
        ];
      }
      : undefined;
    Deno.test(`rsa-${bits} (${backend}) conformance`, (t) =>
      kemConformance(t, createRsaEngine(bits, { backend }), {
        tamper: "reject",
        checkPublicKey: spkiSize(bits),
        keyPairs,
      }));
  }
}

for (const bits of [4096, 8192]) {
  Deno.test(`rsa-${bits} conformance (OpenSSL-made fixture keys)`, async (t) => {
    const a = await fixture(bits);
    const b = await fixture(bits === 4096 ? 8192 : 4096);
    // The second pair is the other fixture: its "wrong secret key" step checks that a key of
    // another size is refused (a second fixture of each size would add 7 KB for little).
    await kemConformance(t, registry.kem(`rsa-${bits}`), {
      tamper: "reject",
      checkPublicKey: spkiSize(bits),
      keyPairs: () =>
        Promise.resolve([a, { ...a, secretKey: b.secretKey, publicKey: b.publicKey }]),
    });
  });
}

Deno.test("Wycheproof rsa_oaep_*_sha256_mgf1sha256_test.json on every backend", async () => {
  for (const bits of [2048, 3072, 4096]) {
    const { cases, numberOfTests } = await loadWycheproof(
      `rsa_oaep_${bits}_sha256_mgf1sha256_test.json`,
    );
    assert.equal(numberOfTests, 37);
    // forge is 30-70x slower; it runs the 2048-bit file only.
    for (const backend of bits === 2048 ? BACKENDS : BACKENDS.filter((b) => b !== "forge")) {
      const counts = { valid: 0, invalid: 0 };
      for (const { group, test } of cases) {
        const sk = hex(group.privateKeyPkcs8);
        const [ct, label] = [hex(test.ct), hex(test.label)];
        if (test.result === "valid") {
          assert.deepEqual(
            await _oaepDecrypt(backend, sk, ct, label),
            hex(test.msg),
            `${bits} ${backend} tc ${test.tcId}`,
          );
          counts.valid++;
        } else {
          const e = await _oaepDecrypt(backend, sk, ct, label).then(() => undefined, (e) => e);
          assert.ok(e instanceof DecryptionError, `${bits} ${backend} tc ${test.tcId}: ${e}`);
          assert.equal(e.message, "decryption failed");
          counts.invalid++;
        }
      }
      assert.deepEqual(counts, { valid: 18, invalid: 19 }, `${bits} ${backend}`);
    }
  }
});

Deno.test("the factory: any multiple of 8 from 2048 to 16384", () => {
  const kem = registry.kem("rsa-2304");
  assert.equal(kem.publicKeySize, 288);
  assert.equal(kem.securityBits, 120);
  for (const bad of ["rsa-1024", "rsa-16392", "rsa-2049", "rsa-abc", "rsa-02048", "rsa-"]) {
    assert.equal(rsaFactory.resolve(bad), undefined, bad);
  }
  assert.throws(() => createRsaEngine(1024), RangeError);
  assert.throws(() => createRsaEngine(2048, { backend: "gmp" as never }), TypeError);
});

Deno.test("keys of the wrong size or kind are refused", async () => {
  const small = await createRsaEngine(2048).generateKeyPair();
  await assert.rejects(registry.kem("rsa-3072").encapsulate(small.publicKey), InvalidKeyError);
  await assert.rejects(
    registry.kem("rsa-3072").decapsulate(new Uint8Array(384), small.secretKey),
    InvalidKeyError,
  );
  await assert.rejects(registry.kem("rsa-2048").encapsulate(new Uint8Array(300)), InvalidKeyError);
});

// ------------------------------------------------------------------ OpenSSL interop

/** openssl's stdout; throws unless it succeeds. */
const openssl = async (args: string[], stdin?: Uint8Array): Promise<Uint8Array> =>
  (await runChecked("openssl", args, { stdin })).stdoutBytes;

const OAEP_OPTS = [
  "-pkeyopt",
  "rsa_padding_mode:oaep",
  "-pkeyopt",
  "rsa_oaep_md:sha256",
  "-pkeyopt",
  "rsa_mgf1_md:sha256",
];

Deno.test("OpenSSL interop: openssl keys with us, our keys with openssl", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const pem = `${dir}/k.pem`;
    await openssl([
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-out",
      pem,
    ]);
    const pkcs1Der = await openssl([
      "genpkey",
      "-algorithm",
      "RSA",
      "-pkeyopt",
      "rsa_keygen_bits:2048",
      "-outform",
      "DER",
    ]);
    const kem = registry.kem("rsa-2048");

    await t.step("PEM (PKCS#8) and DER (PKCS#1) private keys import", async () => {
      const fromPem = importRsaSecretKey(await Deno.readTextFile(pem));
      const expected = await openssl([
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        pem,
        "-outform",
        "DER",
      ]);
      assert.deepEqual(fromPem, expected);
      const fromPkcs1 = importRsaSecretKey(pkcs1Der);
      const spki = await kem.publicKeyFromSecretKey!(fromPkcs1);
      const { encapsulation, sharedSecret } = await kem.encapsulate(spki);
      assert.deepEqual(await kem.decapsulate(encapsulation, fromPkcs1), sharedSecret);
      const pubPem = new TextDecoder().decode(await openssl(["pkey", "-in", pem, "-pubout"]));
      assert.deepEqual(importRsaPublicKey(pubPem), await kem.publicKeyFromSecretKey!(fromPem));
      const pkcs1Pub = await openssl(["rsa", "-in", pem, "-RSAPublicKey_out", "-outform", "DER"]);
      assert.deepEqual(importRsaPublicKey(pkcs1Pub), await kem.publicKeyFromSecretKey!(fromPem));
    });

    await t.step("our encapsulation decrypts with openssl pkeyutl", async () => {
      const secretKey = importRsaSecretKey(await Deno.readTextFile(pem));
      const publicKey = await kem.publicKeyFromSecretKey!(secretKey);
      const n = modulusOf(publicKey);
      for (const backend of BACKENDS) {
        const { encapsulation, sharedSecret } = await createRsaEngine(2048, { backend })
          .encapsulate(publicKey);
        // The key-private form v = c + t*n: its remainder mod n is OpenSSL's OAEP ciphertext,
        // and the shared secret is HKDF-SHA-256(OAEP plaintext, salt v) (docs/engines/rsa.md).
        assert.equal(encapsulation.length, 256 + 16);
        const ctFile = `${dir}/ct.bin`;
        await Deno.writeFile(ctFile, toBytes(toBig(encapsulation) % n, 256));
        const plain = await openssl([
          "pkeyutl",
          "-decrypt",
          "-inkey",
          pem,
          "-in",
          ctFile,
          ...OAEP_OPTS,
        ]);
        assert.equal(plain.length, 32);
        assert.deepEqual(
          await rsaKpSecret("rsa-2048", plain, encapsulation),
          sharedSecret,
          backend,
        );
      }
    });

    await t.step("openssl's OAEP ciphertext of 32 bytes decapsulates with us", async () => {
      const secretKey = importRsaSecretKey(await Deno.readTextFile(pem));
      const secret = crypto.getRandomValues(new Uint8Array(32));
      const pub = `${dir}/pub.pem`;
      await Deno.writeFile(pub, await openssl(["pkey", "-in", pem, "-pubout"]));
      const ct = await openssl(
        ["pkeyutl", "-encrypt", "-pubin", "-inkey", pub, ...OAEP_OPTS],
        secret,
      );
      for (const backend of BACKENDS) {
        assert.deepEqual(
          await createRsaEngine(2048, { backend }).decapsulate(ct, secretKey),
          secret,
          backend,
        );
      }
    });

    await t.step("our keys load in openssl, which re-encodes them byte for byte", async () => {
      for (const backend of ["node", "webcrypto"] as const) {
        const { publicKey, secretKey } = await createRsaEngine(2048, { backend }).generateKeyPair();
        await Deno.writeFile(`${dir}/sk.der`, secretKey, { mode: 0o600 });
        await Deno.writeFile(`${dir}/pk.der`, publicKey);
        // openssl `command` reading DER from `file` and writing DER.
        const der = (command: string[], file: string) =>
          openssl([...command, "-inform", "DER", "-in", `${dir}/${file}`, "-outform", "DER"]);
        // `pkcs8 -nocrypt` loads it (and writes PKCS#1); `-topk8` writes PKCS#8 again.
        const pkcs1 = await der(["pkcs8", "-nocrypt"], "sk.der");
        assert.ok(pkcs1.length > 0 && pkcs1.length < secretKey.length);
        const topk8 = await der(["pkcs8", "-topk8", "-nocrypt"], "sk.der");
        assert.deepEqual(topk8, secretKey, `${backend} secret key`);
        const pk = await der(["pkey", "-pubin"], "pk.der");
        assert.deepEqual(pk, publicKey, `${backend} public key`);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RSA keygen does not block the event loop", async () => {
  const ticks = await ticksDuring(() => createRsaEngine(3072).generateKeyPair(), 10);
  // A blocking keygen would leave no tick at all; a slow machine only adds ticks.
  assert.ok(ticks > 0, `ticks: ${ticks}`);
});

Deno.test("RSA decapsulation does not block the event loop (default backend)", async () => {
  const { publicKey, secretKey } = await fixture(8192);
  const ticksOn = async (backend: RsaBackend) => {
    const kem = createRsaEngine(8192, { backend });
    const { encapsulation } = await kem.encapsulate(publicKey);
    await kem.decapsulate(encapsulation, secretKey); // parses and caches the key
    return await ticksDuring(() => kem.decapsulate(encapsulation, secretKey));
  };
  // An RSA-8192 private operation takes tens of milliseconds on any machine: WebCrypto's runs in
  // Deno's thread pool, so timers fire meanwhile; node:crypto's privateDecrypt is synchronous, so
  // none can (which shows this check can fail).
  const auto = await ticksOn("auto");
  assert.ok(auto > 0, `auto: ${auto} ticks`);
  const webcrypto = await ticksOn("webcrypto");
  assert.ok(webcrypto > 0, `webcrypto: ${webcrypto} ticks`);
  assert.equal(await ticksOn("node"), 0);
});

Deno.test("with --allow-ffi, auto decrypts in OpenSSL", () => {
  assert.equal(rsaAutoPrivateBackend(), "openssl");
});

Deno.test("without the FFI permission, auto decrypts in WebCrypto and openssl is refused", async () => {
  // A child without --allow-ffi: "auto" must not prompt or fail; "openssl" says why it cannot run.
  const { publicKey, secretKey } = await fixture(4096);
  const script = `
    import { createRsaEngine, rsaAutoPrivateBackend } from ${
    JSON.stringify(new URL("../../engines/rsa/mod.ts", import.meta.url).href)
  };
    const [publicKey, secretKey] = [${JSON.stringify(publicKey.toHex())}, ${
    JSON.stringify(secretKey.toHex())
  }].map((h) => Uint8Array.fromHex(h));
    const kem = createRsaEngine(4096);
    const { encapsulation, sharedSecret } = await kem.encapsulate(publicKey);
    const opened = await kem.decapsulate(encapsulation, secretKey);
    let openssl = "created";
    try {
      createRsaEngine(4096, { backend: "openssl" });
    } catch (e) {
      openssl = e.message;
    }
    console.log(JSON.stringify({
      backend: rsaAutoPrivateBackend(),
      same: opened.toHex() === sharedSecret.toHex(),
      openssl,
    }));
  `;
  const out = await runDenoScript(script, ["--allow-read", "--allow-env"]);
  assert.equal(out.code, 0, out.stderr);
  const result = JSON.parse(out.stdout);
  assert.deepEqual(result, {
    backend: "webcrypto",
    same: true,
    openssl: "OpenSSL's RSA needs FFI permission (deno run --allow-ffi)",
  });
});

// ------------------------------------------------------------------ key checks (issue 20 section 5)

const toBig = (bytes: Uint8Array): bigint => BigInt(`0x0${bytes.toHex()}`);
const toBytes = (v: bigint, length: number): Uint8Array =>
  Uint8Array.fromHex(v.toString(16).padStart(length * 2, "0"));
const forgeBig = (v: bigint) => new forge.jsbn.BigInteger(v.toString(16), 16);
const fromForgeBig = (v: forge.jsbn.BigInteger) => BigInt(`0x${v.toString(16)}`);

/** The modulus of an SPKI, read by forge (which parses any size). */
function modulusOf(spki: Uint8Array): bigint {
  const der = forge.util.binary.raw.encode(spki);
  const key = forge.pki.publicKeyFromAsn1(forge.asn1.fromDer(der)) as forge.pki.rsa.PublicKey;
  return fromForgeBig(key.n);
}

/** An SPKI DER of (n, e) exactly as given: the crafted, defective keys below. */
function spkiOf(n: bigint, e: bigint): Uint8Array {
  const key = forge.pki.setRsaPublicKey(forgeBig(n), forgeBig(e));
  const der = forge.asn1.toDer(forge.pki.publicKeyToAsn1(key)).getBytes();
  return Uint8Array.from(der as string, (c: string) => c.charCodeAt(0));
}

/** The key-private form's shared secret, computed independently with WebCrypto's HKDF. */
async function rsaKpSecret(id: string, m: Uint8Array, v: Uint8Array): Promise<Uint8Array> {
  const ikm = await crypto.subtle.importKey("raw", m as Uint8Array<ArrayBuffer>, "HKDF", false, [
    "deriveBits",
  ]);
  const info = new TextEncoder().encode(`polycrypt rsa-kp ${id}`);
  const salt = v as Uint8Array<ArrayBuffer>;
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt, info },
    ikm,
    256,
  );
  return new Uint8Array(bits);
}

/** A modulus of `n`'s size that `p` divides: n rounded down to a multiple of 2p, plus p. */
function withFactor(n: bigint, p: bigint): bigint {
  return n - (n % (2n * p)) + p;
}

/** The defective public keys the review found (and their neighbours), from a real key `n`. */
function badKeys(n: bigint): [string, Uint8Array][] {
  const e = 65537n;
  return [
    ["even modulus", spkiOf(n - 1n, e)],
    ["e = n", spkiOf(n, n)],
    ["e > n", spkiOf(n, n + 2n)],
    ["huge e (n - 2)", spkiOf(n, n - 2n)],
    ["e = 2^256 + 1", spkiOf(n, (1n << 256n) + 1n)],
    ["e = 3", spkiOf(n, 3n)],
    ["e = 2^16 + 1 - 2", spkiOf(n, 65535n)],
    ["even e", spkiOf(n, 65538n)],
    ["3 divides n", spkiOf(withFactor(n, 3n), e)],
    ["751 divides n", spkiOf(withFactor(n, 751n), e)],
    ["n one bit short", spkiOf(n >> 1n | 1n, e)],
  ];
}

Deno.test("public keys: SP 800-56B / SP 800-89 checks give InvalidKeyError everywhere", async () => {
  const { publicKey } = await createRsaEngine(2048).generateKeyPair();
  const n = modulusOf(publicKey);
  for (const [what, spki] of badKeys(n)) {
    for (const backend of BACKENDS) {
      await assert.rejects(
        createRsaEngine(2048, { backend }).encapsulate(spki),
        InvalidKeyError,
        `${what} (${backend})`,
      );
    }
    const recipient = encodeRecipient("rsa-2048", spki);
    assert.throws(() => parseRecipient(recipient), InvalidKeyError, what);
    await assert.rejects(
      encrypt(new Uint8Array(1), { recipients: [recipient] }),
      InvalidKeyError,
      what,
    );
    // A hybrid with the bad key as its RSA component refuses it the same way.
    const hybrid = registry.kem("rsa-2048+x25519");
    const x = await registry.kem("x25519").generateKeyPair();
    const pk = new Uint8Array([
      spki.length >> 8,
      spki.length & 255,
      ...spki,
      0,
      32,
      ...x.publicKey,
    ]);
    assert.throws(() => parseRecipient(encodeRecipient(hybrid.id, pk)), InvalidKeyError, what);
    await assert.rejects(hybrid.encapsulate(pk), InvalidKeyError, what);
  }
  // The bound is 752 (SP 800-89): a factor of 757, the next prime, is not looked for.
  let n757 = withFactor(n, 757n);
  const smallFactor = (m: bigint) => {
    for (let p = 3n; p < 752n; p += 2n) if (m % p === 0n) return true;
    return false;
  };
  while (smallFactor(n757)) n757 -= 2n * 757n; // the nearest such n free of smaller factors
  assert.equal(n757 % 757n, 0n);
  await registry.kem("rsa-2048").encapsulate(spkiOf(n757, 65537n));
  // The good key and e = 2^16 + 1, 2^256 - 1 (the limits) pass.
  await registry.kem("rsa-2048").encapsulate(publicKey);
  await registry.kem("rsa-2048").encapsulate(spkiOf(n, (1n << 256n) - 1n));
});

Deno.test("public keys: an rsa-8192 key with an 8,191-bit e is refused at once", async () => {
  const { publicKey } = await fixture(8192);
  const spki = spkiOf(modulusOf(publicKey), (1n << 8190n) + 1n);
  const recipient = encodeRecipient("rsa-8192", spki);
  for (const backend of BACKENDS) {
    const kem = createRsaEngine(8192, { backend });
    const start = performance.now();
    await assert.rejects(kem.encapsulate(spki), InvalidKeyError, backend);
    const ms = performance.now() - start;
    assert.ok(ms < 100, `${backend}: ${ms.toFixed(1)} ms`);
  }
  let start = performance.now();
  assert.throws(() => parseRecipient(recipient), InvalidKeyError);
  assert.ok(performance.now() - start < 100, `parseRecipient: ${performance.now() - start} ms`);
  start = performance.now();
  await assert.rejects(encrypt(new Uint8Array(1), { recipients: [recipient] }), InvalidKeyError);
  assert.ok(performance.now() - start < 100, `encrypt: ${performance.now() - start} ms`);
});

/** A PKCS#8 DER of forge's private key fields as given. */
function pkcs8Of(k: forge.pki.rsa.PrivateKey, n: bigint, e: bigint): Uint8Array {
  const key = forge.pki.setRsaPrivateKey(
    forgeBig(n),
    forgeBig(e),
    k.d,
    k.p,
    k.q,
    k.dP,
    k.dQ,
    k.qInv,
  );
  const der = forge.asn1.toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key)))
    .getBytes();
  return Uint8Array.from(der as string, (c: string) => c.charCodeAt(0));
}

Deno.test("private keys get the same checks, and n = p*q, on every backend", async () => {
  const { secretKey } = await createRsaEngine(2048).generateKeyPair();
  const k = forge.pki.privateKeyFromAsn1(
    forge.asn1.fromDer(forge.util.binary.raw.encode(secretKey)),
  ) as forge.pki.rsa.PrivateKey;
  const n = fromForgeBig(k.n);
  const bad: [string, Uint8Array][] = [
    ["e = 3", pkcs8Of(k, n, 3n)],
    ["even e", pkcs8Of(k, n, 65538n)],
    ["n != p*q", pkcs8Of(k, n + 2n, 65537n)],
    ["3 divides n", pkcs8Of(k, withFactor(n, 3n), 65537n)],
  ];
  const encapsulation = new Uint8Array(256 + 16);
  for (const [what, sk] of bad) {
    for (const backend of BACKENDS) {
      await assert.rejects(
        createRsaEngine(2048, { backend }).decapsulate(encapsulation, sk),
        InvalidKeyError,
        `${what} (${backend})`,
      );
    }
  }
});

// ------------------------------------------------------------------ key privacy

/**
 * Bob's rsa-2048 key pair and modulus, and another rsa-2048 modulus below it, far enough below
 * that the format 1.0 distinguisher has about 20 or more hits expected in 1,000 (it rules the
 * other key out with probability (nBob - nOther) / nBob; random moduli are 7.7% apart on average).
 */
async function twoKeys(): Promise<[KemKeyPair, bigint, bigint]> {
  const kem = createRsaEngine(2048);
  const pairs: [KemKeyPair, bigint][] = [];
  for (let i = 0; i < 8; i++) {
    const pair = await kem.generateKeyPair();
    pairs.push([pair, modulusOf(pair.publicKey)]);
    pairs.sort((a, b) => (a[1] > b[1] ? -1 : 1));
    const [[bob, nBob], [, nOther]] = [pairs[0], pairs.at(-1)!];
    if (pairs.length > 1 && (nBob - nOther) * 1000n / nBob >= 20n) return [bob, nBob, nOther];
  }
  throw new Error("eight random rsa-2048 moduli within 2% of each other");
}

Deno.test("key privacy: no rsa-2048 stanza rules out another rsa-2048 key (1,000 envelopes)", async () => {
  const [bob, nBob, nOther] = await twoKeys();
  // The distinguisher: a value that no encapsulation to the other key can take proves the
  // stanza is not for it. Format 1.0 values are OAEP ciphertexts, below the recipient's modulus;
  // key-private values are below 256^(k+16) for every key of the size.
  const rulesOut = (value: Uint8Array, n: bigint) =>
    value.length === 256 ? toBig(value) >= n : toBig(value) >= 1n << BigInt(8 * (256 + 16));

  // Reproduction: format 1.0 sent the plain OAEP ciphertext (node:crypto's, as it did).
  const key = createPublicKey({ key: bob.publicKey as never, format: "der", type: "spki" });
  let oldHits = 0;
  for (let i = 0; i < 1000; i++) {
    const c = publicEncrypt(
      { key, padding: nodeConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      crypto.getRandomValues(new Uint8Array(32)),
    );
    if (rulesOut(new Uint8Array(c), nOther)) oldHits++;
  }
  const expected = Number((nBob - nOther) * 1000n / nBob);
  assert.ok(oldHits > 0, `format 1.0: ${oldHits} of 1000 (expected about ${expected})`);

  // Now: stanzas as encrypt writes them (KemRecipient), the encapsulation at the front.
  const recipient = new KemRecipient(registry.kem("rsa-2048"), bob.publicKey);
  let newHits = 0;
  let sum = 0;
  const fileKey = new Uint8Array(32);
  for (let i = 0; i < 1000; i++) {
    const [{ body }] = await recipient.wrapFileKey(fileKey);
    const value = body.subarray(0, body.length - 48);
    assert.equal(value.length, 256 + 16);
    if (rulesOut(value, nOther)) newHits++;
    sum += value[0] / 256; // the top byte: uniform over 0..255 whatever the key
  }
  assert.equal(newHits, 0);
  assert.ok(Math.abs(sum / 1000 - 0.498) < 0.05, `mean top byte ${sum / 1000}`);
  console.log(`distinguisher: format 1.0 ${oldHits}/1000, key-private ${newHits}/1000`);
});

Deno.test("format 1.0 encapsulations (plain c, modulus size) still decapsulate, alone and in hybrids", async () => {
  const kem = registry.kem("rsa-2048");
  const bob = await kem.generateKeyPair();
  const key = createPublicKey({ key: bob.publicKey as never, format: "der", type: "spki" });
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const c = new Uint8Array(
    publicEncrypt(
      { key, padding: nodeConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      secret,
    ),
  );
  for (const backend of BACKENDS) {
    assert.deepEqual(
      await createRsaEngine(2048, { backend }).decapsulate(c, bob.secretKey),
      secret,
    );
  }
  // A new encapsulation reduced mod n is that legacy form, with the unbound OAEP secret.
  const { encapsulation, sharedSecret } = await kem.encapsulate(bob.publicKey);
  const reduced = toBytes(toBig(encapsulation) % modulusOf(bob.publicKey), 256);
  const m = await kem.decapsulate(reduced, bob.secretKey);
  assert.deepEqual(await rsaKpSecret("rsa-2048", m, encapsulation), sharedSecret);
  // v + n (when it fits) is another value with the same c: it must not give the same secret.
  const plusN = toBig(encapsulation) + modulusOf(bob.publicKey);
  if (plusN < 1n << BigInt(8 * 272)) {
    const other = await kem.decapsulate(toBytes(plusN, 272), bob.secretKey);
    assert.notDeepEqual(other, sharedSecret);
  }
  // Sizes between the two forms are refused.
  for (const length of [255, 257, 271, 273]) {
    await assert.rejects(kem.decapsulate(new Uint8Array(length), bob.secretKey), RangeError);
  }
});
