"""The office board's pages: what each viewer sees. Read-only.

Supervisors, dispatchers and admins see the buildings their grants cover; a technician
sees their own jobs; nobody else sees anything (store.domain.board_access says who is
which). Every function takes the viewer and checks their grants now, not when a sign-in
link or session was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from store.domain import board_access, targets, ticket_views
from store.domain.board_access import Viewer
from store.errors import NotFound, NotPermitted
from store.lifecycle import Capacity, Status
from store.models import (
    Building,
    Campus,
    Person,
    Room,
    Ticket,
)
from store.reporting import figures
from store.reporting.periods import raw, utc
from store.uow import UnitOfWork
from store.views import EventView, TicketView

HOT_ROOM_DAYS = 90
HOT_ROOM_MIN = 2  # faults in HOT_ROOM_DAYS that make a room "hot"
LIST_LIMIT = 50  # rows per list on the board; the count says how many there are


@dataclass(frozen=True, slots=True)
class Durations:
    """Report-to-completion times of the tickets completed in a period."""

    count: int
    median: timedelta | None
    p90: timedelta | None
    within_hour_share: float | None


@dataclass(frozen=True, slots=True)
class Overview:
    """The board's front page."""

    open_by_status: dict[str, int]
    open_by_building: list[tuple[int, str, int]]  # building id, name, open tickets
    overdue: list[TicketView]
    unaccepted: list[TicketView]
    deferred: list[TicketView]
    promises_missed: int
    stale: int  # open 90+ days past target: the dispatcher's stale list, not everyday work
    reported_today: int
    completed_today: int
    reported_week: int
    completed_week: int
    week: Durations
    low_ratings: list[TicketView]
    open_followups: int  # at most figures.FOLLOWUP_CAP + 1, meaning "more than the cap"
    my_jobs: list[TicketView] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BuildingPage:
    """One building: its hot rooms and what is open there."""

    building_id: int
    name: str
    campus: str
    hot_rooms: list[tuple[str, str, int]]  # room code, room name, faults in 90 days
    open_tickets: list[TicketView]


@dataclass(frozen=True, slots=True)
class TicketPage:
    """One ticket with its whole history."""

    ticket: TicketView
    timeline: list[EventView]


# --- who may look -------------------------------------------------------------------------


async def viewer(uow: UnitOfWork, person_id: int) -> Viewer:
    """The viewer's standing now; NotPermitted when they have no board at all."""
    async with uow.reading():
        return await board_access.viewer(uow, person_id)


async def viewer_by_telegram_id(uow: UnitOfWork, telegram_id: int) -> Viewer:
    """The viewer behind a Telegram account (Mini App sign-in)."""
    async with uow.reading():
        row = await uow.session.execute(select(Person.id).where(Person.telegram_id == telegram_id))
        person_id = row.scalar_one_or_none()
    if person_id is None:
        raise NotPermitted("not known to the bot")
    return await viewer(uow, person_id)


# --- what they see ------------------------------------------------------------------------
#
# Every board read starts from a ticket index (a timestamp, a status and target, the
# assignee) and reaches room and building by key. On SQLite, which has no statistics, a
# scope clause on building would otherwise make it walk the viewer's rooms and every
# ticket each room ever had: `ticket.room_id + 0` in the join takes that path away, as in
# figures.open_followups (13 s -> well under a second at 1,000,000 tickets). Open
# follow-ups are figures.open_followups, counted to "100+" as on /stats and the digest.


def _sqlite(uow: UnitOfWork) -> bool:
    return uow.session.get_bind().dialect.name != "postgresql"


def room_of_ticket(uow: UnitOfWork) -> Any:
    """`ticket.room_id` to join room on: `+ 0` on SQLite (see above)."""
    room: Any = col(Ticket.room_id)
    return room + 0 if _sqlite(uow) else room


def from_tickets(uow: UnitOfWork, *columns: Any) -> Any:
    """SELECT `columns` FROM ticket joined to its room and building (scope clauses name
    Building)."""
    return (
        sa_select(*columns)
        .select_from(Ticket)
        .join(Room, col(Room.id) == room_of_ticket(uow))
        .join(Building, col(Building.id) == Room.building_id)
    )


