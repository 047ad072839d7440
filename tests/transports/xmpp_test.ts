// The XMPP transport (transports/xmpp.ts; docs/transports.md section 11) against a real Prosody
// (scripts/prosody.ts): TLS required and checked, an ordinary XMPP client (the library alone, no
// polycrypt) sees only the armored text, big envelopes in chunks, and a hostile peer's broken
// stanzas end only its own connection.
import assert from "node:assert/strict";
import { client, xml } from "@xmpp/client";
import { startProsody } from "../../scripts/prosody.ts";
import { tcpProxy } from "../_tcp_proxy.ts";
import { type Connection, connectXmpp, FrameError, XmppError } from "../../transports/mod.ts";
import { decrypt, encrypt, generateIdentity, type SealedEnvelope } from "../../mod.ts";

Deno.test("xmpp transport against Prosody", async (t) => {
  const server = await startProsody();
  try {
    for (const user of ["alice", "bob", "carol", "eve"]) await server.register(user, `pw-${user}`);
    const ca = [await Deno.readTextFile(server.certFile)];
    const login = (user: string, extra = {}) =>
      connectXmpp({
        jid: `${user}@localhost`,
        password: `pw-${user}`,
        server: server.server,
        caCerts: ca,
        ...extra,
      });

    await t.step("TLS is required and the certificate checked", async () => {
      // Not trusted: the system roots do not know the test's self-signed certificate.
      await assert.rejects(
        connectXmpp({ jid: "alice@localhost", password: "pw-alice", server: server.server }),
        (e) => e instanceof XmppError && /not trusted/.test(e.message),
      );
      await assert.rejects(
        connectXmpp({
          jid: "a@example.org",
          password: "x",
          server: "192.0.2.1:5222",
          insecure: true,
        }),
        RangeError,
      );
      await assert.rejects(login("alice", { password: "wrong" }), XmppError);
      const alice = await login("alice");
      assert.equal(alice.jid, "alice@localhost/polycrypt");
      await alice.close();
      // Direct TLS (XEP-0368): the certificate checked for the JID's domain, not the address.
      const direct = await login("alice", { server: server.directTls });
      assert.equal(direct.jid, "alice@localhost/polycrypt");
      await direct.close();
      await assert.rejects(
        connectXmpp({ jid: "alice@localhost", password: "pw-alice", server: server.directTls }),
        (e) => e instanceof XmppError && /not trusted/.test(e.message),
      );
    });

    await t.step("an ordinary client sees only the armored envelope", async () => {
      const carol = await generateIdentity("x25519");
      const plain = client({
        service: `xmpp://${server.server}`,
        domain: "localhost",
        username: "carol",
        password: "pw-carol",
        resource: "phone",
      });
      plain.on("error", () => {});
      // The plain client skips the test certificate's check (NODE_TLS_REJECT_UNAUTHORIZED below).
      const bodies: string[] = [];
      const stanzas: string[] = [];
      // deno-lint-ignore no-explicit-any
      plain.on("stanza", (s: any) => {
        if (s.is("message")) {
          bodies.push(s.getChildText("body") ?? "");
          stanzas.push(s.toString());
        }
      });
      const alice = await login("alice");
      try {
        Deno.env.set("NODE_TLS_REJECT_UNAUTHORIZED", "0");
        await plain.start();
        await plain.send(xml("presence"));
        const sealed = await encrypt(new TextEncoder().encode("the plans are in the shed"), {
          recipients: [carol.recipient],
        });
        const to = alice.dial("xmpp:carol@localhost/phone");
        await to.send(sealed);
        const deadline = Date.now() + 20_000;
        while (bodies.length === 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(bodies.length, 1);
        assert.match(
          bodies[0],
          /^-----BEGIN POLYCRYPT MESSAGE-----\n[A-Za-z0-9+/=\n]+-----END POLYCRYPT MESSAGE-----\n?$/,
        );
        assert.doesNotMatch(stanzas[0], /plans|shed/);
        assert.match(stanzas[0], /urn:polycrypt:xmpp:1/);
        assert.match(stanzas[0], /urn:xmpp:eme:0/);
        // It is the envelope: carol's key opens what the plain client got.
        const opened = await decrypt(bodies[0], { identities: [carol.identity] });
        assert.equal(new TextDecoder().decode(opened), "the plans are in the shed");
        await to.close();
      } finally {
        Deno.env.delete("NODE_TLS_REJECT_UNAUTHORIZED");
        await plain.stop().catch(() => {});
        await alice.close();
      }
    });

    await t.step(
      "big envelopes in chunks; a hostile peer ends only its own connection",
      async () => {
        const bob = await generateIdentity("x25519");
        const alice = await login("alice");
        const bobAccount = await login("bob");
        const eve = client({
          service: `xmpp://${server.server}`,
          domain: "localhost",
          username: "eve",
          password: "pw-eve",
          resource: "x",
        });
        eve.on("error", () => {});
        const received: number[] = [];
        let ended = 0;
        bobAccount.listen(async (peer) => {
          try {
            for await (const m of peer.messages()) {
              if (m.kind === "envelope") {
                received.push((await decrypt(m.envelope, { identities: [bob.identity] })).length);
                await peer.acknowledge(m.id);
              } else if (m.kind === "stream") {
                const parts: Uint8Array[] = [];
                for await (const p of m.pieces) parts.push(p);
                const all = new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer());
                received.push((await decrypt(all, { identities: [bob.identity] })).length);
                await peer.acknowledge(await m.id);
              }
            }
          } catch {
            ended++;
          }
        });
        try {
          Deno.env.set("NODE_TLS_REJECT_UNAUTHORIZED", "0");
          await eve.start();
          // Eve: the first chunk of a 1 MiB frame, then a stanza out of sequence inside it.
          const header = new Uint8Array([1, 1, 0, 0x10, 0, 0, 0x50, 0x43]);
          const pc = (s: number, f: boolean, data: Uint8Array) =>
            xml(
              "message",
              { to: "bob@localhost/polycrypt", type: "chat" },
              xml("pc", {
                xmlns: "urn:polycrypt:xmpp:1",
                c: "eve1",
                r: "i",
                s: String(s),
                t: "d",
                ...(f ? { f: "1" } : {}),
              }, btoa(String.fromCharCode(...data))),
            );
          await eve.send(pc(0, true, header));
          await eve.send(pc(5, false, new Uint8Array(30)));
          // Alice's 3 MiB envelope (chunked under the 256 KiB stanza limit) still arrives.
          // Any case: servers compare JIDs without it, and so does the transport.
          const to = alice.dial("xmpp:Bob@LocalHost");
          const big = await encrypt(new Uint8Array(3 * 1024 * 1024), {
            recipients: [bob.recipient],
          });
          const id = await to.send(big);
          const ack = (await to.messages().next()).value;
          assert.ok(ack?.kind === "ack" && ack.id.toHex() === id.toHex());
          assert.deepEqual(received, [3 * 1024 * 1024]);
          const deadline = Date.now() + 10_000;
          while (ended === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
          assert.equal(ended, 1, "eve's connection ended with a FrameError");
          await to.close();
        } finally {
          Deno.env.delete("NODE_TLS_REJECT_UNAUTHORIZED");
          await eve.stop().catch(() => {});
          await alice.close();
          await bobAccount.close();
        }
      },
    );
    await t.step("unread bytes are bounded per connection and per account", async () => {
      const bob = await generateIdentity("x25519");
      const MiB = 1024 * 1024;
      const alice = await login("alice");
      const bobAccount = await login("bob", { maxQueuedBytes: MiB, maxUnreadBytes: 1.5 * MiB });
      let open!: () => void;
      const gate = new Promise<void>((resolve) => open = resolve);
      const outcomes: string[] = [];
      // Bob's application reads nothing until the gate opens: what arrives waits unread.
      let served = 0;
      bobAccount.listen(async (peer) => {
        served++;
        await gate;
        try {
          for await (const m of peer.messages()) {
            if (m.kind === "envelope") outcomes.push(`envelope ${m.envelope.length}`);
          }
          outcomes.push("ended");
        } catch (e) {
          outcomes.push(e instanceof FrameError ? "refused" : `error ${e}`);
        }
      }, { betweenFramesTimeoutMs: 0 });
      try {
        const size = (n: number) =>
          encrypt(new Uint8Array(n), { recipients: [bob.recipient] }) as Promise<SealedEnvelope>;
        // One connection over its own bound; then two under it whose sum passes the account's.
        const c1 = alice.dial("xmpp:bob@localhost");
        await c1.send(await size(1.2 * MiB));
        const c2 = alice.dial("xmpp:bob@localhost");
        await c2.send(await size(0.9 * MiB));
        const c3 = alice.dial("xmpp:bob@localhost");
        await c3.send(await size(0.5 * MiB));
        const c4 = alice.dial("xmpp:bob@localhost");
        await c4.send(await size(0.2 * MiB));
        // A fifth connection, sent last: stanzas from one account arrive in order, so once it is
        // served (the sixth: c1's END frame opened one of its own), all of c4 has arrived.
        const c5 = alice.dial("xmpp:bob@localhost");
        await c5.send(await size(10));
        const deadline = Date.now() + 30_000;
        while (served < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        open();
        while (outcomes.length < 6 && Date.now() < deadline + 30_000) {
          await new Promise((r) => setTimeout(r, 50));
        }
        await Promise.all([c1, c2, c3, c4, c5].map((c) => c.close()));
        // c1 passes its connection's 1 MiB (its stream's END frame, arriving after, opens a new
        // connection that is refused too: an END without its PARTs); of 0.9 + 0.5 + 0.2 MiB, the
        // 1.5 MiB account bound closes the biggest (c2), so only c3's, c4's and c5's are read.
        const delivered = outcomes.filter((o) => o.startsWith("envelope"))
          .map((o) => Number(o.split(" ")[1])).sort((a, b) => a - b);
        assert.equal(delivered.length, 3, outcomes.join(", "));
        assert.ok(delivered[1] < 0.3 * MiB && delivered[2] < 0.6 * MiB, outcomes.join(", "));
        assert.ok(outcomes.filter((o) => o === "refused").length >= 2, outcomes.join(", "));
        assert.ok(outcomes.every((o) => o === "refused" || o.startsWith("envelope")));
      } finally {
        await alice.close();
        await bobAccount.close();
      }
    });

    await t.step("a dropped server connection comes back; nothing is lost or doubled", async () => {
      const bob = await generateIdentity("x25519");
      const alice = await generateIdentity("x25519");
      const proxy = tcpProxy(server.port);
      const changes: string[] = [];
      // Bob reaches the server through the proxy, which the test cuts; he asked for presence, so
      // the server keeps what comes for him meanwhile (XEP-0160) and gives it when he is back.
      const bobAccount = await login("bob", {
        server: `127.0.0.1:${proxy.port}`,
        presence: true,
        onConnectionChange: (online: boolean) => changes.push(online ? "up" : "down"),
      });
      const aliceAccount = await login("alice");
      const atBob: string[] = [];
      const atAlice: string[] = [];
      const failures: string[] = [];
      let toAlice: Connection | undefined;
      const text = async (env: Uint8Array, identity: string) =>
        new TextDecoder().decode(await decrypt(env, { identities: [identity] }));
      bobAccount.listen(async (peer) => {
        toAlice = peer;
        try {
          for await (const m of peer.messages()) {
            if (m.kind === "envelope") atBob.push(await text(m.envelope, bob.identity));
          }
        } catch (e) {
          failures.push(String(e));
        }
      }, { betweenFramesTimeoutMs: 0 });
      const toBob = aliceAccount.dial("xmpp:bob@localhost", { betweenFramesTimeoutMs: 0 });
      const reading = (async () => {
        try {
          for await (const m of toBob.messages()) {
            if (m.kind === "envelope") atAlice.push(await text(m.envelope, alice.identity));
          }
        } catch (e) {
          failures.push(String(e));
        }
      })();
      const seal = (s: string, to: string) =>
        encrypt(new TextEncoder().encode(s), { recipients: [to] }) as Promise<SealedEnvelope>;
      const until = async (what: () => boolean, label: string) => {
        const deadline = Date.now() + 60_000;
        while (!what()) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      try {
        await toBob.send(await seal("one", bob.recipient));
        await until(() => atBob.length === 1 && toAlice !== undefined, "the first message");
        // Bob answers and his connection is cut at once, before the server could confirm it:
        // he sends it again once back, and Alice gets it once.
        await toAlice!.send(await seal("reply one", alice.recipient));
        await new Promise((r) => setTimeout(r, 30));
        proxy.down();
        await until(() => changes.includes("down"), "Bob's account to see the drop");
        // While Bob is away: Alice writes (the server keeps it), Bob writes (his account keeps it).
        await toBob.send(await seal("two", bob.recipient));
        await toBob.send(await seal("three", bob.recipient));
        await toAlice!.send(await seal("reply two", alice.recipient));
        await new Promise((r) => setTimeout(r, 1_500));
        assert.deepEqual(atBob, ["one"]);
        proxy.up();
        await until(() => changes.at(-1) === "up", "Bob's account to come back");
        await until(() => atBob.length >= 3 && atAlice.length >= 2, "the messages of the outage");
        // Then a bit more time for anything doubled to show up.
        await toBob.send(await seal("four", bob.recipient));
        await toAlice!.send(await seal("reply three", alice.recipient));
        await until(() => atBob.length >= 4 && atAlice.length >= 3, "the messages after");
        await new Promise((r) => setTimeout(r, 1_000));
        assert.deepEqual(atBob, ["one", "two", "three", "four"]);
        assert.deepEqual(atAlice, ["reply one", "reply two", "reply three"]);
        assert.deepEqual(failures, []);
        assert.ok(proxy.accepted >= 2, "Bob logged in again");
        assert.deepEqual(changes, ["down", "up"]);
      } finally {
        await toBob.close();
        await aliceAccount.close();
        await bobAccount.close();
        await reading;
        await proxy.close();
      }
    });

    await t.step(
      "a second login with the same resource ends the first, which stays out",
      async () => {
        let changes = 0;
        const first = await login("carol", { onConnectionChange: () => changes++ });
        const second = await login("carol");
        try {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const ended = await Promise.race([
            first.ended.then(() => true),
            new Promise<boolean>((r) => timer = setTimeout(() => r(false), 30_000)),
          ]);
          clearTimeout(timer);
          assert.ok(ended, "the first account ended");
          assert.equal(changes, 0, "no reconnection");
          assert.throws(() => first.dial("xmpp:bob@localhost"), XmppError);
        } finally {
          await first.close();
          await second.close();
        }
      },
    );

    await t.step("a login refused after a drop ends the account", async () => {
      await server.register("frank", "pw-frank");
      const proxy = tcpProxy(server.port);
      const changes: boolean[] = [];
      const frank = await login("frank", {
        server: `127.0.0.1:${proxy.port}`,
        onConnectionChange: (online: boolean) => changes.push(online),
      });
      try {
        // The account is deleted while the connection is down: logging in again is refused.
        proxy.down();
        const removed = await new Deno.Command("runuser", {
          args: [
            "-u",
            "prosody",
            "--",
            "prosodyctl",
            "--config",
            `${server.dir}/prosody.cfg.lua`,
            "deluser",
            "frank@localhost",
          ],
          stdout: "null",
          stderr: "null",
        }).output();
        assert.ok(removed.success, "prosodyctl deluser");
        proxy.up();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const ended = await Promise.race([
          frank.ended.then(() => true),
          new Promise<boolean>((r) => timer = setTimeout(() => r(false), 20_000)),
        ]);
        clearTimeout(timer);
        assert.ok(ended, "the account ended once the login was refused");
        assert.deepEqual(changes, [false]);
        assert.throws(() => frank.dial("xmpp:bob@localhost"), XmppError);
      } finally {
        await frank.close();
        await proxy.close();
      }
    });

    await t.step("without presence asked, a reconnection sends none", async () => {
      const proxy = tcpProxy(server.port);
      let up = 0;
      const alice = await login("alice", {
        server: `127.0.0.1:${proxy.port}`,
        onConnectionChange: (online: boolean) => online && up++,
      });
      const got: string[] = [];
      alice.listen(async (peer) => {
        for await (const m of peer.messages()) got.push(m.kind);
      });
      const carol = client({
        service: `xmpp://${server.server}`,
        domain: "localhost",
        username: "carol",
        password: "pw-carol",
        resource: "phone",
      });
      carol.on("error", () => {});
      try {
        Deno.env.set("NODE_TLS_REJECT_UNAUTHORIZED", "0");
        await carol.start();
        proxy.down();
        await new Promise((r) => setTimeout(r, 300));
        // Stored for Alice while she is away: only an initial presence would fetch it.
        await carol.send(
          xml(
            "message",
            { to: "alice@localhost/polycrypt", type: "chat" },
            xml("body", {}, "stored while away"),
          ),
        );
        proxy.up();
        const deadline = Date.now() + 60_000;
        while (up === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.equal(up, 1, "Alice logged in again");
        await new Promise((r) => setTimeout(r, 1_500));
        // No presence went out: the server still keeps the message (it would have given it to
        // an available resource), and Alice received nothing.
        const kept = await new Deno.Command("grep", {
          args: ["-rl", "stored while away", server.dataDir],
        }).output();
        assert.match(new TextDecoder().decode(kept.stdout), /offline/);
        assert.deepEqual(got, []);
      } finally {
        Deno.env.delete("NODE_TLS_REJECT_UNAUTHORIZED");
        await carol.stop().catch(() => {});
        await alice.close();
        await proxy.close();
      }
    });
  } finally {
    await server.stop();
  }
});
