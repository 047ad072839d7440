/**
 * Peer measurements for `bench:report`: the libraries a messenger author would otherwise pick,
 * pinned in bench/deno.json, each run through its own public API on the same inputs as polycrypt.
 *
 * - chat: seal and open one 1 KiB message to a fresh recipient key (age-encryption X25519 and
 *   ML-KEM-768 hybrid, @hpke/core with @hpke/ml-kem and @hpke/dhkem-x25519 and AES-256-GCM,
 *   libsodium `crypto_box_seal`, OpenPGP.js RSA-3072);
 * - bulk: encrypt and decrypt a large buffer (typage, OpenPGP.js, libsodium secretstream, raw
 *   WebCrypto and node:crypto AES-256-GCM over 64 KiB chunks, raw node-forge AES-GCM);
 * - engines: the raw private-key operation (node:crypto, WebCrypto, node-forge RSA-OAEP; node,
 *   WebCrypto, libsodium and noble X25519; node:crypto DiffieHellman over ffdhe; the ML-KEM
 *   inside @hpke/ml-kem);
 * - password: a 1 KiB message sealed and opened under a passphrase with each tool's default KDF.
 *
 * Each function returns rows; bench/report/render.ts computes the ratios.
 *
 * @module
 */
import * as age from "age-encryption";
import { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { MlKem768 } from "@hpke/ml-kem";
import sodium from "libsodium-wrappers";
import * as openpgp from "openpgp";
import forge from "node-forge";
import nodeCrypto from "node:crypto";
import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";
import { FFDHE_GROUPS } from "../engines/elgamal/elgamal.ts";
import { median, medianMs } from "../cli/_bench.ts";
import type { PeerRow } from "./report/results.ts";

export type { PeerRow };

const perSecond = (ms: number) => 1000 / ms;

async function rate(
  seal: () => Promise<unknown>,
  open: () => Promise<unknown>,
  budgetMs: number,
): Promise<[number, number]> {
  await seal();
  await open();
  const [s] = await medianMs(seal, budgetMs, 5);
  const [o] = await medianMs(open, budgetMs, 5);
  return [perSecond(s), perSecond(o)];
}

/** One chat contender: seals one message, and opens the last one it sealed. */
export interface ChatContender {
  /** The contender's row name. */
  readonly peer: string;
  /** Seals the message to the contender's recipient. */
  seal(): Promise<unknown>;
  /** Opens the last sealed message. */
  open(): Promise<unknown>;
}

/**
 * The chat peers, set up and ready: each seals `message` to one recipient key made for it
 * (age-encryption X25519 and ML-KEM-768 hybrid, @hpke/ml-kem and @hpke/dhkem-x25519 with
 * AES-256-GCM, libsodium `crypto_box_seal`, OpenPGP.js RSA-3072).
 */
export async function chatPeerContenders(message: Uint8Array): Promise<ChatContender[]> {
  await sodium.ready;
  const contenders: ChatContender[] = [];

  for (
    const [peer, identity] of [
      ["age-encryption, ML-KEM-768 + X25519 hybrid", await age.generateHybridIdentity()],
      ["age-encryption, X25519", await age.generateIdentity()],
    ] as const
  ) {
    const recipient = await age.identityToRecipient(identity);
    let sealed: Uint8Array = new Uint8Array(0);
    contenders.push({
      peer,
      async seal() {
        const enc = new age.Encrypter();
        enc.addRecipient(recipient);
        sealed = await enc.encrypt(message);
      },
      async open() {
        const dec = new age.Decrypter();
        dec.addIdentity(identity);
        await dec.decrypt(sealed);
      },
    });
  }

  for (
    const [peer, kem] of [
      ["@hpke/ml-kem ML-KEM-768, HKDF-SHA256, AES-256-GCM", new MlKem768()],
      ["@hpke/dhkem-x25519, HKDF-SHA256, AES-256-GCM", new DhkemX25519HkdfSha256()],
    ] as const
  ) {
    const suite = new CipherSuite({ kem, kdf: new HkdfSha256(), aead: new Aes256Gcm() });
    const pair = await suite.kem.generateKeyPair();
    let sealed = await suite.seal({ recipientPublicKey: pair.publicKey }, message);
    contenders.push({
      peer,
      seal: async () => sealed = await suite.seal({ recipientPublicKey: pair.publicKey }, message),
      open: () => suite.open({ recipientKey: pair.privateKey, enc: sealed.enc }, sealed.ct),
    });
  }

  {
    const pair = sodium.crypto_box_keypair();
    let sealed = sodium.crypto_box_seal(message, pair.publicKey);
    contenders.push({
      peer: "libsodium crypto_box_seal (X25519, XSalsa20-Poly1305)",
      seal: () => Promise.resolve(sealed = sodium.crypto_box_seal(message, pair.publicKey)),
      open: () =>
        Promise.resolve(sodium.crypto_box_seal_open(sealed, pair.publicKey, pair.privateKey)),
    });
  }

  {
    const { privateKey, publicKey } = await openpgp.generateKey({
      type: "rsa",
      rsaBits: 3072,
      userIDs: [{ name: "bench" }],
      format: "object",
    });
    let sealed: Uint8Array = new Uint8Array(0);
    contenders.push({
      peer: "OpenPGP.js, RSA-3072",
      async seal() {
        sealed = await openpgp.encrypt({
          message: await openpgp.createMessage({ binary: message }),
          encryptionKeys: publicKey,
          format: "binary",
        }) as Uint8Array;
      },
      async open() {
        await openpgp.decrypt({
          message: await openpgp.readMessage({ binaryMessage: sealed }),
          decryptionKeys: privateKey,
          format: "binary",
        });
      },
    });
  }
  return contenders;
}

/**
 * Seals and opens per second for each contender, measured in interleaved rounds: every round
 * times each contender's seal, then each one's open, for `sliceMs` each (the median op time of
 * the slice), so a drift in the machine's speed falls on all contenders alike. Each figure is
 * the median over `rounds` rounds.
 */
export async function interleavedChatRates(
  contenders: readonly ChatContender[],
  rounds: number,
  sliceMs: number,
): Promise<PeerRow[]> {
  for (const c of contenders) {
    await c.seal();
    await c.open();
  }
  const seals = contenders.map((): number[] => []);
  const opens = contenders.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of contenders.entries()) {
      seals[i].push((await medianMs(c.seal, sliceMs, 3))[0]);
    }
    // The open of each contender reads the message its last seal produced.
    for (const [i, c] of contenders.entries()) {
      opens[i].push((await medianMs(c.open, sliceMs, 3))[0]);
    }
  }
  return contenders.map((c, i) => ({
    peer: c.peer,
    encrypt: perSecond(median(seals[i])),
    decrypt: perSecond(median(opens[i])),
  }));
}

