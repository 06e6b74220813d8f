"""The one world builder for tests and benches: a settable clock, places, categories,
people with roles and scopes, and tickets walked to any status.

Places, people and tickets go through the store's own code (the locations import, the
person upsert and role grants, the report and dispatch services), so a world is one the
app could reach; only duty, skills, phone, room and a building's named supervisor are set
on the row. Two ready-made worlds:

* `make_places(store)`: the small campus of DEFAULT_LOCATIONS (2 campuses, 4 buildings,
  8 rooms), which the bot tests and per-file scenarios add their own people to::

      places = await make_places(store)
      await make_categories(store)
      tech = await make_person(store, Role.TECHNICIAN, buildings=[places.building("E1公寓").id])

* `make_env(store)` / `build_world(store)`: the ticket world, on a clock starting at T0:

  * campus "North" with "Building A" (rooms A-101, A-102) and "Building B" (room B-201),
    and campus "South" with "Building C" (room C-301), which no technician covers;
  * the categories synced from the store's Policy;
  * requesters: `requester` (Rita, with a phone), `neighbour`, `stranger` (no roles);
  * technicians on duty: `tom` (all of North, every category), `ann` (Building A only,
    water and electrical), `bob` (Building B only, every category); `olga` (all of North,
    every category) is off duty;
  * `dana` a dispatcher for North, `sam` a supervisor for North, `ada` an admin
    everywhere, `ivy` an inspector for Building A.

Reading rows back is tests.support.rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from store.directory import categories, places, profiles, staff
from store.directory.categories import CategoryView
from store.directory.location_csv import LocationRow
from store.directory.places import BuildingView, PlaceView
from store.directory.profiles import PersonView
from store.domain.filing import NewTicket, Urgency
from store.domain.people import upsert_person
from store.intake.report import report
from store.lifecycle import Role
from store.models import Building, Person
from store.repair import dispatch, requester, work
from store.uow import Store, UnitOfWork
from store.views import ReportResult
from tests.support.rows import followup_id, ticket_row

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
E1, E2, W1 = "E1公寓", "E2公寓", "W1公寓"  # buildings of DEFAULT_LOCATIONS
# The ticket world's places (see the module docstring).
NORTH_AND_SOUTH: tuple[tuple[str, str, str, str, str], ...] = (
    ("North", "Building A", "1", "101", "A-101"),
    ("North", "Building A", "1", "102", "A-102"),
    ("North", "Building B", "2", "201", "B-201"),
    ("South", "Building C", "3", "301", "C-301"),
)

# A fixed, far-future "now" for the ticket world, so dates, numbers and windows are
# deterministic.
T0 = datetime(2031, 3, 4, 9, 0, 0, tzinfo=UTC)

_telegram_ids = itertools.count(700_000_001)


def next_telegram_id() -> int:
    """A Telegram user id no other call has handed out in this run."""
    return next(_telegram_ids)


class Clock:
    """A settable clock for `Store.clock` (aware UTC, like `store.uow.utcnow`)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        """The current fake time."""
        return self.now

    def advance(self, delta: timedelta = timedelta(0), /, **parts: float) -> datetime:
        """Move time forward by `delta` and `timedelta(**parts)`; returns the new time."""
        self.now += delta + timedelta(**parts)
        return self.now


def clocked(store: Store, clock: Clock, **policy_changes: Any) -> Store:
    """A Store on the same database with a fake clock and (optionally) a tweaked Policy."""
    return Store(store.engine, replace(store.policy, **policy_changes), clock=clock)


# --- places and categories ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Places:
    """The places a world holds, looked up by code or name."""

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


async def small_campus(store: Store, start: datetime | None = None) -> tuple[Clock, Places]:
    """The store on a Clock from `start` (default: Clock's), with DEFAULT_LOCATIONS and the
    categories: where the per-file scenarios begin."""
    clock = Clock(start)
    store.clock = clock
    places = await make_places(store)
    await make_categories(store)
    return clock, places


# --- people -------------------------------------------------------------------------------