async def scope_clause(uow: UnitOfWork, who: Viewer) -> ColumnElement[bool]:
    """Tickets the viewer may see, as a clause on Ticket and Building."""
    office: ColumnElement[bool] | None = None
    if who.office:
        office = await figures.scope_clause(uow, who.person_id)
    mine = col(Ticket.assignee_id) == who.person_id
    if office is None:
        return mine
    return or_(office, mine) if who.technician else office


async def _views(uow: UnitOfWork, who: Viewer, *where: ColumnElement[bool]) -> list[TicketView]:
    """Up to LIST_LIMIT tickets in the viewer's scope matching `where`, newest first: ids
    from the filter's index (sorted after, not by walking the primary key backwards),
    then the views by id."""
    newest: Any = col(Ticket.id) + 0 if _sqlite(uow) else col(Ticket.id)
    stmt = (
        from_tickets(uow, col(Ticket.id))
        .where(await scope_clause(uow, who), *where)
        .order_by(newest.desc())
        .limit(LIST_LIMIT)
    )
    ids = list((await uow.session.execute(stmt)).scalars())
    if not ids:
        return []
    return await ticket_views.ticket_views(
        uow, [col(Ticket.id).in_(ids)], order=(col(Ticket.id).desc(),), with_photos=False
    )


async def _count(uow: UnitOfWork, scope: ColumnElement[bool], *where: ColumnElement[bool]) -> int:
    stmt = from_tickets(uow, func.count()).where(scope, *where)
    return int((await uow.session.execute(stmt)).scalar_one())


def _percentile(values: list[timedelta], share: float) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _durations(
    uow: UnitOfWork, scope: ColumnElement[bool], start: datetime, end: datetime
) -> Durations:
    rows = await uow.session.execute(
        from_tickets(uow, raw(Ticket.created_at), raw(Ticket.completed_at)).where(
            scope, col(Ticket.completed_at) >= start, col(Ticket.completed_at) < end
        )
    )
    spans = []
    for created, done in rows.all():
        began, ended = utc(created), utc(done)
        if began is not None and ended is not None:
            spans.append(ended - began)
    within = sum(1 for span in spans if span <= figures.WITHIN)
    return Durations(
        count=len(spans),
        median=figures.median(spans),
        p90=_percentile(spans, 0.9),
        within_hour_share=within / len(spans) if spans else None,
    )


async def overview(
    uow: UnitOfWork, person_id: int, *, day_start: datetime, week_start: datetime
) -> Overview:
    """The front page for the viewer. `day_start`/`week_start`: local midnights, in UTC.
    Open work is the live part (targets.live_clause): tickets forgotten for 90+ days past
    their target are counted apart as stale, as the dispatcher's queues do."""
    who = await viewer(uow, person_id)
    if not who.office:
        async with uow.reading():
            mine = col(Ticket.assignee_id) == who.person_id
            live = targets.live_clause(uow.now())
            return _jobs_only(await _views(uow, who, mine, live))
    async with uow.reading():
        now = uow.now()
        scope = await scope_clause(uow, who)
        live = targets.live_clause(now)
        by_status_rows = await uow.session.execute(
            from_tickets(uow, col(Ticket.status), func.count())
            .where(scope, live)
            .group_by(col(Ticket.status))
        )
        by_building_rows = await uow.session.execute(
            from_tickets(uow, col(Building.id), col(Building.name), func.count())
            .where(scope, live)
            .group_by(col(Building.id), col(Building.name))
            .order_by(func.count().desc(), col(Building.name))
        )
        since = now - targets.STALE_AFTER
        overdue = targets.targets_between(targets.TARGET_DUE_STATUSES, since=since, until=now)
        unaccepted = and_(
            targets.targets_between([Status.RECEIVED, Status.DISPATCHING], since=since),
            col(Ticket.accept_due_at) < now,
        )
        deferred = targets.targets_between([Status.DEFERRED], since=since)
        missed = targets.targets_between([Status.DEFERRED], since=since, until=now)
        low = uow.policy.low_rating_threshold
        return Overview(
            open_by_status={str(s): int(n) for s, n in by_status_rows.all()},
            open_by_building=[(int(str(i)), str(name), int(n)) for i, name, n in by_building_rows],
            overdue=await _views(uow, who, overdue),
            unaccepted=await _views(uow, who, unaccepted),
            deferred=await _views(uow, who, deferred),
            promises_missed=await _count(uow, scope, missed),
            stale=await _count(uow, scope, targets.stale_clause(now)),
            reported_today=await _count(uow, scope, col(Ticket.created_at) >= day_start),
            completed_today=await _count(uow, scope, col(Ticket.completed_at) >= day_start),
            reported_week=await _count(uow, scope, col(Ticket.created_at) >= week_start),
            completed_week=await _count(uow, scope, col(Ticket.completed_at) >= week_start),
            week=await _durations(uow, scope, week_start, now + timedelta(seconds=1)),
            low_ratings=await _views(
                uow,
                who,
                col(Ticket.rating) <= low,
                # Rated after completion: the completion index bounds the search.
                col(Ticket.completed_at) >= week_start - timedelta(days=7),
            ),
            open_followups=await figures.open_followups(uow, scope),
        )


