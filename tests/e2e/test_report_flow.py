"""A full report from a QR link to the rating, through the real Application over HTTP."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from sqlmodel import select

from store.deeplink import room_payload
from store.lifecycle import Role, Status
from store.models import Ticket, TicketPhoto
from store.repair import work
from tests.support.harness import Harness
from tests.support.world import make_person

NUMBER = re.compile(r"\d{4}-\d{6}")


async def test_qr_link_to_rating(bot: Harness) -> None:
    """Alice scans the room's QR code, reports, a technician takes it, she rates it."""
    sandbox = bot.sandbox
    tech_user = sandbox.user(2001, "Tom", language_code="en")
    await tech_user.command("start")  # a bot may only write to users who started it
    await tech_user.next_message()
    building = bot.places.room("E1-101").building_id
    await make_person(
        bot.store,
        Role.TECHNICIAN,
        name="Tom",
        telegram_id=2001,
        buildings=[building],
        on_duty=True,
    )

    alice = sandbox.user(1001, "Alice", language_code="en")
    await alice.command("start", room_payload("E1-101"))
    await alice.expect(text_contains="Room E1-101")
    step = await alice.expect(text_contains="What kind of problem")

    await alice.press(step, "💡 Electrical")
    step = await alice.wait_for_edit(step)
    assert "What's wrong? Send one message" in step.body

    # One message: an album of two photos, the words as its caption; the summary follows
    # the first photo and the second is added to it.
    await alice.send_album(2, caption="The ceiling light flickers and buzzes.")
    summaries = await alice.collect(2)
    assert "Photo 2/5 added" in summaries[-1].body
    summary = summaries[-1]
    await alice.press(summary, "⚡ Mark as urgent")
    await alice.wait_for_edit(summary, lambda m: "⚡ Urgent" in m.body)
    await alice.press(summary, "📱 Add a phone number")
    step = await alice.expect(text_contains="Share a phone number")
    assert alice.reply_keyboard is not None
    assert alice.reply_keyboard[0][0].request_contact

    await alice.share_contact("+8613800000000")
    await alice.expect(text_contains="phone number saved")
    summary = await alice.expect(text_contains="Please check your report")
    assert "E1-101" in summary.body
    assert "ceiling light" in summary.body and "2 photos" in summary.body
    assert "+8613800000000" in summary.body and "⚡ Urgent" in summary.body

    await alice.press(summary, "✅ Submit")
    await alice.wait_for_edit(summary, lambda m: "Submitted" in m.body)
    received = await alice.expect(text_contains="received")
    number = NUMBER.search(received.body)
    assert number is not None

    # The technician is offered the job with its photos and Accept/Decline; the
    # requester's phone only once they take it.
    offer = await tech_user.expect(has_buttons=["✅ Accept", "✖️ Decline"])
    assert number.group() in offer.body and "+8613800000000" not in offer.body
    await alice.expect(text_contains="offered to 1 on-duty technician")
    answer = await tech_user.press(offer, "✅ Accept")
    # Answered quietly: the job card's heading says it is theirs (no toast repeating it).
    assert answer is not None and not answer.show_alert
    await tech_user.expect(text_contains=f"{number.group()} is yours")
    await alice.expect(text_contains="Tom took your job")

    async with bot.store.uow() as uow:
        ticket = (
            await uow.session.execute(select(Ticket).where(Ticket.number == number.group()))
        ).scalar_one()
        photos = (
            (
                await uow.session.execute(
                    select(TicketPhoto).where(TicketPhoto.ticket_id == ticket.id)
                )
            )
            .scalars()
            .all()
        )
        assert ticket.status == Status.ASSIGNED and len(photos) == 2
        assert ticket.contact_phone == "+8613800000000" and ticket.urgency == "urgent"
        ticket_id, tech_id = ticket.id, ticket.assignee_id
    assert tech_id is not None and ticket_id is not None
    await work.start(bot.store.uow(), ticket_id, tech_id)
    await alice.expect(text_contains="work has started")
    await work.complete(bot.store.uow(), ticket_id, tech_id)
    done = await alice.expect(text_contains="is done")
    assert "5★" in done.button_texts and "🔁 Not fixed" in done.button_texts

    await alice.press(done, "5★")
    await alice.expect(text_contains="Add a comment")
    await alice.send("Quick and tidy, thanks!")
    await alice.expect(text_contains="comment was saved")
    await tech_user.expect(text_contains="rated ★★★★★")

    async with bot.store.uow() as uow:
        closed = await uow.session.get(Ticket, ticket_id)
        assert closed is not None and closed.status == Status.CLOSED
        assert closed.rating == 5 and closed.rating_comment == "Quick and tidy, thanks!"

    out = os.environ.get("REPAIRBOT_TRANSCRIPT")
    if out:
        await asyncio.to_thread(Path(out).write_text, sandbox.transcript(), encoding="utf-8")
