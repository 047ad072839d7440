// Internal: `polycrypt bundle`, a signed prekey bundle of an identity for sessions
// (docs/sessions.md section 2, docs/cli.md): the public halves go to OUT, the secret halves stay
// in the session store that chat uses, so a session a peer starts from the bundle opens there.
import { parse, USAGE } from "./_args.ts";
import { openAccount } from "./_chat_session.ts";
import { sessionIdentity } from "./inbox.ts";
import { UsageError } from "./_errors.ts";
import { say, writeAtomic, writeStdout } from "./_io.ts";

/** `--one-time`'s default: one-time prekeys of each kind. */
const DEFAULT_ONE_TIME = 10;
/** The most one-time prekeys of each kind a bundle may list (docs/sessions.md section 2). */
const MAX_ONE_TIME = 1000;

export async function bundleCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("bundle", args);
  if (positionals.length) throw new UsageError(`unexpected argument\nusage: ${USAGE.bundle}`);
  const input = values.identity as string | undefined;
  if (input === undefined) throw new UsageError(`give -i FILE\nusage: ${USAGE.bundle}`);
  const raw = values["one-time"] as string | undefined;
  const oneTime = raw === undefined ? DEFAULT_ONE_TIME : Number(raw);
  if (!/^\d+$/.test(raw ?? "0") || !Number.isSafeInteger(oneTime) || oneTime > MAX_ONE_TIME) {
    throw new UsageError(`--one-time takes a number from 0 to ${MAX_ONE_TIME}, not ${raw}`);
  }
  const output = values.output as string | undefined;
  if ((output === undefined || output === "-") && Deno.stdout.isTerminal()) {
    throw new UsageError("refusing to write a binary bundle to a terminal; use -o FILE");
  }
  const identity = await sessionIdentity(values);
  const { account, path, close } = await openAccount(
    identity,
    values.sessions as string | undefined,
  );
  let bundle: Uint8Array;
  try {
    bundle = await account.prekeyBundle({ oneTimeKeys: oneTime });
  } finally {
    await close();
  }
  const stream = ReadableStream.from([bundle]);
  if (output === undefined || output === "-") {
    await writeStdout(stream);
  } else {
    await writeAtomic(output, stream, Boolean(values.force));
    say(
      `polycrypt: wrote ${output} (${bundle.length} bytes, ${oneTime} one-time prekeys of each ` +
        `kind); its secret halves are in ${path}`,
    );
  }
}
