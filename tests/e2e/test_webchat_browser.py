"""The browser chat in a real Chromium: a report with a photo, and the conversation stays
in view; a press's answer neither covers buttons nor repeats a message, answered buttons
go; the new-user form, the header and the missing-fonts notice (the `page` fixture,
tests/support/browser.py, says what it needs)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.images import tiny_png
from store.lifecycle import Status
from tests.support.chats import ACCEPT, DECLINE, offer_for, started, technicians
from tests.support.harness import Harness
from tests.support.report_steps import file_report
from tests.support.rows import ticket_by_number

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


# --- chat polish: toasts, answered buttons, the new-user form, the header, fonts ----------


async def _open_chat(bot: Harness, tab: Page, user_id: int, name: str) -> None:
    await tab.goto(f"{bot.server.url}/_sandbox/chat?user={user_id}")
    await tab.get_by_text(f"Playing: {name}").wait_for(timeout=10_000)


async def _toast_covers_a_button(tab: Page) -> list[str]:
    """The labels of the buttons (on screen: a chat's scrolled-away ones do not count) that
    the shown toast overlaps, or that are drawn under it; none when it is hidden."""
    covered: list[str] = await tab.evaluate(
        """() => {
          const box = document.getElementById("toast");
          if (box.hidden) return [];
          const t = box.getBoundingClientRect();
          const log = document.getElementById("log").getBoundingClientRect();
          return [...document.querySelectorAll("button, .btn, select, textarea")]
            .filter((b) => b.offsetParent !== null)
            .filter((b) => {
              const r = b.getBoundingClientRect();
              const inLog = b.closest("#log") !== null;
              const top = inLog ? Math.max(r.top, log.top) : r.top;
              const bottom = inLog ? Math.min(r.bottom, log.bottom) : r.bottom;
              return r.width && bottom > top && r.left < t.right && t.left < r.right
                && top < t.bottom && t.top < bottom;
            })
            .map((b) => b.textContent || b.id);
        }"""
    )
    return covered


async def test_a_job_in_the_browser_answers_without_repeating_and_retires_its_buttons(
    bot: Harness, page: Page, tmp_path: Path
) -> None:
    tab = page
    (tom,) = await technicians(bot, "Tom")
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice, description="The tap drips.")
    await offer_for(tom.user, number)
    await _open_chat(bot, tab, tom.user.id, "Tom")

    offer = await _bubble(tab, ACCEPT)
    await offer.get_by_role("button", name=ACCEPT).click()
    card = await _bubble(tab, f"{number} is yours")
    # The job card says it; no toast says it again, and the offer's buttons are gone.
    await tab.wait_for_timeout(300)
    shown_toast = await tab.locator("#toast").is_visible()
    assert not shown_toast or "is yours" not in await tab.locator("#toast").inner_text()
    await tab.get_by_role("button", name=ACCEPT).wait_for(state="detached", timeout=10_000)
    assert await tab.get_by_role("button", name=DECLINE).count() == 0

    # Start: a short "Done." toast, over the header, covering no button.
    await card.get_by_role("button", name="▶️ Start work").click()
    await tab.locator("#toast", has_text="Done.").wait_for(timeout=10_000)
    assert await _toast_covers_a_button(tab) == []
    await tab.locator("#toast").wait_for(state="hidden", timeout=5_000)

    # Complete, then a photo instead of "Complete without a photo": that button goes.
    card = await _bubble(tab, "In progress")
    await card.get_by_role("button", name="✅ Complete").click()
    await _bubble(tab, "Send a photo of the finished repair")
    assert await tab.get_by_role("button", name="✅ Complete without a photo").count() == 1
    photo = tmp_path / "fixed.png"
    photo.write_bytes(tiny_png(40, 40))
    await tab.set_input_files("#photo", str(photo))
    await _bubble(tab, f"{number} is completed")
    await tab.get_by_role("button", name="✅ Complete without a photo").wait_for(
        state="detached", timeout=10_000
    )
    row = await ticket_by_number(bot.store, number)
    assert row.status == Status.COMPLETED


async def test_the_new_user_form_explains_the_id_and_fills_a_free_one(
    bot: Harness, page: Page
) -> None:
    tab = page
    bot.sandbox.user(1001, "Alice", language_code="en")
    bot.sandbox.user(1007, "Bob", language_code="zh-hans")
    await tab.goto(f"{bot.server.url}/_sandbox/chat")
    await tab.select_option("#who", "new")
    hint = tab.locator("#newuser label")
    await hint.wait_for(timeout=10_000)
    assert "like a Telegram user id" in await hint.inner_text()
    assert await tab.input_value("#nid") == "1008"  # one past the highest known id
    await tab.fill("#nname", "Carol")
    await tab.get_by_role("button", name="Create").click()
    await tab.get_by_text("Playing: Carol").wait_for(timeout=10_000)
    assert 1008 in bot.sandbox.state.users


async def test_the_header_shows_a_long_bot_name_whole(bot: Harness, page: Page) -> None:
    tab = page
    name = "Eastern Campus Facilities Office Repair Reporting Helpdesk Bot"
    bot.sandbox.state.bot = replace(bot.sandbox.state.bot, first_name=name)
    bot.sandbox.user(1001, "Alexandra-Margarethe", language_code="en")
    await _open_chat(bot, tab, 1001, "Alexandra-Margarethe")
    header = tab.locator("#bot")
    await tab.wait_for_function(
        "(name) => document.getElementById('bot').textContent === name", arg=name
    )
    fits: dict[str, float] = await header.evaluate(
        """(el) => ({ sw: el.scrollWidth, cw: el.clientWidth, sh: el.scrollHeight,
                     ch: el.clientHeight, right: el.getBoundingClientRect().right,
                     view: document.documentElement.clientWidth })"""
    )
    assert fits["sw"] <= fits["cw"] and fits["sh"] <= fits["ch"], fits
    assert fits["right"] <= fits["view"], fits
    # The whole name is on screen: each of its words is drawn inside the header.
    assert (await header.inner_text()).split() == name.split()


def _latin_fonts_only(folder: Path) -> Path:
    """A fontconfig file that shows Chromium the DejaVu fonts alone (none if absent): a
    machine without the CJK and emoji packages."""
    (folder / "cache").mkdir()
    latin = Path("/usr/share/fonts/truetype/dejavu")
    fonts = f"<dir>{latin}</dir>" if latin.is_dir() else ""
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"{fonts}<cachedir>{folder / 'cache'}</cachedir></fontconfig>"
    )
    return conf


async def test_the_chat_says_which_fonts_to_install_when_it_cannot_draw_chinese(
    bot: Harness, page: Page, tmp_path: Path
) -> None:
    # With the machine's fonts (CJK and emoji installed here), no notice.
    bot.sandbox.user(1001, "Alice", language_code="en")
    await _open_chat(bot, page, 1001, "Alice")
    assert await page.locator("#fonts").is_hidden()

    # The same page in a Chromium that sees no CJK or emoji font.
    from playwright.async_api import async_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    env: dict[str, str | float | bool] = {
        **os.environ,
        "FONTCONFIG_FILE": str(_latin_fonts_only(tmp_path)),
    }
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        try:
            tab = await browser.new_page(viewport={"width": 390, "height": 700})
            await _open_chat(bot, tab, 1001, "Alice")
            notice = tab.locator("#fonts")
            await notice.wait_for(timeout=10_000)
            said = await notice.inner_text()
            assert "fonts-noto-cjk" in said and "fonts-noto-color-emoji" in said, said
            assert "apt-get install" in said and "Chinese" in said
        finally:
            await browser.close()
