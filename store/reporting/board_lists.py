"""The office board's lists: every building in scope, the tickets list with its filters
and keyset pages, and search. Read-only; scope as store.reporting.board decides it.

Lists page by a cursor (the last row's filing moment and id), never by OFFSET: a page
deep into a year costs what the first one does. The buildings table takes its 30-day
figures from the day summaries (store.reporting.summaries) plus the few live rows, like
/stats, never from a scan of the period's tickets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import col

from store.domain import targets, ticket_views
from store.domain.board_access import Viewer
from store.domain.phones import may_export_phones
from store.domain.scope import grant_covers, grants_of
from store.errors import NotFound, NotPermitted
from store.lifecycle import Role, Status
from store.models import (
    Building,
    Campus,
    Category,
    DaySummary,
    Person,
    RoleGrant,
    Room,
    SummaryState,
    Ticket,
)
from store.reporting import board, figures, summaries
from store.reporting.tally import Tally, median_of, office_filed_and_resolution
from store.uow import UnitOfWork
from store.views import TicketView

PAGE = board.LIST_LIMIT  # rows per page
FIGURE_DAYS = 30  # the buildings table's "last 30 days"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _int(value: Any) -> int:
    """A key column's value (typed optional by the models, never None when read)."""
    return int(value)


# --- what the viewer may filter by ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """One value a filter offers: an id (or key) and its label."""

    id: int
    label: str
    key: str = ""


@dataclass(frozen=True, slots=True)
class Options:
    """The filters' values within the viewer's scope."""

    campuses: list[Choice]
    buildings: list[Choice]  # label "campus · building"
    categories: list[Choice]  # key: the category key (the URL's value)
    technicians: list[Choice]
    phones: bool  # may export requesters' phones (store.domain.phones.may_export_phones)


async def _in_scope_buildings(
    uow: UnitOfWork, scope: ColumnElement[bool]
) -> list[tuple[int, str, int, str]]:
    """(building id, name, campus id, campus name) of every building in scope."""
    rows = await uow.session.execute(
        sa_select(col(Building.id), col(Building.name), col(Campus.id), col(Campus.name))
        .join(Campus, col(Campus.id) == Building.campus_id)
        .where(scope)
        .order_by(col(Campus.name), col(Building.name))
    )
    return [(_int(b), str(n), _int(c), str(cn)) for b, n, c, cn in rows.all()]


async def options(uow: UnitOfWork, person_id: int) -> Options:
    """What the tickets list's filters offer the viewer. A technician without an office
    role filters their own jobs: no campus, building or technician to choose."""
    who = await board.viewer(uow, person_id)
    async with uow.reading():
        cats = await uow.session.execute(
            sa_select(col(Category.id), col(Category.key)).order_by(
                col(Category.position), col(Category.key)
            )
        )
        categories = [Choice(_int(i), str(k), str(k)) for i, k in cats.all()]
        if not who.office:
            return Options([], [], categories, [], phones=False)
        grants = await grants_of(uow, person_id)
        scope = await figures.scope_clause(uow, person_id)
        buildings = await _in_scope_buildings(uow, scope)
        campuses = {c: cn for _b, _n, c, cn in buildings}
        places = [Building(id=b, name=n, campus_id=c) for b, n, c, _cn in buildings]
        covering = {
            g.person_id
            for g in await _technician_grants(uow)
            if any(grant_covers(g, p) for p in places)
        }
        techs = await uow.session.execute(
            sa_select(col(Person.id), col(Person.name), col(Person.erased_at)).where(
                col(Person.id).in_(sorted(covering))
            )
        )
        technicians = {_int(pid): "" if erased else str(name) for pid, name, erased in techs.all()}
        return Options(
            campuses=[Choice(c, cn) for c, cn in sorted(campuses.items(), key=lambda x: x[1])],
            buildings=[Choice(b, f"{cn} · {n}") for b, n, _c, cn in buildings],
            categories=categories,
            technicians=[
                Choice(pid, name) for pid, name in sorted(technicians.items(), key=lambda x: x[1])
            ],
            phones=may_export_phones({g.role for g in grants}),
        )


