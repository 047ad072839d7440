// Engine micro benchmarks: keygen, encapsulate and decapsulate for every registered KEM id, AEAD
// throughput, signature sign/verify, and the alternative backends side by side, grouped per
// family; each group's baseline is the registry's default of the family's most used size
// (rsa-3072, elgamal-2048, ml-kem-768, x25519, x25519+ml-kem-768, aes-256-gcm, ed25519,
// ml-dsa-65), next to @noble alone for signatures. Run: deno task bench
// Slow cases (RSA-8192 keygen, forge RSA keygen above 2048) run only with POLYCRYPT_BENCH_SLOW=1.
import {
  aes256Gcm,
  createAes256Gcm,
  createChaCha20Poly1305,
  createEd25519Engine,
  createElGamalEngine,
  createMlDsaEngine,
  createMlKemEngine,
  createRsaEngine,
  createX25519Engine,
  createX448Engine,
  createXChaCha20Poly1305,
  ed25519,
  ed25519MlDsa65,
  mlDsa65,
  registry,
} from "../mod.ts";
import type { AeadEngine, KemEngine, KemKeyPair, SignatureEngine } from "../mod.ts";
import { ed25519 as nobleEd25519 } from "@noble/curves/ed25519.js";
import { ml_dsa65 as nobleMlDsa65 } from "@noble/post-quantum/ml-dsa.js";

const SLOW = Deno.env.get("POLYCRYPT_BENCH_SLOW") === "1";

async function fixtureKeyPair(bits: number): Promise<KemKeyPair | undefined> {
  // Big RSA keys take a minute to generate; the RSA tests' fixture keys serve instead.
  try {
    const dir = new URL(`../tests/fixtures/rsa/`, import.meta.url);
    return {
      publicKey: await Deno.readFile(new URL(`rsa${bits}.spki.der`, dir)),
      secretKey: await Deno.readFile(new URL(`rsa${bits}.pkcs8.der`, dir)),
    };
  } catch {
    return undefined;
  }
}

async function benchKem(group: string, kem: KemEngine, label: string, options: {
  keygen?: boolean;
  keys?: KemKeyPair;
  n?: number;
  baseline?: boolean;
} = {}) {
  const baseline = options.baseline ?? false;
  const keys = options.keys ?? await kem.generateKeyPair();
  const { encapsulation } = await kem.encapsulate(keys.publicKey);
  const slowOptions = options.n ? { n: options.n, warmup: 1 } : {};
  if (options.keygen ?? true) {
    Deno.bench({
      name: `${label} keygen`,
      group: `${group} keygen`,
      baseline,
      ...slowOptions,
      fn: async () => void await kem.generateKeyPair(),
    });
  }
  Deno.bench({
    name: `${label} encapsulate`,
    group: `${group} encapsulate`,
    baseline,
    fn: async () => void await kem.encapsulate(keys.publicKey),
  });
  Deno.bench({
    name: `${label} decapsulate`,
    group: `${group} decapsulate`,
    baseline,
    fn: async () => void await kem.decapsulate(encapsulation, keys.secretKey),
  });
}

// RSA: every size, native default, and the other backends.
for (const bits of [2048, 3072, 4096, 8192]) {
  const kem = registry.kem(`rsa-${bits}`);
  const keys = bits >= 4096 ? await fixtureKeyPair(bits) : undefined;
  await benchKem("rsa", kem, `${kem.id} (${(kem as KemEngine & { backend?: string }).backend})`, {
    keys,
    keygen: bits < 8192 || SLOW,
    n: bits >= 4096 ? 3 : undefined,
    baseline: bits === 3072,
  });
  for (const backend of ["node", "webcrypto", "forge"] as const) {
    const alt = createRsaEngine(bits, { backend });
    if (
      (alt as KemEngine & { backend?: string }).backend ===
        (kem as KemEngine & { backend?: string }).backend
    ) continue;
    await benchKem("rsa", alt, `${alt.id} (${backend})`, {
      keys: keys ?? undefined,
      keygen: backend !== "forge" ? bits < 8192 || SLOW : bits === 2048 || SLOW,
      n: bits >= 4096 || backend === "forge" ? 3 : undefined,
    });
  }
}

// ElGamal: every group, BigInt modexp and forge's jsbn.
for (const bits of [2048, 3072, 4096, 6144, 8192] as const) {
  await benchKem("elgamal", registry.kem(`elgamal-${bits}`), `elgamal-${bits} (bigint)`, {
    baseline: bits === 2048,
  });
  await benchKem(
    "elgamal",
    createElGamalEngine(bits, { backend: "forge" }),
    `elgamal-${bits} (forge)`,
    {
      n: bits >= 4096 ? 5 : undefined,
    },
  );
}

// ML-KEM.
for (const size of [512, 768, 1024] as const) {
  for (const backend of ["webcrypto", "noble"] as const) {
    await benchKem("ml-kem", createMlKemEngine(size, { backend }), `ml-kem-${size} (${backend})`, {
      baseline: size === 768 && backend === "webcrypto",
    });
  }
}

