// The web chat page (docs/web.md): draws a Messenger (web/messenger.ts). No framework; every
// element is made with createElement and filled with textContent (no HTML is ever parsed from
// data), so nothing a contact sends can run in the page, and the relay's Content-Security-Policy
// allows this origin's scripts only.
// @ts-types="./qrcode.d.ts"
import QRCode from "qrcode";
import { type ChatMessage, type Contact, MAX_FILE_BYTES, Messenger } from "./messenger.ts";

type Child = Node | string | undefined | false;

/** `h("div.class", { attrs }, ...children)`: an element, no HTML parsing. */
function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== undefined && c !== false) el.append(c);
  return el;
}

const root = document.getElementById("app")!;
const status = (text: string) => {
  const el = document.getElementById("status");
  if (el) el.textContent = text;
};

/** HH:MM on the 24-hour clock, local time; the date too when it is not today. */
function time(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return d.toDateString() === new Date().toDateString()
    ? hm
    : `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${hm}`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

const STATE_TEXT: Record<ChatMessage["state"], string> = {
  sending: "sending",
  receiving: "receiving",
  queued: "queued on relay",
  delivered: "delivered",
  read: "read",
  failed: "not sent",
};

async function relayUrl(): Promise<string> {
  const config = await (await fetch("config.json", { cache: "no-store" })).json() as {
    path?: string;
  };
  return `ws://${location.host}${config.path ?? "/"}`;
}

// ---- first visit and unlock ----

function setupScreen(db: IDBDatabase): void {
  const name = h("input", { id: "name", autocomplete: "nickname", placeholder: "your name" });
  const pass = h("input", { id: "passphrase", type: "password", autocomplete: "new-password" });
  const again = h("input", { id: "passphrase2", type: "password", autocomplete: "new-password" });
  const go = h("button", { id: "create", type: "submit" }, "Create my identity");
  const form = h(
    "form.card",
    {},
    h("h1", {}, "polycrypt web chat"),
    h(
      "p",
      {},
      "First visit: a new identity is made in this browser and kept in IndexedDB, sealed under " +
        "your passphrase (Argon2id). Nothing leaves the page unencrypted.",
    ),
    h("label", {}, "Name ", name),
    h("label", {}, "Passphrase ", pass),
    h("label", {}, "Again ", again),
    go,
    h("p#status", { id: "status" }),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const p = (pass as HTMLInputElement).value;
    if (p.length < 8) return status("choose a passphrase of 8 characters or more");
    if (p !== (again as HTMLInputElement).value) return status("the passphrases differ");
    (go as HTMLButtonElement).disabled = true;
    status("making your keys and sealing them (Argon2id)...");
    try {
      const m = await Messenger.create(db, {
        name: (name as HTMLInputElement).value,
        passphrase: p,
        relayUrl: await relayUrl(),
      });
      mainScreen(m);
    } catch (err) {
      (go as HTMLButtonElement).disabled = false;
      status(`could not create the identity: ${(err as Error).message}`);
    }
  });
  root.replaceChildren(form);
  (name as HTMLInputElement).focus();
}

function unlockScreen(db: IDBDatabase): void {
  const pass = h("input", { id: "passphrase", type: "password", autocomplete: "current-password" });
  const go = h("button", { id: "unlock", type: "submit" }, "Unlock");
  const form = h(
    "form.card",
    {},
    h("h1", {}, "polycrypt web chat"),
    h("p", {}, "Your identity is sealed in this browser. Type its passphrase."),
    h("label", {}, "Passphrase ", pass),
    go,
    h("p#status", { id: "status" }),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    (go as HTMLButtonElement).disabled = true;
    status("opening (Argon2id)...");
    try {
      mainScreen(await Messenger.unlock(db, (pass as HTMLInputElement).value));
    } catch {
      (go as HTMLButtonElement).disabled = false;
      status("wrong passphrase");
    }
  });
  root.replaceChildren(form);
  (pass as HTMLInputElement).focus();
}

// ---- the chat ----

