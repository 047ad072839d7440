// Node's figures for bench/web.ts (`deno task bench:web`), over the installed package: 1 KiB messages sealed and
// opened per second with the default identity, and Argon2id's default parameters in the
// worker_threads worker. Prints one line of JSON.
import { ARGON2_DEFAULT, argon2id, decrypt, encrypt, generateIdentity } from "polycrypt";

const seconds = Number(process.argv[2] ?? 3);
const { identity, recipient } = await generateIdentity();
const message = crypto.getRandomValues(new Uint8Array(1024));
const one = async () => {
  const sealed = await encrypt(message, { recipients: [recipient] });
  await decrypt(sealed, { identities: [identity] });
};
for (let i = 0; i < 20; i++) await one();
let n = 0;
const started = performance.now();
while (performance.now() - started < seconds * 1000) {
  await one();
  n++;
}
const sealOpenPerSecond = n / ((performance.now() - started) / 1000);
const t0 = performance.now();
await argon2id("correct horse", new Uint8Array(16), ARGON2_DEFAULT);
const argon2Ms = performance.now() - t0;
console.log(JSON.stringify({ node: process.version, sealOpenPerSecond, argon2Ms }));
