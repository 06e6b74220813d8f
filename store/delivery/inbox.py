"""Handled updates: which of a bot's incoming updates have had their handlers run, so one
delivered again (a webhook retried, a new polling leader fetching what the old one never
confirmed) is skipped, on whichever instance it arrives.

An update is marked only after its handlers finished, never claimed before: one whose
handling a crash cut short must be handled again when it comes back. Whatever it had
already done is then done a second time unless that effect is idempotent on its own
(filing keys, ticket versions); the README lists the few that are at-least-once.

The ids are numbers of the transport's; this module knows nothing else about them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import delete, func
from sqlmodel import col, select

from store.db import rowcount, table_of
from store.models import HandledUpdate
from store.uow import UnitOfWork

KEEP_FOR = timedelta(hours=24)
RECENT = 4096  # ids this process handled last, answered without the database
_CACHE = "handled_updates"
_MARKS = "handled_updates_to_mark"


class RecentIds:
    """The last `size` ids this process marked: a redelivery to the same instance (a
    webhook retry) is answered from memory. Only ever a shortcut for "handled": an id not
    here is looked up in the database."""

    def __init__(self, size: int = RECENT) -> None:
        self._order: deque[tuple[int, int]] = deque()
        self._ids: set[tuple[int, int]] = set()
        self._size = size

    def __contains__(self, key: tuple[int, int]) -> bool:
        return key in self._ids

    def add(self, key: tuple[int, int]) -> None:
        if key in self._ids:
            return
        self._order.append(key)
        self._ids.add(key)
        if len(self._order) > self._size:
            self._ids.discard(self._order.popleft())


def _recent(uow: UnitOfWork) -> RecentIds:
    return uow.cache(_CACHE, RecentIds)


async def was_handled(uow: UnitOfWork, bot_id: int, update_id: int) -> bool:
    """Whether this bot's update `update_id` has been handled already (by any instance)."""
    if (bot_id, update_id) in _recent(uow):
        return True
    async with uow.reading():
        found = await uow.session.execute(
            select(col(HandledUpdate.update_id)).where(
                col(HandledUpdate.bot_id) == bot_id, col(HandledUpdate.update_id) == update_id
            )
        )
        return found.first() is not None


class _Marks:
    """Marks waiting to be written: while one batch is written, the marks that come in
    wait and go together in the next (one statement and one commit for all of them)."""

    def __init__(self) -> None:
        self.keys: set[tuple[int, int]] = set()
        self.lock = asyncio.Lock()


async def mark_handled(uow: UnitOfWork, bot_id: int, update_id: int) -> None:
    """Record that this bot's update `update_id` has been handled (again is a no-op).
    Returns once it is committed, alone or with the marks of other updates that finished
    meanwhile."""
    key = (bot_id, update_id)
    marks = uow.cache(_MARKS, _Marks)
    marks.keys.add(key)
    async with marks.lock:
        if key not in marks.keys:
            return  # written with the batch of the mark before
        batch, marks.keys = marks.keys, set()
        try:
            await _write(uow, batch)
        except BaseException:
            marks.keys |= batch  # the next mark writes them too
            raise


async def mark_all_handled(uow: UnitOfWork, bot_id: int, update_ids: Collection[int]) -> None:
    """Record several of this bot's updates as handled, in one statement."""
    if update_ids:
        await _write(uow, {(bot_id, update_id) for update_id in update_ids})


async def _write(uow: UnitOfWork, keys: set[tuple[int, int]]) -> None:
    async with uow:
        now = uow.now()
        rows = [{"bot_id": b, "update_id": u, "handled_at": now} for b, u in keys]
        await uow.session.execute(
            uow.insert(table_of(HandledUpdate)).values(rows).on_conflict_do_nothing()
        )
        await uow.commit()
    recent = _recent(uow)
    for key in keys:
        recent.add(key)


async def last_handled(uow: UnitOfWork, bot_id: int) -> int:
    """The highest update id of this bot marked handled (0 if none is kept): an update
    fetched later with a higher id cannot have been handled before, as long as only one
    instance fetches at a time (polling, by the leader)."""
    async with uow.reading():
        found = await uow.session.execute(
            select(func.max(col(HandledUpdate.update_id))).where(
                col(HandledUpdate.bot_id) == bot_id
            )
        )
        return found.scalar_one_or_none() or 0


async def prune_handled(uow: UnitOfWork, keep_for: timedelta = KEEP_FOR) -> int:
    """Forget updates handled more than `keep_for` ago (Telegram stops redelivering long
    before); returns how many."""
    async with uow:
        result = await uow.session.execute(
            delete(HandledUpdate).where(col(HandledUpdate.handled_at) < uow.now() - keep_for)
        )
        await uow.commit()
        return rowcount(result)
