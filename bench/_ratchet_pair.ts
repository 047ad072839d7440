// Bench scaffolding: two Double Ratchet parties (sessions/ratchet.ts) from random handshake
// outputs, without a handshake or a store, for bench/sessions_ratchet_bench.ts and the pairwise
// comparison of bench/groups.ts.
import { registry } from "../mod.ts";
import { rawX25519 } from "../engines/ecc/_montgomery.ts";
import {
  initAlice,
  initBob,
  ratchetDecrypt,
  ratchetEncrypt,
  type RatchetState,
  type RatchetSuite,
} from "../sessions/ratchet.ts";

/** The 10 bytes of a ratchet message before its body ("PCRYPT", version, mode 0x02, kind 0x02). */
export const RATCHET_PREFIX = Uint8Array.of(...new TextEncoder().encode("PCRYPT"), 0, 1, 2, 2);

/** One party of a ratchet session: sends and receives message bodies, keeping its state. */
export class RatchetPeer {
  constructor(readonly suite: RatchetSuite, public state: RatchetState) {}
  async send(data: Uint8Array): Promise<Uint8Array> {
    const r = await ratchetEncrypt(this.suite, this.state, data, RATCHET_PREFIX);
    this.state = r.state;
    return r.body;
  }
  async receive(body: Uint8Array): Promise<Uint8Array> {
    const r = await ratchetDecrypt(this.suite, this.state, RATCHET_PREFIX, body);
    this.state = r.state;
    return r.data;
  }
}

/**
 * A session under `kem` and AES-256-GCM from random handshake outputs, after `warmUp` was sent
 * once each way.
 */
export async function ratchetPair(
  kem: string,
  warmUp: Uint8Array,
): Promise<{ alice: RatchetPeer; bob: RatchetPeer }> {
  const suite: RatchetSuite = { kem: registry.kem(kem), aead: registry.aead("aes-256-gcm") };
  const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
  const rootKey = random(32), hka = random(32), nhkb = random(32), ad = random(32);
  const spk = rawX25519().generate();
  const alice = new RatchetPeer(
    suite,
    await initAlice(suite, {
      rootKey,
      headerKey: hka,
      nextHeaderKey: nhkb,
      peerDh: spk.publicKey,
      ad,
    }),
  );
  const bob = new RatchetPeer(
    suite,
    await initBob(suite, {
      rootKey,
      nextSendHeaderKey: nhkb,
      nextRecvHeaderKey: hka,
      ownDh: spk,
      ad,
    }),
  );
  await bob.receive(await alice.send(warmUp));
  await alice.receive(await bob.send(warmUp));
  return { alice, bob };
}
