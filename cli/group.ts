// Internal: `polycrypt group`, MLS group chat through a relay (docs/groups.md section 10): groups
// kept under local names in a sealed file, their state in the session store (sealed under the
// group storage key), the group queue on the relay (RelayGroupDelivery), and key packages and
// Welcomes carried between contacts as session messages through their inboxes.
import { basename } from "node:path";
import { fingerprint, formatSafetyNumber, safetyNumber } from "./_core.ts";
import { parse, USAGE, type Values } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { openInput, say, writeAtomic } from "./_io.ts";
import {
  checkName,
  type Contact,
  findContact,
  type GroupBook,
  type LocalGroup,
  readBook,
  readGroupBook,
  readInboxes,
  writeGroupBook,
} from "./_contacts.ts";
import { openAccount } from "./_chat_session.ts";
import { GROUP_KIND, RelayOutbox, relayPayload } from "./_relay.ts";
import { replyInvitation } from "./_relay_send.ts";
import { checkOutDir, freeName, writeAll } from "./_delivery.ts";
import { receivedText } from "./_terminal.ts";
import { relayOptions, sessionIdentity } from "./inbox.ts";
import { checkFileName } from "../transports/mod.ts";
import type { SessionStore } from "../sessions/store.ts";
import type { Account } from "../sessions/account.ts";
import type { GroupAccount, GroupEvent } from "../groups/mod.ts";
import type { RelayClient } from "../relay/client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The version byte of a group application payload and of a Welcome payload. */
const GROUP_PAYLOAD_VERSION = 0x01;
/** Application payload kinds: a text, a file (whole, in one message). */
const APP_KIND = { text: 0x54, file: 0x46 } as const;
/** The largest file `group send -f` sends (one message; the relay takes 1 MiB envelopes). */
const MAX_GROUP_FILE = 768 * 1024;
/** A Welcome bigger than this is sent in pieces of this size (the files' piece size). */
const WELCOME_PIECE = 512 * 1024;

// ------------------------------------------------------------------ payloads

/** `0x01 || u64 sent (ms since 1970) || kind || body` (docs/groups.md section 10). */
function appPayload(kind: number, body: Uint8Array, sent = Date.now()): Uint8Array {
  const out = new Uint8Array(10 + body.length);
  out[0] = GROUP_PAYLOAD_VERSION;
  new DataView(out.buffer).setBigUint64(1, BigInt(sent));
  out[9] = kind;
  out.set(body, 10);
  return out;
}

type AppMessage =
  | { kind: "text"; sent: number; text: string }
  | { kind: "file"; sent: number; name: string; bytes: Uint8Array };

function parseAppPayload(data: Uint8Array): AppMessage {
  if (data.length < 10 || data[0] !== GROUP_PAYLOAD_VERSION) {
    throw new Error("a group message of an unknown format was skipped");
  }
  const sent = Number(new DataView(data.buffer, data.byteOffset).getBigUint64(1));
  const body = data.subarray(10);
  if (data[9] === APP_KIND.text) return { kind: "text", sent, text: decoder.decode(body) };
  if (data[9] === APP_KIND.file && body.length >= 1 && body.length >= 1 + body[0]) {
    const name = checkFileName(decoder.decode(body.subarray(1, 1 + body[0])));
    return { kind: "file", sent, name, bytes: body.subarray(1 + body[0]) };
  }
  throw new Error("a group message of an unknown kind was skipped");
}

/** A Welcome's payload body: `0x01 || u16 urlLen || url || u8 nameLen || name || u64 cursor || welcome`. */
function welcomeBody(relay: string, name: string, cursor: number, welcome: Uint8Array) {
  const url = encoder.encode(relay);
  const nm = encoder.encode(name);
  const out = new Uint8Array(1 + 2 + url.length + 1 + nm.length + 8 + welcome.length);
  const view = new DataView(out.buffer);
  out[0] = GROUP_PAYLOAD_VERSION;
  view.setUint16(1, url.length);
  out.set(url, 3);
  out[3 + url.length] = nm.length;
  out.set(nm, 4 + url.length);
  view.setBigUint64(4 + url.length + nm.length, BigInt(cursor));
  out.set(welcome, 12 + url.length + nm.length);
  return out;
}

