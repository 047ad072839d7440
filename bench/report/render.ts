/**
 * The report's Markdown, rendered from {@linkcode Results} alone: {@linkcode render} measures
 * nothing, so a stored `<date>.json` renders to the same `<date>.md` it was written with. Why a
 * target is bounded where it is (profiles, what each platform primitive costs) is in
 * docs/performance.md; the report links there and shows this run's figures.
 *
 * @module
 */
import { pairOf, type PeerRow, type Results } from "./results.ts";
import { f, LINEAR_FROM, lineSlope, perSecond, sizeLabel, slope, stacksOf } from "./_format.ts";
import { chatReference, evaluateTargets, type Target } from "./targets.ts";
import { signatureBound, signatureSection } from "./signatures_render.ts";

/** Where the narrative analysis lives, relative to bench/results/<date>.md. */
export const PERFORMANCE_DOC = "../../docs/performance.md";

/**
 * How each family's keygen, encapsulate and decapsulate times grow with its size parameter
 * (RSA modulus bits, ElGamal group bits, ML-KEM's 512/768/1024): least-squares log-log slopes
 * over the sizes in the KEM table. X25519 and X448 are left out: they are two curves with their
 * own code in Deno, and a line through them (size^5 in one run) compares implementations.
 */
function keySizeSlopes(kems: Results["kems"]): string[] {
  const families = [
    { name: "RSA", size: "modulus bits", of: (id: string) => /^rsa-(\d+)$/.exec(id)?.[1] },
    { name: "ElGamal", size: "group bits", of: (id: string) => /^elgamal-(\d+)$/.exec(id)?.[1] },
    { name: "ML-KEM", size: "parameter set", of: (id: string) => /^ml-kem-(\d+)$/.exec(id)?.[1] },
  ];
  const lines: string[] = [];
  for (const family of families) {
    const rows = kems.flatMap((k) => {
      const size = family.of(k.id);
      return size ? [{ size: Number(size), k }] : [];
    });
    if (rows.length < 2) continue;
    const grow = (op: "keygenMs" | "encapsulateMs" | "decapsulateMs") =>
      f(slope(rows.map((r) => [r.size, r.k[op]])), 2);
    lines.push(
      `- ${family.name}, ${family.size} ${rows.map((r) => r.size).join(", ")}: keygen time grows ` +
        `as size^${grow("keygenMs")}, encapsulate as size^${grow("encapsulateMs")}, ` +
        `decapsulate as size^${grow("decapsulateMs")}.`,
    );
  }
  return lines.length
    ? ["How cost grows with key size (least-squares log-log slopes over this table):", "", ...lines]
    : [];
}

/**
 * What each added cascade layer costs: the least-squares line through 1 to 3 AEADs (one KEM)
 * and through 1 to 3 KEMs (one AEAD), in ms per added layer.
 */
