"""Day summaries: /stats and the digest read the figures of finished tickets per day,
not the tickets.

A closed or cancelled ticket can never change again in anything a figure reads (no
transition leaves those statuses, and a later rating comment is not a figure). So the
roll-up job (`summarize_batch`, run by the scheduler) adds each such ticket's
contributions once to the summary of every campus-local day it touched (filed, accepted,
completed) in its building, and marks the ticket `summarized` in the same transaction.
Nothing is ever invalidated: a summary only grows.

A report over a period then reads, in one snapshot:
- the summaries of the whole local days inside the period (`covered`), a row per day and
  building in the viewer's scope;
- live, from the ticket rows: every ticket touching the period's partial first and last
  day, and inside the covered days only the tickets not summarized yet (open ones and
  those finished since the last roll-up), through the partial `ix_ticket_live_*` indexes.

Each contribution is counted exactly once: by the summary when its ticket is summarized
and its moment lies in a covered day, else from the row (`Span.counts`). The cost follows
the days shown and the live work, not the size of the history. When the campus zone
setting changes, the summaries (whose days are the old zone's) are dropped and rebuilt;
until then the reports read everything live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    delete,
    func,
    text,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy import select as sa_select
from sqlmodel import col

from store.db import table_of
from store.domain.tickets import (
    Batch,
    due_ids,
    forget_summarized,
    mark_summarized,
    not_summarized,
)
from store.lifecycle import FINAL_STATUSES, TRANSITIONS
from store.models import Building, Category, DaySummary, Room, SummaryState, Ticket
from store.reporting.tally import Facts, Tally
from store.uow import UnitOfWork

# What makes the summaries sound: nothing leaves a final status.
assert not any(rule.sources & FINAL_STATUSES for rule in TRANSITIONS.values())

BATCH = 500  # tickets summarized per transaction: a short write, then the users' turn
STATE_ID = 1
EMPTY = Tally().to_bytes()


def _raw(column: Any) -> Any:
    # A timestamp without SQLAlchemy's per-value parsing (stats.raw; see `utc`).
    return type_coerce(column, String).label(column.key)


def utc(value: Any) -> datetime | None:
    """A `_raw` timestamp as aware UTC: SQLite's stored text, or the driver's datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value + "+00:00")
    assert isinstance(value, datetime)
    return value.replace(tzinfo=ZoneInfo("UTC")) if value.utcoffset() is None else value


# Every column a figure reads, for `facts`; joined to Category for its key.
FACT_COLUMNS: tuple[Any, ...] = (
    col(Ticket.status),
    col(Category.key),
    _raw(Ticket.created_at),
    _raw(Ticket.dispatched_at),
    _raw(Ticket.accepted_at),
    _raw(Ticket.completed_at),
    _raw(Ticket.due_at),
    col(Ticket.rework_count),
    col(Ticket.rating),
    col(Ticket.requester_id),
    col(Ticket.assignee_id),
    col(Ticket.summarized),
)


def facts(row: Any) -> Facts:
    """A row selected with FACT_COLUMNS first as the tally's input. Unpacked by position: a
    report reads every live ticket of its period through here (thousands with a busy
    office's backlog), and a Row's attribute lookups cost ten times the unpacking."""
    (status, key, created, dispatched, accepted, completed, due, rework, rating, requester,
     assignee) = row[:11]  # fmt: skip
    created = utc(created)
    assert created is not None
    return Facts(
        str(status),
        key,
        created,
        utc(dispatched),
        utc(accepted),
        utc(completed),
        utc(due),
        rework,
        rating,
        requester,
        assignee,
    )


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of a local day, aware UTC."""
    return datetime.combine(day, time(0), zone).astimezone(ZoneInfo("UTC"))


def _zone_ready(state: SummaryState | None, zone: str) -> bool:
    return state is not None and state.zone == zone


# --- reading ------------------------------------------------------------------------------


@dataclass
class Span:
    """A period split into what the summaries answer and what rows must answer.

    `days` maps each local day wholly inside [start, end) to its summary rows, packed
    (none when no summary could be used); `inner` is the instants those days cover."""

    start: datetime
    end: datetime
    days: dict[date, list[bytes]] = field(default_factory=dict)
    inner: tuple[datetime, datetime] | None = None

    def counts(self, summarized: bool) -> Any:
        """For a live row: does a moment of it count here (not already in a summary)?"""
        start, end, inner = self.start, self.end, self.inner
        if inner is None or not summarized:
            return lambda ts: ts is not None and start <= ts < end
        a, b = inner
        return lambda ts: ts is not None and start <= ts < end and not a <= ts < b

    def live_conditions(self) -> list[tuple[datetime, datetime, bool]]:
        """(from, to, only_not_summarized) ranges the live rows are read from."""
        if self.inner is None:
            return [(self.start, self.end, False)]
        a, b = self.inner
        parts = [(a, b, True)]
        if self.start < a:
            parts.append((self.start, a, False))
        if b < self.end:
            parts.append((b, self.end, False))
        return parts

    def summarized(self) -> Tally:
        """Every covered day's summaries added up."""
        return Tally.sum_packed(packed for parts in self.days.values() for packed in parts)

    def on(self, day: date) -> Tally:
        """One covered day's summaries added up."""
        return Tally.sum_packed(self.days.get(day, ()))


