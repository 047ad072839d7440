// The web chat page (docs/web.md) in a real browser: `polycrypt relay --web` as a process,
// Debian's Chromium driven by puppeteer-core (tests/package/_browser.ts's launcher), two users in
// two browser contexts (separate IndexedDB), and the CLI user when the relay command line has
// `inbox`. They make identities, exchange invitations, compare safety numbers, chat both ways with
// delivered/read states, send a file, and one of them gets messages queued while offline.
// Screenshots go to tests/web/screenshots/.
import assert from "node:assert/strict";
import puppeteer, { type Browser, type BrowserContext, type Page } from "puppeteer-core";
import { chromiumPath, ROOT } from "../package/_browser.ts";
import { runDeno, spawnCommand } from "../_process.ts";
import { parseInvitation } from "../../relay/invite.ts";
import { RelayClient } from "../../relay/client.ts";
import { type AuthKey, RELAY_ERROR, RelayError } from "../../relay/protocol.ts";
import { RelayServer } from "../../relay/server.ts";
import { SqliteStore } from "../../relay/sqlite.ts";
import { webHandler } from "../../cli/_web.ts";
import { encrypt } from "../../mod.ts";
import { formatSafetyNumber, safetyNumber } from "../../contacts/fingerprint.ts";
import { fingerprint } from "../../contacts/fingerprint.ts";
import { sha256 } from "../../engines/_hash.ts";
import { toHex } from "../../engines/_bytes.ts";

// The page's globals, as the callbacks given to page.evaluate/$eval see them in Chromium. This
// file is type-checked with Deno's libraries, not the DOM's (which clash with Deno's in one
// program), so the few used here are declared loosely.
// deno-lint-ignore no-explicit-any
type Dom = any;
declare const document: Dom;
declare const MutationObserver: Dom;
type HTMLElement = Dom;
type HTMLTextAreaElement = Dom;
type HTMLCanvasElement = Dom;

const SHOTS = `${ROOT}tests/web/screenshots`;
const PASSPHRASE = "correct horse battery staple";
const WAIT = { timeout: 120_000 };

/** `deno run scripts/build.ts --web`: dist/web from the current sources. */
async function buildPage(): Promise<void> {
  const out = await runDeno(["run", "--allow-all", `${ROOT}scripts/build.ts`, "--web"], {
    deadlineMs: 300_000,
  });
  if (!out.success) throw new Error(`the web build failed:\n${out.stderr}`);
  console.log(out.stdout.trim());
}

/** `polycrypt relay --web` on a free port; resolves with its page's origin and relay URL. */
async function startRelay(dir: string, address = "ws://127.0.0.1:0") {
  const child = spawnCommand(Deno.execPath(), [
    "run",
    "--allow-all",
    `${ROOT}cli/main.ts`,
    "relay",
    "--on",
    address,
    "--store",
    `sqlite:${dir}/relay.db`,
    "--web",
  ], { stdout: "null" });
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 120_000;
  while (!/web chat on (http:\/\/\S+)/.test(text)) {
    if (Date.now() > deadline) throw new Error(`the relay did not start: ${text}`);
    const { value, done } = await lines.read();
    if (done) throw new Error(`the relay exited: ${text}`);
    text += value;
  }
  // Keep draining its output so the pipe never fills.
  (async () => {
    for (;;) if ((await lines.read()).done) return;
  })().catch(() => {});
  const origin = /web chat on (http:\/\/\S+?)\/?$/m.exec(text)![1];
  const relay = /listening on (ws:\/\/\S+)/.exec(text)![1];
  return { child, origin, relay };
}

