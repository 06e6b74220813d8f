"""Event-driven waiting on state changes without sleep polling."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """A sandbox wait ran out of time; the message says what was awaited."""


class Notifier:
    """Wakes every waiter whenever the guarded state changes."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake current waiters; later waiters wait for the next change."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(
        self, probe: Callable[[], T | None], seconds: float, what: str = "condition"
    ) -> T:
        """Return the first non-None probe result, re-probing after each change."""
        try:
            async with asyncio.timeout(seconds):
                while True:
                    # Take the event before probing so a change between them is never missed.
                    event = self._event
                    result = probe()
                    if result is not None:
                        return result
                    await event.wait()
        except TimeoutError:
            raise WaitTimeout(f"timed out after {seconds}s waiting for {what}") from None

    async def wait_change(self, seconds: float) -> bool:
        """Wait for the next change; return False on timeout."""
        event = self._event
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            return False
        return True
