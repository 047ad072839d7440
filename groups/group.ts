/**
 * Encrypted groups over MLS (RFC 9420, through ts-mls): {@linkcode openGroups} opens a polycrypt
 * identity's groups, kept sealed in a {@linkcode SessionStore} (docs/groups.md).
 *
 * @module
 */
import {
  type ClientConfig,
  type ClientState,
  createApplicationMessage,
  createCommit,
  createGroup as mlsCreateGroup,
  createProposal,
  decodeGroupState,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeGroupState,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroup,
  type KeyPackage,
  type LeafNode,
  makePskIndex,
  mlsExporter,
  type MLSMessage,
  type PrivateKeyPackage,
  type PrivateMessage,
  processPrivateMessage,
  type Proposal,
} from "ts-mls";
import { defaultClientConfig } from "ts-mls/clientConfig.js";
import { decodeGroupStateWithoutTree, encodeGroupStateWithoutTree } from "ts-mls/clientState.js";
import { decodeRatchetTree, type RatchetTree, ratchetTreeEncoder } from "ts-mls/ratchetTree.js";
import { contramapBufferEncoders, encode as tlsEncode } from "ts-mls/codec/tlsEncoder.js";
import { mapDecoders } from "ts-mls/codec/tlsDecoder.js";
import { decodeVarLenData, varLenDataEncoder } from "ts-mls/codec/variableLength.js";
import {
  decodeSecretTreeNode,
  type SecretTree,
  type SecretTreeNode,
  secretTreeNodeEncoder,
} from "ts-mls/secretTree.js";
import { decodeGroupContext, type GroupContext, groupContextEncoder } from "ts-mls/groupContext.js";
import type { EpochReceiverData } from "ts-mls/epochReceiverData.js";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { unprotectPrivateMessage } from "ts-mls/messageProtection.js";
import { deriveTreeSecret } from "ts-mls/crypto/kdf.js";
import { getSenderLeafNodeIndex } from "ts-mls/sender.js";
import { DecryptionError, FormatError, InvalidKeyError, PolycryptError } from "../errors.ts";
import { concatBytes, equalBytes, toHex } from "../engines/_bytes.ts";
import { sha256 } from "../engines/_hash.ts";
import { hkdfSync } from "../engines/hkdf.ts";
import { registry as defaultRegistry } from "../engines/mod.ts";
import type { EngineRegistry } from "../engines/registry.ts";
import { padmeLength } from "../cascade/padding.ts";
import { MemorySessionStore, type SessionStore, type StoreChange } from "../sessions/store.ts";
import { Reader, StorageSeal, Writer } from "../sessions/_records.ts";
import { identitySessionKeys, type SessionKeys } from "../sessions/_identity.ts";
import { makeCredential, type MemberIdentity, verifyCredential } from "./_credential.ts";
import { DEFAULT_GROUP_SUITE, type GroupSuite, isGroupSuite, suiteImpl } from "./_suites.ts";
import { type GroupDelivery, StaleEpochError } from "./delivery.ts";

export type { GroupSuite, MemberIdentity };
export { DEFAULT_GROUP_SUITE };

const encoder = new TextEncoder();

// ------------------------------------------------------------------------------- envelope

/** `"PCRYPT" 0x00 0x01`: the envelope magic of docs/format.md. */
const MAGIC = new Uint8Array([0x50, 0x43, 0x52, 0x59, 0x50, 0x54, 0x00, 0x01]);
/** Envelope mode 0x03: a group message (docs/format.md section 1.2). */
export const GROUP_MODE = 0x03;

/** The kinds of a mode-0x03 envelope. */
export const GroupMessageKind = {
  /** An application message: an MLS `PrivateMessage` of content type application. */
  application: 0x01,
  /** A handshake message: an MLS commit or proposal (`PrivateMessage`). */
  handshake: 0x02,
  /** An MLS `Welcome` for a new member. */
  welcome: 0x03,
  /** An MLS `KeyPackage`: what a member is invited with. */
  keyPackage: 0x04,
  /**
   * A piece of a bigger group message (a Welcome for a large group) that a channel's message
   * limit would not carry whole: see {@linkcode splitGroupMessage} (no MLS message inside).
   */
  piece: 0x05,
} as const;

/** Kind names by their byte. */
export type GroupMessageKindName = keyof typeof GroupMessageKind;

function envelope(kind: number, message: MLSMessage): Uint8Array {
  return concatBytes(MAGIC, new Uint8Array([GROUP_MODE, kind]), encodeMlsMessage(message));
}

/** Splits a mode-0x03 envelope: `FormatError` unless it is one, with exactly one MLS message. */
export function parseGroupEnvelope(
  bytes: Uint8Array,
): { kind: GroupMessageKindName; message: MLSMessage } {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("a group message must be a Uint8Array");
  if (bytes.length < 11 || !equalBytes(bytes.subarray(0, 8), MAGIC) || bytes[8] !== GROUP_MODE) {
    throw new FormatError("not a group message (envelope mode 0x03)");
  }
  const kind = (Object.keys(GroupMessageKind) as GroupMessageKindName[]).find((k) =>
    GroupMessageKind[k] === bytes[9]
  );
  if (!kind) throw new FormatError("unknown group message kind");
  if (kind === "piece") {
    throw new FormatError("a piece of a group message: assemble the pieces first");
  }
  let decoded: [MLSMessage, number] | undefined;
  try {
    decoded = decodeMlsMessage(bytes, 10);
  } catch (e) {
    throw new FormatError("the group message does not parse", { cause: e });
  }
  if (!decoded || 10 + decoded[1] !== bytes.length) {
    throw new FormatError("the group message does not parse");
  }
  const message = decoded[0];
  const expected = {
    piece: "",
    application: "mls_private_message",
    handshake: "mls_private_message",
    welcome: "mls_welcome",
    keyPackage: "mls_key_package",
  }[kind];
  if (message.wireformat !== expected) {
    throw new FormatError(`a group ${kind} message must be an MLS ${expected}`);
  }
  return { kind, message };
}

// Application data inside the MLS PrivateMessage: u8 0x01 || u32 length || data || zero bytes,
// PADME-padded as a whole (docs/groups.md section 4), so that the ciphertext's length shows the
// size class only.
function padApplication(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(padmeLength(5 + data.length));
  out[0] = 1;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

function unpadApplication(padded: Uint8Array): Uint8Array {
  if (padded.length < 5 || padded[0] !== 1) throw new FormatError("bad group message padding");
  const length = new DataView(padded.buffer, padded.byteOffset).getUint32(1);
  if (5 + length > padded.length || padded.length !== padmeLength(5 + length)) {
    throw new FormatError("bad group message padding");
  }
  for (let i = 5 + length; i < padded.length; i++) {
    if (padded[i] !== 0) throw new FormatError("bad group message padding");
  }
  return padded.slice(5, 5 + length);
}

// ---------------------------------------------------------------------------------- pieces

/** The header of a piece: magic, mode, kind, id (16), index (u16), count (u16), total (u32). */
const PIECE_HEADER = 10 + 16 + 2 + 2 + 4;
/** The most pieces one message is split into, and the largest message (64 MiB). */
const MAX_PIECES = 4096;
const MAX_PIECED_BYTES = 64 * 1024 * 1024;

/** A piece of a group message, parsed (see {@linkcode splitGroupMessage}). */
export interface GroupPiece {
  /** `SHA-256(message)[0..16]`, in hex: the same for every piece of one message. */
  readonly id: string;
  /** Its position, from 0. */
  readonly index: number;
  /** How many pieces the message has. */
  readonly count: number;
  /** The message's length. */
  readonly total: number;
  /** Its bytes of the message. */
  readonly bytes: Uint8Array;
}

/**
 * Splits a group message envelope (a Welcome for a large group, say) into pieces of at most
 * `maxBytes` bytes each, header included (docs/groups.md section 4.1), for a channel whose
 * messages are smaller (a relay inbox: 1 MiB); a message that fits is returned alone, as it is.
 * Each piece is a mode-0x03 envelope of kind 0x05:
 * `"PCRYPT" 0x00 0x01 || 0x03 || 0x05 || id[16] || u16 index || u16 count || u32 total || bytes`,
 * `id = SHA-256(message)[0..16]`. {@linkcode GroupAccount.assemble} puts them together.
 */
export function splitGroupMessage(message: Uint8Array, maxBytes = 512 * 1024): Uint8Array[] {
  if (!(message instanceof Uint8Array)) throw new TypeError("message must be a Uint8Array");
  if (!Number.isInteger(maxBytes) || maxBytes <= PIECE_HEADER) {
    throw new RangeError(`maxBytes must be an integer above ${PIECE_HEADER}`);
  }
  if (message.length <= maxBytes) return [message];
  const size = maxBytes - PIECE_HEADER;
  const count = Math.ceil(message.length / size);
  if (count > MAX_PIECES || message.length > MAX_PIECED_BYTES) {
    throw new RangeError("the message is too big to be sent in pieces");
  }
  const id = sha256(message).subarray(0, 16);
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = message.subarray(i * size, Math.min(message.length, (i + 1) * size));
    const out = new Uint8Array(PIECE_HEADER + bytes.length);
    out.set(MAGIC);
    out[8] = GROUP_MODE;
    out[9] = GroupMessageKind.piece;
    out.set(id, 10);
    const view = new DataView(out.buffer);
    view.setUint16(26, i);
    view.setUint16(28, count);
    view.setUint32(30, message.length);
    out.set(bytes, PIECE_HEADER);
    pieces.push(out);
  }
  return pieces;
}

