/**
 * The libsignal side of the sessions benchmark, run as its own process by `client.ts`:
 * `@signalapp/libsignal-client` (native, Rust) is loaded from the temporary directory it was
 * fetched into, never from the project's import map, so the AGPL package stays out of the
 * library, its tests and its lockfiles.
 *
 * It reads one JSON command per line on stdin and answers one JSON line on stdout:
 *
 * - `{"op":"oneWay","n":N,"size":S}`: N messages of S bytes from Alice to Bob, each encrypted then
 *   decrypted at once (`signalEncrypt`, `signalDecrypt`).
 * - `{"op":"alternating","n":N,"size":S}`: N messages, Alice and Bob taking turns (a DH step, and
 *   SPQR's work, at every turn).
 * - `{"op":"handshake","n":N,"size":S}`: N fresh pairs; timed: Alice's `processPreKeyBundle` (a
 *   PQXDH bundle with a one-time X25519 prekey and a Kyber-1024 prekey) and her first message,
 *   then Bob's `signalDecryptPreKey` of it.
 * - `{"op":"quit"}`.
 *
 * Each answer gives the milliseconds the timed work took (for the loops also each message's) (measured here, so the pipe is not in
 * them; for the loops also the process's CPU time over them, every thread) and the sizes of the serialized messages (what a messenger puts on the wire). The message
 * loops run on one long-lived pair, set up (handshake and one reply, so both ends hold a complete
 * session) before the first command. The stores are in memory and keep serialized records, as
 * libsignal's own TypeScript tests do (node/ts/test/PublicAPITest.ts).
 *
 * Run by client.ts as
 * `deno run --no-config --node-modules-dir=manual --allow-read=DIR --allow-ffi --allow-env --allow-sys driver.ts DIR`.
 *
 * @module
 */
// deno-lint-ignore-file no-explicit-any require-await
// The package is loaded at run time from a path given on the command line; its types are not
// available to `deno check`, hence `any` for its classes.
import process from "node:process";

const dir = Deno.args[0];
if (!dir) throw new Error("usage: driver.ts DIR (where @signalapp/libsignal-client is installed)");
const entry = `${dir}/node_modules/@signalapp/libsignal-client/dist/index.js`;
const S: any = await import(new URL(`file://${entry}`).href);
const version: string = JSON.parse(
  await Deno.readTextFile(`${dir}/node_modules/@signalapp/libsignal-client/package.json`),
).version;

// ------------------------------------------------------------------ in-memory stores

class Sessions extends S.SessionStore {
  #state = new Map<string, Uint8Array>();
  async saveSession(name: any, record: any): Promise<void> {
    this.#state.set(`${name.name()}::${name.deviceId()}`, record.serialize());
  }
  async getSession(name: any): Promise<any> {
    const bytes = this.#state.get(`${name.name()}::${name.deviceId()}`);
    return bytes ? S.SessionRecord.deserialize(bytes) : null;
  }
  async getExistingSessions(addresses: any[]): Promise<any[]> {
    return addresses.map((a) => {
      const bytes = this.#state.get(`${a.name()}::${a.deviceId()}`);
      if (!bytes) throw new Error(`no session for ${a.name()}`);
      return S.SessionRecord.deserialize(bytes);
    });
  }
}

class Identities extends S.IdentityKeyStore {
  #known = new Map<string, any>();
  constructor(readonly pair: any, readonly registrationId: number) {
    super();
  }
  async getIdentityKey(): Promise<any> {
    return this.pair.privateKey;
  }
  async getLocalRegistrationId(): Promise<number> {
    return this.registrationId;
  }
  async saveIdentity(name: any, key: any): Promise<number> {
    const id = `${name.name()}::${name.deviceId()}`;
    const old = this.#known.get(id);
    this.#known.set(id, key);
    return old && !old.equals(key)
      ? S.IdentityChange.ReplacedExisting
      : S.IdentityChange.NewOrUnchanged;
  }
  async isTrustedIdentity(name: any, key: any): Promise<boolean> {
    const old = this.#known.get(`${name.name()}::${name.deviceId()}`);
    return !old || old.equals(key);
  }
  async getIdentity(name: any): Promise<any> {
    return this.#known.get(`${name.name()}::${name.deviceId()}`) ?? null;
  }
}

