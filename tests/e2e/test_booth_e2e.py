"""Booth intake through the bot: staff file for a walk-up person and hand over a claim code
with its QR link; the person opens it once to follow and rate the repair in Telegram.
Until then (or if they never do) the ticket's notices go to the staff member."""

from __future__ import annotations

import re

from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.deeplink import room_payload
from store.domain.filing import NewTicket
from store.intake import booth
from store.intake.drafts import get_draft
from store.lifecycle import Role
from store.repair import requester
from tests.e2e.authz_steps import WAIT, Actor, actor, by_number, outbox_kinds, put_in_state
from tests.e2e.conftest import Harness
from tests.e2e.staff_steps import booth_summary
from tests.e2e.steps import NUMBER

E1 = "E1公寓"
CODE = re.compile(r"Claim code: ([A-Z0-9]+)")


async def _shown(bot: Harness, user: UserHandle, needle: str) -> BotMessage:
    """A message in the user's chat containing `needle`, whenever it came: the sender's
    notices and the flow's own replies may arrive in either order."""

    def probe() -> BotMessage | None:
        return next((m for m in user.messages if needle in m.body), None)

    return await bot.sandbox.state.changed.wait_for(probe, WAIT, f"a message with {needle!r}")


async def _file_at_the_booth(bot: Harness, bea: Actor) -> tuple[str, str]:
    """/booth → name → phone → the report steps; returns (ticket number, claim code)."""
    user = bea.user
    summary = await booth_summary(user, "+86 138 0000 1111")
    await user.press(summary, "✅ Confirm")
    filed = await user.wait_for_edit(summary, lambda m: "filed for Wang Wei" in m.body)
    number, code = NUMBER.search(filed.body), CODE.search(filed.body)
    assert number is not None and code is not None, filed
    assert f"https://t.me/sandbox_bot?start=c_{code.group(1)}" in filed.body
    qr = await _shown(bot, user, f"Claim code {code.group(1)}: scan")
    assert qr.caption == f"Claim code {code.group(1)}: scan to follow the repair in Telegram."
    assert qr.photo is not None and qr.photo.startswith(b"\x89PNG")
    return number.group(), code.group(1)


async def test_a_booth_ticket_is_claimed_once_and_then_followed_and_rated_by_the_claimer(
    bot: Harness,
) -> None:
    bea = await actor(bot, 6001, "Bea", Role.INSPECTOR, buildings=(E1,))
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN, buildings=(E1,))
    number, code = await _file_at_the_booth(bot, bea)
    # Not claimed yet: the booth staff member hears about it.
    await _shown(bot, bea.user, f"Ticket {number} received")
    ticket = await by_number(bot, number)
    walkup_id = ticket.requester_id
    assert (ticket.filed_by_id, ticket.contact_phone) == (bea.id, "+86 138 0000 1111")

    # Wang opens the link: the ticket is his from now on.
    wang = bot.sandbox.user(1201, "Wang Wei", language_code="en")
    await wang.command("start", f"c_{code}")
    linked = await wang.expect(text_contains="is now linked to you")
    assert linked.body == (
        f"✅ Ticket {number} is now linked to you. You'll get its updates here and can rate it."
    )
    ticket = await by_number(bot, number)
    assert ticket.requester_id != walkup_id

    # A later change reaches Wang, not Bea; he rates the repair.
    bea_before = await outbox_kinds(bot, bea.id)
    await put_in_state(
        bot, ticket.id or 0, "completed", dispatcher_id=dora.id, technician_id=tina.id
    )
    await wang.expect(text_contains=f"{number}: Tina took your job", timeout=WAIT)
    done = await wang.expect(text_contains=f"{number} is done", timeout=WAIT)
    await wang.press(done, "5★")
    await wang.wait_for_edit(done, lambda m: f"Thank you for rating {number}" in m.body)
    assert await outbox_kinds(bot, bea.id) == bea_before

    # Someone else opening the same link is refused; the ticket stays Wang's.
    mallory = bot.sandbox.user(1202, "Mallory", language_code="en")
    await mallory.command("start", f"c_{code}")
    await mallory.expect(
        text="This claim link can't be used (the link was already used).", timeout=WAIT
    )
    await mallory.command("start", "c_NOT-A-CODE")
    await mallory.expect(text="This claim link can't be used (the link is damaged).")
    assert (await by_number(bot, number)).requester_id == ticket.requester_id


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
    await user.wait_for_edit(step, lambda m: "Describe what happened" in m.body)
    await user.send("My own office tap drips.")
    await user.expect(text_contains="Send up to")
    # /booth would replace her draft (one per person): she is told, and it comes back.
    await user.command("booth")
    await user.expect(text_contains="You have a report of your own in progress")
    await user.expect(text_contains="Send up to")
    draft = await get_draft(bot.store.uow(), bea.id)
    assert draft is not None and draft.data["description"] == "My own office tap drips."
    assert "walkup" not in draft.data
