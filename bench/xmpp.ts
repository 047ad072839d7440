/**
 * XMPP report (issue 28): through a real Prosody on loopback (scripts/prosody.ts), in one run:
 * - 1 KiB messages per second end to end with sessions: Alice's session encrypts each message
 *   (SQLite store, as chat's), it travels as a stanza through Prosody, Bob's session decrypts it;
 * - plain XMPP messages with a 1 KiB body between two other accounts of the same server, the same
 *   way (sent back to back, timed until the last arrives);
 * - session set-up: Bob's bundle over XMPP, Alice's first (prekey) message, Bob's reply decrypted.
 * Run: `deno task bench:xmpp [N]` (default 500 messages per kind, 3 rounds, medians reported).
 *
 * @module
 */
import { client, xml } from "@xmpp/client";
import { startProsody } from "../scripts/prosody.ts";
import { encrypt, generateIdentity, type SealedEnvelope } from "../mod.ts";
import { type Connection, connectXmpp, textMessage } from "../transports/mod.ts";
import { createAccount, SqliteSessionStore } from "../sessions/mod.ts";

const n = Number(Deno.args[0] ?? 500);
const rounds = 3;
const server = await startProsody();
const dir = await Deno.makeTempDir({ prefix: "polycrypt-bench-xmpp-" });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  for (const u of ["alice", "bob", "carol", "dave"]) await server.register(u, `pw-${u}`);
  const ca = [await Deno.readTextFile(server.certFile)];
  const login = (u: string) =>
    connectXmpp({ jid: `${u}@localhost`, password: `pw-${u}`, server: server.server, caCerts: ca });
  // Plain XMPP: carol -> dave, 1 KiB bodies, no polycrypt (TLS the same: STARTTLS, trusted CA).
  Deno.env.set("NODE_TLS_REJECT_UNAUTHORIZED", "0");
  const plain = (u: string) => {
    const c = client({
      service: `xmpp://${server.server}`,
      domain: "localhost",
      username: u,
      password: `pw-${u}`,
      resource: "plain",
    });
    c.on("error", () => {});
    return c;
  };
  const carol = plain("carol");
  const dave = plain("dave");
  await carol.start();
  await dave.start();
  let plainGot = 0;
  let plainDone: (() => void) | undefined;
  // deno-lint-ignore no-explicit-any
  dave.on("stanza", (s: any) => {
    if (s.is("message") && s.getChild("body") && ++plainGot === n) plainDone?.();
  });
  const body = "a".repeat(1024);

  const aliceId = await generateIdentity();
  const bobId = await generateIdentity();
  const alice = await createAccount({
    identity: aliceId.identity,
    store: new SqliteSessionStore(`${dir}/alice.db`),
  });
  const bob = await createAccount({
    identity: bobId.identity,
    store: new SqliteSessionStore(`${dir}/bob.db`),
  });
  const aliceX = await login("alice");
  const bobX = await login("bob");
  let onBob: ((e: Uint8Array) => Promise<void>) | undefined;
  let onAlice: ((e: Uint8Array) => Promise<void>) | undefined;
  let bobConn: Connection | undefined;
  bobX.listen(async (peer) => {
    bobConn = peer;
    for await (const m of peer.messages()) if (m.kind === "envelope") await onBob?.(m.envelope);
  }, { betweenFramesTimeoutMs: 0 });
  aliceX.listen(async (peer) => {
    for await (const m of peer.messages()) if (m.kind === "envelope") await onAlice?.(m.envelope);
  }, { betweenFramesTimeoutMs: 0 });
  const toBob = aliceX.dial("xmpp:bob@localhost");
  const toAlice = bobX.dial("xmpp:alice@localhost");

  // Session set-up over XMPP: Bob's bundle (sealed to Alice, as chat sends it), Alice's first
  // message, Bob's reply opened by Alice.
  const t0 = performance.now();
  const bundleArrived = new Promise<Uint8Array>((resolve) => onAlice = async (e) => resolve(e));
  const bundle = await bob.prekeyBundle({ oneTimeKeys: 1 });
  await toAlice.send(await encrypt(bundle, { recipients: [aliceId.recipient] }));
  const sealedBundle = await bundleArrived;
  const { decrypt } = await import("../mod.ts");
  const gotBundle = await decrypt(sealedBundle, { identities: [aliceId.identity] });
  const helloOpened = new Promise<void>((resolve) =>
    onBob = async (e) => {
      await bob.decrypt(e);
      resolve();
    }
  );
  await toBob.send(await alice.encrypt(gotBundle, textMessage("hello")) as SealedEnvelope);
  await helloOpened;
  const replyOpened = new Promise<void>((resolve) =>
    onAlice = async (e) => {
      await alice.decrypt(e);
      resolve();
    }
  );
  await toAlice.send(await bob.encrypt(alice.fingerprint, textMessage("hi")) as SealedEnvelope);
  await replyOpened;
  const setupMs = performance.now() - t0;
  void bobConn;

  const sessionRates: number[] = [];
  const plainRates: number[] = [];
  const transportRates: number[] = [];
  const cryptoRates: number[] = [];
  // The same 1 KiB session message, sealed once: the transport's part alone.
  const oneSealed = await encrypt(textMessage("a".repeat(1023)), { recipients: [bobId.recipient] });
  for (let r = 0; r < rounds; r++) {
    // Plain XMPP.
    plainGot = 0;
    let t = performance.now();
    const allPlain = new Promise<void>((resolve) => plainDone = resolve);
    for (let i = 0; i < n; i++) {
      await carol.send(
        xml("message", { to: "dave@localhost/plain", type: "chat" }, xml("body", {}, body)),
      );
    }
    await allPlain;
    plainRates.push(n / ((performance.now() - t) / 1000));
    // With sessions: encrypt, send, receive, decrypt.
    let got = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => done = resolve);
    onBob = async (e) => {
      await bob.decrypt(e);
      if (++got === n) done();
    };
    t = performance.now();
    for (let i = 0; i < n; i++) {
      const sealed = await alice.encrypt(bob.fingerprint, textMessage("a".repeat(1023)));
      await toBob.send(sealed as SealedEnvelope);
    }
    await all;
    sessionRates.push(n / ((performance.now() - t) / 1000));
    // The transport alone: a sealed envelope of the same size class, sent n times, not decrypted.
    got = 0;
    const allSent = new Promise<void>((resolve) => done = resolve);
    onBob = (_e) => {
      if (++got === n) done();
      return Promise.resolve();
    };
    t = performance.now();
    for (let i = 0; i < n; i++) await toBob.send(oneSealed);
    await allSent;
    transportRates.push(n / ((performance.now() - t) / 1000));
    // The sessions alone, no network: encrypt and decrypt in this process (same SQLite stores).
    t = performance.now();
    for (let i = 0; i < n; i++) {
      await bob.decrypt(await alice.encrypt(bob.fingerprint, textMessage("a".repeat(1023))));
    }
    cryptoRates.push(n / ((performance.now() - t) / 1000));
  }
  const s = median(sessionRates);
  const p = median(plainRates);
  const lines = [
    `XMPP through Prosody 0.12 on 127.0.0.1 (STARTTLS), ${n} messages of 1 KiB, median of ${rounds} rounds`,
    `  plain XMPP (1 KiB <body>):            ${p.toFixed(0)} msg/s  (${
      (1000 / p).toFixed(2)
    } ms each)`,
    `  polycrypt sessions (encrypt..decrypt): ${s.toFixed(0)} msg/s  (${
      (1000 / s).toFixed(2)
    } ms each)`,
    `  time ratio polycrypt / plain: ${(p / s).toFixed(2)}x (target <= 2x)`,
    `  what bounds it: the transport alone (sealed 1 KiB envelopes, not decrypted) ${
      median(transportRates).toFixed(0)
    } msg/s; the sessions alone (encrypt + decrypt, SQLite stores, no network) ${
      median(cryptoRates).toFixed(0)
    } msg/s`,
    `  session set-up over XMPP (bundle, first message, reply): ${setupMs.toFixed(0)} ms`,
    `  rounds: sessions ${sessionRates.map((x) => x.toFixed(0)).join(", ")}; plain ${
      plainRates.map((x) => x.toFixed(0)).join(", ")
    }`,
  ];
  console.log(lines.join("\n"));
  await toBob.close();
  await toAlice.close();
  await alice.close();
  await bob.close();
  await aliceX.close();
  await bobX.close();
  await carol.stop();
  await dave.stop();
} finally {
  await server.stop();
  await Deno.remove(dir, { recursive: true });
}
Deno.exit(0);