/** Parses a piece (kind 0x05): `FormatError` unless it is a well-formed one. */
export function parseGroupPiece(bytes: Uint8Array): GroupPiece {
  if (
    !(bytes instanceof Uint8Array) || bytes.length <= PIECE_HEADER ||
    !equalBytes(bytes.subarray(0, 8), MAGIC) || bytes[8] !== GROUP_MODE ||
    bytes[9] !== GroupMessageKind.piece
  ) {
    throw new FormatError("not a piece of a group message");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const index = view.getUint16(26);
  const count = view.getUint16(28);
  const total = view.getUint32(30);
  const length = bytes.length - PIECE_HEADER;
  if (
    count < 2 || count > MAX_PIECES || index >= count || total > MAX_PIECED_BYTES ||
    length > total
  ) {
    throw new FormatError("a piece of a group message with a bad header");
  }
  return {
    id: toHex(bytes.subarray(10, 26)),
    index,
    count,
    total,
    bytes: bytes.subarray(PIECE_HEADER),
  };
}

// --------------------------------------------------------------------------------- types

/** A member of a group, as its credential names it (verified). */
export interface GroupMember extends MemberIdentity {
  /** Its leaf index in the group's ratchet tree. */
  readonly leaf: number;
  /** Whether it is this account. */
  readonly self: boolean;
}

/** A commit made and not yet applied: publish it, then process it (or discard it). */
export interface PendingCommit {
  /** The group's id (hex). */
  readonly group: string;
  /** The epoch the commit was made in (the delivery service must be at this epoch). */
  readonly epoch: bigint;
  /** The commit, a mode-0x03 handshake envelope for every member. */
  readonly commit: Uint8Array;
  /** The Welcome for the members it adds (mode-0x03 envelope), if any. */
  readonly welcome?: Uint8Array;
}

/** What {@linkcode GroupAccount.process} made of a group message. */
export type GroupEvent =
  | {
    readonly type: "message";
    readonly group: string;
    readonly epoch: bigint;
    readonly sender: GroupMember;
    readonly data: Uint8Array;
  }
  | {
    readonly type: "commit";
    readonly group: string;
    /** The epoch the commit moved the group to. */
    readonly epoch: bigint;
    /** Whether it is this account's own commit (its pending commit, now applied). */
    readonly own: boolean;
    readonly sender?: GroupMember;
    readonly added: GroupMember[];
    readonly removed: MemberIdentity[];
  }
  | { readonly type: "proposal"; readonly group: string; readonly sender?: GroupMember }
  /** This account was removed by the commit: its state of the group is deleted. */
  | { readonly type: "removed"; readonly group: string; readonly epoch: bigint }
  /** The account's own application message, echoed by the delivery service. */
  | { readonly type: "own"; readonly group: string }
  /**
   * Another member's commit won the epoch this account's pending commit was made for: the pending
   * commit is discarded (make it again).
   */
  | {
    readonly type: "conflict";
    readonly group: string;
    readonly epoch: bigint;
    readonly winner: GroupEvent;
  };

/** Options of {@linkcode openGroups}. */
export interface GroupAccountOptions {
  /** The account's version-2 polycrypt identity (it signs the member credentials). */
  identity: string;
  /** Where groups are kept (sealed); default a new {@linkcode MemorySessionStore}. */
  store?: SessionStore;
  /** The suite of new groups and key packages; default {@linkcode DEFAULT_GROUP_SUITE}. */
  suite?: GroupSuite;
  /** Where engine ids are looked up; default the global registry. */
  registry?: EngineRegistry;
  /**
   * Decides whether a member is acceptable (its credential verified: the identity certified
   * this MLS key), e.g. by looking its fingerprint up in the contact book. Called for every
   * credential met: key packages added, members of a group joined, leaves of commits.
   * Default: every verified identity.
   */
  verifyMember?: (member: MemberIdentity) => boolean | Promise<boolean>;
}

/** The account's groups; see {@linkcode openGroups}. */
export interface GroupAccount {
  /** The account's recipient string. */
  readonly recipient: string;
  /** The account's fingerprint. */
  readonly fingerprint: string;
  /** The ids (hex) of the groups the account is a member of. */
  groups(): Promise<string[]>;
  /** A key package (mode-0x03 envelope) to be invited with; its secrets are stored until used. */
  keyPackage(options?: { suite?: GroupSuite }): Promise<Uint8Array>;
  /** Creates a group with the account as only member; returns its id (hex). */
  create(options?: { suite?: GroupSuite }): Promise<string>;
  /**
   * A commit adding the owners of `keyPackages` (each verified, and when `expect` is given, the
   * owners' fingerprints must be exactly those, in order).
   */
  add(group: string, keyPackages: Uint8Array[], expect?: string[]): Promise<PendingCommit>;
  /** A commit removing the members with these fingerprints. */
  remove(group: string, fingerprints: string[]): Promise<PendingCommit>;
  /** A commit with a path update: fresh keys for the account's leaf and path (PCS). */
  update(group: string): Promise<PendingCommit>;
  /** Drops the pending commit of `group` (its publication failed). */
  discard(group: string): Promise<void>;
  /**
   * Keeps a piece of a group message ({@linkcode splitGroupMessage}) in the store, sealed, and
   * resolves with the whole message once every piece of it has arrived (the pieces are then
   * deleted), else `undefined`. Pieces may come in any order and more than once; the whole must
   * hash to the pieces' id, or `FormatError` (and the pieces are dropped).
   */
  assemble(piece: Uint8Array): Promise<Uint8Array | undefined>;
  /** Joins a group from a Welcome; returns the group's id. `cursor`: its queue position. */
  join(welcome: Uint8Array, options?: { cursor?: number }): Promise<string>;
  /** An application message to the group (mode-0x03 envelope). */
  encrypt(group: string, data: Uint8Array): Promise<Uint8Array>;
  /** Processes one group message (application, commit, proposal). */
  process(message: Uint8Array, options?: { seq?: number }): Promise<GroupEvent>;
  /**
   * A proposal removing the account itself (to post to the group); the group's state is deleted
   * here. The next commit of another member applies it.
   */
  leave(group: string): Promise<Uint8Array>;
  /** The group's members, with fingerprints. */
  members(group: string): Promise<GroupMember[]>;
  /** The group's current epoch. */
  epoch(group: string): Promise<bigint>;
  /** The group's suite. */
  suite(group: string): Promise<GroupSuite>;
  /** The last delivery-service sequence number processed for the group (0: none). */
  cursor(group: string): Promise<number>;
  /** Whether the group has a pending commit. */
  pending(group: string): Promise<PendingCommit | undefined>;
  /**
   * Processes the group's messages from `delivery` after the cursor, in order. Messages that do
   * not open are reported as errors in the result and skipped.
   */
  sync(
    delivery: GroupDelivery,
    group: string,
  ): Promise<{ events: GroupEvent[]; errors: Error[] }>;
  /**
   * Posts `commit` to the delivery service and processes the queue up to it (applying it). On a
   * {@linkcode StaleEpochError} the pending commit is discarded, the queue processed, and the
   * error thrown: make the commit again.
   */
  publish(delivery: GroupDelivery, commit: PendingCommit): Promise<GroupEvent[]>;
  /** Encrypts and posts an application message, catching up and retrying on a stale epoch. */
  send(delivery: GroupDelivery, group: string, data: Uint8Array): Promise<number>;
  /**
   * The secret every member of `epoch` derives for the delivery service's authorization key of
   * that epoch (docs/groups.md section 6): `MLS-Exporter("polycrypt/group/1 relay key", "", 32)`.
   * `epoch` is the group's current epoch (default), or the next one when this account has a
   * pending commit (the key a commit hands the relay). Keep it secret.
   */
  deliverySecret(group: string, epoch?: bigint): Promise<{ epoch: bigint; secret: Uint8Array }>;
}

// ------------------------------------------------------------------------------- records

const GROUP_STORAGE_INFO = encoder.encode("polycrypt/group/1 storage key");
/** The MLS exporter label of the delivery service's per-epoch authorization key. */
const DELIVERY_KEY_LABEL = "polycrypt/group/1 relay key";
const EMPTY = new Uint8Array(0);

interface PendingRecord {
  epoch: bigint;
  state: Uint8Array;
  commit: Uint8Array;
  welcome: Uint8Array;
}

interface GroupRecord {
  suite: GroupSuite;
  cursor: number;
  state: ClientState;
  pending?: PendingRecord;
}

const encodeTree = tlsEncode(ratchetTreeEncoder);
const encodeSecretNode = tlsEncode(secretTreeNodeEncoder);

/** Secret tree nodes per record: a message changes one node, so it rewrites one chunk. */
const SECRET_CHUNK = 16;

// ts-mls's EpochReceiverData without its ratchet tree and secret tree (kept in records of their
// own), the same fields in the same order otherwise.
type ReceiverData = Omit<EpochReceiverData, "ratchetTree" | "secretTree">;
const encodeReceiverData = tlsEncode(
  contramapBufferEncoders<[Uint8Array, Uint8Array, GroupContext], ReceiverData>(
    [varLenDataEncoder, varLenDataEncoder, groupContextEncoder],
    (d) => [d.resumptionPsk, d.senderDataSecret, d.groupContext],
  ),
);
const decodeReceiverData = mapDecoders(
  [decodeVarLenData, decodeVarLenData, decodeGroupContext],
  (resumptionPsk, senderDataSecret, groupContext): ReceiverData => ({
    resumptionPsk,
    senderDataSecret,
    groupContext,
  }),
);

const sameToken = (a: readonly unknown[] | undefined, b: readonly unknown[]) =>
  a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * At most this many secret tree nodes are kept in the per-message record (`msg/<id>`, as an
 * overlay on the chunk records): past it, the chunks they belong to are written again and the
 * overlay emptied (docs/groups.md section 5).
 */
const OVERLAY_MAX = 16;

/**
 * How far ahead of its next generation the account's own application ratchet is stored: a sender
 * writes its ratchet durably once per this many messages (docs/groups.md section 5). Under
 * ts-mls's `maximumForwardRatchetSteps` (200), so the gap a crash leaves is always followed.
 */
const SEND_RESERVATION = 100;

function encodeTreeRecord(tree: RatchetTree): Uint8Array {
  return concatBytes(new Uint8Array([1]), encodeTree(tree));
}

function encodeSecretChunk(nodes: readonly SecretTreeNode[]): Uint8Array {
  const w = new Writer().u8(1).u32(nodes.length);
  for (const node of nodes) w.lp(encodeSecretNode(node));
  return w.bytes();
}

/** What a group record (version 2) is made from: it is written again only when one changed. */
function groupToken(r: GroupRecord): unknown[] {
  const s = r.state;
  const token: unknown[] = [
    r.suite,
    r.pending,
    s.groupContext,
    s.keySchedule,
    s.privatePath,
    s.signaturePrivateKey,
    s.unappliedProposals,
    s.confirmationTag,
    s.groupActiveState,
    s.secretTree.length,
  ];
  for (const [e, d] of s.historicalReceiverData) {
    token.push(e, d.resumptionPsk, d.senderDataSecret, d.groupContext, d.secretTree.length);
  }
  return token;
}

/**
 * A group record, version 2 (docs/groups.md section 5): the state without its ratchet trees and
 * secret trees, which have records of their own (one tree per epoch, the secret trees in chunks).
 */
function encodeGroupRecord(r: GroupRecord): Uint8Array {
  const state = r.state;
  const history = [...state.historicalReceiverData.entries()];
  const w = new Writer().u8(2).sp(r.suite).u64(r.cursor)
    .lp(
      encodeGroupStateWithoutTree({ ...state, secretTree: [], historicalReceiverData: new Map() }),
    )
    .u32(state.secretTree.length).u32(history.length);
  for (const [e, data] of history) {
    w.u64(Number(e)).lp(encodeReceiverData(data)).u32(data.secretTree.length);
  }
  if (!r.pending) return w.u8(0).bytes();
  return w.u8(1).u64(Number(r.pending.epoch)).lp(r.pending.state).lp(r.pending.commit).lp(
    r.pending.welcome,
  ).bytes();
}

/**
 * The per-message record `msg/<id>`: the delivery cursor and the secret tree nodes that changed
 * since their chunk records were written (`u8 1 || u64 cursor || u32 k || (u64 epoch || u32 node
 * || lp(SecretTreeNode)){k}`).
 */
function encodeMessageRecord(cursor: number, overlay: Map<string, SecretTreeNode>): Uint8Array {
  const w = new Writer().u8(1).u64(cursor).u32(overlay.size);
  for (const [key, node] of overlay) {
    const [epoch, index] = key.split("/");
    w.u64(Number(epoch)).u32(Number(index)).lp(encodeSecretNode(node));
  }
  return w.bytes();
}

function decodeMessageRecord(
  bytes: Uint8Array,
): { cursor: number; nodes: { epoch: bigint; index: number; node: SecretTreeNode }[] } {
  const r = new Reader(bytes);
  if (r.u8() !== 1) throw new FormatError("unknown group message record version");
  const cursor = r.u64();
  const n = r.u32();
  const nodes: { epoch: bigint; index: number; node: SecretTreeNode }[] = [];
  for (let i = 0; i < n; i++) {
    const epoch = BigInt(r.u64());
    const index = r.u32();
    const body = r.lp();
    const decoded = decodeSecretTreeNode(body, 0);
    if (!decoded || decoded[1] !== body.length) throw new FormatError("bad stored secret tree");
    nodes.push({ epoch, index, node: decoded[0] });
  }
  r.end();
  return { cursor, nodes };
}

/** What is on disk for a group: what each record was made from (see `Groups.#save`). */
interface Persisted {
  /** What the group record was made from ({@linkcode groupToken}). */
  groupToken: readonly unknown[];
  /** Each kept epoch's records. */
  epochs: Map<bigint, StoredEpoch>;
  /** The cursor on disk. */
  cursor: number;
}

/** One epoch's records on disk: ts-mls copies what it changes, so objects stand for bytes. */
interface StoredEpoch {
  /** The ratchet tree its `tree` record was made from. */
  readonly tree: RatchetTree;
  /** Per secret tree chunk record, the nodes it was made from. */
  readonly chunks: readonly (readonly SecretTreeNode[])[];
  /** Its nodes in the per-message record, by node index. */
  readonly overlay: ReadonlyMap<number, SecretTreeNode>;
  /** The secret tree array last saved (undefined: just loaded, compare every node). */
  readonly secrets: SecretTree | undefined;
  /** The reservation its own node was last saved with. */
  readonly reservation: Reservation | undefined;
}

/**
 * The account's own application ratchet as stored in an epoch: `SEND_RESERVATION` generations
 * ahead of the next one it sends (docs/groups.md section 5).
 */
interface Reservation {
  readonly epoch: bigint;
  readonly ratchet: SecretTreeNode["application"];
  /** The stored form of the own node, made once per handshake ratchet (an identity token). */
  node?: SecretTreeNode;
}

function decodeState(bytes: Uint8Array, config: ClientConfig): ClientState {
  const decoded = decodeGroupState(bytes, 0);
  if (!decoded || decoded[1] !== bytes.length) throw new FormatError("bad stored group state");
  return { ...decoded[0], clientConfig: config };
}

function decodeTree(bytes: Uint8Array): RatchetTree {
  if (bytes[0] !== 1) throw new FormatError("unknown tree record version");
  const body = bytes.subarray(1);
  const decoded = decodeRatchetTree(body, 0);
  if (!decoded || decoded[1] !== body.length) throw new FormatError("bad stored ratchet tree");
  return decoded[0];
}

function decodeSecretChunk(bytes: Uint8Array): SecretTreeNode[] {
  const r = new Reader(bytes);
  if (r.u8() !== 1) throw new FormatError("unknown secret tree record version");
  const n = r.u32();
  const nodes: SecretTreeNode[] = [];
  for (let i = 0; i < n; i++) {
    const body = r.lp();
    const decoded = decodeSecretTreeNode(body, 0);
    if (!decoded || decoded[1] !== body.length) throw new FormatError("bad stored secret tree");
    nodes.push(decoded[0]);
  }
  r.end();
  return nodes;
}

/** Reads a part's record (throws when it is missing) and remembers what it was made from. */
type PartReader = (name: string) => Promise<Uint8Array>;

async function readEpoch(
  group: string,
  epoch: bigint,
  secretNodes: number,
  read: PartReader,
  loaded: Map<string, readonly unknown[]>,
): Promise<{ tree: RatchetTree; secrets: SecretTree }> {
  const treeName = `tree/${group}/${epoch}`;
  const tree = decodeTree(await read(treeName));
  loaded.set(treeName, [tree]);
  const secrets: SecretTreeNode[] = [];
  for (let k = 0; k * SECRET_CHUNK < secretNodes; k++) {
    const name = `secrets/${group}/${epoch}/${k}`;
    const nodes = decodeSecretChunk(await read(name));
    if (nodes.length !== Math.min(SECRET_CHUNK, secretNodes - k * SECRET_CHUNK)) {
      throw new FormatError("bad stored secret tree");
    }
    loaded.set(name, nodes);
    secrets.push(...nodes);
  }
  return { tree, secrets };
}

/** Decodes a group record; version 2 reads its parts with `read`, noting them in `loaded`. */
async function decodeGroupRecord(
  group: string,
  bytes: Uint8Array,
  config: ClientConfig,
  read: PartReader,
  loaded: Map<string, readonly unknown[]>,
): Promise<GroupRecord> {
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== 1 && version !== 2) throw new FormatError("unknown group record version");
  const suite = r.spString();
  if (!isGroupSuite(suite)) throw new FormatError("unknown group suite in the store");
  const cursor = r.u64();
  let state: ClientState;
  if (version === 1) state = decodeState(r.lp(), config);
  else {
    const body = r.lp();
    const decoded = decodeGroupStateWithoutTree([])(body, 0);
    if (!decoded || decoded[1] !== body.length) throw new FormatError("bad stored group state");
    const epoch = decoded[0].groupContext.epoch;
    const current = await readEpoch(group, epoch, r.u32(), read, loaded);
    const n = r.u32();
    const history = new Map<bigint, EpochReceiverData>();
    for (let i = 0; i < n; i++) {
      const e = BigInt(r.u64());
      const data = r.lp();
      const receiver = decodeReceiverData(data, 0);
      if (!receiver || receiver[1] !== data.length) throw new FormatError("bad stored group state");
      const past = await readEpoch(group, e, r.u32(), read, loaded);
      history.set(e, { ...receiver[0], ratchetTree: past.tree, secretTree: past.secrets });
    }
    state = {
      ...decoded[0],
      ratchetTree: current.tree,
      secretTree: current.secrets,
      historicalReceiverData: history,
      clientConfig: config,
    };
  }
  const flag = r.u8();
  let pending: PendingRecord | undefined;
  if (flag === 1) {
    pending = { epoch: BigInt(r.u64()), state: r.lp(), commit: r.lp(), welcome: r.lp() };
  } else if (flag !== 0) throw new FormatError("bad group record");
  r.end();
  return { suite, cursor, state, pending };
}

