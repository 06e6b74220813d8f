"""Notices: outbox rows written inside the caller's transaction, and who hears what.

A notice is queued in the same transaction as the change it reports, so a change that is
refused or rolled back tells nobody anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from store import roles
from store.domain.scope import staff_covering
from store.domain.tickets import TicketContext
from store.models import Outbox, Person, Ticket, TicketFollower
from store.uow import UnitOfWork

# Notices written ahead of time for a deferred job; withdrawn when the promise changes.
SCHEDULED_KINDS = ("job.promise_reminder", "job.promise_due")


def notify(
    uow: UnitOfWork,
    recipient_id: int,
    kind: str,
    payload: dict[str, Any],
    *,
    ticket_id: int | None = None,
    due_at: datetime | None = None,
) -> None:
    """Queue one notice in the outbox, inside the caller's transaction."""
    now = uow.now()
    uow.session.add(
        Outbox(
            recipient_id=recipient_id,
            ticket_id=ticket_id,
            kind=kind,
            payload=payload,
            created_at=now,
            due_at=due_at or now,
        )
    )


async def withdraw_scheduled(uow: UnitOfWork, ticket_id: int) -> None:
    """Void not-yet-sent reminders of a ticket (new promise, completed, released...)."""
    await uow.session.execute(
        update(Outbox)
        .where(
            col(Outbox.ticket_id) == ticket_id,
            col(Outbox.kind).in_(SCHEDULED_KINDS),
            col(Outbox.sent_at).is_(None),
            col(Outbox.failed_at).is_(None),
        )
        .values(failed_at=uow.now(), last_error="withdrawn: the promise changed")
        .execution_options(synchronize_session=False)
    )


async def ticket_audience(uow: UnitOfWork, ticket: Ticket) -> list[int]:
    """Who hears about a ticket's progress: its requester, its followers, and the filer
    while the requester cannot be reached on Telegram (a booth ticket not yet claimed);
    nobody in the requester's place once their data was erased."""
    requester = await uow.session.get(Person, ticket.requester_id)
    reachable = requester is not None and requester.telegram_id is not None
    ids: list[int] = []
    if requester is None or requester.erased_at is None:
        # An erased requester ("former user") hears nothing more, nor does the filer in
        # their place.
        ids.append(ticket.requester_id if reachable else ticket.filed_by_id)
    rows = await uow.session.execute(
        select(TicketFollower.person_id).where(TicketFollower.ticket_id == ticket.id)
    )
    ids.extend(pid for pid in rows.scalars() if pid not in ids)
    return ids


async def notify_audience(uow: UnitOfWork, ctx: TicketContext, kind: str, **extra: Any) -> None:
    """Tell the requester side about a ticket event. `is_requester` lets the transport
    offer requester-only buttons (rating, "not fixed") to the requester alone."""
    payload = {**ctx.summary(), **extra}
    audience = ctx.audience if ctx.audience is not None else await ticket_audience(uow, ctx.ticket)
    for person_id in audience:
        mine = person_id == ctx.ticket.requester_id
        notify(uow, person_id, kind, {**payload, "is_requester": mine}, ticket_id=ctx.id)


async def notify_dispatchers(
    uow: UnitOfWork, ctx: TicketContext, kind: str, **extra: Any
) -> list[int]:
    """Tell every dispatcher (or admin) covering the ticket's building."""
    ids = await staff_covering(uow, ctx.place.building, roles.DISPATCHERS)
    payload = {**ctx.summary(), **extra}
    for person_id in ids:
        notify(uow, person_id, kind, payload, ticket_id=ctx.id)
    return ids
