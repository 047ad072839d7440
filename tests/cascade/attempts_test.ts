// Issue 20 section 2: the CPU a hostile header can cost a reader is bounded. Stanzas carry no key
// ids, so a KEM identity tries every stanza of its type; it now tries at most a cap of them per
// envelope (STANZA_ATTEMPTS: 16 for RSA/ElGamal and hybrids with them, 256 for X25519, X448 and
// ML-KEM), configurable through `maxStanzaAttempts`, and fails with the one DecryptionError.
import assert from "node:assert/strict";
import {
  decrypt,
  DecryptionError,
  decryptStream,
  encrypt,
  type KemEngine,
  KemIdentity,
  KemRecipient,
  type Recipient,
  registry,
  type Stanza,
  STANZA_ATTEMPTS,
} from "../../mod.ts";
import { assertRejects, readAll } from "./_helpers.ts";

/** `engine` with its decapsulations counted. */
function counting(engine: KemEngine): { engine: KemEngine; count: () => number } {
  let n = 0;
  return {
    engine: {
      ...engine,
      decapsulate(encapsulation: Uint8Array, secretKey: Uint8Array) {
        n++;
        return engine.decapsulate(encapsulation, secretKey);
      },
    },
    count: () => n,
  };
}

/** A sender's `count` stanzas of `engine`'s type and size, random bytes (what an attacker sends). */
function randomStanzas(engine: KemEngine, count: number): Recipient {
  return {
    wrapFileKey: () =>
      Promise.resolve(Array.from({ length: count }, (): Stanza => ({
        type: engine.id,
        body: crypto.getRandomValues(new Uint8Array(engine.encapsulationSize + 48)),
      }))),
  };
}

const message = new Uint8Array([4, 2]);

Deno.test("2,047 random rsa-2048 stanzas and the real one last: at most 16 decapsulations", async () => {
  const rsa = registry.kem("rsa-2048");
  const bob = await rsa.generateKeyPair();
  const sealed = await encrypt(message, {
    recipients: [randomStanzas(rsa, 2047), new KemRecipient(rsa, bob.publicKey)],
  });
  assert.ok(sealed.length > 600_000, "a header of 2,048 stanzas");
  const { engine, count } = counting(rsa);
  const started = performance.now();
  await assertRejects(
    decrypt(sealed, { identities: [new KemIdentity(engine, bob.secretKey)] }),
    [DecryptionError],
  );
  const ms = performance.now() - started;
  // Before the cap: 2,048 decapsulations (0.9 s here with OpenSSL, 10.7 s for rsa-4096).
  assert.equal(count(), STANZA_ATTEMPTS.slow);
  console.log(`rsa-2048, 2,048 stanzas, capped at ${count()} attempts: ${ms.toFixed(0)} ms`);
  // The streaming reader stops as soon.
  const before = count();
  await assertRejects(
    readAll(
      ReadableStream.from([sealed]).pipeThrough(
        decryptStream({ identities: [new KemIdentity(engine, bob.secretKey)] }),
      ),
    ),
    [DecryptionError],
  );
  assert.equal(count() - before, STANZA_ATTEMPTS.slow);
});

Deno.test("the cap is configurable: the real stanza behind 40 others opens with slow: 41", async () => {
  const rsa = registry.kem("rsa-2048");
  const bob = await rsa.generateKeyPair();
  const sealed = await encrypt(message, {
    recipients: [randomStanzas(rsa, 40), new KemRecipient(rsa, bob.publicKey)],
  });
  const { engine, count } = counting(rsa);
  const identities = [new KemIdentity(engine, bob.secretKey)];
  await assertRejects(decrypt(sealed, { identities, maxStanzaAttempts: { slow: 40 } }), [
    DecryptionError,
  ]);
  assert.equal(count(), 40);
  assert.deepEqual(await decrypt(sealed, { identities, maxStanzaAttempts: { slow: 41 } }), message);
  assert.equal(count(), 81);
  // Lowered below the default too; stanzas of other types cost nothing and do not count.
  const mixed = await encrypt(message, {
    recipients: [
      randomStanzas(registry.kem("x25519"), 30),
      randomStanzas(rsa, 2),
      new KemRecipient(rsa, bob.publicKey),
    ],
  });
  await assertRejects(decrypt(mixed, { identities, maxStanzaAttempts: { slow: 2 } }), [
    DecryptionError,
  ]);
  assert.deepEqual(await decrypt(mixed, { identities, maxStanzaAttempts: { slow: 3 } }), message);
  // Bad caps are the caller's mistake.
  for (const bad of [0, -1, 1.5, 2049, NaN, "16"]) {
    await assertRejects(
      decrypt(sealed, { identities, maxStanzaAttempts: { slow: bad as number } }),
      [RangeError],
      String(bad),
    );
  }
  await assertRejects(
    decrypt(sealed, { identities, maxStanzaAttempts: 16 as unknown as { slow: number } }),
    [TypeError],
  );
});

