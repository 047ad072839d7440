// `listen` and `send` as real processes over TCP loopback: delivery with acknowledgement, a file
// streamed, a message for someone else refused with one generic line, and the exit codes.
import assert from "node:assert/strict";
import { peakRssKiB } from "../_process.ts";
import { startProxy } from "../transports/_socks.ts";
import { selfSignedCertificate } from "../transports/_tls.ts";
import { keyPair, NET_PERMS, runCli, spawnOnTerminal, startListen } from "./_cli.ts";

const td = new TextDecoder();

const run = (args: string[]) => runCli(args, NET_PERMS);
/** `send --to TO ...rest`. */
const sendTo = (to: string, ...rest: string[]) => run(["send", "--to", to, ...rest]);

/** Starts `listen --once` on a free port; resolves with the port once it is listening. */
const listenOnce = (key: string, on = "tcp://127.0.0.1:0", extra: string[] = []) =>
  startListen(["--on", on, "-i", key, "--once", ...extra]);

Deno.test("cli listen/send over TCP", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-net-" });
  try {
    const { key: bobKey, recipient: bob } = await keyPair(dir);
    const eve = (await keyPair(dir, "x25519", { name: "eve" })).recipient;

    await t.step("a message is delivered, printed and acknowledged", async () => {
      const listener = await listenOnce(bobKey);
      const sent = await sendTo(`tcp://127.0.0.1:${listener.port}`, "-r", bob, "hi Bob");
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal(sent.stderr, "polycrypt: delivered\n");
      const heard = await listener.result;
      assert.equal(heard.code, 0, heard.stderr);
      assert.equal(heard.stdout, "hi Bob\n");
    });

    await t.step("--proxy socks5h:// sends through a real SOCKS5 server", async () => {
      const proxy = await startProxy(["-u", "alice", "-P", "s3cret"]);
      try {
        const listener = await listenOnce(bobKey);
        const to = `tcp://localhost:${listener.port}`; // resolved by the proxy
        const via = `socks5h://alice:s3cret@127.0.0.1:${proxy.port}`;
        const sent = await run(["send", "--to", to, "--proxy", via, "-r", bob, "via proxy"]);
        assert.equal(sent.code, 0, sent.stderr);
        assert.equal((await listener.result).stdout, "via proxy\n");
        const refused = await run([
          "send",
          "--to",
          to,
          "--proxy",
          `socks5h://alice:nope@127.0.0.1:${proxy.port}`,
          "-r",
          bob,
          "x",
        ]);
        assert.equal(refused.code, 3);
        assert.doesNotMatch(refused.stderr, /nope/);
        assert.equal(
          (await run(["send", "--to", to, "--proxy", "socks5://h:1", "-r", bob, "x"])).code,
          2,
        );
      } finally {
        await proxy.stop();
      }
    });

    await t.step("over WebSocket", async () => {
      const listener = await listenOnce(bobKey, "ws://127.0.0.1:0/chat");
      const to = `ws://127.0.0.1:${listener.port}/chat`;
      const sent = await run(["send", "--to", to, "-r", bob, "hi over ws"]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal((await listener.result).stdout, "hi over ws\n");
    });

    await t.step("over TLS with a pinned certificate; an untrusted one gets nothing", async () => {
      const tls = await selfSignedCertificate();
      const other = await selfSignedCertificate();
      await Deno.writeTextFile(`${dir}/tls.pem`, tls.cert);
      await Deno.writeTextFile(`${dir}/tls.key`, tls.key);
      await Deno.writeTextFile(`${dir}/other.pem`, other.cert);
      const listener = await listenOnce(bobKey, "tls://127.0.0.1:0", [
        "--tls-cert",
        `${dir}/tls.pem`,
        "--tls-key",
        `${dir}/tls.key`,
      ]);
      const to = `tls://127.0.0.1:${listener.port}`;
      const send = (address: string, ca: string, text: string) =>
        run(["send", "--to", address, "--tls-ca", ca, "-r", bob, text]);
      const refused = await send(to, `${dir}/other.pem`, "x");
      assert.equal(refused.code, 3);
      assert.match(refused.stderr, /certificate that is not trusted/);
      const sent = await send(to, `${dir}/tls.pem`, "hi tls");
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal((await listener.result).stdout, "hi tls\n");
      // Flags that do not fit the address are usage errors.
      const noCert = await run(["listen", "--on", "tls://127.0.0.1:0", "-i", bobKey]);
      assert.equal(noCert.code, 2);
      const caForTcp = await send(to.replace("tls", "tcp"), `${dir}/tls.pem`, "x");
      assert.equal(caForTcp.code, 2);
    });

    await t.step("over UDP", async () => {
      const listener = await listenOnce(bobKey, "udp://127.0.0.1:0");
      const to = `udp://127.0.0.1:${listener.port}`;
      const sent = await run(["send", "--to", to, "-r", bob, "hi over udp"]);
      assert.equal(sent.code, 0, sent.stderr);
      assert.equal((await listener.result).stdout, "hi over udp\n");
    });

    await t.step("a file goes into -o DIR under its name, never over another", async () => {
      const data = new Uint8Array(300_000).map((_, i) => 97 + (i % 26));
      await Deno.writeFile(`${dir}/f.txt`, data);
      await Deno.mkdir(`${dir}/inbox`);
      await Deno.writeTextFile(`${dir}/inbox/f.txt`, "already here");
      const listener = await listenOnce(bobKey, "tcp://127.0.0.1:0", ["-o", `${dir}/inbox`]);
      const to = `tcp://127.0.0.1:${listener.port}`;
      const sent = await run(["send", "--to", to, "-r", bob, "-f", `${dir}/f.txt`]);
      assert.equal(sent.code, 0, sent.stderr);
      const heard = await listener.result;
      assert.equal(heard.code, 0, heard.stderr);
      assert.match(heard.stderr, /received .*inbox\/f \(1\)\.txt/);
      assert.deepEqual(await Deno.readFile(`${dir}/inbox/f (1).txt`), data);
      assert.equal(await Deno.readTextFile(`${dir}/inbox/f.txt`), "already here");
    });

    await t.step("a file without -o DIR is refused and not acknowledged", async () => {
      const listener = await listenOnce(bobKey);
      const to = `tcp://127.0.0.1:${listener.port}`;
      const sent = await run(["send", "--to", to, "-r", bob, "-f", `${dir}/f.txt`]);
      assert.equal(sent.code, 3);
      const heard = await listener.result;
      assert.equal(heard.code, 1);
      assert.match(heard.stderr, /a file arrived; use -o DIR/);
    });

    await t.step("100 MiB over TCP in bounded memory", async () => {
      const size = 100 * 1024 * 1024;
      const big = new Uint8Array(size);
      for (let i = 0; i < size; i += 65536) big[i] = i >> 16;
      await Deno.writeFile(`${dir}/big.bin`, big);
      await Deno.mkdir(`${dir}/big`);
      const listener = await listenOnce(bobKey, "tcp://127.0.0.1:0", ["-o", `${dir}/big`]);
      let peak = 0;
      let polling = true;
      const poll = (async () => {
        while (polling) {
          peak = Math.max(peak, await peakRssKiB(listener.child.pid));
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const start = performance.now();
      const sent = await sendTo(
        `tcp://127.0.0.1:${listener.port}`,
        "-r",
        bob,
        "-f",
        `${dir}/big.bin`,
      );
      const seconds = (performance.now() - start) / 1000;
      assert.equal(sent.code, 0, sent.stderr);
      polling = false;
      await poll;
      assert.equal((await listener.result).code, 0);
      const got = await Deno.readFile(`${dir}/big/big.bin`);
      assert.equal(got.length, size);
      for (let i = 0; i < size; i += 65536) assert.equal(got[i], (i >> 16) & 0xff);
      console.log(
        `100 MiB send|listen over TCP: ${seconds.toFixed(1)} s, ${
          (size / 1e6 / seconds).toFixed(0)
        } MB/s; listener peak RSS ${(peak / 1024).toFixed(0)} MiB`,
      );
      assert.ok(peak > 0 && peak < 256 * 1024, `listener peak ${peak} KiB`);
    });

    await t.step("on a terminal, listen shows progress for a big file", async () => {
      // script(1) gives `listen` a pseudo-terminal, so its stderr is a TTY (as for a user).
      await Deno.mkdir(`${dir}/progress`);
      const child = spawnOnTerminal(
        ["listen", "--on", "tcp://127.0.0.1:0", "-i", bobKey, "--once", "-o", `${dir}/progress`],
        NET_PERMS,
      );
      let screen = "";
      const reading = (async () => {
        for await (const chunk of child.stdout) screen += td.decode(chunk);
      })();
      const deadline = Date.now() + 30_000;
      let port = 0;
      while (!port && Date.now() < deadline) {
        port = Number(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(screen)?.[1] ?? 0);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(port, screen);
      const to = `tcp://127.0.0.1:${port}`;
      const sent = await run(["send", "--to", to, "-r", bob, "-f", `${dir}/big.bin`]);
      assert.equal(sent.code, 0, sent.stderr);
      await child.stdin.close();
      assert.equal((await child.status).code, 0, screen);
      await reading;
      assert.match(screen, /receiving big\.bin \d+ MiB \d+ MB\/s/);
      assert.match(screen, /received .*progress\/big\.bin/);
      assert.equal((await Deno.stat(`${dir}/progress/big.bin`)).size, 100 * 1024 * 1024);
      // Not a terminal (the send above, stderr piped): no progress drawn.
      assert.doesNotMatch(sent.stderr, /sending/);
    });

    await t.step(
      "a message for someone else: one generic line, exit 1; sender exit 3",
      async () => {
        const listener = await listenOnce(bobKey);
        const sent = await sendTo(`tcp://127.0.0.1:${listener.port}`, "-r", eve, "psst");
        const heard = await listener.result;
        assert.equal(heard.code, 1);
        assert.equal(heard.stdout, "");
        assert.match(heard.stderr, /polycrypt: a message could not be decrypted\n/);
        assert.doesNotMatch(heard.stderr, /psst|x25519|127\.0\.0\.1:\d+ /);
        assert.equal(sent.code, 3);
      },
    );

    await t.step("exit codes: nobody listening 3, missing --to 2, bad address 2", async () => {
      const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (free.addr as Deno.NetAddr).port;
      free.close();
      assert.equal(
        (await run(["send", "--to", `tcp://127.0.0.1:${port}`, "-r", bob, "x"])).code,
        3,
      );
      assert.equal((await run(["send", "-r", bob, "x"])).code, 2);
      assert.equal((await run(["send", "--to", "127.0.0.1:1", "-r", bob, "x"])).code, 2);
      assert.equal((await run(["listen", "--on", "tcp://127.0.0.1:0"])).code, 2);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli addresses and their flags are checked against the transports' scheme table", async () => {
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-net-" });
  try {
    const { key, recipient: bob } = await keyPair(dir, "x25519");
    const usage = async (args: string[], message: RegExp) => {
      const out = await run(args);
      assert.equal(out.code, 2, out.stderr);
      assert.match(out.stderr, message);
    };
    const schemes = /tcp:\/\/, tls:\/\/, udp:\/\/, ws:\/\/ or xmpp:/;
    await usage(["send", "--to", "http://127.0.0.1:1", "-r", bob, "x"], schemes);
    await usage(["listen", "--on", "gopher://127.0.0.1:0", "-i", key], schemes);
    await usage(["send", "--to", "tcp://127.0.0.1", "-r", bob, "x"], /tcp:\/\/HOST:PORT/);
    const peer = "tcp://127.0.0.1:1";
    await usage(
      ["chat", "--listen", "udp://127.0.0.1:0", "--peer", peer, "-i", key, "-r", bob],
      /chat runs over tcp:\/\/, tls:\/\/, ws:\/\/ or xmpp: addresses/,
    );
    await usage(
      ["send", "--to", "ws://127.0.0.1:1/", "--proxy", "socks5h://127.0.0.1:9", "-r", bob, "x"],
      /--proxy works with tcp:\/\/ addresses only/,
    );
    await usage(
      ["send", "--to", "udp://127.0.0.1:1", "--tls-ca", `${dir}/none.pem`, "-r", bob, "x"],
      /--tls-ca works with tls:\/\/ addresses only/,
    );
    await usage(
      ["listen", "--on", "udp://127.0.0.1:0", "-i", key, "--tls-cert", "c", "--tls-key", "k"],
      /--tls-cert and --tls-key work with tls:\/\/ addresses only/,
    );
    await usage(
      ["listen", "--on", "tls://127.0.0.1:0", "-i", key],
      /a tls:\/\/ address needs --tls-cert FILE and --tls-key FILE/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
