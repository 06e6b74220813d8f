"""Performance figures for supervisors: per technician, per office, and the raw export.

Every figure is computed from the ticket rows as they are now. Medians are taken in
Python from fetched timestamps, so SQLite and PostgreSQL give the same answer. Periods
are half-open: `start <= t < end`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, func, or_, type_coerce, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col

from store import roles
from store.domain.scope import buildings_clause, grants_of
from store.domain.ticket_views import HELD_STATUSES
from store.errors import InvalidInput, NotPermitted
from store.lifecycle import OPEN_STATUSES, Role, Status
from store.models import Building, Campus, Category, FollowUp, Person, Room, Ticket
from store.reporting import summaries
from store.reporting.tally import MICROSECOND, Tally, TechTally, accept_wait, median_of
from store.uow import UnitOfWork

WITHIN = timedelta(hours=1)  # the office's headline promise: fixed within the hour
DEFAULT_DAYS = 30
MAX_DAYS = 366
FOLLOWUP_CAP = 100  # open follow-ups are counted up to here, then shown as "100+"


@dataclass(frozen=True)
class TechnicianStats:
    """One technician's figures for a period, within the viewer's scope."""

    person_id: int
    name: str
    jobs_done: int
    median_accept: timedelta | None
    median_resolution: timedelta | None
    average_rating: float | None
    rated_jobs: int
    rework_rate: float | None
    overdue: int


@dataclass(frozen=True)
class OfficeStats:
    """The office's figures for a period, within the viewer's scope."""

    period_start: datetime
    period_end: datetime
    reported: int
    completed: int
    open_now: int
    median_accept: timedelta | None
    median_resolution: timedelta | None
    within_hour_share: float | None
    average_rating: float | None
    rated: int
    low_ratings: int
    open_followups: int  # at most FOLLOWUP_CAP + 1, meaning "more than FOLLOWUP_CAP"
    by_category: dict[str, int]
    by_status: dict[str, int]


@dataclass(frozen=True)
class ExportRow:
    """One ticket as a spreadsheet row; datetimes are aware UTC, durations in minutes."""

    number: str
    status: str
    campus: str
    building: str
    floor: str
    room: str
    room_code: str
    category: str
    urgency: str
    created_at: datetime
    dispatched_at: datetime | None
    accepted_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None
    technician: str | None
    promised_at: datetime | None
    defer_reason: str | None
    rework_count: int
    urge_count: int
    rating: int | None
    rating_comment: str | None
    accept_minutes: float | None
    resolution_minutes: float | None


# --- helpers ------------------------------------------------------------------------------


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC, whatever the driver handed back."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


def raw(column: Any) -> Any:
    """A timestamp column without SQLAlchemy's per-value result processing (on SQLite a
    regex parse per value: most of a report's time over tens of thousands of rows); read
    it back with `utc`. Labelled with the column's own name."""
    return type_coerce(column, String).label(column.key)


def utc(value: Any) -> datetime | None:
    """A `raw` timestamp as aware UTC: SQLite's stored text, or the driver's datetime."""
    if isinstance(value, str):
        # SQLite's text is UTC without an offset; parsing it with one is 8x faster than
        # replace(tzinfo=...) afterwards, which counts over tens of thousands of rows.
        return datetime.fromisoformat(value + "+00:00")
    return as_utc(value)


def late_clause(now: datetime) -> ColumnElement[bool]:
    """Late now: a deferred job past its promised date, any other open one past its target."""
    deferred = col(Ticket.status) == Status.DEFERRED
    return or_(
        and_(deferred, col(Ticket.promised_at) < now),
        and_(~deferred, col(Ticket.due_at) < now),
    )


def median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    s, e = as_utc(start), as_utc(end)
    assert s is not None and e is not None
    if e <= s:
        raise InvalidInput("period end must be after its start", start=s, end=e)
    return s, e


def may_see_figures(person_roles: Set[Role]) -> bool:
    """Whether some role of the person sees the office's figures (somewhere: the figures
    are of the buildings their grants cover)."""
    return not roles.FIGURES.isdisjoint(person_roles)


