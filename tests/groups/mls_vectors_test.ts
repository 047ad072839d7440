// The official MLS test vectors (mlswg/mls-implementations, tests/vectors/mls/, SOURCES.md) through
// polycrypt's ts-mls integration: the suite implementation comes from groups/_suites.ts (the
// import map and lock of deno.json, the X-Wing peer loaded), the checks call ts-mls's exported
// functions. Only cipher suite 1, the one polycrypt enables besides X-Wing, is run (the vectors
// have no X-Wing case), and the number of cases is asserted per file.
//
// The checks follow ts-mls's own vector tests (v1.6.2, test/test-vectors/, MIT License, Copyright
// (c) 2025 Luka Jacobowitz), rewritten for Deno and node:assert.
import assert from "node:assert/strict";
import {
  type CiphersuiteImpl,
  type GroupContext,
  joinGroup,
  makePskIndex,
  type PrivateKeyPackage,
  processPrivateMessage,
  processPublicMessage,
  type RatchetTree,
} from "ts-mls";
import { getCiphersuiteNameFromId } from "ts-mls/crypto/ciphersuite.js";
import { signWithLabel, verifyWithLabel } from "ts-mls/crypto/signature.js";
import { refhash } from "ts-mls/crypto/hash.js";
import { deriveSecret, deriveTreeSecret, expandWithLabel } from "ts-mls/crypto/kdf.js";
import { decryptWithLabel, encryptWithLabel } from "ts-mls/crypto/hpke.js";
import { encodeGroupContext } from "ts-mls/groupContext.js";
import { initializeEpoch, mlsExporter } from "ts-mls/keySchedule.js";
import { expandSenderDataKey, expandSenderDataNonce } from "ts-mls/sender.js";
import { createSecretTree, deriveKey, deriveNonce, ratchetUntil } from "ts-mls/secretTree.js";
import {
  leafToNodeIndex,
  left,
  nodeWidth,
  parent,
  right,
  root,
  sibling,
  toLeafIndex,
  toNodeIndex,
} from "ts-mls/treemath.js";
import { defaultKeyRetentionConfig } from "ts-mls/keyRetentionConfig.js";
import { decodeAuthenticatedContent } from "ts-mls/authenticatedContent.js";
import { createConfirmedHash, createInterimHash } from "ts-mls/transcriptHash.js";
import { decodeMlsMessage } from "ts-mls/message.js";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { verifyGroupInfoConfirmationTag, verifyGroupInfoSignature } from "ts-mls/groupInfo.js";
import { decryptGroupInfo, decryptGroupSecrets } from "ts-mls/welcome.js";
import { decodeRatchetTree } from "ts-mls/ratchetTree.js";
import { bytesToBase64 } from "ts-mls/util/byteArray.js";
import {
  protect,
  protectApplicationData,
  protectProposal,
  unprotectPrivateMessage,
} from "ts-mls/messageProtection.js";
import {
  protectProposalPublic,
  protectPublicMessage,
  unprotectPublicMessage,
} from "ts-mls/messageProtectionPublic.js";
import { createContentCommitSignature } from "ts-mls/framedContent.js";
import { decodeProposal, encodeProposal } from "ts-mls/proposal.js";
import { decodeCommit, encodeCommit } from "ts-mls/commit.js";
import { defaultCapabilities } from "ts-mls/defaultCapabilities.js";
import { defaultPaddingConfig } from "ts-mls/paddingConfig.js";
import { INTEROP_GROUP_SUITE, suiteImpl } from "../../groups/_suites.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const SUITE_1 = 1;

async function load(name: string): Promise<Json[]> {
  const file = await Deno.open(new URL(`../vectors/mls/${name}.json.gz`, import.meta.url));
  const text = await new Response(file.readable.pipeThrough(new DecompressionStream("gzip")))
    .text();
  return JSON.parse(text);
}

/** The cases of suite 1, their number asserted. */
async function suite1(name: string, expected: number): Promise<Json[]> {
  const all = await load(name);
  const cases = all.filter((x) => x.cipher_suite === SUITE_1);
  assert.equal(cases.length, expected, `${name}: suite-1 cases`);
  return cases;
}

const hex = (s: string): Uint8Array => Uint8Array.fromHex(s);
const toHex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

