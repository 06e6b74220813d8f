"""The draft rows this process has seen, kept between units of work.

The guided report reads and writes its drafts through this cache (store.intake.drafts
says how it stays true); a newcomer's first update marks them as having none yet
(store.directory.profiles), so their first /report need not look.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from store.uow import Store, UnitOfWork

CACHE_SIZE = 20_000  # people with a draft or filed marker kept in memory (~1 KB each)


@dataclass(frozen=True, slots=True)
class DraftRow:
    """A draft row as stored: its step, data (never handed out; copies are) and the
    `updated_at` that identifies this version of it."""

    step: str
    data: dict[str, Any]
    written: datetime


class Drafts:
    """The draft rows this process has seen, newest use last; None means "no row"."""

    def __init__(self, size: int | None = None) -> None:
        self._rows: OrderedDict[int, DraftRow | None] = OrderedDict()
        self._size = CACHE_SIZE if size is None else size

    def resize(self, size: int) -> None:
        """Keep at most `size` rows from now on (0: none)."""
        self._size = size
        self._trim()

    def _trim(self) -> None:
        while len(self._rows) > self._size:
            self._rows.popitem(last=False)

    def known(self, person_id: int) -> bool:
        return person_id in self._rows

    def get(self, person_id: int) -> DraftRow | None:
        self._rows.move_to_end(person_id)
        return self._rows[person_id]

    def put(self, person_id: int, row: DraftRow | None) -> None:
        self._rows[person_id] = row
        self._rows.move_to_end(person_id)
        self._trim()

    def forget(self, person_id: int) -> None:
        self._rows.pop(person_id, None)


def drafts_seen(uow: UnitOfWork) -> Drafts:
    """The cache, kept with the store: every unit of this process shares it."""
    return uow.cache("drafts", Drafts)


def read_every_time(uow_or_store: UnitOfWork | Store) -> None:
    """Keep no draft rows in this process from now on: each step reads the row again.

    For several instances that all receive updates (webhook mode on PostgreSQL, behind a
    load balancer): a person's next update may reach another instance, which rewrites the
    row, so the row this process saw is no longer worth trusting. (One primary-key read
    per step; without it every step after a change of instance failed on `DraftChanged`.)
    """
    uow_or_store.cache("drafts", Drafts).resize(0)


def none_yet(uow: UnitOfWork, person_id: int) -> None:
    """The person was created in this unit, so has no draft: once it commits, their first
    /report starts one without looking for it."""
    cache = drafts_seen(uow)
    uow.after_commit(lambda: cache.put(person_id, None))
