// The browser half of the package tests: loads dist/browser/index.js (the core, its npm
// dependencies inlined) and exposes `globalThis.suite`, whose functions tests/package/package_test.ts
// calls through puppeteer. Each returns plain data (JSON); a failed check throws with a message.
import {
  ARGON2_DEFAULT,
  ARGON2_FLOOR,
  argon2id,
  decrypt,
  DecryptionError,
  decryptStream,
  decryptWithSender,
  encrypt,
  encryptStream,
  fingerprint,
  generateIdentity,
  registry,
} from "/dist/browser/index.js";

function check(ok, message) {
  if (!ok) throw new Error(message);
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const sha256 = async (bytes) =>
  hex(new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes))));

async function rejects(promise) {
  try {
    await promise;
    return false;
  } catch {
    return true;
  }
}

async function fixture(bits) {
  const get = async (name) =>
    new Uint8Array(await (await fetch(`/fixtures/rsa/${name}`)).arrayBuffer());
  return {
    publicKey: await get(`rsa${bits}.spki.der`),
    secretKey: await get(`rsa${bits}.pkcs8.der`),
  };
}

/** A KEM round trip: sizes, the same secret both sides, a tampered encapsulation and a wrong key. */
async function kemRoundTrip(kem) {
  const [a, b] = kem.id === "rsa-4096" || kem.id === "rsa-8192"
    ? [await fixture(kem.id.slice(4)), await fixture(kem.id === "rsa-4096" ? 8192 : 4096)]
    : await Promise.all([kem.generateKeyPair(), kem.generateKeyPair()]);
  const { encapsulation, sharedSecret } = await kem.encapsulate(a.publicKey);
  check(sharedSecret.length === kem.sharedSecretSize, "shared secret size");
  check(
    encapsulation.length === kem.encapsulationSize ||
      encapsulation.length === kem.legacyEncapsulationSize,
    `encapsulation size ${encapsulation.length}`,
  );
  check(equalBytes(await kem.decapsulate(encapsulation, a.secretKey), sharedSecret), "round trip");
  const tampered = encapsulation.slice();
  tampered[tampered.length >> 1] ^= 1;
  const other = await kem.decapsulate(tampered, a.secretKey).catch(() => undefined);
  check(!other || !equalBytes(other, sharedSecret), "a tampered encapsulation gave the secret");
  const wrong = await kem.decapsulate(encapsulation, b.secretKey).catch(() => undefined);
  check(!wrong || !equalBytes(wrong, sharedSecret), "the wrong key gave the secret");
}

async function aeadRoundTrip(aead) {
  const key = crypto.getRandomValues(new Uint8Array(aead.keySize));
  const nonce = crypto.getRandomValues(new Uint8Array(aead.nonceSize));
  const message = crypto.getRandomValues(new Uint8Array(1000));
  const ad = new TextEncoder().encode("header");
  const sealed = await aead.seal(key, nonce, message, ad);
  check(sealed.length === message.length + aead.tagSize, "sealed size");
  check(equalBytes(await aead.open(key, nonce, sealed, ad), message), "round trip");
  const tampered = sealed.slice();
  tampered[5] ^= 1;
  check(await rejects(aead.open(key, nonce, tampered, ad)), "a tampered message opened");
  check(await rejects(aead.open(key, nonce, sealed)), "opened without its associated data");
}

async function signatureRoundTrip(engine) {
  const [a, b] = await Promise.all([engine.generateKeyPair(), engine.generateKeyPair()]);
  const message = new TextEncoder().encode("signed in the browser");
  const signature = await engine.sign(a.secretKey, message);
  check(signature.length === engine.signatureSize, "signature size");
  check(await engine.verify(a.publicKey, message, signature), "verify");
  check(!(await engine.verify(b.publicKey, message, signature)), "verified under another key");
  const tampered = signature.slice();
  tampered[0] ^= 1;
  check(!(await engine.verify(a.publicKey, message, tampered)), "a tampered signature verified");
}

/** This page's identity, for the CLI interop: made on first use. */
let mine;

/** bench/web.ts's prepared seal/open loop (benchSlice). */
let benchState;

