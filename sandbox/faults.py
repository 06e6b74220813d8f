"""Fault injection and Telegram-like flood limits."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

FaultKind = Literal["retry_after", "server_error", "delay", "drop"]


@dataclass(frozen=True)
class Fault:
    """One injected failure of a Bot API call."""

    kind: FaultKind
    retry_after: int = 1
    status: int = 502
    delay: float = 0.0

    @classmethod
    def flood(cls, retry_after: int = 1) -> Fault:
        """Answer 429 Too Many Requests with parameters.retry_after."""
        return cls("retry_after", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 502) -> Fault:
        """Answer a 5xx such as 502 Bad Gateway."""
        return cls("server_error", status=status)

    @classmethod
    def slow(cls, delay: float) -> Fault:
        """Hold the answer for `delay` seconds, then process the call normally."""
        return cls("delay", delay=delay)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without answering."""
        return cls("drop")

    def describe(self) -> str:
        """Short text for the transcript."""
        if self.kind == "retry_after":
            return f"429 retry_after={self.retry_after}"
        if self.kind == "server_error":
            return f"{self.status} {HTTPStatus(self.status).phrase}"
        if self.kind == "delay":
            return f"delay {self.delay}s"
        return "dropped connection"


class FaultPlan:
    """Queues of faults per method name; '*' matches every method."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Fault]] = {}

    def fail_next(self, method: str, fault: Fault, times: int = 1) -> None:
        """Make the next `times` calls of `method` fail with `fault`."""
        self._queues.setdefault(method.lower(), deque()).extend([fault] * times)

    def take(self, method: str) -> Fault | None:
        """Pop the fault due for this call, if any."""
        for key in (method.lower(), "*"):
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
        return None

    def pending(self, method: str) -> int:
        """Number of faults still queued for a method."""
        return len(self._queues.get(method.lower(), ()))

    def clear(self) -> None:
        """Drop every queued fault."""
        self._queues.clear()


class RateLimiter:
    """Telegram's documented flood limits: per chat and overall messages per second."""

    def __init__(
        self,
        *,
        enabled: bool = False,
        per_chat_interval: float = 1.0,
        global_per_second: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.per_chat_interval = per_chat_interval
        self.global_per_second = global_per_second
        self._clock = clock
        self._last_by_chat: dict[int, float] = {}
        self._recent: deque[float] = deque()

    def check(self, chat_id: int) -> int | None:
        """Record a send; return retry_after seconds if it breaks a limit."""
        if not self.enabled:
            return None
        now = self._clock()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        last = self._last_by_chat.get(chat_id)
        if last is not None and now - last < self.per_chat_interval:
            return max(1, math.ceil(self.per_chat_interval - (now - last)))
        if len(self._recent) >= self.global_per_second:
            return max(1, math.ceil(1.0 - (now - self._recent[0])))
        self._last_by_chat[chat_id] = now
        self._recent.append(now)
        return None

    def reset(self) -> None:
        """Forget past sends."""
        self._last_by_chat.clear()
        self._recent.clear()
