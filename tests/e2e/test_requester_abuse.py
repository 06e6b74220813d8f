"""A requester who sends the wrong things, forges buttons or meets a busy database.

Every case ends in a clear answer and leaves nothing changed that should not change.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlalchemy.engine import make_url
from sqlmodel import select

import store.db
from bot.callbacks import Pick, Rate, TicketAction
from sandbox.client import UserHandle
from sandbox.views import BotMessage
from store.deeplink import room_payload
from store.lifecycle import Role, Status
from store.models import Category, Draft, FollowUp, Outbox, Person, Ticket, TicketEvent
from store.repair import dispatch, work
from tests.support.harness import Harness
from tests.support.report_steps import (
    MESSAGE_PROMPT,
    SUMMARY_PROMPT,
    file_report,
    open_room,
    to_message,
)
from tests.support.world import make_person

NOT_FOUND = "That ticket doesn't exist or isn't yours."
STALE = "This button is out of date. Please use the latest message."
BUSY = "The system is busy for a moment"
MISSING_ID = 987_654


# --- helpers ----------------------------------------------------------------------------------


async def _person_id(bot: Harness, telegram_id: int) -> int:
    async with bot.store.uow() as uow:
        found = await uow.session.execute(
            select(Person.id).where(Person.telegram_id == telegram_id)
        )
        person_id = found.scalar_one()
    assert isinstance(person_id, int)
    return person_id


async def _draft(bot: Harness, telegram_id: int) -> Draft | None:
    person_id = await _person_id(bot, telegram_id)
    async with bot.store.uow() as uow:
        draft = await uow.session.get(Draft, person_id)
        if draft is not None:
            uow.session.expunge(draft)
        return draft


@dataclass(frozen=True)
class Snapshot:
    """What a forged press must not change."""

    ticket: tuple[Any, ...]
    events: int
    outbox: int
    followups: int


async def _snapshot(bot: Harness, number: str) -> Snapshot:
    async with bot.store.uow() as uow:
        ticket = (
            await uow.session.execute(select(Ticket).where(Ticket.number == number))
        ).scalar_one()

        async def count(model: type[Any]) -> int:
            return int(
                (await uow.session.execute(select(func.count()).select_from(model))).scalar_one()
            )

        return Snapshot(
            ticket=(
                ticket.status,
                ticket.rating,
                ticket.urge_count,
                ticket.last_urged_at,
                ticket.rework_count,
                ticket.updated_at,
            ),
            events=await count(TicketEvent),
            outbox=await count(Outbox),
            followups=await count(FollowUp),
        )


async def _ticket_id(bot: Harness, number: str) -> int:
    async with bot.store.uow() as uow:
        found = await uow.session.execute(select(Ticket.id).where(Ticket.number == number))
        ticket_id = found.scalar_one()
    assert isinstance(ticket_id, int)
    return ticket_id


async def _complete(bot: Harness, ticket_id: int) -> None:
    """A technician did the job; the requester may now rate it or say it is not fixed."""
    building = bot.places.room("E1-101").building_id
    tech = await make_person(bot.store, Role.TECHNICIAN, name="Tina", buildings=[building])
    dispatcher = await make_person(bot.store, Role.DISPATCHER)
    await dispatch.assign(bot.store.uow(), ticket_id, dispatcher.id, tech.id)
    await work.start(bot.store.uow(), ticket_id, tech.id)
    await work.complete(bot.store.uow(), ticket_id, tech.id)


def _forgeries(ticket_id: int) -> list[str]:
    return [
        TicketAction("cancel_yes", ticket_id).pack(),
        TicketAction("urge", ticket_id).pack(),
        TicketAction("open", ticket_id).pack(),
        Rate(ticket_id, 5).pack(),
        TicketAction("notfixed", ticket_id).pack(),
        TicketAction("complain", ticket_id).pack(),
    ]


async def _forged(user: UserHandle, message: BotMessage, data: str) -> tuple[str | None, bool]:
    answer = await user.press_forged(message, data)
    assert answer is not None, data
    return answer.text, answer.show_alert


def _db_path(bot: Harness) -> str:
    path = make_url(bot.settings.database.url).database
    assert path
    return path


@asynccontextmanager
async def _write_lock(bot: Harness) -> AsyncIterator[None]:
    """Another process holds SQLite's write lock until the block ends (then commits)."""
    conn = sqlite3.connect(
        _db_path(bot), timeout=10, isolation_level=None, check_same_thread=False
    )
    try:
        # In a thread: if a bot transaction is open right now, waiting for it must not
        # block the event loop the bot runs on.
        await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
        try:
            yield
        finally:
            await asyncio.to_thread(conn.execute, "COMMIT")
    finally:
        conn.close()


