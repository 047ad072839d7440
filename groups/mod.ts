/**
 * Encrypted group chat over MLS (RFC 9420, through ts-mls 1.6.4): polycrypt identities as member
 * credentials, a delivery service that orders commits, post-quantum confidentiality by default
 * (X-Wing, `MLS_256_XWING_AES256GCM_SHA512_Ed25519`), and group state sealed at rest in a
 * `SessionStore` (docs/groups.md). A separate entry point, so that the main one does not load
 * ts-mls.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity } from "@polycrypt/polycrypt";
 * import { MemoryGroupDelivery, openGroups, queueId } from "@polycrypt/polycrypt/groups";
 *
 * const alice = await openGroups({ identity: (await generateIdentity()).identity });
 * const bob = await openGroups({ identity: (await generateIdentity()).identity });
 * const ds = new MemoryGroupDelivery();
 *
 * const group = await alice.create();
 * await ds.create(queueId(group), await alice.epoch(group));
 * const commit = await alice.add(group, [await bob.keyPackage()], [bob.fingerprint]);
 * await alice.publish(ds, commit);
 * await bob.join(commit.welcome!, { cursor: await alice.cursor(group) });
 *
 * await alice.send(ds, group, new TextEncoder().encode("hello"));
 * const { events } = await bob.sync(ds, group);
 * assert.equal(events[0].type, "message");
 * if (events[0].type === "message") {
 *   assert.equal(new TextDecoder().decode(events[0].data), "hello");
 *   assert.equal(events[0].sender.fingerprint, alice.fingerprint);
 * }
 * assert.deepEqual((await bob.members(group)).map((m) => m.fingerprint).sort(),
 *   [alice.fingerprint, bob.fingerprint].sort());
 * ```
 *
 * @module
 */
export {
  DEFAULT_GROUP_SUITE,
  GROUP_MODE,
  type GroupAccount,
  type GroupAccountOptions,
  GroupError,
  type GroupEvent,
  type GroupMember,
  GroupMessageKind,
  type GroupMessageKindName,
  type GroupPiece,
  type GroupSuite,
  type MemberIdentity,
  openGroups,
  parseGroupPiece,
  type PendingCommit,
  queueId,
  splitGroupMessage,
} from "./group.ts";
export { GROUP_SUITES, INTEROP_GROUP_SUITE } from "./_suites.ts";
export {
  type DeliveredMessage,
  type DeliveryKind,
  type GroupDelivery,
  MemoryGroupDelivery,
  StaleEpochError,
} from "./delivery.ts";
export { RelayGroupDelivery, relayGroupKey, relayGroupQueueId } from "./relay_delivery.ts";
