// Users for the queue-securing tests (secure_cli_test.ts, secure_hardening_test.ts): each a config
// folder and a key made by `polycrypt keygen`, the CLI run as that user, their sealed files read in
// this process, and a third party's SEND to an invitation's queue.
import assert from "node:assert/strict";
import { join } from "node:path";
import { encrypt } from "../../mod.ts";
import { parseInvitation, type QueueKey, RelayClient } from "../../relay/mod.ts";
import { storeIdentity } from "../../cli/_contacts.ts";
import { runCli } from "../cli/_cli.ts";
import type { CommandResult } from "../_process.ts";

const ALL = ["--allow-all"];

export interface User {
  name: string;
  key: string;
  recipient: string;
  config: string;
  run(args: string[]): Promise<CommandResult>;
  ok(args: string[]): Promise<CommandResult>;
}

export async function user(dir: string, name: string): Promise<User> {
  const config = join(dir, name);
  await Deno.mkdir(config);
  const key = join(dir, `${name}.key`);
  const run = (args: string[]) =>
    runCli(args, ALL, { env: { XDG_CONFIG_HOME: config }, deadlineMs: 240_000 });
  const ok = async (args: string[]) => {
    const r = await run(args);
    assert.equal(r.code, 0, `${name} ${args.slice(0, 2).join(" ")}: ${r.stderr}`);
    return r;
  };
  const made = await ok(["keygen", "-o", key]);
  const recipient = made.stderr.match(/Public key: (\S+)/)![1];
  return { name, key, recipient, config, run, ok };
}

/** Runs `work` with `u`'s config folder, to read their sealed files in this process. */
export async function as<T>(u: User, work: (identity: string) => Promise<T>): Promise<T> {
  const before = Deno.env.get("XDG_CONFIG_HOME");
  Deno.env.set("XDG_CONFIG_HOME", u.config);
  try {
    return await work(await storeIdentity(u.key));
  } finally {
    if (before === undefined) Deno.env.delete("XDG_CONFIG_HOME");
    else Deno.env.set("XDG_CONFIG_HOME", before);
  }
}

/** A SEND to `invitation`'s queue by someone else (a valid envelope for its owner). */
export async function thirdPartySend(invitation: string, key?: QueueKey): Promise<Uint8Array> {
  const { relay, sendId, recipient } = parseInvitation(invitation);
  const client = await RelayClient.connect(relay);
  try {
    const envelope = await encrypt(new TextEncoder().encode("let me in"), {
      recipients: [recipient],
    });
    return await client.send(sendId, envelope, key ? { key } : {});
  } finally {
    await client.close();
  }
}
