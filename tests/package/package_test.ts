// The npm package (`deno task build`, docs/package.md) where it runs: in Node (`node --test` over
// `npm pack` of dist/ installed in a scratch project: tests/package/node/suite.mjs) and in
// Debian's Chromium driven by puppeteer-core (tests/package/browser/page.js). Chromium is
// installed with apt-get when missing; when it cannot be installed or started, the test fails
// and says why (no silent skip).
import assert from "node:assert/strict";
import ts from "typescript";
import { build, installPackage, openPage, ROOT, serve } from "./_browser.ts";
import { runCommand, runDeno } from "../_process.ts";
import { startProsody } from "../../scripts/prosody.ts";
import { fingerprint, generateIdentity } from "../../mod.ts";

let built: Promise<void> | undefined;
const ready = () => built ??= build();

/** The Deno CLI of this repository, as a user runs it. */
async function cli(args: string[], stdin?: string | Uint8Array, env?: Record<string, string>) {
  const out = await runDeno(["run", "--allow-all", `${ROOT}cli/main.ts`, ...args], {
    stdin,
    env,
    deadlineMs: 120_000,
  });
  if (!out.success) throw new Error(`polycrypt ${args[0]} failed: ${out.stderr}`);
  return out;
}

/** A TypeScript user of the package: it must compile against dist/types with full lib checks. */
const CONSUMER = `
import { decrypt, encrypt, generateIdentity, type KemEngine, registry } from "polycrypt";
import { dial, type Listener, listen, memoryPair } from "polycrypt/transports";
import { kemConformance } from "polycrypt/testing";
const { identity, recipient } = await generateIdentity();
const sealed = await encrypt(new Uint8Array(1), { recipients: [recipient] });
const opened: Uint8Array = await decrypt(sealed, { identities: [identity] });
const kem: KemEngine = registry.kem("x25519");
const [a] = memoryPair();
const id: Uint8Array = await a.send(sealed);
const listener: Listener = await listen("tcp://127.0.0.1:0", () => {});
const peer = await dial(listener.address);
export { id, kem, kemConformance, opened, peer };
`;

/** Type-checks CONSUMER in `scratch` (where the package is installed) with tsc, no skipLibCheck. */
function checkTypes(scratch: string): void {
  Deno.writeTextFileSync(`${scratch}/consumer.ts`, CONSUMER);
  const program = ts.createProgram([`${scratch}/consumer.ts`], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    lib: ["lib.es2024.d.ts", "lib.dom.d.ts"],
    types: [],
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) =>
    ts.flattenDiagnosticMessageText(d.messageText, "\n") +
    (d.file ? ` (${d.file.fileName.replace(scratch, "")})` : "")
  );
  assert.deepEqual(problems, [], "the package's declarations do not type-check");
}

