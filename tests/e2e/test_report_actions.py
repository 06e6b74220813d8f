"""How many actions a report takes, counted in the stand-in: the person's own messages
(commands, texts, photos, contacts) and button presses, from the first to the ticket
number. Four from a QR scan, at most five for someone who reported before, at most nine
for a newcomer; and every step keeps Back and Cancel, the typed place search narrows,
and the summary toggles urgency and the phone in one tap."""

from __future__ import annotations

import re

from sqlmodel import select

from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.deeplink import room_payload
from store.intake import drafts
from store.models import Person, Ticket, TicketPhoto
from tests.support.harness import Harness
from tests.support.report_steps import MESSAGE_PROMPT, SUBMIT, SUMMARY_PROMPT, file_report
from tests.support.rows import ticket_by_number

NUMBER = re.compile(r"\d{4}-\d{6}")
MENU_REPORT = "🛠 Report a repair"
CATEGORY_PROMPT = "What kind of problem"
WHERE_PROMPT = "Where is it?"
BACK, CANCEL = "⬅️ Back", "✖️ Cancel"


def actions(user: UserHandle) -> int:
    """The person's own messages and presses in their chat, as the stand-in saw them."""
    state = user.client.state
    sent = [m for m in state.messages.get(user.id, ()) if not m.from_bot]
    pressed = [c for c in state.callbacks.values() if c.user_id == user.id]
    return len(sent) + len(pressed)


async def _number(user: UserHandle) -> str:
    received = await user.expect(text_contains="received")
    found = NUMBER.search(received.body)
    assert found is not None, received
    return found.group()


def _no_bare_emoji(user: UserHandle) -> None:
    """Every bot message says something in words (no lone 👌 or ⬇️ bubble)."""
    for message in user.messages:
        body = message.body.strip()
        assert message.photo is not None or re.search(r"\w", body), body


async def _person_id(bot: Harness, telegram_id: int) -> int:
    async with bot.store.uow() as uow:
        found: int | None = (
            await uow.session.execute(select(Person.id).where(Person.telegram_id == telegram_id))
        ).scalar_one()
    assert found is not None
    return found


# --- the counts ---------------------------------------------------------------------------


