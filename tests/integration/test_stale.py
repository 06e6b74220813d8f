"""Tickets left open far past their targets leave the everyday queues and job lists for
the stale list, where a dispatcher closes or revives them a page at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col

from store.domain import ticket_views
from store.domain.targets import STALE_AFTER
from store.domain.tickets import TicketContext, load
from store.lifecycle import Status
from store.models import Ticket
from store.repair import dispatch, queries, stale, work
from store.repair.queries import QueueFilter
from store.uow import Store, UnitOfWork
from store.views import TicketView
from tests.support.rows import outbox_rows
from tests.support.world import Env, file_ticket, make_env, set_on_duty


async def _numbers(env: Env, person: int, flt: QueueFilter) -> list[str]:
    page = await queries.dispatcher_queue(env.store.uow(), person, flt, limit=50)
    return [v.number for v in page.items]


async def _stale(env: Env, person: int, after: int = 0) -> list[str]:
    return [
        v.number for v in (await stale.stale_tickets(env.store.uow(), person, after=after)).items
    ]


async def _view(env: Env, ticket_id: int) -> TicketView:
    async with env.store.uow() as uow:
        return await ticket_views.ticket_view(uow, ticket_id)


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
    assert await stale.revive_stale(st.uow(), w.dana, after=0, upto=held.id) == stale.Bulk(1)
    view = await _view(env, held.id)
    assert (view.status, view.assignee_id) == (Status.DISPATCHING, None)
    assert await _numbers(env, w.dana, QueueFilter.UNASSIGNED) == [held.number, fresh.number]
    # Her page of the rest (up to the South ticket's id): only her campus is closed.
    assert await stale.close_stale(st.uow(), w.dana, after=held.id, upto=south.id) == stale.Bulk(1)
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
    assert await stale.close_stale(st.uow(), w.dana, after=held.id, upto=south.id) == stale.Bulk(0)
    assert await _stale(env, w.ada) == [south.number]


async def test_a_ticket_finished_meanwhile_is_left_alone_and_only_the_rest_closed(
    store: Store,
) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    await set_on_duty(st, [w.tom, w.ann, w.bob], False)
    held = (await file_ticket(st, w)).ticket
    await dispatch.assign(st.uow(), held.id, w.dana, w.tom)
    await work.start(st.uow(), held.id, w.tom)
    waiting = (await file_ticket(st, w)).ticket
    clock.advance(STALE_AFTER + timedelta(days=1))
    listed = await _stale(env, w.dana)
    assert listed == [held.number, waiting.number]

    # Between reading the list and the press, Tom finishes his job: it is no longer stale
    # work to close. The press closes the other one, and only its requester is told.
    await work.complete(st.uow(), held.id, w.tom)
    after = len(await outbox_rows(st))
    page = await stale.close_stale(st.uow(), w.dana, after=0, upto=waiting.id)
    assert page == stale.Bulk(done=1, skipped=0)
    assert (await _view(env, held.id)).status == Status.COMPLETED
    assert (await _view(env, waiting.id)).status == Status.CANCELLED
    told = await outbox_rows(st, after=after)
    assert [(r.recipient_id, r.kind) for r in told] == [(w.requester, "ticket.closed_stale")]


async def test_a_press_racing_a_move_skips_that_ticket(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ticket moves after the page's ids were read but before its own row is: its
    compare-and-set fails, its savepoint rolls back, the other tickets are closed."""
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    await set_on_duty(st, [w.tom, w.ann, w.bob], False)
    first = (await file_ticket(st, w)).ticket
    second = (await file_ticket(st, w)).ticket
    clock.advance(STALE_AFTER + timedelta(days=1))

    moved: list[int] = []

    async def load_after_a_move(
        uow: UnitOfWork, ticket_id: int, actor_id: int | None
    ) -> TicketContext:
        ctx = await load(uow, ticket_id, actor_id)
        if ticket_id == first.id and not moved:
            moved.append(ticket_id)
            # Someone else's write, as the compare-and-set sees it: the version this press
            # read is old. (Written in this unit: on SQLite another writer would wait.)
            await uow.session.execute(
                update(Ticket).where(col(Ticket.id) == first.id).values(version=Ticket.version + 1)
            )
        return ctx

    monkeypatch.setattr(stale, "load", load_after_a_move)
    page = await stale.close_stale(st.uow(), w.dana, after=0, upto=second.id)
    assert page == stale.Bulk(done=1, skipped=1)
    assert (await _view(env, first.id)).status == Status.DISPATCHING
    assert (await _view(env, second.id)).status == Status.CANCELLED


async def test_revived_tickets_are_offered_to_the_technicians_on_duty(store: Store) -> None:
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    await set_on_duty(st, [w.tom, w.ann, w.bob], False)
    held = (await file_ticket(st, w)).ticket
    await dispatch.assign(st.uow(), held.id, w.dana, w.tom)
    clock.advance(STALE_AFTER + timedelta(days=1))
    await set_on_duty(st, [w.ann], True)
    after = len(await outbox_rows(st))
    assert await stale.revive_stale(st.uow(), w.dana, after=0, upto=held.id) == stale.Bulk(1)
    told = {(r.recipient_id, r.kind) for r in await outbox_rows(st, after=after)}
    assert (w.tom, "job.unassigned") in told
    assert (w.requester, "ticket.released") in told
    assert (w.ann, "offer.new") in told
