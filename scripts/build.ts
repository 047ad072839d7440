// `deno task build`: the npm package `polycrypt` in dist/ (docs/package.md).
//
// - dist/*.js: ESM bundles of the entry points `polycrypt` (mod.ts, the portable core),
//   `polycrypt/transports` (transports/mod.ts) and `polycrypt/testing` (testing/mod.ts, the
//   conformance kit, for Node), with code splitting so the entries share one registry, and the two
//   worker modules (Argon2id, ElGamal) as entries of their own. The npm dependencies stay imports
//   (declared in dist/package.json with deno.json's pinned versions); node:* stays external.
// - dist/types/: .d.ts files from TypeScript's declaration emit (`tsc --emitDeclarationOnly`).
// - dist/browser/: the core and its Argon2id worker for a page without a bundler, minified, the
//   npm dependencies inlined; `sizes.json` lists every entry's minified and gzip size (what a page
//   loads first, and the chunks it loads later, on first use).
//
// esbuild and typescript are npm packages pinned in deno.json. The npm dependencies are taken
// from Deno's own cache (the versions deno.lock pins) through a node_modules of symbolic links in a
// temporary folder, so the bundle holds exactly what the Deno tests ran.
//
// - dist/web/: the web chat page (web/, docs/web.md) that `polycrypt relay --web` serves: its
//   bundle (minified, dependencies inlined, the Argon2id worker next to it), index.html, app.css.
//
// Usage: deno run --allow-all scripts/build.ts [--quiet] [--web (only dist/web)]
import * as esbuild from "esbuild";
import ts from "typescript";
import { gzipSync } from "node:zlib";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DIST = join(ROOT, "dist");
const quiet = Deno.args.includes("--quiet");
/** `--web`: only dist/web, the chat page that `polycrypt relay --web` serves (about 1 s). */
const webOnly = Deno.args.includes("--web");
const log = (line: string) => quiet || console.log(line);

/** The library's npm dependencies (deno.json import name -> npm package), as dist declares them. */
const DEPENDENCIES = [
  "@noble/post-quantum",
  "@noble/curves",
  "@noble/ciphers",
  "@noble/hashes",
  "node-forge",
  "hash-wasm",
  "socks",
  "@xmpp/client",
  "node-datachannel",
  // The ws:// transport's client and server in Node (transports/_node_ws.ts); never bundled, and
  // never loaded by Deno or a browser.
  "ws",
];

/**
 * Dependencies that no module imports by name (transports/_node_ws.ts requires `ws` at run time
 * in Node only), so `deno cache` of the entries does not fetch them: cached by their pin.
 */
const RUNTIME_ONLY = ["ws"];

/** The entry points: the npm build's file names (without .js) and their sources. */
const ENTRIES: Record<string, string> = {
  index: "mod.ts",
  transports: "transports/mod.ts",
  testing: "testing/mod.ts",
  argon2_worker: "cascade/_argon2_worker.ts",
  modexp_worker: "engines/elgamal/_modexp_worker.ts",
};
/** The npm package's entry points, as its package.json exports them (sizes.json measures each). */
const PACKAGE_ENTRIES: Record<string, string> = {
  index: "polycrypt",
  transports: "polycrypt/transports",
  testing: "polycrypt/testing",
};
/** The browser build: the core and the one worker a page can start. */
const BROWSER_ENTRIES = ["index", "argon2_worker"];
/** The web chat page (web/, docs/web.md): its files copied as they are next to its bundle. */
const WEB_STATIC = ["index.html", "app.css"];

/**
 * The sources that start a worker from a module next to them: the module's source name and the
 * built file it becomes. The URL is rewritten in the bundle (esbuild leaves `new URL(...,
 * import.meta.url)` alone), and the build fails if a source no longer has it.
 */
const WORKER_URLS: Record<string, [string, string]> = {
  "cascade/argon2.ts": ["./_argon2_worker.ts", "./argon2_worker.js"],
  "engines/elgamal/_modexp_pool.ts": ["./_modexp_worker.ts", "./modexp_worker.js"],
};

interface DenoJson {
  name: string;
  version: string;
  imports: Record<string, string>;
}

/** `npm:/@noble/curves@2.4.0/` or `npm:node-forge@1.4.3` -> ["@noble/curves", "2.4.0"]. */
function npmPin(specifier: string): [string, string] {
  const match = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@([^/]+)\/?$/.exec(specifier);
  if (!match) throw new Error(`not a pinned npm specifier: ${specifier}`);
  return [match[1], match[2]];
}

