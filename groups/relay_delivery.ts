/**
 * The delivery service of a group on a polycrypt relay (docs/groups.md section 6, docs/relay.md
 * section 10): {@linkcode RelayGroupDelivery} implements {@linkcode GroupDelivery} with the relay's
 * group queue commands (`GNEW`, `GPOST`, `GGET`). The relay orders the queue, gives each message a
 * sequence number and refuses a message that is not for the queue's current epoch
 * (`STALE_EPOCH`, here a {@linkcode StaleEpochError}); it authorizes each command with a key that
 * only the members of that epoch can derive (an MLS exporter secret), so it needs no list of
 * members and learns none.
 *
 * @module
 */
import { registry } from "../engines/mod.ts";
import { sha256 } from "../engines/_hash.ts";
import { concatBytes, toHex } from "../engines/_bytes.ts";
import type { QueueKey, RelayClient } from "../relay/client.ts";
import { RelayStaleEpochError } from "../relay/protocol.ts";
import {
  type DeliveredMessage,
  type DeliveryKind,
  type GroupDelivery,
  StaleEpochError,
} from "./delivery.ts";
import { type GroupAccount, GroupError } from "./group.ts";

const QUEUE_LABEL = new TextEncoder().encode("polycrypt/group/1 relay queue");

/**
 * The relay's group queue id of a group: the first 24 bytes of
 * `SHA-256("polycrypt/group/1 relay queue" || MLS group id)`. Every member computes it; nobody
 * needs to hand it out.
 */
export function relayGroupQueueId(group: string): Uint8Array {
  if (typeof group !== "string" || !/^([0-9a-f]{2})+$/.test(group)) {
    throw new TypeError("group must be a group id in hex");
  }
  return sha256(concatBytes(QUEUE_LABEL, Uint8Array.fromHex(group))).slice(0, 24);
}

/**
 * The Ed25519 authorization key of a group queue for one epoch, from the members' delivery
 * secret of that epoch (`GroupAccount.deliverySecret`): the secret is the key's seed.
 */
export async function relayGroupKey(secret: Uint8Array): Promise<QueueKey> {
  const engine = registry.signature("ed25519");
  const publicKey = await engine.publicKeyFromSecretKey!(secret);
  return { algorithm: "ed25519", publicKey, secretKey: secret };
}

/**
 * A {@linkcode GroupDelivery} on a relay, for one member (`account`): it signs each command with
 * the key of the epoch the member is in. Queue names are group ids (`queueId(group)`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateIdentity } from "@polycrypt/polycrypt";
 * import { openGroups, queueId, RelayGroupDelivery } from "@polycrypt/polycrypt/groups";
 * import { RelayClient, RelayServer, SqliteStore } from "@polycrypt/polycrypt/relay";
 *
 * const server = new RelayServer({ store: new SqliteStore(":memory:") });
 * const url = await server.listen("tcp://127.0.0.1:0");
 * const alice = await openGroups({ identity: (await generateIdentity()).identity });
 * const bob = await openGroups({ identity: (await generateIdentity()).identity });
 * const aliceDs = new RelayGroupDelivery(await RelayClient.connect(url), alice);
 * const bobDs = new RelayGroupDelivery(await RelayClient.connect(url), bob);
 *
 * const group = await alice.create();
 * await aliceDs.create(queueId(group), await alice.epoch(group));
 * const commit = await alice.add(group, [await bob.keyPackage()], [bob.fingerprint]);
 * await alice.publish(aliceDs, commit);
 * await bob.join(commit.welcome!, { cursor: await alice.cursor(group) });
 *
 * await alice.send(aliceDs, group, new TextEncoder().encode("through the relay"));
 * const { events } = await bob.sync(bobDs, group);
 * assert.equal(events[0].type, "message");
 * if (events[0].type === "message") {
 *   assert.equal(new TextDecoder().decode(events[0].data), "through the relay");
 * }
 * await aliceDs.client.close();
 * await bobDs.client.close();
 * await server.close();
 * ```
 */
export class RelayGroupDelivery implements GroupDelivery {
  /** The relay connection. */
  readonly client: RelayClient;
  readonly #account: GroupAccount;
  readonly #keys = new Map<string, QueueKey>();

