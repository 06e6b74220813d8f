"""/jobs: a technician's jobs and their next steps, as the technician and requester see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import select

from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.intake import drafts
from store.lifecycle import Status
from store.models import TicketPhoto
from tests.support.chats import (
    ACCEPT,
    Staff,
    answers_to,
    offer_for,
    open_job,
    started,
    technicians,
    until,
)
from tests.support.harness import Harness
from tests.support.report_steps import file_report
from tests.support.rows import event_actions, offers_of, ticket_by_number
from tests.support.world import Clock

STALE = "This button is out of date. Please use the latest message."
# Monday 2 March 2026, 16:00 in the campus zone (Asia/Shanghai).
MONDAY_8_UTC = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass
class Job:
    """An accepted job: who reported it, who does it, and its number and id."""

    alice: UserHandle
    tech: Staff
    number: str
    id: int
    others: list[Staff]


async def _accepted_job(bot: Harness, *others: str) -> Job:
    """Alice reports, Tom (on duty, plus `others`) accepts it from his offer."""
    bot.store.clock = Clock(MONDAY_8_UTC)
    tom, *rest = await technicians(bot, "Tom", *others)
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice, description="The tap drips.")
    offer = await offer_for(tom.user, number)
    await tom.user.press(offer, ACCEPT)
    await tom.user.expect(text_contains=f"{number} is yours")
    await alice.expect(text_contains="Tom took your job")
    row = await ticket_by_number(bot.store, number)
    assert row.id is not None
    return Job(alice, tom, number, row.id, rest)


async def test_list_and_open_a_job(bot: Harness) -> None:
    bot.store.clock = Clock(MONDAY_8_UTC)
    (tom,) = await technicians(bot, "Tom")
    await tom.user.command("jobs")
    await tom.user.expect(text_contains="You have no open jobs")

    job = await _accepted_job(bot)
    await tom.user.command("jobs")
    listing = await tom.user.expect(text="Your open jobs (1):")
    assert listing.button_texts == [f"👷 Assigned · {job.number} · 東校區 · E1公寓 · 101"]
    await tom.user.press(listing, listing.button_texts[0])
    card = await tom.user.wait_for_edit(listing)
    assert job.number in card.body and "The tap drips." in card.body
    assert "東校區 · E1公寓 · 101" in card.body and "Requester's phone: not given" in card.body
    assert card.button_texts == [
        "🕒 Propose a visit time",
        "▶️ Start work",
        "↩️ Give back to dispatch",
        "⬅️ My jobs",
    ]
    await tom.user.press(card, "⬅️ My jobs")
    back = await tom.user.wait_for_edit(card)
    assert back.body == "Your open jobs (1):"


async def test_visit_time_proposed_and_confirmed(bot: Harness) -> None:
    job = await _accepted_job(bot)
    tom, alice = job.tech.user, job.alice
    card = await open_job(tom, job.number)
    await tom.press(card, "🕒 Propose a visit time")
    slots = await tom.wait_for_edit(card, lambda m: "When can you come" in m.body)
    # Campus time is 16:00 on Monday: the first bookable slot is 19:00 that day.
    assert slots.button_texts[0] == "Mon 2 Mar 19:00" and "⬅️ Back" in slots.button_texts
    # A double tap: the second press comes before the slots are gone, and does not send
    # Alice a second proposal.
    await tom.press(slots, "Tue 3 Mar 09:00", wait_answer=False)
    again = await tom.press(slots, "Tue 3 Mar 11:00")
    assert again is not None and again.show_alert and again.text == STALE
    await tom.expect(text_contains=f"Proposed 2026-03-03 09:00 for {job.number}")
    # The answered picker keeps no buttons to press.
    await tom.wait_for_edit(slots, lambda m: not m.buttons)

    proposal = await alice.expect(text_contains="proposes to come at 2026-03-03 09:00")
    assert proposal.button_texts == ["👍 That time works", "🕒 Ask for another time"]
    await alice.assert_no_message(0.2)
    await alice.press(proposal, "👍 That time works")
    await alice.wait_for_edit(
        proposal, lambda m: "the technician will come at 2026-03-03 09:00" in m.body
    )
    await tom.expect(text_contains=f"{job.number}: the requester accepted the visit")

    row = await ticket_by_number(bot.store, job.number)
    assert row.visit_confirmed and row.visit_at == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    card = await open_job(tom, job.number)
    assert "Visit: 2026-03-03 09:00 (confirmed)" in card.body


async def test_start_defer_resume_and_complete_with_a_photo(bot: Harness) -> None:
    job = await _accepted_job(bot)
    tom, alice = job.tech.user, job.alice
    card = await open_job(tom, job.number)

    done = await tom.press(card, "▶️ Start work")
    assert done is not None and done.text == "Done."
    card = await tom.wait_for_edit(card, lambda m: "In progress" in m.body)
    assert card.button_texts == ["✅ Complete", "📅 Needs more time", "⬅️ My jobs"]
    await alice.expect(text_contains=f"{job.number}: work has started")
    assert (await ticket_by_number(bot.store, job.number)).status == Status.IN_PROGRESS

    await tom.press(card, "📅 Needs more time")
    days = await tom.wait_for_edit(card, lambda m: "By when" in m.body)
    await tom.press(days, "+2 d")
    why = await tom.wait_for_edit(days, lambda m: "Why does it need more time" in m.body)
    assert "Promised by 2026-03-04 18:00" in why.body
    await tom.press(why, "Parts to order")
    await tom.expect(text_contains=f"{job.number} is scheduled")
    promise = await alice.expect(text_contains="needs more time")
    assert promise.body == (
        f"📅 {job.number}: this needs more time (Parts to order). Promised by 2026-03-04 18:00."
    )
    row = await ticket_by_number(bot.store, job.number)
    assert row.status == Status.DEFERRED and row.defer_reason == "Parts to order"
    assert row.promised_at == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # 18:00 campus time

    card = await open_job(tom, job.number)
    assert "Promised by 2026-03-04 18:00: Parts to order" in card.body
    await tom.press(card, "▶️ Resume")
    card = await tom.wait_for_edit(card, lambda m: "In progress" in m.body)
    await alice.expect(text_contains=f"{job.number}: work has resumed")

    await tom.press(card, "✅ Complete")
    await tom.wait_for_edit(card, lambda m: "Send a photo of the finished repair" in m.body)
    await tom.send_photo()
    await tom.expect(text_contains=f"{job.number} is completed")
    finished = await alice.expect(text_contains=f"{job.number} is done")
    assert finished.photo is not None  # the photo of the result comes along
    assert "5★" in finished.button_texts and "🔁 Not fixed" in finished.button_texts

    row = await ticket_by_number(bot.store, job.number)
    assert row.status == Status.COMPLETED and row.completed_at is not None
    async with bot.store.uow() as uow:
        kinds = (
            await uow.session.execute(
                select(TicketPhoto.kind).where(TicketPhoto.ticket_id == job.id)
            )
        ).scalars()
        assert list(kinds) == ["result"]
    actions = [a for a, _ in await event_actions(bot.store, job.id)]
    assert actions[-4:] == ["start", "defer", "resume", "complete"]


async def test_defer_with_a_typed_date_and_reason(bot: Harness) -> None:
    job = await _accepted_job(bot)
    tom, alice = job.tech.user, job.alice
    card = await open_job(tom, job.number)
    await tom.press(card, "▶️ Start work")
    card = await tom.wait_for_edit(card, lambda m: "In progress" in m.body)
    await tom.press(card, "📅 Needs more time")
    await tom.wait_for_edit(card, lambda m: "By when" in m.body)

    # A date in another format gets the hint, and the question is still open.
    await tom.send("next Tuesday")
    hint = await tom.expect(text_contains="YYYY-MM-DD")
    assert hint.body == "Please type the date as YYYY-MM-DD, e.g. 2026-03-12."
    await tom.send("2026-03-01")
    await tom.expect(text_contains="That date is in the past")
    assert (await ticket_by_number(bot.store, job.number)).status == Status.IN_PROGRESS

    await tom.send("2026-03-10")
    why = await tom.expect(text_contains="Why does it need more time")
    assert "Promised by 2026-03-10 18:00" in why.body
    await tom.send("The whole pipe must be replaced")
    await tom.expect(text_contains=f"{job.number} is scheduled")
    promise = await alice.expect(text_contains="needs more time")
    assert "(The whole pipe must be replaced)" in promise.body
    assert "Promised by 2026-03-10 18:00" in promise.body

    row = await ticket_by_number(bot.store, job.number)
    assert row.status == Status.DEFERRED
    assert row.defer_reason == "The whole pipe must be replaced"
    assert row.promised_at == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert await drafts.get_draft(bot.store.uow(), job.tech.id) is None  # question answered


async def test_release_with_a_typed_reason_reoffers_to_others(bot: Harness) -> None:
    job = await _accepted_job(bot, "Una")
    tom, alice, una = job.tech.user, job.alice, job.others[0].user
    first_offer = await una.next_message(lambda m: job.number in m.body)
    await until(bot, lambda: "taken by Tom" in first_offer.body, "Una's offer marked taken")

    card = await open_job(tom, job.number)
    await tom.press(card, "↩️ Give back to dispatch")
    why = await tom.wait_for_edit(card, lambda m: "Why are you giving it back" in m.body)
    assert why.button_texts[:3] == ["Not my trade", "Needs a team", "Too busy right now"]
    await tom.send("Needs a ladder I don't have")
    await tom.expect(text_contains=f"{job.number} went back to dispatch")
    await alice.expect(text_contains=f"{job.number} is looking for a technician again")

    again = await offer_for(una, job.number)  # a fresh offer to the others...
    assert again.message_id != first_offer.message_id
    await tom.assert_no_message(0.3)  # ...but not to the one who gave it back
    row = await ticket_by_number(bot.store, job.number)
    assert row.status == Status.DISPATCHING and row.assignee_id is None
    assert await offers_of(bot.store, job.id) == {job.others[0].id: None}
    assert ("release", "Needs a ladder I don't have") in await event_actions(bot.store, job.id)


async def test_forged_start_on_someone_elses_job_changes_nothing(bot: Harness) -> None:
    job = await _accepted_job(bot, "Una")
    una = job.others[0]
    before = await event_actions(bot.store, job.id)
    any_message = una.user.messages[-1]
    # Start it, or begin to propose a time, hand it back or defer it: all refused at once,
    # without a question parked for Una.
    for data in ("start", "visit", "release", "defer", "complete"):
        refusal = await una.user.press_forged(any_message, f"j:{data}:{job.id}")
        assert refusal is not None and refusal.show_alert, data
        assert refusal.text == "You're not allowed to do that.", data
        assert await drafts.get_draft(bot.store.uow(), una.id) is None, data
    slot = int(datetime(2026, 3, 3, 1, 0, tzinfo=UTC).timestamp() // 60)
    for data in (f"vs:{job.id}:{slot}", f"dp:{job.id}:2:-", f"dp:{job.id}:2:parts"):
        refusal = await una.user.press_forged(any_message, data)
        assert refusal is not None and refusal.show_alert, data
        assert refusal.text == "You're not allowed to do that.", data
    row = await ticket_by_number(bot.store, job.number)
    assert row.status == Status.ASSIGNED and row.assignee_id == job.tech.id
    assert row.visit_at is None
    assert await event_actions(bot.store, job.id) == before
    await job.alice.assert_no_message(0.2)


async def _deferral_reasons(bot: Harness, job: Job) -> BotMessage:
    """Start the job and pick "+2 d"; returns the message asking why."""
    tom = job.tech.user
    card = await open_job(tom, job.number)
    await tom.press(card, "▶️ Start work")
    card = await tom.wait_for_edit(card, lambda m: "In progress" in m.body)
    await tom.press(card, "📅 Needs more time")
    days = await tom.wait_for_edit(card, lambda m: "By when" in m.body)
    await tom.press(days, "+2 d")
    return await tom.wait_for_edit(days, lambda m: "Why does it need more time" in m.body)


async def test_a_second_tap_on_a_reason_does_not_defer_again(bot: Harness) -> None:
    job = await _accepted_job(bot)
    tom, alice = job.tech.user, job.alice
    why = await _deferral_reasons(bot, job)
    earlier = len(why.callback_answers)
    await tom.press(why, "Parts to order", wait_answer=False)
    await tom.press(why, "Rewiring needed", wait_answer=False)  # a nervous double tap
    first, second = await answers_to(bot, why, 2, skip=earlier)
    assert not first.show_alert
    # The stale button says what changed.
    assert second.show_alert
    assert second.text == "That's no longer possible: the ticket is now 📅 Scheduled."
    await tom.expect(text_contains=f"{job.number} is scheduled")
    await alice.expect(text_contains="needs more time (Parts to order)")
    await alice.assert_no_message(0.3)
    actions = [a for a, _ in await event_actions(bot.store, job.id)]
    assert actions.count("defer") == 1 and "redefer" not in actions
    assert (await ticket_by_number(bot.store, job.number)).defer_reason == "Parts to order"


async def test_a_typed_date_too_far_ahead_is_refused_at_once(bot: Harness) -> None:
    job = await _accepted_job(bot)
    tom = job.tech.user
    why = await _deferral_reasons(bot, job)
    await tom.press(why, "⬅️ Back")
    card = await tom.wait_for_edit(why, lambda m: "Needs more time" in str(m.button_texts))
    await tom.press(card, "📅 Needs more time")
    await tom.wait_for_edit(card, lambda m: "By when" in m.body)
    await tom.send("2027-03-10")  # beyond the 90 days a promise may reach
    refusal = await tom.expect(text_contains="days ahead")
    assert refusal.body == "That's more than 90 days ahead. Please choose an earlier date."
    await tom.send("2026-04-30")  # the date question is still open
    await tom.expect(text_contains="Promised by 2026-04-30 18:00")
    await tom.send("Special valve on back-order")
    await tom.expect(text_contains=f"{job.number} is scheduled")
    row = await ticket_by_number(bot.store, job.number)
    assert row.status == Status.DEFERRED and row.defer_reason == "Special valve on back-order"