function depthSlopes(r: Results): string[] {
  const ms = (layers: string) => r.cascade.find((d) => d.layers === layers)?.ms;
  // Layer counts 1, 2, 3 against ms, over the cases this run measured.
  const line = (points: (number | undefined)[]) => {
    const known = points.flatMap((y, i): [number, number][] => y === undefined ? [] : [[i + 1, y]]);
    return known.length < 2 ? undefined : lineSlope(known);
  };
  const aead = line([ms("1 AEAD, 1 KEM"), ms("2 AEADs, 1 KEM"), ms("3 AEADs, 1 KEM")]);
  const kem = line([ms("1 AEAD, 1 KEM"), ms("1 AEAD, 2 KEMs"), ms("1 AEAD, 3 KEMs")]);
  if (aead === undefined || kem === undefined) return [];
  return [
    `Each added AEAD layer costs ${f(aead, 3)} ms and each added KEM ${
      f(kem, 3)
    } ms (least-squares lines through 1 to 3 layers; the KEM stacks are ${
      r.cascadeKems.map((id) => `\`${id}\``).join(", ")
    }, so the KEM figure depends on which engines are added).`,
    "",
  ];
}

/** A table of our rows and the peers', with each row's ratio to the best peer. */
function peerTable(
  ours: readonly PeerRow[],
  peers: readonly PeerRow[],
  unit: string,
  higherIsBetter: boolean,
  ceiling?: { encrypt?: number; decrypt?: number; name: string },
): string[] {
  const valid = (v: number) => Number.isFinite(v) && v > 0;
  const pick = (vs: number[]) =>
    vs.filter(valid).reduce(
      (a, b) => (higherIsBetter ? Math.max(a, b) : Math.min(a, b)),
      higherIsBetter ? 0 : Infinity,
    );
  const best = {
    encrypt: pick(peers.map((p) => p.encrypt)),
    decrypt: pick(peers.map((p) => p.decrypt)),
  };
  const ratio = (v: number, ref?: number) =>
    valid(v) && ref !== undefined && valid(ref) && Number.isFinite(ref)
      ? f(higherIsBetter ? v / ref : ref / v, 2) + "x"
      : "-";
  const head = ceiling
    ? `| | encrypt ${unit} | decrypt ${unit} | encrypt vs best peer | decrypt vs best peer | vs ${ceiling.name} | note |`
    : `| | encrypt ${unit} | decrypt ${unit} | encrypt vs best peer | decrypt vs best peer | note |`;
  const line = (r: PeerRow, bold: boolean) =>
    `| ${bold ? `**${r.peer}**` : r.peer} | ${f(r.encrypt, 1)} | ${f(r.decrypt, 1)} | ${
      ratio(r.encrypt, best.encrypt)
    } | ${ratio(r.decrypt, best.decrypt)} |${
      ceiling
        ? ` ${ratio(r.encrypt, ceiling.encrypt)}${
          ceiling.decrypt ? ` / ${ratio(r.decrypt, ceiling.decrypt)}` : ""
        } |`
        : ""
    } ${r.note ?? ""} |`;
  return [
    head,
    `|---|---:|---:|---:|---:|${ceiling ? "---:|" : ""}---|`,
    ...ours.map((r) => line(r, true)),
    ...peers.map((r) => line(r, false)),
  ];
}

/** Engine rows: our decapsulation next to the peers' raw private-key operation. */
function engineTable(r: Results): string[] {
  const out = [
    "| engine | implementation | private op/s (decapsulate) | vs openssl | vs best peer |",
    "|---|---|---:|---:|---:|",
  ];
  const sslFor = (id: string) => {
    const [family, bits] = id.split("-");
    if (family === "rsa") return r.openssl[`rsa${bits}.private`];
    if (family === "elgamal") return r.openssl[`ffdh${bits}`];
    if (id === "x25519") return r.openssl.x25519;
    return undefined;
  };
  for (const [id, peers] of Object.entries(r.enginePeers)) {
    const ours = r.kems.find((k) => k.id === id);
    const ref = sslFor(id);
    const best = Math.max(...peers.map((p) => p.decrypt).filter(Number.isFinite));
    const row = (who: string, v: number | undefined) =>
      `| ${id} | ${who} | ${f(v)} | ${v !== undefined && ref ? f(v / ref, 3) + "x" : "-"} | ${
        v !== undefined && best > 0 ? f(v / best, 2) + "x" : "-"
      } |`;
    out.push(row("**polycrypt**", ours ? 1000 / ours.decapsulateMs : undefined));
    for (const p of peers) out.push(row(p.peer, p.decrypt));
  }
  return out;
}

/**
 * How many cores the host gave the RSA pairs: `openssl speed -multi CORES` over one process, both
 * medians of the same minutes. On an idle 2-core machine here it is 2.0-2.1x; a shared host can
 * give less for minutes at a time, and then the "in flight" rows measured that, on both sides.
 */
function coresLine(r: Results): string[] {
  const scaling = [2048, 3072, 4096].flatMap((bits) => {
    const one = pairOf(r, `rsa-${bits}`)?.ref;
    const all = pairOf(r, `rsa-${bits}-lanes`)?.ref;
    return one && all ? [`${f(all / one, 2)}x at ${bits}`] : [];
  });
  if (!scaling.length) return [];
  return [
    `Cores the host gave this run: in the RSA pairs, \`openssl speed -multi ${r.machine.cores}\` did ${
      scaling.join(" and ")
    } its one-process rate (2.0-2.1x on this machine when idle, 2026-11-23). Below ${r.machine.cores}x, the rows with decapsulations in flight ran on fewer cores than the machine has, on both sides of the ratio.`,
    "",
  ];
}

