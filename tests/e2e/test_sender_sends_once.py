"""The outbox sender never sends a notice twice: not after a failure half-way through a
notice, nor after a passing database error once Telegram accepted it."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select
from telegram import Bot

from bot.sender import CLAIM_LEASE, OutboxSender
from bot.settings import Settings
from sandbox.faults import Fault
from sandbox.server import SandboxServer
from store.db import create_engine
from store.delivery import outbox
from store.domain.notices import notify
from store.models import Outbox
from store.uow import Store, UnitOfWork
from tests.support.world import make_person, next_telegram_id


async def test_a_failed_text_after_an_album_does_not_send_the_album_again(
    sqlite_url: str, bot_api: SandboxServer
) -> None:
    """A notice with several photos is two requests: the album, then the text. When the
    text fails (5xx, network, flood) after Telegram accepted the album, the retry must
    send only the text, not the album a second time."""
    now = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    engine = create_engine(sqlite_url)
    store = Store(engine, clock=lambda: now[0])
    bot = Bot(token=bot_api.token, base_url=bot_api.base_url, base_file_url=bot_api.base_file_url)
    await bot.initialize()
    try:
        telegram_id = next_telegram_id()
        user = bot_api.client.user(telegram_id, "Tom")
        await user.command("start")
        album = await user.send_album(2)
        photos = [m.photo_file_id for m in album]
        person = await make_person(store, name="Tom", telegram_id=telegram_id)
        async with store.uow() as uow:
            payload = {
                "number": "2026-000001",
                "category": "water",
                "building": "E1",
                "room": "101",
                "is_requester": False,
                "photos": photos,
            }
            notify(uow, person.id, "ticket.completed", payload)
            await uow.commit()
        sender = OutboxSender(bot, store, Settings(), per_chat_interval=0.0)
        bot_api.client.fail_next("sendMessage", Fault.server_error(502))
        await sender.drain_once()
        now[0] += timedelta(minutes=10)  # past the retry's backoff
        await sender.drain_once()

        # Nothing runs the bot's handlers here, so every bot message is the sender's.
        messages = user.messages
        album_sent = [m.photo_file_id for m in messages if m.photo_file_id]
        assert sorted(str(p) for p in album_sent) == sorted(str(p) for p in photos)
        assert [m for m in messages if not m.photo_file_id and "2026-000001" in (m.body or "")]
        assert len(messages) == 3
        async with store.uow() as uow:
            row = (await uow.session.execute(select(Outbox))).scalars().one()
            assert row.sent_at is not None
    finally:
        await bot.shutdown()
        await engine.dispose()


async def test_a_passing_database_error_after_telegram_accepted_does_not_resend(
    sqlite_url: str, bot_api: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telegram accepted the message, then recording it as sent hit a passing database
    error (a failover, a dropped connection). Giving up there leaves the row claimed, and
    it goes out again when the lease ends; the sender must retry the bookkeeping instead."""
    now = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    engine = create_engine(sqlite_url)
    store = Store(engine, clock=lambda: now[0])
    bot = Bot(token=bot_api.token, base_url=bot_api.base_url, base_file_url=bot_api.base_file_url)
    await bot.initialize()
    real_mark_sent = outbox.mark_sent
    failures = [1]

    async def flaky_mark_sent(uow: UnitOfWork, notice_id: int, ref: int | None) -> None:
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("UPDATE outbox", {}, ConnectionResetError("connection lost"))
        await real_mark_sent(uow, notice_id, ref)

    monkeypatch.setattr(outbox, "mark_sent", flaky_mark_sent)
    try:
        telegram_id = next_telegram_id()
        user = bot_api.client.user(telegram_id, "Sue")
        await user.command("start")
        person = await make_person(store, name="Sue", telegram_id=telegram_id)
        async with store.uow() as uow:
            payload = {"number": "2026-000002", "category": "water", "building": "E1", "room": "1"}
            notify(uow, person.id, "ticket.received", payload)
            await uow.commit()
        sender = OutboxSender(bot, store, Settings(), per_chat_interval=0.0)
        with contextlib.suppress(OperationalError):  # as the sender's loop would log it
            await sender.drain_once()
        now[0] += CLAIM_LEASE + timedelta(seconds=1)  # the claim has run out
        await sender.drain_once()

        assert sum("2026-000002" in (m.body or "") for m in user.messages) == 1
        async with store.uow() as uow:
            row = (await uow.session.execute(select(Outbox))).scalars().one()
            assert row.sent_at is not None
    finally:
        await bot.shutdown()
        await engine.dispose()
