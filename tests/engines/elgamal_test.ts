// ElGamal: the RFC 7919 groups rebuilt from the RFC's formula, modexp and the subgroup test
// against independent computations and OpenSSL's DH, conformance, validation, committed KATs.
import assert from "node:assert/strict";
import {
  createElGamalEngine,
  FFDHE_GROUPS,
  InvalidKeyError,
  isGroupElement,
  registry,
} from "../../mod.ts";
import { fixedBasePow, jacobi, modPow } from "../../engines/elgamal/modexp.ts";
import type { FfdheBits } from "../../mod.ts";
import { kemConformance } from "../../testing/mod.ts";
import { ticksDuring } from "../_event_loop.ts";
import { runChecked, runCommand, runDenoScript } from "../_process.ts";
import { _stopWorkers } from "../../engines/elgamal/_modexp_pool.ts";

const BITS: FfdheBits[] = [2048, 3072, 4096, 6144, 8192];

/** floor(e * 2^bits) from the series e = sum 1/k!, with 64 guard bits. */
function eFixedPoint(bits: number): bigint {
  const scale = BigInt(bits + 64);
  let term = 1n << scale;
  let sum = 0n;
  for (let k = 1n; term > 0n; k++) {
    sum += term;
    term /= k;
  }
  return sum >> 64n;
}

// RFC 7919 Appendix A: the X constant of each group.
const RFC_X: Record<FfdheBits, bigint> = {
  2048: 560316n,
  3072: 2625351n,
  4096: 5736041n,
  6144: 15705020n,
  8192: 10965728n,
};

Deno.test("RFC 7919 groups: p = 2^b - 2^{b-64} + {[2^{b-130} e] + X} * 2^64 - 1, g = 2, q = (p-1)/2", () => {
  for (const b of BITS) {
    const B = BigInt(b);
    const p = (1n << B) - (1n << (B - 64n)) + (eFixedPoint(b - 130) + RFC_X[b]) * (1n << 64n) - 1n;
    const group = FFDHE_GROUPS[b];
    assert.equal(group.p, p, `ffdhe${b}`);
    assert.equal(group.g, 2n);
    assert.equal(group.q * 2n + 1n, group.p);
    assert.equal(group.p.toString(2).length, b);
  }
});

function millerRabin(n: bigint, bases: bigint[]): boolean {
  let d = n - 1n;
  let r = 0;
  while (d % 2n === 0n) {
    d /= 2n;
    r++;
  }
  outer: for (const a of bases) {
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 1; i < r; i++) {
      x = x * x % n;
      if (x === n - 1n) continue outer;
    }
    return false;
  }
  return true;
}

Deno.test("ffdhe2048: p and q pass Miller-Rabin (8 bases)", () => {
  const { p, q } = FFDHE_GROUPS[2048];
  const bases = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n];
  assert.ok(millerRabin(p, bases));
  assert.ok(millerRabin(q, bases));
  assert.ok(!millerRabin(p + 2n, bases), "p + 2 is composite");
});

function naiveModPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = r * b % m;
    b = b * b % m;
  }
  return r;
}

function randomBigint(bits: number): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(bits / 8)));
  return BigInt("0x" + bytes.toHex()) >> BigInt(bytes.length * 8 - bits);
}

Deno.test("modPow agrees with square-and-multiply on random and edge inputs", () => {
  const { p } = FFDHE_GROUPS[2048];
  const cases: [bigint, bigint][] = [[0n, 5n], [1n, p - 1n], [2n, 0n], [2n, 1n], [p - 1n, 2n], [
    p + 5n,
    3n,
  ]];
  for (let i = 0; i < 40; i++) cases.push([randomBigint(2048), randomBigint(1 + (i * 53) % 2048)]);
  for (const [b, e] of cases) assert.equal(modPow(b, e, p), naiveModPow(b, e, p));
  assert.equal(modPow(5n, 0n, 7n), 1n);
  assert.equal(modPow(4n, 13n, 497n), 445n); // modexp.ts's examples
  assert.equal(modPow(2n, 10n, 1000n), 24n);
  assert.throws(() => modPow(2n, -1n, 7n), RangeError);
  assert.throws(() => modPow(2n, 1n, 1n), RangeError);
});

