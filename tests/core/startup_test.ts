// The CLI loads only what a command needs (issue 22, "File speed at least age's": the 1 KiB round
// trip, start-up included): cli/main.ts imports no transport and none of the command modules that
// load when used (`deno info`). Nothing here measures time.
import assert from "node:assert/strict";
import { runDeno } from "../_process.ts";

const ROOT = new URL("../../", import.meta.url);

interface ModuleInfo {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/** The modules `root` loads statically (not through a dynamic import), relative to ROOT. */
async function eagerModules(
  root: string,
): Promise<{ eager: string[]; graph: { modules: ModuleInfo[] } }> {
  const out = await runDeno(["info", "--json", root], { cwd: ROOT.pathname });
  assert.equal(out.code, 0, out.stderr);
  const graph = JSON.parse(out.stdout) as {
    roots: string[];
    modules: ModuleInfo[];
    redirects: Record<string, string>;
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...graph.roots];
  while (stack.length > 0) {
    const popped = stack.pop()!;
    const specifier = graph.redirects[popped] ?? popped;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.code && !dep.isDynamic) stack.push(dep.code.specifier);
    }
  }
  assert.ok(seen.size > 20, `walked ${seen.size} modules`);
  return { eager: [...seen].map((s) => s.replace(ROOT.href, "")), graph };
}

Deno.test("cli/main.ts imports no transport and no command module that loads when used", async () => {
  const { eager, graph } = await eagerModules("cli/main.ts");
  for (const lazy of ["cli/listen.ts", "cli/send.ts", "cli/_chat.ts", "cli/_bench.ts"]) {
    assert.ok(!eager.includes(lazy), `${lazy} is imported statically`);
  }
  for (const lazy of ["cli/sign.ts", "cli/_completion.ts", "cli/contact.ts"]) {
    assert.ok(!eager.includes(lazy), `${lazy} is imported statically`);
  }
  assert.deepEqual(eager.filter((s) => s.startsWith("transports/")), []);
  // Sessions, relays and groups load with the commands that use them (chat, bundle, inbox, fetch,
  // group); inspect needs only the mode-0x02 framing.
  assert.deepEqual(
    eager.filter((s) => /^(sessions|relay|groups)\//.test(s) && s !== "sessions/message.ts"),
    [],
  );
  assert.deepEqual(eager.filter((s) => /^npm:\/?(socks|argon2|hash-wasm)@/.test(s)), []);
  // The graph is whole: the lazy modules are still there, as dynamic imports.
  assert.ok(graph.modules.some((m) => m.specifier.endsWith("/cli/listen.ts")));
});

Deno.test("transports/mod.ts loads @xmpp/client and node-datachannel only on first use", async () => {
  const { eager, graph } = await eagerModules("transports/mod.ts");
  assert.ok(eager.includes("transports/xmpp.ts") && eager.includes("transports/webrtc.ts"));
  assert.deepEqual(eager.filter((s) => /^npm:\/?(@xmpp\/client|node-datachannel)@/.test(s)), []);
  // Still in the graph, as dynamic imports.
  assert.ok(graph.modules.some((m) => m.specifier.includes("@xmpp/client@")));
});