class PreKeys extends S.PreKeyStore {
  #keys = new Map<number, Uint8Array>();
  async savePreKey(id: number, record: any): Promise<void> {
    this.#keys.set(id, record.serialize());
  }
  async getPreKey(id: number): Promise<any> {
    const bytes = this.#keys.get(id);
    if (!bytes) throw new Error(`no prekey ${id}`);
    return S.PreKeyRecord.deserialize(bytes);
  }
  async removePreKey(id: number): Promise<void> {
    this.#keys.delete(id);
  }
}

class SignedPreKeys extends S.SignedPreKeyStore {
  #keys = new Map<number, Uint8Array>();
  async saveSignedPreKey(id: number, record: any): Promise<void> {
    this.#keys.set(id, record.serialize());
  }
  async getSignedPreKey(id: number): Promise<any> {
    const bytes = this.#keys.get(id);
    if (!bytes) throw new Error(`no signed prekey ${id}`);
    return S.SignedPreKeyRecord.deserialize(bytes);
  }
}

class KyberPreKeys extends S.KyberPreKeyStore {
  #keys = new Map<number, Uint8Array>();
  async saveKyberPreKey(id: number, record: any): Promise<void> {
    this.#keys.set(id, record.serialize());
  }
  async getKyberPreKey(id: number): Promise<any> {
    const bytes = this.#keys.get(id);
    if (!bytes) throw new Error(`no kyber prekey ${id}`);
    return S.KyberPreKeyRecord.deserialize(bytes);
  }
  async markKyberPreKeyUsed(id: number): Promise<void> {
    this.#keys.delete(id); // one-time Kyber prekeys, as a server hands out while it has them
  }
}

// ------------------------------------------------------------------ a party

let nextName = 1;

class Party {
  readonly address = S.ProtocolAddress.new(`party-${nextName++}`, 1);
  readonly identity = new Identities(
    S.IdentityKeyPair.generate(),
    1 + Math.floor(Math.random() * 16380),
  );
  readonly sessions = new Sessions();
  readonly preKeys = new PreKeys();
  readonly signedPreKeys = new SignedPreKeys();
  readonly kyberPreKeys = new KyberPreKeys();

  /** Publishes a bundle: a signed prekey, a signed one-time Kyber prekey, a one-time prekey. */
  async bundle(): Promise<any> {
    const spk = S.PrivateKey.generate();
    const spkSig = this.identity.pair.privateKey.sign(spk.getPublicKey().serialize());
    const kyber = S.KEMKeyPair.generate();
    const kyberSig = this.identity.pair.privateKey.sign(kyber.getPublicKey().serialize());
    const opk = S.PrivateKey.generate();
    const now = Date.now();
    await this.signedPreKeys.saveSignedPreKey(
      1,
      S.SignedPreKeyRecord.new(1, now, spk.getPublicKey(), spk, spkSig),
    );
    await this.kyberPreKeys.saveKyberPreKey(2, S.KyberPreKeyRecord.new(2, now, kyber, kyberSig));
    await this.preKeys.savePreKey(3, S.PreKeyRecord.new(3, opk.getPublicKey(), opk));
    return S.PreKeyBundle.new(
      this.identity.registrationId,
      1,
      3,
      opk.getPublicKey(),
      1,
      spk.getPublicKey(),
      spkSig,
      this.identity.pair.publicKey,
      2,
      kyber.getPublicKey(),
      kyberSig,
    );
  }

  async encrypt(to: Party, data: Uint8Array): Promise<any> {
    return await S.signalEncrypt(data, to.address, this.address, this.sessions, this.identity);
  }

