// The shared conformance suite: every engine, built-in or plugin, runs it.
// Usage: Deno.test("x", (t) => kemConformance(t, engine, options)).
import assert from "node:assert/strict";
import { DecryptionError, InvalidKeyError, PolycryptError } from "../errors.ts";
import { assertRejects } from "./assert.ts";
import type {
  AeadEngine,
  KemEngine,
  KemKeyPair,
  SignatureEngine,
  SignatureKeyPair,
} from "../engines/types.ts";

/** How an engine reacts to a corrupted encapsulation. */
export type TamperBehaviour =
  /** Always throws DecryptionError (RSA-OAEP). */
  | "reject"
  /** Returns a different secret (ML-KEM implicit rejection; unauthenticated DH). */
  | "different-secret"
  /** Either throws InvalidKeyError/DecryptionError or returns a different secret (ElGamal, X25519). */
  | "reject-or-different";

/** What {@linkcode kemConformance} needs to know about the engine under test. */
export interface KemConformanceOptions {
  /** How the engine reacts to a corrupted encapsulation. */
  tamper: TamperBehaviour;
  /** Key pairs to use instead of generateKeyPair() (slow keygen, e.g. RSA-8192). */
  keyPairs?: () => Promise<[KemKeyPair, KemKeyPair]>;
  /** Checks the public key size; defaults to `publicKey.length === publicKeySize`. */
  checkPublicKey?: (publicKey: Uint8Array) => void;
  /** Byte positions of the encapsulation to corrupt; defaults to first, middle, last. */
  tamperPositions?: number[];
}

function snapshot(...arrays: Uint8Array[]): Uint8Array[] {
  return arrays.map((a) => a.slice());
}

function flip(bytes: Uint8Array, position: number): Uint8Array {
  const copy = bytes.slice();
  copy[position] ^= 0x01;
  return copy;
}

/**
 * Runs the KEM conformance steps against `engine`, each as a `t.step`: the declared contract,
 * round trips at the declared sizes, fresh keys and encapsulations, inputs left unchanged,
 * wrong types and sizes, tampered encapsulations and the wrong secret key.
 *
 * @example
 * ```ts
 * import { x25519 } from "@polycrypt/polycrypt";
 * import { kemConformance } from "@polycrypt/polycrypt/testing";
 * Deno.test("x25519 is conformant", (t) => kemConformance(t, x25519, { tamper: "reject-or-different" }));
 * ```
 */