Deno.test({
  name: "the npm package in Node: npm pack, npm install, tsc, node --test",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await ready();
    const scratch = await Deno.makeTempDir({ prefix: "polycrypt-npm-" });
    // An XMPP server for the xmpp: transport in Node (two accounts), as tests/transports/ use.
    const prosody = await startProsody();
    try {
      await prosody.register("alice", "pw-alice");
      await prosody.register("bob", "pw-bob");
      const started = performance.now();
      await installPackage(scratch);
      checkTypes(scratch);
      await Deno.copyFile(
        `${ROOT}tests/package/node/suite.mjs`,
        `${scratch}/suite.mjs`,
      );
      const node = await runCommand("node", ["--test", "suite.mjs"], {
        cwd: scratch,
        env: {
          POLYCRYPT_REPO: ROOT,
          DENO: Deno.execPath(),
          POLYCRYPT_XMPP_SERVER: prosody.server,
          POLYCRYPT_XMPP_CA: prosody.certFile,
        },
        deadlineMs: 900_000,
      });
      const pass = Number(/^# pass (\d+)$/m.exec(node.stdout)?.[1] ?? 0);
      const fail = Number(/^# fail (\d+)$/m.exec(node.stdout)?.[1] ?? -1);
      const figure = /^# # (argon2id .*)$/m.exec(node.stdout)?.[1];
      console.log(
        `node ${(await runCommand("node", ["--version"])).stdout.trim()}: ${pass} passed, ` +
          `${fail} failed in ${((performance.now() - started) / 1000).toFixed(1)} s` +
          (figure ? `; ${figure}` : ""),
      );
      assert.ok(
        node.success && fail === 0 && pass > 200,
        `node --test failed (${pass} passed, ${fail} failed):\n${
          node.stdout.split("\n").filter((l) => /not ok|Error|expected|actual/.test(l)).join("\n")
        }\n${node.stderr}`,
      );
    } finally {
      await prosody.stop();
      await Deno.remove(scratch, { recursive: true });
    }
  },
});

Deno.test({
  name: "the npm package in Chromium: vectors, every engine, Argon2id worker, CLI interop",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await ready();
    const server = serve();
    const { browser, page } = await openPage(server.origin);
    const call = <T>(name: string, ...args: unknown[]): Promise<T> =>
      page.evaluate(
        (n: string, a: unknown[]) =>
          // deno-lint-ignore no-explicit-any
          (globalThis as any).suite[n](...a),
        name,
        args,
      ) as Promise<T>;
    try {
      const platform = await call<Record<string, unknown>>("platform");
      console.log(`chromium: ${JSON.stringify(platform)}`);
      assert.equal(platform.secureContext, true);

      await t.step("the committed envelope vectors decrypt in the page", async () => {
        const counts = await call<Record<string, number>>("vectors", [
          "envelopes.json",
          "rsa_key_private.json",
          "signed.json",
        ]);
        assert.deepEqual(counts, {
          "envelopes.json": 10,
          "rsa_key_private.json": 3,
          "signed.json": 4,
        });
      });

      await t.step("every engine's round trip runs in the page", async (t) => {
        const ids = await call<string[]>("ids");
        assert.ok(ids.length >= 20, ids.join(" "));
        for (const id of ids) {
          await t.step(id, async () => {
            const ms = await call<number>("roundTrip", id);
            assert.ok(ms >= 0);
          });
        }
      });

      await t.step("a 64 MiB stream round-trips in the page", async () => {
        const started = performance.now();
        assert.equal(await call<number>("stream", 64), 64 * 1024 * 1024);
        console.log(`chromium 64 MiB stream: ${Math.round(performance.now() - started)} ms`);
      });

      await t.step(
        "Argon2id runs in a Web Worker, progress reported, page responsive",
        async () => {
          const result = await call<{
            ms: number;
            ticks: number;
            progress: [number, number][];
            atCall: number;
            floorHex: string;
          }>("argon2");
          console.log(
            `chromium argon2id default parameters in a Web Worker: ${Math.round(result.ms)} ms, ` +
              `${result.ticks} timer ticks on the page meanwhile`,
          );
          // hash-wasm runs every pass in one WebAssembly call: 0 (the worker started hashing,
          // never at the call itself) and 1 (the key is ready, before the promise resolves) are
          // the only events there are (docs/package.md, "Argon2id progress").
          assert.equal(result.atCall, 0);
          assert.deepEqual(result.progress.map(([f]) => f), [0, 1]);
          const [[, started], [, done]] = result.progress;
          assert.ok(started <= done && done <= result.ms, JSON.stringify(result.progress));
          // The page's timers ran while the key was derived: the work was off its thread.
          assert.ok(result.ticks >= 5, `${result.ticks} ticks in ${result.ms} ms`);
          // Debian's argon2 CLI (the RFC 9106 reference code), as cascade/argon2.ts's example.
          assert.equal(
            result.floorHex,
            "01dc1e04bc1c7e59cd5f61d55bc8b532dbbb7ebae7e0a8bb87fad8486b94ec8b",
          );
        },
      );

      await t.step("sealed in the page, opened by the Deno CLI, and back", async () => {
        const scratch = await Deno.makeTempDir({ prefix: "polycrypt-browser-" });
        try {
          // The CLI user's identity file, and the page's own identity.
          const keyFile = `${scratch}/cli.key`;
          const keygen = await cli(["keygen", "-o", keyFile]);
          const cliRecipient = /Public key: (\S+)/.exec(keygen.stderr)![1];
          const pageRecipient = await call<string>("identity");

          // Page -> CLI: signed by the page, behind a passphrase too.
          const text = "sealed in Chromium, opened by the CLI";
          const armored = await call<string>("seal", cliRecipient, text, "browser and cli");
          assert.match(armored, /^-----BEGIN POLYCRYPT MESSAGE-----/);
          await Deno.writeTextFile(`${scratch}/from-page.txt`, armored);
          const opened = await cli(
            ["decrypt", "-i", keyFile, "--verify", pageRecipient, `${scratch}/from-page.txt`],
            undefined,
            { POLYCRYPT_PASSPHRASE: "browser and cli" },
          );
          assert.equal(opened.stdout, text);
          assert.match(opened.stderr, new RegExp(fingerprint(pageRecipient).slice(0, 8)));

          // CLI -> page: signed by the CLI user.
          const back = "sealed by the CLI, opened in Chromium";
          const sealed = await cli(
            ["encrypt", "-a", "-r", pageRecipient, "--sign", "-i", keyFile],
            back,
          );
          const got = await call<{ text: string; signer: string | null }>(
            "open",
            sealed.stdout,
            [cliRecipient],
          );
          assert.equal(got.text, back);
          assert.equal(got.signer, fingerprint(cliRecipient));
          // A stranger as the only accepted signer: the page refuses it.
          const stranger = await generateIdentity();
          await assert.rejects(call("open", sealed.stdout, [stranger.recipient]));
        } finally {
          await Deno.remove(scratch, { recursive: true });
        }
      });
    } finally {
      await browser.close();
      await server.close();
    }
  },
});
