"""What a press answers, and what it leaves pressable: an answer to a press (a toast, an
alert) never says what a message in the chat also says, and the buttons of a message that
was answered, or is out of date, are taken off it."""

from __future__ import annotations

from datetime import UTC, datetime

from sandbox.client import UserHandle
from sandbox.models import Content
from sandbox.state import SandboxState
from sandbox.views import BotMessage
from store.lifecycle import Status
from tests.support.chats import (
    ACCEPT,
    DECLINE,
    MENU,
    STALE,
    offer_for,
    open_job,
    started,
    technicians,
)
from tests.support.harness import Harness
from tests.support.report_steps import file_report
from tests.support.rows import ticket_by_number
from tests.support.world import Clock

# Monday 2 March 2026, 16:00 in the campus zone (Asia/Shanghai), as in test_jobs.
MONDAY_8_UTC = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _said(content: Content) -> str:
    return content.text or content.caption or ""


def repeated_answers(state: SandboxState) -> list[tuple[str, str]]:
    """(answer, message) pairs where a press's answer repeats a bot message of that chat
    (any version of it, before or after an edit)."""
    found: list[tuple[str, str]] = []
    for record in state.callbacks.values():
        said = (record.answer.text or "").strip() if record.answer is not None else ""
        if not said:
            continue
        for message in state.messages.get(record.chat_id, []):
            if not message.from_bot:
                continue
            for version in message.history or [message.content]:
                if said in _said(version):
                    found.append((said, _said(version)))
    return found


async def _keyboard_gone(user: UserHandle, message: BotMessage) -> None:
    await user.wait_for_edit(message, lambda m: not m.buttons)


async def test_no_press_answer_repeats_a_message_through_a_whole_job(bot: Harness) -> None:
    bot.store.clock = Clock(MONDAY_8_UTC)
    ann, ben = await technicians(bot, "Ann", "Ben")
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice, description="The tap drips.")

    declined = await ben.user.press(await offer_for(ben.user, number), DECLINE)
    assert declined is not None and declined.text  # the only word on it: say it briefly
    offer = await offer_for(ann.user, number)
    accepted = await ann.user.press(offer, ACCEPT)
    # "is yours" is the job card's heading: the press itself is answered without a word.
    assert accepted is not None and not accepted.show_alert
    await ann.user.expect(text_contains=f"{number} is yours")
    assert offer.buttons == []

    card = await open_job(ann.user, number)
    await ann.user.press(card, "🕒 Propose a visit time")
    slots = await ann.user.wait_for_edit(card, lambda m: "When can you come" in m.body)
    await ann.user.press(slots, "Tue 3 Mar 09:00")
    await ann.user.expect(text_contains="Proposed 2026-03-03 09:00")
    proposal = await alice.expect(text_contains="proposes to come at 2026-03-03 09:00")
    await alice.press(proposal, "👍 That time works")
    await alice.wait_for_edit(proposal, lambda m: "will come" in m.body)

    card = await open_job(ann.user, number)
    await ann.user.press(card, "▶️ Start work")
    card = await ann.user.wait_for_edit(card, lambda m: "In progress" in m.body)
    await ann.user.press(card, "✅ Complete")
    ask = await ann.user.wait_for_edit(card, lambda m: "Send a photo" in m.body)
    await ann.user.press(ask, "✅ Complete without a photo")
    await ann.user.wait_for_edit(ask, lambda m: "Completed" in m.body)

    done = await alice.expect(text_contains=f"{number} is done")
    await alice.press(done, "5★")
    await alice.expect(text_contains="Add a comment?")
    assert (await ticket_by_number(bot.store, number)).status == Status.CLOSED

    answered = [r for r in bot.sandbox.state.callbacks.values() if r.answer is not None]
    assert len(answered) >= 9
    assert repeated_answers(bot.sandbox.state) == []


async def test_completing_with_a_photo_takes_the_question_s_buttons_away(bot: Harness) -> None:
    bot.store.clock = Clock(MONDAY_8_UTC)
    (tom,) = await technicians(bot, "Tom")
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice)
    await tom.user.press(await offer_for(tom.user, number), ACCEPT)
    card = await open_job(tom.user, number)
    await tom.user.press(card, "▶️ Start work")
    card = await tom.user.wait_for_edit(card, lambda m: "In progress" in m.body)
    await tom.user.press(card, "✅ Complete")
    ask = await tom.user.wait_for_edit(card, lambda m: "Send a photo" in m.body)
    assert "✅ Complete without a photo" in ask.button_texts

    await tom.user.send_photo()
    await tom.user.expect(text_contains=f"{number} is completed")
    # The question was answered by the photo: "Complete without a photo" is gone with it.
    await _keyboard_gone(tom.user, ask)
    assert ask.button_texts == [] and "Send a photo" in ask.body


