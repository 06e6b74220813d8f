"""Job offers: who is offered first, the accept race, declines, escalation, unreachable staff."""

from __future__ import annotations

import pytest

from scheduler.ticks import sla_tick
from store.lifecycle import Role, Status
from store.repair import dispatch
from tests.support.chats import (
    ACCEPT,
    DECLINE,
    Staff,
    answers_to,
    offer_for,
    reconfigure,
    serve_concurrently,
    staff,
    started,
    technicians,
)
from tests.support.harness import Harness
from tests.support.report_steps import file_report, file_report_with_photo
from tests.support.rows import event_actions, offers_of, outbox_rows, person_row, ticket_by_number
from tests.support.world import Clock, make_person

ESCALATED = "needs a technician"
CANT_RECEIVE = "can't receive messages from the bot (blocked or never started it)."


async def _dispatcher(bot: Harness) -> Staff:
    return await staff(bot, 4001, "Dan", Role.DISPATCHER)


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_first_accept_wins_the_others_see_who_took_it(bot: Harness) -> None:
    """Three technicians press Accept at once: one gets the job, the others are told who."""
    await _accept_race(bot)


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_accept_race_with_updates_handled_concurrently(bot: Harness) -> None:
    """The same race with the presses handled in parallel: the database picks the winner."""
    await serve_concurrently(bot)
    await _accept_race(bot)


async def _accept_race(bot: Harness) -> None:
    techs = await technicians(bot, "Ann", "Ben", "Cat")
    alice = await started(bot, 1001, "Alice")
    number = await file_report_with_photo(alice, description="Water under the sink.")

    offered = [await offer_for(t.user, number) for t in techs]
    for offer in offered:
        # Photo, place, category, urgency, description; not the requester's phone, which
        # only the technician who takes the job sees.
        assert offer.photo is not None and offer.button_texts == [ACCEPT, DECLINE]
        assert "東校區 · E1公寓 · 101" in offer.body and "Water & plumbing" in offer.body
        assert "Urgent" in offer.body and "Water under the sink." in offer.body
        assert "+8613800000001" not in offer.body
        assert "phone is shown once you take the job" in offer.body
    await alice.expect(text_contains="offered to 3 on-duty technicians")

    for tech, offer in zip(techs, offered, strict=True):
        await tech.user.press(offer, ACCEPT, wait_answer=False)
    answers = [(await answers_to(bot, offer))[0] for offer in offered]

    # The winner's press is answered quietly (the job card below says "is yours"); each
    # loser's with an alert saying who took it.
    won = [i for i, a in enumerate(answers) if not a.show_alert]
    assert len(won) == 1, answers
    assert answers[won[0]].text is None, answers
    winner, winner_offer = techs[won[0]], offered[won[0]]
    name = winner.person.name
    losers = [(t, o, a) for t, o, a in zip(techs, offered, answers, strict=True) if t != winner]
    for _tech, _offer, lost in losers:
        assert lost.show_alert and lost.text == f"Too late: {name} already took this job."

    await alice.expect(text=f"👷 {number}: {name} took your job.")
    card = await winner.user.expect(text_contains=f"{number} is yours")
    assert "Requester's phone: +8613800000001" in card.body  # now theirs to call
    assert winner_offer.button_texts == []  # the winner's buttons are gone
    for tech, offer, _ in losers:
        edited = await tech.user.wait_for_edit(offer, lambda m: "taken by" in m.body)
        assert edited.body == f"✔️ {number} was taken by {name}." and edited.button_texts == []

    row = await ticket_by_number(bot.store, number)
    assert row.status == Status.ASSIGNED and row.assignee_id == winner.id
    assert row.id is not None
    outcomes = await offers_of(bot.store, row.id)
    assert outcomes == {t.id: ("accepted" if t == winner else "taken") for t in techs}
    assert [a for a, _ in await event_actions(bot.store, row.id)].count("accept") == 1

    # A press that arrives even later (an old client) is told the same, and changes nothing.
    late_tech, late_offer, _ = losers[0]
    late = await late_tech.user.press_forged(late_offer, f"o:accept:{row.id}")
    assert late is not None and late.show_alert and name in (late.text or "")
    assert (await ticket_by_number(bot.store, number)).assignee_id == winner.id


