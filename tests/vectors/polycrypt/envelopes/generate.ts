// Generates committed envelopes that every later polycrypt version must keep decrypting
// (tests/cascade/vectors_test.ts). Run once per set, never over a committed file:
//   deno run --allow-read --allow-write --allow-env tests/vectors/polycrypt/envelopes/generate.ts SET
// SET "v1" wrote envelopes.json (format 1.0, 2026-11); "rsa-key-private" wrote
// rsa_key_private.json (format 1 with key-private RSA stanzas, revision 2: docs/format.md, 2026-12);
// "signed" wrote signed.json (format 1, flag bit 2: sealed sender, section 3.1, 2026-12).
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
  /** The sender's signature engine: the envelope is signed (sealed sender). */
  sign?: string;
}

const v1: Case[] = [
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

const rsaKeyPrivate: Case[] = [
  { name: "rsa-2048, key-private stanza", engine: "rsa-2048", size: 200 },
  { name: "rsa-3072+x25519, key-private RSA half", engine: "rsa-3072+x25519", size: 70000 },
  { name: "two rsa-2048 recipients, armored", engine: "rsa-2048", recipients: 2, armor: true, size: 5 },
];

const signed: Case[] = [
  { name: "default identities, signed by ed25519+ml-dsa-65", engine: "x25519+ml-kem-768", sign: "ed25519+ml-dsa-65", size: 1000 },
  { name: "x25519, signed by ed25519, multi-chunk", engine: "x25519", sign: "ed25519", size: 140000 },
  { name: "passphrase and ml-kem-768, signed by ml-dsa-44, armored", engine: "ml-kem-768", passphrase: "correct horse", sign: "ml-dsa-44", armor: true, size: 300 },
  { name: "passphrase only, signed by ml-dsa-87, empty", passphrase: "pw", sign: "ml-dsa-87", size: 0 },
];

const SETS: Record<string, { file: string; format: string; cases: Case[] }> = {
  "v1": { file: "envelopes.json", format: "polycrypt envelope v1", cases: v1 },
  "rsa-key-private": {
    file: "rsa_key_private.json",
    format: "polycrypt envelope v1, RSA stanzas key-private",
    cases: rsaKeyPrivate,
  },
  "signed": { file: "signed.json", format: "polycrypt envelope v1, signed (sealed sender)", cases: signed },
};
const set = SETS[Deno.args[0]];
if (!set) throw new Error(`usage: generate.ts ${Object.keys(SETS).join("|")}`);
const target = new URL(`./${set.file}`, import.meta.url);
if (await Deno.stat(target).then(() => true, () => false)) {
  throw new Error(`${set.file} exists: committed vectors are never regenerated over`);
}

function plaintextOf(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

const vectors = [];
for (const c of set.cases) {
  const people = c.engine ? await Promise.all(Array.from({ length: c.recipients ?? 1 }, () => generateIdentity(c.engine))) : [];
  const plaintext = plaintextOf(c.size);
  const sender = c.sign ? await generateIdentity("x25519", { signatureEngine: c.sign }) : undefined;
  const sealed = await encrypt(plaintext, {
    sender: sender?.identity,
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
    ...(sender ? { sender: sender.recipient } : {}),
  });
}
await Deno.writeTextFile(
  target,
  JSON.stringify({ format: set.format, generated: new Date().toISOString().slice(0, 10), vectors }, null, 1) + "\n",
);
console.log(`wrote ${vectors.length} vectors`);
