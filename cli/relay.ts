// Internal: `polycrypt relay`, a blind store-and-forward relay (docs/relay.md) on one or more
// addresses, over SQLite (default, in the user's data directory) or PostgreSQL.
import { join } from "node:path";
import { parse } from "./_args.ts";
import { IoError, UsageError } from "./_errors.ts";
import { say } from "./_io.ts";

/** `$XDG_DATA_HOME/polycrypt`, `~/.local/share/polycrypt`, or `%APPDATA%\polycrypt`. */
export function dataDir(): string {
  const xdg = Deno.env.get("XDG_DATA_HOME");
  if (xdg && xdg.startsWith("/")) return join(xdg, "polycrypt");
  if (Deno.build.os === "windows" && Deno.env.get("APPDATA")) {
    return join(Deno.env.get("APPDATA")!, "polycrypt");
  }
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (!home) throw new UsageError("set HOME or XDG_DATA_HOME, or give --store sqlite:PATH");
  return join(home, ".local", "share", "polycrypt");
}

/** The store a `--store` value names. */
async function openStore(spec: string | undefined) {
  if (spec === undefined || spec.startsWith("sqlite:")) {
    const { SqliteStore } = await import("../relay/sqlite.ts");
    let path = spec?.slice("sqlite:".length);
    if (path === "") throw new UsageError("--store sqlite: needs a path (sqlite:PATH)");
    if (path === undefined) {
      const dir = dataDir();
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      path = join(dir, "relay.db");
    }
    try {
      const store = new SqliteStore(path);
      await Deno.chmod(path, 0o600).catch(() => {});
      return { store, name: `sqlite:${path}` };
    } catch (e) {
      throw new IoError(`cannot open the relay database ${path}: ${(e as Error).message}`);
    }
  }
  if (spec.startsWith("postgres://") || spec.startsWith("postgresql://")) {
    const { PostgresStore } = await import("../relay/postgres.ts");
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      throw new UsageError("--store postgres:// must be postgres://USER@HOST:PORT/DB");
    }
    if (url.password) {
      throw new UsageError("give the database password in PGPASSWORD, not in the URL (argv)");
    }
    const shown = `postgres://${url.username}@${url.host}${url.pathname}`;
    try {
      return { store: await PostgresStore.open(spec), name: shown };
    } catch (e) {
      throw new IoError(`cannot open the relay database ${shown}: ${(e as Error).message}`);
    }
  }
  throw new UsageError("--store must be sqlite:PATH or postgres://USER@HOST:PORT/DB");
}

/**
 * `polycrypt relay --on URL... [--store STORE] [--web]`: serves until SIGINT or SIGTERM; with
 * `--web`, the web chat page too, on each ws:// address (docs/web.md).
 */
export async function relayCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse("relay", args);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const on = (values.on as string[] | undefined) ?? [];
  if (on.length === 0) throw new UsageError("give at least one --on ADDRESS");
  const { schemeOf } = await import("../transports/dial.ts");
  for (const url of on) {
    if (!schemeOf(url).stream) throw new UsageError(`the relay needs a stream address: ${url}`);
  }
  let tls: { cert: string; key: string } | undefined;
  const certFile = values["tls-cert"] as string | undefined;
  const keyFile = values["tls-key"] as string | undefined;
  if (on.some((u) => u.startsWith("tls://"))) {
    if (!certFile || !keyFile) throw new UsageError("tls:// needs --tls-cert and --tls-key");
    tls = { cert: await Deno.readTextFile(certFile), key: await Deno.readTextFile(keyFile) };
  } else if (certFile || keyFile) {
    throw new UsageError("--tls-cert and --tls-key go with a tls:// address");
  }
  const web = values.web === true;
  if (web && !on.some((u) => u.startsWith("ws://"))) {
    throw new UsageError("--web serves the page on a ws:// address: give one with --on");
  }
  const { webHandler } = await import("./_web.ts");
  const { parseWsAddress } = await import("../transports/websocket.ts");
  // The page is read before the store is opened: a missing build fails with nothing to undo.
  const pages = new Map<string, (request: Request) => Response>();
  if (web) {
    for (const url of on.filter((u) => u.startsWith("ws://"))) {
      pages.set(url, await webHandler(parseWsAddress(url).path));
    }
  }
  const { RelayServer } = await import("../relay/server.ts");
  const { store, name } = await openStore(values.store as string | undefined);
  // Store failures are told without ids, keys or addresses (the error's message only).
  const server = new RelayServer({
    store,
    onError: (e) => say(`relay: store error: ${(e as Error)?.message ?? e}`),
  });
  try {
    for (const url of on) {
      const page = pages.get(url);
      const address = await server.listen(
        url,
        url.startsWith("tls://") ? tls : undefined,
        page ? { onHttpRequest: page } : {},
      );
      say(`relay: listening on ${address}`);
      if (page) say(`relay: web chat on ${new URL(address.replace(/^ws:/, "http:")).origin}/`);
    }
  } catch (e) {
    await server.close();
    throw new IoError(`cannot listen: ${(e as Error).message}`);
  }
  say(`relay: store ${name}`);
  const { promise: stopped, resolve: stop } = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await stopped;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  await server.close();
  say("relay: stopped");
}
