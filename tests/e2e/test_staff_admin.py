"""Admins remove staff in the chat (/staff, issue 24): a paged list, a confirmation, the
person's open work handed on and their menu reset at once; non-admins and stale presses
are refused with a clear answer."""

from __future__ import annotations

import pytest

from bot.callbacks import OfferAnswer, StaffGrant, StaffPage
from store.directory import staff
from store.lifecycle import Role, Status
from store.repair import dispatch, work
from tests.support.chats import NOT_PERMITTED, actor, offer_for, shown, until
from tests.support.harness import Harness
from tests.support.rows import ticket_row
from tests.support.world import E1, file_in_room, make_person

E1_SCOPE = "東校區/E1公寓"


def chat_scope(chat_id: int) -> dict[str, object]:
    return {"type": "chat", "chat_id": chat_id}


async def staff_member(bot: Harness, person_id: int) -> staff.StaffView:
    """One person's line of the staff list, with their grants."""
    return next(m for m in await staff.list_staff(bot.store.uow()) if m.person.id == person_id)


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_an_admin_removes_a_technician_and_their_jobs_are_reassigned(
    bot: Harness,
) -> None:
    alice = await actor(bot, 1001, "Alice")
    ada = await actor(bot, 5001, "Ada", Role.ADMIN)
    tom = await actor(bot, 3001, "Tom", Role.TECHNICIAN, buildings=(E1,), on_duty=True)
    tina = await actor(bot, 3002, "Tina", Role.TECHNICIAN, buildings=(E1,), on_duty=True)
    assert "staff" in bot.sandbox.commands(chat_scope(5001))  # in the admin's menu
    assigned, started, offered = [
        await file_in_room(bot.store, bot.places, alice.id, description=f"Job {n}")
        for n in range(3)
    ]
    numbers = [(await ticket_row(bot.store, t)).number for t in (assigned, started, offered)]
    old_offer = await offer_for(tom.user, numbers[2])
    for job in (assigned, started):
        await dispatch.accept(bot.store.uow(), job, tom.id)
    await work.start(bot.store.uow(), started, tom.id)
    await until(bot, lambda: "jobs" in bot.sandbox.commands(chat_scope(3001)), "Tom's menu")

    await ada.user.command("staff")
    listing = await ada.user.expect(text_contains="👥 Staff: 3 people · page 1/1")
    tom_button = f"Tom · technician ({E1_SCOPE})"
    await ada.user.press(listing, tom_button)
    confirm = await ada.user.wait_for_edit(listing, lambda m: "Remove technician" in m.body)
    assert confirm.body.startswith(f"Remove technician ({E1_SCOPE}) from Tom?")
    # A way back from the confirmation, and nothing removed by looking.
    await ada.user.press(confirm, "⬅️ Back to the list")
    listing = await ada.user.wait_for_edit(confirm, lambda m: "👥 Staff" in m.body)
    await ada.user.press(listing, tom_button)
    confirm = await ada.user.wait_for_edit(listing, lambda m: "Remove technician" in m.body)
    await ada.user.press(confirm, "🗑 Remove")
    done = await ada.user.wait_for_edit(confirm, lambda m: "no longer holds" in m.body)
    assert done.body == (
        f"✅ Tom no longer holds technician ({E1_SCOPE}).\n"
        f"Back to dispatch: {numbers[0]}, {numbers[1]}"
    )
    assert done.button_texts == ["⬅️ Back to the list"]

    for job, number in zip((assigned, started), numbers, strict=False):
        ticket = await ticket_row(bot.store, job)
        assert (ticket.status, ticket.assignee_id) == (Status.DISPATCHING, None)
        # The requester is told it is being reassigned (not cancelled) ...
        told = await shown(bot, alice.user, f"🔁 {number}: the technician on it")
        assert "being reassigned" in told.body and "cancel" not in told.body
        # ... and it is offered afresh to who is on duty.
        await offer_for(tina.user, number)
    # Tom is told, his open offer is withdrawn, and his menu is the plain one at once.
    await shown(bot, tom.user, f"removed your staff role: technician ({E1_SCOPE})")
    await tom.user.wait_for_edit(old_offer, lambda m: "no longer offered to you" in m.body)
    tom_menu = bot.sandbox.commands(chat_scope(3001))
    assert "jobs" not in tom_menu and "duty" not in tom_menu and "report" in tom_menu
    # His Accept on the old offer (a client that kept the button) gets a clear alert.
    answer = await tom.user.press_forged(old_offer, OfferAnswer("accept", offered).pack())
    assert answer is not None and answer.show_alert
    assert answer.text == "This offer was withdrawn: you no longer cover this job."
    assert (await ticket_row(bot.store, offered)).assignee_id is None


