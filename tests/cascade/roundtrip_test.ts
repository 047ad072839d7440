// Round trips over engine families, hybrids, recipients, passphrases, AEAD stacks and sizes,
// one-shot and streaming (issue 3, section 5).
import assert from "node:assert/strict";
import {
  decrypt,
  DecryptionError,
  decryptStream,
  encrypt,
  encryptStream,
  inspect,
} from "../../mod.ts";
import {
  assertRejects,
  assertSameBytes,
  FAST_ARGON2,
  identityFor,
  patternBytes,
  readAll,
  streamOf,
} from "./_helpers.ts";

const SIZES = [0, 1, 65535, 65536, 65537, 10 * 1024 * 1024];

Deno.test("every size, one-shot and streaming, default hybrid", async (t) => {
  const bob = await identityFor("x25519+ml-kem-768");
  for (const size of SIZES) {
    const data = patternBytes(size, size + 1);
    await t.step(`${size} bytes one-shot`, async () => {
      const sealed = await encrypt(data, { recipients: [bob.recipient] });
      assertSameBytes(await decrypt(sealed, { identities: [bob.identity] }), data);
    });
    await t.step(`${size} bytes streaming (odd piece sizes)`, async () => {
      const sealed = await readAll(
        streamOf(data, [1, 7000, 65536, 100000]).pipeThrough(
          encryptStream({ recipients: [bob.recipient] }),
        ),
      );
      // Streaming and one-shot produce the same format: each opens with the other.
      assertSameBytes(await decrypt(sealed, { identities: [bob.identity] }), data);
      const opened = await readAll(
        streamOf(sealed, [3, 65552, 9]).pipeThrough(decryptStream({ identities: [bob.identity] })),
      );
      assertSameBytes(opened, data);
    });
  }
});

Deno.test("every engine family as a recipient", async (t) => {
  for (
    const id of [
      "x25519",
      "x448",
      "ml-kem-512",
      "ml-kem-768",
      "ml-kem-1024",
      "elgamal-2048",
      "rsa-2048",
      "x25519+ml-kem-768",
      "x448+ml-kem-1024",
      "rsa-2048+elgamal-2048+ml-kem-1024",
    ]
  ) {
    await t.step(id, async () => {
      const who = await identityFor(id);
      const data = patternBytes(3000, 7);
      const sealed = await encrypt(data, { recipients: [who.recipient] });
      assert.equal((await inspect(sealed)).stanzas?.[0].type, id);
      assertSameBytes(await decrypt(sealed, { identities: [who.identity] }), data);
      const other = await identityFor(id === "x25519" ? "x448" : "x25519");
      await assertRejects(decrypt(sealed, { identities: [other.identity] }), [DecryptionError], id);
    });
  }
});

Deno.test("group messages: 5 recipients of mixed engines each decrypt", async () => {
  const ids = ["x25519", "ml-kem-768", "x25519+ml-kem-768", "elgamal-2048", "x448"];
  const people = await Promise.all(ids.map(identityFor));
  const data = patternBytes(70000, 3);
  const sealed = await encrypt(data, { recipients: people.map((p) => p.recipient) });
  assert.equal((await inspect(sealed)).stanzas?.length, 5);
  for (const p of people) {
    assertSameBytes(await decrypt(sealed, { identities: [p.identity] }), data);
  }
  // An identity list where only the last one matches still works.
  const stranger = await identityFor("ml-kem-512");
  assertSameBytes(
    await decrypt(sealed, { identities: [stranger.identity, people[4].identity] }),
    data,
  );
});

Deno.test("AEAD stacks of 1 to 3 layers", async (t) => {
  const bob = await identityFor("x25519");
  for (
    const stack of [
      ["aes-256-gcm"],
      ["chacha20-poly1305"],
      ["xchacha20-poly1305"],
      ["aes-256-gcm-siv"],
      ["aes-256-gcm", "xchacha20-poly1305"],
      ["aes-256-gcm", "chacha20-poly1305", "aes-256-gcm-siv"],
    ]
  ) {
    await t.step(stack.join(","), async () => {
      for (const size of [0, 65536, 200000]) {
        const data = patternBytes(size, 9);
        const sealed = await encrypt(data, { recipients: [bob.recipient], aead: stack });
        assert.deepEqual((await inspect(sealed)).aead, stack);
        assertSameBytes(await decrypt(sealed, { identities: [bob.identity] }), data);
      }
    });
  }
});

