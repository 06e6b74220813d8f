"""System checks the scheduler runs: missed promises and missed completion targets.

Each check marks the ticket in the same transaction as its notices, so a second tick, a
restart or a second instance never tells anyone twice; after downtime every check that
fell due meanwhile fires exactly once.
"""

from __future__ import annotations

from sqlmodel import col

from store.lifecycle import Status
from store.models import Ticket
from store.services._common import (
    claim_due_tickets,
    load,
    log_event,
    notify,
    notify_audience,
    open_followup,
    responsible_supervisors,
)
from store.uow import UnitOfWork

# A resumed job keeps its promise; only completion (or a new promise) settles it.
PROMISE_STATUSES = (Status.DEFERRED, Status.IN_PROGRESS)
# Deferred jobs are judged by their promised date instead of the category's target, and
# so are resumed ones (in progress with a promise): `flag_overdue` skips any ticket that
# carries a promise, `escalate_missed_promises` handles it.
TARGET_STATUSES = (Status.ASSIGNED, Status.IN_PROGRESS, Status.DISPATCHING)


async def escalate_missed_promises(uow: UnitOfWork) -> list[str]:
    """Promised dates that passed with the job not complete: supervisor follow-up, and the
    requester is told the date was missed and what happens next."""
    async with uow:
        now = uow.now()
        due = [
            col(Ticket.status).in_(PROMISE_STATUSES),
            col(Ticket.promised_at) < now,
            col(Ticket.promise_missed_at).is_(None),
        ]
        numbers = []
        for ticket_id in await claim_due_tickets(uow, due, promise_missed_at=now):
            ctx = await load(uow, ticket_id, None)
            promised = ctx.ticket.promised_at.isoformat() if ctx.ticket.promised_at else None
            log_event(uow, ctx, "promise_missed", None, None, note=promised)
            followup = await open_followup(uow, ctx, "missed_promise", ctx.ticket.defer_reason)
            await notify_audience(
                uow, ctx, "ticket.promise_missed", promised_at=promised, followup=followup
            )
            numbers.append(ctx.ticket.number)
        await uow.commit()
        return numbers


async def flag_overdue(uow: UnitOfWork) -> list[str]:
    """Open tickets past their completion target: flagged, and the supervisor told once."""
    async with uow:
        now = uow.now()
        due = [
            col(Ticket.status).in_(TARGET_STATUSES),
            col(Ticket.due_at) < now,
            col(Ticket.overdue_at).is_(None),
            col(Ticket.promised_at).is_(None),
        ]
        numbers = []
        for ticket_id in await claim_due_tickets(uow, due, overdue_at=now):
            ctx = await load(uow, ticket_id, None)
            log_event(uow, ctx, "overdue", None, None)
            payload = {
                **ctx.summary(),
                "status": str(ctx.ticket.status),
                "due_at": ctx.ticket.due_at.isoformat() if ctx.ticket.due_at else None,
            }
            for supervisor_id in await responsible_supervisors(uow, ctx.place.building):
                notify(uow, supervisor_id, "ticket.overdue", payload, ticket_id=ticket_id)
            numbers.append(ctx.ticket.number)
        await uow.commit()
        return numbers