function chunks(data: Uint8Array, size = 65536): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/**
 * age-encryption (typage) encrypting a whole message to `recipient` (by default a fresh X25519
 * one), as the bulk peers table times it and the report's pairs against encryptStream do.
 */
export async function typageEncrypter(
  recipient?: string,
): Promise<(data: Uint8Array) => Promise<Uint8Array>> {
  recipient ??= await age.identityToRecipient(await age.generateIdentity());
  return (data) => {
    const e = new age.Encrypter();
    e.addRecipient(recipient);
    return e.encrypt(data);
  };
}

/** Encrypt and decrypt `data` (MB/s, 10^6 bytes/s), each peer once per round, median of `rounds`. */
export async function bulkPeers(data: Uint8Array, rounds: number): Promise<PeerRow[]> {
  await sodium.ready;
  const mbs = (ms: number) => data.length / 1e3 / ms;
  const rows: PeerRow[] = [];
  const both = async (
    peer: string,
    seal: () => Promise<unknown>,
    open: () => Promise<unknown>,
    note?: string,
  ) => {
    await seal();
    const [s] = await medianMs(seal, 0, rounds);
    const [o] = await medianMs(open, 0, rounds);
    rows.push({ peer, encrypt: mbs(s), decrypt: mbs(o), note });
  };

  {
    const identity = await age.generateIdentity();
    const encryptTo = await typageEncrypter(await age.identityToRecipient(identity));
    let sealed: Uint8Array = new Uint8Array(0);
    await both("age-encryption (typage), X25519", async () => {
      sealed = await encryptTo(data);
    }, async () => {
      const d = new age.Decrypter();
      d.addIdentity(identity);
      await d.decrypt(sealed);
    });
  }

  {
    const { privateKey, publicKey } = await openpgp.generateKey({
      type: "ecc",
      curve: "curve25519Legacy",
      userIDs: [{ name: "bench" }],
      format: "object",
    });
    let sealed: Uint8Array = new Uint8Array(0);
    await both("OpenPGP.js, X25519 (AES-256 SEIPD)", async () => {
      sealed = await openpgp.encrypt({
        message: await openpgp.createMessage({ binary: data }),
        encryptionKeys: publicKey,
        format: "binary",
      }) as Uint8Array;
    }, async () => {
      await openpgp.decrypt({
        message: await openpgp.readMessage({ binaryMessage: sealed }),
        decryptionKeys: privateKey,
        format: "binary",
      });
    });
  }

  {
    const key = sodium.crypto_secretstream_xchacha20poly1305_keygen();
    let header: Uint8Array = new Uint8Array(0);
    let sealed: Uint8Array[] = [];
    await both("libsodium secretstream (XChaCha20-Poly1305, 64 KiB)", () => {
      const push = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
      header = push.header;
      const parts = chunks(data);
      sealed = parts.map((c, i) =>
        sodium.crypto_secretstream_xchacha20poly1305_push(
          push.state,
          c,
          null,
          i === parts.length - 1
            ? sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
            : sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
        )
      );
      return Promise.resolve();
    }, () => {
      const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
      for (const c of sealed) sodium.crypto_secretstream_xchacha20poly1305_pull(state, c, null);
      return Promise.resolve();
    });
  }

  {
    const key = await crypto.subtle.importKey("raw", new Uint8Array(32), "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    const iv = (i: number) => {
      const n = new Uint8Array(12);
      new DataView(n.buffer).setUint32(8, i);
      return n;
    };
    const parts = chunks(data);
    let sealed: ArrayBuffer[] = [];
    await both("raw WebCrypto AES-256-GCM, 64 KiB, 8 in flight", async () => {
      sealed = [];
      const queue: Promise<ArrayBuffer>[] = [];
      for (let i = 0; i < parts.length; i++) {
        queue.push(
          crypto.subtle.encrypt(
            { name: "AES-GCM", iv: iv(i) },
            key,
            parts[i] as Uint8Array<ArrayBuffer>,
          ),
        );
        if (queue.length >= 8) sealed.push(await queue.shift()!);
      }
      sealed.push(...await Promise.all(queue));
    }, async () => {
      const queue: Promise<ArrayBuffer>[] = [];
      for (let i = 0; i < sealed.length; i++) {
        queue.push(crypto.subtle.decrypt({ name: "AES-GCM", iv: iv(i) }, key, sealed[i]));
        if (queue.length >= 8) await queue.shift();
      }
      await Promise.all(queue);
    }, "no header, no key exchange: the platform ceiling polycrypt's STREAM runs on");
  }

  {
    const key = new Uint8Array(32);
    const iv = new Uint8Array(12);
    let sealed: [Uint8Array, Uint8Array][] = [];
    await both("raw node:crypto AES-256-GCM, 64 KiB", () => {
      sealed = chunks(data).map((c) => {
        const cipher = nodeCrypto.createCipheriv("aes-256-gcm", key, iv);
        const out = Buffer.concat([cipher.update(c), cipher.final()]);
        return [out, cipher.getAuthTag()];
      });
      return Promise.resolve();
    }, () => {
      for (const [c, tag] of sealed) {
        const d = nodeCrypto.createDecipheriv("aes-256-gcm", key, iv);
        d.setAuthTag(tag);
        d.update(c);
        d.final();
      }
      return Promise.resolve();
    });
  }

  {
    // node-forge is pure JS and slow: 1/16 of the data, reported as MB/s all the same.
    const part = data.subarray(0, Math.max(65536, data.length >> 4));
    const key = "\0".repeat(32);
    const iv = "\0".repeat(12);
    const t0 = performance.now();
    const c = forge.cipher.createCipher("AES-GCM", key);
    c.start({ iv });
    // forge takes "binary strings"; built in slices (one apply() over MiBs overflows the stack).
    const text = chunks(part, 8192).map((c) => forge.util.binary.raw.encode(c)).join("");
    c.update(forge.util.createBuffer(text));
    c.finish();
    const sealed = c.output.getBytes();
    const tag = c.mode.tag;
    const sealMs = performance.now() - t0;
    const t1 = performance.now();
    const d = forge.cipher.createDecipher("AES-GCM", key);
    d.start({ iv, tag });
    d.update(forge.util.createBuffer(sealed));
    d.finish();
    const openMs = performance.now() - t1;
    rows.push({
      peer: "raw node-forge AES-256-GCM",
      encrypt: part.length / 1e3 / sealMs,
      decrypt: part.length / 1e3 / openMs,
      note: `one run over ${
        part.length >= 2 ** 20 ? `${part.length / 2 ** 20} MiB` : `${part.length / 1024} KiB`
      }`,
    });
  }
  return rows;
}

