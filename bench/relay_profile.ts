// `deno run --allow-net --allow-write bench/relay_profile.ts PORT SECONDS [OUT.cpuprofile]`: takes
// a CPU profile of a Deno process started with `--inspect=127.0.0.1:PORT` (a `polycrypt relay`
// under `bench/relay.ts` with POLYCRYPT_BENCH_INSPECT=PORT) through the inspector protocol, and
// prints the functions with the most self time, and the time under each top-level module
// (relay/, transports/, engines/, node:sqlite...). Deno 2.9 has no `--cpu-prof`.

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Profiles the inspected process for `seconds` and returns the profile. */
export async function profile(port: number, seconds: number): Promise<Profile> {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let id = 0;
  const waiting = new Map<number, (result: unknown) => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.id !== undefined) waiting.get(message.id)?.(message.result);
  };
  const call = (method: string, params: unknown = {}) =>
    new Promise<unknown>((resolve) => {
      waiting.set(++id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 200 });
  await call("Profiler.start");
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const { profile } = await call("Profiler.stop") as { profile: Profile };
  socket.close();
  return profile;
}

function area(url: string): string {
  if (!url) return "(native/idle)";
  const m = /\/(relay|transports|engines|cascade|cli|bench|tests)\/([^/]+)$/.exec(url);
  if (m) return `${m[1]}/${m[2]}`;
  if (url.includes("node:sqlite") || url.includes("sqlite")) return "sqlite";
  if (url.includes("postgres")) return "npm:postgres";
  if (url.startsWith("ext:")) return url.replace(/^ext:/, "ext:").split("/").slice(0, 2).join("/");
  if (url.startsWith("node:")) return url.split("/")[0];
  return url.replace(/^.*\//, "");
}

/** Self time per function and per file, in ms. */
export function summarize(p: Profile, top = 40): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const total = (p.endTime - p.startTime) / 1000;
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [nodeId, ms] of self) {
    const { functionName, url, lineNumber } = byId.get(nodeId)!.callFrame;
    const name = `${functionName || "(anonymous)"} ${area(url)}:${lineNumber + 1}`;
    fn.set(name, (fn.get(name) ?? 0) + ms);
    const f = functionName === "(idle)" ? "(idle)" : area(url);
    file.set(f, (file.get(f) ?? 0) + ms);
  }
  const lines = [`profile of ${total.toFixed(0)} ms`, "", "self time by file:"];
  for (const [f, ms] of [...file].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    lines.push(
      `  ${(100 * ms / total).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${f}`,
    );
  }
  lines.push("", "self time by function:");
  for (const [f, ms] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(
      `  ${(100 * ms / total).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${f}`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const [port, seconds, out] = Deno.args;
  const p = await profile(Number(port), Number(seconds));
  if (out) await Deno.writeTextFile(out, JSON.stringify(p));
  console.log(summarize(p));
}
