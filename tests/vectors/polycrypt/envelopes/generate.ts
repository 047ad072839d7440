// Generates envelopes.json: format-v1 envelopes that every later polycrypt version must keep
// decrypting (tests/cascade/vectors_test.ts). Run once per format version:
//   deno run --allow-read --allow-write --allow-env tests/vectors/polycrypt/envelopes/generate.ts
// Regenerating replaces the committed vectors: only do it for a new format version, into a new file.
import { ARGON2_FLOOR, encrypt, generateIdentity } from "../../../../mod.ts";

interface Case {
  name: string;
  engine?: string;
  aead?: string[];
  passphrase?: string;
  pad?: boolean;
  armor?: boolean;
  size: number;
  recipients?: number;
}

const cases: Case[] = [
  { name: "x25519, one AES-256-GCM layer", engine: "x25519", size: 100 },
  { name: "default hybrid, two AEADs", engine: "x25519+ml-kem-768", aead: ["aes-256-gcm", "xchacha20-poly1305"], size: 1000 },
  { name: "passphrase only", passphrase: "correct horse battery staple", size: 50 },
  { name: "passphrase and hybrid", engine: "x25519+ml-kem-768", passphrase: "pässphrase ☃", size: 300 },
  { name: "three-KEM hybrid", engine: "rsa-2048+elgamal-2048+ml-kem-768", size: 64 },
  { name: "three recipients, multi-chunk", engine: "ml-kem-1024", recipients: 3, size: 140000 },
  { name: "x448, no padding", engine: "x448", pad: false, size: 777 },
  { name: "ml-kem-512, armored, three AEADs", engine: "ml-kem-512", armor: true, aead: ["chacha20-poly1305", "aes-256-gcm-siv", "aes-256-gcm"], size: 0 },
  { name: "rsa-3072", engine: "rsa-3072", size: 65536 },
  { name: "elgamal-3072", engine: "elgamal-3072", size: 1 },
];

function plaintextOf(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

const vectors = [];
for (const c of cases) {
  const people = c.engine ? await Promise.all(Array.from({ length: c.recipients ?? 1 }, () => generateIdentity(c.engine))) : [];
  const plaintext = plaintextOf(c.size);
  const sealed = await encrypt(plaintext, {
    recipients: people.map((p) => p.recipient),
    passphrase: c.passphrase,
    aead: c.aead,
    pad: c.pad,
    armor: c.armor,
    argon2: ARGON2_FLOOR,
  });
  vectors.push({
    name: c.name,
    identity: people.at(-1)?.identity,
    passphrase: c.passphrase,
    plaintextSha256: new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(plaintext))).toHex(),
    plaintextSize: c.size,
    envelope: c.armor ? new TextDecoder().decode(sealed) : sealed.toBase64(),
    armored: c.armor ?? false,
  });
}
await Deno.writeTextFile(
  new URL("./envelopes.json", import.meta.url),
  JSON.stringify({ format: "polycrypt envelope v1", generated: new Date().toISOString().slice(0, 10), vectors }, null, 1) + "\n",
);
console.log(`wrote ${vectors.length} vectors`);