function mainScreen(m: Messenger): void {
  let current: string | undefined;
  /** One object URL per file, made once (not at every drawing). */
  const urls = new Map<string, string>();
  const qr = h("canvas", { id: "qr" }) as HTMLCanvasElement;
  // Two pixels per module (about 330 px for a web invitation, QR version 36).
  QRCode.toCanvas(qr, m.invitation, { errorCorrectionLevel: "L", margin: 2, scale: 2 })
    .catch(() => qr.replaceWith(h("p.note", {}, "(too long for a QR code: copy the text)")));
  const invitation = h("textarea", { id: "invitation", readonly: "", rows: "4" });
  (invitation as HTMLTextAreaElement).value = m.invitation;
  const copy = h("button", { id: "copy", type: "button" }, "Copy");
  copy.addEventListener("click", () => {
    (invitation as HTMLTextAreaElement).select();
    navigator.clipboard?.writeText(m.invitation).catch(() => {});
  });

  const contactName = h("input", { id: "contact-name", placeholder: "their name" });
  const contactInvite = h("textarea", {
    id: "contact-invitation",
    rows: "3",
    placeholder: "polycrypt-invite1:...",
  });
  const addButton = h("button", { id: "add-contact", type: "submit" }, "Add contact");
  const addStatus = h("p.note", { id: "add-status" });
  const addForm = h(
    "form",
    {},
    h("h2", {}, "Add a contact"),
    contactName,
    contactInvite,
    addButton,
    addStatus,
  );
  addForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    addStatus.textContent = "adding...";
    try {
      const c = await m.addContact(
        (contactName as HTMLInputElement).value,
        (contactInvite as HTMLTextAreaElement).value,
      );
      (contactName as HTMLInputElement).value = "";
      (contactInvite as HTMLTextAreaElement).value = "";
      addStatus.textContent = `added ${c.name}`;
      open(c.fingerprint);
    } catch (err) {
      addStatus.textContent = `could not add: ${(err as Error).message}`;
    }
  });

  const contactList = h("ul", { id: "contacts" });
  const online = h("span", { id: "online" });
  const problem = h("p.note", { id: "problem" });
  const notice = h("p.note", { id: "notice" });
  const side = h(
    "aside",
    {},
    h("h2", {}, m.name, " ", online),
    h("p.mono", { id: "fingerprint", title: "your fingerprint" }, m.fingerprint),
    h("h2", {}, "Your invitation"),
    qr,
    invitation,
    copy,
    addForm,
    h("h2", {}, "Contacts"),
    contactList,
    problem,
    notice,
  );

  const chatHead = h("header", { id: "chat-head" });
  const messages = h("ol", { id: "messages" });
  const text = h("input", { id: "text", placeholder: "message", autocomplete: "off" });
  const send = h("button", { id: "send", type: "submit" }, "Send");
  const fileInput = h("input", { id: "file", type: "file" }) as HTMLInputElement;
  const composer = h("form", { id: "composer" }, text, send, fileInput);
  composer.addEventListener("submit", (e) => {
    e.preventDefault();
    const value = (text as HTMLInputElement).value;
    if (!current || !value.trim()) return;
    (text as HTMLInputElement).value = "";
    m.sendText(current, value);
  });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files?.[0];
    fileInput.value = "";
    if (!current || !file) return;
    if (file.size > MAX_FILE_BYTES) {
      problem.textContent = `${file.name} is over 100 MiB`;
      return;
    }
    m.sendFile(current, file);
  });
  const main = h("main", {}, chatHead, messages, composer);
  root.replaceChildren(h("div.layout", {}, side, main));

  function open(fp: string): void {
    current = fp;
    m.show(fp);
    render();
  }

  function messageItem(msg: ChatMessage): HTMLElement {
    const body: Child[] = [];
    if (msg.text !== undefined) body.push(h("span.text", {}, msg.text));
    if (msg.file) {
      const blob = m.file(msg.id);
      const label = `${msg.file.name} (${bytes(msg.file.size)})`;
      if (blob && msg.state !== "receiving") {
        const a = h("a.file", { download: msg.file.name }, label) as HTMLAnchorElement;
        a.href = urls.get(msg.id) ?? urls.set(msg.id, URL.createObjectURL(blob)).get(msg.id)!;
        body.push(a);
      } else {
        body.push(h("span.file", {}, msg.state === "receiving" ? msg.file.name : label));
      }
      if (msg.progress && (msg.state === "sending" || msg.state === "receiving")) {
        const [done, total] = msg.progress;
        const bar = h("progress", {}) as HTMLProgressElement;
        if (total > 0) {
          bar.max = total;
          bar.value = done;
        }
        const note = total > 0
          ? `${Math.floor((100 * done) / total)}% of ${bytes(total)}`
          : `${bytes(done)} received`;
        body.push(bar, h("span.meta.progress", {}, note));
      }
    }
    const meta = msg.direction === "out"
      ? `${time(msg.sentAt)} · ${STATE_TEXT[msg.state]}`
      : `${time(msg.sentAt)}${msg.state === "receiving" ? " · receiving" : ""}`;
    return h(
      `li.${msg.direction}`,
      { "data-id": msg.id, "data-state": msg.state },
      ...body,
      h("span.meta", {}, meta),
    );
  }

  function render(): void {
    online.textContent = m.online ? "online" : "offline";
    online.className = m.online ? "on" : "off";
    const items = [...m.contacts.values()].map((c: Contact) => {
      const li = h(
        "li",
        { "data-fingerprint": c.fingerprint, class: c.fingerprint === current ? "current" : "" },
        c.name,
      );
      li.addEventListener("click", () => open(c.fingerprint));
      return li;
    });
    contactList.replaceChildren(...items);
    if (!current || !m.contacts.has(current)) {
      chatHead.replaceChildren(h("p", {}, "Add a contact, or pick one, to chat."));
      messages.replaceChildren();
      composer.hidden = true;
      return;
    }
    composer.hidden = false;
    const c = m.contacts.get(current)!;
    chatHead.replaceChildren(
      h("h2", { id: "peer-name" }, c.name),
      h("p.mono", { id: "peer-fingerprint" }, c.fingerprint),
      h("p", {}, "Safety number (compare it with ", c.name, "):"),
      h("p.mono", { id: "safety-number" }, m.safetyNumber(current)),
    );
    const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    messages.replaceChildren(...(m.chats.get(current) ?? []).map(messageItem));
    if (atBottom) messages.scrollTop = messages.scrollHeight;
  }

  let pending = false;
  m.addEventListener("change", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      if (current && document.visibilityState === "visible") m.show(current);
      render();
    });
  });
  m.addEventListener("problem", (e) => {
    problem.textContent = (e as CustomEvent<string>).detail;
  });
  // Securing notes (an inbox secured to a contact): for information, not a problem.
  m.addEventListener("notice", (e) => {
    notice.textContent = (e as CustomEvent<string>).detail;
  });
  document.addEventListener("visibilitychange", () => {
    if (current && document.visibilityState === "visible") m.show(current);
  });
  render();
}

async function start(): Promise<void> {
  const db = await Messenger.database();
  if (await Messenger.exists(db)) unlockScreen(db);
  else setupScreen(db);
  document.documentElement.dataset.ready = "1";
}

start().catch((e) => {
  root.textContent = `This browser cannot run the chat: ${(e as Error).message}`;
});
