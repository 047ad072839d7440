/**
 * The performance targets of issue 4, evaluated from {@linkcode Results}: each has a stable id
 * (`rsa-3072-decapsulate-lanes`, `chat-encrypt-age`...) and a kind that docs/performance.md
 * explains, so nothing downstream matches on a target's wording.
 *
 * @module
 */
import type { Pair, PeerRow, Results } from "./results.ts";
import { pairOf } from "./results.ts";

/** What a target compares; docs/performance.md has a section per kind (its anchor). */
export type TargetKind =
  | "bulk-openssl"
  | "rsa-decapsulate"
  | "rsa-decapsulate-lanes"
  | "elgamal-decapsulate"
  | "x25519-decapsulate"
  | "rsa-keygen"
  | "argon2id"
  | "chat-age"
  | "chat-hpke"
  | "bulk-typage"
  | "bulk-rss"
  | "ed25519-openssl"
  | "hybrid-verify-floor"
  | "chat-signed";

/** The `ed25519+ml-dsa-65` verify target's absolute floor, verifications per second. */
export const HYBRID_VERIFY_FLOOR = 2000;
/** The signed chat target's absolute floor, 1 KiB round trips per second. */
export const SIGNED_CHAT_FLOOR = 600;

/** One target row: the goal, this run's figures, and whether they met it. */
export interface Target {
  /** Stable across runs, e.g. `elgamal-3072-decapsulate`. */
  readonly id: string;
  /** What it compares; the anchor of its section in docs/performance.md. */
  readonly kind: TargetKind;
  /** The key or group size, for the per-size kinds. */
  readonly bits?: number;
  /** The row's wording in the report. */
  readonly target: string;
  /** The goal as written, e.g. ">= 0.4x" or "<= 2x". */
  readonly goal: string;
  /** The goal as a number (a ratio), which `goal` writes with its direction. */
  readonly goalRatio: number;
  /** Ours vs the reference with the unit, or "not measured in this run". */
  readonly measured: string;
  /** Ours over the reference. */
  readonly ratio?: number;
  /** "yes", or by how much a missed target misses; absent when not measured. */
  readonly verdict?: string;
  /** The platform primitive alone in the same pairs, and its ratio to the reference. */
  readonly platform?: string;
}

/** The chat peers the chat targets compare against, by the start of their row's name. */
const CHAT_REFERENCES = {
  age: "age-encryption, ML-KEM-768",
  hpke: "@hpke/ml-kem",
} as const;

/** The chat peer row a chat target compares against. */
export function chatReference(
  results: Results,
  which: keyof typeof CHAT_REFERENCES,
): PeerRow | undefined {
  return results.chatPeers.peers.find((r) => r.peer.startsWith(CHAT_REFERENCES[which]));
}

