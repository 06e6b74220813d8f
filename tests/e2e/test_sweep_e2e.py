"""A whole sweep of E1公寓 through the bot with two inspectors: faults on several items of
one room (a note, and a photo with a caption), "nobody home" reaching the residents and
their answers, a stop and a resume across a restart, and the supervisor's closing report
checked against the tickets that were filed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date

from sqlmodel import col, select

from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.directory.profiles import set_room
from store.lifecycle import Role
from store.models import SweepRoom, Ticket, TicketFollower, TicketPhoto
from tests.support.chats import STALE, WAIT, actor
from tests.support.harness import Harness
from tests.support.report_steps import NUMBER
from tests.support.rows import outbox_kinds
from tests.support.world import E1, set_building_supervisor

NOBODY_HOME = "🏠 Nobody home"
ROOM_DONE = "➡️ Room done, next"


def _is_card(code: str) -> Callable[[BotMessage], bool]:
    """Whether a message is the room card of `code`."""
    return lambda m: f"({code})" in m.body and "Tick each item" in m.body


async def _card(user: UserHandle, code: str) -> BotMessage:
    """The room card for `code`, arriving as a new message."""
    return await user.next_message(_is_card(code), timeout=WAIT)


async def _fault(user: UserHandle, card: BotMessage, item: str, **note: str) -> str:
    """Press ❌ on an item, send the note (text, or a photo with `caption`); returns the
    ticket number. The next card arrives as a new message."""
    await user.press(card, "❌ " + item)
    await user.wait_for_edit(card, lambda m: f"❌ {item}: describe the fault" in m.body)
    if "caption" in note:
        await user.send_photo(caption=note["caption"])
    else:
        await user.send(note["text"])
    filed = await user.expect(text_contains="filed.", timeout=WAIT)
    found = NUMBER.search(filed.body)
    assert found is not None, filed
    return found.group()


async def test_two_inspectors_sweep_a_building_and_the_supervisor_gets_the_report(
    bot: Harness,
) -> None:
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    ivan = await actor(bot, 6001, "Ivan", Role.INSPECTOR, buildings=(E1,))
    iris = await actor(bot, 6002, "Iris", Role.INSPECTOR, buildings=(E1,))
    rita = await actor(bot, 1001, "Rita")
    ron = await actor(bot, 1002, "Ron")
    # Sue is E1's named supervisor.
    await set_building_supervisor(bot.store, bot.places.building(E1).id, sue.id)
    # Rita sets her room in the bot; Ron's is on file already.
    await rita.user.command("myroom")
    await rita.user.expect(text_contains="Type the code of your room")
    await rita.user.send("E1-102")
    await rita.user.expect(text_contains="Your room is now E1-102")
    await set_room(bot.store.uow(), ron.id, bot.places.room("E1-102").room_id)

    # Ivan starts the campaign with the dorm-room checklist; he is at E1-101.
    await ivan.user.command("sweep", E1)
    choose = await ivan.user.expect(text_contains=f"Sweep {E1}: which checklist?")
    assert choose.button_texts == ["Dorm room", "Classroom", "Public area", "Office"]
    await ivan.user.press(choose, "Dorm room")
    await ivan.user.wait_for_edit(
        choose, lambda m: "Campaign started for E1公寓: 4 rooms" in m.body
    )
    card_101 = await _card(ivan.user, "E1-101")
    assert "Floor 1 · room 101" in card_101.body and "0 residents" in card_101.body
    assert {"✅ Lights", "❌ Lights", "✅ Taps & drains", NOBODY_HOME, "⏸ Stop"} <= set(
        card_101.button_texts
    )

    # Iris joins from /sweep and gets the next room, E1-102, with its two residents.
    await iris.user.command("sweep")
    listing = await iris.user.expect(text_contains="Open campaigns")
    await iris.user.press(listing, f"🏢 {E1} · 0/4 rooms")
    card_102 = await iris.user.wait_for_edit(listing, _is_card("E1-102"))
    assert "2 residents on file" in card_102.body

    # Ivan opens a fault by mistake and goes back: his next message files nothing.
    await ivan.user.press(card_101, "❌ Windows")
    await ivan.user.wait_for_edit(card_101, lambda m: "Windows: describe the fault" in m.body)
    await ivan.user.press(card_101, "⬅️ Back")
    await ivan.user.wait_for_edit(card_101, _is_card("E1-101"))
    await ivan.user.send("Checked the windows, all good.")
    await ivan.user.expect(text="Please choose one of the buttons above, or /cancel.")

    # Ivan: lights fine, taps faulty (a note), sockets faulty (a photo with a caption).
    await ivan.user.press(card_101, "✅ Lights")
    await ivan.user.wait_for_edit(card_101, lambda m: "✔︎ Lights" in m.button_texts)
    taps = await _fault(ivan.user, card_101, "Taps & drains", text="Drips all night.")
    card_101 = await _card(ivan.user, "E1-101")
    assert f"🎫 Taps & drains · {taps}" in card_101.button_texts
    sockets = await _fault(ivan.user, card_101, "Sockets", caption="Scorch marks behind the desk")
    card_101 = await _card(ivan.user, "E1-101")
    assert f"🎫 Sockets · {sockets}" in card_101.button_texts
    progress = await ivan.user.press(card_101, "📊 Progress")
    assert progress is not None and progress.show_alert
    assert progress.text == "0/4 rooms done. Faults: Taps & drains 1, Sockets 1"

    # Iris: nobody home at E1-102; both residents are asked.
    nobody = next(b for row in card_102.buttons for b in row if b.text == NOBODY_HOME)
    asked = await iris.user.press(card_102, NOBODY_HOME)
    assert asked is not None and asked.text == "2 residents asked whether anything needs repair."
    card_201 = await iris.user.wait_for_edit(card_102, _is_card("E1-201"))
    # A double tap arriving after the card moved on: out of date, nobody is asked twice.
    again = await iris.user.press_forged(card_102, nobody.callback_data or "")
    assert again is not None and (again.text, again.show_alert) == (STALE, True)
    question = "The building check passed your room E1公寓 102 and nobody was home"
    rita_asked = await rita.user.expect(text_contains=question, timeout=WAIT)
    ron_asked = await ron.user.expect(text_contains=question, timeout=WAIT)
    assert await outbox_kinds(bot.store, rita.id) == ["sweep.nobody_home"]
    assert rita_asked.button_texts == ["🛠 Report a repair", "👍 All fine"]
    await ron.user.press(ron_asked, "👍 All fine")
    await ron.user.wait_for_edit(ron_asked, lambda m: m.body == "Thanks! Nothing to fix then.")
    await rita.user.press(rita_asked, "🛠 Report a repair")
    await rita.user.expect(text_contains="Your room E1-102 (E1公寓 102) is filled in")
    await rita.user.expect(text_contains="What kind of problem")

    # Ivan finishes E1-101 and moves on to the last free room; Iris stops at E1-201.
    await ivan.user.press(card_101, ROOM_DONE)
    await ivan.user.wait_for_edit(card_101, _is_card("E1-1001"))
    await iris.user.press(card_201, "⏸ Stop")
    await iris.user.wait_for_edit(card_201, lambda m: "Stopped" in m.body)

    # Ivan starts describing a fault at E1-1001 but won't send it before the close.
    await ivan.user.press(card_101, "❌ Lights")
    await ivan.user.wait_for_edit(card_101, lambda m: "Lights: describe the fault" in m.body)

    await bot.restart()

    # Iris resumes at the same room, E1-201, with nothing lost.
    await iris.user.command("sweep")
    listing = await iris.user.expect(text_contains="Open campaigns")
    await iris.user.press(listing, f"🏢 {E1} · 2/4 rooms")
    card_201 = await iris.user.wait_for_edit(listing, _is_card("E1-201"))
    await iris.user.press(card_201, "✅ Taps & drains")
    await iris.user.wait_for_edit(card_201, lambda m: "✔︎ Taps & drains" in m.button_texts)
    await iris.user.press(card_201, ROOM_DONE)
    # E1-1001 is Ivan's: nothing left for Iris but closing.
    done = await iris.user.wait_for_edit(card_201, lambda m: "Every room is done" in m.body)
    assert "(3/4 finished)" in done.body
    await iris.user.press(done, "🏁 Close the campaign")
    closed = await iris.user.wait_for_edit(done, lambda m: "closed" in m.body)
    assert closed.body == (
        f"🏁 {E1} closed: 2 checked, 1 nobody home, 1 not reached, 2 tickets. "
        "The supervisor has the report."
    )

    # Sue's report matches what was filed.
    report = await sue.user.expect(text_contains=f"Sweep of {E1} closed", timeout=WAIT)
    async with bot.store.uow() as uow:
        rows = (
            await uow.session.execute(
                select(Ticket).where(col(Ticket.sweep_id).is_not(None)).order_by(Ticket.number)
            )
        ).scalars()
        tickets = [(t.number, t.status, t.requester_id, t.filed_by_id, t.id) for t in rows]
        photos = (
            await uow.session.execute(
                select(TicketPhoto.ticket_id).where(
                    col(TicketPhoto.ticket_id).in_([t[4] for t in tickets])
                )
            )
        ).scalars()
        photo_tickets = list(photos)
        states = (
            await uow.session.execute(select(SweepRoom.state).order_by(col(SweepRoom.position)))
        ).scalars()
        room_states = list(states)
        followed = (await uow.session.execute(select(TicketFollower.ticket_id))).scalars()
        followed_tickets = list(followed)
    assert [(n, r, f) for n, _, r, f, _ in tickets] == [
        (taps, ivan.id, ivan.id),
        (sockets, ivan.id, ivan.id),
    ]
    assert photo_tickets == [tickets[1][4]]  # the photo went with the sockets fault
    assert followed_tickets == []  # nobody lives in E1-101
    assert room_states == ["checked", "nobody_home", "checked", "claimed"]
    status = {"dispatching": "🔎 Finding a technician"}
    expected_tickets = ", ".join(f"{n} {status[s]}" for n, s, *_ in tickets)
    assert report.body == (
        f"🧹 Sweep of {E1} closed: 4 rooms — 2 checked, 1 nobody home, 1 not reached.\n"
        "Faults by item: Taps & drains 1, Sockets 1\n"
        "Faults by floor: 1: 2\n"
        f"Tickets: {expected_tickets}"
    )
    # Ivan's late note files nothing and ends the question; his old card is out of date.
    await ivan.user.send("Flickers.")
    await ivan.user.expect(text_contains="Nothing was filed: this room was finished or taken over")
    await ivan.user.send("Hello?")
    await ivan.user.expect(text="Please choose one of the buttons above, or /cancel.")
    refused = await ivan.user.press(card_101, "⬅️ Back")
    assert refused is not None and (refused.text, refused.show_alert) == (STALE, True)
    async with bot.store.uow() as uow:
        count = len((await uow.session.execute(select(Ticket.id))).all())
    assert count == 2


async def test_sweep_of_a_building_outside_ones_scope_is_refused_before_any_question(
    bot: Harness,
) -> None:
    ivan = await actor(bot, 5301, "Ivan", Role.INSPECTOR, buildings=(E1,))
    await ivan.user.command("sweep", "E2公寓")
    refused = await ivan.user.expect(text_contains="not allowed")
    assert refused.buttons == []  # no checklist question to answer in vain
    await ivan.user.command("sweep", "E1")  # his own building, by its short code
    await ivan.user.expect(text_contains="Sweep E1公寓: which checklist?", timeout=WAIT)


async def test_a_sweep_set_to_repeat_each_term_says_when_it_comes_back(bot: Harness) -> None:
    sue = await actor(bot, 5302, "Sue", Role.SUPERVISOR, buildings=(E1,))
    await sue.user.command("sweep", f"{E1} term")
    await sue.user.expect(text_contains="No term start dates are set", timeout=WAIT)
    bot.store.policy = dataclasses.replace(
        bot.store.policy, term_starts=(date(2020, 2, 24), date(2099, 9, 7))
    )
    await sue.user.command("sweep", f"{E1} term 4w")
    await sue.user.expect(text_contains="either every few weeks or each term", timeout=WAIT)
    await sue.user.command("sweep", f"{E1} 2 term")
    choose = await sue.user.expect(text_contains=f"Sweep {E1}: which checklist?")
    await sue.user.press(choose, "Dorm room")
    started = await sue.user.wait_for_edit(choose, lambda m: "Campaign started" in m.body)
    assert started.body == (  # floor 2 only; the autumn term of 2020 is long past
        f"🧹 Campaign started for {E1}: 1 room.\n🔁 Starts again by itself on 2099-09-07."
    )
