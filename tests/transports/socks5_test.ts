// SOCKS5 against a real server (microsocks from Debian, installed and started by
// scripts/socks5_server.sh): names resolved by the proxy, RFC 1929 credentials, failures as
// ProxyError without the credentials.
import assert from "node:assert/strict";
import { decrypt, encrypt, generateIdentity } from "../../mod.ts";
import { connectTcpViaSocks5, listenTcp, parseProxyUrl, ProxyError } from "../../transports/mod.ts";
import type { Connection } from "../../transports/mod.ts";
import { freePort, startProxy } from "./_socks.ts";

const bob = await generateIdentity("x25519");

Deno.test("socks5: delivery through a real SOCKS5 server, with and without credentials", async (t) => {
  const received: string[] = [];
  const listener = listenTcp("tcp://127.0.0.1:0", async (connection: Connection) => {
    for await (const m of connection.messages()) {
      if (m.kind !== "envelope") continue;
      received.push(
        new TextDecoder().decode(await decrypt(m.envelope, { identities: [bob.identity] })),
      );
      await connection.acknowledge(m.id);
    }
  });
  const open = await startProxy();
  const locked = await startProxy(["-u", "alice", "-P", "s3cret"]);
  const send = async (peer: Connection, text: string) => {
    const id = await peer.send(
      await encrypt(new TextEncoder().encode(text), { recipients: [bob.recipient] }),
    );
    const ack = (await peer.messages().next()).value;
    assert.ok(ack?.kind === "ack" && ack.id.toHex() === id.toHex());
    await peer.close();
  };
  try {
    await t.step("the proxy resolves the name (socks5h)", async () => {
      const proxy = parseProxyUrl(`socks5h://127.0.0.1:${open.port}`);
      await send(await connectTcpViaSocks5(`tcp://localhost:${listener.port}`, proxy), "via proxy");
    });
    await t.step("RFC 1929 username and password", async () => {
      const proxy = parseProxyUrl(`socks5h://alice:s3cret@127.0.0.1:${locked.port}`);
      await send(await connectTcpViaSocks5(`tcp://127.0.0.1:${listener.port}`, proxy), "with auth");
    });
    await t.step("wrong or missing credentials and unreachable peers are ProxyError", async () => {
      for (
        const url of [
          `socks5h://alice:wrong@127.0.0.1:${locked.port}`,
          `socks5h://127.0.0.1:${locked.port}`,
        ]
      ) {
        const e = await connectTcpViaSocks5(
          `tcp://127.0.0.1:${listener.port}`,
          parseProxyUrl(url),
          { connectTimeoutMs: 5000 },
        ).then(() => undefined, (e) => e);
        assert.ok(e instanceof ProxyError, String(e));
        assert.doesNotMatch(e.message, /wrong|alice/);
      }
      const nobody = freePort();
      await assert.rejects(
        connectTcpViaSocks5(
          `tcp://127.0.0.1:${nobody}`,
          parseProxyUrl(`socks5h://127.0.0.1:${open.port}`),
          { connectTimeoutMs: 5000 },
        ),
        ProxyError,
      );
    });
    assert.deepEqual(received, ["via proxy", "with auth"]);
  } finally {
    await open.stop();
    await locked.stop();
    await listener.close();
  }
});

Deno.test("socks5: proxy URLs", () => {
  assert.deepEqual(parseProxyUrl("socks5h://127.0.0.1:9050"), {
    hostname: "127.0.0.1",
    port: 9050,
  });
  assert.deepEqual(parseProxyUrl("socks5h://a%40b:p%3Aw@proxy.example:1080"), {
    hostname: "proxy.example",
    port: 1080,
    username: "a@b",
    password: "p:w",
  });
  assert.throws(() => parseProxyUrl("socks5://127.0.0.1:9050"), /socks5h/);
  for (
    const bad of ["http://127.0.0.1:8080", "socks5h://127.0.0.1", "socks5h://h:1/path", "nope"]
  ) {
    assert.throws(() => parseProxyUrl(bad), RangeError, bad);
  }
});