async def _technician_grants(uow: UnitOfWork) -> list[RoleGrant]:
    rows = await uow.session.execute(
        sa_select(RoleGrant).where(col(RoleGrant.role) == Role.TECHNICIAN)
    )
    return list(rows.scalars())


# --- the buildings table ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuildingRow:
    """One building of the viewer's scope, with or without open work."""

    building_id: int
    campus: str
    name: str
    open: int
    overdue: int
    hot_rooms: int  # rooms with board.HOT_ROOM_MIN+ faults in board.HOT_ROOM_DAYS days
    reported_30d: int
    median_completion_30d: timedelta | None


async def buildings(uow: UnitOfWork, person_id: int) -> list[BuildingRow]:
    """Every building the viewer oversees, by campus and name (office roles only)."""
    who = await board.viewer(uow, person_id)
    if not who.office:
        raise NotPermitted("the buildings table is for the office")
    async with uow.reading():
        await summaries.snapshot(uow)
        now = uow.now()
        scope = await figures.scope_clause(uow, person_id)
        places = await _in_scope_buildings(uow, scope)
        live = targets.live_clause(now)
        open_rows = await uow.session.execute(
            board.from_tickets(uow, col(Building.id), func.count())
            .where(scope, live)
            .group_by(col(Building.id))
        )
        open_by = {int(b): int(n) for b, n in open_rows.all()}
        overdue = targets.targets_between(
            targets.TARGET_DUE_STATUSES, since=now - targets.STALE_AFTER, until=now
        )
        late_rows = await uow.session.execute(
            board.from_tickets(uow, col(Building.id), func.count())
            .where(scope, overdue)
            .group_by(col(Building.id))
        )
        late_by = {int(b): int(n) for b, n in late_rows.all()}
        hot_by = await _hot_rooms(uow, scope, now)
        tallies = await _tallies(uow, scope, now - timedelta(days=FIGURE_DAYS), now)
    out = []
    for b, name, _c, campus in places:
        filed, resolution = tallies.get(b) or (0, [])
        out.append(
            BuildingRow(
                building_id=b,
                campus=campus,
                name=name,
                open=open_by.get(b, 0),
                overdue=late_by.get(b, 0),
                hot_rooms=hot_by.get(b, 0),
                reported_30d=filed,
                median_completion_30d=median_of(resolution),
            )
        )
    return out


async def _hot_rooms(uow: UnitOfWork, scope: ColumnElement[bool], now: datetime) -> dict[int, int]:
    """Per building, its rooms with repeated faults: counted per room from
    `ix_ticket_created_room` alone (the period's filing moments and rooms), then the
    rooms mapped to buildings."""
    since = now - timedelta(days=board.HOT_ROOM_DAYS)
    # SQLite would group by walking the room index over the whole history (it needs no
    # sort that way): `room_id + 0` (board.room_of_ticket) leaves it the period's range.
    room = board.room_of_ticket(uow)
    per_room = (
        sa_select(room.label("room_id"))
        .where(col(Ticket.created_at) >= since)
        .group_by(room)
        .having(func.count() >= board.HOT_ROOM_MIN)
        .subquery()
    )
    rows = await uow.session.execute(
        sa_select(col(Building.id), func.count())
        .select_from(per_room)
        .join(Room, col(Room.id) == per_room.c.room_id)
        .join(Building, col(Building.id) == Room.building_id)
        .where(scope)
        .group_by(col(Building.id))
    )
    return {_int(b): int(n) for b, n in rows.all()}