# --- wrong kinds of message -------------------------------------------------------------------


async def test_sticker_voice_and_video_in_the_photo_step(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    await to_message(alice)
    await alice.send_photo()
    await alice.expect(text_contains="Photo 1/5 added")
    before = await _draft(bot, 1001)
    assert before is not None and len(before.data["photos"]) == 1
    await alice.send_sticker(emoji="📸")
    await alice.expect(text_contains="send it as a photo")
    await alice.send_voice(duration=5)
    await alice.expect(text_contains="send it as a photo")
    await alice.send_video(caption="see the leak")
    await alice.expect(text_contains="send it as a photo")
    after = await _draft(bot, 1001)
    assert after is not None and after.step == "summary"
    assert after.data["photos"] == before.data["photos"]
    # The step still works afterwards.
    await alice.send_photo()
    await alice.expect(text_contains="Photo 2/5 added")


# --- forged buttons ---------------------------------------------------------------------------


async def test_forged_buttons_on_someone_elses_ticket_reveal_and_change_nothing(
    bot: Harness,
) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    number = await file_report(alice, description="Alice's private tap.")
    ticket_id = await _ticket_id(bot, number)
    bob = bot.sandbox.user(1002, "Bob")
    await bob.command("start")
    menu = await bob.expect(text_contains="What would you like to do")
    # A ticket that does not exist is the yardstick: a stranger's must look the same.
    for data in _forgeries(MISSING_ID):
        assert await _forged(bob, menu, data) == (NOT_FOUND, True), data
    # While it waits for dispatch (cancel, urge, complain could bite), then once completed
    # (rating and "not fixed" could).
    for phase in (Status.DISPATCHING, Status.COMPLETED):
        if phase == Status.COMPLETED:
            await _complete(bot, ticket_id)
            await alice.expect(text_contains="is done")
        before = await _snapshot(bot, number)
        assert before.ticket[0] == phase
        for data in _forgeries(ticket_id):
            assert await _forged(bob, menu, data) == (NOT_FOUND, True), (phase, data)
        assert await _snapshot(bot, number) == before, phase
    # Bob's chat shows nothing of it: no edit, no message, no question parked for him.
    assert menu.edits == 0 and "Alice" not in " ".join(m.body for m in bob.messages)
    await bob.assert_no_message(within=0.1)
    assert await _draft(bot, 1002) is None


@pytest.mark.parametrize(
    "data",
    ["t:urge:abc", "p:category:cat:99999", "zz", "x" * 64],
    ids=["bad-int", "pick-without-draft", "unknown-prefix", "64-bytes"],
)
async def test_forged_garbage_is_a_stale_button(bot: Harness, data: str) -> None:
    bob = bot.sandbox.user(1002, "Bob")
    await bob.command("start")
    menu = await bob.expect(text_contains="What would you like to do")
    assert await _forged(bob, menu, data) == (STALE, True)
    assert menu.edits == 0


async def test_forged_inactive_or_unknown_category_is_refused(bot: Harness) -> None:
    async with bot.store.uow() as uow:
        retired = Category(key="retired", accept_minutes=60, complete_minutes=600, active=False)
        uow.session.add(retired)
        await uow.commit()
        retired_id = retired.id
    assert retired_id is not None
    alice = bot.sandbox.user(1001, "Alice")
    step = await open_room(alice)
    forgeries = [
        Pick("category", "cat", retired_id),
        Pick("category", "cat", 99_999),
        # A choice another step offers, "pressed" at this one, would skip the description.
        Pick("category", "urg", 0),
    ]
    for pick in forgeries:
        await alice.press_forged(step, pick.pack())
        await alice.expect(text=STALE)
        fresh = await alice.expect(text_contains="What kind of problem")
        assert "🚰 Water & plumbing" in fresh.button_texts and len(fresh.button_texts) > 2
        draft = await _draft(bot, 1001)
        assert draft is not None and draft.step == "category"
        assert "category_id" not in draft.data and "urgency" not in draft.data
        assert "retired" not in " ".join(fresh.button_texts)
    # The real buttons still work.
    await alice.press(fresh, "🚰 Water & plumbing")
    await alice.wait_for_edit(fresh, lambda m: MESSAGE_PROMPT in (m.text or ""))


async def test_deep_link_with_garbage(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    unknown_room = "r_" + "Zz9-_" * 12 + "Zz"
    assert len(unknown_room) == 64
    for payload in (unknown_room, "rb_!!!", "rb_____", "rb_RTEtMTAx"):
        await alice.command("start", payload)
        await alice.expect(text_contains="isn't valid")
        menu = await alice.expect(text_contains="What would you like to do")
        assert "🛠 Report a repair" in menu.button_texts
    assert await _draft(bot, 1001) is None


# --- a busy database --------------------------------------------------------------------------


async def test_briefly_locked_database_only_delays_the_answer(bot: Harness) -> None:
    alice = bot.sandbox.user(1001, "Alice")
    step = await open_room(alice)
    await alice.press(step, "🚰 Water & plumbing")
    await alice.wait_for_edit(step, lambda m: MESSAGE_PROMPT in (m.text or ""))
    async with _write_lock(bot):
        await alice.send("Water under the sink.")
        await alice.assert_no_message(within=0.6)  # the bot waits on the lock
    summary = await alice.expect(text_contains=SUMMARY_PROMPT)
    draft = await _draft(bot, 1001)
    assert draft is not None and draft.step == "summary"
    assert draft.data["description"] == "Water under the sink."
    async with _write_lock(bot):
        await alice.press(summary, "✅ Submit", wait_answer=False)
        await alice.assert_no_message(within=0.4)
        assert summary.edits == 0
    await alice.wait_for_edit(summary, lambda m: "Submitted" in (m.text or ""))
    await alice.expect(text_contains="received")
    async with bot.store.uow() as uow:
        tickets = (await uow.session.execute(select(Ticket))).scalars().all()
        assert [t.description for t in tickets] == ["Water under the sink."]
        number = tickets[0].number
    # No draft left in progress: only the marker naming the ticket it became.
    draft = await _draft(bot, 1001)
    assert draft is not None and (draft.step, draft.data["number"]) == ("filed", number)


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> int:
    """The bot's engine (made by the `bot` fixture, after this one) gives up after 400 ms."""
    monkeypatch.setattr(store.db, "SQLITE_BUSY_TIMEOUT_MS", 400)
    return 400


async def test_database_locked_too_long_answers_busy(
    short_busy_timeout: int, bot: Harness
) -> None:
    async with bot.store.uow() as uow:
        timeout = (await uow.session.execute(text("PRAGMA busy_timeout"))).scalar_one()
    assert timeout == short_busy_timeout  # the harness picked the lowered timeout up
    alice = bot.sandbox.user(1001, "Alice")
    step = await open_room(alice)
    await alice.press(step, "🚰 Water & plumbing")
    await alice.wait_for_edit(step, lambda m: MESSAGE_PROMPT in (m.text or ""))
    async with _write_lock(bot):
        await alice.send("Water under the sink.")
        busy = await alice.expect(text_contains=BUSY)
        assert "try again" in busy.body
        answer = await alice.press(step, "⬅️ Back")
        # The draft is read without waiting for the lock, so the press may be answered
        # before the write is refused: then "busy" comes as a message, never as silence.
        if answer is None or not answer.show_alert:
            await alice.expect(text_contains=BUSY)
        else:
            assert BUSY in (answer.text or "")
        assert step.edits == 1  # still the description prompt
    # Nothing was half-done: the draft waits at the same step, and a retry goes through.
    draft = await _draft(bot, 1001)
    assert draft is not None and draft.step == "description" and "description" not in draft.data
    await alice.send("Water under the sink.")
    await alice.expect(text_contains=SUMMARY_PROMPT)


async def test_the_busy_answer_comes_in_the_askers_own_language(
    short_busy_timeout: int, bot: Harness
) -> None:
    # Mei's phone is in English but she reads Traditional Chinese in the bot: a busy answer
    # must not fall back to her phone's language, nor to the office's default.
    mei = bot.sandbox.user(1002, "Mei", language_code="en")
    await mei.command("language")
    choose = await mei.expect(text_contains="Choose your language")
    await mei.press(choose, "繁體中文")
    await mei.expect(has_buttons=["🛠 我要報修"])
    await mei.command("start", room_payload("E1-101"))
    step = await mei.expect(text_contains="是哪一類問題")
    async with _write_lock(bot):
        answer = await mei.press(step, "🚰 給排水")
        # An alert, or a message when the press was answered before the write was refused.
        if answer is None or not answer.show_alert:
            await mei.expect(text_contains="系統暫時忙碌中")
        else:
            assert "系統暫時忙碌中" in (answer.text or "")
