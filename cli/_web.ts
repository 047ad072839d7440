// Internal: the web chat page that `polycrypt relay --web` serves on its ws:// addresses
// (docs/web.md section 2): the files of dist/web (built by `deno task build`), read once at start
// and answered from memory, every response with a strict Content-Security-Policy.
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { IoError } from "./_errors.ts";

/** Where the built page is: dist/web of the sources this CLI runs from. */
export const WEB_DIR: string = fileURLToPath(new URL("../dist/web/", import.meta.url));

/**
 * The page's Content-Security-Policy: scripts, workers, styles, fetches and WebSockets of this
 * origin only (`'self'` covers ws:// to the same host and port), WebAssembly for Argon2id, images
 * only for the QR canvas and received files (`blob:`); no inline script or style, no plugin, no
 * framing, no form posts, no base-URL change.
 */
export const WEB_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
};

/** Headers of every answer of the page server. */
function headers(type: string): Headers {
  return new Headers({
    "content-type": type,
    "content-security-policy": WEB_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-cache",
  });
}

/**
 * Reads the built page from `dir` and returns the HTTP handler for a listener whose WebSocket
 * path is `wsPath`: `GET /` (and `/index.html`) the page, `/config.json` where the relay is,
 * the page's scripts and style sheet; 404 for anything else, 405 for methods other than GET/HEAD.
 * Throws {@linkcode IoError} when the page is not built.
 */
export async function webHandler(
  wsPath: string,
  dir: string = WEB_DIR,
): Promise<(request: Request) => Response> {
  const files = new Map<string, { body: Uint8Array; type: string }>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      const dot = entry.name.lastIndexOf(".");
      const type = TYPES[entry.name.slice(dot)];
      if (!entry.isFile || !type) continue;
      files.set(`/${entry.name}`, { body: await Deno.readFile(join(dir, entry.name)), type });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw new IoError(`cannot read ${dir}: ${e}`);
  }
  if (!files.has("/index.html") || !files.has("/app.js")) {
    throw new IoError(
      `the web page is not built (${dir}): run \`deno task build\` in the polycrypt sources`,
    );
  }
  files.set("/config.json", {
    body: new TextEncoder().encode(JSON.stringify({ path: wsPath }) + "\n"),
    type: TYPES[".json"],
  });
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response(null, { status: 405, headers: headers("text/plain") });
    }
    const path = new URL(request.url).pathname;
    const file = files.get(path === "/" ? "/index.html" : path);
    if (!file) return new Response("not found\n", { status: 404, headers: headers("text/plain") });
    return new Response(request.method === "HEAD" ? null : file.body.slice(), {
      headers: headers(file.type),
    });
  };
}