/** The operation the default RSA backend decrypted with in this run, alone, in words. */
function rsaPlatform(r: Results): string {
  return r.rsaPrivateBackend === "openssl"
    ? "OpenSSL's RSA-OAEP-SHA-256 EVP_PKEY_decrypt through FFI (key parsed once)"
    : "WebCrypto's RSA-OAEP-SHA-256 decrypt (key imported once)";
}

/**
 * This run's figures behind a missed target, and where docs/performance.md explains what bounds
 * it (the section named by the target's kind).
 */
function bound(t: Target, r: Results): string | undefined {
  if (t.verdict === "yes" || t.verdict === undefined) return undefined;
  const pair = (id: string) => pairOf(r, id);
  // Whether the platform primitive alone reached the goal in the same pairs: then the platform
  // is not what bounds this run, and the text must not say it is.
  const bareMet = (p: ReturnType<typeof pair>) =>
    p?.bareRatio !== undefined && p.bareRatio >= t.goalRatio;
  // "In the same pairs, <primitive> alone did N (r x openssl), and polycrypt did s of it."
  const samePairs = (p: ReturnType<typeof pair>, primitive: string, unit: string) =>
    p?.bare === undefined
      ? ""
      : `In the same pairs, ${primitive} alone did ${f(p.bare)}${unit}, ${
        f(p.bareRatio, 3)
      }x openssl, and polycrypt did ${f(p.shareOfBare, 2)}x of that. ${
        bareMet(p)
          ? `That primitive alone reached the goal here, so the shortfall is polycrypt's own work around it: ${
            f(100 * (1 - p.shareOfBare!), 0)
          }% of the primitive's rate. `
          : ""
      }`;
  const rsaRoute = r.rsaPrivateBackend === "openssl"
    ? "The private operation ran in the system's OpenSSL 3 (through FFI, in Deno's blocking thread pool). "
    : "The private operation ran in Deno's native RSA through WebCrypto (OpenSSL through FFI did not load). ";
  const figures = ((): string => {
    switch (t.kind) {
      case "bulk-openssl":
        return `${bareMet(pair("bulk")) ? "" : "WebCrypto's AES-GCM is the bound. "}${
          samePairs(
            pair("bulk"),
            "raw WebCrypto AES-256-GCM (64 KiB calls, 8 in flight, no header, key exchange or copies)",
            " MB/s",
          )
        }`;
      case "bulk-rss":
        return `The runs peaked at ${
          r.streamRss.encryptRunsKiB.map((k) => f(k / 1024, 0)).join(", ")
        } MiB. `;
      case "rsa-keygen":
        return `Key generation is a random search for two primes, so single runs vary several-fold and even medians of ${r.keygenRuns} move between runs. `;
      case "argon2id": {
        const { wasmMs, nativeMs } = r.argon2;
        const wasm =
          `the WebAssembly backend (hash-wasm), which a program without --allow-ffi gets, took ${
            f(wasmMs, 0)
          } ms (${f(nativeMs && wasmMs / nativeMs, 2)}x the CLI's ${f(nativeMs, 0)} ms)`;
        return r.argon2.backend === "native"
          ? `The native backend is node-argon2's prebuilt addon; ${wasm}. `
          : `${wasm}; the native backend did not load (no FFI permission or no prebuilt binary). `;
      }
      case "rsa-decapsulate":
        return `${
          samePairs(pair(`rsa-${t.bits}`), rsaPlatform(r), " op/s")
        }${rsaRoute}With ${r.lanes} in flight: the next row. `;
      case "rsa-decapsulate-lanes": {
        const single = pair(`rsa-${t.bits}`);
        const lanes = pair(`rsa-${t.bits}-lanes`);
        // How the bulk target counts (every core against one openssl process), from the medians
        // of the two sets of pairs.
        const againstOneProcess = lanes && single ? lanes.ours / single.ref : undefined;
        return `${
          samePairs(lanes, `${rsaPlatform(r)} with ${r.lanes} in flight`, " op/s")
        }Both sides use every core here, so this ratio is the per-core one of the row above. Against one openssl process, the same decapsulations did ${
          f(againstOneProcess, 3)
        }x. ${rsaRoute}`;
      }
      case "elgamal-decapsulate":
        return samePairs(
          pair(`elgamal-${t.bits}`),
          "node:crypto's DiffieHellman.computeSecret over the same group with the same exponent (Rust big integers, no subgroup check)",
          " op/s",
        );
      case "x25519-decapsulate":
        return samePairs(
          pair("x25519"),
          "node:crypto's X25519 diffieHellman (keys parsed once)",
          " op/s",
        );
      case "chat-hpke": {
        const mk = r.chatPeers.ours.find((row) => row.peer.endsWith("ml-kem-768"));
        const hpke = chatReference(r, "hpke");
        return `Like for like, polycrypt with an ml-kem-768 identity does ${
          f(mk?.encrypt, 0)
        } encrypt/s and ${f(mk?.decrypt, 0)} decrypt/s against hpke's ${f(hpke?.encrypt, 0)} / ${
          f(hpke?.decrypt, 0)
        }. `;
      }
      case "ed25519-openssl":
      case "hybrid-verify-floor":
      case "chat-signed":
        return signatureBound(t, r);
      case "chat-age":
      case "bulk-typage":
        return "";
    }
  })();
  return `${figures}Why: [docs/performance.md](${PERFORMANCE_DOC}#${t.kind}).`;
}

