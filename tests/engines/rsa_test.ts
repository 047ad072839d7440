// RSA-OAEP KEM: conformance on every backend, Wycheproof OAEP-SHA-256 vectors, the factory, and
// OpenSSL interop in both directions.
import assert from "node:assert/strict";
import {
  createRsaEngine,
  DecryptionError,
  importRsaPublicKey,
  importRsaSecretKey,
  InvalidKeyError,
  registry,
  rsaAutoPrivateBackend,
  rsaFactory,
} from "../../mod.ts";
import type { KemKeyPair, RsaBackend } from "../../mod.ts";
import { _oaepDecrypt } from "../../engines/rsa/rsa.ts";
import { kemConformance } from "../../testing/mod.ts";
import { hex, loadWycheproof } from "./_wycheproof.ts";
import { ticksDuring } from "../_event_loop.ts";
import { runCommand, runDenoScript } from "../_process.ts";

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

async function openssl(args: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  const out = await runCommand("openssl", args, { stdin });
  if (!out.success) throw new Error(`openssl ${args[0]} failed: ${out.stderr}`);
  return out.stdoutBytes;
}

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
      for (const backend of BACKENDS) {
        const { encapsulation, sharedSecret } = await createRsaEngine(2048, { backend })
          .encapsulate(publicKey);
        const ctFile = `${dir}/ct.bin`;
        await Deno.writeFile(ctFile, encapsulation);
        const plain = await openssl([
          "pkeyutl",
          "-decrypt",
          "-inkey",
          pem,
          "-in",
          ctFile,
          ...OAEP_OPTS,
        ]);
        assert.deepEqual(plain, sharedSecret, backend);
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
