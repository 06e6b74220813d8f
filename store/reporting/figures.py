"""Performance figures for supervisors: per technician and per office, in a viewer's scope.

Every figure is computed from the ticket rows as they are now (and the day summaries
made of them). Medians are taken in Python from fetched durations, so SQLite and
PostgreSQL give the same answer. Periods are half-open: `start <= t < end`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    or_,
    union_all,
)
from sqlalchemy import select as sa_select
from sqlmodel import col

from store import roles
from store.domain.scope import buildings_clause, grants_of, tickets_in
from store.domain.ticket_views import HELD_STATUSES
from store.errors import NotPermitted
from store.lifecycle import OPEN_STATUSES, Role, Status
from store.models import Building, Category, FollowUp, Person, Room, Ticket
from store.reporting import summaries
from store.reporting.periods import period_bounds
from store.reporting.tally import (
    MICROSECOND,
    Tally,
    TechTally,
    median_of,
)
from store.uow import UnitOfWork

WITHIN = timedelta(hours=1)  # the office's headline promise: fixed within the hour
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
    # The technician's data was erased (no name): the bot shows "former user".
    former: bool = False


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


# --- scope, shared clauses and helpers -----------------------------------------------------


def late_clause(now: datetime) -> ColumnElement[bool]:
    """Late now: a deferred job past its promised date, any other open one past its target."""
    deferred = col(Ticket.status) == Status.DEFERRED
    return or_(
        and_(deferred, col(Ticket.promised_at) < now),
        and_(~deferred, col(Ticket.due_at) < now),
    )


def median(values: list[timedelta]) -> timedelta | None:
    """The median duration (the mean of the middle two for an even count)."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


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


# --- office and technicians ---------------------------------------------------------------


async def period_tally(
    uow: UnitOfWork, scope: ColumnElement[bool], start: datetime, end: datetime
) -> Tally:
    """What the office's and the technicians' figures for [start, end) are computed from:
    the day summaries of the whole campus days inside the period, plus what is still read
    live (the partial days at either end; inside, the tickets not summarized yet).
    Call `summaries.snapshot` first in the unit.

    The live part is read in three statements, each over the tickets one moment of which
    counts (`summaries.live_ranges` on that moment alone is exactly `Span.counts`):
    - filings: counted by the database, per category, current status and assignee; the
      open backlog filed in the period (~11,000 tickets for a month-long one) is never
      fetched for these;
    - accepts: one row per wait (assignee, and the wait in microseconds worked out by
      the database), since the medians need every wait (a held job's too: ~9,000 of the
      month-long backlog's are accepted in the period);
    - completions: the whole row, through `Tally.add` as the roll-up reads it.
    """
    span = await summaries.span(uow, scope, start, end)
    tally = span.summarized()
    fresh, summarized = span.counts(False), span.counts(True)
    # Through the unit's connection (same transaction and snapshot), not the ORM session:
    # plain rows, without the ORM's per-row result processing, which cost SQLite about
    # as much again as the read itself for the ~10,000 live rows of a busy office.
    connection = await uow.session.connection()

    def live(moment: Any) -> ColumnElement[bool]:
        return and_(
            tickets_in(uow, scope),
            any_ticket(uow, *summaries.live_ranges(span, moments=(moment,))),
        )

    key, status, assignee = col(Category.key), col(Ticket.status), col(Ticket.assignee_id)
    filed = (
        sa_select(key, status, assignee, func.count())
        .select_from(Ticket)
        .join(Category, col(Category.id) == Ticket.category_id)
        .where(live(Ticket.created_at))
        .group_by(key, status, assignee)
    )
    for category, state, person, n in await connection.execute(filed):
        tally.add_filed(category, str(state), person, int(n))
    accepts = sa_select(assignee, _accept_wait_micros(uow)).where(live(Ticket.accepted_at))
    for person, wait in await connection.execute(accepts):
        tally.add_accept(person, int(wait))
    completions = (
        sa_select(*summaries.FACT_COLUMNS)
        .join(Category, col(Category.id) == Ticket.category_id)
        .where(live(Ticket.completed_at))
    )
    for row in await connection.execute(completions):
        counts = summarized if row.summarized else fresh
        tally.add(summaries.facts(row), counts, filing=False, accept=False)
    return tally


