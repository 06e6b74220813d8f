"""The digest's and /stats' figures, read through indexes and SQL counts, equal a direct
computation over every ticket, for random histories (both engines).

The reference below is the reports' own arithmetic applied to the whole ticket table
with no index, no SQL aggregate and no shortcut: if a counted-in-SQL figure or a skipped
row (an open ticket forgotten for years, a ticket outside the viewer's buildings, a job
rated by its own technician) ever changes an answer, an example shows it.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select
from sqlmodel import col

from store.domain.ticket_views import HELD_STATUSES
from store.lifecycle import OPEN_STATUSES, Role, Status
from store.models import Category, DaySummary, FollowUp, Ticket
from store.reporting import digest, figures, summaries
from store.reporting.tally import Tally
from store.uow import Store
from tests.support.world import make_categories, make_person, make_places

NOW = datetime(2026, 6, 10, 1, 30, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 6, 9)  # yesterday on the campus
PERIOD = (NOW - timedelta(days=30), NOW)
MINUTE = timedelta(minutes=1)


@dataclass
class World:
    store: Store
    rooms: list[int]  # first: in the supervisor's building, second: elsewhere
    categories: list[int]  # two, so the counts per category are told apart
    people: list[int]  # requesters and technicians alike
    supervisor: int


async def _world(store: Store) -> World:
    store.clock = lambda: NOW
    places = await make_places(store)
    cats = await make_categories(store)
    e1 = places.building("E1公寓")
    sup = (await make_person(store, Role.SUPERVISOR, name="Sue", buildings=[e1.id])).id
    people = [(await make_person(store, name=f"P{i}")).id for i in range(3)]
    return World(
        store,
        [places.room("E1-101").room_id, places.room("E2-101").room_id],
        [cats[0].id, cats[1].id],
        people,
        sup,
    )


# Offsets in minutes before NOW: recent ones land in the digest's day and 14-day series
# and in the 30-day period; old ones (up to ~2 years) are history or forgotten.
when = st.one_of(st.integers(0, 60 * 24 * 40), st.integers(0, 60 * 24 * 700))
ticket = st.fixed_dictionaries(
    {
        "room": st.integers(0, 1),
        "category": st.integers(0, 1),
        "status": st.sampled_from(list(Status)),
        "created": when,
        "accept_after": st.none() | st.integers(0, 60 * 24 * 3),
        "dispatched": st.booleans(),
        "work": st.none() | st.integers(1, 60 * 24 * 5),
        "due_in": st.integers(-60 * 24 * 200, 60 * 24 * 5),
        "promise_in": st.none() | st.integers(-60 * 24 * 200, 60 * 24 * 5),
        "closed_after": st.none() | st.integers(0, 60 * 24 * 8),
        "rating": st.none() | st.integers(1, 5),
        "requester": st.integers(0, 2),
        "assignee": st.none() | st.integers(0, 2),
        "rework": st.integers(0, 1),
        "followup": st.none() | st.booleans(),
        # Microseconds off the minute for filing and accept: the waits the database
        # works out must carry (and borrow) them exactly.
        "micros": st.tuples(st.integers(0, 999_999), st.integers(0, 999_999)),
    }
)


def _row(i: int, w: World, t: dict[str, Any]) -> dict[str, Any]:
    """A ticket as the columns the reports read; updated_at is the latest write, as every
    write bumps it."""
    filed_us, accepted_us = t["micros"]
    created = NOW - t["created"] * MINUTE - timedelta(microseconds=filed_us)
    accepted = None
    if t["accept_after"] is not None:
        accepted = created + t["accept_after"] * MINUTE + timedelta(microseconds=accepted_us)
    completed = None
    if accepted is not None and t["work"] is not None:
        completed = accepted + t["work"] * MINUTE
    closed = None
    if completed is not None and t["closed_after"] is not None:
        closed = completed + t["closed_after"] * MINUTE
    stamps = [s for s in (created, accepted, completed, closed) if s is not None]
    promised = None if t["promise_in"] is None else created + t["promise_in"] * MINUTE
    return {
        "id": i,
        "number": f"T-{i:04d}",
        "status": t["status"],
        "version": 0,
        "requester_id": w.people[t["requester"]],
        "filed_by_id": w.people[t["requester"]],
        "room_id": w.rooms[t["room"]],
        "category_id": w.categories[t["category"]],
        "urgency": "normal",
        "description": "x",
        "assignee_id": None if t["assignee"] is None else w.people[t["assignee"]],
        "due_at": created + t["due_in"] * MINUTE + timedelta(days=200),
        "promised_at": promised,
        "visit_confirmed": False,
        "rework_count": t["rework"],
        "urge_count": 0,
        "rating": t["rating"],
        "created_at": created,
        "updated_at": max(stamps) + MINUTE,
        "dispatched_at": created + MINUTE if t["dispatched"] else None,
        "accepted_at": accepted,
        "completed_at": completed,
        "closed_at": closed,
    }


# --- the reference: every ticket, plain Python ---------------------------------------------


def _late(r: dict[str, Any]) -> bool:
    if r["status"] == Status.DEFERRED:
        return r["promised_at"] is not None and r["promised_at"] < NOW
    return r["due_at"] is not None and r["due_at"] < NOW


def _in(v: datetime | None, start: datetime, end: datetime) -> bool:
    return v is not None and start <= v < end


def _rating(r: dict[str, Any]) -> int | None:
    return r["rating"] if r["requester_id"] != r["assignee_id"] else None


def reference_office(rows: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, Any]:
    created_in = [r for r in rows if _in(r["created_at"], start, end)]
    accepts = [
        r["accepted_at"] - (r["dispatched_at"] or r["created_at"])
        for r in rows
        if _in(r["accepted_at"], start, end)
    ]
    done = [r for r in rows if _in(r["completed_at"], start, end)]
    ratings = [x for r in done if (x := _rating(r)) is not None]
    return {
        "reported": len(created_in),
        "completed": len(done),
        "open_now": sum(r["status"] in OPEN_STATUSES for r in rows),
        "by_status": dict(Counter(str(r["status"]) for r in created_in)),
        "median_accept": figures.median(accepts),
        "median_resolution": figures.median([r["completed_at"] - r["created_at"] for r in done]),
        "rated": len(ratings),
        "average_rating": sum(ratings) / len(ratings) if ratings else None,
    }


def reference_technicians(
    rows: list[dict[str, Any]], start: datetime, end: datetime
) -> dict[int, tuple[Any, ...]]:
    """person -> (jobs done, overdue, rated jobs, median accept, median repair), for those
    with something to show."""
    out: dict[int, list[int]] = {}
    accepts: dict[int, list[timedelta]] = {}
    repairs: dict[int, list[timedelta]] = {}
    for r in rows:
        if r["assignee_id"] is None:
            continue
        held = r["status"] in HELD_STATUSES
        touching = any(
            _in(r[k], start, end) for k in ("created_at", "accepted_at", "completed_at")
        )
        if not (held or touching):
            continue
        a = out.setdefault(r["assignee_id"], [0, 0, 0])
        if held and _late(r):
            a[1] += 1
        if _in(r["accepted_at"], start, end):
            waited = r["accepted_at"] - (r["dispatched_at"] or r["created_at"])
            accepts.setdefault(r["assignee_id"], []).append(waited)
        if r["status"] in (Status.COMPLETED, Status.CLOSED) and _in(r["completed_at"], start, end):
            a[0] += 1
            a[2] += _rating(r) is not None
            a[1] += r["completed_at"] > r["due_at"]
            repairs.setdefault(r["assignee_id"], []).append(r["completed_at"] - r["created_at"])
    return {
        k: (
            v[0],
            v[1],
            v[2],
            figures.median(accepts.get(k, [])),
            figures.median(repairs.get(k, [])),
        )
        for k, v in out.items()
    }


def reference_digest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    start, end = digest.local_day_bounds(DAY, ZONE)
    series_start, _ = digest.local_day_bounds(DAY - timedelta(days=digest.SERIES_DAYS - 1), ZONE)
    open_rows = [r for r in rows if r["status"] in OPEN_STATUSES]
    received: Counter[date] = Counter(r["created_at"].astimezone(ZONE).date() for r in rows)
    completed: Counter[date] = Counter(
        r["completed_at"].astimezone(ZONE).date() for r in rows if r["completed_at"]
    )
    repairs: dict[date, list[timedelta]] = {}
    for r in rows:
        if r["completed_at"]:
            day = r["completed_at"].astimezone(ZONE).date()
            repairs.setdefault(day, []).append(r["completed_at"] - r["created_at"])
    day_done = [r for r in rows if _in(r["completed_at"], start, end)]
    return {
        "backlog": dict(sorted(Counter(str(r["status"]) for r in open_rows).items())),
        "overdue": sorted(r["number"] for r in open_rows if _late(r)),
        "due_soon": sorted(
            r["number"]
            for r in open_rows
            if r["status"] == Status.DEFERRED
            and r["promised_at"]
            and NOW <= r["promised_at"] < NOW + timedelta(days=3)
        ),
        "cancelled": sum(
            r["status"] == Status.CANCELLED and _in(r["updated_at"], start, end) for r in rows
        ),
        "low": sorted(
            (r["number"], r["rating"])
            for r in rows
            if r["rating"] is not None and r["rating"] <= 2 and _in(r["closed_at"], start, end)
        ),
        "series": [
            (
                DAY - timedelta(days=o),
                received[DAY - timedelta(days=o)],
                completed[DAY - timedelta(days=o)],
            )
            for o in range(digest.SERIES_DAYS - 1, -1, -1)
        ],
        "p90": _p90([r["completed_at"] - r["created_at"] for r in day_done]),
        "series_medians": [
            None
            if (m := figures.median(repairs.get(DAY - timedelta(days=o), []))) is None
            else m.total_seconds() / 60
            for o in range(digest.SERIES_DAYS - 1, -1, -1)
        ],
        "series_start": series_start,
    }


def _plain(t: Tally) -> tuple[Any, ...]:
    """A tally as a value that does not depend on the order its parts were added in."""
    return (
        +t.by_category,
        +t.by_status,
        sorted(t.accept),
        sorted(t.resolution),
        sorted(t.ratings),
        {
            pid: (
                sorted(p.accept),
                sorted(p.resolution),
                sorted(p.ratings),
                p.done,
                p.reworked,
                p.overdue,
            )
            for pid, p in t.techs.items()
        },
    )


async def live_and_summarized(w: World, start: datetime, end: datetime) -> tuple[Any, ...]:
    """What /stats computes its figures from: the summaries plus the live part, whose
    filings the database counts and whose accepts and completions it reads apart."""
    uow = w.store.uow()
    async with uow.reading():
        await summaries.snapshot(uow)
        scope = await figures.scope_clause(uow, w.supervisor)
        return _plain(await figures.period_tally(uow, scope, start, end))


async def every_row(w: World, start: datetime, end: datetime) -> tuple[Any, ...]:
    """The same from every ticket row in the supervisor's building, each added whole (as
    the roll-up adds it), no summary and no SQL count."""
    tally = Tally()
    async with w.store.engine.connect() as conn:
        rows = await conn.execute(
            select(*summaries.FACT_COLUMNS)
            .join(Category, col(Category.id) == Ticket.category_id)
            .where(col(Ticket.room_id) == w.rooms[0])
        )
        for row in rows:
            tally.add(summaries.facts(row), lambda ts: ts is not None and start <= ts < end)
    return _plain(tally)


def _p90(values: list[timedelta]) -> timedelta | None:
    """Nearest rank: the smallest value with at least 90% of them at or below it."""
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1] if ordered else None


# How far the roll-up gets before the reports are read: (batches, tickets per batch).
rollup = st.tuples(st.integers(0, 12), st.integers(1, 8))


# --- the property -------------------------------------------------------------------------


async def test_figures_equal_a_direct_count_over_random_histories(store: Store) -> None:
    w = await _world(store)
    loop = asyncio.get_running_loop()

    # Hypothesis drives a plain function; it runs in a worker thread and hands each
    # example to this test's event loop, where the store's connections live.
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(ticket, max_size=30), rollup)
    def check(tickets: list[dict[str, Any]], roll: tuple[int, int]) -> None:
        asyncio.run_coroutine_threadsafe(one_history(tickets, roll), loop).result()

    async def one_history(tickets: list[dict[str, Any]], roll: tuple[int, int]) -> None:
        rows = [_row(i, w, t) for i, t in enumerate(tickets, start=1)]
        async with w.store.engine.begin() as conn:
            await conn.execute(delete(FollowUp))
            await conn.execute(delete(DaySummary))
            await conn.execute(delete(Ticket))
            if rows:
                await conn.execute(insert(Ticket), rows)
            followups = [
                {
                    "number": f"F-{r['id']}",
                    "ticket_id": r["id"],
                    "kind": "complaint",
                    "opened_at": r["created_at"],
                    "resolved_at": NOW if t["followup"] else None,
                }
                for r, t in zip(rows, tickets, strict=True)
                if t["followup"] is not None
            ]
            if followups:
                await conn.execute(insert(FollowUp), followups)
        # Some of the finished tickets (or none, or all) go into the day summaries first:
        # the figures must not depend on how far the roll-up has got.
        batches, size = roll
        for _ in range(batches):
            if (await summaries.summarize_batch(w.store.uow(), limit=size)).last_id is None:
                break
        mine = [r for r in rows if r["room_id"] == w.rooms[0]]  # the supervisor's building
        start, end = PERIOD

        office = await figures.office_stats(
            w.store.uow(), start=start, end=end, viewer_id=w.supervisor
        )
        expected = reference_office(mine, start, end)
        assert {k: getattr(office, k) for k in expected} == expected
        assert office.open_followups == sum(
            1
            for r, t in zip(rows, tickets, strict=True)
            if t["followup"] is False and r["room_id"] == w.rooms[0]
        )

        techs = await figures.technician_stats(
            w.store.uow(), start=start, end=end, viewer_id=w.supervisor
        )
        assert {
            t.person_id: (
                t.jobs_done,
                t.overdue,
                t.rated_jobs,
                t.median_accept,
                t.median_resolution,
            )
            for t in techs
        } == reference_technicians(mine, start, end)

        assert await figures.period_stats(
            w.store.uow(), start=start, end=end, viewer_id=w.supervisor
        ) == (office, techs)
        assert await live_and_summarized(w, start, end) == await every_row(w, start, end)

        d = await digest.digest_figures(w.store.uow(), viewer_id=w.supervisor, day=DAY, zone=ZONE)
        ref = reference_digest(mine)
        assert d.backlog == ref["backlog"]
        assert d.overdue == ref["overdue"][: digest.OVERDUE_SHOWN]
        assert d.overdue_count == len(ref["overdue"])
        assert d.p90_resolution == ref["p90"]
        assert [p.median_completion_minutes for p in d.series] == ref["series_medians"]
        assert [n for n, _ in d.due_soon] == ref["due_soon"]
        assert d.cancelled == ref["cancelled"]
        assert d.low_ratings == ref["low"]
        assert [(p.day, p.received, p.completed) for p in d.series] == ref["series"]
        day_start, day_end = digest.local_day_bounds(DAY, ZONE)
        assert d.office == await figures.office_stats(
            w.store.uow(), start=day_start, end=day_end, viewer_id=w.supervisor
        )

    await loop.run_in_executor(None, check)


async def test_an_accept_wait_across_a_second_is_exact_to_the_microsecond(store: Store) -> None:
    # Filed at hh:mm:59.999999 and accepted 1 µs later, at the next whole second: the
    # database works the wait out (SQLite reads a time's fraction to the millisecond
    # only, and would round .999999 up to the next second).
    w = await _world(store)
    t = {
        "room": 0,
        "category": 0,
        "status": Status.ASSIGNED,
        "created": 10,
        "accept_after": 0,
        "dispatched": False,
        "work": None,
        "due_in": 0,
        "promise_in": None,
        "closed_after": None,
        "rating": None,
        "requester": 0,
        "assignee": 1,
        "rework": 0,
        "followup": None,
        "micros": (1, 1),
    }
    row = _row(1, w, t)
    assert row["created_at"].microsecond == 999_999 and row["accepted_at"].microsecond == 0
    async with w.store.engine.begin() as conn:
        await conn.execute(insert(Ticket), [row])
    office, techs = await figures.period_stats(
        w.store.uow(), start=PERIOD[0], end=PERIOD[1], viewer_id=w.supervisor
    )
    assert office.median_accept == timedelta(microseconds=1)
    assert [t.median_accept for t in techs] == [timedelta(microseconds=1)]
