"""Every screen at scale: seed N tickets fast, then time the screens the bot shows.

    .venv/bin/python bench/scale.py [--sizes 100000,1000000 | --tickets N] [--db sqlite|pg|both]
        [--runs 20] [--pg postgresql+asyncpg://postgres@127.0.0.1:5432] [--explain] [--keep DIR]
        [--only 'digest figures,/stats 30 days'] [--backlog none|busy|month]

For each size, a fresh SQLite file and/or a throw-away PostgreSQL database (created and
dropped here) gets the sample campus (examples/campus.csv, ~3,000 rooms, through the
locations import service), 2,000 requesters, 40 technicians, one dispatcher and one
supervisor over every building, and N tickets filed over the three years before a fixed
"now" (2026-11-26 08:00 Asia/Shanghai). Each ticket is played through the lifecycle by
bench/reports_at_scale.py's generator (accept, start, defer, complete, rate, reopen,
cancel, auto-close, 1% forgotten in progress); on top of that 0.2% are forgotten
unassigned or assigned for good, so ~2.4% of the history is still open, most of it far
past its targets. `--backlog busy` makes the office a busy one whose forgotten jobs pile
up: of the N tickets, ~8,400 are filed over the last 90 days and left open (~200 held
jobs per technician, ~400 never accepted; ~2,800 of them past their target);
`--backlog month` is a month-long backlog (~14,600 held, ~364 per technician, ~9,600
overdue). Some tickets
are filed on the requester's behalf by an inspector, some are followed by a neighbour.
Rows go in with one executemany per 20,000 tickets on SQLite and asyncpg's COPY
(copy_records_to_table) on PostgreSQL; PostgreSQL is VACUUM ANALYZEd after seeding and
after the roll-up (as autovacuum would; it is off on this machine's server), SQLite not.

Timed, `--runs` times each (after one warm-up), through the very service calls the bot's
screens make, with p50 and p95 (nearest rank):
  my tickets p1     queries.my_tickets, first page of 5, a different requester each run
  queue unassigned  queries.dispatcher_queue(UNASSIGNED), first page of 8
  queue overdue     queries.dispatcher_queue(OVERDUE), first page of 8
  technician jobs   queries.technician_job_page, first page of 10, a different technician
                    each run (what /jobs shows)
  technician jobs p5  the same, the fifth page (keyset: after the last job of page 4)
  digest figures    digest.digest_figures for yesterday, every building
  /stats 30 days    figures.period_stats (office and technicians), as /stats calls it

With two sizes the table shows both side by side and the ratio of the p50s: an index seek
costs about the same at either size. Figures come from a shared 2-core machine: compare
within one run. Never fails on time. `--explain` prints each screen's plans (EXPLAIN
QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL) at the largest size.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import math
import os
import random
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, or_, text, update
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import reports_at_scale as gen
from store.db import create_engine, table_of
from store.delivery import outbox
from store.directory import places, staff
from store.directory.categories import sync_categories
from store.directory.location_csv import parse_locations_csv
from store.domain import targets, ticket_views
from store.lifecycle import OPEN_STATUSES, Role, Status
from store.migrate import upgrade
from store.models import (
    Building,
    Category,
    Counter,
    FollowUp,
    Person,
    Room,
    Ticket,
    TicketFollower,
)
from store.repair import queries
from store.reporting import board, digest, figures, health, summaries
from store.reporting.periods import parse_period
from store.uow import Store

NOW, ZONE = gen.NOW, gen.ZONE
HISTORY_DAYS = 3 * 365
REQUESTERS = 2_000
TECHNICIANS = 40
INSPECTORS = 10
CHUNK = 20_000
JOB_PAGE = 10  # bot/flows: /jobs shows ten a page
FORGOTTEN = 0.002  # on top of the generator's own forgotten (1%) and slipped jobs
LIVE_DAYS = 90  # targets.STALE_AFTER: what is left open longer is on the stale list


@dataclass(frozen=True)
class Backlog:
    """Tickets filed over the last LIVE_DAYS and left open: `held` with technicians
    (assigned, in progress or deferred), `unassigned` never accepted; `late` of each
    past its target (the rest due, or promised, within the next weeks)."""

    held: int
    unassigned: int
    late: float


BACKLOGS: dict[str, Backlog | None] = {
    "none": None,
    "busy": Backlog(held=8_000, unassigned=400, late=0.30),
    "month": Backlog(held=14_600, unassigned=800, late=0.62),
}
TARGETS_MS = {  # the p95 targets at 1,000,000 tickets
    "my tickets p1": 5,
    "queue unassigned": 10,
    "queue overdue": 20,
    "technician jobs": 10,
    "technician jobs p5": 10,
    "digest figures": 300,
    "/stats 30 days": 300,
    "board overview": 300,
}


@dataclass
class Seeded:
    """Who the timed screens are shown to."""

    supervisor: int
    dispatcher: int
    technicians: list[int]
    requesters: list[int]
    counts: dict[str, int] = field(default_factory=dict)


def _forget(rng: random.Random, t: Ticket) -> None:
    """Leave an old ticket open for good: never accepted, or accepted and never started."""
    unassigned = rng.random() < 0.4
    t.status = Status.DISPATCHING if unassigned else Status.ASSIGNED
    if unassigned:
        t.assignee_id, t.accepted_at = None, None
    t.started_at = t.completed_at = t.closed_at = None
    t.promised_at = t.defer_reason = t.promise_missed_at = None
    t.rating = None
    t.rating_comment = None
    t.updated_at = t.accepted_at or t.created_at


def _backlog_times(rng: random.Random, backlog: Backlog) -> list[tuple[datetime, str, bool]]:
    """(filed at, "held" or "unassigned", late) for each backlog ticket, in filing order.
    A late one was filed 2-85 days ago, the others over the last 30 days."""
    out = []
    for kind, count in (("held", backlog.held), ("unassigned", backlog.unassigned)):
        for _ in range(count):
            late = rng.random() < backlog.late
            ago = rng.uniform(2, LIVE_DAYS - 5) if late else rng.uniform(0.05, 30)
            out.append((NOW - timedelta(days=ago), kind, late))
    return sorted(out)


def _pile_up(
    rng: random.Random, t: Ticket, kind: str, late: bool, techs: list[tuple[int, float]]
) -> None:
    """Leave a recent ticket open: held by a technician (assigned, in progress or
    deferred) or never accepted; past its target (within LIVE_DAYS) when `late`, else
    due (or promised) within the next weeks."""
    created = t.created_at
    t.started_at = t.completed_at = t.closed_at = t.overdue_at = None
    t.promised_at = t.defer_reason = t.promise_missed_at = None
    t.rating, t.rating_comment = None, None
    if kind == "unassigned":
        t.status, t.assignee_id, t.accepted_at = Status.DISPATCHING, None, None
    else:
        t.assignee_id = rng.choices([p for p, _ in techs], [w for _, w in techs])[0]
        t.accepted_at = created + timedelta(minutes=rng.uniform(5, 120))
        t.status = rng.choices(
            [Status.ASSIGNED, Status.IN_PROGRESS, Status.DEFERRED], [50, 30, 20]
        )[0]
        if t.status is not Status.ASSIGNED:
            t.started_at = t.accepted_at + timedelta(minutes=rng.uniform(10, 60))
    if late:
        target = created + (NOW - created) * rng.uniform(0.05, 0.95)
    else:
        target = NOW + timedelta(hours=rng.uniform(1, 24 * 21))
    if t.status is Status.DEFERRED:
        t.promised_at, t.defer_reason = target, rng.choice(gen.DEFER_REASONS)
        t.due_at = min(t.due_at or target, target)
        if late:
            t.promise_missed_at = target + timedelta(seconds=30)
    else:
        t.due_at = target
        if late:
            t.overdue_at = target + timedelta(seconds=30)
    t.updated_at = max(
        d for d in (created, t.accepted_at, t.started_at) if d is not None and d < NOW
    )


async def _people(store: Store, rng: random.Random, rooms: list[int]) -> Seeded:
    async with store.uow() as uow:
        building_ids = list((await uow.session.execute(select(Building.id))).scalars())
    sup = await staff.add_staff(
        store.uow(), 7_000_001, Role.SUPERVISOR, name="Supervisor", building_ids=building_ids
    )
    disp = await staff.add_staff(
        store.uow(), 7_000_002, Role.DISPATCHER, name="Dispatcher", building_ids=building_ids
    )
    techs = []
    for i in range(TECHNICIANS):
        view = await staff.add_staff(
            store.uow(),
            7_100_000 + i,
            Role.TECHNICIAN,
            name=f"Tech {i}",
            building_ids=building_ids,
        )
        techs.append(view.person.id)
    async with store.uow() as uow:
        await uow.session.execute(update(Building).values(supervisor_id=sup.person.id))
        values = [
            {
                "telegram_id": 8_000_000 + i,
                "name": f"Resident {i}",
                "language": "en",
                "room_id": rng.choice(rooms),
                "created_at": NOW - timedelta(days=HISTORY_DAYS + 30),
                "on_duty": False,
                "skills": [],
            }
            for i in range(REQUESTERS + INSPECTORS)
        ]
        await uow.session.execute(insert(Person), values)
        ids = list(
            (
                await uow.session.execute(
                    select(Person.id).where(col(Person.telegram_id) >= 8_000_000).order_by("id")
                )
            ).scalars()
        )
        await uow.commit()
    return Seeded(sup.person.id, disp.person.id, techs, ids[:REQUESTERS] + ids[REQUESTERS:])


def _rows(
    store: Store,
    rng: random.Random,
    n: int,
    seeded: Seeded,
    rooms: list[int],
    cats: dict[str, int],
    backlog: Backlog | None = None,
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:
    """Chunks of (tickets, followers, follow-ups) as column dicts, ids in filing order:
    N in all, the backlog's among them."""
    requesters = seeded.requesters[:REQUESTERS]
    inspectors = seeded.requesters[REQUESTERS:]
    home = {p: rng.choice(rooms) for p in requesters}
    weights = [w for w, _ in gen.CATEGORIES.values()]
    keys = list(gen.CATEGORIES)
    techs = [(t, rng.uniform(0.5, 1.5)) for t in seeded.technicians]
    columns = [c.name for c in table_of(Ticket).columns]
    forgotten_before = NOW - timedelta(days=120)
    followup_no = 0
    tickets: list[dict[str, Any]] = []
    followers: list[dict[str, Any]] = []
    followups: list[dict[str, Any]] = []
    piled = _backlog_times(rng, backlog) if backlog else []
    history = gen._created_times(rng, n - len(piled), HISTORY_DAYS)
    stream = heapq.merge(((at, None, False) for at in history), piled, key=lambda r: r[0])
    for number, (created, pile, late) in enumerate(stream, start=1):
        requester = rng.choice(requesters)
        room = home[requester] if rng.random() < 0.7 else rng.choice(rooms)
        key = rng.choices(keys, weights)[0]
        t, kind, opened = gen._ticket_row(
            rng, created, store.policy, (cats[key], key), room, requester, techs
        )
        if created < forgotten_before and rng.random() < FORGOTTEN:
            _forget(rng, t)
            kind = None
        if pile is not None:
            _pile_up(rng, t, pile, late, techs)
            kind = None
        t.id = number
        t.number = f"{created.astimezone(ZONE).year}-{number:07d}"
        if rng.random() < 0.05:
            t.filed_by_id = rng.choice(inspectors)
        row = {c: getattr(t, c) for c in columns}
        row["version"] = 0
        tickets.append(row)
        if rng.random() < 0.01:
            neighbour = rng.choice(requesters)
            if neighbour != requester:
                followers.append({"ticket_id": number, "person_id": neighbour, "since": created})
        if kind is not None and opened is not None:
            followup_no += 1
            done = opened + timedelta(days=1) < NOW and rng.random() < 0.75
            followups.append(
                {
                    "number": f"F-{followup_no:07d}",
                    "ticket_id": number,
                    "kind": kind,
                    "text": None,
                    "raised_by_id": requester,
                    "supervisor_id": seeded.supervisor,
                    "opened_at": opened,
                    "resolved_at": opened + timedelta(days=1) if done else None,
                    "resolved_by_id": seeded.supervisor if done else None,
                    "resolution": "revisited" if done else None,
                }
            )
        if len(tickets) >= CHUNK:
            yield tickets, followers, followups
            tickets, followers, followups = [], [], []
    yield tickets, followers, followups