Deno.test("modPow in Montgomery form (odd moduli over 2048 bits) agrees with square-and-multiply", () => {
  // Every group above 2048 bits, and random odd moduli just over the threshold and of odd lengths.
  const moduli = [3072, 4096, 6144, 8192].map((b) => FFDHE_GROUPS[b as FfdheBits].p);
  for (const bits of [2049, 2050, 3000, 3073, 4097]) {
    moduli.push(randomBigint(bits) | 1n << BigInt(bits - 1) | 1n);
  }
  for (const m of moduli) {
    const label = `${m.toString(2).length}-bit modulus`;
    const cases: [bigint, bigint][] = [
      [0n, 5n],
      [1n, 3n],
      [2n, 1n],
      [m - 1n, 2n],
      [m - 1n, 3n],
      [m, 7n],
      [m + 5n, 3n],
      [-2n, 3n],
      [randomBigint(2 * m.toString(2).length), 65537n],
    ];
    for (let i = 0; i < 4; i++) {
      cases.push([randomBigint(m.toString(2).length), randomBigint(1 + i * 97)]);
    }
    for (const [b, e] of cases) {
      assert.equal(modPow(b, e, m), naiveModPow(((b % m) + m) % m, e, m), `${label} b=${b} e=${e}`);
    }
    assert.equal(modPow(12345n, 0n, m), 1n, label);
  }
  // An even modulus over the threshold takes the division path and is still right.
  const even = randomBigint(3072) | 1n << 3071n;
  const evenModulus = even - (even & 1n);
  const b = randomBigint(3000);
  assert.equal(modPow(b, 300n, evenModulus), naiveModPow(b, 300n, evenModulus));
});

Deno.test("fixedBasePow agrees with modPow for g of every group, edge exponents and overflow", () => {
  for (const b of BITS) {
    const { g, p, exponentBits } = FFDHE_GROUPS[b];
    const powG = fixedBasePow(g, p, exponentBits);
    const top = (1n << BigInt(exponentBits)) - 1n;
    const exponents = [0n, 1n, 2n, 15n, 16n, 17n, top, top + 1n, top * 5n];
    for (let i = 0; i < 8; i++) exponents.push(randomBigint(exponentBits));
    for (const e of exponents) assert.equal(powG(e), modPow(g, e, p), `ffdhe${b} e=${e}`);
  }
  assert.equal(fixedBasePow(10n, 7n, 8)(3n), 6n); // base above the modulus is reduced
  assert.equal(fixedBasePow(2n, 1000003n, 64)(20n), 48573n); // fixedBasePow's example
  assert.throws(() => fixedBasePow(2n, 7n, 8)(-1n), RangeError);
  assert.throws(() => fixedBasePow(2n, 1n, 8), RangeError);
});

Deno.test("decapsulation under many secret keys (past the public-key cache) stays correct", async () => {
  const kem = registry.kem("elgamal-2048");
  const pairs = await Promise.all(Array.from({ length: 40 }, () => kem.generateKeyPair()));
  for (const round of [0, 1]) {
    for (const { publicKey, secretKey } of pairs) {
      const { encapsulation, sharedSecret } = await kem.encapsulate(publicKey);
      assert.deepEqual(
        await kem.decapsulate(encapsulation, secretKey),
        sharedSecret,
        `round ${round}`,
      );
    }
  }
});