function encodeIndex(ids: string[]): Uint8Array {
  const w = new Writer().u8(1).u32(ids.length);
  for (const id of ids) w.sp(id);
  return w.bytes();
}

function decodeIndex(bytes: Uint8Array): string[] {
  const r = new Reader(bytes);
  if (r.u8() !== 1) throw new FormatError("unknown group index version");
  const n = r.u32();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(r.spString());
  r.end();
  return ids;
}

function encodeKeyPackageRecord(
  suite: GroupSuite,
  kp: Uint8Array,
  priv: PrivateKeyPackage,
): Uint8Array {
  return new Writer().u8(1).sp(suite).lp(kp).lp(priv.hpkePrivateKey).lp(priv.initPrivateKey).lp(
    priv.signaturePrivateKey,
  ).bytes();
}

// --------------------------------------------------------------------------------- errors

/** A group operation that cannot be done: unknown group, not a member, a pending commit. */
export class GroupError extends PolycryptError {}

// -------------------------------------------------------------------------------- account

function membersOf(state: ClientState): { leaf: number; node: LeafNode }[] {
  const out: { leaf: number; node: LeafNode }[] = [];
  for (let i = 0; i < state.ratchetTree.length; i += 2) {
    const n = state.ratchetTree[i];
    if (n && n.nodeType === "leaf") out.push({ leaf: i / 2, node: n.leaf });
  }
  return out;
}

