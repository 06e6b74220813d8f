"""Report drafts: one per person, rewritten at every step of the guided report.

Every draft carries a `submission_key`. Filing a report stores that key, unique, on the
ticket, and in the same transaction replaces the draft with a "filed" marker that names
the ticket. So a second Confirm of the same draft, a retry after a crash right after the
commit, or after the "Submitted" message failed, finds the ticket already filed instead
of filing another; and /report can say what became of a report whose confirmation the
person may never have seen. The marker is not a draft: `get_draft` ignores it, and the
next draft simply replaces it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete

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


def new_submission_key() -> str:
    """A key for a new draft: random, so two drafts never share one."""
    return f"draft:{secrets.token_hex(16)}"


async def get_draft(uow: UnitOfWork, person_id: int) -> DraftView | None:
    """The person's draft, if one is in progress."""
    async with uow.reading():
        row = await uow.session.get(Draft, person_id)
        return DraftView(row.step, dict(row.data)) if row and row.step != FILED else None


async def filed_draft(uow: UnitOfWork, person_id: int) -> FiledDraft | None:
    """The person's last draft if it was filed (and nothing newer was started since)."""
    async with uow:
        row = await uow.session.get(Draft, person_id)
        if row is None or row.step != FILED:
            return None
        return FiledDraft(
            int(row.data["ticket_id"]), str(row.data["number"]), bool(row.data.get("seen"))
        )


async def save_draft(uow: UnitOfWork, person_id: int, draft: DraftView) -> None:
    """Store the draft as it is now (insert or replace). A draft without a submission key
    (a new one) gets one here, and keeps it through every later step."""
    draft.data.setdefault(KEY, new_submission_key())
    async with uow:
        row = await uow.session.get(Draft, person_id)
        if row is None:
            row = Draft(person_id=person_id, step=draft.step, data={}, updated_at=uow.now())
        row.step = draft.step
        row.data = dict(draft.data)  # a new dict, so the JSON column is seen as changed
        row.updated_at = uow.now()
        uow.session.add(row)
        await uow.commit()


async def drop_draft(uow: UnitOfWork, person_id: int) -> bool:
    """Forget the person's draft (or filed marker); True if a draft was in progress."""
    async with uow:
        row = await uow.session.get(Draft, person_id)
        in_progress = row is not None and row.step != FILED
        await uow.session.execute(delete(Draft).where(Draft.person_id == person_id))  # type: ignore[arg-type]
        await uow.commit()
        return in_progress


async def mark_filed(
    uow: UnitOfWork, person_id: int, key: str, ticket_id: int, number: str
) -> None:
    """Inside the filing transaction: the person's draft with `key` became this ticket.
    A different draft (there is none while its Confirm is handled) is left alone."""
    row = await uow.session.get(Draft, person_id)
    if row is None or row.data.get(KEY) != key:
        return
    row.step = FILED
    row.data = {KEY: key, "ticket_id": ticket_id, "number": number}
    row.updated_at = uow.now()
    uow.session.add(row)


async def acknowledge_filed(uow: UnitOfWork, person_id: int) -> None:
    """The person was shown that their draft was filed: /report need not say it again."""
    async with uow:
        row = await uow.session.get(Draft, person_id)
        if row is not None and row.step == FILED:
            row.data = {**row.data, "seen": True}
            uow.session.add(row)
            await uow.commit()
