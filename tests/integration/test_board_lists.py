"""The office board's list pages: every building in scope, the tickets list (filters,
keyset pages, export) and search; scope enforced on each, bad filters answered in words.

Real aiohttp server and client, real SQLite and PostgreSQL, the ticket world of
tests/support/world.py: North (Buildings A and B) is Sam's and Dana's, South (Building C)
is nobody's but Ada's.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import openpyxl
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.board.auth import COOKIE, make_session
from bot.board.server import BoardServer
from bot.settings import Settings
from store.lifecycle import Role
from store.repair import dispatch, requester, work
from store.reporting import board_lists, summaries
from store.uow import Store
from tests.support.world import Env, file_ticket, make_env, make_person


def _token() -> str:
    """A token in Telegram's shape, made up for this run."""
    return f"{secrets.randbelow(10**9) + 10**9}:FAKE-test-secret-{secrets.token_urlsafe(16)}"


@dataclass
class Lists:
    env: Env
    client: TestClient[Any, Any]
    token: str
    a1: int  # open, accepted by Tom, Building A
    a2: int  # completed and rated 2 by Rita, Building A
    c1: int  # open, Building C (South)

    def as_(self, person_id: int) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={make_session(person_id, self.token)}"}

    async def get(self, path: str, person_id: int, *, redirects: bool = True) -> Any:
        response = await self.client.get(
            path, headers=self.as_(person_id), allow_redirects=redirects
        )
        body = await response.read()
        if response.content_type.endswith("json"):
            return response.status, json.loads(body)
        if response.content_type.startswith("text/"):
            return response.status, body.decode("utf-8-sig")
        return response.status, body

    async def numbers(self, path: str, person_id: int) -> list[str]:
        status, data = await self.get(path, person_id)
        assert status == 200, data
        return [item["number"] for item in data["items"]]


@pytest_asyncio.fixture
async def lists(store: Store) -> AsyncIterator[Lists]:
    env = await make_env(store)
    w = env.world
    a1 = (await file_ticket(env.store, w, room=w.room_a1)).ticket.id
    await dispatch.accept(env.store.uow(), a1, w.tom)
    env.clock.advance(minutes=5)
    a2 = (
        await file_ticket(env.store, w, room=w.room_a2, description="Socket sparks when used.")
    ).ticket.id
    await dispatch.accept(env.store.uow(), a2, w.tom)
    await work.start(env.store.uow(), a2, w.tom)
    env.clock.advance(hours=2)
    await work.complete(env.store.uow(), a2, w.tom)
    await requester.confirm_and_rate(env.store.uow(), a2, w.requester, 2)
    env.clock.advance(minutes=5)
    c1 = (
        await file_ticket(
            env.store, w, room=w.room_c1, category="electrical", description="South sparks."
        )
    ).ticket.id
    token = _token()
    settings = Settings.model_validate({"telegram": {"token": token}})
    async with TestClient(TestServer(BoardServer(settings, env.store).app())) as client:
        yield Lists(env, client, token, a1, a2, c1)


async def _number(env: Env, ticket_id: int) -> str:
    from tests.support.rows import ticket_row

    return (await ticket_row(env.store, ticket_id)).number


# --- buildings -----------------------------------------------------------------------------


async def test_the_buildings_page_lists_every_building_in_scope_with_its_figures(
    lists: Lists,
) -> None:
    w = lists.env.world
    status, rows = await lists.get("/board/api/buildings", w.sam)
    assert status == 200
    by_name = {r["name"]: r for r in rows}
    # Building B has nothing open and is listed all the same; South's C is not Sam's.
    assert set(by_name) == {"Building A", "Building B"}
    assert by_name["Building B"]["open"] == 0 and by_name["Building B"]["reported_30d"] == 0
    a = by_name["Building A"]
    assert (a["open"], a["reported_30d"], a["overdue"]) == (1, 2, 0)
    assert a["median_completion_30d"] == timedelta(hours=2).total_seconds()
    # Each row links to the building's own page; the admin sees South too.
    _status, page = await lists.get("/board/buildings", w.sam)
    assert f'href="/board/buildings/{w.building_b}"' in page
    assert f'href="/board/buildings/{w.building_c}"' not in page
    _status, every = await lists.get("/board/api/buildings", w.ada)
    assert {r["name"] for r in every} == {"Building A", "Building B", "Building C"}
    # A technician has no office pages.
    assert (await lists.get("/board/api/buildings", w.tom))[0] == 403


