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
  const commit = await createCommit({ state, cipherSuite: cs }, {
    extraProposals: others.map((o) => ({
      proposalType: "add" as const,
      add: { keyPackage: o.publicPackage },
    })),
    ratchetTreeExtension: true,
  });
  state = commit.newState;
  const reader = await joinGroup(
    commit.welcome!,
    others[0].publicPackage,
    others[0].privatePackage,
    emptyPskIndex,
    cs,
    undefined,
    undefined,
    config,
  );
  return [state, reader];
}