class Groups implements GroupAccount {
  readonly recipient: string;
  readonly fingerprint: string;
  readonly #keys: SessionKeys;
  readonly #store: SessionStore;
  readonly #seal: StorageSeal;
  readonly #suite: GroupSuite;
  readonly #registry: EngineRegistry;
  readonly #verifyMember?: (m: MemberIdentity) => boolean | Promise<boolean>;
  readonly #configs = new Map<GroupSuite, ClientConfig>();
  readonly #cache = new Map<string, GroupRecord>();
  /** Groups whose cached record has changes not yet written (a batch of sync). */
  readonly #staged = new Set<string>();
  /** What is on disk for each group (loaded or saved by this account). */
  readonly #persisted = new Map<string, Persisted>();
  /** The own application ratchet's stored position in each group's current epoch. */
  readonly #reservations = new Map<string, Reservation>();
  /** The group index, once read. */
  #ids: string[] | undefined;
  /** Member credentials already verified (suite, credential and key hashed). */
  readonly #verified = new Map<string, MemberIdentity>();
  readonly #sent = new Set<string>();
  /** Leaf nodes already described (by object: ts-mls copies a node to change it). */
  readonly #leaves = new WeakMap<LeafNode, { suite: GroupSuite; id: MemberIdentity }>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    keys: SessionKeys,
    store: SessionStore,
    seal: StorageSeal,
    options: GroupAccountOptions,
  ) {
    this.#keys = keys;
    this.recipient = keys.recipient;
    this.fingerprint = keys.fingerprint;
    this.#store = store;
    this.#seal = seal;
    this.#suite = options.suite ?? DEFAULT_GROUP_SUITE;
    if (!isGroupSuite(this.#suite)) throw new TypeError(`unknown group suite ${this.#suite}`);
    this.#registry = options.registry ?? defaultRegistry;
    this.#verifyMember = options.verifyMember;
  }

  // One operation at a time: no two calls read the same state.
  #serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(f, f);
    this.#queue = run.catch(() => {});
    return run;
  }

  #config(suite: GroupSuite): ClientConfig {
    let config = this.#configs.get(suite);
    if (!config) {
      config = {
        ...defaultClientConfig,
        // PADME padding is applied to the application data itself (padApplication).
        paddingConfig: { kind: "alwaysPad", paddingLength: 0 },
        authService: {
          validateCredential: async (credential, signatureKey) => {
            try {
              const member = await verifyCredential(
                suite,
                credential,
                signatureKey,
                this.#registry,
              );
              return this.#verifyMember ? (await this.#verifyMember(member)) === true : true;
            } catch {
              return false;
            }
          },
        },
      };
      this.#configs.set(suite, config);
    }
    return config;
  }

  #member(state: ClientState, suite: GroupSuite, leaf: number): Promise<GroupMember> {
    const n = state.ratchetTree[leaf * 2];
    if (!n || n.nodeType !== "leaf") throw new GroupError("no member at that leaf");
    return this.#describe(suite, n.leaf, leaf, leaf === state.privatePath.leafIndex);
  }

  /** Every member of the group of `record`, described; this account's own leaf marked `self`. */
  #describeMembers(record: GroupRecord): Promise<GroupMember[]> {
    return Promise.all(
      membersOf(record.state).map((m) =>
        this.#describe(
          record.suite,
          m.node,
          m.leaf,
          m.leaf === record.state.privatePath.leafIndex,
        )
      ),
    );
  }

  async #describe(
    suite: GroupSuite,
    node: LeafNode,
    leaf: number,
    self: boolean,
  ): Promise<GroupMember> {
    // ts-mls never changes a leaf node in place: the same object, the same member.
    const known = this.#leaves.get(node);
    if (known && known.suite === suite) return { ...known.id, leaf, self };
    // A credential verified once for this suite and signature key stays verified (the check is
    // a pure function of the three): messages from a known sender cost no signature checks.
    const name = node.credential.credentialType === "basic"
      ? toHex(sha256(
        encoder.encode(suite),
        new Uint8Array([0]),
        node.signaturePublicKey,
        node.credential.identity,
      ))
      : undefined;
    let id = name ? this.#verified.get(name) : undefined;
    if (!id) {
      id = await verifyCredential(
        suite,
        node.credential,
        node.signaturePublicKey,
        this.#registry,
      );
      if (name) {
        if (this.#verified.size >= 4096) this.#verified.clear();
        this.#verified.set(name, id);
      }
    }
    this.#leaves.set(node, { suite, id });
    return { ...id, leaf, self };
  }

  // ---- the sealed store ----

  async #get(name: string): Promise<Uint8Array | undefined> {
    const key = this.#seal.blind(name);
    const sealed = await this.#store.get(key);
    return sealed === undefined ? undefined : await this.#seal.open(key, sealed);
  }

  async #changes(list: { name: string; record?: Uint8Array }[]): Promise<StoreChange[]> {
    const out: StoreChange[] = [];
    for (const c of list) {
      const key = this.#seal.blind(c.name);
      out.push(
        c.record === undefined ? { key } : { key, value: await this.#seal.seal(key, c.record) },
      );
    }
    return out;
  }

  async #index(): Promise<string[]> {
    if (this.#ids) return this.#ids;
    const bytes = await this.#get("groups");
    this.#ids = bytes ? decodeIndex(bytes) : [];
    return this.#ids;
  }

  async #load(group: string): Promise<GroupRecord> {
    if (typeof group !== "string") throw new TypeError("group must be a hex string");
    const hit = this.#cache.get(group);
    if (hit) return hit;
    const bytes = await this.#get(`group/${group}`);
    if (!bytes) throw new GroupError("not a member of that group");
    const suite = new Reader(bytes.subarray(1)).spString();
    if (!isGroupSuite(suite)) throw new FormatError("unknown group suite in the store");
    const parts = new Map<string, readonly unknown[]>();
    const record = await decodeGroupRecord(group, bytes, this.#config(suite), async (name) => {
      const stored = await this.#get(name);
      if (!stored) throw new FormatError("a part of the group's state is missing from the store");
      return stored;
    }, parts);
    const state = record.state;
    const epochs = new Map<bigint, StoredEpoch>();
    const overlays = new Map<bigint, Map<number, SecretTreeNode>>();
    const kept: [bigint, RatchetTree, SecretTree][] = [
      [state.groupContext.epoch, state.ratchetTree, state.secretTree],
      ...[...state.historicalReceiverData].map(([e, d]): [bigint, RatchetTree, SecretTree] => [
        e,
        d.ratchetTree,
        d.secretTree,
      ]),
    ];
    for (const [epoch] of kept) overlays.set(epoch, new Map());
    // The per-message record: the cursor and the secret tree nodes changed since their chunks.
    let cursor = record.cursor;
    const msg = await this.#get(`msg/${group}`);
    if (msg) {
      const decoded = decodeMessageRecord(msg);
      cursor = decoded.cursor;
      for (const { epoch, index, node } of decoded.nodes) {
        const secrets = kept.find(([e]) => e === epoch)?.[2];
        if (!secrets || index >= secrets.length) throw new FormatError("bad stored secret tree");
        secrets[index] = node;
        overlays.get(epoch)!.set(index, node);
      }
    }
    // A version-1 record has no parts: the first save writes them and the record as version 2.
    const v1 = bytes[0] === 1;
    for (const [epoch, tree, secrets] of v1 ? [] : kept) {
      const chunks: (readonly SecretTreeNode[])[] = [];
      for (let k = 0; k * SECRET_CHUNK < secrets.length; k++) {
        chunks.push(parts.get(`secrets/${group}/${epoch}/${k}`) as SecretTreeNode[]);
      }
      epochs.set(epoch, {
        tree,
        chunks,
        overlay: overlays.get(epoch)!,
        secrets: undefined,
        reservation: undefined,
      });
    }
    const loaded = { ...record, cursor };
    this.#persisted.set(group, { groupToken: v1 ? [] : groupToken(loaded), epochs, cursor });
    this.#cache.set(group, loaded);
    return loaded;
  }

  /** The stored form of a secret tree node: the own node with the reserved ratchet. */
  #storedNode(
    group: string,
    epoch: bigint,
    index: number,
    node: SecretTreeNode,
    own: number,
  ): SecretTreeNode {
    const r = this.#reservations.get(group);
    if (!r || index !== own || r.epoch !== epoch) return node;
    if (node.application.generation > r.ratchet.generation) {
      throw new GroupError("internal: the own ratchet passed its stored position");
    }
    if (r.node?.handshake !== node.handshake) {
      r.node = { handshake: node.handshake, application: r.ratchet };
    }
    return r.node;
  }

  /**
   * Writes what changed of the group's state since it was stored, atomically (one `commit` of
   * the store, none when nothing changed), with `extra` (docs/groups.md section 5):
   *
   * - the group record (the epoch's state without trees, the past epochs, the pending commit)
   *   when one of those changed: at a commit, a join, a proposal;
   * - an epoch's ratchet tree and secret tree chunks when the epoch is new;
   * - the per-message record `msg/<id>` (the cursor, and the secret tree nodes changed since
   *   their chunks were written) when the cursor or a node changed: so an application message,
   *   sent or received, writes a record of a few hundred bytes; past `OVERLAY_MAX` nodes the
   *   chunks holding them are written instead;
   * - the deletion of the records of epochs no longer kept.
   *
   * The account's own application ratchet is stored at its reservation (`#storedNode`), so a
   * message sent within the reservation changes nothing on disk. The work is proportional to
   * the nodes that changed, not to the group's size: an epoch whose secret tree array is the one
   * last saved is skipped, and in the others only the entries that are other objects are looked
   * at.
   */
  async #save(
    group: string,
    record: GroupRecord | undefined,
    extra: { name: string; record?: Uint8Array }[] = [],
    options: { received?: boolean } = {},
  ): Promise<void> {
    const ids = await this.#index();
    const list = [...extra];
    const before = this.#persisted.get(group);
    const chunkName = (epoch: bigint, k: number) => `secrets/${group}/${epoch}/${k}`;
    const dropEpoch = (epoch: bigint, e: StoredEpoch) => {
      list.push({ name: `tree/${group}/${epoch}` });
      for (let k = 0; k < e.chunks.length; k++) list.push({ name: chunkName(epoch, k) });
    };
    let nextIds = ids;
    let after: Persisted | undefined;
    if (record) {
      const state = record.state;
      const own = state.privatePath.leafIndex * 2;
      const reservation = this.#reservations.get(group);
      const kept: [bigint, RatchetTree, SecretTree][] = [
        [state.groupContext.epoch, state.ratchetTree, state.secretTree],
        ...[...state.historicalReceiverData].map(([e, d]): [bigint, RatchetTree, SecretTree] => [
          e,
          d.ratchetTree,
          d.secretTree,
        ]),
      ];
      const epochs = new Map<bigint, StoredEpoch>();
      let overlayChanged = false;
      let overlaySize = 0;
      for (const [epoch, tree, secrets] of kept) {
        const prev = before?.epochs.get(epoch);
        const res = reservation?.epoch === epoch ? reservation : undefined;
        const stored = (i: number) =>
          i === own && res ? this.#storedNode(group, epoch, i, secrets[i], own) : secrets[i];
        const chunkNodes = (k: number) => {
          const nodes: SecretTreeNode[] = [];
          const end = Math.min(secrets.length, (k + 1) * SECRET_CHUNK);
          for (let i = k * SECRET_CHUNK; i < end; i++) nodes.push(stored(i));
          return nodes;
        };
        if (!prev || prev.tree !== tree) {
          list.push({ name: `tree/${group}/${epoch}`, record: encodeTreeRecord(tree) });
        }
        const count = Math.ceil(secrets.length / SECRET_CHUNK);
        const fits = prev !== undefined && prev.chunks.length === count &&
          (count === 0 ||
            prev.chunks[count - 1].length === secrets.length - (count - 1) * SECRET_CHUNK);
        if (!fits) {
          // A new epoch (or a stored one of another shape): every chunk.
          const chunks: SecretTreeNode[][] = [];
          for (let k = 0; k < count; k++) {
            chunks.push(chunkNodes(k));
            list.push({ name: chunkName(epoch, k), record: encodeSecretChunk(chunks[k]) });
          }
          if (prev && prev.overlay.size > 0) overlayChanged = true;
          epochs.set(epoch, { tree, chunks, overlay: new Map(), secrets, reservation: res });
          continue;
        }
        if (prev.secrets === secrets && prev.reservation === res) {
          epochs.set(epoch, { ...prev, tree });
          overlaySize += prev.overlay.size;
          continue;
        }
        // The entries that are other objects than last time (all of them after a load), and the
        // own node when its reservation moved.
        const overlay = new Map(prev.overlay);
        const look = (i: number) => {
          const node = stored(i);
          const chunked = prev.chunks[Math.floor(i / SECRET_CHUNK)][i % SECRET_CHUNK];
          if (node === chunked) {
            if (overlay.delete(i)) overlayChanged = true;
          } else if (overlay.get(i) !== node) {
            overlay.set(i, node);
            overlayChanged = true;
          }
        };
        const last = prev.secrets;
        if (last && last.length === secrets.length) {
          for (let i = 0; i < secrets.length; i++) if (secrets[i] !== last[i]) look(i);
          if (prev.reservation !== res && own < secrets.length) look(own);
        } else {
          for (let i = 0; i < secrets.length; i++) look(i);
        }
        overlaySize += overlay.size;
        epochs.set(epoch, { tree, chunks: prev.chunks, overlay, secrets, reservation: res });
      }
      for (const [epoch, e] of before?.epochs ?? []) {
        if (!epochs.has(epoch)) {
          dropEpoch(epoch, e);
          if (e.overlay.size > 0) overlayChanged = true;
        }
      }
      if (overlaySize > OVERLAY_MAX) {
        // Fold: the chunks holding overlay nodes are written again, the overlay emptied.
        for (const [epoch, tree, secrets] of kept) {
          const e = epochs.get(epoch)!;
          if (e.overlay.size === 0) continue;
          const res = reservation?.epoch === epoch ? reservation : undefined;
          const chunks = e.chunks.slice();
          for (const k of new Set([...e.overlay.keys()].map((i) => Math.floor(i / SECRET_CHUNK)))) {
            const nodes: SecretTreeNode[] = [];
            const end = Math.min(secrets.length, (k + 1) * SECRET_CHUNK);
            for (let i = k * SECRET_CHUNK; i < end; i++) {
              nodes.push(
                i === own && res ? this.#storedNode(group, epoch, i, secrets[i], own) : secrets[i],
              );
            }
            chunks[k] = nodes;
            list.push({ name: chunkName(epoch, k), record: encodeSecretChunk(nodes) });
          }
          epochs.set(epoch, { ...e, tree, chunks, overlay: new Map() });
        }
        overlayChanged = true;
      }
      const token = groupToken(record);
      if (!before || !sameToken(before.groupToken, token)) {
        list.push({ name: `group/${group}`, record: encodeGroupRecord(record) });
      }
      if (!before || overlayChanged || before.cursor !== record.cursor) {
        const overlay = new Map<string, SecretTreeNode>();
        for (const [epoch, e] of epochs) {
          for (const [i, node] of e.overlay) overlay.set(`${epoch}/${i}`, node);
        }
        list.push({ name: `msg/${group}`, record: encodeMessageRecord(record.cursor, overlay) });
      }
      if (!ids.includes(group)) {
        nextIds = [...ids, group];
        list.push({ name: "groups", record: encodeIndex(nextIds) });
      }
      after = { groupToken: token, epochs, cursor: record.cursor };
    } else {
      list.push({ name: `group/${group}` }, { name: `msg/${group}` });
      nextIds = ids.filter((x) => x !== group);
      list.push({ name: "groups", record: encodeIndex(nextIds) });
      for (const [epoch, e] of before?.epochs ?? []) dropEpoch(epoch, e);
    }
    // A received application message's record alone is written without waiting for the disk
    // (docs/groups.md section 5): losing it to a power failure only makes the account decrypt
    // the message again; everything a sender depends on is written durably.
    const relaxed = options.received === true && list.length === 1 &&
      list[0].name === `msg/${group}`;
    if (list.length > 0) {
      await this.#store.commit(await this.#changes(list), relaxed ? { durable: false } : undefined);
    }
    this.#staged.delete(group);
    this.#ids = nextIds;
    if (record && after) {
      this.#cache.set(group, record);
      this.#persisted.set(group, after);
    } else {
      this.#cache.delete(group);
      this.#persisted.delete(group);
      this.#reservations.delete(group);
    }
  }

  // ---- public operations ----

  groups(): Promise<string[]> {
    return this.#serial(() => this.#index());
  }

  async #newKeyPackage(suite: GroupSuite) {
    const cs = await suiteImpl(suite);
    const sig = await cs.signature.keygen();
    const credential = await makeCredential(
      suite,
      this.#keys.recipient,
      this.#keys.signing,
      sig.publicKey,
    );
    const kp = await generateKeyPackageWithKeyPair(credential, sig, cs);
    return { cs, ...kp };
  }

  keyPackage(options: { suite?: GroupSuite } = {}): Promise<Uint8Array> {
    return this.#serial(async () => {
      const suite = options.suite ?? this.#suite;
      if (!isGroupSuite(suite)) throw new TypeError(`unknown group suite ${suite}`);
      const { cs, publicPackage, privatePackage } = await this.#newKeyPackage(suite);
      const message: MLSMessage = {
        version: "mls10",
        wireformat: "mls_key_package",
        keyPackage: publicPackage,
      };
      const ref = toHex(await makeKeyPackageRef(publicPackage, cs.hash));
      const record = encodeKeyPackageRecord(suite, encodeMlsMessage(message), privatePackage);
      await this.#store.commit(await this.#changes([{ name: `kp/${ref}`, record }]));
      return envelope(GroupMessageKind.keyPackage, message);
    });
  }

  create(options: { suite?: GroupSuite } = {}): Promise<string> {
    return this.#serial(async () => {
      const suite = options.suite ?? this.#suite;
      if (!isGroupSuite(suite)) throw new TypeError(`unknown group suite ${suite}`);
      const { cs, publicPackage, privatePackage } = await this.#newKeyPackage(suite);
      const id = crypto.getRandomValues(new Uint8Array(32));
      const state = await mlsCreateGroup(
        id,
        publicPackage,
        privatePackage,
        [],
        cs,
        this.#config(suite),
      );
      const group = toHex(id);
      await this.#save(group, { suite, cursor: 0, state });
      return group;
    });
  }

  async #commit(
    group: string,
    proposals: Proposal[],
  ): Promise<PendingCommit> {
    const record = await this.#load(group);
    if (record.pending) {
      throw new GroupError(
        "the group has a pending commit: publish it and process the queue, or discard it",
      );
    }
    const cs = await suiteImpl(record.suite);
    const epoch = record.state.groupContext.epoch;
    const result = await createCommit({ state: record.state, cipherSuite: cs }, {
      extraProposals: proposals,
      ratchetTreeExtension: true,
    });
    const commit = envelope(GroupMessageKind.handshake, result.commit);
    const welcome = result.welcome
      ? envelope(GroupMessageKind.welcome, {
        version: "mls10",
        wireformat: "mls_welcome",
        welcome: result.welcome,
      })
      : undefined;
    const pending: PendingRecord = {
      epoch,
      state: encodeGroupState(result.newState),
      commit,
      welcome: welcome ?? EMPTY,
    };
    await this.#save(group, { ...record, pending });
    return { group, epoch, commit, welcome };
  }

  add(group: string, keyPackages: Uint8Array[], expect?: string[]): Promise<PendingCommit> {
    return this.#serial(async () => {
      const record = await this.#load(group);
      if (!Array.isArray(keyPackages) || keyPackages.length === 0) {
        throw new TypeError("add needs at least one key package");
      }
      if (expect !== undefined && expect.length !== keyPackages.length) {
        throw new TypeError("expect must name one fingerprint per key package");
      }
      const present = new Set(
        (await Promise.all(
          membersOf(record.state).map((m) => this.#describe(record.suite, m.node, m.leaf, false)),
        )).map((m) => m.fingerprint),
      );
      const proposals: Proposal[] = [];
      for (const [i, bytes] of keyPackages.entries()) {
        const { message } = parseGroupEnvelope(bytes);
        if (message.wireformat !== "mls_key_package") throw new FormatError("not a key package");
        const kp = message.keyPackage;
        if (kp.cipherSuite !== record.suite) {
          throw new InvalidKeyError(
            `the key package is for ${kp.cipherSuite}, the group uses ${record.suite}`,
          );
        }
        const member = await verifyCredential(
          record.suite,
          kp.leafNode.credential,
          kp.leafNode.signaturePublicKey,
          this.#registry,
        );
        if (expect && member.fingerprint !== expect[i]) {
          throw new InvalidKeyError(
            `the key package belongs to ${member.fingerprint}, not to ${expect[i]}`,
          );
        }
        if (this.#verifyMember && (await this.#verifyMember(member)) !== true) {
          throw new InvalidKeyError(`the member ${member.fingerprint} is not accepted`);
        }
        if (present.has(member.fingerprint)) {
          throw new GroupError(`${member.fingerprint} is already a member of the group`);
        }
        present.add(member.fingerprint);
        proposals.push({ proposalType: "add", add: { keyPackage: kp } });
      }
      return await this.#commit(group, proposals);
    });
  }

  remove(group: string, fingerprints: string[]): Promise<PendingCommit> {
    return this.#serial(async () => {
      const record = await this.#load(group);
      if (!Array.isArray(fingerprints) || fingerprints.length === 0) {
        throw new TypeError("remove needs at least one fingerprint");
      }
      const members = await this.#describeMembers(record);
      const proposals: Proposal[] = [];
      for (const fp of fingerprints) {
        const found = members.filter((m) => m.fingerprint === fp);
        if (found.length === 0) throw new GroupError(`${fp} is not a member of the group`);
        for (const m of found) {
          if (m.self) throw new GroupError("use leave to remove this account from a group");
          proposals.push({ proposalType: "remove", remove: { removed: m.leaf } });
        }
      }
      return await this.#commit(group, proposals);
    });
  }

  update(group: string): Promise<PendingCommit> {
    return this.#serial(() => this.#commit(group, []));
  }

  discard(group: string): Promise<void> {
    return this.#serial(async () => {
      const record = await this.#load(group);
      if (record.pending) await this.#save(group, { ...record, pending: undefined });
    });
  }

  assemble(piece: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#serial(async () => {
      const p = parseGroupPiece(piece);
      const name = (i: number) => `piece/${p.id}/${p.count}/${p.total}/${i}`;
      await this.#store.commit(await this.#changes([{ name: name(p.index), record: p.bytes }]));
      const parts: Uint8Array[] = [];
      for (let i = 0; i < p.count; i++) {
        const bytes = i === p.index ? p.bytes : await this.#get(name(i));
        if (!bytes) return undefined;
        parts.push(bytes);
      }
      const whole = concatBytes(...parts);
      const drop = Array.from({ length: p.count }, (_, i) => ({ name: name(i) }));
      await this.#store.commit(await this.#changes(drop));
      if (whole.length !== p.total || toHex(sha256(whole).subarray(0, 16)) !== p.id) {
        throw new FormatError("the pieces of the group message do not make the message they name");
      }
      return whole;
    });
  }

  join(welcome: Uint8Array, options: { cursor?: number } = {}): Promise<string> {
    return this.#serial(async () => {
      const { message } = parseGroupEnvelope(welcome);
      if (message.wireformat !== "mls_welcome") throw new FormatError("not a Welcome");
      const w = message.welcome;
      const suite = w.cipherSuite;
      if (!isGroupSuite(suite)) throw new InvalidKeyError(`the group uses ${suite}, not enabled`);
      for (const secret of w.secrets) {
        const name = `kp/${toHex(secret.newMember)}`;
        const bytes = await this.#get(name);
        if (!bytes) continue;
        const r = new Reader(bytes);
        if (r.u8() !== 1) throw new FormatError("unknown key package record version");
        const kpSuite = r.spString();
        const kpMessage = decodeMlsMessage(r.lp(), 0);
        const priv: PrivateKeyPackage = {
          hpkePrivateKey: r.lp(),
          initPrivateKey: r.lp(),
          signaturePrivateKey: r.lp(),
        };
        r.end();
        if (!kpMessage || kpMessage[0].wireformat !== "mls_key_package" || kpSuite !== suite) {
          throw new FormatError("bad stored key package");
        }
        const cs = await suiteImpl(suite);
        let state: ClientState;
        try {
          state = await joinGroup(
            w,
            kpMessage[0].keyPackage,
            priv,
            emptyPskIndex,
            cs,
            undefined,
            undefined,
            this.#config(suite),
          );
        } catch (e) {
          throw new InvalidKeyError("the Welcome does not open or its group does not verify", {
            cause: e,
          });
        }
        const group = toHex(state.groupContext.groupId);
        if ((await this.#index()).includes(group)) {
          throw new GroupError("already a member of that group");
        }
        // The key package is used once: its secrets go with the join, in one commit.
        await this.#save(group, { suite, cursor: options.cursor ?? 0, state }, [{ name }]);
        return group;
      }
      throw new DecryptionError();
    });
  }

  encrypt(group: string, data: Uint8Array): Promise<Uint8Array> {
    return this.#serial(async () => {
      if (!(data instanceof Uint8Array)) throw new TypeError("data must be a Uint8Array");
      const record = await this.#load(group);
      const cs = await suiteImpl(record.suite);
      await this.#reserve(group, record, cs);
      const result = await createApplicationMessage(record.state, padApplication(data), cs);
      const out = envelope(GroupMessageKind.application, {
        version: "mls10",
        wireformat: "mls_private_message",
        privateMessage: result.privateMessage,
      });
      await this.#save(group, { ...record, state: result.newState });
      this.#remember(out);
      return out;
    });
  }

  /**
   * Before the account sends from its application ratchet at generation `g`, the store must hold
   * that ratchet at a later generation, or a crash would make it reuse `g`'s key: when the stored
   * position is not ahead of `g`, it moves to `g + SEND_RESERVATION` and is written durably
   * (the ratchet secret of that generation, from which only keys not yet used derive). So a
   * sender writes once per `SEND_RESERVATION` messages; after a crash it resumes from the stored
   * position, skipping the generations it had reserved (receivers ratchet over the gap).
   */
  async #reserve(
    group: string,
    record: GroupRecord,
    cs: Awaited<ReturnType<typeof suiteImpl>>,
  ): Promise<void> {
    const state = record.state;
    const epoch = state.groupContext.epoch;
    const own = state.secretTree[state.privatePath.leafIndex * 2];
    if (!own) throw new GroupError("internal: no own secret tree node");
    const current = this.#reservations.get(group);
    if (
      current && current.epoch === epoch &&
      own.application.generation < current.ratchet.generation
    ) return;
    let secret = own.application.secret;
    const from = own.application.generation;
    for (let g = from; g < from + SEND_RESERVATION; g++) {
      secret = await deriveTreeSecret(secret, "secret", g, cs.kdf.size, cs.kdf);
    }
    this.#reservations.set(group, {
      epoch,
      ratchet: { secret, generation: from + SEND_RESERVATION, unusedGenerations: {} },
    });
    try {
      await this.#save(group, record);
    } catch (e) {
      // Not on disk: the old reservation (or none) is what the store holds.
      if (current) this.#reservations.set(group, current);
      else this.#reservations.delete(group);
      throw e;
    }
  }

  #remember(out: Uint8Array): void {
    if (this.#sent.size >= 4096) this.#sent.clear();
    this.#sent.add(toHex(sha256(out)));
  }

  process(message: Uint8Array, options: { seq?: number } = {}): Promise<GroupEvent> {
    return this.#serial(() => this.#process(message, options.seq, false));
  }

  /**
   * Keeps a received message's change in memory until {@linkcode Groups.#flush} (a batch of
   * `sync`): a receiver whose process stops before the flush fetches and processes the same
   * messages again from its stored state, which still holds their keys, so nothing is lost and no
   * key is reused; one durable write per batch instead of one per message.
   */
  #stage(group: string, record: GroupRecord): void {
    this.#cache.set(group, record);
    this.#staged.add(group);
  }

  /** Writes a staged record. */
  async #flush(group: string): Promise<void> {
    const record = this.#cache.get(group);
    if (this.#staged.has(group) && record) await this.#save(group, record, [], { received: true });
    this.#staged.delete(group);
  }

  async #process(bytes: Uint8Array, seq: number | undefined, batch: boolean): Promise<GroupEvent> {
    const { kind, message } = parseGroupEnvelope(bytes);
    if (message.wireformat !== "mls_private_message") {
      throw new FormatError("process takes application and handshake messages");
    }
    const pm = message.privateMessage;
    const group = toHex(pm.groupId);
    let record: GroupRecord;
    try {
      record = await this.#load(group);
    } catch (e) {
      if (e instanceof GroupError) throw new DecryptionError();
      throw e;
    }
    const cursor = seq ?? record.cursor;
    if (this.#sent.has(toHex(sha256(bytes)))) {
      if (batch) this.#stage(group, { ...record, cursor });
      else await this.#save(group, { ...record, cursor }, [], { received: true });
      return { type: "own", group };
    }
    const cs = await suiteImpl(record.suite);
    if (kind === "application") {
      const { data, sender, state } = await this.#openApplication(record, pm);
      if (batch) this.#stage(group, { ...record, state, cursor });
      else await this.#save(group, { ...record, state, cursor }, [], { received: true });
      return { type: "message", group, epoch: pm.epoch, sender, data };
    }
    // A handshake message.
    if (record.pending && equalBytes(record.pending.commit, bytes)) {
      const before = membersOf(record.state);
      const state = decodeState(record.pending.state, this.#config(record.suite));
      await this.#save(group, { ...record, state, cursor, pending: undefined });
      const { added, removed } = await this.#diff(record.suite, before, state);
      const sender = await this.#member(state, record.suite, state.privatePath.leafIndex);
      return {
        type: "commit",
        group,
        epoch: state.groupContext.epoch,
        own: true,
        sender,
        added,
        removed,
      };
    }
    let senderLeaf: number | undefined;
    let wasCommit = false;
    let result;
    try {
      result = await processPrivateMessage(
        record.state,
        pm,
        makePskIndex(record.state, {}),
        cs,
        (incoming) => {
          if (incoming.kind === "commit") {
            wasCommit = true;
            senderLeaf = incoming.senderLeafIndex;
          } else senderLeaf = incoming.proposal.senderLeafIndex;
          return "accept";
        },
      );
    } catch (e) {
      throw refusal(e);
    }
    if (result.kind !== "newState") {
      throw new FormatError("a handshake message held application data");
    }
    const before = membersOf(record.state);
    const state = result.newState;
    const sender = senderLeaf === undefined ? undefined : await this.#describe(
      record.suite,
      before.find((m) => m.leaf === senderLeaf)!.node,
      senderLeaf,
      false,
    );
    if (!wasCommit) {
      await this.#save(group, { ...record, state, cursor });
      return { type: "proposal", group, sender };
    }
    const epoch = state.groupContext.epoch;
    if (state.groupActiveState.kind === "removedFromGroup") {
      await this.#save(group, undefined);
      return { type: "removed", group, epoch };
    }
    const { added, removed } = await this.#diff(record.suite, before, state);
    const event: GroupEvent = { type: "commit", group, epoch, own: false, sender, added, removed };
    await this.#save(group, { ...record, state, cursor, pending: undefined });
    if (record.pending) {
      return { type: "conflict", group, epoch: record.pending.epoch, winner: event };
    }
    return event;
  }

  async #openApplication(record: GroupRecord, pm: PrivateMessage) {
    const cs = await suiteImpl(record.suite);
    const state = record.state;
    // As ts-mls's processPrivateMessage does for application messages, keeping the sender.
    let receiver = {
      senderDataSecret: state.keySchedule.senderDataSecret,
      secretTree: state.secretTree,
      ratchetTree: state.ratchetTree,
      groupContext: state.groupContext,
    };
    const historical = pm.epoch < state.groupContext.epoch;
    if (historical) {
      const old = state.historicalReceiverData.get(pm.epoch);
      if (!old) throw new DecryptionError();
      receiver = old;
    } else if (pm.epoch !== state.groupContext.epoch) {
      throw new DecryptionError();
    }
    let result;
    try {
      result = await unprotectPrivateMessage(
        receiver.senderDataSecret,
        pm,
        receiver.secretTree,
        receiver.ratchetTree,
        receiver.groupContext,
        state.clientConfig.keyRetentionConfig,
        cs,
      );
    } catch {
      throw new DecryptionError();
    }
    const content = result.content.content;
    if (content.contentType !== "application") {
      throw new FormatError("an application message held a handshake");
    }
    const leaf = getSenderLeafNodeIndex(content.sender);
    if (leaf === undefined) throw new FormatError("an application message from a non-member");
    const node = receiver.ratchetTree[leaf * 2];
    if (!node || node.nodeType !== "leaf") throw new DecryptionError();
    const sender = await this.#describe(
      record.suite,
      node.leaf,
      leaf,
      leaf === state.privatePath.leafIndex,
    );
    const newState: ClientState = historical
      ? {
        ...state,
        historicalReceiverData: new Map(state.historicalReceiverData).set(pm.epoch, {
          ...state.historicalReceiverData.get(pm.epoch)!,
          secretTree: result.tree,
        }),
      }
      : { ...state, secretTree: result.tree };
    return { data: unpadApplication(content.applicationData), sender, state: newState };
  }

  async #diff(
    suite: GroupSuite,
    before: { leaf: number; node: LeafNode }[],
    state: ClientState,
  ): Promise<{ added: GroupMember[]; removed: MemberIdentity[] }> {
    const after = membersOf(state);
    const beforeLeaves = new Map(before.map((m) => [m.leaf, m.node]));
    const afterLeaves = new Map(after.map((m) => [m.leaf, m.node]));
    const added: GroupMember[] = [];
    const removed: MemberIdentity[] = [];
    for (const m of after) {
      const old = beforeLeaves.get(m.leaf);
      if (!old || (old.leafNodeSource !== m.node.leafNodeSource && !equalCred(old, m.node))) {
        added.push(await this.#describe(suite, m.node, m.leaf, false));
      }
    }
    for (const m of before) {
      const now = afterLeaves.get(m.leaf);
      if (!now || !equalCred(now, m.node)) {
        const { recipient, fingerprint } = await this.#describe(suite, m.node, m.leaf, false);
        removed.push({ recipient, fingerprint });
      }
    }
    return { added, removed };
  }

  leave(group: string): Promise<Uint8Array> {
    return this.#serial(async () => {
      const record = await this.#load(group);
      const cs = await suiteImpl(record.suite);
      const result = await createProposal(record.state, false, {
        proposalType: "remove",
        remove: { removed: record.state.privatePath.leafIndex },
      }, cs);
      await this.#save(group, undefined);
      return envelope(GroupMessageKind.handshake, result.message);
    });
  }

  members(group: string): Promise<GroupMember[]> {
    return this.#serial(async () => {
      const record = await this.#load(group);
      return await this.#describeMembers(record);
    });
  }

  epoch(group: string): Promise<bigint> {
    return this.#serial(async () => (await this.#load(group)).state.groupContext.epoch);
  }

  suite(group: string): Promise<GroupSuite> {
    return this.#serial(async () => (await this.#load(group)).suite);
  }

  cursor(group: string): Promise<number> {
    return this.#serial(async () => (await this.#load(group)).cursor);
  }

  deliverySecret(
    group: string,
    epoch?: bigint,
  ): Promise<{ epoch: bigint; secret: Uint8Array }> {
    return this.#serial(async () => {
      const r = await this.#load(group);
      const current = r.state.groupContext.epoch;
      let state = r.state;
      if (epoch !== undefined && epoch !== current) {
        if (!r.pending || epoch !== r.pending.epoch + 1n) {
          throw new GroupError(`the group is at epoch ${current}, not ${epoch}`);
        }
        state = decodeState(r.pending.state, this.#config(r.suite));
      }
      const cs = await suiteImpl(r.suite);
      const secret = await mlsExporter(
        state.keySchedule.exporterSecret,
        DELIVERY_KEY_LABEL,
        EMPTY,
        32,
        cs,
      );
      return { epoch: state.groupContext.epoch, secret };
    });
  }

  pending(group: string): Promise<PendingCommit | undefined> {
    return this.#serial(async () => {
      const r = await this.#load(group);
      if (!r.pending) return undefined;
      return {
        group,
        epoch: r.pending.epoch,
        commit: r.pending.commit.slice(),
        welcome: r.pending.welcome.length ? r.pending.welcome.slice() : undefined,
      };
    });
  }

  async sync(
    delivery: GroupDelivery,
    group: string,
  ): Promise<{ events: GroupEvent[]; errors: Error[] }> {
    const events: GroupEvent[] = [];
    const errors: Error[] = [];
    try {
      while (true) {
        let cursor: number;
        try {
          cursor = await this.cursor(group);
        } catch (e) {
          if (e instanceof GroupError && events.some((x) => x.type === "removed")) break;
          throw e;
        }
        const batch = await delivery.fetch(queueId(group), cursor, 256);
        if (batch.length === 0) break;
        // Application messages of a batch are written once, at its end (#stage); commits,
        // proposals and skips at once.
        for (const m of batch) {
          try {
            const event = await this.#serial(() => this.#process(m.envelope, m.seq, true));
            events.push(event);
            if (event.type === "removed") return { events, errors };
          } catch (e) {
            errors.push(e as Error);
            // Skip what does not open (a message this account cannot read), keeping the order.
            await this.#serial(async () => {
              const r = this.#cache.get(group) ?? await this.#load(group);
              await this.#save(group, { ...r, cursor: m.seq });
            });
          }
        }
        await this.#serial(() => this.#flush(group));
      }
    } finally {
      await this.#serial(() => this.#flush(group));
    }
    return { events, errors };
  }

  async publish(delivery: GroupDelivery, commit: PendingCommit): Promise<GroupEvent[]> {
    try {
      await delivery.post(queueId(commit.group), "commit", commit.epoch, commit.commit);
    } catch (e) {
      if (e instanceof StaleEpochError) {
        await this.discard(commit.group);
        await this.sync(delivery, commit.group);
      }
      throw e;
    }
    return (await this.sync(delivery, commit.group)).events;
  }

  async send(delivery: GroupDelivery, group: string, data: Uint8Array): Promise<number> {
    for (let attempt = 0;; attempt++) {
      const epoch = await this.epoch(group);
      const message = await this.encrypt(group, data);
      try {
        return await delivery.post(queueId(group), "application", epoch, message);
      } catch (e) {
        if (!(e instanceof StaleEpochError) || attempt >= 8) throw e;
        await this.sync(delivery, group);
      }
    }
  }
}

