"""People and staff: who someone is, which roles they hold where, and duty status."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete
from sqlmodel import col, select

from store import roles
from store.domain.lookups import get_person
from store.domain.scope import grant_covers, grants_of
from store.errors import InvalidInput, NotFound, NotPermitted
from store.intake import drafts
from store.lifecycle import Role
from store.models import Building, Campus, Category, Person, RoleGrant, Room
from store.text import normalise
from store.uow import UnitOfWork

STAFF_ROLES = roles.STAFF
_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]{2,38}")
_LANGUAGE_MAX = 10


@dataclass(frozen=True, slots=True)
class PersonView:
    """A person as the bot sees them; `roles` always includes requester."""

    id: int
    telegram_id: int | None
    name: str
    language: str | None
    phone: str | None
    on_duty: bool
    roles: frozenset[Role]
    unreachable: bool
    skills: tuple[str, ...] = ()
    timezone: str | None = None


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


def _view(person: Person, grants: Iterable[RoleGrant]) -> PersonView:
    assert person.id is not None
    return PersonView(
        id=person.id,
        telegram_id=person.telegram_id,
        name=person.name,
        language=person.language,
        phone=person.phone,
        on_duty=person.on_duty,
        roles=frozenset({Role.REQUESTER, *(g.role for g in grants)}),
        unreachable=person.unreachable_since is not None,
        skills=tuple(person.skills),
        timezone=person.timezone,
    )


async def _person_view(uow: UnitOfWork, person: Person) -> PersonView:
    assert person.id is not None
    return _view(person, await grants_of(uow, person.id))


async def upsert_person(
    uow: UnitOfWork, telegram_id: int, name: str | None, language: str | None
) -> Person:
    """The person with this Telegram id, created or with a refreshed name; no commit.

    A new user's first two updates can race: the insert does nothing on the unique
    Telegram id, and the loser re-selects the winner's row.
    """
    return (await _upsert(uow, telegram_id, name, language))[0]


async def _upsert(
    uow: UnitOfWork,
    telegram_id: int,
    name: str | None,
    language: str | None,
    *,
    likely_new: bool = False,
) -> tuple[Person, bool]:
    """`upsert_person`, and whether this unit created the row. `likely_new`: insert
    before looking (one statement for a newcomer, one more for a rename)."""
    name, language = _telegram_fields(name, language)
    stmt = select(Person).where(Person.telegram_id == telegram_id)
    person = None if likely_new else (await uow.session.execute(stmt)).scalar_one_or_none()
    if person is None:
        created = await uow.session.scalars(
            uow.insert(Person)
            .values(
                telegram_id=telegram_id,
                name=name,
                language=language,
                skills=[],
                created_at=uow.now(),
            )
            .on_conflict_do_nothing(index_elements=[col(Person.telegram_id)])
            .returning(Person)
        )
        person = created.one_or_none()
        if person is not None:
            return person, True
        person = (await uow.session.execute(stmt)).scalar_one()
    if _is_stale(person, name, language):
        if name and person.name != name:
            person.name = name
        if person.language is None and language is not None:
            # A language the user picked in the bot beats Telegram's client setting.
            person.language = language
    return person, False


def _telegram_fields(name: str | None, language: str | None) -> tuple[str, str | None]:
    """Name and language as stored, from what Telegram says about the user."""
    cleaned = (normalise(name) or "")[:200]
    code = (normalise(language) or None) if language else None
    if code is not None and len(code) > _LANGUAGE_MAX:
        code = None
    return cleaned, code


def _is_stale(person: Person, name: str, language: str | None) -> bool:
    """Whether the row needs what Telegram now says (a new name, a first language)."""
    return bool(name and person.name != name) or (person.language is None and language is not None)


async def known_person(
    uow: UnitOfWork, telegram_id: int, name: str | None, language: str | None
) -> PersonView | None:
    """The person behind a Telegram user when their row already says what Telegram says,
    read without a write lock (pass `Store.read()`); None when `ensure_person` must write."""
    name, language = _telegram_fields(name, language)
    async with uow.reading():
        stmt = select(Person).where(Person.telegram_id == telegram_id)
        person = (await uow.session.execute(stmt)).scalar_one_or_none()
        if person is None or _is_stale(person, name, language):
            return None
        return await _person_view(uow, person)


async def ensure_person(
    uow: UnitOfWork, telegram_id: int, name: str | None, language: str | None
) -> PersonView:
    """Create or refresh the person behind a Telegram user (a writing unit; try
    `known_person` first, which needs no write lock)."""
    async with uow:
        # Called when `known_person` found no row or an old name: mostly a newcomer.
        person, created = await _upsert(uow, telegram_id, name, language, likely_new=True)
        await uow.flush()
        if created:
            # Nobody can hold a role, nor have a draft, before they exist.
            view = _view(person, ())
            drafts.none_yet(uow, view.id)
        else:
            view = await _person_view(uow, person)
        await uow.commit()
    return view


async def get_person_view(uow: UnitOfWork, person_id: int) -> PersonView:
    """The person with their roles, or NotFound."""
    async with uow.reading():
        return await _person_view(uow, await get_person(uow, person_id))


async def saved_phone(uow: UnitOfWork, person_id: int) -> str | None:
    """The person's remembered contact phone, as stored now (None if none, or no person)."""
    async with uow.reading():
        stmt = select(Person.phone).where(Person.id == person_id)
        return (await uow.session.execute(stmt)).scalar_one_or_none()


