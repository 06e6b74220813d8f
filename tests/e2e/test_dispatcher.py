"""Dispatchers: the /queue tabs and their scope, assigning and reassigning with each
technician's duty state and load, rejecting with a typed reason, and merging duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.callbacks import QueueItem
from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.lifecycle import Role, Status
from store.models import Draft, TicketFollower
from store.repair import dispatch, work
from tests.support.chats import WAIT, Actor, actor
from tests.support.harness import Harness
from tests.support.rows import event_actions, outbox_kinds, ticket_row
from tests.support.world import E1, E2, W1, Clock, file_in_room, put_in_state


async def _tab(user: UserHandle, queue: BotMessage, tab: str) -> BotMessage:
    """Press a filter tab of the queue; returns the queue, edited to that filter."""
    label = next(b for b in queue.button_texts if b.removeprefix("• ") == tab)
    await user.press(queue, label)
    return await user.wait_for_edit(queue, lambda m: f"Queue · {tab} (" in (m.text or ""))


async def _open(dispatcher: Actor, number: str, flt: str = "") -> BotMessage:
    """/queue [filter], then the ticket's button; returns its detail (the queue, edited)."""
    await dispatcher.user.command("queue", flt or None)
    queue = await dispatcher.user.expect(text_contains="Queue · ")
    label = next(b for b in queue.button_texts if number in b)
    await dispatcher.user.press(queue, label)
    return await dispatcher.user.wait_for_edit(queue, lambda m: f"🎫 {number}" in (m.text or ""))


async def _assigned_to_tina(bot: Harness) -> tuple[Actor, Actor, Actor, int, str]:
    """Alice's ticket, assigned to Tina by Dora (E1's dispatcher): Alice, Dora, Tina, the
    ticket's id and number."""
    alice = await actor(bot, 1001, "Alice")
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN, buildings=(E1,))
    ticket_id = await file_in_room(bot.store, bot.places, alice.id)
    await put_in_state(
        bot.store, ticket_id, "assigned", dispatcher_id=dora.id, technician_id=tina.id
    )
    return alice, dora, tina, ticket_id, (await ticket_row(bot.store, ticket_id)).number


def _numbers_in(message: BotMessage, *numbers: str) -> list[str]:
    return [n for n in numbers if any(n in b for b in message.button_texts)]


