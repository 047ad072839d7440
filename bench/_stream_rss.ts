// Child process of bench:report: `encryptStream | decryptStream` (or `encryptStream` alone when
// argv[1] is "encrypt") over N MiB (argv[0], default 1024) with one AES-256-GCM layer, then
// prints {"bytes", "seconds", "peakRssKiB"} as JSON.
// A separate process, so the peak resident set (VmHWM) is the stream's alone. Needs
// --allow-read --allow-run=cat.
import { decryptStream, encryptStream, generateIdentity } from "../mod.ts";
import { peakRssKiB } from "../tests/_process.ts";

const mib = Number(Deno.args[0] ?? 1024);
const encryptOnly = Deno.args[1] === "encrypt";
const { identity, recipient } = await generateIdentity("x25519");
const block = new Uint8Array(1 << 20).fill(7);
const source = ReadableStream.from((function* () {
  for (let i = 0; i < mib; i++) yield block;
})());
const start = performance.now();
let bytes = 0;
const sealed = source.pipeThrough(encryptStream({ recipients: [recipient] }));
const out = encryptOnly ? sealed : sealed.pipeThrough(decryptStream({ identities: [identity] }));
for await (const chunk of out) bytes += chunk.length;
const seconds = (performance.now() - start) / 1000;
console.log(JSON.stringify({ bytes, seconds, peakRssKiB: await peakRssKiB(Deno.pid) }));