let implPromise: Promise<CiphersuiteImpl> | undefined;
function impl(): Promise<CiphersuiteImpl> {
  return implPromise ??= suiteImpl(INTEROP_GROUP_SUITE);
}

Deno.test("mls vectors: suite 1 is RFC 9420's MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519", () => {
  assert.equal(getCiphersuiteNameFromId(SUITE_1), INTEROP_GROUP_SUITE);
});

Deno.test("mls vectors: the files have no case for an X-Wing suite", async () => {
  for (const name of ["crypto-basics", "key-schedule", "passive-client-welcome"]) {
    const suites = new Set((await load(name)).map((x) => x.cipher_suite));
    assert.deepEqual([...suites].sort(), [1, 2, 3, 4, 5, 6, 7], name);
  }
});

// ---------------------------------------------------------------------------- crypto-basics

Deno.test("mls vectors: crypto-basics (suite 1: 1 case, 6 functions)", async () => {
  const cs = await impl();
  let checks = 0;
  for (const x of await suite1("crypto-basics", 1)) {
    const r = x.ref_hash;
    assert.equal(toHex(await refhash(r.label, hex(r.value), cs.hash)), r.out);
    checks++;
    const d = x.derive_secret;
    assert.equal(toHex(await deriveSecret(hex(d.secret), d.label, cs.kdf)), d.out);
    checks++;
    const t = x.derive_tree_secret;
    assert.equal(
      toHex(await deriveTreeSecret(hex(t.secret), t.label, t.generation, cs.kdf.size, cs.kdf)),
      t.out,
    );
    checks++;
    const e = x.expand_with_label;
    assert.equal(
      toHex(await expandWithLabel(hex(e.secret), e.label, hex(e.context), e.length, cs.kdf)),
      e.out,
    );
    checks++;
    const h = x.encrypt_with_label;
    const priv = await cs.hpke.importPrivateKey(hex(h.priv));
    const pub = await cs.hpke.importPublicKey(hex(h.pub));
    const opened = await decryptWithLabel(
      priv,
      h.label,
      hex(h.context),
      hex(h.kem_output),
      hex(h.ciphertext),
      cs.hpke,
    );
    assert.equal(toHex(new Uint8Array(opened)), h.plaintext);
    const again = await encryptWithLabel(pub, h.label, hex(h.context), hex(h.plaintext), cs.hpke);
    const reopened = await decryptWithLabel(
      priv,
      h.label,
      hex(h.context),
      again.enc,
      again.ct,
      cs.hpke,
    );
    assert.equal(toHex(new Uint8Array(reopened)), h.plaintext);
    // A flipped ciphertext bit must not open.
    const bad = hex(h.ciphertext);
    bad[0] ^= 1;
    await assert.rejects(
      decryptWithLabel(priv, h.label, hex(h.context), hex(h.kem_output), bad, cs.hpke),
    );
    checks++;
    const s = x.sign_with_label;
    assert.equal(
      await verifyWithLabel(hex(s.pub), s.label, hex(s.content), hex(s.signature), cs.signature),
      true,
    );
    const sig = await signWithLabel(hex(s.priv), s.label, hex(s.content), cs.signature);
    assert.equal(
      await verifyWithLabel(hex(s.pub), s.label, hex(s.content), sig, cs.signature),
      true,
    );
    assert.equal(
      await verifyWithLabel(hex(s.pub), s.label + "x", hex(s.content), sig, cs.signature),
      false,
    );
    checks++;
  }
  assert.equal(checks, 6);
});

// ---------------------------------------------------------------------------- key-schedule

