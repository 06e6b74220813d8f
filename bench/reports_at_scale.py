"""How the supervisor's reports behave as an office grows: SQLite and PostgreSQL side by side.

    .venv/bin/python bench/reports_at_scale.py [--sizes 1000,20000] [--runs 5]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432]
        [--history-days 1095] [--compare] [--explain]

For each size N, a fresh SQLite file and a throw-away PostgreSQL database get the sample
campus (examples/campus.csv, 32 buildings), one supervisor granted every building, eight
technicians with uneven workloads, residents, and N tickets filed over the 60 days before
a fixed "now" (2026-11-26 08:00 Asia/Shanghai, the digest hour). Both engines get the same
rows (same random seed). Tickets follow the lifecycle the services drive: filed and
dispatched at once, accepted (escalated when the accept target passed first), started,
sometimes deferred to a promised date, completed, reopened once (rework), confirmed with
a rating (2 stars or fewer opens a low-rating follow-up) or auto-closed unrated after seven
days; some are cancelled, and the recent ones are still dispatching, assigned, in progress,
deferred or completed. Rows are inserted in bulk through the models, not the services.
Events, offers, photos and outbox rows are not seeded: none of the timed reports reads them.
PostgreSQL is ANALYZEd after seeding, as autovacuum would; SQLite is not (the app never is).

Timed, with the store's clock at "now":
  digest_figures   one supervisor's digest for yesterday (Asia/Shanghai), all buildings
  office_stats     the last 30 days (periods.parse_period's default)
  technician_stats the last 30 days
  export_rows      the last 30 days, then bot.export.to_xlsx and to_csv on those rows
  digest_chart     bot.chart's PNG of the digest's 14-day series

Each operation runs once to warm up, then `--runs` times for the median wall time, then
once more under tracemalloc for its peak Python-heap allocation (tracemalloc slows Python,
so it never overlaps a timed run; memory the C libraries take for themselves is not seen).
"x smallest" is the median over the median at the smallest size: with tickets spread
over the same 60 days, a report that scales linearly grows about as much as N does.
Figures come from a shared machine: compare within one run, not across runs. Never fails
on time.

--history-days DAYS files the N tickets (default 50,000) over DAYS instead of 60, so an
office with years of long-closed tickets is timed on its last day and 30 days: a report
whose cost follows the period's activity takes about as long as on a young office with
the same daily load. Only the four store reports are timed (the documents read no table).

--compare times each store report twice on the same rows, before the fix, then as
shipped: "before" drops the ticket timestamp indexes (REPORT_INDEXES) and swaps
figures.any_ticket for the plain OR of timestamp conditions the reports sent until then
(the very same SQL), and "same" says whether both gave an equal result. --explain prints
the plan of the digest's and office_stats' main ticket query (EXPLAIN (ANALYZE, BUFFERS)
on PostgreSQL, EXPLAIN QUERY PLAN on SQLite), before and after with --compare.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import random
import secrets
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, event, or_, text, update
from sqlmodel import SQLModel, col, select

from bot.chart import digest_chart
from bot.export import to_csv, to_xlsx
from store.db import create_engine
from store.directory import places, staff
from store.directory.categories import sync_categories
from store.directory.location_csv import parse_locations_csv
from store.lifecycle import Role, Status
from store.migrate import upgrade
from store.models import Building, Category, Counter, FollowUp, Person, Room, Ticket
from store.policy import Policy
from store.reporting import digest, export, figures
from store.reporting.periods import parse_period
from store.uow import Store, UnitOfWork

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "campus.csv"
ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 08:00 on the campus: digest time
SPAN_DAYS = 60
SEED = 20261126
MIB = 1024 * 1024

# What gets reported, how often, and roughly how long the repair takes (hours).
CATEGORIES = {
    "water": (30, 1.0),
    "electrical": (18, 1.0),
    "hvac": (12, 3.0),
    "furniture": (10, 4.0),
    "doors_locks": (14, 0.8),
    "network": (10, 2.0),
    "other": (6, 3.0),
}
DESCRIPTIONS = {
    "water": ["水龍頭漏水", "馬桶堵塞", "熱水器不出熱水", "Shower drain blocked"],
    "electrical": ["燈管不亮", "插座沒電", "Ceiling light flickers"],
    "hvac": ["空調不製冷", "暖氣不熱", "AC remote missing"],
    "furniture": ["床板斷裂", "衣櫃門脫落", "Desk drawer broken"],
    "doors_locks": ["門鎖卡住", "門禁卡失效", "Window latch broken"],
    "network": ["網口沒信號", "Wi-Fi 連不上", "Ethernet port dead"],
    "other": ["天花板滲水", "窗簾軌道掉了", "Strange smell in corridor"],
}
TECHNICIANS = [
    ("王師傅", 1.4),
    ("李師傅", 1.25),
    ("張師傅", 1.1),
    ("劉師傅", 1.0),
    ("陳師傅", 1.0),
    ("楊師傅", 0.9),
    ("Zhao Wei", 0.8),
    ("Huang Min", 0.55),
]
# Local hour of filing: mostly daytime and evening, as residents notice faults.
HOUR_WEIGHTS = [1, 1, 0, 0, 0, 1, 2, 5, 8, 9, 9, 8, 6, 7, 8, 8, 8, 8, 9, 10, 10, 8, 5, 2]
RATINGS = ([5, 4, 3, 2, 1], [52, 26, 11, 6, 5])
DEFER_REASONS = ["等零件到貨", "Waiting for the contractor", "需要停水施工", "Parts on order"]


# --- seeding ------------------------------------------------------------------------------


@dataclass
class Office:
    """What the seeded store holds that the timed operations need."""

    supervisor_id: int
    counts: dict[str, int] = field(default_factory=dict)


def _minutes(rng: random.Random, median: float, sigma: float) -> timedelta:
    """A log-normal duration: most near the median, a long tail of slow ones."""
    return timedelta(minutes=median * math.exp(rng.gauss(0.0, sigma)))


def _created_times(rng: random.Random, n: int, span_days: int) -> list[datetime]:
    """N filing times over the `span_days` before NOW, weighted by the campus hour."""
    today = NOW.astimezone(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    times: list[datetime] = []
    while len(times) < n:
        day = today - timedelta(days=rng.randrange(span_days))
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
        local = day + timedelta(hours=hour, seconds=rng.randrange(3600))
        at = local.astimezone(UTC)
        if NOW - timedelta(days=span_days) <= at < NOW:
            times.append(at)
    return sorted(times)


@dataclass
class _Round:
    """One dispatch round of a ticket (the first, or the one after a reopen)."""

    status: Status
    updated: datetime
    dispatched: datetime
    accept_due: datetime
    due: datetime
    escalated: datetime | None = None
    accepted: datetime | None = None
    assignee: int | None = None
    started: datetime | None = None
    completed: datetime | None = None
    promised: datetime | None = None
    defer_reason: str | None = None
    promise_missed: datetime | None = None


def _play_round(
    rng: random.Random,
    base: datetime,
    targets: tuple[timedelta, timedelta],
    work_hours: float,
    techs: list[tuple[int, float]],
) -> _Round:
    """Dispatch at `base`, then accept, start, maybe defer, complete: as far as NOW allows."""
    accept_in, complete_in = targets
    r = _Round(Status.DISPATCHING, base, base, base + accept_in, base + complete_in)
    accepted = base + _minutes(rng, accept_in.total_seconds() / 60 * 0.5, 1.0)
    if accepted > r.accept_due and r.accept_due < NOW:
        r.escalated = r.accept_due + timedelta(seconds=rng.uniform(5, 60))
    if accepted >= NOW:
        return r
    r.status, r.updated, r.accepted = Status.ASSIGNED, accepted, accepted
    r.assignee = rng.choices([t for t, _ in techs], [w for _, w in techs])[0]
    started = accepted + _minutes(rng, 25, 1.0)
    if started >= NOW:
        return r
    r.status, r.updated, r.started = Status.IN_PROGRESS, started, started
    if rng.random() < 0.01:  # forgotten: started and never finished
        return r
    completed = started + _minutes(rng, work_hours * 60, 0.8)
    if rng.random() < (0.15 if work_hours >= 3 else 0.05):
        deferred = started + _minutes(rng, 40, 0.6)
        if deferred >= NOW:
            return r
        promised_local = (deferred + timedelta(days=rng.randint(1, 10))).astimezone(ZONE)
        promised = promised_local.replace(hour=rng.choice([9, 10, 14, 15]), minute=0)
        r.status, r.updated = Status.DEFERRED, deferred
        r.promised = promised.astimezone(UTC)
        r.defer_reason = rng.choice(DEFER_REASONS)
        if r.promised < NOW:
            r.promise_missed = r.promised + timedelta(seconds=rng.uniform(5, 60))
        if r.promised >= NOW or rng.random() < 0.15:  # not yet due, or the promise slipped
            return r
        completed = r.promised + _minutes(rng, 90, 0.7)
    if completed >= NOW:
        return r
    r.status, r.updated, r.completed = Status.COMPLETED, completed, completed
    return r


def _ticket_row(
    rng: random.Random,
    created: datetime,
    policy: Policy,
    category: tuple[int, str],
    room_id: int,
    requester_id: int,
    techs: list[tuple[int, float]],
) -> tuple[Ticket, str | None, datetime | None]:
    """One ticket as the services would have left it at NOW, plus its follow-up kind and
    when it opened (low rating or complaint), if any."""
    category_id, key = category
    urgency = rng.choices(["normal", "urgent", "emergency"], [85, 12, 3])[0]
    target = policy.categories[key]
    accept_in, complete_in = target.accept, target.complete
    faster = policy.urgency_targets.get(urgency)
    if faster is not None:
        accept_in, complete_in = min(accept_in, faster.accept), min(complete_in, faster.complete)
    work_hours = CATEGORIES[key][1]
    r = _play_round(rng, created, (accept_in, complete_in), work_hours, techs)
    fields: dict[str, Any] = {}
    rework = 0
    # Cancelled before work started: by the requester, or by a dispatcher.
    cancel_at = created + _minutes(rng, 50, 1.2)
    if rng.random() < 0.04 and cancel_at < NOW and (r.started is None or cancel_at < r.started):
        keep = r.accepted is not None and r.accepted < cancel_at
        r = _Round(
            Status.CANCELLED,
            cancel_at,
            r.dispatched,
            r.accept_due,
            r.due,
            escalated=r.escalated if r.escalated and r.escalated < cancel_at else None,
            accepted=r.accepted if keep else None,
            assignee=r.assignee if keep else None,
        )
    elif r.completed is not None and rng.random() < 0.03:
        # "Not fixed": reopened within the window, a fresh round from the reopen.
        reopened = r.completed + _minutes(rng, 300, 1.0)
        if reopened < NOW:
            rework = 1
            r = _play_round(rng, reopened, (accept_in, complete_in), work_hours, techs)
    status, updated = r.status, r.updated
    followup: tuple[str, datetime] | None = None
    if r.completed is not None:
        confirm_at = r.completed + _minutes(rng, 240, 1.3)
        auto_at = r.completed + policy.auto_close_after + timedelta(seconds=rng.uniform(5, 300))
        if rng.random() < 0.62 and confirm_at < min(NOW, auto_at):
            rating = rng.choices(*RATINGS)[0]
            if r.completed > r.due and rating > 1 and rng.random() < 0.4:
                rating -= 1  # late repairs are rated a little lower
            comment = None
            if rating <= 2 or rng.random() < 0.15:
                comment = rng.choice(["修得很快，謝謝", "Took two visits", "還是有點漏", "Great"])
            status, updated = Status.CLOSED, confirm_at
            fields.update(rating=rating, rating_comment=comment, closed_at=confirm_at)
            if rating <= policy.low_rating_threshold:
                followup = ("low_rating", confirm_at)
        elif auto_at < NOW:
            status, updated = Status.CLOSED, auto_at
            fields["closed_at"] = auto_at
    if followup is None and status != Status.CANCELLED and rng.random() < 0.005:
        followup = ("complaint", created + _minutes(rng, 600, 1.0))
        if followup[1] >= NOW:
            followup = None
    end_of_round = r.completed or NOW
    overdue = r.due + timedelta(seconds=rng.uniform(5, 60))
    open_late = status in (Status.DISPATCHING, Status.ASSIGNED, Status.IN_PROGRESS)
    if (open_late or r.completed is not None) and overdue < end_of_round:
        fields["overdue_at"] = overdue
    urges = 0
    if status != Status.CANCELLED and r.completed is None and r.due < NOW:
        urges = rng.choices([0, 1, 2, 3], [50, 30, 15, 5])[0]
    ticket = Ticket(
        number="",  # numbered in filing order by the caller
        status=status,
        requester_id=requester_id,
        filed_by_id=requester_id,
        room_id=room_id,
        category_id=category_id,
        urgency=urgency,
        description=rng.choice(DESCRIPTIONS[key]),
        contact_phone=f"138{rng.randrange(10**8):08d}" if rng.random() < 0.3 else None,
        assignee_id=r.assignee,
        accept_due_at=r.accept_due,
        due_at=r.due,
        escalated_at=r.escalated,
        promised_at=r.promised,
        defer_reason=r.defer_reason,
        promise_missed_at=r.promise_missed,
        rework_count=rework,
        urge_count=urges,
        last_urged_at=(r.due + timedelta(hours=2 * urges)) if urges else None,
        created_at=created,
        updated_at=updated,
        dispatched_at=r.dispatched,
        accepted_at=r.accepted,
        started_at=r.started,
        completed_at=r.completed,
        **fields,
    )
    kind, opened = followup if followup else (None, None)
    return ticket, kind, opened


async def seed(store: Store, n: int, span_days: int = SPAN_DAYS) -> Office:
    """The sample campus, its staff and residents, and N tickets filed over the `span_days`
    before NOW; returns the supervisor."""
    rng = random.Random(SEED + n)
    rows = parse_locations_csv(SAMPLE.read_text(encoding="utf-8-sig"))
    await places.import_locations(store.uow(), rows)
    await sync_categories(store.uow(), store.policy)
    async with store.uow() as uow:
        building_ids = list((await uow.session.execute(select(Building.id))).scalars())
        rooms = list((await uow.session.execute(select(Room.id).order_by(col(Room.id)))).scalars())
        categories = {c.key: c.id for c in (await uow.session.execute(select(Category))).scalars()}
    supervisor = await staff.add_staff(
        store.uow(), 7_000_001, Role.SUPERVISOR, name="督導 Supervisor", building_ids=building_ids
    )
    techs: list[tuple[int, float]] = []
    for i, (name, weight) in enumerate(TECHNICIANS):
        view = await staff.add_staff(
            store.uow(), 7_100_000 + i, Role.TECHNICIAN, name=name, building_ids=building_ids
        )
        await staff.set_duty(store.uow(), view.person.id, True)
        techs.append((view.person.id, weight))
    async with store.uow() as uow:
        await uow.session.execute(
            update(Building).values(supervisor_id=supervisor.person.id)  # the named supervisor
        )
        residents = [
            Person(
                telegram_id=8_000_000 + i,
                name=f"Resident {i}",
                language=rng.choice(["zh-hant", "zh-hans", "en"]),
                room_id=rng.choice(rooms),
                created_at=NOW - timedelta(days=span_days + rng.randrange(300)),
            )
            for i in range(max(40, n // 8))
        ]
        uow.session.add_all(residents)
        await uow.flush()
        weights = [w for w, _ in CATEGORIES.values()]
        keys = list(CATEGORIES)
        tickets: list[Ticket] = []
        followups: list[tuple[Ticket, str, datetime]] = []
        for number, created in enumerate(_created_times(rng, n, span_days), start=1):
            resident = rng.choice(residents)
            assert resident.id is not None and resident.room_id is not None
            room_id = resident.room_id if rng.random() < 0.7 else rng.choice(rooms)
            key = rng.choices(keys, weights)[0]
            ticket, kind, opened = _ticket_row(
                rng,
                created,
                store.policy,
                (categories[key] or 0, key),
                room_id,
                resident.id,
                techs,
            )
            year = created.astimezone(ZONE).year
            ticket.number = f"{year}-{number:06d}"
            tickets.append(ticket)
            if kind is not None and opened is not None:
                followups.append((ticket, kind, opened))
        for start in range(0, len(tickets), 5_000):
            uow.session.add_all(tickets[start : start + 5_000])
            await uow.flush()
        for number, (ticket, kind, opened) in enumerate(followups, start=1):
            assert ticket.id is not None
            resolved = opened + _minutes(rng, 24 * 60, 1.0)
            done = resolved < NOW and rng.random() < 0.75
            uow.session.add(
                FollowUp(
                    number=f"F{opened.astimezone(ZONE).year}-{number:05d}",
                    ticket_id=ticket.id,
                    kind=kind,
                    text=ticket.rating_comment,
                    raised_by_id=ticket.requester_id,
                    supervisor_id=supervisor.person.id,
                    opened_at=opened,
                    resolved_at=resolved if done else None,
                    resolved_by_id=supervisor.person.id if done else None,
                    resolution="Technician revisited" if done else None,
                )
            )
        year = NOW.astimezone(ZONE).year
        uow.session.add(Counter(name=f"ticket-{year}", last=n))
        uow.session.add(Counter(name=f"followup-{year}", last=len(followups)))
        await uow.commit()
    counts: dict[str, int] = {}
    for t in tickets:
        counts[str(t.status)] = counts.get(str(t.status), 0) + 1
    counts["followups"] = len(followups)
    return Office(supervisor.person.id, counts)


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Figure:
    """One operation on one engine at one size."""

    median_s: float
    peak_bytes: int
    note: str
    # Median time inside the driver's execute (the query, and the driver fetching and
    # decoding its rows: SQLAlchemy's async adapters fetch every row there), when taken.
    sql_s: float | None = None


class DriverClock:
    """Adds up the time an engine's statements spend in the driver's execute."""

    def __init__(self, store: Store) -> None:
        self.spent = 0.0
        self._started: list[float] = []
        engine = store.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, *_: Any) -> None:
        self.spent += time.perf_counter() - self._started.pop()


async def measure(
    fn: Callable[[], Awaitable[Any]],
    runs: int,
    describe: Callable[[Any], str],
    clock: DriverClock | None = None,
) -> Figure:
    """Warm up once, time `runs` runs for the median, then one run under tracemalloc."""
    result = await fn()
    times, in_driver = [], []
    for _ in range(runs):
        gc.collect()
        if clock:
            clock.spent = 0.0
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
        if clock:
            in_driver.append(clock.spent)
    gc.collect()
    tracemalloc.start()
    try:
        await fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    sql = statistics.median(in_driver) if in_driver else None
    return Figure(statistics.median(times), peak, describe(result), sql)


@dataclass
class Measured:
    """One engine at one size: the figures, and with --compare the same reports before
    the fix; with --explain, the query plans."""

    figures: dict[str, Figure]
    before: dict[str, Figure] = field(default_factory=dict)
    same: dict[str, bool] = field(default_factory=dict)
    plans: list[str] = field(default_factory=list)


# The indexes the reports' period predicates rely on (store/models.py, Ticket).
REPORT_INDEXES = (
    "ix_ticket_created_at",
    "ix_ticket_accepted_at",
    "ix_ticket_completed_at",
    "ix_ticket_updated_at",
)


PREDICATE = "any_ticket"  # figures.any_ticket, imported by export and digest too


def _plain_or(uow: UnitOfWork, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """The predicate the reports used before `figures.any_ticket`: one plain OR."""
    return or_(*conditions)


@asynccontextmanager
async def before_the_fix(store: Store) -> AsyncIterator[None]:
    """The reports as they were: the plain OR of timestamp conditions and no index on the
    ticket timestamps. Same rows, same code otherwise; restored on exit."""
    table = SQLModel.metadata.tables["ticket"]
    indexes = [i for i in table.indexes if i.name in REPORT_INDEXES]
    assert len(indexes) == len(REPORT_INDEXES), "store/models.py lost a report index"
    async with store.engine.begin() as conn:
        for index in indexes:
            await conn.run_sync(index.drop)
    users = (figures, export, digest)  # each holds its own name for it
    saved = [(m, getattr(m, PREDICATE)) for m in users if hasattr(m, PREDICATE)]
    for module, _ in saved:
        setattr(module, PREDICATE, _plain_or)
    try:
        yield
    finally:
        for module, predicate in saved:
            setattr(module, PREDICATE, predicate)
        async with store.engine.begin() as conn:
            for index in indexes:
                await conn.run_sync(index.create)


@contextmanager
def statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """Every (SQL, parameters) the store sends to its driver while the block runs."""
    seen: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        seen.append((args[2], args[3]))  # conn, cursor, statement, parameters, ...

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)


async def explain(store: Store, title: str, fn: Callable[[], Awaitable[Any]], last: bool) -> str:
    """The plan of the main ticket query `fn` sends (its last or first statement reading
    the ticket table), with the very parameters it used: EXPLAIN (ANALYZE, BUFFERS) on
    PostgreSQL, EXPLAIN QUERY PLAN on SQLite."""
    with statements(store) as seen:
        await fn()
    reads = [(sql, params) for sql, params in seen if "FROM ticket" in sql]
    sql, params = reads[-1] if last else reads[0]
    postgres = store.engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    async with store.engine.connect() as conn:
        rows = (await conn.exec_driver_sql(prefix + sql, params)).all()
    lines = [f"--- {title}"]
    if postgres:
        lines += [str(row[0]) for row in rows]
    else:
        depth: dict[int, int] = {0: 0}
        for node, parent, _, detail in map(tuple, rows):
            depth[node] = depth.get(parent, 0) + 1
            lines.append("  " * (depth[node] - 1) + str(detail))
    return "\n".join(line if len(line) <= 180 else line[:179] + "…" for line in lines)


async def run_engine(url: str, n: int, args: argparse.Namespace) -> Measured:
    await upgrade(url)
    store = Store(create_engine(url), clock=lambda: NOW)
    history = args.history_days is not None
    try:
        started = time.perf_counter()
        office = await seed(store, n, args.history_days or SPAN_DAYS)
        if store.engine.dialect.name == "postgresql":
            async with store.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE"))
        print(
            f"  seeded {n:,} tickets in {time.perf_counter() - started:.1f} s: {office.counts}",
            file=sys.stderr,
        )
        viewer = office.supervisor_id
        yesterday = NOW.astimezone(ZONE).date() - timedelta(days=1)
        start, end = parse_period(None, NOW)
        runs = args.runs

        async def the_digest() -> digest.Digest:
            return await digest.digest_figures(
                store.uow(), viewer_id=viewer, day=yesterday, zone=ZONE
            )

        async def office_30d() -> figures.OfficeStats:
            return await figures.office_stats(store.uow(), start=start, end=end, viewer_id=viewer)

        async def techs_30d() -> list[figures.TechnicianStats]:
            return await figures.technician_stats(
                store.uow(), start=start, end=end, viewer_id=viewer
            )

        async def export_30d() -> list[export.ExportRow]:
            return await export.export_rows(store.uow(), start=start, end=end, viewer_id=viewer)

        reports: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[Any], str]]] = [
            (
                "digest_figures (yesterday)",
                the_digest,
                lambda d: f"{d.office.reported} filed, {sum(d.backlog.values())} open",
            ),
            (
                "office_stats (30 d)",
                office_30d,
                lambda o: f"{o.reported:,} filed, {o.completed:,} done",
            ),
            ("technician_stats (30 d)", techs_30d, lambda ts: f"{len(ts)} technicians"),
            ("export_rows (30 d)", export_30d, lambda rows: f"{len(rows):,} rows"),
        ]
        measured = Measured({})
        clock = DriverClock(store)
        explained: list[tuple[str, Callable[[], Awaitable[Any]], bool]] = [
            ("digest_figures: main query", the_digest, True),
            ("office_stats (30 d): main query", office_30d, False),
        ]
        for op, fn, describe in reports:
            if args.compare:  # before and after, one report at a time, on the same rows
                async with before_the_fix(store):
                    measured.before[op] = await measure(fn, runs, describe, clock)
                    old = await fn()
                measured.same[op] = old == await fn()
            measured.figures[op] = await measure(fn, runs, describe, clock)
        if args.explain:
            for title, fn, last in explained:
                if args.compare:
                    async with before_the_fix(store):
                        measured.plans.append(await explain(store, f"{title}, before", fn, last))
                    title = f"{title}, after"
                measured.plans.append(await explain(store, title, fn, last))
        if history or args.compare:
            return measured  # the documents below read no table
        rows = await export_30d()

        async def xlsx() -> bytes:
            return to_xlsx(rows, ZONE)

        async def csv() -> bytes:
            return to_csv(rows, ZONE)

        measured.figures["to_xlsx (30 d rows)"] = await measure(
            xlsx, runs, lambda b: f"{len(b) / MIB:.2f} MiB file"
        )
        measured.figures["to_csv (30 d rows)"] = await measure(
            csv, runs, lambda b: f"{len(b) / MIB:.2f} MiB file"
        )
        series = (await the_digest()).series

        async def chart() -> bytes:
            return digest_chart(
                series,
                title="Digest",
                received="received",
                completed="completed",
                median_label="median",
                empty="no tickets",
            )

        measured.figures["digest_chart (14 days)"] = await measure(
            chart, runs, lambda b: f"{len(b) / 1024:.0f} KiB PNG"
        )
        return measured
    finally:
        await store.dispose()


async def on_postgres(pg: str, n: int, args: argparse.Namespace) -> Measured | None:
    """Run one size on a throw-away database, dropped afterwards whatever happens."""
    name = f"repairbot_bench_{secrets.token_hex(4)}"
    admin = create_engine(f"{pg}/postgres")
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        return await run_engine(f"{pg}/{name}", n, args)
    except OSError as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None
    finally:
        try:
            async with admin.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except OSError:
            pass
        await admin.dispose()


def _ms(figure: Figure | None) -> str:
    return "—" if figure is None else f"{figure.median_s * 1000:,.1f}"


def _sql_ms(figure: Figure | None) -> str:
    return "—" if figure is None or figure.sql_s is None else f"{figure.sql_s * 1000:,.1f}"


def _mib(figure: Figure | None) -> str:
    return "—" if figure is None else f"{figure.peak_bytes / MIB:,.2f}"


def _ratio(a: Figure | None, b: Figure | None) -> str:
    if a is None or b is None or b.median_s <= 0:
        return "—"
    return f"{a.median_s / b.median_s:,.1f}"


Results = dict[int, dict[str, Measured | None]]


def _figures(results: Results, n: int, engine: str, before: bool = False) -> dict[str, Figure]:
    got = results[n].get(engine)
    if got is None:
        return {}
    return got.before if before else got.figures


def _render(header: list[str], table: list[list[str]], left: set[int]) -> None:
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print(line(row))


def print_table(results: Results) -> None:
    sizes = sorted(results)
    smallest = sizes[0]
    header = [
        "operation",
        "tickets",
        "result (SQLite)",
        "SQLite ms",
        "PG ms",
        "PG/SQLite",
        "SQLite x smallest",
        "PG x smallest",
        "SQLite MiB",
        "PG MiB",
    ]
    table: list[list[str]] = []
    first = _figures(results, smallest, "SQLite file") or _figures(results, smallest, "PostgreSQL")
    for op in first:
        for n in sizes:
            lite = _figures(results, n, "SQLite file").get(op)
            pg = _figures(results, n, "PostgreSQL").get(op)
            base_lite = _figures(results, smallest, "SQLite file").get(op)
            base_pg = _figures(results, smallest, "PostgreSQL").get(op)
            table.append(
                [
                    op,
                    f"{n:,}",
                    lite.note if lite else (pg.note if pg else "—"),
                    _ms(lite),
                    _ms(pg),
                    _ratio(pg, lite),
                    _ratio(lite, base_lite),
                    _ratio(pg, base_pg),
                    _mib(lite),
                    _mib(pg),
                ]
            )
    _render(header, table, {0, 2})


def print_comparison(results: Results) -> None:
    """Before and after the fix, side by side: median wall time and median time in the
    driver's execute (ms), and whether both gave the very same result."""
    header = ["operation", "tickets", "result (SQLite)"]
    for engine in ("SQLite", "PG"):
        header += [f"{engine} ms before", "after", "x", "in driver before", "after", "same"]
    table: list[list[str]] = []
    first = next(
        (m.figures for by_engine in results.values() for m in by_engine.values() if m), {}
    )
    for op in first:
        for n in sorted(results):
            row = [op, f"{n:,}", "—"]
            for engine in ("SQLite file", "PostgreSQL"):
                got = results[n].get(engine)
                after = got.figures.get(op) if got else None
                before = got.before.get(op) if got else None
                if after and row[2] == "—":
                    row[2] = after.note
                same = "—" if got is None else ("yes" if got.same.get(op) else "NO")
                row += [_ms(before), _ms(after), _ratio(before, after)]
                row += [_sql_ms(before), _sql_ms(after), same]
            table.append(row)
    _render(header, table, {0, 2})


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=None,
        help="comma-separated ticket counts (default 1000,20000; 50000 with --history-days)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per operation")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    parser.add_argument(
        "--history-days",
        type=int,
        default=None,
        metavar="DAYS",
        help=f"file the tickets over DAYS instead of {SPAN_DAYS} (e.g. 1095: three years, "
        "mostly long closed) and time only the reports that read the store",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="time each store report before the fix too (plain OR, no timestamp indexes)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the plans of the digest's and office_stats' main ticket queries",
    )
    args = parser.parse_args()
    default = "50000" if args.history_days is not None else "1000,20000"
    spec = args.sizes or default
    sizes = sorted({int(s.replace("_", "")) for s in spec.split(",") if s.strip()})
    results: Results = {}
    for n in sizes:
        results[n] = {}
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite file, {n:,} tickets", file=sys.stderr)
            results[n]["SQLite file"] = await run_engine(
                f"sqlite+aiosqlite:///{tmp}/bench.db", n, args
            )
        print(f"PostgreSQL, {n:,} tickets", file=sys.stderr)
        results[n]["PostgreSQL"] = await on_postgres(args.pg, n, args)
    if args.compare:
        print_comparison(results)
    else:
        print_table(results)
    for n in sizes:
        for engine, got in results[n].items():
            for plan in got.plans if got else []:
                print(f"\n{engine}, {n:,} tickets: {plan}")


if __name__ == "__main__":
    asyncio.run(main())
