"""The supervisors' daily digest: who is due one, claiming it once, and its figures."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, and_, func, type_coerce, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from store.db import rowcount
from store.domain.scope import tickets_in
from store.lifecycle import OPEN_STATUSES, Role, Status
from store.models import Building, DigestRun, Person, RoleGrant, Room, Ticket
from store.reporting import summaries
from store.reporting.figures import (
    OfficeStats,
    TechnicianStats,
    any_ticket,
    late_clause,
    period_stats,
    scope_clause,
)
from store.reporting.periods import as_utc, raw, utc
from store.reporting.tally import median_of, micros
from store.uow import UnitOfWork

# A claim whose send never finished (crash, Telegram down) may be taken again after this.
STALE_CLAIM = timedelta(minutes=10)
SERIES_DAYS = 14


@dataclass(frozen=True, slots=True)
class DayPoint:
    """One day of the chart: received, completed, median completion (minutes)."""

    day: date
    received: int
    completed: int
    median_completion_minutes: float | None


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything one supervisor's digest shows, for `day` (the local day reported on)."""

    day: date
    office: OfficeStats
    cancelled: int
    backlog: dict[str, int]
    overdue: list[str]  # the first OVERDUE_SHOWN by number
    overdue_count: int
    due_soon: list[tuple[str, datetime]]
    p90_resolution: timedelta | None
    low_ratings: list[tuple[str, int]]
    technicians: list[TechnicianStats]
    series: list[DayPoint]


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Start and end (aware UTC) of a local calendar day."""
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return as_utc(start), as_utc(end)


async def supervisors_due(
    uow: UnitOfWork, *, at: time, default_zone: str
) -> list[tuple[int, date, str]]:
    """Supervisors whose local time has passed `at` today and who have no digest for today
    yet (or only a stale, unsent claim): (person id, local day, zone name)."""
    async with uow:
        now = uow.now()
        rows = (
            await uow.session.execute(
                select(Person.id, Person.timezone)
                .join(RoleGrant, col(RoleGrant.person_id) == Person.id)
                .where(
                    RoleGrant.role == Role.SUPERVISOR,
                    col(Person.telegram_id).is_not(None),
                    # A supervisor who blocked the bot is not retried all day.
                    col(Person.unreachable_since).is_(None),
                )
                .distinct()
            )
        ).all()
        due: list[tuple[int, date, str]] = []
        for person_id, zone_name in rows:
            zone = zone_name or default_zone
            local = now.astimezone(ZoneInfo(zone))
            if local.time() < at:
                continue
            run = await uow.session.get(DigestRun, (person_id, local.date()))
            if run is None or (run.sent_at is None and as_utc(run.claimed_at) < now - STALE_CLAIM):
                due.append((person_id, local.date(), zone))
        return due


async def claim_digest(uow: UnitOfWork, person_id: int, day: date) -> bool:
    """Take the right to send this digest; False when someone else holds or sent it."""
    async with uow:
        now = uow.now()
        inserted = await uow.session.execute(
            uow.insert(DigestRun)
            .values(person_id=person_id, day=day, claimed_at=now)
            .on_conflict_do_nothing()
        )
        if rowcount(inserted) == 1:
            await uow.commit()
            return True
        retaken = await uow.session.execute(
            update(DigestRun)
            .where(
                col(DigestRun.person_id) == person_id,
                col(DigestRun.day) == day,
                col(DigestRun.sent_at).is_(None),
                col(DigestRun.claimed_at) < now - STALE_CLAIM,
            )
            .values(claimed_at=now)
        )
        await uow.commit()
        return rowcount(retaken) == 1


async def mark_digest_sent(uow: UnitOfWork, person_id: int, day: date) -> None:
    """The digest reached Telegram."""
    async with uow:
        await uow.session.execute(
            update(DigestRun)
            .where(col(DigestRun.person_id) == person_id, col(DigestRun.day) == day)
            .values(sent_at=uow.now())
        )
        await uow.commit()


async def mark_chart_sent(uow: UnitOfWork, person_id: int, day: date) -> None:
    """The digest's chart went out; a retry of the rest must not send it again."""
    async with uow:
        await uow.session.execute(
            update(DigestRun)
            .where(col(DigestRun.person_id) == person_id, col(DigestRun.day) == day)
            .values(chart_sent_at=uow.now())
        )
        await uow.commit()


async def chart_was_sent(uow: UnitOfWork, person_id: int, day: date) -> bool:
    """Whether an earlier, interrupted try already delivered this digest's chart."""
    async with uow:
        run = await uow.session.get(DigestRun, (person_id, day))
        return run is not None and run.chart_sent_at is not None


def _p90(values: list[int]) -> timedelta | None:
    """Nearest-rank 90th percentile of microsecond durations."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-9 * len(ordered) // 10))  # ceil(0.9 n)
    return timedelta(microseconds=ordered[rank - 1])


async def first_ticket_at(uow: UnitOfWork) -> datetime | None:
    """When the office's first ticket came in (aware UTC; None before any)."""
    async with uow.reading():
        first = (
            await uow.session.execute(
                sa_select(type_coerce(func.min(col(Ticket.created_at)), String))
            )
        ).scalar_one_or_none()
    return utc(first)


def local_day(moment: datetime | None, zone: ZoneInfo) -> date | None:
    """The local calendar day of a moment (None stays None)."""
    return None if moment is None else moment.astimezone(zone).date()


async def first_ticket_day(uow: UnitOfWork, zone: ZoneInfo) -> date | None:
    """The local day the office's first ticket came in (None before any): no digest
    reports on a day before it."""
    return local_day(await first_ticket_at(uow), zone)


OVERDUE_SHOWN = 15  # overdue numbers the digest lists; the rest is a count


