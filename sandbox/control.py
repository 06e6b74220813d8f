"""HTTP control endpoints under /_sandbox/ so a demo or another process can play the users."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from sandbox.actions import UsageError, describe
from sandbox.client import SandboxClient
from sandbox.faults import Fault
from sandbox.images import image_type
from sandbox.models import StoredMessage
from sandbox.notify import WaitTimeout
from sandbox.state import SandboxState
from sandbox.views import BotMessage
from sandbox.webchat import CSP, PAGE

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Served(Protocol):
    """What the endpoints read of the server that serves them (sandbox.server)."""

    @property
    def client(self) -> SandboxClient:
        """The user side."""

    @property
    def base_url(self) -> str:
        """The Bot API's URL, for the bot to be built with (known once started)."""

    @property
    def base_file_url(self) -> str:
        """The file downloads' URL, likewise."""


def message_json(state: SandboxState, message: StoredMessage) -> dict[str, object]:
    """A chat message with the sandbox-only facts: edit history, deletion and answers."""
    return {
        "message": state.message_dict(message),
        "summary": describe(message),
        # The markup as sent, reply keyboards included (the Bot API message shows inline only).
        "reply_markup": message.content.reply_markup,
        "deleted": message.deleted,
        "history": [
            {"text": c.text, "caption": c.caption, "reply_markup": c.reply_markup}
            for c in message.history
        ],
        "callback_answers": [
            {"text": a.text, "show_alert": a.show_alert, "url": a.url}
            for a in message.callback_answers
        ],
    }


