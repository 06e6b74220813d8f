"""System checks the scheduler runs: missed promises, missed targets, unaccepted offers and
unconfirmed completions, in bounded batches.

Each check marks the ticket in the same transaction as its notices, so a second tick, a
restart or a second instance never tells anyone twice; after downtime every check that
fell due meanwhile fires exactly once.

A tick never holds the database for long: each `*_batch` function takes at most `limit`
due tickets after `after` (in id order), claims them in one statement through the ticket
aggregate (`claim_due`: a compare-and-set on the due condition, so of two runs exactly one
gets each ticket), does their work and commits. The scheduler calls it again from the
last id until nothing is left, yielding in between, so users' reads and writes get in
after every batch. One ticket's failure is logged and that ticket is handed back (its
marker cleared, `unclaim`) for the next tick; the rest of the batch, and of the tick,
goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlmodel import col

from store.domain.followups import open_followup
from store.domain.notices import notify, notify_audience
from store.domain.offers import escalate
from store.domain.scope import responsible_supervisors
from store.domain.tickets import (
    Batch,
    TicketContext,
    claim_due,
    due_ids,
    load_many,
    log_event,
    move,
    unclaim,
)
from store.errors import TransitionNotAllowed
from store.lifecycle import Action, Status
from store.models import Ticket
from store.uow import UnitOfWork

log = logging.getLogger(__name__)

# Tickets per batch where a ticket's work is a few rows (set-based), and where it is a
# whole transition with its own reads (one savepoint per ticket).
BATCH = 200
RICH_BATCH = 50
# A resumed job keeps its promise; only completion (or a new promise) settles it.
PROMISE_STATUSES = (Status.DEFERRED, Status.IN_PROGRESS)
# Deferred jobs are judged by their promised date instead of the category's target, and
# so are resumed ones (in progress with a promise): `flag_overdue_batch` skips any ticket
# that carries a promise, `escalate_missed_promises_batch` handles it.
TARGET_STATUSES = (Status.ASSIGNED, Status.IN_PROGRESS, Status.DISPATCHING)

BatchStep = Callable[..., Awaitable[Batch]]


# --- the checks ---------------------------------------------------------------------------


async def flag_overdue_batch(uow: UnitOfWork, *, after: int = 0, limit: int = BATCH) -> Batch:
    """Open tickets past their completion target: flagged, and the supervisor told once."""
    async with uow:
        now = uow.now()
        due = [
            col(Ticket.status).in_(TARGET_STATUSES),
            col(Ticket.due_at) < now,
            col(Ticket.overdue_at).is_(None),
            col(Ticket.promised_at).is_(None),
        ]
        batch, claimed = await claim_due(uow, due, after, limit, overdue_at=now)
        contexts = await load_many(uow, claimed)
        # One lookup per building, before any row is added: a failure in a ticket's own
        # work below is then plain Python, and cannot leave half of it in the session.
        supervisors = {
            b.id: await responsible_supervisors(uow, b)
            for b in {c.place.building.id: c.place.building for c in contexts.values()}.values()
        }
        for ticket_id in claimed:
            try:
                ctx = contexts[ticket_id]
                payload = {
                    **ctx.summary(),
                    "status": str(ctx.ticket.status),
                    "due_at": ctx.ticket.due_at.isoformat() if ctx.ticket.due_at else None,
                }
                log_event(uow, ctx, "overdue", None, None)
                for supervisor_id in supervisors[ctx.place.building.id]:
                    notify(uow, supervisor_id, "ticket.overdue", payload, ticket_id=ticket_id)
                batch.numbers.append(ctx.ticket.number)
            except Exception:
                log.exception("sla: flagging ticket %s overdue failed; next tick", ticket_id)
                batch.failed.append(ticket_id)
        await unclaim(uow, batch.failed, overdue_at=None)
        await uow.commit()
    return batch


async def escalate_missed_promises_batch(
    uow: UnitOfWork, *, after: int = 0, limit: int = RICH_BATCH
) -> Batch:
    """Promised dates that passed with the job not complete: supervisor follow-up, and the
    requester is told the date was missed and what happens next."""
    async with uow:
        now = uow.now()
        due = [
            col(Ticket.status).in_(PROMISE_STATUSES),
            col(Ticket.promised_at) < now,
            col(Ticket.promise_missed_at).is_(None),
        ]
        batch, claimed = await claim_due(uow, due, after, limit, promise_missed_at=now)

        async def missed(ctx: TicketContext) -> None:
            promised = ctx.ticket.promised_at.isoformat() if ctx.ticket.promised_at else None
            log_event(uow, ctx, "promise_missed", None, None, note=promised)
            followup = await open_followup(uow, ctx, "missed_promise", ctx.ticket.defer_reason)
            await notify_audience(
                uow, ctx, "ticket.promise_missed", promised_at=promised, followup=followup
            )

        await _each(uow, claimed, batch, missed, "promise missed")
        await unclaim(uow, batch.failed, promise_missed_at=None)
        await uow.commit()
    return batch


async def escalate_overdue_offers_batch(
    uow: UnitOfWork, *, after: int = 0, limit: int = RICH_BATCH
) -> Batch:
    """Dispatching tickets past their accept target go to the dispatchers, each once."""
    async with uow:
        now = uow.now()
        due = [
            col(Ticket.status) == Status.DISPATCHING,
            col(Ticket.accept_due_at) < now,
            col(Ticket.escalated_at).is_(None),
        ]
        batch, claimed = await claim_due(uow, due, after, limit, escalated_at=now)

        async def escalated(ctx: TicketContext) -> None:
            await escalate(uow, ctx, reason="accept_overdue")

        await _each(uow, claimed, batch, escalated, "escalating an unaccepted offer")
        await unclaim(uow, batch.failed, escalated_at=None)
        await uow.commit()
    return batch


async def auto_close_batch(uow: UnitOfWork, *, after: int = 0, limit: int = RICH_BATCH) -> Batch:
    """Completed tickets nobody confirmed close after N days, unrated. The move itself is
    the claim (a compare-and-set on the status): a ticket someone else moved is skipped."""
    async with uow:
        cutoff = uow.now() - uow.policy.auto_close_after
        due = [col(Ticket.status) == Status.COMPLETED, col(Ticket.completed_at) < cutoff]
        ids = await due_ids(uow, due, after, limit)
        batch = Batch(last_id=ids[-1] if ids else None)

        async def closed(ctx: TicketContext) -> None:
            await move(uow, ctx, Action.AUTO_CLOSE, closed_at=uow.now())
            await notify_audience(uow, ctx, "ticket.closed", auto=True)

        await _each(uow, ids, batch, closed, "auto-closing")
        await uow.commit()
    return batch


# --- batching -----------------------------------------------------------------------------


async def _each(
    uow: UnitOfWork,
    ids: list[int],
    batch: Batch,
    work: Callable[[TicketContext], Awaitable[None]],
    what: str,
) -> None:
    """Run `work` per ticket in its own savepoint: a failing ticket is rolled back alone
    (and handed back by the caller); one another decision moved meanwhile is skipped."""
    contexts = await load_many(uow, ids)
    for ticket_id in ids:
        try:
            async with uow.session.begin_nested():
                ctx = contexts.get(ticket_id)
                if ctx is None:
                    raise LookupError(f"ticket {ticket_id} has no room or category")
                await work(ctx)
            batch.numbers.append(ctx.ticket.number)
        except TransitionNotAllowed:
            continue  # someone moved it meanwhile (closed, rated, reopened): nothing to do
        except Exception:
            log.exception("sla: %s ticket %s failed; next tick", what, ticket_id)
            batch.failed.append(ticket_id)