/** A CLI user: an identity file and a config folder (contact book, inboxes, sessions) of its own. */
async function cliUser(dir: string, name: string) {
  const env = { XDG_CONFIG_HOME: `${dir}/${name}-config` };
  await Deno.mkdir(env.XDG_CONFIG_HOME);
  const key = `${dir}/${name}.key`;
  const run = async (args: string[]) => {
    const out = await runDeno(["run", "--allow-all", `${ROOT}cli/main.ts`, ...args], {
      env,
      deadlineMs: 240_000,
    });
    assert.equal(out.code, 0, `polycrypt ${args.slice(0, 2).join(" ")}: ${out.stderr}`);
    return out;
  };
  const made = await run(["keygen", "-o", key]);
  const recipient = /Public key: (\S+)/.exec(made.stderr)![1];
  return { key, recipient, run };
}

/** `n` random bytes (getRandomValues gives 64 KiB at a time). */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

interface User {
  name: string;
  context: BrowserContext;
  page: Page;
  invitation: string;
  recipient: string;
  errors: string[];
}

async function newPage(context: BrowserContext, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  await page.setViewport({ width: 1100, height: 720 });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  return page;
}

/** Opens the page and waits until its script drew the first screen; resolves with load times. */
async function load(page: Page, origin: string): Promise<{ loadMs: number; readyMs: number }> {
  const started = performance.now();
  await page.goto(`${origin}/`, { waitUntil: "load", ...WAIT });
  const loadMs = performance.now() - started;
  await page.waitForSelector("html[data-ready='1']", WAIT);
  return { loadMs, readyMs: performance.now() - started };
}

async function createUser(browser: Browser, origin: string, name: string): Promise<User> {
  const context = await browser.createBrowserContext();
  const errors: string[] = [];
  const page = await newPage(context, errors);
  const times = await load(page, origin);
  console.log(
    `${name}: first load ${times.loadMs.toFixed(0)} ms (load event), ` +
      `${times.readyMs.toFixed(0)} ms to the first screen`,
  );
  await page.type("#name", name);
  await page.type("#passphrase", PASSPHRASE);
  await page.type("#passphrase2", PASSPHRASE);
  await page.click("#create");
  await page.waitForFunction(
    () => (document.querySelector("#invitation") as HTMLTextAreaElement | null)?.value,
    WAIT,
  );
  await page.waitForFunction(
    () => document.querySelector("#online")?.textContent === "online",
    WAIT,
  );
  const invitation = await page.$eval("#invitation", (e) => (e as HTMLTextAreaElement).value);
  const recipient = parseInvitation(invitation).recipient;
  const shown = await page.$eval("#fingerprint", (e) => e.textContent);
  assert.equal(shown, fingerprint(recipient), `${name}'s page shows its own fingerprint`);
  // The QR code is drawn: the canvas has dark and light pixels.
  const dark = await page.$eval("#qr", (c) => {
    const canvas = c as HTMLCanvasElement;
    const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] < 128) n++;
    return n / (data.length / 4);
  });
  assert.ok(dark > 0.2 && dark < 0.8, `the QR canvas is ${(dark * 100).toFixed(0)}% dark`);
  return { name, context, page, invitation, recipient, errors };
}

async function addContact(user: User, name: string, invitation: string): Promise<string> {
  await user.page.type("#contact-name", name);
  await user.page.$eval(
    "#contact-invitation",
    (e, v) => ((e as HTMLTextAreaElement).value = v as string),
    invitation,
  );
  await user.page.click("#add-contact");
  await user.page.waitForFunction(
    (n) => document.querySelector("#peer-name")?.textContent === n,
    WAIT,
    name,
  );
  return (await user.page.$eval("#safety-number", (e) => e.textContent))!;
}

async function openChat(user: User, contactName: string): Promise<void> {
  await user.page.waitForFunction(
    (n) => [...document.querySelectorAll("#contacts li")].some((li) => li.textContent === n),
    WAIT,
    contactName,
  );
  await user.page.evaluate((n) => {
    const li = [...document.querySelectorAll("#contacts li")].find((l) => l.textContent === n);
    (li as HTMLElement).click();
  }, contactName);
  await user.page.waitForFunction(
    (n) => document.querySelector("#peer-name")?.textContent === n,
    WAIT,
    contactName,
  );
}

