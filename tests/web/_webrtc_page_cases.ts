// A page in Debian's Chromium and this Deno process exchange messages over a WebRTC data channel
// (issue 27): each has an identity and a signalling inbox on a relay (in this process, which also
// serves the page); the offer, answer and candidates travel as sealed, signed envelopes
// (relay/signal.ts) through it; the page uses the platform's RTCPeerConnection (web/webrtc.ts), this
// process node-datachannel (transports/webrtc.ts). Once the channel is open the relay is shut down,
// and messages cross both ways, sealed and signed, with ACKs, plus a stream: the path is direct
// (the relay is gone; the page's selected candidate pair is host or peer-reflexive, at one of this
// machine's addresses). Both roles: Deno offering, then the page offering. Run in a `deno test`
// process of its own by tests/web/webrtc_test.ts (node-datachannel serves one isolate).
import assert from "node:assert/strict";
import puppeteer, { type Page } from "puppeteer-core";
import { chromiumPath, ROOT } from "../package/_browser.ts";
import { bundleForPage } from "../../scripts/build.ts";
import { WEB_CSP } from "../../cli/_web.ts";
import { decrypt, encrypt, generateIdentity } from "../../mod.ts";
import {
  openInbox,
  RelayClient,
  RelayServer,
  relaySignal,
  SignalReplayCache,
  SqliteStore,
} from "../../relay/mod.ts";
import { acceptWebRtc, type Connection, connectWebRtc, webRtcPath } from "../../transports/mod.ts";
import { toHex } from "../../engines/_bytes.ts";

// The page's global, as the callbacks given to page.evaluate see it (declared loosely: this file
// is checked with Deno's libraries, not the DOM's).
// deno-lint-ignore no-explicit-any
declare const rtcPage: any;

const WAIT = 300_000;

/** The relay in this process, also serving the bundled test page on its port. */
async function startRelay(dir: string) {
  const server = new RelayServer({ store: new SqliteStore(":memory:") });
  const url = await server.listen("ws://127.0.0.1:0/relay", undefined, {
    onHttpRequest: async (request) => {
      const name = new URL(request.url).pathname.slice(1) || "index.html";
      if (!/^[\w.-]+$/.test(name)) return new Response(null, { status: 404 });
      try {
        const body = await Deno.readFile(`${dir}/${name}`);
        const type = name.endsWith(".html") ? "text/html" : "text/javascript";
        return new Response(body, {
          headers: { "content-type": type, "content-security-policy": WEB_CSP },
        });
      } catch {
        return new Response(null, { status: 404 });
      }
    },
  });
  return { server, url, origin: url.replace(/^ws:/, "http:").replace(/\/relay$/, "") };
}

/** This machine's addresses: a direct path ends at one of them. */
function localAddresses(): Set<string> {
  return new Set(Deno.networkInterfaces().map((i) => i.address.replace(/%.*$/, "")));
}

