// Adversarial envelopes: every single-byte change, truncation at every chunk boundary, reordered,
// duplicated or missing chunks, trailing data, spliced stanzas, hostile Argon2 parameters.
import assert from "node:assert/strict";
import { decrypt, DecryptionError, encrypt, FormatError, inspect } from "../../mod.ts";
import { assertRejects, FAST_ARGON2, identityFor, patternBytes } from "./_helpers.ts";

const SEALED_CHUNK = 65536 + 16;

function withByte(bytes: Uint8Array, position: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[position] = value;
  return copy;
}

Deno.test("every single-byte change of a small envelope is rejected", async (t) => {
  const cases: [
    string,
    () => Promise<{ sealed: Uint8Array; identities: string[]; passphrase?: string }>,
  ][] = [
    ["x25519", async () => {
      const bob = await identityFor("x25519");
      return {
        sealed: await encrypt(patternBytes(40), { recipients: [bob.recipient] }),
        identities: [bob.identity],
      };
    }],
    ["x25519+ml-kem-768, two AEAD layers", async () => {
      const bob = await identityFor("x25519+ml-kem-768");
      return {
        sealed: await encrypt(patternBytes(40), {
          recipients: [bob.recipient],
          aead: ["aes-256-gcm", "xchacha20-poly1305"],
        }),
        identities: [bob.identity],
      };
    }],
    ["passphrase only", async () => ({
      sealed: await encrypt(patternBytes(8), { passphrase: "pw", argon2: FAST_ARGON2 }),
      identities: [],
      passphrase: "pw",
    })],
  ];
  for (const [name, make] of cases) {
    await t.step(name, async () => {
      const { sealed, identities, passphrase } = await make();
      assert.ok((await decrypt(sealed, { identities, passphrase })).length > 0);
      let rejected = 0;
      // Flipping the low bit keeps Argon2 parameters within bounds, so the password
      // commitment (not the bounds check) must catch those. Four at a time: each
      // password attempt runs Argon2id in its own worker.
      const positions = [...sealed.keys()];
      for (let start = 0; start < positions.length; start += 4) {
        await Promise.all(
          positions.slice(start, start + 4).map(async (i) => {
            const bad = withByte(sealed, i, sealed[i] ^ 0x01);
            const error = [DecryptionError, FormatError];
            await assertRejects(decrypt(bad, { identities, passphrase }), error, `byte ${i}`);
            rejected++;
          }),
        );
      }
      assert.equal(rejected, sealed.length);
    });
  }
});

Deno.test("truncation, reordering, duplication and trailing data are rejected", async (t) => {
  const bob = await identityFor("x25519");
  const data = patternBytes(4 * 65536 + 100, 21);
  const sealed = await encrypt(data, { recipients: [bob.recipient], pad: false });
  const info = await inspect(sealed);
  const start = sealed.length - info.payloadBytes!;
  const chunks: Uint8Array[] = [];
  for (let o = start; o < sealed.length; o += SEALED_CHUNK) {
    chunks.push(sealed.subarray(o, o + SEALED_CHUNK));
  }
  assert.equal(chunks.length, 5);
  const head = sealed.subarray(0, start);
  const join = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  const open = (bytes: Uint8Array) => decrypt(bytes, { identities: [bob.identity] });
  assert.equal((await open(sealed)).length, data.length);

  await t.step("cut at every chunk boundary (missing final chunk) and inside chunks", async () => {
    for (let k = 0; k <= chunks.length - 1; k++) {
      for (const extra of [0, 1, 16, SEALED_CHUNK - 1]) {
        const cut = start + k * SEALED_CHUNK + extra;
        if (cut >= sealed.length) continue;
        await assertRejects(
          open(sealed.subarray(0, cut)),
          [DecryptionError, FormatError],
          `cut ${cut}`,
        );
      }
    }
  });
  await t.step("reordered chunks", async () => {
    await assertRejects(open(join(head, chunks[1], chunks[0], ...chunks.slice(2))), [
      DecryptionError,
    ]);
  });
  await t.step("duplicated chunk", async () => {
    await assertRejects(open(join(head, chunks[0], ...chunks)), [DecryptionError]);
  });
  await t.step("a middle chunk dropped", async () => {
    await assertRejects(open(join(head, chunks[0], ...chunks.slice(2))), [DecryptionError]);
  });
  await t.step("trailing data", async () => {
    await assertRejects(open(join(sealed, new Uint8Array([0]))), [DecryptionError]);
    await assertRejects(open(join(sealed, chunks[4])), [DecryptionError]);
  });
  await t.step(
    "a chunk from another envelope with the same key is impossible to splice",
    async () => {
      const other = await encrypt(data, { recipients: [bob.recipient], pad: false });
      const otherStart = other.length - (await inspect(other)).payloadBytes!;
      const foreign = other.subarray(otherStart, otherStart + SEALED_CHUNK);
      await assertRejects(open(join(head, foreign, ...chunks.slice(1))), [DecryptionError]);
    },
  );
});

