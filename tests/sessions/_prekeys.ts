// Shared by the handshake slice's tests: identities, Bob's prekeys and bundle, a lookup over them,
// and a registry whose signature engine counts its verifications.
import { generateIdentity } from "../../mod.ts";
import { registry as defaultRegistry } from "../../engines/mod.ts";
import { EngineRegistry } from "../../engines/registry.ts";
import type { KemEngine, SignatureEngine } from "../../engines/types.ts";
import {
  encodeBundle,
  generatePrekeys,
  type PrekeyPair,
  type PublicPrekey,
} from "../../sessions/bundle.ts";
import type { PrekeyLookup } from "../../sessions/handshake.ts";

export type Prekeys = Awaited<ReturnType<typeof generatePrekeys>>;

/** Identities of the default engines, made once per process. */
const identities = new Map<string, Promise<{ identity: string; recipient: string }>>();
export function identityOf(
  name: string,
  engine = "x25519+ml-kem-768",
  signatureEngine = "ed25519+ml-dsa-65",
  registry: EngineRegistry = defaultRegistry,
): Promise<{ identity: string; recipient: string }> {
  const key = `${name}/${engine}/${signatureEngine}`;
  let p = identities.get(key);
  if (!p) identities.set(key, p = generateIdentity(engine, { signatureEngine, registry }));
  return p;
}

/** A lookup over `prekeys`; one-time keys can be deleted with `consume`. */
export function lookupOf(
  prekeys: Prekeys,
  kem?: string,
): PrekeyLookup & { consume(kind: "opk" | "pqopk", id: number): void } {
  const opks = [...prekeys.opks];
  const pqopks = prekeys.pqopks.map((k) => kem ? { ...k, kem } : k);
  const find = (list: (PrekeyPair & { kem?: string })[]) => (id: number) =>
    Promise.resolve(list.find((k) => k.id === id));
  return {
    spk: find([prekeys.spk]),
    pqspk: find([kem ? { ...prekeys.pqspk, kem } : prekeys.pqspk]),
    opk: find(opks),
    pqopk: find(pqopks),
    consume(kind, id) {
      const list = kind === "opk" ? opks : pqopks;
      list.splice(list.findIndex((k) => k.id === id), 1);
    },
  };
}

/** Bob's prekeys and bundle under `kem`. */
export async function bobWith(
  identity: string,
  kem: KemEngine,
  oneTime: number,
  registry?: EngineRegistry,
): Promise<{ prekeys: Prekeys; bundle: Uint8Array }> {
  const prekeys = await generatePrekeys(kem, { oneTime }, 100);
  const bundle = await encodeBundle(identity, {
    kem,
    ...prekeys,
    created: 1_700_000_000_000,
    registry,
  });
  return { prekeys, bundle };
}

/** The public part of prekeys. */
export const pub = (k: PrekeyPair): PublicPrekey => ({ id: k.id, publicKey: k.publicKey });

/**
 * A registry with x25519, the ML-KEMs, AES-256-GCM, and `ed25519+ml-dsa-65` wrapped so that it
 * counts `verify` calls (to show what is refused before any signature work).
 */
export function countingRegistry(): { registry: EngineRegistry; verifies: () => number } {
  const inner = defaultRegistry.signature("ed25519+ml-dsa-65");
  let count = 0;
  const counting: SignatureEngine = {
    kind: "signature",
    id: inner.id,
    family: inner.family,
    postQuantum: inner.postQuantum,
    securityBits: inner.securityBits,
    publicKeySize: inner.publicKeySize,
    secretKeySize: inner.secretKeySize,
    signatureSize: inner.signatureSize,
    generateKeyPair: () => inner.generateKeyPair(),
    sign: (sk, m) => inner.sign(sk, m),
    verify: (pk, m, s) => {
      count++;
      return inner.verify(pk, m, s);
    },
    publicKeyFromSecretKey: (sk) => inner.publicKeyFromSecretKey!(sk),
  };
  const registry = new EngineRegistry();
  for (const id of ["x25519", "ml-kem-512", "ml-kem-768", "ml-kem-1024", "aes-256-gcm"]) {
    registry.register(defaultRegistry.get(id));
  }
  registry.register(counting);
  return { registry, verifies: () => count };
}

/** Whether `needle` occurs in `haystack`. */
export function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
