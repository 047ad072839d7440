// Internal: the XMPP account behind `xmpp:` addresses (docs/cli.md, "XMPP"): one login per process,
// shared by the listener and the connections to peers; its password from --xmpp-password-file,
// $POLYCRYPT_XMPP_PASSWORD or a prompt without echo, never argv.
import {
  connectXmpp,
  parseJid,
  parseXmppAddress,
  type XmppAccount,
  XmppError,
} from "../transports/mod.ts";
import type { Values } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { readText, say } from "./_io.ts";
import { readTerminalLine } from "./_passphrase.ts";

let account: { jid: string; promise: Promise<XmppAccount> } | undefined;
/** Set when this process logs out itself: the end of the server connection is then expected. */
let closing = false;

/** The XMPP password of `jid`: a file, the environment, or the terminal. */
async function xmppPassword(values: Values, jid: string): Promise<string> {
  const file = values["xmpp-password-file"] as string | undefined;
  let password: string | null | undefined;
  if (file !== undefined) password = (await readText(file)).split(/\r?\n/)[0];
  else if (Deno.env.get("POLYCRYPT_XMPP_PASSWORD") !== undefined) {
    password = Deno.env.get("POLYCRYPT_XMPP_PASSWORD");
  } else {
    try {
      password = await readTerminalLine(`Enter the XMPP password of ${jid}: `, false);
    } catch {
      throw new UsageError(
        "an XMPP password is needed and there is no terminal to ask on: use " +
          "--xmpp-password-file FILE or set POLYCRYPT_XMPP_PASSWORD",
      );
    }
    if (password === null) throw new UsageError("password entry cancelled");
  }
  if (!password) throw new UsageError("the XMPP password is empty");
  return password;
}

/**
 * The logged-in account for an `xmpp:` address: `--account`, or `own` (listen's --on address) when
 * it is not given. One login per process.
 */
export function xmppAccount(values: Values, own?: string): Promise<XmppAccount> {
  const given = values.account as string | undefined;
  let jid: string;
  try {
    jid = given !== undefined
      ? parseJid(given, "--account must be NAME@DOMAIN").jid
      : parseXmppAddress(own ?? "").jid;
  } catch (e) {
    if (given === undefined && own === undefined) {
      throw new UsageError("an xmpp: address needs --account NAME@DOMAIN (your XMPP account)");
    }
    throw new UsageError((e as Error).message);
  }
  if (own !== undefined && parseXmppAddress(own).jid !== jid) {
    throw new UsageError(`--account ${jid} is not the account of the address ${own}`);
  }
  if (account !== undefined) {
    if (account.jid !== jid) throw new UsageError(`one XMPP account per run (${account.jid})`);
    return account.promise;
  }
  const promise = (async () => {
    const password = await xmppPassword(values, jid);
    try {
      const opened = await connectXmpp({
        jid,
        password,
        server: values["xmpp-server"] as string | undefined,
        insecure: values["xmpp-insecure"] === true,
        presence: values["xmpp-presence"] === true,
        // A dropped server connection is logged in again (docs/transports.md section 11,
        // "Reconnection"); what is sent meanwhile waits, what comes meanwhile waits at the server.
        onConnectionChange: (online) => {
          if (closing) return;
          say(
            online
              ? `polycrypt: connected to the XMPP server of ${jid} again`
              : `polycrypt: the connection to the XMPP server of ${jid} dropped; reconnecting`,
          );
        },
      });
      // The server refused to log in again (or the account ended otherwise): nothing more can
      // arrive or leave.
      opened.ended.then(() => {
        if (closing) return;
        say(`polycrypt: the connection to the XMPP server of ${jid} ended`);
        Deno.exit(3);
      });
      return opened;
    } catch (e) {
      if (e instanceof RangeError || e instanceof TypeError) throw new UsageError(e.message);
      if (e instanceof XmppError) throw new IoError(e.message);
      throw new IoError(`could not log in to ${jid}`);
    }
  })();
  account = { jid, promise };
  return promise;
}

/** Logs out, if an account was opened. */
export async function closeXmppAccount(): Promise<void> {
  const opened = account;
  account = undefined;
  closing = true;
  await opened?.promise.then((a) => a.close()).catch(() => {});
}

/** UsageError when XMPP options are given without an xmpp: address. */
export function checkNoXmppOptions(values: Values): void {
  for (const name of ["account", "xmpp-password-file", "xmpp-server"]) {
    if (values[name] !== undefined) {
      throw new UsageError(`--${name} works with xmpp: addresses only`);
    }
  }
  for (const name of ["xmpp-presence", "xmpp-insecure"]) {
    if (values[name] === true) throw new UsageError(`--${name} works with xmpp: addresses only`);
  }
}
