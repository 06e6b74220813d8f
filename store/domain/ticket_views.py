"""Tickets as the screens show them (lists, details, timelines) and who may see which:
reads inside the caller's unit, which never change anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, exists, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.sql.expression import Select as ModelSelect

from store.domain.lookups import get_person
from store.domain.phones import phone_visible
from store.domain.scope import buildings_clause
from store.domain.tickets import TicketContext, load
from store.errors import NotFound, NotPermitted
from store.lifecycle import Capacity, Role, Status
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
from store.uow import UnitOfWork
from store.views import EventView, TechnicianLoad, TicketView

Assignee = aliased(Person)
ASSIGNEE_NAME: Any = Assignee.name  # an aliased column; SQLModel types it as str
# Jobs a technician still holds; they count towards the load the dispatcher sees.
HELD_STATUSES = (Status.ASSIGNED, Status.IN_PROGRESS, Status.DEFERRED)


# What a TicketView shows, as columns: a list builds its views from plain rows, not from
# five ORM entities per ticket (a technician's 38 jobs: ~3x less Python). Not the
# requester's phone: only `ticket_detail` adds it, for a viewer store.domain.phones allows.
_TICKET_FIELDS = (
    "id",
    "number",
    "status",
    "urgency",
    "description",
    "requester_id",
    "filed_by_id",
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
    "photos_removed_at",
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
    col(Assignee.erased_at).is_not(None).label("assignee_former"),
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
        contact_phone=None,
        photos=tuple(photos.get("report", ())),
        result_photos=tuple(photos.get("result", ())),
    )


async def ticket_view(uow: UnitOfWork, ticket_id: int) -> TicketView:
    """One ticket as a view, without permission checks (services use it after a change);
    without the requester's phone, which only `ticket_detail` shows."""
    views = await ticket_views(uow, [col(Ticket.id) == ticket_id])
    if not views:
        raise NotFound("ticket", ticket_id=ticket_id)
    return views[0]


async def _viewer_context(uow: UnitOfWork, ticket_id: int, viewer_id: int) -> TicketContext:
    """The ticket loaded for the viewer; NotFound if they may not see it at all."""
    ctx = await load(uow, ticket_id, viewer_id)
    caps = ctx.capacities
    if caps - {Capacity.FILER} or ctx.ticket.filed_by_id == viewer_id:
        return ctx
    following = await uow.session.get(TicketFollower, (ticket_id, viewer_id))
    if following is not None:
        return ctx
    # Same answer as for a missing ticket, so ids cannot be probed.
    raise NotFound("ticket", ticket_id=ticket_id)


async def viewer_capacities(
    uow: UnitOfWork, ticket_id: int, viewer_id: int
) -> frozenset[Capacity]:
    """How the viewer relates to the ticket; NotPermitted if they may not see it at all."""
    return (await _viewer_context(uow, ticket_id, viewer_id)).capacities


async def ticket_detail(
    uow: UnitOfWork, ticket_id: int, viewer_id: int
) -> tuple[TicketView, frozenset[Capacity]]:
    """A ticket the viewer may see, with the capacities that decide their buttons; the
    requester's phone only if store.domain.phones lets this viewer see it now."""
    ctx = await _viewer_context(uow, ticket_id, viewer_id)
    view = await ticket_view(uow, ticket_id)
    if phone_visible(view.status, ctx.capacities):
        view = replace(view, contact_phone=ctx.ticket.contact_phone)
    return view, ctx.capacities


async def timeline(uow: UnitOfWork, ticket_id: int, viewer_id: int) -> list[EventView]:
    """The ticket's whole history, oldest first, for someone allowed to see it."""
    await viewer_capacities(uow, ticket_id, viewer_id)
    rows = await uow.session.execute(
        select(TicketEvent, Person.name, Person.erased_at)
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
            actor_former=erased_at is not None,
        )
        for event, name, erased_at in rows.all()
    ]


async def dispatcher_scope(uow: UnitOfWork, person_id: int, roles: frozenset[Role]) -> Any:
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


async def person_name(uow: UnitOfWork, person_id: int) -> str:
    """A person's display name."""
    return (await get_person(uow, person_id)).name
