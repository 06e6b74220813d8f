"""Filing a ticket: validate, number it, log it, and hand it to dispatch at once."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from store.domain.filing import NewTicket, file_in, filed_as, filed_view
from store.domain.ticket_views import ticket_view
from store.domain.tickets import load, log_event
from store.errors import (
    TransitionNotAllowed,
)
from store.intake import drafts
from store.lifecycle import Status
from store.models import Ticket, TicketFollower
from store.uow import UnitOfWork
from store.views import ReportResult


async def report(
    uow: UnitOfWork, new: NewTicket, *, draft_owner: int | None = None
) -> ReportResult:
    """File a ticket (received), then dispatch it (offers or the queue) in one transaction.

    With a `submission_key`, filing is idempotent: a submission filed before gives back
    that ticket (`already_filed`), also when two Confirms race (the unique key turns the
    second INSERT into the lookup). `draft_owner`'s draft with that key becomes the "filed"
    marker in the same transaction, so there is never a ticket with its draft still open."""
    async with uow:
        try:
            return await _file_once(uow, new, draft_owner)
        except IntegrityError:
            if new.submission_key is None:
                raise
            await uow.session.rollback()  # the other Confirm won: answer with its ticket
            earlier = await filed_as(uow, new.submission_key)
            if earlier is None:
                raise
            return ReportResult(await ticket_view(uow, earlier), already_filed=True)


async def _file_once(uow: UnitOfWork, new: NewTicket, draft_owner: int | None) -> ReportResult:
    earlier = await filed_as(uow, new.submission_key)
    if earlier is not None:
        return ReportResult(await ticket_view(uow, earlier), already_filed=True)
    filed = await file_in(uow, new)
    if draft_owner is not None and new.submission_key is not None:
        await drafts.mark_filed(uow, draft_owner, new.submission_key, filed.id, filed.number)
    view = await filed_view(uow, filed, new)  # before the commit: no second transaction
    await uow.commit()
    return ReportResult(view, filed.offered, escalated=not filed.offered)


async def follow(uow: UnitOfWork, ticket_id: int, person_id: int) -> None:
    """Follow an existing open ticket instead of filing a duplicate: get its notices too."""
    async with uow:
        ctx = await load(uow, ticket_id, person_id)
        if ctx.ticket.status in (Status.CLOSED, Status.CANCELLED):
            raise TransitionNotAllowed("follow", ctx.ticket.status)
        if ctx.ticket.requester_id == person_id:
            return
        if await uow.session.get(TicketFollower, (ticket_id, person_id)) is None:
            try:
                async with uow.session.begin_nested():
                    uow.session.add(
                        TicketFollower(ticket_id=ticket_id, person_id=person_id, since=uow.now())
                    )
            except IntegrityError:
                return  # a double tap: the other press is already following
            log_event(uow, ctx, "follow", None, None)
        await uow.commit()


async def last_room(uow: UnitOfWork, person_id: int) -> int | None:
    """The room of the person's newest own report (ix_ticket_requester_newest), if any."""
    async with uow.reading():
        stmt = (
            select(Ticket.room_id)
            .where(Ticket.requester_id == person_id)
            .order_by(col(Ticket.id).desc())
            .limit(1)
        )
        found: int | None = (await uow.session.execute(stmt)).scalar_one_or_none()
        return found
