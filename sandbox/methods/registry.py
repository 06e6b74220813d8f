"""The table of implemented Bot API methods, which the handler modules fill as they load."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sandbox import errors
from sandbox.errors import bad_request
from sandbox.params import Params
from sandbox.state import SandboxState

Handler = Callable[[SandboxState, Params], Awaitable[object]]

# Telegram matches method names case-insensitively, so keys are lower-case.
METHODS: dict[str, tuple[str, Handler]] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    """Register a handler under its Bot API method name."""

    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = (name, handler)
        return handler

    return register


def chat_id(p: Params) -> int | None:
    """Read chat_id; '@username' targets are unknown to the stand-in."""
    return p.get_int("chat_id", error=bad_request(errors.CHAT_NOT_FOUND))