async def test_non_admins_and_stale_grants_are_refused(bot: Harness) -> None:
    ada = await actor(bot, 5001, "Ada", Role.ADMIN)
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    tom = await actor(bot, 3001, "Tom", Role.TECHNICIAN, buildings=(E1,))
    [grant] = (await staff_member(bot, tom.id)).grants
    # /staff is for admins; a forged Remove press from a dispatcher changes nothing.
    await dora.user.command("staff")
    await dora.user.expect(text=NOT_PERMITTED)
    for data in (StaffGrant("remove", grant.grant_id, 0), StaffPage(0)):
        answer = await dora.user.press_forged(dora.menu, data.pack())
        assert answer is not None and (answer.text, answer.show_alert) == (NOT_PERMITTED, True)
    assert (await staff.find_grant(bot.store.uow(), grant.grant_id))[1] == grant
    # Ada cannot remove her own admin role here.
    [own] = (await staff_member(bot, ada.id)).grants
    answer = await ada.user.press_forged(ada.menu, StaffGrant("ask", own.grant_id, 0).pack())
    assert answer is not None and answer.show_alert
    assert "your own admin role" in (answer.text or "")
    # A confirmation whose grant went meanwhile (removed by the command line).
    await ada.user.command("staff")
    listing = await ada.user.expect(text_contains="👥 Staff")
    await ada.user.press(listing, f"Tom · technician ({E1_SCOPE})")
    confirm = await ada.user.wait_for_edit(listing, lambda m: "Remove technician" in m.body)
    await staff.remove_staff(bot.store.uow(), 3001)
    answer = await ada.user.press(confirm, "🗑 Remove")
    assert answer is not None and answer.show_alert
    assert answer.text == "That role was already removed or changed. Here is the current list."
    fresh = await ada.user.wait_for_edit(confirm, lambda m: "👥 Staff" in m.body)
    assert not any("Tom" in b for b in fresh.button_texts)


async def test_a_long_staff_list_is_paged(bot: Harness) -> None:
    ada = await actor(bot, 5001, "Ada", Role.ADMIN)
    building = bot.places.building(E1).id
    for n in range(24):
        await make_person(
            bot.store,
            Role.TECHNICIAN,
            name=f"Tech {n:02d}",
            telegram_id=6000 + n,
            buildings=[building],
        )
    await ada.user.command("staff")
    first = await ada.user.expect(text_contains="👥 Staff: 25 people · page 1/2")
    assert len(first.button_texts) == 21 and first.button_texts[-1] == "Next ➡️"
    await ada.user.press(first, "Next ➡️")
    second = await ada.user.wait_for_edit(first, lambda m: "page 2/2" in m.body)
    assert len(second.button_texts) == 6 and second.button_texts[-1] == "⬅️ Previous"
    # A forged page far beyond the end shows the last one; one before the first, the first.
    answer = await ada.user.press_forged(second, StaffPage(-5).pack())
    assert answer is not None and not answer.show_alert
    back = await ada.user.wait_for_edit(second, lambda m: "page 1/2" in m.body)
    await ada.user.press_forged(back, StaffPage(9999).pack())
    await ada.user.wait_for_edit(back, lambda m: "page 2/2" in m.body)


async def test_a_removal_made_by_the_command_line_resets_the_menu_of_the_running_bot(
    bot: Harness,
) -> None:
    # `repairbot staff remove` has no bot: it leaves the person a notice, and the running
    # bot resets their command menu when it delivers it.
    tom = await actor(bot, 3001, "Tom", Role.TECHNICIAN, buildings=(E1,))
    await until(bot, lambda: "jobs" in bot.sandbox.commands(chat_scope(3001)), "Tom's menu")
    await staff.remove_staff(bot.store.uow(), 3001, via=staff.VIA_CLI)
    await shown(bot, tom.user, f"removed your staff role: technician ({E1_SCOPE})")
    await until(bot, lambda: "jobs" not in bot.sandbox.commands(chat_scope(3001)), "reset")
    assert "report" in bot.sandbox.commands(chat_scope(3001))
