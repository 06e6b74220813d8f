"""The stale list: tickets left open far past their targets (store.services.targets),
out of the everyday queues, read a page at a time by id and closed as forgotten or revived
for a fresh round by a dispatcher.

A page is named by an id range (the list is read by keyset), so a button stays small and
the server re-reads the range: only what is still stale and in the dispatcher's scope
changes, each ticket through the lifecycle (authorised, compare-and-set, an event each).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col

from store.lifecycle import Action, Role
from store.models import Building, Room, Ticket
from store.services._common import category_targets, load, move
from store.services.queries import dispatcher_scope, ticket_views
from store.services.targets import STALE_AFTER, stale_clause
from store.uow import UnitOfWork
from store.views import TicketView, Window

# One button press changes at most this many tickets: a page of the list, with room.
MAX_BULK = 50
# The list's count stops here ("1000+"): counting further would read the whole backlog.
COUNT_LIMIT = 1000


async def close_stale(uow: UnitOfWork, dispatcher_id: int, *, after: int, upto: int) -> int:
    """Close (cancel, as forgotten) the stale tickets with after < id <= upto; how many."""
    note = f"stale: open {STALE_AFTER.days}+ days past its target"
    return await _each(uow, dispatcher_id, after, upto, Action.CLOSE_STALE, note)


async def revive_stale(uow: UnitOfWork, dispatcher_id: int, *, after: int, upto: int) -> int:
    """Put the stale tickets with after < id <= upto back in the queue, as a fresh round
    with targets from now (as a reopened ticket gets); how many."""
    return await _each(uow, dispatcher_id, after, upto, Action.REVIVE, "revived from stale")


async def _each(
    uow: UnitOfWork, dispatcher_id: int, after: int, upto: int, action: Action, note: str
) -> int:
    async with uow:
        scope = await dispatcher_scope(uow, dispatcher_id, {Role.DISPATCHER, Role.ADMIN})
        ids = await stale_ids(uow, scope, after=after, upto=upto, cap=MAX_BULK)
        now = uow.now()
        for ticket_id in ids:
            ctx = await load(uow, ticket_id, dispatcher_id)
            changes: dict[str, Any] = {}
            if action is Action.REVIVE:
                accept_in, complete_in = category_targets(uow, ctx.category, ctx.ticket.urgency)
                changes = {
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
            # move() authorises (dispatcher capacity for this ticket) and compares-and-sets.
            await move(uow, ctx, action, note=note, **changes)
        await uow.commit()
        return len(ids)


async def stale_tickets(
    uow: UnitOfWork, person_id: int, *, after: int = 0, limit: int = 10
) -> Window[TicketView]:
    """The stale list in the dispatcher's scope, oldest first, `limit` tickets after id
    `after` (keyset: the list is as long as the office forgot tickets)."""
    async with uow:
        scope = await dispatcher_scope(uow, person_id, {Role.DISPATCHER, Role.ADMIN})
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
