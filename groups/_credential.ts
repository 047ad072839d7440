// Internal: the MLS credential of a polycrypt member (docs/groups.md section 3). A basic credential
// whose identity bytes name the member's polycrypt recipient and carry the identity's signature
// over the MLS signature key of this membership:
//
//   identity = "PCGRP1" || u8 0x01 || lp(utf8 recipient) || lp(cert)
//   cert     = Sign(identity signing key, "polycrypt/group/1 member key" || sp(utf8 suite name)
//                                          || lp(utf8 recipient) || lp(MLS signature public key))
import type { Credential } from "ts-mls";
import { FormatError, InvalidKeyError } from "../errors.ts";
import { concatBytes, equalBytes } from "../engines/_bytes.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import type { SigningKey } from "../cascade/stanza.ts";
import { fingerprintOfCanonical } from "../contacts/fingerprint.ts";
import { lp, sp, verifyCached, verifyingKeyOf } from "../sessions/_identity.ts";
import { Reader } from "../sessions/_records.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const MAGIC = encoder.encode("PCGRP1");
const CERT_LABEL = encoder.encode("polycrypt/group/1 member key");

/** What a member's credential says, once its certificate verified. */
export interface MemberIdentity {
  /** The member's canonical polycrypt recipient string. */
  readonly recipient: string;
  /** Its fingerprint (docs/contacts.md section 1). */
  readonly fingerprint: string;
}

function certMessage(suite: string, recipient: string, signatureKey: Uint8Array): Uint8Array {
  return concatBytes(
    CERT_LABEL,
    sp(encoder.encode(suite)),
    lp(encoder.encode(recipient)),
    lp(signatureKey),
  );
}

/** The credential binding `signatureKey` (this membership's MLS key) to the identity. */
export async function makeCredential(
  suite: string,
  recipient: string,
  signing: SigningKey,
  signatureKey: Uint8Array,
): Promise<Credential> {
  const cert = await signing.engine.sign(
    signing.secretKey,
    certMessage(suite, recipient, signatureKey),
  );
  const identity = concatBytes(MAGIC, new Uint8Array([1]), lp(encoder.encode(recipient)), lp(cert));
  return { credentialType: "basic", identity };
}

/** Splits a credential's identity bytes: `FormatError` when they are not polycrypt's. */
function parseCredential(credential: Credential): { recipient: string; cert: Uint8Array } {
  if (credential.credentialType !== "basic") {
    throw new FormatError("a group member's credential must be a basic credential");
  }
  const bytes = credential.identity;
  if (bytes.length < 7 || !equalBytes(bytes.subarray(0, 6), MAGIC) || bytes[6] !== 1) {
    throw new FormatError("the credential is not a polycrypt member credential");
  }
  const r = new Reader(bytes.subarray(7));
  let recipient: string;
  try {
    recipient = decoder.decode(r.lp());
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError("the credential's recipient is not UTF-8");
  }
  const cert = r.lp();
  r.end();
  return { recipient, cert };
}

/**
 * Checks that `credential` names a version-2 polycrypt identity whose signing key certified
 * `signatureKey` for `suite`; returns the member. `InvalidKeyError` otherwise.
 */
export async function verifyCredential(
  suite: string,
  credential: Credential,
  signatureKey: Uint8Array,
  registry: EngineRegistry,
): Promise<MemberIdentity> {
  let parsed;
  try {
    parsed = parseCredential(credential);
  } catch (e) {
    throw new InvalidKeyError("the member credential does not parse", { cause: e });
  }
  const key = verifyingKeyOf(parsed.recipient, registry);
  const ok = await verifyCached(
    key,
    certMessage(suite, parsed.recipient, signatureKey),
    parsed.cert,
  );
  if (!ok) {
    throw new InvalidKeyError(
      "the member credential's certificate does not verify: its MLS key is not certified by " +
        "the identity it names",
    );
  }
  return { recipient: parsed.recipient, fingerprint: fingerprintOfCanonical(parsed.recipient) };
}
