// Envelope benchmarks: a 1 KiB chat message sealed to and opened by the default hybrid identity
// (x25519+ml-kem-768, one AES-256-GCM layer, padded), plus variants that show what each option
// costs; and the STREAM over 4 MiB per AEAD stack (baseline: one AES-256-GCM layer).
// Run: deno task bench (bulk MB/s: deno task bench:throughput, bench:report).
import {
  decrypt,
  decryptStream,
  DEFAULT_IDENTITY_ENGINE,
  encrypt,
  encryptStream,
  generateIdentity,
} from "../mod.ts";

const message = new Uint8Array(1024).fill(0x61);

const variants: { name: string; engine: string; aead?: string[]; armor?: boolean }[] = [
  { name: `${DEFAULT_IDENTITY_ENGINE} (default)`, engine: DEFAULT_IDENTITY_ENGINE },
  {
    name: `${DEFAULT_IDENTITY_ENGINE}, aes-256-gcm + xchacha20-poly1305`,
    engine: DEFAULT_IDENTITY_ENGINE,
    aead: ["aes-256-gcm", "xchacha20-poly1305"],
  },
  { name: `${DEFAULT_IDENTITY_ENGINE}, armored`, engine: DEFAULT_IDENTITY_ENGINE, armor: true },
  { name: "x25519", engine: "x25519" },
  { name: "ml-kem-768", engine: "ml-kem-768" },
];

for (const v of variants) {
  const { identity, recipient } = await generateIdentity(v.engine);
  const options = { recipients: [recipient], aead: v.aead, armor: v.armor };
  const sealed = await encrypt(message, options);
  Deno.bench({
    name: `encrypt 1 KiB: ${v.name}`,
    group: "encrypt 1 KiB",
    baseline: v.name.endsWith("(default)"),
    fn: async () => void await encrypt(message, options),
  });
  Deno.bench({
    name: `decrypt 1 KiB: ${v.name}`,
    group: "decrypt 1 KiB",
    baseline: v.name.endsWith("(default)"),
    fn: async () => void await decrypt(sealed, { identities: [identity] }),
  });
}

const streamBytes = 4 << 20;
const block = new Uint8Array(1 << 20).fill(0x62);
const source = () =>
  ReadableStream.from((function* () {
    for (let i = 0; i < streamBytes; i += block.length) yield block;
  })());
async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}
const x = await generateIdentity("x25519");
for (
  const aead of [["aes-256-gcm"], ["chacha20-poly1305"], ["aes-256-gcm", "xchacha20-poly1305"]]
) {
  const options = { recipients: [x.recipient], aead, pad: false };
  const sealed = await drain(source().pipeThrough(encryptStream(options)));
  const name = aead.join("+");
  Deno.bench({
    name: `encryptStream 4 MiB: ${name}`,
    group: "stream 4 MiB encrypt",
    baseline: name === "aes-256-gcm",
    n: 20,
    fn: async () => void await drain(source().pipeThrough(encryptStream(options))),
  });
  Deno.bench({
    name: `decryptStream 4 MiB: ${name}`,
    group: "stream 4 MiB decrypt",
    baseline: name === "aes-256-gcm",
    n: 20,
    fn: async () =>
      void await drain(
        ReadableStream.from(sealed).pipeThrough(decryptStream({ identities: [x.identity] })),
      ),
  });
}