  /**
   * The delivery of `account`'s groups on the relay `client` is connected to.
   *
   * @param client a connection to the group's relay
   * @param account the member whose epochs authorize the commands
   */
  constructor(client: RelayClient, account: GroupAccount) {
    this.client = client;
    this.#account = account;
  }

  async #key(group: string, epoch?: bigint): Promise<{ epoch: bigint; key: QueueKey }> {
    const { epoch: e, secret } = await this.#account.deliverySecret(group, epoch);
    // By the secret, not the epoch: a pending commit that lost gives another key for the same
    // epoch number than the commit that won.
    const name = toHex(sha256(secret));
    let key = this.#keys.get(name);
    if (!key) {
      if (this.#keys.size >= 1024) this.#keys.clear();
      key = await relayGroupKey(secret);
      this.#keys.set(name, key);
    }
    return { epoch: e, key };
  }

  /** Creates the group's queue on the relay at `epoch` (the group's current epoch). */
  async create(queue: string, epoch: bigint): Promise<void> {
    const { key } = await this.#key(queue, epoch);
    await this.client.createGroupQueue(relayGroupQueueId(queue), key, epoch);
  }

  /**
   * Posts `envelope`, made in `epoch` (the member's current epoch), signed with that epoch's key;
   * a commit hands the relay the next epoch's key (from the member's pending commit). The
   * message id is the first 16 bytes of the envelope's SHA-256, so a post retried after a lost
   * answer is stored once.
   */
  async post(
    queue: string,
    kind: DeliveryKind,
    epoch: bigint,
    envelope: Uint8Array,
  ): Promise<number> {
    if (kind === "welcome") throw new TypeError("a Welcome goes to the new member, not the group");
    let key: QueueKey;
    try {
      key = (await this.#key(queue, epoch)).key;
    } catch (e) {
      if (!(e instanceof GroupError)) throw e;
      throw new StaleEpochError(epoch, await this.#account.epoch(queue));
    }
    const nextKey = kind === "commit" ? (await this.#key(queue, epoch + 1n)).key : undefined;
    try {
      return await this.client.groupPost(relayGroupQueueId(queue), key, envelope, {
        nextKey,
        messageId: sha256(envelope).slice(0, 16),
      });
    } catch (e) {
      if (e instanceof RelayStaleEpochError) throw new StaleEpochError(epoch, e.currentEpoch);
      throw e;
    }
  }

  /**
   * The messages after sequence number `after` that the member can read now: those of its
   * current epoch (the relay answers each epoch's messages to that epoch's key). After it
   * processes the epoch's commit, the next fetch reads the next epoch.
   */
  async fetch(queue: string, after: number, limit = 256): Promise<DeliveredMessage[]> {
    const { epoch, key } = await this.#key(queue);
    const found = await this.client.groupFetch(
      relayGroupQueueId(queue),
      key,
      epoch,
      after,
      Math.min(limit, 256),
    );
    return found.messages;
  }

  /**
   * Asks the relay to notify this connection of each message posted to the group's queue in the
   * member's current epoch (`GSUB`, docs/relay.md section 10): `onPost` gets its sequence number.
   * Resolves with the epoch watched; after processing that epoch's commit, watch again. A relay
   * without `GSUB` answers `UNKNOWN` (a `RelayError`): poll.
   */
  async watch(queue: string, onPost: (seq: number) => void): Promise<bigint> {
    const { epoch, key } = await this.#key(queue);
    await this.client.groupWatch(relayGroupQueueId(queue), key, epoch, onPost);
    return epoch;
  }

  /** The queue's current epoch, as the relay answers it to the member's current epoch's key. */
  async epoch(queue: string): Promise<bigint> {
    const { epoch, key } = await this.#key(queue);
    return (await this.client.groupFetch(relayGroupQueueId(queue), key, epoch, 0, 1)).current;
  }

  /** The relay's id of the group's queue, in hex (what the relay sees). */
  static queueIdHex(group: string): string {
    return toHex(relayGroupQueueId(group));
  }
}