async function run(cmd: string, args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(cmd, { args, cwd: ROOT, stdout: "null" })
    .output();
  if (code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(stderr)}`);
  }
}

/** A node_modules of links into Deno's npm cache, for every package deno.lock pins. */
async function linkNodeModules(into: string): Promise<void> {
  // Every module the bundles hold, so that Deno has downloaded each npm package they import.
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))) as DenoJson;
  await run(Deno.execPath(), [
    "cache",
    ...Object.values(ENTRIES),
    "cascade/_argon2_wasm.ts",
    ...RUNTIME_ONLY.map((name) => config.imports[name]),
  ]);
  const info = JSON.parse(
    new TextDecoder().decode(
      (await new Deno.Command(Deno.execPath(), { args: ["info", "--json"] }).output()).stdout,
    ),
  ) as { npmCache: string };
  const lock = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.lock"))) as {
    npm: Record<string, unknown>;
  };
  const linked = new Set<string>();
  for (const key of Object.keys(lock.npm)) {
    const at = key.lastIndexOf("@");
    const name = key.slice(0, at);
    const version = key.slice(at + 1).split("_")[0];
    if (at <= 0 || linked.has(name)) continue;
    const target = join(info.npmCache, "registry.npmjs.org", name, version);
    try {
      await Deno.stat(target);
    } catch {
      continue; // not needed by the library (a tool's package not downloaded yet)
    }
    await Deno.mkdir(dirname(join(into, name)), { recursive: true });
    await Deno.symlink(target, join(into, name));
    linked.add(name);
  }
  for (const name of DEPENDENCIES) {
    if (!linked.has(name)) throw new Error(`${name} is not in Deno's npm cache`);
  }
}

/** esbuild plugin: the worker URLs of WORKER_URLS point at the built worker files. */
const workerUrls: esbuild.Plugin = {
  name: "polycrypt-worker-urls",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = relative(ROOT, args.path);
      const rewrite = WORKER_URLS[source];
      if (!rewrite) return undefined;
      const text = await Deno.readTextFile(args.path);
      const [from, to] = rewrite;
      const pattern = `new URL("${from}", import.meta.url)`;
      if (!text.includes(pattern)) throw new Error(`${source} no longer has ${pattern}`);
      return { contents: text.replace(pattern, `new URL("${to}", import.meta.url)`), loader: "ts" };
    });
  },
};

/**
 * esbuild plugin for the web chat's bundle: a page has no `node:crypto` (the transports' message
 * ids use only SHA-256: web/_node_crypto.ts) and can dial only WebSockets (web/_dial.ts stands in
 * for transports/dial.ts, leaving out the TCP, TLS, UDP and SOCKS5 code that needs Deno); its data
 * channels are the platform's (web/webrtc.ts), so node-datachannel is left out
 * (web/_node_datachannel.ts).
 */
const webShims: esbuild.Plugin = {
  name: "polycrypt-web-shims",
  setup(build) {
    build.onResolve({ filter: /^node:crypto$/ }, () => ({
      path: join(ROOT, "web", "_node_crypto.ts"),
    }));
    // transports/webrtc.ts loads node-datachannel on first use; a page uses web/webrtc.ts.
    build.onResolve({ filter: /^node-datachannel$/ }, () => ({
      path: join(ROOT, "web", "_node_datachannel.ts"),
    }));
    build.onResolve({ filter: /(^|\/)dial\.ts$/ }, (args) => {
      const target = join(args.resolveDir, args.path);
      if (target !== join(ROOT, "transports", "dial.ts")) return undefined;
      return { path: join(ROOT, "web", "_dial.ts") };
    });
  },
};

/** The files an entry loads before it runs (its static imports, transitively). */
function staticClosure(
  meta: esbuild.Metafile,
  file: string,
  seen = new Set<string>(),
): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const imp of meta.outputs[file]?.imports ?? []) {
    if (imp.kind === "import-statement" && !imp.external) staticClosure(meta, imp.path, seen);
  }
  return seen;
}

interface SizeRow {
  readonly entry: string;
  readonly files: number;
  readonly minifiedBytes: number;
  readonly gzipBytes: number;
}

async function sizeOf(files: Iterable<string>): Promise<{ min: number; gz: number; n: number }> {
  let min = 0;
  let gz = 0;
  let n = 0;
  for (const file of files) {
    const bytes = await Deno.readFile(join(ROOT, file));
    min += bytes.length;
    gz += gzipSync(bytes, { level: 9 }).length;
    n++;
  }
  return { min, gz, n };
}

