"""Lists that grow with data come a page at a time, inside Telegram's keyboard limits (the
stand-in refuses a bigger keyboard as Telegram does): a technician's /jobs with 250 live
jobs and the Assign picker with 120 technicians on a building. Forged page buttons get a
clear answer."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.callbacks import AssignPage, JobsPage
from sandbox.views import BotMessage
from store.domain.filing import NewTicket, Urgency
from store.intake.report import report
from store.lifecycle import Role, Status
from store.models import Ticket
from tests.support.chats import NOT_FOUND, NOT_PERMITTED, Actor, actor
from tests.support.harness import Harness
from tests.support.rows import ticket_row
from tests.support.world import E1, file_in_room, make_person

NEXT, PREV = "Next ▶️", "◀️ Prev"
NUMBER = re.compile(r"· (\S+) ·")
BOTH = pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)


async def _held_jobs(
    bot: Harness, tom_id: int, requester_id: int, urgencies: list[Urgency]
) -> list[int]:
    """Tickets filed in E1, one per urgency given, then held by Tom (assigned straight in
    the table: the seeding is not what is tested, and 250 notices would take minutes)."""
    room = bot.places.room("E1-101").room_id
    ids = []
    for i, urgency in enumerate(urgencies):
        new = NewTicket(requester_id, room, "water", f"Leak number {i}.", urgency=urgency)
        ids.append((await report(bot.store.uow(), new)).ticket.id)
    async with bot.store.uow() as uow:
        await uow.session.execute(
            update(Ticket)
            .where(col(Ticket.id).in_(ids))
            .values(status=Status.ASSIGNED, assignee_id=tom_id)
        )
        await uow.commit()
    return ids


def _numbers(listing: BotMessage) -> list[str]:
    return [m.group(1) for b in listing.button_texts if (m := NUMBER.search(b))]


@BOTH
async def test_jobs_page_through_250_live_jobs(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    tom = await actor(bot, 3001, "Tom", Role.TECHNICIAN, buildings=(E1,))
    urgencies = [Urgency.NORMAL] * 240 + [Urgency.EMERGENCY] * 5 + [Urgency.URGENT] * 5
    ids = await _held_jobs(bot, tom.id, alice.id, urgencies)
    numbers = {i: (await ticket_row(bot.store, i)).number for i in ids}
    # The most urgent first (emergencies, then urgent, then the rest), oldest first within.
    expected = [numbers[i] for i in ids[240:245] + ids[245:] + ids[:240]]

    await tom.user.command("jobs")
    listing = await tom.user.expect(text="Your open jobs (100+):")
    assert _numbers(listing) == expected[:10]
    assert listing.button_texts[-1] == NEXT
    seen = list(_numbers(listing))
    pages = 1
    while NEXT in listing.button_texts:
        await tom.user.press(listing, NEXT)
        listing = await tom.user.wait_for_edit(listing)
        assert listing.button_texts[-2:] == [PREV, NEXT] or listing.button_texts[-1] == PREV
        seen += _numbers(listing)
        pages += 1
    assert (pages, seen) == (25, expected)
    await tom.user.press(listing, PREV)
    listing = await tom.user.wait_for_edit(listing)
    assert _numbers(listing) == expected[230:240]
    # A job from a later page opens, and its "My jobs" goes back to the list.
    await tom.user.press(listing, listing.button_texts[0])
    card = await tom.user.wait_for_edit(listing)
    assert expected[230] in card.body
    await tom.user.press(card, "⬅️ My jobs")
    listing = await tom.user.wait_for_edit(card)
    assert _numbers(listing) == expected[:10]


@BOTH
async def test_a_forged_jobs_page_shows_the_first_page_and_says_so(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    tom = await actor(bot, 3001, "Tom", Role.TECHNICIAN, buildings=(E1,))
    tina = await actor(bot, 3002, "Tina", Role.TECHNICIAN, buildings=(E1,))
    ids = await _held_jobs(bot, tom.id, alice.id, [Urgency.NORMAL] * 12)
    (tinas,) = await _held_jobs(bot, tina.id, alice.id, [Urgency.NORMAL])
    first = [(await ticket_row(bot.store, i)).number for i in ids[:10]]
    await tom.user.command("jobs")
    listing = await tom.user.expect(text="Your open jobs (12):")
    # Someone else's job, no job at all, and the largest id a button may carry.
    for cursor in (tinas, -tinas, 2**31 - 1, -(2**31)):
        await tom.user.press_forged(listing, JobsPage(cursor).pack())
        listing = await tom.user.wait_for_edit(listing, lambda m: "has changed" in m.body)
        assert listing.text == (
            "That list has changed; here is its first page.\nYour open jobs (12):"
        )
        assert _numbers(listing) == first
        # Back to a plain first page before the next forgery, so the edit is seen.
        await tom.user.press(listing, NEXT)
        listing = await tom.user.wait_for_edit(listing)
    # A technician's page button pressed by someone who is not one.
    answer = await alice.user.press_forged(alice.menu, JobsPage(ids[0]).pack())
    assert answer is not None and (answer.text, answer.show_alert) == (NOT_PERMITTED, True)


async def _technicians(bot: Harness, count: int) -> None:
    """`count` technicians covering E1, Tech 1...Tech N; every third one on duty, with
    nothing held (so the order within a duty state is by id)."""
    building = bot.places.building(E1).id
    for n in range(1, count + 1):
        await make_person(
            bot.store, Role.TECHNICIAN, name=f"Tech {n}", buildings=[building], on_duty=n % 3 == 0
        )


async def _picker(bot: Harness, dora: Actor, number: str) -> BotMessage:
    await dora.user.command("queue")
    queue = await dora.user.expect(text_contains="Queue · ")
    await dora.user.press(queue, next(b for b in queue.button_texts if number in b))
    detail = await dora.user.wait_for_edit(queue, lambda m: f"🎫 {number}" in m.body)
    await dora.user.press(detail, "👷 Assign")
    return await dora.user.wait_for_edit(detail, lambda m: "Who should take" in m.body)


def _names(picker: BotMessage) -> list[str]:
    return [m.group(1) for b in picker.button_texts if (m := re.search(r"(Tech \d+) ·", b))]


@BOTH
async def test_the_assign_picker_pages_120_technicians_and_a_typed_name_narrows_it(
    bot: Harness,
) -> None:
    alice = await actor(bot, 1001, "Alice")
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    # Filed before anyone is on duty: no offers (which, to people who never opened the
    # bot, would mark them unreachable and so last).
    ticket_id = await file_in_room(bot.store, bot.places, alice.id)
    await _technicians(bot, 120)
    number = (await ticket_row(bot.store, ticket_id)).number
    on_duty = [f"Tech {n}" for n in range(3, 121, 3)]
    off_duty = [f"Tech {n}" for n in range(1, 121) if n % 3]

    picker = await _picker(bot, dora, number)
    assert "Page 1/12" in picker.body and "Type part of a name" in picker.body
    assert _names(picker) == on_duty[:10]
    assert picker.button_texts[0].startswith("🟢 Tech 3 · 0 open")
    assert picker.button_texts[-2:] == [NEXT, "⬅️ Back"]
    seen = _names(picker)
    while NEXT in picker.button_texts:
        await dora.user.press(picker, NEXT)
        picker = await dora.user.wait_for_edit(picker)
        seen += _names(picker)
    assert seen == on_duty + off_duty and "Page 12/12" in picker.body
    await dora.user.press(picker, PREV)
    picker = await dora.user.wait_for_edit(picker)
    assert "Page 11/12" in picker.body

    # A typed name narrows the list: "tech 11" is Tech 11 and Tech 110...119.
    await dora.user.send("tech 11")
    narrowed = await dora.user.expect(text_contains="Matching “tech 11”: 11 technicians.")
    assert "Page 1/2" in narrowed.body
    assert _names(narrowed) == ["Tech 111", "Tech 114", "Tech 117", "Tech 11"] + [
        f"Tech {n}" for n in (110, 112, 113, 115, 116, 118)
    ]
    await dora.user.press(narrowed, NEXT)
    narrowed = await dora.user.wait_for_edit(narrowed)
    assert _names(narrowed) == ["Tech 119"] and "Page 2/2" in narrowed.body
    await dora.user.send("nobody like this")
    nothing = await dora.user.expect(text_contains="No technician for")
    assert nothing.button_texts == ["👥 Everyone", "⬅️ Back"]
    await dora.user.send("Tech 117")
    one = await dora.user.expect(text_contains="Matching “Tech 117”: 1 technician.")
    await dora.user.press(one, next(b for b in one.button_texts if "Tech 117" in b))
    await dora.user.wait_for_edit(one, lambda m: f"{number} assigned to Tech 117" in m.body)
    ticket = await ticket_row(bot.store, ticket_id)
    assert ticket.status == Status.ASSIGNED
    # The name question ended with the pick: a text is just a text again.
    await dora.user.send("tech 2")
    await dora.user.expect(text_contains="Please choose one of the buttons")


@BOTH
async def test_forged_picker_pages_get_a_clear_answer(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    ticket_id = await file_in_room(bot.store, bot.places, alice.id)
    elsewhere = await file_in_room(bot.store, bot.places, alice.id, "W1-101")
    await _technicians(bot, 25)
    number = (await ticket_row(bot.store, ticket_id)).number
    picker = await _picker(bot, dora, number)
    # An offset past the end (or below zero) shows the last (or first) page there is.
    await dora.user.press_forged(picker, AssignPage(ticket_id, 2**31 - 1, 0).pack())
    picker = await dora.user.wait_for_edit(picker, lambda m: "Page 3/3" in m.body)
    assert len(_names(picker)) == 5
    await dora.user.press_forged(picker, AssignPage(ticket_id, -50, 0).pack())
    picker = await dora.user.wait_for_edit(picker, lambda m: "Page 1/3" in m.body)
    # "named" without a name typed for this ticket is the whole list.
    await dora.user.press_forged(picker, AssignPage(ticket_id, 10, 1).pack())
    picker = await dora.user.wait_for_edit(picker, lambda m: "Page 2/3" in m.body)
    # A ticket outside Dora's buildings, or none at all: refused, the picker unchanged.
    for other in (elsewhere, 2**31 - 1):
        answer = await dora.user.press_forged(picker, AssignPage(other, 0, 0).pack())
        assert answer is not None and answer.show_alert, answer
        assert answer.text == NOT_FOUND
    assert "Page 2/3" in picker.body
