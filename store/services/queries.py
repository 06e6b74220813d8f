"""Read-side use cases: lists, details and timelines. They never change anything."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, case, exists, func, or_, union
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.sql.expression import Select as ModelSelect

from store.errors import NotFound, NotPermitted
from store.lifecycle import OPEN_STATUSES, Capacity, Role, Status
from store.models import (
    Building,
    Campus,
    Category,
    Person,
    RoleGrant,
    Room,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketPhoto,
)
from store.services._common import get_person, load
from store.services.scope import buildings_clause
from store.services.targets import STALE_AFTER, live_clause, stale_clause, targets_between
from store.uow import UnitOfWork
from store.views import EventView, Page, TechnicianLoad, TicketView, Window

Assignee = aliased(Person)
ASSIGNEE_NAME: Any = Assignee.name  # an aliased column; SQLModel types it as str
# Jobs a technician still holds; they count towards the load the dispatcher sees.
HELD_STATUSES = (Status.ASSIGNED, Status.IN_PROGRESS, Status.DEFERRED)
# My tickets counts up to this many, then says "20+": a count is one short index read.
COUNT_CAP = 20


# What a TicketView shows, as columns: a list builds its views from plain rows, not from
# five ORM entities per ticket (a technician's 38 jobs: ~3x less Python).
_TICKET_FIELDS = (
    "id",
    "number",
    "status",
    "urgency",
    "description",
    "requester_id",
    "filed_by_id",
    "contact_phone",
    "assignee_id",
    "visit_at",
    "visit_confirmed",
    "promised_at",
    "defer_reason",
    "rework_count",
    "urge_count",
    "last_urged_at",
    "rating",
    "rating_comment",
    "created_at",
    "updated_at",
    "completed_at",
)
_VIEW_COLUMNS: tuple[Any, ...] = (
    *(getattr(Ticket, name) for name in _TICKET_FIELDS),
    col(Campus.name).label("campus"),
    col(Building.name).label("building"),
    col(Building.id).label("building_id"),
    col(Room.floor).label("floor"),
    col(Room.name).label("room"),
    col(Room.code).label("room_code"),
    col(Category.key).label("category"),
    ASSIGNEE_NAME.label("assignee_name"),
)


# Every ticket view's columns and joins, built once (statements are immutable; each use
# adds its own WHERE and ORDER BY to a copy).
_BASE_QUERY: Any = (
    sa_select(*_VIEW_COLUMNS)
    .select_from(Ticket)
    .join(Room, col(Room.id) == Ticket.room_id)
    .join(Building, col(Building.id) == Room.building_id)
    .join(Campus, col(Campus.id) == Building.campus_id)
    .join(Category, col(Category.id) == Ticket.category_id)
    .outerjoin(Assignee, col(Assignee.id) == Ticket.assignee_id)
)


def _base_query() -> Any:
    return _BASE_QUERY


async def ticket_views(
    uow: UnitOfWork,
    where: Sequence[ColumnElement[bool]],
    *,
    order: Sequence[Any] = (col(Ticket.created_at).desc(), col(Ticket.id).desc()),
    offset: int = 0,
    limit: int | None = None,
    with_photos: bool = True,
) -> list[TicketView]:
    stmt = _base_query().where(*where).order_by(*order)
    if offset:
        stmt = stmt.offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = (await uow.session.execute(stmt)).mappings().all()
    ids = [row["id"] for row in rows]
    photos: dict[int, dict[str, list[str]]] = {}
    # Lists show no photos: one query less on the screens opened most.
    if ids and with_photos:
        photo_rows = await uow.session.execute(
            select(TicketPhoto)
            .where(col(TicketPhoto.ticket_id).in_(ids))
            .order_by(col(TicketPhoto.ticket_id), col(TicketPhoto.position))
        )
        for photo in photo_rows.scalars():
            by_kind = photos.setdefault(photo.ticket_id, {})
            by_kind.setdefault(photo.kind, []).append(photo.file_id)
    return [_to_view(row, photos.get(row["id"], {})) for row in rows]


def _to_view(row: Any, photos: dict[str, list[str]]) -> TicketView:
    return TicketView(
        **{**row, "status": Status(row["status"])},
        photos=tuple(photos.get("report", ())),
        result_photos=tuple(photos.get("result", ())),
    )


async def ticket_view(uow: UnitOfWork, ticket_id: int) -> TicketView:
    """One ticket as a view, without permission checks (services use it after a change)."""
    views = await ticket_views(uow, [col(Ticket.id) == ticket_id])
    if not views:
        raise NotFound("ticket", ticket_id=ticket_id)
    return views[0]


async def viewer_capacities(
    uow: UnitOfWork, ticket_id: int, viewer_id: int
) -> frozenset[Capacity]:
    """How the viewer relates to the ticket; NotPermitted if they may not see it at all."""
    ctx = await load(uow, ticket_id, viewer_id)
    caps = ctx.capacities
    if caps - {Capacity.FILER} or ctx.ticket.filed_by_id == viewer_id:
        return caps
    following = await uow.session.get(TicketFollower, (ticket_id, viewer_id))
    if following is not None:
        return caps
    # Same answer as for a missing ticket, so ids cannot be probed.
    raise NotFound("ticket", ticket_id=ticket_id)


async def ticket_detail(
    uow: UnitOfWork, ticket_id: int, viewer_id: int
) -> tuple[TicketView, frozenset[Capacity]]:
    """A ticket the viewer may see, with the capacities that decide their buttons."""
    async with uow.reading():
        caps = await viewer_capacities(uow, ticket_id, viewer_id)
        return await ticket_view(uow, ticket_id), caps


async def timeline(uow: UnitOfWork, ticket_id: int, viewer_id: int) -> list[EventView]:
    """The ticket's whole history, oldest first, for someone allowed to see it."""
    async with uow.reading():
        await viewer_capacities(uow, ticket_id, viewer_id)
        rows = await uow.session.execute(
            select(TicketEvent, Person.name)
            .outerjoin(Person, col(Person.id) == TicketEvent.actor_id)
            .where(TicketEvent.ticket_id == ticket_id)
            .order_by(col(TicketEvent.at), col(TicketEvent.id))
        )
        return [
            EventView(
                at=event.at,
                action=event.action,
                from_status=event.from_status,
                to_status=event.to_status,
                actor_name=name,
                note=event.note,
            )
            for event, name in rows.all()
        ]


