"""Bad input during a report gets a clear answer and loses nothing."""

from __future__ import annotations

from sqlmodel import col, select

from store.db import create_engine
from store.intake import drafts
from store.intake.drafts import DraftView
from store.models import Draft, Outbox, Person, Ticket
from store.uow import Store
from tests.support.harness import Harness
from tests.support.report_steps import (
    MESSAGE_PROMPT,
    NUMBER,
    SUMMARY_PROMPT,
    file_report,
    open_room,
    to_message,
    to_summary,
)


async def test_text_where_a_button_was_expected(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    await open_room(alice)
    await alice.send("water everywhere!!")
    await alice.expect(text_contains="Please choose one of the buttons")
    again = await alice.expect(text_contains="What kind of problem")
    assert "🚰 Water & plumbing" in again.button_texts


async def test_button_from_an_old_message_is_stale(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    first = await open_room(alice)
    await alice.press(first, "🚰 Water & plumbing")
    await alice.wait_for_edit(first)
    await alice.send("Leaking pipe under the sink.")
    await alice.expect(text_contains=SUMMARY_PROMPT)
    # The category prompt was edited away; an old copy of its button is now out of date.
    second = await open_room(alice)
    await alice.press(second, "💡 Electrical")
    await alice.wait_for_edit(second)
    answer = await alice.press(second, "⬅️ Back")
    assert answer is not None and not answer.show_alert
    old = await alice.press(first, "⬅️ Back")
    assert old is not None and old.show_alert and "out of date" in (old.text or "")


async def test_over_long_description_is_refused_and_kept_at_the_step(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    step = await open_room(alice)
    await alice.press(step, "🚰 Water & plumbing")
    await alice.wait_for_edit(step)
    await alice.send("x" * 1001)
    refusal = await alice.expect(text_contains="the limit is 1000")
    assert "1001 characters" in refusal.body
    await alice.send("Short and clear.")
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    assert "Short and clear." in summary.body


async def test_over_long_caption_keeps_the_photo_and_asks_for_the_words_again(
    bot: Harness,
) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    await to_message(alice)
    await alice.send_photo(caption="y" * 1001)
    refusal = await alice.expect(text_contains="the limit is 1000")
    assert "1001 characters" in refusal.body
    person = await _person(bot, 1001)
    async with bot.store.uow() as uow:
        draft = await uow.session.get(Draft, person)
        assert draft is not None and draft.step == "description"
        assert len(draft.data["photos"]) == 1 and "description" not in draft.data
    await alice.send("The tap drips.")
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    assert "1 photo" in summary.body and "The tap drips." in summary.body


async def test_sixth_photo_is_refused(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    await to_message(alice)
    for n in range(1, 6):
        await alice.send_photo()
        await alice.expect(text_contains=f"Photo {n}/5 added")
    await alice.send_photo()
    await alice.expect(text_contains="more than 5 photos")
    person = await _person(bot, 1001)
    async with bot.store.uow() as uow:
        draft = await uow.session.get(Draft, person)
        assert draft is not None and len(draft.data["photos"]) == 5


async def test_document_in_the_photo_step(bot: Harness) -> None:
    """A file (or a sticker) where the photo or text was expected: a clear answer, the
    step stays, and a photo then goes on to the summary."""
    alice = bot.sandbox.user(1001, "Alice")
    await to_message(alice)
    await alice.send_document(b"%PDF-1.4 fake", "tap.pdf", "application/pdf")
    await alice.expect(text_contains="send it as a photo")
    await alice.send_sticker()
    await alice.expect(text_contains="send it as a photo")
    person = await _person(bot, 1001)
    async with bot.store.uow() as uow:
        draft = await uow.session.get(Draft, person)
        assert draft is not None and draft.step == "description"
        assert not draft.data.get("photos")
    await alice.send_photo()
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    assert "1 photo" in summary.body and "photo only" in summary.body


async def test_start_with_an_over_long_or_unknown_payload(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    cases = [
        ("r_" + "A" * 198, "isn't valid"),
        ("r_NOPE-404", "isn't valid"),
        ("%%%", "isn't valid"),
        ("inv_garbage", "invite link can't be used (the link is damaged)"),
    ]
    for payload, refusal in cases:
        await alice.command("start", payload)
        await alice.expect(text_contains=refusal)
        menu = await alice.expect(text_contains="What would you like to do")
        assert "🛠 Report a repair" in menu.button_texts


async def test_draft_survives_a_restart(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    step = await open_room(alice)
    await alice.press(step, "❄️ Air-con & heating")
    await alice.wait_for_edit(step)
    await bot.restart()
    await alice.send("The air-con blows warm air.")
    await alice.expect(text_contains=SUMMARY_PROMPT)
    person = await _person(bot, 1001)
    async with bot.store.uow() as uow:
        draft = await uow.session.get(Draft, person)
        assert draft is not None and draft.step == "summary"
        assert draft.data["category"] == "hvac" and draft.data["room_code"] == "E1-101"


async def test_cancel_anywhere(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    await to_summary(alice)
    await alice.command("cancel")
    await alice.expect(text_contains="Cancelled")
    person = await _person(bot, 1001)
    async with bot.store.uow() as uow:
        assert await uow.session.get(Draft, person) is None
        assert (await uow.session.execute(select(Ticket))).first() is None
    await alice.command("cancel")
    await alice.expect(text_contains="nothing to cancel")


async def test_duplicate_guard_offers_to_follow(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    number = await file_report(alice, description="Shower is cold.")
    bob = bot.sandbox.user(1002, "Bob")
    step = await open_room(bob)
    await bob.press(step, "🚰 Water & plumbing")
    guard = await bob.wait_for_edit(step, lambda m: "already an open ticket" in m.body)
    assert number in guard.body and "Shower is cold." in guard.body
    await bob.press(guard, f"👀 Follow {number}")
    await bob.wait_for_edit(guard, lambda m: "now following" in m.body)
    # A later status change reaches the follower too.
    async with bot.store.uow() as uow:
        ticket = (await uow.session.execute(select(Ticket))).scalars().one()
        ticket_id = ticket.id
    assert ticket_id is not None
    from store.repair.requester import cancel

    await cancel(bot.store.uow(), ticket_id, await _person(bot, 1001))
    await bob.expect(text_contains=f"{number} was cancelled")


async def test_duplicate_guard_file_anyway(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    first = await file_report(alice)
    bob = bot.sandbox.user(1002, "Bob")
    step = await open_room(bob)
    await bob.press(step, "🚰 Water & plumbing")
    guard = await bob.wait_for_edit(step, lambda m: "already an open ticket" in m.body)
    await bob.press(guard, "📝 File a new one anyway")
    await bob.wait_for_edit(guard, lambda m: MESSAGE_PROMPT in m.body)
    await bob.send("Second leak, other sink.")
    summary = await bob.expect(text_contains=SUMMARY_PROMPT)
    # An emergency is chosen through Edit → Urgency (the summary toggles Urgent only).
    await bob.press(summary, "✏️ Edit")
    menu = await bob.wait_for_edit(summary, lambda m: "What would you like to change" in m.body)
    await bob.press(menu, "⚡ Urgency")
    urgency = await bob.wait_for_edit(menu, lambda m: "How urgent" in m.body)
    await bob.press(urgency, "🚨 Emergency")
    await bob.expect(text_contains="call 110-999 now")
    summary = await bob.expect(text_contains=SUMMARY_PROMPT)
    assert "🚨 Emergency" in summary.body
    await bob.press(summary, "✅ Submit")
    received = await bob.expect(text_contains="received")
    second = NUMBER.search(received.text or "")
    assert second is not None and second.group() != first


async def test_blocked_user_is_marked_unreachable_and_not_retried(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    number = await file_report(alice)
    await alice.block()
    async with bot.store.uow() as uow:
        ticket = (
            await uow.session.execute(select(Ticket).where(Ticket.number == number))
        ).scalar_one()
        ticket_id = ticket.id
    assert ticket_id is not None
    from store.repair.requester import cancel

    me = await _person(bot, 1001)
    await cancel(bot.store.uow(), ticket_id, me)
    assert bot.app is not None
    sender = bot.app.bot_data.sender
    assert sender is not None
    sender.nudge()
    assert await _wait_unreachable(bot, me)
    cancelled = await _wait_given_up(bot, me, "ticket.cancelled")
    # Whichever notice met the block first marked her unreachable; the cancellation was
    # then tried at most once and is never retried, nor sent.
    assert cancelled.sent_at is None and cancelled.attempts <= 1
    assert "blocked" in (cancelled.last_error or "") or "unreachable" in (
        cancelled.last_error or ""
    )
    await sender.drain_once()
    async with bot.store.uow() as uow:
        again = await uow.session.get(Outbox, cancelled.id)
        assert again is not None and again.attempts == cancelled.attempts
        pending = (
            (
                await uow.session.execute(
                    select(Outbox).where(
                        Outbox.recipient_id == me,
                        col(Outbox.failed_at).is_(None),
                        col(Outbox.sent_at).is_(None),
                    )
                )
            )
            .scalars()
            .all()
        )
        assert pending == []
    assert all("cancelled" not in (m.body or "") for m in alice.messages)


async def _wait_given_up(bot: Harness, person_id: int, kind: str) -> Outbox:
    import asyncio

    for _ in range(300):
        async with bot.store.uow() as uow:
            row = (
                await uow.session.execute(
                    select(Outbox).where(Outbox.recipient_id == person_id, Outbox.kind == kind)
                )
            ).scalar_one_or_none()
            if row is not None and row.failed_at is not None:
                uow.session.expunge(row)
                return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"{kind} for {person_id} was never given up")


async def _wait_unreachable(bot: Harness, person_id: int) -> bool:
    """Poll (at most 15 s, nudging the sender) until the person is marked unreachable."""
    import asyncio

    sender = bot.app.bot_data.sender if bot.app is not None else None
    for _ in range(300):
        async with bot.store.uow() as uow:
            person = await uow.session.get(Person, person_id)
            if person is not None and person.unreachable_since is not None:
                return True
        if sender is not None:
            sender.nudge()
        await asyncio.sleep(0.05)
    async with bot.store.uow() as uow:
        rows = (await uow.session.execute(select(Outbox))).scalars().all()
        print("outbox at timeout:", [(r.kind, r.due_at, r.sent_at, r.failed_at) for r in rows])
    return False


async def _person(bot: Harness, telegram_id: int) -> int:
    async with bot.store.uow() as uow:
        person_id = (
            await uow.session.execute(
                select(col(Person.id)).where(col(Person.telegram_id) == telegram_id)
            )
        ).scalar_one()
    assert person_id is not None
    return person_id


async def test_a_draft_changed_by_another_instance_is_not_overwritten(bot: Harness) -> None:
    """Another instance of the bot (sharing the database) moved Alice's draft on; her press
    on this instance's older prompt changes nothing, says so, and /report shows the draft
    as it is now."""
    alice = bot.sandbox.user(1001, "Alice")
    step = await open_room(alice)
    person = await _person(bot, 1001)
    other = Store(create_engine(bot.settings.database.url), bot.store.policy)
    try:
        theirs = await drafts.get_draft(other.uow(), person)
        assert theirs is not None
        theirs.data["category"] = "power"
        await drafts.save_draft(other.uow(), person, DraftView("description", theirs.data))
    finally:
        await other.dispose()
    await alice.press(step, "🚰 Water & plumbing")
    await alice.expect(text_contains="changed a moment ago in another window")
    async with bot.store.uow() as uow:
        draft = await uow.session.get(Draft, person)
        assert draft is not None and draft.step == "description"
        assert draft.data["category"] == "power"
    await alice.send("/report")
    await alice.expect(text_contains=MESSAGE_PROMPT)


async def test_a_draft_saved_at_the_old_photo_step_carries_on(bot: Harness) -> None:
    """A draft written by the bot before the one-message step (at "photos", its text
    given) resumes after the upgrade: a photo then lands on the summary, nothing lost."""
    alice = bot.sandbox.user(1001, "Alice")
    await alice.command("start")
    await alice.expect(text_contains="What would you like to do")
    person = await _person(bot, 1001)
    place = bot.places.room("E1-102")
    data = {
        "campus_id": place.campus_id,
        "campus": place.campus,
        "building_id": place.building_id,
        "building": place.building,
        "floor": place.floor,
        "room_id": place.room_id,
        "room": place.room,
        "room_code": place.code,
        "category_id": 1,
        "category": "water",
        "description": "Written before the upgrade.",
    }
    await drafts.save_draft(bot.store.uow(), person, DraftView("photos", data))
    await alice.command("report")
    await alice.expect(text_contains="continue your report")
    await alice.expect(text_contains=MESSAGE_PROMPT)
    await alice.send_photo()
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    assert "Written before the upgrade." in summary.body and "1 photo" in summary.body
    await alice.press(summary, "✅ Submit")
    received = await alice.expect(text_contains="received")
    assert NUMBER.search(received.body) is not None