/** Raw private-key operations other libraries offer, in ops/s (`encrypt` = public side). */
export async function enginePeers(budgetMs: number): Promise<Record<string, PeerRow[]>> {
  await sodium.ready;
  const out: Record<string, PeerRow[]> = {};

  for (const bits of [3072, 4096]) {
    const rows: PeerRow[] = [];
    const { publicKey, privateKey } = nodeCrypto.generateKeyPairSync("rsa", {
      modulusLength: bits,
    });
    const secret = new Uint8Array(32);
    const oaep = { padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" };
    let ct = nodeCrypto.publicEncrypt({ key: publicKey, ...oaep }, secret);
    const [ne, nd] = await rate(
      () => Promise.resolve(ct = nodeCrypto.publicEncrypt({ key: publicKey, ...oaep }, secret)),
      () => Promise.resolve(nodeCrypto.privateDecrypt({ key: privateKey, ...oaep }, ct)),
      budgetMs,
    );
    rows.push({ peer: "node:crypto RSA-OAEP-SHA256", encrypt: ne, decrypt: nd });

    const pair = await crypto.subtle.generateKey(
      {
        name: "RSA-OAEP",
        modulusLength: bits,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      },
      false,
      ["encrypt", "decrypt"],
    ) as CryptoKeyPair;
    let wct = await crypto.subtle.encrypt({ name: "RSA-OAEP" }, pair.publicKey, secret);
    const [we, wd] = await rate(
      async () => wct = await crypto.subtle.encrypt({ name: "RSA-OAEP" }, pair.publicKey, secret),
      () => crypto.subtle.decrypt({ name: "RSA-OAEP" }, pair.privateKey, wct),
      budgetMs,
    );
    rows.push({ peer: "WebCrypto RSA-OAEP-SHA256", encrypt: we, decrypt: wd });

    const pem = privateKey.export({ format: "pem", type: "pkcs1" }) as string;
    const fk = forge.pki.privateKeyFromPem(pem);
    const fpk = forge.pki.setRsaPublicKey(fk.n, fk.e);
    const raw = forge.util.binary.raw.encode(secret);
    const sha = () => forge.md.sha256.create();
    let fct = fpk.encrypt(raw, "RSA-OAEP", { md: sha() });
    const [fe, fd] = await rate(
      () => Promise.resolve(fct = fpk.encrypt(raw, "RSA-OAEP", { md: sha() })),
      () => Promise.resolve(fk.decrypt(fct, "RSA-OAEP", { md: sha() })),
      Math.min(budgetMs, 2000),
    );
    rows.push({ peer: "node-forge RSA-OAEP-SHA256", encrypt: fe, decrypt: fd });
    out[`rsa-${bits}`] = rows;
  }

  {
    const rows: PeerRow[] = [];
    const a = nodeCrypto.generateKeyPairSync("x25519");
    const b = nodeCrypto.generateKeyPairSync("x25519");
    const [, nd] = await rate(
      () => Promise.resolve(),
      () =>
        Promise.resolve(
          nodeCrypto.diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey }),
        ),
      budgetMs,
    );
    rows.push({ peer: "node:crypto diffieHellman (keys parsed once)", encrypt: NaN, decrypt: nd });
    const wa = await crypto.subtle.generateKey({ name: "X25519" }, false, [
      "deriveBits",
    ]) as CryptoKeyPair;
    const wb = await crypto.subtle.generateKey({ name: "X25519" }, false, [
      "deriveBits",
    ]) as CryptoKeyPair;
    const [, wd] = await rate(
      () => Promise.resolve(),
      () => crypto.subtle.deriveBits({ name: "X25519", public: wb.publicKey }, wa.privateKey, 256),
      budgetMs,
    );
    rows.push({
      peer: "WebCrypto X25519 deriveBits (keys imported once)",
      encrypt: NaN,
      decrypt: wd,
    });
    const sa = sodium.crypto_box_keypair();
    const sb = sodium.crypto_box_keypair();
    const [, sd] = await rate(
      () => Promise.resolve(),
      () => Promise.resolve(sodium.crypto_scalarmult(sa.privateKey, sb.publicKey)),
      budgetMs,
    );
    rows.push({ peer: "libsodium crypto_scalarmult", encrypt: NaN, decrypt: sd });
    const na = nobleX25519.utils.randomSecretKey();
    const nb = nobleX25519.getPublicKey(nobleX25519.utils.randomSecretKey());
    const [, nod] = await rate(
      () => Promise.resolve(),
      () => Promise.resolve(nobleX25519.getSharedSecret(na, nb)),
      budgetMs,
    );
    rows.push({ peer: "@noble/curves x25519", encrypt: NaN, decrypt: nod });
    out["x25519"] = rows;
  }

  for (const bits of [2048, 3072, 4096, 6144, 8192] as const) {
    const group = FFDHE_GROUPS[bits];
    const dh = nodeCrypto.createDiffieHellman(
      Buffer.from(group.p.toString(16), "hex"),
      Buffer.from([2]),
    );
    const xBytes = Math.ceil(group.exponentBits / 8);
    dh.setPrivateKey(nodeCrypto.randomBytes(xBytes));
    const peer = nodeCrypto.createDiffieHellman(
      Buffer.from(group.p.toString(16), "hex"),
      Buffer.from([2]),
    );
    peer.setPrivateKey(nodeCrypto.randomBytes(xBytes));
    const peerPublic = peer.generateKeys();
    const [, d] = await rate(
      () => Promise.resolve(),
      () => Promise.resolve(dh.computeSecret(peerPublic)),
      budgetMs,
    );
    out[`elgamal-${bits}`] = [{
      peer: `node:crypto DiffieHellman over ${group.name} (no subgroup check)`,
      encrypt: NaN,
      decrypt: d,
    }];
  }

  {
    const kem = new MlKem768();
    const pair = await kem.generateKeyPair();
    let enc = await kem.encap({ recipientPublicKey: pair.publicKey });
    const [e, d] = await rate(
      async () => enc = await kem.encap({ recipientPublicKey: pair.publicKey }),
      () => kem.decap({ enc: enc.enc, recipientKey: pair.privateKey }),
      budgetMs,
    );
    out["ml-kem-768"] = [{ peer: "@hpke/ml-kem MlKem768 encap/decap", encrypt: e, decrypt: d }];
  }
  return out;
}