async function main(): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))) as DenoJson;
  const pins = new Map<string, string>();
  for (const [name, specifier] of Object.entries(config.imports)) {
    if (!DEPENDENCIES.includes(name.replace(/\/$/, ""))) continue;
    const [pkg, version] = npmPin(specifier);
    pins.set(pkg, version);
  }

  await Deno.remove(webOnly ? join(DIST, "web") : DIST, { recursive: true }).catch(() => {});
  const scratch = await Deno.makeTempDir({ prefix: "polycrypt-build-" });
  try {
    const modules = join(scratch, "node_modules");
    await linkNodeModules(modules);
    const common: esbuild.BuildOptions = {
      absWorkingDir: ROOT,
      bundle: true,
      format: "esm",
      splitting: true,
      target: "es2022",
      nodePaths: [modules],
      plugins: [workerUrls],
      metafile: true,
      logLevel: "warning",
      chunkNames: "chunk-[hash]",
      legalComments: "eof",
    };
    const t0 = performance.now();
    if (webOnly) {
      const row = await buildWeb(common);
      log(`web: ${Math.round(performance.now() - t0)} ms; ${row.entry} ${sizeLine(row)}`);
      return;
    }
    // 1. The npm package: readable ESM, dependencies as imports.
    await esbuild.build({
      ...common,
      entryPoints: ENTRIES,
      outdir: DIST,
      platform: "neutral",
      external: ["node:*", ...DEPENDENCIES, ...DEPENDENCIES.map((d) => `${d}/*`)],
    });
    // 2. The page build: minified, dependencies inlined.
    const browser = await esbuild.build({
      ...common,
      entryPoints: Object.fromEntries(BROWSER_ENTRIES.map((e) => [e, ENTRIES[e]])),
      outdir: join(DIST, "browser"),
      platform: "browser",
      minify: true,
      // node-forge reaches for node's crypto only where it finds Node; a page never does.
      external: ["node:*", "crypto"],
      mainFields: ["browser", "module", "main"],
    });
    const webRow = await buildWeb(common);
    // 3. Each npm entry point as a bundler ships it (only to measure it: written to the scratch
    // folder): minified, its npm dependencies inlined, what importing it loads (its static
    // imports; lazy chunks such as the XMPP and WebRTC libraries are left out).
    const shipped = await esbuild.build({
      ...common,
      entryPoints: Object.fromEntries(Object.keys(PACKAGE_ENTRIES).map((e) => [e, ENTRIES[e]])),
      outdir: join(scratch, "sized"),
      platform: "browser",
      minify: true,
      // The Node-only libraries the transports load on first use stay out (they are lazy chunks,
      // not part of what importing an entry loads, and need Node's own modules to bundle).
      external: ["node:*", "crypto", "socks", "@xmpp/client", "node-datachannel", "ws"],
      mainFields: ["browser", "module", "main"],
    });
    log(`bundles: ${Math.round(performance.now() - t0)} ms`);

    // 4. Declarations.
    const t1 = performance.now();
    emitDeclarations(Object.values(ENTRIES).filter((e) => !e.includes("_worker")), modules);
    await shimDenoTypes(join(DIST, "types"));
    log(`declarations: ${Math.round(performance.now() - t1)} ms`);

    // 5. package.json, README, LICENSE.
    const types = (source: string) => "./types/" + source.replace(/\.ts$/, ".d.ts");
    const pkg = {
      name: "polycrypt",
      version: config.version,
      description:
        "A crypto engine for secure messaging: RSA, ElGamal, ML-KEM, X25519/X448 behind one KEM " +
        "interface, AEAD cascades, signed envelopes, Argon2id passphrases.",
      license: "Apache-2.0",
      type: "module",
      engines: { node: ">=20.16" },
      exports: {
        ".": { types: types(ENTRIES.index), default: "./index.js" },
        "./transports": { types: types(ENTRIES.transports), default: "./transports.js" },
        "./testing": { types: types(ENTRIES.testing), default: "./testing.js" },
        "./browser": { types: types(ENTRIES.index), default: "./browser/index.js" },
        "./package.json": "./package.json",
      },
      types: types(ENTRIES.index),
      dependencies: Object.fromEntries([...pins].sort()),
    };
    await Deno.writeTextFile(join(DIST, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
    await Deno.copyFile(join(ROOT, "LICENSE"), join(DIST, "LICENSE"));
    await Deno.writeTextFile(join(DIST, "README.md"), packageReadme());

    // 6. Sizes of the page build: each entry with what it loads first, and the lazy chunks.
    const meta = browser.metafile!;
    const rows: SizeRow[] = [];
    const eager = new Set<string>();
    for (const entry of BROWSER_ENTRIES) {
      const file = relative(ROOT, join(DIST, "browser", `${entry}.js`));
      const closure = staticClosure(meta, file);
      if (entry === "index") { for (const f of closure) eager.add(f); }
      const { min, gz, n } = await sizeOf(closure);
      rows.push({ entry: `browser/${entry}.js`, files: n, minifiedBytes: min, gzipBytes: gz });
    }
    for (const file of Object.keys(meta.outputs)) {
      if (eager.has(file)) continue;
      if (meta.outputs[file].entryPoint) continue;
      const { min, gz } = await sizeOf([file]);
      const from = Object.keys(meta.outputs[file].inputs).map((i) =>
        i.replace(/.*(?:node_modules|registry\.npmjs\.org)\/((?:@[^/]+\/)?[^/]+)\/.*/, "$1")
      );
      rows.push({
        entry: `${relative("dist", file)} (lazy: ${summarize(from)})`,
        files: 1,
        minifiedBytes: min,
        gzipBytes: gz,
      });
    }
    rows.push(webRow);
    for (const [entry, name] of Object.entries(PACKAGE_ENTRIES)) {
      const file = relative(ROOT, join(scratch, "sized", `${entry}.js`));
      const { min, gz, n } = await sizeOf(staticClosure(shipped.metafile!, file));
      rows.push({
        entry: `npm ${name} (import, dependencies inlined)`,
        files: n,
        minifiedBytes: min,
        gzipBytes: gz,
      });
    }
    await Deno.writeTextFile(join(DIST, "sizes.json"), JSON.stringify(rows, null, 2) + "\n");
    for (const r of rows) {
      log(
        `${r.entry.padEnd(60)} ${(r.minifiedBytes / 1024).toFixed(1).padStart(7)} KiB min ` +
          `${(r.gzipBytes / 1024).toFixed(1).padStart(7)} KiB gzip`,
      );
    }
  } finally {
    await esbuild.stop();
    await Deno.remove(scratch, { recursive: true });
  }
}

/** The web chat page in dist/web; resolves with the size of what its first load fetches. */
async function buildWeb(common: esbuild.BuildOptions): Promise<SizeRow> {
  const web = await esbuild.build({
    ...common,
    entryPoints: { app: "web/app.ts", argon2_worker: ENTRIES.argon2_worker },
    outdir: join(DIST, "web"),
    platform: "browser",
    minify: !Deno.env.get("PROBE"),
    plugins: [webShims, workerUrls],
    // node-forge reaches for node's crypto only where it finds Node; a page never does.
    external: ["crypto"],
    mainFields: ["browser", "module", "main"],
  });
  for (const file of WEB_STATIC) {
    await Deno.copyFile(join(ROOT, "web", file), join(DIST, "web", file));
  }
  // What the page loads first: HTML, CSS, the app and its static imports.
  const first = [
    ...staticClosure(web.metafile!, relative(ROOT, join(DIST, "web", "app.js"))),
    ...WEB_STATIC.map((f) => relative(ROOT, join(DIST, "web", f))),
  ];
  const { min, gz, n } = await sizeOf(first);
  return {
    entry: "web/ (the chat page: index.html, app.css, app.js)",
    files: n,
    minifiedBytes: min,
    gzipBytes: gz,
  };
}

function sizeLine(r: SizeRow): string {
  return `${(r.minifiedBytes / 1024).toFixed(1).padStart(7)} KiB min ` +
    `${(r.gzipBytes / 1024).toFixed(1).padStart(7)} KiB gzip`;
}

/** A chunk's inputs in a few words: its packages or source folders. */
function summarize(inputs: string[]): string {
  const names = new Set(
    inputs.map((i) => i.includes("/") && !i.startsWith("@") ? i.split("/")[0] + "/" : i),
  );
  return [...names].slice(0, 4).join(", ") + (names.size > 4 ? ", ..." : "");
}

/** TypeScript's declaration emit for the entry points and everything they import. */
function emitDeclarations(entries: string[], modules: string): void {
  const options: ts.CompilerOptions = {
    declaration: true,
    emitDeclarationOnly: true,
    // The sources are type-checked by `deno check`; tsc only writes their declarations (it does
    // not know Deno's globals, which the Deno-only backends name).
    noCheck: true,
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2024.d.ts", "lib.dom.d.ts"],
    rootDir: ROOT,
    outDir: join(DIST, "types"),
    strict: true,
    skipLibCheck: true,
    typeRoots: [],
    types: [],
    baseUrl: ROOT,
    paths: { "*": [join(modules, "*")] },
  };
  const program = ts.createProgram(entries.map((e) => join(ROOT, e)), options);
  const result = program.emit();
  const problems = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics].filter((d) =>
    d.category === ts.DiagnosticCategory.Error
  );
  if (result.emitSkipped || problems.length > 0) {
    const host: ts.FormatDiagnosticsHost = {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => ROOT,
      getNewLine: () => "\n",
    };
    throw new Error(ts.formatDiagnostics(problems, host));
  }
}

