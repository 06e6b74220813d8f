"""System checks the scheduler runs: missed promises, missed targets, unaccepted offers and
unconfirmed completions, in bounded batches.

Each check marks the ticket in the same transaction as its notices, so a second tick, a
restart or a second instance never tells anyone twice; after downtime every check that
fell due meanwhile fires exactly once.

A tick never holds the database for long: each `*_batch` function takes at most `limit`
due tickets after `after` (in id order), claims them in one statement (a compare-and-set
on the marker column, so of two runs exactly one gets each ticket), does their work and
commits. The scheduler calls it again from the last id until nothing is left, yielding in
between, so users' reads and writes get in after every batch. One ticket's failure is
logged and that ticket is handed back (its marker cleared) for the next tick; the rest of
the batch, and of the tick, goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from store.domain.followups import open_followup
from store.domain.lookups import Place
from store.domain.notices import notify, notify_audience
from store.domain.offers import escalate
from store.domain.scope import responsible_supervisors
from store.domain.tickets import TicketContext, log_event, move
from store.errors import TransitionNotAllowed
from store.lifecycle import Action, Capacity, Status
from store.models import Building, Campus, Category, Room, Ticket
from store.uow import UnitOfWork

log = logging.getLogger(__name__)

# Tickets per batch where a ticket's work is a few rows (set-based), and where it is a
# whole transition with its own reads (one savepoint per ticket).
BATCH = 200
RICH_BATCH = 50
# A resumed job keeps its promise; only completion (or a new promise) settles it.
PROMISE_STATUSES = (Status.DEFERRED, Status.IN_PROGRESS)
# Deferred jobs are judged by their promised date instead of the category's target, and
# so are resumed ones (in progress with a promise): `flag_overdue` skips any ticket that
# carries a promise, `escalate_missed_promises` handles it.
TARGET_STATUSES = (Status.ASSIGNED, Status.IN_PROGRESS, Status.DISPATCHING)


@dataclass(slots=True)
class Batch:
    """What one committed batch did, and where the next one starts."""

    numbers: list[str] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    last_id: int | None = None  # None: nothing (more) was due


BatchStep = Callable[..., Awaitable[Batch]]


# --- the checks ---------------------------------------------------------------------------


async def flag_overdue_batch(
    uow: UnitOfWork, *, after: int = 0, limit: int | None = BATCH
) -> Batch:
    """Open tickets past their completion target: flagged, and the supervisor told once."""
    async with uow:
        now = uow.now()
        due = [
            col(Ticket.status).in_(TARGET_STATUSES),
            col(Ticket.due_at) < now,
            col(Ticket.overdue_at).is_(None),
            col(Ticket.promised_at).is_(None),
        ]
        batch, claimed = await _claim_batch(uow, due, after, limit, overdue_at=now)
        contexts = await _contexts(uow, claimed)
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
        await _unclaim(uow, batch.failed, overdue_at=None)
        await uow.commit()
    return batch


async def escalate_missed_promises_batch(
    uow: UnitOfWork, *, after: int = 0, limit: int | None = RICH_BATCH
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
        batch, claimed = await _claim_batch(uow, due, after, limit, promise_missed_at=now)

        async def missed(ctx: TicketContext) -> None:
            promised = ctx.ticket.promised_at.isoformat() if ctx.ticket.promised_at else None
            log_event(uow, ctx, "promise_missed", None, None, note=promised)
            followup = await open_followup(uow, ctx, "missed_promise", ctx.ticket.defer_reason)
            await notify_audience(
                uow, ctx, "ticket.promise_missed", promised_at=promised, followup=followup
            )

        await _each(uow, claimed, batch, missed, "promise missed")
        await _unclaim(uow, batch.failed, promise_missed_at=None)
        await uow.commit()
    return batch


async def escalate_overdue_offers_batch(
    uow: UnitOfWork, *, after: int = 0, limit: int | None = RICH_BATCH
) -> Batch:
    """Dispatching tickets past their accept target go to the dispatchers, each once."""
    async with uow:
        now = uow.now()
        due = [
            col(Ticket.status) == Status.DISPATCHING,
            col(Ticket.accept_due_at) < now,
            col(Ticket.escalated_at).is_(None),
        ]
        batch, claimed = await _claim_batch(uow, due, after, limit, escalated_at=now)

        async def escalated(ctx: TicketContext) -> None:
            await escalate(uow, ctx, reason="accept_overdue")

        await _each(uow, claimed, batch, escalated, "escalating an unaccepted offer")
        await _unclaim(uow, batch.failed, escalated_at=None)
        await uow.commit()
    return batch


async def auto_close_batch(
    uow: UnitOfWork, *, after: int = 0, limit: int | None = RICH_BATCH
) -> Batch:
    """Completed tickets nobody confirmed close after N days, unrated. The move itself is
    the claim (a compare-and-set on the status): a ticket someone else moved is skipped."""
    async with uow:
        cutoff = uow.now() - uow.policy.auto_close_after
        due = [col(Ticket.status) == Status.COMPLETED, col(Ticket.completed_at) < cutoff]
        ids = await _due_ids(uow, due, after, limit)
        batch = Batch(last_id=ids[-1] if ids else None)

        async def closed(ctx: TicketContext) -> None:
            await move(uow, ctx, Action.AUTO_CLOSE, closed_at=uow.now())
            await notify_audience(uow, ctx, "ticket.closed", auto=True)

        await _each(uow, ids, batch, closed, "auto-closing")
        await uow.commit()
    return batch


# The whole backlog in one unit of work: for callers that want one answer (tests, tools).
async def flag_overdue(uow: UnitOfWork) -> list[str]:
    """Every overdue ticket flagged at once; see `flag_overdue_batch`."""
    return (await flag_overdue_batch(uow, limit=None)).numbers


async def escalate_missed_promises(uow: UnitOfWork) -> list[str]:
    """Every missed promise at once; see `escalate_missed_promises_batch`."""
    return (await escalate_missed_promises_batch(uow, limit=None)).numbers


# --- batching -----------------------------------------------------------------------------


async def _due_ids(
    uow: UnitOfWork, due: list[ColumnElement[bool]], after: int, limit: int | None
) -> list[int]:
    query = select(Ticket.id).where(*due, col(Ticket.id) > after).order_by(col(Ticket.id))
    if limit is not None:
        query = query.limit(limit)
    return [i for i in (await uow.session.execute(query)).scalars() if i is not None]


async def _claim_batch(
    uow: UnitOfWork, due: list[ColumnElement[bool]], after: int, limit: int | None, **mark: Any
) -> tuple[Batch, list[int]]:
    """The next due ids after `after`, marked in one statement; only those still due when
    the UPDATE runs are returned (another run may have taken some: PostgreSQL re-checks
    the condition after the other's commit, SQLite serialises writers)."""
    ids = await _due_ids(uow, due, after, limit)
    batch = Batch(last_id=ids[-1] if ids else None)
    if not ids:
        return batch, []
    result = await uow.session.execute(
        update(Ticket)
        .where(col(Ticket.id).in_(ids), *due)
        .values(version=col(Ticket.version) + 1, **mark)  # a write like any other
        .returning(col(Ticket.id))
        .execution_options(synchronize_session=False)
    )
    claimed = sorted(i for i in result.scalars().all() if i is not None)
    return batch, claimed


async def _unclaim(uow: UnitOfWork, ids: list[int], **unmark: Any) -> None:
    """Hand failed tickets back: due again at the next tick."""
    if ids:
        await uow.session.execute(
            update(Ticket)
            .where(col(Ticket.id).in_(ids))
            .values(version=col(Ticket.version) + 1, **unmark)
            .execution_options(synchronize_session=False)
        )


async def _contexts(uow: UnitOfWork, ids: list[int]) -> dict[int, TicketContext]:
    """The tickets with their places and categories, in one query (as `load` would)."""
    if not ids:
        return {}
    rows = await uow.session.execute(
        # SQLAlchemy's select: sqlmodel's typed overloads stop at four entities.
        sa_select(Ticket, Room, Building, Campus, Category)
        .join(Room, col(Room.id) == Ticket.room_id)
        .join(Building, col(Building.id) == Room.building_id)
        .join(Campus, col(Campus.id) == Building.campus_id)
        .join(Category, col(Category.id) == Ticket.category_id)
        .where(col(Ticket.id).in_(ids))
        # Fresh from the row: the claim just changed it (and its version) behind the ORM.
        .execution_options(populate_existing=True)
    )
    system = frozenset({Capacity.SYSTEM})
    return {
        ticket.id: TicketContext(ticket, Place(room, building, campus), category, None, system)
        for ticket, room, building, campus, category in rows.all()
        if ticket.id is not None
    }


async def _each(
    uow: UnitOfWork,
    ids: list[int],
    batch: Batch,
    work: Callable[[TicketContext], Awaitable[None]],
    what: str,
) -> None:
    """Run `work` per ticket in its own savepoint: a failing ticket is rolled back alone
    (and handed back by the caller); one another decision moved meanwhile is skipped."""
    contexts = await _contexts(uow, ids)
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
