// `polycrypt doctor` (docs/cli.md, "doctor"): real probes on loopback, and a failing one reported.
import assert from "node:assert/strict";
import { NET_PERMS, runCli } from "./_cli.ts";

Deno.test("doctor: every transport works with the permissions it needs", async () => {
  const r = await runCli(["doctor", "--json"], ["--allow-all"]);
  assert.equal(r.code, 0, r.stderr);
  const results = JSON.parse(r.stdout) as { transport: string; ok: boolean | null }[];
  const ok = results.filter((x) => x.ok).map((x) => x.transport);
  assert.deepEqual(ok, ["tcp", "ws", "udp", "webrtc"]);
  assert.deepEqual(results.filter((x) => x.ok === null).map((x) => x.transport), ["tls", "sctp"]);
});

Deno.test("doctor: without --allow-ffi the data channel is reported failed, exit 3", async () => {
  const r = await runCli(["doctor"], NET_PERMS);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /^tcp +ok/m);
  assert.match(r.stdout, /^webrtc +failed needs --allow-ffi/m);
  assert.match(r.stderr, /1 probe\(s\) failed/);
});

Deno.test("doctor: a relay that is not there is reported", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const r = await runCli(["doctor", "--relay", `ws://127.0.0.1:${port}`], ["--allow-all"]);
  assert.equal(r.code, 3);
  assert.match(r.stdout, /^relay +failed/m);
});
