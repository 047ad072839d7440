// Recipient and Identity objects (cascade/stanza.ts): a plugin's own stanza type travels next to
// the built-in KEM stanzas, through one-shot and streaming encryption, and a wrong identity fails
// like any other.
import assert from "node:assert/strict";
import {
  aes256Gcm,
  decrypt,
  DecryptionError,
  decryptStream,
  encrypt,
  encryptStream,
  type Identity,
  inspect,
  type KemEngine,
  KemIdentity,
  KemRecipient,
  parseIdentity,
  parseRecipient,
  type Recipient,
  type Stanza,
  x25519,
} from "../../mod.ts";
import {
  assertRejects,
  assertSameBytes,
  FAST_ARGON2,
  identityFor,
  patternBytes,
  readAll,
} from "./_helpers.ts";

const TYPE = "test-shared-key";

/**
 * A test pair that wraps the file key under a key both sides hold, with the built-in
 * AES-256-GCM engine and a random nonce carried in the stanza.
 */
function sharedKeyPair(key: Uint8Array): { recipient: Recipient; identity: Identity } {
  const recipient: Recipient = {
    async wrapFileKey(fileKey) {
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      const sealed = await aes256Gcm.seal(key, nonce, fileKey);
      return [{ type: TYPE, body: new Uint8Array([...nonce, ...sealed]) }];
    },
  };
  const identity: Identity = {
    async unwrapFileKey(stanzas: readonly Stanza[]) {
      for (const { type, body } of stanzas) {
        if (type !== TYPE) continue;
        try {
          return await aes256Gcm.open(key, body.subarray(0, 12), body.subarray(12));
        } catch {
          // another key's stanza
        }
      }
      return null;
    },
  };
  return { recipient, identity };
}

const randomKey = () => crypto.getRandomValues(new Uint8Array(32));

Deno.test("a custom Recipient/Identity pair round-trips, mixed with a string recipient", async () => {
  const alice = sharedKeyPair(randomKey());
  const bob = await identityFor("x25519");
  const message = new TextEncoder().encode("to a string and to an object");
  const sealed = await encrypt(message, { recipients: [bob.recipient, alice.recipient] });
  assert.deepEqual(
    (await inspect(sealed)).stanzas?.map((s) => s.type),
    ["x25519", TYPE],
  );
  assert.deepEqual(await decrypt(sealed, { identities: [alice.identity] }), message);
  assert.deepEqual(await decrypt(sealed, { identities: [bob.identity] }), message);
  // Identity strings and objects mix too, in any order.
  assert.deepEqual(await decrypt(sealed, { identities: [alice.identity, bob.identity] }), message);
  // The built-in kind as objects: what parseRecipient/parseIdentity return.
  const again = await encrypt(message, { recipients: [parseRecipient(bob.recipient)] });
  assert.ok(parseRecipient(bob.recipient) instanceof KemRecipient);
  assert.ok(parseIdentity(bob.identity) instanceof KemIdentity);
  assert.deepEqual(await decrypt(again, { identities: [parseIdentity(bob.identity)] }), message);
});

Deno.test("a wrong identity object yields DecryptionError", async () => {
  const alice = sharedKeyPair(randomKey());
  const mallory = sharedKeyPair(randomKey());
  const bob = await identityFor("x25519");
  const sealed = await encrypt(new Uint8Array(10), {
    recipients: [alice.recipient, bob.recipient],
  });
  await assertRejects(decrypt(sealed, { identities: [mallory.identity] }), [DecryptionError]);
  const wrongKem = await identityFor("x448");
  await assertRejects(
    decrypt(sealed, { identities: [mallory.identity, wrongKem.identity] }),
    [DecryptionError],
  );
  // An identity that claims a file key it cannot have is stopped by the header MAC.
  const liar: Identity = { unwrapFileKey: () => Promise.resolve(randomKey()) };
  await assertRejects(decrypt(sealed, { identities: [liar] }), [DecryptionError]);
});

Deno.test("objects work in the streams and with a password layer", async () => {
  const alice = sharedKeyPair(randomKey());
  const data = patternBytes(70000);
  const options = { passphrase: "pw", argon2: FAST_ARGON2 };
  const sealed = await readAll(
    ReadableStream.from([data]).pipeThrough(
      encryptStream({ ...options, recipients: [alice.recipient] }),
    ),
  );
  const opened = await readAll(
    ReadableStream.from([sealed]).pipeThrough(
      decryptStream({ ...options, identities: [alice.identity] }),
    ),
  );
  assertSameBytes(opened, data);
});

