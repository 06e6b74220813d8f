"""The board's list pages in a real Chromium: every building of a supervisor's campus
(with or without open work), search (number, room code, words) and the tickets list with
a filter, its next page and both exports, each compared with the list on the page; a
building supervisor sees only their building in all of them. (The `page` fixture,
tests/support/browser.py, says what it needs.)"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl
import pytest

from bot.board.auth import COOKIE, make_session
from bot.board.server import BoardServer
from store.lifecycle import Role
from store.reporting import board_lists
from tests.support.harness import Harness
from tests.support.rows import ticket_row
from tests.support.world import E1, E2, W1, file_in_room, make_person

if TYPE_CHECKING:
    # Imported for types only: without Playwright the fixture skips instead of failing.
    from playwright.async_api import Page


async def _sign_in(bot: Harness, board: BoardServer, tab: Page, person_id: int) -> str:
    """The session cookie a sign-in link would set, put in the browser; the board's URL."""
    token = bot.settings.telegram.token.get_secret_value()
    base = board.base_url()
    await tab.context.add_cookies(
        [{"name": COOKIE, "value": make_session(person_id, token), "url": f"{base}/board/"}]
    )
    return base


async def _file(bot: Harness, requester: int, code: str, text: str) -> str:
    ticket_id = await file_in_room(bot.store, bot.places, requester, code, description=text)
    return (await ticket_row(bot.store, ticket_id)).number


