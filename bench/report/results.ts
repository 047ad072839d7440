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
  /** Who: the library and what it was asked to do. */
  readonly peer: string;
  /** What the figures are: ops/s for chat and engines, MB/s for bulk, ms for password. */
  readonly encrypt: number;
  /** The opening side, in the same unit as `encrypt`. */
  readonly decrypt: number;
  /** What the row measured beyond its name (parameters, backend). */
  readonly note?: string;
}

/**
 * A ratio to a reference measured as back-to-back pairs (ours, then the reference), the median
 * pair's figures.
 */
export interface Pair {
  /** polycrypt's figure in the median pair. */
  readonly ours: number;
  /** The reference's figure in the median pair. */
  readonly ref: number;
  /** `ours / ref`, the median over the pairs. */
  readonly ratio: number;
  /**
   * The platform primitive polycrypt's figure rests on, alone and measured between ours and the
   * reference in the same pairs (e.g. a bare diffieHellman for X25519), so that a missed target's
   * bound is shown with figures from the same minutes: `bare` is the median pair's, `bareRatio`
   * the median of bare over the reference, `shareOfBare` the median of ours over bare.
   */
  readonly bare?: number;
  /** The median over the pairs of `bare / ref`. */
  readonly bareRatio?: number;
  /** The median over the pairs of `ours / bare`. */
  readonly shareOfBare?: number;
}

/** One row of the message-size table: one AEAD stack at one size. */
export interface ThroughputRow {
  /** The AEAD ids in the order given to `encrypt`, joined by "+". */
  readonly stack: string;
  /** The message size. */
  readonly bytes: number;
  /** Encrypt throughput, MB/s (10^6 bytes). */
  readonly encryptMBs: number;
  /** Decrypt throughput, MB/s (10^6 bytes). */
  readonly decryptMBs: number;
}

/** One child process's pass of a stream over the RSS probe (bench/_stream_rss.ts). */
export interface RssRun {
  /** The bytes that came out of the stream. */
  readonly bytes: number;
  /** Wall time of the whole stream. */
  readonly seconds: number;
  /** The child's peak resident set (VmHWM), KiB. */
  readonly peakRssKiB: number;
}

/** The KEM stacks of the cascade-depth cases with 1, 2 and 3 KEMs. */
export const CASCADE_KEMS: readonly string[] = [
  "x25519",
  "x25519+ml-kem-768",
  "x25519+ml-kem-768+x448",
];

/** One row of the signature table: one engine on one backend, or a library alone. */
export interface SignatureRow {
  /** The algorithm: `ed25519`, `ml-dsa-44`, `ml-dsa-65`, `ml-dsa-87`, `ed25519+ml-dsa-65`. */
  readonly id: string;
  /** Who ran it: `polycrypt, <backend>`, or a library alone (`@noble/curves alone`...). */
  readonly who: string;
  /** Whether the row is a polycrypt engine (not a library alone). */
  readonly ours: boolean;
  /** Signatures per second, one at a time: the median over the rounds. */
  readonly signPerS: number;
  /** Verifications per second, one at a time: the median over the rounds. */
  readonly verifyPerS: number;
}

/** A rate with the process's CPU time over the same window, medians over the rounds. */
export interface BusyRate {
  /** Completed operations per second. */
  readonly perS: number;
  /** Process CPU time (every thread) over wall time: 1.0 is one core busy throughout. */
  readonly busy: number;
}

/** One workload of the signed chat section, one at a time and with several in flight. */
export interface ChatRates {
  readonly sequential: BusyRate;
  readonly inFlight: BusyRate;
}

/** The signature section (issue 21): the table, the targets' figures, the signed chat. */
export interface SignatureResults {
  /** The bytes every table row and pair signs (what `openssl speed ed25519` signs: 20). */
  readonly messageBytes: number;
  /** How many interleaved rounds the table's medians are over. */
  readonly rounds: number;
  /** Every engine and backend, and the libraries alone, in the table's order. */
  readonly rows: readonly SignatureRow[];
  /**
   * `openssl speed` in the same rounds (medians): `ed25519.sign`, `ed25519.verify`, and
   * `ml-dsa-N.sign`/`.verify` where this OpenSSL has ML-DSA.
   */
  readonly openssl: Readonly<Record<string, number>>;
  /** `openssl version`, "" when openssl is missing. */
  readonly opensslVersion: string;
  /** Whether `openssl speed ml-dsa-65` ran here (OpenSSL 3.5 and later). */
  readonly opensslMlDsa: boolean;
  /** How many back-to-back pairs the Ed25519 targets, and runs the hybrid verify, are over. */
  readonly pairs: number;
  /** The default `ed25519` sign against `openssl speed ed25519`; bare: node:crypto alone. */
  readonly ed25519Sign?: Pair;
  /** The default `ed25519` verify against `openssl speed ed25519`; bare: node:crypto alone. */
  readonly ed25519Verify?: Pair;
  /** The registry's `ed25519+ml-dsa-65` verify, one at a time, and WebCrypto's ML-DSA-65 alone. */
  readonly hybridVerify: { readonly perS: number; readonly mlDsa65AlonePerS?: number };
  /** 1 KiB round trips between two default identities, signed and not, in the same rounds. */
  readonly chat: {
    readonly bytes: number;
    /** The default identity's engines, e.g. `x25519+ml-kem-768 with ed25519+ml-dsa-65`. */
    readonly identity: string;
    readonly rounds: number;
    /** Round trips in flight in the "in flight" figures. */
    readonly lanes: number;
    /** `encrypt` with `sender`, then `decryptWithSender` with `verify`. */
    readonly signed: ChatRates;
    /** `encrypt`, then `decrypt`. */
    readonly unsigned: ChatRates;
    /** The hybrid's sign then verify alone (a short message, no envelope). */
    readonly signaturesAlone: ChatRates;
  };
}