async function round(page: Page, dir: string, denoOffers: boolean): Promise<void> {
  const role = denoOffers ? "Deno offers" : "the page offers";
  const { server, url, origin } = await startRelay(dir);
  let deno: Connection | undefined;
  try {
    await page.goto(`${origin}/`, { waitUntil: "load", timeout: WAIT });
    await page.waitForFunction("globalThis.rtcPage !== undefined", { timeout: WAIT });
    const me = await generateIdentity();
    const relay = await RelayClient.connect(url);
    const inbox = await openInbox(relay);
    const pageSide = await page.evaluate((u: string) => rtcPage.setup(u), url) as {
      recipient: string;
      sendingId: string;
    };
    const signal = relaySignal({
      relay,
      identity: me.identity,
      peer: pageSide.recipient,
      to: Uint8Array.fromHex(pageSide.sendingId),
      inbox,
      seen: new SignalReplayCache(),
      ...(denoOffers ? { session: crypto.getRandomValues(new Uint8Array(16)) } : {}),
    });
    const start = performance.now();
    const options = { connectTimeoutMs: 120_000 };
    const [connection, pageMs] = await Promise.all([
      denoOffers ? connectWebRtc(signal, options) : acceptWebRtc(signal, options),
      page.evaluate(
        (r: string, s: string, o: string) => rtcPage.open(r, s, o),
        me.recipient,
        toHex(inbox.sendingId),
        denoOffers ? "answer" : "offer",
      ) as Promise<number>,
    ]);
    deno = connection;
    console.log(
      `${role}: data channel open after ${(performance.now() - start).toFixed(0)} ms ` +
        `(the page: ${pageMs.toFixed(0)} ms), signalled through the relay`,
    );
    // The relay goes away: from here on, whatever crosses does so directly.
    await relay.close();
    await server.close();

    // Deno to the page: sealed, signed, acknowledged.
    const hello = `hello page (${role})`;
    const envelope = await encrypt(new TextEncoder().encode(hello), {
      recipients: [pageSide.recipient],
      sender: me.identity,
    });
    const [id, text] = await Promise.all([
      deno.send(envelope),
      page.evaluate((r: string) => rtcPage.receive(r), me.recipient) as Promise<string>,
    ]);
    assert.equal(text, hello);
    const ack = (await deno.messages().next()).value;
    assert.ok(ack?.kind === "ack");
    assert.equal(toHex(ack.id), toHex(id));

    // The page to Deno.
    const reply = `hello deno (${role})`;
    const sending = page.evaluate(
      (t: string, r: string) => rtcPage.send(t, r),
      reply,
      me.recipient,
    ) as Promise<string>;
    sending.catch(() => {}); // awaited below
    const got = (await deno.messages().next()).value;
    assert.ok(got?.kind === "envelope");
    const opened = await decrypt(got.envelope, {
      identities: [me.identity],
      verify: [pageSide.recipient],
    });
    assert.equal(new TextDecoder().decode(opened), reply);
    await deno.acknowledge(got.id);
    assert.equal(await sending, toHex(got.id));

    // A stream of 8 MiB from the page, read to its end here.
    const streaming = page.evaluate(
      (r: string) => rtcPage.sendStream(8, r),
      me.recipient,
    ) as Promise<number>;
    streaming.catch(() => {}); // awaited below
    const stream = (await deno.messages().next()).value;
    assert.ok(stream?.kind === "stream");
    let bytes = 0;
    for await (const piece of stream.pieces) bytes += piece.length;
    assert.ok(bytes > 8 * 1024 * 1024, `${bytes} bytes`);
    await deno.acknowledge(await stream.id);
    const ms = await streaming;
    console.log(`${role}: 8 MiB stream page -> deno in ${ms.toFixed(0)} ms`);

    // The path: no TURN relay, and it ends at this machine's addresses.
    const path = await page.evaluate(() => rtcPage.path()) as {
      local: { type: string; address: string; port: number };
      remote: { type: string; address: string; port: number };
    };
    console.log(`${role}: selected pair ${JSON.stringify(path)}`);
    const candidates = await page.evaluate(() => rtcPage.candidates()) as string[];
    console.log(`${role}: the page's candidates: ${candidates.join(" | ")}`);
    assert.ok(path, "no selected candidate pair");
    assert.ok(["host", "prflx", "srflx"].includes(path.remote.type), path.remote.type);
    assert.ok(["host", "prflx", "srflx"].includes(path.local.type), path.local.type);
    const mine = localAddresses();
    assert.ok(mine.has(path.remote.address), `${path.remote.address} is not this machine's`);
    // This end agrees: its local candidate is the page's remote one, neither through TURN.
    const here = webRtcPath(deno);
    console.log(`${role}: Deno's selected pair ${JSON.stringify(here)}`);
    assert.ok(here, "no selected candidate pair in Deno");
    assert.equal(here.local.port, path.remote.port);
    assert.equal(here.local.address, path.remote.address);
    assert.notEqual(here.local.type, "relay");
    assert.notEqual(here.remote.type, "relay");
    assert.equal(here.remote.port, path.local.port);
  } finally {
    await page.evaluate(() => rtcPage?.close()).catch(() => {});
    await deno?.close();
    await server.close().catch(() => {});
  }
}

Deno.test({
  name: "webrtc in Chromium: a page and a Deno process chat over a direct data channel",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "polycrypt-webrtc-page-" });
    await bundleForPage({ rtc_page: `${ROOT}web/_webrtc_test_page.ts` }, dir);
    await Deno.writeTextFile(
      `${dir}/index.html`,
      `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">` +
        `<script type="module" src="rtc_page.js"></script>`,
    );
    const browser = await puppeteer.launch({
      executablePath: await chromiumPath(),
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
      timeout: 120_000,
      protocolTimeout: 600_000,
    });
    const errors: string[] = [];
    try {
      const page = await browser.newPage();
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await round(page, dir, true);
      await round(page, dir, false);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
