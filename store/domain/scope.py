"""Who covers what: role grants, their scope (everywhere, a campus, a building), and the
staff a building answers to. Read at the moment of action, never trusted from a row."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, or_, true
from sqlmodel import col, select

from store import roles as store_roles
from store.lifecycle import Role
from store.models import Building, RoleGrant, Room, Ticket
from store.uow import UnitOfWork


def grant_covers(grant: RoleGrant, building: Building) -> bool:
    """Whether a grant's scope (all, a campus or a building) includes the building."""
    if grant.building_id is not None:
        return grant.building_id == building.id
    if grant.campus_id is not None:
        return grant.campus_id == building.campus_id
    return True


def buildings_clause(grants: Iterable[RoleGrant]) -> ColumnElement[bool] | None:
    """A WHERE clause on Building for what the grants cover; None when they cover nothing.

    One `IN` per kind of scope, not an OR term per grant: a supervisor granted each of 31
    buildings made every report and queue statement 31 terms longer to build, cache-key
    and plan."""
    building_ids: set[int] = set()
    campus_ids: set[int] = set()
    for grant in grants:
        if grant.building_id is not None:
            building_ids.add(grant.building_id)
        elif grant.campus_id is not None:
            campus_ids.add(grant.campus_id)
        else:
            return true()
    clauses: list[ColumnElement[bool]] = []
    if building_ids:
        clauses.append(col(Building.id).in_(sorted(building_ids)))
    if campus_ids:
        clauses.append(col(Building.campus_id).in_(sorted(campus_ids)))
    return or_(*clauses) if clauses else None


async def grants_of(uow: UnitOfWork, person_id: int) -> list[RoleGrant]:
    """Every role grant the person holds."""
    rows = await uow.session.execute(select(RoleGrant).where(RoleGrant.person_id == person_id))
    return list(rows.scalars())


async def roles_covering(uow: UnitOfWork, person_id: int, building: Building) -> set[Role]:
    """The roles the person holds with a scope that covers the building."""
    return {g.role for g in await grants_of(uow, person_id) if grant_covers(g, building)}


async def staff_covering(uow: UnitOfWork, building: Building, roles: frozenset[Role]) -> list[int]:
    """Ids of people holding one of `roles` with a scope covering the building."""
    rows = await uow.session.execute(select(RoleGrant).where(col(RoleGrant.role).in_(roles)))
    ids: list[int] = []
    for grant in rows.scalars():
        if grant_covers(grant, building) and grant.person_id not in ids:
            ids.append(grant.person_id)
    return ids


async def responsible_supervisors(uow: UnitOfWork, building: Building) -> list[int]:
    """The building's named supervisor, else supervisors covering it, else admins.

    The name counts only while that person still supervises the building: a supervisor
    whose role was removed, or who moved to another campus, hands over to whoever covers
    it now."""
    named = building.supervisor_id
    if named is not None and await roles_covering(uow, named, building) & store_roles.SUPERVISORS:
        return [named]
    supervisors = await staff_covering(uow, building, frozenset({Role.SUPERVISOR}))
    return supervisors or await staff_covering(uow, building, frozenset({Role.ADMIN}))


def tickets_in(
    uow: UnitOfWork, scope: ColumnElement[bool], room_id: Any = None
) -> ColumnElement[bool]:
    """Tickets in the rooms of the buildings `scope` (a `buildings_clause`) covers, as
    `ticket.room_id IN (those rooms)`: judged on a ticket index that carries room_id
    (the queues', the open backlog's), so a list or count over thousands of open tickets
    never joins room and building per ticket, nor reads the ticket rows. On SQLite the
    column goes in as an expression: given the bare column its planner (no statistics)
    would start from the rooms and walk every ticket each room ever had
    (`ix_ticket_room_category_status`). `room_id`: the column to judge (default the
    ticket's; a subquery's, to judge a UNION's rows once)."""
    rooms = select(col(Room.id)).join(Building, col(Building.id) == Room.building_id).where(scope)
    room: Any = col(Ticket.room_id) if room_id is None else room_id
    if uow.session.get_bind().dialect.name != "postgresql":
        room = room + 0
    return room.in_(rooms)  # type: ignore[no-any-return]
