"""Updates of one chat in order, different chats at once: the Application's update processor."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 64


def chat_key(update: object) -> int | None:
    """Whose turn an update waits for: its chat, else its user; None runs at once."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Each chat's updates run one after another, in arrival order; chats run side by side.

    PTB's `concurrent_updates=True` alone would run two messages of one conversation at
    once (both read the same ConversationHandler state and user_data). Here the first
    update of an idle chat takes one of the `max_concurrent_updates` slots and, after it,
    runs every update of that chat that arrived meanwhile; those later updates only join
    the chat's queue and give their slot straight back. So a chat with a backlog (or a
    slow Telegram call) occupies one slot, never all of them, and at most
    `max_concurrent_updates` chats run at once.

    Arrival order survives the base class's slot semaphore because asyncio's semaphore
    wakes its waiters first in, first out (CPython ≥ 3.11.1), and PTB starts one task per
    update in the order it fetched them.
    """

    def __init__(self, max_concurrent_updates: int = MAX_IN_FLIGHT) -> None:
        super().__init__(max_concurrent_updates)
        # chat key → coroutines waiting behind the one that is running; a key is present
        # exactly while its chat has a running update.
        self._waiting: dict[int, deque[Awaitable[Any]]] = {}

    @property
    def busy_chats(self) -> int:
        """How many chats have an update running now."""
        return len(self._waiting)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run now if the chat is idle; else queue behind the chat's running update."""
        key = chat_key(update)
        if key is None:
            await coroutine
            return
        queue = self._waiting.get(key)
        if queue is not None:
            queue.append(coroutine)
            return
        queue = self._waiting[key] = deque()
        try:
            await self._run(coroutine)
            while queue:
                await self._run(queue.popleft())
        finally:
            # Reached only with an empty queue unless cancelled (shutdown): close what
            # never ran, so no "coroutine was never awaited" warnings.
            del self._waiting[key]
            for pending in queue:
                close = getattr(pending, "close", None)
                if close is not None:
                    close()

    @staticmethod
    async def _run(coroutine: Awaitable[Any]) -> None:
        # Application.process_update has already given handler errors to the error
        # handler; what reaches here must not stop the chat's later updates.
        try:
            await coroutine
        except Exception:
            log.error("update failed after its error handler ran", exc_info=True)

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free: PTB awaits the running update tasks, which drain their queues."""