async def test_queue_tabs_and_scope(bot: Harness) -> None:
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    bot.store.clock = clock
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    eve = await actor(bot, 4002, "Eve", Role.DISPATCHER, buildings=(E2,))
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN, buildings=(E1,))
    alice = await actor(bot, 1001, "Alice")
    ids = {
        "waiting": await file_in_room(bot.store, bot.places, alice.id, "E1-101", "water"),
        "deferred": await file_in_room(bot.store, bot.places, alice.id, "E1-102", "electrical"),
        "working": await file_in_room(bot.store, bot.places, alice.id, "E1-201", "doors_locks"),
        "elsewhere": await file_in_room(bot.store, bot.places, alice.id, "E2-101", "water"),
    }
    for name, state in (("deferred", "deferred"), ("working", "in_progress")):
        await put_in_state(
            bot.store, ids[name], state, dispatcher_id=dora.id, technician_id=tina.id
        )
    n = {name: (await ticket_row(bot.store, tid)).number for name, tid in ids.items()}
    every = tuple(n.values())

    await dora.user.command("queue")
    queue = await dora.user.expect(text_contains="Queue · Unassigned (1):")
    assert _numbers_in(queue, *every) == [n["waiting"]]
    assert "• Unassigned" in queue.button_texts
    queue = await _tab(dora.user, queue, "Deferred")
    assert "(1)" in (queue.text or "") and _numbers_in(queue, *every) == [n["deferred"]]
    queue = await _tab(dora.user, queue, "All open")
    assert _numbers_in(queue, *every) == [n["waiting"], n["deferred"], n["working"]]
    queue = await _tab(dora.user, queue, "Overdue")
    assert "(0)" in (queue.text or "") and _numbers_in(queue, *every) == []

    # Water and locks are due within 4 hours; the deferred job has its own promise (3 days).
    clock.advance(hours=5)
    queue = await _tab(dora.user, queue, "Unassigned")
    queue = await _tab(dora.user, queue, "Overdue")
    assert "(2)" in (queue.text or "")
    assert _numbers_in(queue, *every) == [n["waiting"], n["working"]]

    # The other building's dispatcher sees only that building's ticket, and vice versa.
    await eve.user.command("queue", "all")
    theirs = await eve.user.expect(text_contains="Queue · All open (1):")
    assert _numbers_in(theirs, *every) == [n["elsewhere"]]


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_assign_and_reassign_tell_everyone(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    ticket_id = await file_in_room(
        bot.store, bot.places, alice.id, description="Water under the sink."
    )
    busy_id = await file_in_room(bot.store, bot.places, alice.id, "E1-102")
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN, buildings=(E1,))
    tom = await actor(bot, 3002, "Tom", Role.TECHNICIAN, buildings=(E1,))
    # Neither may take this one: another building, and another trade.
    await actor(bot, 3003, "Wes", Role.TECHNICIAN, buildings=(W1,))
    await actor(bot, 3004, "Eli", Role.TECHNICIAN, buildings=(E1,), skills=("electrical",))
    await dispatch.assign(bot.store.uow(), busy_id, dora.id, tina.id)
    await tina.user.command("duty")
    await tina.user.expect(text_contains="You're on duty")
    number = (await ticket_row(bot.store, ticket_id)).number

    detail = await _open(dora, number)
    assert detail.button_texts == [
        "👷 Assign",
        "🚫 Reject / cancel",
        "🔗 Duplicate of…",
        "⬅️ Queue",
    ]
    assert "Water under the sink." in (detail.text or "")
    await dora.user.press(detail, "👷 Assign")
    pick = await dora.user.wait_for_edit(detail, lambda m: "Who should take" in (m.text or ""))
    # On duty 🟢 first, then off duty ⚪️, each least loaded first; the count is the load.
    assert pick.button_texts == ["🟢 Tina · 1 open", "⚪️ Tom · 0 open", "⬅️ Back"]
    await dora.user.press(pick, "⚪️ Tom · 0 open")
    await dora.user.wait_for_edit(pick, lambda m: f"{number} assigned to Tom" in (m.text or ""))
    job = await tom.user.expect(text_contains=f"You were assigned {number}", timeout=WAIT)
    assert "Water under the sink." in job.body
    await alice.user.expect(text_contains=f"{number}: Tom took your job", timeout=WAIT)
    ticket = await ticket_row(bot.store, ticket_id)
    assert (ticket.status, ticket.assignee_id) == (Status.ASSIGNED, tom.id)
    assert (await event_actions(bot.store, ticket_id))[-1] == ("assign", "Tom")

    detail = await _open(dora, number, "all")
    assert "👷 Technician: Tom" in (detail.text or "")
    await dora.user.press(detail, "🔁 Reassign")
    pick = await dora.user.wait_for_edit(detail, lambda m: "Who should take" in (m.text or ""))
    assert pick.button_texts == ["🟢 Tina · 1 open", "⬅️ Back"]  # not Tom again
    await dora.user.press(pick, "🟢 Tina · 1 open")
    await dora.user.wait_for_edit(pick, lambda m: f"{number} assigned to Tina" in (m.text or ""))
    await tom.user.expect(text_contains=f"{number} was taken off your list", timeout=WAIT)
    await tina.user.expect(text_contains=f"You were assigned {number}", timeout=WAIT)
    await alice.user.expect(text_contains=f"{number}: Tina took your job", timeout=WAIT)
    ticket = await ticket_row(bot.store, ticket_id)
    assert (ticket.status, ticket.assignee_id) == (Status.ASSIGNED, tina.id)
    assert (await event_actions(bot.store, ticket_id))[-1] == ("reassign", "Tina")
    assert await outbox_kinds(bot.store, tom.id) == ["job.assigned", "job.unassigned"]


