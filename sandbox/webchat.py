"""GET /_sandbox/chat: a one-page browser chat that plays a user against the bot, no Telegram.

Plain HTML, CSS and JavaScript in this module (no CDN, no build step), so it ships with the
package. The page only calls the /_sandbox/ control endpoints, and builds every message with
textContent, so bot text is never parsed as HTML; the CSP header pins the inline script.
"""

from __future__ import annotations

import base64
import hashlib

_STYLE = """
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0 auto; max-width: 520px; height: 100vh; height: 100dvh; display: flex;
  flex-direction: column; font: 15px/1.4 system-ui, sans-serif; background: #dfe7ee; }
header, form { display: flex; gap: 6px; padding: 8px; background: #fff; align-items: center; }
/* The bot's name stays whole (it wraps if it must); "Playing: ..." gives way first. */
header { flex-wrap: wrap; }
header strong { flex: 0 1 auto; overflow-wrap: anywhere; }
#playing { flex: 1 1 0; min-width: 4em; color: #555; font-size: 13px; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; }
#who { flex: 0 1 auto; max-width: 100%; }
#fonts { margin: 0; padding: 6px 10px; background: #fff6d6; border-bottom: 1px solid #e3c766;
  font-size: 13px; }
#fonts code { font-size: 12px; }
#newuser { flex-wrap: wrap; border-top: 1px solid #ddd; }
#newuser input { flex: 1 1 120px; }
#newuser label { flex: 1 1 100%; color: #555; font-size: 13px; }
input, select, button, textarea, .btn { font: inherit; padding: 6px 9px; border: 1px solid #bbb;
  border-radius: 8px; background: #fff; min-width: 0; }
button, .btn { cursor: pointer; background: #f2f6fa; }
button:disabled { opacity: .5; cursor: default; }
#log { flex: 1; overflow-y: auto; padding: 10px; display: flex; flex-direction: column;
  gap: 8px; }
.msg { max-width: 85%; padding: 7px 10px; border-radius: 12px; background: #fff;
  align-self: flex-start; box-shadow: 0 1px 1px #0002; }
.msg.keys { min-width: min(85%, 340px); }
.msg.me { align-self: flex-end; background: #dcf5c5; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.msg img { display: block; max-width: 100%; height: auto; max-height: 260px;
  object-fit: contain; border-radius: 8px; }
.meta, .hint { color: #777; font-size: 12px; }
.hint { text-align: center; margin: auto; }
.row { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 4px; }
/* A button keeps its words whole: a row too narrow for them wraps between buttons. */
.row > * { flex: 1 1 0; min-width: max-content; text-align: center; text-decoration: none;
  color: #1a5fa0; white-space: nowrap; }
#kb { padding: 6px 8px; background: #eef2f5; border-top: 1px solid #ccc; }
#composer { border-top: 1px solid #ddd; }
#text { flex: 1; resize: none; field-sizing: content; max-height: 7em; }
/* A press's answer is a bar above the chat, in the page's flow: it covers nothing (the
   chat below keeps its newest messages where they were); a click dismisses it. */
#toast { margin: 0; max-height: 30vh; overflow: auto; padding: 7px 12px; background: #3a4450;
  color: #fff; white-space: pre-wrap; cursor: pointer; font-size: 14px; }
#toast.alert { background: #fff; color: #000; border: 2px solid #1a5fa0; }
"""

_BODY = """
<header>
  <strong id="bot">Bot</strong>
  <span id="playing">Playing: nobody</span>
  <select id="who" aria-label="Play as"></select>
</header>
<p id="fonts" role="status" hidden></p>
<form id="newuser" hidden>
  <label for="nid">User id: a number that identifies this test user, like a Telegram user
    id. A free one is filled in.</label>
  <input id="nid" type="number" min="1" placeholder="User id, e.g. 1003" required>
  <input id="nname" placeholder="First name" required>
  <select id="nlang" aria-label="Language"></select>
  <button>Create</button>
</form>
<div id="toast" role="alert" hidden></div>
<main id="log" aria-live="polite"><p class="hint">Choose a user above, or create one.</p></main>
<div id="kb" hidden></div>
<form id="composer">
  <button type="button" id="start">/start</button>
  <label class="btn" title="Send a photo (the text box becomes its caption)">📷<input
    id="photo" type="file" accept="image/png,image/jpeg,image/gif" hidden></label>
  <textarea id="text" rows="1" placeholder="Message" aria-label="Message"></textarea>
  <button id="send">Send</button>
</form>
"""

