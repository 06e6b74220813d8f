"""Which instance runs the time-driven work and the outbox sender: with several instances
on PostgreSQL only the leader (advisory lock, store.leader) does; the others check every
few seconds and take over when the leader's connection goes away."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from store.leader import LeaderLock

log = logging.getLogger(__name__)
LEADER_INTERVAL_S = 3.0


class Sender(Protocol):
    """The work that runs only while this instance leads (bot.sender.OutboxSender)."""

    def start(self) -> None:
        """Begin in the background."""

    async def stop(self) -> None:
        """End, letting the current piece of work finish."""


@dataclass
class Leadership:
    """Whether this instance leads, and the sender that runs only while it does."""

    lock: LeaderLock
    sender: Sender
    leading: bool = field(default=False)
    # Told of every change (True: this instance now leads): the poller follows it.
    listeners: list[Callable[[bool], None]] = field(default_factory=list)

    async def refresh(self) -> bool:
        """Check the lock; start or stop the sender when leadership changes."""
        try:
            now_leading = await self.lock.check()
        except Exception as exc:  # database unreachable: not leading, try again later
            log.warning("leader check failed: %s", exc)
            now_leading = False
        if now_leading and not self.leading:
            self.sender.start()
        elif self.leading and not now_leading:
            await self.sender.stop()
        changed = now_leading != self.leading
        self.leading = now_leading
        if changed:
            self._tell(now_leading)
        return now_leading

    async def resign(self) -> None:
        """Stop the sender and free the lock (shutdown)."""
        await self.sender.stop()
        await self.lock.release()
        if self.leading:
            self.leading = False
            self._tell(False)

    def _tell(self, leading: bool) -> None:
        for listener in self.listeners:
            listener(leading)
