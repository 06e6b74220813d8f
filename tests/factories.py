"""Small factories for tests: places, categories, people with roles, and a settable clock.

Everything goes through the real services, so a factory never builds a state the app
could not reach. Typical use::

    places = await make_places(store)                 # 2 campuses, 4 buildings, 8 rooms
    await make_categories(store)                      # the policy's categories
    tech = await make_person(store, Role.TECHNICIAN, buildings=[places.building("E1公寓").id])
    room = places.room("E1-101")                      # a PlaceView
    store.clock = clock = Clock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC)); clock.advance(hours=2)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from store.directory import categories, places, profiles, staff
from store.directory.categories import CategoryView
from store.directory.location_csv import LocationRow
from store.directory.places import BuildingView, PlaceView
from store.directory.profiles import PersonView
from store.lifecycle import Role
from store.models import Person
from store.uow import Store

# (campus, building, floor, room, code). "圖書館" exists in both campuses on purpose: it is
# the ambiguous building name; E1公寓 has floors 1, 2 and 10 for natural-sort checks.
DEFAULT_LOCATIONS: tuple[tuple[str, str, str, str, str], ...] = (
    ("東校區", "E1公寓", "1", "101", "E1-101"),
    ("東校區", "E1公寓", "1", "102", "E1-102"),
    ("東校區", "E1公寓", "2", "201", "E1-201"),
    ("東校區", "E1公寓", "10", "1001", "E1-1001"),
    ("東校區", "圖書館", "1", "1F大廳", "ELIB-1-H"),
    ("東校區", "E2公寓", "1", "101", "E2-101"),
    ("西校區", "W1公寓", "1", "101", "W1-101"),
    ("西校區", "圖書館", "1", "1F大廳", "WLIB-1-H"),
)

_telegram_ids = itertools.count(700_000_001)


def next_telegram_id() -> int:
    """A Telegram user id no other factory call has handed out in this run."""
    return next(_telegram_ids)


class Clock:
    """A settable clock for `Store.clock` (aware UTC, like `store.uow.utcnow`)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        """The current fake time."""
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move time forward by `timedelta(**delta)` and return the new time."""
        self.now += timedelta(**delta)
        return self.now


@dataclass(frozen=True, slots=True)
class Places:
    """The places a factory created, looked up by code or name."""

    rooms: dict[str, PlaceView]
    buildings: tuple[BuildingView, ...]

    def room(self, code: str) -> PlaceView:
        """The room with this code."""
        return self.rooms[code]

    def building(self, name: str, campus: str | None = None) -> BuildingView:
        """The building with this name (and campus, when the name is ambiguous)."""
        found = [b for b in self.buildings if b.name == name and campus in (None, b.campus)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} buildings named {name!r} in {campus or 'any campus'}")
        return found[0]


def location_rows(rows: Iterable[Sequence[str]]) -> list[LocationRow]:
    """LocationRows from (campus, building, floor, room, code) tuples, numbered from line 2."""
    return [
        LocationRow(campus, building, floor, room, code, line=n)
        for n, (campus, building, floor, room, code) in enumerate(rows, start=2)
    ]


async def make_places(store: Store, rows: Iterable[Sequence[str]] = DEFAULT_LOCATIONS) -> Places:
    """Import `rows` (default: DEFAULT_LOCATIONS) and return what exists afterwards."""
    await places.import_locations(store.uow(), location_rows(rows))
    buildings: list[BuildingView] = []
    for campus in await places.list_campuses(store.uow()):
        buildings.extend(await places.list_buildings(store.uow(), campus.id))
    rooms: dict[str, PlaceView] = {}
    for building in buildings:
        found, _ = await places.list_rooms(store.uow(), building.id, None, limit=10_000)
        for room in found:
            place = await places.room_by_code(store.uow(), room.code)
            assert place is not None
            rooms[room.code] = place
    return Places(rooms, tuple(buildings))


async def make_categories(store: Store) -> list[CategoryView]:
    """Create the store policy's categories (water, electrical, ...) and return them."""
    return await categories.sync_categories(store.uow(), store.policy)


async def make_person(
    store: Store,
    *roles: Role,
    name: str | None = None,
    telegram_id: int | None = None,
    language: str | None = "en",
    buildings: Iterable[int] = (),
    campus_id: int | None = None,
    on_duty: bool = False,
    skills: Iterable[str] = (),
) -> PersonView:
    """A person holding `roles` (none: a plain requester), scoped to buildings or a campus."""
    telegram_id = telegram_id or next_telegram_id()
    person = await profiles.ensure_person(
        store.uow(), telegram_id, name or f"Person {telegram_id}", language
    )
    building_ids = tuple(buildings)
    for role in roles:
        if role != Role.REQUESTER:
            await staff.add_staff(
                store.uow(), telegram_id, role, building_ids=building_ids, campus_id=campus_id
            )
    if on_duty:
        await staff.set_duty(store.uow(), person.id, True)
    if skills:
        # No use case sets skills (they are written to the row, as the world builder does).
        async with store.uow() as uow:
            row = await uow.session.get(Person, person.id)
            assert row is not None
            row.skills = list(skills)
            await uow.commit()
    return await profiles.get_person_view(store.uow(), person.id)