async def test_least_loaded_first_then_the_next_then_dispatchers(bot: Harness) -> None:
    """Batch of 2: the busy technician is offered last; when all decline, dispatch is told."""
    await reconfigure(bot, offer_batch=2)
    dan = await _dispatcher(bot)
    ann, ben, cat = await technicians(bot, "Ann", "Ben", "Cat", on_duty=False)
    alice = await started(bot, 1001, "Alice")

    # Nobody on duty yet: the first ticket goes to the queue; Dan gives it to Ann.
    first = await file_report(alice, description="Shower is cold.")
    await dan.user.expect(text_contains=f"{first} {ESCALATED}")
    first_id = (await ticket_by_number(bot.store, first)).id
    assert first_id is not None
    await dispatch.assign(bot.store.uow(), first_id, dan.id, ann.id)
    await ann.user.expect(text_contains=f"You were assigned {first}")
    for tech in (ann, ben, cat):
        await tech.user.command("duty")
        await tech.user.expect(text_contains="You're on duty")

    # Ann holds a job, so Ben and Cat (no jobs) are offered the next one first.
    number = await file_report(alice, code="E1-102", description="Tap drips too.")
    ben_offer = await offer_for(ben.user, number)
    cat_offer = await offer_for(cat.user, number)
    await alice.expect(text_contains="offered to 2 on-duty technicians")
    await ann.user.assert_no_message(0.3)
    row = await ticket_by_number(bot.store, number)
    assert row.id is not None
    ticket_id = row.id
    assert await offers_of(bot.store, ticket_id) == {ben.id: None, cat.id: None}

    answer = await ben.user.press(ben_offer, DECLINE)
    assert answer is not None and answer.text == "OK, declined." and not answer.show_alert
    await ben.user.wait_for_edit(ben_offer, lambda m: m.button_texts == [])
    await cat.user.press(cat_offer, DECLINE)
    # Both declined: the offer moves on to the next technician, Ann.
    ann_offer = await offer_for(ann.user, number)
    assert await offers_of(bot.store, ticket_id) == {
        ben.id: "declined",
        cat.id: "declined",
        ann.id: None,
    }
    await ann.user.press(ann_offer, DECLINE)

    # Nobody left: the dispatchers get it, and Alice is told it is queued.
    escalated = await dan.user.expect(text_contains=f"{number} {ESCALATED}")
    assert "E1公寓" in escalated.body
    await alice.expect(text_contains=f"{number}: the technicians on duty couldn't take it")
    row = await ticket_by_number(bot.store, number)
    assert row.status == Status.DISPATCHING and row.assignee_id is None
    assert row.escalated_at is not None
    assert [a for a, _ in await event_actions(bot.store, ticket_id)].count("decline") == 3


async def test_nobody_on_duty_requester_told_and_dispatcher_alerted(bot: Harness) -> None:
    dan = await _dispatcher(bot)
    await technicians(bot, "Ann", on_duty=False)  # covers the building, but off duty
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice)
    queued = await alice.expect(text_contains=number)
    assert "no technician is on duty for this right now" in queued.body
    assert "dispatcher's queue" in queued.body
    alert = await dan.user.expect(text_contains=number)
    assert alert.body.startswith(f"⚠️ {number} needs a technician (no technician on duty)")
    row = await ticket_by_number(bot.store, number)
    assert row.id is not None and row.escalated_at is not None
    assert row.status == Status.DISPATCHING and await offers_of(bot.store, row.id) == {}


