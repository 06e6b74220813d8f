"""Staff administration: which roles someone holds where, and a technician's duty."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete
from sqlmodel import col, select

from store import roles
from store.db import rowcount
from store.directory.profiles import PersonView, view_of
from store.domain.lookups import get_person
from store.domain.people import upsert_person
from store.domain.scope import grants_of
from store.errors import InvalidInput, NotFound, NotPermitted
from store.lifecycle import Role
from store.models import Building, Campus, Person, RoleGrant
from store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class GrantView:
    """One role grant with the names of its scope (no campus and no buildings: everywhere)."""

    person_id: int
    role: Role
    campus_id: int | None = None
    campus: str | None = None
    building_ids: tuple[int, ...] = ()
    buildings: tuple[str, ...] = ()

    def scope_label(self) -> str:
        """A short human description of the scope, e.g. "東校區/E1公寓" or "all"."""
        if self.buildings:
            return ", ".join(self.buildings)
        return self.campus or "all"


@dataclass(frozen=True, slots=True)
class StaffView:
    """A staff member and every role they hold, one GrantView per grant."""

    person: PersonView
    grants: tuple[GrantView, ...]


async def _check_scope(
    uow: UnitOfWork, campus_id: int | None, building_ids: Iterable[int]
) -> None:
    if campus_id is not None and await uow.session.get(Campus, campus_id) is None:
        raise NotFound("campus", campus_id=campus_id)
    for building_id in building_ids:
        if await uow.session.get(Building, building_id) is None:
            raise NotFound("building", building_id=building_id)


async def add_grants(
    uow: UnitOfWork,
    person_id: int,
    role: Role,
    campus_id: int | None,
    building_ids: Iterable[int],
) -> None:
    """Grant `role` per building (or once, campus-wide or everywhere); no duplicates."""
    if role not in roles.STAFF:
        raise InvalidInput(f"{role} is not a staff role", role=str(role))
    ids = list(dict.fromkeys(building_ids))
    await _check_scope(uow, campus_id, ids)
    wanted = [(None, b) for b in ids] if ids else [(campus_id, None)]
    # The unique constraint treats NULLs as distinct, so duplicates are caught here.
    held = {
        (g.campus_id, g.building_id) for g in await grants_of(uow, person_id) if g.role == role
    }
    for campus, building in wanted:
        if (campus, building) not in held:
            uow.session.add(
                RoleGrant(person_id=person_id, role=role, campus_id=campus, building_id=building)
            )


async def add_staff(
    uow: UnitOfWork,
    telegram_id: int,
    role: Role,
    *,
    name: str | None = None,
    building_ids: Iterable[int] = (),
    campus_id: int | None = None,
) -> StaffView:
    """Give a Telegram user a staff role (creating the person if needed); idempotent."""
    async with uow:
        person = await upsert_person(uow, telegram_id, name, None)
        await uow.flush()
        assert person.id is not None
        await add_grants(uow, person.id, role, campus_id, building_ids)
        await uow.flush()
        view = (await _staff_views(uow, [person]))[0]
        await uow.commit()
    return view


async def remove_role(uow: UnitOfWork, person_id: int, role: Role) -> int:
    """Take a role away everywhere; returns how many grants were removed."""
    async with uow:
        person = await get_person(uow, person_id)
        result = await uow.session.execute(
            delete(RoleGrant).where(
                col(RoleGrant.person_id) == person_id, col(RoleGrant.role) == role
            )
        )
        if role == Role.TECHNICIAN:
            person.on_duty = False  # a former technician must not be offered jobs
        await uow.commit()
    return rowcount(result)


async def _staff_views(uow: UnitOfWork, people: list[Person]) -> list[StaffView]:
    ids = [p.id for p in people]
    grants = list(
        (await uow.session.execute(select(RoleGrant).where(col(RoleGrant.person_id).in_(ids))))
        .scalars()
        .all()
    )
    campuses = {c.id: c.name for c in (await uow.session.execute(select(Campus))).scalars()}
    buildings = {
        b.id: f"{campuses.get(b.campus_id, '?')}/{b.name}"
        for b in (await uow.session.execute(select(Building))).scalars()
    }
    views = []
    for person in people:
        own = sorted(
            (g for g in grants if g.person_id == person.id),
            key=lambda g: (g.role, g.campus_id or 0, g.building_id or 0),
        )
        grant_views = tuple(
            GrantView(
                person_id=g.person_id,
                role=g.role,
                campus_id=g.campus_id,
                campus=campuses.get(g.campus_id) if g.campus_id else None,
                building_ids=(g.building_id,) if g.building_id else (),
                buildings=(buildings.get(g.building_id, "?"),) if g.building_id else (),
            )
            for g in own
        )
        views.append(StaffView(view_of(person, own), grant_views))
    return views


async def list_staff(uow: UnitOfWork) -> list[StaffView]:
    """Everyone holding a staff role, by name, with each grant's scope."""
    async with uow:
        has_grant = select(RoleGrant.person_id).distinct()
        people = list(
            (await uow.session.execute(select(Person).where(col(Person.id).in_(has_grant))))
            .scalars()
            .all()
        )
        people.sort(key=lambda p: (p.name.casefold(), p.id or 0))
        return await _staff_views(uow, people)


# --- duty ----------------------------------------------------------------------------------


async def set_duty(uow: UnitOfWork, person_id: int, on: bool | None = None) -> bool:
    """Go on or off duty (None toggles); only technicians may. Returns the new state."""
    async with uow:
        person = await get_person(uow, person_id)
        if not any(g.role == Role.TECHNICIAN for g in await grants_of(uow, person_id)):
            raise NotPermitted("only technicians go on duty", action="duty")
        person.on_duty = (not person.on_duty) if on is None else on
        state = person.on_duty
        await uow.commit()
    return state