_SCRIPT = """
"use strict";
const $ = (id) => document.getElementById(id);
const LANGS = ["en", "zh-hans", "zh-hant"];
const S = { me: 0, users: [], seen: "", hiddenKb: 0, busy: false, timer: 0, stick: true };

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
const option = (text, value) => Object.assign(el("option", "", text), { value });
async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const res = await fetch("/_sandbox/" + path, init);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || res.status + " " + res.statusText);
  return data;
}
// Show or hide the answer bar; the chat scrolls by its height, so what is at the bottom
// (the buttons to press next) stays where it was on screen.
function bar(change) {
  const box = $("toast"), log = $("log");
  const before = box.hidden ? 0 : box.offsetHeight;
  change(box);
  log.scrollTop += (box.hidden ? 0 : box.offsetHeight) - before;
}
const hideToast = () => bar((box) => { box.hidden = true; });
function toast(text, alert) {
  bar((box) => {
    box.textContent = text;
    box.className = alert ? "alert" : "";
    box.hidden = false;
  });
  clearTimeout(S.timer);
  S.timer = setTimeout(hideToast, alert ? 8000 : 1500);
}
// A toast never repeats what a message in the chat already says.
function dropRepeatedToast(items) {
  const box = $("toast");
  const said = box.hidden ? "" : box.textContent.trim();
  if (said && items.some((i) => ((i.message.text ?? i.message.caption) || "").includes(said))) {
    hideToast();
  }
}
$("toast").addEventListener("click", hideToast);

async function loadUsers() {
  S.users = await api("users");
  const who = $("who");
  who.replaceChildren(option("Choose a user…", ""));
  for (const u of S.users) {
    who.append(option(`${u.first_name} (${u.id}, ${u.language_code || "?"})`, String(u.id)));
  }
  who.append(option("➕ New user…", "new"));
  who.value = S.me ? String(S.me) : "";
}
// The next id nobody in the stand-in has: one more than the highest known.
const freeId = () => S.users.reduce((top, u) => Math.max(top, u.id), 1000) + 1;
function newUserForm() {
  $("newuser").hidden = false;
  $("nid").value = String(freeId());
  $("nname").focus();
}
function choose(id) {
  S.me = id; S.seen = ""; S.hiddenKb = 0; S.stick = true;
  $("who").value = String(id);
  const user = S.users.find((u) => u.id === id);
  const name = user ? user.first_name : String(id);
  $("playing").textContent = `Playing: ${name}`;
  $("text").placeholder = `Message as ${name}`;
  $("newuser").hidden = true;
  history.replaceState(null, "", "?user=" + id);
  $("log").replaceChildren();
  refresh();
}

async function refresh() {
  const me = S.me;
  if (!me || S.busy) return;
  S.busy = true;
  try {
    const res = await fetch(`/_sandbox/chats/${me}/messages?all=1`);
    const text = await res.text();
    if (res.ok && me === S.me && text !== S.seen) { S.seen = text; render(JSON.parse(text)); }
  } catch (e) { /* the stand-in stopped: keep the last view */ }
  finally { S.busy = false; }
}
// Follow the conversation while the reader is at the bottom; a reader who scrolled up to
// read stays where they are. Photos load after they are laid out, so each one scrolls again
// when it arrives (and has its size reserved, so the page does not jump).
const atBottom = (log) => log.scrollHeight - log.scrollTop - log.clientHeight < 60;
const follow = () => { if (S.stick) { const log = $("log"); log.scrollTop = log.scrollHeight; } };
$("log").addEventListener("scroll", () => { S.stick = atBottom($("log")); });
function render(items) {
  const log = $("log");
  log.replaceChildren(...items.filter((i) => !i.deleted).map(bubble));
  if (!log.childElementCount) log.append(el("p", "hint", "No messages yet: tap /start."));
  keyboard(items);
  dropRepeatedToast(items);
  follow();
}
const fileUrl = (id) => "/_sandbox/files/" + encodeURIComponent(id);
const OTHER = { sticker: "🏷 sticker", voice: "🎤 voice", video: "🎬 video", location: "📍" };
function bubble(item) {
  const m = item.message;
  const box = el("div", m.from && m.from.is_bot ? "msg bot" : "msg me");
  if (m.photo && m.photo.length) {
    const size = m.photo[m.photo.length - 1];
    const img = el("img");
    img.alt = "photo";
    if (size.width && size.height) { img.width = size.width; img.height = size.height; }
    img.addEventListener("load", follow);
    img.src = fileUrl(size.file_id);
    box.append(img);
  }
  if (m.document) {
    const a = el("a", "", "📄 " + (m.document.file_name || "document"));
    a.href = fileUrl(m.document.file_id);
    box.append(a);
  }
  if (m.contact) box.append(el("div", "", "📞 " + m.contact.phone_number));
  for (const key in OTHER) if (m[key]) box.append(el("div", "", OTHER[key]));
  const body = m.text ?? m.caption;
  if (body) box.append(el("div", "text", body));
  const rows = (item.reply_markup || {}).inline_keyboard || [];
  if (rows.length) box.classList.add("keys");
  for (const row of rows) {
    const line = el("div", "row");
    for (const b of row) line.append(inlineButton(m.message_id, b));
    box.append(line);
  }
  if (m.edit_date) box.append(el("div", "meta", "edited"));
  return box;
}
function inlineButton(messageId, b) {
  if (typeof b.url === "string" && /^https?:/i.test(b.url)) {
    const a = el("a", "btn", b.text + " ↗");
    a.href = b.url; a.target = "_blank"; a.rel = "noopener noreferrer";
    return a;
  }
  const btn = el("button", "", b.text);
  btn.type = "button";
  btn.disabled = typeof b.callback_data !== "string";
  btn.addEventListener("click", () => press(btn, messageId, b.callback_data));
  return btn;
}
async function press(btn, messageId, data) {
  btn.disabled = true;
  try {
    const res = await api(`users/${S.me}/press`, { message_id: messageId, data });
    if (res.answer && res.answer.text) toast(res.answer.text, res.answer.show_alert);
  } catch (e) { toast(e.message, true); }
  btn.disabled = false;
  refresh();
}
function keyboard(items) {
  let kb = null, from = 0;
  for (const i of items) {
    if (!(i.message.from && i.message.from.is_bot)) continue;
    const markup = i.reply_markup || {};
    if (markup.remove_keyboard) kb = null;
    else if (markup.keyboard) { kb = markup; from = i.message.message_id; }
  }
  if (kb && kb.one_time_keyboard && S.hiddenKb === from) kb = null;
  const pad = $("kb");
  pad.replaceChildren();
  pad.hidden = !kb;
  for (const row of kb ? kb.keyboard : []) {
    const line = el("div", "row");
    for (const b of row) {
      const label = typeof b === "string" ? b : b.text;
      const contact = typeof b === "object" && b.request_contact === true;
      const btn = el("button", "", label);  // the label carries its own icon
      btn.type = "button";
      btn.addEventListener("click", () => {
        if (kb.one_time_keyboard) S.hiddenKb = from;
        send(contact ? { contact: true } : { text: label });
      });
      line.append(btn);
    }
    pad.append(line);
  }
}

async function send(body) {
  if (!S.me) { toast("Choose a user first.", true); return; }
  S.stick = true;  // what you send, and the answer to it, should be in view
  try { await api(`users/${S.me}/send`, body); } catch (e) { toast(e.message, true); }
  refresh();
}
$("composer").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("text").value;
  if (!text.trim()) return;
  $("text").value = "";
  send({ text });
});
$("text").addEventListener("keydown", (ev) => {  // Enter sends, Shift+Enter breaks the line
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $("composer").requestSubmit();
  }
});
$("start").addEventListener("click", () => send({ text: "/start" }));
$("photo").addEventListener("change", () => {
  const file = $("photo").files[0];
  $("photo").value = "";
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => {
    const caption = $("text").value.trim();
    $("text").value = "";
    send({ photo_base64: String(reader.result).split(",")[1], caption: caption || undefined });
  };
  reader.readAsDataURL(file);
});
$("who").addEventListener("change", () => {
  const value = $("who").value;
  if (value === "new") newUserForm();
  else if (value) choose(Number(value));
});
$("newuser").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const id = Number($("nid").value);
  const known = S.users.find((u) => u.id === id);
  try {
    if (known) toast(`${known.first_name} (${id}) exists; language ${known.language_code}.`);
    else await api("users", { id, first_name: $("nname").value.trim() || "User",
      language_code: $("nlang").value });
    await loadUsers();
    choose(id);
  } catch (e) { toast(e.message, true); }
});

// Whether the browser draws `ch` with a real glyph: one no font has (a private-use and an
// unassigned code point) draws as the same box, or as nothing.
function drawable(ch) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 48;
  const pen = canvas.getContext("2d", { willReadFrequently: true });
  if (!pen) return true;
  const ink = (text) => {
    pen.clearRect(0, 0, 48, 48);
    pen.font = "32px " + getComputedStyle(document.body).fontFamily;
    pen.textBaseline = "top";
    pen.fillStyle = "#000";
    pen.fillText(text, 4, 4);
    return pen.getImageData(0, 0, 48, 48).data.join(",");
  };
  const drawn = ink(ch);
  return drawn !== ink("") && drawn !== ink("\\uE83A") && drawn !== ink("\\u0378");
}
const FONT_PACKAGES = { cjk: "fonts-noto-cjk", emoji: "fonts-noto-color-emoji" };
function checkFonts() {
  const missing = [];
  const cjk = drawable("\\u4E2D") && drawable("\\u6821");  // 中 校
  if (!cjk) missing.push(FONT_PACKAGES.cjk);
  if (!drawable("\\u{1F6B0}")) missing.push(FONT_PACKAGES.emoji);  // 🚰
  const box = $("fonts");
  box.hidden = !missing.length;
  if (!missing.length) return missing;
  const what = cjk ? "Icons" : missing.length > 1 ? "Chinese names and icons" : "Chinese names";
  box.replaceChildren(`${what} show as boxes: this computer lacks the fonts. Install `,
    el("code", "", missing.join(" ")), " (Debian/Ubuntu: apt-get install), then reload.");
  // In Chinese too, when Chinese can be drawn at all.
  if (cjk) box.append(` 图标显示为方框：请安装 ${missing.join(" ")} 字体后刷新。`);
  return missing;
}

async function init() {
  checkFonts();
  for (const code of LANGS) $("nlang").append(option(code, code));
  api("info").then((info) => { $("bot").textContent = info.bot.first_name; }, () => {});
  await loadUsers();
  const wanted = Number(new URLSearchParams(location.search).get("user"));
  if (S.users.some((u) => u.id === wanted)) choose(wanted);
  else if (!S.users.length) newUserForm();
  setInterval(refresh, 800);
}
init().catch((e) => toast(e.message, true));
"""


def _hash(source: str) -> str:
    """A CSP source expression allowing exactly this inline block."""
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    f"<title>Sandbox chat</title>\n<style>{_STYLE}</style></head>\n"
    f"<body>{_BODY}<script>{_SCRIPT}</script></body></html>\n"
)

CSP = (
    f"default-src 'none'; script-src {_hash(_SCRIPT)}; style-src {_hash(_STYLE)}; "
    "img-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

__all__ = ["CSP", "PAGE"]