def _csv(path: Path) -> list[dict[str, str]]:
    """A downloaded CSV's rows (UTF-8 with a BOM, as Excel wants it)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _sheet(path: Path) -> list[tuple[object, ...]]:
    """A downloaded XLSX's "tickets" sheet (saved without the name's extension)."""
    sheet = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), read_only=True)["tickets"]
    return list(sheet.iter_rows(values_only=True))


async def _rows_on_page(tab: Page) -> list[tuple[str, str]]:
    """(number, reported time) of each row of the tickets table shown."""
    rows = tab.locator("table.ticket-list tbody tr")
    out = []
    for i in range(await rows.count()):
        cells = rows.nth(i).locator("td")
        out.append(((await cells.nth(0).inner_text()).strip(), await cells.nth(1).inner_text()))
    return out


async def test_the_buildings_page_lists_every_building_of_the_campus(
    bot: Harness, board: BoardServer, page: Page
) -> None:
    tab = page
    east = bot.places.building(E1)
    sam = await make_person(bot.store, Role.SUPERVISOR, name="Sam", campus_id=east.campus_id)
    rita = await make_person(bot.store, name="Rita")
    await _file(bot, rita.id, "E1-101", "The tap drips all night.")
    await _file(bot, rita.id, "E1-101", "The tap drips again.")
    base = await _sign_in(bot, board, tab, sam.id)

    await tab.goto(f"{base}/board/")
    await tab.get_by_role("link", name="Buildings").click()
    await tab.get_by_role("heading", name="All buildings").wait_for()
    table = tab.locator("table.building-list")
    # E2 has never had a ticket and is listed; the west campus is not Sam's.
    assert await table.get_by_role("link", name=f"東校區 · {E2}").count() == 1
    assert await table.get_by_text(W1).count() == 0
    e1_row = table.locator(f"tr[data-building='{east.id}'] td")
    assert [await e1_row.nth(i).inner_text() for i in (1, 3, 4)] == ["2", "1", "2"]
    await table.get_by_role("link", name=f"東校區 · {E2}").click()
    await tab.get_by_role("heading", name=f"東校區 · {E2}").wait_for()


async def test_search_finds_by_number_room_and_words_in_the_building_only(
    bot: Harness, board: BoardServer, page: Page
) -> None:
    tab = page
    e1 = bot.places.building(E1)
    bea = await make_person(bot.store, Role.SUPERVISOR, name="Bea", buildings=[e1.id])
    rita = await make_person(bot.store, name="Rita")
    mine = await _file(bot, rita.id, "E1-102", "The radiator is cold.")
    other = await _file(bot, rita.id, "E2-101", "The radiator leaks.")
    base = await _sign_in(bot, board, tab, bea.id)

    await tab.goto(f"{base}/board/")
    await tab.get_by_role("link", name="Search").click()
    box = tab.get_by_role("searchbox")
    # Words: only her building's radiator.
    await box.fill("RADIATOR")
    await box.press("Enter")
    await tab.get_by_role("heading", name=re.compile("mentioning")).wait_for()
    assert [n for n, _ in await _rows_on_page(tab)] == [mine]
    # A room code lists the room; another building's room shows nothing.
    await tab.get_by_role("searchbox").fill("e1-102")
    await tab.get_by_role("searchbox").press("Enter")
    await tab.get_by_role("heading", name="Tickets of room E1-102").wait_for()
    assert [n for n, _ in await _rows_on_page(tab)] == [mine]
    await tab.get_by_role("searchbox").fill("E2-101")
    await tab.get_by_role("searchbox").press("Enter")
    await tab.get_by_role("heading", name="Tickets of room E2-101").wait_for()
    assert await tab.get_by_text("Nothing here.").count() == 1
    # Her ticket's number opens it; the other building's number finds nothing.
    await tab.get_by_role("searchbox").fill(mine)
    await tab.get_by_role("searchbox").press("Enter")
    await tab.wait_for_url(re.compile(r".*/board/tickets/\d+$"))
    await tab.get_by_text("The radiator is cold.").wait_for()
    await tab.goto(f"{base}/board/search?q={other}")
    assert await tab.get_by_text("The radiator leaks.").count() == 0
    assert await _rows_on_page(tab) == []


async def test_the_tickets_list_filters_pages_and_exports_what_it_shows(
    bot: Harness, board: BoardServer, page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    tab = page
    monkeypatch.setattr(board_lists, "PAGE", 2)
    east = bot.places.building(E1)
    sam = await make_person(bot.store, Role.SUPERVISOR, name="Sam", campus_id=east.campus_id)
    bea = await make_person(bot.store, Role.SUPERVISOR, name="Bea", buildings=[east.id])
    rita = await make_person(bot.store, name="Rita")
    e1 = [await _file(bot, rita.id, "E1-101", f"Lamp {n} is out.") for n in range(3)]
    e2 = await _file(bot, rita.id, "E2-101", "The door sticks.")
    west = await _file(bot, rita.id, "W1-101", "Broken window.")
    base = await _sign_in(bot, board, tab, sam.id)

    await tab.goto(f"{base}/board/")
    await tab.get_by_role("link", name="Tickets").click()
    await tab.get_by_role("heading", name="Tickets").wait_for()
    await tab.get_by_label("Building").select_option(label=f"東校區 · {E1}")
    await tab.get_by_role("button", name="Show").click()
    await tab.wait_for_url(re.compile(rf".*building={east.id}.*"))
    shown = await _rows_on_page(tab)
    assert [n for n, _ in shown] == [e1[2], e1[1]]  # newest first, a page of two
    await tab.get_by_role("link", name="Older →").click()
    await tab.wait_for_url(re.compile(r".*after=.*"))
    shown += await _rows_on_page(tab)
    assert [n for n, _ in shown] == e1[::-1]
    assert await tab.get_by_role("link", name="Older →").count() == 0
    # The next page kept the filter; both exports hold exactly the filtered list, with
    # the times the page shows (campus time).
    async with tab.expect_download() as csv_download:
        await tab.get_by_role("link", name="Export CSV").click()
    from_csv = [
        (r["number"], r["created_at"]) for r in _csv(await (await csv_download.value).path())
    ]
    assert sorted(from_csv) == sorted(shown)
    async with tab.expect_download() as xlsx_download:
        await tab.get_by_role("link", name="Export XLSX").click()
    download = await xlsx_download.value
    assert download.suggested_filename.endswith(".xlsx")
    cells = _sheet(await download.path())
    header = list(cells[0])
    at = header.index("created_at")
    from_xlsx = [(str(r[0]), f"{r[at]:%Y-%m-%d %H:%M}") for r in cells[1:]]
    assert sorted(from_xlsx) == sorted(shown)
    assert e2 not in {n for n, _ in from_xlsx} and "phone" not in header

    # A building supervisor: only her building, in the list, in search and in the export.
    await tab.context.clear_cookies()
    await _sign_in(bot, board, tab, bea.id)
    await tab.goto(f"{base}/board/tickets")
    numbers = [n for n, _ in await _rows_on_page(tab)]
    await tab.get_by_role("link", name="Older →").click()
    await tab.wait_for_url(re.compile(r".*after=.*"))
    numbers += [n for n, _ in await _rows_on_page(tab)]
    assert sorted(numbers) == sorted(e1)
    await tab.goto(f"{base}/board/search?q=door")
    assert await _rows_on_page(tab) == []
    await tab.goto(f"{base}/board/tickets")
    async with tab.expect_download() as bea_download:
        await tab.get_by_role("link", name="Export CSV").click()
    exported = {r["number"] for r in _csv(await (await bea_download.value).path())}
    assert exported == set(e1) and e2 not in exported and west not in exported
    # Another building's id in the address bar is refused like a missing one.
    response = await tab.goto(f"{base}/board/tickets?building={bot.places.building(E2).id}")
    assert response is not None and response.status == 400
    assert await tab.get_by_text("is not one of your buildings").count() == 1
    assert await tab.get_by_text("The door sticks.").count() == 0