Deno.test("the Legendre test equals x^q == 1 (subgroup membership) on random and edge values", () => {
  for (const b of [2048, 3072] as const) {
    const { p, q } = FFDHE_GROUPS[b];
    const values = [2n, 3n, 4n, p - 2n, p - 1n, 1n, 0n];
    for (let i = 0; i < 30; i++) values.push(randomBigint(b) % p);
    for (const v of values) {
      const bySubgroup = v >= 2n && v <= p - 2n && naiveModPow(v, q, p) === 1n;
      assert.equal(
        isGroupElement(FFDHE_GROUPS[b], v),
        bySubgroup,
        `ffdhe${b} value ${v.toString(16).slice(0, 12)}`,
      );
    }
  }
  assert.equal(jacobi(2n, 7n), 1);
  assert.equal(jacobi(3n, 7n), -1);
  assert.equal(jacobi(14n, 7n), 0);
});

for (const b of BITS) {
  Deno.test(`elgamal-${b} conformance`, (t) =>
    kemConformance(t, registry.kem(`elgamal-${b}`), { tamper: "reject-or-different" }));
}
Deno.test("elgamal-2048 (in the workers) conformance", (t) =>
  kemConformance(t, createElGamalEngine(2048, { thread: "worker" }), {
    tamper: "reject-or-different",
  }));
Deno.test("elgamal-3072 (inline) conformance", (t) =>
  kemConformance(t, createElGamalEngine(3072, { thread: "inline" }), {
    tamper: "reject-or-different",
  }));
Deno.test("elgamal-2048 (forge backend) conformance", (t) =>
  kemConformance(t, createElGamalEngine(2048, { backend: "forge" }), {
    tamper: "reject-or-different",
  }));

for (const thread of ["inline", "worker"] as const) {
  Deno.test(`public values and encapsulations outside the subgroup are InvalidKeyError (${thread})`, async () => {
    const kem = createElGamalEngine(2048, { thread });
    const { p } = FFDHE_GROUPS[2048];
    const { secretKey } = await kem.generateKeyPair();
    const enc = (v: bigint) => Uint8Array.fromHex(v.toString(16).padStart(512, "0"));
    // p - 2 is a non-residue for this p (p = 7 mod 8 makes 2 a residue and -1 a non-residue), and
    // so is 2 times a residue's negation; those pass the range check and fail the subgroup test.
    assert.equal(jacobi(p - 2n, p), -1);
    const nonResidues = [p - 2n, p - 8n, p - 2n * 9n, p - 2n * 49n];
    for (const v of nonResidues) assert.equal(jacobi(v, p), -1);
    for (const v of [0n, 1n, p - 1n, p, p + 1n, (1n << 2048n) - 1n, ...nonResidues]) {
      await assert.rejects(
        kem.encapsulate(enc(v)),
        InvalidKeyError,
        `publicKey ${v.toString(16).slice(0, 8)}`,
      );
      await assert.rejects(kem.decapsulate(enc(v), secretKey), InvalidKeyError, `encapsulation`);
    }
    await assert.rejects(kem.decapsulate(enc(4n), new Uint8Array(29)), InvalidKeyError, "x = 0");
    await assert.rejects(
      kem.decapsulate(enc(4n), new Uint8Array(29).fill(0xff)),
      InvalidKeyError,
      "x too big",
    );
  });
}

// ------------------------------------------------------------------ OpenSSL DH agrees with modPow

/** openssl's stdout as text; throws unless it succeeds. */
const openssl = async (args: string[]): Promise<string> =>
  (await runChecked("openssl", args)).stdout;

function field(text: string, name: string): bigint {
  const m = new RegExp(`${name}:\\s*\\n((?:\\s+[0-9a-f:]+\\n)+)`).exec(text);
  if (!m) throw new Error(`no ${name} in openssl output`);
  return BigInt("0x" + m[1].replace(/[\s:]/g, ""));
}