async def test_unaccepted_offer_escalates_once_after_the_target(bot: Harness) -> None:
    bot.store.clock = clock = Clock()
    dan = await _dispatcher(bot)
    (ann,) = await technicians(bot, "Ann")
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice)  # water: to be accepted within 30 minutes
    await offer_for(ann.user, number)

    clock.advance(minutes=29)
    assert (await sla_tick(bot.store))["escalated"] == []
    clock.advance(minutes=2)
    assert (await sla_tick(bot.store))["escalated"] == [number]
    alert = await dan.user.expect(text_contains=number)
    assert alert.body.startswith(f"⚠️ {number} needs a technician (not accepted in time)")

    clock.advance(minutes=5)
    assert (await sla_tick(bot.store))["escalated"] == []
    await dan.user.assert_no_message(0.3)
    assert len(await outbox_rows(bot.store, recipient=dan.id, kinds=["queue.escalated"])) == 1
    row = await ticket_by_number(bot.store, number)
    assert row.id is not None
    assert [a for a, _ in await event_actions(bot.store, row.id)].count("escalate") == 1
    # The offer still stands: Ann can take the job after the escalation.
    assert await offers_of(bot.store, row.id) == {ann.id: None}


@pytest.mark.parametrize("never_wrote", ["known_to_telegram", "unknown_chat"])
async def test_unreachable_technician_is_reported_and_skipped(
    bot: Harness, never_wrote: str
) -> None:
    """A technician who never opened the bot: the offer fails, dispatch is told, no more offers.

    Telegram answers 403 "can't initiate conversation" or 400 "chat not found" for such a
    user; both mean the same to the bot.
    """
    dan = await _dispatcher(bot)
    (ann,) = await technicians(bot, "Ann")
    if never_wrote == "known_to_telegram":
        nick = await staff(bot, 3099, "Nick", Role.TECHNICIAN, on_duty=True, start=False)
        nick_id = nick.id
    else:  # a Telegram id the bot has never seen at all
        e1 = bot.places.building("E1公寓").id
        nick_id = (
            await make_person(
                bot.store, Role.TECHNICIAN, name="Nick", buildings=[e1], on_duty=True
            )
        ).id
    alice = await started(bot, 1001, "Alice")

    first = await file_report(alice)
    await offer_for(ann.user, first)
    warning = await dan.user.expect(text_contains="Nick")
    assert warning.body == f"⚠️ Nick {CANT_RECEIVE}"
    assert (await person_row(bot.store, nick_id)).unreachable_since is not None
    first_id = (await ticket_by_number(bot.store, first)).id
    assert first_id is not None and nick_id in await offers_of(bot.store, first_id)

    second = await file_report(alice, code="E1-102", description="Door handle fell off.")
    await offer_for(ann.user, second)
    await alice.expect(text_contains=f"{second}: offered to 1 on-duty technician")
    second_id = (await ticket_by_number(bot.store, second)).id
    assert second_id is not None
    assert await offers_of(bot.store, second_id) == {ann.id: None}
    # Dispatch heard about Nick once, not once per failed notice.
    assert len(await outbox_rows(bot.store, recipient=dan.id, kinds=["staff.unreachable"])) == 1

    # Once Nick opens the bot he is reachable again and gets the next offer.
    telegram_id = (await person_row(bot.store, nick_id)).telegram_id
    assert telegram_id is not None
    nick_user = await started(bot, telegram_id, "Nick")
    assert (await person_row(bot.store, nick_id)).unreachable_since is None
    third = await file_report(alice, code="E1-201", description="Window won't close.")
    await offer_for(nick_user, third)
    await offer_for(ann.user, third)


async def test_declines_hand_on_even_when_a_colleague_is_unreachable(bot: Harness) -> None:
    """Ann declines; Nick's offer never reached him, so nobody is left to answer it."""
    dan = await _dispatcher(bot)
    (ann,) = await technicians(bot, "Ann")
    await staff(bot, 3099, "Nick", Role.TECHNICIAN, on_duty=True, start=False)
    alice = await started(bot, 1001, "Alice")
    number = await file_report(alice)
    offer = await offer_for(ann.user, number)
    await dan.user.expect(text_contains="Nick can't receive messages")
    await ann.user.press(offer, DECLINE)
    await dan.user.expect(text_contains=f"{number} {ESCALATED}")
    await alice.expect(text_contains=f"{number}: the technicians on duty couldn't take it")