async def snapshot(uow: UnitOfWork) -> None:
    """Make the unit's reads one snapshot (PostgreSQL: REPEATABLE READ; SQLite's read
    transactions are one already), so a roll-up committing between the summaries and the
    rows can neither count a ticket twice nor lose it. First thing in a unit."""
    session = uow.session
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def span(
    uow: UnitOfWork,
    scope: ColumnElement[bool],
    start: datetime,
    end: datetime,
    zone: ZoneInfo | None = None,
) -> Span:
    """The summaries of the local days wholly inside [start, end) in the viewer's scope.
    `zone`: the days the caller needs (the digest's series); summaries serve only when it
    is the campus zone they were built in."""
    result = Span(start, end)
    campus_zone = uow.policy.timezone
    if zone is not None and zone.key != campus_zone:
        return result
    if not _zone_ready(await uow.session.get(SummaryState, STATE_ID), campus_zone):
        return result
    tz = ZoneInfo(campus_zone)
    first = start.astimezone(tz).date()
    if local_midnight(first, tz) < start:
        first += timedelta(days=1)
    last = end.astimezone(tz).date()  # the day after the last whole one
    if last <= first:
        return result
    result.inner = (local_midnight(first, tz), local_midnight(last, tz))
    rows = await uow.session.execute(
        sa_select(col(DaySummary.day), col(DaySummary.tally))
        .join(Building, col(Building.id) == DaySummary.building_id)
        .where(scope, col(DaySummary.day) >= first, col(DaySummary.day) < last)
    )
    days: dict[date, list[bytes]] = {}
    for day, packed in rows:
        days.setdefault(day, []).append(packed)
    result.days = days
    return result


# --- rolling up ---------------------------------------------------------------------------


async def summarize_batch(uow: UnitOfWork, *, after: int = 0, limit: int = BATCH) -> Batch:
    """Summarize up to `limit` closed or cancelled tickets (ids above `after`) in one
    transaction; `last_id` None when none was left. A `scheduler.ticks.run_batches` step."""
    async with uow:
        zone = uow.policy.timezone
        if not _zone_ready(await uow.session.get(SummaryState, STATE_ID), zone):
            await _restart(uow, zone)
            await uow.commit()
            return Batch(last_id=0)
        finished = [col(Ticket.status).in_(list(FINAL_STATUSES)), not_summarized()]
        ids = await due_ids(uow, finished, after, limit)
        if not ids:
            return Batch()
        # Of two runs at once each ticket goes to one (the mark is conditional).
        claimed = await mark_summarized(uow, ids)
        if claimed:
            rows = await uow.session.execute(
                sa_select(*FACT_COLUMNS, col(Room.building_id))
                .join(Category, col(Category.id) == Ticket.category_id)
                .join(Room, col(Room.id) == Ticket.room_id)
                .where(col(Ticket.id).in_(claimed))
            )
            await _add(uow, _by_day(rows, ZoneInfo(zone)))
        await uow.commit()
        return Batch(last_id=ids[-1])


def _by_day(rows: Iterable[Any], zone: ZoneInfo) -> dict[tuple[date, int], tuple[Tally, int]]:
    """Each ticket's contributions on each local day it touched, per building."""
    parts: dict[tuple[date, int], tuple[Tally, int]] = {}
    for row in rows:
        f = facts(row)
        moments = (f.created, f.accepted, f.completed)
        for day in {m.astimezone(zone).date() for m in moments if m is not None}:
            key = (day, row.building_id)
            tally, n = parts.get(key) or (Tally(), 0)
            tally.add(f, _on_day(day, zone))
            parts[key] = (tally, n + 1)
    return parts


def _on_day(day: date, zone: ZoneInfo) -> Callable[[datetime | None], bool]:
    return lambda ts: ts is not None and ts.astimezone(zone).date() == day