async def _copy(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY through asyncpg; SQLite: one executemany."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = (await conn.get_raw_connection()).driver_connection
        names = list(rows[0])
        await raw.copy_records_to_table(
            table.name, records=[tuple(r[c] for c in names) for r in rows], columns=names
        )
    else:
        await conn.execute(insert(table), rows)


async def seed(store: Store, n: int, backlog: Backlog | None = None) -> Seeded:
    """The sample campus, its people and N tickets over three years (with the backlog)."""
    rng = random.Random(gen.SEED + n)
    rows = parse_locations_csv(gen.SAMPLE.read_text(encoding="utf-8-sig"))
    await places.import_locations(store.uow(), rows)
    await sync_categories(store.uow(), store.policy)
    async with store.uow() as uow:
        rooms = list((await uow.session.execute(select(Room.id).order_by(col(Room.id)))).scalars())
        categories = (await uow.session.execute(select(Category))).scalars()
        cats = {c.key: c.id for c in categories if c.id is not None}
    seeded = await _people(store, rng, rooms)
    counts: dict[str, int] = {}
    async with store.engine.begin() as conn:
        for tickets, followers, followups in _rows(store, rng, n, seeded, rooms, cats, backlog):
            await _copy(conn, table_of(Ticket), tickets)
            await _copy(conn, table_of(TicketFollower), followers)
            await _copy(conn, table_of(FollowUp), followups)
            for r in tickets:
                counts[str(r["status"])] = counts.get(str(r["status"]), 0) + 1
            counts["followers"] = counts.get("followers", 0) + len(followers)
            counts["followups"] = counts.get("followups", 0) + len(followups)
        await conn.execute(insert(Counter), [{"name": "ticket-2026", "last": n}])
        if conn.dialect.name == "postgresql":
            for table in ("ticket", "followup"):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
    await vacuum(store)
    seeded.counts = counts
    return seeded


async def vacuum(store: Store) -> None:
    """PostgreSQL: VACUUM ANALYZE, as autovacuum would soon after a bulk write. This
    machine's server runs with autovacuum off, and without it the roll-up's ~1,000,000
    updates leave as many dead tuples: index-only scans visit the heap, and the open
    backlog's counts cost 2-4x what they do on a vacuumed table."""
    if store.engine.dialect.name == "postgresql":
        async with store.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))


