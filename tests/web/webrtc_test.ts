// A page in Chromium and a Deno process over a WebRTC data channel (tests/web/_webrtc_page_cases.ts),
// in a `deno test` process of its own: node-datachannel's native addon binds to the first
// JavaScript isolate that loads it (docs/transports.md section 12), and `deno test` runs each test
// file in an isolate of its own within one process.
import assert from "node:assert/strict";
import { runDeno } from "../_process.ts";

Deno.test("webrtc in Chromium: ./_webrtc_page_cases.ts", async () => {
  const path = new URL("./_webrtc_page_cases.ts", import.meta.url).pathname;
  const r = await runDeno(["test", "--allow-all", path], {
    env: { NO_COLOR: "1" },
    deadlineMs: 900_000,
  });
  console.log(r.stdout.split("\n").filter((l) => /offers|passed/.test(l)).join("\n"));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /ok \| [1-9]\d* passed \| 0 failed/);
});