async def _tallies(
    uow: UnitOfWork, scope: ColumnElement[bool], start: datetime, end: datetime
) -> dict[int, tuple[int, list[int]]]:
    """Per building, the tickets filed in [start, end) and the repair times of those
    completed in it (microseconds), as figures.period_tally counts them: the day
    summaries of the whole campus days inside by building (only these two figures read
    from them), plus the rows read live (see summaries.Span)."""
    span = summaries.Span(start, end)
    days = await _summary_days(uow, start, end)
    by_building: dict[int, list[bytes]] = defaultdict(list)
    if days is not None:
        first, last, zone = days
        span.inner = (summaries.local_midnight(first, zone), summaries.local_midnight(last, zone))
        rows = await uow.session.execute(
            sa_select(col(DaySummary.building_id), col(DaySummary.tally))
            .join(Building, col(Building.id) == DaySummary.building_id)
            .where(scope, col(DaySummary.day) >= first, col(DaySummary.day) < last)
        )
        for b, packed in rows.all():
            by_building[_int(b)].append(packed)
    live: dict[int, Tally] = defaultdict(Tally)
    stmt = (
        sa_select(*summaries.FACT_COLUMNS, col(Room.building_id))
        .join(Category, col(Category.id) == Ticket.category_id)
        .join(Room, col(Room.id) == Ticket.room_id)
        .join(Building, col(Building.id) == Room.building_id)
        .where(scope, figures.any_ticket(uow, *summaries.live_ranges(span)))
    )
    fresh, summarized = span.counts(False), span.counts(True)
    for row in await uow.session.execute(stmt):
        live[row.building_id].add(summaries.facts(row), summarized if row.summarized else fresh)
    out = {}
    for b in set(by_building) | set(live):
        filed, resolution = office_filed_and_resolution(by_building.get(b, ()))
        tally = live.get(b) or Tally()
        out[b] = (filed + sum(tally.by_category.values()), resolution + tally.resolution)
    return out


async def _summary_days(
    uow: UnitOfWork, start: datetime, end: datetime
) -> tuple[date, date, ZoneInfo] | None:
    """The whole campus days inside [start, end) the summaries answer (first, the day
    after the last), as summaries.span decides them; None when they cannot serve."""
    campus_zone = uow.policy.timezone
    state = await uow.session.get(SummaryState, summaries.STATE_ID)
    if state is None or state.zone != campus_zone:
        return None
    tz = ZoneInfo(campus_zone)
    first = start.astimezone(tz).date()
    if summaries.local_midnight(first, tz) < start:
        first += timedelta(days=1)
    last = end.astimezone(tz).date()
    return (first, last, tz) if first < last else None


