// The portable core (issue 19, section 1): mod.ts pulls no network code, native addon or node:*
// module into an importer's graph, loads and works with no permission at all, and computes the
// same bytes where the platform has no node built-ins (a browser) as where it has them.
import assert from "node:assert/strict";
import * as core from "../../mod.ts";
import { ARGON2_FLOOR, decrypt, encrypt, generateIdentity, registry } from "../../mod.ts";
import { runDeno } from "../_process.ts";
import { KEY, sameBytes } from "./_same_bytes.ts";

const ROOT = new URL("../../", import.meta.url);
const MOD = new URL("mod.ts", ROOT).href;

/** `deno info --json mod.ts`: the module graph every importer of the core downloads. */
interface ModuleInfo {
  specifier: string;
  dependencies?: { specifier: string; code?: { specifier: string }; isDynamic?: boolean }[];
}

async function coreGraph(): Promise<{ modules: ModuleInfo[]; redirects: Record<string, string> }> {
  const out = await runDeno(["info", "--json", "mod.ts"], { cwd: ROOT.pathname });
  assert.equal(out.code, 0);
  return JSON.parse(out.stdout);
}

/** npm modules appear as `npm:/name@version/...`; compare them as `npm:name@...`. */
const normal = (specifier: string) => specifier.replace(/^npm:\//, "npm:");

Deno.test("deno info mod.ts lists no transport, native addon or bench peer", async () => {
  const { modules } = await coreGraph();
  const forbidden = [
    "npm:argon2",
    "npm:socks",
    "npm:openpgp",
    "npm:age-encryption",
    "npm:libsodium-wrappers",
    "npm:@hpke/",
    "node:net",
    "node:dgram",
  ];
  const specifiers = modules.map((m) => normal(m.specifier));
  assert.ok(specifiers.includes(MOD), "mod.ts itself is in its graph");
  for (const specifier of specifiers) {
    for (const bad of forbidden) {
      assert.ok(!specifier.startsWith(bad), `${specifier} is in mod.ts's graph`);
    }
  }
  assert.ok(!specifiers.some((s) => s.includes("/transports/")), "no transport module");
});

Deno.test("no module statically reachable from mod.ts is node:*, npm:argon2 or npm:socks", async () => {
  const { modules, redirects } = await coreGraph();
  const bySpecifier = new Map(modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [MOD];
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    const resolved = redirects[specifier] ?? specifier;
    if (seen.has(resolved)) continue;
    seen.add(resolved);
    for (const dep of bySpecifier.get(resolved)?.dependencies ?? []) {
      // Only static code imports: type-only references and dynamic imports are not loaded with
      // the core.
      if (!dep.code || dep.isDynamic) continue;
      stack.push(dep.code.specifier);
    }
  }
  assert.ok(seen.size > 10, `walked ${seen.size} modules`);
  for (const specifier of [...seen].map(normal)) {
    assert.ok(!specifier.startsWith("node:"), `${specifier} is imported statically`);
    assert.ok(!/^npm:(argon2|socks)@/.test(specifier), `${specifier} is imported statically`);
  }
});

Deno.test("the core loads and round-trips with no permission at all, without prompting", async () => {
  const script = `
    import { ARGON2_FLOOR, decrypt, encrypt, generateIdentity, registry } from "${MOD}";
    const id = await generateIdentity("x25519+ml-kem-768");
    const message = new TextEncoder().encode("portable core");
    const sealed = await encrypt(message, {
      recipients: [id.recipient],
      passphrase: "correct horse",
      argon2: ARGON2_FLOOR,
    });
    const opened = await decrypt(sealed, { identities: [id.identity], passphrase: "correct horse" });
    if (new TextDecoder().decode(opened) !== "portable core") throw new Error("round trip failed");
    const aead = registry.aead("aes-256-gcm");
    const key = crypto.getRandomValues(new Uint8Array(32));
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const box = await aead.seal(key, nonce, message);
    if ((await aead.open(key, nonce, box)).length !== message.length) throw new Error("AES-GCM");
    console.log("round trip ok");
  `;
  const out = await runDeno(["run", "--no-prompt", "-"], {
    stdin: script,
    cwd: ROOT.pathname,
    deadlineMs: 120_000,
  });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.trim(), "round trip ok");
});

