// The CLI's Welcome in pieces (docs/groups.md section 10): `group add` sends a Welcome over 512 KiB
// as one 0x57 payload per piece; the joiner's `fetch` (cli/group.ts groupInboxPayload) keeps the
// pieces in its session store and joins when the last one arrives, in any order; pieces from a
// stranger are refused. Here with pieces of 40 KB of a 10-member group's ~100 KB Welcome, so that
// no 60-member group of CLI processes is needed.
import assert from "node:assert/strict";
import { generateIdentity } from "../../mod.ts";
import { openGroups } from "../../groups/mod.ts";
import { MemorySessionStore } from "../../sessions/store.ts";
import { groupInboxPayload, welcomeBodies } from "../../cli/group.ts";
import { readGroupBook } from "../../cli/_contacts.ts";

Deno.test("the CLI joins from a Welcome sent in pieces, in any order, only from a contact", async () => {
  const home = await Deno.makeTempDir();
  const previous = Deno.env.get("XDG_CONFIG_HOME");
  Deno.env.set("XDG_CONFIG_HOME", home);
  try {
    const aliceId = (await generateIdentity()).identity;
    const bobId = (await generateIdentity()).identity;
    const alice = await openGroups({ identity: aliceId });
    const bobStore = new MemorySessionStore();
    const bob = await openGroups({ identity: bobId, store: bobStore });
    const others = await Promise.all(
      Array.from(
        { length: 8 },
        async () => openGroups({ identity: (await generateIdentity()).identity }),
      ),
    );
    const group = await alice.create();
    const commit = await alice.add(group, [
      await bob.keyPackage(),
      ...await Promise.all(others.map((o) => o.keyPackage())),
    ]);
    const welcome = commit.welcome!;
    assert.ok(welcome.length > 80_000, `${welcome.length}`);
    const url = "tcp://127.0.0.1:7000";
    const bodies = await welcomeBodies(url, "team", 1, welcome, 40_000);
    assert.ok(bodies.length >= 3, `${bodies.length}`);
    assert.equal((await welcomeBodies(url, "team", 1, welcome)).length, 1);

    const contact = { name: "alice", recipient: alice.recipient, added: new Date().toISOString() };
    const reader = { identity: bobId, inner: bobStore, contacts: [contact] };
    const payload = (body: Uint8Array) => ({ groupKind: 0x57, body });
    // A stranger's piece is refused.
    await assert.rejects(
      groupInboxPayload(reader, undefined, alice.fingerprint, payload(bodies[0])),
      /stranger/,
    );
    // The pieces in another order: nothing joined until the last.
    const order = [...bodies.keys()].reverse();
    for (const i of order.slice(0, -1)) {
      await groupInboxPayload(reader, contact, alice.fingerprint, payload(bodies[i]));
      assert.deepEqual((await readGroupBook(bobId)).groups, []);
    }
    await groupInboxPayload(reader, contact, alice.fingerprint, payload(bodies[order.at(-1)!]));
    const book = await readGroupBook(bobId);
    assert.deepEqual(book.groups.map((g) => [g.name, g.id, g.relay]), [["team", group, url]]);
    const again = await openGroups({ identity: bobId, store: bobStore });
    assert.deepEqual(await again.groups(), [group]);
    assert.equal((await again.members(group)).length, 10);
  } finally {
    if (previous === undefined) Deno.env.delete("XDG_CONFIG_HOME");
    else Deno.env.set("XDG_CONFIG_HOME", previous);
    await Deno.remove(home, { recursive: true });
  }
});