def add_routes(app: web.Application, server: Served) -> None:
    """Register the control endpoints on the server's application."""
    client = server.client
    state = client.state

    def guarded(route: Route) -> Route:
        """Turn usage mistakes into 400 answers instead of 500s."""

        async def wrapper(request: web.Request) -> web.StreamResponse:
            try:
                return await route(request)
            except (UsageError, KeyError, ValueError, TypeError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            except WaitTimeout as exc:
                return web.json_response({"error": str(exc)}, status=408)

        return wrapper

    async def body(request: web.Request) -> dict[str, object]:
        data = await request.json() if request.can_read_body else {}
        if not isinstance(data, dict):
            raise ValueError("JSON object expected")
        return data

    async def info(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            {
                "token": state.token,
                "base_url": server.base_url,
                "base_file_url": server.base_file_url,
                "bot": state.bot.to_ptb().to_dict(),
            }
        )

    async def add_user(request: web.Request) -> web.StreamResponse:
        data = await body(request)
        user = client.user(
            int(str(data["id"])),
            str(data.get("first_name", "User")),
            last_name=_opt(data.get("last_name")),
            username=_opt(data.get("username")),
            language_code=_opt(data.get("language_code")) or "en",
            phone_number=_opt(data.get("phone_number")),
        )
        return web.json_response({"id": user.id})

    async def list_users(request: web.Request) -> web.StreamResponse:
        return web.json_response(
            [
                {
                    "id": u.id,
                    "first_name": u.first_name,
                    "last_name": u.last_name,
                    "username": u.username,
                    "language_code": u.language_code,
                    "blocked": u.id in state.blocked,
                }
                for u in state.users.values()
            ]
        )

    async def add_group(request: web.Request) -> web.StreamResponse:
        data = await body(request)
        ids = data.get("member_ids") or []
        members = [client.user(int(i)) for i in ids] if isinstance(ids, list) else []
        raw_id = data.get("id")
        group = client.group(
            str(data["title"]),
            members,
            id=int(str(raw_id)) if raw_id is not None else None,
            supergroup=data.get("supergroup") is True,
        )
        return web.json_response({"id": group.id})

    def user_of(request: web.Request) -> tuple[int, int | None]:
        user_id = int(request.match_info["user_id"])
        if user_id not in state.users:
            raise UsageError(f"unknown user {user_id}")
        chat = request.query.get("chat_id")
        return user_id, int(chat) if chat else None

    async def send(request: web.Request) -> web.StreamResponse:
        user, chat = user_of(request)
        data = await body(request)
        handle = client.user(user)
        target = client.chat(chat) if chat is not None else None
        if "photo_base64" in data:
            photo = _base64(data["photo_base64"])
            sent = await handle.send_photo(photo, caption=_opt(data.get("caption")), chat=target)
        elif data.get("photo") is True:
            sent = await handle.send_photo(caption=_opt(data.get("caption")), chat=target)
        elif data.get("sticker") is True:
            sent = await handle.send_sticker(chat=target)
        elif data.get("voice") is True:
            sent = await handle.send_voice(caption=_opt(data.get("caption")), chat=target)
        elif data.get("contact") is True:
            phone = _opt(data.get("phone_number"))
            sent = await handle.share_contact(phone, chat=target)
        else:
            sent = await handle.send(str(data["text"]), chat=target)
        return web.json_response(message_json(state, sent.stored))

    async def press(request: web.Request) -> web.StreamResponse:
        user, _ = user_of(request)
        data = await body(request)
        chat_id = int(str(data.get("chat_id", user)))
        stored = state.find_message(chat_id, int(str(data["message_id"])))
        if stored is None:
            raise UsageError("message not found")
        handle = client.user(user)
        view = BotMessage(state, stored)
        timeout = float(str(data.get("timeout", client.default_timeout)))
        wait = data.get("wait", True) is not False
        by_text = _opt(data.get("text"))
        if by_text is not None:
            answer = await handle.press(view, by_text, timeout=timeout, wait_answer=wait)
        else:
            answer = await handle.press_data(
                view, str(data["data"]), timeout=timeout, wait_answer=wait
            )
        payload = (
            None if answer is None else {"text": answer.text, "show_alert": answer.show_alert}
        )
        return web.json_response({"answer": payload})

    async def block(request: web.Request) -> web.StreamResponse:
        user, _ = user_of(request)
        data = await body(request)
        handle = client.user(user)
        await (handle.block() if data.get("blocked", True) is not False else handle.unblock())
        return web.json_response({"blocked": user in state.blocked})

    async def messages(request: web.Request) -> web.StreamResponse:
        chat_id = int(request.match_info["chat_id"])
        after = int(request.query.get("after", "0"))
        timeout = float(request.query.get("timeout", "0"))
        # all=1 adds the users' own messages (the default is only what the bot sent).
        both = request.query.get("all", "").lower() in ("1", "true", "yes")

        def newer() -> list[StoredMessage] | None:
            found = [
                m
                for m in state.messages.get(chat_id, ())
                if (both or m.from_bot) and m.message_id > after
            ]
            return found or None

        found = newer() if timeout <= 0 else await state.changed.wait_for(newer, timeout)
        return web.json_response([message_json(state, m) for m in found or []])

    async def file_bytes(request: web.Request) -> web.StreamResponse:
        """A stored file by file_id: images inline, anything else only as a download."""
        record = state.files.get(request.match_info["file_id"])
        if record is None:
            return web.json_response({"error": "unknown file_id"}, status=404)
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"}
        shown = image_type(record.data) if record.kind == "photo" else None
        if shown is None:
            base = (record.file_name or record.file_path).rsplit("/", 1)[-1]
            name = re.sub(r"[^A-Za-z0-9._-]", "_", base)
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        content_type = shown or "application/octet-stream"
        return web.Response(body=record.data, content_type=content_type, headers=headers)

    async def chat_page(request: web.Request) -> web.StreamResponse:
        headers = {
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        return web.Response(text=PAGE, content_type="text/html", headers=headers)

    async def to_chat(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/_sandbox/chat")

    async def faults(request: web.Request) -> web.StreamResponse:
        data = await body(request)
        kind = str(data["kind"])
        fault = {
            "retry_after": lambda: Fault.flood(int(str(data.get("retry_after", 1)))),
            "server_error": lambda: Fault.server_error(int(str(data.get("status", 502)))),
            "delay": lambda: Fault.slow(float(str(data.get("delay", 1.0)))),
            "drop": Fault.drop,
        }[kind]()
        state.faults.fail_next(str(data["method"]), fault, int(str(data.get("times", 1))))
        return web.json_response({"queued": state.faults.pending(str(data["method"]))})

    async def rate_limits(request: web.Request) -> web.StreamResponse:
        data = await body(request)
        client.rate_limits(data.get("enabled", True) is not False)
        return web.json_response({"enabled": state.rate_limiter.enabled})

    async def transcript(request: web.Request) -> web.StreamResponse:
        return web.Response(text=client.transcript(), content_type="text/plain")

    routes: list[tuple[str, str, Route]] = [
        ("GET", "/_sandbox/info", info),
        ("GET", "/_sandbox", to_chat),
        ("GET", "/_sandbox/", to_chat),
        ("GET", "/_sandbox/chat", chat_page),
        ("GET", "/_sandbox/users", list_users),
        ("POST", "/_sandbox/users", add_user),
        ("POST", "/_sandbox/groups", add_group),
        ("POST", "/_sandbox/users/{user_id}/send", send),
        ("POST", "/_sandbox/users/{user_id}/press", press),
        ("POST", "/_sandbox/users/{user_id}/block", block),
        ("GET", "/_sandbox/chats/{chat_id}/messages", messages),
        ("GET", "/_sandbox/files/{file_id}", file_bytes),
        ("POST", "/_sandbox/faults", faults),
        ("POST", "/_sandbox/rate_limits", rate_limits),
        ("GET", "/_sandbox/transcript", transcript),
    ]
    for verb, path, route in routes:
        app.router.add_route(verb, path, guarded(route))


def _base64(value: object) -> bytes:
    """Decode strict base64 (line breaks allowed); garbage or nothing is a usage error."""
    try:
        decoded = base64.b64decode("".join(str(value).split()), validate=True)
    except binascii.Error:
        decoded = b""
    if not decoded:
        raise UsageError("photo_base64 must be non-empty base64 image bytes")
    return decoded


def _opt(value: object) -> str | None:
    """A JSON string field or None."""
    return value if isinstance(value, str) else None


__all__ = ["add_routes", "message_json"]
