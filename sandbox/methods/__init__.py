"""The implemented Bot API methods (core, messages, media); anything else answers 404 like
Telegram."""

from __future__ import annotations

from sandbox.methods import core, media, messages  # noqa: F401  (they register as they load)
from sandbox.methods.registry import METHODS, Handler

# Calls that post a message and so count against flood limits.
SENDING = frozenset({"sendmessage", "sendphoto", "senddocument", "sendmediagroup"})


def lookup(name: str) -> tuple[str, Handler] | None:
    """Find a handler by case-insensitive method name."""
    return METHODS.get(name.lower())
