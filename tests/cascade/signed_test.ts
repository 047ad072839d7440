// Sealed sender (docs/format.md section 3.1): signed envelopes round-trip and name their sender;
// a recipient cannot strip the signature into someone else's name, replace it, or forward the
// signed message to a third party as if the sender had written to them (Davis 2001).
import assert from "node:assert/strict";
import {
  ARGON2_FLOOR,
  decrypt,
  DecryptionError,
  decryptStream,
  decryptWithSender,
  encrypt,
  encryptStream,
  fingerprint,
  generateIdentity,
  parseRecipient,
  registry,
  type Sender,
} from "../../mod.ts";
import { concatBytes } from "../../engines/_bytes.ts";
import { collect } from "../../cascade/_reader.ts";
import { prepareSender, senderBlockCached } from "../../cascade/signed.ts";
import { envelopeWith, forgedPayload, signedPayload } from "./_signed.ts";
import { assertRejects, patternBytes } from "./_helpers.ts";

const alice = await generateIdentity();
const bob = await generateIdentity();
const carol = await generateIdentity();
const mallory = await generateIdentity("x25519", { signatureEngine: "ed25519" });

const text = new TextEncoder().encode("hi Bob, this is Alice");

Deno.test("a signed message names its sender; an unsigned one names nobody", async () => {
  const sealed = await encrypt(text, { recipients: [bob.recipient], sender: alice.identity });
  const opened = await decryptWithSender(sealed, { identities: [bob.identity] });
  assert.deepEqual(opened.data, text);
  assert.equal(opened.sender?.recipient, alice.recipient);
  assert.equal(opened.sender?.signatureEngine, "ed25519+ml-dsa-65");
  assert.equal(opened.sender?.fingerprint, fingerprint(alice.recipient));
  assert.deepEqual(
    opened.sender?.publicKey,
    parseRecipient(alice.recipient).verifyingKey?.publicKey,
  );
  // decrypt keeps its call sites: the data alone.
  assert.deepEqual(await decrypt(sealed, { identities: [bob.identity] }), text);
  const plain = await encrypt(text, { recipients: [bob.recipient] });
  assert.equal((await decryptWithSender(plain, { identities: [bob.identity] })).sender, null);
});

Deno.test("verify accepts only the expected signer; unsigned fails with the one error", async () => {
  const sealed = await encrypt(text, { recipients: [bob.recipient], sender: alice.identity });
  assert.deepEqual(
    await decrypt(sealed, {
      identities: [bob.identity],
      verify: [mallory.recipient, alice.recipient],
    }),
    text,
  );
  await assertRejects(
    decrypt(sealed, { identities: [bob.identity], verify: [mallory.recipient] }),
    [DecryptionError],
  );
  const unsigned = await encrypt(text, { recipients: [bob.recipient] });
  await assertRejects(
    decrypt(unsigned, { identities: [bob.identity], verify: [alice.recipient] }),
    [DecryptionError],
  );
  // A version-1 recipient has no signing key to expect.
  const old = await generateIdentity("x25519", { signatureEngine: null });
  await assertRejects(
    decrypt(sealed, { identities: [bob.identity], verify: [old.recipient] }),
    [TypeError],
  );
  // A version-1 identity cannot sign.
  await assertRejects(
    encrypt(text, { recipients: [bob.recipient], sender: old.identity }),
    [TypeError],
  );
});

Deno.test("the test's envelope builder makes envelopes decrypt accepts", async () => {
  // Without this, the attacks below could fail for a reason of the builder's own.
  const sealed = await envelopeWith(
    bob.recipient,
    true,
    (prefix) => signedPayload(alice.identity, text, prefix),
  );
  const opened = await decryptWithSender(sealed, { identities: [bob.identity] });
  assert.deepEqual(opened.data, text);
  assert.equal(opened.sender?.recipient, alice.recipient);
});