Deno.test("spliced stanzas break the header MAC for everyone", async () => {
  const alice = await identityFor("x25519");
  const bob = await identityFor("ml-kem-768");
  const data = patternBytes(100, 1);
  const a = await encrypt(data, { recipients: [alice.recipient] });
  // Build an envelope whose header lists Alice's stanza and one for Bob from another envelope,
  // keeping Alice's MAC: neither may decrypt (and Bob can never see different plaintext).
  const b = await encrypt(data, { recipients: [bob.recipient] });
  const aInfo = await inspect(a);
  const bInfo = await inspect(b);
  const aStanzaEnd = 9 + 2 + 1 + 11 + 2 + 1 + 6 + 4 + aInfo.stanzas![0].bytes;
  const bStanzaStart = 9 + 2 + 1 + 11 + 2;
  const bStanzaEnd = bStanzaStart + 1 + 10 + 4 + bInfo.stanzas![0].bytes;
  const spliced = new Uint8Array([
    ...a.subarray(0, 9 + 2 + 1 + 11),
    0,
    2,
    ...a.subarray(9 + 2 + 1 + 11 + 2, aStanzaEnd),
    ...b.subarray(bStanzaStart, bStanzaEnd),
    ...a.subarray(aStanzaEnd),
  ]);
  assert.equal((await inspect(spliced)).stanzas?.length, 2);
  await assertRejects(decrypt(spliced, { identities: [alice.identity] }), [DecryptionError]);
  await assertRejects(decrypt(spliced, { identities: [bob.identity] }), [DecryptionError]);
});

Deno.test("Argon2 parameters outside the bounds are rejected before any work", async (t) => {
  const sealed = await encrypt(new Uint8Array(1), { passphrase: "pw", argon2: FAST_ARGON2 });
  const set = (at: number, bytes: number[]) => {
    const copy = sealed.slice();
    copy.set(bytes, at);
    return copy;
  };
  // Layout: magic(8) mode(1) kdf(1) m(4) t(4) p(1) salt(16) commit(32).
  const hostile: [string, Uint8Array][] = [
    ["m = 4 TiB", set(10, [0xff, 0xff, 0xff, 0xff])],
    ["m = 1 GiB + 1 KiB", set(10, [0x00, 0x10, 0x00, 0x01])],
    ["m below the floor", set(10, [0x00, 0x00, 0x10, 0x00])],
    ["t = 0", set(14, [0, 0, 0, 0])],
    ["t = 2^32-1", set(14, [0xff, 0xff, 0xff, 0xff])],
    ["p = 0", set(18, [0])],
    ["p = 255", set(18, [255])],
    ["unknown KDF", set(9, [2])],
  ];
  for (const [name, bytes] of hostile) {
    await t.step(name, async () => {
      const t0 = performance.now();
      await assertRejects(decrypt(bytes, { passphrase: "pw" }), [FormatError], name);
      // Not a timing assertion: just report it.
      console.log(`  ${name}: rejected in ${(performance.now() - t0).toFixed(1)} ms`);
    });
  }
});

Deno.test("not an envelope, wrong version, unknown mode", async () => {
  const bob = await identityFor("x25519");
  const sealed = await encrypt(new Uint8Array(1), { recipients: [bob.recipient] });
  await assertRejects(decrypt(new Uint8Array(0), { identities: [bob.identity] }), [FormatError]);
  await assertRejects(decrypt(new TextEncoder().encode("hello"), { identities: [bob.identity] }), [
    FormatError,
  ]);
  await assertRejects(decrypt(withByte(sealed, 7, 2), { identities: [bob.identity] }), [
    FormatError,
  ], "version 2");
  await assertRejects(decrypt(withByte(sealed, 8, 7), { identities: [bob.identity] }), [
    FormatError,
  ], "mode 7");
});
