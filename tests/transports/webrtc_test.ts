// The WebRTC data channel tests, each file in a `deno test` process of its own: node-datachannel's
// native addon binds to the first JavaScript isolate that loads it, and `deno test` runs each test
// file (and each documentation example) in an isolate of its own within one process, so a second
// isolate using it would crash the whole run (docs/transports.md section 12). The files named here
// are not picked up by `deno test` itself (no `_test` suffix).
import assert from "node:assert/strict";
import { runDeno } from "../_process.ts";

const CASES = [
  "./_webrtc_cases.ts", // loopback channel, 100 MiB with bounded memory, peer closing, signals
  "./_webrtc_peer_cases.ts", // a peer process dying mid-stream, signalled through a relay process
  "../relay/_signal_cases.ts", // signalling through a relay process; forged, replayed, stale
];

for (const file of CASES) {
  Deno.test(`webrtc: ${file}`, async () => {
    const path = new URL(file, import.meta.url).pathname;
    const r = await runDeno(["test", "--allow-all", path], { env: { NO_COLOR: "1" } });
    console.log(r.stdout.split("\n").filter((l) => /output|RSS|ms|MiB|passed/.test(l)).join("\n"));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /ok \| [1-9]\d* passed \| 0 failed/);
  });
}
