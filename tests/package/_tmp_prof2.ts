import { openPage, serve } from "./_browser.ts";
const server = serve();
const { browser, page } = await openPage(server.origin);
await page.evaluate(`(async () => {
  const m = await import("/dist/browser/index.js");
  globalThis.m = m;
  const { identity, recipient } = await m.generateIdentity();
  globalThis.kp = { identity, recipient };
  globalThis.msg = new Uint8Array(1024);
  for (let i = 0; i < 50; i++) { const s = await m.encrypt(msg, { recipients: [recipient] }); await m.decrypt(s, { identities: [identity] }); }
})()`);
const cdp = await page.createCDPSession();
await cdp.send("Profiler.enable");
await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
await cdp.send("Profiler.start");
const ms = await page.evaluate(`(async () => {
  const t = performance.now();
  for (let i = 0; i < 1000; i++) { const s = await m.encrypt(msg, { recipients: [kp.recipient] }); await m.decrypt(s, { identities: [kp.identity] }); }
  return performance.now() - t;
})()`);
const { profile } = await cdp.send("Profiler.stop") as any;
const self = new Map<string, number>();
const dt = new Map<number, number>();
profile.samples.forEach((id: number, i: number) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
for (const node of profile.nodes) {
  const name = `${node.callFrame.functionName || "(anon)"}:${node.callFrame.lineNumber}:${node.callFrame.url.split("/").pop()}`;
  self.set(name, (self.get(name) ?? 0) + (dt.get(node.id) ?? 0));
}
console.log("per round trip us", (ms as number));
const parent = new Map<number, any>();
for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node);
const chains = new Map<string, number>();
for (const node of profile.nodes) {
  if (node.callFrame.functionName !== "process") continue;
  let p = parent.get(node.id); const chain: string[] = [];
  for (let i = 0; i < 8 && p; i++) { chain.push(`${p.callFrame.functionName || "anon"}@${p.callFrame.lineNumber}:${p.callFrame.columnNumber}`); p = parent.get(p.id); }
  const k = chain.join(" < ");
  chains.set(k, (chains.get(k) ?? 0) + (dt.get(node.id) ?? 0));
}
for (const [k, v] of [...chains].sort((a, b) => b[1] - a[1]).slice(0, 6)) console.log((v/1000).toFixed(0), "ms", k);
const total = [...self.values()].reduce((a, b) => a + b, 0);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((v / total * 100).toFixed(1).padStart(5), k);
await browser.close(); await server.close();
