"""Places: the locations import, and browsing campuses, buildings and rooms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import col, select

from store.directory.location_csv import LocationRow
from store.domain.lookups import Place, get_place, places_where
from store.errors import AmbiguousName, LocationImportError, NotFound
from store.models import Building, Campus, Room
from store.text import natural_key, normalise_key
from store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class RoomMove:
    """A room whose code a locations file puts on another campus, building or floor."""

    line: int
    code: str
    was: tuple[str, str, str]  # campus, building, floor
    to: tuple[str, str, str]

    def describe(self) -> str:
        """`E1-101: 東校區 / E1公寓 floor 1 -> 西校區 / W1公寓 floor 3`."""
        return f"{self.code}: {_where(self.was)} -> {_where(self.to)}"


def _where(place: tuple[str, str, str]) -> str:
    campus, building, floor = place
    return f"{campus} / {building} floor {floor}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What a locations import did; `moves` are the rooms put elsewhere (only with
    `move=True`; `rooms_updated` counts them, and renames)."""

    campuses_created: int
    buildings_created: int
    rooms_created: int
    rooms_updated: int
    unchanged: int
    moves: tuple[RoomMove, ...] = ()


@dataclass(frozen=True, slots=True)
class CampusView:
    """A campus as a choice on screen."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class BuildingView:
    """A building with its campus."""

    id: int
    name: str
    campus_id: int
    campus: str


@dataclass(frozen=True, slots=True)
class RoomView:
    """A room within a known building."""

    id: int
    building_id: int
    floor: str
    name: str
    code: str


@dataclass(frozen=True, slots=True)
class PlaceView:
    """A room with its building and campus: everything a report needs to say where."""

    room_id: int
    code: str
    floor: str
    room: str
    building_id: int
    building: str
    campus_id: int
    campus: str


def _place_view(place: Place) -> PlaceView:
    room, building, campus = place.room, place.building, place.campus
    assert room.id is not None and building.id is not None and campus.id is not None
    return PlaceView(
        room.id,
        room.code,
        room.floor,
        room.name,
        building.id,
        building.name,
        campus.id,
        campus.name,
    )


def _room_view(room: Room) -> RoomView:
    assert room.id is not None
    return RoomView(room.id, room.building_id, room.floor, room.name, room.code)


# --- import --------------------------------------------------------------------------------


async def import_locations(
    uow: UnitOfWork, rows: Sequence[LocationRow], *, move: bool = False
) -> ImportResult:
    """Upsert campuses, buildings and rooms (by code) from checked rows in one transaction.

    A code already in use names that room: its name may change, but a line putting it on
    another campus, building or floor is a move, and without `move` the whole import is
    refused (LocationImportError, one entry per such line) — a mistyped code must not carry
    a room's tickets to another campus. A moved room keeps its id, so its tickets follow."""
    async with uow:
        session = uow.session
        # Load everything once: a campus has thousands of rooms, not millions, and
        # one query per row would make the sample file take seconds.
        campuses = {c.name: c for c in (await session.execute(select(Campus))).scalars()}
        buildings = {
            (b.campus_id, b.name): b for b in (await session.execute(select(Building))).scalars()
        }
        rooms = {r.code: r for r in (await session.execute(select(Room))).scalars()}
        moves = _moves(rows, rooms, campuses, buildings)
        if moves and not move:
            raise LocationImportError([(m.line, f"would move room {m.describe()}") for m in moves])

        new_campuses = [Campus(name=n) for n in dict.fromkeys(r.campus for r in rows)]
        new_campuses = [c for c in new_campuses if c.name not in campuses]
        session.add_all(new_campuses)
        await session.flush()
        campuses.update((c.name, c) for c in new_campuses)

        new_buildings: list[Building] = []
        for campus_name, building_name in dict.fromkeys((r.campus, r.building) for r in rows):
            campus_id = campuses[campus_name].id
            assert campus_id is not None
            if (campus_id, building_name) not in buildings:
                building = Building(campus_id=campus_id, name=building_name)
                buildings[(campus_id, building_name)] = building
                new_buildings.append(building)
        session.add_all(new_buildings)
        await session.flush()

        created = updated = unchanged = 0
        for row in rows:
            building_id = buildings[(campuses[row.campus].id or 0, row.building)].id
            assert building_id is not None
            room = rooms.get(row.code)
            if room is None:
                session.add(
                    Room(building_id=building_id, floor=row.floor, name=row.room, code=row.code)
                )
                created += 1
            elif (room.building_id, room.floor, room.name) != (building_id, row.floor, row.room):
                room.building_id, room.floor, room.name = building_id, row.floor, row.room
                updated += 1
            else:
                unchanged += 1
        await uow.commit()
    return ImportResult(
        len(new_campuses), len(new_buildings), created, updated, unchanged, tuple(moves)
    )


