// IndexedDbSessionStore (web/indexeddb_store.ts) in Debian's Chromium: the SessionStore contract
// (get, sorted list by prefix, ordered and atomic commits, copies, refusals) and two accounts
// whose sessions live in IndexedDB and continue after reopening (web/_store_test_page.ts, bundled
// here with the web build's settings and served with the relay's Content-Security-Policy).
import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";
import { chromiumPath, ROOT } from "../package/_browser.ts";
import { bundleForPage } from "../../scripts/build.ts";
import { WEB_CSP } from "../../cli/_web.ts";

Deno.test({
  name:
    "IndexedDbSessionStore in Chromium: the SessionStore contract and sessions across reopening",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "polycrypt-store-page-" });
    await bundleForPage({ store_page: `${ROOT}web/_store_test_page.ts` }, dir);
    await Deno.writeTextFile(
      `${dir}/index.html`,
      `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">` +
        `<script type="module" src="store_page.js"></script>`,
    );
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (r) => {
      const name = new URL(r.url).pathname.slice(1) || "index.html";
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
    });
    const browser = await puppeteer.launch({
      executablePath: await chromiumPath(),
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
      timeout: 120_000,
      protocolTimeout: 600_000,
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`http://127.0.0.1:${server.addr.port}/`, { waitUntil: "load" });
      await page.waitForFunction("globalThis.storeResults !== undefined", { timeout: 300_000 });
      const rows = await page.evaluate(() =>
        (globalThis as unknown as { storeResults: [string, boolean, string][] }).storeResults
      );
      for (const [name, passed, detail] of rows) {
        console.log(`${passed ? "ok  " : "FAIL"} ${name}${passed ? "" : `: ${detail}`}`);
      }
      assert.equal(rows.length, 11, JSON.stringify(rows));
      assert.deepEqual(rows.filter((r) => !r[1]), []);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