async def test_the_buildings_figures_read_from_day_summaries_say_what_the_rows_said(
    lists: Lists,
) -> None:
    """Closed tickets rolled up into day summaries: the 30-day figures are unchanged once
    the days are whole days the summaries answer."""
    w, env = lists.env.world, lists.env
    env.clock.advance(days=2)
    _status, before = await lists.get("/board/api/buildings", w.sam)
    # Rolled up: the rated ticket is closed, hence summarized.
    while (await summaries.summarize_batch(env.store.uow())).last_id is not None:
        pass
    assert await summaries.pending(env.store.uow()) == 0
    _status, after = await lists.get("/board/api/buildings", w.sam)
    assert after == before
    a = next(r for r in after if r["name"] == "Building A")
    assert a["reported_30d"] == 2 and a["median_completion_30d"] == 7200
    # A hot room needs two faults in 90 days: one more in A-101 makes it one.
    assert a["hot_rooms"] == 0
    await file_ticket(env.store, w, room=w.room_a1)
    _status, now = await lists.get("/board/api/buildings", w.sam)
    assert next(r for r in now if r["name"] == "Building A")["hot_rooms"] == 1


# --- the tickets list ------------------------------------------------------------------------


async def test_the_tickets_list_filters_and_keeps_closed_tickets(lists: Lists) -> None:
    w, env = lists.env.world, lists.env
    a1, a2, c1 = [await _number(env, t) for t in (lists.a1, lists.a2, lists.c1)]
    assert await lists.numbers("/board/api/tickets", w.sam) == [a2, a1]  # newest first
    assert await lists.numbers("/board/api/tickets", w.ada) == [c1, a2, a1]
    assert await lists.numbers("/board/api/tickets?status=closed", w.sam) == [a2]
    assert await lists.numbers("/board/api/tickets?rating=2", w.sam) == [a2]
    assert await lists.numbers(f"/board/api/tickets?technician={w.tom}", w.sam) == [a2, a1]
    assert await lists.numbers(f"/board/api/tickets?building={w.building_b}", w.sam) == []
    assert await lists.numbers("/board/api/tickets?category=electrical", w.ada) == [c1]
    # A range of days before anything was filed.
    assert await lists.numbers("/board/api/tickets?from=2031-01-01&to=2031-01-31", w.sam) == []
    # The page keeps the filters in its links (export included) and shows campus time:
    # T0 is 09:00 UTC, 17:00 in Asia/Shanghai.
    status, page = await lists.get("/board/tickets?status=closed", w.sam)
    assert status == 200 and a2 in page and a1 not in page
    assert "status=closed" in page.split("Export CSV")[0]
    # The links name the days shown (the last 30, campus time), not "the default".
    assert "/board/export/tickets.csv?from=2031-02-03&amp;to=2031-03-04&amp;status=closed" in page
    assert "2031-03-04 17:0" in page and "2031-03-04 09:0" not in page


