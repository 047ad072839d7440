// The Deno flags the polycrypt command runs with, wherever it is started: the installed launcher
// (scripts/install.ts), the `cli` task of deno.json (which must spell the same flags: checked by
// tests/cli/install_test.ts) and the tests' child CLI processes (tests/cli/_cli.ts), so that the
// tests run the CLI as users run it.
//
// `--no-allocation-site-pretenuring` stops V8 from allocating objects straight into its old
// generation after a burst of allocations from one site. Under a burst of connections that moved
// short-lived frame and read buffers (and the objects that hold them) to the old generation,
// where they stayed until a full collection: a listener under every attack of issue 20 at once
// peaked at 358-431 MiB RSS without it, against the target of 384 MiB. Figures, with and
// without, in docs/transports.md section 2 ("Everything at once").

/** Flags for `deno run` before the script, in this order (no permissions: each caller adds its own). */
export const CLI_DENO_FLAGS: readonly string[] = ["--v8-flags=--no-allocation-site-pretenuring"];