def _mine(
    person_id: int, *, below: int | None = None, above: int | None = None, newest: bool, n: int
) -> Any:
    """Up to `n` ids of the person's tickets (requested, filed by them, followed) in id
    order, each way read from its own index (`ix_ticket_requester_newest`,
    `ix_ticket_filed_by_newest`, `ix_ticketfollower_person_ticket`) and merged; an OR
    over the three would scan the ticket table."""

    def branch(ticket_id: Any, owner: Any) -> Any:
        q = sa_select(ticket_id.label("id")).where(owner == person_id)
        if below is not None:
            q = q.where(ticket_id < below)
        if above is not None:
            q = q.where(ticket_id > above)
        return sa_select(q.order_by(ticket_id.desc() if newest else ticket_id).limit(n).subquery())

    merged = union(
        branch(col(Ticket.id), col(Ticket.requester_id)),
        branch(col(Ticket.id), col(Ticket.filed_by_id)),
        branch(col(TicketFollower.ticket_id), col(TicketFollower.person_id)),
    ).subquery()
    return sa_select(merged.c.id).order_by(merged.c.id.desc() if newest else merged.c.id).limit(n)


async def my_tickets(
    uow: UnitOfWork,
    person_id: int,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = 5,
) -> Window[TicketView]:
    """Tickets the person filed, was filed for or follows; newest first, `limit` at a time.

    The page holds the tickets older than ticket id `before`, or newer than `after`, or
    the newest ones. A page past either end (an old or forged button) shows the last
    page there is on that side.
    """

    async def ids(**kw: Any) -> list[int]:
        return list((await uow.session.execute(_mine(person_id, **kw))).scalars())

    async with uow.reading():  # never waits for a writer (issue 10)
        counted = await ids(newest=True, n=COUNT_CAP + 1)
        if after is not None:
            page = (await ids(above=after, newest=False, n=limit + 1))[::-1]
            has_newer, page = len(page) > limit, page[-limit:]
            has_older = bool(page) and bool(await ids(below=page[-1], newest=True, n=1))
        elif before is not None:
            page = await ids(below=before, newest=True, n=limit + 1)
            has_older, page = len(page) > limit, page[:limit]
            has_newer = bool(page) and bool(await ids(above=page[0], newest=False, n=1))
        else:
            page, has_newer = counted[:limit], False
            has_older = len(counted) > limit
        if not page and counted:
            # Past the end: the oldest page if we were going back, else the newest.
            if before is not None:
                page = (await ids(newest=False, n=limit))[::-1]
                has_newer, has_older = bool(page) and page[0] < counted[0], False
            else:
                page, has_newer, has_older = counted[:limit], False, len(counted) > limit
        items = await ticket_views(
            uow, [col(Ticket.id).in_(page)], order=(col(Ticket.id).desc(),), with_photos=False
        )
        return Window(
            items,
            min(len(counted), COUNT_CAP),
            len(counted) > COUNT_CAP,
            has_newer,
            has_older,
        )


