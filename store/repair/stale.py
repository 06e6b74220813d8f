"""The stale list: tickets left open far past their targets (store.domain.targets),
out of the everyday queues, read a page at a time by id and closed as forgotten or revived
for a fresh round by a dispatcher.

A page is named by an id range (the list is read by keyset), so a button stays small and
the server re-reads the range: only what is still stale and in the dispatcher's scope
changes, each ticket through the lifecycle (authorised, compare-and-set, an event each).
Each ticket is its own savepoint: one that changed meanwhile (or is no longer the
dispatcher's to move) is left as it is and counted, and the rest of the page goes on.
People hear of it as of any cancel or release: the requester side gets a notice, a
holder is told the job left their list, pending offers and reminders are withdrawn, and
a revived ticket is offered to the technicians on duty in a fresh round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col

from store import roles
from store.domain.lookups import category_targets
from store.domain.notices import notify, notify_audience, withdraw_scheduled
from store.domain.offers import offer_to_on_duty_technicians, withdraw_offers
from store.domain.targets import STALE_AFTER, stale_clause
from store.domain.ticket_views import dispatcher_scope, ticket_views
from store.domain.tickets import TicketContext, load, move
from store.errors import NotFound, NotPermitted, TransitionNotAllowed
from store.lifecycle import Action
from store.models import Building, Room, Ticket
from store.uow import UnitOfWork
from store.views import TicketView, Window

# One button press changes at most this many tickets: a page of the list, with room.
MAX_BULK = 50
CLOSE_NOTE = f"stale: open {STALE_AFTER.days}+ days past its target"
REVIVE_NOTE = "revived from stale"
# The list's count stops here ("1000+"): counting further would read the whole backlog.
COUNT_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Bulk:
    """What one press did: tickets moved, and tickets left as they were because they had
    changed since the list was read (or were no longer this dispatcher's to move)."""

    done: int
    skipped: int = 0


async def close_stale(uow: UnitOfWork, dispatcher_id: int, *, after: int, upto: int) -> Bulk:
    """Close (cancel, as forgotten) the stale tickets with after < id <= upto."""
    return await _each(uow, dispatcher_id, after, upto, Action.CLOSE_STALE)


async def revive_stale(uow: UnitOfWork, dispatcher_id: int, *, after: int, upto: int) -> Bulk:
    """Put the stale tickets with after < id <= upto back in the queue, as a fresh round
    with targets from now (as a reopened ticket gets), offered to who is on duty."""
    return await _each(uow, dispatcher_id, after, upto, Action.REVIVE)


async def _each(
    uow: UnitOfWork, dispatcher_id: int, after: int, upto: int, action: Action
) -> Bulk:
    done = skipped = 0
    async with uow:
        scope = await dispatcher_scope(uow, dispatcher_id, roles.DISPATCHERS)
        ids = await stale_ids(uow, scope, after=after, upto=upto, cap=MAX_BULK)
        for ticket_id in ids:
            try:
                async with uow.session.begin_nested():
                    ctx = await load(uow, ticket_id, dispatcher_id)
                    if action is Action.REVIVE:
                        await _revive(uow, ctx)
                    else:
                        await _close(uow, ctx)
                done += 1
            except (TransitionNotAllowed, NotPermitted, NotFound):
                # TicketChanged is a TransitionNotAllowed: someone moved it meanwhile.
                skipped += 1
        await uow.commit()
    return Bulk(done, skipped)


async def _close(uow: UnitOfWork, ctx: TicketContext) -> None:
    holder = ctx.ticket.assignee_id
    # move() authorises (dispatcher capacity for this ticket) and compares-and-sets.
    await move(uow, ctx, Action.CLOSE_STALE, note=CLOSE_NOTE)
    await withdraw_scheduled(uow, ctx.id)
    await withdraw_offers(uow, ctx)
    await notify_audience(uow, ctx, "ticket.closed_stale", days=STALE_AFTER.days)
    if holder is not None:
        notify(uow, holder, "job.cancelled", {**ctx.summary(), "reason": ""}, ticket_id=ctx.id)


async def _revive(uow: UnitOfWork, ctx: TicketContext) -> None:
    holder = ctx.ticket.assignee_id
    now = uow.now()
    accept_in, complete_in = category_targets(uow, ctx.category, ctx.ticket.urgency)
    changes: dict[str, Any] = {
        "assignee_id": None,
        "accepted_at": None,
        "started_at": None,
        "dispatched_at": now,
        "promised_at": None,
        "defer_reason": None,
        "promise_missed_at": None,
        "overdue_at": None,
        "visit_at": None,
        "visit_confirmed": False,
        "escalated_at": None,
        "accept_due_at": now + accept_in,
        "due_at": now + complete_in,
    }
    await move(uow, ctx, Action.REVIVE, note=REVIVE_NOTE, **changes)
    await withdraw_scheduled(uow, ctx.id)
    await withdraw_offers(uow, ctx)
    if holder is not None:
        notify(uow, holder, "job.unassigned", ctx.summary(), ticket_id=ctx.id)
    await notify_audience(uow, ctx, "ticket.released")
    await offer_to_on_duty_technicians(uow, ctx, fresh=True)


async def stale_tickets(
    uow: UnitOfWork, person_id: int, *, after: int = 0, limit: int = 10
) -> Window[TicketView]:
    """The stale list in the dispatcher's scope, oldest first, `limit` tickets after id
    `after` (keyset: the list is as long as the office forgot tickets)."""
    async with uow:
        scope = await dispatcher_scope(uow, person_id, roles.DISPATCHERS)
        where: list[Any] = [scope, stale_clause(uow.now())]
        counted = (
            await uow.session.execute(
                sa_select(func.count()).select_from(
                    sa_select(col(Ticket.id))
                    .join(Room, col(Room.id) == Ticket.room_id)
                    .join(Building, col(Building.id) == Room.building_id)
                    .where(*where)
                    .limit(COUNT_LIMIT + 1)
                    .subquery()
                )
            )
        ).scalar_one()
        items = await ticket_views(
            uow,
            [*where, col(Ticket.id) > after],
            order=(col(Ticket.id),),
            limit=limit + 1,
            with_photos=False,
        )
        return Window(
            items[:limit],
            min(int(counted), COUNT_LIMIT),
            counted > COUNT_LIMIT,
            after > 0,
            len(items) > limit,
        )


async def stale_ids(uow: UnitOfWork, scope: Any, *, after: int, upto: int, cap: int) -> list[int]:
    """Ids of the stale tickets in scope with after < id <= upto (a page of the stale
    list as the dispatcher saw it), at most `cap`, oldest first."""
    rows = await uow.session.execute(
        sa_select(col(Ticket.id))
        .join(Room, col(Room.id) == Ticket.room_id)
        .join(Building, col(Building.id) == Room.building_id)
        .where(scope, stale_clause(uow.now()), col(Ticket.id) > after, col(Ticket.id) <= upto)
        .order_by(col(Ticket.id))
        .limit(cap)
    )
    return [int(i) for i in rows.scalars() if i is not None]