Deno.test("surreptitious forwarding: Alice's signed payload re-encrypted to Carol fails", async () => {
  // Bob opens Alice's message and keeps the signed payload it carried.
  let payloadToBob: Uint8Array | undefined;
  const toBob = await envelopeWith(bob.recipient, true, async (prefix) => {
    return payloadToBob = await signedPayload(alice.identity, text, prefix);
  });
  assert.equal(
    (await decryptWithSender(toBob, { identities: [bob.identity] })).sender?.recipient,
    alice.recipient,
  );
  // Bob re-encrypts exactly those bytes to Carol, signed flag set.
  const forwarded = await envelopeWith(carol.recipient, true, () => Promise.resolve(payloadToBob!));
  await assertRejects(decrypt(forwarded, { identities: [carol.identity] }), [DecryptionError]);
  await assertRejects(
    collect(
      ReadableStream.from([forwarded]).pipeThrough(
        decryptStream({ identities: [carol.identity] }),
      ),
    ),
    [DecryptionError],
  );
  // Stripped of the flag, the same bytes are an unsigned message: nobody is named as its sender.
  const stripped = await envelopeWith(carol.recipient, false, () => Promise.resolve(payloadToBob!));
  const opened = await decryptWithSender(stripped, { identities: [carol.identity] });
  assert.equal(opened.sender, null);
  await assertRejects(
    decrypt(stripped, { identities: [carol.identity], verify: [alice.recipient] }),
    [DecryptionError],
  );
});

Deno.test("replacing the signature or the sender block fails", async () => {
  const size = registry.signature("ed25519+ml-dsa-65").signatureSize;
  // Eve, with the same kind of key, signs Alice's words but names Alice as the sender.
  const eve = await generateIdentity();
  const forged = await envelopeWith(bob.recipient, true, async (prefix) => {
    const byAlice = await signedPayload(alice.identity, text, prefix);
    const byEve = await signedPayload(eve.identity, text, prefix);
    return concatBytes(byAlice.subarray(0, byAlice.length - size), byEve.subarray(-size));
  });
  await assertRejects(decrypt(forged, { identities: [bob.identity] }), [DecryptionError]);
  // Alice's signature under Eve's sender block fails too.
  const renamed = await envelopeWith(bob.recipient, true, async (prefix) => {
    const byAlice = await signedPayload(alice.identity, text, prefix);
    const byEve = await signedPayload(eve.identity, text, prefix);
    return concatBytes(byEve.subarray(0, byEve.length - size), byAlice.subarray(-size));
  });
  await assertRejects(decrypt(renamed, { identities: [bob.identity] }), [DecryptionError]);
  // A signature of another engine's size than the block names: too short, fails.
  const mixed = await envelopeWith(bob.recipient, true, async (prefix) => {
    const byAlice = await signedPayload(alice.identity, text, prefix);
    const byMallory = await signedPayload(mallory.identity, text, prefix);
    return concatBytes(byAlice.subarray(0, byAlice.length - size), byMallory.subarray(-64));
  });
  await assertRejects(decrypt(mixed, { identities: [bob.identity] }), [DecryptionError]);
  // Every bit of the signature matters: both halves of the composite.
  for (const bit of [0, 7, 8 * 64 + 3, 8 * size - 1]) {
    const bad = await envelopeWith(bob.recipient, true, async (prefix) => {
      const payload = await signedPayload(alice.identity, text, prefix);
      const at = payload.length - size + (bit >> 3);
      payload[at] ^= 1 << (bit & 7);
      return payload;
    });
    await assertRejects(decrypt(bad, { identities: [bob.identity] }), [DecryptionError]);
  }
  // A payload cut before its signature ends fails; so does one without a sender block.
  const short = await envelopeWith(bob.recipient, true, async (prefix) => {
    return (await signedPayload(alice.identity, text, prefix)).subarray(0, 100);
  });
  await assertRejects(decrypt(short, { identities: [bob.identity] }), [DecryptionError]);
  const empty = await envelopeWith(bob.recipient, true, () => Promise.resolve(new Uint8Array(0)));
  await assertRejects(decrypt(empty, { identities: [bob.identity] }), [DecryptionError]);
});

Deno.test("streams: a signed file streams in chunks and names its sender at the end", async () => {
  const data = patternBytes(300_000);
  let sender: Sender | null | undefined;
  let chunksBeforeSender = 0;
  const out = ReadableStream.from([data])
    .pipeThrough(encryptStream({ recipients: [bob.recipient], sender: alice.identity }))
    .pipeThrough(decryptStream({
      identities: [bob.identity],
      verify: [alice.recipient],
      onSender: (s) => sender = s,
    }));
  const parts: Uint8Array[] = [];
  for await (const chunk of out) {
    if (sender === undefined) chunksBeforeSender++;
    parts.push(chunk);
  }
  assert.deepEqual(concatBytes(...parts), data);
  assert.equal(sender?.recipient, alice.recipient);
  assert.ok(chunksBeforeSender > 1, "chunks are released before the end, as unsigned streams");
  // Truncated in the middle of the STREAM: an error before the end, never a verified sender.
  const sealed = await collect(
    ReadableStream.from([data]).pipeThrough(
      encryptStream({ recipients: [bob.recipient], sender: alice.identity }),
    ),
  );
  let named = false;
  await assertRejects(
    collect(
      ReadableStream.from([sealed.subarray(0, sealed.length - 70_000)]).pipeThrough(
        decryptStream({ identities: [bob.identity], onSender: () => named = true }),
      ),
    ),
    [DecryptionError],
  );
  assert.equal(named, false);
});

