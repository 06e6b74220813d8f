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
from store.directory.profiles import set_language
from store.domain.filing import NewTicket
from store.intake.report import report
from store.lifecycle import Role
from store.models import Outbox
from store.uow import Store
from tests.support.chats import Staff, staff
from tests.support.harness import Harness
from tests.support.world import Clock, make_person

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
YESTERDAY = "2026-03-10"
EXAMPLES = "/digest today · /digest yesterday · /digest 2026-03-11"  # on 03-12


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


async def filed_on_the_10th(bot: Harness, telegram_id: int) -> tuple[Staff, Clock, str]:
    """Sue, a supervisor, and Rita's ticket filed at 11:00 on 03-10 in Shanghai (the
    office's first); the clock then stands at 15:00 on 03-12."""
    sue = await staff(bot, telegram_id, "Sue", Role.SUPERVISOR)
    clock = Clock(datetime(2026, 3, 10, 3, 0, tzinfo=UTC))
    bot.store.clock = clock
    rita = await make_person(bot.store, name="Rita")
    room = bot.places.room("E1-101").room_id
    filed = await report(bot.store.uow(), NewTicket(rita.id, room, "water", "The tap drips"))
    clock.now = datetime(2026, 3, 12, 7, 0, tzinfo=UTC)
    return sue, clock, filed.ticket.number


async def digest_of(sue: Staff, argument: str) -> BotMessage:
    sue.user.mark()
    await sue.user.command("digest", argument)
    return await sue.user.next_message(timeout=10)


@pytest.mark.parametrize("e2e_db", ["sqlite", "postgres"], indirect=True)
async def test_digest_of_the_day_asked_for(bot: Harness) -> None:
    sue, clock, number = await filed_on_the_10th(bot, 4103)
    # The day it was filed, by its ISO date: received 1.
    chart = await digest_of(sue, "2026-03-10")
    assert chart.photo is not None and chart.photo.startswith(PNG_SIGNATURE)
    assert "Daily digest for 2026-03-10" in chart.body
    assert "Received 1 · completed 0 · cancelled 0" in chart.body
    # Yesterday (03-11) and today (03-12): nothing came in, the open ticket still shows.
    for argument, day in (
        ("yesterday", "2026-03-11"),
        ("", "2026-03-11"),
        ("today", "2026-03-12"),
    ):
        shown = await digest_of(sue, argument)
        assert shown.photo is not None, argument
        assert f"Daily digest for {day}" in shown.body, argument
        assert "Received 0 · completed 0" in shown.body
        assert f"Overdue (1): {number}" in shown.body
    # "today" follows the supervisor's own day: at 23:30 UTC it is already 03-13 in
    # Shanghai, and a new ticket then is today's.
    clock.now = datetime(2026, 3, 12, 23, 30, tzinfo=UTC)
    rita = await make_person(bot.store, name="Rita 2")
    room = bot.places.room("E1-101").room_id
    await report(bot.store.uow(), NewTicket(rita.id, room, "water", "Another drip"))
    today = await digest_of(sue, "today")
    assert "Daily digest for 2026-03-13" in today.body
    assert "Received 1 · completed 0" in today.body


@pytest.mark.parametrize(
    "argument",
    ["tomorrow", "2026-3-10", "10.03.2026", "2026-02-30", "2026-03-10 today", "7d"],
)
async def test_a_day_not_understood_is_answered_with_examples(bot: Harness, argument: str) -> None:
    sue, _clock, _number = await filed_on_the_10th(bot, 4104)
    answer = await digest_of(sue, argument)
    assert answer.photo is None
    assert f"I can't read “{argument}” as a day" in answer.body
    assert answer.body.endswith(EXAMPLES)


async def test_the_forms_a_bad_day_suggests_work(bot: Harness) -> None:
    sue, _clock, _number = await filed_on_the_10th(bot, 4108)
    assert (await digest_of(sue, "someday")).body.endswith(EXAMPLES)
    for example in EXAMPLES.split(" · "):
        shown = await digest_of(sue, example.removeprefix("/digest "))
        assert shown.photo is not None, example
        assert "Daily digest for 2026-03-1" in shown.body, example


async def test_a_day_to_come_or_before_the_first_ticket_is_answered(bot: Harness) -> None:
    sue, _clock, _number = await filed_on_the_10th(bot, 4105)
    future = await digest_of(sue, "2026-03-13")
    assert future.photo is None
    assert future.body == (
        "2026-03-13 hasn't happened yet (today is 2026-03-12). "
        "The newest digest is today's so far: /digest today"
    )
    before = await digest_of(sue, "2026-03-09")
    assert before.photo is None
    assert before.body == (
        "There is no digest for 2026-03-09: the office's first ticket came in on "
        "2026-03-10. Try /digest 2026-03-10"
    )
    long_ago = await digest_of(sue, "1999-12-31")
    assert "the office's first ticket came in on 2026-03-10" in long_ago.body


async def test_no_digest_before_any_ticket(bot: Harness) -> None:
    sue = await staff(bot, 4106, "Sue", Role.SUPERVISOR)
    answer = await digest_of(sue, "today")
    assert answer.photo is None
    assert answer.body == (
        "There is no digest yet: no ticket has come in. Once one does, /digest today "
        "shows the day."
    )


async def test_chinese_day_words_and_answers(bot: Harness) -> None:
    sue, _clock, _number = await filed_on_the_10th(bot, 4107)
    await set_language(bot.store.uow(), sue.id, "zh_Hans")
    shown = await digest_of(sue, "昨天")
    assert shown.photo is not None and "2026-03-11 日报" in shown.body
    answer = await digest_of(sue, "明天")
    assert answer.body == (
        "无法把“明天”识别为日期。可以这样用：/digest 今天 · /digest 昨天 · /digest 2026-03-11"
    )


async def test_no_scheduled_digest_of_a_day_before_the_first_ticket(bot: Harness) -> None:
    sue = await staff(bot, 4109, "Sue", Role.SUPERVISOR)
    clock = Clock(datetime(2026, 3, 10, 3, 0, tzinfo=UTC))  # 11:00 in Shanghai
    bot.store.clock = clock
    sue.user.mark()
    assert await scheduler_tick(bot) == []  # a new office: no ticket yet
    rita = await make_person(bot.store, name="Rita")
    room = bot.places.room("E1-101").room_id
    await report(bot.store.uow(), NewTicket(rita.id, room, "water", "The tap drips"))
    assert await scheduler_tick(bot) == []  # yesterday came before it
    await sue.user.assert_no_message(within=0.3)
    clock.now += timedelta(days=1)  # the next morning: the first ticket's day
    assert await scheduler_tick(bot) == [sue.id]
    first = await sue.user.next_message(is_digest, timeout=10)
    assert "Daily digest for 2026-03-10" in first.body and "Received 1" in first.body
