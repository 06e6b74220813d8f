"""The supervisor's digest through Telegram: /digest on demand, and the scheduled one that
arrives once a day however often the scheduler (or a restarted bot) asks."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot import digest as digest_module
from bot.digest import send_due_digests
from bot.settings import Settings
from sandbox.faults import Fault
from sandbox.views import BotMessage
from store.domain.filing import NewTicket
from store.intake.report import report
from store.lifecycle import Role
from store.models import Outbox
from store.uow import Store
from tests.support.chats import staff
from tests.support.harness import Harness
from tests.support.world import Clock, make_person

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
YESTERDAY = "2026-03-10"


def is_digest(message: BotMessage) -> bool:
    return message.photo is not None


async def scheduler_tick(bot: Harness) -> list[int]:
    """What the scheduler's digest job does each minute (on the running bot)."""
    assert bot.app is not None
    return await send_due_digests(bot.app.bot, bot.store, bot.settings)


async def outbox_settled(bot: Harness) -> None:
    """Wait until the sender has dealt with every notice (sent or given up)."""
    for _ in range(200):
        async with bot.store.uow() as uow:
            pending = await uow.session.execute(
                select(func.count())
                .select_from(Outbox)
                .where(col(Outbox.sent_at).is_(None), col(Outbox.failed_at).is_(None))
            )
            if pending.scalar_one() == 0:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox did not settle within 10 s")


async def test_digest_on_demand_and_once_a_day(bot: Harness) -> None:
    sue = await staff(bot, 4101, "Sue", Role.SUPERVISOR)
    clock = Clock(datetime(2026, 3, 10, 3, 0, tzinfo=UTC))  # 11:00 on 03-10 in Shanghai
    bot.store.clock = clock
    rita = await make_person(bot.store, name="Rita")
    room = bot.places.room("E1-101").room_id
    ticket = await report(bot.store.uow(), NewTicket(rita.id, room, "water", "The tap drips"))

    clock.now = datetime(2026, 3, 11, 0, 30, tzinfo=UTC)  # 08:30 on 03-11 in Shanghai
    await sue.user.command("digest")
    chart = await sue.user.next_message(is_digest, timeout=10)
    assert chart.photo is not None and chart.photo.startswith(PNG_SIGNATURE)
    assert len(chart.photo) > 10_000
    text = chart.body
    assert f"Daily digest for {YESTERDAY}" in text
    assert "Received 1 · completed 0 · cancelled 0" in text
    assert f"Overdue (1): {ticket.ticket.number}" in text  # past its 4 h target

    # On demand does not count as the scheduled digest, which goes out once.
    sue.user.mark()
    assert await scheduler_tick(bot) == [sue.id]
    scheduled = await sue.user.next_message(timeout=5)
    assert scheduled.photo is not None and scheduled.photo.startswith(PNG_SIGNATURE)
    assert f"Daily digest for {YESTERDAY}" in scheduled.body
    assert await scheduler_tick(bot) == []

    clock.advance(hours=6)  # a restart later the same day
    await bot.restart()
    assert await scheduler_tick(bot) == []
    await sue.user.assert_no_message(within=0.3)

    clock.now += timedelta(days=1)  # the next morning brings the next one
    assert await scheduler_tick(bot) == [sue.id]
    following = await sue.user.next_message(timeout=5)
    assert "Daily digest for 2026-03-11" in following.body


async def test_a_digest_cut_short_after_its_chart_resends_only_the_text(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    sue = await staff(bot, 4102, "Sue", Role.SUPERVISOR)
    clock = Clock(datetime(2026, 3, 10, 3, 0, tzinfo=UTC))
    bot.store.clock = clock
    rita = await make_person(bot.store, name="Rita")
    room = bot.places.room("E1-101").room_id
    await report(bot.store.uow(), NewTicket(rita.id, room, "water", "The tap drips"))
    clock.now = datetime(2026, 3, 11, 0, 30, tzinfo=UTC)
    real_build = digest_module.build

    async def long_build(
        store: Store, settings: Settings, person_id: int, day: date, zone_name: str
    ) -> tuple[str, bytes]:
        # A big office's digest (a long technician table) outgrows a photo caption.
        text, png = await real_build(store, settings, person_id, day, zone_name)
        return text + "\n" + "\n".join(f"Technician {n}: 3 jobs" for n in range(60)), png

    monkeypatch.setattr(digest_module, "build", long_build)
    await outbox_settled(bot)  # so the injected failure hits the digest, not Rita's notice
    sue.user.mark()
    bot.sandbox.fail_next("sendMessage", Fault.server_error(502))
    assert await scheduler_tick(bot) == []  # the chart went, the text did not
    chart = await sue.user.next_message(is_digest, timeout=10)
    assert f"Daily digest for {YESTERDAY}" in chart.body

    clock.advance(minutes=11)  # the claim goes stale and the next tick retries
    sue.user.mark()
    assert await scheduler_tick(bot) == [sue.id]
    rest = await sue.user.next_message(timeout=10)
    assert rest.photo is None and f"Daily digest for {YESTERDAY}" in rest.body
    assert "Technician 59: 3 jobs" in rest.body
    await sue.user.assert_no_message(within=0.3)  # no second chart
    assert await scheduler_tick(bot) == []
