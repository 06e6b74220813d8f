"""The browser chat page at /_sandbox/chat and the control endpoints it relies on."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox.client import SandboxClient
from sandbox.images import tiny_jpeg, tiny_png
from sandbox.server import SandboxServer
from sandbox.testing import RawApi
from sandbox.webchat import PAGE

Json = Any


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, Json]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def _post(session: aiohttp.ClientSession, url: str, body: object) -> tuple[int, Json]:
    async with session.post(url, json=body) as response:
        return response.status, await response.json()


def _script(page: str) -> str:
    match = re.search(r"<script>(.*)</script>", page, re.S)
    assert match is not None
    return match.group(1)


async def test_chat_page_is_self_contained_html(bot_api: SandboxServer, raw_api: RawApi) -> None:
    base = f"{bot_api.url}/_sandbox"
    async with raw_api.session.get(f"{base}/chat") as response:
        assert response.status == 200
        assert response.content_type == "text/html" and response.charset == "utf-8"
        csp = response.headers["Content-Security-Policy"]
        page = await response.text()
    assert page == PAGE
    # No external resources: nothing loads from another origin, and the CSP says so too.
    assert "http://" not in page and "https://" not in page and " src=" not in page
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    # The CSP allows exactly the page's own inline script and style, so a browser runs them.
    for tag in ("script", "style"):
        match = re.search(rf"<{tag}>(.*)</{tag}>", page, re.S)
        assert match is not None
        digest = base64.b64encode(hashlib.sha256(match.group(1).encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in csp
    # Everything the page needs, wired to the real endpoints.
    for element in ('id="who"', 'id="newuser"', 'id="log"', 'id="kb"', 'id="text"'):
        assert element in page
    assert 'id="start"' in page and 'type="file"' in page and 'id="toast"' in page
    script = _script(page)
    for call in (
        'api("users")',
        "/messages?all=1",
        "/press`",
        "/send`",
        "/_sandbox/files/",
        "photo_base64",
        "{ contact: true }",
        "show_alert",
        "one_time_keyboard",
        "edit_date",
    ):
        assert call in script, call
    # Untrusted text never goes through the HTML parser.
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "document.write" not in script


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_chat_script_parses(tmp_path: Path) -> None:
    script = tmp_path / "chat.js"
    script.write_text(_script(PAGE), encoding="utf-8")
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [node, "--check", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


async def test_sandbox_root_leads_to_the_chat(bot_api: SandboxServer, raw_api: RawApi) -> None:
    for path in ("/_sandbox", "/_sandbox/"):
        async with raw_api.session.get(bot_api.url + path, allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == "/_sandbox/chat"
    async with raw_api.session.get(f"{bot_api.url}/_sandbox/") as response:
        assert response.url.path == "/_sandbox/chat" and '<main id="log"' in await response.text()


async def test_users_are_listed_with_language(
    bot_api: SandboxServer, raw_api: RawApi, sandbox: SandboxClient
) -> None:
    base, session = f"{bot_api.url}/_sandbox", raw_api.session
    assert await _get(session, f"{base}/users") == (200, [])
    sandbox.user(1001, "Alice", language_code="en")
    new = {"id": 1003, "first_name": "小明", "language_code": "zh-hant"}
    assert await _post(session, f"{base}/users", new) == (200, {"id": 1003})
    await sandbox.user(1001).block()
    status, users = await _get(session, f"{base}/users")
    assert status == 200
    assert [(u["id"], u["first_name"], u["language_code"], u["blocked"]) for u in users] == [
        (1001, "Alice", "en", True),
        (1003, "小明", "zh-hant", False),
    ]
    # The created user really writes in that language.
    await _post(session, f"{base}/users/1003/send", {"text": "/start"})
    [message] = [u["message"] for u in await raw_api.ok("getUpdates") if "message" in u]
    assert message["from"]["language_code"] == "zh-hant"
    status, body = await _post(session, f"{base}/users", {"id": 0, "first_name": "Nobody"})
    assert status == 400 and "positive" in body["error"]


async def test_all_messages_adds_the_users_side_and_reply_keyboards(
    bot_api: SandboxServer, raw_api: RawApi
) -> None:
    base, session = f"{bot_api.url}/_sandbox", raw_api.session
    await _post(session, f"{base}/users", {"id": 7, "first_name": "Ann"})
    await _post(session, f"{base}/users/7/send", {"text": "/start"})
    keyboard = {
        "keyboard": [[{"text": "Share", "request_contact": True}], [{"text": "Skip"}]],
        "one_time_keyboard": True,
    }
    await raw_api.ok("sendMessage", chat_id=7, text="Line 1\n<b>&</b>", reply_markup=keyboard)
    # Existing callers still get only the bot's messages.
    status, bot_only = await _get(session, f"{base}/chats/7/messages")
    assert status == 200 and [m["message"]["message_id"] for m in bot_only] == [2]
    status, both = await _get(session, f"{base}/chats/7/messages?all=1")
    assert [(m["message"]["message_id"], m["message"]["from"]["is_bot"]) for m in both] == [
        (1, False),
        (2, True),
    ]
    assert both[0]["message"]["text"] == "/start"
    assert both[1]["message"]["text"] == "Line 1\n<b>&</b>"  # sent as is, escaped by the page
    # The Bot API message hides reply keyboards; the sandbox extra shows them.
    assert "reply_markup" not in both[1]["message"]
    assert both[1]["reply_markup"] == keyboard and both[0]["reply_markup"] is None
    status, after = await _get(session, f"{base}/chats/7/messages?all=true&after=1")
    assert [m["message"]["message_id"] for m in after] == [2]
    status, body = await _get(session, f"{base}/chats/7/messages?all=1&after=x")
    assert status == 400 and "error" in body


async def test_long_poll_with_all_returns_the_users_message(
    bot_api: SandboxServer, raw_api: RawApi, sandbox: SandboxClient
) -> None:
    base, session = f"{bot_api.url}/_sandbox", raw_api.session
    alice = sandbox.user(1001, "Alice")
    waiting = asyncio.create_task(_get(session, f"{base}/chats/1001/messages?all=1&timeout=5"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await alice.send("hello")
    status, [message] = await waiting
    assert status == 200 and message["message"]["text"] == "hello"


async def test_share_contact_button(bot_api: SandboxServer, raw_api: RawApi) -> None:
    base, session = f"{bot_api.url}/_sandbox", raw_api.session
    await _post(session, f"{base}/users", {"id": 7, "first_name": "Ann"})
    status, sent = await _post(session, f"{base}/users/7/send", {"contact": True})
    assert status == 200 and sent["summary"].startswith("[contact +1555")
    body = {"contact": True, "phone_number": "+8613800000000"}
    status, sent = await _post(session, f"{base}/users/7/send", body)
    assert sent["message"]["contact"]["phone_number"] == "+8613800000000"
    updates = await raw_api.ok("getUpdates")
    contacts = [u["message"]["contact"] for u in updates]
    assert [(c["user_id"], c["first_name"]) for c in contacts] == [(7, "Ann"), (7, "Ann")]
    status, body = await _post(session, f"{base}/users/99/send", {"contact": True})
    assert status == 400 and "unknown user 99" in body["error"]


async def test_press_returns_the_alert_the_page_shows(
    bot_api: SandboxServer, raw_api: RawApi
) -> None:
    base, session = f"{bot_api.url}/_sandbox", raw_api.session
    await _post(session, f"{base}/users", {"id": 7, "first_name": "Ann"})
    await _post(session, f"{base}/users/7/send", {"text": "/start"})
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    await raw_api.ok("sendMessage", chat_id=7, text="menu", reply_markup=markup)
    [start] = await raw_api.ok("getUpdates")
    pressing = asyncio.create_task(
        _post(session, f"{base}/users/7/press", {"message_id": 2, "data": "go"})
    )
    [update] = await raw_api.ok("getUpdates", offset=start["update_id"] + 1, timeout=5)
    query = update["callback_query"]
    assert query["data"] == "go"
    await raw_api.ok(
        "answerCallbackQuery", callback_query_id=query["id"], text="No!", show_alert=True
    )
    await raw_api.ok("editMessageText", chat_id=7, message_id=2, text="menu\nchanged")
    assert await pressing == (200, {"answer": {"text": "No!", "show_alert": True}})
    # An edit keeps the message in place: same id, new text, edit_date set, no buttons.
    status, [_, edited] = await _get(session, f"{base}/chats/7/messages?all=1")
    assert edited["message"]["message_id"] == 2
    assert edited["message"]["text"] == "menu\nchanged" and edited["message"]["edit_date"]
    assert edited["reply_markup"] is None
    status, body = await _post(session, f"{base}/users/7/press", {"message_id": 2, "data": "go"})
    assert status == 400 and "no callback button" in body["error"]


async def test_file_bytes_by_file_id(bot_api: SandboxServer, raw_api: RawApi) -> None:
    base, session = f"{bot_api.url}/_sandbox", raw_api.session
    await _post(session, f"{base}/users", {"id": 7, "first_name": "Ann"})
    png = tiny_png(3, 2)
    body = {"photo_base64": base64.b64encode(png).decode(), "caption": "leak"}
    status, sent = await _post(session, f"{base}/users/7/send", body)
    assert status == 200 and sent["message"]["caption"] == "leak"
    file_id = sent["message"]["photo"][-1]["file_id"]
    async with session.get(f"{base}/files/{file_id}") as response:
        assert response.status == 200 and response.content_type == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Disposition" not in response.headers
        assert await response.read() == png
    # A photo the bot sends (by upload) is served the same way.
    form = aiohttp.FormData()
    form.add_field("chat_id", "7")
    form.add_field("photo", tiny_jpeg("bot"), filename="p.jpg", content_type="image/jpeg")
    url = f"{bot_api.base_url}{bot_api.token}/sendPhoto"
    async with session.post(url, data=form) as response:
        bot_photo = (await response.json())["result"]["photo"][-1]["file_id"]
    async with session.get(f"{base}/files/{bot_photo}") as response:
        assert response.content_type == "image/jpeg"
        assert await response.read() == tiny_jpeg("bot")
    status, body = await _get(session, f"{base}/files/nope")
    assert (status, body) == (404, {"error": "unknown file_id"})


async def test_other_files_are_downloads_not_pages(
    bot_api: SandboxServer, raw_api: RawApi, sandbox: SandboxClient
) -> None:
    # A document claiming to be HTML must never render on the sandbox's origin.
    sent = await sandbox.user(7, "Ann").send_document(
        b"<script>alert(1)</script>", 'evil "name".html', "text/html"
    )
    assert sent.file_id is not None
    async with raw_api.session.get(f"{bot_api.url}/_sandbox/files/{sent.file_id}") as response:
        assert response.status == 200
        assert response.content_type == "application/octet-stream"
        disposition = response.headers["Content-Disposition"]
        assert disposition == 'attachment; filename="evil__name_.html"'
        assert await response.read() == b"<script>alert(1)</script>"


async def test_bad_photo_is_a_clear_400(bot_api: SandboxServer, raw_api: RawApi) -> None:
    base, session = f"{bot_api.url}/_sandbox", raw_api.session
    await _post(session, f"{base}/users", {"id": 7, "first_name": "Ann"})
    not_image = {"photo_base64": base64.b64encode(b"GIF? no, text").decode()}
    status, body = await _post(session, f"{base}/users/7/send", not_image)
    assert status == 400 and "not a PNG/JPEG/GIF" in body["error"]
    # Not base64, or nothing at all, must not fall back to a placeholder photo.
    for garbage in ("***", "", " \n"):
        status, body = await _post(session, f"{base}/users/7/send", {"photo_base64": garbage})
        assert status == 400 and "base64" in body["error"], garbage
    status, messages = await _get(session, f"{base}/chats/7/messages?all=1")
    assert messages == []


async def test_a_keyboard_taken_off_shows_in_the_chat_and_its_buttons_no_longer_press(
    bot_api: SandboxServer, raw_api: RawApi
) -> None:
    base, session = f"{bot_api.url}/_sandbox", raw_api.session
    await _post(session, f"{base}/users", {"id": 7, "first_name": "Ann"})
    await _post(session, f"{base}/users/7/send", {"text": "/start"})
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    await raw_api.ok("sendMessage", chat_id=7, text="menu", reply_markup=markup)
    [start] = await raw_api.ok("getUpdates")
    pressing = asyncio.create_task(
        _post(session, f"{base}/users/7/press", {"message_id": 2, "data": "go"})
    )
    [update] = await raw_api.ok("getUpdates", offset=start["update_id"] + 1, timeout=5)
    # The press carries the message as shown, buttons included: the bot tells a press of a
    # button it shows from forged data by them.
    query = update["callback_query"]
    assert query["message"]["reply_markup"] == markup
    await raw_api.ok("answerCallbackQuery", callback_query_id=query["id"])
    await raw_api.ok("editMessageReplyMarkup", chat_id=7, message_id=2)
    assert await pressing == (200, {"answer": {"text": None, "show_alert": False}})
    # The chat shows the message without buttons; its history keeps both versions.
    status, [_, edited] = await _get(session, f"{base}/chats/7/messages?all=1")
    assert status == 200 and edited["message"]["text"] == "menu"
    assert edited["reply_markup"] is None and "reply_markup" not in edited["message"]
    assert [h["reply_markup"] for h in edited["history"]] == [markup, None]
    status, body = await _post(session, f"{base}/users/7/press", {"message_id": 2, "data": "go"})
    assert status == 400 and "no callback button" in body["error"]
