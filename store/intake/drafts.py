"""Report drafts: one per person, rewritten at every step of the guided report.

Every draft carries a `submission_key`. Filing a report stores that key, unique, on the
ticket, and in the same transaction replaces the draft with a "filed" marker that names
the ticket. So a second Confirm of the same draft, a retry after a crash right after the
commit, or after the "Submitted" message failed, finds the ticket already filed instead
of filing another; and /report can say what became of a report whose confirmation the
person may never have seen. The marker is not a draft: `get_draft` ignores it, and the
next draft simply replaces it.

The rows are also kept in a process-local cache (store.domain.draft_cache): a person's
updates are handled one at a time (bot/processor.py), so after the first read each step
costs one short write (`UPDATE draft`) and no read. The cache is filled from the database
after a restart and changed only after a commit succeeded; the filing transaction forgets
the entry. Every write is conditional on the `updated_at` this process last saw: if another
instance (several may share a PostgreSQL database) wrote the draft meanwhile, the write
changes nothing and raises `DraftChanged` rather than overwrite a newer draft with
steps computed from an old one.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, update
from sqlmodel import col

from store.db import rowcount, table_of
from store.domain.draft_cache import DraftRow, drafts_seen
from store.errors import DraftChanged
from store.models import Draft
from store.uow import UnitOfWork

FILED = "filed"  # the step of a draft that became a ticket
KEY = "submission_key"


@dataclass(slots=True)
class DraftView:
    """The step a report is at and what has been filled in so far."""

    step: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FiledDraft:
    """A draft that became a ticket, and whether the person was shown that it did."""

    ticket_id: int
    number: str
    acknowledged: bool


# Writes go through the table, not the ORM entity: an ORM UPDATE first evaluates its WHERE
# against the session's objects, which costs more than the statement itself.
_TABLE: Table = table_of(Draft)
# A step's write, built once (building a statement costs about as much as running it):
# the person's row, if it is still the version this process saw.
_REWRITE = (
    update(_TABLE)
    .where(
        _TABLE.c.person_id == bindparam("person"),
        _TABLE.c.updated_at == bindparam("seen", type_=_TABLE.c.updated_at.type),
    )
    .values(
        {
            c: bindparam(c.name, type_=c.type)
            for c in (_TABLE.c.step, _TABLE.c.data, _TABLE.c.updated_at)
        }
    )
)


async def _row(uow: UnitOfWork, person_id: int) -> DraftRow | None:
    """The person's draft row, from the cache or (once) from the database."""
    cache = drafts_seen(uow)
    if cache.known(person_id):
        return cache.get(person_id)
    async with uow.reading():
        stored = await uow.session.get(Draft, person_id)
        row = DraftRow(stored.step, _copy(stored.data), stored.updated_at) if stored else None
    cache.put(person_id, row)
    return row


def _copy(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars): several times cheaper than
    copy.deepcopy, which a draft step would otherwise pay twice."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def new_submission_key() -> str:
    """A key for a new draft: random, so two drafts never share one."""
    return f"draft:{secrets.token_hex(16)}"


async def get_draft(uow: UnitOfWork, person_id: int) -> DraftView | None:
    """The person's draft, if one is in progress."""
    row = await _row(uow, person_id)
    return DraftView(row.step, _copy(row.data)) if row and row.step != FILED else None


async def filed_draft(uow: UnitOfWork, person_id: int) -> FiledDraft | None:
    """The person's last draft if it was filed (and nothing newer was started since)."""
    row = await _row(uow, person_id)
    if row is None or row.step != FILED:
        return None
    return FiledDraft(
        int(row.data["ticket_id"]), str(row.data["number"]), bool(row.data.get("seen"))
    )


async def _write(uow: UnitOfWork, person_id: int, step: str, data: dict[str, Any]) -> None:
    """Insert or replace the person's row in a unit of its own, if it is still the version
    this process read (else DraftChanged); the cache follows the commit, and forgets the
    person if the write did not go through."""
    seen = await _row(uow, person_id)
    cache = drafts_seen(uow)
    cache.forget(person_id)
    now = uow.now()
    if seen is not None and now <= seen.written:
        now = seen.written + timedelta(microseconds=1)  # a new version, even on a coarse clock
    values = {"step": step, "data": data, "updated_at": now}
    async with uow:
        if seen is None:
            created = await uow.session.execute(
                uow.insert(_TABLE).values(person_id=person_id, **values).on_conflict_do_nothing()
            )
            if rowcount(created) != 1:
                raise DraftChanged(f"draft of person {person_id} was created elsewhere")
        else:
            changed = await uow.session.execute(
                _REWRITE, {"person": person_id, "seen": seen.written, **values}
            )
            if rowcount(changed) != 1:
                raise DraftChanged(f"draft of person {person_id} was written elsewhere")
        await uow.commit()
    cache.put(person_id, DraftRow(step, _copy(data), now))


async def save_draft(uow: UnitOfWork, person_id: int, draft: DraftView) -> None:
    """Store the draft as it is now (insert or replace). A draft without a submission key
    (a new one) gets one here, and keeps it through every later step."""
    draft.data.setdefault(KEY, new_submission_key())
    await _write(uow, person_id, draft.step, dict(draft.data))


async def drop_draft(uow: UnitOfWork, person_id: int) -> bool:
    """Forget the person's draft (or filed marker); True if a draft was in progress."""
    row = await _row(uow, person_id)
    cache = drafts_seen(uow)
    cache.forget(person_id)
    async with uow:
        await uow.session.execute(delete(Draft).where(col(Draft.person_id) == person_id))
        await uow.commit()
    cache.put(person_id, None)
    return row is not None and row.step != FILED


async def mark_filed(
    uow: UnitOfWork, person_id: int, key: str, ticket_id: int, number: str
) -> None:
    """Inside the filing transaction: the person's draft with `key` became this ticket.
    A different draft (there is none while its Confirm is handled) is left alone."""
    cache = drafts_seen(uow)
    seen = cache.get(person_id) if cache.known(person_id) else None
    cache.forget(person_id)  # read again if this unit does not commit
    data = {KEY: key, "ticket_id": ticket_id, "number": number}
    now = uow.now()
    if seen is not None and seen.data.get(KEY) == key:
        # The version this process saw is the draft being filed: write it without
        # reading it back, if it is still that version.
        now = max(now, seen.written + timedelta(microseconds=1))
        changed = await uow.session.execute(
            _REWRITE,
            {
                "person": person_id,
                "seen": seen.written,
                "step": FILED,
                "data": data,
                "updated_at": now,
            },
        )
        written = rowcount(changed) == 1
    else:
        row = await uow.session.get(Draft, person_id)
        written = row is not None and row.data.get(KEY) == key
        if row is not None and written:
            row.step, row.data, row.updated_at = FILED, dict(data), now
            uow.session.add(row)
    if not written:
        uow.after_commit(lambda: cache.forget(person_id))
        return
    # Committed, the marker is exactly this: `acknowledge_filed` right after the answer
    # then writes without reading it back (one transaction less per filing).
    uow.after_commit(lambda: cache.put(person_id, DraftRow(FILED, data, now)))


async def acknowledge_filed(uow: UnitOfWork, person_id: int) -> None:
    """The person was shown that their draft was filed: /report need not say it again."""
    row = await _row(uow, person_id)
    if row is not None and row.step == FILED and not row.data.get("seen"):
        # A newer draft (or marker) written elsewhere leaves nothing to mark.
        with contextlib.suppress(DraftChanged):
            await _write(uow, person_id, FILED, {**row.data, "seen": True})
