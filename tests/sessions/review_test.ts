// Defects found in review (docs/sessions.md), each with the test that showed it.
import assert from "node:assert/strict";
import { createAccount, DecryptionError, MemorySessionStore } from "../../mod.ts";
import { dec, enc, identity } from "./_account_helpers.ts";

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