Deno.test("mls vectors: key-schedule (suite 1: 1 case)", async () => {
  const cs = await impl();
  let epochs = 0;
  for (const x of await suite1("key-schedule", 1)) {
    let initSecret = hex(x.initial_init_secret);
    for (const [index, epoch] of (x.epochs as Json[]).entries()) {
      const gc: GroupContext = {
        version: "mls10",
        cipherSuite: getCiphersuiteNameFromId(x.cipher_suite),
        groupId: hex(x.group_id),
        epoch: BigInt(index),
        treeHash: hex(epoch.tree_hash),
        confirmedTranscriptHash: hex(epoch.confirmed_transcript_hash),
        extensions: [],
      };
      assert.deepEqual(encodeGroupContext(gc), hex(epoch.group_context));
      const { keySchedule: ks, joinerSecret, welcomeSecret, encryptionSecret } =
        await initializeEpoch(
          initSecret,
          hex(epoch.commit_secret),
          gc,
          hex(epoch.psk_secret),
          cs.kdf,
        );
      assert.deepEqual(joinerSecret, hex(epoch.joiner_secret));
      assert.deepEqual(welcomeSecret, hex(epoch.welcome_secret));
      assert.deepEqual(ks.initSecret, hex(epoch.init_secret));
      assert.deepEqual(ks.senderDataSecret, hex(epoch.sender_data_secret));
      assert.deepEqual(encryptionSecret, hex(epoch.encryption_secret));
      assert.deepEqual(ks.exporterSecret, hex(epoch.exporter_secret));
      assert.deepEqual(ks.externalSecret, hex(epoch.external_secret));
      assert.deepEqual(ks.confirmationKey, hex(epoch.confirmation_key));
      assert.deepEqual(ks.membershipKey, hex(epoch.membership_key));
      assert.deepEqual(ks.resumptionPsk, hex(epoch.resumption_psk));
      assert.deepEqual(ks.epochAuthenticator, hex(epoch.epoch_authenticator));
      const { publicKey } = await cs.hpke.deriveKeyPair(hex(epoch.external_secret));
      assert.deepEqual(await cs.hpke.exportPublicKey(publicKey), hex(epoch.external_pub));
      const exported = await mlsExporter(
        ks.exporterSecret,
        epoch.exporter.label,
        hex(epoch.exporter.context),
        epoch.exporter.length,
        cs,
      );
      assert.deepEqual(exported, hex(epoch.exporter.secret));
      initSecret = ks.initSecret;
      epochs++;
    }
  }
  assert.ok(epochs >= 2, `${epochs} epochs`);
});

// ---------------------------------------------------------------------------- secret-tree

Deno.test("mls vectors: secret-tree (suite 1: 3 cases)", async () => {
  const cs = await impl();
  let generations = 0;
  for (const x of await suite1("secret-tree", 3)) {
    const sd = x.sender_data;
    assert.deepEqual(
      await expandSenderDataKey(cs, hex(sd.sender_data_secret), hex(sd.ciphertext)),
      hex(sd.key),
    );
    assert.deepEqual(
      await expandSenderDataNonce(cs, hex(sd.sender_data_secret), hex(sd.ciphertext)),
      hex(sd.nonce),
    );
    const leaves = x.leaves as Json[][];
    const tree = await createSecretTree(leaves.length, hex(x.encryption_secret), cs.kdf);
    for (const [index, leaf] of leaves.entries()) {
      const node = tree[leafToNodeIndex(toLeafIndex(index))]!;
      for (const gen of leaf) {
        for (
          const [secret, key, nonce] of [
            [node.handshake, gen.handshake_key, gen.handshake_nonce],
            [node.application, gen.application_key, gen.application_nonce],
          ] as const
        ) {
          const [r] = await ratchetUntil(secret, gen.generation, defaultKeyRetentionConfig, cs.kdf);
          assert.equal(r.generation, gen.generation);
          assert.deepEqual(await deriveKey(r.secret, r.generation, cs), hex(key));
          assert.deepEqual(await deriveNonce(r.secret, r.generation, cs), hex(nonce));
        }
        generations++;
      }
    }
  }
  assert.ok(generations > 10, `${generations} generations`);
});

// ---------------------------------------------------------------------------- tree-math

Deno.test("mls vectors: tree-math (10 cases, suite-independent)", async () => {
  const cases = await load("tree-math");
  assert.equal(cases.length, 10);
  let nodes = 0;
  for (const t of cases) {
    assert.equal(nodeWidth(t.n_leaves), t.n_nodes);
    assert.equal(root(t.n_leaves), t.root);
    const check = (expected: number | null, f: () => number) => {
      if (expected !== null) assert.equal(f(), expected);
      else assert.throws(f);
    };
    for (let i = 0; i < t.n_nodes; i++) {
      check(t.left[i], () => left(toNodeIndex(i)));
      check(t.right[i], () => right(toNodeIndex(i)));
      check(t.parent[i], () => parent(toNodeIndex(i), t.n_leaves));
      check(t.sibling[i], () => sibling(toNodeIndex(i), t.n_leaves));
      nodes++;
    }
  }
  assert.ok(nodes > 100, `${nodes} nodes`);
});