def _accept_wait_micros(uow: UnitOfWork) -> ColumnElement[int]:
    """`tally.accept_wait` in whole microseconds, computed by the database, exactly: the
    timestamps are stored naive UTC with microseconds. PostgreSQL: the interval's epoch
    (numeric since 14, so exact) times 10^6. SQLite: whole seconds by `strftime('%s')`
    of the text up to the seconds, plus the difference of the stored text's microsecond
    digits (none stored: 0)."""
    accepted = col(Ticket.accepted_at)
    since = func.coalesce(col(Ticket.dispatched_at), col(Ticket.created_at))
    if uow.session.get_bind().dialect.name == "postgresql":
        return cast(extract("epoch", accepted - since) * 1_000_000, BigInteger)

    def whole_seconds(moment: Any) -> ColumnElement[int]:
        # Of the text up to the seconds: SQLite reads the fraction only to milliseconds
        # and rounds, so `.999999` would count as the next second.
        return cast(func.strftime("%s", func.substr(moment, 1, 19)), Integer)

    def micro_digits(moment: Any) -> ColumnElement[int]:
        return cast(func.substr(moment, 21, 6), Integer)

    seconds = whole_seconds(accepted) - whole_seconds(since)
    return seconds * 1_000_000 + micro_digits(accepted) - micro_digits(since)


async def _held(uow: UnitOfWork, scope: ColumnElement[bool], now: datetime) -> list[Any]:
    """Per technician, how many of the jobs they hold now are late, counted by the database
    from `ix_ticket_status_backlog`: the open backlog (with every job left open for
    years) is never fetched row by row. (Joined to room and building: `scope.tickets_in`
    read 25% more CPU here at 1,000,000 tickets with a busy backlog.)"""
    stmt = (
        sa_select(
            col(Ticket.assignee_id),
            col(Person.name),
            func.sum(case((late_clause(now), 1), else_=0)),
            col(Person.erased_at),
        )
        .join(Person, col(Person.id) == Ticket.assignee_id)
        .join(Room, col(Room.id) == Ticket.room_id)
        .join(Building, col(Building.id) == Room.building_id)
        .where(scope, col(Ticket.status).in_(HELD_STATUSES))
        .group_by(col(Ticket.assignee_id), col(Person.name), col(Person.erased_at))
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
    start, end = period_bounds(start, end)
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
    start, end = period_bounds(start, end)
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


async def _names(uow: UnitOfWork, ids: set[int]) -> dict[int, tuple[str, bool]]:
    """Name, and whether their data was erased, per person."""
    if not ids:
        return {}
    rows = await uow.session.execute(
        sa_select(col(Person.id), col(Person.name), col(Person.erased_at)).where(
            col(Person.id).in_(sorted(ids))
        )
    )
    return {pid: (name, erased is not None) for pid, name, erased in rows if pid is not None}


def _technicians(
    tally: Tally, held: list[Any], names: dict[int, tuple[str, bool]]
) -> list[TechnicianStats]:
    late_now: dict[int, int] = {}
    for assignee_id, name, late, erased_at in held:
        names[assignee_id] = (name, erased_at is not None)
        late_now[assignee_id] = int(late or 0)
    result = []
    for person_id in set(tally.techs) | set(late_now):
        t = tally.techs.get(person_id) or TechTally()
        name, former = names.get(person_id, ("", False))
        result.append(
            TechnicianStats(
                person_id=person_id,
                name=name,
                former=former,
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
    """Open tickets in scope, counted by the database from a status index alone (the
    building judged by room on the index entry, `scope.tickets_in`)."""
    return int(
        (
            await uow.session.execute(
                sa_select(func.count())
                .select_from(Ticket)
                .where(tickets_in(uow, scope), col(Ticket.status).in_(list(OPEN_STATUSES)))
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
