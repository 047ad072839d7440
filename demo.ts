/**
 * `deno task demo`: the product tour. Alice writes to Bob through every layer
 * of the cascade, then the engines are listed and each family runs one round
 * trip with timings.
 *
 * @module
 */
import { decrypt, DecryptionError, encrypt, generateIdentity, inspect, registry } from "./mod.ts";
import type { AeadEngine, KemEngine } from "./mod.ts";

const te = new TextEncoder();

async function timed<T>(f: () => Promise<T>): Promise<[T, string]> {
  const t0 = performance.now();
  const value = await f();
  return [value, `${(performance.now() - t0).toFixed(1)} ms`.padStart(10)];
}

function row(cells: (string | number | boolean)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padEnd(widths[i])).join("  ").trimEnd();
}

// ------------------------------------------------------------ the tour
console.log("polycrypt: Alice writes to Bob\n");
const [[alice], [bob]] = await Promise.all([
  timed(() => generateIdentity()),
  timed(() => generateIdentity()),
]);
console.log(`Alice and Bob each generate an identity on their own device (default engine).`);
console.log(`  Bob's recipient: ${bob.recipient.slice(0, 60)}... (${bob.recipient.length} chars)`);
const passphrase = "blue heron at the old mill"; // agreed in person; demo only
const chat = "Bob, the meeting moved to Thursday 18:00. Bring the printed keys. -- A";
const [sealed, tSeal] = await timed(() =>
  encrypt(te.encode(chat), {
    recipients: [bob.recipient, alice.recipient],
    passphrase,
    aead: ["aes-256-gcm", "xchacha20-poly1305"],
    armor: true,
  })
);
const armored = new TextDecoder().decode(sealed);
console.log(`\nAlice seals a ${chat.length}-byte chat message for Bob (and herself) with`);
console.log(
  `  passphrase (Argon2id 64 MiB) + x25519+ml-kem-768 + aes-256-gcm + xchacha20-poly1305:${tSeal}`,
);
console.log(armored.split("\n").slice(0, 3).join("\n") + "\n  ...");
console.log(`  ${armored.length} characters of armor.`);

const outside = await inspect(sealed);
console.log(`\nWhat anyone on the wire sees (inspect):`);
console.log(
  `  format v${outside.version}, armored: ${outside.armored}, password layer: ${outside.passwordProtected}`,
);
console.log(
  `  Argon2id m=${outside.argon2?.memoryKiB} KiB t=${outside.argon2?.passes} p=${outside.argon2?.parallelism}; recipients, AEADs and length class are hidden`,
);

const [opened, tOpen] = await timed(() =>
  decrypt(sealed, { identities: [bob.identity], passphrase })
);
console.log(`\nBob decrypts with his identity AND the passphrase:${tOpen}`);
console.log(`  "${new TextDecoder().decode(opened)}"`);

for (
  const [what, options] of [
    ["the wrong passphrase", {
      identities: [bob.identity],
      passphrase: "blue heron at the new mill",
    }],
    ["his identity alone", { identities: [bob.identity] }],
    ["the passphrase alone", { passphrase }],
  ] as const
) {
  try {
    await decrypt(sealed, options);
    console.log(`  ${what}: DECRYPTED, which must never happen`);
    Deno.exitCode = 1;
  } catch (e) {
    const ok = e instanceof DecryptionError;
    console.log(`  Bob tries ${what}: ${ok ? `refused (${e.message})` : `unexpected ${e}`}`);
    if (!ok) Deno.exitCode = 1;
  }
}

// ------------------------------------------------------------ the engines
console.log("\npolycrypt engines\n");
const widths = [20, 8, 5, 5, 8, 8, 8];
console.log(row(["id", "family", "pq", "bits", "pk B", "enc B", "ss B"], widths));
for (const id of registry.ids()) {
  const e = registry.get(id);
  if (e.kind === "kem") {
    console.log(row([
      e.id,
      e.family,
      e.postQuantum ? "yes" : "no",
      e.securityBits,
      e.publicKeySize,
      e.encapsulationSize,
      e.sharedSecretSize,
    ], widths));
  }
}
console.log(`\n${row(["id", "key B", "nonce B", "tag B"], widths)}`);
for (const id of registry.ids()) {
  const e = registry.get(id);
  if (e.kind === "aead") console.log(row([e.id, e.keySize, e.nonceSize, e.tagSize], widths));
}

async function kemRoundTrip(kem: KemEngine): Promise<void> {
  const [keys, tGen] = await timed(() => kem.generateKeyPair());
  const [{ encapsulation, sharedSecret }, tEnc] = await timed(() =>
    kem.encapsulate(keys.publicKey)
  );
  const [opened, tDec] = await timed(() => kem.decapsulate(encapsulation, keys.secretKey));
  const ok = opened.toHex() === sharedSecret.toHex();
  console.log(
    `${kem.id.padEnd(20)} keygen ${tGen}  encap ${tEnc}  decap ${tDec}  ${ok ? "ok" : "MISMATCH"}`,
  );
  if (!ok) Deno.exitCode = 1;
}

async function aeadRoundTrip(aead: AeadEngine): Promise<void> {
  const key = crypto.getRandomValues(new Uint8Array(aead.keySize));
  const nonce = crypto.getRandomValues(new Uint8Array(aead.nonceSize));
  const message = te.encode("Meet me at the usual place at 7.");
  const [sealed, tSeal] = await timed(() => aead.seal(key, nonce, message));
  const [opened, tOpen] = await timed(() => aead.open(key, nonce, sealed));
  const ok = new TextDecoder().decode(opened) === "Meet me at the usual place at 7.";
  console.log(`${aead.id.padEnd(20)} seal   ${tSeal}  open  ${tOpen}  ${ok ? "ok" : "MISMATCH"}`);
  if (!ok) Deno.exitCode = 1;
}

console.log("\none round trip per family (first call includes warm-up)\n");
for (const id of ["rsa-2048", "elgamal-2048", "ml-kem-768", "x25519", "x448"]) {
  await kemRoundTrip(registry.kem(id));
}
for (const id of ["aes-256-gcm", "chacha20-poly1305", "xchacha20-poly1305", "aes-256-gcm-siv"]) {
  await aeadRoundTrip(registry.aead(id));
}
