"""/myroom: a resident sets their room once; reports start there, and "Another room" picks
another for one report without changing "my room"."""

from __future__ import annotations

from sqlmodel import select

from store.models import Person, Room
from tests.support.chats import MENU, WAIT
from tests.support.harness import Harness
from tests.support.report_steps import MESSAGE_PROMPT, NUMBER, SUMMARY_PROMPT
from tests.support.rows import ticket_by_number

CATEGORY_PROMPT = "What kind of problem"


async def _my_room_code(bot: Harness, telegram_id: int) -> str | None:
    async with bot.store.uow() as uow:
        person = (
            await uow.session.execute(select(Person).where(Person.telegram_id == telegram_id))
        ).scalar_one()
        room = await uow.session.get(Room, person.room_id) if person.room_id else None
        return room.code if room else None


async def test_reports_start_in_my_room_and_back_picks_another_for_one_report(
    bot: Harness,
) -> None:
    rita = bot.sandbox.user(1101, "Rita", language_code="en")
    await rita.command("start")
    await rita.expect(text_contains=MENU)

    await rita.command("myroom")
    await rita.expect(text_contains="Type the code of your room")
    await rita.send("E9-999")
    await rita.expect(text_contains="I can't find the room “E9-999”")
    await rita.send("E1-101")  # the question stays open after a wrong code
    await rita.expect(text_contains="Your room is now E1-101 (E1公寓 101)")
    assert await _my_room_code(bot, 1101) == "E1-101"

    # /report starts at the category step with her room filled in.
    await rita.command("report")
    await rita.expect(text_contains="Your room E1-101 (E1公寓 101) is filled in")
    step = await rita.expect(text_contains=CATEGORY_PROMPT, has_buttons=["📍 Another room"])
    assert "🚰 Water & plumbing" in step.button_texts and "⬅️ Back" in step.button_texts

    # Another room for this report only: "E1-2" narrows to floor 2's rooms.
    await rita.press(step, "📍 Another room")
    await rita.wait_for_edit(step, lambda m: "Where is it?" in m.body)
    await rita.send("E1-2")
    matches = await rita.expect(text_contains="Matching “E1-2”")
    assert "E1-201" in matches.button_texts and "E1-101" not in matches.button_texts
    await rita.press(matches, "E1-201")
    step = await rita.wait_for_edit(matches, lambda m: CATEGORY_PROMPT in m.body)
    assert "E1-201" in step.body
    await rita.press(step, "💡 Electrical")
    await rita.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await rita.send("The corridor light outside 201 is out.")
    summary = await rita.expect(text_contains=SUMMARY_PROMPT)
    assert "E1公寓 · 201" in summary.body
    await rita.press(summary, "✅ Submit")
    received = await rita.expect(text_contains="received", timeout=WAIT)
    found = NUMBER.search(received.body)
    assert found is not None
    ticket = await ticket_by_number(bot.store, found.group())
    assert ticket.room_id == bot.places.room("E1-201").room_id

    # "My room" did not change: the next report starts in E1-101 again.
    assert await _my_room_code(bot, 1101) == "E1-101"
    await rita.command("report")
    await rita.expect(text_contains="Your room E1-101 (E1公寓 101) is filled in")
    await rita.expect(text_contains=CATEGORY_PROMPT)
    await rita.command("cancel")
    await rita.expect(text_contains="Cancelled")

    # "-" clears it: reports then start in the room of her last report, one tap away.
    await rita.command("myroom")
    await rita.expect(text_contains="Type the code of your room")
    await rita.send("-")
    await rita.expect(text="Your room was cleared.")
    assert await _my_room_code(bot, 1101) is None
    await rita.command("report")
    await rita.expect(text_contains="E1-201 (E1公寓 201), same as last time?")
    await rita.expect(text_contains=CATEGORY_PROMPT, has_buttons=["📍 Another room"])
