"""The stale list's bulk actions: tickets left open far past their targets are closed as
forgotten or revived for a fresh round, a page at a time, by a dispatcher.

A page is named by an id range (the list is read by keyset), so a button stays small and
the server re-reads the range: only what is still stale and in the dispatcher's scope
changes, each ticket through the lifecycle (authorised, compare-and-set, an event each).
"""

from __future__ import annotations

from typing import Any

from store.lifecycle import Action, Role
from store.services._common import category_targets, load, move
from store.services.queries import STALE_AFTER, dispatcher_scope, stale_ids
from store.uow import UnitOfWork

# One button press changes at most this many tickets: a page of the list, with room.
MAX_BULK = 50


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