async def person_in(
    uow: UnitOfWork,
    *roles: Role,
    name: str | None = None,
    telegram_id: int | None = None,
    walk_up: bool = False,
    language: str | None = "en",
    buildings: Iterable[int] = (),
    campus_id: int | None = None,
    on_duty: bool = False,
    skills: Iterable[str] = (),
    phone: str | None = None,
    room_id: int | None = None,
) -> Person:
    """A person holding `roles` (none: a plain requester), inside the caller's unit.

    Scoped to `buildings`, else to `campus_id`, else everywhere, as `repairbot staff add`
    grants them. A Telegram user (a fresh id unless given; an existing one is refreshed);
    `walk_up`: someone without Telegram, as a booth files for.
    """
    if walk_up:
        person = Person(name=name or "Walk-up", language=language, created_at=uow.now())
        uow.session.add(person)
    else:
        telegram_id = telegram_id or next_telegram_id()
        person = await upsert_person(uow, telegram_id, name or f"Person {telegram_id}", language)
    await uow.flush()
    assert person.id is not None
    for role in roles:
        if role != Role.REQUESTER:
            await staff.add_grants(uow, person.id, role, campus_id, buildings)
    # Only what is asked for: a person who already wrote to the bot keeps the rest.
    if on_duty:
        person.on_duty = True
    if skills:
        person.skills = list(skills)
    if phone is not None:
        person.phone = phone
    if room_id is not None:
        person.room_id = room_id
    await uow.flush()
    return person


async def make_person(store: Store, *roles: Role, **details: Any) -> PersonView:
    """A person holding `roles`, in a unit of their own (`details`: as for `person_in`)."""
    async with store.uow() as uow:
        person_id = (await person_in(uow, *roles, **details)).id
        await uow.commit()
    assert person_id is not None
    return await profiles.get_person_view(store.uow(), person_id)


async def set_on_duty(store: Store, person_ids: Sequence[int], on: bool) -> None:
    """Put people on or off duty directly (the duty service is tested elsewhere)."""
    async with store.uow() as uow:
        await uow.session.execute(
            update(Person).where(col(Person.id).in_(list(person_ids))).values(on_duty=on)
        )
        await uow.commit()


async def set_building_supervisor(store: Store, building_id: int, person_id: int | None) -> None:
    """Name the building's responsible supervisor (None: nobody by name)."""
    async with store.uow() as uow:
        await uow.session.execute(
            update(Building).where(col(Building.id) == building_id).values(supervisor_id=person_id)
        )
        await uow.commit()


# --- the ticket world ---------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Ids of everything `build_world` made."""

    north: int
    south: int
    building_a: int
    building_b: int
    building_c: int
    room_a1: int
    room_a2: int
    room_b1: int
    room_c1: int
    categories: dict[str, int]
    requester: int
    neighbour: int
    stranger: int
    tom: int
    ann: int
    bob: int
    olga: int
    dana: int
    sam: int
    ada: int
    ivy: int
    names: dict[int, str] = field(default_factory=dict)

    @property
    def technicians(self) -> tuple[int, ...]:
        return (self.tom, self.ann, self.bob, self.olga)


async def build_world(store: Store) -> World:
    """Places, categories and people for ticket tests (see the module docstring)."""
    categories = {c.key: c.id for c in await make_categories(store)}
    where = await make_places(store, NORTH_AND_SOUTH)
    a, b, c = (where.building(f"Building {x}") for x in "ABC")
    n = a.campus_id
    # key, name, roles, scope; on duty and skills below.
    specs: list[tuple[str, str, tuple[Role, ...], dict[str, Any]]] = [
        ("requester", "Rita", (), {"phone": "+1 555 0100"}),
        ("neighbour", "Ned", (), {}),
        ("stranger", "Stan", (), {}),
        ("tom", "Tom", (Role.TECHNICIAN,), {"campus_id": n, "on_duty": True}),
        ("ann", "Ann", (Role.TECHNICIAN,), {"buildings": [a.id], "on_duty": True}),
        ("bob", "Bob", (Role.TECHNICIAN,), {"buildings": [b.id], "on_duty": True}),
        ("olga", "Olga", (Role.TECHNICIAN,), {"campus_id": n}),
        ("dana", "Dana", (Role.DISPATCHER,), {"campus_id": n}),
        ("sam", "Sam", (Role.SUPERVISOR,), {"campus_id": n}),
        ("ada", "Ada", (Role.ADMIN,), {}),
        ("ivy", "Ivy", (Role.INSPECTOR,), {"buildings": [a.id]}),
    ]
    ids: dict[str, int] = {}
    async with store.uow() as uow:  # eleven people in one transaction
        for key, name, roles, scope in specs:
            skills = ["water", "electrical"] if key == "ann" else []
            person = await person_in(uow, *roles, name=name, skills=skills, **scope)
            assert person.id is not None
            ids[key] = person.id
        await uow.commit()
    return World(
        north=n,
        south=c.campus_id,
        building_a=a.id,
        building_b=b.id,
        building_c=c.id,
        room_a1=where.room("A-101").room_id,
        room_a2=where.room("A-102").room_id,
        room_b1=where.room("B-201").room_id,
        room_c1=where.room("C-301").room_id,
        categories=categories,
        names={ids[key]: name for key, name, _, _ in specs},
        **ids,
    )