# --- the tickets list and search ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in a list: the filing moment and id of a row (exclusive)."""

    created_at: datetime
    ticket_id: int

    def token(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.ticket_id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """ValueError unless `text` is a token `token()` made."""
        micros, sep, ticket = text.partition(".")
        ok = micros.isascii() and micros.isdigit() and ticket.isascii() and ticket.isdigit()
        if not (sep and ok and len(micros) <= 17 and len(ticket) <= 12):
            raise ValueError(text)
        try:
            at = _EPOCH + timedelta(microseconds=int(micros))
        except OverflowError:
            raise ValueError(text) from None
        return cls(at, int(ticket))


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """A tickets list: filed in [start, end) (aware UTC) and matching every filter set.
    `room_id` and `text` are search's (a room's tickets; words in the description)."""

    start: datetime | None
    end: datetime | None
    campus_id: int | None = None
    building_id: int | None = None
    category_id: int | None = None
    status: Status | None = None
    technician_id: int | None = None
    rating: int | None = None
    room_id: int | None = None
    text: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        """The filter as WHERE terms on Ticket, Room and Building (scope not included)."""
        out: list[ColumnElement[bool]] = []
        if self.start is not None:
            out.append(col(Ticket.created_at) >= self.start)
        if self.end is not None:
            out.append(col(Ticket.created_at) < self.end)
        if self.campus_id is not None:
            out.append(col(Building.campus_id) == self.campus_id)
        if self.building_id is not None:
            out.append(col(Building.id) == self.building_id)
        if self.category_id is not None:
            out.append(col(Ticket.category_id) == self.category_id)
        if self.status is not None:
            out.append(col(Ticket.status) == self.status)
        if self.technician_id is not None:
            out.append(col(Ticket.assignee_id) == self.technician_id)
        if self.rating is not None:
            out.append(col(Ticket.rating) == self.rating)
        if self.room_id is not None:
            out.append(col(Ticket.room_id) == self.room_id)
        if self.text:
            out.append(col(Ticket.description).icontains(self.text, autoescape=True))
        return out


@dataclass(frozen=True, slots=True)
class TicketPage:
    """One page of a list, newest first, with the cursors to its neighbours."""

    items: list[TicketView]
    next: str | None = None  # `after` of the next (older) page
    prev: str | None = None  # `before` of the previous (newer) page
    filter: TicketFilter | None = field(default=None, compare=False)


def _keyset(cursor: Cursor, older: bool) -> ColumnElement[bool]:
    """Rows past the cursor, newest-first order: older ones, or newer ones."""
    at, tid = cursor.created_at, cursor.ticket_id
    created, ident = col(Ticket.created_at), col(Ticket.id)
    if older:
        return and_(created <= at, or_(created < at, and_(created == at, ident < tid)))
    return and_(created >= at, or_(created > at, and_(created == at, ident > tid)))


async def tickets(
    uow: UnitOfWork,
    person_id: int,
    f: TicketFilter,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> TicketPage:
    """A page of the viewer's tickets matching `f`, newest first: the first page, the one
    after `after` (older rows) or the one before `before` (newer rows)."""
    who = await board.viewer(uow, person_id)
    async with uow.reading():
        return await _page(uow, who, f, after=after, before=before)


async def _page(
    uow: UnitOfWork,
    who: Viewer,
    f: TicketFilter,
    *,
    after: Cursor | None,
    before: Cursor | None,
) -> TicketPage:
    scope = await board.scope_clause(uow, who)
    where = [scope, *f.clauses()]
    backwards = before is not None and after is None
    if after is not None:
        where.append(_keyset(after, older=True))
    elif before is not None:
        where.append(_keyset(before, older=False))
    created, ident = col(Ticket.created_at), col(Ticket.id)
    order = (created.asc(), ident.asc()) if backwards else (created.desc(), ident.desc())
    stmt = board.from_tickets(uow, ident).where(*where).order_by(*order).limit(PAGE + 1)
    ids = list((await uow.session.execute(stmt)).scalars())
    more = len(ids) > PAGE
    ids = ids[:PAGE]
    views = (
        await ticket_views.ticket_views(
            uow, [ident.in_(ids)], order=(created.desc(), ident.desc()), with_photos=False
        )
        if ids
        else []
    )
    first = Cursor(views[0].created_at, views[0].id).token() if views else None
    last = Cursor(views[-1].created_at, views[-1].id).token() if views else None
    if backwards:
        return TicketPage(views, next=last, prev=first if more else None, filter=f)
    return TicketPage(
        views, next=last if more else None, prev=first if after is not None else None, filter=f
    )


@dataclass(frozen=True, slots=True)
class SearchResult:
    """What a search found: the ticket its number names, or a page of tickets (of a room
    when the words are a room's code, else with the words in their description)."""

    ticket_id: int | None = None
    room_code: str | None = None
    page: TicketPage = field(default_factory=lambda: TicketPage([]))


async def search(
    uow: UnitOfWork,
    person_id: int,
    query: str,
    f: TicketFilter,
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> SearchResult:
    """A ticket number the viewer may see: that ticket. A room code: the room's tickets
    in the viewer's scope, any date. Otherwise the tickets of `f`'s period whose
    description holds `query`. Outside the scope nothing is found, as for no match."""
    who = await board.viewer(uow, person_id)
    number = query.strip().lstrip("#").strip()
    async with uow.reading():
        found = (
            await uow.session.execute(
                sa_select(col(Ticket.id)).where(col(Ticket.number) == number)
            )
        ).scalar_one_or_none()
    if found is not None and after is None and before is None:
        try:
            await board.visible_ticket(uow, person_id, int(found))
        except NotFound:
            pass
        else:
            return SearchResult(ticket_id=int(found))
    async with uow.reading():
        room = (
            await uow.session.execute(
                sa_select(col(Room.id), col(Room.code)).where(
                    func.upper(col(Room.code)) == query.strip().upper()
                )
            )
        ).one_or_none()
        if room is not None:
            by_room = TicketFilter(None, None, room_id=_int(room[0]))
            page = await _page(uow, who, by_room, after=after, before=before)
            return SearchResult(room_code=str(room[1]), page=page)
        words = TicketFilter(f.start, f.end, text=query.strip())
        return SearchResult(page=await _page(uow, who, words, after=after, before=before))