// X25519 / X448: node:crypto (default), WebCrypto and noble.
for (const backend of ["node", "webcrypto", "noble"] as const) {
  await benchKem("ecc", createX25519Engine({ backend }), `x25519 (${backend})`, {
    baseline: backend === "node",
  });
  await benchKem("ecc", createX448Engine({ backend }), `x448 (${backend})`);
}

// Hybrids.
for (const id of ["x25519+ml-kem-768", "x448+ml-kem-1024", "rsa-3072+elgamal-3072+ml-kem-1024"]) {
  await benchKem("hybrid", registry.kem(id), id, {
    n: id.startsWith("rsa") ? 5 : undefined,
    baseline: id === "x25519+ml-kem-768",
  });
}

// AEADs at 1 KiB and 64 KiB (the STREAM chunk), every AES-GCM and (X)ChaCha20-Poly1305 backend.
const aeads: AeadEngine[] = [
  aes256Gcm,
  createAes256Gcm({ backend: "webcrypto" }),
  createAes256Gcm({ backend: "node" }),
  createAes256Gcm({ backend: "noble" }),
  registry.aead("chacha20-poly1305"),
  createChaCha20Poly1305({ backend: "noble" }),
  registry.aead("xchacha20-poly1305"),
  createXChaCha20Poly1305({ backend: "noble" }),
  registry.aead("aes-256-gcm-siv"),
];
for (const size of [1024, 65536]) {
  const data = new Uint8Array(size);
  for (const aead of aeads) {
    const key = new Uint8Array(aead.keySize).fill(1);
    const nonce = new Uint8Array(aead.nonceSize);
    const sealed = await aead.seal(key, nonce, data);
    const label = `${aead.id} (${
      (aead as AeadEngine & { backend?: string }).backend ?? "noble"
    }) ${size} B`;
    Deno.bench({
      name: `${label} seal`,
      group: `aead ${size} B seal`,
      baseline: aead === aes256Gcm,
      fn: async () => void await aead.seal(key, nonce, data),
    });
    Deno.bench({
      name: `${label} open`,
      group: `aead ${size} B open`,
      baseline: aead === aes256Gcm,
      fn: async () => void await aead.open(key, nonce, sealed),
    });
  }
}

// Signatures: every registered signature engine, the other backends, and @noble alone, on a
// 1 KiB message. Groups: "ed25519 sign/verify", "ml-dsa sign/verify" (with the hybrid).
const message = new Uint8Array(1024).fill(7);

async function benchSignature(
  group: string,
  engine: SignatureEngine,
  label: string,
  baseline: boolean,
) {
  const { publicKey, secretKey } = await engine.generateKeyPair();
  const signature = await engine.sign(secretKey, message);
  Deno.bench({
    name: `${label} sign`,
    group: `${group} sign`,
    baseline,
    fn: async () => void await engine.sign(secretKey, message),
  });
  Deno.bench({
    name: `${label} verify`,
    group: `${group} verify`,
    baseline,
    fn: async () => void await engine.verify(publicKey, message, signature),
  });
}

/** The sign and verify benches of a @noble library alone, no engine around it. */
function benchAlone(group: string, label: string, sign: () => unknown, verify: () => unknown) {
  Deno.bench({ name: `${label} alone sign`, group: `${group} sign`, fn: () => void sign() });
  Deno.bench({ name: `${label} alone verify`, group: `${group} verify`, fn: () => void verify() });
}

await benchSignature("ed25519", ed25519, "ed25519 (node)", true);
for (const backend of ["webcrypto", "noble"] as const) {
  await benchSignature("ed25519", createEd25519Engine({ backend }), `ed25519 (${backend})`, false);
}
{
  const { secretKey, publicKey } = nobleEd25519.keygen();
  const signature = nobleEd25519.sign(message, secretKey);
  benchAlone(
    "ed25519",
    "@noble/curves ed25519",
    () => nobleEd25519.sign(message, secretKey),
    () => nobleEd25519.verify(signature, message, publicKey),
  );
}
await benchSignature("ml-dsa", mlDsa65, "ml-dsa-65 (webcrypto)", true);
await benchSignature(
  "ml-dsa",
  createMlDsaEngine(65, { backend: "noble" }),
  "ml-dsa-65 (noble)",
  false,
);
for (const id of ["ml-dsa-44", "ml-dsa-87"]) {
  await benchSignature("ml-dsa", registry.signature(id), `${id} (webcrypto)`, false);
}
await benchSignature("ml-dsa", ed25519MlDsa65, "ed25519+ml-dsa-65", false);
{
  const { secretKey, publicKey } = nobleMlDsa65.keygen(crypto.getRandomValues(new Uint8Array(32)));
  const signature = nobleMlDsa65.sign(message, secretKey);
  benchAlone(
    "ml-dsa",
    "@noble/post-quantum ml-dsa-65",
    () => nobleMlDsa65.sign(message, secretKey),
    () => nobleMlDsa65.verify(signature, message, publicKey),
  );
}