def _moves(
    rows: Sequence[LocationRow],
    rooms: dict[str, Room],
    campuses: dict[str, Campus],
    buildings: dict[tuple[int, str], Building],
) -> list[RoomMove]:
    """The rows that put an existing room on another campus, building or floor."""
    campus_names = {c.id: name for name, c in campuses.items()}
    where = {b.id: (campus_names[b.campus_id], b.name) for b in buildings.values()}
    found = []
    for row in rows:
        room = rooms.get(row.code)
        if room is None:
            continue
        was = (*where[room.building_id], room.floor)
        to = (row.campus, row.building, row.floor)
        if was != to:
            found.append(RoomMove(row.line, row.code, was, to))
    return found


# --- browsing ------------------------------------------------------------------------------


async def count_rooms(uow: UnitOfWork) -> int:
    """How many rooms there are, on every campus."""
    async with uow.reading():
        rows = await uow.session.execute(select(func.count()).select_from(Room))
        return int(rows.scalar_one())


async def list_campuses(uow: UnitOfWork) -> list[CampusView]:
    """Every campus, by name."""
    async with uow.reading():
        rows = await uow.session.execute(select(Campus))
        campuses = [CampusView(c.id or 0, c.name) for c in rows.scalars()]
    return sorted(campuses, key=lambda c: natural_key(c.name))


async def list_buildings(uow: UnitOfWork, campus_id: int) -> list[BuildingView]:
    """The campus's buildings, in natural name order."""
    async with uow.reading():
        rows = await uow.session.execute(
            select(Building, Campus)
            .join(Campus, col(Campus.id) == Building.campus_id)
            .where(Building.campus_id == campus_id)
        )
        found = [BuildingView(b.id or 0, b.name, c.id or 0, c.name) for b, c in rows.all()]
    return sorted(found, key=lambda b: natural_key(b.name))


async def list_floors(uow: UnitOfWork, building_id: int) -> list[str]:
    """The building's floors in natural order ("2" before "10")."""
    async with uow.reading():
        rows = await uow.session.execute(
            select(Room.floor).where(Room.building_id == building_id).distinct()
        )
        floors = list(rows.scalars())
    return sorted(floors, key=natural_key)


async def list_rooms(
    uow: UnitOfWork, building_id: int, floor: str | None, *, offset: int = 0, limit: int = 24
) -> tuple[list[RoomView], int]:
    """One page of a floor's rooms (all floors when `floor` is None) and the total count."""
    async with uow.reading():
        stmt = select(Room).where(Room.building_id == building_id)
        if floor is not None:
            stmt = stmt.where(Room.floor == floor)
        rooms = [_room_view(r) for r in (await uow.session.execute(stmt)).scalars()]
    # A floor holds tens of rooms, so sorting naturally in Python beats SQL collations.
    rooms.sort(key=lambda r: (natural_key(r.floor), natural_key(r.name), r.code))
    start = max(offset, 0)
    return rooms[start : start + max(limit, 0)], len(rooms)


async def room_by_code(uow: UnitOfWork, code: str) -> PlaceView | None:
    """The room with this code (exact first, then ignoring case), or None."""
    code = normalise_key(code)
    if not code:
        return None
    async with uow.reading():
        found = await places_where(uow, col(Room.code) == code)
        if not found:
            found = await places_where(uow, func.lower(Room.code) == code.lower(), limit=2)
        return _place_view(found[0]) if len(found) == 1 else None


async def find_room(uow: UnitOfWork, building_id: int, text: str) -> PlaceView | None:
    """A room of the building named or coded like `text`, ignoring case; None if not one."""
    wanted = " ".join(text.split()).casefold()
    if not wanted:
        return None
    async with uow.reading():
        rooms = list(
            (await uow.session.execute(select(Room).where(Room.building_id == building_id)))
            .scalars()
            .all()
        )
        by_code = [r for r in rooms if r.code.casefold() == wanted]
        by_name = [r for r in rooms if " ".join(r.name.split()).casefold() == wanted]
        # A code is unique; a name might repeat on several floors, and then we cannot guess.
        match = by_code or (by_name if len(by_name) == 1 else [])
        if len(match) != 1 or match[0].id is None:
            return None
        return _place_view(await get_place(uow, match[0].id))


async def building_by_name(uow: UnitOfWork, name: str, campus: str | None = None) -> BuildingView:
    """The building called `name` (in `campus` if given); NotFound or AmbiguousName.

    A building's short code, the part of its rooms' codes before the dash ("ED1" for
    ED1-101, ED1-102 …), names it too, as the design promises for every `--building`."""
    name = normalise_key(name)
    async with uow.reading():
        stmt = select(Building, Campus).join(Campus, col(Campus.id) == Building.campus_id)
        rows = [
            BuildingView(b.id or 0, b.name, c.id or 0, c.name)
            for b, c in (await uow.session.execute(stmt)).all()
        ]
        found = [b for b in rows if b.name == name] or [
            b for b in rows if b.name.casefold() == name.casefold()
        ]
        if not found and name:  # a name wins; only then try it as a room-code prefix
            coded = set(await _buildings_with_code(uow, name))
            found = [b for b in rows if b.id in coded]
    if campus is not None:
        wanted = normalise_key(campus).casefold()
        found = [b for b in found if b.campus.casefold() == wanted]
    if not found:
        where = f" in campus {campus!r}" if campus else ""
        raise NotFound(f"no building named or coded {name!r}{where}", name=name)
    if len(found) > 1 and len({b.campus for b in found}) == len(found):
        choices = sorted(b.campus for b in found)
        raise AmbiguousName(
            f"building {name!r} exists in campuses {', '.join(choices)}; name the campus too",
            choices,
        )
    if len(found) > 1:  # a code shared by buildings of one campus: only the name will do
        choices = sorted(f"{b.campus} {b.name}" for b in found)
        raise AmbiguousName(
            f"code {name!r} is used by rooms of {', '.join(choices)}; give the building's name",
            choices,
        )
    return found[0]


