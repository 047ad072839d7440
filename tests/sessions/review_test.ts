// Defects found in review (docs/sessions.md), each with the test that showed it.
import assert from "node:assert/strict";
import { createAccount, DecryptionError, MemorySessionStore } from "../../mod.ts";
import { InvalidKeyError } from "../../errors.ts";
import { registry } from "../../engines/mod.ts";
import type { KemEngine } from "../../engines/types.ts";
import { encodeBundle, generatePrekeys, parseBundle } from "../../sessions/bundle.ts";
import { dec, enc, identity } from "./_account_helpers.ts";
import { countingRegistry, identityOf } from "./_prekeys.ts";

Deno.test("two Account objects of one identity on one store are serialized: no message key twice", async () => {
  const bob = await createAccount({
    identity: (await identity(0)).identity,
    store: new MemorySessionStore(),
  });
  const shared = new MemorySessionStore();
  const aliceIdentity = (await identity(1)).identity;
  const alice1 = await createAccount({ identity: aliceIdentity, store: shared });
  await bob.decrypt(await alice1.encrypt(await bob.prekeyBundle(), enc("start")));
  await alice1.decrypt(await bob.encrypt(alice1.fingerprint, enc("ok")));
  const alice2 = await createAccount({ identity: aliceIdentity, store: shared });
  const sent = await Promise.all([
    alice1.encrypt(bob.fingerprint, enc("one")),
    alice2.encrypt(bob.fingerprint, enc("two")),
  ]);
  // Each message has its own message key: both open, and neither opens twice.
  const got = [];
  for (const m of sent) got.push(dec((await bob.decrypt(m)).data));
  assert.deepEqual(got.sort(), ["one", "two"]);
  for (const m of sent) await assert.rejects(bob.decrypt(m), DecryptionError);
  await Promise.all([bob.close(), alice1.close(), alice2.close()]);
});

Deno.test("a bundle's KEM key longer than publicKeySize + 4096 is refused before the engine's own check", async () => {
  const { registry: reg, verifies } = countingRegistry();
  const rsa = registry.kem("rsa-3072");
  let checks = 0;
  const counted: KemEngine = {
    ...rsa,
    checkPublicKey(publicKey: Uint8Array): void {
      checks++;
      rsa.checkPublicKey!(publicKey);
    },
  };
  reg.register(counted);
  const bob = await identityOf("bob-review", "x25519", "ed25519+ml-dsa-65", reg);
  const prekeys = await generatePrekeys(counted, { oneTime: 1 }, 1);
  // The engine's check parses DER and converts the modulus: about 0.4 ms per KiB of key here.
  const huge = new Uint8Array(rsa.publicKeySize + 4097);
  huge.set(prekeys.pqspk.publicKey);
  for (
    const parts of [
      { pqspk: { id: prekeys.pqspk.id, publicKey: huge } },
      { pqopks: [{ id: prekeys.pqopks[0].id, publicKey: huge }] },
    ]
  ) {
    const bundle = await encodeBundle(bob.identity, {
      kem: counted,
      ...prekeys,
      ...parts,
      created: 0,
      registry: reg,
    });
    await assert.rejects(parseBundle(bundle, { registry: reg }), (e) => {
      assert.ok(e instanceof InvalidKeyError, `${e}`);
      assert.match((e as Error).message, /too long/);
      return true;
    });
  }
  // Only the second bundle's PQSPK (of the right size) reached the engine's check.
  assert.equal(checks, 1);
  assert.equal(verifies(), 0);
  // A key of the right size still goes to the engine's check, and the bundle parses.
  const good = await encodeBundle(bob.identity, {
    kem: counted,
    ...prekeys,
    created: 0,
    registry: reg,
  });
  await parseBundle(good, { registry: reg });
  assert.equal(checks, 3);
});
