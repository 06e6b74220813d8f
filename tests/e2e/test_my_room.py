"""/myroom: a resident sets their room once; reports start there, and Back picks another
room for one report without changing "my room"."""

from __future__ import annotations

from sqlmodel import select

from store.models import Person, Room
from tests.support.chats import MENU, WAIT
from tests.support.harness import Harness
from tests.support.report_steps import NUMBER, skip_to_summary
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
    step = await rita.expect(text_contains=CATEGORY_PROMPT, has_buttons=["⬅️ Back"])
    assert "🚰 Water & plumbing" in step.button_texts

    # Back: another room for this report only (floor 2, room 201).
    await rita.press(step, "⬅️ Back")
    await rita.wait_for_edit(step, lambda m: "Choose the room on floor 1" in m.body)
    assert "101" in step.button_texts and "102" in step.button_texts
    await rita.press(step, "⬅️ Back")
    await rita.wait_for_edit(step, lambda m: "Choose the floor in E1公寓" in m.body)
    await rita.press(step, "2")
    await rita.wait_for_edit(step, lambda m: "Choose the room on floor 2" in m.body)
    await rita.press(step, "201")
    await rita.wait_for_edit(step, lambda m: CATEGORY_PROMPT in m.body)
    await rita.press(step, "💡 Electrical")
    await rita.wait_for_edit(step, lambda m: "Describe what happened" in m.body)
    await rita.send("The corridor light outside 201 is out.")
    summary = await skip_to_summary(rita, await rita.expect(text_contains="Send up to"))
    assert "E1公寓 · 201" in summary.body
    await rita.press(summary, "✅ Confirm")
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

    # "-" clears it: reports start by choosing the place again.
    await rita.command("myroom")
    await rita.expect(text_contains="Type the code of your room")
    await rita.send("-")
    await rita.expect(text="Your room was cleared.")
    assert await _my_room_code(bot, 1101) is None
    await rita.command("report")
    await rita.expect(text_contains="Choose the campus")
