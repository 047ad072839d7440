import { openPage, serve } from "./_browser.ts";
const server = serve();
const { browser, page } = await openPage(server.origin);
const src = `(async () => {
  const m = await import("/dist/browser/index.js");
  const out = {};
  const time = async (name, n, f) => {
    for (let i = 0; i < 50; i++) await f();
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    out[name] = +((performance.now() - t) / n * 1000).toFixed(1);
  };
  const ikm = new Uint8Array(32), salt = new Uint8Array(32), info = new Uint8Array(40);
  await time("noble hkdfSync", 2000, () => m.hkdfSync("SHA-256", ikm, salt, info, 32));
  await time("noble hmac", 2000, () => m.hmac("SHA-256", ikm, info));
  await time("webcrypto hkdf", 2000, async () => {
    const k = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
    return new Uint8Array(await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, k, 256));
  });
  await time("webcrypto hmac", 2000, async () => {
    const k = await crypto.subtle.importKey("raw", ikm, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, info));
  });
  await time("webcrypto sha256", 2000, () => crypto.subtle.digest("SHA-256", info));
  await time("noop await", 2000, () => Promise.resolve(1));
  return out;
})()`;
for (let i = 0; i < 2; i++) console.log("chromium", JSON.stringify(await page.evaluate(src)));
await browser.close(); await server.close();
