// Node's side of bench/web.ts (`deno task bench:web`), over the installed package: a process that
// answers one JSON line on stdout for each JSON line on stdin, so that the benchmark can take its
// turns with Chromium and Deno in short slices, all under the same load:
//
// - {"op":"version"} -> {"node":"v20.x"}
// - {"op":"slice","ms":N} -> {"n":COUNT,"ms":ELAPSED}: 1 KiB messages sealed and opened with the
//   default identity for about N ms (the identity made and the code warmed up on the first slice);
// - {"op":"argon2"} -> {"ms":ELAPSED}: Argon2id with the default parameters, in the worker_threads
//   worker.
import { createInterface } from "node:readline";
import { ARGON2_DEFAULT, argon2id, decrypt, encrypt, generateIdentity } from "polycrypt";

let state;
async function prepared() {
  if (state) return state;
  const { identity, recipient } = await generateIdentity();
  const message = crypto.getRandomValues(new Uint8Array(1024));
  const one = async () => {
    const sealed = await encrypt(message, { recipients: [recipient] });
    await decrypt(sealed, { identities: [identity] });
  };
  for (let i = 0; i < 20; i++) await one(); // warm up: caches, JIT
  return state = { one };
}

async function slice(ms) {
  const { one } = await prepared();
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    await one();
    n++;
  }
  return { n, ms: performance.now() - started };
}

async function argon2() {
  const started = performance.now();
  await argon2id("correct horse", new Uint8Array(16), ARGON2_DEFAULT);
  return { ms: performance.now() - started };
}

for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line);
  const answer = request.op === "slice"
    ? await slice(request.ms)
    : request.op === "argon2"
    ? await argon2()
    : { node: process.version };
  process.stdout.write(JSON.stringify(answer) + "\n");
}