async def test_reject_needs_a_typed_reason_that_the_requester_sees(bot: Harness) -> None:
    alice, dora, tina, ticket_id, number = await _assigned_to_tina(bot)
    detail = await _open(dora, number, "all")
    await dora.user.press(detail, "🚫 Reject / cancel")
    await dora.user.wait_for_edit(detail, lambda m: "Why is it rejected" in (m.text or ""))
    await dora.user.send_photo()  # no words: not a reason
    await dora.user.expect(text="Please give a reason.")
    assert (await ticket_row(bot.store, ticket_id)).status == Status.ASSIGNED

    reason = "Outside our remit: the landlord repairs this."
    await dora.user.send(reason)
    await dora.user.expect(text=f"🚫 {number} was cancelled.")
    await alice.user.expect(text=f"🚫 {number} was cancelled: {reason}", timeout=WAIT)
    await tina.user.expect(text_contains=f"{number} was cancelled. You don't need to go")
    ticket = await ticket_row(bot.store, ticket_id)
    assert ticket.status == Status.CANCELLED
    assert (await event_actions(bot.store, ticket_id))[-1] == ("cancel", reason)
    # The question was answered: the next message is just a message again.
    await dora.user.send("thanks")
    await dora.user.expect(text_contains="Please choose one of the buttons")


async def test_duplicate_moves_the_requester_to_the_original(bot: Harness) -> None:
    alice = await actor(bot, 1001, "Alice")
    bob = await actor(bot, 1002, "Bob")
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    tom = await actor(bot, 3002, "Tom", Role.TECHNICIAN, buildings=(E1,))
    original_id = await file_in_room(
        bot.store, bot.places, alice.id, description="Tap drips in 101."
    )
    duplicate_id = await file_in_room(
        bot.store, bot.places, bob.id, description="Dripping tap, room 101."
    )
    original = (await ticket_row(bot.store, original_id)).number
    duplicate = (await ticket_row(bot.store, duplicate_id)).number

    detail = await _open(dora, duplicate)
    await dora.user.press(detail, "🔗 Duplicate of…")
    await dora.user.wait_for_edit(detail, lambda m: "Type the number" in (m.text or ""))
    for wrong in ("2026-999999", duplicate):  # no such ticket; the ticket itself
        await dora.user.send(wrong)
        error = await dora.user.expect(text_contains=f"no open ticket {wrong}")
        assert "Type the number of the original" in error.body
    assert (await ticket_row(bot.store, duplicate_id)).status == Status.DISPATCHING

    await dora.user.send(original)  # the question stayed
    await dora.user.expect(text_contains=f"{duplicate} was merged into {original}")
    await bob.user.expect(
        text_contains=f"{duplicate} is the same problem as {original}", timeout=WAIT
    )
    merged = await ticket_row(bot.store, duplicate_id)
    assert (merged.status, merged.duplicate_of_id) == (Status.CANCELLED, original_id)
    assert (await event_actions(bot.store, duplicate_id))[-1] == (
        "cancel",
        f"duplicate of {original}",
    )
    async with bot.store.uow() as uow:
        follower = await uow.session.get(TicketFollower, (original_id, bob.id))
        assert follower is not None
        followers = (await uow.session.execute(select(TicketFollower))).scalars().all()
        assert len(followers) == 1

    # Bob now hears about the original's progress.
    await dispatch.assign(bot.store.uow(), original_id, dora.id, tom.id)
    await bob.user.expect(text_contains=f"{original}: Tom took your job", timeout=WAIT)
    await alice.user.expect(text_contains=f"{original}: Tom took your job", timeout=WAIT)


