// The receiving side of bench/xmpp.ts, in a Worker (two devices run in parallel, as on two
// machines): Bob with polycrypt sessions over the XMPP transport, and Dave, a plain XMPP client.
import { client } from "@xmpp/client";
import { type Connection, connectXmpp, textMessage } from "../transports/mod.ts";
import { encrypt, type SealedEnvelope } from "../mod.ts";
import { createAccount, SqliteSessionStore } from "../sessions/mod.ts";

interface Init {
  server: string;
  ca: string[];
  bobIdentity: string;
  aliceRecipient: string;
  dir: string;
}

/** This Worker's side of the channel to bench/xmpp.ts. */
const port = self as unknown as {
  postMessage(m: unknown): void;
  onmessage: ((e: MessageEvent) => void) | null;
};
const post = (m: unknown) => port.postMessage(m);
let expected = { kind: "", n: 0, got: 0 };
/** Connections Bob's listener served (1 unless one broke). */
let connections = 0;
const count = (kind: string) => {
  if (expected.kind === kind && ++expected.got === expected.n) post({ done: kind });
};

port.onmessage = async (event: MessageEvent) => {
  const m = event.data;
  if (m.cmd === "init") {
    const init = m as Init & { cmd: string };
    Deno.env.set("NODE_TLS_REJECT_UNAUTHORIZED", "0");
    const dave = client({
      service: `xmpp://${init.server}`,
      domain: "localhost",
      username: "dave",
      password: "pw-dave",
      resource: "plain",
    });
    dave.on("error", () => {});
    // deno-lint-ignore no-explicit-any
    dave.on("stanza", (s: any) => {
      if (s.is("message") && s.getChild("body")) count("plain");
    });
    await dave.start();
    const bob = await createAccount({
      identity: init.bobIdentity,
      store: new SqliteSessionStore(`${init.dir}/bob.db`),
    });
    const bobX = await connectXmpp({
      jid: "bob@localhost",
      password: "pw-bob",
      server: init.server,
      caCerts: init.ca,
    });
    const toAlice: Connection = bobX.dial("xmpp:alice@localhost");
    bobX.listen(async (peer) => {
      connections++;
      // Each message is decrypted as it arrives, without waiting for the previous one's
      // decryption (its commit): the messages that arrive together share a commit (group commit,
      // docs/sessions.md section 7.2); they are counted in order, each once its state is stored.
      let opened: Promise<unknown> = Promise.resolve();
      for await (const x of peer.messages()) {
        if (x.kind !== "envelope") continue;
        if (expected.kind === "transport") {
          count("transport");
          continue;
        }
        if (expected.kind === "hello") {
          const { from } = await bob.decrypt(x.envelope);
          // The first session message: answer in the session (the set-up's last step).
          await toAlice.send(await bob.encrypt(from, textMessage("hi")) as SealedEnvelope);
          expected.kind = "";
          continue;
        }
        const kind = expected.kind;
        const decrypted = bob.decrypt(x.envelope);
        opened = Promise.all([opened, decrypted]).then(
          () => count(kind),
          (e) => console.error("bench: a session message did not open", e),
        );
      }
    }, { betweenFramesTimeoutMs: 0 });
    port.onmessage = async (e: MessageEvent) => {
      const c = e.data;
      if (c.cmd === "expect") {
        expected = { kind: c.kind, n: c.n, got: 0 };
        post({ armed: c.kind });
      } else if (c.cmd === "state") post({ state: { ...expected, connections } });
      else if (c.cmd === "bundle") {
        expected = { kind: "hello", n: 1, got: 0 };
        const bundle = await bob.prekeyBundle({ oneTimeKeys: 1 });
        await toAlice.send(await encrypt(bundle, { recipients: [init.aliceRecipient] }));
      } else if (c.cmd === "stop") {
        await toAlice.close();
        await bobX.close();
        await bob.close();
        await dave.stop().catch(() => {});
        post({ stopped: true });
      }
    };
    post({ ready: true });
  }
};
