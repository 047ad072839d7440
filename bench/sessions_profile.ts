/**
 * One session loop alone, for a CPU profile of where a message's time goes:
 *
 * ```sh
 * deno run --config bench/deno.json --allow-all --cpu-prof --cpu-prof-dir=/tmp/prof \
 *   bench/sessions_profile.ts [--pattern one-way|alternating] [--store memory|sqlite] [--messages N]
 * ```
 *
 * Prints the rate and the CPU time per message; the profile (`.cpuprofile`, Chrome DevTools'
 * format) shows the rest. docs/performance.md ("Sessions") has what it showed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { createAccount } from "../sessions/account.ts";
import { MemorySessionStore } from "../sessions/store.ts";
import { SqliteSessionStore } from "../sessions/sqlite_store.ts";
import { generateIdentity } from "../cascade/keys.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pattern: { type: "string", default: "one-way" },
    store: { type: "string", default: "memory" },
    messages: { type: "string", default: "5000" },
    kem: { type: "string" },
  },
});
const n = Number(values.messages);
const alternating = values.pattern === "alternating";
if (!["one-way", "alternating"].includes(values.pattern!)) throw new RangeError("--pattern");
if (!["memory", "sqlite"].includes(values.store!)) throw new RangeError("--store");

const dir = await Deno.makeTempDir({ prefix: "polycrypt-sessions-profile-" });
try {
  const store = (name: string) =>
    values.store === "sqlite"
      ? new SqliteSessionStore(`${dir}/${name}.db`)
      : new MemorySessionStore();
  const alice = await createAccount({
    identity: (await generateIdentity()).identity,
    store: store("alice"),
    kem: values.kem,
  });
  const bob = await createAccount({
    identity: (await generateIdentity()).identity,
    store: store("bob"),
    kem: values.kem,
  });
  const data = crypto.getRandomValues(new Uint8Array(1024));
  await bob.decrypt(await alice.encrypt(await bob.prekeyBundle({ oneTimeKeys: 1 }), data));
  await alice.decrypt(await bob.encrypt(alice.fingerprint, data));
  const loop = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const [from, to] = alternating && i % 2 === 1 ? [bob, alice] : [alice, bob];
      await to.decrypt(await from.encrypt(to.fingerprint, data));
    }
  };
  await loop(200);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await loop(n);
  const ms = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  console.log(
    `${values.store} ${values.pattern}: ${Math.round(n / ms * 1000)} msgs/s, ${
      (ms / n * 1000).toFixed(0)
    } us wall and ${((used.user + used.system) / 1000 / n * 1000).toFixed(0)} us CPU per message`,
  );
  await alice.close();
  await bob.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
