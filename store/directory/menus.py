"""What the bot last published as each staff member's own command menu (a digest; the
transport decides what goes in it), so a restart republishes only what changed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from store.models import PublishedMenu, StaffChange
from store.uow import UnitOfWork, utcnow


@dataclass(frozen=True, slots=True)
class MenuMark:
    """A published menu: its digest and the person's newest staff change then (None: none
    yet). The same mark now means the same menu for the same roles."""

    digest: str
    change_id: int | None


async def published_menus(uow: UnitOfWork) -> dict[int, MenuMark]:
    """Per person id: the mark of the menu published last."""
    async with uow.reading():
        rows = await uow.session.execute(
            select(PublishedMenu.person_id, PublishedMenu.digest, PublishedMenu.change_id)
        )
        return {person: MenuMark(digest, change) for person, digest, change in rows}


async def latest_staff_changes(uow: UnitOfWork) -> dict[int, int]:
    """Per person id: the id of their newest StaffChange (people with none are absent)."""
    async with uow.reading():
        rows = await uow.session.execute(
            select(StaffChange.person_id, func.max(col(StaffChange.id))).group_by(
                col(StaffChange.person_id)
            )
        )
        return {person: change for person, change in rows if change is not None}


async def remember_published(uow: UnitOfWork, person_id: int, mark: MenuMark) -> None:
    """Record that `mark` is now the person's published menu."""
    async with uow:
        values = {"digest": mark.digest, "change_id": mark.change_id, "published_at": utcnow()}
        await uow.session.execute(
            uow.insert(PublishedMenu)
            .values(person_id=person_id, **values)
            .on_conflict_do_update(index_elements=["person_id"], set_=values)
        )
        await uow.commit()
