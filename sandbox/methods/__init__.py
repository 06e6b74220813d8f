"""Registry of implemented Bot API methods; anything else answers 404 like Telegram."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sandbox import errors
from sandbox.errors import bad_request
from sandbox.params import Params
from sandbox.state import SandboxState

Handler = Callable[[SandboxState, Params], Awaitable[object]]

# Telegram matches method names case-insensitively, so keys are lower-case.
METHODS: dict[str, tuple[str, Handler]] = {}

# Calls that post a message and so count against flood limits.
SENDING = frozenset({"sendmessage", "sendphoto", "senddocument", "sendmediagroup"})


def method(name: str) -> Callable[[Handler], Handler]:
    """Register a handler under its Bot API method name."""

    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = (name, handler)
        return handler

    return register


def chat_id(p: Params) -> int | None:
    """Read chat_id; '@username' targets are unknown to the stand-in."""
    return p.get_int("chat_id", error=bad_request(errors.CHAT_NOT_FOUND))


def lookup(name: str) -> tuple[str, Handler] | None:
    """Find a handler by case-insensitive method name."""
    _load()
    return METHODS.get(name.lower())


def _load() -> None:
    """Import the handler modules once; they register themselves."""
    if not METHODS:
        from sandbox.methods import core, media, messages  # noqa: F401
