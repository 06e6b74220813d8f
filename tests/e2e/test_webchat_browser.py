"""The browser chat in a real Chromium: a report with a photo, and the conversation stays
in view (the `page` fixture, tests/support/browser.py, says what it needs)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.images import tiny_png
from tests.support.harness import Harness

if TYPE_CHECKING:
    # Imported for types only: without Playwright the fixture skips instead of failing.
    from playwright.async_api import Locator, Page


async def _last_message_in_view(tab: Page) -> bool:
    """Whether the newest bubble is inside the visible part of the chat."""
    result: bool = await tab.evaluate(
        """() => {
          const log = document.getElementById("log");
          const last = log.lastElementChild.getBoundingClientRect();
          const view = log.getBoundingClientRect();
          return last.bottom <= view.bottom + 2 && last.top >= view.top - 2;
        }"""
    )
    return result


async def _photos_loaded(tab: Page) -> None:
    """Wait until every photo in the chat has loaded (and a frame has been laid out)."""
    await tab.wait_for_function(
        "() => [...document.images].every((img) => img.complete)", timeout=10_000
    )
    await tab.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")


async def _bubble(tab: Page, text: str) -> Locator:
    """The newest message bubble containing `text`, once it is shown."""
    bubble = tab.locator(".msg", has_text=text).last
    await bubble.wait_for(timeout=10_000)
    return bubble


async def test_report_with_a_photo_in_the_browser_keeps_the_last_message_in_view(
    bot: Harness, page: Page, tmp_path: Path
) -> None:
    tab = page
    bot.sandbox.user(1001, "Alice", language_code="en")
    await tab.goto(f"{bot.server.url}/_sandbox/chat?user=1001")
    await tab.get_by_text("Playing: Alice").wait_for(timeout=10_000)

    # Enough conversation that the chat scrolls before the report starts.
    for _ in range(3):
        await tab.fill("#text", "/help")
        await tab.press("#text", "Enter")
        await tab.locator(".msg.bot", has_text="/report").nth(_).wait_for(timeout=10_000)
    await tab.fill("#text", "/start r_E1-101")
    await tab.press("#text", "Enter")
    step = await _bubble(tab, "What kind of problem")
    await step.get_by_role("button", name="🚰 Water & plumbing").click()
    await _bubble(tab, "What's wrong? Send one message")
    await tab.fill("#text", "The tap drips all night.")
    await tab.press("#text", "Enter")
    await _bubble(tab, "Please check your report")

    # A tall photo, sent to the summary: the page must scroll again once it has loaded.
    photo = tmp_path / "tap.png"
    photo.write_bytes(tiny_png(600, 900))
    await tab.set_input_files("#photo", str(photo))
    added = await _bubble(tab, "Photo 1/")
    await _photos_loaded(tab)
    assert await _last_message_in_view(tab), "the reply to the photo arrived out of sight"
    await added.get_by_role("button", name="📱 Add a phone number").click()
    await _bubble(tab, "Share a phone number")
    # Reply-keyboard buttons show their own label once: one icon, not two.
    share = tab.locator("#kb button", has_text="Share my phone number")
    assert (await share.inner_text()).strip() == "📱 Share my phone number"
    await tab.locator("#kb button", has_text="Skip").click()
    summary = await _bubble(tab, "Please check your report")
    await _photos_loaded(tab)
    assert await _last_message_in_view(tab), "the summary arrived out of sight"

    # Buttons keep their words whole in a narrow bubble.
    confirm = summary.get_by_role("button", name="✅ Submit")
    box = await confirm.bounding_box()
    assert box is not None and box["height"] < 40, box
    await confirm.click()
    await _bubble(tab, "received")
    assert await _last_message_in_view(tab), "the ticket number arrived out of sight"
    assert await tab.locator("img[alt=photo]").count() >= 1