/**
 * Deno's types that the declarations name (the conformance kit's test context, the transports'
 * Deno-only internals), declared for TypeScript outside Deno: the kit takes any object with
 * `step`, e.g. node:test's context wrapped as tests/package/node/suite.mjs does.
 */
const DENO_SHIM = `// Deno's types that polycrypt's declarations name, for TypeScript outside Deno.
declare namespace Deno {
  interface TestContext {
    step(name: string, fn: (t: TestContext) => void | Promise<void>): Promise<boolean>;
  }
  interface Conn {}
  interface TcpConn extends Conn {}
  interface Listener<C extends Conn = Conn> {}
  interface ForeignLibraryInterface {}
  interface DynamicLibrary<S extends ForeignLibraryInterface> {
    readonly symbols: { [K in keyof S]: (...args: any[]) => any };
  }
}
`;

/** Writes types/_deno.d.ts and references it from every declaration file that names Deno. */
async function shimDenoTypes(dir: string, top = dir): Promise<void> {
  if (dir === top) await Deno.writeTextFile(join(top, "_deno.d.ts"), DENO_SHIM);
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) await shimDenoTypes(path, top);
    if (!entry.name.endsWith(".d.ts") || path === join(top, "_deno.d.ts")) continue;
    const text = await Deno.readTextFile(path);
    const code = text.split("\n").filter((l) => !/^\s*(\*|\/\*\*|\/\/)/.test(l)).join("\n");
    if (!/\bDeno\.[A-Z]/.test(code)) continue;
    const reference = relative(dirname(path), join(top, "_deno.d.ts"));
    await Deno.writeTextFile(path, `/// <reference path="${reference}" />\n${text}`);
  }
}

