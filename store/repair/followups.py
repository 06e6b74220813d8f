"""Supervisors' follow-ups raised by low ratings, complaints and missed promises.

Who may see and resolve a follow-up is decided when they look or act, from their roles
and scope at that moment: `FollowUp.supervisor_id` only records who was told when it
opened. A supervisor whose role was removed, or who moved elsewhere, loses the building's
follow-ups at once, and whoever supervises the building now sees them.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from store import roles
from store.db import rowcount
from store.domain.notices import notify_audience
from store.domain.scope import grant_covers, grants_of, roles_covering
from store.domain.tickets import load, log_event
from store.errors import InvalidInput, NotFound, NotPermitted, TransitionNotAllowed
from store.lifecycle import Role
from store.models import Building, FollowUp, Room, Ticket
from store.text import normalise
from store.uow import UnitOfWork

RESOLUTION_MAX = 2000


@dataclass(frozen=True, slots=True)
class FollowUpView:
    """A follow-up as the supervisor's list shows it."""

    id: int
    number: str
    kind: str
    text: str | None
    ticket_id: int
    ticket_number: str
    rating: int | None
    opened_at: datetime
    resolved_at: datetime | None
    resolution: str | None


def may_follow_up(person_roles: Set[Role]) -> bool:
    """Whether some role of the person supervises (somewhere: each follow-up's building
    is checked when it is listed or resolved)."""
    return not roles.SUPERVISORS.isdisjoint(person_roles)


def check_supervisor(person_roles: Set[Role]) -> None:
    """NotPermitted unless `may_follow_up`: asked before the list is shown."""
    if not may_follow_up(person_roles):
        raise NotPermitted("supervisors only")


async def open_followups(uow: UnitOfWork, supervisor_id: int) -> list[FollowUpView]:
    """Open follow-ups for buildings the supervisor covers, oldest first."""
    async with uow:
        rows = (
            await uow.session.execute(
                select(FollowUp, Ticket, Building)
                .join(Ticket, col(Ticket.id) == FollowUp.ticket_id)
                .join(Room, col(Room.id) == Ticket.room_id)
                .join(Building, col(Building.id) == Room.building_id)
                .where(col(FollowUp.resolved_at).is_(None))
                .order_by(col(FollowUp.opened_at), col(FollowUp.id))
            )
        ).all()
        # One grants query for the viewer, then scope is checked in memory per row. Who
        # the follow-up was routed to does not count: only who covers the building now.
        grants = [g for g in await grants_of(uow, supervisor_id) if g.role in roles.SUPERVISORS]
        return [
            _view(followup, ticket)
            for followup, ticket, building in rows
            if any(grant_covers(g, building) for g in grants)
        ]


def _view(f: FollowUp, t: Ticket) -> FollowUpView:
    return FollowUpView(
        id=f.id or 0,
        number=f.number,
        kind=f.kind,
        text=f.text,
        ticket_id=t.id or 0,
        ticket_number=t.number,
        rating=t.rating,
        opened_at=f.opened_at,
        resolved_at=f.resolved_at,
        resolution=f.resolution,
    )


async def resolve(uow: UnitOfWork, followup_id: int, supervisor_id: int, note: str) -> None:
    """Close a follow-up with a note; the requester is told the outcome."""
    text = normalise(note)
    if not text:
        raise InvalidInput("a note is required")
    if len(text) > RESOLUTION_MAX:  # it is quoted to the requester within Telegram's 4096
        raise InvalidInput("note too long", limit=RESOLUTION_MAX)
    async with uow:
        followup = await uow.session.get(FollowUp, followup_id)
        if followup is None:
            raise NotFound("followup", followup_id=followup_id)
        ctx = await load(uow, followup.ticket_id, supervisor_id)
        covered = await roles_covering(uow, supervisor_id, ctx.place.building)
        if not covered & roles.SUPERVISORS:
            raise NotPermitted("not your building")
        result = await uow.session.execute(
            update(FollowUp)
            .where(col(FollowUp.id) == followup_id, col(FollowUp.resolved_at).is_(None))
            .values(resolved_at=uow.now(), resolved_by_id=supervisor_id, resolution=text)
        )
        if rowcount(result) != 1:
            raise TransitionNotAllowed("resolve", "resolved")
        log_event(uow, ctx, "followup_resolved", None, None, note=text)
        await notify_audience(
            uow, ctx, "followup.resolved", followup=followup.number, resolution=text
        )
        await uow.commit()
