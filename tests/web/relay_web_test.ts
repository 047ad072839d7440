// `polycrypt relay --web` (docs/web.md section 2): the page server's answers and headers, next to
// the relay protocol on the same port, the usage error without a ws:// address, and the error when
// the page is not built.
import assert from "node:assert/strict";
import { runCli, withTempDir } from "../cli/_cli.ts";
import { runDeno } from "../_process.ts";
import { ROOT } from "../package/_browser.ts";
import { RelayClient, RelayServer, SqliteStore } from "../../relay/mod.ts";
import { WEB_CSP, webHandler } from "../../cli/_web.ts";
import { IoError } from "../../cli/_errors.ts";

let built: Promise<void> | undefined;
/** dist/web from the current sources (`scripts/build.ts --web`, about 1 s). */
function buildPage(): Promise<void> {
  return built ??= (async () => {
    const out = await runDeno(["run", "--allow-all", `${ROOT}scripts/build.ts`, "--web"], {
      deadlineMs: 300_000,
    });
    if (!out.success) throw new Error(`the web build failed:\n${out.stderr}`);
  })();
}

Deno.test("relay --web: usage error without a ws:// address", async () => {
  const r = await runCli(["relay", "--on", "tcp://127.0.0.1:0", "--web"], ["--allow-all"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--web serves the page on a ws:\/\/ address/);
  const v = await runCli(["relay", "--on", "ws://127.0.0.1:0", "--web=yes"], ["--allow-all"]);
  assert.equal(v.code, 2, v.stderr);
});

Deno.test("relay --web: a page that is not built is an I/O error naming the build", async () => {
  await withTempDir("polycrypt-web-empty-", async (dir) => {
    await assert.rejects(webHandler("/", dir), (e) => {
      assert.ok(e instanceof IoError);
      assert.match(e.message, /not built .*deno task build/);
      return true;
    });
  });
});

Deno.test({
  name: "relay --web: the page and the relay protocol share the port; strict headers",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await buildPage();
    const server = new RelayServer({ store: new SqliteStore(":memory:") });
    try {
      const url = await server.listen("ws://127.0.0.1:0/relay", undefined, {
        onHttpRequest: await webHandler("/relay"),
      });
      const origin = url.replace(/^ws:/, "http:").replace(/\/relay$/, "");
      const page = await fetch(`${origin}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type")!, /^text\/html/);
      assert.match(await page.text(), /<script type="module" src="app.js"><\/script>/);
      for (const path of ["/", "/app.js", "/app.css", "/config.json", "/nothing"]) {
        const r = await fetch(`${origin}${path}`);
        await r.body?.cancel();
        assert.equal(r.headers.get("content-security-policy"), WEB_CSP, path);
        assert.equal(r.headers.get("x-content-type-options"), "nosniff", path);
        assert.equal(r.headers.get("x-frame-options"), "DENY", path);
        assert.equal(r.status, path === "/nothing" ? 404 : 200, path);
      }
      assert.deepEqual(await (await fetch(`${origin}/config.json`)).json(), { path: "/relay" });
      const js = await fetch(`${origin}/app.js`);
      assert.match(js.headers.get("content-type")!, /^text\/javascript/);
      await js.body?.cancel();
      const post = await fetch(`${origin}/`, { method: "POST", body: "x" });
      await post.body?.cancel();
      assert.equal(post.status, 405);
      // No inline script and no other origin anywhere in the policy.
      assert.doesNotMatch(WEB_CSP, /'unsafe-inline'|'unsafe-eval'|https?:|\*/);
      // The relay protocol still answers on its path of the same port.
      const client = await RelayClient.connect(url);
      await client.ping();
      await client.close();
    } finally {
      await server.close();
    }
  },
});
