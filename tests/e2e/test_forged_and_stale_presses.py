"""Forged and stale presses, on every kind of button: refused with a clear answer, nothing
changed.

Each case is a press (or a typed answer) that a tampered client, or an old message pressed
after the ticket moved on, could send. The server must refuse it with a clear answer and
leave everything as it was; where the press is legitimate it must work.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.callbacks import JobAction, SweepAct, TicketAction, VisitAnswer, VisitSlot
from store.intake import drafts
from store.lifecycle import Role, Status
from store.models import SweepCampaign
from store.repair import dispatch, requester, work
from tests.support.chats import NOT_FOUND, NOT_PERMITTED, STALE, WAIT, actor, shows, until
from tests.support.harness import Harness
from tests.support.report_steps import SUMMARY_PROMPT, to_summary
from tests.support.rows import event_actions, ticket_row
from tests.support.world import E1, W1, file_in_room

USE_BUTTONS = "Please choose one of the buttons above, or /cancel."


# --- dispatcher ---------------------------------------------------------------------------


async def test_an_old_technician_picker_does_not_take_the_job_from_whoever_accepted_it(
    bot: Harness,
) -> None:
    alice = await actor(bot, 1001, "Alice")
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN, buildings=(E1,))
    tom = await actor(bot, 3002, "Tom", Role.TECHNICIAN, buildings=(E1,))
    ticket_id = await file_in_room(bot.store, bot.places, alice.id)
    number = (await ticket_row(bot.store, ticket_id)).number
    await dora.user.command("queue")
    queue = await dora.user.expect(text_contains="Queue · Unassigned (1):")
    await dora.user.press(queue, next(b for b in queue.button_texts if number in b))
    detail = await dora.user.wait_for_edit(queue, lambda m: f"🎫 {number}" in m.body)
    await dora.user.press(detail, "👷 Assign")
    pick = await dora.user.wait_for_edit(detail, lambda m: "Who should take" in m.body)
    # While Dora looks at the list, Tina accepts the job (first accept wins).
    await dispatch.accept(bot.store.uow(), ticket_id, tina.id)
    before = await event_actions(bot.store, ticket_id)
    answer = await dora.user.press(pick, next(b for b in pick.button_texts if "Tom" in b))
    assert answer is not None and answer.show_alert, answer
    assert answer.text == "Too late: Tina already took this job."
    ticket = await ticket_row(bot.store, ticket_id)
    assert (ticket.status, ticket.assignee_id) == (Status.ASSIGNED, tina.id)
    assert await event_actions(bot.store, ticket_id) == before
    await tom.user.assert_no_message(within=0.3)


# --- technician -----------------------------------------------------------------------------


async def _assigned(bot: Harness) -> tuple[int, int, int]:
    """Alice's ticket assigned to Tom (Telegram id 3001) by Dora; returns the ticket's,
    Tom's and Dora's ids."""
    alice = await actor(bot, 1001, "Alice")
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    tom = await actor(bot, 3001, "Tom", Role.TECHNICIAN, buildings=(E1,))
    ticket_id = await file_in_room(bot.store, bot.places, alice.id)
    await dispatch.assign(bot.store.uow(), ticket_id, dora.id, tom.id)
    return ticket_id, tom.id, dora.id


@pytest.mark.parametrize("minutes", [10**17, -(2**31)], ids=["huge", "negative"])
async def test_a_forged_visit_time_beyond_any_calendar_is_a_stale_button(
    bot: Harness, minutes: int
) -> None:
    ticket_id, _tom_id, _dora_id = await _assigned(bot)
    tom = bot.sandbox.user(3001, "Tom", language_code="en")
    menu = tom.messages[-1]
    await tom.press_forged(menu, JobAction("visit", ticket_id).pack())
    await tom.wait_for_edit(menu, lambda m: "When can you come?" in m.body)
    answer = await tom.press_forged(menu, VisitSlot(ticket_id, minutes).pack())
    assert answer is not None and (answer.text, answer.show_alert) == (STALE, True), answer
    assert (await ticket_row(bot.store, ticket_id)).visit_at is None


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_numbers_no_column_holds_or_no_int_parses_are_stale_buttons(
    bot: Harness,
) -> None:
    sam = await actor(bot, 1002, "Sam")
    tom = await actor(bot, 3001, "Tom", Role.TECHNICIAN, buildings=(E1,))
    big = 3_000_000_000  # beyond PostgreSQL's INTEGER, the type of every id column
    for who, data in (
        # str.isdigit() passes these, int() does not (an error on either database).
        (sam, "t:urge:--5"),
        (sam, "mp:²"),
        # Not an id PostgreSQL can look up (an error there).
        (sam, f"t:open:{big}"),
        (sam, f"r:{big}:5"),
        (sam, f"mp:{big}"),
        (tom, f"j:start:{big}"),
        (tom, f"o:accept:{big}"),
    ):
        answer = await who.user.press_forged(who.menu, data)
        assert answer is not None and (answer.text, answer.show_alert) == (STALE, True), data


async def test_a_typed_reason_for_a_job_taken_away_meanwhile_ends_the_question(
    bot: Harness,
) -> None:
    ticket_id, tom_id, dora_id = await _assigned(bot)
    una = await actor(bot, 3002, "Una", Role.TECHNICIAN, buildings=(E1,))
    tom = bot.sandbox.user(3001, "Tom", language_code="en")
    menu = tom.messages[-1]
    await tom.press_forged(menu, JobAction("release", ticket_id).pack())
    await tom.wait_for_edit(menu, lambda m: "Why are you giving it back?" in m.body)
    # Meanwhile the dispatcher gives the job to Una.
    await dispatch.assign(bot.store.uow(), ticket_id, dora_id, una.id)
    await tom.send("Needs a ladder")
    await tom.expect(text=NOT_PERMITTED)
    await tom.send("Hello?")  # no longer taken as the reason
    await tom.expect(text=USE_BUTTONS)
    assert await drafts.get_draft(bot.store.uow(), tom_id) is None
    ticket = await ticket_row(bot.store, ticket_id)
    assert (ticket.status, ticket.assignee_id) == (Status.ASSIGNED, una.id)


async def test_a_job_from_an_old_list_that_went_to_someone_else_says_so(bot: Harness) -> None:
    ticket_id, _tom_id, dora_id = await _assigned(bot)
    una = await actor(bot, 3002, "Una", Role.TECHNICIAN, buildings=(E1,))
    tom = bot.sandbox.user(3001, "Tom", language_code="en")
    await tom.command("jobs")
    listing = await tom.expect(text_contains="Your open jobs")
    number = (await ticket_row(bot.store, ticket_id)).number
    await dispatch.assign(bot.store.uow(), ticket_id, dora_id, una.id)
    # The press was answered before the job was looked up: the refusal comes as a message.
    await tom.press(listing, next(b for b in listing.button_texts if number in b))
    await until(bot, shows(tom, NOT_PERMITTED), "Tom to be told the job is not his")
    assert listing.edits == 0


# --- requester ------------------------------------------------------------------------------


async def test_complain_on_a_cancelled_ticket_is_refused_before_asking(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    ticket_id = await file_in_room(bot.store, bot.places, alice.id)
    await requester.cancel(bot.store.uow(), ticket_id, alice.id)
    answer = await alice.user.press_forged(alice.menu, TicketAction("complain", ticket_id).pack())
    assert answer is not None and answer.show_alert, answer
    assert answer.text == "That's no longer possible: the ticket is now 🚫 Cancelled."
    assert await drafts.get_draft(bot.store.uow(), alice.id) is None


async def test_a_complaint_typed_after_the_ticket_was_cancelled_ends_the_question(
    bot: Harness,
) -> None:
    alice = await actor(bot, 1001, "Alice")
    ticket_id = await file_in_room(bot.store, bot.places, alice.id)
    await alice.user.press_forged(alice.menu, TicketAction("complain", ticket_id).pack())
    await alice.user.expect(text_contains="Tell us what went wrong")
    await requester.cancel(bot.store.uow(), ticket_id, alice.id)
    await alice.user.send("Nobody came for days.")
    await alice.user.expect(text_contains="That's no longer possible")
    await alice.user.send("Hello?")
    await alice.user.expect(text=USE_BUTTONS)
    assert await drafts.get_draft(bot.store.uow(), alice.id) is None


async def test_accepting_an_older_visit_proposal_does_not_confirm_a_newer_one(
    bot: Harness,
) -> None:
    ticket_id, tom_id, _dora_id = await _assigned(bot)
    alice = bot.sandbox.user(1001, "Alice", language_code="en")
    first = bot.store.clock() + timedelta(days=1)
    await work.propose_visit(bot.store.uow(), ticket_id, tom_id, first)
    old = await alice.expect(text_contains="proposes to come at", timeout=WAIT)
    # The technician proposes another time before Alice answered the first.
    await work.propose_visit(bot.store.uow(), ticket_id, tom_id, first + timedelta(days=1))
    new = await alice.expect(text_contains="proposes to come at", timeout=WAIT)
    ask_again = next(
        b.callback_data for row in old.buttons for b in row if b.text == "🕒 Ask for another time"
    )
    answer = await alice.press(old, "👍 That time works")
    assert answer is not None and (answer.text, answer.show_alert) == (STALE, True), answer
    assert not (await ticket_row(bot.store, ticket_id)).visit_confirmed
    # The stale proposal loses its buttons; a client that still shows them may press one.
    await alice.wait_for_edit(old, lambda m: not m.buttons)
    assert ask_again is not None
    answer = await alice.press_forged(old, ask_again)
    assert answer is not None and (answer.text, answer.show_alert) == (STALE, True), answer
    assert (await ticket_row(bot.store, ticket_id)).visit_at is not None
    # Nobody but the requester may answer it, even with the right time.
    sam = await actor(bot, 1002, "Sam")
    at = VisitAnswer("ok", ticket_id, int((first + timedelta(days=1)).timestamp() // 60))
    answer = await sam.user.press_forged(sam.menu, at.pack())
    assert answer is not None and (answer.text, answer.show_alert) == (NOT_FOUND, True), answer
    assert not (await ticket_row(bot.store, ticket_id)).visit_confirmed
    # The latest proposal is answered as before.
    await alice.press(new, "👍 That time works")
    await alice.wait_for_edit(new, lambda m: "the technician will come at" in m.body)
    assert (await ticket_row(bot.store, ticket_id)).visit_confirmed


async def test_report_from_an_old_menu_picks_up_the_report_in_progress(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    await to_summary(alice.user, description="The tap drips all night.")
    await alice.user.send_photo()
    await alice.user.expect(text_contains="Photo 1/5 added")
    # The menu from /start is still on screen; its Report button must not start afresh.
    await alice.user.press(alice.menu, "🛠 Report a repair")
    await alice.user.expect(text="Let's continue your report where you left it.")
    await alice.user.expect(text_contains=SUMMARY_PROMPT)
    draft = await drafts.get_draft(bot.store.uow(), alice.id)
    assert draft is not None and draft.step == "summary"
    assert draft.data["description"] == "The tap drips all night."
    assert len(draft.data["photos"]) == 1


async def test_report_while_a_question_is_parked_starts_a_report(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    await alice.user.command("myroom")
    await alice.user.expect(text_contains="Type the code of your room")
    await alice.user.command("report")
    step = await alice.user.next_message()
    # Not an empty "check your report" summary whose Confirm could only be stale.
    assert "Where is it?" in step.body, step
    draft = await drafts.get_draft(bot.store.uow(), alice.id)
    assert draft is not None and draft.step == "where"


# --- sweeps ---------------------------------------------------------------------------------


async def test_sweep_buttons_of_someone_elses_campaign_or_room(bot: Harness) -> None:
    ivan = await actor(bot, 6001, "Ivan", Role.INSPECTOR, buildings=(E1,))
    iris = await actor(bot, 6002, "Iris", Role.INSPECTOR, buildings=(E1,))
    wes = await actor(bot, 6003, "Wes", Role.INSPECTOR, buildings=(W1,))
    await ivan.user.command("sweep", E1)
    choose = await ivan.user.expect(text_contains="which checklist?")
    await ivan.user.press(choose, "Dorm room")
    await ivan.user.expect(text_contains="(E1-101)")
    async with bot.store.uow() as uow:
        campaign_id = (await uow.session.execute(select(SweepCampaign.id))).scalar_one()
    room_id = bot.places.room("E1-101").room_id
    # An inspector of another building sees nothing of the campaign's progress.
    progress = SweepAct("progress", campaign_id, 0, "-").pack()
    answer = await wes.user.press_forged(wes.menu, progress)
    assert answer is not None and (answer.text, answer.show_alert) == (NOT_PERMITTED, True)
    # Nobody but the inspector at a room is asked to describe a fault there: an inspector
    # of another building may not sweep this one at all, a colleague's button is stale.
    for who, told in ((wes, NOT_PERMITTED), (iris, STALE)):
        fault = SweepAct("fault", campaign_id, room_id, "lights").pack()
        answer = await who.user.press_forged(who.menu, fault)
        assert answer is not None and (answer.text, answer.show_alert) == (told, True), who
        assert await drafts.get_draft(bot.store.uow(), who.id) is None
        assert who.menu.edits == 0
    # Ivan's own buttons still work.
    answer = await ivan.user.press_forged(ivan.menu, progress)
    assert answer is not None and answer.text == "0/4 rooms done. Faults: —"