Deno.test("OpenSSL ffdhe DH shared secrets equal our modPow (2048, 3072)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const b of [2048, 3072] as const) {
      const [a, bob] = [`${dir}/a${b}.pem`, `${dir}/b${b}.pem`];
      for (const f of [a, bob]) {
        await openssl(["genpkey", "-algorithm", "DH", "-pkeyopt", `group:ffdhe${b}`, "-out", f]);
      }
      await openssl(["pkey", "-in", bob, "-pubout", "-out", `${bob}.pub`]);
      const derive = ["pkeyutl", "-derive", "-inkey", a, "-peerkey", `${bob}.pub`];
      const derived = await runCommand("openssl", derive);
      const aText = await openssl(["pkey", "-in", a, "-text", "-noout"]);
      const bText = await openssl(["pkey", "-in", bob, "-text", "-noout"]);
      const x = field(aText, "private-key");
      const yA = field(aText, "public-key");
      const yB = field(bText, "public-key");
      const { p, g } = FFDHE_GROUPS[b];
      assert.equal(modPow(g, x, p), yA, "y = g^x");
      assert.ok(isGroupElement(FFDHE_GROUPS[b], yB));
      const shared = BigInt("0x" + derived.stdoutBytes.toHex());
      assert.equal(modPow(yB, x, p), shared, `ffdhe${b} shared secret`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ------------------------------------------------------------------ committed known answers

Deno.test("committed ElGamal KATs (tests/vectors/polycrypt/elgamal/kat.json) decapsulate", async () => {
  const file = JSON.parse(
    await Deno.readTextFile(new URL("../vectors/polycrypt/elgamal/kat.json", import.meta.url)),
  ) as {
    vectors: {
      id: string;
      secretKey: string;
      publicKey: string;
      encapsulation: string;
      sharedSecret: string;
    }[];
  };
  let checked = 0;
  for (const v of file.vectors) {
    const kem = registry.kem(v.id);
    assert.equal(
      (await kem.publicKeyFromSecretKey!(Uint8Array.fromHex(v.secretKey))).toHex(),
      v.publicKey,
    );
    const ss = await kem.decapsulate(
      Uint8Array.fromHex(v.encapsulation),
      Uint8Array.fromHex(v.secretKey),
    );
    assert.equal(ss.toHex(), v.sharedSecret, v.id);
    // The same answer from forge's jsbn modPow: two independent exponentiations agree.
    const bits = Number(v.id.slice("elgamal-".length)) as FfdheBits;
    const viaForge = await createElGamalEngine(bits, { backend: "forge" }).decapsulate(
      Uint8Array.fromHex(v.encapsulation),
      Uint8Array.fromHex(v.secretKey),
    );
    assert.equal(viaForge.toHex(), v.sharedSecret, `${v.id} (forge)`);
    // And on the thread the registry's engine does not use (workers for 2048 bits, inline above).
    const thread = createElGamalEngine(bits).thread === "worker" ? "inline" : "worker";
    const other = createElGamalEngine(bits, { thread });
    assert.equal(other.thread, thread);
    assert.equal(
      (await other.publicKeyFromSecretKey!(Uint8Array.fromHex(v.secretKey))).toHex(),
      v.publicKey,
      `${v.id} (${thread})`,
    );
    const viaOther = await other.decapsulate(
      Uint8Array.fromHex(v.encapsulation),
      Uint8Array.fromHex(v.secretKey),
    );
    assert.equal(viaOther.toHex(), v.sharedSecret, `${v.id} (${thread})`);
    checked++;
  }
  assert.equal(checked, 10);
});

// ------------------------------------------------------------------ threads

Deno.test("thread option: auto puts 3072 bits and more in the workers; bad values are TypeError", () => {
  assert.deepEqual(
    BITS.map((b) => createElGamalEngine(b).thread),
    ["inline", "worker", "worker", "worker", "worker"],
  );
  assert.equal(createElGamalEngine(2048, { thread: "worker" }).thread, "worker");
  assert.equal(createElGamalEngine(8192, { thread: "inline" }).thread, "inline");
  assert.equal(createElGamalEngine(8192, { backend: "forge" }).thread, "inline");
  assert.throws(
    () => createElGamalEngine(2048, { backend: "forge", thread: "worker" }),
    /thread "worker" needs backend "bigint"/,
  );
  assert.throws(
    () => createElGamalEngine(2048, { thread: "threads" as "auto" }),
    /thread must be "auto", "worker" or "inline"/,
  );
});

Deno.test("ElGamal-8192 decapsulation in the workers does not block the event loop", async () => {
  const ticksOn = async (thread: "worker" | "inline") => {
    const kem = createElGamalEngine(8192, { thread });
    const { publicKey, secretKey } = await kem.generateKeyPair();
    const { encapsulation } = await kem.encapsulate(publicKey);
    await kem.decapsulate(encapsulation, secretKey); // starts the workers, caches the public key
    return await ticksDuring(() => kem.decapsulate(encapsulation, secretKey));
  };
  // An 8192-bit exponentiation takes tens of milliseconds on any machine: in a worker, timers
  // fire meanwhile; inline, none can (which shows this check can fail).
  const worker = await ticksOn("worker");
  assert.ok(worker > 0, `worker: ${worker} ticks`);
  assert.equal(await ticksOn("inline"), 0);
});

Deno.test("many ElGamal operations in flight in the workers each get their own answer", async () => {
  const kem = createElGamalEngine(2048, { thread: "worker" });
  const pairs = await Promise.all(Array.from({ length: 6 }, () => kem.generateKeyPair()));
  const sealed = await Promise.all(pairs.map(({ publicKey }) => kem.encapsulate(publicKey)));
  const opened = await Promise.all(
    sealed.map(({ encapsulation }, i) => kem.decapsulate(encapsulation, pairs[i].secretKey)),
  );
  assert.deepEqual(opened, sealed.map((s) => s.sharedSecret));
  // Under the wrong keys, every one differs: answers are not handed to the wrong caller.
  const crossed = await Promise.all(
    sealed.map(({ encapsulation }, i) =>
      kem.decapsulate(encapsulation, pairs[(i + 1) % 6].secretKey)
    ),
  );
  crossed.forEach((ss, i) => assert.notDeepEqual(ss, sealed[i].sharedSecret));
});

Deno.test("a worker that stops during a job rejects that job; the next one starts a new worker", async () => {
  const kem = createElGamalEngine(8192, { thread: "worker" });
  const { publicKey, secretKey } = await kem.generateKeyPair();
  const { encapsulation, sharedSecret } = await kem.encapsulate(publicKey);
  const pending = kem.decapsulate(encapsulation, secretKey);
  await new Promise((resolve) => setTimeout(resolve, 2));
  await _stopWorkers();
  await assert.rejects(pending, /the ElGamal worker stopped/);
  assert.deepEqual(await kem.decapsulate(encapsulation, secretKey), sharedSecret);
});

Deno.test("idle ElGamal workers do not keep a process alive", async () => {
  // A program that decapsulates in the workers and returns: it must exit by itself, with the
  // right answer, well before the deadline (a ref'd idle worker would keep it running forever).
  const script = `
    import { createElGamalEngine } from ${
    JSON.stringify(new URL("../../mod.ts", import.meta.url).href)
  };
    const kem = createElGamalEngine(3072, { thread: "worker" });
    const { publicKey, secretKey } = await kem.generateKeyPair();
    const { encapsulation, sharedSecret } = await kem.encapsulate(publicKey);
    const opened = await kem.decapsulate(encapsulation, secretKey);
    console.log(opened.toHex() === sharedSecret.toHex() ? "same" : "different");
  `;
  const out = await runDenoScript(script, ["--allow-read", "--allow-env"]);
  assert.equal(out.stderr, "");
  assert.equal(out.code, 0);
  assert.equal(out.stdout.trim(), "same");
});
