// Internal: `polycrypt inbox`, the recipient's queues on relays (docs/relay.md section 13): `new`
// creates a queue, keeps its secrets in a sealed file, publishes prekey bundles and prints an
// invitation; `list` prints the invitations.
import { parseIdentity } from "./_core.ts";
import { loadIdentities, parse, USAGE } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { say, writeAtomic } from "./_io.ts";
import { type InboxRecord, readInboxes, writeInboxes } from "./_contacts.ts";
import { openAccount } from "./_chat_session.ts";
import type { Account } from "../sessions/account.ts";
import { parseBundle, trimBundle } from "../sessions/bundle.ts";
import type { QueueKey, RelayClient } from "../relay/client.ts";

/** The most one-time bundles one `inbox new` publishes (the relay holds 200 per queue). */
const MAX_ONE_TIME = 200;

/** The relay client options of -o/--proxy/--tls-ca. */
export async function relayOptions(values: Record<string, unknown>) {
  const proxy = values.proxy as string | undefined;
  const caFiles = values["tls-ca"] as string[] | undefined;
  const caCerts = caFiles?.length
    ? await Promise.all(caFiles.map((f) => Deno.readTextFile(f)))
    : undefined;
  return { proxy, caCerts };
}

/** The one identity of -i (a version-2 one, which sessions need). */
export async function sessionIdentity(values: Record<string, unknown>): Promise<string> {
  const input = values.identity as string | undefined;
  if (input === undefined) throw new UsageError("give your identity with -i FILE");
  const identities = await loadIdentities(
    [input],
    values["passphrase-file"] as string | undefined,
  );
  if (identities.length !== 1) throw new UsageError(`${input} must hold exactly one identity`);
  if (!parseIdentity(identities[0]).signingKey) {
    throw new UsageError(
      `${input} cannot sign (a version-1 identity): upgrade it with polycrypt keygen --upgrade`,
    );
  }
  return identities[0];
}

/**
 * Publishes prekey bundles on a queue (docs/relay.md sections 4 and 12): one signed bundle of the
 * account with `oneTime` one-time keys of each kind, cut into `oneTime` bundles of one of each,
 * and the bundle with none as the last-resort bundle. With `replace`, the queue's earlier one-time
 * bundles go first. Resolves with the one-time bundles the relay holds.
 */
export async function publishBundles(
  client: RelayClient,
  inbox: { receivingId: Uint8Array; key: QueueKey },
  account: Account,
  oneTime: number,
  replace: boolean,
): Promise<number> {
  const bundle = await account.prekeyBundle({ oneTimeKeys: oneTime });
  const parsed = await parseBundle(bundle);
  const oneTimeBundles = parsed.opks.map((opk, i) =>
    trimBundle(bundle, { opk: opk.id, pqopk: parsed.pqopks[i].id })
  );
  await client.publish(inbox.receivingId, inbox.key, [trimBundle(bundle, {})], {
    lastResort: true,
  });
  let held = await client.publish(inbox.receivingId, inbox.key, [], { replace });
  for (let i = 0; i < oneTimeBundles.length; i += 50) {
    held = await client.publish(inbox.receivingId, inbox.key, oneTimeBundles.slice(i, i + 50));
  }
  return held;
}

export async function inboxCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("inbox", args);
  const [action, ...rest] = positionals;
  if (rest.length) throw new UsageError(`unexpected argument\nusage: ${USAGE.inbox}`);
  if (action === "list") {
    const identity = await sessionIdentity(values);
    // The inboxes of `inbox new`; reply inboxes (one per contact) travel inside messages.
    for (const inbox of await readInboxes(identity)) {
      if (inbox.contact === undefined) console.log(inbox.invitation);
    }
    return;
  }
  if (action !== "new") {
    throw new UsageError(
      `${action === undefined ? "give an action" : `unknown action ${JSON.stringify(action)}`}: ` +
        `new or list\nusage: ${USAGE.inbox}`,
    );
  }
  const relay = values.relay as string | undefined;
  if (relay === undefined) {
    throw new UsageError(`give the relay: --relay URL\nusage: ${USAGE.inbox}`);
  }
  const raw = values["one-time"] as string | undefined;
  const oneTime = raw === undefined ? 20 : Number(raw);
  if (!/^\d+$/.test(raw ?? "0") || oneTime > MAX_ONE_TIME) {
    throw new UsageError(`--one-time takes a number from 0 to ${MAX_ONE_TIME}, not ${raw}`);
  }
  const { checkRelayUrl, encodeInvitation } = await import("../relay/invite.ts");
  try {
    checkRelayUrl(relay);
  } catch (e) {
    throw new UsageError(`--relay: ${(e as Error).message}`);
  }
  const output = values.output as string | undefined;
  if (output !== undefined) {
    const exists = await Deno.lstat(output).then(() => true, () => false);
    if (exists) throw new IoError(`${output} already exists`);
  }
  const identity = await sessionIdentity(values);
  const relayModule = await import("../relay/client.ts");
  let client;
  try {
    client = await relayModule.RelayClient.connect(relay, await relayOptions(values));
  } catch {
    throw new IoError(`could not connect to the relay ${relay}`);
  }
  const { account, close } = await openAccount(identity, values.sessions as string | undefined);
  try {
    const inbox = await relayModule.openInbox(client);
    // A second queue for offers of direct connections (chat --direct, docs/relay.md section 14).
    const signal = await relayModule.openInbox(client);
    await publishBundles(client, inbox, account, oneTime, false);
    const invitation = encodeInvitation({
      relay,
      sendId: inbox.sendingId,
      recipient: account.recipient,
      signalId: signal.sendingId,
    });
    const record: InboxRecord = {
      relay,
      receivingId: inbox.receivingId.toHex(),
      sendingId: inbox.sendingId.toHex(),
      key: {
        algorithm: inbox.key.algorithm,
        publicKey: inbox.key.publicKey.toHex(),
        secretKey: inbox.key.secretKey.toHex(),
      },
      invitation,
      created: new Date().toISOString(),
      published: new Date().toISOString(),
      // Secured by fetch to the first verified sender (docs/relay.md section 13), unless shared.
      ...(values.shared ? {} : { secure: true }),
      signal: {
        receivingId: signal.receivingId.toHex(),
        sendingId: signal.sendingId.toHex(),
        key: {
          algorithm: signal.key.algorithm,
          publicKey: signal.key.publicKey.toHex(),
          secretKey: signal.key.secretKey.toHex(),
        },
      },
    };
    await writeInboxes(identity, [...await readInboxes(identity), record]);
    if (output !== undefined) {
      await writeAtomic(
        output,
        ReadableStream.from([new TextEncoder().encode(invitation + "\n")]),
        false,
      );
    }
    console.log(invitation);
    say(
      values.shared
        ? `polycrypt: shared inbox created on ${relay} with ${oneTime} one-time prekey bundles; ` +
          `anyone holding the invitation can write there (polycrypt contact add NAME ` +
          `INVITATION), read with polycrypt fetch`
        : `polycrypt: inbox created on ${relay} with ${oneTime} one-time prekey bundles; give ` +
          `the invitation to one contact (polycrypt contact add NAME INVITATION): the first ` +
          `who writes secures it (--shared for many); read with polycrypt fetch`,
    );
  } catch (e) {
    if (e instanceof UsageError || e instanceof IoError) throw e;
    const { RelayError } = await import("../relay/protocol.ts");
    if (e instanceof RelayError) throw new IoError(`the relay refused: ${e.codeName}`);
    throw new IoError(`the inbox could not be created: ${(e as Error).message}`);
  } finally {
    await close();
    await client.close().catch(() => {});
  }
}