def _jobs_only(jobs: list[TicketView]) -> Overview:
    """A technician's front page: their own open jobs, no office figures."""
    nothing = Durations(0, None, None, None)
    return Overview({}, [], [], [], [], 0, 0, 0, 0, 0, 0, nothing, [], 0, my_jobs=jobs)


async def building_page(uow: UnitOfWork, person_id: int, building_id: int) -> BuildingPage:
    """A building the viewer oversees; NotFound outside their scope (as for a missing one)."""
    who = await viewer(uow, person_id)
    if not who.office:
        raise NotFound("building", building_id=building_id)
    async with uow.reading():
        scope = await figures.scope_clause(uow, who.person_id)
        row = (
            await uow.session.execute(
                sa_select(col(Building.id), col(Building.name), col(Building.campus_id)).where(
                    col(Building.id) == building_id, scope
                )
            )
        ).one_or_none()
        if row is None:
            raise NotFound("building", building_id=building_id)
        campus = await uow.session.get(Campus, row[2])
        since = uow.now() - timedelta(days=HOT_ROOM_DAYS)
        hot = await uow.session.execute(
            sa_select(col(Room.code), col(Room.name), func.count())
            .select_from(Ticket)
            .join(Room, col(Room.id) == Ticket.room_id)
            .where(col(Room.building_id) == building_id, col(Ticket.created_at) >= since)
            .group_by(col(Room.code), col(Room.name))
            .having(func.count() >= HOT_ROOM_MIN)
            .order_by(func.count().desc(), col(Room.code))
            .limit(LIST_LIMIT)
        )
        return BuildingPage(
            building_id=building_id,
            name=str(row[1]),
            campus=campus.name if campus else "",
            hot_rooms=[(str(c), str(n), int(k)) for c, n, k in hot.all()],
            open_tickets=await _views(
                uow, who, targets.live_clause(uow.now()), col(Building.id) == building_id
            ),
        )


async def technicians(
    uow: UnitOfWork, person_id: int, *, start: datetime, end: datetime
) -> list[figures.TechnicianStats]:
    """The technician table of the viewer's buildings (office roles only)."""
    who = await viewer(uow, person_id)
    if not who.office:
        raise NotPermitted("the technician table is for the office")
    return await figures.technician_stats(uow, start=start, end=end, viewer_id=person_id)


async def ticket_page(uow: UnitOfWork, person_id: int, ticket_id: int) -> TicketPage:
    """A ticket the viewer oversees (or their own job), with its timeline; NotFound
    otherwise, by URL too."""
    view = await visible_ticket(uow, person_id, ticket_id)
    async with uow.reading():
        return TicketPage(view, await ticket_views.timeline(uow, ticket_id, person_id))


async def visible_ticket(uow: UnitOfWork, person_id: int, ticket_id: int) -> TicketView:
    """The ticket, if the viewer oversees it or holds it as their job; else NotFound."""
    who = await viewer(uow, person_id)
    try:
        async with uow.reading():
            view, caps = await ticket_views.ticket_detail(uow, ticket_id, person_id)
    except (NotFound, NotPermitted):
        raise NotFound("ticket", ticket_id=ticket_id) from None
    allowed = {Capacity.ASSIGNEE}
    if who.office:
        allowed |= {Capacity.SUPERVISOR, Capacity.DISPATCHER}
    if not caps & allowed:
        raise NotFound("ticket", ticket_id=ticket_id)
    return view
