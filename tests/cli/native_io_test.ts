// The CLI's file I/O through libc (cli/_io.ts, issue 22 "File speed at least age's"): with FFI
// granted on Linux, input files are read synchronously and outputs written with pwrite on Deno's
// FFI thread pool. Each test runs the same input through that path and through Deno's own reads and
// writes (disableNativeIoForTesting) and compares the bytes; a failure while writes run leaves
// nothing behind; a signal while a write runs still removes the temporary file.
import assert from "node:assert/strict";
import { aes256Gcm } from "../../mod.ts";
import { disableNativeIoForTesting, openInput, writeAtomic } from "../../cli/_io.ts";
import { handOff, steady } from "../../cascade/_splice.ts";
import { deriveStreamKeys, sealStream } from "../../cascade/stream.ts";
import { collect, once } from "../../cascade/_reader.ts";
import { ffiGranted } from "../../engines/_ffi.ts";
import { concatBytes } from "../../engines/_bytes.ts";
import { keyPair, PERMS, spawnCli, withTempDir } from "./_cli.ts";

const MiB = 1024 * 1024;
const FFI = [...PERMS, "--allow-ffi"];

/** Random bytes (getRandomValues gives at most 64 KiB at a time). */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** Runs `body` once on libc's path (when this process has it) and once on Deno's. */
async function bothPaths(body: (path: "libc" | "deno") => Promise<void>): Promise<void> {
  await body("libc");
  disableNativeIoForTesting(true);
  try {
    await body("deno");
  } finally {
    disableNativeIoForTesting(false);
  }
}

/** Asserts `actual` equals `expected`, naming the first byte that differs (no huge diffs). */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  const same = i === actual.length && i === expected.length;
  assert.ok(same, `${what}: ${actual.length} bytes against ${expected.length}, first at ${i}`);
}

/** The names in `dir`. */
const names = async (dir: string) => (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);

Deno.test("native I/O: files of every edge size are copied byte for byte on both paths", async () => {
  // The libc path needs FFI on Linux; elsewhere both runs take Deno's path.
  if (Deno.build.os === "linux") assert.ok(ffiGranted(), "run this test with --allow-ffi");
  await withTempDir("polycrypt-native-io-", async (dir) => {
    const sizes = [0, 1, 65535, MiB - 1, MiB, MiB + 1, 2 * MiB, 3 * MiB + 12345];
    for (const size of sizes) {
      const plain = randomBytes(size);
      await Deno.writeFile(`${dir}/in`, plain);
      await bothPaths(async (path) => {
        const input = await openInput(`${dir}/in`);
        assert.equal(input.size, size);
        await writeAtomic(`${dir}/out`, input.stream, true);
        assertSameBytes(await Deno.readFile(`${dir}/out`), plain, `${size} bytes, ${path}`);
        assert.equal((await Deno.stat(`${dir}/out`)).mode! & 0o777, 0o600);
      });
    }
    assert.deepEqual((await names(dir)).sort(), ["in", "out"]);
  });
});

Deno.test("native I/O: STREAM from a file writes the same bytes on both paths", async () => {
  await withTempDir("polycrypt-native-io-", async (dir) => {
    // Fixed keys: sealing is deterministic, so both paths must write exactly these bytes.
    const keys = await deriveStreamKeys(new Uint8Array(32), new Uint8Array(16), [aes256Gcm]);
    const plain = randomBytes(5 * MiB + 4321);
    await Deno.writeFile(`${dir}/in`, plain);
    const expected = await collect(sealStream(once(plain), keys, true));
    await bothPaths(async (path) => {
      const input = await openInput(`${dir}/in`);
      const sealed = ReadableStream.from(sealStream(input.stream, keys, true));
      await writeAtomic(`${dir}/out.${path}`, sealed, false);
      assertSameBytes(await Deno.readFile(`${dir}/out.${path}`), expected, path);
    });
  });
});

Deno.test("native I/O: steady batches may be written late, other pieces before the next is read", async () => {
  await withTempDir("polycrypt-native-io-", async (dir) => {
    const expected: Uint8Array[] = [];
    // A producer that reuses one buffer for its plain pieces (allowed once the next is asked
    // for), and yields batches as STREAM does: a steady view, then the handed-off rest.
    async function* producer() {
      const reused = new Uint8Array(256 * 1024);
      for (let round = 0; round < 20; round++) {
        reused.fill(round);
        expected.push(reused.slice());
        yield reused;
        // Asked for the next piece: the last one's buffer is the producer's again.
        reused.fill(255);
        const batch = randomBytes(MiB + 100);
        expected.push(batch.slice());
        yield steady(batch.subarray(0, MiB));
        yield handOff(batch.subarray(MiB), "batch");
      }
    }
    await bothPaths(async (path) => {
      expected.length = 0;
      await writeAtomic(`${dir}/out.${path}`, ReadableStream.from(producer()), false);
      assertSameBytes(await Deno.readFile(`${dir}/out.${path}`), concatBytes(...expected), path);
    });
  });
});

Deno.test("native I/O: a stream failing while writes run leaves no file behind", async () => {
  await withTempDir("polycrypt-native-io-", async (dir) => {
    async function* failing() {
      for (let i = 0; i < 8; i++) yield handOff(randomBytes(MiB), "batch");
      throw new Error("the source failed");
    }
    await bothPaths(async (path) => {
      await assert.rejects(
        writeAtomic(`${dir}/out`, ReadableStream.from(failing()), false),
        /the source failed/,
        path,
      );
      assert.deepEqual(await names(dir), [], path);
    });
  });
});

Deno.test("native I/O: SIGINT while libc's writes run leaves no temporary file", async () => {
  if (Deno.build.os === "windows") return;
  await withTempDir("polycrypt-native-io-", async (dir) => {
    const { recipient } = await keyPair(dir, "x25519", { perms: PERMS });
    // stdin kept open: polycrypt waits for more input with a temporary file part written.
    const child = spawnCli(["encrypt", "-r", recipient, "-o", `${dir}/out.pc`], FFI, {}, true);
    const writer = child.stdin.getWriter();
    await writer.write(randomBytes(4 * MiB));
    const stderr = new Response(child.stderr).text();
    const stdout = new Response(child.stdout).text();
    const deadline = Date.now() + 60_000;
    for (;;) {
      const sizes = await Promise.all(
        (await names(dir)).filter((n) => n.endsWith(".tmp")).map(async (n) =>
          (await Deno.stat(`${dir}/${n}`).catch(() => ({ size: 0 }))).size
        ),
      );
      if (sizes.some((s) => s >= MiB)) break;
      assert.ok(Date.now() < deadline, "no temporary file written");
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGINT");
    const status = await child.status;
    await writer.close().catch(() => {});
    assert.equal(status.code, 130, await stderr);
    await stdout;
    assert.ok((await stderr).includes("polycrypt: interrupted"));
    assert.deepEqual((await names(dir)).filter((n) => n.endsWith(".tmp") || n === "out.pc"), []);
  });
});
