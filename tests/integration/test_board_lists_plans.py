"""The board's list pages read tickets through an index on SQLite, never the history.

As tests/integration/test_query_plans.py does for the bot's screens: each page's service
call runs once while its statements are recorded, then each ticket-reading statement is
planned with EXPLAIN QUERY PLAN and its very parameters. A full scan of ticket, or a walk
of every ticket of the viewer's rooms, would cost in proportion to the office's history
(bench/scale.py: the buildings table grouped by the room index took ~1 s at 100,000
tickets before `room_id + 0`). SQLite only: its planner has no statistics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from store.db import create_engine
from store.repair import dispatch, requester, work
from store.reporting import board_lists, summaries
from store.reporting.board_lists import Cursor, TicketFilter
from store.uow import Store
from tests.support.plans import FULL_SCAN, ROOM_WALK, plans
from tests.support.world import Env, file_ticket, make_env


@pytest.fixture
async def env(sqlite_url: str) -> AsyncIterator[Env]:
    store = Store(create_engine(sqlite_url))
    try:
        e = await make_env(store)
        w = e.world
        for room in (w.room_a1, w.room_a1, w.room_a2, w.room_b1, w.room_c1):
            await file_ticket(e.store, w, room=room)
        done = (await file_ticket(e.store, w)).ticket.id
        await dispatch.accept(e.store.uow(), done, w.tom)
        await work.start(e.store.uow(), done, w.tom)
        await work.complete(e.store.uow(), done, w.tom)
        await requester.confirm_and_rate(e.store.uow(), done, w.requester, 1)
        e.clock.advance(timedelta(days=3))
        while (await summaries.summarize_batch(e.store.uow())).last_id is not None:
            pass
        await file_ticket(e.store, w)
        yield e
    finally:
        await store.dispose()


def pages(e: Env) -> dict[str, Callable[[], Awaitable[Any]]]:
    st, w, now = e.store, e.world, e.clock.now
    year = TicketFilter(now - timedelta(days=366), now)
    later = Cursor(now - timedelta(days=1), 3)
    return {
        "buildings": lambda: board_lists.buildings(st.uow(), w.sam),
        "tickets": lambda: board_lists.tickets(st.uow(), w.sam, year),
        "tickets, later page": lambda: board_lists.tickets(st.uow(), w.sam, year, after=later),
        "tickets, newer page": lambda: board_lists.tickets(st.uow(), w.sam, year, before=later),
        "tickets, a building": lambda: board_lists.tickets(
            st.uow(), w.sam, TicketFilter(year.start, year.end, building_id=w.building_a)
        ),
        "tickets, a technician's 1-star jobs": lambda: board_lists.tickets(
            st.uow(), w.sam, TicketFilter(year.start, year.end, technician_id=w.tom, rating=1)
        ),
        "search words": lambda: board_lists.search(st.uow(), w.sam, "dripping", year),
        "search a number": lambda: board_lists.search(st.uow(), w.sam, "2031-000001", year),
        "a technician's tickets": lambda: board_lists.tickets(st.uow(), w.tom, year),
    }


@pytest.mark.parametrize(
    "page",
    [
        "buildings",
        "tickets",
        "tickets, later page",
        "tickets, newer page",
        "tickets, a building",
        "tickets, a technician's 1-star jobs",
        "search words",
        "search a number",
        "a technician's tickets",
    ],
)
async def test_every_ticket_read_of_a_list_page_is_a_seek(env: Env, page: str) -> None:
    for sql, plan in await plans(env.store, pages(env)[page]):
        assert not FULL_SCAN.search(plan), f"{page} scans ticket:\n{sql}\n{plan}"
        assert not ROOM_WALK.search(plan), f"{page} walks every room's tickets:\n{sql}\n{plan}"


async def test_repeated_faults_are_counted_from_one_index_alone(env: Env) -> None:
    found = await plans(env.store, pages(env)["buildings"])
    [plan] = [plan for sql, plan in found if "HAVING" in sql]
    assert "SEARCH ticket USING COVERING INDEX ix_ticket_created_room" in plan, plan


async def test_a_rooms_tickets_are_read_by_that_room(env: Env) -> None:
    w, st = env.world, env.store
    year = TicketFilter(env.clock.now - timedelta(days=366), env.clock.now)
    found = await plans(st, lambda: board_lists.search(st.uow(), w.sam, "A-101", year))
    [plan] = [plan for sql, plan in found if "ORDER BY" in sql and "LIMIT" in sql]
    assert "ix_ticket_room_category_status (room_id=?)" in plan, plan
    assert not FULL_SCAN.search(plan)


async def test_a_technicians_tickets_are_a_range_of_their_own_in_order(env: Env) -> None:
    # Not their whole history from ix_ticket_assignee_id, sorted afterwards.
    found = await plans(env.store, pages(env)["tickets, a technician's 1-star jobs"])
    [plan] = [plan for sql, plan in found if "LIMIT" in sql and "ORDER BY" in sql]
    assert "ix_ticket_assignee_created (assignee_id=? AND created_at>? AND created_at<?)" in plan
    assert "TEMP B-TREE" not in plan, plan
