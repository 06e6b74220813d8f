"""The report's typed place search (places.search_places), on both engines: a room code
names its room, a code prefix or a building's first letters list the candidates, and the
rooms are found through the index on room.code, not by reading every room."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from store.directory import places
from store.uow import Store
from tests.support.world import make_places


async def test_a_room_code_names_its_room_in_any_case(store: Store) -> None:
    made = await make_places(store)
    found = await places.search_places(store.uow(), "  e1-201 ")
    assert found.exact == made.room("E1-201")
    assert found.buildings == () and found.rooms == ()


async def test_a_code_prefix_lists_its_rooms_in_natural_order(store: Store) -> None:
    await make_places(store)
    found = await places.search_places(store.uow(), "E1-10")
    assert found.exact is None and found.buildings == ()
    assert [r.code for r in found.rooms] == ["E1-101", "E1-102", "E1-1001"]
    lower = await places.search_places(store.uow(), "w1-1")
    assert [r.code for r in lower.rooms] == ["W1-101"]


async def test_a_buildings_short_code_or_first_letters_name_it(store: Store) -> None:
    await make_places(store)
    by_code = await places.search_places(store.uow(), "E1")
    assert [b.name for b in by_code.buildings] == ["E1公寓"]
    assert [r.code for r in by_code.rooms] == ["E1-101", "E1-102", "E1-201", "E1-1001"]
    by_name = await places.search_places(store.uow(), "圖書")
    assert sorted((b.name, b.campus) for b in by_name.buildings) == [
        ("圖書館", "東校區"),
        ("圖書館", "西校區"),
    ]
    assert by_name.rooms == ()


async def test_nothing_and_blank_find_nothing(store: Store) -> None:
    await make_places(store)
    for typed in ("zebra", "   ", "E1-9", "%", "_1"):
        found = await places.search_places(store.uow(), typed)
        assert (found.exact, found.buildings, found.rooms) == (None, (), ()), typed


async def test_a_long_list_is_cut_at_the_limit_and_says_so(store: Store) -> None:
    rows = [
        ("North", "Tower", str(f), f"{f}{r:02d}", f"T-{f}{r:02d}")
        for f in (1, 2)
        for r in range(30)
    ]
    await make_places(store, rows)
    found = await places.search_places(store.uow(), "T-", limit=40)
    assert len(found.rooms) == 40 and found.more
    assert [r.code for r in found.rooms][:2] == ["T-100", "T-101"]


async def test_rooms_are_found_through_the_code_index(store: Store) -> None:
    """On SQLite, the plan of every statement the search sends about rooms: a search of
    room.code's unique index, never a scan of the room table."""
    await make_places(store)
    if not store.engine.url.drivername.startswith("sqlite"):
        found = await places.search_places(store.uow(), "E1-1")
        assert [r.code for r in found.rooms] == ["E1-101", "E1-102", "E1-1001"]
        return
    sent: list[tuple[str, Any]] = []

    def seen(_c: object, _cur: object, statement: str, params: Any, *_: object) -> None:
        if "FROM room" in statement and "JOIN" not in statement:
            sent.append((statement, params))

    event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await places.search_places(store.uow(), "E1-1")
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", seen)
    assert sent
    async with store.engine.connect() as conn:
        for statement, params in sent:
            raw = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            plan = " / ".join(str(row[-1]) for row in raw.all())
            assert "SCAN room" not in plan, (statement, plan)
            assert "INDEX" in plan, (statement, plan)