/**
 * The Welcome payload bodies for one new member: one, or one per piece when the Welcome is over
 * `pieceBytes` (docs/groups.md section 10), each with the same URL, name and cursor.
 */
export async function welcomeBodies(
  relay: string,
  name: string,
  cursor: number,
  welcome: Uint8Array,
  pieceBytes = WELCOME_PIECE,
): Promise<Uint8Array[]> {
  const { splitGroupMessage } = await import("../groups/mod.ts");
  return splitGroupMessage(welcome, pieceBytes).map((piece) =>
    welcomeBody(relay, name, cursor, piece)
  );
}

function parseWelcomeBody(body: Uint8Array) {
  const bad = () => new Error("a damaged group invitation was dropped");
  if (body.length < 12 || body[0] !== GROUP_PAYLOAD_VERSION) throw bad();
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const urlLen = view.getUint16(1);
  if (body.length < 12 + urlLen) throw bad();
  const nameLen = body[3 + urlLen];
  if (body.length < 12 + urlLen + nameLen) throw bad();
  try {
    return {
      relay: decoder.decode(body.subarray(3, 3 + urlLen)),
      name: decoder.decode(body.subarray(4 + urlLen, 4 + urlLen + nameLen)),
      cursor: Number(view.getBigUint64(4 + urlLen + nameLen)),
      welcome: body.subarray(12 + urlLen + nameLen),
    };
  } catch {
    throw bad();
  }
}

// ------------------------------------------------------------------ inbox side (fetch)

/**
 * A group payload that arrived in an inbox (cli/fetch.ts): a contact's key package is kept in the
 * group file until `group add` uses it; a contact's Welcome is joined at once, under the name
 * the inviter gave (made unique locally). From a stranger, both are refused.
 */
export async function groupInboxPayload(
  reader: { identity: string; inner: SessionStore; contacts: Contact[] },
  contact: Contact | undefined,
  from: string,
  payload: { groupKind: number; body: Uint8Array },
): Promise<void> {
  const what = payload.groupKind === GROUP_KIND.keyPackage ? "key package" : "invitation";
  if (contact === undefined) {
    throw new Error(
      `a group ${what} from stranger ${from} was refused: only contacts can be added or add you`,
    );
  }
  const book = await readGroupBook(reader.identity);
  if (payload.groupKind === GROUP_KIND.keyPackage) {
    book.keyPackages = book.keyPackages.filter((k) => k.fingerprint !== from);
    book.keyPackages.push({
      fingerprint: from,
      keyPackage: payload.body.toHex(),
      received: new Date().toISOString(),
    });
    await writeGroupBook(reader.identity, book);
    say(
      `polycrypt: ${contact.name} sent a key package: polycrypt group add NAME @${contact.name} ` +
        `adds them to a group`,
    );
    return;
  }
  const w = parseWelcomeBody(payload.body);
  const { checkRelayUrl } = await import("../relay/invite.ts");
  try {
    checkRelayUrl(w.relay);
  } catch {
    throw new Error("a group invitation with a relay URL that is not allowed was dropped");
  }
  const groups = await openGroupsOn(reader.identity, reader.inner);
  let welcome = w.welcome;
  const { GroupMessageKind } = await import("../groups/mod.ts");
  if (welcome.length > 9 && welcome[9] === GroupMessageKind.piece) {
    // A piece of a Welcome too big for one message (docs/groups.md section 10): kept sealed in
    // the session store until the last one arrives.
    const whole = await groups.assemble(welcome);
    if (!whole) return;
    welcome = whole;
  }
  const id = await groups.join(welcome, { cursor: w.cursor });
  // The Welcome came in a session message from this contact: they must be in the group.
  if (!(await groups.members(id)).some((m) => m.fingerprint === from)) {
    throw new Error(`a group invitation from ${contact.name} names a group they are not in`);
  }
  let name = safeGroupName(w.name);
  for (let n = 2; book.groups.some((g) => g.name === name); n++) {
    name = `${safeGroupName(w.name)}-${n}`;
  }
  book.groups = book.groups.filter((g) => g.id !== id);
  book.groups.push({ name, id, relay: w.relay, joined: new Date().toISOString() });
  await writeGroupBook(reader.identity, book);
  say(
    `polycrypt: ${contact.name} added you to the group ${name} on ${w.relay} ` +
      `(polycrypt group fetch ${name} reads it)`,
  );
}

