"""The update queue: Telegram's getUpdates long-poll semantics and webhook hand-off."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Update

from sandbox import errors
from sandbox.errors import ApiError
from sandbox.notify import Notifier

# Telegram delivers these unless allowed_updates names them explicitly.
OPT_IN_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class WebhookConfig:
    """The webhook as set by setWebhook, plus delivery error bookkeeping."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: tuple[str, ...] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class UpdateQueue:
    """Pending updates until confirmed by offset (polling) or a 2xx answer (webhook)."""

    def __init__(self) -> None:
        self.pending: list[dict[str, object]] = []
        self.allowed: frozenset[str] | None = None
        self.webhook: WebhookConfig | None = None
        self.changed = Notifier()
        self._next_id = 1
        self._generation = 0
        self._closed = False

    def wants(self, kind: str) -> bool:
        """Tell whether the current allowed_updates setting accepts this update type."""
        if self.allowed is None:
            return kind not in OPT_IN_TYPES
        return kind in self.allowed

    def push(self, kind: str, build: Callable[[int], Update]) -> int | None:
        """Queue a new update if its type is allowed; return its update_id."""
        if not self.wants(kind):
            return None
        update_id = self._next_id
        self._next_id += 1
        self.pending.append(build(update_id).to_dict())
        self.changed.notify()
        return update_id

    def confirm(self, offset: int) -> None:
        """Forget updates below offset; a negative offset keeps only the last -offset."""
        if offset < 0:
            self.pending = self.pending[offset:]
        else:
            self.pending = [u for u in self.pending if _update_id(u) >= offset]

    def ack(self, update_id: int) -> None:
        """Forget one update after the webhook accepted it."""
        self.pending = [u for u in self.pending if _update_id(u) != update_id]

    def drop_pending(self) -> None:
        """Forget all pending updates (drop_pending_updates)."""
        self.pending.clear()

    def set_allowed(self, allowed: list[str] | None) -> None:
        """Apply allowed_updates; an empty list restores the default set."""
        if allowed is not None:
            self.allowed = frozenset(allowed) or None

    async def poll(
        self, offset: int | None, limit: int, wait_seconds: float
    ) -> list[dict[str, object]]:
        """Long-poll: answer at once when updates are pending, else wait up to timeout."""
        if self.webhook is not None:
            raise ApiError(409, errors.WEBHOOK_ACTIVE)
        if offset is not None:
            self.confirm(offset)
        # A newer poll ends an older one with 409, as Telegram does for two bot instances.
        self._generation += 1
        generation = self._generation
        self.changed.notify()
        deadline = time.monotonic() + wait_seconds
        while True:
            if generation != self._generation:
                raise ApiError(409, errors.POLL_TERMINATED)
            if self.pending or self._closed or self.webhook is not None:
                return list(self.pending[:limit]) if self.webhook is None else []
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            await self.changed.wait_change(remaining)

    async def next_for_webhook(self) -> dict[str, object]:
        """Wait until an update is pending and return the oldest one."""
        while not self.pending:
            await self.changed.wait_change(3600.0)
        return self.pending[0]

    def close(self) -> None:
        """Release every waiting long poll so shutdown is prompt."""
        self._closed = True
        self.changed.notify()


def _update_id(update: dict[str, object]) -> int:
    """Read update_id from an update dict."""
    value = update["update_id"]
    assert isinstance(value, int)
    return value
