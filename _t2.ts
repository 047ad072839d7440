import { encryptStream, decryptStream, generateIdentity } from "./mod.ts";
const { identity, recipient } = await generateIdentity("x25519");
const data = new Uint8Array(1 << 20).map((_, i) => (i * 7919 + 13) & 255 || 1);
const N = 256;
const src = () => ReadableStream.from((function* () { for (let i = 0; i < N; i++) yield data; })());
let t = performance.now(); let bytes = 0; const parts: Uint8Array[] = [];
for await (const c of src().pipeThrough(encryptStream({ recipients: [recipient] }))) { bytes += c.length; parts.push(c); }
console.log("enc MB/s", (N * 1.048576 / ((performance.now() - t) / 1000)).toFixed(0), bytes);
t = performance.now(); let out = 0;
for await (const c of ReadableStream.from(parts).pipeThrough(decryptStream({ identities: [identity] }))) out += c.length;
console.log("dec MB/s", (N * 1.048576 / ((performance.now() - t) / 1000)).toFixed(0), out);
