"""The office board in a real Chromium: a one-time link from /board signs a supervisor in;
the overview, a building and a ticket (with its photo) show; another campus's ticket is
refused by URL. (The `page` fixture, tests/support/browser.py, says what it needs.)"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.board.server import BoardServer
from store.lifecycle import Role
from tests.support.chats import started
from tests.support.harness import Harness
from tests.support.report_steps import file_report_with_photo
from tests.support.rows import ticket_by_number
from tests.support.world import make_person

if TYPE_CHECKING:
    # Imported for types only: without Playwright the fixture skips instead of failing.
    from playwright.async_api import Page


async def test_a_supervisor_signs_in_with_a_link_and_reads_the_board(
    bot: Harness, board: BoardServer, page: Page
) -> None:
    tab = page
    east = bot.places.building("E1公寓")
    sam = await make_person(
        bot.store, Role.SUPERVISOR, name="Sam", telegram_id=5001, campus_id=east.campus_id
    )
    alice = await started(bot, 1001, "Alice")
    here = await file_report_with_photo(alice, description="The tap drips all night.")
    wei = await started(bot, 1002, "Wei")
    there = await file_report_with_photo(wei, code="W1-101", description="Broken window.")
    west_ticket = (await ticket_by_number(bot.store, there)).id

    user = bot.sandbox.user(5001, "Sam", language_code="en")
    await user.command("board")
    message = await user.expect(text_contains="sign-in link")
    link = re.search(r"http://\S+/board/signin\?token=\S+", message.body)
    assert link is not None and sam.id

    await tab.goto(link.group())
    await tab.wait_for_url(re.compile(r".*/board/$"))
    await tab.get_by_role("heading", name="Open by building").wait_for()
    assert await tab.get_by_text("Broken window").count() == 0
    await tab.get_by_role("link", name="E1公寓").click()
    await tab.get_by_role("heading", name="東校區 · E1公寓").wait_for()
    await tab.get_by_role("link", name=re.compile(here)).click()
    await tab.get_by_role("heading", name=re.compile(here)).wait_for()
    assert await tab.get_by_text("The tap drips all night.").count() == 1
    photo = tab.locator("img[alt=photo]").first
    await photo.wait_for()
    await tab.wait_for_function(
        "() => [...document.images].every((img) => img.complete && img.naturalWidth > 0)"
    )

    # The other campus's ticket, typed into the address bar: not found, nothing shown.
    response = await tab.goto(f"{board.base_url()}/board/tickets/{west_ticket}")
    assert response is not None and response.status == 404
    assert await tab.get_by_text("Not found, or not in your buildings.").count() == 1
    assert await tab.get_by_text("Broken window").count() == 0

    # The link worked once: opened again, it is refused with what to do.
    again = await tab.goto(link.group())
    assert again is not None and again.status == 401
    assert await tab.get_by_text("Send /board in the chat for a new one").count() == 1
