"""Tickets left open far past their targets leave the everyday queues and job lists for
the stale list, where a dispatcher closes or revives them a page at a time."""

from __future__ import annotations

from datetime import timedelta

from store.lifecycle import Status
from store.services import dispatch, queries, stale, work
from store.services.queries import QueueFilter
from store.services.targets import STALE_AFTER
from store.uow import Store
from store.views import TicketView
from tests.integration.ticket_world import Env, file_ticket, make_env, set_on_duty


async def _numbers(env: Env, person: int, flt: QueueFilter) -> list[str]:
    page = await queries.dispatcher_queue(env.store.uow(), person, flt, limit=50)
    return [v.number for v in page.items]


async def _stale(env: Env, person: int, after: int = 0) -> list[str]:
    return [
        v.number for v in (await stale.stale_tickets(env.store.uow(), person, after=after)).items
    ]


async def _view(env: Env, ticket_id: int) -> TicketView:
    async with env.store.uow() as uow:
        return await queries.ticket_view(uow, ticket_id)


async def test_forgotten_tickets_move_to_the_stale_list_and_back(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    await set_on_duty(st, [w.tom, w.ann, w.bob], False)
    held = (await file_ticket(st, w)).ticket  # water: 4 h target
    await dispatch.assign(st.uow(), held.id, w.dana, w.tom)
    await work.start(st.uow(), held.id, w.tom)
    waiting = (await file_ticket(st, w)).ticket
    south = (await file_ticket(st, w, room=w.room_c1)).ticket  # outside Dana's campus
    clock.advance(STALE_AFTER + timedelta(days=1))
    fresh = (await file_ticket(st, w)).ticket

    # Out of every everyday view, and of Tom's jobs; on the stale list, oldest first.
    assert await _numbers(env, w.dana, QueueFilter.ALL) == [fresh.number]
    assert await _numbers(env, w.dana, QueueFilter.OVERDUE) == []
    assert await _numbers(env, w.dana, QueueFilter.UNASSIGNED) == [fresh.number]
    assert [j.id for j in await queries.technician_jobs(st.uow(), w.tom)] == []
    assert await _stale(env, w.dana) == [held.number, waiting.number]
    assert await _stale(env, w.dana, after=held.id) == [waiting.number]
    assert await _stale(env, w.ada) == [held.number, waiting.number, south.number]
    # A day short of the limit, a late ticket is still everyday work.
    clock.advance(timedelta(days=-1, hours=-1))
    assert held.number in await _numbers(env, w.dana, QueueFilter.OVERDUE)
    clock.advance(timedelta(days=1, hours=1))

    # Dana revives the page with Tom's job: back in the queue, unassigned, fresh targets.
    assert await stale.revive_stale(st.uow(), w.dana, after=0, upto=held.id) == 1
    view = await _view(env, held.id)
    assert (view.status, view.assignee_id) == (Status.DISPATCHING, None)
    assert await _numbers(env, w.dana, QueueFilter.UNASSIGNED) == [held.number, fresh.number]
    # Her page of the rest (up to the South ticket's id): only her campus is closed.
    assert await stale.close_stale(st.uow(), w.dana, after=held.id, upto=south.id) == 1
    assert (await _view(env, waiting.id)).status == Status.CANCELLED
    assert (await _view(env, south.id)).status == Status.DISPATCHING
    events = await queries.timeline(st.uow(), waiting.id, w.dana)
    assert (events[-1].action, events[-1].to_status, events[-1].actor_name) == (
        "close_stale",
        Status.CANCELLED,
        "Dana",
    )
    assert "90" in (events[-1].note or "")
    assert await _stale(env, w.dana) == []
    # A second press of the same (now old) button changes nothing.
    assert await stale.close_stale(st.uow(), w.dana, after=held.id, upto=south.id) == 0
    assert await _stale(env, w.ada) == [south.number]