function packageReadme(): string {
  return `# polycrypt

A crypto engine for secure messaging, built from the Deno sources of
polycrypt for Node (20.16 or later) and browsers.

\`\`\`js
import { decrypt, encrypt, generateIdentity } from "polycrypt";

const { identity, recipient } = await generateIdentity();
const sealed = await encrypt(new TextEncoder().encode("meet at 7"), { recipients: [recipient] });
const opened = await decrypt(sealed, { identities: [identity] });
\`\`\`

Entry points: \`polycrypt\` (the portable core: Node, browsers, Deno, Bun),
\`polycrypt/transports\` (framed delivery over connections), \`polycrypt/testing\` (the
conformance kit, Node) and \`polycrypt/browser\` (the core with its dependencies inlined, minified,
for a page without a bundler). Backends are chosen at run time: node:crypto where present,
WebCrypto and @noble/* elsewhere; Argon2id runs in a worker (a Web Worker in browsers,
node:worker_threads in Node). Byte formats, engines and the command line are documented in the
source repository.
`;
}

/**
 * Bundles `entries` (name -> source) for a page as the web chat's build does (the same shims,
 * worker URLs and inlined dependencies, not minified) into `outdir`: for tests that run a module
 * of their own in Chromium (tests/web/store_test.ts).
 */
export async function bundleForPage(
  entries: Record<string, string>,
  outdir: string,
): Promise<void> {
  const scratch = await Deno.makeTempDir({ prefix: "polycrypt-build-" });
  try {
    const modules = join(scratch, "node_modules");
    await linkNodeModules(modules);
    await esbuild.build({
      absWorkingDir: ROOT,
      bundle: true,
      format: "esm",
      splitting: true,
      target: "es2022",
      nodePaths: [modules],
      plugins: [webShims, workerUrls],
      logLevel: "warning",
      entryPoints: entries,
      outdir,
      platform: "browser",
      external: ["crypto"],
      mainFields: ["browser", "module", "main"],
    });
  } finally {
    await esbuild.stop();
    await Deno.remove(scratch, { recursive: true });
  }
}

if (import.meta.main) await main();