async def open_duplicates(uow: UnitOfWork, room_id: int, category_id: int) -> list[TicketView]:
    """Open tickets in the same room and category: the duplicate guard's candidates."""
    async with uow.reading():
        return await ticket_views(
            uow,
            [
                col(Ticket.room_id) == room_id,
                col(Ticket.category_id) == category_id,
                col(Ticket.status).in_(list(OPEN_STATUSES)),
            ],
        )


class QueueFilter(StrEnum):
    """The dispatcher's queue views."""

    UNASSIGNED = "unassigned"
    OVERDUE = "overdue"
    DEFERRED = "deferred"
    ALL = "all"
    STALE = "stale"


async def dispatcher_scope(uow: UnitOfWork, person_id: int, roles: set[Role]) -> Any:
    """A WHERE clause limiting tickets to the buildings the person's grants cover."""
    grants = (
        await uow.session.execute(
            select(RoleGrant).where(
                RoleGrant.person_id == person_id, col(RoleGrant.role).in_(list(roles))
            )
        )
    ).scalars()
    clause = buildings_clause(grants)
    if clause is None:
        raise NotPermitted("no dispatcher role")
    return clause


def _queue_clause(flt: QueueFilter, now: datetime) -> ColumnElement[bool]:
    since = now - STALE_AFTER
    if flt is QueueFilter.UNASSIGNED:
        return targets_between([Status.RECEIVED, Status.DISPATCHING], since=since)
    if flt is QueueFilter.DEFERRED:
        return targets_between([Status.DEFERRED], since=since)
    if flt is QueueFilter.OVERDUE:
        return targets_between(list(OPEN_STATUSES), since=since, until=now)
    if flt is QueueFilter.STALE:
        return stale_clause(now)
    return live_clause(now)


async def dispatcher_queue(
    uow: UnitOfWork,
    person_id: int,
    flt: QueueFilter = QueueFilter.UNASSIGNED,
    *,
    offset: int = 0,
    limit: int = 10,
) -> Page[TicketView]:
    """Tickets in the dispatcher's scope, most urgent and then oldest first.

    Every view but the stale list reads only live tickets (target within STALE_AFTER), so
    it stays as long as the office's current work, whatever the history: its count and
    an OFFSET into it are cheap. The stale list, which grows with the years, is paged by
    `stale_tickets` instead.
    """
    offset = max(offset, 0)
    async with uow.reading():
        scope = await dispatcher_scope(uow, person_id, {Role.DISPATCHER, Role.ADMIN})
        where: list[Any] = [scope, _queue_clause(flt, uow.now())]

        def matching(*columns: Any) -> Any:
            return (
                sa_select(*columns)
                .select_from(Ticket)
                .join(Room, col(Room.id) == Ticket.room_id)
                .join(Building, col(Building.id) == Room.building_id)
                .where(*where)
            )

        order = (URGENCY_RANK, col(Ticket.created_at), col(Ticket.id))
        # The page's ids and the count in one pass over the matching tickets (a window
        # count: the overdue view at 1,000,000 tickets walks ~1,800 of them, and did it
        # twice), sorted on ticket columns alone; then only the page's tickets are joined
        # to their places and people.
        rows = (
            await uow.session.execute(
                matching(col(Ticket.id), func.count().over())
                .order_by(*order)
                .offset(offset)
                .limit(limit)
            )
        ).all()
        if rows:
            total = int(rows[0][1])
        elif offset:  # a page past the end (the queue shrank): count on its own
            total = int((await uow.session.execute(matching(func.count()))).scalar_one())
        else:
            total = 0
        items = await ticket_views(
            uow, [col(Ticket.id).in_([row[0] for row in rows])], order=order, with_photos=False
        )
        return Page(items, total, offset, limit)


URGENCY_RANK = case(
    (col(Ticket.urgency) == "emergency", 0), (col(Ticket.urgency) == "urgent", 1), else_=2
)