async function sendText(user: User, text: string): Promise<void> {
  await user.page.type("#text", text);
  await user.page.click("#send");
}

/** Waits until the open conversation has a message with `text` (and `state`, if given). */
async function waitMessage(user: User, text: string, state?: string): Promise<void> {
  await user.page.waitForFunction(
    (t, s) =>
      [...document.querySelectorAll("#messages li")].some((li) =>
        li.querySelector(".text")?.textContent === t &&
        (!s || li.getAttribute("data-state") === s)
      ),
    WAIT,
    text,
    state ?? "",
  );
}

async function metaOf(user: User, text: string): Promise<string> {
  return await user.page.evaluate((t) => {
    const li = [...document.querySelectorAll("#messages li")].find((l) =>
      l.querySelector(".text")?.textContent === t
    );
    return [...li!.querySelectorAll(".meta")].map((m) => m.textContent).join(" ");
  }, text);
}

/**
 * A SEND by a third party, unsigned, to `invitation`'s queue (a valid envelope for its owner):
 * refused with AUTH once the owner secured the queue.
 */
async function thirdPartyRefused(invitation: string, what: string): Promise<void> {
  const { relay, sendId, recipient } = parseInvitation(invitation);
  const client = await RelayClient.connect(relay);
  try {
    const envelope = await encrypt(new TextEncoder().encode("let me in"), {
      recipients: [recipient],
    });
    await assert.rejects(
      client.send(sendId, envelope),
      (e) => e instanceof RelayError && e.code === RELAY_ERROR.AUTH,
      `a third party's unsigned SEND to ${what} was not refused with AUTH`,
    );
  } finally {
    await client.close();
  }
}

/** Waits until the page's securing note matches `pattern`. */
async function waitNotice(user: User, pattern: RegExp): Promise<void> {
  await user.page.waitForFunction(
    (p) => new RegExp(p as string).test(document.querySelector("#notice")?.textContent ?? ""),
    WAIT,
    pattern.source,
  );
}

async function shot(user: User, name: string): Promise<void> {
  await user.page.screenshot({ path: `${SHOTS}/${name}.png` });
}