async def _buildings_with_code(uow: UnitOfWork, code: str) -> list[int]:
    """Buildings having a room whose code is `code` + "-" + something (any case)."""
    escaped = code.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = (
        select(Room.building_id)
        .where(func.lower(col(Room.code)).like(f"{escaped}-%", escape="\\"))
        .distinct()
    )
    return list((await uow.session.execute(stmt)).scalars())


async def campus_by_name(uow: UnitOfWork, name: str) -> CampusView:
    """The campus called `name` (ignoring case), or NotFound."""
    wanted = normalise_key(name).casefold()
    for campus in await list_campuses(uow):
        if campus.name.casefold() == wanted:
            return campus
    raise NotFound(f"no campus named {name.strip()!r}", name=name)


async def get_room_place(uow: UnitOfWork, room_id: int) -> PlaceView:
    """The room with its building and campus, or NotFound."""
    async with uow.reading():
        return _place_view(await get_place(uow, room_id))


# --- searching: a typed room code or the first letters of a building ---------------------

SEARCH_LIMIT = 200  # matches read at most: more means the person should type more


@dataclass(frozen=True, slots=True)
class PlaceMatches:
    """What a typed place search found: the one room whose code it is (`exact`), else the
    buildings whose name (or rooms' code prefix) starts with it and the rooms whose code
    starts with it, each list in natural order; `more` when a list was cut at the limit."""

    exact: PlaceView | None
    buildings: tuple[BuildingView, ...]
    rooms: tuple[RoomView, ...]
    more: bool = False


def _code_range(prefix: str) -> ColumnElement[bool]:
    """Codes starting with `prefix` as a range over the unique index on room.code (a
    LIKE on lower(code) would read every room); the caller re-checks the prefix, so a
    database collation that orders otherwise can only add rows, which are dropped."""
    return and_(col(Room.code) >= prefix, col(Room.code) < prefix + "\U0010ffff")


async def search_places(uow: UnitOfWork, text: str, *, limit: int = SEARCH_LIMIT) -> PlaceMatches:
    """Rooms and buildings for what a person typed at "where is it?": a room code
    ("E1-103", any case) names that room; otherwise a code prefix ("E1-1") or the first
    letters of a building's name ("E1公", "libr") list the candidates."""
    wanted = " ".join(normalise_key(text).split())
    folded = wanted.casefold()
    if not wanted:
        return PlaceMatches(None, (), ())
    exact = await room_by_code(uow, wanted)
    if exact is not None:
        return PlaceMatches(exact, (), ())
    variants = list(dict.fromkeys([wanted, wanted.upper(), wanted.lower()]))
    async with uow.reading():
        stmt = select(Room).where(or_(*(_code_range(v) for v in variants))).limit(limit + 1)
        rooms = [
            _room_view(r)
            for r in (await uow.session.execute(stmt)).scalars()
            if r.code.casefold().startswith(folded)
        ]
        # A building's short code (the part of its rooms' codes before the dash) names it
        # too: "E1" finds the building of E1-101, E1-102 ...
        coded_stmt = (
            select(Room.building_id)
            .where(or_(*(_code_range(v + "-") for v in variants)))
            .distinct()
            .limit(limit + 1)
        )
        coded = set((await uow.session.execute(coded_stmt)).scalars())
        stmt_b = select(Building, Campus).join(Campus, col(Campus.id) == Building.campus_id)
        buildings = [
            BuildingView(b.id or 0, b.name, c.id or 0, c.name)
            for b, c in (await uow.session.execute(stmt_b)).all()
            if b.id in coded or " ".join(b.name.split()).casefold().startswith(folded)
        ]
    more = len(rooms) > limit or len(buildings) > limit
    buildings.sort(key=lambda b: (natural_key(b.name), natural_key(b.campus)))
    rooms.sort(key=lambda r: natural_key(r.code))
    if len(buildings) == 1 and rooms and all(r.building_id == buildings[0].id for r in rooms):
        # "E1" lists the building, not every one of its rooms.
        rooms = [] if len(rooms) > limit // 8 else rooms
    return PlaceMatches(None, tuple(buildings[:limit]), tuple(rooms[:limit]), more)