# The roll-up writes through the table with statements that compile once: a multi-row
# VALUES or an ORM bulk UPDATE was compiled anew for every batch (~190 rows), a third of
# a batch's CPU on PostgreSQL.
_SUMMARY = table_of(DaySummary)
_WRITE_BACK = (
    update(_SUMMARY)
    .where(_SUMMARY.c.day == bindparam("k_day"), _SUMMARY.c.building_id == bindparam("k_b"))
    .values(tickets=bindparam("k_tickets"), tally=bindparam("k_tally"))
)
# PostgreSQL: the whole batch in one UPDATE joined to its new values. Row by row, each
# UPDATE was planned on the statistics of the table as it was (empty after a rebuild,
# until an ANALYZE): a sequential scan per row, 85 of the 106 s that 100,000 tickets took
# to summarize on a server without autovacuum. Joined, it is one plan per batch.
_WRITE_BACK_PG = text(
    "UPDATE daysummary AS s SET tickets = v.tickets, tally = v.tally "
    "FROM unnest(CAST(:days AS date[]), CAST(:buildings AS integer[]), "
    "CAST(:tickets AS integer[]), CAST(:tallies AS bytea[])) "
    "AS v(day, building_id, tickets, tally) "
    "WHERE s.day = v.day AND s.building_id = v.building_id"
)


async def _add(uow: UnitOfWork, parts: dict[tuple[date, int], tuple[Tally, int]]) -> None:
    """Grow the summary rows by `parts`: rows made if missing, then read under lock
    (PostgreSQL: FOR UPDATE; SQLite: this transaction holds the write lock), merged, and
    written back by primary key."""
    if not parts:
        return
    session = uow.session
    pg = session.get_bind().dialect.name == "postgresql"
    await session.execute(
        uow.insert(_SUMMARY).on_conflict_do_nothing(),
        [{"day": day, "building_id": b, "tickets": 0, "tally": EMPTY} for day, b in parts],
    )
    keys = tuple_(_SUMMARY.c.day, _SUMMARY.c.building_id)
    current = await session.execute(
        sa_select(_SUMMARY.c.day, _SUMMARY.c.building_id, _SUMMARY.c.tickets, _SUMMARY.c.tally)
        .where(keys.in_(list(parts)))
        .with_for_update()
    )
    merged = []
    for day, b, tickets, packed in current:
        tally, n = parts[day, b]
        merged.append(
            {
                "k_day": day,
                "k_b": b,
                "k_tickets": tickets + n,
                "k_tally": Tally.from_bytes(packed).merge(tally).to_bytes(),
            }
        )
    if pg:
        columns = {
            "days": "k_day",
            "buildings": "k_b",
            "tickets": "k_tickets",
            "tallies": "k_tally",
        }
        await session.execute(
            _WRITE_BACK_PG, {name: [row[key] for row in merged] for name, key in columns.items()}
        )
    else:
        await session.execute(_WRITE_BACK, merged)


async def _restart(uow: UnitOfWork, zone: str) -> None:
    """Drop every summary and mark every ticket not summarized, under the new zone: the
    days of another zone are not this zone's days. One write, rare (the first run, or a
    settings change); of two runs at once the second finds it done (row lock on the
    state, PostgreSQL; SQLite has one writer)."""
    session = uow.session
    await session.execute(
        uow.insert(SummaryState).values(id=STATE_ID, zone="").on_conflict_do_nothing()
    )
    state = (
        await session.execute(
            sa_select(SummaryState).where(col(SummaryState.id) == STATE_ID).with_for_update()
        )
    ).scalar_one()
    await session.refresh(state)
    if state.zone == zone:
        return
    await session.execute(delete(DaySummary))
    await forget_summarized(uow)
    state.zone = zone


async def pending(uow: UnitOfWork) -> int:
    """Closed or cancelled tickets not summarized yet (for operators and benchmarks)."""
    async with uow.reading():
        return int(
            (
                await uow.session.execute(
                    sa_select(func.count())
                    .select_from(Ticket)
                    .where(col(Ticket.status).in_(list(FINAL_STATUSES)), not_summarized())
                )
            ).scalar_one()
        )


MOMENTS = (Ticket.created_at, Ticket.accepted_at, Ticket.completed_at)


def live_ranges(s: Span, moments: tuple[Any, ...] = MOMENTS) -> list[ColumnElement[bool]]:
    """For `stats.any_ticket`: each range of `s.live_conditions()` on each moment."""
    out: list[ColumnElement[bool]] = []
    for a, b, only_new in s.live_conditions():
        for moment in moments:
            terms = [col(moment) >= a, col(moment) < b]
            if only_new:
                terms.append(not_summarized())
            out.append(and_(*terms))
    return out
