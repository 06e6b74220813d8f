"""The board's charts, self-refresh and campus times in a real Chromium (the `page` fixture,
tests/support/browser.py): the charts page draws its SVG charts with their figures in
words and a table; a building page left open picks up a new ticket by itself and keeps
the viewer's scroll position, opened table and address; a ticket's proposed visit time is
shown in campus time, not as the stored UTC text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.board.server import BoardServer
from store.lifecycle import Role
from store.repair import dispatch, work
from tests.support.chats import started
from tests.support.harness import Harness
from tests.support.report_steps import file_report
from tests.support.rows import ticket_by_number
from tests.support.world import make_person

if TYPE_CHECKING:
    from playwright.async_api import Page


# As the browser does when the tab goes to the background and back.
HIDE = """(hidden) => {
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


async def _signed_in(bot: Harness, tab: Page, telegram_id: int) -> None:
    user = bot.sandbox.user(telegram_id, "Sam", language_code="en")
    await user.command("board")
    message = await user.expect(text_contains="sign-in link")
    link = re.search(r"http://\S+/board/signin\?token=\S+", message.body)
    assert link is not None
    await tab.goto(link.group())
    await tab.wait_for_url(re.compile(r".*/board/$"))


async def test_charts_refresh_and_campus_times_in_a_browser(
    bot: Harness, board: BoardServer, page: Page
) -> None:
    tab, base = page, board.base_url()
    zone = ZoneInfo(bot.settings.service.timezone)
    east = bot.places.building("E1公寓")
    await make_person(
        bot.store, Role.SUPERVISOR, name="Sam", telegram_id=5001, campus_id=east.campus_id
    )
    tia = await make_person(
        bot.store, Role.TECHNICIAN, name="Tia", buildings=[east.id], on_duty=True
    )
    alice = await started(bot, 1001, "Alice")
    first = await file_report(alice, description="The tap drips all night.")
    await _signed_in(bot, tab, 5001)

    # The overview has the compact chart and a way to the charts page.
    await tab.locator("svg#overview-daily[role=img]").wait_for()
    await tab.get_by_role("link", name="More charts →").click()
    await tab.wait_for_url(re.compile(r".*/board/charts$"))
    assert await tab.locator("svg.chart[role=img]").count() == 4
    daily = tab.locator("svg#daily")
    assert await daily.locator("title").text_content() == (
        "Received and completed per day, last 30 days"
    )
    label = await daily.get_attribute("aria-label") or ""
    assert "1 received, 0 completed" in label
    # The same figures as a table, a row per day, today's first.
    await tab.locator("#per-day-table summary").click()
    rows = tab.locator("#per-day-table tbody tr")
    assert await rows.count() == 30
    today = datetime.now(zone).date().isoformat()
    assert await rows.first.inner_text() == f"{today}\t1\t0"
    # The 90-day switch.
    await tab.get_by_role("link", name="90 days").click()
    await tab.wait_for_url(re.compile(r".*/board/charts\?days=90$"))
    assert await tab.locator("#per-day-table tbody tr").count() == 90

    # A building page left open, scrolled down with its table opened.
    await tab.goto(f"{base}/board/buildings/{east.id}?from=morning")
    await tab.locator("#building-daily-table summary").click()
    await tab.evaluate("window.scrollTo(0, 400)")
    scrolled = await tab.evaluate("window.scrollY")
    assert scrolled > 300
    stamp = await tab.locator("p.updated").inner_text()
    assert re.fullmatch(r"updated \d\d:\d\d", stamp)
    second = await file_report(alice, code="E1-102", description="The light flickers.")
    assert await tab.get_by_text(second).count() == 0
    # The minute, made a second for the test: the page picks up the new ticket by itself.
    await tab.evaluate(
        "() => { document.querySelector('main').dataset.refresh = '1';"
        " window.boardRefreshSchedule(); }"
    )
    await tab.get_by_text(second).wait_for()
    assert await tab.evaluate("window.scrollY") == scrolled
    assert await tab.locator("#building-daily-table").get_attribute("open") is not None
    assert await tab.evaluate("location.search") == "?from=morning"
    assert await tab.locator("svg#building-daily").get_attribute("aria-label") is not None
    # Hidden, the page waits; shown again, it catches up.
    await tab.evaluate(HIDE, True)
    third = await file_report(alice, code="E1-201", description="The door sticks.")
    await tab.wait_for_timeout(2500)
    assert await tab.get_by_text(third).count() == 0
    await tab.evaluate(HIDE, False)
    await tab.get_by_text(third).wait_for(timeout=5000)
    now = datetime.now(zone)
    assert await tab.locator("p.updated").inner_text() in {
        f"updated {(now - timedelta(minutes=m)):%H:%M}" for m in (0, 1)
    }

    # A proposed visit time on the ticket's timeline: campus time, not the stored UTC.
    ticket = await ticket_by_number(bot.store, first)
    assert ticket.id is not None and tia.id is not None
    await dispatch.accept(bot.store.uow(), ticket.id, tia.id)
    visit = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    await work.propose_visit(bot.store.uow(), ticket.id, tia.id, visit)
    await tab.goto(f"{base}/board/tickets/{ticket.id}")
    line = tab.locator("ol.timeline li", has_text="visit time proposed")
    await line.wait_for()
    shown = await line.inner_text()
    assert f"{visit.astimezone(zone):%Y-%m-%d %H:%M}" in shown
    assert visit.isoformat() not in shown and "+00:00" not in shown
