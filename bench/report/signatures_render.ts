/**
 * The report's signature section and what bounds a missed signature target, rendered from
 * {@linkcode Results} alone (render.ts calls these; nothing here measures).
 *
 * @module
 */
import { f } from "./_format.ts";
import type { BusyRate, Results, SignatureResults, SignatureRow } from "./results.ts";
import { SIGNED_CHAT_FLOOR, type Target } from "./targets.ts";

/** The reference a row's "vs @noble alone" column divides by: the @noble library of its id. */
function nobleAlone(sig: SignatureResults, id: string): SignatureRow | undefined {
  return sig.rows.find((r) => r.id === id && r.who.startsWith("@noble/"));
}

/** `a / b` as "1.23x", or "-" when either is unknown. */
function ratio(a: number | undefined, b: number | undefined, digits = 2): string {
  return a !== undefined && b !== undefined && b > 0 && Number.isFinite(a)
    ? `${f(a / b, digits)}x`
    : "-";
}

/** Round trips per second with the process's CPU time over wall time, for the chat table. */
function busyCell(rate: BusyRate): string {
  return `${f(rate.perS, 0)} | ${f(rate.busy, 2)}`;
}

/** CPU time (every thread) per completed operation, ms. */
export function cpuMs(rate: BusyRate): number {
  return rate.busy * 1000 / rate.perS;
}

/** The "## Signatures" section of the report; empty for a report made before signatures. */
export function signatureSection(r: Results): string[] {
  const sig = r.signatures;
  if (!sig) return [];
  const ssl = sig.openssl;
  const version = sig.opensslVersion.split(" ").slice(0, 2).join(" ") || "openssl (missing)";
  const row = (x: SignatureRow) => {
    const noble = nobleAlone(sig, x.id);
    const sslSign = ssl[`${x.id}.sign`];
    const sslVerify = ssl[`${x.id}.verify`];
    return `| ${x.id} | ${x.ours ? `**${x.who}**` : x.who} | ${f(x.signPerS)} | ${
      f(x.verifyPerS)
    } | ${ratio(x.signPerS, sslSign, 3)} | ${ratio(x.verifyPerS, sslVerify, 3)} | ${
      noble && noble !== x ? ratio(x.signPerS, noble.signPerS) : "-"
    } | ${noble && noble !== x ? ratio(x.verifyPerS, noble.verifyPerS) : "-"} |`;
  };
  const sslRows = Object.keys(ssl).filter((k) => k.endsWith(".sign")).map((k) => {
    const id = k.slice(0, -".sign".length);
    return `| ${id} | \`openssl speed ${id}\` (${version}) | ${f(ssl[k])} | ${
      f(ssl[`${id}.verify`])
    } | 1x | 1x | - | - |`;
  });
  const chat = sig.chat;
  const cost = (signed: BusyRate, unsigned: BusyRate) =>
    f(1000 / signed.perS - 1000 / unsigned.perS, 2);
  return [
    "## Signatures",
    "",
    `Sign and verify, one at a time, on a ${sig.messageBytes}-byte message (what \`openssl speed ed25519\` signs; an envelope signs a short message of hashes too, docs/format.md section 3.1). ` +
    `Each figure is the median over ${sig.rounds} interleaved round${
      sig.rounds === 1 ? "" : "s"
    }, every row and \`openssl speed\` once per round. ` +
    (sig.opensslMlDsa
      ? "This OpenSSL has ML-DSA, so its rows are in the table."
      : `\`openssl speed ml-dsa-65\` is not measured: ${version} does not know ML-DSA (OpenSSL 3.5 added it), so the ML-DSA rows compare with WebCrypto's and @noble's alone.`),
    "",
    "| algorithm | implementation | sign/s | verify/s | sign vs openssl | verify vs openssl | sign vs @noble alone | verify vs @noble alone |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
    ...sig.rows.map(row),
    ...sslRows,
    "",
    ...(sig.ed25519Sign && sig.ed25519Verify
      ? [
        `Back to back (${sig.pairs} pairs, the targets): the default Ed25519 signed ${
          f(sig.ed25519Sign.ours)
        }/s against openssl's ${f(sig.ed25519Sign.ref)}/s (${
          f(sig.ed25519Sign.ratio, 3)
        }x; node:crypto alone ${f(sig.ed25519Sign.bare)}/s) and verified ${
          f(sig.ed25519Verify.ours)
        }/s against ${f(sig.ed25519Verify.ref)}/s (${
          f(sig.ed25519Verify.ratio, 3)
        }x; node:crypto alone ${f(sig.ed25519Verify.bare)}/s). ` +
        `The default ed25519+ml-dsa-65 verified ${
          f(sig.hybridVerify.perS)
        }/s in the same minutes, WebCrypto's ML-DSA-65 alone ${
          f(sig.hybridVerify.mlDsa65AlonePerS)
        }/s.`,
        "",
      ]
      : []),
    `### Signed chat: 1 KiB between two default identities (round trips per second)`,
    "",
    `A round trip is \`encrypt\` then \`decrypt\` of ${chat.bytes} bytes from one default identity (${chat.identity}) to another; signed, \`encrypt\` has \`sender\` and \`decryptWithSender\` has \`verify\`. ` +
    `Medians over ${chat.rounds} interleaved round${
      chat.rounds === 1 ? "" : "s"
    }; "CPU" is the process's CPU time (every thread) over wall time, ${r.machine.cores} at most on this machine.`,
    "",
    `| workload | one at a time /s | CPU | ${chat.lanes} in flight /s | CPU | CPU ms each, in flight |`,
    "|---|---:|---:|---:|---:|---:|",
    ...([
      ["**signed round trip**", chat.signed],
      ["unsigned round trip", chat.unsigned],
      ["ed25519+ml-dsa-65 sign + verify alone", chat.signaturesAlone],
    ] as const).map(([name, c]) =>
      `| ${name} | ${busyCell(c.sequential)} | ${busyCell(c.inFlight)} | ${
        f(cpuMs(c.inFlight), 2)
      } |`
    ),
    "",
    `Signing costs ${
      cost(chat.signed.sequential, chat.unsigned.sequential)
    } ms per round trip one at a time (signed ${
      ratio(chat.signed.sequential.perS, chat.unsigned.sequential.perS)
    } the unsigned rate) and ${
      cost(chat.signed.inFlight, chat.unsigned.inFlight)
    } ms with ${chat.lanes} in flight (${
      ratio(chat.signed.inFlight.perS, chat.unsigned.inFlight.perS)
    }).`,
    "",
  ];
}

