"""Hostile input through the running bot: presses a modified client can send (no data,
garbage, more than 64 bytes), an edit Telegram calls "not modified", and a claim link
used too late. Each gets a clear answer; none reaches the error handler."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from telegram import Update

from sandbox.client import UserHandle
from sandbox.models import CallbackAnswer
from sandbox.views import BotMessage
from store.lifecycle import Role, Status
from store.models import ClaimCode, Person
from tests.support.chats import (
    STALE,
    WAIT,
    actor,
    forged_callback_query,
    offer_for,
    technicians,
)
from tests.support.harness import Harness
from tests.support.report_steps import file_at_the_booth, file_report
from tests.support.rows import ticket_by_number
from tests.support.world import E1


def record_errors(bot: Harness) -> list[object]:
    """Every error PTB hands to the error handlers from now on."""
    errors: list[object] = []

    async def remember(update: object, context: object) -> None:
        errors.append(getattr(context, "error", None))

    assert bot.app is not None
    bot.app.add_error_handler(remember)
    return errors


async def press_raw(
    bot: Harness, user: UserHandle, message: BotMessage, data: str | None
) -> CallbackAnswer:
    """A callback_query as a modified client can send it: `data` None means no data at all
    (the stand-in's own press always has some)."""
    state = bot.sandbox.state
    record, query = forged_callback_query(state, user.id, message, data, chat_instance="1")
    state.emit("callback_query", lambda update_id: Update(update_id, callback_query=query))
    return await state.changed.wait_for(lambda: record.answer, WAIT, "an answer to the press")


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_presses_a_modified_client_sends_get_the_stale_notice_and_nothing_else(
    bot: Harness,
) -> None:
    errors = record_errors(bot)
    alice = await actor(bot, 1001, "Alice")
    menu = alice.menu
    for data in (
        None,  # no data at all: PTB would hand it to every pattern handler
        "",
        "m",  # a known prefix without its field
        "m:report:extra",
        "t:open:99999999999",  # beyond any id column
        "zz:1",  # no such callback
        "t:open:" + "9" * 70,  # more than Telegram's 64 bytes
        "m:re port",
        "m:\x07",
        "\x00:\x00",
    ):
        answer = await press_raw(bot, alice.user, menu, data)
        assert answer.show_alert and answer.text == STALE, data
    # Well-formed but naming nothing of hers: the ticket check answers, as clearly.
    answer = await press_raw(bot, alice.user, menu, "t:open:-1")
    assert answer.show_alert and answer.text == "That ticket doesn't exist or isn't yours."
    await alice.user.assert_no_message(within=0.3)  # no error message, no menu, nothing
    assert errors == []


async def test_a_press_on_a_message_of_someone_elses_chat_is_refused(bot: Harness) -> None:
    """Telegram ties a press to a message of the presser's chat; an update that does not
    (forged, or a message in another chat) is not the presser's to make."""
    errors = record_errors(bot)
    alice = await actor(bot, 1001, "Alice")
    bob = await actor(bot, 1002, "Bob")
    answer = await press_raw(bot, alice.user, bob.menu, "m:my")
    assert answer.show_alert and answer.text == STALE
    await alice.user.assert_no_message(within=0.2)
    await bob.user.assert_no_message(within=0.1)
    assert errors == []


async def test_an_accept_whose_keyboard_is_already_gone_still_says_the_job_is_yours(
    bot: Harness,
) -> None:
    """Telegram answers "message is not modified" when the keyboard to clear is already
    gone (another device, a double tap): the accept was committed and must read as such."""
    errors = record_errors(bot)
    (tina,) = await technicians(bot, "Tina")
    alice = await actor(bot, 1001, "Alice")
    number = await file_report(alice.user, description="The tap drips.")
    offer = await offer_for(tina.user, number)
    assert bot.app is not None
    # The keyboard disappears before the bot gets to clear it itself.
    await bot.app.bot.edit_message_reply_markup(
        chat_id=offer.chat_id, message_id=offer.message_id, reply_markup=None
    )
    ticket = await ticket_by_number(bot.store, number)
    answer = await press_raw(bot, tina.user, offer, f"o:accept:{ticket.id}")
    assert not answer.show_alert  # answered quietly: the job card below says it
    await tina.user.expect(text_contains=f"{number} is yours")
    assert (await ticket_by_number(bot.store, number)).status == Status.ASSIGNED
    assert errors == []


async def test_a_claim_link_used_after_claim_ttl_days_is_told_so(bot: Harness) -> None:
    bea = await actor(bot, 6001, "Bea", Role.INSPECTOR, buildings=(E1,))
    number, code = await file_at_the_booth(bot, bea.user)
    async with bot.store.uow() as uow:
        await uow.session.execute(
            update(ClaimCode).values(created_at=uow.now() - timedelta(days=31))
        )
        await uow.commit()
    wang = bot.sandbox.user(1201, "Wang Wei", language_code="en")
    await wang.command("start", f"c_{code}")
    await wang.expect(
        text="This claim link has expired: links work for 30 days after the repair is filed. "
        "Ask at the repair booth, where staff can tell you how the repair stands."
    )
    assert (await ticket_by_number(bot.store, number)).filed_by_id == bea.id


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_nul_and_control_characters_in_typed_text_are_stored_clean(bot: Harness) -> None:
    """PostgreSQL refuses NUL: a name, a typed room code and a description holding one
    used to fail there (and be stored as typed on SQLite)."""
    errors = record_errors(bot)
    wang = bot.sandbox.user(1201, "Wang\x00 Wei\x1b", language_code="en")
    await wang.command("start")
    await wang.expect(text_contains="Hello Wang Wei!")
    await wang.command("myroom")
    await wang.expect(text_contains="Type the code of your room")
    await wang.send("E1-1\x0001")
    await wang.expect(text_contains="Your room is now E1-101")
    number = await file_report(wang, description="The tap\x00 drips.\x07")
    ticket = await ticket_by_number(bot.store, number)
    assert ticket.description == "The tap drips."
    async with bot.store.uow() as uow:
        requester = await uow.session.get(Person, ticket.requester_id)
        assert requester is not None and requester.name == "Wang Wei"
    assert errors == []