async def test_the_tickets_list_pages_by_cursor_both_ways(
    lists: Lists, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, env = lists.env.world, lists.env
    for n in range(3):
        env.clock.advance(minutes=1)
        await file_ticket(env.store, w, room=w.room_b1, description=f"Lamp {n} is out.")
    monkeypatch.setattr(board_lists, "PAGE", 2)
    everything = await lists.numbers("/board/api/tickets", w.sam)
    assert len(everything) == 2
    seen: list[str] = []
    path = "/board/api/tickets"
    pages = []
    while True:
        _status, data = await lists.get(path, w.sam)
        pages.append(data)
        seen += [item["number"] for item in data["items"]]
        if data["next"] is None:
            break
        path = f"/board/api/tickets?after={data['next']}"
    assert len(seen) == 5 == len(set(seen)) and len(pages) == 3
    # Back from the last page: the page before it again.
    _status, back = await lists.get(f"/board/api/tickets?before={pages[2]['prev']}", w.sam)
    assert [i["number"] for i in back["items"]] == [i["number"] for i in pages[1]["items"]]
    assert back["prev"] is not None and back["next"] is not None
    _status, first = await lists.get(f"/board/api/tickets?before={back['prev']}", w.sam)
    assert [i["number"] for i in first["items"]] == seen[:2] and first["prev"] is None
    # The HTML page links to the next page with the filters kept.
    _status, page = await lists.get(f"/board/tickets?building={w.building_b}", w.sam)
    assert f"building={w.building_b}&amp;after=" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("building=abc", "Building: “abc” is not one of your buildings"),
        ("building=99999999", "Building: “99999999” is not one of your buildings"),
        ("campus=-1", "Campus: “-1” is not one of your buildings"),
        ("technician=1e3", "Technician: “1e3” is not one of your buildings"),
        ("category=plumbing", "Category: “plumbing” is not one of your buildings"),
        ("status=lost", "Unknown status “lost”"),
        ("rating=9", "Rating “9” is not 1 to 5"),
        ("from=2031-02-30", "From: “2031-02-30” is not a date"),
        ("to=yesterday", "To: “yesterday” is not a date"),
        ("from=0001-01-01", "From: “0001-01-01” is not a date"),
        ("from=2031-03-04&to=2031-03-01", "The start date is after the end date"),
        ("from=2020-01-01&to=2031-03-04", "A list covers at most 366 days"),
        ("after=12.x", "That page link is damaged"),
        ("before=" + "9" * 60, "That page link is damaged"),
        ("after=999999999999999999.1", "That page link is damaged"),
        ("after=1.99999999999999999999", "That page link is damaged"),
        ("after=%C2%B2.1", "That page link is damaged"),
        ("building=%C2%B2", "Building: “²” is not one of your buildings"),
    ],
)
async def test_a_bad_filter_gets_a_message_and_no_list(
    lists: Lists, query: str, message: str
) -> None:
    w = lists.env.world
    status, page = await lists.get(f"/board/tickets?{query}", w.sam)
    assert status == 400 and message in page, page
    assert '<table class="ticket-list"' not in page
    # The JSON twin and the export refuse it too, in words, never a server error.
    status, text = await lists.get(f"/board/api/tickets?{query}", w.sam)
    assert status == 400 and message in text
    status, page = await lists.get(f"/board/export/tickets.csv?{query}", w.sam)
    assert status == 400 and message in page


async def test_another_campus_is_like_a_missing_one_in_every_filter(lists: Lists) -> None:
    w, env = lists.env.world, lists.env
    carl = await make_person(
        env.store, Role.TECHNICIAN, name="Carl", buildings=[w.building_c], on_duty=True
    )
    await dispatch.accept(env.store.uow(), lists.c1, carl.id)
    south_building = await lists.get(f"/board/tickets?building={w.building_c}", w.sam)
    missing_building = await lists.get("/board/tickets?building=4242", w.sam)
    assert south_building[0] == missing_building[0] == 400
    assert "South sparks" not in south_building[1]
    # South's technician: not offered, and asking for him by id shows nothing of South.
    assert "Carl" not in (await lists.get("/board/tickets", w.sam))[1]
    status, page = await lists.get(f"/board/tickets?technician={carl.id}", w.sam)
    assert status == 400 and "South" not in page and "Technician:" in page
    # The admin may filter by him.
    c1 = await _number(env, lists.c1)
    assert await lists.numbers(f"/board/api/tickets?technician={carl.id}", w.ada) == [c1]


# --- export ----------------------------------------------------------------------------------


async def test_the_export_holds_exactly_the_filtered_list(lists: Lists) -> None:
    w, env = lists.env.world, lists.env
    listed = await lists.numbers(f"/board/api/tickets?technician={w.tom}", w.sam)
    status, body = await lists.get(f"/board/export/tickets.csv?technician={w.tom}", w.sam)
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body)))
    assert sorted(r["number"] for r in rows) == sorted(listed)
    assert "phone" not in rows[0]
    # Created_at in campus time (17:00 in Shanghai for 09:00 UTC).
    assert rows[0]["created_at"].startswith("2031-03-04 17:0")
    status, data = await lists.get(f"/board/export/tickets.xlsx?technician={w.tom}", w.sam)
    assert status == 200
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True)["tickets"]
    cells = list(sheet.iter_rows(values_only=True))
    assert sorted(str(r[0]) for r in cells[1:]) == sorted(listed) and "phone" not in cells[0]
    # Scope: Sam's unfiltered export has no South ticket, the admin's has.
    _status, mine = await lists.get("/board/export/tickets.csv", w.sam)
    _status, every = await lists.get("/board/export/tickets.csv", w.ada)
    c1 = await _number(env, lists.c1)
    assert c1 not in mine and c1 in every
    assert (await lists.get("/board/export/tickets.csv", w.tom))[0] == 403


