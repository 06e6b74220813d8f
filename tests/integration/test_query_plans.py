"""Every hot read is an index seek on SQLite: no screen reads the whole ticket history.

Each screen's service call runs once while its statements are recorded; each statement
that reads the ticket table is then planned with EXPLAIN QUERY PLAN and its very
parameters. A plan that scans ticket (its table or a whole index), or walks the viewer's
buildings and then every ticket their rooms ever had (`ix_ticket_room_category_status`
reached by room), costs time in proportion to the office's history, which
bench/scale.py shows as 100x slower at a million tickets. SQLite only: its planner has
no statistics, so the plan follows the schema and the SQL alone (PostgreSQL's follows
the data; its plans are in bench/README.md).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from store.db import create_engine
from store.models import Ticket
from store.repair import dispatch, queries, requester, stale, work
from store.repair.queries import QueueFilter
from store.reporting import digest, figures, summaries
from store.reporting.periods import parse_period
from store.uow import Store
from tests.support.plans import FULL_SCAN, ROOM_WALK, plans
from tests.support.world import Env, file_ticket, make_env


@pytest.fixture
async def env(sqlite_url: str) -> AsyncIterator[Env]:
    store = Store(create_engine(sqlite_url))
    try:
        e = await make_env(store)
        w, clock = e.world, e.clock
        # A little of everything, so every branch of every screen has rows to plan for.
        held = (await file_ticket(e.store, w)).ticket.id
        await dispatch.accept(e.store.uow(), held, w.tom)
        await work.start(e.store.uow(), held, w.tom)
        await work.defer(e.store.uow(), held, w.tom, clock.now + timedelta(days=1), "parts")
        await file_ticket(e.store, w)
        clock.advance(timedelta(days=120))  # the first two are stale now
        done = (await file_ticket(e.store, w)).ticket.id
        await dispatch.accept(e.store.uow(), done, w.tom)
        await work.start(e.store.uow(), done, w.tom)
        await work.complete(e.store.uow(), done, w.tom)
        await file_ticket(e.store, w)
        closed = (await file_ticket(e.store, w)).ticket.id  # whole days ago: summarized
        await dispatch.accept(e.store.uow(), closed, w.tom)
        await work.start(e.store.uow(), closed, w.tom)
        await work.complete(e.store.uow(), closed, w.tom)
        await requester.confirm_and_rate(e.store.uow(), closed, w.requester, 2)
        clock.advance(timedelta(days=3))
        clock.advance(timedelta(hours=6))
        for _ in range(2):  # live jobs, for the pages of /jobs after and before one
            live = (await file_ticket(e.store, w)).ticket.id
            await dispatch.accept(e.store.uow(), live, w.tom)
        yield e
    finally:
        await store.dispose()


def screens(e: Env) -> dict[str, Callable[[], Awaitable[Any]]]:
    st, w = e.store, e.world
    start, end = parse_period(None, e.clock.now)
    zone = ZoneInfo("Asia/Shanghai")
    yesterday = e.clock.now.astimezone(zone).date() - timedelta(days=1)
    live_jobs = [6, 7]  # the env's last two tickets: Tom's live jobs
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "my tickets, newest": lambda: queries.my_tickets(st.uow(), w.requester),
        "my tickets, older": lambda: queries.my_tickets(st.uow(), w.requester, before=3),
        "my tickets, newer": lambda: queries.my_tickets(st.uow(), w.requester, after=1),
        "technician jobs": lambda: queries.technician_jobs(st.uow(), w.tom),
        "/jobs, first page": lambda: queries.technician_job_page(st.uow(), w.tom, limit=1),
        "/jobs, after a job": lambda: queries.technician_job_page(
            st.uow(), w.tom, after=live_jobs[0], limit=1
        ),
        "/jobs, before a job": lambda: queries.technician_job_page(
            st.uow(), w.tom, before=live_jobs[-1], limit=1
        ),
        "stale list": lambda: stale.stale_tickets(st.uow(), w.dana),
        "/stats office": lambda: figures.office_stats(
            st.uow(), start=start, end=end, viewer_id=w.sam
        ),
        "/stats technicians": lambda: figures.technician_stats(
            st.uow(), start=start, end=end, viewer_id=w.sam
        ),
        "/stats": lambda: figures.period_stats(st.uow(), start=start, end=end, viewer_id=w.sam),
        "digest": lambda: digest.digest_figures(
            st.uow(), viewer_id=w.sam, day=yesterday, zone=zone
        ),
        "digest's first ticket": lambda: digest.first_ticket_at(st.uow()),
    }

    async def rolled_up() -> Any:
        # The roll-up's own reads, then both reports reading summaries beside live rows.
        batches = 0  # the first sets the summaries' zone, the next summarizes
        while (await summaries.summarize_batch(st.uow())).last_id is not None:
            batches += 1
        assert batches == 2 and await summaries.pending(st.uow()) == 0
        await figures.period_stats(st.uow(), start=start, end=end, viewer_id=w.sam)
        return await digest.digest_figures(st.uow(), viewer_id=w.sam, day=yesterday, zone=zone)

    def queue(flt: QueueFilter) -> Callable[[], Awaitable[Any]]:
        return lambda: queries.dispatcher_queue(st.uow(), w.dana, flt)

    calls["rolled up, then /stats and digest"] = rolled_up
    for flt in QueueFilter:
        if flt is not QueueFilter.STALE:
            calls[f"queue {flt.value}"] = queue(flt)
    return calls


SCREENS = [
    "my tickets, newest",
    "my tickets, older",
    "my tickets, newer",
    "technician jobs",
    "/jobs, first page",
    "/jobs, after a job",
    "/jobs, before a job",
    "stale list",
    "/stats office",
    "/stats technicians",
    "/stats",
    "digest",
    "digest's first ticket",
    "rolled up, then /stats and digest",
    *[f"queue {f.value}" for f in QueueFilter if f is not QueueFilter.STALE],
]


@pytest.mark.parametrize("screen", SCREENS)
async def test_every_ticket_read_is_a_seek(env: Env, screen: str) -> None:
    for sql, plan in await plans(env.store, screens(env)[screen]):
        assert not FULL_SCAN.search(plan), f"{screen} scans ticket:\n{sql}\n{plan}"
        assert not ROOM_WALK.search(plan), f"{screen} walks every room's tickets:\n{sql}\n{plan}"


async def test_a_technicians_jobs_are_one_seek_to_their_own_live_jobs(env: Env) -> None:
    # Not every live job of every technician filtered by assignee (the status-and-target
    # indexes), nor every job they ever left open (assignee and status alone).
    [(sql, plan)] = [
        (sql, plan)
        for sql, plan in await plans(env.store, screens(env)["technician jobs"])
        if "FROM ticket" in sql
    ]
    assert "SEARCH ticket USING INDEX ix_ticket_assignee_jobs" in plan, f"{sql}\n{plan}"
    assert "MULTI-INDEX OR" not in plan, plan


@pytest.mark.parametrize(
    "screen", ["/jobs, first page", "/jobs, after a job", "/jobs, before a job"]
)
async def test_a_page_of_jobs_is_chosen_and_counted_in_the_index(env: Env, screen: str) -> None:
    # With ~200-360 live jobs each (a busy office's backlog), fetching every job's row to
    # sort it cost more than the page: the ids, the cap-limited count and the keyset
    # comparison are all answered from `ix_ticket_assignee_jobs` alone.
    chosen = [
        (sql, plan)
        for sql, plan in await plans(env.store, screens(env)[screen])
        if " ".join(sql.split()).startswith(("SELECT ticket.id FROM ticket", "SELECT count(*)"))
    ]
    assert len(chosen) >= 2, chosen
    for sql, plan in chosen:
        assert "SEARCH ticket USING COVERING INDEX ix_ticket_assignee_jobs" in plan, (
            f"{sql}\n{plan}"
        )


@pytest.mark.parametrize("flt", [f for f in QueueFilter if f is not QueueFilter.STALE])
async def test_a_queue_is_sorted_and_counted_in_the_index(env: Env, flt: QueueFilter) -> None:
    # The overdue queue at 1,000,000 tickets with a backlog matches ~2,800-9,600 tickets:
    # each is judged (target, building) and sorted (urgency, age) on its index entry, and
    # no ticket row, room or building is read per match, only the page's.
    [(sql, plan)] = [
        (sql, plan)
        for sql, plan in await plans(env.store, screens(env)[f"queue {flt.value}"])
        if "OVER ()" in sql
    ]
    searches = [line for line in plan.splitlines() if "SEARCH ticket" in line]
    assert searches, plan
    for line in searches:
        assert re.search(r"USING COVERING INDEX ix_ticket_status_(due|promised)_queue", line), (
            f"{sql}\n{plan}"
        )


async def test_the_check_sees_a_full_scan(env: Env) -> None:
    """The check above can fail: a read by a column no index leads with is caught."""

    async def by_description() -> Any:
        async with env.store.uow() as uow:
            q = select(Ticket.id).where(col(Ticket.description).like("%leak%"))
            return (await uow.session.execute(q)).all()

    [(_, plan)] = await plans(env.store, by_description)
    assert FULL_SCAN.search(plan)


async def test_the_open_count_is_read_from_an_index_alone(env: Env) -> None:
    # /stats' open count goes over every open ticket, the years-old forgotten ones
    # included: the building is judged by room on the index entry, not by a room and
    # building read per ticket.
    counted = [
        (sql, plan)
        for sql, plan in await plans(env.store, screens(env)["/stats office"])
        if " ".join(sql.split()).startswith("SELECT count(*) AS count_1 FROM ticket WHERE")
    ]
    assert counted, "no open count read"
    for sql, plan in counted:
        ticket_reads = [line for line in plan.splitlines() if "SEARCH ticket" in line]
        assert ticket_reads and all("COVERING INDEX" in line for line in ticket_reads), (
            f"{sql}\n{plan}"
        )
        assert "SEARCH room USING INTEGER PRIMARY KEY" not in plan, f"{sql}\n{plan}"