function safeGroupName(name: string): string {
  try {
    return checkName(name);
  } catch {
    return "group";
  }
}

// ------------------------------------------------------------------ the command

async function openGroupsOn(identity: string, store: SessionStore): Promise<GroupAccount> {
  const { openGroups } = await import("../groups/mod.ts");
  return await openGroups({ identity, store });
}

/** Everything a group subcommand works with; `close` releases the store and connections. */
interface Context {
  identity: string;
  account: Account;
  groups: GroupAccount;
  contacts: Contact[];
  book: GroupBook;
  values: Values;
  delivery(relay: string): Promise<import("../groups/mod.ts").RelayGroupDelivery>;
  close(): Promise<void>;
}

async function open(values: Values): Promise<Context> {
  const identity = await sessionIdentity(values);
  let inner: SessionStore | undefined;
  const { account, close } = await openAccount(
    identity,
    values.sessions as string | undefined,
    (s) => inner = s,
  );
  const clients = new Map<string, RelayClient>();
  const deliveries = new Map<string, import("../groups/mod.ts").RelayGroupDelivery>();
  try {
    const groups = await openGroupsOn(identity, inner!);
    const contacts = await readBook(identity).catch(() => [] as Contact[]);
    const book = await readGroupBook(identity);
    const options = await relayOptions(values);
    const { RelayGroupDelivery } = await import("../groups/mod.ts");
    const { RelayClient } = await import("../relay/client.ts");
    return {
      identity,
      account,
      groups,
      contacts,
      book,
      values,
      async delivery(relay: string) {
        let d = deliveries.get(relay);
        if (d) return d;
        let client: RelayClient;
        try {
          client = await RelayClient.connect(relay, options);
        } catch {
          throw new IoError(`could not connect to the relay ${relay}`);
        }
        clients.set(relay, client);
        d = new RelayGroupDelivery(client, groups);
        deliveries.set(relay, d);
        return d;
      },
      async close() {
        for (const c of clients.values()) await c.close().catch(() => {});
        await close();
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

function groupNamed(ctx: Context, name: string | undefined): LocalGroup {
  if (name === undefined) throw new UsageError(`give the group's name\nusage: ${USAGE.group}`);
  const g = ctx.book.groups.find((x) => x.name === name);
  if (!g) throw new UsageError(`no group named ${name} (polycrypt group list shows yours)`);
  return g;
}

function contactsNamed(ctx: Context, names: string[]): Contact[] {
  if (names.length === 0) throw new UsageError(`name at least one contact: @NAME`);
  return names.map((n) => findContact(ctx.contacts, n));
}

function memberLabel(ctx: Context, m: { fingerprint: string; self?: boolean }): string {
  if (m.self) return "you";
  const c = ctx.contacts.find((c) => fingerprint(c.recipient) === m.fingerprint);
  return c ? c.name : `member ${m.fingerprint}`;
}

function stamp(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Relay and group refusals as one-line errors with their exit codes. */
async function relayFailure(e: unknown, relay: string): Promise<Error> {
  if (e instanceof UsageError || e instanceof IoError) return e;
  const { RelayError } = await import("../relay/protocol.ts");
  if (e instanceof RelayError) return new IoError(`the relay ${relay} refused: ${e.codeName}`);
  const { PolycryptError } = await import("../mod.ts");
  if (e instanceof PolycryptError) return e;
  return new IoError(`the relay connection failed: ${(e as Error).message}`);
}

/** Processes a group's queue, printing what happened; returns the events. */
async function syncGroup(ctx: Context, g: LocalGroup, outDir: string): Promise<GroupEvent[]> {
  const ds = await ctx.delivery(g.relay);
  const { events, errors } = await ctx.groups.sync(ds, g.id);
  for (const e of errors) say(`polycrypt: ${g.name}: a group message was skipped: ${e.message}`);
  let leaving = false;
  for (const ev of events) await show(ctx, g, ev, outDir);
  if (events.some((ev) => ev.type === "removed")) {
    ctx.book.groups = ctx.book.groups.filter((x) => x.id !== g.id);
    await writeGroupBook(ctx.identity, ctx.book);
    return events;
  }
  // A member's leave proposal takes effect with the next commit: this member makes one (an
  // update); if another member's commit wins the epoch, that one applies it.
  if (events.some((ev) => ev.type === "proposal")) leaving = true;
  if (leaving) {
    const { StaleEpochError } = await import("../groups/mod.ts");
    try {
      const commit = await ctx.groups.update(g.id);
      for (const ev of await ctx.groups.publish(ds, commit)) await show(ctx, g, ev, outDir);
    } catch (e) {
      if (!(e instanceof StaleEpochError)) throw e;
      for (const ev of (await ctx.groups.sync(ds, g.id)).events) await show(ctx, g, ev, outDir);
    }
  }
  return events;
}

async function show(ctx: Context, g: LocalGroup, ev: GroupEvent, outDir: string) {
  const now = stamp(Date.now());
  switch (ev.type) {
    case "message": {
      const who = memberLabel(ctx, ev.sender);
      let m: AppMessage;
      try {
        m = parseAppPayload(ev.data);
      } catch (e) {
        say(`polycrypt: ${g.name}: from ${who}: ${(e as Error).message}`);
        return;
      }
      if (m.kind === "text") {
        await writeAll(
          encoder.encode(receivedText(m.text, `${g.name} [${stamp(m.sent)}] ${who}: `)),
        );
      } else {
        const path = await freeName(outDir, m.name);
        await writeAtomic(path, ReadableStream.from([m.bytes]), false);
        await writeAll(
          encoder.encode(`${g.name} [${stamp(m.sent)}] ${who}: sent a file, saved as ${path}\n`),
        );
      }
      return;
    }
    case "commit": {
      const who = ev.own ? "you" : ev.sender ? memberLabel(ctx, ev.sender) : "a member";
      const parts: string[] = [];
      if (ev.added.length) {
        parts.push(`added ${ev.added.map((m) => memberLabel(ctx, m)).join(", ")}`);
      }
      if (ev.removed.length) {
        parts.push(`removed ${ev.removed.map((m) => memberLabel(ctx, m)).join(", ")}`);
      }
      if (!parts.length) parts.push("updated their keys");
      await writeAll(encoder.encode(`${g.name} [${now}] ${who} ${parts.join(" and ")}\n`));
      return;
    }
    case "proposal":
      await writeAll(
        encoder.encode(
          `${g.name} [${now}] ${ev.sender ? memberLabel(ctx, ev.sender) : "a member"} left\n`,
        ),
      );
      return;
    case "removed":
      await writeAll(encoder.encode(`${g.name} [${now}] you were removed from the group\n`));
      return;
    default:
      return;
  }
}

/** Publishes a commit made by `make`, making it again if another commit won the epoch. */
async function commitWith(
  ctx: Context,
  g: LocalGroup,
  make: () => Promise<import("../groups/mod.ts").PendingCommit>,
): Promise<{ cursor: number; commit: import("../groups/mod.ts").PendingCommit }> {
  const ds = await ctx.delivery(g.relay);
  const { StaleEpochError } = await import("../groups/mod.ts");
  await syncGroup(ctx, g, ".");
  for (let attempt = 0;; attempt++) {
    const commit = await make();
    try {
      for (const ev of await ctx.groups.publish(ds, commit)) await show(ctx, g, ev, ".");
      return { cursor: await ctx.groups.cursor(g.id), commit };
    } catch (e) {
      if (!(e instanceof StaleEpochError) || attempt >= 4) throw e;
    }
  }
}

/**
 * `group chat`: lines from stdin are sent, the group queue is polled every second and what
 * arrives is shown; end of input (Ctrl-D) ends it.
 */
async function chat(ctx: Context, g: LocalGroup, outDir: string): Promise<void> {
  const ds = await ctx.delivery(g.relay);
  let chain: Promise<unknown> = Promise.resolve();
  const serial = (work: () => Promise<unknown>) => {
    chain = chain.then(work).catch((e) => say(`polycrypt: ${g.name}: ${(e as Error).message}`));
    return chain;
  };
  const inGroup = () => ctx.book.groups.some((x) => x.id === g.id);
  // The relay pushes a note of each post to the group's queue in the epoch watched (GSUB,
  // docs/groups.md section 10): each note fetches at once; after a commit the next epoch is
  // watched. The queue is also checked every second (a relay without GSUB, or posts made to
  // another process of a relay that has several).
  let watched: bigint | undefined;
  let pushed = false;
  let unsupported = false;
  const sync = async () => {
    await syncGroup(ctx, g, outDir);
    if (unsupported || !inGroup() || watched === await ctx.groups.epoch(g.id)) return;
    try {
      watched = await ds.watch(g.id, () => {
        if (inGroup()) serial(sync);
      });
      pushed = true;
      await syncGroup(ctx, g, outDir); // what came between the last fetch and the watch
    } catch (e) {
      // A relay without GSUB (UNKNOWN): polling only. Another failure: try again next time.
      pushed = false;
      const { RELAY_ERROR, RelayError } = await import("../relay/protocol.ts");
      if (e instanceof RelayError && e.code === RELAY_ERROR.UNKNOWN) unsupported = true;
    }
  };
  await sync();
  say(
    `polycrypt: chatting in ${g.name}: each line you type is sent; ` +
      (pushed ? "the relay pushes what others post, and " : "") +
      "the group is checked every second; Ctrl-D ends",
  );
  const timer = setInterval(() => {
    if (inGroup()) serial(sync);
  }, 1000);
  try {
    let buffered = "";
    const text = new TextDecoder();
    for await (const chunk of Deno.stdin.readable) {
      buffered += text.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, "");
        buffered = buffered.slice(nl + 1);
        if (!line.trim()) continue;
        await serial(async () => {
          if (!inGroup()) return;
          await ctx.groups.send(ds, g.id, appPayload(APP_KIND.text, encoder.encode(line)));
        });
      }
      if (!inGroup()) break;
    }
    if (buffered.trim() && inGroup()) {
      await serial(() =>
        ctx.groups.send(ds, g.id, appPayload(APP_KIND.text, encoder.encode(buffered)))
      );
    }
  } finally {
    clearInterval(timer);
    await chain;
  }
  if (inGroup()) await serial(sync);
}

export async function groupCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("group", args);
  const [action, ...rest] = positionals;
  const actions = [
    "create",
    "add",
    "remove",
    "send",
    "fetch",
    "chat",
    "members",
    "leave",
    "keypackage",
    "list",
  ];
  if (action === undefined || !actions.includes(action)) {
    throw new UsageError(
      `${action === undefined ? "give an action" : `unknown action ${JSON.stringify(action)}`}: ` +
        `${actions.join(", ")}\nusage: ${USAGE.group}`,
    );
  }
  await checkOutDir(values.output as string | undefined);
  if (action === "fetch") {
    // The inboxes first (Welcomes, key packages, texts), then the group queues.
    const identity = await sessionIdentity(values);
    if ((await readInboxes(identity)).length) {
      const { fetchInboxes } = await import("./fetch.ts");
      await fetchInboxes({ ...values, output: undefined }, { summary: false });
    }
  }
  const ctx = await open(values);
  let relay = "";
  try {
    switch (action) {
      case "list": {
        for (const g of ctx.book.groups) console.log(`${g.name}\t${g.relay}`);
        return;
      }
      case "create": {
        if (rest.length !== 1) throw new UsageError(`give one name\nusage: ${USAGE.group}`);
        const name = checkName(rest[0]);
        if (ctx.book.groups.some((g) => g.name === name)) {
          throw new UsageError(`you already have a group named ${name}`);
        }
        relay = values.relay as string | undefined ??
          (await readInboxes(ctx.identity)).at(-1)?.relay ?? "";
        if (!relay) {
          throw new UsageError("give the relay: --relay URL (or create an inbox first)");
        }
        const { checkRelayUrl } = await import("../relay/invite.ts");
        try {
          checkRelayUrl(relay);
        } catch (e) {
          throw new UsageError(`--relay: ${(e as Error).message}`);
        }
        const ds = await ctx.delivery(relay);
        const id = await ctx.groups.create();
        await ds.create(id, await ctx.groups.epoch(id));
        ctx.book.groups.push({ name, id, relay, joined: new Date().toISOString() });
        await writeGroupBook(ctx.identity, ctx.book);
        say(
          `polycrypt: group ${name} created on ${relay}; add contacts with polycrypt group add ${name} @NAME`,
        );
        return;
      }
      case "keypackage": {
        const contacts = contactsNamed(ctx, rest);
        for (const c of contacts) {
          if (c.invitation === undefined) {
            throw new UsageError(`${c.name} has no inbox: save their invitation (contact add)`);
          }
          relay = c.invitation;
          const outbox = await RelayOutbox.open(
            c.invitation,
            await relayOptions(values),
            ctx.identity,
          );
          try {
            const mine = await replyInvitation(ctx.identity, ctx.account, c, values);
            const kp = await ctx.groups.keyPackage();
            await outbox.deposit(ctx.account, relayPayload(GROUP_KIND.keyPackage, kp, mine));
          } finally {
            await outbox.close();
          }
          say(`polycrypt: key package sent to ${c.name}; they can now add you to a group`);
        }
        return;
      }
      case "add": {
        const g = groupNamed(ctx, rest[0]);
        relay = g.relay;
        const contacts = contactsNamed(ctx, rest.slice(1));
        const fps = contacts.map((c) => fingerprint(c.recipient));
        const kps = contacts.map((c, i) => {
          const held = ctx.book.keyPackages.find((k) => k.fingerprint === fps[i]);
          if (!held) {
            throw new UsageError(
              `no key package from ${c.name}: ask them to run polycrypt group keypackage ` +
                `@YOURNAME, then run polycrypt group fetch (or fetch)`,
            );
          }
          if (c.invitation === undefined) {
            throw new UsageError(`${c.name} has no inbox to receive the invitation`);
          }
          return Uint8Array.fromHex(held.keyPackage);
        });
        const { cursor, commit } = await commitWith(ctx, g, () => ctx.groups.add(g.id, kps, fps));
        const welcome = commit.welcome;
        if (!welcome) throw new IoError("the commit produced no Welcome");
        ctx.book.keyPackages = ctx.book.keyPackages.filter((k) => !fps.includes(k.fingerprint));
        await writeGroupBook(ctx.identity, ctx.book);
        // A Welcome over WELCOME_PIECE goes in pieces, one session message each (section 10).
        const bodies = await welcomeBodies(g.relay, g.name, cursor, welcome);
        for (const c of contacts) {
          const outbox = await RelayOutbox.open(
            c.invitation!,
            await relayOptions(values),
            ctx.identity,
          );
          try {
            const mine = await replyInvitation(ctx.identity, ctx.account, c, values);
            for (const body of bodies) {
              await outbox.deposit(ctx.account, relayPayload(GROUP_KIND.welcome, body, mine));
            }
          } finally {
            await outbox.close();
          }
        }
        say(`polycrypt: added ${contacts.map((c) => c.name).join(", ")} to ${g.name}`);
        return;
      }
      case "remove": {
        const g = groupNamed(ctx, rest[0]);
        relay = g.relay;
        const fps = contactsNamed(ctx, rest.slice(1)).map((c) => fingerprint(c.recipient));
        await commitWith(ctx, g, () => ctx.groups.remove(g.id, fps));
        say(`polycrypt: removed ${rest.slice(1).join(", ")} from ${g.name}`);
        return;
      }
      case "send": {
        const g = groupNamed(ctx, rest[0]);
        relay = g.relay;
        const file = values.file as string | undefined;
        let data: Uint8Array;
        if (file !== undefined) {
          if (rest.length > 1) throw new UsageError("give either TEXT or -f FILE");
          const input = await openInput(file);
          const bytes = new Uint8Array(await new Response(input.stream).arrayBuffer());
          if (bytes.length > MAX_GROUP_FILE) {
            throw new UsageError(
              `${file} is over ${MAX_GROUP_FILE} bytes, the most a group message carries`,
            );
          }
          const nm = encoder.encode(basename(file));
          if (nm.length > 255) throw new UsageError("the file name is too long");
          data = appPayload(APP_KIND.file, new Uint8Array([nm.length, ...nm, ...bytes]));
        } else {
          if (rest.length > 2) throw new UsageError('quote the text: group send NAME "TEXT"');
          const text = rest[1] ?? await new Response(Deno.stdin.readable).text();
          data = appPayload(APP_KIND.text, encoder.encode(text));
        }
        const ds = await ctx.delivery(g.relay);
        await syncGroup(ctx, g, (values.output as string | undefined) ?? ".");
        if (!ctx.book.groups.some((x) => x.id === g.id)) {
          throw new UsageError(`you are no longer in ${g.name}: nothing was sent`);
        }
        await ctx.groups.send(ds, g.id, data);
        say(`polycrypt: sent to ${g.name}`);
        return;
      }
      case "fetch": {
        const outDir = (values.output as string | undefined) ?? ".";
        const list = rest.length ? [groupNamed(ctx, rest[0])] : [...ctx.book.groups];
        for (const g of list) {
          relay = g.relay;
          await syncGroup(ctx, g, outDir);
        }
        return;
      }
      case "chat": {
        const g = groupNamed(ctx, rest[0]);
        relay = g.relay;
        await chat(ctx, g, (values.output as string | undefined) ?? ".");
        return;
      }
      case "members": {
        const g = groupNamed(ctx, rest[0]);
        const members = await ctx.groups.members(g.id);
        for (const m of members) {
          console.log(`${m.fingerprint}  ${memberLabel(ctx, m)}`);
          if (values.safety && !m.self) {
            console.log(
              formatSafetyNumber(safetyNumber(ctx.account.recipient, m.recipient))
                .split("\n").map((l) => `    ${l}`).join("\n"),
            );
          }
        }
        return;
      }
      case "leave": {
        const g = groupNamed(ctx, rest[0]);
        relay = g.relay;
        const ds = await ctx.delivery(g.relay);
        await syncGroup(ctx, g, ".");
        if (ctx.book.groups.some((x) => x.id === g.id)) {
          const { relayGroupKey, relayGroupQueueId } = await import("../groups/mod.ts");
          const { sha256 } = await import("../engines/_hash.ts");
          const key = await relayGroupKey((await ctx.groups.deliverySecret(g.id)).secret);
          const proposal = await ctx.groups.leave(g.id);
          try {
            await ds.client.groupPost(relayGroupQueueId(g.id), key, proposal, {
              messageId: sha256(proposal).slice(0, 16),
            });
          } catch (e) {
            ctx.book.groups = ctx.book.groups.filter((x) => x.id !== g.id);
            await writeGroupBook(ctx.identity, ctx.book);
            throw new IoError(
              `you left ${g.name} here, but the relay refused to pass it on ` +
                `(${(await relayFailure(e, g.relay)).message}): ask a member to remove you`,
            );
          }
        }
        ctx.book.groups = ctx.book.groups.filter((x) => x.id !== g.id);
        await writeGroupBook(ctx.identity, ctx.book);
        say(`polycrypt: you left ${g.name}; its state here is deleted`);
        return;
      }
    }
  } catch (e) {
    throw await relayFailure(e, relay);
  } finally {
    await ctx.close();
  }
}