Deno.test("passphrase layer: alone, and with recipients (AND)", async (t) => {
  const bob = await identityFor("x25519+ml-kem-768");
  const data = patternBytes(100000, 5);
  const passphrase = "correct horse battery staple";
  await t.step("passphrase only", async () => {
    const sealed = await encrypt(data, { passphrase, argon2: FAST_ARGON2 });
    const info = await inspect(sealed);
    assert.equal(info.passwordProtected, true);
    assert.equal(info.stanzas, undefined, "the password layer hides the header");
    assertSameBytes(await decrypt(sealed, { passphrase }), data);
    await assertRejects(decrypt(sealed, { passphrase: "wrong" }), [DecryptionError]);
    await assertRejects(decrypt(sealed, {}), [DecryptionError]);
  });
  await t.step("passphrase AND identity", async () => {
    const sealed = await encrypt(data, {
      recipients: [bob.recipient],
      passphrase,
      argon2: FAST_ARGON2,
      aead: ["aes-256-gcm", "xchacha20-poly1305"],
    });
    assertSameBytes(await decrypt(sealed, { identities: [bob.identity], passphrase }), data);
    await assertRejects(decrypt(sealed, { passphrase }), [DecryptionError], "passphrase alone");
    await assertRejects(
      decrypt(sealed, { identities: [bob.identity] }),
      [DecryptionError],
      "identity alone",
    );
    await assertRejects(
      decrypt(sealed, { identities: [bob.identity], passphrase: "wrong" }),
      [DecryptionError],
      "wrong passphrase",
    );
    const eve = await identityFor("x25519");
    await assertRejects(
      decrypt(sealed, { identities: [eve.identity], passphrase }),
      [DecryptionError],
      "wrong identity",
    );
  });
  await t.step("streaming with passphrase", async () => {
    const opts = { passphrase, argon2: FAST_ARGON2, recipients: [bob.recipient] };
    const sealed = await readAll(streamOf(data, [999]).pipeThrough(encryptStream(opts)));
    const opened = await readAll(
      streamOf(sealed, [4096]).pipeThrough(
        decryptStream({ passphrase, identities: [bob.identity] }),
      ),
    );
    assertSameBytes(opened, data);
  });
  await t.step("unicode passphrases are NFC-normalised", async () => {
    const sealed = await encrypt(data.subarray(0, 10), {
      passphrase: "caf\u0065\u0301",
      argon2: FAST_ARGON2,
    });
    assertSameBytes(await decrypt(sealed, { passphrase: "caf\u00e9" }), data.subarray(0, 10));
  });
});

Deno.test("armor round trip, one-shot and streaming", async () => {
  const bob = await identityFor("x25519");
  const data = patternBytes(5000, 11);
  const sealed = await encrypt(data, { recipients: [bob.recipient], armor: true });
  const text = new TextDecoder().decode(sealed);
  assert.match(text, /^-----BEGIN POLYCRYPT MESSAGE-----\n/);
  assert.ok(text.split("\n").every((l) => l.length <= 64));
  assertSameBytes(await decrypt(text, { identities: [bob.identity] }), data);
  assertSameBytes(await decrypt(sealed, { identities: [bob.identity] }), data);
  const streamed = await readAll(
    streamOf(data, [100]).pipeThrough(encryptStream({ recipients: [bob.recipient], armor: true })),
  );
  assert.equal(
    new TextDecoder().decode(streamed).split("\n").slice(1, -3).every((l) => l.length === 64),
    true,
  );
  const opened = await readAll(
    streamOf(streamed, [10]).pipeThrough(decryptStream({ identities: [bob.identity] })),
  );
  assertSameBytes(opened, data);
});

Deno.test("padding hides the length class; --no-pad does not pad", async () => {
  const bob = await identityFor("x25519");
  const a = await inspect(await encrypt(new Uint8Array(1000), { recipients: [bob.recipient] }));
  const b = await inspect(await encrypt(new Uint8Array(1020), { recipients: [bob.recipient] }));
  assert.equal(a.paddedSize, 1024);
  assert.equal(b.paddedSize, 1024);
  assert.equal(a.padded, true);
  const c = await inspect(
    await encrypt(new Uint8Array(1000), { recipients: [bob.recipient], pad: false }),
  );
  assert.equal(c.paddedSize, 1001);
  assert.equal(c.padded, false);
});

Deno.test("inputs are never modified", async () => {
  const bob = await identityFor("x25519");
  const data = patternBytes(70000, 13);
  const copy = data.slice();
  const sealed = await encrypt(data, { recipients: [bob.recipient] });
  const sealedCopy = sealed.slice();
  await decrypt(sealed, { identities: [bob.identity] });
  assertSameBytes(data, copy);
  assertSameBytes(sealed, sealedCopy);
});

Deno.test("bad options are usage errors", async () => {
  const bob = await identityFor("x25519");
  await assertRejects(encrypt(new Uint8Array(1), {}), [TypeError], "no recipient, no passphrase");
  await assertRejects(
    encrypt(new Uint8Array(1), { recipients: ["polycrypt1:nope"] }),
    [Error],
    "bad recipient",
  );
  await assertRejects(
    encrypt(new Uint8Array(1), { recipients: [bob.recipient], aead: [] }),
    [RangeError],
    "empty aead",
  );
  await assertRejects(
    encrypt(new Uint8Array(1), { recipients: [bob.recipient], aead: ["rot13"] }),
    [Error],
    "unknown aead",
  );
  await assertRejects(encrypt("text" as never, { recipients: [bob.recipient] }), [TypeError]);
});
