"""Report drafts: one per person, rewritten at every step of the guided report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete

from store.models import Draft
from store.uow import UnitOfWork


@dataclass(slots=True)
class DraftView:
    """The step a report is at and what has been filled in so far."""

    step: str
    data: dict[str, Any] = field(default_factory=dict)


async def get_draft(uow: UnitOfWork, person_id: int) -> DraftView | None:
    """The person's draft, if one is in progress."""
    async with uow:
        row = await uow.session.get(Draft, person_id)
        return DraftView(row.step, dict(row.data)) if row else None


async def save_draft(uow: UnitOfWork, person_id: int, draft: DraftView) -> None:
    """Store the draft as it is now (insert or replace)."""
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
    """Forget the person's draft; True if there was one."""
    async with uow:
        result = await uow.session.execute(delete(Draft).where(Draft.person_id == person_id))  # type: ignore[arg-type]
        await uow.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]