async def _find(store: Store) -> Seeded | None:
    """The people of an earlier seeding of this database (--keep), if there was one."""
    async with store.uow() as uow:
        rows = (
            await uow.session.execute(
                select(Person.id, Person.telegram_id)
                .where(col(Person.telegram_id) >= 7_000_000)
                .order_by(col(Person.id))
            )
        ).all()
    by_tg = {tg: pid for pid, tg in rows}
    if 7_000_001 not in by_tg:
        return None
    return Seeded(
        by_tg[7_000_001],
        by_tg[7_000_002],
        [by_tg[7_100_000 + i] for i in range(TECHNICIANS)],
        [pid for pid, tg in rows if tg >= 8_000_000],
    )


# --- timing -------------------------------------------------------------------------------


@dataclass
class Timing:
    p50_ms: float
    p95_ms: float
    note: str
    # CPU of this process per call (the event loop and SQLite's driver thread; not the
    # PostgreSQL server's): steadier than wall time on a loaded shared machine.
    cpu_p50_ms: float = 0.0


def _rank(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


async def timed(
    fn: Callable[[int], Awaitable[Any]], runs: int, describe: Callable[[Any], str]
) -> Timing:
    result = await fn(0)  # warm-up: caches, prepared statements
    times, cpu = [], []
    for i in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        await fn(i)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    ordered = sorted(times)
    return Timing(
        _rank(ordered, 0.5), _rank(ordered, 0.95), describe(result), _rank(sorted(cpu), 0.5)
    )


def screens(
    store: Store, s: Seeded
) -> dict[str, tuple[Callable[[int], Awaitable[Any]], Callable[[Any], str]]]:
    """The bot's screens as the service calls they make."""
    yesterday = NOW.astimezone(ZONE).date() - timedelta(days=1)
    start, end = parse_period(None, NOW)
    # Requesters with a history (every one has ~N/2000 tickets), spread over the list.
    who = s.requesters[:: max(1, REQUESTERS // 20)]

    async def my(i: int) -> Any:
        return await queries.my_tickets(store.uow(), who[i % len(who)], limit=5)

    async def unassigned(i: int) -> Any:
        return await queries.dispatcher_queue(
            store.uow(), s.dispatcher, queries.QueueFilter.UNASSIGNED, limit=8
        )

    async def overdue(i: int) -> Any:
        return await queries.dispatcher_queue(
            store.uow(), s.dispatcher, queries.QueueFilter.OVERDUE, limit=8
        )

    async def jobs(i: int) -> Any:
        tech = s.technicians[i % len(s.technicians)]
        return await queries.technician_job_page(store.uow(), tech, limit=JOB_PAGE)

    # The cursor of each technician's fifth page: the last job of their fourth, as the
    # "Next" button carries it (read for all of them in the warm-up, before timing).
    fifth: dict[int, int | None] = {}

    async def jobs_p5(i: int) -> Any:
        if not fifth:
            for tech in s.technicians:
                after = None
                for _ in range(4):
                    w = await queries.technician_job_page(
                        store.uow(), tech, after=after, limit=JOB_PAGE
                    )
                    after = w.items[-1].id if w.items and w.has_older else None
                fifth[tech] = after
        tech = s.technicians[i % len(s.technicians)]
        return await queries.technician_job_page(
            store.uow(), tech, after=fifth[tech], limit=JOB_PAGE
        )

    async def the_digest(i: int) -> Any:
        return await digest.digest_figures(
            store.uow(), viewer_id=s.supervisor, day=yesterday, zone=ZONE
        )

    async def office(i: int) -> Any:
        return await figures.period_stats(
            store.uow(), start=start, end=end, viewer_id=s.supervisor
        )

    day = NOW.astimezone(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=day.weekday())

    async def the_board(i: int) -> Any:
        return await board.overview(store.uow(), s.supervisor, day_start=day, week_start=week)

    async def ops_figures(i: int) -> Any:
        # What a /metrics scrape reads (at most every 5 s): open tickets, notice backlog.
        return await health.open_by_status(store.read()), await outbox.backlog(store.read())

    def page(p: Any) -> str:
        return f"{len(p.items)} shown of {p.total}"

    def window(w: Any) -> str:
        more = "+" if w.capped else ""
        where = " (restarted)" if w.restarted else ""
        return f"{len(w.items)} shown of {w.total}{more}{where}"

    return {
        **chart_screens(store, s),
        "my tickets p1": (my, page),
        "queue unassigned": (unassigned, page),
        "queue overdue": (overdue, page),
        "technician jobs": (jobs, window),
        "technician jobs p5": (jobs_p5, window),
        "digest figures": (
            the_digest,
            lambda d: f"{d.office.reported} filed, {sum(d.backlog.values())} open",
        ),
        "/stats 30 days": (office, lambda ot: f"{ot[0].reported:,} filed, {len(ot[1])} techs"),
        "board overview": (
            the_board,
            lambda o: f"{sum(o.open_by_status.values()):,} open, {len(o.overdue)} overdue shown",
        ),
        "/metrics figures": (
            ops_figures,
            lambda f: f"{sum(f[0].values()):,} open, {f[1].due} notices due",
        ),
    }


# --- the board's charts page (issue 27): its own rows, kept apart from the others ---------

CHART_TARGETS_MS = {  # the board's p95 target
    "charts 30 days": 300,
    "charts 90 days": 300,
    "charts page 90 days": 300,
    "building chart 30 days": 300,
}
TARGETS_MS.update(CHART_TARGETS_MS)


def chart_screens(
    store: Store, s: Seeded
) -> dict[str, tuple[Callable[[int], Awaitable[Any]], Callable[[Any], str]]]:
    """/board/charts as its JSON twin reads it (30 and 90 days, every building the
    supervisor oversees), the 90-day page with its four SVG charts drawn, and a building
    page's 30-day chart."""
    from bot.board import charts as svg
    from bot.i18n import Texts
    from store.reporting import charts

    t = Texts("en", ZONE.key)

    async def data(days: int, building: int | None = None) -> charts.Charts:
        return await charts.charts(store.uow(), s.supervisor, days=days, building_id=building)

    async def page(i: int) -> Any:
        c = await data(90)
        drawn = [
            svg.daily(t, c),
            svg.weekly(t, c),
            svg.bars(t, c.by_category, category=True, ident="c"),
            svg.bars(t, c.by_building, category=False, ident="b"),
        ]
        return c, sum(len(d) for d in drawn)

    async def busiest() -> int:
        c = await data(30)
        return int(c.by_building[0].key)

    first: list[int] = []

    async def building(i: int) -> Any:
        if not first:
            first.append(await busiest())
        return await data(30, first[0])

    def said(c: charts.Charts) -> str:
        return f"{c.received:,} received, {c.completed:,} completed, {len(c.by_building)} bars"

    return {
        "charts 30 days": (lambda i: data(30), said),
        "charts 90 days": (lambda i: data(90), said),
        "charts page 90 days": (page, lambda r: f"{said(r[0])}, {r[1] // 1024} KiB of SVG"),
        "building chart 30 days": (building, said),
    }


# --- the board's list pages (store.reporting.board_lists) ---------------------------------
# Kept apart from `screens`: the buildings table, search and the filtered tickets list,
# with their own p95 targets (the board's 300 ms at 1,000,000 tickets).
BOARD_LIST_TARGETS_MS = {
    "board buildings": 300,
    "board search words": 300,
    "board search no match": 300,
    "board search room": 300,
    "board tickets p1": 300,
    "board tickets p10": 300,
    "board tickets sparse": 300,
}


def board_list_screens(
    store: Store, s: Seeded
) -> dict[str, tuple[Callable[[int], Awaitable[Any]], Callable[[Any], str]]]:
    """The board's list pages as the service calls they make, as the supervisor of every
    building: the buildings table; search for words (in the last 90 days' descriptions),
    for words no ticket has (the whole 90 days read), and for a room's code; the tickets
    list of one building (the one with most rooms) over the last 366 days, its first
    page and its tenth (by cursor), and of a technician's 1-star jobs over the same
    year (few rows: the filters decide the cost, not the page)."""
    from sqlalchemy import func

    from store.reporting import board_lists

    today = NOW.astimezone(ZONE).date()
    end = summaries.local_midnight(today + timedelta(days=1), ZONE)
    words = board_lists.TicketFilter(end - timedelta(days=90), end)
    cursors: dict[str, board_lists.Cursor] = {}
    codes: dict[str, str] = {}

    async def filtered() -> board_lists.TicketFilter:
        # The building with the most rooms.
        async with store.uow() as uow:
            building = (
                await uow.session.execute(
                    select(Room.building_id)
                    .group_by(col(Room.building_id))
                    .order_by(func.count().desc(), col(Room.building_id))
                    .limit(1)
                )
            ).scalar_one()
        return board_lists.TicketFilter(end - timedelta(days=366), end, building_id=building)

    async def room_code() -> str:
        # The room of the newest ticket: a room with a history.
        async with store.uow() as uow:
            return (
                await uow.session.execute(
                    select(Room.code)
                    .join(Ticket, col(Ticket.room_id) == Room.id)
                    .order_by(col(Ticket.id).desc())
                    .limit(1)
                )
            ).scalar_one()

    async def buildings(i: int) -> Any:
        return await board_lists.buildings(store.uow(), s.supervisor)

    async def search(i: int) -> Any:
        return await board_lists.search(store.uow(), s.supervisor, "Strange smell", words)

    async def search_none(i: int) -> Any:
        return await board_lists.search(store.uow(), s.supervisor, "no such words", words)

    async def search_room(i: int) -> Any:
        if "room" not in codes:
            codes["room"] = await room_code()
        return await board_lists.search(store.uow(), s.supervisor, codes["room"], words)

    async def tickets_first(i: int) -> Any:
        return await board_lists.tickets(store.uow(), s.supervisor, await filtered())

    async def tickets_tenth(i: int) -> Any:
        f = await filtered()
        if "p10" not in cursors:
            page = await board_lists.tickets(store.uow(), s.supervisor, f)
            for _ in range(8):
                assert page.next is not None
                after = board_lists.Cursor.parse(page.next)
                page = await board_lists.tickets(store.uow(), s.supervisor, f, after=after)
            assert page.next is not None
            cursors["p10"] = board_lists.Cursor.parse(page.next)
        return await board_lists.tickets(store.uow(), s.supervisor, f, after=cursors["p10"])

    async def tickets_sparse(i: int) -> Any:
        # A technician's 1-star jobs of a year: a few rows, found among a year's.
        f = board_lists.TicketFilter(
            end - timedelta(days=366),
            end,
            technician_id=s.technicians[i % len(s.technicians)],
            rating=1,
        )
        return await board_lists.tickets(store.uow(), s.supervisor, f)

    def found(r: Any) -> str:
        return f"{len(r.page.items)} shown" + (f" of room {r.room_code}" if r.room_code else "")

    return {
        "board buildings": (
            buildings,
            lambda rows: f"{len(rows)} buildings, {sum(r.reported_30d for r in rows):,} filed",
        ),
        "board search words": (search, found),
        "board search no match": (search_none, found),
        "board search room": (search_room, found),
        "board tickets p1": (tickets_first, lambda p: f"{len(p.items)} shown"),
        "board tickets p10": (tickets_tenth, lambda p: f"{len(p.items)} shown"),
        "board tickets sparse": (tickets_sparse, lambda p: f"{len(p.items)} shown"),
    }


async def check_counts(store: Store, s: Seeded) -> list[str]:
    """Each screen's figures beside a direct count of the same tickets (the dispatcher
    and the supervisor oversee every building): exact where the screen counts exactly,
    the cap and its "+" where it caps. Returns the backlog's size and any mismatch."""
    now = store.clock()
    since = now - targets.STALE_AFTER
    open_ = list(OPEN_STATUSES)

    async def direct(*where: Any) -> int:
        async with store.uow() as uow:
            stmt = select(func.count()).select_from(Ticket).where(*where)
            return int((await uow.session.execute(stmt)).scalar_one())

    problems: list[str] = []

    def same(what: str, shown: Any, expected: Any) -> None:
        if shown != expected:
            problems.append(f"{what}: shown {shown}, counted {expected}")

    overdue = await direct(targets.targets_between(open_, since=since, until=now))
    unassigned = await direct(
        targets.targets_between([Status.RECEIVED, Status.DISPATCHING], since=since)
    )
    for flt, expected in (
        (queries.QueueFilter.OVERDUE, overdue),
        (queries.QueueFilter.UNASSIGNED, unassigned),
    ):
        page = await queries.dispatcher_queue(store.uow(), s.dispatcher, flt, limit=8)
        same(f"queue {flt.value}", page.total, expected)
    jobs = []
    for tech in s.technicians:
        held = targets.targets_between(ticket_views.HELD_STATUSES, since=since)
        n = await direct(col(Ticket.assignee_id) == tech, held)
        jobs.append(n)
        w = await queries.technician_job_page(store.uow(), tech, limit=JOB_PAGE)
        cap = queries.JOBS_COUNT_CAP
        same(f"jobs of {tech}", (w.total, w.capped), (min(n, cap), n > cap))
    for who in s.requesters[:: max(1, REQUESTERS // 20)]:
        mine = await direct(
            or_(
                col(Ticket.requester_id) == who,
                col(Ticket.filed_by_id) == who,
                col(Ticket.id).in_(
                    select(TicketFollower.ticket_id).where(TicketFollower.person_id == who)
                ),
            )
        )
        w = await queries.my_tickets(store.uow(), who, limit=5)
        cap = queries.COUNT_CAP
        same(f"my tickets of {who}", (w.total, w.capped), (min(mine, cap), mine > cap))
    start, end = parse_period(None, NOW)
    office, _ = await figures.period_stats(
        store.uow(), start=start, end=end, viewer_id=s.supervisor
    )
    same("/stats open now", office.open_now, await direct(col(Ticket.status).in_(open_)))
    reported = await direct(col(Ticket.created_at) >= start, col(Ticket.created_at) < end)
    same("/stats filed", office.reported, reported)
    yesterday = NOW.astimezone(ZONE).date() - timedelta(days=1)
    d = await digest.digest_figures(store.uow(), viewer_id=s.supervisor, day=yesterday, zone=ZONE)
    for status, n in d.backlog.items():
        same(f"digest open {status}", n, await direct(col(Ticket.status) == status))
    # Late now: past the promise when deferred, else past the target (stale ones too).
    late = await direct(col(Ticket.status).in_(open_), figures.late_clause(now))
    same("digest overdue", d.overdue_count, late)
    summary = (
        f"backlog: {overdue:,} overdue, {unassigned:,} unassigned live, "
        f"{sum(jobs) / len(jobs):.0f} live jobs per technician (max {max(jobs)})"
    )
    return [summary, *problems]


@contextmanager
def statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """Every SELECT the engine runs meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, params))

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)


async def explain(store: Store, name: str, fn: Callable[[int], Awaitable[Any]]) -> str:
    with statements(store) as seen:
        await fn(0)
    pg = store.engine.dialect.name == "postgresql"
    out = [f"== {name}"]
    async with store.engine.connect() as conn:
        for sql, params in seen:
            if "ticket" not in sql:
                continue
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN "
            rows = (await conn.exec_driver_sql(prefix + sql, params)).all()
            out.append("-- " + " ".join(sql.split())[:160])
            out += ["   " + " | ".join(str(c) for c in r[-1:] if c is not None) for r in rows]
    return "\n".join(out)


async def run_engine(url: str, n: int, args: argparse.Namespace) -> dict[str, Timing]:
    await upgrade(url)
    store = Store(create_engine(url), clock=lambda: NOW)
    try:
        started = time.perf_counter()
        s = await _find(store) or await seed(store, n, BACKLOGS[args.backlog])
        print(
            f"  {store.engine.dialect.name} seeded {n:,} tickets in "
            f"{time.perf_counter() - started:.0f} s: {s.counts}",
            file=sys.stderr,
        )
        # What the running bot's roll-up job does after an upgrade: every finished ticket
        # into the day summaries, batch by batch (no pause between batches here).
        started, batches, after = time.perf_counter(), 0, 0
        # As scheduler.ticks.summaries_tick does: each batch after the last one's ids.
        while (
            batch := await summaries.summarize_batch(store.uow(), after=after)
        ).last_id is not None:
            batches, after = batches + 1, batch.last_id
        print(
            f"  summarized in {time.perf_counter() - started:.0f} s ({batches} batches); "
            f"{await summaries.pending(store.uow())} left",
            file=sys.stderr,
        )
        if batches:
            await vacuum(store)
        result: dict[str, Timing] = {}
        every = {**screens(store, s), **board_list_screens(store, s)}
        for name, (fn, describe) in every.items():
            if args.only and name not in args.only.split(","):
                continue
            result[name] = await timed(fn, args.runs, describe)
            print(f"    {name}: {result[name]}", file=sys.stderr)
        checked = await check_counts(store, s)
        print(f"  {checked[0]}", file=sys.stderr)
        for problem in checked[1:]:
            print(f"  COUNT MISMATCH {problem}", file=sys.stderr)
        if len(checked) == 1:
            print("  every count shown equals a direct count (or its cap)", file=sys.stderr)
        if args.explain:
            for name, (fn, _) in every.items():
                if args.only and name not in args.only.split(","):
                    continue
                print(await explain(store, name, fn))
        # Peak RSS of this process so far: with --keep (no seeding in it) that is what the
        # screens themselves needed over the whole history.
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  peak RSS {rss:.0f} MiB", file=sys.stderr)
        return result
    finally:
        await store.dispose()


def _tag(args: argparse.Namespace) -> str:
    """What a kept database's name adds for its backlog ("" without one, as before)."""
    return "" if args.backlog == "none" else f"-{args.backlog}"


async def on_sqlite(n: int, args: argparse.Namespace) -> dict[str, Timing]:
    if args.keep:
        # Seeded once, timed again and again (migrations newer than the file still run).
        return await run_engine(
            f"sqlite+aiosqlite:///{args.keep}/scale-{n}{_tag(args)}.db", n, args
        )
    with tempfile.TemporaryDirectory() as tmp:
        return await run_engine(f"sqlite+aiosqlite:///{tmp}/scale.db", n, args)


async def on_postgres(n: int, args: argparse.Namespace) -> dict[str, Timing]:
    # With --keep the database is named for its size and kept, like the SQLite file.
    name = (
        f"repairbot_scale_{n}{_tag(args).replace('-', '_')}"
        if args.keep
        else f"repairbot_scale_{secrets.token_hex(4)}"
    )
    admin = create_engine(f"{args.pg}/postgres")
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            exists = (
                await conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                )
            ).first()
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        return await run_engine(f"{args.pg}/{name}", n, args)
    finally:
        if not args.keep:
            async with admin.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def table(results: dict[tuple[str, int], dict[str, Timing]], sizes: list[int]) -> str:
    head = ["screen", "db"]
    head += [f"{n:,} p50 / p95 ms" for n in sizes]
    if len(sizes) > 1:
        head.append(f"{sizes[-1] // 1000}k/{sizes[0] // 1000}k p50")
    head += ["target p95 at 1M", f"result at {sizes[-1]:,}"]
    lines = [head]
    dbs = sorted({db for db, _ in results}, key=lambda d: d != "sqlite")
    targets = {**TARGETS_MS, **BOARD_LIST_TARGETS_MS}
    for screen in targets:
        for db in dbs:
            figures = [results.get((db, n), {}).get(screen) for n in sizes]
            row = [screen, db]
            row += ["—" if f is None else f"{f.p50_ms:,.1f} / {f.p95_ms:,.1f}" for f in figures]
            if len(sizes) > 1:
                a, b = figures[0], figures[-1]
                row.append("—" if a is None or b is None else f"{b.p50_ms / a.p50_ms:.2f}")
            row.append(f"≤ {targets[screen]}")
            row.append("—" if figures[-1] is None else figures[-1].note)
            lines.append(row)
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, help="one size (default 100,000)")
    parser.add_argument("--sizes", help="comma-separated sizes, side by side")
    parser.add_argument("--db", choices=["sqlite", "pg", "both"], default="both")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    parser.add_argument("--explain", action="store_true", help="plans at the largest size")
    parser.add_argument(
        "--keep",
        help="keep what was seeded: SQLite files in this directory, PostgreSQL databases "
        "named repairbot_scale_N; a later run with --keep times them again without seeding",
    )
    parser.add_argument("--only", help="comma-separated screens to time (default: all)")
    parser.add_argument(
        "--backlog",
        choices=list(BACKLOGS),
        default="none",
        help="open work piled up over the last 90 days: busy (~200 jobs per technician, "
        "~2,800 overdue) or month (~364 per technician, ~9,600 overdue)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.tickets or 100_000]
    explain_flag = args.explain
    results: dict[tuple[str, int], dict[str, Timing]] = {}
    for n in sizes:
        args.explain = explain_flag and n == sizes[-1]
        if args.db in ("sqlite", "both"):
            results["sqlite", n] = await on_sqlite(n, args)
        if args.db in ("pg", "both"):
            results["pg", n] = await on_postgres(n, args)
    print(f"{args.runs} runs each, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(table(results, sizes))
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; CPU p50 ms:")
    for (db, n), timings in results.items():
        cpu = ", ".join(f"{name} {t.cpu_p50_ms:.1f}" for name, t in timings.items())
        print(f"  {db} {n:,}: {cpu}")


if __name__ == "__main__":
    asyncio.run(main())