export async function kemConformance(
  t: Deno.TestContext,
  engine: KemEngine,
  options: KemConformanceOptions,
): Promise<void> {
  const [alice, bob] = options.keyPairs
    ? await options.keyPairs()
    : await Promise.all([engine.generateKeyPair(), engine.generateKeyPair()]);

  await t.step("declares its contract", () => {
    assert.equal(engine.kind, "kem");
    assert.match(engine.id, /^[a-z0-9][a-z0-9.\-_+]*$/);
    assert.equal(typeof engine.family, "string");
    assert.equal(typeof engine.postQuantum, "boolean");
    for (const n of [engine.securityBits, engine.publicKeySize, engine.encapsulationSize]) {
      assert.ok(Number.isSafeInteger(n) && n > 0);
    }
    assert.ok(engine.sharedSecretSize >= 16);
    const legacy = engine.legacyEncapsulationSize;
    if (legacy !== undefined) {
      assert.ok(
        Number.isSafeInteger(legacy) && legacy > 0 && legacy !== engine.encapsulationSize,
        `legacy ${legacy}`,
      );
    }
  });

  await t.step("round trip with declared sizes", async () => {
    (options.checkPublicKey ??
      ((pk) => assert.equal(pk.length, engine.publicKeySize, "publicKey size")))(alice.publicKey);
    const { encapsulation, sharedSecret } = await engine.encapsulate(alice.publicKey);
    assert.equal(encapsulation.length, engine.encapsulationSize, "encapsulation size");
    assert.equal(sharedSecret.length, engine.sharedSecretSize, "sharedSecret size");
    const opened = await engine.decapsulate(encapsulation, alice.secretKey);
    assert.deepEqual(opened, sharedSecret);
    assert.ok(sharedSecret.some((b) => b !== 0), "shared secret is not all zero");
  });

  await t.step("two key pairs and two encapsulations differ", async () => {
    assert.notDeepEqual(alice.publicKey, bob.publicKey);
    assert.notDeepEqual(alice.secretKey, bob.secretKey);
    const a = await engine.encapsulate(alice.publicKey);
    const b = await engine.encapsulate(alice.publicKey);
    assert.notDeepEqual(a.encapsulation, b.encapsulation);
    assert.notDeepEqual(a.sharedSecret, b.sharedSecret);
  });

  await t.step("inputs are left unchanged", async () => {
    const [pk, sk] = snapshot(alice.publicKey, alice.secretKey);
    const { encapsulation } = await engine.encapsulate(alice.publicKey);
    const [enc] = snapshot(encapsulation);
    await engine.decapsulate(encapsulation, alice.secretKey);
    assert.deepEqual(alice.publicKey, pk);
    assert.deepEqual(alice.secretKey, sk);
    assert.deepEqual(encapsulation, enc);
  });

  await t.step("public key from secret key", async () => {
    if (!engine.publicKeyFromSecretKey) return;
    assert.deepEqual(await engine.publicKeyFromSecretKey(alice.secretKey), alice.publicKey);
  });

  await t.step("wrong types and sizes are rejected", async () => {
    const { encapsulation } = await engine.encapsulate(alice.publicKey);
    // deno-lint-ignore no-explicit-any
    const notBytes: any = "not bytes";
    await assertRejects(engine.encapsulate(notBytes), [TypeError], "encapsulate(string)");
    await assertRejects(
      engine.decapsulate(notBytes, alice.secretKey),
      [TypeError],
      "decapsulate(string)",
    );
    await assertRejects(
      engine.decapsulate(encapsulation, notBytes),
      [TypeError],
      "decapsulate(.., string)",
    );
    await assertRejects(
      engine.encapsulate(alice.publicKey.subarray(0, alice.publicKey.length - 1)),
      [RangeError, InvalidKeyError],
      "short publicKey",
    );
    await assertRejects(
      engine.decapsulate(encapsulation.subarray(0, encapsulation.length - 1), alice.secretKey),
      [RangeError],
      "short encapsulation",
    );
    const long = new Uint8Array(encapsulation.length + 1);
    long.set(encapsulation);
    // A length next to an earlier form's is no more accepted than one next to the current form.
    for (
      const n of engine.legacyEncapsulationSize === undefined
        ? []
        : [engine.legacyEncapsulationSize]
    ) {
      for (const length of [n - 1, n + 1]) {
        if (length === engine.encapsulationSize) continue;
        await assertRejects(
          engine.decapsulate(new Uint8Array(length), alice.secretKey),
          [RangeError],
          `encapsulation of ${length} bytes`,
        );
      }
    }
    await assertRejects(
      engine.decapsulate(long, alice.secretKey),
      [RangeError],
      "long encapsulation",
    );
    await assertRejects(
      engine.decapsulate(encapsulation, alice.secretKey.subarray(1)),
      [RangeError, InvalidKeyError],
      "short secretKey",
    );
  });

  await t.step(`tampered encapsulation: ${options.tamper}`, async () => {
    const { encapsulation, sharedSecret } = await engine.encapsulate(alice.publicKey);
    const n = encapsulation.length;
    const positions = options.tamperPositions ?? [0, n >> 1, n - 1];
    for (const position of positions) {
      const bad = flip(encapsulation, position);
      let result: Uint8Array | undefined;
      let error: unknown;
      try {
        result = await engine.decapsulate(bad, alice.secretKey);
      } catch (e) {
        error = e;
      }
      if (options.tamper === "reject") {
        assert.ok(error instanceof DecryptionError, `byte ${position}: ${error}`);
        assert.equal((error as Error).cause, undefined);
      } else if (options.tamper === "different-secret") {
        assert.equal(error, undefined, `byte ${position}: threw ${error}`);
        assert.notDeepEqual(result, sharedSecret);
        assert.equal(result?.length, engine.sharedSecretSize);
      } else if (error !== undefined) {
        assert.ok(
          error instanceof DecryptionError || error instanceof InvalidKeyError,
          `byte ${position}: ${error}`,
        );
      } else {
        assert.notDeepEqual(result, sharedSecret, `byte ${position}`);
      }
    }
  });

  await t.step("the wrong secret key does not recover the secret", async () => {
    const { encapsulation, sharedSecret } = await engine.encapsulate(alice.publicKey);
    try {
      const other = await engine.decapsulate(encapsulation, bob.secretKey);
      assert.notEqual(options.tamper, "reject", "the wrong key must be rejected");
      assert.notDeepEqual(other, sharedSecret);
    } catch (e) {
      assert.ok(e instanceof PolycryptError, String(e));
    }
  });
}

