// `listen --max-file-size` (issue 20 section 1, memory and disk): a received file over the limit
// is refused before more than the limit reaches the disk, nothing of it is kept, the sender's
// connection is closed and its `send` fails; a file at the limit is received.
import assert from "node:assert/strict";
import { keyPair, NET_PERMS, runCli, startListen } from "./_cli.ts";

const run = (args: string[]) => runCli(args, NET_PERMS, { deadlineMs: 25_000 });
/** `send --to tcp://127.0.0.1:PORT -r RECIPIENT -f FILE`. */
const sendFile = (port: number, recipient: string, file: string) =>
  run(["send", "--to", `tcp://127.0.0.1:${port}`, "-r", recipient, "-f", file]);

/** `listen --once` on a free port with `extra` flags; its port, and its result when it exits. */
const listenOnce = (key: string, extra: string[]) =>
  startListen(["--on", "tcp://127.0.0.1:0", "-i", key, "--once", ...extra], NET_PERMS, {
    deadlineMs: 25_000,
  });

Deno.test("cli listen --max-file-size refuses a larger file without keeping any of it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-maxfile-" });
  try {
    const { key: bobKey, recipient: bob } = await keyPair(dir, "x25519", {
      options: { deadlineMs: 25_000 },
    });
    await Deno.mkdir(`${dir}/inbox`);
    const limit = 100 * 1024;

    // 3 MiB against a 100 KiB limit: refused, the connection closed, nothing left in the folder.
    await Deno.writeFile(`${dir}/big.bin`, new Uint8Array(3 * 1024 * 1024).fill(7));
    const refusing = await listenOnce(bobKey, ["-o", `${dir}/inbox`, "--max-file-size", "100K"]);
    const sent = await sendFile(refusing.port, bob, `${dir}/big.bin`);
    assert.equal(sent.code, 3, sent.stderr);
    assert.match(sent.stderr, /^polycrypt: .*(peer|connection)/);
    const heard = await refusing.result;
    assert.equal(heard.code, 1);
    assert.match(heard.stderr, /a file larger than --max-file-size \(100 KiB\) was refused/);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/inbox`)), []);

    // Exactly at the limit: received.
    const fits = new Uint8Array(limit).map((_, i) => i);
    await Deno.writeFile(`${dir}/fits.bin`, fits);
    const taking = await listenOnce(bobKey, ["-o", `${dir}/inbox`, "--max-file-size", "100KiB"]);
    const ok = await sendFile(taking.port, bob, `${dir}/fits.bin`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await taking.result).code, 0);
    assert.deepEqual(await Deno.readFile(`${dir}/inbox/fits.bin`), fits);

    for (const bad of ["0", "1.5G", "lots", "4X", "99999999T"]) {
      const r = await run([
        "listen",
        "--on",
        "tcp://127.0.0.1:0",
        "-i",
        bobKey,
        "--max-file-size",
        bad,
      ]);
      assert.equal(r.code, 2, bad);
      assert.match(r.stderr, /--max-file-size takes a size such as 4G/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