def check_figures(person_roles: Set[Role]) -> None:
    """NotPermitted unless `may_see_figures`: asked before a period is even read."""
    if not may_see_figures(person_roles):
        raise NotPermitted("figures are for supervisors, dispatchers and admins")


async def scope_clause(uow: UnitOfWork, viewer_id: int) -> ColumnElement[bool]:
    """A WHERE clause on Building limiting tickets to what the viewer oversees."""
    # Same reading of a scope as `grant_covers`, but as SQL so no building is loaded.
    grants = await grants_of(uow, viewer_id)
    clause = buildings_clause(g for g in grants if g.role in roles.FIGURES)
    if clause is None:
        raise NotPermitted("statistics need a supervisor, dispatcher or admin role")
    return clause


def any_ticket(uow: UnitOfWork, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """Tickets meeting any of `conditions`, each on ticket columns alone, in the shape
    each engine serves from the ticket indexes (one per timestamp, and
    `ix_ticket_status_created`), so a report's cost follows the period's activity rather
    than the office's whole history (bench/reports_at_scale.py --history-days).

    PostgreSQL: the plain OR, which it answers with a BitmapOr of those indexes. SQLite:
    `ticket.id IN (SELECT id ... WHERE c1 UNION ALL SELECT id ... WHERE c2 ...)`, the same
    rows; given the OR (no ANALYZE statistics, and a scope clause on building) it walks the
    viewer's buildings and rooms and then every ticket each room ever had, while the id
    list makes it read each branch from its index and fetch the few tickets by rowid.
    """
    if uow.session.get_bind().dialect.name == "postgresql":
        return or_(*conditions)
    branches = [sa_select(col(Ticket.id)).where(c).correlate(None) for c in conditions]
    return col(Ticket.id).in_(union_all(*branches))


def _touching(
    uow: UnitOfWork, start: datetime, end: datetime, *extra: ColumnElement[bool]
) -> ColumnElement[bool]:
    """Tickets with any timestamp in the period, or still open: all a figure can use."""
    return any_ticket(
        uow,
        and_(col(Ticket.created_at) >= start, col(Ticket.created_at) < end),
        and_(col(Ticket.accepted_at) >= start, col(Ticket.accepted_at) < end),
        and_(col(Ticket.completed_at) >= start, col(Ticket.completed_at) < end),
        *extra,
    )


# --- office and technicians ---------------------------------------------------------------


async def period_tally(
    uow: UnitOfWork, scope: ColumnElement[bool], start: datetime, end: datetime
) -> Tally:
    """What the office's and the technicians' figures for [start, end) are computed from:
    the day summaries of the whole campus days inside the period, plus the rows still
    read live (the partial days at either end; inside, the tickets not summarized yet).
    Call `summaries.snapshot` first in the unit."""
    span = await summaries.span(uow, scope, start, end)
    tally = span.summarized()
    stmt = (
        sa_select(*summaries.FACT_COLUMNS)
        .join(Category, col(Category.id) == Ticket.category_id)
        .join(Room, col(Room.id) == Ticket.room_id)
        .join(Building, col(Building.id) == Room.building_id)
        .where(scope, any_ticket(uow, *summaries.live_ranges(span)))
    )
    fresh, summarized = span.counts(False), span.counts(True)
    for row in await uow.session.execute(stmt):
        tally.add(summaries.facts(row), summarized if row.summarized else fresh)
    return tally


async def _held(uow: UnitOfWork, scope: ColumnElement[bool], now: datetime) -> list[Any]:
    """Per technician, how many of the jobs they hold now are late, counted by the database
    from `ix_ticket_status_backlog`: the open backlog (with every job left open for
    years) is never fetched row by row."""
    stmt = (
        sa_select(
            col(Ticket.assignee_id),
            col(Person.name),
            func.sum(case((late_clause(now), 1), else_=0)),
        )
        .join(Person, col(Person.id) == Ticket.assignee_id)
        .join(Room, col(Room.id) == Ticket.room_id)
        .join(Building, col(Building.id) == Room.building_id)
        .where(scope, col(Ticket.status).in_(HELD_STATUSES))
        .group_by(col(Ticket.assignee_id), col(Person.name))
    )
    return list((await uow.session.execute(stmt)).all())


async def technician_stats(
    uow: UnitOfWork, *, start: datetime, end: datetime, viewer_id: int
) -> list[TechnicianStats]:
    """Per-technician figures for tickets in the viewer's scope; busiest first.

    Only technicians with something in the period (or an open job) are listed. Figures
    follow the ticket's current assignee: a reopened ticket's earlier completion is gone.
    """
    return (await period_stats(uow, start=start, end=end, viewer_id=viewer_id))[1]


async def office_stats(
    uow: UnitOfWork, *, start: datetime, end: datetime, viewer_id: int
) -> OfficeStats:
    """The office's figures for the period within the viewer's scope (open counts: now)."""
    start, end = _period(start, end)
    async with uow.reading():
        await summaries.snapshot(uow)
        scope = await scope_clause(uow, viewer_id)
        tally = await period_tally(uow, scope, start, end)
        open_now = await count_open(uow, scope)
        followups = await open_followups(uow, scope)
    return _office(tally, start, end, uow.policy.low_rating_threshold, open_now, followups)


async def period_stats(
    uow: UnitOfWork, *, start: datetime, end: datetime, viewer_id: int
) -> tuple[OfficeStats, list[TechnicianStats]]:
    """office_stats and technician_stats together, as /stats and the digest show them,
    from one read of the period instead of two."""
    start, end = _period(start, end)
    async with uow.reading():
        await summaries.snapshot(uow)
        scope = await scope_clause(uow, viewer_id)
        tally = await period_tally(uow, scope, start, end)
        held = await _held(uow, scope, uow.now())
        names = await _names(uow, set(tally.techs) - {row.assignee_id for row in held})
        open_now = await count_open(uow, scope)
        followups = await open_followups(uow, scope)
    office = _office(tally, start, end, uow.policy.low_rating_threshold, open_now, followups)
    return office, _technicians(tally, held, names)


async def _names(uow: UnitOfWork, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await uow.session.execute(
        sa_select(col(Person.id), col(Person.name)).where(col(Person.id).in_(sorted(ids)))
    )
    return {person_id: name for person_id, name in rows if person_id is not None}


def _technicians(tally: Tally, held: list[Any], names: dict[int, str]) -> list[TechnicianStats]:
    late_now: dict[int, int] = {}
    for assignee_id, name, late in held:
        names[assignee_id] = name
        late_now[assignee_id] = int(late or 0)
    result = []
    for person_id in set(tally.techs) | set(late_now):
        t = tally.techs.get(person_id) or TechTally()
        result.append(
            TechnicianStats(
                person_id=person_id,
                name=names.get(person_id, ""),
                jobs_done=t.done,
                median_accept=median_of(t.accept),
                median_resolution=median_of(t.resolution),
                average_rating=_mean(t.ratings),
                rated_jobs=len(t.ratings),
                rework_rate=_share(t.reworked, t.done),
                overdue=t.overdue + late_now.get(person_id, 0),
            )
        )
    result.sort(key=lambda t: (-t.jobs_done, t.name, t.person_id))
    return result


def _ranked(counts: Counter[str]) -> dict[str, int]:
    """Most first, ties by name: the same order however the counts were added up."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _office(
    tally: Tally, start: datetime, end: datetime, low: int, open_now: int, followups: int
) -> OfficeStats:
    within = WITHIN // MICROSECOND
    resolution = tally.resolution
    return OfficeStats(
        period_start=start,
        period_end=end,
        reported=tally.by_status.total(),
        completed=len(resolution),
        open_now=open_now,
        median_accept=median_of(tally.accept),
        median_resolution=median_of(resolution),
        within_hour_share=_share(sum(r <= within for r in resolution), len(resolution)),
        average_rating=_mean(tally.ratings),
        rated=len(tally.ratings),
        low_ratings=sum(r <= low for r in tally.ratings),
        open_followups=followups,
        by_category=_ranked(tally.by_category),
        by_status=_ranked(tally.by_status),
    )


async def count_open(uow: UnitOfWork, scope: ColumnElement[bool]) -> int:
    """Open tickets in scope, counted by the database (seek on the status indexes)."""
    return int(
        (
            await uow.session.execute(
                sa_select(func.count())
                .select_from(Ticket)
                .join(Room, col(Room.id) == Ticket.room_id)
                .join(Building, col(Building.id) == Room.building_id)
                .where(scope, col(Ticket.status).in_(list(OPEN_STATUSES)))
            )
        ).scalar_one()
    )


async def open_followups(uow: UnitOfWork, scope: ColumnElement[bool]) -> int:
    """Unresolved follow-ups on tickets in scope, counted up to FOLLOWUP_CAP + 1 (shown as
    "100+": a supervisor needs to know there is a pile, not its exact height). Both
    engines walk the open follow-ups (`ix_followup_open`), reach ticket, room and building
    by key, and stop at the cap. An exact count cost PostgreSQL a hash join with a
    sequential scan of every ticket (150-210 ms at 1,000,000 tickets, 18,655 open
    follow-ups) and SQLite ~40 ms of key lookups."""
    room_of_ticket: Any = col(Ticket.room_id)
    if uow.session.get_bind().dialect.name != "postgresql":
        # SQLite has no statistics and, given the scope on building, would start from the
        # viewer's buildings and walk every ticket their rooms ever had; an expression in
        # place of the bare column takes that index off the table.
        room_of_ticket = room_of_ticket + 0
    found = (
        sa_select(col(FollowUp.id))
        .join(Ticket, col(Ticket.id) == FollowUp.ticket_id)
        .join(Room, col(Room.id) == room_of_ticket)
        .join(Building, col(Building.id) == Room.building_id)
        .where(scope, col(FollowUp.resolved_at).is_(None))
        .limit(FOLLOWUP_CAP + 1)
        .subquery()
    )
    counted = sa_select(func.count()).select_from(found)
    return int((await uow.session.execute(counted)).scalar_one())


def capped(count: int) -> str:
    """A count of open follow-ups as shown: "100+" past the cap."""
    return f"{FOLLOWUP_CAP}+" if count > FOLLOWUP_CAP else str(count)


# --- export -------------------------------------------------------------------------------


def _minutes(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds() / 60


EXPORT_BATCH = 1000  # rows fetched from the database, and handed on, at a time


async def stream_export(
    uow: UnitOfWork,
    *,
    start: datetime,
    end: datetime,
    viewer_id: int,
    write: Callable[[list[ExportRow]], Awaitable[object]],
    batch_size: int | None = None,
) -> int:
    """Every ticket filed in the period within the viewer's scope, oldest first, handed to
    `write` in batches of at most `batch_size` rows (default EXPORT_BATCH); returns how
    many there were.

    One query read through a server-side cursor (aiosqlite's and asyncpg's both fetch
    `batch_size` rows per round trip), so a year of a big office never sits in memory:
    only the batch being written does. The unit only reads (on SQLite it never waits for
    a writer), and `write` may take its time: the snapshot stays the query's."""
    start, end = _period(start, end)
    batch_size = batch_size or EXPORT_BATCH
    technician = aliased(Person)
    count = 0
    async with uow.reading():
        scope = await scope_clause(uow, viewer_id)
        stmt: Any = (
            sa_select(
                col(Ticket.number),
                col(Ticket.status),
                col(Campus.name).label("campus"),
                col(Building.name).label("building"),
                col(Room.floor),
                col(Room.name).label("room"),
                col(Room.code),
                col(Category.key),
                col(Ticket.urgency),
                raw(Ticket.created_at),
                raw(Ticket.dispatched_at),
                raw(Ticket.accepted_at),
                raw(Ticket.started_at),
                raw(Ticket.completed_at),
                raw(Ticket.closed_at),
                col(technician.name).label("technician"),
                raw(Ticket.promised_at),
                col(Ticket.defer_reason),
                col(Ticket.rework_count),
                col(Ticket.urge_count),
                col(Ticket.rating),
                col(Ticket.rating_comment),
            )
            .join(Room, col(Room.id) == Ticket.room_id)
            .join(Building, col(Building.id) == Room.building_id)
            .join(Campus, col(Campus.id) == Building.campus_id)
            .join(Category, col(Category.id) == Ticket.category_id)
            .outerjoin(technician, col(technician.id) == Ticket.assignee_id)
            .where(
                scope,
                any_ticket(
                    uow, and_(col(Ticket.created_at) >= start, col(Ticket.created_at) < end)
                ),
            )
            .order_by(col(Ticket.created_at), col(Ticket.id))
            .execution_options(yield_per=batch_size)
        )
        result = await uow.session.stream(stmt)
        async for partition in result.partitions():
            batch = [_export_row(row) for row in partition]
            count += len(batch)
            await write(batch)
    return count


async def export_rows(
    uow: UnitOfWork, *, start: datetime, end: datetime, viewer_id: int
) -> list[ExportRow]:
    """The same rows as `stream_export`, as one list: for small periods and tests."""
    rows: list[ExportRow] = []

    async def collect(batch: list[ExportRow]) -> None:
        rows.extend(batch)

    await stream_export(uow, start=start, end=end, viewer_id=viewer_id, write=collect)
    return rows


def _export_row(row: Any) -> ExportRow:
    created = utc(row.created_at)
    assert created is not None
    dispatched, accepted = utc(row.dispatched_at), utc(row.accepted_at)
    completed = utc(row.completed_at)
    return ExportRow(
        number=row.number,
        status=str(row.status),
        campus=row.campus,
        building=row.building,
        floor=row.floor,
        room=row.room,
        room_code=row.code,
        category=row.key,
        urgency=row.urgency,
        created_at=created,
        dispatched_at=dispatched,
        accepted_at=accepted,
        started_at=utc(row.started_at),
        completed_at=completed,
        closed_at=utc(row.closed_at),
        technician=row.technician,
        promised_at=utc(row.promised_at),
        defer_reason=row.defer_reason,
        rework_count=row.rework_count,
        urge_count=row.urge_count,
        rating=row.rating,
        rating_comment=row.rating_comment,
        accept_minutes=_minutes(accept_wait(created, dispatched, accepted)),
        resolution_minutes=_minutes(completed - created if completed else None),
    )


# --- periods ------------------------------------------------------------------------------

PERIOD_HELP = "today, week, month, Nd (N = 1–366), YYYY-MM or YYYY-MM-DD..YYYY-MM-DD"
_DAYS = re.compile(r"([0-9]{1,3})d")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_RANGE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\s*\.\.\s*([0-9]{4}-[0-9]{2}-[0-9]{2})")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_period(text: str | None, now: datetime) -> tuple[datetime, datetime]:
    """(start, end) in aware UTC for a period the user typed; default the last 30 days.

    "today" starts at midnight in `now`'s own zone, so a caller passing campus-local
    `now` gets the campus day; calendar months and dates are UTC.
    """
    if now.utcoffset() is None:
        now = now.replace(tzinfo=UTC)
    spec = (text or "").strip().lower()
    try:
        return _parse(spec, now)
    except (ValueError, OverflowError) as exc:  # impossible dates such as 2026-02-30
        raise InvalidInput(
            f"not a valid period: {text!r}; use {PERIOD_HELP}", period=text
        ) from exc


def _parse(spec: str, now: datetime) -> tuple[datetime, datetime]:
    end = now.astimezone(UTC)
    if not spec:
        return end - timedelta(days=DEFAULT_DAYS), end
    if spec == "today":
        local_midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return local_midnight.astimezone(UTC), end
    if spec == "week":
        return end - timedelta(days=7), end
    if spec == "month":
        return end - timedelta(days=30), end
    if m := _DAYS.fullmatch(spec):
        days = int(m.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(days)
        return end - timedelta(days=days), end
    if m := _MONTH.fullmatch(spec):
        year, month = int(m.group(1)), int(m.group(2))
        first = _midnight(date(year, month, 1))
        following = date(year + month // 12, month % 12 + 1, 1)
        return first, _midnight(following)
    if m := _RANGE.fullmatch(spec):
        first_day, last_day = (date.fromisoformat(g) for g in m.groups())
        if last_day < first_day:
            raise ValueError("range ends before it starts")
        return _midnight(first_day), _midnight(last_day) + timedelta(days=1)
    raise ValueError(spec)
