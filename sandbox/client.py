"""The user side: act as any number of users and chats, and wait for the bot event-driven."""

from __future__ import annotations

import json

from sandbox import actions
from sandbox.faults import Fault, FaultPlan
from sandbox.handles import ChatHandle, UserHandle
from sandbox.models import ChatType, UserInfo
from sandbox.state import SandboxState

DEFAULT_TIMEOUT = 5.0

__all__ = ["DEFAULT_TIMEOUT", "ChatHandle", "SandboxClient", "UserHandle"]


class SandboxClient:
    """Entry point for tests and the demo: users, groups, faults, limits and the transcript."""

    def __init__(self, state: SandboxState, *, default_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.state = state
        self.default_timeout = default_timeout
        self._users: dict[int, UserHandle] = {}
        self._chats: dict[int, ChatHandle] = {}

    def user(
        self,
        id: int,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        phone_number: str | None = None,
    ) -> UserHandle:
        """Create (or fetch) a user; the same id always gives the same handle."""
        if id in self._users:
            return self._users[id]
        if id <= 0:
            raise actions.UsageError("user ids are positive")
        info = UserInfo(id, first_name, last_name, username, language_code, phone_number)
        handle = UserHandle(self, self.state.add_user(info))
        self._users[id] = handle
        self._chats[id] = handle
        return handle

    def group(
        self,
        title: str,
        members: list[UserHandle],
        *,
        id: int | None = None,
        supergroup: bool = False,
    ) -> ChatHandle:
        """Create a group chat with these members and the bot."""
        chat_id = (
            id if id is not None else -(10**12 if supergroup else 10**9) - self.state.serial()
        )
        kind: ChatType = "supergroup" if supergroup else "group"
        self.state.add_group(chat_id, title, [m.id for m in members], kind)
        handle = ChatHandle(self, chat_id)
        self._chats[chat_id] = handle
        return handle

    def chat(self, chat_id: int) -> ChatHandle:
        """Handle of an existing chat."""
        if chat_id not in self._chats:
            if chat_id not in self.state.chats:
                raise actions.UsageError(f"unknown chat {chat_id}")
            self._chats[chat_id] = ChatHandle(self, chat_id)
        return self._chats[chat_id]

    @property
    def faults(self) -> FaultPlan:
        """Queued fault injections."""
        return self.state.faults

    def fail_next(self, method: str, fault: Fault, times: int = 1) -> None:
        """Make the next `times` calls of a Bot API method fail with `fault`."""
        self.state.faults.fail_next(method, fault, times)

    def rate_limits(self, enabled: bool = True) -> None:
        """Switch Telegram's flood limits (1 msg/s per chat, 30/s overall) on or off."""
        self.state.rate_limiter.enabled = enabled
        self.state.rate_limiter.reset()

    def file_bytes(self, file_id: str) -> bytes:
        """Bytes stored under a file_id."""
        record = self.state.files.get(file_id)
        if record is None:
            raise actions.UsageError(f"unknown file_id {file_id}")
        return record.data

    def commands(
        self, scope: dict[str, object] | None = None, language_code: str = ""
    ) -> list[str]:
        """Command names the bot set for a scope and language."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return [entry["command"] for entry in self.state.commands.get(key, [])]

    def command_menu(
        self, scope: dict[str, object] | None = None, language_code: str = ""
    ) -> dict[str, str]:
        """The menu the bot set for a scope and language: command name -> description."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return {e["command"]: e["description"] for e in self.state.commands.get(key, [])}

    def transcript(self) -> str:
        """The readable log of everything that happened."""
        return self.state.transcript.render()
