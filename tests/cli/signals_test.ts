// Signals while polycrypt writes an output file (issue 20 section 6): SIGINT, SIGTERM and SIGHUP
// in the middle of `decrypt -o`, `encrypt -o` and `listen -o` leave no temporary file (for
// decrypt and listen it holds plaintext) and exit 128 + the signal's number; what SIGKILL leaves
// is removed by the next run that writes to that folder, unless a running polycrypt still writes
// it.
import assert from "node:assert/strict";
import { encrypt, encryptStream, type SealedChunk } from "../../mod.ts";
import { type Connection, dial, fileMessageHeader } from "../../transports/mod.ts";
import { prepend } from "../../cli/_delivery.ts";
import { keyPair, PERMS, runCli, spawnCli, startListen } from "./_cli.ts";
import { waitUntil } from "../_event_loop.ts";

const SIGNALS: [Deno.Signal, number][] = [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]];
const MiB = 1024 * 1024;

/** Random bytes (getRandomValues gives at most 64 KiB at a time). */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** The names of the temporary files in `dir`. */
async function temps(dir: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".tmp")) names.push(e.name);
  return names;
}

/** Waits for one temporary file in `dir` holding at least `minSize` bytes; returns its path. */
async function tempWritten(dir: string, minSize: number): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const name of await temps(dir)) {
      const info = await Deno.stat(`${dir}/${name}`).catch(() => undefined);
      if (info && info.size >= minSize) return `${dir}/${name}`;
    }
    if (Date.now() > deadline) throw new Error(`no temporary file in ${dir}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts the CLI with stdin piped, feeds it `head` and keeps stdin open (a slow input). */
async function startSlow(args: string[], head: Uint8Array) {
  const child = spawnCli(args, PERMS, {}, true);
  const writer = child.stdin.getWriter();
  await writer.write(head);
  const stderr = new Response(child.stderr).text();
  const stdout = new Response(child.stdout).text();
  return {
    child,
    async result() {
      const status = await child.status;
      await writer.close().catch(() => {});
      return { code: status.code, stderr: await stderr, stdout: await stdout };
    },
    /** Feeds the rest and ends stdin. */
    async finish(rest: Uint8Array) {
      await writer.write(rest);
      await writer.close();
    },
  };
}

/** Starts `listen --once -o inbox` and resolves with its port. */
const listenInto = (key: string, inbox: string) =>
  startListen(["--on", "tcp://127.0.0.1:0", "-i", key, "--once", "-o", inbox]);

Deno.test("SIGINT, SIGTERM and SIGHUP mid-write leave no temporary file", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-signals-" });
  try {
    const { key, recipient: bob } = await keyPair(dir, "x25519", { perms: PERMS });
    const plain = randomBytes(4 * MiB);
    const envelope = await encrypt(plain, { recipients: [bob] });
    assert.ok(envelope.length > plain.length);

    for (const [signal, code] of SIGNALS) {
      await t.step(`decrypt -o, ${signal}: the plaintext so far is removed`, async () => {
        const out = await Deno.makeTempDir({ dir, prefix: "decrypt-" });
        const run = await startSlow(
          ["decrypt", "-i", key, "-o", `${out}/plain`],
          envelope.subarray(0, MiB),
        );
        await tempWritten(out, 1); // authenticated plaintext is on disk
        run.child.kill(signal);
        const { code: exit, stderr } = await run.result();
        assert.equal(exit, code, stderr);
        assert.deepEqual(await temps(out), []);
        assert.deepEqual(await Array.fromAsync(Deno.readDir(out)), []);
      });

      await t.step(`encrypt -o, ${signal}`, async () => {
        const out = await Deno.makeTempDir({ dir, prefix: "encrypt-" });
        const run = await startSlow(
          ["encrypt", "-r", bob, "-o", `${out}/sealed`],
          plain.subarray(0, MiB),
        );
        await tempWritten(out, 1);
        run.child.kill(signal);
        const { code: exit, stderr } = await run.result();
        assert.equal(exit, code, stderr);
        assert.deepEqual(await Array.fromAsync(Deno.readDir(out)), []);
      });

      await t.step(`listen -o receiving a file, ${signal}`, async () => {
        const inbox = await Deno.makeTempDir({ dir, prefix: "inbox-" });
        const listener = await listenInto(key, inbox);
        // A sender that stops after 1 MiB of the file, its stream still open.
        let source!: ReadableStreamDefaultController<Uint8Array>;
        const body = new ReadableStream<Uint8Array>({ start: (c) => void (source = c) });
        source.enqueue(plain.subarray(0, MiB));
        const connection = await dial(`tcp://127.0.0.1:${listener.port}`) as Connection;
        const sealed = prepend(fileMessageHeader("secret.bin"), body).pipeThrough(
          encryptStream({ recipients: [bob] }),
        ) as ReadableStream<SealedChunk>;
        const sending = connection.sendStream(sealed).catch(() => {});
        try {
          await tempWritten(inbox, 1);
          listener.child.kill(signal);
          const { code: exit, stderr } = await listener.result;
          assert.equal(exit, code, stderr);
          assert.deepEqual(await Array.fromAsync(Deno.readDir(inbox)), []);
        } finally {
          source.close();
          await connection.close().catch(() => {});
          await sending;
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("what SIGKILL leaves is removed by the next run, never a file still being written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-leftover-" });
  try {
    const { key, recipient: bob } = await keyPair(dir, "x25519", { perms: PERMS });
    const plain = randomBytes(4 * MiB);
    const envelope = await encrypt(plain, { recipients: [bob] });
    const out = `${dir}/out`;
    await Deno.mkdir(out);

    // A decrypt killed mid-write leaves its temporary file: 0600, named as docs/cli.md says.
    const killed = await startSlow(
      ["decrypt", "-i", key, "-o", `${out}/a`],
      envelope.subarray(0, MiB),
    );
    const leftover = await tempWritten(out, 1);
    killed.child.kill("SIGKILL");
    await killed.result();
    assert.match(leftover, /\/\.a\.polycrypt-[0-9a-f]{8}\.tmp$/);
    assert.equal((await Deno.stat(leftover)).mode! & 0o777, 0o600);

    // A decrypt still writing (slow input) into the same folder: its file is in use.
    const running = await startSlow(
      ["decrypt", "-i", key, "-o", `${out}/b`],
      envelope.subarray(0, MiB),
    );
    let busy = "";
    await waitUntil(
      async () => {
        busy = (await temps(out)).map((n) => `${out}/${n}`).find((p) => p !== leftover) ?? "";
        return busy !== "";
      },
      20_000,
      "the running decrypt's temporary file",
      50,
    );
    // Both look old; another tool's file with a look-alike name is not polycrypt's.
    const old = new Date(Date.now() - 3_600_000);
    const foreign = `${out}/.c.0123abcd.tmp`;
    await Deno.writeTextFile(foreign, "not polycrypt's");
    for (const path of [leftover, busy, foreign]) await Deno.utime(path, old, old);

    // The next run writing to the folder removes the dead run's file only.
    const next = await runCli(["encrypt", "-r", bob, "-o", `${out}/c.sealed`], PERMS, {
      stdin: "x",
    });
    assert.equal(next.code, 0, next.stderr);
    assert.ok(!(await Deno.stat(leftover).then(() => true, () => false)), "leftover kept");
    assert.ok(await Deno.stat(busy).then(() => true, () => false), "a file in use was removed");
    assert.ok(
      await Deno.stat(foreign).then(() => true, () => false),
      "another tool's file removed",
    );

    await running.finish(envelope.subarray(MiB));
    const done = await running.result();
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(await Deno.readFile(`${out}/b`), plain);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
