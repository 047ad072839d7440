// A throwaway PostgreSQL cluster for the relay's tests and benchmark: installs Debian's
// `postgresql` with apt-get when initdb is missing, runs initdb under a temporary directory (as the
// `postgres` user when we are root: initdb refuses root), starts it on 127.0.0.1 and a free port
// with its socket in that directory, and stops and deletes it afterwards.
//
//   deno run --allow-all tests/relay/_postgres.ts     # prints the URL, stops on Ctrl-C
import { runCommand } from "../_process.ts";

/** A running cluster. */
export interface Postgres {
  /** `postgres://relay@127.0.0.1:PORT/postgres` (trust authentication, local only). */
  readonly url: string;
  readonly port: number;
  /** The cluster's data directory. */
  readonly dataDir: string;
  /** A fresh empty database's URL. */
  database(name: string): Promise<string>;
  /** `pg_dump` of database `name` (plain SQL: every row, bytea as hex). */
  dump(name: string): Promise<Uint8Array>;
  /** Stops the server (immediately) and deletes its directory. */
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The directory of PostgreSQL's server programs, installing the package when none is found. */
async function binDir(): Promise<string> {
  const find = async () => {
    try {
      const versions = [];
      for await (const e of Deno.readDir("/usr/lib/postgresql")) versions.push(e.name);
      versions.sort((a, b) => Number(b) - Number(a));
      for (const v of versions) {
        const dir = `/usr/lib/postgresql/${v}/bin`;
        if ((await Deno.stat(`${dir}/initdb`).catch(() => undefined))?.isFile) return dir;
      }
    } catch { /* not installed */ }
    return undefined;
  };
  const found = await find();
  if (found) return found;
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  let r = await runCommand("apt-get", ["install", "-y", "-qq", "postgresql"], { env });
  if (!r.success) {
    await runCommand("apt-get", ["update", "-qq"], { env });
    r = await runCommand("apt-get", ["install", "-y", "-qq", "postgresql"], { env });
  }
  const installed = await find();
  if (!installed) throw new Error(`could not install postgresql: ${r.stderr.slice(-500)}`);
  return installed;
}

const isRoot = () => Deno.uid() === 0;

/** Runs a PostgreSQL program, as `postgres` when we are root. */
function asPostgres(program: string, args: string[]) {
  return isRoot()
    ? runCommand("runuser", ["-u", "postgres", "--", program, ...args], { deadlineMs: 120_000 })
    : runCommand(program, args, { deadlineMs: 120_000 });
}

/** Starts a throwaway cluster. */
export async function startPostgres(): Promise<Postgres> {
  const bin = await binDir();
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-pg-" });
  const data = `${dir}/data`;
  if (isRoot()) await runCommand("chown", ["postgres:", dir]);
  const init = await asPostgres(`${bin}/initdb`, [
    "-D",
    data,
    "-U",
    "relay",
    "-A",
    "trust",
    "--no-sync",
    "-E",
    "UTF8",
  ]);
  if (!init.success) throw new Error(`initdb failed: ${init.stderr.slice(-500)}`);
  const port = freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
  const start = await asPostgres(`${bin}/pg_ctl`, [
    "-D",
    data,
    "-o",
    options,
    "-l",
    `${dir}/server.log`,
    "-w",
    "-t",
    "60",
    "start",
  ]);
  if (!start.success) {
    const log = await Deno.readTextFile(`${dir}/server.log`).catch(() => "");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`pg_ctl start failed: ${start.stderr.slice(-300)} ${log.slice(-500)}`);
  }
  const url = `postgres://relay@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dataDir: data,
    async database(name: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new RangeError("bad database name");
      const psql = await runCommand(`${bin}/psql`, [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "relay",
        "-d",
        "postgres",
        "-c",
        `CREATE DATABASE ${name}`,
      ]);
      if (!psql.success) throw new Error(`createdb failed: ${psql.stderr}`);
      return `postgres://relay@127.0.0.1:${port}/${name}`;
    },
    async dump(name: string) {
      const r = await runCommand(`${bin}/pg_dump`, [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "relay",
        "-d",
        name,
      ], { deadlineMs: 120_000 });
      if (!r.success) throw new Error(`pg_dump failed: ${r.stderr}`);
      return r.stdoutBytes;
    },
    async stop() {
      await asPostgres(`${bin}/pg_ctl`, ["-D", data, "-m", "immediate", "-w", "stop"]);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

if (import.meta.main) {
  const pg = await startPostgres();
  console.log(pg.url);
  const stop = async () => {
    await pg.stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