async def test_a_typed_visit_time_takes_the_slot_buttons_away(bot: Harness) -> None:
    bot.store.clock = Clock(MONDAY_8_UTC)
    (tom,) = await technicians(bot, "Tom")
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice)
    await tom.user.press(await offer_for(tom.user, number), ACCEPT)
    card = await open_job(tom.user, number)
    await tom.user.press(card, "🕒 Propose a visit time")
    slots = await tom.user.wait_for_edit(card, lambda m: "When can you come" in m.body)
    await tom.user.send("2026-03-04 10:00")
    await tom.user.expect(text_contains="Proposed 2026-03-04 10:00")
    await _keyboard_gone(tom.user, slots)


async def test_a_stale_press_takes_that_message_s_buttons_away(bot: Harness) -> None:
    bot.store.clock = Clock(MONDAY_8_UTC)
    (tom,) = await technicians(bot, "Tom")
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice)
    await tom.user.press(await offer_for(tom.user, number), ACCEPT)
    # Tom proposes a time, then another: Alice's first proposal is out of date.
    for slot in ("Tue 3 Mar 09:00", "Tue 3 Mar 11:00"):
        card = await open_job(tom.user, number)
        await tom.user.press(card, "🕒 Propose a visit time")
        slots = await tom.user.wait_for_edit(card, lambda m: "When can you come" in m.body)
        await tom.user.press(slots, slot)
    first = await alice.expect(text_contains="proposes to come at 2026-03-03 09:00")
    second = await alice.expect(text_contains="proposes to come at 2026-03-03 11:00")
    stale = await alice.press(first, "👍 That time works")
    assert stale is not None and stale.show_alert and stale.text == STALE
    await _keyboard_gone(alice, first)
    # The latest proposal keeps its buttons, and still works.
    assert second.button_texts == ["👍 That time works", "🕒 Ask for another time"]
    await alice.press(second, "👍 That time works")
    await alice.wait_for_edit(second, lambda m: "will come at 2026-03-03 11:00" in m.body)


async def test_a_press_refused_because_the_job_moved_on_takes_its_buttons_away(
    bot: Harness,
) -> None:
    bot.store.clock = Clock(MONDAY_8_UTC)
    (tom,) = await technicians(bot, "Tom")
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice)
    await tom.user.press(await offer_for(tom.user, number), ACCEPT)
    old = await open_job(tom.user, number)  # an older card of the same job
    card = await open_job(tom.user, number)
    await tom.user.press(card, "▶️ Start work")
    await tom.user.wait_for_edit(card, lambda m: "In progress" in m.body)

    refused = await tom.user.press(old, "▶️ Start work")
    assert refused is not None and refused.show_alert and refused.text
    await _keyboard_gone(tom.user, old)
    assert (await ticket_by_number(bot.store, number)).status == Status.IN_PROGRESS


async def test_a_forged_press_leaves_the_real_buttons_alone(bot: Harness) -> None:
    alice = await started(bot, 1001, "Alice")
    menu = next(m for m in alice.messages if MENU in m.body)
    buttons = menu.button_texts
    answer = await alice.press_forged(menu, "zz:not-a-button")
    assert answer is not None and answer.show_alert and answer.text == STALE
    await alice.assert_no_message(0.3)
    assert menu.button_texts == buttons and menu.edits == 0


async def test_a_typed_comment_takes_the_skip_button_away(bot: Harness) -> None:
    bot.store.clock = Clock(MONDAY_8_UTC)
    (tom,) = await technicians(bot, "Tom")
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice)
    await tom.user.press(await offer_for(tom.user, number), ACCEPT)
    card = await open_job(tom.user, number)
    await tom.user.press(card, "▶️ Start work")
    card = await tom.user.wait_for_edit(card, lambda m: "In progress" in m.body)
    await tom.user.press(card, "✅ Complete")
    ask = await tom.user.wait_for_edit(card, lambda m: "Send a photo" in m.body)
    await tom.user.press(ask, "✅ Complete without a photo")
    done = await alice.expect(text_contains=f"{number} is done")
    await alice.press(done, "4★")
    prompt = await alice.expect(text_contains="Add a comment?")
    assert prompt.button_texts == ["Skip ➡️"]
    await alice.send("Quick and tidy.")
    await alice.expect(text_contains="your comment was saved")
    await _keyboard_gone(alice, prompt)