Deno.test("a passphrase-only envelope can be signed", async () => {
  const sealed = await encrypt(text, {
    passphrase: "pw",
    argon2: ARGON2_FLOOR,
    sender: mallory.identity,
  });
  const opened = await decryptWithSender(sealed, { passphrase: "pw" });
  assert.equal(opened.sender?.recipient, mallory.recipient);
});

Deno.test("a forged sender block naming Alice: nobody is named, verify fails, at the end", async () => {
  // The forger's block is Alice's, byte for byte (built from her public keys as section 3.1 says).
  let real: Uint8Array | undefined;
  await envelopeWith(bob.recipient, true, async (prefix) => {
    return real = await signedPayload(alice.identity, text, prefix);
  });
  const forged = forgedPayload(alice.recipient, text);
  const size = registry.signature("ed25519+ml-dsa-65").signatureSize;
  assert.deepEqual(
    forged.subarray(0, forged.length - size),
    real!.subarray(0, real!.length - size),
  );
  // One chunk, or a multi-chunk stream with verify: DecryptionError, onSender never called.
  for (const data of [text, patternBytes(200_000)]) {
    const sealed = await envelopeWith(
      bob.recipient,
      true,
      () => Promise.resolve(forgedPayload(alice.recipient, data)),
    );
    let named = false;
    await assertRejects(
      decrypt(sealed, { identities: [bob.identity], onSender: () => named = true }),
      [DecryptionError],
    );
    await assertRejects(
      collect(
        ReadableStream.from([sealed]).pipeThrough(
          decryptStream({
            identities: [bob.identity],
            verify: [alice.recipient],
            onSender: () => named = true,
          }),
        ),
      ),
      [DecryptionError],
    );
    assert.equal(named, false);
  }
});

Deno.test("verifyPayload: every way of cutting a signed payload into chunks gives the same verdict", async () => {
  const { verifyPayload } = await import("../../cascade/signed.ts");
  const prefix = new Uint8Array(64).fill(3);
  for (const size of [0, 1, 63, 64, 65, 200]) {
    const data = patternBytes(size, size + 1);
    const good = await signedPayload(mallory.identity, data, prefix);
    const bad = good.slice();
    bad[bad.length - 1] ^= 1;
    // Cut at one place, at two places, and byte by byte.
    const cuts: number[][] = [];
    for (let i = 0; i <= good.length; i += 7) cuts.push([i]);
    for (let i = 0; i <= good.length; i += 31) {
      for (let j = i; j <= good.length; j += 29) cuts.push([i, j]);
    }
    cuts.push(Array.from({ length: good.length }, (_, i) => i));
    for (const [payload, ok] of [[good, true], [bad, false]] as const) {
      for (const at of cuts) {
        const starts = [0, ...at];
        const pieces = [...at, payload.length].map((end, k) => payload.subarray(starts[k], end));
        let named = false;
        const run = collect(
          verifyPayload(ReadableStream.from(pieces), prefix, {
            registry,
            onSender: () => named = true,
          }),
        );
        if (ok) {
          assert.deepEqual(await run, data, `${size} bytes cut at ${at.length} places`);
          assert.equal(named, true);
        } else {
          await assertRejects(run, [DecryptionError]);
          assert.equal(named, false);
        }
      }
    }
  }
});