# Lifecycle order, the same on both engines (PostgreSQL sorts its enum by declaration,
# SQLite the stored names alphabetically).
HELD_RANK = case(
    (col(Ticket.status) == Status.ASSIGNED, 0),
    (col(Ticket.status) == Status.IN_PROGRESS, 1),
    else_=2,
)


async def technician_jobs(uow: UnitOfWork, person_id: int) -> list[TicketView]:
    """The technician's open jobs, grouped by state, oldest first within a state; jobs
    forgotten past STALE_AFTER are on the dispatcher's stale list instead."""
    async with uow.reading():
        since = uow.now() - STALE_AFTER
        return await ticket_views(
            uow,
            [
                col(Ticket.assignee_id) == person_id,
                # Outside the OR as well, so the seek is (assignee_id, status) on
                # `ix_ticket_assignee_targets`, whose targets then skip, in the index,
                # the jobs left open for years (not every ticket they ever had).
                col(Ticket.status).in_(HELD_STATUSES),
                targets_between(HELD_STATUSES, since=since),
            ],
            order=(HELD_RANK, URGENCY_RANK, col(Ticket.created_at), col(Ticket.id)),
            with_photos=False,
        )


def _technicians(*, on_duty_only: bool) -> ModelSelect[Person, Any]:
    """Technicians covering the building (binds `building_id`, `campus_id`) with their
    held jobs. Built once: building it cost more than running it."""
    load_sq = (
        select(Ticket.assignee_id, func.count().label("n"))
        .where(col(Ticket.status).in_(HELD_STATUSES))
        .group_by(col(Ticket.assignee_id))
        .subquery()
    )
    building_id = bindparam("building_id", type_=Integer)
    campus_id = bindparam("campus_id", type_=Integer)
    scope = or_(
        (col(RoleGrant.building_id).is_(None)) & (col(RoleGrant.campus_id).is_(None)),
        col(RoleGrant.building_id) == building_id,
        (col(RoleGrant.building_id).is_(None)) & (col(RoleGrant.campus_id) == campus_id),
    )
    # EXISTS, not JOIN + DISTINCT: one row per person even with several covering grants,
    # and PostgreSQL cannot DISTINCT over the json `skills` column.
    covered = exists().where(
        col(RoleGrant.person_id) == Person.id, col(RoleGrant.role) == Role.TECHNICIAN, scope
    )
    stmt = (
        select(Person, func.coalesce(load_sq.c.n, 0))
        .outerjoin(load_sq, load_sq.c.assignee_id == Person.id)
        .where(covered)
    )
    return stmt.where(col(Person.on_duty).is_(True)) if on_duty_only else stmt


_TECHNICIANS = _technicians(on_duty_only=False)
_ON_DUTY_TECHNICIANS = _technicians(on_duty_only=True)


async def technicians_for(
    uow: UnitOfWork, building_id: int, category_key: str, *, on_duty_only: bool = True
) -> list[TechnicianLoad]:
    """Technicians whose scope covers the building and skills cover the category.

    Least loaded first; ties go to whoever has been waiting longest (lowest id is a
    stable stand-in). Unreachable technicians are listed last and flagged.
    """
    building = await uow.session.get(Building, building_id)
    if building is None:
        raise NotFound("building", building_id=building_id)
    stmt = _ON_DUTY_TECHNICIANS if on_duty_only else _TECHNICIANS
    params = {"building_id": building.id, "campus_id": building.campus_id}
    rows = (await uow.session.execute(stmt, params)).all()
    result = [
        TechnicianLoad(
            person_id=p.id,
            telegram_id=p.telegram_id,
            name=p.name,
            on_duty=p.on_duty,
            open_jobs=int(n),
            reachable=p.unreachable_since is None,
        )
        for p, n in rows
        if p.id is not None and (not p.skills or category_key in p.skills)
    ]
    result.sort(key=lambda t: (not t.reachable, t.open_jobs, t.person_id))
    return result


async def on_duty_technicians(
    uow: UnitOfWork, room_id: int, category_key: str
) -> list[TechnicianLoad]:
    """On-duty technicians eligible for a room and category, least loaded first."""
    async with uow.reading():
        room = await uow.session.get(Room, room_id)
        if room is None:
            raise NotFound("room", room_id=room_id)
        return await technicians_for(uow, room.building_id, category_key)


async def person_name(uow: UnitOfWork, person_id: int) -> str:
    """A person's display name."""
    return (await get_person(uow, person_id)).name
