"""A photo notice that was answered loses its buttons, as a text message does."""

from __future__ import annotations

from sandbox.client import UserHandle
from sandbox.views import BotMessage
from tests.support.chats import ACCEPT, offer_for, open_job, started, technicians
from tests.support.harness import Harness
from tests.support.report_steps import file_report


async def _completed_with_photo(bot: Harness) -> tuple[UserHandle, BotMessage, str]:
    """Alice's job, completed by Tom with a photo; returns her completion notice."""
    (tom,) = await technicians(bot, "Tom")
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice, description="The tap drips.")
    await tom.user.press(await offer_for(tom.user, number), ACCEPT)
    card = await open_job(tom.user, number)
    await tom.user.press(card, "▶️ Start work")
    card = await tom.user.wait_for_edit(card, lambda m: "In progress" in m.body)
    await tom.user.press(card, "✅ Complete")
    await tom.user.wait_for_edit(card, lambda m: "Send a photo" in m.body)
    await tom.user.send_photo()
    notice = await alice.expect(text_contains=f"{number} is done")
    assert notice.photo is not None and "5★" in notice.button_texts
    return alice, notice, number


async def test_rating_from_a_photo_notice_takes_its_buttons_away(bot: Harness) -> None:
    alice, notice, number = await _completed_with_photo(bot)
    await alice.press(notice, "5★")
    rated = await alice.wait_for_edit(notice)
    assert rated.button_texts == []
    assert rated.photo is not None and f"Thank you for rating {number}" in rated.body
    await alice.expect(text_contains="Add a comment")


async def test_not_fixed_from_a_photo_notice_takes_its_buttons_away(bot: Harness) -> None:
    alice, notice, _number = await _completed_with_photo(bot)
    await alice.press(notice, "🔁 Not fixed")
    answered = await alice.wait_for_edit(notice)
    assert "5★" not in answered.button_texts and "🔁 Not fixed" not in answered.button_texts