async def test_phones_in_the_board_export_follow_the_chat_rule(lists: Lists) -> None:
    w = lists.env.world
    # A supervisor cannot have them (as /export --with-phones): refused, nothing sent.
    status, page = await lists.get("/board/export/tickets.xlsx?phones=1", w.sam)
    assert status == 403 and "Phone numbers in an export are for admins only" in page
    _status, page = await lists.get("/board/tickets", w.sam)
    assert "phones=1" not in page
    # An admin can, and is offered the link.
    _status, page = await lists.get("/board/tickets", w.ada)
    assert "phones=1" in page
    status, data = await lists.get("/board/export/tickets.xlsx?phones=1", w.ada)
    assert status == 200
    cells = list(
        openpyxl.load_workbook(io.BytesIO(data), read_only=True)["tickets"].iter_rows(
            values_only=True
        )
    )
    assert cells[0][-1] == "phone" and any(row[-1] for row in cells[1:])


# --- search ----------------------------------------------------------------------------------


async def test_search_by_number_room_and_words_within_scope(lists: Lists) -> None:
    w, env = lists.env.world, lists.env
    a1, a2, c1 = [await _number(env, t) for t in (lists.a1, lists.a2, lists.c1)]
    # An exact number jumps to the ticket.
    response = await lists.client.get(
        f"/board/search?q={a2}", headers=lists.as_(w.sam), allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == f"/board/tickets/{lists.a2}"
    _status, found = await lists.get(f"/board/api/search?q=%23{a1}", w.sam)
    assert found["ticket_id"] == lists.a1
    # Another campus's number: found nowhere, as an unknown one.
    status, other = await lists.get(f"/board/api/search?q={c1}", w.sam)
    assert status == 200 and other["ticket_id"] is None and other["items"] == []
    status, page = await lists.get(f"/board/search?q={c1}", w.sam)
    assert status == 200 and "South sparks" not in page
    # A room code (any case): that room's tickets.
    _status, room = await lists.get("/board/api/search?q=a-102", w.sam)
    assert room["room_code"] == "A-102" and [i["number"] for i in room["items"]] == [a2]
    _status, south_room = await lists.get("/board/api/search?q=C-301", w.sam)
    assert south_room["items"] == []
    # Words in descriptions, any case, within scope only.
    _status, words = await lists.get("/board/api/search?q=SPARKS", w.sam)
    assert [i["number"] for i in words["items"]] == [a2]
    _status, words = await lists.get("/board/api/search?q=sparks", w.ada)
    assert [i["number"] for i in words["items"]] == [c1, a2]
    # LIKE's wildcards are plain characters.
    _status, none = await lists.get("/board/api/search?q=%25%25", w.ada)
    assert none["items"] == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("q=" + "x" * 101, "Search for at most 100 characters"),
        ("q=x", "Type at least 2 characters"),
        ("q=tap&from=2031-03-09&to=2031-03-01", "The start date is after the end date"),
        ("q=tap&after=zz", "That page link is damaged"),
    ],
)
async def test_a_bad_search_gets_a_message(lists: Lists, query: str, message: str) -> None:
    status, page = await lists.get(f"/board/search?{query}", lists.env.world.sam)
    assert status == 400 and message in page


@pytest.mark.parametrize("query", ["%00", "%00sparks%00", "%ED%A0%80", "%FF%FE", "%25", "_"])
async def test_odd_characters_in_a_search_find_nothing_and_break_nothing(
    lists: Lists, query: str
) -> None:
    w = lists.env.world
    status, page = await lists.get(f"/board/search?q={query}", w.sam)
    assert status in (200, 400) and "Search" in page
    status, data = await lists.get(f"/board/api/search?q={query}", w.sam)
    assert status in (200, 400)
    if status == 200 and "sparks" not in query:
        assert data["items"] == []


async def test_a_technician_lists_only_their_own_jobs_and_has_no_office_pages(
    lists: Lists,
) -> None:
    w, env = lists.env.world, lists.env
    a1, a2 = [await _number(env, t) for t in (lists.a1, lists.a2)]
    assert await lists.numbers("/board/api/tickets", w.tom) == [a2, a1]
    assert await lists.numbers("/board/api/tickets", w.bob) == []  # Building B's technician
    status, page = await lists.get("/board/tickets", w.tom)
    assert status == 200 and a1 in page and "Export CSV" not in page
    assert 'href="/board/buildings"' not in page  # no office navigation
    assert (await lists.get("/board/buildings", w.tom))[0] == 403
    _status, found = await lists.get(f"/board/api/search?q={a1}", w.tom)
    assert found["ticket_id"] == lists.a1
    _status, found = await lists.get(f"/board/api/search?q={a1}", w.bob)
    assert found["ticket_id"] is None and found["items"] == []