/** This run's figures behind a missed signature target (render.ts adds the link). */
export function signatureBound(t: Target, r: Results): string {
  const sig = r.signatures;
  if (!sig) return "";
  switch (t.kind) {
    case "ed25519-openssl": {
      const pair = t.id.startsWith("ed25519-sign") ? sig.ed25519Sign : sig.ed25519Verify;
      if (pair?.bare === undefined) return "";
      const met = pair.bareRatio !== undefined && pair.bareRatio >= t.goalRatio;
      return `In the same pairs, node:crypto's Ed25519 alone (key objects made once) did ${
        f(pair.bare)
      } op/s, ${f(pair.bareRatio, 3)}x openssl, and polycrypt did ${
        f(pair.shareOfBare, 2)
      }x of that. ${
        met
          ? `That primitive alone reached the goal here, so the shortfall is polycrypt's own work around it (argument and strictness checks, the key cache): ${
            f(100 * (1 - pair.shareOfBare!), 0)
          }% of the primitive's rate. `
          : "Deno's node:crypto Ed25519 is the bound. "
      }`;
    }
    case "hybrid-verify-floor": {
      const alone = sig.hybridVerify.mlDsa65AlonePerS;
      const ed = sig.rows.find((x) => x.id === "ed25519" && x.ours)?.verifyPerS;
      return `In the same runs, WebCrypto's ML-DSA-65 verify alone (key imported once) did ${
        f(alone)
      }/s; in the table, the default Ed25519 verified ${
        f(ed)
      }/s. The hybrid runs both at once (ML-DSA on Deno's thread pool, Ed25519 on the main thread) after a SHA-512 of the message. `;
    }
    case "chat-signed": {
      const c = sig.chat;
      const alone = c.signaturesAlone.inFlight.perS;
      const cores = r.machine.cores;
      return `With ${c.lanes} in flight: signed ${f(c.signed.inFlight.perS, 0)}/s, using ${
        f(c.signed.inFlight.busy, 2)
      } of ${cores} cores, ${f(cpuMs(c.signed.inFlight), 2)} ms of CPU per round trip (${
        f(cores * 1000 / cpuMs(c.signed.inFlight), 0)
      }/s if the process had every core); unsigned ${f(c.unsigned.inFlight.perS, 0)}/s at ${
        f(cpuMs(c.unsigned.inFlight), 2)
      } ms; the hybrid's sign + verify alone ${f(alone, 0)}/s at ${
        f(cpuMs(c.signaturesAlone.inFlight), 2)
      } ms${alone < SIGNED_CHAT_FLOOR ? ", itself below the floor" : ""}. One at a time: signed ${
        f(c.signed.sequential.perS, 0)
      }/s using ${f(c.signed.sequential.busy, 2)} cores, unsigned ${
        f(c.unsigned.sequential.perS, 0)
      }/s. `;
    }
    default:
      return "";
  }
}
