// The cascade with an injected registry and with AEAD engine objects (issue 19, section 3): a
// plugin engine works without being registered globally.
import assert from "node:assert/strict";
import {
  type AeadEngine,
  aes256Gcm,
  decrypt,
  decryptStream,
  encrypt,
  encryptStream,
  EngineRegistry,
  FormatError,
  generateIdentity,
  inspect,
  parseIdentity,
  parseRecipient,
  recipientFromIdentity,
  registry,
  UnknownEngineError,
  x25519,
} from "../../mod.ts";
import { assertRejects, assertSameBytes, FAST_ARGON2, patternBytes, readAll } from "./_helpers.ts";

/** A plugin AEAD: the built-in AES-256-GCM under its own id, counting its calls. */
function pluginAead(id: string): AeadEngine & { calls: number } {
  return {
    kind: "aead",
    id,
    keySize: 32,
    nonceSize: 12,
    tagSize: 16,
    calls: 0,
    seal(key, nonce, plaintext, aad) {
      this.calls++;
      return aes256Gcm.seal(key, nonce, plaintext, aad);
    },
    open(key, nonce, ciphertext, aad) {
      this.calls++;
      return aes256Gcm.open(key, nonce, ciphertext, aad);
    },
  };
}

Deno.test("a private registry holding a plugin engine leaves the global one alone", async () => {
  const plugin = pluginAead("test-private-gcm");
  const mine = new EngineRegistry();
  mine.register(x25519);
  mine.register(plugin);
  // This registry holds no signature engine: an encryption-only (version 1) identity.
  await assertRejects(generateIdentity("x25519", { registry: mine }), [UnknownEngineError]);
  const { identity, recipient } = await generateIdentity("x25519", {
    registry: mine,
    signatureEngine: null,
  });
  await assertRejects(
    generateIdentity("x448", { registry: mine, signatureEngine: null }),
    [UnknownEngineError],
  );
  assert.equal(await recipientFromIdentity(identity, { registry: mine }), recipient);
  assert.equal(parseRecipient(recipient, { registry: mine }).engine, x25519);

  const data = patternBytes(1000);
  const options = {
    recipients: [recipient],
    aead: [plugin.id, "test-private-gcm"],
    registry: mine,
  };
  const sealed = await encrypt(data, options);
  assert.ok(plugin.calls > 0);
  assert.equal(registry.has(plugin.id), false, "the global registry is untouched");
  assertSameBytes(await decrypt(sealed, { identities: [identity], registry: mine }), data);
  const info = await inspect(sealed, { registry: mine });
  assert.deepEqual(info.aead, [plugin.id, plugin.id]);
  assert.equal(info.paddedSize, 1024);
  // The global registry knows no such AEAD.
  await assertRejects(decrypt(sealed, { identities: [identity] }), [FormatError]);
  await assertRejects(inspect(sealed), [FormatError]);
  // Streams take the registry too, a password layer included (its AES-256-GCM is the format's).
  const streamOptions = { ...options, passphrase: "pw", argon2: FAST_ARGON2 };
  const streamed = await readAll(
    ReadableStream.from([data]).pipeThrough(encryptStream(streamOptions)),
  );
  const opened = await readAll(
    ReadableStream.from([streamed]).pipeThrough(
      decryptStream({ identities: [identity], passphrase: "pw", registry: mine }),
    ),
  );
  assertSameBytes(opened, data);
});

Deno.test("engines a registry lacks are not found through it", async () => {
  const empty = new EngineRegistry();
  const { identity, recipient } = await generateIdentity("x25519");
  assert.throws(() => parseRecipient(recipient, { registry: empty }), FormatError);
  assert.throws(() => parseIdentity(identity, { registry: empty }), FormatError);
  // The global cache of parsed recipients does not leak into another registry.
  parseRecipient(recipient);
  assert.throws(() => parseRecipient(recipient, { registry: empty }), FormatError);
  await assertRejects(
    encrypt(new Uint8Array(1), { recipients: [recipient], registry: empty }),
    [FormatError],
  );
  const sealed = await encrypt(new Uint8Array(1), { recipients: [recipient] });
  await assertRejects(decrypt(sealed, { identities: [identity], registry: empty }), [
    FormatError,
  ]);
  await assertRejects(
    encrypt(new Uint8Array(1), { passphrase: "pw", argon2: FAST_ARGON2, registry: empty }),
    [UnknownEngineError],
  );
});

Deno.test("an AeadEngine object passed directly works", async () => {
  const plugin = pluginAead("test-direct-gcm");
  const { identity, recipient } = await generateIdentity("x25519");
  const data = patternBytes(200000);
  const sealed = await encrypt(data, { recipients: [recipient], aead: [plugin, "aes-256-gcm"] });
  assert.ok(plugin.calls > 0);
  assert.equal(registry.has(plugin.id), false);
  assert.deepEqual((await inspect(sealed, { aead: [plugin] })).aead, [plugin.id, "aes-256-gcm"]);
  assertSameBytes(await decrypt(sealed, { identities: [identity], aead: [plugin] }), data);
  await assertRejects(decrypt(sealed, { identities: [identity] }), [FormatError]);
  // Objects are checked as registering them would be.
  const broken = { ...plugin, seal: undefined } as unknown as AeadEngine;
  await assertRejects(encrypt(data, { recipients: [recipient], aead: [broken] }), [TypeError]);
  const wideNonce = { ...plugin, nonceSize: 16 };
  await assertRejects(encrypt(data, { recipients: [recipient], aead: [wideNonce] }), [
    RangeError,
  ]);
  await assertRejects(
    encrypt(data, { recipients: [recipient], aead: [x25519 as unknown as AeadEngine] }),
    [TypeError],
  );
});
