/**
 * What `bench:report` measures, as data: the protocol (measure.ts) returns {@linkcode Results},
 * the report writes them as `<date>.json`, and render.ts, charts.ts and targets.ts turn them into
 * the Markdown and the SVG charts with no measurement of their own. This file imports no peer
 * library, so a test can render a stored JSON with the root config.
 *
 * @module
 */
import type { BenchRow } from "../../cli/_bench.ts";

/** One contender's figures for one workload (polycrypt's rows and the peers'). */
export interface PeerRow {
  readonly peer: string;
  /** What the figures are: ops/s for chat and engines, MB/s for bulk, ms for password. */
  readonly encrypt: number;
  readonly decrypt: number;
  readonly note?: string;
}

/**
 * A ratio to a reference measured as back-to-back pairs (ours, then the reference), the median
 * pair's figures.
 */
export interface Pair {
  readonly ours: number;
  readonly ref: number;
  readonly ratio: number;
  /**
   * The platform primitive polycrypt's figure rests on, alone and measured between ours and the
   * reference in the same pairs (e.g. a bare diffieHellman for X25519), so that a missed target's
   * bound is shown with figures from the same minutes: `bare` is the median pair's, `bareRatio`
   * the median of bare over the reference, `shareOfBare` the median of ours over bare.
   */
  readonly bare?: number;
  readonly bareRatio?: number;
  readonly shareOfBare?: number;
}

/** One row of the message-size table: one AEAD stack at one size. */
export interface ThroughputRow {
  readonly stack: string;
  readonly bytes: number;
  readonly encryptMBs: number;
  readonly decryptMBs: number;
}

/** One child process's pass of a stream over the RSS probe (bench/_stream_rss.ts). */
export interface RssRun {
  readonly bytes: number;
  readonly seconds: number;
  readonly peakRssKiB: number;
}

/** The KEM stacks of the cascade-depth cases with 1, 2 and 3 KEMs. */
export const CASCADE_KEMS: readonly string[] = [
  "x25519",
  "x25519+ml-kem-768",
  "x25519+ml-kem-768+x448",
];

/** Everything one run of the protocol measured; `<date>.json` holds exactly this. */
export interface Results {
  readonly date: string;
  readonly quick: boolean;
  readonly machine: {
    readonly os: string;
    readonly arch: string;
    readonly cores: number;
    readonly deno: string;
    readonly v8: string;
  };
  /** `openssl speed`: `rsaN.private`/`.public`, `ffdhN`, `x25519`, `x448` op/s; AEADs bytes/s. */
  readonly openssl: Readonly<Record<string, number>>;
  readonly kems: readonly BenchRow[];
  /** How many alternating runs the RSA keygen medians (ours and `openssl genpkey`) are over. */
  readonly keygenRuns: number;
  readonly rsaKeygenMs: Readonly<Record<string, number>>;
  readonly opensslGenpkeyMs: Readonly<Record<string, number>>;
  readonly throughput: readonly ThroughputRow[];
  /** `encryptStream` / `decryptStream` with one AES-256-GCM layer. */
  readonly stream: {
    readonly bytes: number;
    readonly encryptMBs: number;
    readonly decryptMBs: number;
  };
  readonly recipients: readonly {
    readonly recipients: number;
    readonly encryptMs: number;
    readonly decryptMs: number;
  }[];
  /** 1 KiB encrypt + decrypt per cascade shape; `cascadeKems` are the 1-, 2- and 3-KEM stacks. */
  readonly cascade: readonly { readonly layers: string; readonly ms: number }[];
  readonly cascadeKems: readonly string[];
  /** The default identity's chat rates (the first row of `chatPeers.ours`). */
  readonly chat: { readonly encryptPerS: number; readonly decryptPerS: number };
  readonly chatPeers: {
    readonly ours: readonly PeerRow[];
    readonly peers: readonly PeerRow[];
    readonly rounds: number;
  };
  readonly bulkPeers: { readonly bytes: number; readonly peers: readonly PeerRow[] };
  readonly streamRss: {
    /** The median of the encrypt-only runs. */
    readonly encrypt: RssRun;
    readonly encryptRunsKiB: readonly number[];
    readonly roundTrip: RssRun;
  };
  readonly enginePeers: Readonly<Record<string, readonly PeerRow[]>>;
  readonly passwordPeers: { readonly ours: readonly PeerRow[]; readonly peers: readonly PeerRow[] };
  readonly argon2: {
    /** The backend "auto" picked: "native" (node-argon2 under --allow-ffi) or "wasm". */
    readonly backend: string;
    readonly oursMs: number;
    readonly wasmMs: number;
    readonly nativeMs?: number;
  };
  /** Where the default RSA backend ran the private operation in this run. */
  readonly rsaPrivateBackend: "openssl" | "webcrypto";
  /** RSA decapsulations kept in flight in the RSA targets' second row (two per core). */
  readonly lanes: number;
  /** The bytes of the bulk target's stream against `openssl speed`, and of the typage pairs. */
  readonly pairedBulkBytes: number;
  readonly typageBytes: number;
  /**
   * The paired ratios by id: `bulk`, `typage`, `x25519`, `elgamal-N`, `rsa-N`, `rsa-N-lanes`,
   * `argon2`; `pairs` is how many pairs each median is over.
   */
  readonly pairedRatios: { readonly pairs: number } & Readonly<Record<string, Pair | number>>;
  /** The targets as evaluated from these figures (targets.ts), stored for readers of the JSON. */
  readonly targets?: readonly unknown[];
}

/** `results.pairedRatios[id]`, or undefined when that pair was not measured. */
export function pairOf(results: Results, id: string): Pair | undefined {
  const pair = results.pairedRatios[id];
  return typeof pair === "object" ? pair : undefined;
}

/**
 * Reads a `<date>.json`. A file written before a field existed gets the value the protocol of
 * that time used: `keygenRuns` 31 (1 with --quick), `lanes` two per core, `pairedBulkBytes`
 * 256 MiB and `typageBytes` 64 MiB (4 MiB each with --quick), the current `cascadeKems`, and
 * `rsaPrivateBackend` "openssl" (the only such file, 2026-11-23, ran RSA in OpenSSL through FFI
 * under the task's --allow-ffi; an older report on WebCrypto would need it set by hand).
 */
export function parseResults(json: string): Results {
  const data = JSON.parse(json) as Partial<Results> & Omit<Results, OptionalInOldFiles>;
  const quick = Boolean(data.quick);
  return {
    ...data,
    keygenRuns: data.keygenRuns ?? (quick ? 1 : 31),
    lanes: data.lanes ?? 2 * data.machine.cores,
    pairedBulkBytes: data.pairedBulkBytes ?? (quick ? 4 << 20 : 256 << 20),
    typageBytes: data.typageBytes ?? (quick ? 4 << 20 : 64 << 20),
    cascadeKems: data.cascadeKems ?? CASCADE_KEMS,
    rsaPrivateBackend: data.rsaPrivateBackend ?? "openssl",
  };
}

/** The fields `parseResults` fills in for a file written before they were stored. */
type OptionalInOldFiles =
  | "keygenRuns"
  | "lanes"
  | "pairedBulkBytes"
  | "typageBytes"
  | "cascadeKems"
  | "rsaPrivateBackend";
