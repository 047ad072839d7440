// Internal: `openssl speed` run and parsed, for the reports that put the native ceiling next to
// polycrypt's figures.
import { runCommand } from "../tests/_process.ts";

/**
 * Runs `openssl speed -seconds S ARGS...` and parses what it printed: `rsaN.private` and
 * `rsaN.public` (sign and verify ops/s), `ffdhN`, `x25519`, `x448` (ops/s), `ed25519.sign` and
 * `ed25519.verify` (`ed448.*` likewise), `ml-dsa-N.sign` and `ml-dsa-N.verify` where this OpenSSL
 * has ML-DSA (3.5 and later), and for `-evp AEAD -bytes N` the AEAD id (bytes/s at that block
 * size). Missing openssl, or an algorithm it does not know, gives an empty record.
 */
export async function opensslSpeed(
  args: string[],
  seconds: number,
): Promise<Record<string, number>> {
  let text = "";
  try {
    text = (await runCommand("openssl", ["speed", "-seconds", String(seconds), ...args], {
      stderr: "null",
    })).stdout;
  } catch {
    return {};
  }
  return parseOpensslSpeed(text);
}

/** The figures of `openssl speed`'s output (see {@linkcode opensslSpeed} for the keys). */
export function parseOpensslSpeed(text: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const m of text.matchAll(/^rsa (\d+) bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)/gm)) {
    r[`rsa${m[1]}.private`] = Number(m[2]);
    r[`rsa${m[1]}.public`] = Number(m[3]);
  }
  for (const m of text.matchAll(/^\s*(\d+) bits ffdh\s+\S+\s+([\d.]+)/gm)) {
    r[`ffdh${m[1]}`] = Number(m[2]);
  }
  for (const m of text.matchAll(/^\s*\d+ bits ecdh \((X25519|X448)\)\s+\S+\s+([\d.]+)/gm)) {
    r[m[1].toLowerCase()] = Number(m[2]);
  }
  // "253 bits EdDSA (Ed25519)   0.0000s   0.0001s  30760.0  10295.5": sign/s, verify/s.
  for (
    const m of text.matchAll(
      /^\s*\d+ bits EdDSA \((Ed25519|Ed448)\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)/gm,
    )
  ) {
    r[`${m[1].toLowerCase()}.sign`] = Number(m[2]);
    r[`${m[1].toLowerCase()}.verify`] = Number(m[3]);
  }
  // OpenSSL 3.5's signature table: "ML-DSA-65 0.000158s 0.000751s 0.000173s  6342.2  1332.0
  // 5768.5" (keygen, sign and verify times, then keygens/s, sign/s, verify/s).
  for (
    const m of text.matchAll(
      /^\s*(ML-DSA-\d+|mldsa\d+)\s+[\d.]+s\s+[\d.]+s\s+[\d.]+s\s+[\d.]+\s+([\d.]+)\s+([\d.]+)/gim,
    )
  ) {
    const id = `ml-dsa-${/\d+$/.exec(m[1])![0]}`;
    r[`${id}.sign`] = Number(m[2]);
    r[`${id}.verify`] = Number(m[3]);
  }
  // The -evp table: "aes-256-gcm  123.45k ..." with one column per -bytes size (here one).
  for (const m of text.matchAll(/^([a-z0-9-]+-(?:gcm|poly1305))\s+([\d.]+)k/gim)) {
    r[m[1].toLowerCase()] = Number(m[2]) * 1000;
  }
  return r;
}