async def digest_figures(uow: UnitOfWork, *, viewer_id: int, day: date, zone: ZoneInfo) -> Digest:
    """The digest for the local `day` (usually yesterday) in the viewer's scope."""
    start, end = local_day_bounds(day, zone)
    office, technicians = await period_stats(uow, start=start, end=end, viewer_id=viewer_id)
    series_start, _ = local_day_bounds(day - timedelta(days=SERIES_DAYS - 1), zone)
    low = uow.policy.low_rating_threshold
    async with uow.reading():
        await summaries.snapshot(uow)
        now = uow.now()
        scope = await scope_clause(uow, viewer_id)

        def by_index(*terms: ColumnElement[bool]) -> ColumnElement[bool]:
            # A range on one timestamp, read from its index (figures.any_ticket), not
            # through the viewer's buildings and every ticket their rooms ever had.
            return any_ticket(uow, and_(*terms))

        def in_scope(*columns: Any, where: ColumnElement[bool]) -> Any:
            # Joined to room and building, not `scope.tickets_in`: over the 32,000 open
            # tickets of a busy office at 1,000,000 these read 15% less CPU this way.
            return (
                sa_select(*columns)
                .select_from(Ticket)
                .join(Room, col(Room.id) == Ticket.room_id)
                .join(Building, col(Building.id) == Room.building_id)
                .where(scope, where)
            )

        async def fetch(*columns: Any, where: ColumnElement[bool], group: Any = None) -> list[Any]:
            stmt = in_scope(*columns, where=where)
            if group is not None:
                stmt = stmt.group_by(group)
            return list((await uow.session.execute(stmt)).all())

        # The open backlog, counted and listed by the database: no open ticket (nor the
        # ones forgotten for years) is fetched whole.
        open_ = col(Ticket.status).in_(list(OPEN_STATUSES))
        backlog = {
            str(status): int(n)
            for status, n in await fetch(
                col(Ticket.status), func.count(), where=open_, group=col(Ticket.status)
            )
        }
        late = and_(open_, late_clause(now))
        overdue_count = int((await fetch(func.count(), where=late))[0][0])
        overdue = list(
            (
                await uow.session.execute(
                    in_scope(col(Ticket.number), where=late)
                    .order_by(col(Ticket.number))
                    .limit(OVERDUE_SHOWN)
                )
            ).scalars()
        )
        due_soon = [
            (r.number, utc(r.promised_at) or now)
            for r in await fetch(
                col(Ticket.number),
                raw(Ticket.promised_at),
                where=and_(
                    col(Ticket.status) == Status.DEFERRED,
                    col(Ticket.promised_at) >= now,
                    col(Ticket.promised_at) < now + timedelta(3),
                ),
            )
        ]
        cancelled = len(
            await fetch(
                col(Ticket.id),
                where=and_(
                    col(Ticket.status) == Status.CANCELLED,
                    by_index(col(Ticket.updated_at) >= start, col(Ticket.updated_at) < end),
                ),
            )
        )
        # A ticket closed in the day was last updated then or later (every write bumps
        # updated_at), so the day's updates are where to look.
        low_ratings = [
            (r.number, int(r.rating))
            for r in await fetch(
                col(Ticket.number),
                col(Ticket.rating),
                where=and_(
                    by_index(col(Ticket.updated_at) >= start),
                    col(Ticket.closed_at) >= start,
                    col(Ticket.closed_at) < end,
                    col(Ticket.rating) <= low,
                ),
            )
        ]
        per_day = await _series(uow, scope, series_start, end, zone)
    series = []
    for offset in range(SERIES_DAYS - 1, -1, -1):
        d = day - timedelta(days=offset)
        received, durations = per_day.get(d, (0, []))
        m = median_of(durations)
        series.append(DayPoint(d, received, len(durations), m.total_seconds() / 60 if m else None))
    return Digest(
        day=day,
        office=office,
        cancelled=cancelled,
        backlog=dict(sorted(backlog.items())),
        overdue=overdue,
        overdue_count=overdue_count,
        due_soon=sorted(due_soon, key=lambda item: item[1]),
        p90_resolution=_p90(per_day.get(day, (0, []))[1]),
        low_ratings=sorted(low_ratings),
        technicians=technicians,
        series=series,
    )


async def _series(
    uow: UnitOfWork, scope: ColumnElement[bool], start: datetime, end: datetime, zone: ZoneInfo
) -> dict[date, tuple[int, list[int]]]:
    """Per local day of [start, end): tickets received, and the repair times (µs) of those
    completed. Whole campus days come from the day summaries; the rest from the rows."""
    span = await summaries.span(uow, scope, start, end, zone)
    received: Counter[date] = Counter()
    durations: dict[date, list[int]] = {}
    for d in span.days:
        tally = span.on(d)
        received[d] += tally.by_status.total()
        durations.setdefault(d, []).extend(tally.resolution)
    moments = summaries.live_ranges(span, moments=(Ticket.created_at, Ticket.completed_at))
    connection = await uow.session.connection()  # plain rows, as figures.period_tally
    rows = await connection.execute(
        sa_select(raw(Ticket.created_at), raw(Ticket.completed_at), col(Ticket.summarized)).where(
            tickets_in(uow, scope), any_ticket(uow, *moments)
        )
    )
    fresh, summarized = span.counts(False), span.counts(True)
    for r in rows:
        counts = summarized if r.summarized else fresh
        created, completed = utc(r.created_at), utc(r.completed_at)
        assert created is not None
        if counts(created):
            received[created.astimezone(zone).date()] += 1
        if completed is not None and counts(completed):
            durations.setdefault(completed.astimezone(zone).date(), []).append(
                micros(completed - created)
            )
    return {d: (received[d], durations.get(d, [])) for d in set(received) | set(durations)}