Deno.test("a key that fails the MAC sends the identity through the stanzas one by one", async () => {
  // A sender-made header with a bogus stanza for Alice before the real one: as before the
  // Recipient/Identity split, Alice tries every stanza until the header MAC verifies.
  const key = randomKey();
  const alice = sharedKeyPair(key);
  const bogus: Recipient = {
    wrapFileKey: () => sharedKeyPair(key).recipient.wrapFileKey(randomKey()),
  };
  const sealed = await encrypt(new Uint8Array([1, 2, 3]), {
    recipients: [bogus, alice.recipient],
  });
  assert.deepEqual(
    await decrypt(sealed, { identities: [alice.identity] }),
    new Uint8Array([1, 2, 3]),
  );
});

Deno.test("recipients must give well-formed stanzas", async () => {
  const give = (stanzas: unknown): Recipient => ({
    wrapFileKey: () => Promise.resolve(stanzas as Stanza[]),
  });
  const body = new Uint8Array(4);
  for (
    const [name, recipient, error] of [
      ["not an array", give({ type: TYPE, body }), TypeError],
      ["empty type", give([{ type: "", body }]), TypeError],
      ["type with a space", give([{ type: "a b", body }]), TypeError],
      ["body too long", give([{ type: TYPE, body: new Uint8Array(65536) }]), RangeError],
      ["no stanzas", give([]), RangeError],
    ] as const
  ) {
    await assertRejects(encrypt(new Uint8Array(1), { recipients: [recipient] }), [error], name);
  }
  // Beside a passphrase, a recipient without a stanza would seal a header no reader can verify.
  await assertRejects(
    encrypt(new Uint8Array(1), { recipients: [give([])], passphrase: "pw", argon2: FAST_ARGON2 }),
    [RangeError],
    "no stanzas beside a passphrase",
  );
  // Each recipient wraps its own copy of the file key.
  const scribbler: Recipient = {
    wrapFileKey(fileKey) {
      fileKey.fill(0);
      return Promise.resolve([{ type: "test-scribbler", body: new Uint8Array(1) }]);
    },
  };
  const alice = sharedKeyPair(randomKey());
  const sealed = await encrypt(new Uint8Array([5]), {
    recipients: [scribbler, alice.recipient],
  });
  assert.deepEqual(await decrypt(sealed, { identities: [alice.identity] }), new Uint8Array([5]));
  await assertRejects(
    encrypt(new Uint8Array(1), { recipients: [42 as unknown as string] }),
    [TypeError],
  );
});

Deno.test("an identity's answer that is not a 32-byte file key is a miss, never another error", async () => {
  const alice = sharedKeyPair(randomKey());
  const sealed = await encrypt(new Uint8Array([1]), { recipients: [alice.recipient] });
  for (const answer of [undefined, "key", new Uint8Array(31), new Uint8Array(33), 42]) {
    const odd: Identity = { unwrapFileKey: () => Promise.resolve(answer as Uint8Array) };
    await assertRejects(decrypt(sealed, { identities: [odd] }), [DecryptionError], String(answer));
    // ...and the next identity is still tried.
    assert.deepEqual(
      await decrypt(sealed, { identities: [odd, alice.identity] }),
      new Uint8Array([1]),
    );
  }
});

Deno.test("a KEM identity decapsulates each stanza once, even past a stanza with a wrong file key", async () => {
  const bob = await x25519.generateKeyPair();
  // A sender who knows Bob's public key wraps some other key to him, first in the header.
  const wrong: Recipient = {
    wrapFileKey: () => new KemRecipient(x25519, bob.publicKey).wrapFileKey(randomKey()),
  };
  const others = await Promise.all(
    [1, 2, 3, 4].map(async () =>
      new KemRecipient(x25519, (await x25519.generateKeyPair()).publicKey)
    ),
  );
  const sealed = await encrypt(new Uint8Array([7]), {
    recipients: [wrong, ...others, new KemRecipient(x25519, bob.publicKey)],
  });
  let decapsulations = 0;
  const counting: KemEngine = {
    ...x25519,
    decapsulate(encapsulation: Uint8Array, secretKey: Uint8Array) {
      decapsulations++;
      return x25519.decapsulate(encapsulation, secretKey);
    },
  };
  const identity = new KemIdentity(counting, bob.secretKey);
  assert.deepEqual(await decrypt(sealed, { identities: [identity] }), new Uint8Array([7]));
  assert.equal(decapsulations, 6); // the six stanzas, each once
  decapsulations = 0;
  const stranger = new KemIdentity(counting, (await x25519.generateKeyPair()).secretKey);
  await assertRejects(decrypt(sealed, { identities: [stranger] }), [DecryptionError]);
  assert.equal(decapsulations, 6);
});
