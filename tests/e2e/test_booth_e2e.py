"""Booth intake through the bot: staff file for a walk-up person and hand over a claim code
with its QR link; the person opens it once to follow and rate the repair in Telegram.
Until then (or if they never do) the ticket's notices go to the staff member. Staff file
only for the buildings they cover."""

from __future__ import annotations

from sqlmodel import col, select

from store.deeplink import room_payload
from store.domain.filing import NewTicket
from store.intake import booth
from store.intake.drafts import get_draft
from store.lifecycle import Role
from store.models import Person, Ticket
from store.repair import requester
from tests.support.chats import NOT_PERMITTED, WAIT, actor, shown, shows, until
from tests.support.harness import Harness
from tests.support.report_steps import NUMBER, booth_summary, file_at_the_booth
from tests.support.rows import outbox_kinds, ticket_by_number
from tests.support.world import E1, E2, put_in_state


async def test_a_booth_ticket_is_claimed_once_and_then_followed_and_rated_by_the_claimer(
    bot: Harness,
) -> None:
    bea = await actor(bot, 6001, "Bea", Role.INSPECTOR, buildings=(E1,))
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN, buildings=(E1,))
    number, code = await file_at_the_booth(bot, bea.user)
    # Not claimed yet: the booth staff member hears about it.
    await shown(bot, bea.user, f"Ticket {number} received")
    ticket = await ticket_by_number(bot.store, number)
    walkup_id = ticket.requester_id
    assert (ticket.filed_by_id, ticket.contact_phone) == (bea.id, "+86 138 0000 1111")

    # Wang opens the link: the ticket is his from now on.
    wang = bot.sandbox.user(1201, "Wang Wei", language_code="en")
    await wang.command("start", f"c_{code}")
    linked = await wang.expect(text_contains="is now linked to you")
    assert linked.body == (
        f"✅ Ticket {number} is now linked to you. You'll get its updates here and can rate it."
    )
    ticket = await ticket_by_number(bot.store, number)
    assert ticket.requester_id != walkup_id

    # A later change reaches Wang, not Bea; he rates the repair.
    bea_before = await outbox_kinds(bot.store, bea.id)
    await put_in_state(
        bot.store, ticket.id or 0, "completed", dispatcher_id=dora.id, technician_id=tina.id
    )
    await wang.expect(text_contains=f"{number}: Tina took your job", timeout=WAIT)
    done = await wang.expect(text_contains=f"{number} is done", timeout=WAIT)
    await wang.press(done, "5★")
    await wang.wait_for_edit(done, lambda m: f"Thank you for rating {number}" in m.body)
    assert await outbox_kinds(bot.store, bea.id) == bea_before

    # Someone else opening the same link is refused; the ticket stays Wang's.
    mallory = bot.sandbox.user(1202, "Mallory", language_code="en")
    await mallory.command("start", f"c_{code}")
    await mallory.expect(
        text="This claim link can't be used (the link was already used).", timeout=WAIT
    )
    await mallory.command("start", "c_NOT-A-CODE")
    await mallory.expect(text="This claim link can't be used (the link is damaged).")
    assert (await ticket_by_number(bot.store, number)).requester_id == ticket.requester_id


async def test_a_booth_ticket_never_claimed_keeps_the_staff_member_informed(
    bot: Harness,
) -> None:
    bea = await actor(bot, 6001, "Bea", Role.INSPECTOR, buildings=(E1,))
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    result = await booth.file_walkup(
        bot.store.uow(),
        staff_id=bea.id,
        name="Li Na",
        phone=None,
        new=NewTicket(
            requester_id=bea.id,
            room_id=bot.places.room("E1-102").room_id,
            category_key="furniture",
            description="The wardrobe door fell off.",
        ),
    )
    number = result.report.ticket.number
    await bea.user.expect(text_contains=f"Ticket {number} received", timeout=WAIT)
    await requester.cancel(
        bot.store.uow(), result.report.ticket.id, dora.id, "Furniture is replaced in May."
    )
    await bea.user.expect(
        text=f"🚫 {number} was cancelled: Furniture is replaced in May.", timeout=WAIT
    )


async def test_booth_intake_waits_for_the_staff_members_own_report_in_progress(
    bot: Harness,
) -> None:
    bea = await actor(bot, 6002, "Bea", Role.INSPECTOR, buildings=(E1,))
    user = bea.user
    await user.command("start", room_payload("E1-101"))
    step = await user.expect(text_contains="What kind of problem")
    await user.press(step, "🚰 Water & plumbing")
    await user.wait_for_edit(step, lambda m: "What's wrong?" in m.body)
    await user.send("My own office tap drips.")
    await user.expect(text_contains="Please check your report")
    # /booth would replace her draft (one per person): she is told, and it comes back.
    await user.command("booth")
    await user.expect(text_contains="You have a report of your own in progress")
    await user.expect(text_contains="Please check your report")
    draft = await get_draft(bot.store.uow(), bea.id)
    assert draft is not None and draft.data["description"] == "My own office tap drips."
    assert "walkup" not in draft.data


async def test_booth_staff_filing_outside_their_buildings_are_told_so(bot: Harness) -> None:
    eve = await actor(bot, 4002, "Eve", Role.DISPATCHER, buildings=(E2,))
    summary = await booth_summary(eve.user, "-")
    await eve.user.press(summary, "✅ Submit")
    await until(bot, shows(eve.user, NOT_PERMITTED), "Eve to be told she may not file there")
    async with bot.store.uow() as uow:
        assert (await uow.session.execute(select(Ticket.id))).first() is None


async def test_a_supervisor_files_for_a_walk_up_person_at_the_booth(bot: Harness) -> None:
    """/help tells supervisors that /booth files for a walk-up person: it must work to the
    end, not refuse at the last step."""
    sue = await actor(bot, 5001, "Sue", Role.SUPERVISOR, buildings=(E1,))
    user = sue.user
    summary = await booth_summary(user, "-")
    answer = await user.press(summary, "✅ Submit")
    assert answer is not None and not answer.show_alert, answer
    filed = await user.wait_for_edit(summary, lambda m: "filed for Wang Wei" in m.body)
    found = NUMBER.search(filed.body)
    assert found is not None
    async with bot.store.uow() as uow:
        walkups = (
            await uow.session.execute(select(Person).where(col(Person.name) == "Wang Wei"))
        ).all()
    assert len(walkups) == 1
