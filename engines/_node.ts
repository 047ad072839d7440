// Internal: node's built-in modules, reached at run time and only where the platform has them.
//
// The portable core (mod.ts) imports no node:* module statically, so it loads where there is none
// (a browser, a worker without node compatibility). node:crypto is still the fast path wherever it
// exists (Deno, Node, Bun): its synchronous AES-GCM, ChaCha20-Poly1305, X25519/X448, HMAC and RSA
// public operation are what the hot paths were measured on. `process.getBuiltinModule` (Deno 2,
// Node >= 22.3, Bun) hands a built-in module over synchronously, so the first call needs no await
// and the synchronous APIs (`hkdfSync`, the stanza key wrap) keep their node speed from the first
// call on. Each module is looked up once, on first use, and cached; where it is missing these
// return undefined and the callers use WebCrypto or the @noble/* fallbacks instead.

/** node:crypto's API (type only: nothing is imported statically). */
export type NodeCrypto = typeof import("node:crypto");
/** node:worker_threads' API (type only). */
export type NodeWorkerThreads = typeof import("node:worker_threads");
/** node:buffer's API (type only). */
export type NodeBuffer = typeof import("node:buffer");

interface Builtins {
  "node:crypto": NodeCrypto;
  "node:worker_threads": NodeWorkerThreads;
  "node:buffer": NodeBuffer;
}

type GetBuiltinModule = (id: string) => unknown;

/** The module, or undefined where the platform has no such built-in. Never throws. */
function lookUp<K extends keyof Builtins>(id: K): Builtins[K] | undefined {
  try {
    const process = (globalThis as { process?: { getBuiltinModule?: GetBuiltinModule } }).process;
    return (process?.getBuiltinModule?.(id) as Builtins[K] | undefined) ?? undefined;
  } catch {
    return undefined;
  }
}

// null: looked up, missing.
let cryptoModule: NodeCrypto | null | undefined;
const others = new Map<keyof Builtins, unknown>();

/** node:crypto, or undefined where the platform has none (looked up once). */
export function nodeCrypto(): NodeCrypto | undefined {
  if (cryptoModule === undefined) cryptoModule = lookUp("node:crypto") ?? null;
  return cryptoModule ?? undefined;
}

/** A node built-in other than node:crypto, or undefined where missing (looked up once). */
export function nodeBuiltin<K extends Exclude<keyof Builtins, "node:crypto">>(
  id: K,
): Builtins[K] | undefined {
  if (!others.has(id)) others.set(id, lookUp(id) ?? null);
  return (others.get(id) ?? undefined) as Builtins[K] | undefined;
}