// A handshake message that ts-mls refused: a signature, credential or membership check failed
// (InvalidKeyError, with the reason), or it does not open (DecryptionError, nothing more said).
function refusal(e: unknown): Error {
  const name = (e as { name?: string })?.name;
  const message = (e as { message?: string })?.message ?? "";
  if (name === "ValidationError" || name === "CryptoVerificationError") {
    return new InvalidKeyError(`the group handshake message is refused: ${message}`, { cause: e });
  }
  return new DecryptionError();
}

function equalCred(a: LeafNode, b: LeafNode): boolean {
  return equalBytes(
    a.credential.credentialType === "basic" ? a.credential.identity : EMPTY,
    b.credential.credentialType === "basic" ? b.credential.identity : EMPTY,
  ) &&
    a.credential.credentialType === b.credential.credentialType;
}

/** The delivery-service queue id of a group: its MLS group id in hex. */
export function queueId(group: string): string {
  return group;
}

async function generateKeyPackageWithKeyPair(
  credential: Awaited<ReturnType<typeof makeCredential>>,
  sig: { publicKey: Uint8Array; signKey: Uint8Array },
  cs: Awaited<ReturnType<typeof suiteImpl>>,
): Promise<{ publicPackage: KeyPackage; privatePackage: PrivateKeyPackage }> {
  return await generateKeyPackageWithKey(
    credential,
    defaultCapabilities(),
    defaultLifetime,
    [],
    sig,
    cs,
  );
}

/**
 * Opens the groups of a version-2 identity (docs/groups.md): creates, joins and runs MLS groups
 * whose members are polycrypt identities, with every secret kept in `store` sealed under a key
 * derived from the identity (`HKDF-SHA-256(identity, "", "polycrypt/group/1 storage key")`).
 */
export async function openGroups(options: GroupAccountOptions): Promise<GroupAccount> {
  if (typeof options?.identity !== "string") throw new TypeError("identity must be a string");
  const keys = await identitySessionKeys(options.identity, { registry: options.registry });
  const storageKey = hkdfSync(
    "SHA-256",
    encoder.encode(options.identity.trim()),
    EMPTY,
    GROUP_STORAGE_INFO,
    32,
  );
  const seal = await StorageSeal.create(storageKey);
  storageKey.fill(0);
  return new Groups(keys, options.store ?? new MemorySessionStore(), seal, options);
}
