"""The counts the lists show under a backlog, on both engines: the dispatcher's queues
count exactly (the page is chosen from every matching index entry, so the count costs
nothing more), scoped to their buildings and leaving out what went stale; a technician's
jobs count up to a cap and then say "N+" (exactness there would read every job).
bench/scale.py --backlog checks the same against direct counts at 100,000+ tickets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from store.domain.filing import Urgency
from store.repair import dispatch, queries, work
from store.repair.queries import QueueFilter
from store.uow import Store
from tests.support.world import Env, file_ticket, make_env


async def _backlog(store: Store) -> tuple[Env, dict[str, list[int]]]:
    """Tickets stale for months, a pile of overdue ones in and out of Dana's campus, a
    deferred job past its promise, and fresh ones not yet due."""
    env = await make_env(store)
    st, w, clock = env.store, env.world, env.clock
    made: dict[str, list[int]] = {"stale": [], "overdue": [], "outside": [], "fresh": []}
    for _ in range(2):  # left open for good: on the stale list, not the queues
        made["stale"].append((await file_ticket(st, w)).ticket.id)
    await dispatch.accept(st.uow(), made["stale"][0], w.tom)
    clock.advance(timedelta(days=120))
    rooms = [w.room_a1, w.room_a2, w.room_b1]
    urgencies = [Urgency.NORMAL, Urgency.EMERGENCY, Urgency.URGENT, Urgency.NORMAL]
    for i, urgency in enumerate(urgencies * 2):
        t = (await file_ticket(st, w, room=rooms[i % 3], urgency=urgency)).ticket.id
        made["overdue"].append(t)
        if i % 3 == 0:
            await dispatch.accept(st.uow(), t, w.tom)
        clock.advance(timedelta(minutes=7))
    made["outside"].append((await file_ticket(st, w, room=w.room_c1)).ticket.id)
    deferred = (await file_ticket(st, w)).ticket.id
    await dispatch.accept(st.uow(), deferred, w.tom)
    await work.start(st.uow(), deferred, w.tom)
    await work.defer(st.uow(), deferred, w.tom, clock.now + timedelta(days=2), "parts")
    made["overdue"].append(deferred)
    clock.advance(timedelta(days=10))  # every target above has passed, none by 90 days
    for _ in range(2):
        made["fresh"].append((await file_ticket(st, w)).ticket.id)
    return env, made


async def test_the_queues_count_exactly_what_they_list(store: Store) -> None:
    env, made = await _backlog(store)
    st, w = env.store, env.world

    async def whole(flt: QueueFilter) -> tuple[list[int], set[int]]:
        ids: list[int] = []
        totals = set()
        offset = 0
        while True:
            page = await queries.dispatcher_queue(st.uow(), w.dana, flt, offset=offset, limit=3)
            ids += [v.id for v in page.items]
            totals.add(page.total)
            if not page.has_next:
                return ids, totals
            offset += 3

    overdue, totals = await whole(QueueFilter.OVERDUE)
    assert sorted(overdue) == sorted(made["overdue"]) and totals == {len(made["overdue"])}
    views = {v.id: v for v in await queries.technician_jobs(st.uow(), w.tom)}
    rank = {"emergency": 0, "urgent": 1, "normal": 2}
    one_page = await queries.dispatcher_queue(st.uow(), w.dana, QueueFilter.OVERDUE, limit=20)
    shown = [(rank[v.urgency], v.created_at, v.id) for v in one_page.items]
    assert shown == sorted(shown), "most urgent first, then oldest"
    assert [v.id for v in one_page.items] == overdue  # the pages join up in that order

    unassigned, totals = await whole(QueueFilter.UNASSIGNED)
    expected = [t for t in made["overdue"] + made["fresh"] if t not in views]
    assert sorted(unassigned) == sorted(expected) and totals == {len(expected)}

    everything, totals = await whole(QueueFilter.ALL)
    live = made["overdue"] + made["fresh"]
    assert sorted(everything) == sorted(live) and totals == {len(live)}

    # A page past the end (the queue shrank): counted on its own, still exact.
    past = await queries.dispatcher_queue(st.uow(), w.dana, QueueFilter.OVERDUE, offset=90)
    assert (past.items, past.total) == ([], len(made["overdue"]))


async def test_the_queues_leave_out_other_campuses(store: Store) -> None:
    env, made = await _backlog(store)
    # Ada (admin everywhere) sees the South ticket too; Dana (North) does not.
    st, w = env.store, env.world
    dana = await queries.dispatcher_queue(st.uow(), w.dana, QueueFilter.OVERDUE, limit=50)
    ada = await queries.dispatcher_queue(st.uow(), w.ada, QueueFilter.OVERDUE, limit=50)
    assert made["outside"][0] not in {v.id for v in dana.items}
    assert made["outside"][0] in {v.id for v in ada.items}
    assert ada.total == dana.total + 1


async def test_a_technicians_jobs_count_up_to_the_cap_then_say_more(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, made = await _backlog(store)
    st, w = env.store, env.world
    monkeypatch.setattr(queries, "JOBS_COUNT_CAP", 4)
    held = [v.id for v in await queries.technician_jobs(st.uow(), w.tom)]
    assert made["stale"][0] not in held  # left open for months: not counted
    assert len(held) == 4  # three accepted overdue ones and the deferred one
    page = await queries.technician_job_page(st.uow(), w.tom, limit=2)
    assert (page.total, page.capped) == (4, False)

    await dispatch.accept(st.uow(), made["fresh"][0], w.tom)
    page = await queries.technician_job_page(st.uow(), w.tom, limit=2)
    assert (page.total, page.capped) == (4, True)  # "4+": five jobs, counted up to four
    # Paging still reaches every job past the cap.
    seen, cursor = [v.id for v in page.items], page
    while cursor.has_older:
        cursor = await queries.technician_job_page(
            st.uow(), w.tom, after=cursor.items[-1].id, limit=2
        )
        seen += [v.id for v in cursor.items]
    assert sorted(seen) == sorted([*held, made["fresh"][0]])

    # Ann has no job at all: an exact zero, not capped.
    none = await queries.technician_job_page(st.uow(), w.ann, limit=2)
    assert (none.items, none.total, none.capped) == ([], 0, False)
