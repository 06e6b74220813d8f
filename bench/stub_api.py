"""An in-process Bot API for benches: PTB's request hook answers every call at once.

No HTTP, no sandbox: what is left to measure is the bot's own work per update.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from telegram import Bot, Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

BOT_USER = {"id": 1, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}


class StubRequest(BaseRequest):
    """Answers Bot API calls from memory and remembers each chat's last message."""

    def __init__(self) -> None:
        self.calls = 0
        self.last: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    @property
    def read_timeout(self) -> float | None:
        """Answers are immediate."""
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        self.calls += 1
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data is not None else {}
        result: Any = True
        if name == "getMe":
            result = BOT_USER
        elif name in ("sendMessage", "editMessageText", "sendPhoto", "editMessageReplyMarkup"):
            chat = params.get("chat_id")
            if isinstance(chat, int):
                message: dict[str, Any] = {
                    "message_id": params.get("message_id") or next(self._ids),
                    "date": int(time.time()),
                    "chat": {"id": chat, "type": "private"},
                    "from": BOT_USER,
                    "text": params.get("text") or params.get("caption") or "",
                }
                markup = params.get("reply_markup")
                if isinstance(markup, dict) and "inline_keyboard" in markup:
                    message["reply_markup"] = markup  # a message carries inline keyboards only
                self.last[chat] = message
                result = message
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def button(self, chat: int, label: str) -> str:
        """The callback data of the inline button labelled `label` in the chat's last message."""
        markup = self.last[chat].get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if button.get("text") == label:
                    return str(button["callback_data"])
        raise LookupError(f"no button {label!r} in {self.last[chat].get('text')!r}")


class Users:
    """Builds updates from fake users, numbered like Telegram's."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._ids = itertools.count(1)

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"U{user_id}", "language_code": "en"}

    def text(self, user_id: int, text: str) -> Update:
        """A private text message (a leading /command gets its entity)."""
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "from": self._user(user_id),
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return Update.de_json({"update_id": next(self._ids), "message": message}, self.bot)

    def press(self, user_id: int, data: str, message: dict[str, Any]) -> Update:
        """A press of an inline button under `message`."""
        query = {
            "id": str(next(self._ids)),
            "from": self._user(user_id),
            "chat_instance": str(user_id),
            "data": data,
            "message": message,
        }
        return Update.de_json({"update_id": next(self._ids), "callback_query": query}, self.bot)