  /** Decrypts a message from `from` (a PreKey or a Whisper message). */
  async decrypt(from: Party, message: any): Promise<Uint8Array> {
    const bytes = message.serialize();
    if (message.type() === S.CiphertextMessageType.PreKey) {
      return await S.signalDecryptPreKey(
        S.PreKeySignalMessage.deserialize(bytes),
        from.address,
        this.address,
        this.sessions,
        this.identity,
        this.preKeys,
        this.signedPreKeys,
        this.kyberPreKeys,
      );
    }
    return await S.signalDecrypt(
      S.SignalMessage.deserialize(bytes),
      from.address,
      this.address,
      this.sessions,
      this.identity,
    );
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A complete session: Alice's prekey message, Bob's reply, so both send Whisper messages. */
async function pair(): Promise<{ alice: Party; bob: Party }> {
  const alice = new Party();
  const bob = new Party();
  const hi = new TextEncoder().encode("hi");
  await S.processPreKeyBundle(
    await bob.bundle(),
    bob.address,
    alice.address,
    alice.sessions,
    alice.identity,
  );
  await bob.decrypt(alice, await alice.encrypt(bob, hi));
  await alice.decrypt(bob, await bob.encrypt(alice, hi));
  return { alice, bob };
}

// ------------------------------------------------------------------ the commands

interface Command {
  op: "oneWay" | "alternating" | "handshake" | "quit";
  n?: number;
  size?: number;
}

const main = await pair();

async function run(command: Command): Promise<Record<string, unknown>> {
  const n = command.n ?? 100;
  const data = crypto.getRandomValues(new Uint8Array(command.size ?? 1024));
  const sizes: number[] = [];
  if (command.op === "oneWay" || command.op === "alternating") {
    const { alice, bob } = main;
    const per: number[] = [];
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const [from, to] = command.op === "alternating" && i % 2 === 1 ? [bob, alice] : [alice, bob];
      const message = await from.encrypt(to, data);
      sizes.push(message.serialize().length);
      const got = await to.decrypt(from, message);
      if (!sameBytes(got, data)) throw new Error("libsignal round trip differs");
      per.push(performance.now() - t0);
    }
    const ms = performance.now() - start;
    const used = process.cpuUsage(cpu);
    return { ms, cpuMs: (used.user + used.system) / 1000, sizes, per };
  }
  if (command.op === "handshake") {
    const initiator: number[] = [], responder: number[] = [];
    for (let i = 0; i < n; i++) {
      const alice = new Party(), bob = new Party();
      const bundle = await bob.bundle();
      const t0 = performance.now();
      await S.processPreKeyBundle(
        bundle,
        bob.address,
        alice.address,
        alice.sessions,
        alice.identity,
      );
      const first = await alice.encrypt(bob, data);
      const t1 = performance.now();
      const got = await bob.decrypt(alice, first);
      const t2 = performance.now();
      if (!sameBytes(got, data)) throw new Error("libsignal handshake round trip differs");
      initiator.push(t1 - t0);
      responder.push(t2 - t1);
      sizes.push(first.serialize().length);
    }
    return { initiator, responder, sizes };
  }
  throw new Error(`unknown command ${JSON.stringify(command)}`);
}

const encoder = new TextEncoder();
function write(value: unknown): void {
  const bytes = encoder.encode(JSON.stringify(value) + "\n");
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}
// Warm-up (JIT, the addon's first calls) before the parent times anything.
await run({ op: "oneWay", n: 100 });
await run({ op: "alternating", n: 100 });
write({ ready: true, version });

let buffered = "";
const decoder = new TextDecoder();
for await (const chunk of Deno.stdin.readable) {
  buffered += decoder.decode(chunk, { stream: true });
  let newline: number;
  while ((newline = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, newline).trim();
    buffered = buffered.slice(newline + 1);
    if (line === "") continue;
    const command = JSON.parse(line) as Command;
    if (command.op === "quit") Deno.exit(0);
    try {
      write(await run(command));
    } catch (e) {
      write({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
}
