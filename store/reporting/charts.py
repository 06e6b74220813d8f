"""The board's charts: received and completed per campus day, completion times per week,
and the period's tickets by category and by building, in the viewer's scope. Read-only.

Like /stats and the digest (store.reporting.summaries), the whole campus days come from
the day summaries, here a row per day and building, and only what they do not hold yet
is read from the ticket rows: the tickets not summarized (open ones, and those finished
since the last roll-up), through the ticket indexes of each timestamp
(`figures.any_ticket`). The summaries keep each completed ticket's repair time, so the
weekly percentiles need no ticket rows either: the cost follows the days shown and the
live work, not the size of the history.

Counts: a ticket is "received" on the campus day it was filed (by its category and
building) and "completed" on the day it was completed (its repair time, filing to
completion, goes to that day's week). Weeks start on Monday, campus time.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement
from sqlalchemy import select as sa_select
from sqlmodel import col

from store.domain import board_access
from store.errors import InvalidInput, NotFound, NotPermitted
from store.models import Building, Category, DaySummary, Room, SummaryState, Ticket
from store.reporting import figures, summaries
from store.reporting.periods import raw, utc
from store.reporting.tally import as_list, median_of, micros, office_counts
from store.uow import UnitOfWork

PERIODS = (30, 90)  # the days a chart page may show
DEFAULT_DAYS = 30
BUILDINGS_SHOWN = 12  # the busiest buildings by name; the rest are one "others" row
P90_MIN = 10  # fewer completions than this: no p90 is shown (it would be the slowest one)


@dataclass(frozen=True, slots=True)
class DayCount:
    """One campus day: tickets received and completed."""

    day: date
    received: int
    completed: int


@dataclass(frozen=True, slots=True)
class WeekTimes:
    """One week (Monday, campus time): its completions and their repair times."""

    week: date
    completed: int
    p50: timedelta | None
    p90: timedelta | None  # None too when fewer than P90_MIN completions


@dataclass(frozen=True, slots=True)
class Part:
    """A category's or a building's tickets in the period. `key`: the category key, or
    the building id as text; "" for the buildings past BUILDINGS_SHOWN taken together."""

    key: str
    name: str
    received: int
    completed: int


@dataclass(frozen=True, slots=True)
class Charts:
    """Everything the chart page shows, for the campus days first_day..last_day."""

    days: int
    first_day: date
    last_day: date
    received: int
    completed: int
    median: timedelta | None  # report to completion, of the period's completions
    p90: timedelta | None
    daily: list[DayCount]
    weekly: list[WeekTimes]
    by_category: list[Part]
    by_building: list[Part]


def p90_of(values: list[int]) -> timedelta | None:
    """Nearest-rank 90th percentile of microsecond durations; None under P90_MIN values."""
    if len(values) < P90_MIN:
        return None
    ordered = sorted(values)
    rank = max(1, -(-9 * len(ordered) // 10))  # ceil(0.9 n)
    return timedelta(microseconds=ordered[rank - 1])


def period_days(text: str | None) -> int:
    """The `days` a viewer asked for (30 or 90); InvalidInput for anything else."""
    if text is None or text == "":
        return DEFAULT_DAYS
    if text.isdigit() and int(text) in PERIODS:
        return int(text)
    raise InvalidInput("days must be 30 or 90", days=text)


class _Sums:
    """Counts and durations added up by day, week, category and building."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.received: Counter[date] = Counter()
        self.completed: Counter[date] = Counter()
        self.durations: dict[date, list[int]] = {}  # by week
        self.packed: dict[date, array[int]] = {}  # by week, from the summaries (packed)
        self.category: Counter[str] = Counter()
        self.building_received: Counter[int] = Counter()
        self.building_completed: Counter[int] = Counter()

    def add_days(self, covered: list[Any]) -> None:
        """The summary rows (day, building id, packed tally): their filings, completions
        and repair times, without reading the technicians' parts (`office_counts`). One
        loop with local names: a 90-day chart over a campus reads thousands of rows."""
        received, completed, category = self.received, self.completed, self.category
        by_building_r, by_building_c, packed_by_week = (
            self.building_received,
            self.building_completed,
            self.packed,
        )
        mondays: dict[date, date] = {}
        heads: dict[bytes, tuple[dict[str, int], int]] = {}
        for day, building, packed in covered:
            week = mondays.get(day)
            if week is None:
                week = mondays[day] = _monday(day)
            values = packed_by_week.get(week)
            if values is None:
                values = packed_by_week[week] = array("q")
            before = len(values)
            by_category, filed = office_counts(packed, values, heads)
            done = len(values) - before
            received[day] += filed
            completed[day] += done
            for key, n in by_category.items():
                category[key] += n
            by_building_r[building] += filed
            by_building_c[building] += done

    def weeks(self) -> dict[date, list[int]]:
        """Repair times (µs) by week, from the summaries and the rows."""
        out = {week: as_list(values) for week, values in self.packed.items()}
        for week, values in self.durations.items():
            out.setdefault(week, []).extend(values)
        return out

    def add_row(self, row: Any, counts: Any) -> None:
        created, completed = utc(row.created_at), utc(row.completed_at)
        assert created is not None
        if counts(created):
            self.received[created.astimezone(self.zone).date()] += 1
            self.category[row.key] += 1
            self.building_received[row.building_id] += 1
        if completed is not None and counts(completed):
            day = completed.astimezone(self.zone).date()
            self.completed[day] += 1
            self.durations.setdefault(_monday(day), []).append(micros(completed - created))
            self.building_completed[row.building_id] += 1


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def _covered(
    uow: UnitOfWork, scope: ColumnElement[bool], first: date, end_day: date, zone: ZoneInfo
) -> tuple[tuple[datetime, datetime] | None, list[Any]]:
    """The days [first, end_day) the summaries answer (when they are in the campus zone),
    as instants, and their rows in scope: (day, building id, packed tally)."""
    state = await uow.session.get(SummaryState, summaries.STATE_ID)
    if state is None or state.zone != zone.key:
        return None, []
    rows = await uow.session.execute(
        sa_select(col(DaySummary.day), col(DaySummary.building_id), col(DaySummary.tally))
        .join(Building, col(Building.id) == DaySummary.building_id)
        .where(scope, col(DaySummary.day) >= first, col(DaySummary.day) < end_day)
    )
    inner = (summaries.local_midnight(first, zone), summaries.local_midnight(end_day, zone))
    return inner, list(rows.all())


