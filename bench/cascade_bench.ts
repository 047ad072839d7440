// Envelope benchmarks: a 1 KiB chat message sealed to and opened by the default hybrid identity
// (x25519+ml-kem-768, one AES-256-GCM layer, padded), plus variants that show what each option
// costs. Run: deno task bench (bulk MB/s: deno task bench:throughput).
import { decrypt, DEFAULT_IDENTITY_ENGINE, encrypt, generateIdentity } from "../mod.ts";

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
