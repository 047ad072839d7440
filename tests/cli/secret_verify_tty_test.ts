// chat's `/verify` as a person uses it: two chats on real terminals (tmux panes, driven with
// send-keys and read with capture-pane). The secret is typed at a prompt on the chat's own
// terminal, without echo: it never shows on either screen, and the conversation goes on after.
// tmux comes from Debian (scripts/apt_need.sh installs it when missing, as in CI).
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCommand } from "../_process.ts";
import { freePort } from "../transports/_socks.ts";
import { chatFlags, MAIN, NET_PERMS } from "./_cli.ts";

const NEED = new URL("../../scripts/apt_need.sh", import.meta.url).pathname;
const SOCKET = `polycrypt-verify-${Deno.pid}`;

async function sh(command: string, args: string[], env?: Record<string, string>) {
  const out = await runCommand(command, args, { env });
  if (!out.success) throw new Error(`${command} ${args.join(" ")}: ${out.stderr}`);
  return out.stdout;
}

const tmux = (...args: string[]) => sh("tmux", ["-L", SOCKET, "-f", "/dev/null", ...args]);
const quote = (args: string[]) => args.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");

async function waitFor(pane: string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const screen = await tmux("capture-pane", "-p", "-J", "-S", "-200", "-t", pane);
    if (pattern.test(screen)) return screen;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${pattern} in ${pane}:\n${screen}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("chat /verify on real terminals (tmux): the secret is asked without echo", async () => {
  await sh("bash", [NEED, "tmux", "tmux"]);
  const dir = await Deno.makeTempDir({ prefix: "polycrypt-verify-tty-" });
  try {
    const people = ["alice", "bob"].map((name) => ({
      name,
      key: join(dir, `${name}.key`),
      env: { XDG_CONFIG_HOME: join(dir, `${name}-config`), NO_COLOR: "1" },
    }));
    const cli = (args: string[], env: Record<string, string>) =>
      sh(Deno.execPath(), ["run", ...NET_PERMS, MAIN, ...args], env);
    for (const p of people) await cli(["keygen", "-o", p.key], p.env);
    const recipients = await Promise.all(
      people.map(async (p) => (await cli(["recipient", "-i", p.key], p.env)).trim()),
    );
    const [alice, bob] = people;
    await cli(["contact", "-i", alice.key, "add", "bob", recipients[1]], alice.env);
    await cli(["contact", "-i", bob.key, "add", "alice", recipients[0]], bob.env);
    const [a, b] = [freePort(), freePort()];
    const chat = (p: typeof alice, mine: number, theirs: number, peer: string) =>
      `env ${quote(Object.entries(p.env).map(([k, v]) => `${k}=${v}`))} ${
        quote([
          Deno.execPath(),
          "run",
          ...NET_PERMS,
          MAIN,
          "chat",
          ...chatFlags(mine, theirs, p.key, peer),
        ])
      }`;
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
      chat(alice, a, b, "@bob"),
    );
    await tmux(
      "new-session",
      "-d",
      "-s",
      "bob",
      "-x",
      "200",
      "-y",
      "50",
      chat(bob, b, a, "@alice"),
    );
    await waitFor("alice", /chatting on/);
    await waitFor("bob", /chatting on/);

    const typeLine = async (pane: string, text: string) => {
      await tmux("send-keys", "-t", pane, "-l", text);
      await tmux("send-keys", "-t", pane, "Enter");
    };
    await typeLine("alice", "/verify");
    await waitFor("alice", /Enter the secret you share with your contact: /);
    await typeLine("alice", "marsh harrier 42");
    await waitFor("alice", /waiting for them to type \/verify/);
    await waitFor("bob", /alice asks to check the secret you share: type \/verify/);
    await typeLine("bob", "/verify");
    await waitFor("bob", /Enter the secret you share with your contact: /);
    await typeLine("bob", "marsh harrier 42");
    const screenA = await waitFor("alice", /polycrypt: secrets match: contact marked verified/);
    const screenB = await waitFor("bob", /polycrypt: secrets match: contact marked verified/);
    assert.doesNotMatch(screenA + screenB, /harrier/); // never echoed, never sent as text

    // The terminal is back in line mode: a typed line still reaches the peer.
    await typeLine("alice", "checked");
    await waitFor("bob", /\] alice: checked$/m);
    await tmux("send-keys", "-t", "alice", "C-d");
    await tmux("send-keys", "-t", "bob", "C-d");
    const listed = await cli(["contact", "-i", alice.key, "list", "--json"], alice.env);
    assert.match(JSON.parse(listed)[0].verified, /^\d{4}-/);
  } finally {
    await tmux("kill-server").catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