Deno.test("without node built-ins (a browser) the core falls back and computes the same bytes", async () => {
  // The parent's view, on node:crypto.
  const computed = await sameBytes(core);

  const id = await generateIdentity("x25519+ml-kem-768");
  const rsa = registry.kem("rsa-2048");
  const rsaPair = await rsa.generateKeyPair();
  const rsaEncap = await rsa.encapsulate(rsaPair.publicKey);
  const fromParent = await encrypt(new TextEncoder().encode("to the browser"), {
    recipients: [id.recipient],
    passphrase: "pw",
    argon2: ARGON2_FLOOR,
  });

  const hex = (b: Uint8Array) => b.toHex();
  const script = `
    // What a browser lacks: node's built-in modules (process.getBuiltinModule). navigator goes
    // too, to show that nothing reads it when the core loads. (Deno itself cannot go: Deno's own
    // npm loader needs it.)
    delete globalThis.process;
    delete globalThis.navigator;
    if (typeof globalThis.process !== "undefined") throw new Error("process is still there");
    if (typeof globalThis.navigator !== "undefined") throw new Error("navigator is still there");
    const core = await import("${MOD}");
    const { nodeCrypto } = await import("${new URL("engines/_node.ts", ROOT).href}");
    if (nodeCrypto() !== undefined) throw new Error("node:crypto was still found");
    const { sameBytes } = await import("${new URL("_same_bytes.ts", import.meta.url).href}");
    const hex = (b) => b.toHex();
    const bytes = (h) => Uint8Array.fromHex(h);
    const computed = await sameBytes(core);
    const x25519Pair = await core.registry.kem("x25519").deriveKeyPair(bytes("${KEY}"));
    let refused = false;
    try {
      core.createRsaEngine(2048, { backend: "node" });
    } catch {
      refused = true;
    }
    if (!refused) throw new Error("the node RSA backend was made without node:crypto");
    const rsa = core.registry.kem("rsa-2048");
    const rsaSecret = await rsa.decapsulate(bytes("${hex(rsaEncap.encapsulation)}"),
      bytes("${hex(rsaPair.secretKey)}"));
    const rsaPublic = await rsa.publicKeyFromSecretKey(bytes("${hex(rsaPair.secretKey)}"));
    const toParent = await rsa.encapsulate(bytes("${hex(rsaPair.publicKey)}"));
    const opened = await core.decrypt(bytes("${hex(fromParent)}"),
      { identities: ["${id.identity}"], passphrase: "pw" });
    const sealed = await core.encrypt(new TextEncoder().encode("from the browser"), {
      recipients: ["${id.recipient}"], passphrase: "pw", argon2: core.ARGON2_FLOOR,
    });
    const ephemeral = await core.registry.kem("x25519").encapsulate(x25519Pair.publicKey);
    // ElGamal from 3072 bits runs in node:worker_threads; without them, inline.
    const elgamal = core.registry.kem("elgamal-3072");
    const elgamalPair = await elgamal.generateKeyPair();
    const elgamalEncap = await elgamal.encapsulate(elgamalPair.publicKey);
    const elgamalSecret = await elgamal.decapsulate(elgamalEncap.encapsulation, elgamalPair.secretKey);
    if (hex(elgamalSecret) !== hex(elgamalEncap.sharedSecret)) throw new Error("ElGamal");
    console.log(JSON.stringify({
      computed,
      rsaSecret: hex(rsaSecret),
      rsaPublic: hex(rsaPublic),
      toParent: { encapsulation: hex(toParent.encapsulation), secret: hex(toParent.sharedSecret) },
      opened: new TextDecoder().decode(opened),
      sealed: hex(sealed),
      ephemeral: { encapsulation: hex(ephemeral.encapsulation), secret: hex(ephemeral.sharedSecret) },
    }));
  `;
  const out = await runDeno(["run", "--no-prompt", "-"], {
    stdin: script,
    cwd: ROOT.pathname,
    deadlineMs: 120_000,
  });
  assert.equal(out.code, 0, out.stderr);
  const child = JSON.parse(out.stdout.trim().split("\n").at(-1)!);

  assert.deepEqual(child.computed, computed);
  assert.equal(child.rsaSecret, hex(rsaEncap.sharedSecret));
  assert.equal(child.rsaPublic, hex(rsaPair.publicKey));
  assert.equal(
    hex(await rsa.decapsulate(Uint8Array.fromHex(child.toParent.encapsulation), rsaPair.secretKey)),
    child.toParent.secret,
  );
  assert.equal(child.opened, "to the browser");
  const opened = await decrypt(Uint8Array.fromHex(child.sealed), {
    identities: [id.identity],
    passphrase: "pw",
  });
  assert.equal(new TextDecoder().decode(opened), "from the browser");
  const x25519 = registry.kem("x25519");
  const pair = await x25519.deriveKeyPair!(Uint8Array.fromHex(KEY));
  assert.equal(
    hex(
      await x25519.decapsulate(Uint8Array.fromHex(child.ephemeral.encapsulation), pair.secretKey),
    ),
    child.ephemeral.secret,
  );
});