async def person_by_telegram_id(uow: UnitOfWork, telegram_id: int) -> PersonView | None:
    """The person behind a Telegram user, or None if they never wrote or were added."""
    async with uow.reading():
        stmt = select(Person).where(Person.telegram_id == telegram_id)
        person = (await uow.session.execute(stmt)).scalar_one_or_none()
        return await _person_view(uow, person) if person else None


async def set_language(uow: UnitOfWork, person_id: int, language: str) -> PersonView:
    """Remember the language the person chose."""
    language = language.strip()
    if not language or len(language) > _LANGUAGE_MAX:
        raise InvalidInput("language code", language=language)
    async with uow:
        person = await get_person(uow, person_id)
        person.language = language
        view = await _person_view(uow, person)
        await uow.commit()
    return view


async def set_phone(uow: UnitOfWork, person_id: int, phone: str | None) -> PersonView:
    """Remember (or forget, with None or "") the person's contact phone."""
    cleaned = normalise(phone)
    if cleaned is not None and not _PHONE.fullmatch(cleaned):
        raise InvalidInput("phone number", phone=cleaned)
    async with uow:
        person = await get_person(uow, person_id)
        person.phone = cleaned
        view = await _person_view(uow, person)
        await uow.commit()
    return view


# --- staff ---------------------------------------------------------------------------------


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
    if role not in STAFF_ROLES:
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
    return int(result.rowcount)  # type: ignore[attr-defined]


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
        views.append(StaffView(_view(person, own), grant_views))
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


async def buildings_covered(uow: UnitOfWork, person_id: int, role: Role) -> list[int]:
    """Ids of the buildings where the person holds `role` (directly, by campus, or everywhere)."""
    async with uow:
        grants = [g for g in await grants_of(uow, person_id) if g.role == role]
        if not grants:
            return []
        rows = await uow.session.execute(select(Building))
        return sorted(
            b.id for b in rows.scalars() if b.id and any(grant_covers(g, b) for g in grants)
        )


# --- duty and skills -----------------------------------------------------------------------


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


async def set_skills(uow: UnitOfWork, person_id: int, skills: Iterable[str]) -> tuple[str, ...]:
    """Set the category keys a technician covers (empty: all); unknown keys are refused."""
    wanted = tuple(dict.fromkeys(s.strip() for s in skills if s.strip()))
    async with uow:
        person = await get_person(uow, person_id)
        known = set((await uow.session.execute(select(Category.key))).scalars())
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise InvalidInput("unknown category", keys=unknown)
        person.skills = list(wanted)
        await uow.commit()
    return wanted


async def set_room(uow: UnitOfWork, person_id: int, room_id: int | None) -> PersonView:
    """Set (or clear) the person's own room: reports start there, sweeps reach them."""
    async with uow:
        person = await get_person(uow, person_id)
        if room_id is not None and await uow.session.get(Room, room_id) is None:
            raise NotFound("room", room_id=room_id)
        person.room_id = room_id
        uow.session.add(person)
        await uow.flush()
        view = await _person_view(uow, person)
        await uow.commit()
    return view


async def room_of(uow: UnitOfWork, person_id: int) -> int | None:
    """The person's own room, if set."""
    async with uow:
        return (await get_person(uow, person_id)).room_id


async def set_timezone(uow: UnitOfWork, person_id: int, zone: str | None) -> PersonView:
    """A person's own time zone (their digest time follows it); None: the campus zone."""
    if zone is not None:
        try:
            ZoneInfo(zone)
        # OSError: a key naming a folder of the zone database ("Asia") or too long a name.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise InvalidInput("unknown time zone", zone=zone) from None
    async with uow:
        person = await get_person(uow, person_id)
        person.timezone = zone
        uow.session.add(person)
        await uow.flush()
        view = await _person_view(uow, person)
        await uow.commit()
    return view