Deno.test({
  name: "web chat: two browser users through polycrypt relay --web",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await buildPage();
    await Deno.mkdir(SHOTS, { recursive: true });
    const dir = await Deno.makeTempDir({ prefix: "polycrypt-web-" });
    let { child, origin, relay } = await startRelay(dir);
    let browser: Browser | undefined;
    try {
      const response = await fetch(`${origin}/`);
      await response.body?.cancel();
      const csp = response.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|https?:/);

      browser = await puppeteer.launch({
        executablePath: await chromiumPath(),
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        timeout: 120_000,
        protocolTimeout: 600_000,
      });
      const alice = await createUser(browser, origin, "Alice");
      const bob = await createUser(browser, origin, "Bob");
      await shot(alice, "1-alice-identity");

      await t.step("invitations and safety numbers", async () => {
        const expected = formatSafetyNumber(safetyNumber(alice.recipient, bob.recipient));
        const aliceSees = await addContact(alice, "Bob", bob.invitation);
        const bobSees = await addContact(bob, "Alice", alice.invitation);
        assert.equal(aliceSees, bobSees);
        assert.equal(aliceSees, expected);
      });

      await t.step("text both ways, with delivered and read states", async () => {
        await sendText(alice, "hi Bob, from Alice's browser");
        // Bob has the conversation open: the message is read at once.
        await waitMessage(bob, "hi Bob, from Alice's browser");
        await waitMessage(alice, "hi Bob, from Alice's browser", "read");
        assert.match(await metaOf(alice, "hi Bob, from Alice's browser"), /\d\d:\d\d · read/);
        await sendText(bob, "hello Alice");
        await waitMessage(alice, "hello Alice");
        await waitMessage(bob, "hello Alice", "read");
        // Each page answered through a reply inbox made for the other, which the other's announced
        // queue key secured (docs/relay.md section 13): a note on the page, no problem shown.
        await waitNotice(alice, /your inbox for Bob is now secured/);
        await waitNotice(bob, /your inbox for Alice is now secured/);
      });

      await t.step("a file with progress", async () => {
        // 3 MiB less a bit (six pieces) by default; POLYCRYPT_WEB_FILE_MIB=100 for the largest
        // the page sends (100 MiB less a bit, 200 pieces).
        const mib = Number(Deno.env.get("POLYCRYPT_WEB_FILE_MIB") ?? 3);
        const file = randomBytes(mib * 1024 * 1024 - 12345);
        const path = `${dir}/photo.bin`;
        await Deno.writeFile(path, file);
        // Both pages note every progress text they show.
        for (const user of [alice, bob]) {
          await user.page.evaluate(() => {
            const seen: string[] = [];
            (globalThis as unknown as { seen: string[] }).seen = seen;
            new MutationObserver(() => {
              for (const p of document.querySelectorAll("#messages .progress")) {
                if (seen.at(-1) !== p.textContent) seen.push(p.textContent!);
              }
            }).observe(document.body, { subtree: true, childList: true, characterData: true });
          });
        }
        const started = performance.now();
        const input = await alice.page.$("#file");
        await (input as unknown as { uploadFile(p: string): Promise<void> }).uploadFile(path);
        try {
          await bob.page.waitForSelector("#messages a.file", { timeout: 600_000 });
        } catch (e) {
          const state = async (u: User) =>
            await u.page.evaluate(() =>
              `${document.querySelector("#problem")?.textContent} | ${
                [...document.querySelectorAll("#messages li")].at(-1)?.textContent
              }`
            );
          throw new Error(
            `no file on Bob's page: Alice ${await state(alice)}; Bob ${await state(bob)}`,
            {
              cause: e,
            },
          );
        }
        const seconds = (performance.now() - started) / 1000;
        console.log(
          `a ${(file.length / 1048576).toFixed(1)} MiB file, page to page through the relay: ` +
            `${seconds.toFixed(1)} s (${(file.length / 1048576 / seconds).toFixed(1)} MiB/s)`,
        );
        assert.equal(
          await bob.page.$eval("#messages a.file", (a) => a.textContent),
          `photo.bin (${mib}.0 MiB)`,
        );
        const seen = async (user: User) =>
          await user.page.evaluate(() => (globalThis as unknown as { seen: string[] }).seen);
        // The sender saw percentages rise, the receiver the bytes received.
        const sent = await seen(alice);
        const got = await seen(bob);
        assert.ok(sent.some((t) => /^([1-9]|[1-9]\d)% of /.test(t)), sent.join(", "));
        assert.ok(got.some((t) => / MiB received$/.test(t)), got.join(", "));
        // Bob saves it, as a user would: the download is the file Alice chose.
        const downloads = `${dir}/bob-downloads`;
        await Deno.mkdir(downloads);
        const cdp = await browser!.target().createCDPSession();
        await cdp.send("Browser.setDownloadBehavior", {
          behavior: "allow",
          downloadPath: downloads,
          browserContextId: (bob.context as unknown as { id: string }).id,
        });
        await bob.page.click("#messages a.file");
        const saved = `${downloads}/photo.bin`;
        const deadline = Date.now() + 300_000;
        while (!(await Deno.stat(saved).then((s) => s.size === file.length, () => false))) {
          if (Date.now() > deadline) throw new Error("the download did not arrive");
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(toHex(sha256(await Deno.readFile(saved))), toHex(sha256(file)));
        await alice.page.waitForFunction(
          () =>
            [...document.querySelectorAll("#messages li")].some((li) =>
              li.querySelector(".file") && li.getAttribute("data-state") === "read"
            ),
          WAIT,
        );
        await shot(alice, "2-alice-chat");
        await shot(bob, "3-bob-chat");
      });

      await t.step("messages to an offline contact wait on the relay", async () => {
        await bob.page.close();
        await new Promise((r) => setTimeout(r, 500));
        await sendText(alice, "are you there?");
        await waitMessage(alice, "are you there?", "queued");
        assert.match(await metaOf(alice, "are you there?"), /queued on relay/);
        // Bob comes back: unlocks his identity with the passphrase, the message is there.
        bob.page = await newPage(bob.context, bob.errors);
        await load(bob.page, origin);
        await bob.page.waitForSelector("#unlock", WAIT);
        await bob.page.type("#passphrase", PASSPHRASE);
        await bob.page.click("#unlock");
        await openChat(bob, "Alice");
        await waitMessage(bob, "are you there?");
        await waitMessage(bob, "hi Bob, from Alice's browser"); // history, from IndexedDB
        await waitMessage(alice, "are you there?", "read");
      });

      await t.step(
        "a third user on the command line (inbox, contact add, send -r, fetch)",
        async () => {
          const carol = await cliUser(dir, "carol");
          const invitation = (await carol.run(["inbox", "new", "--relay", relay, "-i", carol.key]))
            .stdout.trim();
          assert.match(invitation, /^polycrypt-invite1:/);
          await carol.run(["contact", "-i", carol.key, "add", "alice", alice.invitation]);
          await carol.run(["contact", "-i", carol.key, "add", "bob", bob.invitation]);
          const aliceSees = await addContact(alice, "Carol", invitation);
          await addContact(bob, "Carol", invitation);
          // The same safety number on the page and in Carol's terminal.
          const verify = await carol.run(["contact", "-i", carol.key, "verify", "alice"]);
          const digits = (s: string) => s.replace(/\D/g, "");
          assert.ok(verify.stdout.replace(/\D/g, "").includes(digits(aliceSees)), verify.stdout);

          // Carol writes to Alice from her terminal; Alice answers from the page.
          await carol.run([
            "send",
            "-i",
            carol.key,
            "-r",
            "@alice",
            "hello Alice, from a terminal",
          ]);
          await openChat(alice, "Carol");
          await waitMessage(alice, "hello Alice, from a terminal");
          await sendText(alice, "hi Carol, from the browser");
          await waitMessage(alice, "hi Carol, from the browser", "queued");
          // Bob sends Carol a file from his page.
          await openChat(bob, "Carol");
          const data = randomBytes(700 * 1024);
          await Deno.writeFile(`${dir}/notes.bin`, data);
          const input = await bob.page.$("#file");
          await (input as unknown as { uploadFile(p: string): Promise<void> }).uploadFile(
            `${dir}/notes.bin`,
          );
          await bob.page.waitForFunction(
            () =>
              [...document.querySelectorAll("#messages li")].some((li) =>
                li.querySelector(".file")?.textContent?.startsWith("notes.bin") &&
                li.getAttribute("data-state") === "queued"
              ),
            WAIT,
          );
          const inbox = `${dir}/carol-in`;
          await Deno.mkdir(inbox);
          const fetched = await carol.run(["fetch", "-i", carol.key, "-o", inbox]);
          assert.match(fetched.stdout, /^alice: hi Carol, from the browser$/m);
          assert.deepEqual(await Deno.readFile(`${inbox}/notes.bin`), data);
          // Securing (docs/relay.md section 13): Carol's first message carried her reply inbox
          // for Alice, so Alice's page wrote there, announcing its queue key first; Bob's page
          // wrote to Carol's `inbox new` inbox. Carol's fetch secured each to its writer.
          assert.match(fetched.stderr, /your inbox on \S+ is now secured to alice/);
          assert.match(fetched.stderr, /your inbox on \S+ is now secured to bob/);
          await thirdPartyRefused(invitation, "Carol's inbox, secured to Bob's page");
          // Alice's next message is refused unsigned, sent again signed with her queue key, and
          // arrives.
          await sendText(alice, "signed by my queue key");
          await waitMessage(alice, "signed by my queue key", "queued");
          const second = await carol.run(["fetch", "-i", carol.key]);
          assert.match(second.stdout, /^alice: signed by my queue key$/m);
          // Carol answers into the reply inbox Alice's page made for her (saved by her fetch):
          // her queue key is announced there, and the page secures that inbox with KEY.
          const shown = (await carol.run(["contact", "-i", carol.key, "show", "alice"])).stdout;
          const aliceForCarol = shown.trim().split("\n")[1];
          assert.match(aliceForCarol, /^polycrypt-invite1:/);
          assert.notEqual(aliceForCarol, alice.invitation);
          await carol.run(["send", "-i", carol.key, "-r", "@alice", "into my own inbox of yours"]);
          await waitMessage(alice, "into my own inbox of yours");
          await waitNotice(alice, /your inbox for Carol is now secured/);
          await thirdPartyRefused(aliceForCarol, "Alice's page's inbox for Carol");
          // And a file from Carol's terminal to Bob's page.
          const back = randomBytes(1024 * 1024 + 3);
          await Deno.writeFile(`${dir}/from-carol.bin`, back);
          await carol.run(["send", "-i", carol.key, "-r", "@bob", "-f", `${dir}/from-carol.bin`]);
          await bob.page.waitForFunction(
            () =>
              [...document.querySelectorAll("#messages a.file")].some((a) =>
                a.textContent === "from-carol.bin (1.0 MiB)"
              ),
            WAIT,
          );
          const downloads = `${dir}/bob-downloads`;
          await bob.page.evaluate(() => {
            const a = [...document.querySelectorAll("#messages a.file")].find((a) =>
              a.textContent?.startsWith("from-carol.bin")
            );
            (a as HTMLElement).click();
          });
          const saved = `${downloads}/from-carol.bin`;
          const deadline = Date.now() + 120_000;
          while (!(await Deno.stat(saved).then((s) => s.size === back.length, () => false))) {
            if (Date.now() > deadline) throw new Error("the download did not arrive");
            await new Promise((r) => setTimeout(r, 100));
          }
          assert.deepEqual(await Deno.readFile(saved), back);
          await waitNotice(bob, /your inbox for Carol is now secured/);
          await shot(alice, "4-alice-and-carol");
          await shot(bob, "5-bob-file-from-carol");
          // Carol's `inbox new` inbox is Bob's now: Alice's page, given that invitation again,
          // cannot write there (refused unsigned, then signed), and says why.
          await addContact(alice, "Carol", invitation);
          await sendText(alice, "into an inbox that is not mine");
          await waitMessage(alice, "into an inbox that is not mine", "failed");
          assert.match(
            await alice.page.$eval("#problem", (e) => e.textContent),
            /AUTH \(the inbox is gone, or secured to another sender/,
          );
          console.log(`carol's terminal:\n${fetched.stdout}${fetched.stderr}`);
        },
      );

      await t.step(
        "the relay restarts: pages reconnect, a message sent meanwhile arrives",
        async () => {
          await openChat(alice, "Bob");
          await openChat(bob, "Alice");
          child.kill("SIGTERM");
          await child.status;
          for (const user of [alice, bob]) {
            await user.page.waitForFunction(
              () => document.querySelector("#online")?.textContent === "offline",
              WAIT,
            );
          }
          await sendText(alice, "sent while the relay was down");
          await waitMessage(alice, "sent while the relay was down", "sending");
          ({ child, origin, relay } = await startRelay(dir, relay));
          await waitMessage(bob, "sent while the relay was down");
          await waitMessage(alice, "sent while the relay was down", "read");
          for (const user of [alice, bob]) {
            await user.page.waitForFunction(
              () => document.querySelector("#online")?.textContent === "online",
              WAIT,
            );
          }
        },
      );

      // A reconnecting page logs the refused WebSocket while the relay is down: that is expected.
      const refused = (e: string) => !/WebSocket connection to .* failed/.test(e);
      alice.errors = alice.errors.filter(refused);
      bob.errors = bob.errors.filter(refused);
      assert.deepEqual(alice.errors, []);
      assert.deepEqual(bob.errors, []);
    } finally {
      await browser?.close();
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A relay store whose next `failKeys` KEYs fail (the relay answers them INTERNAL). */
class FlakyKeyStore extends SqliteStore {
  failKeys = 0;
  keys = 0;
  override secure(rid: Uint8Array, senderKey: AuthKey): Promise<boolean> {
    this.keys++;
    if (this.failKeys > 0) {
      this.failKeys--;
      return Promise.reject(new Error("test: this KEY fails"));
    }
    return super.secure(rid, senderKey);
  }
}

Deno.test({
  name: "web chat: a KEY the relay answers INTERNAL is tried again after the page reconnects",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await buildPage();
    const dir = await Deno.makeTempDir({ prefix: "polycrypt-web-key-" });
    // The relay in this process (docs/relay.md section 13, "A KEY that fails"), serving the page.
    const store = new FlakyKeyStore(`${dir}/relay.db`);
    const server = new RelayServer({ store, onError: () => {} });
    let browser: Browser | undefined;
    try {
      const relay = await server.listen("ws://127.0.0.1:0/relay", undefined, {
        onHttpRequest: await webHandler("/relay"),
      });
      const origin = relay.replace(/^ws:/, "http:").replace(/\/relay$/, "");
      browser = await puppeteer.launch({
        executablePath: await chromiumPath(),
        headless: true,
        args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        timeout: 120_000,
        protocolTimeout: 600_000,
      });
      const alice = await createUser(browser, origin, "Alice");
      const carol = await cliUser(dir, "carol");
      const carolInvitation = (await carol.run(["inbox", "new", "--relay", relay, "-i", carol.key]))
        .stdout.trim();
      await addContact(alice, "Carol", carolInvitation);
      await carol.run(["contact", "-i", carol.key, "add", "alice", alice.invitation]);
      await carol.run(["send", "-i", carol.key, "-r", "@alice", "hello Alice"]);
      await openChat(alice, "Carol");
      await waitMessage(alice, "hello Alice");
      // Alice's answer carries the reply inbox her page made for Carol; Carol's fetch saves it.
      await sendText(alice, "hi Carol");
      await waitMessage(alice, "hi Carol", "queued");
      await carol.run(["fetch", "-i", carol.key]);
      const shown = (await carol.run(["contact", "-i", carol.key, "show", "alice"])).stdout;
      const aliceForCarol = shown.trim().split("\n")[1];
      assert.match(aliceForCarol, /^polycrypt-invite1:/);
      assert.notEqual(aliceForCarol, alice.invitation);
      // Carol writes there: her queue key first. The relay fails the page's KEY once; the page
      // leaves the message unacknowledged, reconnects, reads it again and secures the inbox.
      const before = store.keys;
      store.failKeys = 1;
      await carol.run(["send", "-i", carol.key, "-r", "@alice", "into my inbox of yours"]);
      await waitMessage(alice, "into my inbox of yours");
      await waitNotice(alice, /your inbox for Carol is now secured/);
      assert.equal(store.keys - before, 2, "the page did not try KEY again");
      await thirdPartyRefused(aliceForCarol, "Alice's page's inbox for Carol");
      const texts = await alice.page.$$eval(
        "#messages li .text",
        (els) => els.map((e) => e.textContent),
      );
      assert.equal(texts.filter((t) => t === "into my inbox of yours").length, 1);
      const refused = (e: string) => !/WebSocket connection to .* failed/.test(e);
      assert.deepEqual(alice.errors.filter(refused), []);
    } finally {
      await browser?.close();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