Deno.test("each identity has its own cap; fast KEMs a higher one; hybrids count as their slowest part", async () => {
  const x = registry.kem("x25519");
  const bob = await x.generateKeyPair();
  // 300 random x25519 stanzas, then Bob's: a fast identity stops after 256.
  const sealed = await encrypt(message, {
    recipients: [randomStanzas(x, 300), new KemRecipient(x, bob.publicKey)],
  });
  const fast = counting(x);
  await assertRejects(
    decrypt(sealed, { identities: [new KemIdentity(fast.engine, bob.secretKey)] }),
    [
      DecryptionError,
    ],
  );
  assert.equal(fast.count(), STANZA_ATTEMPTS.fast);
  assert.deepEqual(
    await decrypt(sealed, {
      identities: [new KemIdentity(fast.engine, bob.secretKey)],
      maxStanzaAttempts: { fast: 301 },
    }),
    message,
  );
  // Two identities of one type: each gets the cap.
  const other = await x.generateKeyPair();
  const two = counting(x);
  await assertRejects(
    decrypt(sealed, {
      identities: [
        new KemIdentity(two.engine, other.secretKey),
        new KemIdentity(two.engine, bob.secretKey),
      ],
    }),
    [DecryptionError],
  );
  assert.equal(two.count(), 2 * STANZA_ATTEMPTS.fast);

  const cases: [string, number][] = [
    ["x25519+ml-kem-768", STANZA_ATTEMPTS.fast],
    ["x25519+elgamal-2048", STANZA_ATTEMPTS.slow],
  ];
  for (const [id, cap] of cases) {
    const hybrid = registry.kem(id);
    const pair = await hybrid.generateKeyPair();
    const hostile = await encrypt(message, {
      recipients: [randomStanzas(hybrid, cap), new KemRecipient(hybrid, pair.publicKey)],
    });
    const { engine, count } = counting(hybrid);
    await assertRejects(
      decrypt(hostile, { identities: [new KemIdentity(engine, pair.secretKey)] }),
      [DecryptionError],
      id,
    );
    assert.equal(count(), cap, id);
  }
});

Deno.test("ordinary group messages still open: 20 x25519 recipients, 20 rsa-2048 with the cap raised", async () => {
  const x = registry.kem("x25519");
  const pairs = await Promise.all(Array.from({ length: 20 }, () => x.generateKeyPair()));
  const sealed = await encrypt(message, {
    recipients: pairs.map((p) => new KemRecipient(x, p.publicKey)),
  });
  for (const p of [pairs[0], pairs[19]]) {
    assert.deepEqual(
      await decrypt(sealed, { identities: [new KemIdentity(x, p.secretKey)] }),
      message,
    );
  }
  // RSA: 19 other recipients (three keys, fresh encapsulations each time), Bob last.
  const rsa = registry.kem("rsa-2048");
  const [bob, ...others] = await Promise.all([1, 2, 3, 4].map(() => rsa.generateKeyPair()));
  const group = await encrypt(message, {
    recipients: [
      ...Array.from({ length: 19 }, (_, i) => new KemRecipient(rsa, others[i % 3].publicKey)),
      new KemRecipient(rsa, bob.publicKey),
    ],
  });
  const identities = [new KemIdentity(rsa, bob.secretKey)];
  await assertRejects(decrypt(group, { identities }), [DecryptionError]);
  assert.deepEqual(await decrypt(group, { identities, maxStanzaAttempts: { slow: 20 } }), message);
  // The first 16 recipients of one type need nothing raised.
  assert.deepEqual(
    await decrypt(group, { identities: [new KemIdentity(rsa, others[0].secretKey)] }),
    message,
  );
});

Deno.test("stanzas that unwrap to a wrong key: at most 4 header MACs, then every identity gives up", async () => {
  const x = registry.kem("x25519");
  const bob = await x.generateKeyPair();
  // A sender who knows Bob's public key wraps ten other keys to him before the real one.
  const wrong: Recipient = {
    wrapFileKey: async () =>
      (await Promise.all(
        Array.from(
          { length: 10 },
          () =>
            new KemRecipient(x, bob.publicKey).wrapFileKey(
              crypto.getRandomValues(new Uint8Array(32)),
            ),
        ),
      )).flat(),
  };
  const sealed = await encrypt(message, {
    recipients: [wrong, new KemRecipient(x, bob.publicKey)],
  });
  const { engine, count } = counting(x);
  const identities = [
    new KemIdentity(engine, bob.secretKey),
    new KemIdentity(engine, bob.secretKey),
  ];
  await assertRejects(decrypt(sealed, { identities }), [DecryptionError]);
  assert.equal(count(), STANZA_ATTEMPTS.wrongKeys, "the second identity is not tried either");
  assert.deepEqual(
    await decrypt(sealed, { identities, maxStanzaAttempts: { wrongKeys: 11 } }),
    message,
  );
  assert.equal(count(), STANZA_ATTEMPTS.wrongKeys + 11);
});