globalThis.suite = {
  /** Platform facts, to tell in the report. */
  platform() {
    return {
      userAgent: navigator.userAgent,
      secureContext: isSecureContext,
      readableStreamFrom: typeof ReadableStream.from === "function",
      nativeBase64: typeof Uint8Array.fromBase64 === "function",
      worker: typeof Worker === "function",
      iterableStreams: Symbol.asyncIterator in ReadableStream.prototype,
    };
  },

  /** `mib` MiB through encryptStream and decryptStream; returns the SHA-256 of both ends. */
  async stream(mib) {
    const { identity, recipient } = await generateIdentity();
    const piece = 1024 * 1024;
    let made = 0;
    const sent = [];
    const source = new ReadableStream({
      pull(controller) {
        if (made === mib) return controller.close();
        const chunk = new Uint8Array(piece);
        for (let i = 0; i < piece; i += 4096) chunk[i] = made * 31 + i;
        sent.push(chunk[0], chunk[4096]);
        made++;
        controller.enqueue(chunk);
      },
    });
    const reader = source.pipeThrough(encryptStream({ recipients: [recipient] }))
      .pipeThrough(decryptStream({ identities: [identity] })).getReader();
    let total = 0;
    const got = [];
    let at = 0;
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      // Spot checks of every MiB's first bytes (the stream is authenticated chunk by chunk).
      for (let i = 0; i < value.length; i++, at++) {
        if (at % piece === 0 || at % piece === 4096) got.push(value[i]);
      }
      total += value.length;
    }
    check(total === mib * piece, `${total} bytes`);
    check(JSON.stringify(got) === JSON.stringify(sent), "the stream's bytes differ");
    return total;
  },

  /** Decrypts every committed vector of the files; returns how many per file. */
  async vectors(names) {
    const counts = {};
    for (const name of names) {
      const file = await (await fetch(`/vectors/${name}`)).json();
      counts[name] = 0;
      for (const v of file.vectors) {
        const sealed = v.armored ? v.envelope : fromBase64(v.envelope);
        const options = { identities: v.identity ? [v.identity] : [], passphrase: v.passphrase };
        const { data, sender } = await decryptWithSender(sealed, options);
        check(data.length === v.plaintextSize, `${v.name}: size`);
        check((await sha256(data)) === v.plaintextSha256, `${v.name}: digest`);
        check(sender?.recipient === v.sender, `${v.name}: sender`);
        if (v.identity && v.passphrase) {
          check(
            await decrypt(sealed, { identities: [v.identity] }).then(
              () => false,
              (e) => e instanceof DecryptionError,
            ),
            `${v.name}: opened without the passphrase`,
          );
        }
        counts[name]++;
      }
    }
    return counts;
  },

  /** The registry's engine ids (and the default hybrid). */
  ids() {
    return [...registry.ids(), "x25519+ml-kem-768"];
  },

  /** One engine's round trip; returns its milliseconds. */
  async roundTrip(id) {
    const started = performance.now();
    const engine = registry.get(id);
    if (engine.kind === "kem") await kemRoundTrip(engine);
    else if (engine.kind === "aead") await aeadRoundTrip(engine);
    else await signatureRoundTrip(engine);
    return performance.now() - started;
  },

  /** Argon2id with the default parameters in the Web Worker, and the RFC 9106 reference value. */
  async argon2() {
    const progress = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    const deriving = argon2id("correct horse", new Uint8Array(16), ARGON2_DEFAULT, {
      onProgress: (f) => progress.push([f, performance.now() - started]),
    });
    // 0 comes from the worker once it starts hashing, never from the call itself.
    const atCall = progress.length;
    const key = await deriving;
    const ms = performance.now() - started;
    clearInterval(timer);
    check(key.length === 32, "key size");
    const floor = await argon2id(
      "correct horse",
      new TextEncoder().encode("saltsaltsaltsalt"),
      ARGON2_FLOOR,
    );
    return { ms, ticks, progress, atCall, floorHex: hex(floor) };
  },

  /** A fresh identity for this page; returns its recipient string. */
  async identity() {
    mine = await generateIdentity();
    return mine.recipient;
  },

  /** `text` sealed to `recipient`, signed by this page's identity, armored. */
  async seal(recipient, text, passphrase) {
    const sealed = await encrypt(new TextEncoder().encode(text), {
      recipients: [recipient],
      sender: mine.identity,
      passphrase,
      armor: true,
    });
    return new TextDecoder().decode(sealed);
  },

  /** Opens an armored message to this page's identity; returns its text and signer. */
  async open(armored, verify) {
    const { data, sender } = await decryptWithSender(armored, {
      identities: [mine.identity],
      verify,
    });
    return { text: new TextDecoder().decode(data), signer: sender?.fingerprint ?? null };
  },

  /** fingerprint() of a recipient string, as the page computes it. */
  fingerprint(recipient) {
    return fingerprint(recipient);
  },

  /**
   * bench/web.ts's turn: 1 KiB messages sealed and opened with the default identity for about `ms`
   * milliseconds (the identity made and the code warmed up on the first call); the count and the
   * time taken.
   */
  async benchSlice(ms) {
    if (!benchState) {
      const { identity, recipient } = await generateIdentity();
      const message = crypto.getRandomValues(new Uint8Array(1024));
      const one = async () => {
        const sealed = await encrypt(message, { recipients: [recipient] });
        await decrypt(sealed, { identities: [identity] });
      };
      for (let i = 0; i < 20; i++) await one(); // warm up: caches, JIT
      benchState = { one };
    }
    let n = 0;
    const started = performance.now();
    while (performance.now() - started < ms) {
      await benchState.one();
      n++;
    }
    return { n, ms: performance.now() - started };
  },

  /** 1 KiB messages sealed and opened with the default identity for about `ms` milliseconds. */
  async bench(ms) {
    const { identity, recipient } = await generateIdentity();
    const message = crypto.getRandomValues(new Uint8Array(1024));
    const one = async () => {
      const sealed = await encrypt(message, { recipients: [recipient] });
      await decrypt(sealed, { identities: [identity] });
    };
    for (let i = 0; i < 20; i++) await one(); // warm up: caches, JIT
    let n = 0;
    const started = performance.now();
    while (performance.now() - started < ms) {
      await one();
      n++;
    }
    return n / ((performance.now() - started) / 1000);
  },
};
