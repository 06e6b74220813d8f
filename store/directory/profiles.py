"""Who someone is: the person behind a Telegram user, and what they tell the bot about
themselves (language, phone, room, time zone)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import select

from store.domain import draft_cache
from store.domain.lookups import get_person
from store.domain.people import LANGUAGE_MAX, is_stale, telegram_fields, upsert_newcomer
from store.domain.scope import grants_of
from store.errors import InvalidInput, NotFound
from store.lifecycle import Role
from store.models import Person, RoleGrant, Room
from store.text import normalise
from store.uow import UnitOfWork

_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]{2,38}")


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


def view_of(person: Person, grants: Iterable[RoleGrant]) -> PersonView:
    """The person as the bot sees them, holding `grants` (a staff list has them at hand)."""
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
    return view_of(person, await grants_of(uow, person.id))


async def known_person(
    uow: UnitOfWork, telegram_id: int, name: str | None, language: str | None
) -> PersonView | None:
    """The person behind a Telegram user when their row already says what Telegram says,
    read without a write lock (pass `Store.read()`); None when `ensure_person` must write."""
    name, language = telegram_fields(name, language)
    async with uow.reading():
        stmt = select(Person).where(Person.telegram_id == telegram_id)
        person = (await uow.session.execute(stmt)).scalar_one_or_none()
        if person is None or is_stale(person, name, language, uow.now()):
            return None
        return await _person_view(uow, person)


async def ensure_person(
    uow: UnitOfWork, telegram_id: int, name: str | None, language: str | None
) -> PersonView:
    """Create or refresh the person behind a Telegram user (a writing unit; try
    `known_person` first, which needs no write lock)."""
    async with uow:
        # Called when `known_person` found no row or an old name: mostly a newcomer.
        person, created = await upsert_newcomer(uow, telegram_id, name, language)
        await uow.flush()
        if created:
            # Nobody can hold a role, nor have a draft, before they exist.
            view = view_of(person, ())
            draft_cache.none_yet(uow, view.id)
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
    if not language or len(language) > LANGUAGE_MAX:
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