/** A 1 KiB message sealed and opened under a passphrase, in ms, with each tool's default KDF. */
export async function passwordPeers(message: Uint8Array, rounds: number): Promise<PeerRow[]> {
  const rows: PeerRow[] = [];
  {
    let sealed: Uint8Array = new Uint8Array(0);
    const seal = async () => {
      const e = new age.Encrypter();
      e.setPassphrase("benchmark passphrase");
      sealed = await e.encrypt(message);
    };
    await seal();
    const [s] = await medianMs(seal, 0, rounds);
    const [o] = await medianMs(
      async () => {
        const d = new age.Decrypter();
        d.addPassphrase("benchmark passphrase");
        await d.decrypt(sealed);
      },
      0,
      rounds,
    );
    rows.push({ peer: "age-encryption passphrase", encrypt: s, decrypt: o, note: "scrypt N=2^18" });
  }
  {
    let sealed: Uint8Array = new Uint8Array(0);
    const seal = async () => {
      sealed = await openpgp.encrypt({
        message: await openpgp.createMessage({ binary: message }),
        passwords: ["benchmark passphrase"],
        format: "binary",
      }) as Uint8Array;
    };
    await seal();
    const [s] = await medianMs(seal, 0, rounds);
    const [o] = await medianMs(
      async () => {
        await openpgp.decrypt({
          message: await openpgp.readMessage({ binaryMessage: sealed }),
          passwords: ["benchmark passphrase"],
          format: "binary",
        });
      },
      0,
      rounds,
    );
    rows.push({
      peer: "OpenPGP.js password",
      encrypt: s,
      decrypt: o,
      note: "iterated and salted S2K (SHA-256, 65 MiB hashed)",
    });
  }
  return rows;
}
