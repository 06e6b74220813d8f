"""A shared phone number is remembered, offered back masked, and can be forgotten."""

from __future__ import annotations

from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.directory.profiles import person_by_telegram_id
from tests.support.harness import Harness
from tests.support.report_steps import NUMBER, SUMMARY_PROMPT, file_report_with_photo, to_summary
from tests.support.rows import ticket_by_number

PHONE = "+8613812345678"
OFFER = "Use +86138****5678"


async def _to_summary(user: UserHandle) -> BotMessage:
    # Another problem than the first report's, so no duplicate question comes between.
    return await to_summary(user, "💡 Electrical", description="The lamp flickers.")


async def _to_contact_step(user: UserHandle) -> BotMessage:
    """The summary's phone step, through Edit → Phone."""
    summary = await _to_summary(user)
    await user.press(summary, "✏️ Edit")
    menu = await user.wait_for_edit(summary, lambda m: "What would you like to change" in m.body)
    await user.press(menu, "📱 Phone")
    return await user.expect(text_contains="Share a phone number")


def _keys(message: BotMessage) -> list[str]:
    return [b.text for row in message.reply_keyboard or [] for b in row]


async def _confirm(user: UserHandle) -> tuple[str, str]:
    """Submit the report; returns the summary as it read, and the ticket number."""
    summary = await user.expect(text_contains=SUMMARY_PROMPT)
    return await _submit(user, summary)


async def _submit(user: UserHandle, summary: BotMessage) -> tuple[str, str]:
    shown = summary.body
    await user.press(summary, "✅ Submit")
    received = await user.expect(text_contains="received")
    found = NUMBER.search(received.body)
    assert found is not None
    return shown, found.group()


async def _saved_phone(bot: Harness, telegram_id: int) -> str | None:
    person = await person_by_telegram_id(bot.store.uow(), telegram_id)
    assert person is not None
    return person.phone


async def test_a_shared_number_is_on_the_next_report_with_dont_share_one_tap_away(
    bot: Harness,
) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    first = await file_report_with_photo(alice, phone=PHONE)
    assert (await ticket_by_number(bot.store, first)).contact_phone == PHONE
    assert await _saved_phone(bot, 1001) == PHONE

    summary = await _to_summary(alice)
    assert PHONE in summary.body and "🙈 Don't share my phone" in summary.button_texts
    shown, number = await _submit(alice, summary)
    assert PHONE in shown
    assert (await ticket_by_number(bot.store, number)).contact_phone == PHONE


async def test_the_phone_step_offers_the_saved_number_back_masked(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await file_report_with_photo(alice, phone=PHONE)
    ask = await _to_contact_step(alice)
    assert _keys(ask)[:2] == [OFFER, "📱 Share another number"]
    await alice.send(OFFER)
    said = await alice.expect(text_contains="is on this report")
    assert "+86138****5678" in said.body and said.body != "👌"
    summary, number = await _confirm(alice)
    assert PHONE in summary
    assert (await ticket_by_number(bot.store, number)).contact_phone == PHONE


async def test_dont_share_means_no_number_on_this_ticket_even_when_one_is_saved(
    bot: Harness,
) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await file_report_with_photo(alice, phone=PHONE)
    summary = await _to_summary(alice)
    await alice.press(summary, "🙈 Don't share my phone")
    summary = await alice.wait_for_edit(summary, lambda m: "not given" in m.body)
    assert PHONE not in summary.body
    assert "📱 Share +86138****5678" in summary.button_texts  # and back, one tap
    _shown, number = await _submit(alice, summary)
    assert (await ticket_by_number(bot.store, number)).contact_phone is None
    assert await _saved_phone(bot, 1001) == PHONE  # still remembered for next time


async def test_skip_at_the_phone_step_says_so_in_words(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await file_report_with_photo(alice, phone=PHONE)
    await _to_contact_step(alice)
    await alice.send("Skip ➡️")
    said = await alice.expect(text_contains="no phone number on this report")
    assert said.body != "👌"
    summary, number = await _confirm(alice)
    assert "not given" in summary
    assert (await ticket_by_number(bot.store, number)).contact_phone is None
    assert await _saved_phone(bot, 1001) == PHONE


async def test_the_number_can_be_forgotten_from_the_menu(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await file_report_with_photo(alice, phone=PHONE)
    await alice.command("start")
    menu = await alice.expect(text_contains="What would you like to do")
    await alice.press(menu, "📱 My phone number")
    shown = await alice.wait_for_edit(menu)
    assert "+86138****5678" in shown.body and PHONE not in shown.body
    await alice.press(shown, "🗑 Forget it")
    gone = await alice.wait_for_edit(shown)
    assert "forgotten" in gone.body
    assert await _saved_phone(bot, 1001) is None

    summary = await _to_summary(alice)
    assert "not given" in summary.body and "🙈 Don't share my phone" not in summary.button_texts
    await alice.press(summary, "📱 Add a phone number")
    ask = await alice.expect(text_contains="Share a phone number")
    assert not any(key.startswith("Use ") for key in _keys(ask))
    # A typed imitation of the old offer is not taken as a number.
    await alice.send(OFFER)
    await alice.expect(text_contains="choose one of the buttons")


async def test_nothing_saved_says_how_to_share_one(bot: Harness) -> None:
    bob = bot.sandbox.user(1002, "Bob", language_code="en")
    await bob.command("start")
    menu = await bob.expect(text_contains="What would you like to do")
    await bob.press(menu, "📱 My phone number")
    shown = await bob.wait_for_edit(menu)
    assert "No phone number is saved" in shown.body
    assert shown.button_texts == ["⬅️ Menu"]