/**
 * Runs the AEAD conformance steps against `engine`, each as a `t.step`: the declared contract,
 * round trips, empty and absent associated data alike, inputs left unchanged, and rejection of
 * any flipped byte, wrong key, nonce or associated data.
 *
 * @example
 * ```ts
 * import { xchacha20Poly1305 } from "@polycrypt/polycrypt";
 * import { aeadConformance } from "@polycrypt/polycrypt/testing";
 * Deno.test("xchacha20-poly1305 is conformant", (t) => aeadConformance(t, xchacha20Poly1305));
 * ```
 */
export async function aeadConformance(t: Deno.TestContext, engine: AeadEngine): Promise<void> {
  const key = crypto.getRandomValues(new Uint8Array(engine.keySize));
  const nonce = crypto.getRandomValues(new Uint8Array(engine.nonceSize));
  const aad = new TextEncoder().encode("header");

  await t.step("declares its contract", () => {
    assert.equal(engine.kind, "aead");
    assert.ok(engine.keySize >= 16 && engine.nonceSize >= 8 && engine.tagSize >= 16);
  });

  await t.step("round trip with declared sizes", async () => {
    for (const size of [0, 1, 15, 16, 17, 1000, 65536]) {
      const plaintext = crypto.getRandomValues(new Uint8Array(size));
      for (const ad of [undefined, aad]) {
        const sealed = await engine.seal(key, nonce, plaintext, ad);
        assert.equal(sealed.length, size + engine.tagSize);
        assert.deepEqual(await engine.open(key, nonce, sealed, ad), plaintext);
      }
    }
  });

  await t.step("empty aad equals no aad", async () => {
    const plaintext = new Uint8Array([1, 2, 3]);
    assert.deepEqual(
      await engine.seal(key, nonce, plaintext),
      await engine.seal(key, nonce, plaintext, new Uint8Array(0)),
    );
  });

  await t.step("inputs are left unchanged", async () => {
    const plaintext = crypto.getRandomValues(new Uint8Array(100));
    const [k, n, p, a] = snapshot(key, nonce, plaintext, aad);
    const sealed = await engine.seal(key, nonce, plaintext, aad);
    const [s] = snapshot(sealed);
    await engine.open(key, nonce, sealed, aad);
    assert.deepEqual([key, nonce, plaintext, aad, sealed], [k, n, p, a, s]);
  });

  await t.step("every flipped byte, wrong key, nonce or aad is rejected", async () => {
    const plaintext = crypto.getRandomValues(new Uint8Array(40));
    const sealed = await engine.seal(key, nonce, plaintext, aad);
    for (let i = 0; i < sealed.length; i++) {
      await assertRejects(engine.open(key, nonce, flip(sealed, i), aad), [DecryptionError], `${i}`);
    }
    await assertRejects(engine.open(flip(key, 0), nonce, sealed, aad), [DecryptionError], "key");
    await assertRejects(engine.open(key, flip(nonce, 0), sealed, aad), [DecryptionError], "nonce");
    await assertRejects(engine.open(key, nonce, sealed, flip(aad, 0)), [DecryptionError], "aad");
    await assertRejects(engine.open(key, nonce, sealed), [DecryptionError], "missing aad");
    await assertRejects(
      engine.open(key, nonce, sealed.subarray(0, sealed.length - 1), aad),
      [DecryptionError],
      "truncated",
    );
    await assertRejects(
      engine.open(key, nonce, sealed.subarray(0, engine.tagSize - 1), aad),
      [DecryptionError],
      "shorter than a tag",
    );
    try {
      await engine.open(key, nonce, flip(sealed, 0), aad);
    } catch (e) {
      assert.equal((e as Error).cause, undefined, "no library error leaks as cause");
    }
  });

  await t.step("wrong types and sizes are rejected", async () => {
    const p = new Uint8Array(4);
    // deno-lint-ignore no-explicit-any
    const notBytes: any = [1, 2, 3];
    await assertRejects(engine.seal(key.subarray(1), nonce, p), [RangeError], "short key");
    await assertRejects(engine.seal(key, nonce.subarray(1), p), [RangeError], "short nonce");
    await assertRejects(engine.open(key.subarray(1), nonce, p), [RangeError], "open short key");
    await assertRejects(engine.open(key, nonce.subarray(1), p), [RangeError], "open short nonce");
    await assertRejects(engine.seal(notBytes, nonce, p), [TypeError], "key array");
    await assertRejects(engine.seal(key, nonce, notBytes), [TypeError], "plaintext array");
    await assertRejects(engine.seal(key, nonce, p, notBytes), [TypeError], "aad array");
    await assertRejects(engine.open(key, nonce, notBytes), [TypeError], "ciphertext array");
  });
}