@dataclass
class Env:
    """A clocked store over the test database, the world in it, and the clock."""

    store: Store
    world: World
    clock: Clock


async def make_env(store: Store, **policy_changes: Any) -> Env:
    """Build the world on a store whose clock starts at T0 (Policy tweaks optional)."""
    clock = Clock(T0)
    st = clocked(store, clock, **policy_changes)
    return Env(st, await build_world(st), clock)


# --- tickets ------------------------------------------------------------------------------


def report_with_key(w: World, key: str | None, *, category: str = "water") -> NewTicket:
    """The requester's water report in room A1, filed from the draft with `key`."""
    return NewTicket(
        requester_id=w.requester,
        room_id=w.room_a1,
        category_key=category,
        description="The tap drips.",
        submission_key=key,
    )


async def file_ticket(
    store: Store,
    world: World,
    *,
    requester: int | None = None,
    room: int | None = None,
    category: str = "water",
    description: str = "The tap in the sink keeps dripping.",
    urgency: Urgency = Urgency.NORMAL,
    photos: Sequence[str] = (),
    filed_by: int | None = None,
) -> ReportResult:
    """File a ticket in the ticket world through the real `report` service."""
    return await report(
        store.uow(),
        NewTicket(
            requester_id=requester if requester is not None else world.requester,
            room_id=room if room is not None else world.room_a1,
            category_key=category,
            description=description,
            urgency=urgency,
            photos=photos,
            filed_by_id=filed_by,
        ),
    )


async def file_in_room(
    store: Store,
    where: Places,
    requester_id: int,
    code: str = "E1-101",
    category: str = "water",
    description: str = "The tap drips.",
) -> int:
    """A ticket filed (and dispatched) in the room with `code`, as the report flow would;
    returns its id."""
    new = NewTicket(requester_id, where.room(code).room_id, category, description)
    return (await report(store.uow(), new)).ticket.id


# The states `put_in_state` walks a dispatching ticket to; "visit" is assigned with a
# visit proposed, "complaint" is a complaint by its requester (a follow-up).
STATES = ("dispatching", "assigned", "visit", "in_progress", "deferred", "completed", "complaint")


async def put_in_state(
    store: Store,
    ticket_id: int,
    state: str,
    *,
    technician_id: int,
    dispatcher_id: int | None = None,
) -> int | None:
    """Walk a dispatching ticket to `state` through the services: assigned by the
    dispatcher, or accepted by the technician when there is none. Returns the follow-up's
    id for "complaint"."""
    assert state in STATES, state
    uow, clock = store.uow, store.clock
    if state == "complaint":
        ticket = await ticket_row(store, ticket_id)
        number = await requester.complain(uow(), ticket_id, ticket.requester_id, "Nobody came.")
        return await followup_id(store, number)
    if state == "dispatching":
        return None
    if dispatcher_id is not None:
        await dispatch.assign(uow(), ticket_id, dispatcher_id, technician_id)
    else:
        await dispatch.accept(uow(), ticket_id, technician_id)
    if state == "visit":
        await work.propose_visit(uow(), ticket_id, technician_id, clock() + timedelta(days=1))
    if state in ("in_progress", "deferred", "completed"):
        await work.start(uow(), ticket_id, technician_id)
    if state == "deferred":
        when = clock() + timedelta(days=3)
        await work.defer(uow(), ticket_id, technician_id, when, "Parts to order")
    if state == "completed":
        await work.complete(uow(), ticket_id, technician_id)
    return None