async def test_a_ticket_that_moved_on_is_refused_and_asks_nothing(bot: Harness) -> None:
    _alice, dora, tina, ticket_id, number = await _assigned_to_tina(bot)
    detail = await _open(dora, number, "all")
    await dora.user.press(detail, "🚫 Reject / cancel")
    await dora.user.wait_for_edit(detail, lambda m: "Why is it rejected" in (m.text or ""))
    await work.start(bot.store.uow(), ticket_id, tina.id)  # meanwhile, work begins
    await dora.user.send("Landlord's job.")
    await dora.user.expect(text="That's no longer possible: the ticket is now 🔧 In progress.")
    await dora.user.send("Landlord's job.")  # the question is over, not refused forever
    await dora.user.expect(text_contains="Please choose one of the buttons")

    detail = await _open(dora, number, "all")
    assert detail.button_texts == ["⬅️ Queue"]  # nothing to do before work any more
    for action in ("cancel", "duplicate", "assign"):  # an older copy of the detail
        answer = await dora.user.press_forged(detail, QueueItem(action, ticket_id).pack())
        assert answer is not None and answer.show_alert
        assert answer.text == "That's no longer possible: the ticket is now 🔧 In progress."
    ticket = await ticket_row(bot.store, ticket_id)
    assert (ticket.status, ticket.assignee_id) == (Status.IN_PROGRESS, tina.id)
    assert [a for a, _ in await event_actions(bot.store, ticket_id)][-1] == "start"
    async with bot.store.uow() as uow:
        assert await uow.session.get(Draft, dora.id) is None  # no question parked


async def test_the_stale_list_closes_and_revives_a_page(bot: Harness) -> None:
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    bot.store.clock = clock
    dora = await actor(bot, 4001, "Dora", Role.DISPATCHER, buildings=(E1,))
    tina = await actor(bot, 3001, "Tina", Role.TECHNICIAN, buildings=(E1,))
    alice = await actor(bot, 1001, "Alice")
    forgotten = await file_in_room(bot.store, bot.places, alice.id, "E1-101", "water")
    await put_in_state(
        bot.store, forgotten, "in_progress", dispatcher_id=dora.id, technician_id=tina.id
    )
    abandoned = await file_in_room(bot.store, bot.places, alice.id, "E1-102", "electrical")
    n = {tid: (await ticket_row(bot.store, tid)).number for tid in (forgotten, abandoned)}
    clock.advance(days=100)

    # Gone from the everyday tabs, and from Tina's jobs; on the stale tab, oldest first.
    await dora.user.command("queue", "all")
    queue = await dora.user.expect(text_contains="Queue · All open (0):")
    queue = await _tab(dora.user, queue, "Stale (open 90+ days past target)")
    assert _numbers_in(queue, *n.values()) == [n[forgotten], n[abandoned]]
    answered = await dora.user.press(queue, "♻️ Back to the queue: these 2")
    assert answered is not None and answered.text == "2 back in the queue with fresh targets."
    await dora.user.wait_for_edit(queue, lambda m: "(0):" in (m.text or ""))
    assert (await ticket_row(bot.store, forgotten)).status == Status.DISPATCHING
    assert (await ticket_row(bot.store, forgotten)).assignee_id is None
    # Tina hears the job left her list; Alice hears it is looking for a technician again.
    await tina.user.expect(text_contains=f"{n[forgotten]} was taken off your list")
    await alice.user.expect(text_contains=f"{n[forgotten]} is looking for a technician again")

    # Forgotten again, and this time closed.
    clock.advance(days=100)
    await dora.user.command("queue", "stale")
    queue = await dora.user.expect(text_contains="Queue · Stale")
    answered = await dora.user.press(queue, "🗂 Close these 2 as forgotten")
    assert answered is not None and answered.text == "2 closed as forgotten."
    assert {(await ticket_row(bot.store, t)).status for t in n} == {Status.CANCELLED}
    for number in n.values():  # the requester is told, and told what to do
        closed = await alice.user.expect(text_contains=f"{number} was closed")
        assert "more than 90 days past its target" in closed.body
        assert "report it again" in closed.body
    assert ("close_stale", "stale: open 90+ days past its target") in await event_actions(
        bot.store, abandoned
    )
