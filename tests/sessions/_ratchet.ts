// Test helpers for the Double Ratchet (sessions/ratchet.ts): a fresh pair of states from random
// handshake outputs (the handshake itself is tested in handshake_test.ts), and a peer object that
// keeps its state the way a session store would.
import { registry } from "../../mod.ts";
import { generateDh } from "../../sessions/_kdf.ts";
import {
  initAlice,
  initBob,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
  type RatchetSuite,
} from "../../sessions/ratchet.ts";

/** The 10 bytes before a ratchet message's body: magic, version, mode 0x02, kind 0x02. */
export const PREFIX: Uint8Array = Uint8Array.from([
  ...new TextEncoder().encode("PCRYPT"),
  0x00,
  0x01,
  0x02,
  0x02,
]);

/** The default suite over the registry's `kemId` and AES-256-GCM. */
export function suiteOf(kemId = "ml-kem-768", extra: Partial<RatchetSuite> = {}): RatchetSuite {
  return { kem: registry.kem(kemId), aead: registry.aead("aes-256-gcm"), ...extra };
}

/** A message as sent: who sent it and its body. */
export interface Sent {
  from: "alice" | "bob";
  body: Uint8Array;
  data: Uint8Array;
}

/** One side of a session; `state` is replaced on every successful operation. */
export class Peer {
  constructor(readonly suite: RatchetSuite, public state: RatchetState) {}
  async send(data: Uint8Array, now?: number): Promise<Uint8Array> {
    const r = await ratchetEncrypt(this.suite, this.state, data, PREFIX, now);
    this.state = r.state;
    return r.body;
  }
  async receive(body: Uint8Array, now?: number): Promise<Uint8Array> {
    const r = await ratchetDecrypt(this.suite, this.state, PREFIX, body, now);
    this.state = r.state;
    return r.data;
  }
}

/** Alice's and Bob's states from random root and header keys, as a handshake would leave them. */
export async function newSession(
  suite: RatchetSuite,
  bobSuite: RatchetSuite = suite,
  now: number = Date.now(),
): Promise<{ alice: Peer; bob: Peer }> {
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  const rootKey = random(32), hka = random(32), nhkb = random(32), ad = random(32);
  const spk = generateDh();
  const aliceState = await initAlice(suite, {
    rootKey,
    headerKey: hka,
    nextHeaderKey: nhkb,
    peerDh: spk.publicKey,
    ad,
    now,
  });
  const bobState = await initBob(bobSuite, {
    rootKey,
    nextSendHeaderKey: nhkb,
    nextRecvHeaderKey: hka,
    ownDh: spk,
    ad,
    now,
  });
  return { alice: new Peer(suite, aliceState), bob: new Peer(bobSuite, bobState) };
}

/** `n` bytes of recognisable text. */
export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