Deno.test("openSignedPayload (whole messages) and verifyPayload (streams) give the same verdicts", async () => {
  const { openSignedPayload, verifyPayload } = await import("../../cascade/signed.ts");
  const prefix = new Uint8Array(64).fill(5);
  const data = patternBytes(100, 7);
  const good = await signedPayload(alice.identity, data, prefix);
  const blockLength = (good[0] << 8) | good[1];
  const variants: [string, Uint8Array][] = [
    ["good", good],
    ["empty", new Uint8Array(0)],
    ["one byte", good.subarray(0, 1)],
    ["zero-length sender block", concatBytes(new Uint8Array(2), good.subarray(2))],
    ["cut inside the sender block", good.subarray(0, 2 + blockLength - 1)],
    ["sender block only", good.subarray(0, 2 + blockLength)],
    ["one signature byte short", good.subarray(0, good.length - 1)],
    [
      "signature only, no data",
      concatBytes(good.subarray(0, 2 + blockLength), good.subarray(-3373)),
    ],
    ["another sender's payload", await signedPayload(mallory.identity, data, prefix)],
    ["forged", forgedPayload(alice.recipient, data)],
  ];
  for (const at of [0, 1, 2 + 5, 2 + blockLength + 3, good.length - 1]) {
    const flipped = good.slice();
    flipped[at] ^= 0x40;
    variants.push([`bit flipped at ${at}`, flipped]);
  }
  for (const expected of [undefined, [alice.recipient], [mallory.recipient]]) {
    for (const [name, payload] of variants) {
      const verdict = async (run: (onSender: () => void) => Promise<Uint8Array>) => {
        let named = 0;
        try {
          const out = await run(() => named++);
          return { data: Array.from(out), named };
        } catch (e) {
          assert.ok(e instanceof DecryptionError, `${name}: ${e}`);
          return { error: true, named };
        }
      };
      const options = (onSender: () => void) => ({ registry, expected, onSender });
      const whole = await verdict((onSender) =>
        openSignedPayload(payload.slice(), prefix, options(onSender))
      );
      const streamed = await verdict((onSender) =>
        collect(verifyPayload(ReadableStream.from([payload.slice()]), prefix, options(onSender)))
      );
      assert.deepEqual(whole, streamed, `${name}, expected ${expected?.length ?? "anyone"}`);
    }
    // The good payload opens unless another signer is expected, and names its sender once.
    const opened = await openSignedPayload(good, prefix, {
      registry,
      expected,
      onSender: (s) => assert.equal(s.recipient, alice.recipient),
    }).then((d) => Array.from(d), () => null);
    assert.deepEqual(opened, expected?.[0] === mallory.recipient ? null : Array.from(data));
  }
});

Deno.test("a verified sender's public key is the caller's own copy (the parsed block is kept)", async () => {
  const sealed = await encrypt(new Uint8Array([1]), {
    recipients: [bob.recipient],
    sender: alice.identity,
  });
  const first = await decryptWithSender(sealed, { identities: [bob.identity] });
  first.sender!.publicKey.fill(0);
  const second = await decryptWithSender(sealed, {
    identities: [bob.identity],
    verify: [alice.recipient],
  });
  assert.deepEqual(
    second.sender?.publicKey,
    parseRecipient(alice.recipient).verifyingKey?.publicKey,
  );
});

Deno.test("the sender-block cache keeps verified senders only: forged blocks evict no contact", async () => {
  // A contact's verified message puts its sender block in the cache.
  const sealed = await encrypt(text, { recipients: [bob.recipient], sender: carol.identity });
  assert.equal(
    (await decryptWithSender(sealed, { identities: [bob.identity] })).sender?.recipient,
    carol.recipient,
  );
  const carolBlock = (await prepareSender(carol.identity, registry)).framedBlock.subarray(2);
  assert.ok(senderBlockCached(carolBlock, registry));
  // More strangers than the cache holds (64) send blocks with forged signatures: each message is
  // refused, none of their blocks is kept, and the contact's entry stays.
  const strangers = await Promise.all(
    Array.from({ length: 70 }, () => generateIdentity("x25519", { signatureEngine: "ed25519" })),
  );
  for (const stranger of strangers) {
    const forged = await envelopeWith(
      bob.recipient,
      true,
      () => Promise.resolve(forgedPayload(stranger.recipient, text)),
    );
    await assertRejects(decrypt(forged, { identities: [bob.identity] }), [DecryptionError]);
    const block = (await prepareSender(stranger.identity, registry)).framedBlock.subarray(2);
    assert.equal(senderBlockCached(block, registry), false);
  }
  assert.ok(senderBlockCached(carolBlock, registry), "a forged block evicted a verified sender");
  // A stranger whose signature verifies is kept, as any verified sender is.
  const signed = await encrypt(text, {
    recipients: [bob.recipient],
    sender: strangers[0].identity,
  });
  await decrypt(signed, { identities: [bob.identity] });
  const first = (await prepareSender(strangers[0].identity, registry)).framedBlock.subarray(2);
  assert.ok(senderBlockCached(first, registry));
});
