"""Locations import, browsing for the report flow, and category sync, on both engines."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import event

from store.db import create_engine
from store.directory import categories, places
from store.directory.location_csv import parse_locations_csv
from store.directory.places import import_locations
from store.domain.ticket_views import ticket_view
from store.errors import AmbiguousName, LocationImportError, NotFound
from store.policy import Policy
from store.uow import Store
from tests.support.world import (
    DEFAULT_LOCATIONS,
    file_in_room,
    location_rows,
    make_categories,
    make_person,
    make_places,
)

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "campus.csv"
HEADER = "campus,building,floor,room,code\n"


# --- parsing (pure) -------------------------------------------------------------------------


def test_parse_accepts_bom_chinese_names_and_trims_whitespace() -> None:
    text = (
        "\ufeff"
        + HEADER
        + " 東校區 , E1公寓 ,1, 101 ,E1-101\r\n\r\n西校區,圖書館,B1,大廳,WLIB-B1\n"
    )
    rows = parse_locations_csv(text)
    assert [(r.campus, r.building, r.floor, r.room, r.code, r.line) for r in rows] == [
        ("東校區", "E1公寓", "1", "101", "E1-101", 2),
        ("西校區", "圖書館", "B1", "大廳", "WLIB-B1", 4),
    ]


def test_parse_accepts_columns_in_any_order() -> None:
    rows = parse_locations_csv("code,room,floor,building,campus\nX-1,1,1,B,C\n")
    assert rows[0].code == "X-1" and rows[0].campus == "C"


def test_parse_reports_every_bad_row_with_its_line_number() -> None:
    text = (
        HEADER
        + "東校區,E1公寓,1,101,E1-101\n"  # line 2: fine
        + "東校區,E1公寓,1,102\n"  # 3: a column missing
        + "東校區,,1,103,E1-103\n"  # 4: empty building
        + f"東校區,E1公寓,1,{'9' * 101},E1-104\n"  # 5: room name over 100 characters
        + "東校區,E1公寓,1,101,E1-101\n"  # 6: the same row twice
        + "東校區,E1公寓,2,201,E1-101\n"  # 7: same code, different room
        + f"東校區,E1公寓,1,105,{'C' * 41}\n"  # 8: code over 40 characters
        + f"東校區,E1公寓,1,106,{'碼' * 20}\n"  # 9: too long once encoded for a link
    )
    with pytest.raises(LocationImportError) as caught:
        parse_locations_csv(text)
    errors = dict(caught.value.errors)
    assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9]
    assert "expected 5 columns, got 4" in errors[3]
    assert "empty building" in errors[4]
    assert "room" in errors[5] and "100" in errors[5]
    assert "duplicate code E1-101" in errors[6] and "line 2" in errors[6]
    assert "E1-101" in errors[7] and "different" in errors[7]
    assert "code" in errors[8] and "40" in errors[8]
    assert "too long for a QR deep link" in errors[9]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("東校區,E1公寓,1,101,E1-101\n", "header"),
        ("campus,building,floor,room\nA,B,1,1\n", "missing code"),
    ],
)
def test_parse_refuses_a_file_without_a_proper_header(text: str, fragment: str) -> None:
    with pytest.raises(LocationImportError) as caught:
        parse_locations_csv(text)
    assert caught.value.errors[0][0] == 1
    assert fragment in caught.value.errors[0][1]


# --- importing ------------------------------------------------------------------------------


async def test_import_creates_then_second_import_changes_nothing(store: Store) -> None:
    rows = parse_locations_csv(
        HEADER + "東校區,E1公寓,1,101,E1-101\n東校區,E1公寓,1,102,E1-102\n"
        "西校區,W1公寓,1,101,W1-101\n"
    )
    first = await import_locations(store.uow(), rows)
    assert first == places.ImportResult(2, 2, 3, 0, 0)
    second = await import_locations(store.uow(), rows)
    assert second == places.ImportResult(0, 0, 0, 0, 3)
    assert len(await places.list_campuses(store.uow())) == 2


async def test_import_renames_a_room_in_place_without_asking(store: Store) -> None:
    await make_places(store)
    renamed = location_rows([("東校區", "E1公寓", "1", "101室", "E1-101")])
    result = await import_locations(store.uow(), renamed)
    assert (result.rooms_updated, result.moves) == (1, ())
    place = await places.room_by_code(store.uow(), "E1-101")
    assert place is not None and place.room == "101室"


@pytest.mark.parametrize(
    ("campus", "building", "floor"),
    [("西校區", "W1公寓", "1"), ("東校區", "E2公寓", "1"), ("東校區", "E1公寓", "3")],
)
async def test_import_refuses_a_code_that_would_move_a_room_and_changes_nothing(
    store: Store, campus: str, building: str, floor: str
) -> None:
    await make_places(store)
    rows = location_rows(
        [
            ("北校區", "N1公寓", "1", "101", "N1-101"),  # new: not created either
            (campus, building, floor, "101", "E1-101"),  # line 3
        ]
    )
    with pytest.raises(LocationImportError) as refused:
        await import_locations(store.uow(), rows)
    assert refused.value.errors == [
        (
            3,
            f"would move room E1-101: 東校區 / E1公寓 floor 1 -> {campus} / {building} "
            f"floor {floor}",
        )
    ]
    place = await places.room_by_code(store.uow(), "E1-101")
    assert place is not None and (place.campus, place.building, place.floor) == (
        "東校區",
        "E1公寓",
        "1",
    )
    assert await places.room_by_code(store.uow(), "N1-101") is None
    assert "北校區" not in [c.name for c in await places.list_campuses(store.uow())]


async def test_import_with_move_moves_the_room_and_its_tickets_follow(store: Store) -> None:
    await make_categories(store)
    requester = await make_person(store)
    where = await make_places(store)
    ticket_id = await file_in_room(store, where, requester.id, "E1-101")
    moved = location_rows([("西校區", "W1公寓", "3", "301", "E1-101")])
    result = await import_locations(store.uow(), moved, move=True)
    assert (result.rooms_updated, result.rooms_created, result.buildings_created) == (1, 0, 0)
    assert [m.describe() for m in result.moves] == [
        "E1-101: 東校區 / E1公寓 floor 1 -> 西校區 / W1公寓 floor 3"
    ]
    place = await places.room_by_code(store.uow(), "E1-101")
    assert place is not None
    assert (place.campus, place.building, place.floor, place.room) == (
        "西校區",
        "W1公寓",
        "3",
        "301",
    )
    async with store.uow() as uow:
        ticket = await ticket_view(uow, ticket_id)
    assert (ticket.room_code, ticket.building) == ("E1-101", "W1公寓")


async def test_import_sample_campus(store: Store) -> None:
    rows = parse_locations_csv(SAMPLE.read_text(encoding="utf-8"))
    assert len(rows) == 3032
    result = await import_locations(store.uow(), rows)
    assert result == places.ImportResult(2, 32, 3032, 0, 0)
    again = await import_locations(store.uow(), rows)
    assert again == places.ImportResult(0, 0, 0, 0, 3032)
    e1 = await places.building_by_name(store.uow(), "E1公寓")
    assert await places.list_floors(store.uow(), e1.id) == ["1", "2", "3", "4", "5", "6"]


# --- browsing -------------------------------------------------------------------------------


async def test_browse_campus_building_floor_room(store: Store) -> None:
    made = await make_places(store)
    campuses = await places.list_campuses(store.uow())
    assert [c.name for c in campuses] == ["東校區", "西校區"]
    east = campuses[0]
    names = [b.name for b in await places.list_buildings(store.uow(), east.id)]
    assert names == ["E1公寓", "E2公寓", "圖書館"]
    e1 = made.building("E1公寓")
    assert await places.list_floors(store.uow(), e1.id) == ["1", "2", "10"]
    rooms, total = await places.list_rooms(store.uow(), e1.id, "1", offset=0, limit=1)
    assert ([r.code for r in rooms], total) == (["E1-101"], 2)
    rooms, total = await places.list_rooms(store.uow(), e1.id, "1", offset=1, limit=1)
    assert ([r.code for r in rooms], total) == (["E1-102"], 2)
    everything, total = await places.list_rooms(store.uow(), e1.id, None, offset=0, limit=10)
    assert [r.code for r in everything] == ["E1-101", "E1-102", "E1-201", "E1-1001"]


async def test_room_by_code_and_find_room(store: Store) -> None:
    made = await make_places(store)
    assert await places.room_by_code(store.uow(), "nope") is None
    exact = await places.room_by_code(store.uow(), "E1-101")
    assert exact is not None and exact.building == "E1公寓"
    assert await places.room_by_code(store.uow(), " e1-101 ") == exact
    e1, lib = made.building("E1公寓"), made.building("圖書館", "東校區")
    found = await places.find_room(store.uow(), e1.id, "102")
    assert found is not None and found.code == "E1-102"
    assert await places.find_room(store.uow(), e1.id, "e1-201") == made.room("E1-201")
    assert await places.find_room(store.uow(), lib.id, "1f大廳") == made.room("ELIB-1-H")
    # A room of another building is not "in" this one, even by its full code.
    assert await places.find_room(store.uow(), e1.id, "E2-101") is None
    assert await places.find_room(store.uow(), e1.id, "999") is None
    place = await places.get_room_place(store.uow(), exact.room_id)
    assert place == exact
    with pytest.raises(NotFound):
        await places.get_room_place(store.uow(), 999_999)


async def test_building_by_name_needs_the_campus_when_ambiguous(store: Store) -> None:
    await make_places(store)
    unique = await places.building_by_name(store.uow(), "W1公寓")
    assert (unique.name, unique.campus) == ("W1公寓", "西校區")
    with pytest.raises(AmbiguousName) as caught:
        await places.building_by_name(store.uow(), "圖書館")
    assert caught.value.choices == ["東校區", "西校區"]
    assert "東校區" in str(caught.value) and "西校區" in str(caught.value)
    qualified = await places.building_by_name(store.uow(), "圖書館", campus="西校區")
    assert qualified.campus == "西校區"
    with pytest.raises(NotFound):
        await places.building_by_name(store.uow(), "E9公寓")


async def test_a_building_is_also_named_by_its_rooms_code_prefix(store: Store) -> None:
    await make_places(
        store,
        [
            *DEFAULT_LOCATIONS,
            ("東校區", "E3公寓", "1", "101", "X_1-101"),
            ("東校區", "E4公寓", "1", "101", "XA1-101"),
            ("東校區", "E5公寓", "1", "101", "SHARED-101"),
            ("東校區", "E6公寓", "1", "101", "SHARED-102"),
        ],
    )
    for code in ("E1", "e1", " E1 "):  # E1-101, E1-1001 … ; not E2-101
        assert (await places.building_by_name(store.uow(), code)).name == "E1公寓"
    lib = await places.building_by_name(store.uow(), "WLIB")  # WLIB-1-H: up to the first dash
    assert (lib.name, lib.campus) == ("圖書館", "西校區")
    # "_" is a literal in a code, not LIKE's any-character: X_1 is E3 only, never XA1's E4.
    assert (await places.building_by_name(store.uow(), "X_1")).name == "E3公寓"
    assert (await places.building_by_name(store.uow(), "XA1")).name == "E4公寓"
    with pytest.raises(AmbiguousName) as caught:
        await places.building_by_name(store.uow(), "SHARED")
    assert caught.value.choices == ["東校區 E5公寓", "東校區 E6公寓"]
    for nothing in ("E", "E1-1", "%", ""):  # a prefix must end at a dash; no wildcards
        with pytest.raises(NotFound):
            await places.building_by_name(store.uow(), nothing)
    # A name wins over a code: a building literally called "E1" is that building.
    await make_places(store, [("東校區", "E1", "1", "1", "Z-1")])
    assert (await places.building_by_name(store.uow(), "E1")).name == "E1"


# --- categories -----------------------------------------------------------------------------


async def test_sync_categories_orders_updates_and_retires(store: Store) -> None:
    created = await categories.sync_categories(store.uow(), Policy())
    expected = ["water", "electrical", "hvac", "furniture", "doors_locks", "network", "other"]
    assert [c.key for c in created] == expected
    assert await categories.sync_categories(store.uow(), Policy()) == created  # idempotent

    trimmed = dict(Policy().categories)
    del trimmed["network"]
    water = dataclasses.replace(trimmed["water"], accept=trimmed["water"].accept * 2)
    trimmed["water"] = water
    await categories.sync_categories(store.uow(), Policy(categories=trimmed))
    active = await categories.list_categories(store.uow())
    assert "network" not in [c.key for c in active]
    assert await categories.category_by_key(store.uow(), "network") is None
    by_key = await categories.category_by_key(store.uow(), "water")
    assert by_key is not None and by_key.accept_minutes == 60

    await categories.sync_categories(store.uow(), Policy())  # configured again: active again
    network = await categories.category_by_key(store.uow(), "network")
    assert network is not None and network.id == created[5].id


async def test_the_categories_are_kept_in_memory_and_another_instances_change_shows_in_time(
    store: Store, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every report shows the categories; they change only when an instance starts with
    # other settings. This process keeps them; another instance's change shows once the
    # kept copy is older than CATEGORIES_FRESH_SECONDS.
    await categories.sync_categories(store.uow(), Policy())
    statements: list[str] = []
    event.listen(
        store.engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_: statements.append(sql),
    )
    assert "network" in [c.key for c in await categories.list_categories(store.uow())]
    assert statements == []  # kept since the sync, nothing read
    trimmed = dict(Policy().categories)
    del trimmed["network"]
    other = Store(create_engine(db_url))  # another instance on the same database
    try:
        await categories.sync_categories(other.uow(), Policy(categories=trimmed))
        assert "network" not in [c.key for c in await categories.list_categories(other.uow())]
    finally:
        await other.dispose()
    assert "network" in [c.key for c in await categories.list_categories(store.uow())]
    monkeypatch.setattr(categories, "CATEGORIES_FRESH_SECONDS", 0.0)  # the copy has aged
    assert "network" not in [c.key for c in await categories.list_categories(store.uow())]
    assert len(statements) == 1