/** What {@linkcode signatureConformance} needs to know about the engine under test. */
export interface SignatureConformanceOptions {
  /**
   * Flip every `stride`-th bit of the signature (default 1: every bit). A slow pure-software
   * backend may use a larger stride; the first and last bit are always flipped.
   */
  signatureBitStride?: number;
  /** Key pairs to use instead of generateKeyPair(). */
  keyPairs?: () => Promise<[SignatureKeyPair, SignatureKeyPair]>;
}

/**
 * Runs the signature conformance steps against `engine`, each as a `t.step`: the declared
 * contract, round trips at the declared sizes, fresh keys, inputs left unchanged, the public key
 * from the secret key, the wrong key, every single-bit flip of the signature and of a short
 * message rejected, and wrong types (`TypeError`) and sizes (`RangeError`).
 *
 * @example
 * ```ts
 * import { ed25519 } from "@polycrypt/polycrypt";
 * import { signatureConformance } from "@polycrypt/polycrypt/testing";
 * Deno.test("ed25519 is conformant", (t) => signatureConformance(t, ed25519));
 * ```
 */
export async function signatureConformance(
  t: Deno.TestContext,
  engine: SignatureEngine,
  options: SignatureConformanceOptions = {},
): Promise<void> {
  const [alice, bob] = options.keyPairs
    ? await options.keyPairs()
    : await Promise.all([engine.generateKeyPair(), engine.generateKeyPair()]);
  const message = new TextEncoder().encode("hi Bob, this is A");

  await t.step("declares its contract", () => {
    assert.equal(engine.kind, "signature");
    assert.match(engine.id, /^[a-z0-9][a-z0-9.\-_+]*$/);
    assert.ok(typeof engine.family === "string" && engine.family !== "");
    assert.equal(typeof engine.postQuantum, "boolean");
    for (const n of [engine.securityBits, engine.publicKeySize, engine.signatureSize]) {
      assert.ok(Number.isSafeInteger(n) && n > 0);
    }
  });

  await t.step("round trip with declared sizes", async () => {
    assert.equal(alice.publicKey.length, engine.publicKeySize, "publicKey size");
    for (const size of [0, 1, 64, 1000, 65536]) {
      const m = crypto.getRandomValues(new Uint8Array(size));
      const signature = await engine.sign(alice.secretKey, m);
      assert.equal(signature.length, engine.signatureSize, "signature size");
      assert.equal(await engine.verify(alice.publicKey, m, signature), true, `${size} bytes`);
    }
  });

  await t.step("two key pairs differ", () => {
    assert.notDeepEqual(alice.publicKey, bob.publicKey);
    assert.notDeepEqual(alice.secretKey, bob.secretKey);
  });

  await t.step("inputs are left unchanged", async () => {
    const [pk, sk, m] = snapshot(alice.publicKey, alice.secretKey, message);
    const signature = await engine.sign(alice.secretKey, message);
    const [s] = snapshot(signature);
    assert.equal(await engine.verify(alice.publicKey, message, signature), true);
    assert.deepEqual([alice.publicKey, alice.secretKey, message, signature], [pk, sk, m, s]);
  });

  await t.step("public key from secret key", async () => {
    if (!engine.publicKeyFromSecretKey) return;
    assert.deepEqual(await engine.publicKeyFromSecretKey(alice.secretKey), alice.publicKey);
  });

  await t.step("the wrong key, message or signer is rejected", async () => {
    const signature = await engine.sign(alice.secretKey, message);
    assert.equal(await engine.verify(bob.publicKey, message, signature), false, "wrong key");
    const other = new TextEncoder().encode("hi Bob, this is B");
    assert.equal(await engine.verify(alice.publicKey, other, signature), false, "wrong message");
    const bobs = await engine.sign(bob.secretKey, message);
    assert.equal(await engine.verify(alice.publicKey, message, bobs), false, "wrong signer");
    assert.equal(
      await engine.verify(alice.publicKey, message, new Uint8Array(signature.length)),
      false,
      "zeros",
    );
  });

  await t.step("every single-bit flip of the signature is rejected", async () => {
    const signature = await engine.sign(alice.secretKey, message);
    const bits = signature.length * 8;
    const stride = Math.max(1, Math.floor(options.signatureBitStride ?? 1));
    const positions = new Set<number>([bits - 1]);
    for (let bit = 0; bit < bits; bit += stride) positions.add(bit);
    for (const bit of positions) {
      const bad = signature.slice();
      bad[bit >> 3] ^= 1 << (bit & 7);
      assert.equal(await engine.verify(alice.publicKey, message, bad), false, `bit ${bit}`);
    }
  });

  await t.step("every single-bit flip of the message is rejected", async () => {
    const signature = await engine.sign(alice.secretKey, message);
    for (let bit = 0; bit < message.length * 8; bit++) {
      const bad = message.slice();
      bad[bit >> 3] ^= 1 << (bit & 7);
      assert.equal(await engine.verify(alice.publicKey, bad, signature), false, `bit ${bit}`);
    }
  });

  await t.step("wrong types and sizes are rejected", async () => {
    const signature = await engine.sign(alice.secretKey, message);
    const longer = (b: Uint8Array) => {
      const out = new Uint8Array(b.length + 1);
      out.set(b);
      return out;
    };
    // deno-lint-ignore no-explicit-any
    const notBytes: any = "not bytes";
    const { publicKey: pk, secretKey: sk } = alice;
    await assertRejects(engine.sign(sk.subarray(1), message), [RangeError], "short secretKey");
    await assertRejects(engine.sign(longer(sk), message), [RangeError], "long secretKey");
    await assertRejects(engine.sign(notBytes, message), [TypeError], "secretKey string");
    await assertRejects(engine.sign(sk, notBytes), [TypeError], "message string");
    await assertRejects(
      engine.verify(pk.subarray(1), message, signature),
      [RangeError],
      "short pk",
    );
    await assertRejects(engine.verify(longer(pk), message, signature), [RangeError], "long pk");
    await assertRejects(
      engine.verify(pk, message, signature.subarray(1)),
      [RangeError],
      "short signature",
    );
    await assertRejects(
      engine.verify(pk, message, longer(signature)),
      [RangeError],
      "long signature",
    );
    await assertRejects(engine.verify(notBytes, message, signature), [TypeError], "pk string");
    await assertRejects(engine.verify(pk, notBytes, signature), [TypeError], "message string");
    await assertRejects(engine.verify(pk, message, notBytes), [TypeError], "signature string");
  });
}