// ---------------------------------------------------------------------------- transcript-hashes

Deno.test("mls vectors: transcript-hashes (suite 1: 1 case)", async () => {
  const cs = await impl();
  for (const x of await suite1("transcript-hashes", 1)) {
    const decoded = decodeAuthenticatedContent(hex(x.authenticated_content), 0);
    assert.ok(decoded);
    const [auth] = decoded;
    assert.ok(auth.content.contentType === "commit" && auth.auth.contentType === "commit");
    const tag = auth.auth.confirmationTag;
    assert.equal(
      await cs.hash.verifyMac(hex(x.confirmation_key), tag, hex(x.confirmed_transcript_hash_after)),
      true,
    );
    const input = {
      wireformat: auth.wireformat,
      content: auth.content,
      signature: auth.auth.signature,
    };
    assert.deepEqual(
      await createConfirmedHash(hex(x.interim_transcript_hash_before), input, cs.hash),
      hex(x.confirmed_transcript_hash_after),
    );
    assert.deepEqual(
      await createInterimHash(hex(x.confirmed_transcript_hash_after), tag, cs.hash),
      hex(x.interim_transcript_hash_after),
    );
  }
});

// ---------------------------------------------------------------------------- welcome

Deno.test("mls vectors: welcome (suite 1: 1 case)", async () => {
  const cs = await impl();
  for (const x of await suite1("welcome", 1)) {
    const w = decodeMlsMessage(hex(x.welcome), 0);
    assert.ok(w && w[0].wireformat === "mls_welcome");
    const welcome = w[0].welcome;
    const k = decodeMlsMessage(hex(x.key_package), 0);
    assert.ok(k && k[0].wireformat === "mls_key_package");
    const ref = await makeKeyPackageRef(k[0].keyPackage, cs.hash);
    assert.ok(welcome.secrets.some((s) => toHex(s.newMember) === toHex(ref)));
    const priv = await cs.hpke.importPrivateKey(hex(x.init_priv));
    const secrets = await decryptGroupSecrets(priv, ref, welcome, cs.hpke);
    assert.ok(secrets);
    const psk = new Uint8Array(cs.kdf.size);
    const gi = await decryptGroupInfo(welcome, secrets.joinerSecret, psk, cs);
    assert.ok(gi);
    assert.equal(await verifyGroupInfoConfirmationTag(gi, secrets.joinerSecret, psk, cs), true);
    assert.equal(await verifyGroupInfoSignature(gi, hex(x.signer_pub), cs.signature), true);
    // Another key (the init key's public half, wrong length and value) does not verify.
    const other = hex(x.signer_pub);
    other[0] ^= 1;
    assert.equal(await verifyGroupInfoSignature(gi, other, cs.signature), false);
  }
});

// ---------------------------------------------------------------------------- message-protection

// A ratchet tree whose leaf 1 is not blank, for the sender-data checks.
const treeForLeaf1: RatchetTree = [
  undefined,
  undefined,
  {
    nodeType: "leaf",
    leaf: {
      leafNodeSource: "commit",
      hpkePublicKey: new Uint8Array(),
      signaturePublicKey: new Uint8Array(),
      capabilities: defaultCapabilities(),
      parentHash: new Uint8Array(),
      extensions: [],
      signature: new Uint8Array(),
      credential: { credentialType: "basic", identity: new Uint8Array() },
    },
  },
];