/** Every target, in the report's order, evaluated from `results`. */
export function evaluateTargets(results: Results): Target[] {
  const targets: Target[] = [];
  const pairs = results.pairedRatios.pairs;
  const cores = results.machine.cores;
  const lanes = results.lanes;

  /**
   * Records a target. `ratio` is ours over the reference; `atLeast` says whether the goal is a
   * floor (throughput: ratio >= goal) or a ceiling (time: ratio <= goal).
   */
  const add = (
    head: Pick<Target, "id" | "kind" | "bits" | "target">,
    goal: number,
    atLeast: boolean,
    figures?: { ours: number; ref: number; unit: string; digits: number },
    platform?: string,
  ) => {
    const row = {
      id: head.id,
      kind: head.kind,
      ...(head.bits !== undefined && { bits: head.bits }),
      target: head.target,
      goal: `${atLeast ? ">=" : "<="} ${goal}x`,
      goalRatio: goal,
    };
    if (!figures) {
      targets.push({ ...row, measured: "not measured in this run" });
      return;
    }
    const { ours, ref, unit, digits } = figures;
    const ratio = ours / ref;
    const miss = atLeast ? goal / ratio : ratio / goal;
    targets.push({
      ...row,
      measured: `${ours.toFixed(digits)} vs ${ref.toFixed(digits)}${unit}`,
      ratio,
      verdict: miss <= 1
        ? "yes"
        : `**no** (${atLeast ? "short" : "over"} by ${miss.toFixed(miss < 1.1 ? 3 : 2)}x)`,
      ...(platform !== undefined && { platform }),
    });
  };
  const ratioTarget = (
    head: Pick<Target, "id" | "kind" | "bits" | "target">,
    goal: number,
    ours: number | undefined,
    ref: number | undefined,
    unit: string,
    platform?: string,
  ) =>
    add(
      head,
      goal,
      true,
      ours === undefined || ref === undefined ? undefined : { ours, ref, unit, digits: 1 },
      platform,
    );
  const pairedTarget = (
    head: Pick<Target, "id" | "kind" | "bits" | "target">,
    goal: number,
    pair: Pair | undefined,
    unit: string,
  ) =>
    ratioTarget(
      { ...head, target: `${head.target} (median of ${pairs} back-to-back pairs)` },
      goal,
      pair?.ours,
      pair?.ref,
      unit,
      pair?.bare === undefined
        ? undefined
        : `${pair.bare.toFixed(1)}${unit} (${pair.bareRatio!.toFixed(3)}x)`,
    );

  pairedTarget(
    {
      id: "bulk-openssl",
      kind: "bulk-openssl",
      target: `Bulk: encryptStream, 1 AES-256-GCM layer, ${
        results.pairedBulkBytes >> 20
      } MiB to a dropping sink, vs openssl aes-256-gcm 16 KiB`,
    },
    0.25,
    pairOf(results, "bulk"),
    " MB/s",
  );
  for (const bits of [3072, 4096]) {
    pairedTarget(
      {
        id: `rsa-${bits}-decapsulate`,
        kind: "rsa-decapsulate",
        bits,
        target: `RSA-${bits} decapsulate (private op), one at a time, vs openssl rsa${bits} sign`,
      },
      0.4,
      pairOf(results, `rsa-${bits}`),
      " op/s",
    );
    pairedTarget(
      {
        id: `rsa-${bits}-decapsulate-lanes`,
        kind: "rsa-decapsulate-lanes",
        bits,
        target:
          `RSA-${bits} decapsulate (private op), ${lanes} in flight on ${cores} cores, vs openssl speed -multi ${cores} rsa${bits} sign`,
      },
      0.4,
      pairOf(results, `rsa-${bits}-lanes`),
      " op/s",
    );
  }
  for (const bits of [2048, 3072, 4096, 6144, 8192]) {
    pairedTarget(
      {
        id: `elgamal-${bits}-decapsulate`,
        kind: "elgamal-decapsulate",
        bits,
        target: `ElGamal-${bits} decapsulate vs openssl ffdh${bits}`,
      },
      0.3,
      pairOf(results, `elgamal-${bits}`),
      " op/s",
    );
  }
  pairedTarget(
    {
      id: "x25519-decapsulate",
      kind: "x25519-decapsulate",
      target: "X25519 decapsulate vs openssl ecdh X25519",
    },
    0.3,
    pairOf(results, "x25519"),
    " op/s",
  );
  for (const bits of [2048, 3072, 4096]) {
    const ours = results.rsaKeygenMs[`rsa-${bits}`];
    const ref = results.opensslGenpkeyMs[`rsa-${bits}`];
    if (ours === undefined || ref === undefined) continue;
    add(
      {
        id: `rsa-${bits}-keygen`,
        kind: "rsa-keygen",
        bits,
        target:
          `RSA-${bits} keygen vs openssl genpkey (time, medians of ${results.keygenRuns} runs)`,
      },
      2,
      false,
      { ours, ref, unit: " ms", digits: 0 },
    );
  }
  const argon2 = pairOf(results, "argon2");
  add(
    {
      id: "argon2id",
      kind: "argon2id",
      target:
        `Argon2id 64 MiB t=3 p=4 (${results.argon2.backend} backend) vs the argon2 CLI (time, median of ${pairs} back-to-back pairs)`,
    },
    1.3,
    false,
    argon2 && { ours: argon2.ours, ref: argon2.ref, unit: " ms", digits: 0 },
  );
  const age = chatReference(results, "age");
  const hpke = chatReference(results, "hpke");
  for (const op of ["encrypt", "decrypt"] as const) {
    const ours = results.chat[`${op}PerS`];
    ratioTarget(
      {
        id: `chat-${op}-age`,
        kind: "chat-age",
        target: `Chat: 1 KiB ${op} to x25519+ml-kem-768 vs age-encryption's hybrid`,
      },
      3,
      ours,
      age?.[op],
      "/s",
    );
    ratioTarget(
      {
        id: `chat-${op}-hpke`,
        kind: "chat-hpke",
        target: `Chat: 1 KiB ${op} to x25519+ml-kem-768 vs @hpke/ml-kem ${
          op === "encrypt" ? "seal" : "open"
        }`,
      },
      1.5,
      ours,
      hpke?.[op],
      "/s",
    );
  }
  pairedTarget(
    {
      id: "bulk-typage",
      kind: "bulk-typage",
      target: `Bulk: encryptStream vs age-encryption (typage) encrypt, ${
        results.typageBytes >> 20
      } MiB, both keeping the ciphertext`,
    },
    3,
    pairOf(results, "typage"),
    " MB/s",
  );
  const rss = results.streamRss;
  add(
    {
      id: "bulk-rss",
      kind: "bulk-rss",
      target:
        `Bulk: peak RSS of encryptStream over 1 GiB vs 128 MiB (median of ${rss.encryptRunsKiB.length} runs)`,
    },
    1,
    false,
    { ours: rss.encrypt.peakRssKiB / 1024, ref: 128, unit: " MiB", digits: 0 },
  );
  // Signatures (issue 21), in reports that measured them.
  const sig = results.signatures;
  if (!sig) return targets;
  const sslName = sig.opensslVersion.split(" ").slice(0, 2).join(" ") || "openssl";
  for (const op of ["sign", "verify"] as const) {
    const pair = op === "sign" ? sig.ed25519Sign : sig.ed25519Verify;
    ratioTarget(
      {
        id: `ed25519-${op}-openssl`,
        kind: "ed25519-openssl",
        target:
          `Ed25519 ${op} (registry default), ${sig.messageBytes} B, one at a time, vs openssl speed ed25519 ${op} (${sslName}; median of ${sig.pairs} back-to-back pairs)`,
      },
      0.5,
      pair?.ours,
      pair?.ref,
      " op/s",
      pair?.bare === undefined
        ? undefined
        : `node:crypto alone: ${pair.bare.toFixed(1)} op/s (${pair.bareRatio!.toFixed(3)}x)`,
    );
  }
  // Absolute floors: the ratio is to the floor, so the goal is 1x.
  const floorPlatform = (what: string, perS: number | undefined, floor: number) =>
    perS === undefined
      ? undefined
      : `${what}: ${perS.toFixed(1)}/s (${(perS / floor).toFixed(3)}x)`;
  ratioTarget(
    {
      id: "ed25519+ml-dsa-65-verify",
      kind: "hybrid-verify-floor",
      target:
        `ed25519+ml-dsa-65 verify (registry default), one at a time, vs an absolute floor of ${HYBRID_VERIFY_FLOOR}/s (median of ${sig.pairs} runs)`,
    },
    1,
    sig.hybridVerify.perS,
    HYBRID_VERIFY_FLOOR,
    "/s",
    floorPlatform(
      "WebCrypto ML-DSA-65 verify alone",
      sig.hybridVerify.mlDsa65AlonePerS,
      HYBRID_VERIFY_FLOOR,
    ),
  );
  const chat = sig.chat;
  ratioTarget(
    {
      id: "chat-signed-round-trip",
      kind: "chat-signed",
      target:
        `Signed chat: 1 KiB encrypt with sender + decryptWithSender with verify, default identities, ${chat.lanes} in flight, vs an absolute floor of ${SIGNED_CHAT_FLOOR} round trips/s (median of ${chat.rounds} rounds)`,
    },
    1,
    chat.signed.inFlight.perS,
    SIGNED_CHAT_FLOOR,
    "/s",
    floorPlatform(
      `ed25519+ml-dsa-65 sign + verify alone, ${chat.lanes} in flight`,
      chat.signaturesAlone.inFlight.perS,
      SIGNED_CHAT_FLOOR,
    ),
  );
  return targets;
}
