"""One sending budget for the whole bot: direct replies go first, notices use what is left.

Telegram documents about 30 messages per second overall for a bot and no more than one per
second in one chat for long ("avoid sending more than one message per second in a
particular chat"; bulk notifications "not more than 30 messages per second"). Replies to
a user's own action are what keeps them waiting, so they are never queued behind notices:
they go at once and are counted. Calls made in the `bulk()` context (the outbox sender,
the digests) wait for a free place in the same one-second window; the sender also leaves
out chats inside their one-second gap. Telegram's 429 is honoured for both (`retry_after`).

A direct reply that fails transiently (5xx, network error, timeout) is retried a few times
with backoff; bulk calls are not, the sender and the digests keep their own retry
bookkeeping in the database.
A timed-out request may have arrived, so a retried reply can at worst show twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

OVERALL_PER_SECOND = 30
# Measured from our side: a little over a second, so that network jitter cannot squeeze
# 31 arrivals into Telegram's second.
WINDOW = 1.05
REPLY_RETRIES = (0.5, 1.0, 2.0)  # waits before the 2nd, 3rd and 4th try of a direct reply
RETRY_AFTER_TRIES = 2
_BULK: contextvars.ContextVar[bool] = contextvars.ContextVar("repairbot_bulk", default=False)
JSON = bool | dict[str, Any] | list[dict[str, Any]]


@contextmanager
def bulk() -> Iterator[None]:
    """Calls made inside are bulk (notices, digests): paced, and not retried here."""
    token = _BULK.set(True)
    try:
        yield
    finally:
        _BULK.reset(token)


def counts_as_message(endpoint: str) -> bool:
    """Whether Telegram counts the call against its message limits."""
    return endpoint.startswith(("send", "edit", "copy", "forward"))


class SendBudget:
    """Recent message sends, overall and per chat, shared by replies and notices."""

    def __init__(
        self,
        per_second: int = OVERALL_PER_SECOND,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.window = window
        self._clock = clock
        self._recent: deque[float] = deque()
        self._last_by_chat: dict[int, float] = {}
        self.paused_until = 0.0

    def _trim(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= self.window:
            self._recent.popleft()
        if len(self._last_by_chat) > 10_000:  # forget chats idle for long
            self._last_by_chat = {c: t for c, t in self._last_by_chat.items() if now - t < 60}

    def record(self, chat: int | None) -> None:
        """A message is being sent now (to `chat`)."""
        now = self._clock()
        self._trim(now)
        self._recent.append(now)
        if chat is not None:
            self._last_by_chat[chat] = now

    def mark_chat(self, chat: int) -> None:
        """A message went to `chat` now (counted overall elsewhere)."""
        self._last_by_chat[chat] = self._clock()

    def chat_free_in(self, chat: int, interval: float) -> float:
        """Seconds until `chat` may get another message (0: now)."""
        last = self._last_by_chat.get(chat)
        return 0.0 if last is None else max(0.0, last + interval - self._clock())

    def overall_free_in(self) -> float:
        """Seconds until one more message fits in the window (0: now)."""
        now = self._clock()
        self._trim(now)
        wait = max(0.0, self.paused_until - now)
        if len(self._recent) >= self.per_second:
            wait = max(wait, self._recent[len(self._recent) - self.per_second] + self.window - now)
        return wait

    def busy_chats(self, interval: float) -> list[int]:
        """Chats that got a message less than `interval` seconds ago."""
        since = self._clock() - interval
        return [chat for chat, at in self._last_by_chat.items() if at > since]

    async def slot(self, chat: int | None) -> None:
        """Wait for room in the overall window (and any 429 pause), then take it."""
        # Sleeping until a known time: nothing else would signal an event here.
        while (wait := self.overall_free_in()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)
        self.record(chat)


class ReplyFirstLimiter(BaseRateLimiter[None]):
    """PTB's rate limiter hook: counts every message in the shared budget, retries direct
    replies on passing failures, and waits out Telegram's flood control."""

    def __init__(
        self,
        budget: SendBudget | None = None,
        on_call: Callable[[str, str], None] | None = None,
    ) -> None:
        self.budget = budget or SendBudget()
        # Told (method, outcome) after each try: ok, error, retry_after, timeout (metrics).
        self.on_call = on_call

    def _count(self, endpoint: str, outcome: str) -> None:
        if self.on_call is not None:
            self.on_call(endpoint, outcome)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> JSON:
        """Send now; on a 429 wait as told, on a passing failure retry (replies only)."""
        is_bulk = _BULK.get()
        chat = data.get("chat_id")
        message = counts_as_message(endpoint)
        floods = transient = 0
        while True:
            target = chat if isinstance(chat, int) else None
            if message and is_bulk:
                await self.budget.slot(target)  # notices wait for what replies leave
            elif message:
                self.budget.record(target)  # replies go at once, and count
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                self._count(endpoint, "retry_after")
                floods += 1
                seconds = exc.retry_after
                wait = seconds.total_seconds() if not isinstance(seconds, int) else seconds
                # Everyone's notices pause too: the whole bot is over its limit.
                self.budget.paused_until = time.monotonic() + wait
                if is_bulk or floods > RETRY_AFTER_TRIES:
                    raise
                log.info("flood control on %s: retrying in %.1f s", endpoint, wait)
                await asyncio.sleep(wait + 0.1)
            except BadRequest:
                self._count(endpoint, "error")
                raise  # a NetworkError subclass, but Telegram refused it for good
            except NetworkError as exc:  # 5xx, connection errors, TimedOut
                self._count(endpoint, "timeout" if isinstance(exc, TimedOut) else "error")
                if is_bulk or transient >= len(REPLY_RETRIES):
                    raise
                delay = REPLY_RETRIES[transient]
                transient += 1
                log.info("%s failed (%s): try %d in %.1f s", endpoint, exc, transient + 1, delay)
                await asyncio.sleep(delay)
            except Exception:  # Forbidden and the like: Telegram said no
                self._count(endpoint, "error")
                raise
            else:
                self._count(endpoint, "ok")
                return result