/** Everything one run of the protocol measured; `<date>.json` holds exactly this. */
export interface Results {
  /** The day of the run, YYYY-MM-DD: the file names start with it. */
  readonly date: string;
  /** Whether the run was `--quick` (tiny sizes, single runs). */
  readonly quick: boolean;
  /** The machine and the Deno that ran the protocol. */
  readonly machine: {
    readonly os: string;
    readonly arch: string;
    readonly cores: number;
    readonly deno: string;
    readonly v8: string;
  };
  /** `openssl speed`: `rsaN.private`/`.public`, `ffdhN`, `x25519`, `x448` op/s; AEADs bytes/s. */
  readonly openssl: Readonly<Record<string, number>>;
  /** The KEM table: sizes and median times per engine. */
  readonly kems: readonly BenchRow[];
  /** How many alternating runs the RSA keygen medians (ours and `openssl genpkey`) are over. */
  readonly keygenRuns: number;
  /** Our RSA keygen medians by id (`rsa-2048`...), ms. */
  readonly rsaKeygenMs: Readonly<Record<string, number>>;
  /** `openssl genpkey` RSA keygen medians by id, ms. */
  readonly opensslGenpkeyMs: Readonly<Record<string, number>>;
  /** Message size against throughput, per AEAD stack. */
  readonly throughput: readonly ThroughputRow[];
  /** `encryptStream` / `decryptStream` with one AES-256-GCM layer. */
  readonly stream: {
    readonly bytes: number;
    readonly encryptMBs: number;
    readonly decryptMBs: number;
  };
  /** Encrypt to N recipients; the last one decrypts. */
  readonly recipients: readonly {
    readonly recipients: number;
    readonly encryptMs: number;
    readonly decryptMs: number;
  }[];
  /** 1 KiB encrypt + decrypt per cascade shape; `cascadeKems` are the 1-, 2- and 3-KEM stacks. */
  readonly cascade: readonly { readonly layers: string; readonly ms: number }[];
  /** The KEM stacks of the 1-, 2- and 3-KEM cascade cases. */
  readonly cascadeKems: readonly string[];
  /** The default identity's chat rates (the first row of `chatPeers.ours`). */
  readonly chat: { readonly encryptPerS: number; readonly decryptPerS: number };
  /** Chat rates, ours and the peers', from the same interleaved rounds. */
  readonly chatPeers: {
    readonly ours: readonly PeerRow[];
    readonly peers: readonly PeerRow[];
    readonly rounds: number;
  };
  /** The bulk peers table (MB/s) over `bytes`. */
  readonly bulkPeers: { readonly bytes: number; readonly peers: readonly PeerRow[] };
  /** Peak RSS of 1 GiB streamed in a child process. */
  readonly streamRss: {
    /** The median of the encrypt-only runs. */
    readonly encrypt: RssRun;
    readonly encryptRunsKiB: readonly number[];
    readonly roundTrip: RssRun;
  };
  /** The peers' raw private-key operation by KEM id (op/s). */
  readonly enginePeers: Readonly<Record<string, readonly PeerRow[]>>;
  /** The password table (ms). */
  readonly passwordPeers: { readonly ours: readonly PeerRow[]; readonly peers: readonly PeerRow[] };
  /** Argon2id at the default parameters, ms: ours, the WebAssembly backend, the CLI. */
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
  /** The bytes encrypted in each typage pair. */
  readonly typageBytes: number;
  /**
   * The paired ratios by id: `bulk`, `typage`, `x25519`, `elgamal-N`, `rsa-N`, `rsa-N-lanes`,
   * `argon2`; `pairs` is how many pairs each median is over.
   */
  readonly pairedRatios: { readonly pairs: number } & Readonly<Record<string, Pair | number>>;
  /** Signatures (issue 21); absent from reports made before they were measured. */
  readonly signatures?: SignatureResults;
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
