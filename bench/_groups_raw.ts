// A group of n made with ts-mls alone (basic credentials, states in memory), for the benchmarks
// that compare polycrypt's wrapper with ts-mls's own encrypt and decrypt (bench/groups.ts,
// bench/groups_profile.ts).
import {
  type ClientState,
  createCommit,
  createGroup,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  generateKeyPackageWithKey,
  joinGroup,
} from "ts-mls";
import { defaultClientConfig } from "ts-mls/clientConfig.js";
import { DEFAULT_GROUP_SUITE, type GroupSuite } from "../groups/mod.ts";
import { suiteImpl } from "../groups/_suites.ts";

/** A sender's and a reader's state in a group of `n` made with ts-mls alone. */
export async function rawPair(
  n: number,
  suite: GroupSuite = DEFAULT_GROUP_SUITE,
): Promise<[ClientState, ClientState]> {
  const cs = await suiteImpl(suite);
  // Like polycrypt (docs/groups.md section 4): no MLS padding (ours pads the data with PADME).
  const config = {
    ...defaultClientConfig,
    paddingConfig: { kind: "alwaysPad" as const, paddingLength: 0 },
  };
  const member = async (name: string) => {
    const sig = await cs.signature.keygen();
    return await generateKeyPackageWithKey(
      { credentialType: "basic", identity: new TextEncoder().encode(name) },
      defaultCapabilities(),
      defaultLifetime,
      [],
      sig,
      cs,
    );
  };
  const creator = await member("creator");
  let state: ClientState = await createGroup(
    crypto.getRandomValues(new Uint8Array(32)),
    creator.publicPackage,
    creator.privatePackage,
    [],
    cs,
    config,
  );
  const others = [];
  for (let i = 0; i < n - 1; i++) others.push(await member(`m${i}`));
  // Above 101 members in commits of 50 (as bench/groups.ts builds large groups): the reader
  // joins from the last one's Welcome.
  const batch = n <= 101 ? n : 50;
  let welcome;
  for (let i = 0; i < others.length; i += batch) {
    const commit = await createCommit({ state, cipherSuite: cs }, {
      extraProposals: others.slice(i, i + batch).map((o) => ({
        proposalType: "add" as const,
        add: { keyPackage: o.publicPackage },
      })),
      ratchetTreeExtension: true,
    });
    state = commit.newState;
    welcome = commit.welcome;
  }
  const last = others[others.length - 1];
  const reader = await joinGroup(
    welcome!,
    last.publicPackage,
    last.privatePackage,
    emptyPskIndex,
    cs,
    undefined,
    undefined,
    config,
  );
  return [state, reader];
}
