// A real Prosody XMPP server for the XMPP transport's tests and benchmark (docs/transports.md,
// "XMPP"). Installs Debian's `prosody` when it is missing (scripts/apt_need.sh), then runs it as
// the `prosody` user with its own config, data directory and self-signed certificate in a temporary
// directory owned by that user, listening on 127.0.0.1 and a free port. Accounts are made with
// `prosodyctl --config ... register`.
//
// As a program: `deno run --allow-all scripts/prosody.ts [USER:PASSWORD ...]` starts one, makes the
// accounts, prints its port and directory, and runs until Ctrl-C.

/** A running Prosody and what tests need of it. */
export interface Prosody {
  /** The XMPP domain of its one virtual host (`localhost`). */
  readonly domain: string;
  /** The c2s port on 127.0.0.1 (STARTTLS offered, not required: tests try both). */
  readonly port: number;
  /** `127.0.0.1:PORT`, as `--xmpp-server` takes it. */
  readonly server: string;
  /** The direct TLS c2s port (XEP-0368), as `xmpps://127.0.0.1:PORT`. */
  readonly directTls: string;
  /** The temporary directory (config, certificate, data, log). */
  readonly dir: string;
  /** Where Prosody keeps accounts and offline messages. */
  readonly dataDir: string;
  /** The self-signed certificate (PEM) of `localhost`, for `DENO_CERT`. */
  readonly certFile: string;
  /** Makes an account `user@localhost` with this password. */
  register(user: string, password: string): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

const here = new URL(".", import.meta.url).pathname;

async function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${text.trim()}`);
  return text;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Whether 127.0.0.1:port accepts a connection now. */
async function accepts(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs Prosody when missing and starts one (see the file's comment). `stanzaLimit` sets
 * `c2s_stanza_size_limit` (Prosody's default: 256 KiB); `lifetimeSeconds` bounds how long the
 * server may outlive a caller that died without `stop()` (default 1800; 0: no bound).
 */
export async function startProsody(
  options: { stanzaLimit?: number; lifetimeSeconds?: number } = {},
): Promise<Prosody> {
  await run("bash", [`${here}apt_need.sh`, "prosodyctl", "prosody"]);
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-prosody-" });
  const dataDir = `${dir}/data`;
  await Deno.mkdir(dataDir);
  const domain = "localhost";
  const certFile = `${dir}/localhost.crt`;
  const keyFile = `${dir}/localhost.key`;
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost",
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  const port = freePort();
  const tlsPort = freePort();
  const config = `${dir}/prosody.cfg.lua`;
  // No mod_limits (Debian's default config limits c2s to 10 kb/s: a 10 MiB file would take 17
  // minutes), no s2s, no HTTP; offline storage (XEP-0160) on, carbons on (polycrypt opts out per
  // message), internal storage in plain files under data_path (so the tests can grep it).
  await Deno.writeTextFile(
    config,
    `-- written by polycrypt scripts/prosody.ts
pidfile = "${dir}/prosody.pid"
data_path = "${dataDir}"
interfaces = { "127.0.0.1" }
c2s_ports = { ${port} }
c2s_direct_tls_ports = { ${tlsPort} }
c2s_direct_tls_ssl = { key = "${keyFile}"; certificate = "${certFile}" }
s2s_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"
c2s_stanza_size_limit = ${options.stanzaLimit ?? 256 * 1024}
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "offline"; "carbons" }
modules_disabled = { "s2s"; "limits" }
log = { { levels = { min = "info" }, to = "file", filename = "${dir}/prosody.log" } }
VirtualHost "${domain}"
  ssl = { key = "${keyFile}"; certificate = "${certFile}" }
`,
  );
  await run("chown", ["-R", "prosody:prosody", dir]);
  await run("chmod", ["0700", dir]);
  const child = new Deno.Command("runuser", {
    // A test that dies without stop() must not leave a server behind: it lives at most
    // `lifetimeSeconds` (default 30 minutes; 0: until stopped).
    args: [
      "-u",
      "prosody",
      "--",
      ...(options.lifetimeSeconds ?? 1800) > 0
        ? ["timeout", "--kill-after=5", String(options.lifetimeSeconds ?? 1800)]
        : [],
      "prosody",
      "--config",
      config,
      "-F",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const errors = new Response(child.stderr).text();
  const deadline = Date.now() + 60_000;
  while (!(await accepts(port))) {
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill("SIGKILL");
      const log = await Deno.readTextFile(`${dir}/prosody.log`).catch(() => "");
      throw new Error(`prosody did not start: ${await errors}\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  let stopped = false;
  return {
    domain,
    port,
    server: `127.0.0.1:${port}`,
    directTls: `xmpps://127.0.0.1:${tlsPort}`,
    dir,
    dataDir,
    certFile,
    async register(user, password) {
      await run("runuser", [
        "-u",
        "prosody",
        "--",
        "prosodyctl",
        "--config",
        config,
        "register",
        user,
        domain,
        password,
      ]);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (!exited) child.kill("SIGTERM");
      const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 10_000);
      await status;
      clearTimeout(timer);
      await errors.catch(() => "");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

if (import.meta.main) {
  const started = performance.now();
  const server = await startProsody({ lifetimeSeconds: 0 });
  for (const account of Deno.args) {
    const [user, password] = account.split(":");
    await server.register(user, password);
  }
  console.log(
    `prosody on ${server.server} (domain ${server.domain}), ${server.dir}, ready in ${
      Math.round(performance.now() - started)
    } ms; Ctrl-C stops it`,
  );
  const stop = () => server.stop().finally(() => Deno.exit(0));
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