/** The report's Markdown for `results`; the charts it links are `<date>-<name>.svg`. */
export function render(results: Results): string {
  const r = results;
  const { date, quick, machine, kems, throughput, cascade: depth, chat } = r;
  const ssl = r.openssl;
  const targets = evaluateTargets(r);
  const chatRounds = r.chatPeers.rounds;
  const streamRss = r.streamRss;
  const md: string[] = [
    `# polycrypt benchmark report, ${date}${quick ? " (--quick)" : ""}`,
    "",
    `Machine: ${machine.cores} cores, ${machine.os}/${machine.arch}, Deno ${machine.deno}. ` +
    "Medians in one run; ratios compare figures from this run only, and the targets against openssl " +
    "compare back-to-back pairs (the machine's speed drifts within minutes). RSA-2048 to RSA-4096 keygen is the median of " +
    `${r.keygenRuns} runs alternating with openssl genpkey (in the targets, the KEM table and the keygen chart); any other keygen slower than a third of the ` +
    "per-operation budget is timed once. Made by `deno task bench:report`.",
    "",
    "## Targets",
    "",
    "| target | goal | measured | ratio | met | platform primitive alone, same pairs (ratio) |",
    "|---|---|---|---:|---|---|",
    ...targets.map((t) =>
      `| ${t.target} | ${t.goal} | ${t.measured} | ${
        t.ratio === undefined ? "-" : f(t.ratio, 3)
      } | ${t.verdict ?? "-"} | ${t.platform ?? ""} |`
    ),
    "",
    "The last column is what polycrypt's figure rests on, measured alone between polycrypt and " +
    "openssl in each pair: raw WebCrypto AES-256-GCM (64 KiB calls, 8 in flight) for bulk, " +
    `${rsaPlatform(r)} (one at a time, or as many in flight as polycrypt's row) ` +
    "and node:crypto's X25519 diffieHellman on keys parsed once for the engines, and node:crypto's DiffieHellman.computeSecret over the same group for ElGamal " +
    "(whose modPow is our own). A target whose goal is above that ratio cannot be met by composing this platform's " +
    "primitives.",
    "",
    ...coresLine(r),
    "### What bounds the missed targets",
    "",
    ...(() => {
      const bounds = targets.flatMap((t) => {
        const b = bound(t, r);
        return b ? [`- ${t.target}: ${b}`] : [];
      });
      return bounds.length ? bounds : ["None: every target with a figure was met in this run."];
    })(),
    "",
    "## Peers",
    "",
    "Each peer runs through its own public API on the same input in this run. Ratios: ours over the best peer (above 1 is better).",
    "",
    "### Chat: 1 KiB to one recipient (per second)",
    "",
    `Every row, polycrypt's and the peers', was measured in the same ${chatRounds} interleaved round${
      chatRounds === 1 ? "" : "s"
    }; each figure is the median over the rounds.`,
    "",
    ...peerTable(r.chatPeers.ours, r.chatPeers.peers, "/s", true),
    "",
    `### Bulk: ${sizeLabel(r.bulkPeers.bytes)} (MB/s)`,
    "",
    ...peerTable(
      [{
        peer: "polycrypt encryptStream / decryptStream, AES-256-GCM",
        encrypt: r.stream.encryptMBs,
        decrypt: r.stream.decryptMBs,
        note: `${sizeLabel(r.stream.bytes)} streamed`,
      }],
      r.bulkPeers.peers,
      "MB/s",
      true,
      { encrypt: ssl["aes-256-gcm"] && ssl["aes-256-gcm"] / 1e6, name: "openssl aes-256-gcm" },
    ),
    "",
    `1 GiB through \`encryptStream\` in a child process: ${
      f(streamRss.encrypt.bytes / 1e6 / streamRss.encrypt.seconds, 0)
    } MB/s, peak RSS ${
      f(streamRss.encrypt.peakRssKiB / 1024, 0)
    } MiB; \`encryptStream | decryptStream\` in one process: ${
      f(streamRss.roundTrip.bytes / 1e6 / streamRss.roundTrip.seconds, 0)
    } MB/s, peak RSS ${f(streamRss.roundTrip.peakRssKiB / 1024, 0)} MiB.`,
    "",
    "### Engines: the private-key operation",
    "",
    ...engineTable(r),
    "",
    "### Password: 1 KiB under a passphrase, each tool's default KDF (ms, lower is better)",
    "",
    ...peerTable(r.passwordPeers.ours, r.passwordPeers.peers, "ms", false),
    "",
    `Native ceiling: the \`argon2\` CLI at polycrypt's parameters takes ${
      f(r.argon2.nativeMs, 0)
    } ms. libsodium-wrappers (not -sumo) has no crypto_pwhash, so it has no row.`,
    "",
    ...signatureSection(r),
    "## KEM engines",
    "",
    `![keygen](${date}-kem-keygen.svg)`,
    `![encapsulate](${date}-kem-encapsulate.svg)`,
    `![decapsulate](${date}-kem-decapsulate.svg)`,
    "",
    "| id | bits | pq | public key B | secret key B | encapsulation B | keygen/s | encapsulate/s | decapsulate/s |",
    "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ...kems.map((k) =>
      `| ${k.id} | ${k.securityBits} | ${
        k.postQuantum ? "yes" : "no"
      } | ${k.publicKeyBytes} | ${k.secretKeyBytes} | ${k.encapsulationBytes} | ${
        perSecond(k.keygenMs)
      } | ${perSecond(k.encapsulateMs)} | ${perSecond(k.decapsulateMs)} |`
    ),
    "",
    ...keySizeSlopes(kems),
    "",
    `![sizes](${date}-sizes.svg)`,
    "",
    "Native ceiling (`openssl speed`): " +
    Object.entries(ssl).map(([k, v]) =>
      `${k} ${k.includes("-") ? `${f(v / 1e6, 0)} MB/s` : `${f(v)} op/s`}`
    ).join(", ") + ". `openssl genpkey` RSA keygen (median ms): " +
    Object.entries(r.opensslGenpkeyMs).map(([k, v]) => `${k} ${f(v, 0)}`).join(", ") + ".",
    "",
    "## Message size",
    "",
    `![throughput](${date}-throughput.svg)`,
    "",
    "| AEAD stack | size | encrypt MB/s | decrypt MB/s |",
    "|---|---:|---:|---:|",
    ...throughput.map((t) =>
      `| ${t.stack} | ${sizeLabel(t.bytes)} | ${f(t.encryptMBs)} | ${f(t.decryptMBs)} |`
    ),
    "",
    ...stacksOf(throughput).map((stack) => {
      const rows = throughput.filter((t) => t.stack === stack);
      const fit = (part: typeof rows) =>
        `size^${f(slope(part.map((t) => [t.bytes, t.bytes / t.encryptMBs])), 2)} over ${
          sizeLabel(part[0].bytes)
        } to ${sizeLabel(part.at(-1)!.bytes)}`;
      // Below a few chunks the fixed cost per message (key derivation, promises) dominates, so
      // the fit over all sizes is well under 1; from 256 KiB up it shows the per-byte cost.
      const large = rows.filter((t) => t.bytes >= LINEAR_FROM);
      return `- ${stack}: encrypt time grows as ${fit(rows)}${
        large.length >= 2 ? `, and as ${fit(large)}` : ""
      } (least-squares log-log slopes)`;
    }),
    "",
    `Streaming (\`encryptStream\`, one AES-256-GCM layer, ${sizeLabel(r.stream.bytes)}): encrypt ${
      f(r.stream.encryptMBs)
    } MB/s, decrypt ${f(r.stream.decryptMBs)} MB/s.`,
    "",
    "## Recipients",
    "",
    "| recipients | encrypt ms | decrypt ms (last recipient) |",
    "|---:|---:|---:|",
    ...r.recipients.map((x) => `| ${x.recipients} | ${f(x.encryptMs, 2)} | ${f(x.decryptMs, 2)} |`),
    "",
    `Encrypt time grows as recipients^${
      f(slope(r.recipients.map((x) => [x.recipients, x.encryptMs])), 2)
    }; decrypt as recipients^${f(slope(r.recipients.map((x) => [x.recipients, x.decryptMs])), 2)}.`,
    "",
    "## Cascade depth",
    "",
    `![cascade](${date}-cascade.svg)`,
    "",
    "| layers | ms (1 KiB encrypt + decrypt) |",
    "|---|---:|",
    ...depth.map((d) => `| ${d.layers} | ${f(d.ms, 2)} |`),
    "",
    ...depthSlopes(r),
    `Chat, 1 KiB to \`x25519+ml-kem-768\`: ${f(chat.encryptPerS, 0)} encrypt/s, ${
      f(chat.decryptPerS, 0)
    } decrypt/s. Argon2id (64 MiB, t=3, p=4): ${
      f(r.argon2.oursMs, 0)
    } ms (${r.argon2.backend} backend), ${f(r.argon2.wasmMs, 0)} ms on WebAssembly, native CLI ${
      f(r.argon2.nativeMs, 0)
    } ms.`,
    "",
  ];
  return md.join("\n");
}
