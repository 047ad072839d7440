// Argon2id on both backends: known answers from the reference CLI, agreement on random inputs,
// the choice "auto" makes with and without the FFI permission, and the event loop during the
// default parameters. The test task grants --allow-ffi, so the native backend must load here.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ARGON2_DEFAULT,
  ARGON2_FLOOR,
  type Argon2Backend,
  argon2Backend,
  argon2id,
  type Argon2Params,
} from "../../cascade/argon2.ts";
import { ticksDuring } from "../_event_loop.ts";
import { runDenoScript } from "../_process.ts";

const encoder = new TextEncoder();

// Generated with the Debian `argon2` CLI (package argon2 0~20171227-0.3+deb12u1, the RFC 9106
// reference code), e.g. `printf 'polycrypt KAT passphrase' | argon2 0123456789abcdef -id -m 16
// -t 3 -p 4 -l 32 -r`. The third passphrase is given to us decomposed ("e" + U+0301, U+212B
// ANGSTROM SIGN) and to the CLI in NFC bytes (U+00E9, U+00C5): the format hashes NFC.
const KATS: { passphrase: string; salt: string; params: Argon2Params; key: string }[] = [
  {
    passphrase: "polycrypt KAT passphrase",
    salt: "0123456789abcdef",
    params: ARGON2_DEFAULT,
    key: "4940a1f3ce22b4643c28e9d7795edfa486c1ff44cf129f0d5d4d419ea22ddc07",
  },
  {
    passphrase: "polycrypt KAT passphrase",
    salt: "0123456789abcdef",
    params: ARGON2_FLOOR,
    key: "4496a1ca4b29b84d8dcfef9b845f77c2302ca915d2229362e82fb163d8145ea8",
  },
  {
    passphrase: "cafe\u0301 \u212b",
    salt: "salt-for-nfc-kat",
    params: { memoryKiB: 19456, passes: 2, parallelism: 3 },
    key: "b7598e551bb81ebf06b38216e2f94a396dd609777159ca5cf6cc11e6658901f4",
  },
];

const BACKENDS: Argon2Backend[] = ["native", "wasm", "auto"];

Deno.test("Argon2id known answers from the reference CLI, on every backend", async (t) => {
  for (const backend of BACKENDS) {
    for (const kat of KATS) {
      const { memoryKiB: m, passes: t_, parallelism: p } = kat.params;
      await t.step(
        `${backend}: m=${m} t=${t_} p=${p} ${JSON.stringify(kat.passphrase)}`,
        async () => {
          const salt = encoder.encode(kat.salt);
          const saltBefore = salt.slice();
          const key = await argon2id(kat.passphrase, salt, kat.params, { backend });
          assert.equal(key.toHex(), kat.key);
          assert.deepEqual(salt, saltBefore, "the salt is left unchanged");
        },
      );
    }
  }
});

Deno.test("the native and WebAssembly backends agree on random inputs", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.integer({ min: 1, max: 4 }),
      async (passphrase, salt, parallelism) => {
        const params = { memoryKiB: 19456, passes: 2, parallelism };
        const native = await argon2id(passphrase, salt, params, { backend: "native" });
        const wasm = await argon2id(passphrase, salt, params, { backend: "wasm" });
        assert.equal(native.toHex(), wasm.toHex());
      },
    ),
    { numRuns: 8 },
  );
});

Deno.test("with --allow-ffi, auto uses the native backend", async () => {
  assert.equal(await argon2Backend(), "native");
});

Deno.test("without the FFI permission, auto uses WebAssembly and native is refused", async () => {
  // A child without --allow-ffi: "auto" must not prompt or fail, and must give the same key.
  const kat = KATS[1];
  const script = `
    import { argon2Backend, argon2id } from ${
    JSON.stringify(new URL("../../cascade/argon2.ts", import.meta.url).href)
  };
    const salt = new TextEncoder().encode(${JSON.stringify(kat.salt)});
    const params = ${JSON.stringify(kat.params)};
    const key = await argon2id(${JSON.stringify(kat.passphrase)}, salt, params);
    let native = "resolved";
    try {
      await argon2id("x", salt, params, { backend: "native" });
    } catch (e) {
      native = e.message;
    }
    console.log(JSON.stringify({ backend: await argon2Backend(), key: key.toHex(), native }));
  `;
  const out = await runDenoScript(script, ["--allow-read", "--allow-env"]);
  assert.equal(out.code, 0, out.stderr);
  const result = JSON.parse(out.stdout);
  assert.equal(result.backend, "wasm");
  assert.equal(result.key, kat.key);
  assert.match(result.native, /FFI permission/);
});

Deno.test("Argon2id at the default parameters leaves the event loop running", async (t) => {
  for (const backend of ["native", "wasm"] as const) {
    await t.step(backend, async () => {
      const ticks = await ticksDuring(
        () => argon2id("pw", new Uint8Array(16), ARGON2_DEFAULT, { backend }),
        10,
      );
      // Work on the JavaScript thread would let no timer fire; a slow machine only adds ticks.
      assert.ok(ticks > 0, `ticks: ${ticks}`);
    });
  }
});

Deno.test("argon2id rejects an unknown backend before any work", async () => {
  await assert.rejects(
    // @ts-expect-error: not a backend
    argon2id("pw", new Uint8Array(16), ARGON2_FLOOR, { backend: "gpu" }),
    (e: Error) => e instanceof TypeError && /backend/.test(e.message),
  );
});