Deno.test("mls vectors: message-protection (suite 1: 1 case, 10 checks)", async () => {
  const cs = await impl();
  let checks = 0;
  for (const x of await suite1("message-protection", 1)) {
    const gc: GroupContext = {
      version: "mls10",
      cipherSuite: getCiphersuiteNameFromId(x.cipher_suite),
      groupId: hex(x.group_id),
      epoch: BigInt(x.epoch),
      treeHash: hex(x.tree_hash),
      confirmedTranscriptHash: hex(x.confirmed_transcript_hash),
      extensions: [],
    };
    const membershipKey = hex(x.membership_key);
    const sigPub = hex(x.signature_pub);
    const sigPriv = hex(x.signature_priv);
    const senderData = hex(x.sender_data_secret);
    const tree = () => createSecretTree(2, hex(x.encryption_secret), cs.kdf);
    const unprotectPriv = async (bytes: Uint8Array) => {
      const m = decodeMlsMessage(bytes, 0);
      assert.ok(m && m[0].wireformat === "mls_private_message");
      return await unprotectPrivateMessage(
        senderData,
        m[0].privateMessage,
        await tree(),
        treeForLeaf1,
        gc,
        defaultKeyRetentionConfig,
        cs,
        sigPub,
      );
    };
    const unprotectPub = async (bytes: Uint8Array) => {
      const m = decodeMlsMessage(bytes, 0);
      assert.ok(m && m[0].wireformat === "mls_public_message");
      return await unprotectPublicMessage(membershipKey, gc, [], m[0].publicMessage, cs, sigPub);
    };

    // The published messages open to the published content.
    const pubProposal = await unprotectPub(hex(x.proposal_pub));
    assert.ok(pubProposal.content.contentType === "proposal");
    assert.deepEqual(encodeProposal(pubProposal.content.proposal), hex(x.proposal));
    checks++;
    const pubCommit = await unprotectPub(hex(x.commit_pub));
    assert.ok(pubCommit.content.contentType === "commit");
    assert.deepEqual(encodeCommit(pubCommit.content.commit), hex(x.commit));
    checks++;
    const privProposal = await unprotectPriv(hex(x.proposal_priv));
    assert.ok(privProposal.content.content.contentType === "proposal");
    assert.deepEqual(encodeProposal(privProposal.content.content.proposal), hex(x.proposal));
    checks++;
    const privCommit = await unprotectPriv(hex(x.commit_priv));
    assert.ok(privCommit.content.content.contentType === "commit");
    assert.deepEqual(encodeCommit(privCommit.content.content.commit), hex(x.commit));
    checks++;
    const privApp = await unprotectPriv(hex(x.application_priv));
    assert.ok(privApp.content.content.contentType === "application");
    assert.deepEqual(privApp.content.content.applicationData, hex(x.application));
    checks++;
    // A flipped bit in the private application message does not open.
    const tampered = hex(x.application_priv);
    tampered[tampered.length - 1] ^= 1;
    await assert.rejects(unprotectPriv(tampered));
    checks++;

    // What ts-mls protects opens again to the same content.
    const proposal = decodeProposal(hex(x.proposal), 0)![0];
    const pp = await protectProposalPublic(
      sigPriv,
      membershipKey,
      gc,
      new Uint8Array(),
      proposal,
      1,
      cs,
    );
    const ppOpen = await unprotectPublicMessage(
      membershipKey,
      gc,
      [],
      pp.publicMessage,
      cs,
      sigPub,
    );
    assert.ok(ppOpen.content.contentType === "proposal");
    assert.deepEqual(encodeProposal(ppOpen.content.proposal), hex(x.proposal));
    checks++;
    const st = await tree();
    const prot = await protectProposal(
      sigPriv,
      senderData,
      proposal,
      new Uint8Array(),
      gc,
      st,
      1,
      defaultPaddingConfig,
      cs,
    );
    const protOpen = await unprotectPrivateMessage(
      senderData,
      prot.privateMessage,
      st,
      treeForLeaf1,
      gc,
      defaultKeyRetentionConfig,
      cs,
      sigPub,
    );
    assert.ok(protOpen.content.content.contentType === "proposal");
    assert.deepEqual(encodeProposal(protOpen.content.content.proposal), hex(x.proposal));
    checks++;
    const st2 = await tree();
    const app = await protectApplicationData(
      sigPriv,
      senderData,
      hex(x.application),
      new Uint8Array(),
      gc,
      st2,
      1,
      defaultPaddingConfig,
      cs,
    );
    const appOpen = await unprotectPrivateMessage(
      senderData,
      app.privateMessage,
      st2,
      treeForLeaf1,
      gc,
      defaultKeyRetentionConfig,
      cs,
      sigPub,
    );
    assert.ok(appOpen.content.content.contentType === "application");
    assert.deepEqual(appOpen.content.content.applicationData, hex(x.application));
    checks++;
    const commit = decodeCommit(hex(x.commit), 0)![0];
    const confirmationTag = crypto.getRandomValues(new Uint8Array(cs.kdf.size));
    for (const wireformat of ["mls_public_message", "mls_private_message"] as const) {
      const { framedContent, signature } = await createContentCommitSignature(
        gc,
        wireformat,
        commit,
        { leafIndex: 1, senderType: "member" },
        new Uint8Array(),
        sigPriv,
        cs.signature,
      );
      if (wireformat === "mls_public_message") {
        const pm = await protectPublicMessage(membershipKey, gc, {
          wireformat,
          content: framedContent,
          auth: { contentType: "commit", signature, confirmationTag },
        }, cs);
        const open = await unprotectPublicMessage(membershipKey, gc, [], pm, cs, sigPub);
        assert.ok(open.content.contentType === "commit");
        assert.deepEqual(encodeCommit(open.content.commit), hex(x.commit));
      } else {
        const st3 = await tree();
        const pm = await protect(
          senderData,
          new Uint8Array(),
          gc,
          st3,
          { ...framedContent, auth: { contentType: "commit", signature, confirmationTag } },
          1,
          defaultPaddingConfig,
          cs,
        );
        const open = await unprotectPrivateMessage(
          senderData,
          pm.privateMessage,
          st3,
          treeForLeaf1,
          gc,
          defaultKeyRetentionConfig,
          cs,
          sigPub,
        );
        assert.ok(open.content.content.contentType === "commit");
        assert.deepEqual(encodeCommit(open.content.content.commit), hex(x.commit));
      }
    }
    checks++;
  }
  assert.equal(checks, 10);
});