async def charts(
    uow: UnitOfWork, person_id: int, *, days: int = DEFAULT_DAYS, building_id: int | None = None
) -> Charts:
    """The charts of the last `days` campus days (today included) for the viewer's
    buildings, or for one of them (NotFound outside their scope, as for a missing one).
    NotPermitted for someone without the office's figures (a technician)."""
    if days not in PERIODS:
        raise InvalidInput("days must be 30 or 90", days=days)
    async with uow.reading():
        await summaries.snapshot(uow)
        who = await board_access.viewer(uow, person_id)
        if not who.office:
            raise NotPermitted("the charts are for the office")
        scope = await figures.scope_clause(uow, person_id)
        if building_id is not None:
            scope = scope & (col(Building.id) == building_id)
            found = await uow.session.execute(sa_select(col(Building.id)).where(scope))
            if found.first() is None:
                raise NotFound("building", building_id=building_id)
        zone = ZoneInfo(uow.policy.timezone)
        today = uow.now().astimezone(zone).date()
        first = today - timedelta(days=days - 1)
        tomorrow = today + timedelta(days=1)
        start = summaries.local_midnight(first, zone)
        end = summaries.local_midnight(tomorrow, zone)
        sums = _Sums(zone)
        inner, covered = await _covered(uow, scope, first, tomorrow, zone)
        sums.add_days(covered)
        span = summaries.Span(start, end, inner=inner)
        moments = summaries.live_ranges(span, moments=(Ticket.created_at, Ticket.completed_at))
        live = await uow.session.execute(
            sa_select(
                raw(Ticket.created_at),
                raw(Ticket.completed_at),
                col(Ticket.summarized),
                col(Category.key),
                col(Room.building_id),
            )
            .join(Category, col(Category.id) == Ticket.category_id)
            .join(Room, col(Room.id) == Ticket.room_id)
            .join(Building, col(Building.id) == Room.building_id)
            .where(scope, figures.any_ticket(uow, *moments))
        )
        fresh, summarized = span.counts(False), span.counts(True)
        for row in live:
            sums.add_row(row, summarized if row.summarized else fresh)
        seen = set(sums.building_received) | set(sums.building_completed)
        names: dict[int, str] = {}
        if seen:
            found_names = await uow.session.execute(
                sa_select(col(Building.id), col(Building.name)).where(
                    col(Building.id).in_(sorted(seen))
                )
            )
            names = {int(str(i)): str(n) for i, n in found_names.all()}
    return _charts(sums, days, first, today, names)


def _charts(sums: _Sums, days: int, first: date, today: date, names: dict[int, str]) -> Charts:
    daily = []
    for offset in range(days):
        d = first + timedelta(days=offset)
        daily.append(DayCount(d, sums.received[d], sums.completed[d]))
    weekly = []
    weeks = sums.weeks()
    week = _monday(first)
    while week <= today:
        spans = weeks.get(week, [])
        weekly.append(WeekTimes(week, len(spans), median_of(spans), p90_of(spans)))
        week += timedelta(days=7)
    everything = [v for spans in weeks.values() for v in spans]
    by_category = [
        Part(key, key, n, 0)
        for key, n in sorted(sums.category.items(), key=lambda item: (-item[1], item[0]))
        if n
    ]
    ranked = sorted(
        set(sums.building_received) | set(sums.building_completed),
        key=lambda b: (-sums.building_received[b], -sums.building_completed[b], names.get(b, "")),
    )
    by_building = [
        Part(str(b), names.get(b, ""), sums.building_received[b], sums.building_completed[b])
        for b in ranked[:BUILDINGS_SHOWN]
    ]
    rest = ranked[BUILDINGS_SHOWN:]
    if rest:
        by_building.append(
            Part(
                "",
                "",
                sum(sums.building_received[b] for b in rest),
                sum(sums.building_completed[b] for b in rest),
            )
        )
    return Charts(
        days=days,
        first_day=first,
        last_day=today,
        received=sum(d.received for d in daily),
        completed=sum(d.completed for d in daily),
        median=median_of(everything),
        p90=p90_of(everything),
        daily=daily,
        weekly=weekly,
        by_category=by_category,
        by_building=by_building,
    )
