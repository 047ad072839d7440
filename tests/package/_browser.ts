// Helpers for the package tests and report: build dist/ when needed, serve it over loopback, and
// drive Debian's Chromium with puppeteer-core.
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { fileURLToPath } from "node:url";
import { runCommand, runDeno } from "../_process.ts";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const DIST = `${ROOT}dist`;

/** Builds dist/ (`deno task build`; about 2 s), so the tests always run the current sources. */
export async function build(): Promise<void> {
  const out = await runDeno(["run", "--allow-all", `${ROOT}scripts/build.ts`, "--quiet"], {
    deadlineMs: 300_000,
  });
  if (!out.success) throw new Error(`deno task build failed:\n${out.stderr}`);
}

/**
 * Makes `scratch` a Node project with the package installed as a user gets it: `npm pack` of
 * dist/, then `npm install` of the tarball (its dependencies from the npm registry, or npm's cache).
 */
export async function installPackage(scratch: string): Promise<void> {
  const pack = await runCommand("npm", ["pack", DIST, "--pack-destination", scratch], {
    cwd: scratch,
    deadlineMs: 120_000,
  });
  if (!pack.success) throw new Error(`npm pack failed: ${pack.stderr}`);
  const tarball = pack.stdout.trim().split("\n").at(-1)!;
  await Deno.writeTextFile(
    `${scratch}/package.json`,
    JSON.stringify({ name: "scratch", private: true, type: "module" }),
  );
  const install = await runCommand(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", `./${tarball}`],
    { cwd: scratch, deadlineMs: 300_000 },
  );
  if (!install.success) throw new Error(`npm install of ${tarball} failed: ${install.stderr}`);
}

/** The Chromium binary: Debian's, installed with apt-get when missing (scripts/apt_need.sh). */
export async function chromiumPath(): Promise<string> {
  const found = await runCommand("sh", [
    "-c",
    "command -v chromium || command -v chromium-browser",
  ]);
  if (found.success && found.stdout.trim()) return found.stdout.trim();
  const install = await runCommand("bash", [`${ROOT}scripts/apt_need.sh`, "chromium", "chromium"], {
    deadlineMs: 600_000,
  });
  const again = await runCommand("sh", ["-c", "command -v chromium"]);
  if (!install.success || !again.success) {
    throw new Error(
      "Chromium is missing and could not be installed (scripts/apt_need.sh chromium chromium " +
        `needs root and Debian's package archive): ${install.stderr.trim() || "no chromium"}. ` +
        "The browser suite cannot run without it; install Debian's `chromium` package.",
    );
  }
  return again.stdout.trim();
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".html": "text/html; charset=utf-8",
  ".json": "application/json",
};

/**
 * A static server on 127.0.0.1 (a secure context, so WebCrypto is there) at a free port:
 * `/dist/...` from dist/, `/test/...` from tests/package/browser/, `/vectors/...` from the
 * committed envelope vectors and `/fixtures/...` from tests/fixtures/. Strict CSP: only this
 * origin's scripts and workers.
 */
export function serve(): { origin: string; close(): Promise<void> } {
  const roots: Record<string, string> = {
    "/dist/": `${DIST}/`,
    "/test/": `${ROOT}tests/package/browser/`,
    "/vectors/": `${ROOT}tests/vectors/polycrypt/envelopes/`,
    "/fixtures/": `${ROOT}tests/fixtures/`,
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const prefix = Object.keys(roots).find((p) => path.startsWith(p));
    if (!prefix || path.includes("..")) return new Response("not found", { status: 404 });
    const file = roots[prefix] + path.slice(prefix.length);
    try {
      const body = await Deno.readFile(file);
      const type = TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream";
      return new Response(body, {
        headers: {
          "content-type": type,
          "content-security-policy":
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'",
          "cache-control": "no-store",
        },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/** Headless Chromium with the test page loaded and its module ready (`globalThis.suite`). */
export async function openPage(origin: string): Promise<{ browser: Browser; page: Page }> {
  const executablePath = await chromiumPath();
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      // As root (CI) Chromium's sandbox cannot start; the page runs only our own code.
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
      timeout: 120_000,
      protocolTimeout: 600_000,
    });
  } catch (e) {
    throw new Error(`Chromium (${executablePath}) did not start: ${(e as Error).message}`);
  }
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(`${origin}/test/page.html`, { waitUntil: "load", timeout: 120_000 });
  try {
    await page.waitForFunction("globalThis.suite !== undefined", { timeout: 120_000 });
  } catch {
    await browser.close();
    throw new Error(`the test page did not load: ${errors.join("; ") || "no error reported"}`);
  }
  return { browser, page };
}
