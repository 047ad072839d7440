// Internal: the MLS cipher suites polycrypt enables (docs/groups.md section 2) and their ts-mls
// implementations. Suites are named by their RFC 9420 / draft names everywhere in polycrypt's
// formats; ts-mls's numbers (83 for X-Wing) stay inside this file, because ts-mls 2.0 renumbers
// its post-quantum suites and OpenMLS gives 77 to a different X-Wing suite.
//
// ts-mls 1.6.4 loads the X-Wing KEM with a dynamic `import("@hpke/hybridkem-x-wing")` of an
// optional peer dependency. Deno resolves an optional peer only when the importing graph holds the
// package, so this module imports it statically (pinned in deno.json and deno.lock): without this
// line `getCiphersuiteImpl` fails with "Optional dependency '@hpke/hybridkem-x-wing' is not
// installed".
import "@hpke/hybridkem-x-wing";
import {
  type CiphersuiteImpl,
  type CiphersuiteName,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
} from "ts-mls";

/** The MLS cipher suites polycrypt offers, by name. */
export type GroupSuite =
  | "MLS_256_XWING_AES256GCM_SHA512_Ed25519"
  | "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";

/** The default suite: X-Wing (X25519 + ML-KEM-768) for confidentiality, Ed25519 signatures. */
export const DEFAULT_GROUP_SUITE: GroupSuite = "MLS_256_XWING_AES256GCM_SHA512_Ed25519";
/** RFC 9420's mandatory suite 1, for interoperability with other MLS clients. */
export const INTEROP_GROUP_SUITE: GroupSuite = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";

/** Every suite polycrypt enables. */
export const GROUP_SUITES: readonly GroupSuite[] = [DEFAULT_GROUP_SUITE, INTEROP_GROUP_SUITE];

/** Whether `name` is a suite polycrypt enables. */
export function isGroupSuite(name: unknown): name is GroupSuite {
  return typeof name === "string" && (GROUP_SUITES as readonly string[]).includes(name);
}

const impls = new Map<string, Promise<CiphersuiteImpl>>();

/**
 * The ts-mls implementation of an enabled suite (created once per process). `name` may also be
 * any suite ts-mls knows, for the test vectors.
 */
export function suiteImpl(name: GroupSuite | CiphersuiteName): Promise<CiphersuiteImpl> {
  let impl = impls.get(name);
  if (!impl) {
    impl = getCiphersuiteImpl(getCiphersuiteFromName(name));
    impls.set(name, impl);
    impl.catch(() => impls.delete(name));
  }
  return impl;
}
