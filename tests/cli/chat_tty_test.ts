// `chat` as a person uses it: two real CLI processes, each on its own terminal (tmux panes, driven
// with send-keys and read with capture-pane). Typed lines reach the peer, deliveries are noted, a
// file goes into -o DIR, and Ctrl-D and Ctrl-C typed as keys end each side with exit code 0.
// tmux comes from Debian (scripts/apt_need.sh installs it when missing, as in CI).
import assert from "node:assert/strict";
import { runCommand } from "../_process.ts";
import { freePort } from "../transports/_socks.ts";
import { chatFlags, MAIN, NET_PERMS } from "./_cli.ts";
import { fingerprint } from "../../mod.ts";

const NEED = new URL("../../scripts/apt_need.sh", import.meta.url).pathname;
const SOCKET = `polycrypt-test-${Deno.pid}`;

/** Runs `command args`; its stdout, or an Error with its stderr when it fails. */
async function sh(command: string, args: string[]) {
  const out = await runCommand(command, args);
  if (!out.success) throw new Error(`${command} ${args.join(" ")}: ${out.stderr}`);
  return out.stdout;
}

/** `pattern` with its `^peer: ` replaced by chat's label for `recipient`: time, fingerprint prefix. */
const from = (recipient: string, pattern: RegExp) =>
  new RegExp(
    pattern.source.replace(
      "^peer: ",
      `^\\[\\d\\d:\\d\\d:\\d\\d\\] ${fingerprint(recipient).slice(0, 9)}: `,
    ),
    pattern.flags,
  );

const tmux = (...args: string[]) => sh("tmux", ["-L", SOCKET, "-f", "/dev/null", ...args]);

/** A shell-quoted command line. */
const quote = (args: string[]) => args.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");

/** Waits until `pattern` shows in the pane's scrollback; returns the screen. */
async function waitFor(pane: string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const screen = await tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", pane);
    if (pattern.test(screen)) return screen;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${pattern} in ${pane}:\n${screen}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits for the exit code that the pane's wrapper wrote to `file` (tmux's own #{pane_dead_status}
 * is sometimes still empty when the pane is reported dead).
 */
async function exitCode(file: string, pane: string): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = await Deno.readTextFile(file).catch(() => "");
    if (/^\d+\n/.test(text)) return Number(text);
    if (Date.now() > deadline) {
      const screen = await tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", pane);
      throw new Error(`${pane} did not exit:\n${screen}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("chat on real terminals (tmux): talk, deliver, send a file, Ctrl-D and Ctrl-C", async () => {
  await sh("bash", [NEED, "tmux", "tmux"]);
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-chat-tty-" });
  const cli = (args: string[]) => sh(Deno.execPath(), ["run", ...NET_PERMS, MAIN, ...args]);
  try {
    await cli(["keygen", "--engine", "x25519", "-o", `${dir}/alice.key`]);
    await cli(["keygen", "-o", `${dir}/bob.key`]);
    const alice = (await cli(["recipient", "-i", `${dir}/alice.key`])).trim();
    const bob = (await cli(["recipient", "-i", `${dir}/bob.key`])).trim();
    await Deno.mkdir(`${dir}/inbox`);
    await Deno.writeTextFile(`${dir}/plans.txt`, "the plans\n");
    const [a, b] = [freePort(), freePort()];
    // bash runs each chat and records its exit code; on Ctrl-C it waits for the chat to finish
    // (the whole foreground group gets SIGINT) and goes on only if the chat exited by itself.
    const chat = (me: string, mine: number, theirs: number, peer: string, extra: string[] = []) =>
      `bash -c ${
        quote([`${
          quote([
            "env",
            `XDG_CONFIG_HOME=${dir}`, // the session stores go there, not into $HOME
            Deno.execPath(),
            "run",
            ...NET_PERMS,
            MAIN,
            "chat",
            ...chatFlags(mine, theirs, `${dir}/${me}.key`, peer, extra),
          ])
        }; echo $? > ${quote([`${dir}/${me}.status`])}`])
      }`;
    // A pane stays visible after its process exits, so its screen can still be read.
    await tmux("new-session", "-d", "-s", "setup", "-x", "200", "-y", "50", "sleep 600");
    await tmux("set-option", "-g", "remain-on-exit", "on");
    await tmux(
      "new-session",
      "-d",
      "-s",
      "alice",
      "-x",
      "200",
      "-y",
      "50",
      chat("alice", a, b, bob, ["-o", `${dir}/inbox`]),
    );
    await tmux("new-session", "-d", "-s", "bob", "-x", "200", "-y", "50", chat("bob", b, a, alice));
    await waitFor("alice", /chatting on/);
    await waitFor("bob", /chatting on/);

    await tmux("send-keys", "-t", "alice", "-l", "hello Bob, typed on a terminal");
    await tmux("send-keys", "-t", "alice", "Enter");
    await waitFor("bob", from(alice, /^peer: hello Bob, typed on a terminal$/m));
    await waitFor("alice", /\(#1 delivered\)/);

    // A hostile text sent straight to Bob's address (issue 20 section 4): a window title, a screen
    // clear and a forged delivery line show as escapes and labelled lines. Bob's chat shows only
    // what Alice signed, so the hostile text comes from Alice's key (a compromised or careless
    // peer): it is escaped all the same.
    const hostile = "\x1b]0;pwned\x07\x1b[2Jhi\n  (#1 delivered)\npolycrypt: delivered";
    const sent = await cli([
      ...["send", "-i", `${dir}/alice.key`, "--to", `tcp://127.0.0.1:${b}`, "-r", bob, hostile],
    ]);
    assert.match(sent, /^$/); // the CLI's stdout stays empty; a failure throws above
    const hostileScreen = await waitFor("bob", from(alice, /^peer: polycrypt: delivered$/m));
    assert.match(hostileScreen, from(alice, /^peer: \\x1b\]0;pwned\\x07\\x1b\[2Jhi$/m));
    assert.match(hostileScreen, from(alice, /^peer: {3}\(#1 delivered\)$/m));
    assert.doesNotMatch(hostileScreen, /^ *\(#1 delivered\)$/m);
    assert.match(hostileScreen, /chatting on/); // the screen was not cleared
    assert.notEqual(await tmux("display-message", "-p", "-t", "bob", "#{pane_title}"), "pwned\n");

    await tmux("send-keys", "-t", "bob", "-l", `/file ${dir}/plans.txt`);
    await tmux("send-keys", "-t", "bob", "Enter");
    await waitFor("bob", /^ {2}\(#1 delivered\)$/m); // polycrypt's own line, not the forged one
    assert.equal(await Deno.readTextFile(`${dir}/inbox/plans.txt`), "the plans\n");

    await tmux("send-keys", "-t", "alice", "C-d");
    assert.equal(await exitCode(`${dir}/alice.status`, "alice"), 0);
    await tmux("send-keys", "-t", "bob", "C-c");
    assert.equal(await exitCode(`${dir}/bob.status`, "bob"), 0);
    const screens = await waitFor("alice", /./) + await waitFor("bob", /./);
    assert.doesNotMatch(screens, /polycrypt[12]:|POLYCRYPT-SECRET|error:|at file:/);
  } finally {
    await tmux("kill-server").catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