// ---------------------------------------------------------------------------- passive clients

async function passiveClient(data: Json, cs: CiphersuiteImpl): Promise<number> {
  const kp = decodeMlsMessage(hex(data.key_package), 0);
  assert.ok(kp && kp[0].wireformat === "mls_key_package");
  const welcome = decodeMlsMessage(hex(data.welcome), 0);
  assert.ok(welcome && welcome[0].wireformat === "mls_welcome");
  const keys: PrivateKeyPackage = {
    hpkePrivateKey: hex(data.encryption_priv),
    initPrivateKey: hex(data.init_priv),
    signaturePrivateKey: hex(data.signature_priv),
  };
  const tree = data.ratchet_tree !== null
    ? decodeRatchetTree(hex(data.ratchet_tree), 0)?.[0]
    : undefined;
  const psks: Record<string, Uint8Array> = {};
  for (const psk of data.external_psks as Json[]) {
    psks[bytesToBase64(hex(psk.psk_id))] = hex(psk.psk);
  }
  let state = await joinGroup(
    welcome[0].welcome,
    kp[0].keyPackage,
    keys,
    makePskIndex(undefined, psks),
    cs,
    tree,
  );
  assert.deepEqual(state.keySchedule.epochAuthenticator, hex(data.initial_epoch_authenticator));
  let epochs = 0;
  for (const epoch of data.epochs as Json[]) {
    for (const bytes of [...epoch.proposals, epoch.commit] as string[]) {
      const m = decodeMlsMessage(hex(bytes), 0);
      assert.ok(m);
      const msg = m[0];
      if (msg.wireformat === "mls_private_message") {
        state =
          (await processPrivateMessage(state, msg.privateMessage, makePskIndex(state, psks), cs))
            .newState;
      } else if (msg.wireformat === "mls_public_message") {
        state =
          (await processPublicMessage(state, msg.publicMessage, makePskIndex(state, psks), cs))
            .newState;
      } else {
        assert.fail(`unexpected wire format ${msg.wireformat}`);
      }
    }
    assert.deepEqual(state.keySchedule.epochAuthenticator, hex(epoch.epoch_authenticator));
    epochs++;
  }
  return epochs;
}

for (
  const [name, count] of [
    ["passive-client-welcome", 8],
    ["passive-client-handling-commit", 13],
    ["passive-client-random", 1],
  ] as const
) {
  Deno.test(`mls vectors: ${name} (suite 1: ${count} cases)`, async () => {
    const cs = await impl();
    let passed = 0;
    let epochs = 0;
    for (const data of await suite1(name, count)) {
      epochs += await passiveClient(data, cs);
      passed++;
    }
    assert.equal(passed, count);
    if (name !== "passive-client-welcome") assert.ok(epochs >= count, `${epochs} epochs`);
  });
}