async def test_from_a_qr_scan_four_actions_with_a_text_alone(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await alice.command("start", room_payload("E1-101"))  # 1: the scan
    step = await alice.expect(text_contains=CATEGORY_PROMPT)
    await alice.press(step, "🚰 Water & plumbing")  # 2
    await alice.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await alice.send("The tap drips all night.")  # 3
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    assert "E1-101" in summary.body and "🚰 Water & plumbing" in summary.body
    assert "The tap drips all night." in summary.body and "0 photos" in summary.body
    assert "Normal" in summary.body and "not given" in summary.body
    await alice.press(summary, SUBMIT)  # 4
    number = await _number(alice)
    assert actions(alice) == 4
    ticket = await ticket_by_number(bot.store, number)
    assert ticket.description == "The tap drips all night." and ticket.urgency == "normal"
    assert ticket.room_id == bot.places.room("E1-101").room_id
    _no_bare_emoji(alice)


async def test_from_a_qr_scan_four_actions_with_a_photo_and_its_caption(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await alice.command("start", room_payload("E1-102"))
    step = await alice.expect(text_contains=CATEGORY_PROMPT)
    await alice.press(step, "💡 Electrical")
    await alice.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await alice.send_photo(caption="Sparks from the socket by the desk.")
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    assert "Photo 1/5 added" in summary.body and "1 photo" in summary.body
    assert "Sparks from the socket" in summary.body
    await alice.press(summary, SUBMIT)
    number = await _number(alice)
    assert actions(alice) == 4
    ticket = await ticket_by_number(bot.store, number)
    assert ticket.description == "Sparks from the socket by the desk."
    async with bot.store.uow() as uow:
        photos = (
            (
                await uow.session.execute(
                    select(TicketPhoto).where(TicketPhoto.ticket_id == ticket.id)
                )
            )
            .scalars()
            .all()
        )
    assert len(photos) == 1


async def test_a_photo_alone_is_enough_and_more_photos_may_follow(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await alice.command("start", room_payload("E1-101"))
    step = await alice.expect(text_contains=CATEGORY_PROMPT)
    await alice.press(step, "🪑 Furniture")
    await alice.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await alice.send_photo()
    first = await alice.expect(text_contains=SUMMARY_PROMPT)
    assert "photo only" in first.body
    await alice.send_photo()
    summary = await alice.expect(text_contains="Photo 2/5 added")
    assert "2 photos" in summary.body
    await alice.press(summary, SUBMIT)
    number = await _number(alice)
    ticket = await ticket_by_number(bot.store, number)
    assert "photo only" in ticket.description


async def test_a_returning_requester_files_in_five_actions(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await file_report(alice, code="E1-201")
    before = actions(alice)

    await alice.command("start")  # 1
    menu = await alice.expect(text_contains="What would you like to do")
    await alice.press(menu, MENU_REPORT)  # 2
    await alice.expect(text_contains="E1-201 (E1公寓 201), same as last time?")
    step = await alice.expect(text_contains=CATEGORY_PROMPT, has_buttons=["📍 Another room"])
    await alice.press(step, "💡 Electrical")  # 3: the category says "yes, there"
    await alice.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await alice.send("The corridor light is out.")  # 4
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    await alice.press(summary, SUBMIT)  # 5
    number = await _number(alice)
    assert actions(alice) - before == 5
    ticket = await ticket_by_number(bot.store, number)
    assert ticket.room_id == bot.places.room("E1-201").room_id
    _no_bare_emoji(alice)


async def test_a_new_user_files_in_at_most_nine_actions_by_building_letters(bot: Harness) -> None:
    bob = bot.sandbox.user(1002, "Bob", language_code="en")
    await bob.command("start")  # 1
    menu = await bob.expect(text_contains="What would you like to do")
    await bob.press(menu, MENU_REPORT)  # 2
    where = await bob.expect(text_contains=WHERE_PROMPT)
    assert "📋 Choose on a list" in where.button_texts and CANCEL in where.button_texts
    await bob.send("E1公")  # 3: the first letters of the building
    matches = await bob.expect(text_contains="Matching “E1公”")
    assert matches.button_texts[0] == "🏢 E1公寓"
    await bob.press(matches, "🏢 E1公寓")  # 4
    floors = await bob.wait_for_edit(matches, lambda m: "Choose the floor in E1公寓" in m.body)
    await bob.press(floors, "2")  # 5
    rooms = await bob.wait_for_edit(floors, lambda m: "Choose the room on floor 2" in m.body)
    await bob.press(rooms, "201")  # 6
    step = await bob.wait_for_edit(rooms, lambda m: CATEGORY_PROMPT in m.body)
    await bob.press(step, "🌐 Network")  # 7
    await bob.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await bob.send("No Wi-Fi in the room.")  # 8
    summary = await bob.expect(text_contains=SUMMARY_PROMPT)
    await bob.press(summary, SUBMIT)  # 9
    number = await _number(bob)
    assert actions(bob) <= 9
    ticket = await ticket_by_number(bot.store, number)
    assert ticket.room_id == bot.places.room("E1-201").room_id


async def test_a_new_user_who_types_the_room_code_needs_six(bot: Harness) -> None:
    bob = bot.sandbox.user(1002, "Bob", language_code="en")
    await bob.command("start")
    menu = await bob.expect(text_contains="What would you like to do")
    await bob.press(menu, MENU_REPORT)
    await bob.expect(text_contains=WHERE_PROMPT)
    await bob.send("e1-1001")  # any case: the code names the room
    step = await bob.expect(text_contains=CATEGORY_PROMPT)
    assert "E1-1001" in step.body
    await bob.press(step, "🚪 Doors & locks")
    await bob.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await bob.send("The lock sticks.")
    summary = await bob.expect(text_contains=SUMMARY_PROMPT)
    await bob.press(summary, SUBMIT)
    number = await _number(bob)
    assert actions(bob) == 6
    ticket = await ticket_by_number(bot.store, number)
    assert ticket.room_id == bot.places.room("E1-1001").room_id


# --- the place search -----------------------------------------------------------------------


async def _at_where(bot: Harness, user: UserHandle) -> BotMessage:
    await user.command("report")
    return await user.expect(text_contains=WHERE_PROMPT)


async def test_a_typed_code_prefix_narrows_to_its_rooms(bot: Harness) -> None:
    bob = bot.sandbox.user(1002, "Bob", language_code="en")
    await _at_where(bot, bob)
    await bob.send("E1-10")
    matches = await bob.expect(text_contains="Matching “E1-10”")
    rooms = [b for b in matches.button_texts if b.startswith("E")]
    assert rooms == ["E1-101", "E1-102", "E1-1001"]
    await bob.press(matches, "E1-102")
    step = await bob.wait_for_edit(matches, lambda m: CATEGORY_PROMPT in m.body)
    assert "E1-102" in step.body
    draft = await drafts.get_draft(bot.store.uow(), await _person_id(bot, 1002))
    assert draft is not None and draft.data["room_code"] == "E1-102"


async def test_building_letters_name_a_building_on_either_campus(bot: Harness) -> None:
    bob = bot.sandbox.user(1002, "Bob", language_code="en")
    await _at_where(bot, bob)
    await bob.send("圖書")
    matches = await bob.expect(text_contains="Matching “圖書”")
    # The same name on two campuses: each button says which.
    assert sorted(b for b in matches.button_texts if b.startswith("🏢")) == [
        "🏢 圖書館 · 東校區",
        "🏢 圖書館 · 西校區",
    ]
    await bob.press(matches, "🏢 圖書館 · 西校區")
    floors = await bob.wait_for_edit(matches, lambda m: "Choose the floor in 圖書館" in m.body)
    await bob.press(floors, "1")
    rooms = await bob.wait_for_edit(floors, lambda m: "Choose the room on floor 1" in m.body)
    await bob.press(rooms, "1F大廳")
    await bob.wait_for_edit(rooms, lambda m: "WLIB-1-H" in m.body and CATEGORY_PROMPT in m.body)


async def test_no_match_says_so_and_keeps_the_step(bot: Harness) -> None:
    bob = bot.sandbox.user(1002, "Bob", language_code="en")
    await _at_where(bot, bob)
    await bob.send("Zebra house")
    refusal = await bob.expect(text_contains="Nothing matches “Zebra house”")
    assert "📋 Choose on a list" in refusal.button_texts and CANCEL in refusal.button_texts
    draft = await drafts.get_draft(bot.store.uow(), await _person_id(bot, 1002))
    assert draft is not None and draft.step == "where" and "room_id" not in draft.data
    # Typing again searches again; the list is still one tap away.
    await bob.send("W1-101")
    await bob.expect(text_contains=CATEGORY_PROMPT)


async def test_a_forged_match_is_stale(bot: Harness) -> None:
    from bot.callbacks import Pick

    bob = bot.sandbox.user(1002, "Bob", language_code="en")
    await _at_where(bot, bob)
    await bob.send("E1-2")
    matches = await bob.expect(text_contains="Matching “E1-2”")
    # W1-101 exists, but was not among the matches shown.
    await bob.press_forged(
        matches, Pick("where", "room", bot.places.room("W1-101").room_id).pack()
    )
    await bob.expect(text_contains="out of date")
    again = await bob.expect(text_contains="Matching “E1-2”")
    assert again.button_texts[0] == "E1-201"


# --- the way back ---------------------------------------------------------------------------


async def _back(user: UserHandle, shown: BotMessage, expected: str) -> BotMessage:
    assert BACK in shown.button_texts and CANCEL in shown.button_texts, shown
    await user.press(shown, BACK)
    return await user.wait_for_edit(shown, lambda m: expected in m.body)


async def test_back_from_every_step(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    where = await _at_where(bot, alice)
    assert CANCEL in where.button_texts  # the first step: Cancel, nothing before it
    await alice.press(where, "📋 Choose on a list")
    campus = await alice.wait_for_edit(where, lambda m: "Choose the campus" in m.body)
    where = await _back(alice, campus, WHERE_PROMPT)
    await alice.press(where, "📋 Choose on a list")
    campus = await alice.wait_for_edit(where, lambda m: "Choose the campus" in m.body)
    await alice.press(campus, "東校區")
    building = await alice.wait_for_edit(campus, lambda m: "Choose the building" in m.body)
    campus = await _back(alice, building, "Choose the campus")
    await alice.press(campus, "東校區")
    building = await alice.wait_for_edit(campus, lambda m: "Choose the building" in m.body)
    await alice.press(building, "E1公寓")
    floor = await alice.wait_for_edit(building, lambda m: "Choose the floor" in m.body)
    building = await _back(alice, floor, "Choose the building")
    await alice.press(building, "E1公寓")
    floor = await alice.wait_for_edit(building, lambda m: "Choose the floor" in m.body)
    await alice.press(floor, "1")
    room = await alice.wait_for_edit(floor, lambda m: "Choose the room" in m.body)
    floor = await _back(alice, room, "Choose the floor")
    await alice.press(floor, "1")
    room = await alice.wait_for_edit(floor, lambda m: "Choose the room" in m.body)
    await alice.press(room, "101")
    category = await alice.wait_for_edit(room, lambda m: CATEGORY_PROMPT in m.body)
    # Back from the category: "where is it?", whose Back returns to the room chosen.
    where = await _back(alice, category, WHERE_PROMPT)
    category = await _back(alice, where, CATEGORY_PROMPT)
    await alice.press(category, "🚰 Water & plumbing")
    message = await alice.wait_for_edit(category, lambda m: MESSAGE_PROMPT in m.body)
    category = await _back(alice, message, CATEGORY_PROMPT)
    await alice.press(category, "🚰 Water & plumbing")
    message = await alice.wait_for_edit(category, lambda m: MESSAGE_PROMPT in m.body)
    await alice.send("The tap drips.")
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    message = await _back(alice, summary, MESSAGE_PROMPT)
    await alice.send("The tap drips, and the sink is loose.")
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    assert "sink is loose" in summary.body
    await alice.press(summary, "✏️ Edit")
    edit = await alice.wait_for_edit(summary, lambda m: "What would you like to change" in m.body)
    summary = await _back(alice, edit, SUMMARY_PROMPT)
    await alice.press(summary, "✏️ Edit")
    edit = await alice.wait_for_edit(summary, lambda m: "What would you like to change" in m.body)
    await alice.press(edit, "⚡ Urgency")
    urgency = await alice.wait_for_edit(edit, lambda m: "How urgent" in m.body)
    summary = await _back(alice, urgency, SUMMARY_PROMPT)
    # A field opened through Edit goes back to the summary, not to the step before it.
    for field, prompt in (("📍 Place", WHERE_PROMPT), ("🏷 Category", CATEGORY_PROMPT)):
        await alice.press(summary, "✏️ Edit")
        edit = await alice.wait_for_edit(summary, lambda m: "change" in m.body)
        await alice.press(edit, field)
        opened = await alice.wait_for_edit(edit)
        assert prompt in opened.body
        summary = await _back(alice, opened, SUMMARY_PROMPT)
        assert "sink is loose" in summary.body
    # The phone step's keyboard is under the text field: its Back is typed.
    await alice.press(summary, "📱 Add a phone number")
    ask = await alice.expect(text_contains="Share a phone number")
    keys = [b.text for row in ask.reply_keyboard or [] for b in row]
    assert BACK in keys and CANCEL in keys
    await alice.send(BACK)
    await alice.expect(text_contains="The phone number stays as it was.")
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    await alice.press(summary, CANCEL)
    await alice.wait_for_edit(summary, lambda m: "Cancelled" in m.body)
    assert await drafts.get_draft(bot.store.uow(), await _person_id(bot, 1001)) is None
    _no_bare_emoji(alice)


async def test_back_from_the_duplicate_question(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await file_report(alice)
    bob = bot.sandbox.user(1002, "Bob", language_code="en")
    await bob.command("start", room_payload("E1-101"))
    step = await bob.expect(text_contains=CATEGORY_PROMPT)
    await bob.press(step, "🚰 Water & plumbing")
    guard = await bob.wait_for_edit(step, lambda m: "already an open ticket" in m.body)
    await _back(bob, guard, CATEGORY_PROMPT)


# --- the summary's toggles --------------------------------------------------------------------


async def test_urgent_is_one_tap_on_the_summary_and_back_again(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await alice.command("start", room_payload("E1-101"))
    step = await alice.expect(text_contains=CATEGORY_PROMPT)
    await alice.press(step, "❄️ Air-con & heating")
    await alice.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await alice.send("The heating is off and it is freezing.")
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    assert "⚡ Normal" in summary.body
    await alice.press(summary, "⚡ Mark as urgent")
    await alice.wait_for_edit(summary, lambda m: "⚡ Urgent" in m.body)
    await alice.press(summary, "↩️ Not urgent after all")
    await alice.wait_for_edit(summary, lambda m: "⚡ Normal" in m.body)
    await alice.press(summary, "⚡ Mark as urgent")
    await alice.wait_for_edit(summary, lambda m: "⚡ Urgent" in m.body)
    await alice.press(summary, SUBMIT)
    number = await _number(alice)
    assert (await ticket_by_number(bot.store, number)).urgency == "urgent"
    assert actions(alice) == 7  # the four, and three taps of the toggle


async def test_dont_share_the_saved_phone_is_one_tap_on_the_summary(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    await alice.command("start", room_payload("E1-101"))
    step = await alice.expect(text_contains=CATEGORY_PROMPT)
    await alice.press(step, "🚰 Water & plumbing")
    await alice.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await alice.send("The tap drips.")
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    await alice.press(summary, "📱 Add a phone number")
    await alice.expect(text_contains="Share a phone number")
    await alice.share_contact("+8613811112222")
    await alice.expect(text_contains="phone number saved")
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    await alice.press(summary, SUBMIT)
    await _number(alice)

    # The next report carries the saved number; "don't share" takes it off in one tap.
    await alice.command("start", room_payload("E1-102"))
    step = await alice.expect(text_contains=CATEGORY_PROMPT)
    await alice.press(step, "💡 Electrical")
    await alice.wait_for_edit(step, lambda m: MESSAGE_PROMPT in m.body)
    await alice.send("The lamp flickers.")
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    assert "+8613811112222" in summary.body
    await alice.press(summary, "🙈 Don't share my phone")
    await alice.wait_for_edit(summary, lambda m: "not given" in m.body)
    await alice.press(summary, SUBMIT)
    number = await _number(alice)
    async with bot.store.uow() as uow:
        ticket = (
            await uow.session.execute(select(Ticket).where(Ticket.number == number))
        ).scalar_one()
    assert ticket.contact_phone is None
